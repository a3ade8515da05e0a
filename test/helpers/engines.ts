/** The engines a numeric test runs on: always the plain reference kernels, plus every fast path this machine has. */
import { createEngine, type Engine, type EngineOptions } from '../../src/engine/engine.js';

export interface NamedEngine {
  label: string;
  opts: EngineOptions;
}

export const ENGINE_VARIANTS: NamedEngine[] = [
  { label: 'reference', opts: { gemm: 'reference' } },
  { label: 'wasm 2 threads', opts: { gemm: 'wasm', threads: 2 } },
  { label: 'auto (BLAS if built) 2 threads', opts: { gemm: 'auto', threads: 2 } },
];

export async function withEngine<T>(opts: EngineOptions, fn: (e: Engine) => Promise<T> | T): Promise<T> {
  const e = await createEngine(opts);
  try {
    return await fn(e);
  } finally {
    await e.close();
  }
}
