/**
 * Worker pool for the WebAssembly kernels. The main thread is thread 0 and computes too; threads 1..n−1 are
 * workers running the same compiled module on the same shared memory. A call is dispatched through a control
 * SharedArrayBuffer (kernel id, arguments, sequence number) and Atomics.notify/wait, not postMessage, so the
 * overhead per call stays in the microseconds.
 */
import { host } from './host.js';
import type { KernelThread } from './host-types.js';

/** Int32 slots of the control block. */
export const enum Ctrl {
  Seq = 0, // bumped once per parallel call; workers wait on it
  Done = 1, // workers that finished the current call
  Kernel = 2, // index into the kernel-name list
  NArgs = 3,
  NThreads = 4,
  Quit = 5,
  Error = 6, // 1 when a worker's kernel threw (e.g. a trap on a bad pointer)
}
/** The arguments live as float64 after the int32 slots (exact for f32 values and u32 offsets). */
export const ARGS_BYTE_OFFSET = 64;
export const MAX_ARGS = 32;
export const CONTROL_BYTES = ARGS_BYTE_OFFSET + MAX_ARGS * 8;
/** Iterations a thread spins on the control block before blocking in Atomics.wait (tens of microseconds). */
export const SPIN = 20000;

/** Data every worker receives at start. */
export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  tid: number;
  kernels: readonly string[];
}

type KernelFn = (...args: number[]) => unknown;

export class Pool {
  private readonly ctrl: Int32Array;
  private readonly args: Float64Array;
  private readonly fns: KernelFn[];
  private closed = false;

  private constructor(
    readonly threads: number,
    private readonly control: ArrayBufferLike,
    private readonly workers: KernelThread[],
    exports: WebAssembly.Exports,
    readonly kernels: readonly string[],
  ) {
    this.ctrl = new Int32Array(control, 0, ARGS_BYTE_OFFSET / 4);
    this.args = new Float64Array(control, ARGS_BYTE_OFFSET, MAX_ARGS);
    this.fns = kernels.map((k) => exports[k] as KernelFn);
  }

  /**
   * Instantiates `module` on this thread and starts threads − 1 kernel threads; resolves when all are ready.
   * One thread needs no shared control block (the calls run inline), so it also works where memory cannot be shared.
   */
  static async create(module: WebAssembly.Module, memory: WebAssembly.Memory, kernels: readonly string[], threads: number): Promise<Pool> {
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    const control = threads > 1 ? new SharedArrayBuffer(CONTROL_BYTES) : new ArrayBuffer(CONTROL_BYTES);
    const started = await Promise.allSettled(
      Array.from({ length: threads - 1 }, (_, i) => host.startThread({ module, memory, control: control as SharedArrayBuffer, tid: i + 1, kernels })),
    );
    const workers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw failed.reason;
    }
    return new Pool(threads, control, workers, instance.exports, kernels);
  }

  /**
   * Runs kernel `id` as kernel(...args, tid, n) on n = `threads` threads (parallel) or on the main thread only
   * as kernel(...args, 0, 1); returns the main thread's result. Blocks until every thread has finished.
   */
  run(id: number, args: number[], parallel: boolean): unknown {
    const fn = this.fns[id]!;
    const n = this.threads;
    if (!parallel || n === 1) return fn(...args, 0, 1);
    if (this.closed) throw new Error('kernel pool is closed');
    const ctrl = this.ctrl;
    this.args.set(args);
    ctrl[Ctrl.Kernel] = id;
    ctrl[Ctrl.NArgs] = args.length;
    ctrl[Ctrl.NThreads] = n;
    Atomics.store(ctrl, Ctrl.Done, 0);
    Atomics.add(ctrl, Ctrl.Seq, 1);
    Atomics.notify(ctrl, Ctrl.Seq);
    let result: unknown;
    let failure: unknown = null;
    try {
      result = fn(...args, 0, n);
    } catch (e) {
      failure = e;
    }
    // wait for the workers even after a failure here: they still use the arguments
    const want = n - 1;
    let spins = 0;
    for (let done = Atomics.load(ctrl, Ctrl.Done); done < want; done = Atomics.load(ctrl, Ctrl.Done)) {
      if (++spins > SPIN) Atomics.wait(ctrl, Ctrl.Done, done);
    }
    if (failure) throw failure;
    if (Atomics.exchange(ctrl, Ctrl.Error, 0) !== 0) throw new Error(`kernel ${this.kernels[id]} failed on a worker thread`);
    return result;
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctrl, Ctrl.Quit, 1);
    Atomics.add(this.ctrl, Ctrl.Seq, 1);
    Atomics.notify(this.ctrl, Ctrl.Seq);
    await Promise.all(this.workers.map((w) => w.terminate()));
    void this.control;
  }
}
