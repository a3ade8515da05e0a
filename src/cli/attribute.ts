/** `eapgp attribute`: edge (or node, neuron) scores of a task dataset with one method, written as EAP-IG graph JSON. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { methodPoints } from '../attribution/attribute.js';
import { attributeNodes, parseLevel } from '../attribution/nodes.js';
import { NodeGraph } from '../graph/node-graph.js';
import { writeNodeGraphJson } from '../graph/node-json.js';
import { methodsHelp, optionsHelp, optionSynopsis, scoresNodes } from '../attribution/method-docs.js';
import { metaFields, ownOptions } from '../attribution/method-spec.js';
import { findMethod, getMethod, methods } from '../attribution/registry.js';
import { scoreEdgeBatches, scoreEdges, type ScoreEdgesArgs, type ScoreMethod } from '../attribution/score.js';
import type { AttributionOptions } from '../attribution/types.js';
import type { CausalLM } from '../models/model.js';
import type { TaskData } from '../tasks/prepare.js';
import { Graph, writeGraphJson } from '../graph/index.js';
import type { GraphLayout } from '../models/layout.js';
import { modelSha256 } from '../shard/fingerprint.js';
import { runShard } from '../shard/run.js';
import { SHARD_OPTIONS, shardFrom, shardRange } from '../shard/spec.js';
import { modelSpecOrDefault } from '../models/default-model.js';
import { loadModel } from '../models/load.js';
import { createProgress } from '../util/progress.js';
import { UserError } from '../util/errors.js';
import { makeRunLog, RunClock, runLogPath, writeRunLog } from '../util/run-log.js';
import { version } from '../version.js';
import { droppedRowsWarning, identicalRowsWarning } from '../tasks/prepare.js';
import { ENGINE_OPTIONS, engineFrom, parse, requireOption, warn } from './args.js';
import { givenCommand } from './command-line.js';
import { methodOptionFlags, methodOptionsFrom } from './method-options.js';
import { checkOutputFile } from './output-paths.js';
import { TASK_OPTIONS, loadTaskData } from './task-data.js';

export const usage = `usage: eapgp attribute [--model M] --task T --data CSV [--limit N] [--batch-size B] --method METHOD
                       ${optionSynopsis()}
                       [--level edge|node|neuron|mlp-neuron] [--verbs CSV] [--counterfactual TYPE] [--metric logit-diff|prob-diff] [--shard i/n|auto [--shard-count N]]
                       [--threads N] [--gemm auto|blas|wasm] [--device auto|cpu|gpu] --out scores.json

Scores every edge of the model's graph on the task (signed; |score| is used at selection time) and writes
EAP-IG graph JSON with our metadata under "meta"; the run's time, date, thread count and GEMM path go to
the sidecar <out>.log.json (scores.json → scores.log.json), so scores.json is byte-identical for the same
inputs and options. --level node scores each source node instead (input, heads, MLPs: Δ·∂L/∂(node output)
summed over positions and d_model, from the method's own gradient passes; = the sum of its outgoing edges'
scores), --level neuron each d_model dimension of each node's output, as EAP-IG's attribute_node; the file is
EAP-IG's node/neuron graph JSON (the README's levels table says which methods; no --shard). --level mlp-neuron
writes the node level plus each MLP hidden unit's score (Δh·∂L/∂h at the output projection's input) under the
MLP nodes' extra keys mlp_neurons_scores / mlp_neurons (docs/nodes.md; not Gemma 2, corrupted-run baseline only).
METHOD (DESIGN.md §4):
${methodsHelp()}
Method options (another method's option is an error unless at its default):
${optionsHelp()}
Tasks: ioi, greater-than, sva, gender-bias, capital-country, hypernymy (EAP-IG CSV formats); custom; MIB's
mib-ioi, mib-mcqa, mib-arithmetic-addition, mib-arithmetic-subtraction, mib-arc-easy, mib-arc-challenge (its own
files, --data FILE or a cached split, validation|test; --counterfactual TYPE; docs/mib.md). --metric: the task
metric's other form (see eapgp tasks list; default the task's own, DESIGN.md §6).
--shard i/n: run the i-th of n contiguous slices of the batches (of the edges for exact; i from 0) and write the partial result
<out>.shard-i-of-n.part; \`eapgp merge\` makes scores.json from all n, the same bytes as one run. --shard auto takes
i and n from a Slurm job array or a Kubernetes Indexed Job (docs/scale-out.md). A killed shard, rerun,
resumes from its last finished batch (<out>.shard-i-of-n.part.state/).`;

export async function attribute(argv: string[]): Promise<void> {
  const { values } = parse('attribute', argv, {
    ...ENGINE_OPTIONS, ...TASK_OPTIONS, model: { type: 'string' as const }, method: { type: 'string' as const },
    ...methodOptionFlags(), out: { type: 'string' as const }, quiet: { type: 'boolean' as const }, level: { type: 'string' as const }, ...SHARD_OPTIONS,
  }, usage);
  if (values.help) return void console.log(usage);
  const m = getMethod(requireOption(values.method, 'method', usage));
  const method = m.name;
  const out = requireOption(values.out, 'out', usage);
  const spec = modelSpecOrDefault(values.model);
  const options = methodOptionsFrom(m, values);
  // exact patching runs one pass per edge and batch: its shards split the edges, which outnumber the batches
  const splitsEdges = m.kind === 'patching';

  const shard = shardFrom(values);
  const level = parseLevel(values.level ?? 'edge');
  if (level !== 'edge' && !scoresNodes(m)) {
    throw new UserError(`--level ${level} takes a method with gradients at the nodes' outputs (${methods().filter(scoresNodes).map((x) => x.name).join(', ')}); ${method} has none: use --level edge`);
  }
  if (level !== 'edge' && shard) throw new UserError(`--level ${level} runs without --shard (node scores are small: one run holds them)`);

  checkOutputFile(out, 'out', 'scores.json');
  const clock = new RunClock();
  const engine = await engineFrom(values);
  try {
    const { model, tokenizer, dir } = await loadModel(engine, spec, { quiet: values.quiet });
    const data = loadTaskData(values, tokenizer, usage);
    warn(identicalRowsWarning(data));
    warn(droppedRowsWarning(data));
    const t0 = performance.now();
    const scoreArgs: ScoreEdgesArgs = {
      model, batches: data.batches, method, loss: data.loss, metric: data.metric, options: options as AttributionOptions,
      progress: (p) => createProgress({ ...p, unit: 'items', quiet: values.quiet }),
    };
    const render = attributeRender({ method, options, spec, dir, model, data });
    if (level !== 'edge') {
      const progress = createProgress({ label: `${method} ${level} attribution`, total: data.examples, unit: 'items', itemName: 'examples', quiet: values.quiet });
      const r = await attributeNodes({ model, batches: data.batches, method, loss: data.loss, options: options as AttributionOptions, level, onBatch: (n) => progress.set(n) });
      progress.finish();
      const g = NodeGraph.fromScores(model.layout, model.dims.dModel, level === 'neuron' ? 'neuron' : 'node', r.nodes, r.neurons);
      if (r.mlp) g.setMlpScores(r.mlp.width, r.mlp.scores);
      writeNodeGraphJson(out, g, { meta: { ...render.meta, level } });
      const seconds = clock.seconds(t0);
      writeRunLog(runLogPath(out), makeRunLog({
        describes: [basename(out)], tool: `eap-gp ${version}`, command: givenCommand('attribute', argv), clock,
        seconds: { attribution: seconds, total: clock.seconds() }, engine: engine.info,
      }));
      const what = level === 'node' ? `${r.nSrc} nodes` : r.mlp ? `${r.nSrc} nodes and ${model.dims.nLayer} MLPs × ${r.mlp.width} hidden units` : `${r.nSrc} nodes × ${r.dModel} dimensions`;
      console.error(`wrote ${out}: ${what} scored by ${method} on ${data.examples} examples in ${seconds.toFixed(2)} s`);
      return;
    }
    if (shard) {
      const nEdges = model.layout.nEdges;
      const partial = await runShard({
        out, shard, command: 'attribute', batches: data.batches.length, render: { ...render },
        key: attributeKey({ model, dir, method, options, data, verbs: values.verbs }),
        ...(splitsEdges ? { edges: nEdges } : {}),
        compute: (indices, save) => scoreEdgeBatches(scoreArgs, indices, save, splitsEdges ? shardRange(shard, nEdges) : undefined),
      });
      writeRunLog(runLogPath(partial), makeRunLog({
        describes: [basename(partial)], tool: `eap-gp ${version}`, command: givenCommand('attribute', argv), clock,
        seconds: { attribution: clock.seconds(t0), total: clock.seconds() }, engine: engine.info,
      }));
      return;
    }
    const { scores } = await scoreEdges(scoreArgs);
    const seconds = clock.seconds(t0);
    const graph = writeScores(out, model.layout, scores, render);
    const log = runLogPath(out);
    writeRunLog(log, makeRunLog({
      describes: [basename(out)], tool: `eap-gp ${version}`, command: givenCommand('attribute', argv), clock,
      seconds: { attribution: seconds, total: clock.seconds() }, engine: engine.info,
    }));
    console.error(`wrote ${out}: ${graph.nEdges.toLocaleString('en-US')} edges scored by ${method} on ${data.examples} examples in ${seconds.toFixed(2)} s (run log: ${log})`);
  } finally {
    await engine.close();
  }
}

/** What the scores file records beside the scores: graph JSON's cfg.d_model and our meta. */
export interface ScoresRender {
  dModel: number;
  meta: Record<string, unknown>;
}

/** What attribute records beside the scores (the discovery site records the same for the same run). */
export function attributeRender(o: { method: ScoreMethod; options: Record<string, unknown>; spec: string; dir: string; model: CausalLM; data: TaskData }): ScoresRender {
  const { data } = o;
  return {
    dModel: o.model.dims.dModel,
    meta: {
      tool: `eap-gp ${version}`, method: o.method, ...metaFields(getMethod(o.method), o.options),
      model: o.spec, model_dir: o.dir, family: o.model.family, task: data.task.name, metric: data.task.metricKind, data: data.dataPath, data_sha256: data.dataHash,
      examples: data.examples, batch_size: data.batches[0]!.clean.B,
    },
  };
}

/** Writes the scored graph as attribute does (also for eapgp merge): the same scores give the same bytes. */
export function writeScores(out: string, layout: GraphLayout, scores: Float64Array, render: ScoresRender): Graph {
  const graph = Graph.of(layout);
  graph.setScoresDense(scores);
  if (scores.every((x) => x === 0)) {
    const hint = findMethod(String(render.meta.method))?.zeroScoresHint?.(render.meta);
    warn(`every edge scored exactly 0: the gradients vanished${hint ? ` (${hint})` : ''}, so the scores rank nothing`);
  }
  writeGraphJson(out, graph, render);
  return graph;
}

/** sha256 of the --verbs file (sva), part of a shard's key; null without one. */
function verbsSha256(file: unknown): string | null {
  return typeof file === 'string' ? createHash('sha256').update(readFileSync(file)).digest('hex') : null;
}

/**
 * What the parts of one sharded attribution share (src/shard/partial.ts): the model's and data's sha256, the
 * method with its options (those that change its numbers), the shape and the batching. Also the key of the
 * exact patching parts that `validate --exact-from` reads.
 */
export function attributeKey(o: {
  model: CausalLM; dir: string; method: ScoreMethod; options: Record<string, unknown>; data: TaskData; verbs: unknown;
}): Record<string, unknown> {
  const { nLayers, nHeads, parallelAttnMlp, nEdges } = o.model.layout;
  const options = ownOptions(getMethod(o.method), o.options);
  return {
    tool: `eap-gp ${version}`, model_sha256: modelSha256(o.dir), layout: { nLayers, nHeads, parallelAttnMlp, nEdges }, method: o.method,
    options, points: methodPoints(o.method, o.model.dims.nLayer, options as AttributionOptions),
    task: o.data.task.name, metric: o.data.task.metricKind, data_sha256: o.data.dataHash, verbs_sha256: verbsSha256(o.verbs),
    examples: o.data.examples, batch_size: o.data.batches[0]!.clean.B,
  };
}
