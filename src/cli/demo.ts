/**
 * `eapgp demo`: the tour in one command. On the built-in model (or --model), discovers an IOI circuit with
 * EAP-GP on freshly generated prompts, evaluates circuits of a few edge budgets by edge patching, prints the
 * table, writes the scored graph (EAP-IG JSON; in_graph = the circuit shown), the sweep and an SVG of that
 * circuit, and says how to open the graph in the viewer.
 */
import { join } from 'node:path';
import { attribute } from '../attribution/attribute.js';
import { eapGp } from '../attribution/eap-gp.js';
import { STEPS } from '../attribution/method-spec.js';
import { gapWarning } from '../evaluation/degenerate.js';
import { sweepWithBaselines } from '../evaluation/sweep.js';
import { Graph, greedy, prune, toSvg, writeGraphJson } from '../graph/index.js';
import { modelSpecOrDefault } from '../models/default-model.js';
import { loadModel } from '../models/load.js';
import { writeFileAtomicSync } from '../util/atomic-write.js';
import { createProgress } from '../util/progress.js';
import { makeRunLog, RunClock, runLogPath, writeRunLog } from '../util/run-log.js';
import { version } from '../version.js';
import { ENGINE_OPTIONS, engineFrom, parse, warn } from './args.js';
import { givenCommand } from './command-line.js';
import { clampBudgets, parseEdgeList } from './edge-budgets.js';
import { optionValue } from './method-options.js';
import { checkOutputDir } from './output-paths.js';
import { loadOrGenerateTaskData } from './generated-data.js';

export const usage = `usage: eapgp demo [--model M] [--limit 50] [--seed 1] [--steps 5] [--edges 20,50,100,200,all]
                  [--out runs/demo] [--quiet] [--threads N] [--gemm auto|blas|wasm] [--device auto|cpu|gpu]

Discovers a circuit for indirect object identification (IOI) with EAP-GP (--steps GradPath points) on --limit
generated prompts (--seed), evaluates the greedy circuit of each edge budget (all: every edge) by edge patching
(faithfulness F = (m(C) − m(∅)) / (m(M) − m(∅))), prints the table and writes to --out: graph.json (every
edge's score; the circuit shown is the smallest budget with F ≥ 0.9, else the largest), circuit.svg and
sweep.json, byte-identical for the same options, and graph.log.json (time, date, threads, GEMM path).
Without --model it runs on the built-in model (models/default, trained by the project; see README "Training").`;

/** The circuit drawn: the smallest budget whose faithfulness reaches this, else the largest budget. */
const SHOW_FAITHFULNESS = 0.9;

export async function demo(argv: string[]): Promise<void> {
  const { values } = parse('demo', argv, {
    ...ENGINE_OPTIONS, model: { type: 'string' as const }, limit: { type: 'string' as const }, seed: { type: 'string' as const },
    steps: { type: 'string' as const }, edges: { type: 'string' as const }, out: { type: 'string' as const }, quiet: { type: 'boolean' as const },
  }, usage);
  if (values.help) return void console.log(usage);
  const out = values.out ?? join('runs', 'demo');
  const steps = optionValue(STEPS, values);
  const budgetSpecs = parseEdgeList(values.edges ?? '20,50,100,200,all', true);
  checkOutputDir(out, 'out');
  const spec = modelSpecOrDefault(values.model);
  const clock = new RunClock();
  const engine = await engineFrom(values);
  try {
    const { model, tokenizer, config, dir } = await loadModel(engine, spec, { quiet: values.quiet });
    const data = loadOrGenerateTaskData({ task: 'ioi', limit: values.limit, seed: values.seed }, tokenizer, usage, 50);
    const graph = Graph.of(model.layout);
    const usable = clampBudgets(budgetSpecs, graph.nEdges, (l) => console.error(`note: ${l}`));
    const say = (s: string) => void (values.quiet || console.error(s));
    say(`model ${dir}: ${config.nLayer} layers × ${config.nHead} heads, d_model ${config.dModel}; graph of ${graph.nEdges} edges`);

    const t0 = performance.now();
    const progress = createProgress({ label: 'EAP-GP attribution', total: data.examples, unit: 'items', itemName: 'prompts', quiet: values.quiet });
    const { scores } = await attribute({ model, batches: data.batches, method: eapGp.name, loss: data.loss, options: { steps }, onBatch: (n) => progress.set(n) });
    progress.finish();
    const attribution = clock.seconds(t0);
    graph.setScoresDense(scores);
    const t1 = performance.now();
    // the baselines come from the clean and corrupted runs the patched runs start from
    const { result, base } = await sweepWithBaselines({ model, batches: data.batches, metric: data.metric, graph, budgets: usable });
    warn(gapWarning(base));
    const evaluation = clock.seconds(t1);

    console.log(`IOI, ${data.examples} generated prompts (${data.dataPath}), EAP-GP with ${steps} steps`);
    console.log(`logit difference: clean model m(M) = ${result.baseline.toFixed(4)}, corrupted m(∅) = ${result.corrupted.toFixed(4)}`);
    console.log(`${'budget'.padStart(7)} ${'edges'.padStart(6)} ${'nodes'.padStart(6)} ${'m(C)'.padStart(10)} ${'faithfulness'.padStart(13)}`);
    for (const p of result.points) {
      console.log(`${String(p.requested).padStart(7)} ${String(p.edges).padStart(6)} ${String(p.nodes).padStart(6)} ${p.metric.toFixed(4).padStart(10)} ${p.faithfulness.toFixed(4).padStart(13)}`);
    }

    const shown = result.points.find((p) => p.faithfulness >= SHOW_FAITHFULNESS) ?? result.points.at(-1)!;
    greedy(graph, shown.requested!, { absolute: true });
    prune(graph);
    const title = `IOI circuit (EAP-GP): ${graph.countEdgesInGraph()} edges, faithfulness ${shown.faithfulness.toFixed(3)}`;
    const files = { graph: join(out, 'graph.json'), svg: join(out, 'circuit.svg'), sweep: join(out, 'sweep.json') };
    writeGraphJson(files.graph, graph, {
      dModel: config.dModel,
      meta: {
        tool: `eap-gp ${version}`, command: 'demo', method: eapGp.name, steps, model: spec, model_dir: dir, task: 'ioi',
        data: data.dataPath, examples: data.examples, circuit_budget: shown.requested, faithfulness: shown.faithfulness,
      },
    });
    writeFileAtomicSync(files.svg, toSvg(graph, { title }));
    writeFileAtomicSync(files.sweep, JSON.stringify(result, null, 2) + '\n');
    const log = runLogPath(files.graph);
    writeRunLog(log, makeRunLog({
      describes: ['graph.json', 'circuit.svg', 'sweep.json'], tool: `eap-gp ${version}`, command: givenCommand('demo', argv), clock,
      seconds: { attribution, evaluation, total: clock.seconds() }, engine: engine.info,
    }));
    console.log(`\nwrote ${files.graph}, ${files.svg}, ${files.sweep} (run log: ${log}) in ${clock.seconds().toFixed(1)} s`);
    console.log(`shown: the ${shown.requested}-edge circuit (${title.split(': ')[1]})`);
    console.log(`open it in the viewer:  eapgp view ${files.graph}`);
  } finally {
    await engine.close();
  }
}
