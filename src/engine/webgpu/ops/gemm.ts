/** gemm and gemmBatched: tile choice, and splitting batches, rows and columns where a binding or grid would exceed a limit. */
import type { Kernels } from '../../kernels.js';
import type { GpuDispatch, GpuLimits, GpuShader, OpBuilder } from '../dispatch.js';
import { gemmWgsl, type GemmTile } from '../wgsl/gemm.js';
import { checkCount, variants } from './common.js';

/** 128×128 tiles of 8×8 per thread for large products, 64×64 of 4×4 where the large tile would leave the GPU idle. */
const BIG: GemmTile = { BM: 128, BN: 128, TM: 8, TN: 8 };
const SMALL: GemmTile = { BM: 64, BN: 64, TM: 4, TN: 4 };

const shader = variants<string>((key): GpuShader => {
  const [ta, tb, size] = key.split(':');
  return { name: `gemm_${ta}${tb}_${size}`, wgsl: gemmWgsl(ta === 't', tb === 't', size === 'big' ? BIG : SMALL) };
});

/** Half of n, kept a multiple of the tile while it is larger than one. */
const half = (n: number, tile: number) => (n > tile ? Math.ceil(n / 2 / tile) * tile : Math.ceil(n / 2));

export const gemmBatchedOp: OpBuilder<Parameters<Kernels['gemmBatched']>> = (
  limits, tA, tB, M, N, K, alpha, a, lda, sA, b, ldb, sB, beta, c, ldc, sC, batch,
) => {
  checkCount('gemmBatched', M, N, K, lda, ldb, ldc, sA, sB, sC, batch);
  if (M === 0 || N === 0 || batch === 0) return [];
  const tiles = Math.ceil(M / 128) * Math.ceil(N / 128) * batch;
  const tile = M >= 128 && N >= 128 && tiles >= 128 ? BIG : SMALL;
  const sh = shader(`${tA ? 't' : 'n'}:${tB ? 't' : 'n'}:${tile === BIG ? 'big' : 'small'}`);
  const maxWg = limits.maxComputeWorkgroupsPerDimension;
  const room = limits.maxStorageBufferBindingSize - limits.minStorageBufferOffsetAlignment;
  // elements spanned by one piece of bc matrices, mc rows and nc columns
  const extA = (bc: number, mc: number) => (bc - 1) * sA + (K === 0 ? 1 : tA ? (K - 1) * lda + mc : (mc - 1) * lda + K);
  const extB = (bc: number, nc: number) => (bc - 1) * sB + (K === 0 ? 1 : tB ? (nc - 1) * ldb + K : (K - 1) * ldb + nc);
  const extC = (bc: number, mc: number, nc: number) => (bc - 1) * sC + (mc - 1) * ldc + nc;
  let bc = Math.min(batch, maxWg), mc = Math.min(M, maxWg * tile.BM), nc = Math.min(N, maxWg * tile.BN);
  for (;;) {
    const a4 = 4 * extA(bc, mc), b4 = 4 * extB(bc, nc), c4 = 4 * extC(bc, mc, nc);
    if (a4 <= room && b4 <= room && c4 <= room) break;
    if (bc > 1) bc = Math.ceil(bc / 2);
    else if ((a4 > room || c4 > room) && mc > 1) mc = half(mc, tile.BM);
    else if ((b4 > room || c4 > room) && nc > 1) nc = half(nc, tile.BN);
    else throw new Error(`gemm ${M}×${N}×${K}: one tile's operands exceed maxStorageBufferBindingSize (${limits.maxStorageBufferBindingSize} bytes)`);
  }
  const out: GpuDispatch[] = [];
  for (let b0 = 0; b0 < batch; b0 += bc) {
    const nb = Math.min(bc, batch - b0);
    for (let m0 = 0; m0 < M; m0 += mc) {
      const nm = Math.min(mc, M - m0);
      for (let n0 = 0; n0 < N; n0 += nc) {
        const nn = Math.min(nc, N - n0);
        const pa = a + 4 * (b0 * sA + (tA ? m0 : m0 * lda));
        const pb = b + 4 * (b0 * sB + (tB ? n0 * ldb : n0));
        const pc = c + 4 * (b0 * sC + m0 * ldc + n0);
        out.push({
          shader: sh,
          buffers: [{ ptr: pa, bytes: 4 * extA(nb, nm) }, { ptr: pb, bytes: 4 * extB(nb, nn) }, { ptr: pc, bytes: 4 * extC(nb, nm, nn) }],
          params: [['u32', nm], ['u32', nn], ['u32', K], ['u32', lda], ['u32', ldb], ['u32', ldc], ['u32', sA], ['u32', sB], ['u32', sC], ['f32', alpha], ['f32', beta]],
          workgroups: [Math.ceil(nn / tile.BN), Math.ceil(nm / tile.BM), nb],
        });
      }
    }
  }
  return out;
};

export const gemmOp: OpBuilder<Parameters<Kernels['gemm']>> = (limits: GpuLimits, tA, tB, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc) =>
  gemmBatchedOp(limits, tA, tB, M, N, K, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1);
