/** OpBuilders of sumRows, sumStacked and softmaxRows. */
import type { Kernels } from '../../kernels.js';
import type { GpuDispatch, GpuLimits, OpBuilder } from '../dispatch.js';
import { layerNormParamGradWgsl, softmaxRowsWgsl, sumStridedWgsl } from '../wgsl/reduce.js';
import { bind, checkCount, grid, pieceElems, pieces, variants } from './common.js';

const sumShader = variants<number>((acc) => ({ name: `sumStrided_${acc}`, wgsl: sumStridedWgsl(acc === 1) }));
let softmaxShader: { name: string; wgsl: string } | null = null;
let paramGradShader: { name: string; wgsl: string } | null = null;

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

/**
 * When rows·D elements exceed a binding, rows split into runs (each adds its partial sums: the gradients accumulate
 * anyway) and, if one row is still too long, columns into pieces.
 */
export const layerNormParamGradOp: OpBuilder<Parameters<Kernels['layerNormParamGrad']>> = (L, dy, x, mean, rstd, dgamma, dbeta, rows, D) => {
  checkCount('layerNormParamGrad', rows, D);
  if (D === 0 || rows === 0) return [];
  paramGradShader ??= { name: 'layerNormParamGrad', wgsl: layerNormParamGradWgsl() };
  const room = pieceElems(L, 4, 1);
  const span = (r: number, c: number) => (r - 1) * D + c;
  let rp = rows, cp = D;
  while (span(rp, cp) > room) {
    if (rp > 1) rp = Math.ceil(rp / 2);
    else cp = Math.ceil(cp / 2);
  }
  const out: GpuDispatch[] = [];
  for (let r = 0; r < rows; r += rp) {
    const nr = Math.min(rp, rows - r);
    out.push(...pieces(D, cp, (d, c) => ({
      shader: paramGradShader!,
      buffers: [bind(dy + 4 * (r * D + d), span(nr, c)), bind(x + 4 * (r * D + d), span(nr, c)), bind(mean + 4 * r, nr), bind(rstd + 4 * r, nr),
        bind(dgamma + 4 * d, c), bind(dbeta + 4 * d, c)],
      params: [['u32', c], ['u32', nr], ['u32', D]],
      workgroups: grid(L, Math.ceil(c / 256), 'layerNormParamGrad'),
    })));
  }
  return out;
};
