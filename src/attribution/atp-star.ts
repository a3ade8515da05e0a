/**
 * AtP* (Kramár, Lieberum, Shah and Nanda 2024, "AtP*: An efficient and scalable method for localizing LLM behaviour
 * to components", arXiv 2403.00745) on the edge graph: attribution patching (EAP: Δ_u·∂L/∂x_v with one gradient at
 * the clean input) with the paper's two fixes for its false negatives.
 *
 * QK fix (--qk-fix on). A head's query or key input reaches the loss only through the head's attention pattern,
 * and where the softmax saturates its linearisation misses large changes. As the paper does for query and key
 * nodes, the pattern is recomputed exactly and only what follows it is linearised. For the edge u → (head h, q):
 *   q' = q_h(x + Δ_u)        the head's query of its clean input x with the edge patched, computed exactly
 *                            (norm, projection, bias, rotary), at every position
 *   A' = softmax_rows(cap(scale·q'·k_hᵀ)),   A the same from the clean q_h, k_h (visible keys only)
 *   I(u → h<q>) = Σ_{queries t, keys s} (A' − A)[t, s] · ∂L/∂A[t, s]
 * and for u → (h, k) the same with k' = k_h(x + Δ_u) at every key position (every query row's softmax sees its keys
 * changed). Δ_u is EAP's (corrupted − clean, or an ablation), ∂L/∂A the gradient at hook_pattern at the clean input.
 * Edges into value inputs, MLPs and the logits keep EAP's score, from the same pass: with GradDrop off, AtP* equals
 * EAP on them bit for bit. To first order in Δ the fixed score is EAP's too (q and k reach the loss only through A).
 *
 * GradDrop (--graddrop on). A node whose direct and indirect effects cancel looks unimportant to AtP. For each layer
 * ℓ = 1..L the gradient is taken again with layer ℓ's contribution to the residual stream held out of the backward
 * pass (its heads' and MLP's outputs stop the gradient; the forward pass is unchanged), giving I_ℓ for every edge
 * (QK-fixed from ∂L_ℓ/∂A where the fix is on), and the paper's c_AtP+GD:
 *   s(u → v) = (1/N) Σ_examples (1/(L − 1)) Σ_ℓ |I_ℓ(u → v; example)|
 * per prompt pair, in absolute value, so these scores are ≥ 0. The term of v's own layer is 0 (hence L − 1); an edge
 * into the logits, which no drop reaches, gets L/(L − 1) times EAP's mean |I|. A one-layer model divides by 1.
 *
 * Cost per batch, beyond EAP's (one corrupted forward pass, one clean forward + backward, one contraction):
 *   QK fix    per layer, every parent's patched input normalised and projected to all heads' q and k
 *             (parents · rows · D · 2D multiply-adds: on GPT-2 small 870 parents, about 12 forward passes' worth), and
 *             per parent, head and example two patterns of len² · d_head;
 *   GradDrop  L forward + backward passes instead of the one (the first records the clean run), each contracted per
 *             example (L times EAP's contraction), and the QK fix's patterns dotted with every pass's ∂L_ℓ/∂A.
 */
import type { Tensor } from '../engine/tensor.js';
import { rowStarts } from '../models/batch.js';
import { hookNames, type ForwardHook, type GradHook } from '../models/hooks.js';
import type { CausalLM } from '../models/model.js';
import { INTERVENTION } from './ablation.js';
import { GradSum, contractPerExample } from './gradients.js';
import { choiceOption } from './method-spec.js';
import type { BatchContext, Method } from './types.js';

const ON_OFF = ['on', 'off'] as const;

export const QK_FIX = choiceOption({
  key: 'qkFix', flag: 'qk-fix', variantKey: 'qk', metavar: 'on|off', meta: 'qk_fix', default: 'on', values: ON_OFF,
  help: "AtP*: query/key edges by the attention pattern's exact change",
});

export const GRAD_DROP = choiceOption({
  key: 'gradDrop', flag: 'graddrop', variantKey: 'graddrop', metavar: 'on|off', meta: 'graddrop', default: 'on', values: ON_OFF,
  help: 'AtP*: mean |score| over L gradients, each with one layer dropped',
});

export const atpStar: Method = {
  name: 'atp-star',
  kind: 'gradient',
  summary: "AtP* (Kramár et al. 2024): EAP with query/key edges scored by the attention pattern's exact change, and GradDrop",
  options: [QK_FIX, GRAD_DROP, INTERVENTION],
  color: '#ca8a04',
  counterpart: 'eap',
  validateVariants: ['', 'graddrop=off'],
  points: (L, o) => (o.gradDrop === 'on' ? L : 1),
  recordsClean: true,
  edgesOnly: 'its QK fix rescores edges into query and key inputs, and GradDrop takes |·| per edge',
  run: (ctx) => (ctx.opts.gradDrop === 'on' ? gradDrop(ctx) : plain(ctx)),
};

/** What one pass leaves for the QK fix: the pattern's gradient per layer [B, H, P, P] (null where none arrived). */
type PatternGrads = (Float32Array | null)[];

/** Hooks that keep each layer's residual stream (when `xs` is given) and the pattern gradients of a pass. */
function capture(L: number, xs: Float32Array[] | null): { hooks: Record<string, ForwardHook>; gradHooks: Record<string, GradHook>; dA: PatternGrads } {
  const dA: PatternGrads = new Array<Float32Array | null>(L).fill(null);
  const hooks: Record<string, ForwardHook> = {}, gradHooks: Record<string, GradHook> = {};
  for (let l = 0; l < L; l++) {
    if (xs) hooks[hookNames.residPre(l)] = (x) => void (xs[l] = x.toArray());
    gradHooks[hookNames.pattern(l)] = (g) => void (dA[l] = g.toArray());
  }
  return { hooks, gradHooks, dA };
}

/** Whether destination v is a head's query or key input. */
function qkSlot(model: CausalLM, v: number): boolean {
  const { layout } = model, H = layout.nHeads;
  if (v === layout.logitsSlot) return false;
  const off = v - layout.firstSlot(layout.slotLayer(v));
  return off < 2 * H;
}

/** One clean pass as EAP's; with the QK fix, the query/key edges' sums of this slice replaced afterwards. */
function plain(ctx: BatchContext): void | (() => void) {
  if (ctx.opts.qkFix !== 'on') return ctx.point({ recordClean: true });
  const L = ctx.model.dims.nLayer, xs: Float32Array[] = [];
  const c = capture(L, xs);
  ctx.point({ recordClean: true, hooks: c.hooks, gradHooks: c.gradHooks });
  // the contraction adds this slice's linear q/k sums after run: keep the sums from before it to put the fixed ones on
  const { nDst } = ctx.model.layout, before = Float64Array.from(ctx.sums);
  return () => {
    for (let l = 0; l < L; l++) {
      fixLayer(ctx, l, xs[l]!, [c.dA[l] ?? null], (u, v, perExample) => {
        ctx.sums[u * nDst + v] = before[u * nDst + v]! + perExample[0]!.reduce((s, x) => s + x, 0);
      });
    }
  };
}

/** L passes, pass ℓ with layer ℓ's outputs stopping the gradient; per-example |I_ℓ| added into the sums. */
function gradDrop(ctx: BatchContext): void {
  const { e, model } = ctx, layout = model.layout, L = model.dims.nLayer, fix = ctx.opts.qkFix === 'on';
  // points = L passes, so the sums are divided by N·L: weight L/(L − 1) makes that 1/(N·(L − 1))
  const weight = L / Math.max(1, L - 1);
  const bounds = rowStarts(ctx.batch.clean);
  const xs: Float32Array[] = [], dA: PatternGrads[] = [];
  const stop: ForwardHook = (v) => {
    const c = e.empty(v.shape); // off the tape: no gradient flows back through it
    e.kernels.scale(v.ptr, 1, c.ptr, v.size);
    return c;
  };
  for (let drop = 0; drop < L; drop++) {
    e.tidy(() => {
      const grads = new GradSum(e, layout, ctx.grads.R, ctx.grads.D);
      try {
        const c = fix ? capture(L, drop === 0 ? xs : null) : null;
        const hooks = { ...c?.hooks, [hookNames.result(drop)]: stop, [hookNames.mlpOut(drop)]: stop };
        ctx.point({ recordClean: drop === 0, hooks, gradHooks: c?.gradHooks, grads, label: `GradDrop pass ${drop + 1} of ${L} (layer ${drop} dropped)` });
        if (c) dA.push(c.dA);
        contractPerExample(ctx.sums, ctx.delta, grads, layout, bounds, weight, (v) => fix && qkSlot(model, v));
      } finally {
        grads.dispose();
      }
    });
  }
  if (!fix) return;
  const { nDst } = layout;
  for (let l = 0; l < L; l++) {
    fixLayer(ctx, l, xs[l]!, dA.map((p) => p[l] ?? null), (u, v, perExample) => {
      let s = 0;
      for (const pass of perExample) for (const x of pass) s += Math.abs(x);
      ctx.sums[u * nDst + v]! += weight * s;
    });
  }
}

/**
 * The QK-fixed I of every edge into layer l's query and key inputs, per pass (dA[p], the pattern gradient of pass
 * p, or null: zero) and example, handed to `put(u, v, I[pass][example])`. x is the layer's clean residual stream.
 */
function fixLayer(ctx: BatchContext, l: number, x: Float32Array, dA: PatternGrads, put: (u: number, v: number, perExample: Float64Array[]) => void): void {
  const { e, model, batch } = ctx, layout = model.layout, H = layout.nHeads;
  const clean = batch.clean, B = clean.B, P = clean.P, R = ctx.grads.R, D = ctx.grads.D;
  const bounds = rowStarts(clean), pos = new Int32Array(R);
  for (let b = 0; b < B; b++) for (let r = bounds[b]!; r < bounds[b + 1]!; r++) pos[r] = r - bounds[b]!;
  const parents = layout.parentCount(layout.firstSlot(l));
  const prev = e.tape;
  e.tape = null;
  try {
    e.tidy(() => {
      const xt = e.fromArray(x, [R, D]);
      const base = model.attentionQK(l, xt, pos);
      const HD = base.q.shape[1]!, dh = HD / H;
      const pattern = new Patterns(ctx, base.scale, base.softcap, base.window, dh, bounds);
      const A0 = Array.from({ length: B }, (_, b) => pattern.of(base.q, 0, base.k, 0, b));
      // parents in chunks: their patched inputs x + Δ_u projected together
      const chunk = Math.max(1, Math.min(parents, Math.floor(2 ** 20 / (R * D)))); // ≤ 4 MiB per [c·R, D] buffer
      for (let u0 = 0; u0 < parents; u0 += chunk) {
        e.tidy(() => {
          const c = Math.min(chunk, parents - u0);
          const X = e.empty([c * R, D]), cpos = new Int32Array(c * R);
          for (let i = 0; i < c; i++) {
            e.kernels.add(xt.ptr, ctx.delta.ptr + 4 * (u0 + i) * R * D, X.ptr + 4 * i * R * D, R * D);
            cpos.set(pos, i * R);
          }
          const patched = model.attentionQK(l, X, cpos);
          for (let i = 0; i < c; i++) {
            const u = u0 + i;
            for (const which of [0, 1] as const) {
              // I[pass][b·H + h]
              const I = dA.map(() => new Float64Array(B * H));
              for (let b = 0; b < B; b++) {
                const A = which === 0 ? pattern.of(patched.q, i * R, base.k, 0, b) : pattern.of(base.q, 0, patched.k, i * R, b);
                pattern.dot(A, A0[b]!, dA, b, P, I);
              }
              for (let h = 0; h < H; h++) {
                put(u, layout.firstSlot(l) + which * H + h, I.map((perPass) => Float64Array.from({ length: B }, (_, b) => perPass[b * H + h]!)));
              }
            }
          }
        });
      }
    });
  } finally {
    e.tape = prev;
  }
}

/** Attention patterns of one example from q and k rows, computed the same way for the clean and patched inputs. */
class Patterns {
  constructor(
    private readonly ctx: BatchContext, private readonly scale: number, private readonly softcap: number | null,
    private readonly window: number | null, private readonly dh: number, private readonly bounds: Int32Array,
  ) {}

  /** softmax over visible keys of cap(scale·q·kᵀ) for example b, all heads: [H, len, len] in float64 (0 where masked). */
  of(q: Tensor, qRow: number, k: Tensor, kRow: number, b: number): Float64Array {
    const { e } = this.ctx, H = this.ctx.model.layout.nHeads, dh = this.dh, HD = H * dh;
    const r0 = this.bounds[b]!, n = this.bounds[b + 1]! - r0, nn = n * n;
    return e.tidy(() => {
      const s = e.empty([H, n, n]);
      e.kernels.gemmBatched(false, true, n, n, dh, this.scale, q.ptr + 4 * (qRow + r0) * HD, HD, dh, k.ptr + 4 * (kRow + r0) * HD, HD, dh, 0, s.ptr, n, nn, H);
      const S = s.data(), A = new Float64Array(H * nn);
      for (let row = 0; row < H * n; row++) {
        const i = row % n, o = row * n, lo = this.window ? Math.max(0, i - this.window + 1) : 0;
        let max = -Infinity;
        for (let j = lo; j <= i; j++) {
          const a = this.softcap ? this.softcap * Math.tanh(S[o + j]! / this.softcap) : S[o + j]!;
          A[o + j] = a;
          if (a > max) max = a;
        }
        let sum = 0;
        for (let j = lo; j <= i; j++) sum += A[o + j] = Math.exp(A[o + j]! - max);
        for (let j = lo; j <= i; j++) A[o + j]! /= sum;
      }
      return A;
    });
  }

  /** I[p][b·H + h] += Σ (A − A0)·dA[p] over example b's queries and keys, for every pass p with a gradient. */
  dot(A: Float64Array, A0: Float64Array, dA: PatternGrads, b: number, P: number, I: Float64Array[]): void {
    const H = this.ctx.model.layout.nHeads, n = this.bounds[b + 1]! - this.bounds[b]!;
    dA.forEach((g, p) => {
      if (!g) return;
      for (let h = 0; h < H; h++) {
        let s = 0;
        for (let i = 0; i < n; i++) {
          const o = (h * n + i) * n, go = ((b * H + h) * P + i) * P;
          for (let j = 0; j <= i; j++) s += (A[o + j]! - A0[o + j]!) * g[go + j]!;
        }
        I[p]![b * H + h]! += s;
      }
    });
  }
}
