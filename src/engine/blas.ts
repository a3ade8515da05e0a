/**
 * Optional native BLAS path for matrix products: the `eapgp_blas` N-API addon (native/) calls CBLAS sgemm
 * (OpenBLAS) directly on the shared WebAssembly memory, zero-copy. Pointers are the heap's byte offsets.
 *
 * The addon is built by `npm install` (scripts/build-native.mjs) when a C compiler and OpenBLAS are present;
 * when it is missing or fails to load, `loadBlas` says why and the engine uses the WebAssembly GEMM.
 * Env: EAPGP_NO_BLAS=1 disables it; EAPGP_BLAS_ADDON=path loads that .node file instead of native/build/Release;
 * EAPGP_BLAS_KC=n sets the K block (default 384, 0 = off; see DEFAULT_K_BLOCK).
 *
 * Threads: the addon cuts each product into blocks by its shape alone and runs them as single-threaded CBLAS
 * calls on its own pool (native/src/split.c; setThreads, default all cores), so results are bit-identical for
 * any thread count whatever the library does inside a call (OpenBLAS's own multi-threaded drivers are not, with
 * OPENBLAS_CORETYPE=Haswell). OPENBLAS_NUM_THREADS is overridden. The engine's WebAssembly workers sleep on
 * Atomics while a BLAS call runs.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Heap } from "./memory.js";

/** What the addon reports about its BLAS library. */
export interface BlasInfo {
  /** openblas_get_config(), e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64". */
  config: string;
  /** Threads the BLAS library uses for one call. */
  threads: number;
  /** openblas_get_corename() (the kernel set chosen for this CPU), when the library is OpenBLAS. */
  corename?: string;
  /** "pthreads", "openmp" or "sequential", when the library is OpenBLAS. */
  parallel?: string;
  /** Instruction set of the peak-FLOPS kernel: "avx512f", "avx2+fma" or "generic". */
  peakIsa: string;
  /** Path of the loaded addon. */
  addon: string;
}

export type BlasLoad = { ok: true; blas: Blas } | { ok: false; reason: string };

/** The addon's exports (native/src/addon.c). */
interface Addon {
  setMemory(f32: Float32Array): number;
  sgemm(
    tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number,
    a: number, lda: number, b: number, ldb: number, beta: number, c: number, ldc: number,
  ): void;
  sgemmBatched(
    tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number,
    a: number, lda: number, strideA: number, b: number, ldb: number, strideB: number,
    beta: number, c: number, ldc: number, strideC: number, batch: number,
  ): void;
  setThreads(n: number): void;
  getThreads(): number;
  setKBlock(n: number): void;
  info(): { config: string; threads: number; corename?: string; parallel?: string; peakIsa: string };
  peakGflops(threads: number, ms: number): number;
}

const ADDON_FILE = "eapgp_blas.node";

/**
 * Products with K above this run as several calls of at most this K, accumulating into C. OpenBLAS blocks K by
 * GEMM_Q (384 for sgemm on current x86 cores: Haswell/Zen, SkylakeX/Cooperlake) but its single- and
 * multi-threaded drivers split a remainder between Q and 2Q differently, so e.g. K = 500 or 1000 gave results
 * that changed with the thread count. With blocks of Q every call is a single K-block and results are
 * bit-identical for any thread count (tested). K up to 384 or a multiple of it (GPT-2: 64, 768, 3072) goes
 * through as one call, exactly OpenBLAS's own arithmetic; other K cost one extra pass over C per block.
 * A different core's Q can be set with EAPGP_BLAS_KC.
 */
export const DEFAULT_K_BLOCK = 384;

/** native/build/Release/eapgp_blas.node of the package containing this module (src/engine or dist/src/engine). */
function findAddon(): string | null {
  const override = process.env.EAPGP_BLAS_ADDON;
  if (override) return path.resolve(override);
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = path.join(dir, "native", "build", "Release", ADDON_FILE);
    if (existsSync(p)) return p;
    if (existsSync(path.join(dir, "package.json")) && existsSync(path.join(dir, "native"))) return null; // package root
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}

let loaded: { addon: Addon; file: string } | { error: string } | null = null;
/** The buffer the addon's base pointer and bounds currently refer to (shared by every Blas of this thread). */
let boundBuffer: ArrayBufferLike | null = null;

function loadAddon(): { addon: Addon; file: string } | { error: string } {
  if (loaded) return loaded;
  const file = findAddon();
  if (!file) {
    loaded = { error: `native addon not built (no native/build/Release/${ADDON_FILE}; see npm install's output)` };
  } else if (!existsSync(file)) {
    loaded = { error: `native addon ${file} does not exist` };
  } else {
    try {
      // OpenBLAS's idle threads spin for ~2^28 cycles after each call and then compete with our worker threads
      // for the cores during the WebAssembly kernels between products; it reads this when it loads.
      process.env.OPENBLAS_THREAD_TIMEOUT ??= "4";
      const require = createRequire(import.meta.url);
      const addon = require(file) as Addon;
      const kc = process.env.EAPGP_BLAS_KC;
      addon.setKBlock(kc !== undefined && kc !== "" ? Number(kc) : DEFAULT_K_BLOCK);
      loaded = { addon, file };
    } catch (e) {
      const msg = e instanceof Error ? e.message.split("\n")[0] : String(e);
      loaded = { error: `native addon failed to load: ${msg}` };
    }
  }
  return loaded;
}

/** Loads the native BLAS addon for `heap`'s memory, or says why it is not available. */
export function loadBlas(heap: Heap): BlasLoad {
  if (process.env.EAPGP_NO_BLAS === "1") return { ok: false, reason: "disabled by EAPGP_NO_BLAS" };
  const l = loadAddon();
  if ("error" in l) return { ok: false, reason: l.error };
  try {
    return { ok: true, blas: new Blas(heap, l.addon, l.file) };
  } catch (e) {
    return { ok: false, reason: `native addon unusable: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/**
 * gemm / gemmBatched with exactly the `Kernels` signatures (row-major, ld and strides in elements, byte-offset
 * pointers, beta = 0 ignores C's old contents). Runs on the calling thread plus the BLAS library's own threads.
 */
export class Blas {
  readonly name: string;

  constructor(
    private readonly heap: Heap,
    private readonly addon: Addon,
    private readonly file: string,
  ) {
    this.bind(heap.memory.buffer);
    const i = addon.info();
    this.name = `${i.corename ? `openblas-${i.corename}` : "cblas"}`;
  }

  /** Points the addon at `buf` (again after a grow: same base address, larger length; or another heap's memory). */
  private bind(buf: ArrayBufferLike): void {
    this.addon.setMemory(new Float32Array(buf));
    boundBuffer = buf;
  }

  gemm(
    tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number,
    a: number, lda: number, b: number, ldb: number, beta: number, c: number, ldc: number,
  ): void {
    const buf = this.heap.memory.buffer;
    if (buf !== boundBuffer) this.bind(buf);
    this.addon.sgemm(tA, tB, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
  }

  gemmBatched(
    tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number,
    a: number, lda: number, strideA: number, b: number, ldb: number, strideB: number,
    beta: number, c: number, ldc: number, strideC: number, batch: number,
  ): void {
    const buf = this.heap.memory.buffer;
    if (buf !== boundBuffer) this.bind(buf);
    this.addon.sgemmBatched(tA, tB, M, N, K, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch);
  }

  /** Threads the BLAS library uses per call (OpenBLAS: openblas_set_num_threads). */
  setThreads(n: number): void {
    this.addon.setThreads(n);
  }
  get threads(): number {
    return this.addon.getThreads();
  }

  get info(): BlasInfo {
    return { ...this.addon.info(), addon: this.file };
  }

  /** Measured fp32 FMA peak of this CPU in GFLOP/s with `threads` threads over about `ms` milliseconds (blocks). */
  peakGflops(threads: number, ms = 200): number {
    return this.addon.peakGflops(threads, ms);
  }
}
