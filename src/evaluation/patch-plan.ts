/**
 * What a circuit patches, laid out for the patched forward pass (patching.ts). A destination v's input gets
 * Σ_{u→v missing} d_u (d_u = ã_u − a*_u, over its parents, a prefix of the sources), written in whichever form
 * has fewer terms: directly, or as S − Σ_{u→v present} d_u with S the running sum of every parent's d_u. So a
 * destination outside the circuit (all parent edges missing) costs only its share of S, one inside it its few
 * edges in or out, and heads whose rows are equal read one input. Per layer, the q/k/v corrections (and the MLP's
 * share over the sources before the layer's heads) are one product over the sources that any of them reads.
 * Plans depend on the circuit alone, so one serves every batch.
 */
import type { GraphLayout } from '../models/layout.js';
import type { MissingEdges } from './patching.js';

/** A sum over sources k0 … k0 + K − 1 of ±1 (or 0) times d_u, for `rows` destinations at once. */
export interface Terms {
  k0: number;
  K: number;
  rows: number;
  /** [rows, K] */
  signs: Float32Array;
  /** Nonzero signs: few of them go as single additions instead of a product. */
  nnz: number;
}

/** One destination's correction: S of its parents (when `base`) plus signed terms. */
interface Correction {
  base: boolean;
  /** ±1 or 0 per source from 0 to the parent count; null when there are none. */
  signs: Float32Array | null;
}

export interface LayerPlan {
  /**
   * The layer's distinct q/k/v inputs, each the stream plus S (base) plus its terms. Rows [0, terms.rows) of the
   * layer's buffer take the product; when `mlpStash`, its last row is the MLP's share, not a head's input.
   */
  base: boolean[];
  terms: Terms | null;
  mlpStash: boolean;
  /** Inputs count (rows of the layer's buffer, the MLP's share included). */
  count: number;
  /** Per (slot, head): the row it reads, −1 = the stream itself; null when no q/k/v input is patched. */
  of: Int32Array | null;
  /** The MLP input: patched at all; its share over the sources before the layer's heads starts from S then. */
  mlp: boolean;
  mlpBase: boolean;
  /** The layer's heads whose edge into the MLP is missing (added at the MLP, after they ran), as terms. */
  mlpHeads: Terms | null;
}

export interface PatchPlan {
  layers: LayerPlan[];
  /** The logits input's correction (terms over all sources), or null when every edge into logits is in. */
  logits: { base: boolean; terms: Terms | null } | null;
}

/** The column of destination v over its first p parents: 1 = missing. */
function column(missing: MissingEdges, nDst: number, v: number, p: number): Uint8Array {
  const c = new Uint8Array(p);
  for (let u = 0; u < p; u++) c[u] = missing[u * nDst + v]!;
  return c;
}

/** The shorter form of a column's correction, or null when nothing is missing. */
function correction(col: Uint8Array): Correction | null {
  let n = 0;
  for (const x of col) n += x;
  if (n === 0) return null;
  if (n === col.length) return { base: true, signs: null };
  const base = col.length - n < n; // fewer edges in than out: S minus the ones in
  const signs = new Float32Array(col.length);
  for (let u = 0; u < col.length; u++) if (base ? !col[u] : col[u]) signs[u] = base ? -1 : 1;
  return { base, signs };
}

/** Stacks rows' signs over the columns any of them uses. */
function stack(rows: readonly Float32Array[]): Terms | null {
  if (rows.length === 0) return null;
  let k0 = Infinity, k1 = -1, nnz = 0;
  for (const r of rows) {
    for (let u = 0; u < r.length; u++) {
      if (r[u] !== 0) {
        k0 = Math.min(k0, u);
        k1 = Math.max(k1, u);
        nnz++;
      }
    }
  }
  const K = k1 - k0 + 1, signs = new Float32Array(rows.length * K);
  rows.forEach((r, i) => signs.set(r.subarray(k0, k1 + 1), i * K));
  return { k0, K, rows: rows.length, signs, nnz };
}

const keyOf = (c: Correction): string => (c.signs ? `${+c.base}${Array.from(c.signs, (s) => (s === 0 ? '0' : s > 0 ? '+' : '-')).join('')}` : 'S');

export function patchPlan(layout: GraphLayout, missing: MissingEdges): PatchPlan {
  const { nLayers: L, nHeads: H, nDst } = layout;
  const layers: LayerPlan[] = [];
  for (let l = 0; l < L; l++) {
    const first = layout.firstSlot(l), p = layout.parentCount(first);
    // distinct q/k/v corrections: those with terms first (they take the product), then S-only ones
    const withTerms: Correction[] = [], sOnly: Correction[] = [];
    const keys = new Map<string, { c: Correction; id: number }>();
    const ids = new Int32Array(3 * H).fill(-1);
    for (let i = 0; i < 3 * H; i++) {
      const c = correction(column(missing, nDst, first + i, p));
      if (!c) continue;
      const k = keyOf(c);
      let hit = keys.get(k);
      if (!hit) {
        const list = c.signs ? withTerms : sOnly;
        hit = { c, id: (c.signs ? 0 : 1 << 20) + list.length };
        list.push(c);
        keys.set(k, hit);
      }
      ids[i] = hit.id;
    }
    // the MLP: its share over the sources before the layer's heads, then the layer's heads directly
    const v = layout.mlpSlot(l), pm = layout.parentCount(v);
    const col = column(missing, nDst, v, pm);
    const share = correction(col.subarray(0, p));
    const mlpHeads: number[] = [];
    for (let u = p; u < pm; u++) if (col[u]) mlpHeads.push(u);
    const mlpStash = !!share?.signs;
    const rows = [...withTerms.map((c) => c.signs!), ...(mlpStash ? [share!.signs!] : [])];
    const nT = withTerms.length + (mlpStash ? 1 : 0);
    const of = ids.some((x) => x >= 0) ? ids.map((x) => (x < 0 ? -1 : x >= 1 << 20 ? nT + x - (1 << 20) : x)) : null;
    layers.push({
      base: [...withTerms.map((c) => c.base), ...(mlpStash ? [share!.base] : []), ...sOnly.map(() => true)],
      terms: stack(rows),
      mlpStash,
      count: nT + sOnly.length,
      of,
      mlp: share !== null || mlpHeads.length > 0,
      mlpBase: share?.base ?? false,
      mlpHeads: mlpHeads.length ? stack([Float32Array.from({ length: pm }, (_, u) => (mlpHeads.includes(u) ? 1 : 0))]) : null,
    });
  }
  const lc = correction(column(missing, nDst, layout.logitsSlot, layout.nSrc));
  return { layers, logits: lc ? { base: lc.base, terms: lc.signs ? stack([lc.signs]) : null } : null };
}

/** Whether a plan patches nothing (every edge in: the run is the plain forward pass). */
export function patchesNothing(plan: PatchPlan): boolean {
  return !plan.logits && plan.layers.every((l) => !l.of && !l.mlp);
}

/**
 * [rows, D] buffers a patched run holds beside one layer's own activations (memory-plan.ts): the intervention's
 * cache and the running differences (nSrc each), S, in the widest layer its distinct inputs with their norms, the
 * stream's norm and the MLP's patched input, and a shared clean prefix's attention inputs (q, k and v of every
 * layer, H·d_head ≤ 4/3·D in the supported families).
 */
export function patchBuffers(layout: GraphLayout, plans: readonly PatchPlan[]): number {
  let widest = 0;
  for (const p of plans) for (const l of p.layers) widest = Math.max(widest, l.count);
  return 2 * layout.nSrc + 1 + 2 * widest + 2 + 4 * layout.nLayers;
}
