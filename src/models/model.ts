/**
 * What every model family offers the rest of the toolkit (attribution, evaluation, tasks, reports): the graph
 * layout, a forward pass with the hook points of ./hooks.ts and a recorder of source outputs, and the pieces
 * of the output head that EAP-GP's objective and the embeddings-space methods need.
 */
import type { Engine } from '../engine/engine.js';
import type { Tensor } from '../engine/tensor.js';
import type { Batch } from './batch.js';
import type { HeadInputsHook } from './distinct-heads.js';
import type { KeepAttnHook, RowSubset } from './row-subset.js';
import type { ForwardHook, GradHook } from './hooks.js';
import type { GraphLayout } from './layout.js';

/**
 * Source activations written during a forward pass into buf [nSrc, R, D] (R = the batch's rows) (the graph's forward order: token
 * embedding, then per layer the H head outputs and the MLP output): buf[u] = out_u when `write`, else
 * buf[u] += alpha·out_u. Head outputs go straight from z into buf, so the residual stream keeps the fused product.
 */
export interface SourceRecord {
  buf: Tensor;
  alpha: number;
  write: boolean;
  /** Also the MLPs' hidden units (hook_post) [L, R, F], written or added as buf. */
  hidden?: Tensor;
}

export interface ForwardOptions {
  /** [R, D] (R = the batch's rows): replaces the token embeddings (the value at hook_embed), e.g. for points on a path. */
  embeds?: Tensor;
  /** Record every source's output (after its hook) into a buffer. */
  record?: SourceRecord;
  hooks?: Readonly<Partial<Record<string, ForwardHook>>>;
  gradHooks?: Readonly<Partial<Record<string, GradHook>>>;
  /**
   * Without a tape: the heads' q/k/v inputs as distinct values (distinct-heads.ts), instead of the stream. The
   * q/k/v forward hooks are then not called.
   */
  headInputs?: HeadInputsHook;
  /** Without a tape: compute only these rows, the others' attention inputs from a reference run (row-subset.ts). */
  rows?: RowSubset;
  /** Hands each layer's attention inputs over all rows to the caller (to keep for a later `rows` run). */
  keepAttn?: KeepAttnHook;
  /** Which logits to compute: at each example's last real position [B, V] (default), at every row [R, V], or none. */
  logits?: 'last' | 'all' | 'none';
}

export interface ForwardOutput {
  logits: Tensor | null;
  /** The residual stream before ln_f [R, D]. */
  residFinal: Tensor;
}

/** The architecture numbers every family shares. */
export interface ModelDims {
  nLayer: number;
  /** Query heads (the graph's heads). */
  nHead: number;
  dModel: number;
  nPositions: number;
  vocabSize: number;
  /**
   * Floats per token and layer, in units of D, that a taped pass of this model keeps beyond GPT-2's fused block
   * (memory estimates, attribution/memory-plan.ts; 0 when absent).
   */
  extraActivations?: number;
}

/**
 * Layer l's queries and keys, per query head, for residual-stream rows that are not a forward pass's (AtP*'s QK
 * fix recomputes the pattern with one input patched): q and k [rows, H·dh] (head h at columns h·dh; with
 * grouped-query attention each query head its own key copy; rotary applied at the rows' positions), and how the
 * scores are formed from them: softmax over visible keys of cap(scale·q·k) (soft-capped when `softcap` is set).
 */
export interface AttentionQK {
  q: Tensor;
  k: Tensor;
  scale: number;
  softcap: number | null;
  /** Keys j visible from query i only when i − j < window, or null (causal only). */
  window: number | null;
}

export interface CausalLM {
  readonly engine: Engine;
  readonly dims: ModelDims;
  /** The circuit graph's layout for this model (node indices, parents, hook points). */
  readonly layout: GraphLayout;
  /** The family, e.g. "gpt2", "llama". */
  readonly family: string;
  /** True when per-layer weights stream from ordinary memory into the heap. */
  readonly streamed: boolean;
  /** Bytes of per-layer matrices held in the heap (what streaming would move out). */
  readonly residentLayerBytes: number;
  /**
   * One forward pass. Inside `engine.record`, every op is taped: afterwards `tape.backward([[logits, dLoss/dlogits]])`
   * delivers gradients to `gradHooks` and returns the gradient of the embeddings.
   */
  forward(batch: Batch, opts?: ForwardOptions): ForwardOutput;
  /** The `input` node's value for token ids [R] → [R, D] (hook_embed: Gemma's √d scale included). */
  embed(ids: Int32Array): Tensor;
  /** The final norm of residual-stream rows, on the tape. */
  finalNorm(x: Tensor): Tensor;
  /** Logits of final-normed rows [n, D] → [n, V], on the tape (soft-capped where the family caps them). */
  unembed(xNormed: Tensor): Tensor;
  /**
   * W_Uᵀ W_U [D, D] when ‖logits − logits'‖² = d·G·d exactly for d = the difference of final-normed rows (no
   * unembedding bias, no soft-cap); null otherwise. Owned by the model.
   */
  unembedGram(): Tensor | null;
  /** Layer l's attention queries and keys from the rows x [n, D] at positions pos [n] (no tape; see AttentionQK). */
  attentionQK(l: number, x: Tensor, pos: Int32Array): AttentionQK;
  /** The MLP's hidden width F (hook_post). */
  readonly dMlp: number;
  /**
   * Why the MLP's output (hook_mlp_out) is not h·W_out + b in its hidden units h, or null when it is (then
   * mlpOutToHidden applies): Gemma 2 normalises the product once more.
   */
  readonly mlpOutNonlinear: string | null;
  /** out [R, F] (heap pointer) = g [R, D]·W_outᵀ of layer l: a gradient at the MLP's output taken to its hidden units. */
  mlpOutToHidden(l: number, g: number, out: number, R: number): void;
  dispose(): void;
}
