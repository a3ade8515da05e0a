/**
 * The task metrics and their gradients, as pure functions of (logits, labels) and a metric form (types.ts
 * MetricForm; without one, each label's default form). Three shapes cover all tasks and forms:
 *  - logit difference z[c] − z[i]: gradient +1 at c, −1 at i (the default of logit-diff labels);
 *  - signed logit sum m = Σ_k w_k z[id_k] (weights ±1 or ±1/n for means): gradient Σ_{k: id_k=j} w_k;
 *  - signed probability sum m = Σ_k w_k p[id_k] (w = ±1, repeats allowed): with p = softmax(z),
 *    ∂m/∂z_j = p_j·(Σ_{k: id_k=j} w_k) − p_j·m.
 * Softmax is the max-shifted form in float64, so large logits neither overflow nor lose the small terms.
 */
import type { Label, MetricForm, MetricGrad, Task } from './types.js';

/** Sparse signed token weights of a probability-difference label. */
interface ProbTerms {
  ids: readonly number[];
  weights: readonly number[];
}

/** +1 for each id of `pos`, −1 for each id of `neg`. */
function signed(pos: readonly number[], neg: readonly number[]): ProbTerms {
  return { ids: [...pos, ...neg], weights: [...pos.map(() => 1), ...neg.map(() => -1)] };
}

/** +1/|pos| for each id of `pos`, −1/|neg| for each id of `neg` (an empty side contributes nothing). */
function meanSigned(pos: readonly number[], neg: readonly number[]): ProbTerms {
  return { ids: [...pos, ...neg], weights: [...pos.map(() => 1 / pos.length), ...neg.map(() => -1 / neg.length)] };
}

type SetLabel = Exclude<Label, { kind: 'logit-diff' }>;
type Combine = (pos: readonly number[], neg: readonly number[]) => ProbTerms;

/**
 * The signed terms of a set label: the answer set positive, the other set negative, combined by `signed` (the
 * prob-diff forms, and hypernymy's summed logit-diff) or `meanSigned` (greater-than's and sva's mean logit-diff).
 * greater-than and sva terms are the same for many examples: cached per shared id array and combiner.
 */
const setCache = new Map<Combine, WeakMap<object, ProbTerms[]>>();
function setTerms(label: SetLabel, combine: Combine): ProbTerms {
  if (label.kind === 'hypernymy') return signed(label.answers, label.corrupted);
  let byKey = setCache.get(combine);
  if (!byKey) setCache.set(combine, (byKey = new WeakMap()));
  const key = label.kind === 'greater-than' ? label.yearIds : label.verbs;
  let all = byKey.get(key);
  if (!all) {
    if (label.kind === 'greater-than') {
      const ids = label.yearIds; // "00".."99": the years after YY against the rest
      all = Array.from({ length: 100 }, (_, yy) => combine(ids.slice(yy + 1), ids.slice(0, yy + 1)));
    } else {
      const { singular, plural } = label.verbs; // a singular subject wants the singular forms
      all = [combine(singular, plural), combine(plural, singular)];
    }
    byKey.set(key, all);
  }
  return all[label.kind === 'greater-than' ? label.year : label.plural ? 1 : 0]!;
}

/** The form a label is scored with when none is asked for (DESIGN.md §6). */
export function defaultForm(label: Label): MetricForm {
  return label.kind === 'logit-diff' ? 'logit-diff' : 'prob-diff';
}

function checkShape(logits: Float32Array, B: number, V: number, labels: readonly Label[]): void {
  if (logits.length !== B * V) throw new Error(`metric: logits has ${logits.length} values, expected B·V = ${B}·${V}`);
  if (labels.length !== B) throw new Error(`metric: ${labels.length} labels for B = ${B}`);
}

function checkId(id: number, V: number): void {
  if (!(id >= 0 && id < V)) throw new Error(`metric: token id ${id} outside the logits' vocabulary (V = ${V})`);
}

/**
 * Metric of example b; when `grad` is given, also writes ∂metric/∂logits[b, :] into grad[b·V ..].
 * `exps` is scratch of length V.
 */
function exampleMetric(logits: Float32Array, b: number, V: number, label: Label, exps: Float64Array, grad?: Float32Array, form?: MetricForm): number {
  const o = b * V;
  const f = form ?? defaultForm(label);
  if (label.kind === 'logit-diff' && f === 'logit-diff') {
    checkId(label.correct, V);
    checkId(label.incorrect, V);
    if (grad) {
      // Accumulate, so correct === incorrect gives the true gradient 0.
      grad[o + label.correct]! += 1;
      grad[o + label.incorrect]! -= 1;
    }
    return logits[o + label.correct]! - logits[o + label.incorrect]!;
  }
  if (f === 'logit-diff') {
    const { ids, weights } = setTerms(label as SetLabel, meanSigned);
    let m = 0;
    for (let k = 0; k < ids.length; k++) {
      checkId(ids[k]!, V);
      m += weights[k]! * logits[o + ids[k]!]!;
      if (grad) grad[o + ids[k]!]! += weights[k]!;
    }
    return m;
  }
  const { ids, weights } = label.kind === 'logit-diff' ? signed([label.correct], [label.incorrect]) : setTerms(label, signed);
  let max = -Infinity;
  for (let j = 0; j < V; j++) if (logits[o + j]! > max) max = logits[o + j]!;
  let sum = 0;
  for (let j = 0; j < V; j++) sum += exps[j] = Math.exp(logits[o + j]! - max);
  let m = 0;
  for (let k = 0; k < ids.length; k++) {
    checkId(ids[k]!, V);
    m += weights[k]! * exps[ids[k]!]!;
  }
  m /= sum;
  if (grad) {
    // Accumulate the sparse part in float64 first so repeated ids and both terms round once.
    const sparse = new Map<number, number>();
    for (let k = 0; k < ids.length; k++) sparse.set(ids[k]!, (sparse.get(ids[k]!) ?? 0) + weights[k]!);
    for (let j = 0; j < V; j++) grad[o + j] = -(exps[j]! / sum) * m;
    for (const [j, w] of sparse) grad[o + j] = (exps[j]! / sum) * (w - m);
  }
  return m;
}

/** Per-example metric values [B] of last-position logits [B, V], in `form` (default: each label's own). */
export function taskMetric(logits: Float32Array, B: number, V: number, labels: readonly Label[], form?: MetricForm): Float64Array {
  checkShape(logits, B, V, labels);
  const out = new Float64Array(B);
  const exps = new Float64Array(V);
  for (let b = 0; b < B; b++) out[b] = exampleMetric(logits, b, V, labels[b]!, exps, undefined, form);
  return out;
}

/** Per-example metric values and their gradients with respect to the logits, in `form` (as taskMetric). */
export function taskMetricGrad(logits: Float32Array, B: number, V: number, labels: readonly Label[], form?: MetricForm): MetricGrad {
  checkShape(logits, B, V, labels);
  const values = new Float64Array(B);
  const grad = new Float32Array(B * V);
  const exps = new Float64Array(V);
  for (let b = 0; b < B; b++) values[b] = exampleMetric(logits, b, V, labels[b]!, exps, grad, form);
  return { values, grad };
}

/**
 * The attribution loss L = −mean_b metric_b (EAP-IG "loss=True, mean=True") and dL/dlogits = −grad/B ([B, V]).
 * `values` are the per-example metrics, for logging.
 */
export function lossGrad<L extends Label>(
  task: Task<L>,
  logits: Float32Array,
  B: number,
  V: number,
  labels: readonly L[],
): { loss: number; grad: Float32Array; values: Float64Array } {
  const { values, grad } = task.metricGrad(logits, B, V, labels);
  let sum = 0;
  for (let b = 0; b < B; b++) sum += values[b]!;
  for (let i = 0; i < grad.length; i++) grad[i] = -grad[i]! / B;
  return { loss: -sum / B, grad, values };
}
