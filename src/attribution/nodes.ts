/**
 * Node- and neuron-level attribution (hannamw/EAP-IG's attribute_node, `level='node'|'neuron'`) with any gradient
 * method of the registry, from the same passes as its edge scores:
 *   node    s(u)    = (1/(N·K)) Σ_examples Σ_passes Σ_{pos, d} Δ_u · ∂L/∂a_u
 *   neuron  s(u, d) = the same without the sum over d
 * where a_u is the node's *output* — the token embedding (`input`), a head's output after W_O without b_O
 * (`a{l}.h{h}`), the MLP's output (`m{l}`) — and Δ_u, L and the passes are the method's (eap: the clean input;
 * eap-ig: the straight path; eap-gp: GradPath; …). So a "neuron" is one of the d_model dimensions of a node's
 * output, as in EAP-IG (its neurons_scores are [n_forward, d_model]); `mlp-neuron` adds the MLPs' hidden units
 * (before W_out; mlp-neurons.ts) to the node scores. Since ∂L/∂a_u = Σ_{children v} ∂L/∂x_v (node-contract.ts), s(u) = Σ_v s(u→v): the node score is
 * the sum of the node's outgoing edge scores.
 * EAP-IG's code takes an MLP node's gradient at the MLP's *input* hook (hook_mlp_in), not at its output: that
 * product Δ(mlp_out)·∂L/∂(mlp_in) is not the first-order effect of patching the MLP's output, so we do not copy it
 * (heads and the input agree with EAP-IG's). Methods without gradients (information flow routes) and exact
 * patching have no node level here.
 */
import { UserError } from '../util/errors.js';
import { attributeBatches, type AttributeArgs } from './attribute.js';
import type { AttributionLevel } from './types.js';

export interface NodeScores {
  level: Exclude<AttributionLevel, 'edge'>;
  nSrc: number;
  dModel: number;
  /** Per source and output dimension, row-major [nSrc, D] (signed). */
  neurons: Float64Array;
  /** Per source: Σ_d of `neurons` [nSrc]. */
  nodes: Float64Array;
  examples: number;
  /** Gradient passes per batch (the K of 1/(N·K)). */
  points: number;
  /** At the mlp-neuron level: per layer and hidden unit [L, F] (signed), F the hidden width. */
  mlp?: { width: number; scores: Float64Array };
}

/** Node (or neuron) scores of a gradient method over all batches. */
export async function attributeNodes(a: Omit<AttributeArgs, 'level'> & { level: Exclude<AttributionLevel, 'edge'> }): Promise<NodeScores> {
  const { nSrc } = a.model.layout, D = a.model.dims.dModel;
  const F = a.level === 'mlp-neuron' ? a.model.dMlp : 0;
  const all = new Float64Array(nSrc * D + a.model.dims.nLayer * F);
  let N = 0;
  const K = await attributeBatches({ ...a }, a.batches.map((_, i) => i), (b) => {
    for (let i = 0; i < all.length; i++) all[i]! += b.sums[i]!;
    N += b.examples;
    a.onBatch?.(N);
  });
  if (N === 0) throw new UserError('node attribution needs at least one example');
  for (let i = 0; i < all.length; i++) all[i]! /= N * K;
  const sums = all.subarray(0, nSrc * D);
  const out: NodeScores = { level: a.level, nSrc, dModel: D, neurons: sums, nodes: sumOverDims(sums, nSrc, D), examples: N, points: K };
  if (F) out.mlp = { width: F, scores: all.subarray(nSrc * D) };
  return out;
}

/** Σ_d of a [nSrc, D] matrix, in float64. */
export function sumOverDims(m: Float64Array, nSrc: number, D: number): Float64Array {
  const out = new Float64Array(nSrc);
  for (let u = 0; u < nSrc; u++) {
    let s = 0;
    for (let d = 0; d < D; d++) s += m[u * D + d]!;
    out[u] = s;
  }
  return out;
}

/** Parses `--level`. */
export function parseLevel(text: string): AttributionLevel {
  if (text === 'edge' || text === 'node' || text === 'neuron' || text === 'mlp-neuron') return text;
  throw new UserError(`--level must be edge, node, neuron or mlp-neuron, got "${text}"`);
}
