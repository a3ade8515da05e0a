/** What every attribution method shares: its inputs, the per-batch context and the method interface. */
import type { Engine } from '../engine/engine.js';
import type { Tensor } from '../engine/tensor.js';
import type { CausalLM } from '../models/model.js';
import type { Batch } from '../models/batch.js';
import type { SourceRecord } from '../models/model.js';
import type { ForwardInput } from '../models/finite-hooks.js';
import type { ForwardHook, GradHook } from '../models/hooks.js';
import type { BackwardOptions, RelevanceRules, Tape } from '../engine/tape.js';
import type { GradSum } from './gradients.js';
import type { Intervention } from '../evaluation/means.js';
import type { MethodSpec } from './method-spec.js';

/** Clean and corrupted prompts of equal token lengths (per example), with the task's labels. */
export interface PairBatch<Label = unknown> {
  n: number;
  clean: Batch;
  corrupted: Batch;
  labels: Label[];
}

/**
 * The task loss of a batch from its last-position logits [B, V]: L = −mean_b metric_b, with dL/dlogits.
 * Gradients of L at the destinations, times Δ, give the scores.
 */
export type LossFn<Label = unknown> = (logits: Float32Array, B: number, V: number, labels: Label[]) => {
  loss: number;
  grad: Float32Array;
  /** The metric per example (lossGrad gives it): GradPath's metric objective needs it. */
  values?: Float64Array;
};

/**
 * What attribution scores: edges (DESIGN.md §4), source nodes, each output dimension of a source (nodes.ts), or
 * source nodes and the MLPs' hidden units (mlp-neurons.ts).
 */
export type AttributionLevel = 'edge' | 'node' | 'neuron' | 'mlp-neuron';

/** A method's name in the registry (src/attribution/registry.ts). */
export type MethodName = string;

export interface AttributionOptions {
  /** Integration steps: m of EAP-IG, k of EAP-GP (default 5). */
  steps?: number;
  /** GradPath step size η (default 1). */
  gpEta?: number;
  /** GradPath step normalisation: per example (default) or one norm for the whole batch. */
  gpNorm?: 'example' | 'batch';
  /** GradPath's step length: η itself (default) or η·‖e − e′‖/k. */
  gpStep?: 'absolute' | 'relative';
  /** GradPath's backtracking: the most halvings of a step until J decreases (default 0: none). */
  gpBacktrack?: number;
  /** GradPath's objective: all logits (default) or the task metric against the corrupted run's. */
  gpObjective?: 'logits' | 'metric';
  /** AtP*: query and key edges scored by the exact change of the attention pattern (default on). */
  qkFix?: 'on' | 'off';
  /** AtP*: GradDrop, the mean over dropped layers of |score| (default on). */
  gradDrop?: 'on' | 'off';
  /** GradPath's end: free (default) or bent to end at the corrupted embeddings. */
  gpEnd?: 'free' | 'corrupted';
  /** Replaces GradPath by the straight corrupted→clean path at the same points (a check: gives EAP-IG's points shifted by one). */
  gpPath?: 'gradpath' | 'straight';
  /**
   * Most examples processed at once within a batch (default: as many as keep Δ and the gradient sums under
   * 1 GiB). Scores do not depend on it, except that GradPath's batch norm needs whole batches.
   */
  microBatch?: number;
  /** Called with the GradPath objective J at each step (for the saturation view). */
  gpTrace?: (batch: number, step: number, J: number) => void;
  /**
   * What a removed edge carries, and what Δ compares the clean run with: the corrupted run (default `patching`),
   * zero, or a dataset mean (ablation.ts; exact patching and the gradient methods that take it).
   */
  intervention?: Intervention;
}

/** Options with every registered method's defaults filled in (registry.ts's resolveOptions). */
export type ResolvedOptions = Required<Pick<AttributionOptions, 'steps' | 'gpEta' | 'gpNorm' | 'gpStep' | 'gpBacktrack' | 'gpObjective' | 'gpEnd' | 'gpPath' | 'qkFix' | 'gradDrop' | 'intervention'>> & AttributionOptions;

/**
 * A gradient point's forward pass, for messages: what it is (e.g. "GradPath step 2 of 5") and its input, so
 * that a non-finite value found in its logits can be traced to the first hook point holding one.
 */
export interface PointSite extends ForwardInput {
  label: string;
}

/** Per-batch state a method works with. */
export interface BatchContext {
  e: Engine;
  model: CausalLM;
  /** The batch, packed: its rows are the real tokens only (see packBatch in src/models/gpt2.ts). */
  batch: PairBatch;
  index: number;
  opts: ResolvedOptions;
  /** Corrupted (or ablated) minus clean source outputs [nSrc, R, D]. */
  delta: Tensor;
  /** Corrupted (or ablated) source outputs [nSrc, R, D], when the method asked for them. */
  corrupted: Tensor | null;
  /** Δ's baseline is an ablation (zero or a mean; ablation.ts), not the corrupted run: that run is never made. */
  ablated: boolean;
  /** The corrupted run's residual stream before ln_f [R, D], when the method asked for it. */
  corruptedFinal: Tensor | null;
  /** Gradient sums of this batch. */
  grads: GradSum;
  /**
   * This batch's unnormalised scores [nSrc, nDst]: the contraction adds Σ Δ·G into them after `run`; a method may
   * add its own terms, or replace some edges' sums in the function its `run` returns.
   */
  sums: Float64Array;
  /**
   * One forward + backward pass of the task loss, gradients into `grads` (or into `p.grads`, a method's own sum),
   * with `gradHooks` watching besides.
   */
  point(p?: {
    tokens?: 'clean' | 'corrupted'; embeds?: Tensor; hooks?: Record<string, ForwardHook>; gradHooks?: Record<string, GradHook>; grads?: GradSum;
    recordClean?: boolean; recordCorrupted?: boolean; label?: string;
    /** Relevance coefficients by these LRP rules instead of gradients (engine/relevance.ts; RelP). */
    relevance?: RelevanceRules;
  }): void;
  /** Subtracts this run's source outputs from Δ: for a method whose pass runs the clean input anyway. */
  recordClean: SourceRecord;
  /** Adds this run's source outputs to Δ: for a method whose pass runs the corrupted input anyway. */
  recordCorrupted: SourceRecord;
  /**
   * Backward of the task loss from last-position logits recorded on `tape`, gradients into `grads`. Non-finite
   * logits or loss gradients stop the run (NonFiniteError), naming `at` and its first non-finite hook point.
   */
  backwardTask(tape: Tape, logits: Tensor, opts?: BackwardOptions, at?: PointSite): void;
  /**
   * The task metric per example and ∂values[b]/∂logits[b, :] from last-position logits [B, V] (from the loss:
   * −B·dL/dlogits). A UserError when the loss function gives no per-example values.
   */
  taskMetric(logits: Float32Array): { values: Float64Array; grad: Float32Array };
  /** Token embeddings wte[ids] of the clean or corrupted prompts [R, D] (in the current arena). */
  embeddings(which: 'clean' | 'corrupted'): Tensor;
  /**
   * The input node's value in Δ's baseline [R, D]: the corrupted prompts' token embeddings, or their ablated
   * value (zero, the mean token embedding, the per-position one).
   */
  baselineEmbeddings(): Tensor;
}

/** What a method that scores from the clean run alone sees of a batch (Method.scoreClean). */
export interface CleanContext {
  e: Engine;
  model: CausalLM;
  /** The batch, packed (its rows are the real tokens only). */
  batch: PairBatch;
  opts: ResolvedOptions;
  /** This batch's unnormalised scores [nSrc, nDst], to add to (zero off the graph's edges). */
  sums: Float64Array;
}

/** A method attribute() runs batch by batch: its description (method-spec.ts) and its passes over a batch. */
export interface Method extends MethodSpec {
  readonly kind: 'gradient';
  /** Whether the method needs the corrupted source outputs themselves (not only Δ). */
  readonly needsCorrupted?: boolean;
  /** Whether a pass keeps its tape for a second backward pass (GradPath's step): one more layer of activations. */
  readonly retainsTape?: boolean;
  /** Whether the method needs the corrupted run's final residual stream. */
  readonly needsCorruptedFinal?: boolean;
  /** The method's passes hook per-head values (heads' outputs): the pass holds per-head copies (memory-plan.ts). */
  readonly perHeadHooks?: boolean;
  /** The method records the clean activations itself, during a pass on the clean input (saves a forward pass). */
  readonly recordsClean?: boolean;
  /** The method records the corrupted activations itself, during a pass at the corrupted input. */
  readonly recordsCorrupted?: boolean;
  /**
   * Gradient passes over a batch, gradients into ctx.grads (contracted with Δ afterwards). May return a function
   * to call after the contraction (AtP* replaces its query/key edges' sums there).
   */
  run?(ctx: BatchContext): void | (() => void);
  /**
   * Instead of run: scores from the clean run alone, without Δ or gradients (information flow routes), added
   * into ctx.sums. The corrupted prompts are not run.
   */
  scoreClean?(ctx: CleanContext): void;
  /** Why the method scores edges only (no `--level node|neuron`), when it does. */
  readonly edgesOnly?: string;
  /**
   * Instead of run: scores learned over the whole run (UGS). The learner sees every batch in order (ctx.sums is
   * not read) and gives the scores after the last one; a run of some batches only (a shard) is refused.
   */
  learn?(model: CausalLM, opts: ResolvedOptions): Learner;
}

/** A method's state over one run of every batch (Method.learn). */
export interface Learner {
  step(ctx: CleanContext): void;
  /** The scores [nSrc, nDst] after the last batch (zero off the graph's edges; not divided by N·K). */
  scores(): Float64Array;
}
