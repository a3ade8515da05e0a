/**
 * Whether this machine has a WebGPU adapter the tests can use (software ones included: CI runs on lavapipe),
 * probed once per test process. EAPGP_REQUIRE_GPU=1 turns "no adapter" into a failure instead of a skip.
 */
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { Heap } from '../../src/engine/memory.js';
import { GpuKernels } from '../../src/engine/webgpu/gpu-kernels.js';

export interface GpuProbe {
  available: boolean;
  reason: string;
}

async function probe(): Promise<GpuProbe> {
  const got = await GpuKernels.create(new Heap(undefined, 64 * 1024 * 1024 + 65536));
  if (!got.ok) return { available: false, reason: got.reason };
  const name = got.kernels.name;
  await got.kernels.close();
  return { available: true, reason: name };
}

export const GPU: GpuProbe = await probe();

if (!GPU.available && process.env.EAPGP_REQUIRE_GPU === '1') {
  throw new Error(`EAPGP_REQUIRE_GPU=1 but no WebGPU adapter: ${GPU.reason} (install mesa-vulkan-drivers for lavapipe, or a GPU driver)`);
}

/** node:test's `skip` option: false when the GPU tests can run, else why not. */
export const skipWithoutGpu: string | false = GPU.available ? false : `no WebGPU adapter (${GPU.reason})`;

/**
 * WebGPU kernels on `heap` for a test file: started by the first call (await it in the file's `before`; node:test
 * does not order a file's root hooks), closed after the file's tests. Undefined without an adapter.
 */
export function gpuKernelsOn(heap: Heap): () => Promise<GpuKernels | undefined> {
  let started: Promise<GpuKernels | undefined> | undefined;
  after(async () => (await started)?.close());
  return () =>
    (started ??= GPU.available
      ? GpuKernels.create(heap).then((got) => {
          assert.ok(got.ok, got.ok ? '' : got.reason);
          return got.kernels;
        })
      : Promise.resolve(undefined));
}
