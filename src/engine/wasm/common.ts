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

// The constants of vexp live in memory: V8 (TurboFan) rebuilds every v128.const in a loop body from
// immediates (3 instructions each) and does not hoist it, while a splat load is one instruction.
const EXPK = memory.data<f32>([
  -87.3, 88.0, 1.44269504088896341, -0.693359375, 2.12194440e-4, 1.9875691500e-4, 1.3981999507e-3,
  8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1, 1.0, 12582912.0,
]);
/** Lane-splatted constant i of the table at `tab`. */
@inline export function kc(tab: usize, i: i32): v128 {
  return v128.load32_splat(tab + <usize>i * 4);
}
@inline function k(i: i32): v128 {
  return kc(EXPK, i);
}

/**
 * exp(x) per lane (Cephes expf: range reduction to 2^n·e^r, degree-6 polynomial; about 2 ulp).
 * Lanes below −87.3 give exactly 0, lanes above 88 give e^88 (the finite range of f32 ends at 88.7).
 * pmin/pmax (one instruction each, unlike min/max) and the 1.5·2²³ trick for n (instead of trunc_sat, a long
 * sequence on x64) give the same bits as the textbook form.
 */
@inline export function vexp(x0: v128): v128 {
  const x = f32x4.pmin(f32x4.pmax(x0, k(0)), k(1));
  const fx = f32x4.nearest(f32x4.mul(x, k(2)));
  let r = fma(fx, k(3), x);
  r = fma(fx, k(4), r);
  let p = k(5);
  p = fma(p, r, k(6));
  p = fma(p, r, k(7));
  p = fma(p, r, k(8));
  p = fma(p, r, k(9));
  p = fma(p, r, k(10));
  p = fma(p, f32x4.mul(r, r), f32x4.add(r, k(11)));
  // fx is an integer in [−126, 127], so the bits of fx + 1.5·2²³ are 0x4B400000 + fx, and
  // (0x4B400000 + fx + 127) << 23 = (fx + 127) << 23 = 2^fx as f32 bits
  const pow2 = i32x4.shl(i32x4.add(f32x4.add(fx, k(12)), i32x4.splat(127)), 23);
  const y = f32x4.mul(p, pow2);
  return v128.and(y, f32x4.ge(x0, k(0)));
}
