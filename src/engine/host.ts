/** The engine's host in Node (see ./host-types.ts): worker_threads, build/*.wasm from disk, V8 flags, the BLAS addon. */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { Worker } from 'node:worker_threads';
import type { EngineHost } from './host-types.js';

/** build/<file> at the package root (dist/src/engine → ../../..), or next to src when run from sources. */
function wasmPath(file: string): string {
  for (const rel of ['../../../build/', '../../build/']) {
    const p = fileURLToPath(new URL(rel + file, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error(`eap-gp: ${file} not found; run \`npm run build:wasm\``);
}

export const host: EngineHost = {
  cores: () => availableParallelism(),
  sharedMemory: () => true,
  wasmBytes: (file) => new Uint8Array(readFileSync(wasmPath(file))),
  // Node 20 (V8 11.3) ships relaxed SIMD behind a flag; the flag must be set before compiling
  enableRelaxedSimd: () => v8.setFlagsFromString('--experimental-wasm-relaxed-simd'),
  // Liftoff (the baseline tier) would run long first calls ~5× slower: a wasm call never tiers up mid-way.
  beforeCompile: () => v8.setFlagsFromString('--no-liftoff'),
  async startThread(init) {
    const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: init });
    try {
      await new Promise<void>((resolve, reject) => {
        w.once('message', () => resolve());
        w.once('error', reject);
        w.once('exit', (code) => reject(new Error(`kernel worker exited during start-up (code ${code})`)));
      });
    } catch (e) {
      await w.terminate();
      throw e;
    }
    // workers must not keep the process alive if the user forgets close()
    w.removeAllListeners();
    w.unref();
    return w;
  },
  env: (name) => process.env[name],
  loadBlas: async (heap) => (await import('./blas.js')).loadBlas(heap),
};
