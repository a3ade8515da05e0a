/**
 * The page's stand-in for src/engine/webgpu/platform.ts (Node: Dawn through the `webgpu` package, a worker thread):
 * the page has no GPU worker yet, so `--device auto` falls back to the WebAssembly kernels there and says why.
 */
import type { WebGpuModule, WorkerLink } from '../../../src/engine/webgpu/platform.js';

export type { WebGpuModule, WorkerLink };

export async function loadWebGpu(): Promise<{ ok: false; reason: string }> {
  return { ok: false, reason: 'the page runs the WebAssembly kernels (its WebGPU worker is not built yet)' };
}

export function startWorker(): WorkerLink {
  throw new Error('the page has no GPU worker');
}

export function workerEndpoint(): void {
  throw new Error('the page has no GPU worker');
}
