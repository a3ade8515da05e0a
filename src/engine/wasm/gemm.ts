// Single-precision GEMM, BLIS style: op(B) is packed into KC×NR strips and op(A) into MC×KC blocks of MR-row
// strips in the thread's scratch area; a 4×8 register-blocked micro-kernel (8 v128 accumulators) runs over them.
// Measured on V8 x64: 4×8 reaches ~93% of the FMA peak, while 5×8, 6×8 and 4×12 spill and fall to <50%.
// Threads own disjoint tiles of C and every C
// element is reduced in the same order (KC blocks in turn), so results do not depend on the thread count.
import { scratch, partStart, fma } from "./common";

const MR: i32 = 4;
const NR: i32 = 8;
const KC: i32 = 256;
const MC: i32 = 192;
const NC: i32 = 768;
// scratch layout: packed B (KC·NC floats), packed A (MC·KC floats), one MR×NR edge tile
const PACKB_OFF: usize = 0;
const PACKA_OFF: usize = <usize>(KC * NC * 4);
const TILE_OFF: usize = PACKA_OFF + <usize>(MC * KC * 4);

// write-back modes of the micro-kernel
const WB_SET: i32 = 0; // C = alpha·acc (first K block, beta = 0: old C ignored, even NaN)
const WB_BETA: i32 = 1; // C = alpha·acc + beta·C (first K block)
const WB_ADD: i32 = 2; // C = C + alpha·acc (later K blocks)

@inline function wb(p: usize, acc: v128, va: v128, vb: v128, mode: i32): void {
  let r = f32x4.mul(acc, va);
  if (mode == WB_BETA) r = f32x4.add(r, f32x4.mul(v128.load(p), vb));
  else if (mode == WB_ADD) r = f32x4.add(v128.load(p), r);
  v128.store(p, r);
}

/** C[4×8] at `c` (row stride ldcb bytes) ⟵ packed A strip `pa` (kc×4) times packed B strip `pb` (kc×8). */
function micro(kc: i32, pa: usize, pb: usize, c: usize, ldcb: usize, va: v128, vb: v128, mode: i32): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  const end = pb + <usize>kc * 32;
  while (pb < end) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = fma(a, b0, c00); c01 = fma(a, b1, c01);
    a = v128.load32_splat(pa, 4);
    c10 = fma(a, b0, c10); c11 = fma(a, b1, c11);
    a = v128.load32_splat(pa, 8);
    c20 = fma(a, b0, c20); c21 = fma(a, b1, c21);
    a = v128.load32_splat(pa, 12);
    c30 = fma(a, b0, c30); c31 = fma(a, b1, c31);
    pa += 16;
    pb += 32;
  }
  wb(c, c00, va, vb, mode); wb(c + 16, c01, va, vb, mode);
  c += ldcb;
  wb(c, c10, va, vb, mode); wb(c + 16, c11, va, vb, mode);
  c += ldcb;
  wb(c, c20, va, vb, mode); wb(c + 16, c21, va, vb, mode);
  c += ldcb;
  wb(c, c30, va, vb, mode); wb(c + 16, c31, va, vb, mode);
}

/** 4×4 transpose: returns row q of the transpose of rows r0..r3 (q = 0..3 via the shuffles below). */
@inline function tr01(r0: v128, r1: v128): v128 { return v128.shuffle<f32>(r0, r1, 0, 4, 1, 5); }
@inline function tr23(r0: v128, r1: v128): v128 { return v128.shuffle<f32>(r0, r1, 2, 6, 3, 7); }
@inline function lo(t0: v128, t2: v128): v128 { return v128.shuffle<f32>(t0, t2, 0, 1, 4, 5); }
@inline function hi(t0: v128, t2: v128): v128 { return v128.shuffle<f32>(t0, t2, 2, 3, 6, 7); }

/** Stores the transpose of the 4×4 block with rows at p, p+ld, p+2ld, p+3ld (bytes) to dst + q·dstride. */
@inline function transpose4(p: usize, ldb: usize, dst: usize, dstride: usize): void {
  const r0 = v128.load(p), r1 = v128.load(p + ldb), r2 = v128.load(p + 2 * ldb), r3 = v128.load(p + 3 * ldb);
  const t0 = tr01(r0, r1), t1 = tr23(r0, r1), t2 = tr01(r2, r3), t3 = tr23(r2, r3);
  v128.store(dst, lo(t0, t2));
  v128.store(dst + dstride, hi(t0, t2));
  v128.store(dst + 2 * dstride, lo(t1, t3));
  v128.store(dst + 3 * dstride, hi(t1, t3));
}

/** Packs op(A)[i0..i0+mc, k0..k0+kc] into MR-row strips (k-major within a strip), zero-padding the last strip. */
function packA(tA: bool, a: usize, lda: i32, i0: i32, mc: i32, k0: i32, kc: i32, dst: usize): void {
  const ldb = <usize>lda * 4;
  for (let s = 0; s < mc; s += MR) {
    const rows = min(MR, mc - s);
    const d = dst + <usize>s * kc * 4;
    if (!tA) {
      // A is M×K: element (i, k) at a[i·lda + k]
      const src = a + (<usize>(i0 + s) * lda + k0) * 4;
      let k = 0;
      if (rows == MR) {
        for (; k + 4 <= kc; k += 4) transpose4(src + <usize>k * 4, ldb, d + <usize>k * 16, 16);
      }
      for (; k < kc; k++) {
        for (let r = 0; r < MR; r++) {
          store<f32>(d + <usize>(k * MR + r) * 4, r < rows ? load<f32>(src + <usize>r * ldb + <usize>k * 4) : 0);
        }
      }
    } else {
      // A is K×M: element (i, k) at a[k·lda + i]
      const src = a + (<usize>k0 * lda + i0 + s) * 4;
      if (rows == MR) {
        for (let k = 0; k < kc; k++) v128.store(d + <usize>k * 16, v128.load(src + <usize>k * ldb));
      } else {
        for (let k = 0; k < kc; k++) {
          for (let r = 0; r < MR; r++) {
            store<f32>(d + <usize>(k * MR + r) * 4, r < rows ? load<f32>(src + <usize>k * ldb + <usize>r * 4) : 0);
          }
        }
      }
    }
  }
}

/** Packs op(B)[k0..k0+kc, j0..j0+nc] into NR-column strips (k-major within a strip), zero-padding the last one. */
function packB(tB: bool, b: usize, ldb: i32, k0: i32, kc: i32, j0: i32, nc: i32, dst: usize): void {
  const ldbb = <usize>ldb * 4;
  for (let t = 0; t < nc; t += NR) {
    const cols = min(NR, nc - t);
    const d = dst + <usize>t * kc * 4;
    if (!tB) {
      // B is K×N: element (k, j) at b[k·ldb + j]
      const src = b + (<usize>k0 * ldb + j0 + t) * 4;
      if (cols == NR) {
        for (let k = 0; k < kc; k++) {
          const s = src + <usize>k * ldbb;
          const o = d + <usize>k * 32;
          v128.store(o, v128.load(s));
          v128.store(o, v128.load(s, 16), 16);
        }
      } else {
        for (let k = 0; k < kc; k++) {
          for (let j = 0; j < NR; j++) {
            store<f32>(d + <usize>(k * NR + j) * 4, j < cols ? load<f32>(src + <usize>k * ldbb + <usize>j * 4) : 0);
          }
        }
      }
    } else {
      // B is N×K: element (k, j) at b[j·ldb + k]
      const src = b + (<usize>(j0 + t) * ldb + k0) * 4;
      let k = 0;
      if (cols == NR) {
        for (; k + 4 <= kc; k += 4) {
          for (let g = 0; g < NR; g += 4) {
            transpose4(src + <usize>g * ldbb + <usize>k * 4, ldbb, d + <usize>(k * NR + g) * 4, 32);
          }
        }
      }
      for (; k < kc; k++) {
        for (let j = 0; j < NR; j++) {
          store<f32>(d + <usize>(k * NR + j) * 4, j < cols ? load<f32>(src + <usize>j * ldbb + <usize>k * 4) : 0);
        }
      }
    }
  }
}

/** Computes the C block rows [i0, i1) × columns [j0, j1) of one GEMM using scratch area `sc`. */
function region(
  tA: bool, tB: bool, K: i32, alpha: f32, a: usize, lda: i32, b: usize, ldb: i32,
  beta: f32, c: usize, ldc: i32, i0: i32, i1: i32, j0: i32, j1: i32, sc: usize,
): void {
  if (i0 >= i1 || j0 >= j1) return;
  const ldcb = <usize>ldc * 4;
  if (K == 0) {
    for (let i = i0; i < i1; i++) {
      for (let j = j0; j < j1; j++) {
        const p = c + <usize>i * ldcb + <usize>j * 4;
        store<f32>(p, beta == 0 ? 0 : beta * load<f32>(p));
      }
    }
    return;
  }
  const va = f32x4.splat(alpha), vb = f32x4.splat(beta);
  const pb = sc + PACKB_OFF, pa = sc + PACKA_OFF, tile = sc + TILE_OFF;
  for (let jc = j0; jc < j1; jc += NC) {
    const nc = min(NC, j1 - jc);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = min(KC, K - pc);
      const mode = pc > 0 ? WB_ADD : beta == 0 ? WB_SET : WB_BETA;
      packB(tB, b, ldb, pc, kc, jc, nc, pb);
      for (let ic = i0; ic < i1; ic += MC) {
        const mc = min(MC, i1 - ic);
        packA(tA, a, lda, ic, mc, pc, kc, pa);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = min(NR, nc - jr);
          const bs = pb + <usize>jr * kc * 4;
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = min(MR, mc - ir);
            const cp = c + <usize>(ic + ir) * ldcb + <usize>(jc + jr) * 4;
            const as = pa + <usize>ir * kc * 4;
            if (mr == MR && nr == NR) {
              micro(kc, as, bs, cp, ldcb, va, vb, mode);
            } else {
              // edge tile: same arithmetic on a copy, so an element's bits never depend on the tiling
              for (let r = 0; r < mr; r++) memory.copy(tile + <usize>r * 32, cp + <usize>r * ldcb, <usize>nr * 4);
              micro(kc, as, bs, tile, 32, va, vb, mode);
              for (let r = 0; r < mr; r++) memory.copy(cp + <usize>r * ldcb, tile + <usize>r * 32, <usize>nr * 4);
            }
          }
        }
      }
    }
  }
}

/** Share `tid` of `nth` of one GEMM (columns in NR units when N ≥ M, else rows in MR units), packing in `sc`. */
function gemmPart(
  tA: bool, tB: bool, M: i32, N: i32, K: i32, alpha: f32, a: usize, lda: i32, b: usize, ldb: i32,
  beta: f32, c: usize, ldc: i32, tid: i32, nth: i32, sc: usize,
): void {
  if (N >= M) {
    const j0 = partStart(N, NR, tid, nth), j1 = partStart(N, NR, tid + 1, nth);
    region(tA, tB, K, alpha, a, lda, b, ldb, beta, c, ldc, 0, M, j0, j1, sc);
  } else {
    const i0 = partStart(M, MR, tid, nth), i1 = partStart(M, MR, tid + 1, nth);
    region(tA, tB, K, alpha, a, lda, b, ldb, beta, c, ldc, i0, i1, 0, N, sc);
  }
}

/** C[M×N] = alpha·op(A)·op(B) + beta·C (see src/engine/kernels.ts); pointers are byte offsets. */
export function gemm(
  tA: bool, tB: bool, M: i32, N: i32, K: i32, alpha: f32, a: usize, lda: i32, b: usize, ldb: i32,
  beta: f32, c: usize, ldc: i32, tid: i32, nth: i32,
): void {
  gemmPart(tA, tB, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc, tid, nth, scratch(tid));
}

/** `batch` GEMMs with element strides sA, sB, sC: whole matrices per thread when the batch divides well, else tiles of each. */
export function gemmBatched(
  tA: bool, tB: bool, M: i32, N: i32, K: i32, alpha: f32, a: usize, lda: i32, sA: i32, b: usize, ldb: i32, sB: i32,
  beta: f32, c: usize, ldc: i32, sC: i32, batch: i32, tid: i32, nth: i32,
): void {
  if (batch % nth == 0 || batch >= 4 * nth) {
    const b0 = partStart(batch, 1, tid, nth), b1 = partStart(batch, 1, tid + 1, nth);
    for (let i = b0; i < b1; i++) {
      gemmPart(tA, tB, M, N, K, alpha, a + <usize>i * sA * 4, lda, b + <usize>i * sB * 4, ldb, beta,
        c + <usize>i * sC * 4, ldc, 0, 1, scratch(tid));
    }
  } else {
    for (let i = 0; i < batch; i++) {
      gemmPart(tA, tB, M, N, K, alpha, a + <usize>i * sA * 4, lda, b + <usize>i * sB * 4, ldb, beta,
        c + <usize>i * sC * 4, ldc, tid, nth, scratch(tid));
    }
  }
}

/**
 * Peak-FLOP probe: `iterations` rounds of 12 independent 4-wide multiply-add chains held in registers
 * (96 flop per round). Returns a value derived from all chains so nothing is optimised away.
 */
export function peak_fma(iterations: i32): f32 {
  const m = f32x4.splat(0.999999), d = f32x4.splat(1e-7);
  let a0 = f32x4.splat(1), a1 = f32x4.splat(2), a2 = f32x4.splat(3), a3 = f32x4.splat(4);
  let a4 = f32x4.splat(5), a5 = f32x4.splat(6), a6 = f32x4.splat(7), a7 = f32x4.splat(8);
  let a8 = f32x4.splat(9), a9 = f32x4.splat(10), a10 = f32x4.splat(11), a11 = f32x4.splat(12);
  for (let i = 0; i < iterations; i++) {
    a0 = fma(a0, m, d); a1 = fma(a1, m, d); a2 = fma(a2, m, d); a3 = fma(a3, m, d);
    a4 = fma(a4, m, d); a5 = fma(a5, m, d); a6 = fma(a6, m, d); a7 = fma(a7, m, d);
    a8 = fma(a8, m, d); a9 = fma(a9, m, d); a10 = fma(a10, m, d); a11 = fma(a11, m, d);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  return f32x4.extract_lane(f32x4.add(s, f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11))), 0);
}

