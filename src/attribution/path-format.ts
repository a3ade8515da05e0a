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
 */
import { UserError } from '../util/errors.js';

export const PATH_FORMAT = 'eapgp-path';
/** 2: "created" moved to the run log (path.log.json); version 1 files load too (the rest is the same). */
export const PATH_VERSION = 2;
const READABLE_VERSIONS: readonly unknown[] = [1, PATH_VERSION];

export const SERIES_KEYS = ['metric', 'objective', 'gradMetric', 'gradObjective', 'slope', 'distClean', 'distCorrupted'] as const;
export type SeriesKey = (typeof SERIES_KEYS)[number];

/** One example's values along one path (null where a value was not finite). */
export type PathSeries = Record<SeriesKey, (number | null)[]>;

export interface PathGrid {
  t: number[];
  scorePoints: number[];
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
  gradpath: PathSeries;
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
  gpEta: number;
  gpNorm: 'example' | 'batch';
  straight: PathGrid;
  gradpath: PathGrid;
  examples: PathExample[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Checks parsed JSON against the format; a UserError names the file and the first problem. */
export function checkPathFile(d: unknown, file: string): PathFile {
  const bad = (msg: string): never => {
    throw new UserError(`${file}: ${msg}`);
  };
  if (!isObj(d) || d['format'] !== PATH_FORMAT) bad(`not an \`eapgp path\` file ("format" must be "${PATH_FORMAT}")`);
  const o = d as Obj;
  if (!READABLE_VERSIONS.includes(o['version'])) bad(`version ${JSON.stringify(o['version'])}; this reader knows versions ${READABLE_VERSIONS.join(' and ')}`);
  const grid = (k: 'straight' | 'gradpath'): number => {
    const g = o[k];
    if (!isObj(g) || !Array.isArray(g['t']) || !g['t'].every((x) => typeof x === 'number')) bad(`"${k}.t" must be an array of numbers`);
    if (!Array.isArray((g as Obj)['scorePoints'])) bad(`"${k}.scorePoints" must be an array`);
    return ((g as Obj)['t'] as number[]).length;
  };
  const n = { straight: grid('straight'), gradpath: grid('gradpath') };
  if (!Array.isArray(o['examples'])) bad('"examples" must be an array');
  (o['examples'] as unknown[]).forEach((ex, i) => {
    if (!isObj(ex)) bad(`examples[${i}] must be an object`);
    for (const path of ['straight', 'gradpath'] as const) {
      const s = (ex as Obj)[path];
      if (!isObj(s)) bad(`examples[${i}].${path} is missing`);
      for (const key of SERIES_KEYS) {
        const a = (s as Obj)[key];
        if (!Array.isArray(a) || a.length !== n[path] || !a.every((x) => x === null || typeof x === 'number')) {
          bad(`examples[${i}].${path}.${key} must be ${n[path]} numbers (one per ${path}.t)`);
        }
      }
    }
  });
  return o as unknown as PathFile;
}
