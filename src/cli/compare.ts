/** `eapgp compare`: precision/recall and ROC AUC of a scored graph against a task's manual circuit. */
import { overlap, referenceCircuit, rocSweep, type Overlap, type ReferenceVariant } from '../circuits/index.js';
import { readGraphJson, topn } from '../graph/index.js';
import { parse, requireOption, warn } from './args.js';
import { clampBudgets, graphTaskWarning, noCircuitError, parseEdgeList } from './edge-budgets.js';

export const usage = `usage: eapgp compare --task ioi|greater-than --graph scores.json [--edges 100,200,500]
                     [--reference acdc|eap-ig] [--signed] [--json]

Compares circuits from a scored graph (EAP-IG JSON, GPT-2 small) with the manually found circuit of the
task: IOI (Wang et al. 2022) or Greater-Than (Hanna et al. 2023). With --edges, the top-n edges by |score|
(--signed: by score) at each budget (clamped to the graph's size), unpruned; without, the file's in_graph
edges (a file that flags none, as attribute writes it, is an error). Prints node- and edge-level
precision and recall (nodes exclude input and logits; for IOI, MLP nodes and edges are left out), and the ROC
AUCs over the full top-n sweep. --reference eap-ig uses the EAP-IG paper's version of the reference
(default acdc: ACDC's ground truth).`;

interface Row extends Overlap {
  /** Budget asked for, or null for the file's own circuit. */
  requested: number | null;
}

const f4 = (x: number): string => x.toFixed(4);

export async function compare(argv: string[]): Promise<void> {
  const { values } = parse('compare', argv, {
    task: { type: 'string' as const }, graph: { type: 'string' as const }, edges: { type: 'string' as const },
    reference: { type: 'string' as const }, signed: { type: 'boolean' as const }, json: { type: 'boolean' as const },
  }, usage);
  if (values.help) return void console.log(usage);
  const task = requireOption(values.task, 'task', usage);
  const file = requireOption(values.graph, 'graph', usage);
  const variant = (values.reference ?? 'acdc') as ReferenceVariant;
  const requested = values.edges !== undefined ? parseEdgeList(values.edges) : null;
  const absolute = !values.signed;

  const { graph, meta } = readGraphJson(file);
  const ref = referenceCircuit(task, graph, variant, meta?.['family']);
  if (requested === null && graph.countEdgesInGraph() === 0) throw noCircuitError(file, 'compare');
  warn(graphTaskWarning(file, meta?.task, task));
  const budgets = requested && clampBudgets(requested, graph.nEdges, (l) => console.error(`note: ${l}`));
  const rows: Row[] = [];
  if (budgets === null) rows.push({ requested: null, ...overlap(graph, graph.inGraph, ref) });
  else {
    const g = graph.clone();
    for (const n of budgets) {
      topn(g, n, { absolute });
      rows.push({ requested: n, ...overlap(g, g.inGraph, ref) });
    }
  }
  const roc = rocSweep(graph, ref, { absolute });
  const size = { nodes: rows[0]!.nodes.relevant, edges: rows[0]!.edges.relevant };

  if (values.json) {
    return void process.stdout.write(JSON.stringify({ task, reference: variant, description: ref.description, referenceSize: size, points: rows, auc: roc.auc }) + '\n');
  }
  console.log(`${ref.description}; compared: ${size.nodes} nodes, ${size.edges} edges`);
  console.log(`${'requested'.padStart(9)} ${'edges'.padStart(6)} ${'nodes'.padStart(6)} ${'node P'.padStart(7)} ${'node R'.padStart(7)} ${'edge P'.padStart(7)} ${'edge R'.padStart(7)}`);
  for (const r of rows) {
    console.log(
      `${String(r.requested ?? 'file').padStart(9)} ${String(r.edges.found).padStart(6)} ${String(r.nodes.found).padStart(6)} ` +
        `${f4(r.nodes.precision).padStart(7)} ${f4(r.nodes.recall).padStart(7)} ${f4(r.edges.precision).padStart(7)} ${f4(r.edges.recall).padStart(7)}`,
    );
  }
  console.log(`ROC AUC over the top-n sweep (${graph.nEdges} edges): nodes ${f4(roc.auc.nodes)}, edges ${f4(roc.auc.edges)}`);
}
