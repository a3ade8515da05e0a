// Shared helpers of the kernels: memory layout (mirrors src/engine/memory.ts), thread partitioning, SIMD math.
// The kernels never allocate: they read and write raw memory by byte offset.

/** Per-thread scratch area: [SCRATCH_BASE + tid·SCRATCH_BYTES, +SCRATCH_BYTES). */
export const SCRATCH_BASE: usize = 1 << 20;
export const SCRATCH_BYTES: usize = 1 << 20;

@inline export function scratch(tid: i32): usize {
  return SCRATCH_BASE + <usize>tid * SCRATCH_BYTES;
}

/**
 * Start of thread `tid`'s share of [0, n) split in units of `unit` elements. Boundaries are multiples of
 * `unit` counted from 0, so an element's SIMD-vs-tail treatment never depends on the thread count.
 */
@inline export function partStart(n: i32, unit: i32, tid: i32, nth: i32): i32 {
  const units = (n + unit - 1) / unit;
  return min(n, <i32>((<i64>units * tid) / nth) * unit);
}

/** a·b + c: one fused multiply-add in the relaxed-SIMD build, a multiply then an add otherwise. */
@inline export function fma(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(a, b, c);
  } else {
    return f32x4.add(f32x4.mul(a, b), c);
  }
}

/** Sum of the four lanes, in a fixed order ((0+2)+(1+3)). */
@inline export function hsum(v: v128): f32 {
  const s = f32x4.add(v, v128.shuffle<f32>(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1);
}

@inline export function hmax(v: v128): f32 {
  const s = f32x4.max(v, v128.shuffle<f32>(v, v, 2, 3, 0, 1));
  return max(f32x4.extract_lane(s, 0), f32x4.extract_lane(s, 1));
}

/**
 * exp(x) per lane (Cephes expf: range reduction to 2^n·e^r, degree-6 polynomial; about 2 ulp).
 * Lanes below −87.3 give exactly 0, lanes above 88 give e^88 (the finite range of f32 ends at 88.7).
 */
@inline export function vexp(x0: v128): v128 {
  const x = f32x4.min(f32x4.max(x0, f32x4.splat(-87.3)), f32x4.splat(88.0));
  const fx = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504088896341)));
  let r = fma(fx, f32x4.splat(-0.693359375), x);
  r = fma(fx, f32x4.splat(2.12194440e-4), r);
  let p = f32x4.splat(1.9875691500e-4);
  p = fma(p, r, f32x4.splat(1.3981999507e-3));
  p = fma(p, r, f32x4.splat(8.3334519073e-3));
  p = fma(p, r, f32x4.splat(4.1665795894e-2));
  p = fma(p, r, f32x4.splat(1.6666665459e-1));
  p = fma(p, r, f32x4.splat(5.0000001201e-1));
  p = fma(p, f32x4.mul(r, r), f32x4.add(r, f32x4.splat(1.0)));
  const pow2 = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(fx), i32x4.splat(127)), 23);
  const y = f32x4.mul(p, pow2);
  return v128.and(y, f32x4.ge(x0, f32x4.splat(-87.3)));
}

/** tanh(x) per lane as 1 − 2/(e^{2x} + 1): exact limits ±1, absolute error ~1e-7. */
@inline export function vtanh(x: v128): v128 {
  const e = vexp(f32x4.add(x, x));
  return f32x4.sub(f32x4.splat(1.0), f32x4.div(f32x4.splat(2.0), f32x4.add(e, f32x4.splat(1.0))));
}
