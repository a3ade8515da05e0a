/** `eapgp evaluate`: faithfulness of circuits selected from a scored graph, by edge patching. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gapWarning } from '../evaluation/degenerate.js';
import { baselinesOf, circuitMeans, evaluateCircuitBatches } from '../evaluation/evaluate.js';
import { MIB_FRACTIONS, fractionBudgets, sweepWithBaselines, sweepCircuits, sweepResult, type SweepCircuit, type SweepResult } from '../evaluation/sweep.js';
import { modelSha256 } from '../shard/fingerprint.js';
import type { MergedParts } from '../shard/merge.js';
import { runShard } from '../shard/run.js';
import { SHARD_OPTIONS, shardFrom, shardRange } from '../shard/spec.js';
import { version } from '../version.js';
import { graphForCfg } from '../graph/json.js';
import { greedy, prune, readGraphJson, toDot, toSvg, topn } from '../graph/index.js';
import { modelSpecOrDefault } from '../models/default-model.js';
import { loadModel } from '../models/load.js';
import { writeFileAtomicSync } from '../util/atomic-write.js';
import { UserError } from '../util/errors.js';
import { createProgress } from '../util/progress.js';
import { droppedRowsWarning, identicalRowsWarning } from '../tasks/prepare.js';
import { INTERVENTION } from '../attribution/ablation.js';
import { ENGINE_OPTIONS, engineFrom, parse, requireOption, warn } from './args.js';
import { optionValue } from './method-options.js';
import { clampBudgets, graphTaskWarning, noCircuitError, parseEdgeList } from './edge-budgets.js';
import { checkOutputFile } from './output-paths.js';
import { evaluateNodeGraph, isNodeGraphFile } from './evaluate-nodes.js';
import { TASK_OPTIONS, loadTaskData } from './task-data.js';

export const usage = `usage: eapgp evaluate [--model M] --task T --data CSV [--limit N] [--batch-size B] --graph scores.json
                      [--edges 100,200,500 | --fractions] [--select greedy|topn] [--signed]
                      [--intervention ${INTERVENTION.metavar}] [--metric logit-diff|prob-diff] [--json]
                      [--out results.json] [--svg F] [--dot F] [--shard i/n|auto [--shard-count N]]
       eapgp evaluate ... --graph nodes.json [--nodes 5,10,20 | --neurons 100,1000 | --mlp-neurons 10,100] [--signed] [--intervention I]

Selects circuits from the graph's scores (greedy by |score| by default, as in the EAP-GP paper; --signed ranks
by score), prunes them, and evaluates each by edge patching: m(C), and faithfulness
F = (m(C) − m(∅)) / (m(M) − m(∅)). --intervention: what a missing edge carries — the corrupted run (m(∅) is
its metric), zero, the dataset mean or the per-position mean of each source over the clean prompts (m(∅) is
then the fully ablated model's metric, from the empty circuit). --fractions uses the MIB edge fractions and adds CPR and CMD. Without
--edges or --fractions, the graph file's own in_graph flags are evaluated (a file that flags none, as attribute
writes them, is an error). Budgets above the graph's edge count are clamped to it, with a note. --svg / --dot
draw the circuit of the last budget (a standalone SVG, or Graphviz DOT). --metric: the task metric's other form
(see eapgp tasks list). Warnings (on stderr, and under "warnings" in --json / --out): rows whose clean and
corrupted prompts are identical, a gap m(M) − m(∅) too small for F to mean anything, a graph scored on another
task. --shard i/n: the i-th of n slices of the batches (from 0), written to <out>.shard-i-of-n.part;
\`eapgp merge\` makes --out from all n, the same bytes as one run (docs/scale-out.md).
A node- or neuron-level graph (attribute --level node|neuron, or EAP-IG's) is evaluated by node patching: a node
in the circuit keeps its output, one out of it takes the intervention's, seen alike by every reader (per
d_model dimension at the neuron level); --nodes / --neurons select the top-n by |score| (--signed: by score),
else the file's own flags. --mlp-neurons (graphs of attribute --level mlp-neuron) keeps the top-n MLP hidden
units clean and patches every other one to the corrupted run's value at the output projection's input, every
node otherwise its own (MLP-neuron patching; docs/nodes.md).`;

export async function evaluate(argv: string[]): Promise<void> {
  const { values } = parse('evaluate', argv, {
    ...ENGINE_OPTIONS, ...TASK_OPTIONS, model: { type: 'string' as const }, graph: { type: 'string' as const },
    edges: { type: 'string' as const }, fractions: { type: 'boolean' as const }, select: { type: 'string' as const },
    signed: { type: 'boolean' as const }, intervention: { type: 'string' as const }, json: { type: 'boolean' as const },
    out: { type: 'string' as const }, quiet: { type: 'boolean' as const }, svg: { type: 'string' as const }, dot: { type: 'string' as const },
    nodes: { type: 'string' as const }, neurons: { type: 'string' as const }, 'mlp-neurons': { type: 'string' as const }, ...SHARD_OPTIONS,
  }, usage);
  if (values.help) return void console.log(usage);
  const spec = modelSpecOrDefault(values.model);
  const graphPath = requireOption(values.graph, 'graph', usage);
  const select = (values.select ?? 'greedy') as 'greedy' | 'topn';
  if (!['greedy', 'topn'].includes(select)) throw new UserError(`--select must be greedy or topn, got "${values.select}"`);
  const intervention = optionValue(INTERVENTION, values);
  if (isNodeGraphFile(graphPath)) {
    checkOutputFile(values.out, 'out', 'results.json');
    const engine = await engineFrom(values);
    try {
      return await evaluateNodeGraph({
        graphPath, values, intervention,
        load: async () => {
          const { model, tokenizer, config } = await loadModel(engine, spec, { quiet: values.quiet });
          return { model, config, data: loadTaskData(values, tokenizer, usage) };
        },
      });
    } finally {
      await engine.close();
    }
  }
  if (values['mlp-neurons']) throw new UserError(`--mlp-neurons selects from a graph of MLP hidden units (eapgp attribute --level mlp-neuron); ${graphPath} is an edge graph: give --edges`);
  if (values.nodes || values.neurons) throw new UserError(`--${values.nodes ? 'nodes' : 'neurons'} selects from a node- or neuron-level graph (eapgp attribute --level node|neuron); ${graphPath} is an edge graph: give --edges`);
  if (values.edges && values.fractions) throw new UserError('give either --edges or --fractions, not both');
  const requested = values.edges ? parseEdgeList(values.edges) : null;
  const shard = shardFrom(values);
  if (shard && !values.out) throw new UserError('--shard writes a partial result beside --out FILE (FILE.shard-i-of-n.part); give --out');
  if (shard && (values.svg || values.dot || values.json)) {
    throw new UserError(`--${values.svg ? 'svg' : values.dot ? 'dot' : 'json'} needs the merged result: leave it out of the shards (evaluate without --shard draws and prints)`);
  }
  checkOutputFile(values.out, 'out', 'results.json');
  checkOutputFile(values.svg, 'svg', 'circuit.svg');
  checkOutputFile(values.dot, 'dot', 'circuit.dot');

  // the graph first: its problems are found in seconds, before a model loads
  const file = readGraphJson(graphPath);
  const { graph } = file;
  if (requested === null && !values.fractions && graph.countEdgesInGraph() === 0) {
    throw new UserError(`${noCircuitError(graphPath, 'evaluate').message} (or --fractions for the MIB edge fractions)`);
  }
  const engine = await engineFrom(values);
  try {
    const { model, tokenizer, config, dir } = await loadModel(engine, spec, { quiet: values.quiet });
    graphForCfg(file.cfg, graphPath, { nLayers: config.nLayer, nHeads: config.nHead, dModel: config.dModel, parallelAttnMlp: model.layout.parallelAttnMlp });
    const data = loadTaskData(values, tokenizer, usage);
    const warnings: string[] = [];
    const note = (w: string | null): void => {
      if (w) warnings.push(w);
    };
    const graphTask = file.meta?.task;
    if (typeof graphTask === 'string' && graphTask !== data.task.name) {
      note(graphTaskWarning(graphPath, graphTask, data.task.name));
    }
    note(identicalRowsWarning(data));
    note(droppedRowsWarning(data));
    const budgets = values.fractions ? fractionBudgets(graph.nEdges) : requested && clampBudgets(requested, graph.nEdges, (l) => console.error(`note: ${l}`));
    const fractions = values.fractions ? MIB_FRACTIONS : undefined;
    const swept = { model, batches: data.batches, metric: data.metric, graph, budgets, select, absolute: !values.signed, intervention };
    if (shard) {
      for (const w of warnings) warn(w);
      const circuits = sweepCircuits(swept);
      const progress = createProgress({ label: 'evaluating circuits', total: circuits.length * shardRange(shard, data.batches.length).size, unit: 'items', itemName: 'runs', quiet: values.quiet });
      const render: EvaluateRender = {
        task: data.task.name, examples: data.examples, warnings, fractions: fractions ?? null,
        circuits: circuits.map(({ requested, edges, nodes }) => ({ requested, edges, nodes })),
      };
      await runShard({
        out: values.out!, shard, command: 'evaluate', batches: data.batches.length, render: { ...render },
        key: {
          tool: `eap-gp ${version}`, model_sha256: modelSha256(dir), graph_sha256: createHash('sha256').update(readFileSync(graphPath)).digest('hex'),
          task: data.task.name, metric: data.task.metricKind, data_sha256: data.dataHash, examples: data.examples, batch_size: data.batches[0]!.clean.B,
          budgets, select, signed: !!values.signed, intervention, fractions: !!values.fractions, circuits: render.circuits,
        },
        compute: (indices, save) => evaluateCircuitBatches(
          { model, batches: data.batches, metric: data.metric, circuits: circuits.map((c) => c.missing), intervention, onRun: () => progress.add(1) }, indices,
          // the batch's per-example baselines, then its circuit sums: what the merge needs of it
          (b) => save({ index: b.index, examples: b.examples, values: Float64Array.from([...b.clean, ...b.corrupted, ...b.sums]) }),
        ),
      });
      progress.finish();
      return;
    }
    for (const w of warnings) warn(w);
    const runs = (budgets?.length ?? 1) * data.batches.length;
    const progress = createProgress({ label: 'evaluating circuits', total: runs, unit: 'items', itemName: 'runs', quiet: values.quiet });
    // the baselines come from the clean and corrupted runs the patched runs start from
    const { result, base } = await sweepWithBaselines({ ...swept, fractions, onRun: () => progress.add(1) });
    progress.finish();
    const gap = gapWarning(base);
    if (gap) {
      warn(gap);
      warnings.push(gap);
    }
    if (values.svg || values.dot) {
      const g = graph.clone();
      const last = budgets?.at(-1);
      if (last !== undefined) {
        g.clearCircuit();
        (select === 'topn' ? topn : greedy)(g, last, { absolute: !values.signed });
      }
      prune(g);
      const title = `${data.task.name}: ${g.countEdgesInGraph()} edges`;
      if (values.svg) writeFileAtomicSync(values.svg, toSvg(g, { title }));
      if (values.dot) writeFileAtomicSync(values.dot, toDot(g, { title }));
    }
    writeEvaluation({ ...result, warnings }, { out: values.out, json: values.json, task: data.task.name, examples: data.examples });
  } finally {
    await engine.close();
  }
}

/** What a part of a sharded evaluation records for the merge beside the sums. */
interface EvaluateRender {
  task: string;
  examples: number;
  /** Warnings known before the baselines (the gap warning comes from the merged baselines). */
  warnings: string[];
  fractions: readonly number[] | null;
  circuits: Pick<SweepCircuit, 'requested' | 'edges' | 'nodes'>[];
}

/** The evaluation's output from the parts of a sharded run (eapgp merge): the sums added in batch order, as evaluate adds them. */
export function mergeEvaluate(merged: MergedParts, out: string): void {
  const render = merged.header.render as unknown as EvaluateRender;
  const C = render.circuits.length;
  const clean: number[] = [], corrupted: number[] = [];
  const sums = new Array<number>(C).fill(0);
  let N = 0;
  for (const r of merged.records) {
    const n = r.examples;
    if (r.values.length !== 2 * n + C) throw new UserError(`merge: ${merged.parts[0]!.file}: batch ${r.index + 1} holds ${r.values.length} numbers, expected ${2 * n + C}; rerun its shard`);
    clean.push(...r.values.subarray(0, n));
    corrupted.push(...r.values.subarray(n, 2 * n));
    r.values.subarray(2 * n).forEach((s, i) => (sums[i]! += s));
    N += n;
  }
  const base = baselinesOf({ clean, corrupted });
  const warnings = [...render.warnings];
  const gap = gapWarning(base);
  if (gap) warnings.push(gap);
  for (const w of warnings) warn(w);
  const result = sweepResult(render.circuits, circuitMeans(sums, N, merged.records.length), base, render.fractions ?? undefined);
  writeEvaluation({ ...result, warnings }, { out, task: render.task, examples: render.examples });
}

/** Writes and prints an evaluation's result as evaluate does (also for eapgp merge). */
function writeEvaluation(output: SweepResult & { warnings: string[] }, o: { out?: string; json?: boolean; task: string; examples: number }): void {
  if (o.out) writeFileAtomicSync(o.out, JSON.stringify(output, null, 2) + '\n');
  if (o.json) return void process.stdout.write(JSON.stringify(output) + '\n');
  console.log(`task ${o.task}, ${o.examples} examples: m(M) = ${output.baseline.toPrecision(8)}, m(∅) = ${output.corrupted.toPrecision(8)}`);
  console.log(`${'requested'.padStart(9)} ${'edges'.padStart(7)} ${'nodes'.padStart(6)} ${'m(C)'.padStart(14)} ${'faithfulness'.padStart(13)}`);
  for (const p of output.points) {
    console.log(`${String(p.requested ?? 'file').padStart(9)} ${String(p.edges).padStart(7)} ${String(p.nodes).padStart(6)} ${p.metric.toPrecision(8).padStart(14)} ${p.faithfulness.toFixed(6).padStart(13)}`);
  }
  if (output.cpr !== undefined) console.log(`CPR (area under F) = ${output.cpr.toFixed(6)}, CMD (area under |1 − F|) = ${output.cmd!.toFixed(6)}`);
}
