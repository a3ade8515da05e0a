/**
 * The engine on a non-shared WebAssembly.Memory (a page that is not cross-origin isolated): the kernel module's
 * memory import is marked non-shared, one thread runs inline, and the results are the shared engine's bits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Heap } from '../src/engine/memory.js';
import { host } from '../src/engine/host.js';
import { createWasmKernels } from '../src/engine/wasm-kernels.js';
import { unsharedMemoryImport } from '../src/engine/wasm-unshare.js';

/** The flags byte of the module's memory import limits (0x03: has a maximum and is shared). */
function memoryImportFlags(bytes: Uint8Array<ArrayBuffer>): number {
  const mod = new WebAssembly.Module(bytes);
  assert.deepEqual(WebAssembly.Module.imports(mod).filter((i) => i.kind === 'memory').map((i) => i.name), ['memory']);
  // instantiating tells shared from non-shared: each memory kind is accepted by one module only
  const probe = (shared: boolean): boolean => {
    try {
      new WebAssembly.Instance(mod, { env: { memory: new WebAssembly.Memory({ initial: 1024, maximum: 65536, shared }) } });
      return true;
    } catch {
      return false;
    }
  };
  return (probe(true) ? 2 : 0) | (probe(false) ? 1 : 0);
}

test('the rewritten kernel module imports a non-shared memory, the original a shared one', () => {
  const bytes = host.wasmBytes('kernels.wasm');
  assert.equal(memoryImportFlags(bytes), 2);
  const unshared = unsharedMemoryImport(bytes);
  assert.equal(unshared.length, bytes.length);
  // exactly one byte differs: the limits flag 0x03 → 0x01
  const diffs = [...bytes].flatMap((b, i) => (b !== unshared[i] ? [[b, unshared[i]]] : []));
  assert.deepEqual(diffs, [[3, 1]]);
  assert.equal(memoryImportFlags(unshared), 1);
});

test('kernels on a non-shared heap run one thread and give the shared heap’s bits, across a grow', async () => {
  const M = 37, N = 53, K = 129;
  const run = async (shared: boolean): Promise<Float32Array> => {
    const heap = new Heap(1 << 30, 70 * 1024 * 1024, shared);
    const k = await createWasmKernels(heap, { threads: 3 });
    try {
      assert.equal(k.threads, shared ? 3 : 1);
      const a = heap.alloc(M * K * 4), b = heap.alloc(K * N * 4);
      heap.f32At(a, M * K).set(Float32Array.from({ length: M * K }, (_, i) => Math.sin(i)));
      heap.f32At(b, K * N).set(Float32Array.from({ length: K * N }, (_, i) => Math.cos(i * 0.7)));
      heap.alloc(64 * 1024 * 1024); // grows the memory: a non-shared buffer is replaced
      const c = heap.alloc(M * N * 4);
      k.gemm(false, false, M, N, K, 1, a, K, b, N, 0, c, N);
      k.gelu(c, c, M * N);
      return heap.f32At(c, M * N).slice();
    } finally {
      await k.close();
    }
  };
  const shared = await run(true), unshared = await run(false);
  assert.ok(shared.some((x) => x !== 0));
  assert.deepEqual(unshared, shared);
});
