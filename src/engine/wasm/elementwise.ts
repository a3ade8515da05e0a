// Elementwise kernels (gelu, the MLP activations, add, …), row-vector and row-gather kernels. Ranges are split
// in 16-element units from index 0, so every element takes the same (SIMD or tail) path whatever the thread count.
// Tails reuse the vector code on a splatted lane, so they round exactly like the SIMD body.
import { partStart, fma, kc, vexp } from "./common";

const UNIT: i32 = 16;

// gelu_new(x) = 0.5·x·(1 + tanh(u)) = x·σ(w), w = 2u = 2c·(x + a·x³), c = √(2/π), a = 0.044715.
// With e = exp(−|w|) ∈ [0, 1] and r = 1/(1 + e): σ(w) = r for w ≥ 0 and e·r for w < 0 (no overflow, no
// cancellation), and σ'(w) = σ(1 − σ) = e·r² for both signs, so gelu' = σ + x·e·r²·w', w' = 2c(1 + 3a·x²).
// x is clamped to ±16 inside σ: there |w| > 318, e is exactly 0 (exp below −87.3 is 0), so σ is exactly 0 or 1,
// gelu is exactly x or −0 and gelu' exactly 1 or 0 for |x| ≥ 16, ±inf included, with no inf·0 NaN; NaN stays NaN.
// e = exp(−|w|) is common.ts vexp (exactly 0 below −87.3). Constants as a table (splat loads, see common.ts vexp):
//   0 −16, 1 16, 2 2c, 3 2c·a, 4 2c·3a, 5 −0.0 (sign bit), 6 1, 7 0
const GK = memory.data<f32>([-16.0, 16.0, 1.5957691216057308, 0.07135481627159562, 0.21406444881478685, -0.0, 1.0, 0.0]);
@inline function g(i: i32): v128 {
  return kc(GK, i);
}

/** w = 2u(xc) and xc·xc for xc = x clamped to ±16. */
@inline function gW(x: v128, xc: v128, x2: v128): v128 {
  return f32x4.mul(xc, fma(x2, g(3), g(2)));
}

@inline function clamp16(x: v128): v128 {
  return f32x4.pmin(f32x4.pmax(x, g(0)), g(1));
}

/** gelu_new(x) = x·σ(w). */
@inline function geluV(x: v128): v128 {
  const xc = clamp16(x);
  const w = gW(x, xc, f32x4.mul(xc, xc));
  const e = vexp(v128.or(w, g(5)));
  const r = f32x4.div(g(6), f32x4.add(g(6), e));
  // numerator 1 for w ≥ 0, e for w < 0 (e ≤ 1)
  const num = f32x4.pmax(e, v128.and(f32x4.ge(w, g(7)), g(6)));
  return f32x4.mul(x, f32x4.mul(num, r));
}

// The second result of geluGradV and actGradV: a global, so per thread (each worker has its own instance).
let ACT: v128 = f32x4.splat(0);

/** gelu_new'(x) = σ(w) + x·σ'(w)·w' = num·r + xc·w'·(e·r·r); also sets ACT = gelu_new(x) (the bits of geluV). */
@inline function geluGradV(x: v128): v128 {
  const xc = clamp16(x);
  const x2 = f32x4.mul(xc, xc);
  const w = gW(x, xc, x2);
  const e = vexp(v128.or(w, g(5)));
  const r = f32x4.div(g(6), f32x4.add(g(6), e));
  const num = f32x4.pmax(e, v128.and(f32x4.ge(w, g(7)), g(6)));
  const s = f32x4.mul(num, r);
  ACT = f32x4.mul(x, s);
  const dw = fma(x2, g(4), g(2));
  return fma(f32x4.mul(xc, dw), f32x4.mul(f32x4.mul(e, r), r), s);
}

export function gelu(x: usize, y: usize, n: i32, tid: i32, nth: i32): void {
  const i0 = partStart(n, UNIT, tid, nth), i1 = partStart(n, UNIT, tid + 1, nth);
  let i = i0;
  // four independent vectors per step: the exp chain is long, interleaving hides its latency
  for (; i + 16 <= i1; i += 16) {
    const o = <usize>i * 4;
    const a = geluV(v128.load(x + o)), b = geluV(v128.load(x + o, 16));
    const c = geluV(v128.load(x + o, 32)), d = geluV(v128.load(x + o, 48));
    v128.store(y + o, a); v128.store(y + o, b, 16); v128.store(y + o, c, 32); v128.store(y + o, d, 48);
  }
  for (; i + 4 <= i1; i += 4) v128.store(y + <usize>i * 4, geluV(v128.load(x + <usize>i * 4)));
  for (; i < i1; i++) store<f32>(y + <usize>i * 4, f32x4.extract_lane(geluV(f32x4.splat(load<f32>(x + <usize>i * 4))), 0));
}

@inline function gradLoop(x: usize, dy: usize, dx: usize, i: i32, i1: i32, accumulate: bool): i32 {
  for (; i + 8 <= i1; i += 8) {
    const o = <usize>i * 4;
    let a = f32x4.mul(v128.load(dy + o), geluGradV(v128.load(x + o)));
    let b = f32x4.mul(v128.load(dy + o, 16), geluGradV(v128.load(x + o, 16)));
    if (accumulate) { a = f32x4.add(v128.load(dx + o), a); b = f32x4.add(v128.load(dx + o, 16), b); }
    v128.store(dx + o, a); v128.store(dx + o, b, 16);
  }
  for (; i + 4 <= i1; i += 4) {
    const o = <usize>i * 4;
    let a = f32x4.mul(v128.load(dy + o), geluGradV(v128.load(x + o)));
    if (accumulate) a = f32x4.add(v128.load(dx + o), a);
    v128.store(dx + o, a);
  }
  return i;
}

export function geluBackward(x: usize, dy: usize, dx: usize, n: i32, accumulate: bool, tid: i32, nth: i32): void {
  const i0 = partStart(n, UNIT, tid, nth), i1 = partStart(n, UNIT, tid + 1, nth);
  let i = accumulate ? gradLoop(x, dy, dx, i0, i1, true) : gradLoop(x, dy, dx, i0, i1, false);
  for (; i < i1; i++) {
    const o = <usize>i * 4;
    let g = load<f32>(dy + o) * f32x4.extract_lane(geluGradV(f32x4.splat(load<f32>(x + o))), 0);
    if (accumulate) g = load<f32>(dx + o) + g;
    store<f32>(dx + o, g);
  }
}

// ---- MLP activations (kernels.ts ActivationKind: 0 erf GELU, 1 tanh GELU, 2 SiLU, 3 ReLU), optionally gated
//
// erf(z) = z·P(z²)/Q(z²) for |z| ≤ 4 (P of degree 6, Q of degree 4, Q(0) = 1), the rational form of Eigen's and
// XLA's float erf with our own coefficients: a relative-error minimax fit on [0, 4] (equioscillating, 6.5e-8 in
// exact arithmetic; scripts/fit-erf.py derives them). Its float32 evaluation is within 6.1 ulp of erf (measured
// over [−6, 6]; test/kernels.test.ts asserts 8). erf(4) rounds to 1 in float32, so z is clamped to ±4, and the
// result to ±1 (rounding overshoots 1 by up to 4e-7 near 4).
// erf GELU = x·Φ, Φ = ½ + ½·erf(x/√2); its derivative Φ + x·φ(x) uses φ = e^{−x²/2}/√(2π) with x clamped to
// ±16 (φ is exactly 0 there) so that ±inf gives 1 or 0, not inf·0.
// SiLU = x·σ(x) with σ = num·r as gelu's σ(w) above (e = exp(−|x|), no overflow) and σ' = e·r²; x in the
// derivative's x·σ' term is clamped to ±88, where e is exactly 0.
// Table: 0 −4, 1 4, 2 √½, 3 ½, 4 −½, 5 1/√(2π), 6 −1, 7–13 P₀…P₆, 14–17 Q₁…Q₄, 18 −88, 19 88
const AK = memory.data<f32>([
  -4.0, 4.0, 0.7071067811865476, 0.5, -0.5, 0.3989422804014327, -1.0,
  1.1283791065216064, 0.20712490379810333, 0.051524821668863297, 0.003990546800196171, 1.4728518726769835e-4,
  -1.9422943751123967e-6, 1.911068103765956e-8,
  0.5168909430503845, 0.11797058582305908, 0.014958026818931103, 1.0211041662842035e-3,
  -88.0, 88.0,
]);
@inline function a(i: i32): v128 {
  return kc(AK, i);
}

/** erf(z), see above. */
@inline function verf(z: v128): v128 {
  const zc = f32x4.pmin(f32x4.pmax(z, a(0)), a(1));
  const t = f32x4.mul(zc, zc);
  let p = fma(a(13), t, a(12));
  p = fma(p, t, a(11));
  p = fma(p, t, a(10));
  p = fma(p, t, a(9));
  p = fma(p, t, a(8));
  p = fma(p, t, a(7));
  let q = fma(a(17), t, a(16));
  q = fma(q, t, a(15));
  q = fma(q, t, a(14));
  q = fma(q, t, g(6));
  const y = f32x4.div(f32x4.mul(zc, p), q);
  return f32x4.pmin(f32x4.pmax(y, a(6)), g(6));
}

/** Φ(x) = ½ + ½·erf(x/√2). */
@inline function phiCdf(x: v128): v128 {
  return fma(verf(f32x4.mul(x, a(2))), a(3), a(3));
}

/** σ(x) = num·r from e = exp(−|x|) and r = 1/(1 + e), as gelu's σ(w). */
@inline function sigmoidV(x: v128, e: v128, r: v128): v128 {
  return f32x4.mul(f32x4.pmax(e, v128.and(f32x4.ge(x, g(7)), g(6))), r);
}

/** act(x) of activation `kind`. */
@inline function actV(kind: i32, x: v128): v128 {
  if (kind == 0) return f32x4.mul(x, phiCdf(x));
  if (kind == 1) return geluV(x);
  if (kind == 2) {
    const e = vexp(v128.or(x, g(5)));
    return f32x4.mul(x, sigmoidV(x, e, f32x4.div(g(6), f32x4.add(g(6), e))));
  }
  return f32x4.max(x, g(7));
}

/** act'(x) of activation `kind`; also sets ACT = act(x) (one evaluation serves both gradients). */
@inline function actGradV(kind: i32, x: v128): v128 {
  if (kind == 0) {
    const p = phiCdf(x);
    ACT = f32x4.mul(x, p);
    const xc = clamp16(x);
    const phi = f32x4.mul(vexp(f32x4.mul(f32x4.mul(xc, xc), a(4))), a(5));
    return fma(xc, phi, p);
  }
  if (kind == 1) return geluGradV(x);
  if (kind == 2) {
    const e = vexp(v128.or(x, g(5)));
    const r = f32x4.div(g(6), f32x4.add(g(6), e));
    const sg = sigmoidV(x, e, r);
    ACT = f32x4.mul(x, sg);
    return fma(f32x4.pmin(f32x4.pmax(x, a(18)), a(19)), f32x4.mul(f32x4.mul(e, r), r), sg);
  }
  ACT = f32x4.max(x, g(7));
  return v128.and(f32x4.gt(x, g(7)), g(6));
}

/**
 * The kind is a type, K = u8, u16, u32 or u64 for kinds 0–3 (alignof<K>() = log2 of its size): each instance is
 * compiled for one kind, its branches folded away. (A constant argument of an inlined function would not do:
 * the optimiser merges the four copies back into one that tests the kind in the loop.)
 */
@inline function actRange<K>(x: usize, up: usize, out: usize, i0: i32, i1: i32): void {
  const kind = <i32>alignof<K>();
  let i = i0;
  // several independent vectors per step: the exp chains are long, interleaving hides their latency
  for (; i + 8 <= i1; i += 8) {
    const o = <usize>i * 4;
    let p = actV(kind, v128.load(x + o)), q = actV(kind, v128.load(x + o, 16));
    if (up != 0) {
      p = f32x4.mul(p, v128.load(up + o));
      q = f32x4.mul(q, v128.load(up + o, 16));
    }
    v128.store(out + o, p); v128.store(out + o, q, 16);
  }
  for (; i + 4 <= i1; i += 4) {
    const o = <usize>i * 4;
    let p = actV(kind, v128.load(x + o));
    if (up != 0) p = f32x4.mul(p, v128.load(up + o));
    v128.store(out + o, p);
  }
  for (; i < i1; i++) {
    const o = <usize>i * 4;
    let p = f32x4.extract_lane(actV(kind, f32x4.splat(load<f32>(x + o))), 0);
    if (up != 0) p *= load<f32>(up + o);
    store<f32>(out + o, p);
  }
}

/** out = act(x), or act(x)·up when up ≠ 0 (elements split in 16-element units). */
export function activation(kind: i32, x: usize, up: usize, out: usize, n: i32, tid: i32, nth: i32): void {
  const i0 = partStart(n, UNIT, tid, nth), i1 = partStart(n, UNIT, tid + 1, nth);
  if (kind == 0) actRange<u8>(x, up, out, i0, i1);
  else if (kind == 1) actRange<u16>(x, up, out, i0, i1);
  else if (kind == 2) actRange<u32>(x, up, out, i0, i1);
  else actRange<u64>(x, up, out, i0, i1);
}

/** dx = dy·act'(x)·up and dup = dy·act(x) at one vector (v: x; u: up or 1; w: dy); lane 0 only when `one`. */
@inline function actGradStore(kind: i32, v: v128, u: v128, w: v128, dx: usize, dup: usize, o: usize, one: bool): void {
  const d = actGradV(kind, v);
  const f = ACT;
  if (dx != 0) {
    const gx = f32x4.mul(f32x4.mul(w, d), u);
    if (one) store<f32>(dx + o, f32x4.extract_lane(gx, 0));
    else v128.store(dx + o, gx);
  }
  if (dup != 0) {
    const gu = f32x4.mul(w, f);
    if (one) store<f32>(dup + o, f32x4.extract_lane(gu, 0));
    else v128.store(dup + o, gu);
  }
}

/** See actRange for K. */
@inline function actGradRange<K>(x: usize, up: usize, dy: usize, dx: usize, dup: usize, i0: i32, i1: i32): void {
  const kind = <i32>alignof<K>();
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const o = <usize>i * 4;
    const u = up != 0 ? v128.load(up + o) : g(6);
    actGradStore(kind, v128.load(x + o), u, v128.load(dy + o), dx, dup, o, false);
  }
  for (; i < i1; i++) {
    const o = <usize>i * 4;
    const u = up != 0 ? f32x4.splat(load<f32>(up + o)) : g(6);
    actGradStore(kind, f32x4.splat(load<f32>(x + o)), u, f32x4.splat(load<f32>(dy + o)), dx, dup, o, true);
  }
}

/** dx = dy·act'(x)·(up or 1), dup = dy·act(x); a zero pointer skips that output. */
export function activationBackward(
  kind: i32, x: usize, up: usize, dy: usize, dx: usize, dup: usize, n: i32, tid: i32, nth: i32,
): void {
  const i0 = partStart(n, UNIT, tid, nth), i1 = partStart(n, UNIT, tid + 1, nth);
  if (kind == 0) actGradRange<u8>(x, up, dy, dx, dup, i0, i1);
  else if (kind == 1) actGradRange<u16>(x, up, dy, dx, dup, i0, i1);
  else if (kind == 2) actGradRange<u32>(x, up, dy, dx, dup, i0, i1);
  else actGradRange<u64>(x, up, dy, dx, dup, i0, i1);
}

/** y = erf(x) as the erf GELU computes it (exported for its accuracy test). */
export function erf(x: usize, y: usize, n: i32, tid: i32, nth: i32): void {
  const i0 = partStart(n, UNIT, tid, nth), i1 = partStart(n, UNIT, tid + 1, nth);
  let i = i0;
  for (; i + 4 <= i1; i += 4) v128.store(y + <usize>i * 4, verf(v128.load(x + <usize>i * 4)));
  for (; i < i1; i++) store<f32>(y + <usize>i * 4, f32x4.extract_lane(verf(f32x4.splat(load<f32>(x + <usize>i * 4))), 0));
}

/** dst[i] = f32 bits src[i] << 16 (src u16): BF16 weights widened exactly, eight at a time. */
export function widenBf16(src: usize, dst: usize, n: i32, tid: i32, nth: i32): void {
  const i0 = partStart(n, UNIT, tid, nth), i1 = partStart(n, UNIT, tid + 1, nth);
  let i = i0;
  for (; i + 8 <= i1; i += 8) {
    const h = v128.load(src + <usize>i * 2);
    v128.store(dst + <usize>i * 4, i32x4.shl(i32x4.extend_low_i16x8_u(h), 16));
    v128.store(dst + <usize>i * 4, i32x4.shl(i32x4.extend_high_i16x8_u(h), 16), 16);
  }
  for (; i < i1; i++) store<u32>(dst + <usize>i * 4, <u32>load<u16>(src + <usize>i * 2) << 16);
}

export function add(a: usize, b: usize, out: usize, n: i32, tid: i32, nth: i32): void {
  const i0 = partStart(n, UNIT, tid, nth), i1 = partStart(n, UNIT, tid + 1, nth);
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const o = <usize>i * 4;
    v128.store(out + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < i1; i++) store<f32>(out + <usize>i * 4, load<f32>(a + <usize>i * 4) + load<f32>(b + <usize>i * 4));
}

/** y += alpha·x (multiply then add, never fused, so SIMD body and tail round alike). */
export function axpy(alpha: f32, x: usize, y: usize, n: i32, tid: i32, nth: i32): void {
  const i0 = partStart(n, UNIT, tid, nth), i1 = partStart(n, UNIT, tid + 1, nth);
  const va = f32x4.splat(alpha);
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const o = <usize>i * 4;
    v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(va, v128.load(x + o))));
  }
  for (; i < i1; i++) store<f32>(y + <usize>i * 4, load<f32>(y + <usize>i * 4) + alpha * load<f32>(x + <usize>i * 4));
}

export function scale(x: usize, alpha: f32, out: usize, n: i32, tid: i32, nth: i32): void {
  const i0 = partStart(n, UNIT, tid, nth), i1 = partStart(n, UNIT, tid + 1, nth);
  const va = f32x4.splat(alpha);
  let i = i0;
  for (; i + 4 <= i1; i += 4) v128.store(out + <usize>i * 4, f32x4.mul(v128.load(x + <usize>i * 4), va));
  for (; i < i1; i++) store<f32>(out + <usize>i * 4, load<f32>(x + <usize>i * 4) * alpha);
}

/** out[r, :] = x[r, :] + v, rows split between threads. */
export function addRowVector(x: usize, v: usize, out: usize, rows: i32, cols: i32, tid: i32, nth: i32): void {
  const r0 = partStart(rows, 1, tid, nth), r1 = partStart(rows, 1, tid + 1, nth);
  for (let r = r0; r < r1; r++) {
    const xr = x + <usize>r * cols * 4, orow = out + <usize>r * cols * 4;
    let c = 0;
    for (; c + 4 <= cols; c += 4) {
      const o = <usize>c * 4;
      v128.store(orow + o, f32x4.add(v128.load(xr + o), v128.load(v + o)));
    }
    for (; c < cols; c++) store<f32>(orow + <usize>c * 4, load<f32>(xr + <usize>c * 4) + load<f32>(v + <usize>c * 4));
  }
}

/**
 * out[c] (+)= Σ_r x[r·cols + c], columns split between threads; each column is summed over rows in order,
 * starting from 0, then added to out when accumulating. Also serves sumStacked (rows = count, cols = n).
 */
export function sumRows(x: usize, out: usize, rows: i32, cols: i32, accumulate: bool, tid: i32, nth: i32): void {
  const c0 = partStart(cols, UNIT, tid, nth), c1 = partStart(cols, UNIT, tid + 1, nth);
  const ld = <usize>cols * 4;
  let c = c0;
  for (; c + 16 <= c1; c += 16) {
    let p = x + <usize>c * 4;
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
    for (let r = 0; r < rows; r++) {
      s0 = f32x4.add(s0, v128.load(p));
      s1 = f32x4.add(s1, v128.load(p, 16));
      s2 = f32x4.add(s2, v128.load(p, 32));
      s3 = f32x4.add(s3, v128.load(p, 48));
      p += ld;
    }
    const o = out + <usize>c * 4;
    if (accumulate) {
      s0 = f32x4.add(v128.load(o), s0);
      s1 = f32x4.add(v128.load(o, 16), s1);
      s2 = f32x4.add(v128.load(o, 32), s2);
      s3 = f32x4.add(v128.load(o, 48), s3);
    }
    v128.store(o, s0); v128.store(o, s1, 16); v128.store(o, s2, 32); v128.store(o, s3, 48);
  }
  for (; c < c1; c++) {
    let s: f32 = 0;
    for (let r = 0; r < rows; r++) s += load<f32>(x + <usize>r * ld + <usize>c * 4);
    const o = out + <usize>c * 4;
    store<f32>(o, accumulate ? load<f32>(o) + s : s);
  }
}

/** out[i, :] = table[idx[i], :], rows split between threads. */
export function gatherRows(idx: usize, table: usize, out: usize, n: i32, D: i32, tid: i32, nth: i32): void {
  const i0 = partStart(n, 1, tid, nth), i1 = partStart(n, 1, tid + 1, nth);
  const rb = <usize>D * 4;
  for (let i = i0; i < i1; i++) {
    const row = <usize>load<i32>(idx + <usize>i * 4);
    memory.copy(out + <usize>i * rb, table + row * rb, rb);
  }
}

/** table[idx[i], :] += src[i, :] for i in order; columns split between threads so repeated rows never race. */
export function scatterAddRows(idx: usize, src: usize, table: usize, n: i32, D: i32, tid: i32, nth: i32): void {
  const c0 = partStart(D, UNIT, tid, nth), c1 = partStart(D, UNIT, tid + 1, nth);
  const rb = <usize>D * 4;
  for (let i = 0; i < n; i++) {
    const t = table + <usize>load<i32>(idx + <usize>i * 4) * rb;
    const s = src + <usize>i * rb;
    let c = c0;
    for (; c + 4 <= c1; c += 4) {
      const o = <usize>c * 4;
      v128.store(t + o, f32x4.add(v128.load(t + o), v128.load(s + o)));
    }
    for (; c < c1; c++) store<f32>(t + <usize>c * 4, load<f32>(t + <usize>c * 4) + load<f32>(s + <usize>c * 4));
  }
}
