/**
 * A page's worker for test/site-webgpu.test.ts, which bundles it with the browser's WebGPU platform: the WebGPU
 * kernels on a shared heap run one kernel that works (a fill, read back) and one whose WGSL does not compile, and
 * it posts what the engine's side saw. The second error is raised in the GPU worker, so its text reaches this
 * thread only through the platform's shared reply buffer (this thread is blocked in Atomics.wait meanwhile).
 */
import { Heap } from '../../src/engine/memory.js';
import { GpuKernels } from '../../src/engine/webgpu/gpu-kernels.js';

// node --test also runs this file (it runs every file under dist/test): there it only sets a handler nobody calls
const scope = globalThis as unknown as { onmessage: unknown; postMessage(m: unknown): void };

scope.onmessage = async () => {
  const heap = new Heap(undefined, 8 * 1024 * 1024);
  const got = await GpuKernels.create(heap);
  if (!got.ok) return scope.postMessage({ error: `no WebGPU kernels: ${got.reason}` });
  const k = got.kernels;
  const ptr = heap.alloc(64);
  heap.fillF32(ptr, 16, 2.5);
  const filled = Array.from(heap.f32Copy(ptr, 16));
  let failure = 'no error';
  try {
    k.enqueue('broken', [{ shader: { name: 'broken', wgsl: 'fn main( {' }, buffers: [{ ptr, bytes: 64 }], params: [], workgroups: [1, 1, 1] }]);
    k.flush();
  } catch (err) {
    failure = (err as Error).message;
  }
  await k.close();
  scope.postMessage({ filled, failure });
};
