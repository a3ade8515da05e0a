/** Kernel worker thread in Node (see pool.ts and worker-loop.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerInit } from './pool.js';
import { runKernelThread } from './worker-loop.js';

runKernelThread(workerData as WorkerInit, () => parentPort!.postMessage('ready'));
