/**
 * An exact reparametrization of a pre-LayerNorm GPT-2 that scales its residual stream, and with it the token
 * embeddings, by a factor c > 0 without changing the function the model computes.
 *
 * Why: GradPath (DESIGN.md §4) takes steps of absolute length η (default 1) in token-embedding space, a length
 * calibrated for GPT-2 small, whose token embedding rows have an L2 norm of roughly 3–4 (approximate; we know of
 * no citable public measurement, so treat the figure as an order of magnitude). A small model trained by
 * `eapgp train` ends with much smaller embeddings, so η = 1 overshoots there. Rescaling the model moves its
 * embeddings to GPT-2's scale instead of changing η.
 *
 * Derivation. The residual stream is x₀ = wte[t] + wpe[p], x_{l+½} = x_l + attn_l(LN₁(x_l)),
 * x_{l+1} = x_{l+½} + mlp_l(LN₂(x_{l+½})), logits = LN_f(x_L) · wteᵀ. Multiply
 *   - wte and wpe by c: x₀ becomes c·x₀;
 *   - every write into the residual stream by c, i.e. attn.c_proj and mlp.c_proj, weight and bias, of every
 *     layer: each block's output becomes c times what it was, provided its input is unchanged.
 * By induction every x_l becomes c·x_l. LayerNorm is invariant to scaling its input,
 * LN(c·x) = LN(x), except through eps: (x − μ)/√(σ² + eps) becomes (x − μ)/√(σ² + eps/c²), so the function
 * changes only where σ² is not large against eps (c > 1 shrinks eps's relative weight). So every block sees
 * the same inputs and the final LayerNorm gives the same output; but the tied unembedding reads wte, now c
 * times larger, so ln_f's weight and bias are divided by c: logits = (LN_f(x)/c) · (c·wte)ᵀ are unchanged.
 * Nothing else changes (c_attn, c_fc, ln_1, ln_2 read LayerNorm outputs).
 */

/** The tensors multiplied by c (the rest of the residual writes are per layer, see {@link residualScaleOf}). */
const EMBEDDINGS = new Set(['wte.weight', 'wpe.weight']);
/** Per-layer writes into the residual stream: h.<l>.attn.c_proj.{weight,bias}, h.<l>.mlp.c_proj.{weight,bias}. */
const RESIDUAL_WRITE = /^h\.\d+\.(attn|mlp)\.c_proj\.(weight|bias)$/;
/** The final LayerNorm, whose output the tied unembedding reads: divided by c. */
const FINAL_LN = new Set(['ln_f.weight', 'ln_f.bias']);

/** The factor a tensor (Hugging Face GPT2Model name) is multiplied by when the residual stream is scaled by c. */
export function residualScaleOf(name: string, c: number): number {
  if (EMBEDDINGS.has(name) || RESIDUAL_WRITE.test(name)) return c;
  if (FINAL_LN.has(name)) return 1 / c;
  return 1;
}

/**
 * Scales the residual stream of a GPT-2 (tied embeddings; tensors under their Hugging Face names) by `c`, in
 * place; the model's function is unchanged up to LayerNorm's eps (see the module comment). Throws when a
 * tensor the reparametrization needs is missing or the checkpoint has its own lm_head (untied).
 */
export function scaleResidualStream(tensors: Map<string, Float32Array>, c: number): void {
  if (!(Number.isFinite(c) && c > 0)) throw new Error(`residual scale must be a finite number > 0, got ${c}`);
  if (tensors.has('lm_head.weight')) throw new Error('residual scaling supports tied embeddings only');
  for (const name of [...EMBEDDINGS, ...FINAL_LN]) if (!tensors.has(name)) throw new Error(`residual scaling: no tensor ${name}`);
  for (const [name, data] of tensors) {
    const s = residualScaleOf(name, c);
    if (s !== 1) for (let i = 0; i < data.length; i++) data[i]! *= s;
  }
}

/**
 * The mean L2 norm of the rows `ids` of `wte` ([V, D] row-major). We take the tokens the training data uses,
 * not all rows: with a tied unembedding the rows of the ~50k tokens never seen in training all drift to one
 * shared vector (in the default model every unused row is within 0.1 of it), which says nothing about the
 * distances GradPath moves across between the clean and corrupted prompts of the tasks.
 */
export function meanRowNorm(wte: Float32Array, D: number, ids: Iterable<number>): number {
  let sum = 0, n = 0;
  for (const t of ids) {
    if (!Number.isInteger(t) || t < 0 || (t + 1) * D > wte.length) throw new Error(`meanRowNorm: token ${t} is out of range`);
    let q = 0;
    for (let j = t * D; j < (t + 1) * D; j++) q += wte[j]! * wte[j]!;
    sum += Math.sqrt(q);
    n++;
  }
  if (n === 0) throw new Error('meanRowNorm: no tokens');
  return sum / n;
}

/** The c that makes the mean row norm of `ids` equal `norm` (see {@link meanRowNorm}). */
export function scaleForEmbeddingNorm(wte: Float32Array, D: number, ids: Iterable<number>, norm: number): number {
  if (!(Number.isFinite(norm) && norm > 0)) throw new Error(`embedding norm must be a finite number > 0, got ${norm}`);
  return norm / meanRowNorm(wte, D, ids);
}
