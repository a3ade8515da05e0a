/**
 * LayerNorm and RMSNorm (forward, input gradient, LayerNorm's parameter gradient) as WebGPU dispatches:
 * one workgroup per row, rows split into chunks whose bindings fit the device's limits.
 */
import type { OpBuilder } from '../dispatch.js';
import {
  layerNormBackwardWgsl, layerNormParamGradWgsl, layerNormWgsl, PARAM_GRAD_WG, rmsNormBackwardWgsl, rmsNormWgsl,
} from '../wgsl/norms.js';
import { chunks, dispatch, type Operand } from './bind.js';

/** An operand of `perRow` floats per row, restricted to the chunk starting at row r0 with n rows. */
const rowsOf = (name: string, ptr: number, perRow: number, r0: number, n: number): Operand => ({
  name, ptr: ptr + 4 * r0 * perRow, bytes: 4 * n * perRow,
});

export const layerNorm: OpBuilder<[number, number, number, number, number, number, number, number, number]> = (
  limits, x, gamma, beta, y, mean, rstd, rows, D, eps,
) => {
  if (rows === 0 || D === 0) return [];
  return chunks(limits, 'layerNorm', rows, 8 * D + 8, 8 * D, 6, limits.maxComputeWorkgroupsPerDimension).map(([r0, n]) =>
    dispatch(limits, 'layerNorm', '', [
      rowsOf('x', x, D, r0, n), { name: 'gamma', ptr: gamma, bytes: 4 * D }, { name: 'beta', ptr: beta, bytes: 4 * D },
      rowsOf('y', y, D, r0, n), rowsOf('mean', mean, 1, r0, n), rowsOf('rstd', rstd, 1, r0, n),
    ], [['D', 'u32', D], ['eps', 'f32', eps]], layerNormWgsl, [n, 1, 1]));
};

export const layerNormBackward: OpBuilder<[number, number, number, number, number, number, boolean, number, number, number]> = (
  limits, dy, x, gamma, mean, rstd, dx, accumulate, dxAcc, rows, D,
) => {
  if (rows === 0 || D === 0) return [];
  const per = 4 * D * (dxAcc !== 0 ? 4 : 3) + 8;
  return chunks(limits, 'layerNormBackward', rows, per, 4 * D, 7, limits.maxComputeWorkgroupsPerDimension).map(([r0, n]) =>
    dispatch(limits, 'layerNormBackward', dxAcc !== 0 ? 'dxAcc' : '', [
      rowsOf('dy', dy, D, r0, n), rowsOf('x', x, D, r0, n), { name: 'gamma', ptr: gamma, bytes: 4 * D },
      rowsOf('mean', mean, 1, r0, n), rowsOf('rstd', rstd, 1, r0, n), rowsOf('dx', dx, D, r0, n),
      ...(dxAcc !== 0 ? [rowsOf('dxAcc', dxAcc, D, r0, n)] : []),
    ], [['D', 'u32', D], ['acc', 'u32', accumulate ? 1 : 0]], layerNormBackwardWgsl(dxAcc !== 0), [n, 1, 1]));
};

export const rmsNorm: OpBuilder<[number, number, number, number, number, number, number, number]> = (
  limits, x, gamma, offset, y, rstd, rows, D, eps,
) => {
  if (rows === 0 || D === 0) return [];
  return chunks(limits, 'rmsNorm', rows, 8 * D + 4, 4 * D, 4, limits.maxComputeWorkgroupsPerDimension).map(([r0, n]) =>
    dispatch(limits, 'rmsNorm', '', [
      rowsOf('x', x, D, r0, n), { name: 'gamma', ptr: gamma, bytes: 4 * D }, rowsOf('y', y, D, r0, n),
      rowsOf('rstd', rstd, 1, r0, n),
    ], [['D', 'u32', D], ['eps', 'f32', eps], ['offset', 'f32', offset]], rmsNormWgsl, [n, 1, 1]));
};

export const rmsNormBackward: OpBuilder<[number, number, number, number, number, number, boolean, number, number, number]> = (
  limits, dy, x, gamma, offset, rstd, dx, accumulate, dxAcc, rows, D,
) => {
  if (rows === 0 || D === 0) return [];
  const per = 4 * D * (dxAcc !== 0 ? 4 : 3) + 4;
  return chunks(limits, 'rmsNormBackward', rows, per, 4 * D, 6, limits.maxComputeWorkgroupsPerDimension).map(([r0, n]) =>
    dispatch(limits, 'rmsNormBackward', dxAcc !== 0 ? 'dxAcc' : '', [
      rowsOf('dy', dy, D, r0, n), rowsOf('x', x, D, r0, n), { name: 'gamma', ptr: gamma, bytes: 4 * D },
      rowsOf('rstd', rstd, 1, r0, n), rowsOf('dx', dx, D, r0, n),
      ...(dxAcc !== 0 ? [rowsOf('dxAcc', dxAcc, D, r0, n)] : []),
    ], [['D', 'u32', D], ['offset', 'f32', offset], ['acc', 'u32', accumulate ? 1 : 0]], rmsNormBackwardWgsl(dxAcc !== 0), [n, 1, 1]));
};

/**
 * Partitioned over columns, one thread each; when the rows do not fit one binding, each chunk of rows adds its
 * own sum (the chunking depends only on the shape and the limits, so runs stay bit-identical).
 */
export const layerNormParamGrad: OpBuilder<[number, number, number, number, number, number, number, number]> = (
  limits, dy, x, mean, rstd, dgamma, dbeta, rows, D,
) => {
  if (rows === 0 || D === 0) return [];
  const cols = chunks(limits, 'layerNormParamGrad', D, 8, 0, 2, limits.maxComputeWorkgroupsPerDimension * PARAM_GRAD_WG);
  return chunks(limits, 'layerNormParamGrad', rows, 8 * D + 8, 8 * D, 6, Infinity).flatMap(([r0, n]) =>
    cols.map(([c0, nc]) => dispatch(limits, 'layerNormParamGrad', '', [
      rowsOf('dy', dy, D, r0, n), rowsOf('x', x, D, r0, n), rowsOf('mean', mean, 1, r0, n), rowsOf('rstd', rstd, 1, r0, n),
      { name: 'dgamma', ptr: dgamma + 4 * c0, bytes: 4 * nc }, { name: 'dbeta', ptr: dbeta + 4 * c0, bytes: 4 * nc },
    ], [['D', 'u32', D], ['rows', 'u32', n], ['c0', 'u32', c0], ['nc', 'u32', nc]], layerNormParamGradWgsl,
    [Math.ceil(nc / PARAM_GRAD_WG), 1, 1])));
};
