/**
 * `eapgp mib`: the MIB circuit track (docs/mib.md). `export` writes a submission folder per task/model from
 * scored graphs; `evaluate` computes CPR and CMD of such a folder as MIB's evaluation code does
 * (src/evaluation/mib.ts), on our models with our edge patching.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gapWarning } from '../evaluation/degenerate.js';
import {
  MIB_CIRCUIT_FRACTIONS, MIB_EDGE_COUNTS, MIB_LEADERBOARD, MIB_TASKS, mibEvaluateCircuits, mibEvaluateImportances, MIB_IMPORTANCE_RUNS,
  mibItemCount, mibTaskName, type MibCurve, type MibResult,
} from '../evaluation/mib.js';
import { graphForCfg } from '../graph/json.js';
import { greedy, prune, readGraphJson, topn, writeGraphJson, type Graph, type GraphFile } from '../graph/index.js';
import { modelSpecOrDefault } from '../models/default-model.js';
import { loadModel } from '../models/load.js';
import { tempPathFor, writeFileAtomicSync } from '../util/atomic-write.js';
import { UserError } from '../util/errors.js';
import { createProgress } from '../util/progress.js';
import { INTERVENTION } from '../attribution/ablation.js';
import { ENGINE_OPTIONS, engineFrom, parse, requireOption, warn } from './args.js';
import { optionValue } from './method-options.js';
import { checkOutputFile } from './output-paths.js';
import { TASK_OPTIONS, loadTaskData } from './task-data.js';
import { droppedRowsWarning, identicalRowsWarning } from '../tasks/prepare.js';

export const usage = `usage: eapgp mib export --graph G.json [--graph G2.json ...] [--task T[,T2...]] --model-name M[,M2...]
                      --out DIR [--importances | --circuits [--select topn|greedy] [--signed]] [--force]
       eapgp mib evaluate [--model M] --task T --data CSV [--limit N] [--batch-size B]
                      --submission DIR/TASK_MODEL [--log-scale] [--intervention ${INTERVENTION.metavar}]
                      [--json] [--out results.json]

export    writes MIB's submission layout: DIR/<task>_<model>/ per graph (e.g. ioi_gpt2), holding either
          importances.json (every edge's score; the default, --importances) or, with --circuits, nine circuit
          files of at most 0.1, 0.2, 0.5, 1, 2, 5, 10, 20 and 50 % of the edges (int(p·E) edges selected top-n
          by |score| — --select greedy, --signed to change — then pruned; in_graph flags only). --task defaults
          to each graph's meta.task; MIB's tasks: ${MIB_TASKS.join(', ')}. --model-name is MIB's model name
          (${Object.keys(MIB_EDGE_COUNTS).join(', ')}: the graph must have that model's edge count) or another
          name without "_". A task/model folder that exists and is not empty needs --force (it is replaced;
          other folders in DIR are kept). Nothing is written unless every graph is valid.
evaluate  CPR and CMD of one task/model folder exactly as MIB's evaluation code computes them: the ten points
          0.1 … 100 %, trapezoids over the percentage (ln of it with --log-scale, as the leaderboard's
          evaluator calls it), F = (m(C) − m(∅)) / (m(M) − m(∅)). An importance file: top-n at int(p·E) edges,
          pruned; CPR from the signed ranking, CMD from |score|. Nine circuits: each as flagged, pruned, sorted
          by edge count, F = 1 appended for the full model. Differences from evaluate --fractions: docs/mib.md.`;

export async function mib(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === 'export') return mibExport(rest);
  if (sub === 'evaluate') return mibEvaluate(rest);
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') return void console.log(usage);
  throw new UserError(`mib: unknown subcommand "${sub}" (export or evaluate)\n\n${usage}`);
}

// ------------------------------------------------------------------ export

/** A graph to export and the folder it goes to. */
interface Planned {
  path: string;
  file: GraphFile;
  folder: string;
}

/** The i-th of a comma list given once per graph, or its only value for all graphs. */
function perGraph(list: string | undefined, i: number, n: number, name: string): string | undefined {
  if (list === undefined) return undefined;
  const items = list.split(',').map((s) => s.trim());
  if (items.length !== 1 && items.length !== n) throw new UserError(`--${name} gives ${items.length} values for ${n} graphs: give one for all, or one per --graph`);
  return items.length === 1 ? items[0] : items[i];
}

function planGraph(path: string, taskArg: string | undefined, modelName: string, notes: string[]): Planned {
  const file = readGraphJson(path);
  const metaTask = typeof file.meta?.task === 'string' ? file.meta.task : undefined;
  const task = taskArg ?? metaTask;
  if (task === undefined) throw new UserError(`${path}: no task: the file has no meta.task; give --task (MIB's tasks: ${MIB_TASKS.join(', ')})`);
  const mibTask = mibTaskName(task);
  if (mibTask === null) throw new UserError(`${path}: task "${task}" has no MIB counterpart; MIB's tasks are ${MIB_TASKS.join(', ')} (give --task)`);
  if (!/^[A-Za-z0-9.-]+$/.test(modelName)) {
    throw new UserError(`--model-name "${modelName}": use letters, digits, "." and "-" only (MIB splits folder names at "_"), e.g. gpt2 or qwen2.5`);
  }
  const expected = MIB_EDGE_COUNTS[modelName];
  const g = file.graph;
  if (expected !== undefined && g.nEdges !== expected) {
    throw new UserError(`${path}: the graph has ${g.nEdges} edges (${g.nLayers} layers × ${g.nHeads} heads) but MIB's ${modelName} graph has ${expected}: this graph was made for another model`);
  }
  const folder = `${mibTask}_${modelName}`;
  if (expected === undefined) notes.push(`${folder}: "${modelName}" is not one of MIB's models (${Object.keys(MIB_EDGE_COUNTS).join(', ')}); MIB's leaderboard skips this folder`);
  else if (!(MIB_LEADERBOARD as readonly string[]).includes(folder)) notes.push(`${folder}: MIB's leaderboard has no ${mibTask} column for ${modelName}; it skips this folder`);
  return { path, file, folder };
}

/** Throws unless every score is finite and not all are 0 (an importance file ranks by them). */
function checkScores(p: Planned): void {
  const g = p.file.graph, s = g.scores;
  let nonzero = false;
  let bad = '';
  g.forEachEdge((u, v) => {
    const x = s[g.flat(u, v)]!;
    if (!Number.isFinite(x) && bad === '') bad = `${g.edgeName(u, v)} = ${x}`;
    if (x !== 0) nonzero = true;
  });
  if (bad) throw new UserError(`${p.path}: edge ${bad}: MIB ranks edges by score, which needs finite scores; attribute again`);
  if (!nonzero) throw new UserError(`${p.path}: every score is 0: an importance file needs scores (eapgp attribute writes them)`);
}

/** The file name of the circuit at fraction p: circuit-0.1pct.json … circuit-50pct.json. */
export function circuitFileName(p: number): string {
  return `circuit-${Number((p * 100).toPrecision(6))}pct.json`;
}

/** The nine circuits of a graph: int(p·E) edges selected, then pruned (so at most p·E edges each). */
export function mibCircuits(g: Graph, opts: { select: 'topn' | 'greedy'; absolute: boolean }): { fraction: number; graph: Graph }[] {
  return MIB_CIRCUIT_FRACTIONS.map((p) => {
    const c = g.clone();
    (opts.select === 'greedy' ? greedy : topn)(c, mibItemCount(p, g.nEdges), { absolute: opts.absolute });
    prune(c);
    return { fraction: p, graph: c };
  });
}

function dModelOf(p: Planned): number {
  const d = p.file.cfg['d_model'];
  if (typeof d !== 'number' || !Number.isInteger(d) || d < 1) throw new UserError(`${p.path}: cfg.d_model is missing; MIB's loader needs it (write the graph again with eapgp attribute)`);
  return d;
}

async function mibExport(argv: string[]): Promise<void> {
  const { values } = parse('mib export', argv, {
    graph: { type: 'string' as const, multiple: true }, task: { type: 'string' as const }, 'model-name': { type: 'string' as const },
    out: { type: 'string' as const }, importances: { type: 'boolean' as const }, circuits: { type: 'boolean' as const },
    select: { type: 'string' as const }, signed: { type: 'boolean' as const }, force: { type: 'boolean' as const },
  }, usage);
  if (values.help) return void console.log(usage);
  const graphs = (values.graph ?? []) as unknown as string[];
  if (graphs.length === 0) throw new UserError(`--graph is required\n\n${usage}`);
  const out = requireOption(values.out, 'out', usage);
  const models = requireOption(values['model-name'], 'model-name', usage);
  if (values.importances && values.circuits) throw new UserError('give either --importances or --circuits, not both');
  const circuits = !!values.circuits;
  const select = (values.select ?? 'topn') as 'topn' | 'greedy';
  if (!['topn', 'greedy'].includes(select)) throw new UserError(`--select must be topn or greedy, got "${values.select}"`);
  if (!circuits && (values.select !== undefined || values.signed)) throw new UserError('--select and --signed choose the circuits of --circuits; an importance file keeps every score');
  if (existsSync(out) && !statSync(out).isDirectory()) throw new UserError(`--out ${out} is a file; give a directory`);

  // every graph is read and checked before anything is written
  const notes: string[] = [];
  const planned = graphs.map((path, i) => planGraph(path, perGraph(values.task, i, graphs.length, 'task'), perGraph(models, i, graphs.length, 'model-name')!, notes));
  const seen = new Map<string, string>();
  for (const p of planned) {
    const other = seen.get(p.folder);
    if (other !== undefined) throw new UserError(`${other} and ${p.path} both go to ${p.folder}: give each task/model one graph`);
    seen.set(p.folder, p.path);
    dModelOf(p);
    if (!circuits) checkScores(p);
    const target = join(out, p.folder);
    if (existsSync(target) && (!statSync(target).isDirectory() || readdirSync(target).length > 0) && !values.force) {
      throw new UserError(`${target} exists and is not empty; give --force to replace it`);
    }
  }
  for (const n of notes) warn(n);

  // each folder is written under a temporary name, then renamed into place
  mkdirSync(out, { recursive: true });
  const staged: { tmp: string; target: string }[] = [];
  try {
    for (const p of planned) {
      const tmp = tempPathFor(join(out, `.${p.folder}`));
      mkdirSync(tmp);
      staged.push({ tmp, target: join(out, p.folder) });
      const dModel = dModelOf(p);
      if (circuits) {
        for (const c of mibCircuits(p.file.graph, { select, absolute: !values.signed })) {
          writeGraphJson(join(tmp, circuitFileName(c.fraction)), c.graph, { dModel, cfg: p.file.cfg, scores: false });
        }
      } else {
        writeGraphJson(join(tmp, 'importances.json'), p.file.graph, { dModel, cfg: p.file.cfg });
      }
    }
    for (const s of staged) {
      rmSync(s.target, { recursive: true, force: true });
      renameSync(s.tmp, s.target);
    }
  } catch (e) {
    for (const s of staged) rmSync(s.tmp, { recursive: true, force: true });
    throw e;
  }
  for (const p of planned) {
    const what = circuits ? `9 circuits (${select}${values.signed ? ', signed' : ''}, pruned)` : 'importances.json';
    console.log(`${join(out, p.folder)}: ${what} from ${basename(p.path)} (${p.file.graph.nEdges} edges)`);
  }
}

// ------------------------------------------------------------------ evaluate

/** The graph files of a submission folder: one importance file or nine circuits. */
export function readSubmission(dir: string): { mode: 'importances' | 'circuits'; files: string[] } {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`--submission ${dir}: not a directory (give a task/model folder such as circuits/ioi_gpt2)`);
  const names = readdirSync(dir).sort();
  const pt = names.filter((n) => n.endsWith('.pt'));
  if (pt.length > 0) throw new UserError(`${join(dir, pt[0]!)}: .pt circuit files are not read here; write them as JSON (EAP-IG Graph.to_json) and try again`);
  const files = names.filter((n) => n.endsWith('.json')).map((n) => join(dir, n));
  if (files.length === 1) return { mode: 'importances', files };
  if (files.length === MIB_CIRCUIT_FRACTIONS.length) return { mode: 'circuits', files };
  throw new UserError(`${dir}: ${files.length} .json files; MIB reads one importance file or ${MIB_CIRCUIT_FRACTIONS.length} circuits`);
}

async function mibEvaluate(argv: string[]): Promise<void> {
  const { values } = parse('mib evaluate', argv, {
    ...ENGINE_OPTIONS, ...TASK_OPTIONS, model: { type: 'string' as const }, submission: { type: 'string' as const },
    'log-scale': { type: 'boolean' as const }, intervention: { type: 'string' as const }, json: { type: 'boolean' as const },
    out: { type: 'string' as const }, quiet: { type: 'boolean' as const },
  }, usage);
  if (values.help) return void console.log(usage);
  const spec = modelSpecOrDefault(values.model);
  const dir = requireOption(values.submission, 'submission', usage);
  const intervention = optionValue(INTERVENTION, values);
  checkOutputFile(values.out, 'out', 'results.json');
  // the files first: their problems are found in seconds, before a model loads
  const sub = readSubmission(dir);
  const graphs = sub.files.map((f) => ({ file: f, read: readGraphJson(f) }));
  const first = graphs[0]!.read.graph;
  for (const g of graphs) {
    if (g.read.graph.nLayers !== first.nLayers || g.read.graph.nHeads !== first.nHeads) throw new UserError(`${g.file}: a ${g.read.graph.nLayers}×${g.read.graph.nHeads} graph beside a ${first.nLayers}×${first.nHeads} one in ${dir}`);
  }
  if (sub.mode === 'circuits') {
    const empty = graphs.filter((g) => g.read.graph.countEdgesInGraph() === 0);
    if (empty.length === graphs.length) throw new UserError(`${dir}: no circuit flags an edge in_graph: these look like unscored graphs, not circuits`);
  }
  const warnings: string[] = [];
  const folderTask = mibTaskName(basename(dir).split('_')[0] ?? '');
  const engine = await engineFrom(values);
  try {
    const { model, tokenizer, config } = await loadModel(engine, spec, { quiet: values.quiet });
    for (const g of graphs) graphForCfg(g.read.cfg, g.file, { nLayers: config.nLayer, nHeads: config.nHead, dModel: config.dModel, parallelAttnMlp: model.layout.parallelAttnMlp });
    const data = loadTaskData(values, tokenizer, usage);
    const ourTask = mibTaskName(data.task.name) ?? data.task.name;
    if (folderTask !== null && folderTask !== ourTask) warnings.push(`${dir} is a ${folderTask} folder but --task is ${data.task.name}`);
    for (const w of [identicalRowsWarning(data), droppedRowsWarning(data)]) if (w) warnings.push(w);
    for (const w of warnings) warn(w);
    const runs = (sub.mode === 'importances' ? MIB_IMPORTANCE_RUNS : MIB_CIRCUIT_FRACTIONS.length) * data.batches.length;
    const progress = createProgress({ label: 'evaluating circuits', total: runs, unit: 'items', itemName: 'runs', quiet: values.quiet });
    const common = { model, batches: data.batches, metric: data.metric, intervention, logScale: !!values['log-scale'], onRun: () => progress.add(1) };
    const result = sub.mode === 'importances'
      ? await mibEvaluateImportances({ ...common, graph: first })
      : await mibEvaluateCircuits({ ...common, circuits: graphs.map((g) => ({ file: basename(g.file), graph: g.read.graph })) });
    progress.finish();
    // evaluate's rule: the gap against the spread of the per-example gaps (under an ablation, to the fully ablated run)
    const gap = gapWarning({ clean: result.baseline, corrupted: result.corrupted, spread: result.spread });
    if (gap) {
      warn(gap);
      warnings.push(gap);
    }
    const output = { submission: dir, task: data.task.name, examples: data.examples, ...result, warnings };
    if (values.out) writeFileAtomicSync(values.out, JSON.stringify(output, null, 2) + '\n');
    if (values.json) return void process.stdout.write(JSON.stringify(output) + '\n');
    printResult(output, data.task.name, data.examples);
  } finally {
    await engine.close();
  }
}

function printCurve(name: string, c: MibCurve): void {
  const how = c.absolute === null ? 'given circuits' : c.absolute ? 'top-n by |score|' : 'top-n by signed score';
  console.log(`${name} curve (${how}):`);
  console.log(`${'percent'.padStart(8)} ${'requested'.padStart(9)} ${'edges'.padStart(8)} ${'nodes'.padStart(6)} ${'m(C)'.padStart(14)} ${'F'.padStart(10)}`);
  for (const p of c.points) {
    console.log(`${String(Number((p.fraction * 100).toPrecision(6))).padStart(8)} ${String(p.requested ?? '-').padStart(9)} ${String(p.edges).padStart(8)} ${String(p.nodes).padStart(6)} ${(p.metric === null ? '(full model)' : p.metric.toPrecision(8)).padStart(14)} ${p.faithfulness.toFixed(6).padStart(10)}${p.file ? `  ${p.file}` : ''}`);
  }
}

function printResult(r: MibResult, task: string, examples: number): void {
  console.log(`task ${task}, ${examples} examples: m(M) = ${r.baseline.toPrecision(8)}, m(∅) = ${r.corrupted.toPrecision(8)}; x axis ${r.logScale ? 'ln(percentage)' : 'percentage (fraction of edges)'}`);
  printCurve('CPR', r.curves.cpr);
  if (r.mode === 'importances') printCurve('CMD', r.curves.cmd);
  console.log(`MIB CPR (area under F) = ${r.cpr.toFixed(6)}, MIB CMD (area under |1 − F|) = ${r.cmd.toFixed(6)}`);
}
