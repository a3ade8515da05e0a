/**
 * The WebGPU kernels against ReferenceKernels on one shared heap, the coherence layer between the host and the
 * GPU's heap mirror, and determinism. Runs on any adapter (CI: lavapipe); skipped without one unless
 * EAPGP_REQUIRE_GPU=1 (then test/helpers/gpu.ts fails).
 *
 * Tolerances (u = 2⁻²⁴): the reference accumulates in float64 and rounds once. A float32 sum of n terms errs by
 * at most ≈ n·u·Σ|terms| whatever its order (Higham's γₙ), which bounds the GEMM (n = K, each output one
 * sequential fused sum) and the column sums. Elementwise functions go through the GPU's exp, whose Vulkan error
 * bound is 3 + 2·|x| ulp: a few ulp of the result for the arguments here, so they get 1e-5·max|ref| (the
 * bound the backend promises for elementwise kernels). Copies, gathers, the scatter and add are exact.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Heap } from '../src/engine/memory.js';
import { ActivationKind, type Kernels } from '../src/engine/kernels.js';
import { ReferenceKernels } from '../src/engine/reference.js';
import { createEngine } from '../src/engine/engine.js';
import { GpuKernels } from '../src/engine/webgpu/gpu-kernels.js';
import { gemmBatchedOp } from '../src/engine/webgpu/ops/gemm.js';
import { addOp, scaleOp } from '../src/engine/webgpu/ops/elementwise.js';
import { layerNormParamGrad as layerNormParamGradOp } from '../src/engine/webgpu/ops/norms.js';
import { sumRowsOp } from '../src/engine/webgpu/ops/reduce.js';
import { gatherRowsOp, scatterAddRowsOp } from '../src/engine/webgpu/ops/rows.js';
import { gpuKernelsOn, skipWithoutGpu } from './helpers/gpu.js';
import { seededUniform } from './helpers/random.js';

const U = 2 ** -24;
const skip = skipWithoutGpu;
const heap = new Heap();
const ref = new ReferenceKernels(heap);
const gpuOn = gpuKernelsOn(heap);
let gpu: GpuKernels;
before(async () => void (gpu = (await gpuOn())!));

const rand = seededUniform(777);

type Tol = (expected: Float32Array, i: number) => number;
interface Out { ptr: number; n: number; init: Float32Array; tol: Tol }

/** Inputs and outputs of one comparison, allocated on the shared heap; `check` runs the reference, then the GPU. */
class Case {
  readonly blocks: number[] = [];
  readonly outs: Out[] = [];
  f32(n: number, fill: (i: number) => number = () => rand()): number {
    const p = heap.alloc(Math.max(1, n) * 4);
    this.blocks.push(p);
    const v = heap.f32At(p, n);
    for (let i = 0; i < n; i++) v[i] = fill(i);
    return p;
  }
  i32(values: number[]): number {
    const p = heap.alloc(Math.max(1, values.length) * 4);
    this.blocks.push(p);
    heap.i32At(p, values.length).set(values);
    return p;
  }
  read(p: number, n: number): Float32Array {
    return heap.f32At(p, n).slice();
  }
  out(n: number, tol: Tol, init?: Float32Array): number {
    const ptr = this.f32(n);
    this.outs.push({ ptr, n, tol, init: init ?? this.read(ptr, n) });
    return ptr;
  }
  /** Runs `call` on the reference and on the GPU from the same starting outputs; returns the GPU's outputs. */
  check(label: string, call: (k: Kernels) => void): Float32Array[] {
    const reset = () => this.outs.forEach((o) => heap.f32At(o.ptr, o.n).set(o.init));
    reset();
    call(ref);
    const expected = this.outs.map((o) => this.read(o.ptr, o.n));
    reset();
    call(gpu);
    const got = this.outs.map((o) => this.read(o.ptr, o.n));
    got.forEach((g, j) => compare(`${label} output ${j}`, g, expected[j]!, this.outs[j]!.tol));
    return got;
  }
  free(): void {
    for (const p of this.blocks.splice(0)) heap.free(p);
  }
}

function compare(label: string, got: Float32Array, expected: Float32Array, tol: Tol): void {
  for (let i = 0; i < got.length; i++) {
    const g = got[i]!, e = expected[i]!;
    if ((Number.isNaN(e) && Number.isNaN(g)) || g === e) continue;
    const t = tol(expected, i);
    if (!(Math.abs(g - e) <= t)) assert.fail(`${label}: element ${i}: got ${g}, expected ${e} (tolerance ${t.toExponential(2)})`);
  }
}

const maxAbs = (a: Float32Array): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const exact: Tol = () => 0;
/** 1e-5·max|ref| (elementwise functions through the GPU's exp, see the header). */
const loose: Tol = (e) => 1e-5 * maxAbs(e) + 1e-30;

/** The GEMM bound: 2(K + 8)·u·(|alpha|·Σ|a||b| + |beta·C|), from the reference run on |A| and |B|. */
function gemmCase(c: Case, tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number, beta: number, pad: number) {
  const lda = (tA ? M : K) + pad, ldb = (tB ? K : N) + pad, ldc = N + 2 * pad;
  const rowsA = tA ? K : M, rowsB = tB ? N : K;
  const a = c.f32(rowsA * lda), b = c.f32(rowsB * ldb);
  const a0 = c.read(a, rowsA * lda), b0 = c.read(b, rowsB * ldb);
  const absA = c.f32(rowsA * lda, (i) => Math.abs(a0[i]!)), absB = c.f32(rowsB * ldb, (i) => Math.abs(b0[i]!));
  const S = c.f32(M * ldc, () => 0);
  ref.gemm(tA, tB, M, N, K, 1, absA, lda, absB, ldb, 0, S, ldc);
  const sAbs = c.read(S, M * ldc);
  const init = c.read(c.f32(M * ldc), M * ldc);
  if (beta === 0) init.fill(NaN);
  const out = c.out(M * ldc, (_e, i) => 2 * (K + 8) * U * (Math.abs(alpha) * sAbs[i]! + (beta === 0 ? 0 : Math.abs(beta * init[i]!))) + 1e-37, init);
  return { a, b, out, lda, ldb, ldc };
}

test('gemm: all transposes, sizes off the tile, K = 0, padded ld, alpha, beta (beta = 0 ignores NaN in C)', { skip }, () => {
  let n = 0;
  for (const [M, N, K] of [[1, 1, 1], [7, 33, 5], [33, 7, 65], [65, 130, 17], [130, 65, 0], [1, 200, 300], [200, 1, 3]] as const) {
    for (const tA of [false, true]) for (const tB of [false, true]) {
      const c = new Case();
      const alpha = n % 2 ? 1.5 : -1, beta = n % 4 < 2 ? 0 : 0.5;
      const g = gemmCase(c, tA, tB, M, N, K, alpha, beta, n % 3);
      c.check(`gemm tA=${tA} tB=${tB} ${M}×${N}×${K}`, (k) => k.gemm(tA, tB, M, N, K, alpha, g.a, g.lda, g.b, g.ldb, beta, g.out, g.ldc));
      c.free();
      n++;
    }
  }
});

test('gemm: the 128×128 tile (a product large enough to choose it), every transpose', { skip }, () => {
  for (const tA of [false, true]) for (const tB of [false, true]) {
    const c = new Case();
    const g = gemmCase(c, tA, tB, 1300, 1500, 19, 1, 0.5, 1);
    c.check(`gemm big tile tA=${tA} tB=${tB}`, (k) => k.gemm(tA, tB, 1300, 1500, 19, 1, g.a, g.lda, g.b, g.ldb, 0.5, g.out, g.ldc));
    c.free();
  }
});

test('gemmBatched: attention-like shapes, batch strides with gaps, alpha and beta', { skip }, () => {
  for (const [batch, M, N, K] of [[12, 33, 7, 64], [3, 7, 100, 33], [5, 64, 64, 64]] as const) {
    for (const tA of [false, true]) for (const tB of [false, true]) {
      const c = new Case();
      const lda = tA ? M : K, ldb = tB ? K : N;
      const sA = M * K + 5, sB = K * N + 3, sC = M * N + 1;
      const a = c.f32(sA * batch), b = c.f32(sB * batch);
      // inputs in [−1, 1): Σ|a||b| ≤ K, so the error is ≤ 2(K + 8)·u·(0.5·K + |C|)
      const out = c.out(sC * batch, () => 2 * (K + 8) * U * (0.5 * K + 1));
      c.check(`gemmBatched ${batch}×${M}×${N}×${K} tA=${tA} tB=${tB}`, (k) =>
        k.gemmBatched(tA, tB, M, N, K, 0.5, a, lda, sA, b, ldb, sB, 1, out, N, sC, batch));
      c.free();
    }
  }
});

test('gemm split at a small binding limit: pieces of batch, rows and columns give the unsplit result', { skip }, () => {
  const c = new Case();
  const [batch, M, N, K] = [3, 150, 140, 9];
  const a = c.f32(batch * M * K), b = c.f32(batch * K * N);
  const out = c.out(batch * M * N, () => 2 * (K + 8) * U * K);
  // 16 KiB bindings: one matrix of C (84 KB) no longer fits, so rows and columns split as well as the batch
  const small = { ...gpu.limits, maxStorageBufferBindingSize: 16384 };
  const ds = gemmBatchedOp(small, false, true, M, N, K, 1, a, K, M * K, b, K, K * N, 0, out, N, M * N, batch);
  assert.ok(ds.length > batch, `expected more than ${batch} dispatches, got ${ds.length}`);
  for (const d of ds) for (const buf of d.buffers) assert.ok(buf.bytes <= 16384 - gpu.limits.minStorageBufferOffsetAlignment);
  c.check('gemm split', (k) => (k === gpu ? gpu.enqueue('gemm', ds) : k.gemmBatched(false, true, M, N, K, 1, a, K, M * K, b, K, K * N, 0, out, N, M * N, batch)));
  c.free();
});

test('add, axpy, scale, addRowVector, sumRows, sumStacked (in place too)', { skip }, () => {
  for (const n of [1, 7, 1000, 70001]) {
    const c2 = new Case();
    const a = c2.f32(n), b = c2.f32(n);
    const sum = c2.out(n, exact);
    c2.check(`add ${n}`, (k) => k.add(a, b, sum, n));
    const x = c2.f32(n);
    const y = c2.out(n, (e, i) => 2 * U * (Math.abs(e[i]!) + 1));
    c2.check(`axpy ${n}`, (k) => k.axpy(-0.75, x, y, n));
    const s = c2.out(n, exact);
    c2.check(`scale in place ${n}`, (k) => k.scale(s, 1.25, s, n));
    const t = c2.out(n, exact);
    c2.check(`add in place ${n}`, (k) => k.add(t, x, t, n));
    c2.free();
  }
  for (const [rows, cols] of [[1, 1], [37, 33], [300, 7], [5, 1000]] as const) {
    const c = new Case();
    const x = c.f32(rows * cols), v = c.f32(cols);
    const out = c.out(rows * cols, exact);
    c.check(`addRowVector ${rows}×${cols}`, (k) => k.addRowVector(x, v, out, rows, cols));
    const inPlace = c.out(rows * cols, exact);
    c.check(`addRowVector in place ${rows}×${cols}`, (k) => k.addRowVector(inPlace, v, inPlace, rows, cols));
    // a sequential float32 sum of `rows` terms in [−1, 1): ≤ (rows + 2)·u·(rows + |out|)
    for (const acc of [false, true]) {
      const o = c.out(cols, (e, i) => (rows + 2) * U * (rows + 1 + Math.abs(e[i]!)));
      c.check(`sumRows ${rows}×${cols} accumulate=${acc}`, (k) => k.sumRows(x, o, rows, cols, acc));
      const st = c.out(cols, (e, i) => (rows + 2) * U * (rows + 1 + Math.abs(e[i]!)));
      c.check(`sumStacked ${rows}×${cols} accumulate=${acc}`, (k) => k.sumStacked(x, st, rows, cols, acc));
    }
    c.free();
  }
});

test('ranges that overlap once bound at the offset alignment: adjacent outputs and inputs stay exact', { skip }, () => {
  // n·4 bytes not a multiple of the alignment: the second array's aligned binding starts inside the first
  const n = 7;
  const c = new Case();
  const block = c.f32(3 * n + 8);
  const x = block, y = block + 4 * n, z = block + 8 * n;
  const before = c.read(block, 3 * n + 8);
  c.check('scale into the adjacent array', (k) => {
    heap.f32At(block, 3 * n + 8).set(before);
    k.scale(x, 2, y, n);
    k.activationBackward(ActivationKind.Silu, x, 0, x, y, z, n); // dx and dup both written, adjacent
  });
  const got = c.read(block, 3 * n + 8);
  heap.f32At(block, 3 * n + 8).set(before);
  ref.scale(x, 2, y, n);
  ref.activationBackward(ActivationKind.Silu, x, 0, x, y, z, n);
  compare('adjacent arrays', got, c.read(block, 3 * n + 8), loose);
  // the words after z were never bound as written: untouched
  assert.deepEqual(Array.from(got.subarray(3 * n)), Array.from(before.subarray(3 * n)));
  const split = { ...gpu.limits, maxStorageBufferBindingSize: 4096 };
  assert.ok(addOp(split, x, y, z, 5000).length > 1 && scaleOp(split, x, 1, y, 5000).length > 1 && sumRowsOp(split, x, y, 2000, 3, false).length > 1);
  c.free();
});

test('layerNormParamGrad: column sums over rows in order, added to the old values (also in row pieces)', { skip }, () => {
  for (const [rows, D] of [[1, 1], [37, 33], [300, 7], [5, 1000], [40, 1000]] as const) {
    const c = new Case();
    const x = c.f32(rows * D, () => rand(-2, 2)), dy = c.f32(rows * D), mean = c.f32(rows, () => rand(-0.5, 0.5)), rstd = c.f32(rows, () => rand(0.5, 2));
    // a sequential float32 sum of `rows` terms |dy·x̂| ≤ 2.5·2 (and |dy| ≤ 1), plus the old value
    const tol: Tol = (e, i) => 4 * (rows + 8) * U * (5 * rows + 1 + Math.abs(e[i]!));
    const dg = c.out(D, tol), db = c.out(D, tol);
    c.check(`layerNormParamGrad ${rows}×${D}`, (k) => k.layerNormParamGrad(dy, x, mean, rstd, dg, db, rows, D));
    // a binding limit that still holds a few rows of GPT-2 XL's width (real devices hold at least 128 MiB)
    const small = { ...gpu.limits, maxStorageBufferBindingSize: 65536 };
    const ds = layerNormParamGradOp(small, dy, x, mean, rstd, dg, db, rows, D);
    if (rows * D * 4 > 65536) assert.ok(ds.length > 1, `${rows}×${D}: split into pieces`);
    c.check(`layerNormParamGrad ${rows}×${D} in pieces`, (k) => (k === gpu ? gpu.enqueue('layerNormParamGrad', ds) : k.layerNormParamGrad(dy, x, mean, rstd, dg, db, rows, D)));
    c.free();
  }
});

test('elementwise pieces at a small binding limit give the unsplit result', { skip }, () => {
  const n = 5000, rows = 2000, cols = 3;
  const c = new Case();
  const x = c.f32(n), y = c.f32(n), out = c.out(n, exact), s = c.out(cols, (e, i) => (rows + 4) * U * (rows + Math.abs(e[i]!)));
  const small = { ...gpu.limits, maxStorageBufferBindingSize: 4096 };
  c.check('add in pieces', (k) => (k === gpu ? gpu.enqueue('add', addOp(small, x, y, out, n)) : k.add(x, y, out, n)));
  c.check('sumRows in pieces', (k) => (k === gpu ? gpu.enqueue('sumRows', sumRowsOp(small, x, s, rows, cols, false)) : k.sumRows(x, s, rows, cols, false)));
  c.free();
});

test('gelu, geluBackward, activation and activationBackward: every kind, gated, in place', { skip }, () => {
  for (const n of [1, 33, 4099]) {
    const c2 = new Case();
    const x2 = c2.f32(n, () => rand(-8, 8)), up2 = c2.f32(n), dy2 = c2.f32(n);
    const y = c2.out(n, loose);
    c2.check(`gelu ${n}`, (k) => k.gelu(x2, y, n));
    for (const acc of [false, true]) {
      const dx = c2.out(n, loose);
      c2.check(`geluBackward ${n} accumulate=${acc}`, (k) => k.geluBackward(x2, dy2, dx, n, acc));
    }
    for (const kind of [ActivationKind.GeluErf, ActivationKind.GeluTanh, ActivationKind.Silu, ActivationKind.Relu]) {
      for (const gated of [false, true]) {
        const o = c2.out(n, loose);
        c2.check(`activation ${kind} gated=${gated} ${n}`, (k) => k.activation(kind, x2, gated ? up2 : 0, o, n));
        const dxo = c2.out(n, loose), dupo = c2.out(n, loose);
        c2.check(`activationBackward ${kind} gated=${gated} ${n}`, (k) => k.activationBackward(kind, x2, gated ? up2 : 0, dy2, dxo, gated ? dupo : 0, n));
        const only = c2.out(n, loose);
        c2.check(`activationBackward ${kind} dup only ${n}`, (k) => k.activationBackward(kind, x2, up2, dy2, 0, only, n));
      }
      // out = up (gated, in place)
      const inPlace = c2.out(n, loose);
      c2.check(`activation ${kind} out = up ${n}`, (k) => k.activation(kind, x2, inPlace, inPlace, n));
    }
    c2.free();
  }
});

test('softmaxRows (in place too), widenBf16 bit patterns at odd offsets', { skip }, () => {
  for (const [rows, cols] of [[1, 1], [37, 33], [3, 1000], [300, 7]] as const) {
    const c = new Case();
    const x = c.f32(rows * cols, () => rand(-4, 4));
    // exp within a few ulp, a tree sum of `cols` terms within log2(cols)·u: (16 + 4·log2 cols)·u relative
    const tol: Tol = (e, i) => (16 + 4 * Math.log2(cols + 1)) * U * Math.abs(e[i]!) + 1e-38;
    const out = c.out(rows * cols, tol);
    c.check(`softmaxRows ${rows}×${cols}`, (k) => k.softmaxRows(x, out, rows, cols));
    const inPlace = c.out(rows * cols, tol, c.read(x, rows * cols));
    c.check(`softmaxRows in place ${rows}×${cols}`, (k) => k.softmaxRows(inPlace, inPlace, rows, cols));
    c.free();
  }
  for (const [n, shift] of [[1, 0], [7, 2], [65536, 0], [1001, 2]] as const) {
    const c = new Case();
    const src = c.f32(Math.ceil(n / 2) + 1);
    const u16 = heap.u16At(src + shift, n);
    for (let i = 0; i < n; i++) u16[i] = n === 65536 ? i : (i * 40503 + 17) & 0xffff; // every pattern: NaN payloads, ±inf, subnormals
    const dst = c.out(n, exact);
    const got = c.check(`widenBf16 ${n} at +${shift}`, (k) => k.widenBf16(src + shift, dst, n));
    const want = new Uint32Array(n);
    for (let i = 0; i < n; i++) want[i] = (n === 65536 ? i : (i * 40503 + 17) & 0xffff) << 16;
    assert.deepEqual(new Uint32Array(got[0]!.buffer), want, `widenBf16 ${n}: the bits`);
    c.free();
  }
});

test('gatherRows and scatterAddRows (repeated indices add in order of i: the reference bits)', { skip }, () => {
  for (const [rows, D, idx] of [[5, 3, [4, 0, 4, 4, 2]], [50, 33, Array.from({ length: 300 }, (_, i) => (i * 7) % 13)], [3, 1000, [2, 2, 2, 0]]] as const) {
    const c = new Case();
    const table = c.f32(rows * D), ix = c.i32([...idx]), n = idx.length;
    const out = c.out(n * D, exact);
    c.check(`gatherRows ${n}×${D}`, (k) => k.gatherRows(ix, table, out, n, D));
    const src = c.f32(n * D);
    const t2 = c.out(rows * D, exact);
    const a = c.check(`scatterAddRows ${n}×${D}`, (k) => k.scatterAddRows(ix, src, t2, n, D));
    const b = c.check(`scatterAddRows ${n}×${D} again`, (k) => k.scatterAddRows(ix, src, t2, n, D));
    assert.deepEqual(new Uint8Array(a[1]!.buffer), new Uint8Array(b[1]!.buffer));
    c.free();
  }
});

test('gatherRows and scatterAddRows on a table larger than a binding: windows of rows, each taking its indices', { skip }, () => {
  const [rows, D] = [50, 3];
  const c = new Case();
  const table = c.f32(rows * D), ix = c.i32([49, 1, 49, 20, 0]), n = 5, src = c.f32(n * D);
  const out = c.out(n * D, exact), t = c.out(rows * D, exact);
  // ten table rows per binding: five windows
  const small = { ...gpu.limits, maxStorageBufferBindingSize: 4 * D * 10 + gpu.limits.minStorageBufferOffsetAlignment + 4 };
  const gd = gatherRowsOp(small, ix, table, out, n, D, rows), sd = scatterAddRowsOp(small, ix, src, t, n, D, rows);
  assert.deepEqual([gd.length, sd.length], [5, 5]);
  c.check('gatherRows in table windows', (k) => (k === gpu ? gpu.enqueue('gatherRows', gd) : k.gatherRows(ix, table, out, n, D)));
  c.check('scatterAddRows in table windows', (k) => (k === gpu ? gpu.enqueue('scatterAddRows', sd) : k.scatterAddRows(ix, src, t, n, D)));
  c.free();
});

test('determinism: the same kernels twice give the same bytes', { skip }, () => {
  const c = new Case();
  const [M, N, K] = [300, 200, 257];
  const a = c.f32(M * K), b = c.f32(K * N), out = c.f32(M * N), s = c.f32(N);
  const run = () => {
    gpu.gemm(false, false, M, N, K, 1, a, K, b, N, 0, out, N);
    gpu.sumRows(out, s, M, N, false);
    gpu.softmaxRows(out, out, M, N);
    return [c.read(out, M * N), c.read(s, N)];
  };
  const [o1, s1] = run(), [o2, s2] = run();
  assert.deepEqual(new Uint8Array(o1!.buffer), new Uint8Array(o2!.buffer));
  assert.deepEqual(new Uint8Array(s1!.buffer), new Uint8Array(s2!.buffer));
  c.free();
});

test('coherence: host write → kernels → host read; repeated reads cost one flush; reads of untouched ranges none', { skip }, async () => {
  const e = await createEngine({ device: 'gpu' });
  try {
    const k = e.kernels as GpuKernels;
    const x = e.fromArray([1, 2, 3, 4]), y = e.zeros([4]), w = e.fromArray([10, 20, 30, 40]);
    k.scale(x.ptr, 3, y.ptr, 4);
    k.add(y.ptr, x.ptr, y.ptr, 4); // y = 4x, never seen by the host yet
    const before = k.flushes;
    assert.deepEqual(Array.from(w.data()), [10, 20, 30, 40]); // untouched by kernels: no round trip
    assert.equal(k.flushes, before);
    let sum = 0;
    for (let r = 0; r < 50; r++) sum += y.data()[r % 4]!;
    assert.equal(sum, 12 * (4 + 8 + 12 + 16) + 4 + 8);
    assert.equal(k.flushes, before + 1, 'fifty reads of one tensor after the kernels: one round trip');
    // the host writes y; the next kernel must see the host's values
    y.data().set([1, 1, 1, 1]);
    k.axpy(2, x.ptr, y.ptr, 4);
    assert.deepEqual(Array.from(y.data()), [3, 5, 7, 9]);
    // a host write into the input of a pending kernel waits for it: the kernel reads the old value
    k.scale(w.ptr, 2, y.ptr, 4);
    w.data()[0] = -1;
    assert.deepEqual(Array.from(y.data()), [20, 40, 60, 80]);
    assert.deepEqual(Array.from(w.data()), [-1, 20, 30, 40]);
    // a read-only copy (toArray) is not sent back to the GPU; a view (data) may have been written, so it is
    const big = e.empty([4096]);
    k.scale(x.ptr, 0, big.ptr, 4); // the GPU writes part of it
    k.flush();
    const up0 = k.uploadBytes;
    assert.equal(big.toArray()[3], 0);
    k.add(big.ptr, big.ptr, big.ptr, 4096);
    k.flush();
    assert.equal(k.uploadBytes, up0);
    big.data();
    k.add(big.ptr, big.ptr, big.ptr, 4096);
    k.flush();
    assert.equal(k.uploadBytes, up0 + 4 * 4096);
    // two views at once (row-subset.ts: `const o = out.data(), s = x.data()`): the second one's access flushes a
    // pending kernel, and the host writes through the first afterwards; the next kernel must see those writes
    const out = e.fromArray([0, 0, 0, 0]), src = e.empty([4]);
    k.flush();
    k.scale(x.ptr, 3, src.ptr, 4);
    const o = out.data(), sv = src.data();
    for (let i = 0; i < 4; i++) o[i] = sv[i]! + 1;
    k.axpy(1, out.ptr, src.ptr, 4);
    assert.deepEqual(Array.from(src.data()), [3 + 4, 6 + 7, 9 + 10, 12 + 13]);
  } finally {
    await e.close();
  }
});

test('coherence: the heap grows between kernels; freed ranges are forgotten; whole-heap views sync everything', { skip }, async () => {
  const e = await createEngine({ device: 'gpu' });
  try {
    const k = e.kernels as GpuKernels;
    const x = e.fromArray([1, 2, 3]), y = e.zeros([3]);
    k.scale(x.ptr, 2, y.ptr, 3);
    const size0 = e.heap.size;
    const big = e.empty([48 * 1024 * 1024]); // 192 MiB: the heap (and so the GPU's mirror) must grow
    assert.ok(e.heap.size > size0);
    k.add(y.ptr, x.ptr, y.ptr, 3);
    const z = e.empty([3], 'f32');
    k.scale(y.ptr, 1, big.ptr + 4 * (big.size - 3), 3); // a range that only the grown mirror has
    k.add(big.ptr + 4 * (big.size - 3), x.ptr, z.ptr, 3);
    assert.deepEqual(Array.from(z.data()), [4, 8, 12]);
    big.dispose();
    // the freed block comes back for a tensor the host fills: the host's values, not the GPU's old ones
    const again = e.empty([48 * 1024 * 1024]);
    again.data().fill(0, again.size - 3);
    k.add(again.ptr + 4 * (again.size - 3), x.ptr, z.ptr, 3);
    assert.deepEqual(Array.from(z.data()), [1, 2, 3]);
    k.scale(x.ptr, 5, y.ptr, 3);
    const whole = e.heap.f32; // every allocation comes to the host
    assert.deepEqual(Array.from(whole.subarray(y.ptr / 4, y.ptr / 4 + 3)), [5, 10, 15]);
  } finally {
    await e.close();
  }
});

test('fillF32 runs on the device: the host values it replaces are not uploaded over it, and no round trip until a read', { skip }, async () => {
  const e = await createEngine({ device: 'gpu' });
  try {
    const k = e.kernels as GpuKernels;
    const t = e.fromArray([1, 2, 3, 4, 5]);
    const before = k.flushes;
    e.heap.fillF32(t.ptr + 4, 3, -2.5);
    k.scale(t.ptr, 2, t.ptr, 5);
    assert.equal(k.flushes, before);
    assert.deepEqual(Array.from(t.data()), [2, -5, -5, -5, 10]);
    const z = e.zeros([70001]);
    assert.equal(z.data().reduce((a, v) => a + Math.abs(v), 0), 0);
  } finally {
    await e.close();
  }
});

test('errors: a range outside the heap is refused before it runs, naming the kernel and buffer', { skip }, () => {
  assert.throws(() => gpu.enqueue('add', addOp(gpu.limits, 0, 0, heap.size, 4)), /^Error: add: buffer 2 \[\d+, \+16\) lies outside the heap/);
  const c = new Case();
  const ix = c.i32([0, -2]);
  assert.throws(() => gpu.gatherRows(ix, c.f32(4), c.f32(8), 2, 4), /^Error: gatherRows: negative row index -2/);
  c.free();
});
