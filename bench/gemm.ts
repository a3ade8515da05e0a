/**
 * GEMM throughput of the WebAssembly kernels: GFLOP/s for each transpose combination at 1 and 2 threads,
 * next to the measured wasm-SIMD multiply-add peak. Run directly: node dist/bench/gemm.js [M N K] [threads…]
 */
import { pathToFileURL } from 'node:url';
import { Heap } from '../src/engine/memory.js';
import { createWasmKernels } from '../src/engine/wasm-kernels.js';

export interface GemmBenchRow {
  kernels: string;
  threads: number;
  shape: string;
  gflops: number;
  /** Fraction of the measured wasm peak at this thread count. */
  ofPeak: number;
}

export interface GemmBenchOptions {
  M?: number;
  N?: number;
  K?: number;
  /** Thread counts to measure (default [1, 2]). */
  threads?: number[];
  relaxed?: boolean;
  /** Minimum time per measurement in ms (default 400). */
  ms?: number;
  /** Also GPT-2 small backward shapes: the MLP product with K = 3072 and the 12-head batched one (default true). */
  batched?: boolean;
  log?: (line: string) => void;
}

/** Measures C = op(A)·op(B) for all four transposes; returns one row per shape and thread count. */
export async function benchGemm(opts: GemmBenchOptions = {}): Promise<GemmBenchRow[]> {
  const { M = 1536, N = 3072, K = 768, threads = [1, 2], ms = 400, batched = true, log = console.log } = opts;
  const heap = new Heap();
  const a = heap.alloc(Math.max(M * K, 1536 * 3072) * 4);
  const b = heap.alloc(Math.max(K * N, 3072 * 768) * 4);
  const c = heap.alloc(Math.max(M * N, 12 * 1536 * 768) * 4);
  heap.fillF32(a, (heap.size - a) / 4, 0.5);
  const rows: GemmBenchRow[] = [];
  for (const t of threads) {
    const k = await createWasmKernels(heap, { threads: t, relaxed: opts.relaxed });
    try {
      const peak = k.measurePeakGflops(200);
      log(`${k.name}: measured wasm FMA peak ${peak.toFixed(1)} GFLOP/s`);
      const time = (flop: number, f: () => void): number => {
        f(); // warm-up
        let n = 0;
        const t0 = performance.now();
        do {
          f();
          n++;
        } while (performance.now() - t0 < ms);
        return (flop * n) / ((performance.now() - t0) / 1000) / 1e9;
      };
      const add = (shape: string, gflops: number): void => {
        rows.push({ kernels: k.name, threads: t, shape, gflops, ofPeak: gflops / peak });
        log(`  ${shape.padEnd(40)} ${gflops.toFixed(1).padStart(6)} GFLOP/s  (${((100 * gflops) / peak).toFixed(0)}% of peak)`);
      };
      for (const tA of [false, true]) for (const tB of [false, true]) {
        const g = time(2 * M * N * K, () => k.gemm(tA, tB, M, N, K, 1, a, tA ? M : K, b, tB ? K : N, 0, c, N));
        add(`${M}x${N}x${K} ${tA ? 'T' : 'N'}${tB ? 'T' : 'N'}`, g);
      }
      if (batched) {
        // GPT-2 small MLP backward: [1536×3072]·[3072×768]
        const g2 = time(2 * 1536 * 768 * 3072, () => k.gemm(false, false, 1536, 768, 3072, 1, a, 3072, b, 768, 0, c, 768));
        add('1536x768x3072 NN (MLP backward)', g2);
        // per-head products of the attention backward: [P×dh]·[dh×D]-like, 12 heads
        const P = 1536, dh = 64, D = 768;
        const g = time(2 * P * D * dh * 12, () => k.gemmBatched(false, false, P, D, dh, 1, a, dh, P * dh, b, D, dh * D, 0, c, D, P * D, 12));
        add(`${P}x${D}x${dh} NN batched x12`, g);
      }
    } finally {
      await k.close();
    }
  }
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const nums = process.argv.slice(2).map(Number);
  const [M, N, K] = nums.length >= 3 ? nums : [1536, 3072, 768];
  const threads = nums.length > 3 ? nums.slice(3) : [1, 2];
  await benchGemm({ M, N, K, threads });
}
