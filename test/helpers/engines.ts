/** The engines a numeric test runs on: always the plain reference kernels, plus every fast path this machine has. */
import { createEngine, type Engine, type EngineOptions } from '../../src/engine/engine.js';
import { GPU } from './gpu.js';

export interface NamedEngine {
  label: string;
  opts: EngineOptions;
}

export const ENGINE_VARIANTS: NamedEngine[] = [
  { label: 'reference', opts: { gemm: 'reference' } },
  { label: 'wasm 2 threads', opts: { gemm: 'wasm', threads: 2, device: 'cpu' } },
  { label: 'auto (BLAS if built) 2 threads', opts: { gemm: 'auto', threads: 2, device: 'cpu' } },
  // any adapter, lavapipe included (EAPGP_REQUIRE_GPU=1 makes a missing one an error, see ./gpu.ts)
  ...(GPU.available ? [{ label: 'webgpu', opts: { device: 'gpu' } } satisfies NamedEngine] : []),
];

export async function withEngine<T>(opts: EngineOptions, fn: (e: Engine) => Promise<T> | T): Promise<T> {
  const e = await createEngine(opts);
  try {
    return await fn(e);
  } finally {
    await e.close();
  }
}
