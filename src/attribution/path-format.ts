/**
 * The file `eapgp path` writes and the viewer's saturation view reads (no Node imports: the viewer uses it too).
 *
 * Both paths start at the clean input (t = 0). The straight path is EAP-IG's line to the corrupted input
 * (t = 1 is the corrupted run); GradPath is the polyline through γ_0 = clean, γ_1, …, γ_k (t = s/k, s the step
 * count; between vertices the segment is linear). Every series has one value per grid point `t` of its path:
 *   metric         the task metric (per example, as the task scores one example)
 *   objective      GradPath's J = Σ_{real positions} ‖logits − logits(corrupted)‖²
 *   gradMetric     ‖∂metric/∂γ‖ over the example's real positions (Frobenius): where it vanishes, the path is
 *                  saturated and integrated gradients learn little there
 *   gradObjective  ‖∂J/∂γ‖
 *   slope          ∂metric/∂t along the path (∇metric · dγ/dt): the integrand whose sum IG approximates
 *   distClean, distCorrupted   ‖γ − clean‖ and ‖γ − corrupted‖ (token embeddings, real positions)
 * `scorePoints` are the t at which the method takes its gradients (EAP-IG: 1 − j/m for j < m; EAP-GP: the
 * vertices 1..k, as t = j/k).
 *
 * Version 3 traces several GradPath variants (`gradpaths`, each with its options; every example has one series
 * per variant, on the shared grid `gradpath`) and adds diagnostics (path-diagnostics.ts), per example and
 * summed up over the examples:
 *   saturated        the share of the path's P evenly spaced samples (t = i/(P−1)) where |slope| is below
 *                    SATURATION_SHARE (10 %) of the mean |slope| over those samples (1 where the mean is 0);
 *   monotone         the variant's own objective (J, or (metric − corrupted metric)² for the metric objective)
 *                    never increases from one vertex t = j/k to the next;
 *   jFraction        how far J went towards 0: (J(0) − J(1)) / J(0);
 *   metricFraction   how far the metric went towards the corrupted run's: (m(0) − m(1)) / (m(0) − m(z′));
 *   jBelow, ownBelow whether J, and the variant's own objective, end below where they start.
 * Older files (versions 1 and 2: one GradPath, `gpEta` and `gpNorm`) load as version 3 with one variant.
 */
import { UserError } from '../util/errors.js';
import { diagnoseExample, summarise, type ExampleDiagnostics, type PathSummary } from './path-diagnostics.js';

export const PATH_FORMAT = 'eapgp-path';
/** 3: several GradPath variants and diagnostics; 2: "created" moved to the run log. Versions 1 and 2 load too. */
export const PATH_VERSION = 3;
const READABLE_VERSIONS: readonly unknown[] = [1, 2, PATH_VERSION];

export const SERIES_KEYS = ['metric', 'objective', 'gradMetric', 'gradObjective', 'slope', 'distClean', 'distCorrupted'] as const;
export type SeriesKey = (typeof SERIES_KEYS)[number];

/** One example's values along one path (null where a value was not finite). */
export type PathSeries = Record<SeriesKey, (number | null)[]>;

export interface PathGrid {
  t: number[];
  scorePoints: number[];
}

/** A traced GradPath variant: its name ('paper', or its options that differ from the paper's) and options. */
export interface GradPathVariant {
  name: string;
  gpEta: number;
  gpNorm: 'example' | 'batch';
  gpStep: 'absolute' | 'relative';
  gpBacktrack: number;
  gpObjective: 'logits' | 'metric';
  gpEnd: 'free' | 'corrupted';
}

export interface PathExample {
  /** 1-based CSV data row. */
  row: number;
  clean: string;
  corrupted: string;
  /** The metric of a plain forward pass on the clean and on the corrupted tokens. */
  cleanMetric: number | null;
  corruptedMetric: number | null;
  straight: PathSeries;
  /** One per variant (the file's `gradpaths`), on the grid `gradpath`. */
  gradpaths: PathSeries[];
  diagnostics: ExampleDiagnostics;
}

export interface PathFile {
  format: typeof PATH_FORMAT;
  version: typeof PATH_VERSION;
  tool: string;
  model: string;
  task: string;
  metric: string;
  data: string;
  dataSha256: string;
  /** GradPath steps k (also EAP-IG's m for its score points). */
  steps: number;
  /** Evenly spaced samples per path (the score points are added to them). */
  points: number;
  gradpaths: GradPathVariant[];
  straight: PathGrid;
  gradpath: PathGrid;
  examples: PathExample[];
  summary: PathSummary;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A version 1 or 2 file (one GradPath) as version 3: one variant with its η and norm, diagnostics computed. */
function upgrade(o: Obj): PathFile {
  const variant: GradPathVariant = {
    name: o['gpEta'] === 1 && o['gpNorm'] === 'example' ? 'paper' : `norm=${String(o['gpNorm'])}:eta=${String(o['gpEta'])}`,
    gpEta: o['gpEta'] as number, gpNorm: o['gpNorm'] as 'example' | 'batch', gpStep: 'absolute', gpBacktrack: 0, gpObjective: 'logits', gpEnd: 'free',
  };
  const f = { ...o, version: PATH_VERSION, gradpaths: [variant] } as unknown as PathFile;
  delete (f as unknown as Obj)['gpEta'];
  delete (f as unknown as Obj)['gpNorm'];
  f.examples = (o['examples'] as Obj[]).map((ex) => {
    const { gradpath, ...rest } = ex;
    const e = { ...rest, gradpaths: [gradpath] } as unknown as PathExample;
    return { ...e, diagnostics: diagnoseExample(f, e) };
  });
  f.summary = summarise(f);
  return f;
}

/** Checks parsed JSON against the format; a UserError names the file and the first problem. */
export function checkPathFile(d: unknown, file: string): PathFile {
  const bad = (msg: string): never => {
    throw new UserError(`${file}: ${msg}`);
  };
  if (!isObj(d) || d['format'] !== PATH_FORMAT) bad(`not an \`eapgp path\` file ("format" must be "${PATH_FORMAT}")`);
  const o = d as Obj;
  if (!READABLE_VERSIONS.includes(o['version'])) bad(`version ${JSON.stringify(o['version'])}; this reader knows versions ${READABLE_VERSIONS.join(', ')}`);
  const old = o['version'] !== PATH_VERSION;
  const grid = (k: 'straight' | 'gradpath'): number => {
    const g = o[k];
    if (!isObj(g) || !Array.isArray(g['t']) || !g['t'].every((x) => typeof x === 'number')) bad(`"${k}.t" must be an array of numbers`);
    if (!Array.isArray((g as Obj)['scorePoints'])) bad(`"${k}.scorePoints" must be an array`);
    return ((g as Obj)['t'] as number[]).length;
  };
  const n = { straight: grid('straight'), gradpath: grid('gradpath') };
  const variants = old ? 1 : Array.isArray(o['gradpaths']) ? o['gradpaths'].length : bad('"gradpaths" must be an array of the GradPath variants');
  if (!old && !(o['gradpaths'] as unknown[]).every((v) => isObj(v) && typeof v['name'] === 'string')) bad('each of "gradpaths" must be an object with a "name"');
  if (!old && !isObj(o['summary'])) bad('"summary" is missing');
  if (!Array.isArray(o['examples'])) bad('"examples" must be an array');
  const checkSeries = (s: unknown, where: string, len: number, gridName: string): void => {
    if (!isObj(s)) bad(`${where} is missing`);
    for (const key of SERIES_KEYS) {
      const a = (s as Obj)[key];
      if (!Array.isArray(a) || a.length !== len || !a.every((x) => x === null || typeof x === 'number')) {
        bad(`${where}.${key} must be ${len} numbers (one per ${gridName}.t)`);
      }
    }
  };
  (o['examples'] as unknown[]).forEach((ex, i) => {
    if (!isObj(ex)) bad(`examples[${i}] must be an object`);
    const x = ex as Obj;
    checkSeries(x['straight'], `examples[${i}].straight`, n.straight, 'straight');
    if (old) return checkSeries(x['gradpath'], `examples[${i}].gradpath`, n.gradpath, 'gradpath');
    const g = x['gradpaths'];
    if (!Array.isArray(g) || g.length !== variants) bad(`examples[${i}].gradpaths must hold ${variants} series (one per variant)`);
    (g as unknown[]).forEach((s, v) => checkSeries(s, `examples[${i}].gradpaths[${v}]`, n.gradpath, 'gradpath'));
    if (!isObj(x['diagnostics'])) bad(`examples[${i}].diagnostics is missing`);
  });
  return old ? upgrade(o) : (o as unknown as PathFile);
}
