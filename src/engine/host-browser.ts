/**
 * The engine's host in a browser's dedicated worker (see ./host-types.ts; the site build puts this module in
 * place of ./host.ts). Threads need a cross-origin isolated page (SharedArrayBuffer, Atomics.wait in workers);
 * kernel threads are nested module workers; the .wasm bytes are fetched before the engine starts.
 */
import type { EngineHost } from './host-types.js';

const config = { wasm: new Map<string, Uint8Array<ArrayBuffer>>(), threadUrl: '' };

/** Gives the host the fetched kernel modules and the URL of the kernel-thread script; call before createEngine. */
export function configureBrowserHost(wasm: Record<string, Uint8Array<ArrayBuffer>>, threadUrl: string): void {
  config.wasm = new Map(Object.entries(wasm));
  config.threadUrl = threadUrl;
}

export const host: EngineHost = {
  cores: () => navigator.hardwareConcurrency || 1,
  sharedMemory: () => (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true && typeof SharedArrayBuffer !== 'undefined',
  wasmBytes(file) {
    const b = config.wasm.get(file);
    if (!b) throw new Error(`kernel module ${file} was not loaded (configureBrowserHost)`);
    return b;
  },
  enableRelaxedSimd() {},
  beforeCompile() {},
  startThread(init) {
    const w = new Worker(config.threadUrl, { type: 'module', name: `kernels-${init.tid}` });
    return new Promise((resolve, reject) => {
      w.onmessage = () => resolve(w);
      w.onerror = (ev) => (w.terminate(), reject(new Error(`kernel thread ${init.tid} failed to start: ${ev.message}`)));
      w.postMessage(init);
    });
  },
  env: () => undefined,
  loadBlas: async () => ({ ok: false, reason: 'no native addon in a browser' }),
};
