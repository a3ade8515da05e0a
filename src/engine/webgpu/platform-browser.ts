/**
 * The WebGPU backend's platform in a browser page (scripts/build-site.mjs puts this file in place of ./platform.ts):
 * WebGPU is the worker's own navigator.gpu; the GPU worker is a module Web Worker running the same gpu-worker.ts,
 * bundled as gpu-worker.js beside the engine's worker; and its error reply comes back through a SharedArrayBuffer,
 * since the engine's thread is blocked in Atomics.wait while a batch runs and cannot receive a message.
 */
/// <reference types="@webgpu/types" />
import type { WebGpuModule, WorkerLink } from './platform.js';

export type { WebGpuModule, WorkerLink };

/** The reply buffer: a byte count, then that many bytes of JSON (an error message, cut to fit). */
const REPLY_BYTES = 64 * 1024;

const NO_ADAPTER =
  'the browser offers no WebGPU adapter (navigator.gpu.requestAdapter() gave none: no GPU it supports here; ' +
  'Chromium on Linux offers its SwiftShader adapter with --enable-unsafe-webgpu)';

/** Why this page cannot run a GPU worker at all, or null. */
function unavailable(): string | null {
  if (!(globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated || typeof SharedArrayBuffer === 'undefined') {
    return 'the page is not cross-origin isolated, and the GPU worker shares the engine\'s memory through SharedArrayBuffer ' +
      '(serve the page with the COOP/COEP headers, or let its service worker add them)';
  }
  if (!(navigator as { gpu?: GPU }).gpu) return 'this browser has no WebGPU (navigator.gpu is missing)';
  return null;
}

/** Inside the GPU worker: the browser's WebGPU. */
export async function loadWebGpu(): Promise<{ ok: true; module: WebGpuModule } | { ok: false; reason: string }> {
  const gpu = (navigator as { gpu?: GPU }).gpu;
  if (!gpu) return { ok: false, reason: 'this browser has no WebGPU in workers (navigator.gpu is missing)' };
  return { ok: true, module: { gpu, globals: { GPUBufferUsage, GPUShaderStage, GPUMapMode }, noAdapter: NO_ADAPTER } };
}

/**
 * Whether `auto` can skip starting a GPU worker: only when the page cannot run one. Whether the adapter is
 * hardware is known only from requestAdapter() inside the worker (the engine then refuses a software one).
 */
export function noHardwareVulkan(): string | null {
  return unavailable();
}

/** The page's device choice `gpu` found no adapter. */
export function noAdapterMessage(reason: string): string {
  return `device gpu: no WebGPU: ${reason}. Choose the device auto or cpu (WebAssembly), or open the page in a browser with WebGPU on a GPU it supports`;
}

export function startWorker(): WorkerLink {
  const why = unavailable();
  if (why) throw new Error(why);
  const worker = new Worker(new URL('./gpu-worker.js', import.meta.url), { type: 'module', name: 'webgpu' });
  const reply = new SharedArrayBuffer(REPLY_BYTES);
  const length = new Int32Array(reply, 0, 1);
  worker.postMessage({ type: 'port', reply });
  let failed: string | null = null;
  worker.addEventListener('error', (ev) => (failed = ev.message || 'the GPU worker failed to load'));
  return {
    post: (msg) => worker.postMessage(msg),
    takeReply: () => {
      const n = Atomics.exchange(length, 0, 0);
      if (n === 0) return failed ? { error: failed } : undefined;
      // TextDecoder does not read shared memory: copy the bytes out first
      return JSON.parse(new TextDecoder().decode(new Uint8Array(reply, 4, n).slice())) as unknown;
    },
    next: () =>
      new Promise((resolve, reject) => {
        const done = (): void => (worker.removeEventListener('message', ok), worker.removeEventListener('error', bad));
        const ok = (ev: MessageEvent): void => (done(), resolve(ev.data));
        const bad = (ev: ErrorEvent): void => (done(), reject(new Error(ev.message || 'the GPU worker failed to load')));
        worker.addEventListener('message', ok);
        worker.addEventListener('error', bad);
      }),
    terminate: async () => worker.terminate(),
  };
}

/** The GPU worker's side: messages from the engine's thread; error replies go into the shared reply buffer. */
export function workerEndpoint(onMessage: (msg: unknown, reply: (m: unknown) => void, send: (m: unknown) => void) => void): void {
  let reply: SharedArrayBuffer | null = null;
  self.onmessage = (ev: MessageEvent<{ type?: string; reply?: SharedArrayBuffer }>) => {
    if (ev.data?.type === 'port') {
      reply = ev.data.reply!;
      return;
    }
    onMessage(ev.data, (m) => writeReply(reply!, m), (m) => self.postMessage(m));
  };
}

function writeReply(buf: SharedArrayBuffer, m: unknown): void {
  let bytes = new TextEncoder().encode(JSON.stringify(m));
  if (bytes.length > buf.byteLength - 4) {
    const { error } = m as { error?: string };
    bytes = new TextEncoder().encode(JSON.stringify({ error: `${String(error).slice(0, (buf.byteLength - 64) / 8)} …` }));
  }
  new Uint8Array(buf, 4, bytes.length).set(bytes);
  // the engine's thread reads it after the worker's Atomics.store of the state word, which orders this write before
  Atomics.store(new Int32Array(buf, 0, 1), 0, bytes.length);
}

/**
 * A Web Worker ends only when it is terminated, together with the engine's worker that started it, so nothing
 * can be left waiting on it: nothing to do.
 */
export function onWorkerEnd(_fn: () => void): void {}
