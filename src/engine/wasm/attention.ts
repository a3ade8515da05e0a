// Causal self-attention and its gradient. Threads take whole (batch, head) pairs, so each pair's
// reductions run in one fixed order. Only the lower triangle (j ≤ i) is computed.
import { partStart, scratch, fma, hsum } from "./common";
import { softmaxInPlace } from "./rows";

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

/** See Kernels.attention in src/engine/kernels.ts. */
export function attention(
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

/**
 * Gradient of `attention`: with p = probs, dP = dz·vᵀ, dS = p·(dP − Σ_j p·dP) per row:
 * dq = scale·dS·k, dk = scale·dSᵀ·q, dv = pᵀ·dz. dqkv is overwritten.
 */
export function attentionBackward(
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
