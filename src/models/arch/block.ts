/**
 * What one family file declares: which Hugging Face configs it reads, how, and where each weight of its block
 * lives in the checkpoint (real parameter names). The forward pass (../transformer.ts) is the same for all.
 */
import type { ArchSpec, ConfigReader, FamilyName } from './spec.js';

/** A norm's weight (and bias, for LayerNorm). */
export interface NormNames {
  w: string;
  b?: string;
}

/** The checkpoint names of one layer's weights, by role (Hugging Face orientation: [out, in]). */
export interface LayerNames {
  ln1: NormNames;
  /** The MLP's pre-norm (pre_feedforward_layernorm in Gemma 2). */
  ln2: NormNames;
  /** Gemma 2's norms applied to the attention and MLP outputs. */
  postAttn?: NormNames;
  postMlp?: NormNames;
  /** Separate projections, or GPT-NeoX's fused query_key_value ([q|k|v] per head). */
  attn: { q: string; k: string; v: string; qb?: string; kb?: string; vb?: string } | { fused: string; fusedBias: string };
  o: string;
  ob?: string;
  /** fc/out (plain MLP) or gate/up/down (gated). */
  mlp: { fc: string; fcb?: string; out: string; outb?: string } | { gate: string; up: string; down: string };
}

export interface FamilyBlock {
  name: FamilyName;
  /** `architectures` values this family runs. */
  architectures: readonly string[];
  /** The matching `model_type` values. */
  modelTypes: readonly string[];
  parse(c: ConfigReader, architecture: string): ArchSpec;
  embed: string;
  finalNorm: NormNames;
  /** The untied unembedding's name (tied models read `embed`). */
  unembed: string;
  layer(l: number): LayerNames;
  /** Buffers in some checkpoints that are not parameters (ignored when loading). */
  ignored?: RegExp;
}
