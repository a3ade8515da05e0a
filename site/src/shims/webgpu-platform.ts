/**
 * The page's stand-in for src/engine/webgpu/platform.ts (Node: Dawn through the `webgpu` package, a worker thread):
 * the page has no GPU worker yet, so `--device auto` falls back to the WebAssembly kernels there and says why.
 */
import type { WebGpuModule, WorkerLink } from '../../../src/engine/webgpu/platform.js';

export type { WebGpuModule, WorkerLink };

const NO_GPU_WORKER = 'the page runs the WebAssembly kernels (its WebGPU worker is not built yet)';

export async function loadWebGpu(): Promise<{ ok: false; reason: string }> {
  return { ok: false, reason: NO_GPU_WORKER };
}

/** `--device auto` asks this before starting Dawn; in the page the answer is always no. */
export function noHardwareVulkan(): string {
  return NO_GPU_WORKER;
}

export function startWorker(): WorkerLink {
  throw new Error('the page has no GPU worker');
}

export function workerEndpoint(): void {
  throw new Error('the page has no GPU worker');
}
