// Causal self-attention and its gradient. Threads take whole (batch, head) pairs, so each pair's
// reductions run in one fixed order. Only the lower triangle (j ≤ i) is computed.
//
// Fast path: per pair, the head's K and V are copied into the thread's scratch (zero-padded to multiples
// of 8, Kᵀ/Vᵀ transposed where a product needs them), and every product runs through one 4×8
// register-blocked micro-kernel (`mk`, the gemm micro-kernel shape) that sums over its inner index in order.
// Shapes too large for the 1 MiB scratch fall back to the plain row-by-row loops at the end of this file.
import { partStart, scratch, fma, hsum, SCRATCH_BYTES } from "./common";
import { softmaxInPlace } from "./rows";

/** Rows of queries per block in the backward pass (the inner length of the dK, dV updates). */
const RB: i32 = 16;

/**
 * out[r][c] (+)= alpha · Σ_{t<n} A(r,t)·B[t][c] for r < 4, c < 8, summed over t in order; A(r,t) is the f32
 * at a + r·ars + t·acs, row t of B starts at b + t·ldb, row r of out at out + r·ldo (all in bytes).
 */
function mk(a: usize, ars: usize, acs: usize, b: usize, ldb: usize, n: i32, out: usize, ldo: usize, alpha: f32, add: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  const a1 = a + ars, a2 = a1 + ars, a3 = a2 + ars;
  for (let t: usize = 0; t < <usize>n; t++) {
    const pb = b + t * ldb, o = t * acs;
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let x = v128.load32_splat(a + o);
    c00 = fma(x, b0, c00); c01 = fma(x, b1, c01);
    x = v128.load32_splat(a1 + o);
    c10 = fma(x, b0, c10); c11 = fma(x, b1, c11);
    x = v128.load32_splat(a2 + o);
    c20 = fma(x, b0, c20); c21 = fma(x, b1, c21);
    x = v128.load32_splat(a3 + o);
    c30 = fma(x, b0, c30); c31 = fma(x, b1, c31);
  }
  // alpha = 1 skips the (exact) multiplication
  const va = f32x4.splat(alpha), scaled = alpha != 1;
  put(out, c00, c01, va, add, scaled); out += ldo;
  put(out, c10, c11, va, add, scaled); out += ldo;
  put(out, c20, c21, va, add, scaled); out += ldo;
  put(out, c30, c31, va, add, scaled);
}

@inline function put(p: usize, x0: v128, x1: v128, va: v128, add: bool, scaled: bool): void {
  if (scaled) { x0 = f32x4.mul(x0, va); x1 = f32x4.mul(x1, va); }
  if (add) { x0 = f32x4.add(v128.load(p), x0); x1 = f32x4.add(v128.load(p, 16), x1); }
  v128.store(p, x0); v128.store(p, x1, 16);
}

/** 4×8 block product into dst (row stride ldd bytes), of which only rows < mr and columns < nc are written. */
@inline function mkEdge(
  a: usize, ars: usize, acs: usize, b: usize, ldb: usize, n: i32, dst: usize, ldd: usize, mr: i32, nc: i32, tile: usize,
): void {
  if (mr == 4 && nc == 8) { mk(a, ars, acs, b, ldb, n, dst, ldd, 1, false); return; }
  mk(a, ars, acs, b, ldb, n, tile, 32, 1, false);
  for (let r = 0; r < mr; r++) copyF(dst + <usize>r * ldd, tile + <usize>r * 32, nc);
}

/** dst[0..n) = src[0..n) (floats). Short copies inline: V8 runs memory.copy/fill as out-of-line calls. */
@inline function copyF(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + <usize>i * 4, v128.load(src + <usize>i * 4));
  for (; i < n; i++) store<f32>(dst + <usize>i * 4, load<f32>(src + <usize>i * 4));
}

/** dst[0..n) = 0 (floats). */
@inline function zeroF(dst: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + <usize>i * 4, f32x4.splat(0));
  for (; i < n; i++) store<f32>(dst + <usize>i * 4, 0);
}

/** dst[0..n) = src[0..n), then zeros up to `pad` floats. */
@inline function copyPad(dst: usize, src: usize, n: i32, pad: i32): void {
  copyF(dst, src, n);
  if (pad > n) zeroF(dst + <usize>n * 4, pad - n);
}

/** dst[d·ld + j] = src[j·srow + d] for j < P, d < dh (a head's K or V, transposed), zeros for P ≤ j < P8. */
function transposeHead(dst: usize, ld: i32, src: usize, srow: usize, P: i32, P8: i32, dh: i32): void {
  for (let j = 0; j < P; j++) {
    const s = src + <usize>j * srow;
    for (let d = 0; d < dh; d++) store<f32>(dst + (<usize>d * ld + j) * 4, load<f32>(s + <usize>d * 4));
  }
  if (P8 > P) for (let d = 0; d < dh; d++) zeroF(dst + (<usize>d * ld + P) * 4, P8 - P);
}

/** Rows [0, n) of a head (row stride srow bytes) into dst as rows of d8 floats (zero-padded), zero rows up to rows. */
function copyRows(dst: usize, src: usize, srow: usize, n: i32, rows: i32, dh: i32, d8: i32): void {
  for (let r = 0; r < n; r++) copyPad(dst + <usize>r * d8 * 4, src + <usize>r * srow, dh, d8);
  if (rows > n) zeroF(dst + <usize>n * d8 * 4, (rows - n) * d8);
}

@inline function roundUp(n: i32, m: i32): i32 {
  return (n + m - 1) / m * m;
}

/** See Kernels.attention in src/engine/kernels.ts. */
export function attention(
  qkv: usize, z: usize, probs: usize, B: i32, P: i32, H: i32, dh: i32, scale: f32, tid: i32, nth: i32,
): void {
  const P8 = roundUp(P, 8), d8 = roundUp(dh, 8);
  // scratch: Kᵀ [dh][P8], V [P8][d8], 4 query rows [4][dh], 4 score rows [4][P8], an edge tile [4][8]
  const kt = scratch(tid), vs = kt + <usize>dh * P8 * 4, qb = vs + <usize>P8 * d8 * 4;
  const sb = qb + <usize>4 * dh * 4, tile = sb + <usize>4 * P8 * 4;
  if (tile + 128 > scratch(tid) + SCRATCH_BYTES) {
    attentionPlain(qkv, z, probs, B, P, H, dh, scale, tid, nth);
    return;
  }
  const pairs = B * H;
  const p0 = partStart(pairs, 1, tid, nth), p1 = partStart(pairs, 1, tid + 1, nth);
  const HD = H * dh;
  const qkvRow = <usize>(3 * HD) * 4, zRow = <usize>HD * 4, sRow = <usize>P8 * 4;
  for (let pair = p0; pair < p1; pair++) {
    const b = pair / H, h = pair % H;
    const q = qkv + <usize>b * P * qkvRow + <usize>(h * dh) * 4;
    const k = q + <usize>HD * 4, v = q + <usize>(2 * HD) * 4;
    const zb = z + <usize>b * P * zRow + <usize>(h * dh) * 4;
    const pb = probs + <usize>pair * P * P * 4;
    transposeHead(kt, P8, k, qkvRow, P, P8, dh);
    copyRows(vs, v, qkvRow, P, P8, dh, d8);
    for (let i0 = 0; i0 < P; i0 += 4) {
      const mr = min(4, P - i0), last = i0 + mr - 1;
      // query rows beyond P are zeros: their results are computed but never stored
      for (let r = 0; r < 4; r++) {
        if (r < mr) copyF(qb + <usize>r * dh * 4, q + <usize>(i0 + r) * qkvRow, dh);
        else zeroF(qb + <usize>r * dh * 4, dh);
      }
      // scores (·scale) for keys 0..last, 8 at a time
      for (let j0 = 0; j0 <= last; j0 += 8) mk(qb, <usize>dh * 4, 4, kt + <usize>j0 * 4, sRow, dh, sb + <usize>j0 * 4, sRow, scale, false);
      for (let r = 0; r < mr; r++) {
        const i = i0 + r, s = sb + <usize>r * sRow;
        softmaxInPlace(s, i + 1);
        // the future keys of row i (up to `last`) weigh 0 in z = P·V below
        if (i < last) zeroF(s + <usize>(i + 1) * 4, last - i);
        copyPad(pb + <usize>i * P * 4, s, i + 1, P);
      }
      // z rows i0..last = P·V over keys 0..last
      const zi = zb + <usize>i0 * zRow;
      for (let c0 = 0; c0 < dh; c0 += 8) {
        mkEdge(sb, sRow, 4, vs + <usize>c0 * 4, <usize>d8 * 4, last + 1, zi + <usize>c0 * 4, zRow, mr, min(8, dh - c0), tile);
      }
    }
  }
}

/**
 * Gradient of `attention`: with p = probs, dP = dz·vᵀ, dS = p·(dP − Σ_j p·dP) per row:
 * dq = scale·dS·k, dk = scale·dSᵀ·q, dv = pᵀ·dz. dqkv is overwritten.
 * Query rows go in blocks of RB; dk and dv of the pair accumulate in scratch over the blocks, in block order.
 */
export function attentionBackward(
  dz: usize, qkv: usize, probs: usize, dqkv: usize, B: i32, P: i32, H: i32, dh: i32, scale: f32, tid: i32, nth: i32,
): void {
  const P8 = roundUp(P, 8), d8 = roundUp(dh, 8);
  // scratch: Vᵀ [dh][P8]; K, dK, dV [P8][d8]; dS and masked p of a row block [RB][P8]; q and dz of the block [RB][d8]; tile
  const vt = scratch(tid), ks = vt + <usize>dh * P8 * 4, dks = ks + <usize>P8 * d8 * 4, dvs = dks + <usize>P8 * d8 * 4;
  const sb = dvs + <usize>P8 * d8 * 4, pbk = sb + <usize>RB * P8 * 4, qb = pbk + <usize>RB * P8 * 4;
  const zbk = qb + <usize>RB * d8 * 4, tile = zbk + <usize>RB * d8 * 4;
  if (tile + 128 > scratch(tid) + SCRATCH_BYTES) {
    attentionBackwardPlain(dz, qkv, probs, dqkv, B, P, H, dh, scale, tid, nth);
    return;
  }
  const pairs = B * H;
  const p0 = partStart(pairs, 1, tid, nth), p1 = partStart(pairs, 1, tid + 1, nth);
  const HD = H * dh;
  const qkvRow = <usize>(3 * HD) * 4, zRow = <usize>HD * 4, sRow = <usize>P8 * 4, dRow = <usize>d8 * 4;
  for (let pair = p0; pair < p1; pair++) {
    const b = pair / H, h = pair % H;
    const off = <usize>b * P * qkvRow + <usize>(h * dh) * 4;
    const q = qkv + off, k = q + <usize>HD * 4, v = q + <usize>(2 * HD) * 4;
    const dq = dqkv + off, dk = dq + <usize>HD * 4, dv = dq + <usize>(2 * HD) * 4;
    const dzb = dz + <usize>b * P * zRow + <usize>(h * dh) * 4;
    const pp = probs + <usize>pair * P * P * 4;
    transposeHead(vt, P8, v, qkvRow, P, P8, dh);
    copyRows(ks, k, qkvRow, P, P8, dh, d8);
    memory.fill(dks, 0, <usize>P8 * d8 * 8); // dK and dV, adjacent
    for (let i0 = 0; i0 < P; i0 += RB) {
      const n = min(RB, P - i0), last = i0 + n - 1;
      const jEnd = roundUp(last + 1, 4); // keys 0..jEnd-1 are read below (dK, dV in groups of 4)
      copyRows(qb, q + <usize>i0 * qkvRow, qkvRow, n, RB, dh, d8);
      copyRows(zbk, dzb + <usize>i0 * zRow, zRow, n, RB, dh, d8);
      // dP = dz·vᵀ for rows i0..last, keys up to each 4-row group's last row
      for (let r0 = 0; r0 < n; r0 += 4) {
        const gl = min(i0 + r0 + 3, last);
        for (let j0 = 0; j0 <= gl; j0 += 8) mk(zbk + <usize>r0 * dRow, dRow, 4, vt + <usize>j0 * 4, sRow, dh, sb + <usize>r0 * sRow + <usize>j0 * 4, sRow, 1, false);
      }
      // dS = p·(dP − Σ p·dP)·scale; both dS and p are zero for the future keys i < j < jEnd
      for (let r = 0; r < n; r++) {
        const i = i0 + r, s = sb + <usize>r * sRow, pr = pbk + <usize>r * sRow, prow = pp + <usize>i * P * 4;
        copyF(pr, prow, i + 1);
        const rd = dot(pr, s, i + 1);
        const vrd = f32x4.splat(rd), vsc = f32x4.splat(scale);
        let j = 0;
        for (; j + 4 <= i + 1; j += 4) {
          const o = <usize>j * 4;
          v128.store(s + o, f32x4.mul(f32x4.mul(v128.load(pr + o), f32x4.sub(v128.load(s + o), vrd)), vsc));
        }
        for (; j <= i; j++) {
          const o = <usize>j * 4;
          store<f32>(s + o, load<f32>(pr + o) * (load<f32>(s + o) - rd) * scale);
        }
        if (i + 1 < jEnd) {
          zeroF(s + <usize>(i + 1) * 4, jEnd - i - 1);
          zeroF(pr + <usize>(i + 1) * 4, jEnd - i - 1);
        }
      }
      // dq rows = dS·k over keys 0..(group's last row)
      for (let r0 = 0; r0 < n; r0 += 4) {
        const mr = min(4, n - r0), gl = i0 + r0 + mr - 1;
        const dqi = dq + <usize>(i0 + r0) * qkvRow;
        for (let c0 = 0; c0 < dh; c0 += 8) {
          mkEdge(sb + <usize>r0 * sRow, sRow, 4, ks + <usize>c0 * 4, dRow, gl + 1, dqi + <usize>c0 * 4, qkvRow, mr, min(8, dh - c0), tile);
        }
      }
      // dk[j] += Σ_i dS[i][j]·q_i, dv[j] += Σ_i p[i][j]·dz_i over the block's rows i ≥ j0 (earlier rows have j > i)
      for (let j0 = 0; j0 < jEnd; j0 += 4) {
        const t0 = max(0, j0 - i0), cnt = n - t0;
        const so = <usize>t0 * sRow + <usize>j0 * 4, ro = <usize>t0 * dRow, jo = <usize>j0 * dRow;
        for (let c0 = 0; c0 < d8; c0 += 8) {
          const co = <usize>c0 * 4;
          mk(sb + so, 4, sRow, qb + ro + co, dRow, cnt, dks + jo + co, dRow, 1, true);
          mk(pbk + so, 4, sRow, zbk + ro + co, dRow, cnt, dvs + jo + co, dRow, 1, true);
        }
      }
    }
    for (let j = 0; j < P; j++) {
      copyF(dk + <usize>j * qkvRow, dks + <usize>j * dRow, dh);
      copyF(dv + <usize>j * qkvRow, dvs + <usize>j * dRow, dh);
    }
  }
}

/** Σ a[i]·b[i], i < n. */
@inline function dot(a: usize, b: usize, n: i32): f32 {
  let s = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) s = fma(v128.load(a + <usize>i * 4), v128.load(b + <usize>i * 4), s);
  let t = hsum(s);
  for (; i < n; i++) t += load<f32>(a + <usize>i * 4) * load<f32>(b + <usize>i * 4);
  return t;
}

/** y[i] += alpha·x[i], i < n. */
@inline function axpyRow(alpha: f32, x: usize, y: usize, n: i32): void {
  const va = f32x4.splat(alpha);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(y + <usize>i * 4, fma(va, v128.load(x + <usize>i * 4), v128.load(y + <usize>i * 4)));
  for (; i < n; i++) store<f32>(y + <usize>i * 4, load<f32>(y + <usize>i * 4) + alpha * load<f32>(x + <usize>i * 4));
}

/** The row-by-row form of `attention`. */
function attentionPlain(
  qkv: usize, z: usize, probs: usize, B: i32, P: i32, H: i32, dh: i32, scale: f32, tid: i32, nth: i32,
): void {
  const pairs = B * H;
  const p0 = partStart(pairs, 1, tid, nth), p1 = partStart(pairs, 1, tid + 1, nth);
  const HD = H * dh;
  const qkvRow = <usize>(3 * HD) * 4, zRow = <usize>HD * 4, dhb = <usize>dh * 4;
  for (let pair = p0; pair < p1; pair++) {
    const b = pair / H, h = pair % H;
    const q = qkv + <usize>b * P * qkvRow + <usize>(h * dh) * 4;
    const k = q + <usize>HD * 4, v = q + <usize>(2 * HD) * 4;
    const zb = z + <usize>b * P * zRow + <usize>(h * dh) * 4;
    const pb = probs + <usize>pair * P * P * 4;
    for (let i = 0; i < P; i++) {
      const qi = q + <usize>i * qkvRow;
      const prow = pb + <usize>i * P * 4;
      for (let j = 0; j <= i; j++) store<f32>(prow + <usize>j * 4, dot(qi, k + <usize>j * qkvRow, dh) * scale);
      softmaxInPlace(prow, i + 1);
      if (i + 1 < P) memory.fill(prow + <usize>(i + 1) * 4, 0, <usize>(P - i - 1) * 4);
      const zi = zb + <usize>i * zRow;
      memory.fill(zi, 0, dhb);
      for (let j = 0; j <= i; j++) axpyRow(load<f32>(prow + <usize>j * 4), v + <usize>j * qkvRow, zi, dh);
    }
  }
}

/** The row-by-row form of `attentionBackward`. */
function attentionBackwardPlain(
  dz: usize, qkv: usize, probs: usize, dqkv: usize, B: i32, P: i32, H: i32, dh: i32, scale: f32, tid: i32, nth: i32,
): void {
  const pairs = B * H;
  const p0 = partStart(pairs, 1, tid, nth), p1 = partStart(pairs, 1, tid + 1, nth);
  const HD = H * dh;
  const qkvRow = <usize>(3 * HD) * 4, zRow = <usize>HD * 4, dhb = <usize>dh * 4;
  const ds = scratch(tid); // one row of dS (P floats)
  for (let pair = p0; pair < p1; pair++) {
    const b = pair / H, h = pair % H;
    const off = <usize>b * P * qkvRow + <usize>(h * dh) * 4;
    const q = qkv + off, k = q + <usize>HD * 4, v = q + <usize>(2 * HD) * 4;
    const dq = dqkv + off, dk = dq + <usize>HD * 4, dv = dq + <usize>(2 * HD) * 4;
    const dzb = dz + <usize>b * P * zRow + <usize>(h * dh) * 4;
    const pb = probs + <usize>pair * P * P * 4;
    for (let j = 0; j < P; j++) {
      memory.fill(dk + <usize>j * qkvRow, 0, dhb);
      memory.fill(dv + <usize>j * qkvRow, 0, dhb);
    }
    for (let i = 0; i < P; i++) {
      const dzi = dzb + <usize>i * zRow, prow = pb + <usize>i * P * 4, qi = q + <usize>i * qkvRow;
      let rd: f32 = 0;
      for (let j = 0; j <= i; j++) {
        const d = dot(dzi, v + <usize>j * qkvRow, dh);
        store<f32>(ds + <usize>j * 4, d);
        rd += load<f32>(prow + <usize>j * 4) * d;
      }
      const dqi = dq + <usize>i * qkvRow;
      memory.fill(dqi, 0, dhb);
      for (let j = 0; j <= i; j++) {
        const pj = load<f32>(prow + <usize>j * 4);
        const s = pj * (load<f32>(ds + <usize>j * 4) - rd) * scale;
        axpyRow(s, k + <usize>j * qkvRow, dqi, dh);
        axpyRow(s, qi, dk + <usize>j * qkvRow, dh);
        axpyRow(pj, dzi, dv + <usize>j * qkvRow, dh);
      }
    }
  }
}
