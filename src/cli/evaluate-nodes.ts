/**
 * `eapgp evaluate` on a node- or neuron-level graph (attribute --level node|neuron, or EAP-IG's node graphs):
 * circuits of the top-n nodes (--nodes) or neurons (--neurons) by |score|, or the file's own flags, evaluated by
 * node patching (src/evaluation/node-patching.ts); with --mlp-neurons the top-n MLP hidden units of a graph that
 * scores them (attribute --level mlp-neuron), by MLP-neuron patching.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { gapWarning } from '../evaluation/degenerate.js';
import { evaluateNodeMasks } from '../evaluation/node-patching.js';
import type { Intervention } from '../evaluation/means.js';
import { isNodeGraphText, readNodeGraphJson } from '../graph/node-json.js';
import { topnMlpNeurons, topnNodes } from '../graph/node-selection.js';
import type { CausalLM } from '../models/model.js';
import type { TaskData } from '../tasks/prepare.js';
import { writeFileAtomicSync } from '../util/atomic-write.js';
import { UserError } from '../util/errors.js';
import { createProgress } from '../util/progress.js';
import { warn } from './args.js';
import { graphTaskWarning } from './edge-budgets.js';

/** Whether the graph file is a node- or neuron-level graph: its first node entries carry scores or neurons. */
export function isNodeGraphFile(file: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return false; // the edge reader reports the file's problem
  }
  try {
    const buf = Buffer.alloc(1 << 16);
    return isNodeGraphText(buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString('utf8'));
  } finally {
    closeSync(fd);
  }
}

/** Options of `evaluate` a node graph refuses, with why. */
const EDGE_ONLY: Record<string, string> = {
  edges: 'selects edges: give --nodes (node graphs) or --neurons (neuron graphs)',
  fractions: 'takes the MIB edge fractions',
  select: 'chooses an edge selection (node graphs take the top-n nodes)',
  svg: 'draws edge circuits (open the node graph in eapgp view)',
  dot: 'draws edge circuits (open the node graph in eapgp view)',
  shard: 'splits edge evaluations (node patching runs in one process)',
};

/** "5,10,20" as counts of nodes or neurons. */
function parseCounts(text: string, flag: string): number[] {
  return text.split(',').map((s) => {
    const n = Number(s.trim());
    if (s.trim() === '' || !Number.isSafeInteger(n) || n < 0) throw new UserError(`--${flag}: "${s}" is not a count (expected e.g. 5,10,20)`);
    return n;
  });
}

export interface NodeEvaluateArgs {
  graphPath: string;
  values: Record<string, unknown>;
  intervention: Intervention;
  load: () => Promise<{ model: CausalLM; config: { nLayer: number; nHead: number; dModel: number }; data: TaskData }>;
}

export async function evaluateNodeGraph(a: NodeEvaluateArgs): Promise<void> {
  const { values, graphPath } = a;
  for (const [k, why] of Object.entries(EDGE_ONLY)) if (values[k] !== undefined) throw new UserError(`--${k} ${why}; ${graphPath} is a node-level graph`);
  const file = readNodeGraphJson(graphPath);
  const g = file.graph;
  const mlpCounts = typeof values['mlp-neurons'] === 'string' ? parseCounts(values['mlp-neurons'], 'mlp-neurons') : null;
  if (mlpCounts) {
    if (!g.mlp) throw new UserError(`--mlp-neurons selects MLP hidden units, but ${graphPath} scores none: make the graph with eapgp attribute --level mlp-neuron`);
    const also = ['nodes', 'neurons'].find((k) => values[k] !== undefined);
    if (also) throw new UserError(`give either --mlp-neurons or --${also}, not both (MLP-neuron patching keeps every node)`);
    if (a.intervention !== 'patching') throw new UserError(`--mlp-neurons patches hidden units to the corrupted run's values: --intervention ${a.intervention} has none (use --intervention patching)`);
  }
  const wanted = g.level === 'neuron' ? 'neurons' : 'nodes', other = g.level === 'neuron' ? 'nodes' : 'neurons';
  if (values[other] !== undefined) throw new UserError(`--${other} selects ${other}, but ${graphPath} is a ${g.level}-level graph: give --${wanted}`);
  const requested = typeof values[wanted] === 'string' ? parseCounts(values[wanted] as string, wanted) : null;
  if (!requested && !mlpCounts && g.countNodes() === 0) {
    throw new UserError(`${graphPath} flags no node (eapgp attribute --level writes scores only), so there is nothing to evaluate without a selection: add --${wanted} 5,10,20`);
  }
  const { model, config, data } = await a.load();
  if (config.nLayer !== g.edges.nLayers || config.nHead !== g.edges.nHeads || config.dModel !== g.dModel) {
    throw new UserError(`${graphPath} is a graph of ${g.edges.nLayers} layers × ${g.edges.nHeads} heads × d_model ${g.dModel}, but the model has ${config.nLayer} × ${config.nHead} × ${config.dModel}`);
  }
  const warnings: string[] = [];
  const w = graphTaskWarning(graphPath, file.meta?.task, data.task.name);
  if (w) warnings.push(w);
  const circuits: { requested: number | null; nodes: number; neurons: number; mlpNeurons?: number; mask: Float32Array; hidden?: Float32Array | null }[] = [];
  if (mlpCounts) {
    const scored = g.mlp!.scores.reduce((s, x) => s + (Number.isNaN(x) ? 0 : 1), 0);
    const over = mlpCounts.filter((n) => n > scored);
    if (over.length) console.error(`note: --mlp-neurons ${over.join(', ')} exceed${over.length === 1 ? 's' : ''} the graph's ${scored} scored MLP neurons; using ${scored} instead`);
    for (const n of [...new Set(mlpCounts.map((n) => Math.min(n, scored)))]) {
      const c = topnMlpNeurons(g, n, { absolute: !values['signed'] });
      circuits.push({ requested: n, nodes: g.countNodes(), neurons: g.countNeurons(), mlpNeurons: c.mlpNeurons, mask: g.keepMask(), hidden: g.mlpKeepMask() });
    }
  } else if (requested) {
    const scored = (g.neuronScores ?? g.nodeScores).reduce((s, x) => s + (Number.isNaN(x) ? 0 : 1), 0);
    const over = requested.filter((n) => n > scored);
    if (over.length) console.error(`note: --${wanted} ${over.join(', ')} exceed${over.length === 1 ? 's' : ''} the graph's ${scored} scored ${wanted}; using ${scored} instead`);
    for (const n of [...new Set(requested.map((n) => Math.min(n, scored)))]) {
      const c = topnNodes(g, n, { absolute: !values['signed'] });
      circuits.push({ requested: n, ...c, mask: g.keepMask() });
    }
  } else circuits.push({ requested: null, nodes: g.countNodes(), neurons: g.countNeurons(), mask: g.keepMask() });
  for (const x of warnings) warn(x);
  const level = mlpCounts ? 'mlp-neuron' : g.level;
  const progress = createProgress({ label: `evaluating ${level} circuits`, total: circuits.length * data.batches.length, unit: 'items', itemName: 'runs', quiet: !!values['quiet'] });
  const r = evaluateNodeMasks({
    model, batches: data.batches, metric: data.metric, masks: circuits.map((c) => c.mask), hiddenMasks: circuits.map((c) => c.hidden ?? null),
    intervention: a.intervention, onRun: () => progress.add(1),
  });
  progress.finish();
  const gap = gapWarning(r.base);
  if (gap) {
    warn(gap);
    warnings.push(gap);
  }
  const output = {
    level, task: data.task.name, examples: data.examples, intervention: a.intervention, baseline: r.base.clean, corrupted: r.base.corrupted,
    points: circuits.map((c, i) => ({
      requested: c.requested, nodes: c.nodes, neurons: c.neurons, ...(c.mlpNeurons !== undefined ? { mlp_neurons: c.mlpNeurons } : {}),
      metric: r.values[i]!, faithfulness: r.faithfulness[i]!,
    })),
    warnings,
  };
  if (typeof values['out'] === 'string') writeFileAtomicSync(values['out'], JSON.stringify(output, null, 2) + '\n');
  if (values['json']) return void process.stdout.write(JSON.stringify(output) + '\n');
  console.log(`task ${output.task}, ${output.examples} examples, ${level} patching: m(M) = ${output.baseline.toPrecision(8)}, m(∅) = ${output.corrupted.toPrecision(8)}`);
  if (mlpCounts) {
    console.log(`${'requested'.padStart(9)} ${'mlp neurons'.padStart(11)} ${'m(C)'.padStart(14)} ${'faithfulness'.padStart(13)}`);
    for (const p of output.points) console.log(`${String(p.requested).padStart(9)} ${String(p.mlp_neurons).padStart(11)} ${p.metric.toPrecision(8).padStart(14)} ${p.faithfulness.toFixed(6).padStart(13)}`);
    return;
  }
  console.log(`${'requested'.padStart(9)} ${'nodes'.padStart(6)} ${'neurons'.padStart(8)} ${'m(C)'.padStart(14)} ${'faithfulness'.padStart(13)}`);
  for (const p of output.points) {
    console.log(`${String(p.requested ?? 'file').padStart(9)} ${String(p.nodes).padStart(6)} ${String(p.neurons).padStart(8)} ${p.metric.toPrecision(8).padStart(14)} ${p.faithfulness.toFixed(6).padStart(13)}`);
  }
}
