/** Elementwise kernels: one work item per element, each reads its inputs before writing (out may alias an input). */
import { shaderSource } from './common.js';

const item = '  let i = gi(gid, nwg);\n  if (i >= p.n) { return; }\n';

export const addWgsl = () => shaderSource(['f32', 'f32', 'f32'], [['n', 'u32']], `${item}  let v = b0[p.o0 + i] + b1[p.o1 + i];\n  b2[p.o2 + i] = v;`);

export const axpyWgsl = () => shaderSource(['f32', 'f32'], [['n', 'u32'], ['alpha', 'f32']], `${item}  b1[p.o1 + i] = b1[p.o1 + i] + p.alpha * b0[p.o0 + i];`);

export const scaleWgsl = () => shaderSource(['f32', 'f32'], [['n', 'u32'], ['alpha', 'f32']], `${item}  let v = p.alpha * b0[p.o0 + i];\n  b1[p.o1 + i] = v;`);

/** out[r, c] = x[r, c] + v[c], n = rows·cols items. */
export const addRowVectorWgsl = () =>
  shaderSource(['f32', 'f32', 'f32'], [['n', 'u32'], ['cols', 'u32']], `${item}  let v = b0[p.o0 + i] + b1[p.o1 + i % p.cols];\n  b2[p.o2 + i] = v;`);

/**
 * BF16 → f32 bits: src is bound from its enclosing word (it may start mid-word; `half` says so), dst as u32 so
 * that NaN payloads travel as bits.
 */
export const widenBf16Wgsl = () =>
  shaderSource(['u32', 'u32'], [['n', 'u32'], ['half', 'u32']], `${item}  let k = i + p.half;
  let w = b0[p.o0 + k / 2u];
  b1[p.o1 + i] = select(w >> 16u, w & 0xffffu, k % 2u == 0u) << 16u;`);

/** Every word of the range set to the same bits (Heap.fillF32 on the device). */
export const fillWgsl = () => shaderSource(['u32'], [['n', 'u32'], ['bits', 'u32']], `${item}  b0[p.o0 + i] = p.bits;`);
