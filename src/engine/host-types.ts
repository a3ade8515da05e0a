/**
 * What the engine needs from the runtime it runs in: cores, whether threads can share memory, the kernels'
 * .wasm bytes, kernel threads, settings and the optional BLAS addon. Node implements it in ./host.ts, a
 * browser worker in ./host-browser.ts; the site build (scripts/build-site.mjs) swaps one module for the other,
 * so the engine itself has one code path.
 */
import type { BlasLoad } from './blas.js';
import type { Heap } from './memory.js';
import type { WorkerInit } from './pool.js';

/** A started kernel thread. */
export interface KernelThread {
  terminate(): Promise<unknown> | void;
}

export interface EngineHost {
  /** Cores the compute threads may use. */
  cores(): number;
  /**
   * Whether memory can be shared between threads (SharedArrayBuffer, shared WebAssembly.Memory, Atomics.wait):
   * always in Node, in a page only when it is cross-origin isolated. Without it the engine runs one thread on a
   * non-shared memory.
   */
  sharedMemory(): boolean;
  /** The bytes of a kernel module of build/ ('kernels.wasm', 'kernels-relaxed.wasm'). */
  wasmBytes(file: string): Uint8Array<ArrayBuffer>;
  /** Makes the runtime accept relaxed SIMD if it has it behind a flag (Node 20); called before validating. */
  enableRelaxedSimd(): void;
  /** Called once before the first kernel module is compiled. */
  beforeCompile(): void;
  /** Starts kernel thread init.tid; resolves once it is ready for calls. */
  startThread(init: WorkerInit): Promise<KernelThread>;
  /** A setting from the environment (EAPGP_GEMM, EAPGP_NO_RELAXED_SIMD); undefined where there is none. */
  env(name: string): string | undefined;
  /** The native BLAS addon for `heap`, or why there is none. */
  loadBlas(heap: Heap): Promise<BlasLoad>;
}
