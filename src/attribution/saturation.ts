/**
 * The saturation view's data (`eapgp path`): per example, the task metric, GradPath's objective and their
 * gradients at many points along EAP-IG's straight path and along one or more GradPath variants (see
 * path-format.ts for the grids and series). GradPath's vertices come from the same walk EAP-GP takes
 * (gradpath.ts).
 */
import type { Engine } from '../engine/engine.js';
import type { Tensor } from '../engine/tensor.js';
import type { CausalLM } from '../models/model.js';
import { rowStarts, type Batch } from '../models/batch.js';
import type { MetricGrad } from '../tasks/types.js';
import { UserError } from '../util/errors.js';
import { nextTick } from '../util/ticks.js';
import { GP_BACKTRACK, GP_END, GP_ETA, GP_NORM, GP_OBJECTIVE, GP_STEP } from './eap-gp.js';
import { finalTarget, gradPathObjective, logitsObjective, metricObjective, pinToCorrupted, stepLengths, walk, type GradPathRule } from './gradpath.js';
import { STEPS } from './method-spec.js';
import { SERIES_KEYS, type PathGrid, type PathSeries } from './path-format.js';
import type { PairBatch } from './types.js';

export interface PathTraceOptions {
  /** GradPath steps k, and EAP-IG's points m for its score points (default 5). */
  steps?: number;
  /** Evenly spaced samples per path, ends included (default 32). */
  points?: number;
  /** The GradPath variants to trace (default: the paper's, EAP-GP's defaults). */
  variants?: readonly GradPathRule[];
}

/** The paper's GradPath: EAP-GP's defaults. */
export const PAPER_RULE: GradPathRule = {
  eta: GP_ETA.default, norm: GP_NORM.default, step: GP_STEP.default, backtrack: GP_BACKTRACK.default, objective: GP_OBJECTIVE.default, end: GP_END.default,
};

export interface TraceArgs {
  model: CausalLM;
  batches: readonly PairBatch[];
  /** The task's per-example metric and its gradient with respect to the last-position logits. */
  metricGrad: (logits: Float32Array, B: number, V: number, labels: unknown[]) => MetricGrad;
  options?: PathTraceOptions;
  /** Called after each batch with the number of examples done. */
  onBatch?: (examplesDone: number) => void;
}

/** One example's traces (the CLI adds its row and text). */
export interface ExampleTrace {
  cleanMetric: number;
  corruptedMetric: number;
  straight: PathSeries;
  /** One per variant, in the order given. */
  gradpaths: PathSeries[];
}

export interface PathTrace {
  straight: PathGrid;
  gradpath: PathGrid;
  examples: ExampleTrace[];
}

/** Sorted union of `a` and `b` with values closer than 1e-9 merged (the first kept). */
function union(a: number[], b: number[]): number[] {
  const all = [...a, ...b].sort((x, y) => x - y);
  return all.filter((x, i) => i === 0 || x - all[i - 1]! > 1e-9);
}

/** The grids of both paths: P even samples plus each method's score points. */
export function pathGrids(steps: number, points: number): { straight: PathGrid; gradpath: PathGrid } {
  const even = Array.from({ length: points }, (_, i) => i / (points - 1));
  // EAP-IG's points 1 − j/m (j < m) and GradPath's vertices j/k (j ≥ 1) are the same fractions
  const igPoints = Array.from({ length: steps }, (_, j) => (j + 1) / steps);
  const gpPoints = igPoints;
  const vertices = Array.from({ length: steps + 1 }, (_, j) => j / steps);
  return {
    straight: { t: union(even, igPoints), scorePoints: igPoints },
    gradpath: { t: union(even, vertices), scorePoints: gpPoints },
  };
}

/** Per-example sums over each example's real rows of D values. */
function perExample(batch: Batch, D: number, f: (i: number) => number): number[] {
  const starts = rowStarts(batch);
  return Array.from({ length: batch.B }, (_, b) => {
    let s = 0;
    for (let i = starts[b]! * D; i < (starts[b]! + batch.lengths[b]!) * D; i++) s += f(i);
    return s;
  });
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** Traces both paths for every example of the batches. */
export async function tracePaths(a: TraceArgs): Promise<PathTrace> {
  const { model } = a;
  const e = model.engine;
  const k = a.options?.steps ?? STEPS.default;
  const P = a.options?.points ?? 32;
  const variants = a.options?.variants ?? [PAPER_RULE];
  if (!Number.isInteger(k) || k < 1) throw new UserError(`--steps must be an integer >= 1, got ${k}`);
  if (!Number.isInteger(P) || P < 2) throw new UserError(`--points must be an integer >= 2, got ${P}`);
  const grids = pathGrids(k, P);
  const examples: ExampleTrace[] = [];
  for (const batch of a.batches) {
    await nextTick();
    examples.push(...e.tidy(() => traceBatch(e, model, batch, a.metricGrad, grids, k, variants)));
    a.onBatch?.(examples.length);
  }
  return { ...grids, examples };
}

function traceBatch(
  e: Engine, model: CausalLM, batch: PairBatch, metricGrad: TraceArgs['metricGrad'], grids: { straight: PathGrid; gradpath: PathGrid },
  k: number, variants: readonly GradPathRule[],
): ExampleTrace[] {
  const { B } = batch.clean;
  const V = model.dims.vocabSize, D = model.dims.dModel;
  const plain = (b: Batch) => e.tidy(() => {
    const out = model.forward(b, { logits: 'last' });
    return { values: metricGrad(out.logits!.toArray(), B, V, batch.labels).values, final: out.residFinal };
  });
  const clean = plain(batch.clean);
  const corr = plain(batch.corrupted);
  const target = finalTarget(model, corr.final);
  const embed = (b: Batch) => model.embed(b.ids);
  const e0 = embed(batch.clean), e1 = embed(batch.corrupted);

  // each variant's vertices γ_0 = clean, γ_1..γ_k (bent to the corrupted input when pinned)
  const metricAt = (logits: Float32Array) => metricGrad(logits, B, V, batch.labels);
  const starts = rowStarts(batch.clean);
  const paths = variants.map((rule) => {
    const objective = rule.objective === 'logits' ? logitsObjective(model, batch.clean, target) : metricObjective(model, batch.clean, metricAt, corr.values);
    const vertices = walk(model, batch.clean, rule, objective, e0, stepLengths(rule, k, e0, e1, starts, D), k);
    return rule.end === 'corrupted' ? pinToCorrupted(e, vertices, e1) : vertices;
  });
  const lerp = (x: Tensor, y: Tensor, f: number): Tensor => {
    const out = e.empty(x.shape);
    e.kernels.scale(x.ptr, 1 - f, out.ptr, out.size);
    e.kernels.axpy(f, y.ptr, out.ptr, out.size);
    return out;
  };
  /** scale·(y − x). */
  const towards = (x: Tensor, y: Tensor, scale: number): Tensor => {
    const out = e.empty(x.shape);
    e.kernels.scale(y.ptr, scale, out.ptr, out.size);
    e.kernels.axpy(-scale, x.ptr, out.ptr, out.size);
    return out;
  };

  const series = (): PathSeries => Object.fromEntries(SERIES_KEYS.map((key) => [key, []])) as unknown as PathSeries;
  const out: ExampleTrace[] = Array.from({ length: B }, (_, b) => ({
    cleanMetric: clean.values[b]!, corruptedMetric: corr.values[b]!, straight: series(), gradpaths: variants.map(series),
  }));
  /** Samples every series at γ (tangent dγ/dt) into `into(b)`, each example's series of the path. */
  const probe = (into: (b: number) => PathSeries, gamma: Tensor, tangent: Tensor): void => {
    e.tidy(() => e.record((tape) => {
      const leaf = gamma.reshape(gamma.shape).requireGrad();
      const fwd = model.forward(batch.clean, { embeds: leaf, logits: 'last' });
      const { x, dJdx, J } = gradPathObjective(model, fwd.residFinal, target, batch.clean);
      const gJ = tape.backward([[x, dJdx]], { watch: false, retain: true }).get(leaf)!.data();
      const { values, grad } = metricGrad(fwd.logits!.toArray(), B, V, batch.labels);
      const gm = tape.backward([[fwd.logits!, e.fromArray(grad, fwd.logits!.shape)]], { watch: false }).get(leaf)!.data();
      const gv = gamma.data(), tv = tangent.data(), c0 = e0.data(), c1 = e1.data();
      const row: Record<keyof PathSeries, number[]> = {
        metric: Array.from(values),
        objective: Array.from(J),
        gradMetric: perExample(batch.clean, D, (i) => gm[i]! * gm[i]!).map(Math.sqrt),
        gradObjective: perExample(batch.clean, D, (i) => gJ[i]! * gJ[i]!).map(Math.sqrt),
        slope: perExample(batch.clean, D, (i) => gm[i]! * tv[i]!),
        distClean: perExample(batch.clean, D, (i) => (gv[i]! - c0[i]!) ** 2).map(Math.sqrt),
        distCorrupted: perExample(batch.clean, D, (i) => (gv[i]! - c1[i]!) ** 2).map(Math.sqrt),
      };
      for (let b = 0; b < B; b++) for (const key of SERIES_KEYS) into(b)[key].push(finite(row[key][b]!));
    }));
  };

  // straight: γ(t) = clean + t·(corrupted − clean), dγ/dt = corrupted − clean
  e.tidy(() => {
    const dir = towards(e0, e1, 1);
    for (const t of grids.straight.t) e.tidy(() => probe((b) => out[b]!.straight, lerp(e0, e1, t), dir));
  });
  // GradPath: s = k·t steps along the polyline, dγ/dt = k·(γ_{j+1} − γ_j) on segment j
  paths.forEach((vertices, v) => {
    for (const t of grids.gradpath.t) {
      e.tidy(() => {
        const s = t * k;
        const j = Math.min(Math.floor(s + 1e-9), k - 1);
        const a0 = vertices[j]!, a1 = vertices[j + 1]!;
        probe((b) => out[b]!.gradpaths[v]!, lerp(a0, a1, Math.max(0, s - j)), towards(a0, a1, k));
      });
    }
  });
  return out;
}
