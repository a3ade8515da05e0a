/**
 * The AssemblyScript SIMD kernels (src/engine/wasm, built by scripts/build-wasm.mjs into build/) behind the
 * `Kernels` contract, run over a worker pool on the heap's shared memory.
 */
import { host } from './host.js';
import { ActivationKind, type Kernels } from './kernels.js';
import { MAX_THREADS, type Heap } from './memory.js';
import { Pool } from './pool.js';
import { unsharedMemoryImport } from './wasm-unshare.js';

/** Kernel exports, in the order of their ids in the pool. */
const KERNELS = [
  'gemm', 'gemmBatched', 'peak_fma', 'gelu', 'geluBackward', 'add', 'axpy', 'scale', 'addRowVector', 'sumRows',
  'gatherRows', 'scatterAddRows', 'layerNorm', 'layerNormBackward', 'layerNormParamGrad', 'softmaxRows',
  'attention', 'attentionBackward', 'headGradDeposit', 'rmsNorm', 'rmsNormBackward', 'activation', 'activationBackward',
  'erf', 'widenBf16',
] as const;
type KernelName = (typeof KERNELS)[number];
const ID = Object.fromEntries(KERNELS.map((k, i) => [k, i])) as Record<KernelName, number>;

// Below these sizes a call runs on the main thread only: waking the workers would cost more than it saves.
const PAR_FLOPS = 1 << 19;
const PAR_ELEMS = 1 << 15;

export interface WasmKernelOptions {
  /** Threads including the main thread (default os.availableParallelism(), at most MAX_THREADS). */
  threads?: number;
  /** Use the relaxed-SIMD (FMA) module when the runtime supports it (default true; env EAPGP_NO_RELAXED_SIMD=1 disables). */
  relaxed?: boolean;
}

const b = (x: boolean): number => (x ? 1 : 0);

export class WasmKernels implements Kernels {
  readonly name: string;

  private constructor(
    private readonly pool: Pool,
    /** Threads including the main thread. */
    readonly threads: number,
    /** Whether the relaxed-SIMD module (fused multiply-add) is the one running. */
    readonly relaxedSimd: boolean,
  ) {
    this.name = `wasm-${relaxedSimd ? 'relaxed-simd' : 'simd'} x${threads} thread${threads === 1 ? '' : 's'}`;
  }

  /** @internal use createWasmKernels */
  static async create(heap: Heap, opts: WasmKernelOptions): Promise<WasmKernels> {
    const want = opts.threads ?? host.cores();
    const shared = isShared(heap.memory);
    // threads need a shared memory; on a non-shared one (a page that is not cross-origin isolated) one thread runs
    const threads = shared ? Math.max(1, Math.min(MAX_THREADS, Math.floor(want))) : 1;
    const { module, relaxed } = compileKernels(opts.relaxed !== false && host.env('EAPGP_NO_RELAXED_SIMD') !== '1', shared);
    const pool = await Pool.create(module, heap.memory, KERNELS, threads);
    return new WasmKernels(pool, threads, relaxed);
  }

  private run(k: KernelName, parallel: boolean, args: number[]): unknown {
    return this.pool.run(ID[k], args, parallel);
  }

  gemm(
    tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number,
    a: number, lda: number, b_: number, ldb: number, beta: number, c: number, ldc: number,
  ): void {
    this.run('gemm', 2 * M * N * K >= PAR_FLOPS, [b(tA), b(tB), M, N, K, alpha, a, lda, b_, ldb, beta, c, ldc]);
  }

  gemmBatched(
    tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number,
    a: number, lda: number, strideA: number, b_: number, ldb: number, strideB: number,
    beta: number, c: number, ldc: number, strideC: number, batch: number,
  ): void {
    this.run('gemmBatched', 2 * M * N * K * batch >= PAR_FLOPS,
      [b(tA), b(tB), M, N, K, alpha, a, lda, strideA, b_, ldb, strideB, beta, c, ldc, strideC, batch]);
  }

  layerNorm(x: number, gamma: number, beta: number, y: number, mean: number, rstd: number, rows: number, D: number, eps: number): void {
    this.run('layerNorm', rows > 1 && rows * D >= PAR_ELEMS, [x, gamma, beta, y, mean, rstd, rows, D, eps]);
  }

  layerNormBackward(
    dy: number, x: number, gamma: number, mean: number, rstd: number, dx: number, accumulate: boolean, dxAcc: number,
    rows: number, D: number,
  ): void {
    this.run('layerNormBackward', rows > 1 && rows * D >= PAR_ELEMS, [dy, x, gamma, mean, rstd, dx, b(accumulate), dxAcc, rows, D]);
  }

  rmsNorm(x: number, gamma: number, offset: number, y: number, rstd: number, rows: number, D: number, eps: number): void {
    this.run('rmsNorm', rows > 1 && rows * D >= PAR_ELEMS, [x, gamma, offset, y, rstd, rows, D, eps]);
  }

  rmsNormBackward(
    dy: number, x: number, gamma: number, offset: number, rstd: number, dx: number, accumulate: boolean, dxAcc: number,
    rows: number, D: number,
  ): void {
    this.run('rmsNormBackward', rows > 1 && rows * D >= PAR_ELEMS, [dy, x, gamma, offset, rstd, dx, b(accumulate), dxAcc, rows, D]);
  }

  headGradDeposit(
    g: number, rstd: number, y: number, cvec: number, offs: number, U: number, A: number, Wt: number,
    rows: number, cols: number, seg: number, alpha: number, accumulate: boolean,
  ): void {
    this.run('headGradDeposit', rows > 1 && rows * cols >= PAR_ELEMS, [g, rstd, y, cvec, offs, U, A, Wt, rows, cols, seg, alpha, b(accumulate)]);
  }

  layerNormParamGrad(dy: number, x: number, mean: number, rstd: number, dgamma: number, dbeta: number, rows: number, D: number): void {
    this.run('layerNormParamGrad', D >= 32 && rows * D >= PAR_ELEMS, [dy, x, mean, rstd, dgamma, dbeta, rows, D]);
  }

  gelu(x: number, y: number, n: number): void {
    this.run('gelu', n >= PAR_ELEMS / 4, [x, y, n]);
  }

  geluBackward(x: number, dy: number, dx: number, n: number, accumulate: boolean): void {
    this.run('geluBackward', n >= PAR_ELEMS / 4, [x, dy, dx, n, b(accumulate)]);
  }

  activation(kind: ActivationKind, x: number, up: number, out: number, n: number): void {
    // ReLU costs what add does; the others an exp (and erf GELU a rational) per element, like gelu
    this.run('activation', n >= (kind === ActivationKind.Relu ? PAR_ELEMS : PAR_ELEMS / 4), [kind, x, up, out, n]);
  }

  activationBackward(kind: ActivationKind, x: number, up: number, dy: number, dx: number, dup: number, n: number): void {
    this.run('activationBackward', n >= (kind === ActivationKind.Relu ? PAR_ELEMS : PAR_ELEMS / 4), [kind, x, up, dy, dx, dup, n]);
  }

  /** y = erf(x) as the erf GELU activation computes it, n elements (not in the contract: for its accuracy test). */
  erf(x: number, y: number, n: number): void {
    this.run('erf', n >= PAR_ELEMS / 4, [x, y, n]);
  }

  widenBf16(src: number, dst: number, n: number): void {
    this.run('widenBf16', n >= PAR_ELEMS, [src, dst, n]);
  }

  add(a: number, b_: number, out: number, n: number): void {
    this.run('add', n >= PAR_ELEMS, [a, b_, out, n]);
  }

  axpy(alpha: number, x: number, y: number, n: number): void {
    this.run('axpy', n >= PAR_ELEMS, [alpha, x, y, n]);
  }

  scale(x: number, alpha: number, out: number, n: number): void {
    this.run('scale', n >= PAR_ELEMS, [x, alpha, out, n]);
  }

  addRowVector(x: number, v: number, out: number, rows: number, cols: number): void {
    this.run('addRowVector', rows > 1 && rows * cols >= PAR_ELEMS, [x, v, out, rows, cols]);
  }

  sumRows(x: number, out: number, rows: number, cols: number, accumulate: boolean): void {
    this.run('sumRows', cols >= 32 && rows * cols >= PAR_ELEMS, [x, out, rows, cols, b(accumulate)]);
  }

  sumStacked(x: number, out: number, count: number, n: number, accumulate: boolean): void {
    // the same computation as a column sum of a count × n matrix
    this.sumRows(x, out, count, n, accumulate);
  }

  gatherRows(idx: number, table: number, out: number, n: number, D: number): void {
    this.run('gatherRows', n > 1 && n * D >= PAR_ELEMS, [idx, table, out, n, D]);
  }

  scatterAddRows(idx: number, src: number, table: number, n: number, D: number): void {
    this.run('scatterAddRows', D >= 32 && n * D >= PAR_ELEMS, [idx, src, table, n, D]);
  }

  attention(qkv: number, z: number, probs: number, B: number, P: number, H: number, dh: number, scale: number): void {
    this.run('attention', B * H > 1 && B * H * P * P * dh >= PAR_FLOPS, [qkv, z, probs, B, P, H, dh, scale]);
  }

  attentionBackward(dz: number, qkv: number, probs: number, dqkv: number, B: number, P: number, H: number, dh: number, scale: number): void {
    this.run('attentionBackward', B * H > 1 && B * H * P * P * dh >= PAR_FLOPS, [dz, qkv, probs, dqkv, B, P, H, dh, scale]);
  }

  softmaxRows(x: number, out: number, rows: number, cols: number): void {
    this.run('softmaxRows', rows > 1 && rows * cols >= PAR_ELEMS, [x, out, rows, cols]);
  }

  /**
   * Measured peak of the wasm SIMD multiply-add in GFLOP/s on all threads together: each thread runs
   * independent register-held FMA chains (relaxed_madd, or mul + add without relaxed SIMD) for about `ms`.
   */
  measurePeakGflops(ms = 200): number {
    const flopsPerIter = 96; // 12 chains × 4 lanes × 2 flop
    this.run('peak_fma', false, [1e5]); // warm-up
    let iters = 1e6;
    const t0 = performance.now();
    this.run('peak_fma', false, [iters]);
    const dt = Math.max(1e-3, performance.now() - t0);
    iters = Math.max(1e5, Math.round((iters * ms) / dt / 3));
    // best of three thirds: the probe has no memory traffic, so slower runs only mean interference
    let best = 0;
    for (let r = 0; r < 3; r++) {
      const t1 = performance.now();
      this.run('peak_fma', true, [iters]);
      const t = (performance.now() - t1) / 1000;
      best = Math.max(best, (this.threads * iters * flopsPerIter) / t / 1e9);
    }
    return best;
  }

  /** Stops the worker threads. The kernels must not be used afterwards. */
  close(): Promise<void> {
    return this.pool.close();
  }
}

/** Starts the WebAssembly kernels on `heap`'s memory with a pool of `threads` threads (main thread included). */
export async function createWasmKernels(heap: Heap, opts: WasmKernelOptions = {}): Promise<WasmKernels> {
  return WasmKernels.create(heap, opts);
}

let flagsSet = false;

/** Whether a memory is shared (its buffer is a SharedArrayBuffer, where that type exists at all). */
function isShared(memory: WebAssembly.Memory): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
}

/**
 * Compiles the relaxed-SIMD module when wanted and valid here, else the SIMD128 one; for a non-shared memory
 * with its memory import marked non-shared (the modules are built for a shared one).
 */
function compileKernels(wantRelaxed: boolean, shared: boolean): { module: WebAssembly.Module; relaxed: boolean } {
  if (!flagsSet) {
    host.beforeCompile();
    flagsSet = true;
  }
  const load = (file: string): Uint8Array<ArrayBuffer> => {
    const bytes = host.wasmBytes(file);
    return shared ? bytes : unsharedMemoryImport(bytes);
  };
  if (wantRelaxed) {
    const bytes = load('kernels-relaxed.wasm');
    if (!WebAssembly.validate(bytes)) host.enableRelaxedSimd();
    if (WebAssembly.validate(bytes)) return { module: new WebAssembly.Module(bytes), relaxed: true };
  }
  return { module: new WebAssembly.Module(load('kernels.wasm')), relaxed: false };
}
