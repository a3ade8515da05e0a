/**
 * GFLOP/s of the native BLAS GEMM on the shared WebAssembly memory, against this CPU's measured fp32 FMA peak.
 *   npm run build:ts && node dist/bench/blas.js [--reps N]
 * Shape: GPT-2 small's MLP product over 1,536 tokens, M=1536 N=3072 K=768, in all four transpose combinations,
 * at 1 and 2 BLAS threads. Reports the median of the timed repetitions (best in parentheses).
 */
import { loadBlas } from "../src/engine/blas.js";
import { Heap } from "../src/engine/memory.js";

const M = 1536;
const N = 3072;
const K = 768;
const repsArg = process.argv.indexOf("--reps");
const REPS = repsArg > 0 ? Number(process.argv[repsArg + 1]) : 15;

const heap = new Heap();
const load = loadBlas(heap);
if (!load.ok) {
  console.error(`bench/blas: native BLAS unavailable: ${load.reason}`);
  process.exit(process.env.EAPGP_REQUIRE_BLAS === "1" ? 1 : 0);
}
const blas = load.blas;

const a = heap.alloc(M * K * 4);
const b = heap.alloc(K * N * 4);
const c = heap.alloc(M * N * 4);
const f32 = heap.f32;
let seed = 12345;
const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
for (let i = 0; i < M * K; i++) f32[a / 4 + i] = rnd();
for (let i = 0; i < K * N; i++) f32[b / 4 + i] = rnd();

const info = blas.info;
console.log(`BLAS: ${info.config} (core ${info.corename ?? "?"}, ${info.parallel ?? "?"})`);
const maxThreads = info.threads;
const peak: number[] = [];
for (const t of [1, 2]) peak[t] = blas.peakGflops(t, 500);
console.log(
  `measured fp32 FMA peak (${info.peakIsa}): 1 thread ${peak[1]!.toFixed(1)} GFLOP/s, 2 threads ${peak[2]!.toFixed(1)} GFLOP/s`,
);
console.log(`sgemm M=${M} N=${N} K=${K} (${((2 * M * N * K) / 1e9).toFixed(2)} GFLOP per call), ${REPS} reps`);

const flop = 2 * M * N * K;
for (const threads of [1, 2]) {
  blas.setThreads(threads);
  for (const [tA, tB] of [[false, false], [false, true], [true, false], [true, true]] as const) {
    const lda = tA ? M : K;
    const ldb = tB ? K : N;
    const run = () => blas.gemm(tA, tB, M, N, K, 1, a, lda, b, ldb, 0, c, N);
    run();
    run();
    const times: number[] = [];
    for (let r = 0; r < REPS; r++) {
      const t0 = performance.now();
      run();
      times.push(performance.now() - t0);
    }
    times.sort((x, y) => x - y);
    const med = times[times.length >> 1]!;
    const g = flop / (med * 1e6);
    const best = flop / (times[0]! * 1e6);
    const name = `${tA ? "Aᵀ" : "A "}·${tB ? "Bᵀ" : "B "}`;
    console.log(
      `  ${threads} thread${threads > 1 ? "s" : " "}  ${name}  ${g.toFixed(1).padStart(6)} GFLOP/s (best ${best.toFixed(1)})` +
        `  ${((100 * g) / peak[threads]!).toFixed(0)}% of measured peak`,
    );
  }
}
blas.setThreads(maxThreads);
