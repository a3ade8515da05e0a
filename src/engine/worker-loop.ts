/**
 * The loop of a kernel thread (see pool.ts), whatever starts the thread: instantiates the kernel module on the
 * shared memory, then waits for a new sequence number, runs kernel(...args, tid, nthreads), counts itself done.
 */
import { ARGS_BYTE_OFFSET, Ctrl, MAX_ARGS, SPIN, type WorkerInit } from './pool.js';

/** Runs until the pool quits; `ready` is called once the thread can take calls. */
export function runKernelThread({ module, memory, control, tid, kernels }: WorkerInit, ready: () => void): void {
  const { exports } = new WebAssembly.Instance(module, { env: { memory } });
  const fns = kernels.map((k) => exports[k] as (...args: number[]) => unknown);
  const ctrl = new Int32Array(control, 0, ARGS_BYTE_OFFSET / 4);
  const argv = new Float64Array(control, ARGS_BYTE_OFFSET, MAX_ARGS);

  // read the sequence number before reporting ready: the first call may follow at once
  let seen = Atomics.load(ctrl, Ctrl.Seq);
  ready();
  for (;;) {
    // spin briefly (back-to-back kernels), then sleep until the next call
    let spins = 0;
    let seq = Atomics.load(ctrl, Ctrl.Seq);
    while (seq === seen) {
      if (++spins > SPIN) Atomics.wait(ctrl, Ctrl.Seq, seen);
      seq = Atomics.load(ctrl, Ctrl.Seq);
    }
    seen = seq;
    if (Atomics.load(ctrl, Ctrl.Quit)) break;
    const n = ctrl[Ctrl.NThreads]!;
    const args = Array.from(argv.subarray(0, ctrl[Ctrl.NArgs]!));
    try {
      fns[ctrl[Ctrl.Kernel]!]!(...args, tid, n);
    } catch {
      Atomics.store(ctrl, Ctrl.Error, 1);
    }
    if (Atomics.add(ctrl, Ctrl.Done, 1) + 1 === n - 1) Atomics.notify(ctrl, Ctrl.Done);
  }
}
