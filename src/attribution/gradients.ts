/**
 * Gradients at every destination of the graph, summed over the passes of a batch, and their contraction with
 * the activation differences: S[u, v] += Σ_{rows, d} Δ[u] · G[v]. The parents of a destination are a prefix of
 * the source order, so each layer's block of scores is one matrix product.
 */
import type { Engine } from '../engine/engine.js';
import type { Tensor } from '../engine/tensor.js';
import { firstNonFinite } from '../util/finite.js';
import { LayerHeadGrads } from '../models/head-grads.js';
import type { GradHook } from '../models/hooks.js';
import { hookNames } from '../models/hooks.js';
import type { GraphLayout } from '../models/layout.js';

/**
 * Sums each destination's gradient over the passes of one batch. Nothing of size [nDst, R, D] is kept: the MLP and
 * logits inputs (one slot per layer, and the logits) sum into a compact [L + 1, R, D] buffer, and every layer's 3H
 * head inputs into its LayerHeadGrads (deferred: formed in head space at the end), or, when a forward hook gives the
 * heads their own inputs, into a per-layer [3H, R, D] buffer. `contract` forms each layer group's destinations just
 * before its product, so the gradients never take more room than one group's. The first gradient a slot receives
 * is copied, later ones added; slots that never received one (e.g. the inputs of a group whose output was held
 * constant) read as zero.
 */
export class GradSum {
  private readonly seen = new Set<number>();
  readonly hooks: Record<string, GradHook> = {};
  /** Per layer: the q/k/v input gradients of all heads, summed over passes and formed when contracted. */
  private readonly deferred: LayerHeadGrads[] = [];
  /** Per layer: head-input gradients handed over directly (forward hooks gave the heads their own inputs). */
  private readonly direct = new Map<number, Tensor>();
  /** The MLP input of each layer, then the logits input: [L + 1, R, D]. */
  private readonly compact: Tensor;

  private readonly L: number;
  private readonly H: number;

  constructor(readonly engine: Engine, private readonly layout: GraphLayout, readonly R: number, readonly D: number) {
    const L = (this.L = layout.nLayers), H = (this.H = layout.nHeads);
    this.compact = engine.empty([L + 1, R, D]);
    for (let l = 0; l < L; l++) {
      const c0 = layout.firstSlot(l);
      const layer = new LayerHeadGrads(engine, H);
      this.deferred.push(layer);
      this.hooks[hookNames.qInput(l)] = this.headSlot(l, 0, layer);
      this.hooks[hookNames.kInput(l)] = this.headSlot(l, H, layer);
      this.hooks[hookNames.vInput(l)] = this.headSlot(l, 2 * H, layer);
      this.hooks[hookNames.mlpIn(l)] = (g) => this.put(c0 + 3 * H, this.compact.ptr + 4 * l * R * D, g);
    }
    this.hooks[hookNames.residFinal] = (g) => this.put(layout.logitsSlot, this.compact.ptr + 4 * L * R * D, g);
  }

  /**
   * A per-head input hook: the backward pass deposits into the layer's deferred sum, or (when a forward hook gives
   * the heads their own inputs) calls the hook with the slot's [H, R, D] gradient.
   */
  private headSlot(l: number, first: number, layer: LayerHeadGrads): GradHook {
    const { R, D, H } = this;
    return Object.assign(
      (g: Tensor) => {
        let buf = this.direct.get(l);
        if (!buf) this.direct.set(l, (buf = this.engine.empty([3 * H, R, D])));
        this.put(this.layout.firstSlot(l) + first, buf.ptr + 4 * first * R * D, g);
      },
      { deferHeads: () => layer },
    );
  }

  /** Adds g (one slot [R, D], or H consecutive head slots) into dst, copying on a slot's first gradient. */
  private put(index: number, dst: number, g: Tensor): void {
    const k = this.engine.kernels, slot = this.R * this.D;
    if (g.size % slot !== 0) throw new Error(`gradient of ${g.size} values for destination ${index}`);
    const count = g.size / slot; // H for a head-input slot, 1 otherwise
    if (this.seen.has(index)) k.axpy(1, g.ptr, dst, g.size);
    else k.scale(g.ptr, 1, dst, g.size);
    for (let i = 0; i < count; i++) this.seen.add(index + i);
  }

  /**
   * Writes the summed gradients of destinations d0 … d0 + count − 1 (backward order) into G [count, R, D]: the
   * deferred head sums are formed here (and freed), once per layer.
   */
  formInto(G: number, d0: number, count: number): void {
    const { R, D, H, layout } = this, slot = R * D, heap = this.engine.heap, k = this.engine.kernels;
    const at = (v: number) => G + 4 * (v - d0) * slot;
    for (let v = d0; v < d0 + count; ) {
      const l = v === layout.logitsSlot ? this.L : layout.slotLayer(v);
      if (v === layout.logitsSlot || v === layout.mlpSlot(l)) {
        const src = this.compact.ptr + 4 * (v === layout.logitsSlot ? this.L : l) * slot;
        if (this.seen.has(v)) k.scale(src, 1, at(v), slot);
        else heap.fillF32(at(v), slot, 0);
        v++;
        continue;
      }
      // the layer's 3H head-input slots are consecutive: q heads, k heads, v heads
      const c0 = layout.firstSlot(l);
      if (v !== c0 || count - (v - d0) < 3 * H) throw new Error(`gradient groups must hold whole layers (destination ${v})`);
      const layer = this.deferred[l]!, direct = this.direct.get(l);
      if (direct) {
        for (let i = 0; i < 3 * H; i++) {
          if (this.seen.has(c0 + i)) k.scale(direct.ptr + 4 * i * slot, 1, at(c0 + i), slot);
          else heap.fillF32(at(c0 + i), slot, 0);
        }
      }
      if (layer.filled) layer.materialize(at(c0), !!direct);
      else if (!direct) heap.fillF32(at(c0), 3 * H * slot, 0);
      v += 3 * H;
    }
  }

  /** Frees what the deferred sums hold (after an error; forming them frees them too). */
  dispose(): void {
    for (const d of this.deferred) d.dispose();
  }
}

/**
 * Elements of the contraction dimension (rows·D) per product: a multiple of 384 (OpenBLAS's K block, so the BLAS
 * path needs no further splitting to stay thread-count deterministic) that keeps each product large and fast.
 */
const K_CHUNK = 384 * 128;

/** Layer groups of the contraction (measured on GPT-2 small: 3 groups take 2/3 of the time of one product per layer). */
const CONTRACT_GROUPS = 3;

/** Layers per contraction group. */
function groupLayers(L: number): number {
  return Math.ceil(L / Math.min(L, CONTRACT_GROUPS));
}

/** [R, D] slices a batch's gradients take at most: GradSum's compact slots and the largest group `contract` forms. */
export function gradientRows(layout: GraphLayout): number {
  return layout.nLayers + 1 + groupLayers(layout.nLayers) * (3 * layout.nHeads + 1) + 1;
}

/**
 * S[u, v] += Σ Δ[u]·G[v] over real edges u → v, accumulated in float64. Δ is [nSrc, R, D]; the gradients come from
 * `grads`, formed a layer group at a time; S is row-major [nSrc, nDst]. The contraction runs over R·D elements, in
 * chunks of K_CHUNK whose float32 partial products are summed in float64 in a fixed order. The parents of a
 * destination are a prefix of the source order, so the layers go in a few groups, each one product of the sources
 * upstream of its last layer with all of its destinations: this reads Δ a few times instead of once per layer (the
 * product is memory-bound), at the price of some products on non-edges, which are dropped. Returns the first
 * destination whose gradient holds a non-finite value and that value, when a group's scores came out non-finite.
 */
export function contract(S: Float64Array, delta: Tensor, grads: GradSum, layout: GraphLayout): { dst: number; value: number } | null {
  const e = delta.engine;
  const L = layout.nLayers, H = layout.nHeads;
  const nSrc = delta.shape[0]!, nDst = layout.nDst;
  const RD = delta.size / nSrc;
  const slots = 3 * H + 1;
  const upstream = (l: number) => layout.head(l, 0); // sources feeding layer l's heads
  const per = groupLayers(L);
  let bad: { dst: number; value: number } | null = null;
  for (let l0 = 0; l0 < L; l0 += per) {
    e.tidy(() => {
      const l1 = Math.min(L, l0 + per);
      const last = l1 === L; // the last group also takes the logits, which read every source
      const rows = last ? nSrc : upstream(l1 - 1) + H;
      const d0 = l0 * slots, cols = (last ? nDst : l1 * slots) - d0;
      const G = e.empty([cols, RD]);
      grads.formInto(G.ptr, d0, cols);
      const tmp = e.empty([rows, cols]);
      const parents = Int32Array.from({ length: cols }, (_, j) => layout.parentCount(d0 + j));
      for (let k0 = 0; k0 < RD; k0 += K_CHUNK) {
        const k = Math.min(K_CHUNK, RD - k0);
        e.kernels.gemm(false, true, rows, cols, k, 1, delta.ptr + 4 * k0, RD, G.ptr + 4 * k0, RD, 0, tmp.ptr, cols);
        const t = tmp.data();
        for (let u = 0; u < rows; u++) {
          const so = u * nDst + d0, to = u * cols;
          for (let j = 0; j < cols; j++) if (u < parents[j]!) S[so + j]! += t[to + j]!;
        }
      }
      if (!bad && firstNonFinite(t64Block(S, rows, nDst, d0, cols)) >= 0) {
        const g = G.data(), i = firstNonFinite(g);
        if (i >= 0) bad = { dst: d0 + Math.floor(i / RD), value: g[i]! };
      }
    });
  }
  return bad;
}

/** S's block of rows × cols from column d0, as one array (to look for non-finite scores). */
function t64Block(S: Float64Array, rows: number, nDst: number, d0: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let u = 0; u < rows; u++) out.set(S.subarray(u * nDst + d0, u * nDst + d0 + cols), u * cols);
  return out;
}

/**
 * S[u, v] += weight·|Σ_{rows of example b, d} Δ[u]·G[v]| for every example b (rows bounds[b] … bounds[b + 1]) over
 * real edges u → v, skipping destinations `skip` marks: per-example absolute contributions (AtP*'s GradDrop). One
 * layer's destinations at a time (the logits with the last); each example's products summed in float64.
 */
export function contractPerExample(
  S: Float64Array, delta: Tensor, grads: GradSum, layout: GraphLayout, bounds: Int32Array, weight: number, skip: (dst: number) => boolean,
): void {
  const e = delta.engine, L = layout.nLayers, H = layout.nHeads, nDst = layout.nDst, D = delta.size / delta.shape[0]! / grads.R;
  const RD = grads.R * D, slots = 3 * H + 1;
  for (let l = 0; l < L; l++) {
    e.tidy(() => {
      const d0 = l * slots, cols = (l === L - 1 ? nDst : (l + 1) * slots) - d0;
      const parents = Int32Array.from({ length: cols }, (_, j) => layout.parentCount(d0 + j));
      const rows = Math.max(...parents);
      const G = e.empty([cols, RD]);
      grads.formInto(G.ptr, d0, cols);
      const tmp = e.empty([rows, cols]), acc = new Float64Array(rows * cols);
      for (let b = 0; b + 1 < bounds.length; b++) {
        acc.fill(0);
        const end = bounds[b + 1]! * D;
        for (let k0 = bounds[b]! * D; k0 < end; k0 += K_CHUNK) {
          const k = Math.min(K_CHUNK, end - k0);
          e.kernels.gemm(false, true, rows, cols, k, 1, delta.ptr + 4 * k0, RD, G.ptr + 4 * k0, RD, 0, tmp.ptr, cols);
          const t = tmp.data();
          for (let i = 0; i < acc.length; i++) acc[i]! += t[i]!;
        }
        for (let j = 0; j < cols; j++) {
          if (skip(d0 + j)) continue;
          for (let u = 0; u < parents[j]!; u++) S[u * nDst + d0 + j]! += weight * Math.abs(acc[u * cols + j]!);
        }
      }
    });
  }
}
