/**
 * OpBuilders of gatherRows and scatterAddRows. Both take one argument more than the contract: `tableRows`, the
 * rows of the table the indices reach (max index + 1), which GpuKernels reads from the indices on the host so
 * that the table's binding covers exactly those rows.
 */
import type { GpuShader, OpBuilder } from '../dispatch.js';
import { gatherRowsWgsl, scatterAddRowsWgsl } from '../wgsl/rows.js';
import { bind, checkCount, grid, pieceElems, pieces } from './common.js';

let gatherShader: GpuShader | null = null;
let scatterShader: GpuShader | null = null;

type RowsArgs = [idx: number, table: number, out: number, n: number, D: number, tableRows: number];

/** Table rows per binding window, and the windows [lo, count) covering tableRows. */
function windows(L: Parameters<OpBuilder<[]>>[0], D: number, tableRows: number): [number, number][] {
  const per = Math.max(1, Math.floor(pieceElems(L, 4, 1) / D));
  const out: [number, number][] = [];
  for (let lo = 0; lo < tableRows; lo += per) out.push([lo, Math.min(per, tableRows - lo)]);
  return out;
}

export const gatherRowsOp: OpBuilder<RowsArgs> = (L, idx, table, out, n, D, tableRows) => {
  checkCount('gatherRows', n, D, tableRows);
  if (n === 0 || D === 0) return [];
  gatherShader ??= { name: 'gatherRows', wgsl: gatherRowsWgsl() };
  const per = Math.max(1, Math.floor(pieceElems(L, 4, 1) / D));
  return windows(L, D, tableRows).flatMap(([lo, count]) => pieces(n, per, (i, c) => ({
    shader: gatherShader!,
    buffers: [bind(idx + 4 * i, c), bind(table + 4 * lo * D, count * D), bind(out + 4 * i * D, c * D)],
    params: [['u32', c * D], ['u32', D], ['u32', lo], ['u32', count]],
    workgroups: grid(L, Math.ceil((c * D) / 256), 'gatherRows'),
  })));
};

/** src is [n, D] (swapped with table in the argument order: idx, src, table, as the contract). */
export const scatterAddRowsOp: OpBuilder<RowsArgs> = (L, idx, src, table, n, D, tableRows) => {
  checkCount('scatterAddRows', n, D, tableRows);
  if (n === 0 || D === 0) return [];
  scatterShader ??= { name: 'scatterAddRows', wgsl: scatterAddRowsWgsl() };
  if (4 * n * D > pieceElems(L, 4, 1) * 4) throw new Error(`scatterAddRows: ${n}×${D} source rows exceed maxStorageBufferBindingSize`);
  return windows(L, D, tableRows).map(([lo, count]) => ({
    shader: scatterShader!,
    buffers: [bind(idx, n), bind(src, n * D), bind(table + 4 * lo * D, count * D)],
    params: [['u32', n], ['u32', D], ['u32', lo], ['u32', count]],
    workgroups: grid(L, n, 'scatterAddRows'),
  }));
};
