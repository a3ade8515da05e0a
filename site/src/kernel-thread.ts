/** A kernel thread of the engine in the page (src/engine/worker-loop.ts), started by src/engine/host-browser.ts. */
import type { WorkerInit } from '../../src/engine/pool.js';
import { runKernelThread } from '../../src/engine/worker-loop.js';

self.onmessage = (ev: MessageEvent<WorkerInit>) => {
  self.onmessage = null;
  runKernelThread(ev.data, () => self.postMessage('ready'));
};
