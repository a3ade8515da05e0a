// Row-wise kernels: layer norm (forward, input gradient, parameter gradient), RMS norm (forward, input
// gradient) and softmax.
// Rows are split between threads; a row's reductions run in a fixed order (4 lanes, then the tail).
import { partStart, hsum, hmax, vexp } from "./common";

/** Σ p[0..n). */
@inline function rowSum(p: usize, n: i32): f32 {
  let s = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) s = f32x4.add(s, v128.load(p + <usize>i * 4));
  let t = hsum(s);
  for (; i < n; i++) t += load<f32>(p + <usize>i * 4);
  return t;
}

/** Σ (p[i] − m)². */
@inline function rowSqDev(p: usize, n: i32, m: f32): f32 {
  const vm = f32x4.splat(m);
  let s = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const d = f32x4.sub(v128.load(p + <usize>i * 4), vm);
    s = f32x4.add(s, f32x4.mul(d, d));
  }
  let t = hsum(s);
  for (; i < n; i++) {
    const d = load<f32>(p + <usize>i * 4) - m;
    t += d * d;
  }
  return t;
}

export function layerNorm(
  x: usize, gamma: usize, beta: usize, y: usize, mean: usize, rstd: usize, rows: i32, D: i32, eps: f32, tid: i32, nth: i32,
): void {
  const r0 = partStart(rows, 1, tid, nth), r1 = partStart(rows, 1, tid + 1, nth);
  const rb = <usize>D * 4;
  for (let r = r0; r < r1; r++) {
    const xr = x + <usize>r * rb, yr = y + <usize>r * rb;
    const m = rowSum(xr, D) / <f32>D;
    const s: f32 = 1 / Mathf.sqrt(rowSqDev(xr, D, m) / <f32>D + eps);
    store<f32>(mean + <usize>r * 4, m);
    store<f32>(rstd + <usize>r * 4, s);
    const vm = f32x4.splat(m), vs = f32x4.splat(s);
    let i = 0;
    for (; i + 4 <= D; i += 4) {
      const o = <usize>i * 4;
      const h = f32x4.mul(f32x4.sub(v128.load(xr + o), vm), vs);
      v128.store(yr + o, f32x4.add(f32x4.mul(h, v128.load(gamma + o)), v128.load(beta + o)));
    }
    for (; i < D; i++) {
      const o = <usize>i * 4;
      store<f32>(yr + o, (load<f32>(xr + o) - m) * s * load<f32>(gamma + o) + load<f32>(beta + o));
    }
  }
}

/** dx = rstd·(g − mean(g) − x̂·mean(g·x̂)), g = dy·gamma, x̂ = (x − mean)·rstd; see kernels.ts. */
export function layerNormBackward(
  dy: usize, x: usize, gamma: usize, mean: usize, rstd: usize, dx: usize, accumulate: bool, dxAcc: usize,
  rows: i32, D: i32, tid: i32, nth: i32,
): void {
  const r0 = partStart(rows, 1, tid, nth), r1 = partStart(rows, 1, tid + 1, nth);
  const rb = <usize>D * 4;
  for (let r = r0; r < r1; r++) {
    const dyr = dy + <usize>r * rb, xr = x + <usize>r * rb, dxr = dx + <usize>r * rb, accr = dxAcc + <usize>r * rb;
    const m = load<f32>(mean + <usize>r * 4), s = load<f32>(rstd + <usize>r * 4);
    const vm = f32x4.splat(m), vs = f32x4.splat(s);
    // mean(g) and mean(g·x̂)
    let sg = f32x4.splat(0), sgx = f32x4.splat(0);
    let i = 0;
    for (; i + 4 <= D; i += 4) {
      const o = <usize>i * 4;
      const g = f32x4.mul(v128.load(dyr + o), v128.load(gamma + o));
      sg = f32x4.add(sg, g);
      sgx = f32x4.add(sgx, f32x4.mul(g, f32x4.mul(f32x4.sub(v128.load(xr + o), vm), vs)));
    }
    let tg = hsum(sg), tgx = hsum(sgx);
    for (; i < D; i++) {
      const o = <usize>i * 4;
      const g = load<f32>(dyr + o) * load<f32>(gamma + o);
      tg += g;
      tgx += g * ((load<f32>(xr + o) - m) * s);
    }
    const mg = tg / <f32>D, mgx = tgx / <f32>D;
    const vmg = f32x4.splat(mg), vmgx = f32x4.splat(mgx);
    i = 0;
    for (; i + 4 <= D; i += 4) {
      const o = <usize>i * 4;
      const g = f32x4.mul(v128.load(dyr + o), v128.load(gamma + o));
      const h = f32x4.mul(f32x4.sub(v128.load(xr + o), vm), vs);
      const d = f32x4.mul(vs, f32x4.sub(f32x4.sub(g, vmg), f32x4.mul(h, vmgx)));
      v128.store(dxr + o, accumulate ? f32x4.add(v128.load(dxr + o), d) : d);
      if (dxAcc != 0) v128.store(accr + o, f32x4.add(v128.load(accr + o), d));
    }
    for (; i < D; i++) {
      const o = <usize>i * 4;
      const g = load<f32>(dyr + o) * load<f32>(gamma + o);
      const h = (load<f32>(xr + o) - m) * s;
      const d = s * (g - mg - h * mgx);
      store<f32>(dxr + o, accumulate ? load<f32>(dxr + o) + d : d);
      if (dxAcc != 0) store<f32>(accr + o, load<f32>(accr + o) + d);
    }
  }
}

/** Σ p[i]². */
@inline function rowSumSq(p: usize, n: i32): f32 {
  let s = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(p + <usize>i * 4);
    s = f32x4.add(s, f32x4.mul(v, v));
  }
  let t = hsum(s);
  for (; i < n; i++) {
    const v = load<f32>(p + <usize>i * 4);
    t += v * v;
  }
  return t;
}

/** y = (x·rstd)·(gamma + offset), rstd = 1/sqrt(mean(x²) + eps); see kernels.ts. */
export function rmsNorm(
  x: usize, gamma: usize, offset: f32, y: usize, rstd: usize, rows: i32, D: i32, eps: f32, tid: i32, nth: i32,
): void {
  const r0 = partStart(rows, 1, tid, nth), r1 = partStart(rows, 1, tid + 1, nth);
  const rb = <usize>D * 4;
  const voff = f32x4.splat(offset);
  for (let r = r0; r < r1; r++) {
    const xr = x + <usize>r * rb, yr = y + <usize>r * rb;
    const s: f32 = 1 / Mathf.sqrt(rowSumSq(xr, D) / <f32>D + eps);
    store<f32>(rstd + <usize>r * 4, s);
    const vs = f32x4.splat(s);
    let i = 0;
    for (; i + 4 <= D; i += 4) {
      const o = <usize>i * 4;
      v128.store(yr + o, f32x4.mul(f32x4.mul(v128.load(xr + o), vs), f32x4.add(v128.load(gamma + o), voff)));
    }
    for (; i < D; i++) {
      const o = <usize>i * 4;
      store<f32>(yr + o, (load<f32>(xr + o) * s) * (load<f32>(gamma + o) + offset));
    }
  }
}

/** dx = rstd·(g − x̂·mean(g·x̂)), g = dy·(gamma + offset), x̂ = x·rstd; see kernels.ts. */
export function rmsNormBackward(
  dy: usize, x: usize, gamma: usize, offset: f32, rstd: usize, dx: usize, accumulate: bool, dxAcc: usize,
  rows: i32, D: i32, tid: i32, nth: i32,
): void {
  const r0 = partStart(rows, 1, tid, nth), r1 = partStart(rows, 1, tid + 1, nth);
  const rb = <usize>D * 4;
  const voff = f32x4.splat(offset);
  for (let r = r0; r < r1; r++) {
    const dyr = dy + <usize>r * rb, xr = x + <usize>r * rb, dxr = dx + <usize>r * rb, accr = dxAcc + <usize>r * rb;
    const s = load<f32>(rstd + <usize>r * 4);
    const vs = f32x4.splat(s);
    let sgx = f32x4.splat(0);
    let i = 0;
    for (; i + 4 <= D; i += 4) {
      const o = <usize>i * 4;
      const g = f32x4.mul(v128.load(dyr + o), f32x4.add(v128.load(gamma + o), voff));
      sgx = f32x4.add(sgx, f32x4.mul(g, f32x4.mul(v128.load(xr + o), vs)));
    }
    let tgx = hsum(sgx);
    for (; i < D; i++) {
      const o = <usize>i * 4;
      tgx += (load<f32>(dyr + o) * (load<f32>(gamma + o) + offset)) * (load<f32>(xr + o) * s);
    }
    const mgx = tgx / <f32>D;
    const vmgx = f32x4.splat(mgx);
    i = 0;
    for (; i + 4 <= D; i += 4) {
      const o = <usize>i * 4;
      const g = f32x4.mul(v128.load(dyr + o), f32x4.add(v128.load(gamma + o), voff));
      const d = f32x4.mul(vs, f32x4.sub(g, f32x4.mul(f32x4.mul(v128.load(xr + o), vs), vmgx)));
      v128.store(dxr + o, accumulate ? f32x4.add(v128.load(dxr + o), d) : d);
      if (dxAcc != 0) v128.store(accr + o, f32x4.add(v128.load(accr + o), d));
    }
    for (; i < D; i++) {
      const o = <usize>i * 4;
      const g = load<f32>(dyr + o) * (load<f32>(gamma + o) + offset);
      const d = s * (g - (load<f32>(xr + o) * s) * mgx);
      store<f32>(dxr + o, accumulate ? load<f32>(dxr + o) + d : d);
      if (dxAcc != 0) store<f32>(accr + o, load<f32>(accr + o) + d);
    }
  }
}

/** dgamma[c] += Σ_r dy·x̂, dbeta[c] += Σ_r dy; columns split between threads, rows summed in order from 0. */
export function layerNormParamGrad(
  dy: usize, x: usize, mean: usize, rstd: usize, dgamma: usize, dbeta: usize, rows: i32, D: i32, tid: i32, nth: i32,
): void {
  const c0 = partStart(D, 16, tid, nth), c1 = partStart(D, 16, tid + 1, nth);
  const rb = <usize>D * 4;
  let c = c0;
  for (; c + 8 <= c1; c += 8) {
    const o = <usize>c * 4;
    let g0 = f32x4.splat(0), g1 = f32x4.splat(0), b0 = f32x4.splat(0), b1 = f32x4.splat(0);
    for (let r = 0; r < rows; r++) {
      const vm = v128.load32_splat(mean + <usize>r * 4), vs = v128.load32_splat(rstd + <usize>r * 4);
      const pd = dy + <usize>r * rb + o, px = x + <usize>r * rb + o;
      const d0 = v128.load(pd), d1 = v128.load(pd, 16);
      g0 = f32x4.add(g0, f32x4.mul(d0, f32x4.mul(f32x4.sub(v128.load(px), vm), vs)));
      g1 = f32x4.add(g1, f32x4.mul(d1, f32x4.mul(f32x4.sub(v128.load(px, 16), vm), vs)));
      b0 = f32x4.add(b0, d0);
      b1 = f32x4.add(b1, d1);
    }
    v128.store(dgamma + o, f32x4.add(v128.load(dgamma + o), g0));
    v128.store(dgamma + o, f32x4.add(v128.load(dgamma + o, 16), g1), 16);
    v128.store(dbeta + o, f32x4.add(v128.load(dbeta + o), b0));
    v128.store(dbeta + o, f32x4.add(v128.load(dbeta + o, 16), b1), 16);
  }
  for (; c < c1; c++) {
    const o = <usize>c * 4;
    let g: f32 = 0, b: f32 = 0;
    for (let r = 0; r < rows; r++) {
      const d = load<f32>(dy + <usize>r * rb + o);
      g += d * ((load<f32>(x + <usize>r * rb + o) - load<f32>(mean + <usize>r * 4)) * load<f32>(rstd + <usize>r * 4));
      b += d;
    }
    store<f32>(dgamma + o, load<f32>(dgamma + o) + g);
    store<f32>(dbeta + o, load<f32>(dbeta + o) + b);
  }
}

/** In place: p[0..n) ⟵ softmax(p[0..n)) (exp through the same vector code in body and tail). */
export function softmaxInPlace(p: usize, n: i32): void {
  let vmax = f32x4.splat(-Infinity);
  let i = 0;
  for (; i + 4 <= n; i += 4) vmax = f32x4.max(vmax, v128.load(p + <usize>i * 4));
  let m = hmax(vmax);
  for (; i < n; i++) m = max(m, load<f32>(p + <usize>i * 4));
  const vm = f32x4.splat(m);
  let vs = f32x4.splat(0);
  i = 0;
  for (; i + 4 <= n; i += 4) {
    const e = vexp(f32x4.sub(v128.load(p + <usize>i * 4), vm));
    v128.store(p + <usize>i * 4, e);
    vs = f32x4.add(vs, e);
  }
  let s = hsum(vs);
  for (; i < n; i++) {
    const e = f32x4.extract_lane(vexp(f32x4.splat(load<f32>(p + <usize>i * 4) - m)), 0);
    store<f32>(p + <usize>i * 4, e);
    s += e;
  }
  const inv = f32x4.splat(1 / s);
  i = 0;
  for (; i + 4 <= n; i += 4) v128.store(p + <usize>i * 4, f32x4.mul(v128.load(p + <usize>i * 4), inv));
  const invs: f32 = 1 / s;
  for (; i < n; i++) store<f32>(p + <usize>i * 4, load<f32>(p + <usize>i * 4) * invs);
}

export function softmaxRows(x: usize, out: usize, rows: i32, cols: i32, tid: i32, nth: i32): void {
  const r0 = partStart(rows, 1, tid, nth), r1 = partStart(rows, 1, tid + 1, nth);
  const rb = <usize>cols * 4;
  for (let r = r0; r < r1; r++) {
    if (out != x) memory.copy(out + <usize>r * rb, x + <usize>r * rb, rb);
    softmaxInPlace(out + <usize>r * rb, cols);
  }
}

/** See kernels.ts headGradDeposit: rows split between threads; each segment's sums in a fixed order. */
export function headGradDeposit(
  g: usize, rstd: usize, y: usize, cvec: usize, offs: usize, U: usize, A: usize, Wt: usize,
  rows: i32, cols: i32, seg: i32, alpha: f32, accumulate: bool, tid: i32, nth: i32,
): void {
  const r0 = partStart(rows, 1, tid, nth), r1 = partStart(rows, 1, tid + 1, nth);
  const nseg = cols / seg;
  for (let r = r0; r < r1; r++) {
    const s: f32 = load<f32>(rstd + <usize>r * 4);
    const vs = f32x4.splat(s);
    const base = <usize>r * <usize>cols * 4;
    for (let h = 0; h < nseg; h++) {
      let va = f32x4.splat(0), vw = f32x4.splat(0);
      let c = h * seg;
      const end = c + seg;
      for (; c + 4 <= end; c += 4) {
        const o = <usize>c * 4;
        const v = f32x4.mul(vs, v128.load(g + base + o));
        v128.store(U + base + o, accumulate ? f32x4.add(v128.load(U + base + o), v) : v);
        va = f32x4.add(va, f32x4.mul(v, v128.load(cvec + o)));
        vw = f32x4.add(vw, f32x4.mul(v, f32x4.sub(v128.load(y + base + o), v128.load(offs + o))));
      }
      let a = hsum(va), w = hsum(vw);
      for (; c < end; c++) {
        const o = <usize>c * 4;
        const v = s * load<f32>(g + base + o);
        store<f32>(U + base + o, accumulate ? load<f32>(U + base + o) + v : v);
        a += v * load<f32>(cvec + o);
        w += v * (load<f32>(y + base + o) - load<f32>(offs + o));
      }
      const ao = A + (<usize>h * <usize>rows + <usize>r) * 4;
      store<f32>(ao, accumulate ? load<f32>(ao) + a : a);
      store<f32>(Wt + (<usize>h * <usize>rows + <usize>r) * 4, alpha * w);
    }
  }
}
