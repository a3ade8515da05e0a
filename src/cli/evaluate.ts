/** `eapgp evaluate`: faithfulness of circuits selected from a scored graph, by edge patching. */
import { gapWarning } from '../evaluation/degenerate.js';
import { baselines } from '../evaluation/evaluate.js';
import { MIB_FRACTIONS, fractionBudgets, sweep, type SweepResult } from '../evaluation/sweep.js';
import { graphForCfg } from '../graph/json.js';
import { greedy, prune, readGraphJson, toDot, toSvg, topn } from '../graph/index.js';
import { modelSpecOrDefault } from '../models/default-model.js';
import { loadModel } from '../models/load.js';
import { writeFileAtomicSync } from '../util/atomic-write.js';
import { UserError } from '../util/errors.js';
import { createProgress } from '../util/progress.js';
import { identicalRowsWarning } from '../tasks/prepare.js';
import { ENGINE_OPTIONS, engineFrom, parse, requireOption, warn } from './args.js';
import { clampBudgets, graphTaskWarning, noCircuitError, parseEdgeList } from './edge-budgets.js';
import { checkOutputFile } from './output-paths.js';
import { TASK_OPTIONS, loadTaskData } from './task-data.js';

export const usage = `usage: eapgp evaluate [--model M] --task T --data CSV [--limit N] [--batch-size B] --graph scores.json
                      [--edges 100,200,500 | --fractions] [--select greedy|topn] [--signed]
                      [--intervention patching|zero|mean] [--metric logit-diff|prob-diff] [--json]
                      [--out results.json] [--svg F] [--dot F]

Selects circuits from the graph's scores (greedy by |score| by default, as in the EAP-GP paper; --signed ranks
by score), prunes them, and evaluates each by edge patching: m(C), and faithfulness
F = (m(C) − m(∅)) / (m(M) − m(∅)). --fractions uses the MIB edge fractions and adds CPR and CMD. Without
--edges or --fractions, the graph file's own in_graph flags are evaluated (a file that flags none, as attribute
writes them, is an error). Budgets above the graph's edge count are clamped to it, with a note. --svg / --dot
draw the circuit of the last budget (a standalone SVG, or Graphviz DOT). --metric: the task metric's other form
(see eapgp tasks list). Warnings (on stderr, and under "warnings" in --json / --out): rows whose clean and
corrupted prompts are identical, a gap m(M) − m(∅) too small for F to mean anything, a graph scored on another
task.`;

export async function evaluate(argv: string[]): Promise<void> {
  const { values } = parse('evaluate', argv, {
    ...ENGINE_OPTIONS, ...TASK_OPTIONS, model: { type: 'string' as const }, graph: { type: 'string' as const },
    edges: { type: 'string' as const }, fractions: { type: 'boolean' as const }, select: { type: 'string' as const },
    signed: { type: 'boolean' as const }, intervention: { type: 'string' as const }, json: { type: 'boolean' as const },
    out: { type: 'string' as const }, quiet: { type: 'boolean' as const }, svg: { type: 'string' as const }, dot: { type: 'string' as const },
  }, usage);
  if (values.help) return void console.log(usage);
  const spec = modelSpecOrDefault(values.model);
  const graphPath = requireOption(values.graph, 'graph', usage);
  const select = (values.select ?? 'greedy') as 'greedy' | 'topn';
  if (!['greedy', 'topn'].includes(select)) throw new UserError(`--select must be greedy or topn, got "${values.select}"`);
  const intervention = (values.intervention ?? 'patching') as 'patching' | 'zero' | 'mean';
  if (!['patching', 'zero', 'mean'].includes(intervention)) throw new UserError(`--intervention must be patching, zero or mean, got "${intervention}"`);
  if (values.edges && values.fractions) throw new UserError('give either --edges or --fractions, not both');
  const requested = values.edges ? parseEdgeList(values.edges) : null;
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
    const { model, tokenizer, config } = await loadModel(engine, spec, { quiet: values.quiet });
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
    const budgets = values.fractions ? fractionBudgets(graph.nEdges) : requested && clampBudgets(requested, graph.nEdges, (l) => console.error(`note: ${l}`));
    const base = baselines(model, data.batches, data.metric);
    note(gapWarning(base));
    for (const w of warnings) warn(w);
    const runs = (budgets?.length ?? 1) * data.batches.length;
    const progress = createProgress({ label: 'evaluating circuits', total: runs, unit: 'items', itemName: 'runs', quiet: values.quiet });
    const result: SweepResult = await sweep({
      model, batches: data.batches, metric: data.metric, graph, budgets, select, absolute: !values.signed, intervention, base,
      fractions: values.fractions ? MIB_FRACTIONS : undefined, onRun: () => progress.add(1),
    });
    progress.finish();
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
    const output = { ...result, warnings };
    if (values.out) writeFileAtomicSync(values.out, JSON.stringify(output, null, 2) + '\n');
    if (values.json) return void process.stdout.write(JSON.stringify(output) + '\n');
    console.log(`task ${data.task.name}, ${data.examples} examples: m(M) = ${result.baseline.toPrecision(8)}, m(∅) = ${result.corrupted.toPrecision(8)}`);
    console.log(`${'requested'.padStart(9)} ${'edges'.padStart(7)} ${'nodes'.padStart(6)} ${'m(C)'.padStart(14)} ${'faithfulness'.padStart(13)}`);
    for (const p of result.points) {
      console.log(`${String(p.requested ?? 'file').padStart(9)} ${String(p.edges).padStart(7)} ${String(p.nodes).padStart(6)} ${p.metric.toPrecision(8).padStart(14)} ${p.faithfulness.toFixed(6).padStart(13)}`);
    }
    if (result.cpr !== undefined) console.log(`CPR (area under F) = ${result.cpr.toFixed(6)}, CMD (area under |1 − F|) = ${result.cmd!.toFixed(6)}`);
  } finally {
    await engine.close();
  }
}
