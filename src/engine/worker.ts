/**
 * Kernel worker thread (see pool.ts): instantiates the kernel module on the shared memory, then loops:
 * wait for a new sequence number, run kernel(...args, tid, nthreads), count itself done.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ARGS_BYTE_OFFSET, Ctrl, MAX_ARGS, SPIN, type WorkerInit } from './pool.js';

const { module, memory, control, tid, kernels } = workerData as WorkerInit;
const { exports } = new WebAssembly.Instance(module, { env: { memory } });
const fns = kernels.map((k) => exports[k] as (...args: number[]) => unknown);
const ctrl = new Int32Array(control, 0, ARGS_BYTE_OFFSET / 4);
const argv = new Float64Array(control, ARGS_BYTE_OFFSET, MAX_ARGS);

// read the sequence number before reporting ready: the first call may follow at once
let seen = Atomics.load(ctrl, Ctrl.Seq);
parentPort!.postMessage('ready');
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
