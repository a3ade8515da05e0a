/** OpBuilders of sumRows, sumStacked and softmaxRows. */
import type { Kernels } from '../../kernels.js';
import type { GpuDispatch, GpuLimits, OpBuilder } from '../dispatch.js';
import { softmaxRowsWgsl, sumStridedWgsl } from '../wgsl/reduce.js';
import { bind, checkCount, grid, pieceElems, pieces, variants } from './common.js';

const sumShader = variants<number>((acc) => ({ name: `sumStrided_${acc}`, wgsl: sumStridedWgsl(acc === 1) }));
let softmaxShader: { name: string; wgsl: string } | null = null;

/**
 * out[i] (+)= Σ_k x[k·stride + i], i < n, k < count. When the count·stride elements exceed a binding, the sum goes
 * in runs of k, each later run adding to out (a deterministic split: the same runs for the same sizes).
 */
function sumStrided(L: GpuLimits, name: string, x: number, out: number, count: number, n: number, stride: number, accumulate: boolean): GpuDispatch[] {
  checkCount(name, count, n);
  if (n === 0) return [];
  const per = Math.max(1, Math.floor(pieceElems(L, 4, 1) / stride));
  if (count === 0 && accumulate) return [];
  // count = 0 without accumulate: one dispatch that sums nothing and writes the zeros
  return pieces(Math.max(1, count), per, (k, c) => ({
    shader: sumShader(accumulate || k > 0 ? 1 : 0),
    buffers: [bind(x + 4 * k * stride, count ? (c - 1) * stride + n : 1), bind(out, n)],
    params: [['u32', n], ['u32', count ? c : 0], ['u32', stride]],
    workgroups: grid(L, Math.ceil(n / 256), name),
  }));
}

export const sumRowsOp: OpBuilder<Parameters<Kernels['sumRows']>> = (L, x, out, rows, cols, acc) => sumStrided(L, 'sumRows', x, out, rows, cols, cols, acc);
export const sumStackedOp: OpBuilder<Parameters<Kernels['sumStacked']>> = (L, x, out, count, n, acc) => sumStrided(L, 'sumStacked', x, out, count, n, n, acc);

export const softmaxRowsOp: OpBuilder<Parameters<Kernels['softmaxRows']>> = (L, x, out, rows, cols) => {
  checkCount('softmaxRows', rows, cols);
  if (cols === 0) return [];
  softmaxShader ??= { name: 'softmaxRows', wgsl: softmaxRowsWgsl() };
  const per = Math.max(1, Math.floor(pieceElems(L, 4, 1) / cols));
  return pieces(rows, per, (r, c) => ({
    shader: softmaxShader!,
    buffers: [bind(x + 4 * r * cols, c * cols), bind(out + 4 * r * cols, c * cols)],
    params: [['u32', c], ['u32', cols]],
    workgroups: grid(L, c, 'softmaxRows'),
  }));
};
