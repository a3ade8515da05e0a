/**
 * Causal self-attention and its gradient as WebGPU dispatches: one workgroup per (row, head, batch), split by
 * batches, and by heads when one batch's probabilities do not fit a binding.
 */
import type { GpuLimits, OpBuilder } from '../dispatch.js';
import { attentionDkWgsl, attentionDqWgsl, attentionDvWgsl, attentionWgsl, MAX_DH } from '../wgsl/attention.js';
import { dispatch, type Operand, type Param } from './bind.js';

interface Part {
  b0: number;
  nb: number;
  h0: number;
  nh: number;
}

/**
 * Batch (and head) ranges whose bindings fit: `rowBytes` per batch of row-shaped operands, nOps operands;
 * probs needs H·P² floats per batch, or P² per head.
 */
function parts(limits: GpuLimits, kernel: string, B: number, P: number, H: number, dh: number, rowBytes: number, nOps: number): Part[] {
  const max = limits.maxComputeWorkgroupsPerDimension;
  if (dh > MAX_DH) throw new Error(`${kernel}: head dimension ${dh} exceeds the WebGPU kernels' maximum ${MAX_DH}`);
  if (P > max) throw new Error(`${kernel}: ${P} positions exceed maxComputeWorkgroupsPerDimension ${max}`);
  const room = limits.maxStorageBufferBindingSize - nOps * (limits.minStorageBufferOffsetAlignment + 4);
  const head = 4 * P * P, out: Part[] = [];
  if (rowBytes + H * head <= room) {
    const nb = Math.min(max, Math.floor(room / (rowBytes + H * head)));
    for (let b0 = 0; b0 < B; b0 += nb) out.push({ b0, nb: Math.min(nb, B - b0), h0: 0, nh: H });
    return out;
  }
  const nh = Math.floor((room - rowBytes) / head);
  if (nh < 1) {
    throw new Error(`${kernel}: one head of one batch (P = ${P}, ${H}×${dh}) needs more than maxStorageBufferBindingSize ${limits.maxStorageBufferBindingSize} of bindings`);
  }
  for (let b0 = 0; b0 < B; b0++) for (let h0 = 0; h0 < H; h0 += nh) out.push({ b0, nb: 1, h0, nh: Math.min(nh, H - h0) });
  return out;
}

/** Operand of `cols` floats per position for the part's batches. */
const rowsOf = (name: string, ptr: number, q: Part, P: number, cols: number): Operand => ({
  name, ptr: ptr + 4 * q.b0 * P * cols, bytes: 4 * q.nb * P * cols,
});
const probsOf = (ptr: number, q: Part, P: number, H: number): Operand => ({
  name: 'probs', ptr: ptr + 4 * (q.b0 * H + q.h0) * P * P, bytes: 4 * q.nb * q.nh * P * P,
});
const paramsOf = (q: Part, P: number, H: number, dh: number, scale: number): Param[] => [
  ['P', 'u32', P], ['H', 'u32', H], ['dh', 'u32', dh], ['nh', 'u32', q.nh], ['h0', 'u32', q.h0], ['scale', 'f32', scale],
];

export const attention: OpBuilder<[number, number, number, number, number, number, number, number]> = (
  limits, qkv, z, probs, B, P, H, dh, scale,
) => {
  if (B === 0 || P === 0 || H === 0 || dh === 0) return [];
  const D = H * dh;
  return parts(limits, 'attention', B, P, H, dh, 4 * P * 4 * D, 3).map((q) =>
    dispatch(limits, 'attention', '', [rowsOf('qkv', qkv, q, P, 3 * D), rowsOf('z', z, q, P, D), probsOf(probs, q, P, H)],
      paramsOf(q, P, H, dh, scale), attentionWgsl, [P, q.nh, q.nb]));
};

/** Three dispatches per part: dq (leaving each row's Σ p·dP in dv), dk (reading it), dv (overwriting it). */
export const attentionBackward: OpBuilder<[number, number, number, number, number, number, number, number, number]> = (
  limits, dz, qkv, probs, dqkv, B, P, H, dh, scale,
) => {
  if (B === 0 || P === 0 || H === 0 || dh === 0) return [];
  const D = H * dh;
  return parts(limits, 'attentionBackward', B, P, H, dh, 4 * P * 7 * D, 4).flatMap((q) => {
    const dzOp = rowsOf('dz', dz, q, P, D), qkvOp = rowsOf('qkv', qkv, q, P, 3 * D), pOp = probsOf(probs, q, P, H);
    const gOp = rowsOf('dqkv', dqkv, q, P, 3 * D), params = paramsOf(q, P, H, dh, scale);
    const wg = [P, q.nh, q.nb] as const;
    return [
      dispatch(limits, 'attentionDq', '', [dzOp, qkvOp, pOp, gOp], params, attentionDqWgsl, wg),
      dispatch(limits, 'attentionDk', '', [dzOp, qkvOp, pOp, gOp], params, attentionDkWgsl, wg),
      dispatch(limits, 'attentionDv', '', [dzOp, pOp, gOp], params, attentionDvWgsl, wg),
    ];
  });
};
