// Elementwise, row-vector and row-gather kernels. Ranges are split in 16-element units from index 0, so
// every element takes the same (SIMD or tail) path whatever the thread count. Tails reuse the vector code on
// a splatted lane, so they round exactly like the SIMD body.
import { partStart, vtanh, fma, kc } from "./common";

const UNIT: i32 = 16;
// √(2/π), a, 3a (= f32(3·f32(a))), 0.5, 1 as a table: splat loads instead of v128.const (see common.ts vexp)
const GK = memory.data<f32>([0.7978845608028654, 0.044715, 0.13414499163627625, 0.5, 1]);

@inline function geluV(x: v128): v128 {
  const x2 = f32x4.mul(x, x);
  const u = f32x4.mul(kc(GK, 0), fma(f32x4.mul(x2, kc(GK, 1)), x, x));
  const t = vtanh(u);
  return f32x4.mul(f32x4.mul(kc(GK, 3), x), f32x4.add(kc(GK, 4), t));
}

/** gelu_new'(x) = 0.5·(1 + t) + 0.5·x·(1 − t²)·c·(1 + 3a·x²), t = tanh(c·(x + a·x³)). */
@inline function geluGradV(x: v128): v128 {
  const x2 = f32x4.mul(x, x);
  const u = f32x4.mul(kc(GK, 0), fma(f32x4.mul(x2, kc(GK, 1)), x, x));
  const t = vtanh(u);
  const one = kc(GK, 4), half = kc(GK, 3);
  const du = f32x4.mul(kc(GK, 0), fma(x2, kc(GK, 2), one));
  const sech2 = f32x4.sub(one, f32x4.mul(t, t));
  return fma(f32x4.mul(half, x), f32x4.mul(sech2, du), f32x4.mul(half, f32x4.add(one, t)));
}

export function gelu(x: usize, y: usize, n: i32, tid: i32, nth: i32): void {
  const i0 = partStart(n, UNIT, tid, nth), i1 = partStart(n, UNIT, tid + 1, nth);
  let i = i0;
  for (; i + 4 <= i1; i += 4) v128.store(y + <usize>i * 4, geluV(v128.load(x + <usize>i * 4)));
  for (; i < i1; i++) store<f32>(y + <usize>i * 4, f32x4.extract_lane(geluV(f32x4.splat(load<f32>(x + <usize>i * 4))), 0));
}

export function geluBackward(x: usize, dy: usize, dx: usize, n: i32, accumulate: bool, tid: i32, nth: i32): void {
  const i0 = partStart(n, UNIT, tid, nth), i1 = partStart(n, UNIT, tid + 1, nth);
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const o = <usize>i * 4;
    let g = f32x4.mul(v128.load(dy + o), geluGradV(v128.load(x + o)));
    if (accumulate) g = f32x4.add(v128.load(dx + o), g);
    v128.store(dx + o, g);
  }
  for (; i < i1; i++) {
    const o = <usize>i * 4;
    let g = load<f32>(dy + o) * f32x4.extract_lane(geluGradV(f32x4.splat(load<f32>(x + o))), 0);
    if (accumulate) g = load<f32>(dx + o) + g;
    store<f32>(dx + o, g);
  }
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
