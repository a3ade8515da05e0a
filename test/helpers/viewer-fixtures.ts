/**
 * Files for the viewer's tests: two scored GPT-2-small-shaped graphs of one task (their scores favour the
 * manual IOI circuit's edges, as a working method's would), a reproduce results.json listing them, a
 * small graph (4 × 4, 479 edges) whose file flags a circuit, a malformed graph file and an `eapgp path`
 * file with a saturating straight path.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { diagnoseExample, summarise } from '../../src/attribution/path-diagnostics.js';
import { PATH_FORMAT, PATH_VERSION, SERIES_KEYS, type PathFile, type PathSeries } from '../../src/attribution/path-format.js';
import { pathGrids } from '../../src/attribution/saturation.js';
import { referenceCircuit } from '../../src/circuits/index.js';
import { Graph } from '../../src/graph/graph.js';
import { writeGraphJson } from '../../src/graph/json.js';
import { greedy, prune } from '../../src/graph/selection.js';
import type { Results } from '../../src/reproduce/types.js';

/** Deterministic uniform numbers in [0, 1). */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0), x / 2 ** 32);
}

/** A 12×12 graph with heavy-tailed signed scores, larger on the IOI reference's edges. */
export function scoredGraph(seed: number, favour = 0.7): Graph {
  const g = new Graph(12, 12);
  const ref = referenceCircuit('ioi', g);
  const r = rng(seed);
  g.forEachEdge((u, v) => {
    const base = (r() - 0.35) * Math.exp(-6 * r());
    const boost = ref.edges[g.flat(u, v)] && r() < favour ? 0.3 + r() * 0.5 : 0;
    g.setScore(u, v, base + boost);
  });
  return g;
}

/** A 4 × 4 graph (479 edges) with signed scores and a pruned greedy circuit of `n` edges flagged, as attribute writes. */
export function flaggedGraph(seed: number, n: number): Graph {
  const g = new Graph(4, 4);
  const r = rng(seed);
  g.forEachEdge((u, v) => g.setScore(u, v, (r() - 0.4) * Math.exp(-5 * r())));
  greedy(g, n, { absolute: true });
  prune(g);
  return g;
}

export interface ViewerFixtures {
  dir: string;
  graphA: string;
  graphB: string;
  /** The 4 × 4 graph with a flagged circuit (flagged.json). */
  flagged: { file: string; graph: Graph };
  results: string;
  malformed: string;
  path: string;
  graphs: { 'eap-gp': Graph; 'eap-ig': Graph };
}

const curve = (n: number, scale: number): number => 1 - Math.exp(-n / scale);

export function writeViewerFixtures(dir: string): ViewerFixtures {
  mkdirSync(join(dir, 'run', 'graphs'), { recursive: true });
  const graphs = { 'eap-gp': scoredGraph(11, 0.8), 'eap-ig': scoredGraph(12, 0.55) };
  const files = { 'eap-gp': join(dir, 'run', 'graphs', 'ioi-eap-gp.json'), 'eap-ig': join(dir, 'run', 'graphs', 'ioi-eap-ig.json') };
  for (const m of ['eap-gp', 'eap-ig'] as const) {
    writeGraphJson(files[m], graphs[m], { dModel: 768, meta: { method: m, task: 'ioi', steps: 5, examples: 100 } });
  }
  const budgets = [30, 50, 100, 200, 500, 1000, 1900];
  const results: Results = {
    format: 'eapgp-reproduce', version: 2,
    model: { path: 'gpt2', layers: 12, heads: 12, dModel: 768, edges: 32491 },
    settings: { limit: 100, batchSize: 20, steps: 5, intervention: 'patching', select: 'greedy', absolute: true, budgets },
    tasks: {
      ioi: {
        data: 'generated:ioi:seed=0:n=100', examples: 100, metric: 'logit-diff', baseline: 3.8, corrupted: 0.03,
        methods: Object.fromEntries((['eap-ig', 'eap-gp'] as const).map((m, k) => [m, {
          graph: `graphs/ioi-${m}.json`,
          points: budgets.map((n) => ({ requested: n, edges: n - 3, nodes: Math.round(n / 5), metric: 3.8 * curve(n, 200 - 80 * k), faithfulness: curve(n, 200 - 80 * k) })),
          // two MIB fraction points beyond the edge counts (one shared with them): the curve takes both kinds
          fractions: {
            points: [1900, 3249, 32491].map((n) => ({ fraction: n / 32491, requested: n, edges: n, nodes: 100, metric: 3.8, faithfulness: curve(n, 200 - 80 * k) })),
            cpr: 0.7 + 0.1 * k, cmd: 0.3 - 0.1 * k,
          },
          pr: { reference: 'acdc' as const, points: [{ n: 100, nodes: { precision: 0.5, recall: 0.4 }, edges: { precision: 0.2, recall: 0.1 } }], auc: { nodes: 0.8, edges: 0.7 } },
        }])),
      },
    },
  };
  const resultsFile = join(dir, 'run', 'results.json');
  writeFileSync(resultsFile, JSON.stringify(results, null, 2));
  const malformed = join(dir, 'broken.json');
  writeFileSync(malformed, '{"cfg": {"n_layers": 2, "n_heads": 2}, "nodes": {}, "edges": {"input->a0.h0<q>": {"score": 0.5, "in_graph": tru');
  const path = join(dir, 'path.json');
  writeFileSync(path, JSON.stringify(syntheticPath()));
  const flagged = { file: join(dir, 'flagged.json'), graph: flaggedGraph(3, 40) };
  writeGraphJson(flagged.file, flagged.graph, { dModel: 64, meta: { method: 'eap-gp', task: 'ioi' } });
  return { dir, graphA: files['eap-gp'], graphB: files['eap-ig'], flagged, results: resultsFile, malformed, path, graphs };
}

/**
 * A path file whose straight path saturates (flat metric) over its first half and GradPath's does not. Its
 * second example is crowded for the charts: clean and corrupted metrics 0.2 apart (their labels would meet)
 * and gradient norms over 35 decades (a tick per power of ten would overlap).
 */
export function syntheticPath(): PathFile {
  const grids = pathGrids(5, 32);
  const series = (t: number[], f: (t: number) => number, df: (t: number) => number, wide = false): PathSeries => {
    const out = Object.fromEntries(SERIES_KEYS.map((k) => [k, [] as number[]])) as unknown as PathSeries;
    for (const x of t) {
      out.metric.push(f(x));
      out.slope.push(df(x));
      out.gradMetric.push(wide ? 10 ** (35 * x - 30) : Math.abs(df(x)) / 3);
      out.objective.push(40 * (1 - x) ** 2);
      out.gradObjective.push(80 * (1 - x));
      out.distClean.push(4 * x);
      out.distCorrupted.push(4 * (1 - x));
    }
    return out;
  };
  const sig = (x: number): number => 1 / (1 + Math.exp(-x));
  const straight = (t: number): number => 3.5 - 4 * sig(20 * (t - 0.75));
  const dStraight = (t: number): number => -80 * sig(20 * (t - 0.75)) * (1 - sig(20 * (t - 0.75)));
  const gp = (t: number): number => 3.5 - 3 * t;
  const head = {
    format: PATH_FORMAT, version: PATH_VERSION, tool: 'test', model: 'gpt2', task: 'ioi',
    metric: 'logit-diff', data: 'ioi.csv', dataSha256: '0'.repeat(64), steps: 5, points: 32,
    gradpaths: [
      { name: 'paper', gpEta: 1, gpNorm: 'example', gpStep: 'absolute', gpBacktrack: 0, gpObjective: 'logits', gpEnd: 'free' },
      { name: 'step=relative', gpEta: 1, gpNorm: 'example', gpStep: 'relative', gpBacktrack: 0, gpObjective: 'logits', gpEnd: 'free' },
    ],
    straight: grids.straight, gradpath: grids.gradpath,
  } as const satisfies Omit<PathFile, 'examples' | 'summary'>;
  const examples = [0, 1].map((i) => {
    const ex = {
      row: i + 1, clean: `When Mary and John went to the store, John gave a drink to (${i})`, corrupted: 'When Mary and John went to the store, Anna gave a drink to',
      cleanMetric: 3.5, corruptedMetric: i === 0 ? -0.5 : 3.3,
      straight: series(grids.straight.t, straight, dStraight, i === 1),
      gradpaths: [series(grids.gradpath.t, gp, () => -3, i === 1), series(grids.gradpath.t, (t) => 3.5 - 2 * t, () => -2, i === 1)],
    };
    return { ...ex, diagnostics: diagnoseExample({ ...head, gradpaths: [...head.gradpaths] }, ex) };
  });
  return { ...head, gradpaths: [...head.gradpaths], examples, summary: summarise({ gradpaths: [...head.gradpaths], examples }) };
}
