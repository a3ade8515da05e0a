/**
 * WebAssembly kernels (relaxed-SIMD and SIMD128 modules) against ReferenceKernels, on odd shapes, plus
 * bit-identical results for 1, 2 and 3 threads; and the WebGPU kernels where an adapter exists (lavapipe in CI),
 * held to the same bounds in every `Case.check` (test/gpu-kernels.test.ts tests what is particular to them).
 *
 * Tolerances come from float32 rounding, u = 2⁻²⁴: the reference accumulates in float64 and rounds once, while
 * a float32 sum of n terms errs by at most ≈ n·u·Σ|terms| (Higham, γₙ). Each check states its bound.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Heap } from '../src/engine/memory.js';
import { ActivationKind, type Kernels } from '../src/engine/kernels.js';
import { ReferenceKernels, activation64, erf } from '../src/engine/reference.js';
import { createWasmKernels, type WasmKernels } from '../src/engine/wasm-kernels.js';
import { GpuKernels } from '../src/engine/webgpu/gpu-kernels.js';
import { GPU } from './helpers/gpu.js';
import { seededUniform } from './helpers/random.js';

const U = 2 ** -24;
const THREADS = [1, 2, 3];
const heap = new Heap();
const ref = new ReferenceKernels(heap);
/** [module][threads index]: relaxed SIMD first, then plain SIMD. */
const impls: WasmKernels[][] = [];
/** The WebGPU kernels on the same heap, when this machine has an adapter. */
let gpu: GpuKernels | null = null;

before(async () => {
  for (const relaxed of [true, false]) {
    impls.push(await Promise.all(THREADS.map((threads) => createWasmKernels(heap, { threads, relaxed }))));
  }
  if (GPU.available) {
    const got = await GpuKernels.create(heap);
    if (got.ok) gpu = got.kernels;
  }
});
after(async () => {
  for (const ks of impls) for (const k of ks) await k.close();
  await gpu?.close();
});

const rand = seededUniform(12345);

interface Out {
  ptr: number;
  n: number;
  /** Contents before each run (default: random in [−1, 1)). */
  init?: Float32Array;
  /** Allowed |wasm − reference| at element i given the reference output. */
  tol: (expected: Float32Array, i: number) => number;
}

class Case {
  readonly blocks: number[] = [];
  readonly outs: Out[] = [];

  /** Allocates n floats filled by `fill` (default uniform [−1, 1)). */
  f32(n: number, fill: (i: number) => number = () => rand()): number {
    const p = heap.alloc(Math.max(1, n) * 4);
    this.blocks.push(p);
    const m = heap.f32;
    for (let i = 0; i < n; i++) m[(p >> 2) + i] = fill(i);
    return p;
  }
  i32(values: number[]): number {
    const p = heap.alloc(Math.max(1, values.length) * 4);
    this.blocks.push(p);
    heap.i32.set(values, p >> 2);
    return p;
  }
  read(p: number, n: number): Float32Array {
    return heap.f32.slice(p >> 2, (p >> 2) + n);
  }
  out(n: number, tol: Out['tol'], init?: Float32Array): number {
    const ptr = this.f32(n);
    this.outs.push({ ptr, n, tol, init: init ?? this.read(ptr, n) });
    return ptr;
  }
  private reset(): void {
    for (const o of this.outs) heap.f32.set(o.init!, o.ptr >> 2);
  }

  /** Runs `call` on the reference and every wasm implementation (and WebGPU); checks tolerances and thread invariance. */
  check(label: string, call: (k: Kernels) => void): void {
    this.reset();
    call(ref);
    const expected = this.outs.map((o) => this.read(o.ptr, o.n));
    if (gpu) {
      this.reset();
      call(gpu);
      this.outs.forEach((o, j) => compare(`${label} [${gpu!.name}] output ${j}`, this.read(o.ptr, o.n), expected[j]!, o.tol));
    }
    for (const ks of impls) {
      let first: Uint8Array[] = [];
      for (const k of ks) {
        this.reset();
        call(k);
        const got = this.outs.map((o) => this.read(o.ptr, o.n));
        if (k === ks[0]) {
          first = got.map((g) => new Uint8Array(g.buffer));
          got.forEach((g, j) => compare(`${label} [${k.name}] output ${j}`, g, expected[j]!, this.outs[j]!.tol));
        } else {
          got.forEach((g, j) =>
            assert.ok(bytesEqual(new Uint8Array(g.buffer), first[j]!), `${label} [${k.name}] output ${j} differs from 1 thread`),
          );
        }
      }
    }
  }

  free(): void {
    for (const p of this.blocks.splice(0)) heap.free(p);
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function compare(label: string, got: Float32Array, expected: Float32Array, tol: Out['tol']): void {
  for (let i = 0; i < got.length; i++) {
    const g = got[i]!, e = expected[i]!;
    if (Number.isNaN(e) && Number.isNaN(g)) continue;
    const t = tol(expected, i);
    if (!(Math.abs(g - e) <= t)) assert.fail(`${label}: element ${i}: got ${g}, expected ${e} (tolerance ${t.toExponential(2)})`);
  }
}

const maxAbs = (a: Float32Array): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const SIZES = [1, 7, 33, 1000];

test('modules: relaxed SIMD is active when requested and supported, plain otherwise', () => {
  assert.equal(impls[1]![0]!.relaxedSimd, false);
  assert.match(impls[0]![0]!.name, /^wasm-(relaxed-)?simd x1 thread$/);
  assert.equal(impls[0]![2]!.threads, 3);
});

test('gemm: all transposes, M, N, K in {1, 7, 33, 1000}, padded ld, alpha, beta (beta = 0 ignores NaN)', () => {
  let n = 0;
  for (const M of SIZES) for (const N of SIZES) for (const K of [...SIZES, 0]) {
    if (M * N * K > 4e7) continue; // keeps the float64 reference under a second in total
    for (const tA of [false, true]) for (const tB of [false, true]) {
      const c = new Case();
      const pad = n % 3; // leading dimensions larger than the matrix
      const lda = (tA ? M : K) + pad, ldb = (tB ? K : N) + pad, ldc = N + 2 * pad;
      const rowsA = tA ? K : M, rowsB = tB ? N : K;
      const alpha = n % 2 ? 1.5 : -1, beta = n % 4 < 2 ? 0 : 0.5;
      const a = c.f32(rowsA * lda), b = c.f32(rowsB * ldb);
      const a0 = c.read(a, rowsA * lda), b0 = c.read(b, rowsB * ldb);
      // |A|·|B| bounds every sum: a float32 dot product of K terms errs by ≤ K·u·Σ|a||b|; alpha, beta·C and
      // the blocked accumulation into C add a few more roundings.
      const absA = c.f32(rowsA * lda, (i) => Math.abs(a0[i]!)), absB = c.f32(rowsB * ldb, (i) => Math.abs(b0[i]!));
      const S = c.f32(M * ldc, () => 0);
      ref.gemm(tA, tB, M, N, K, 1, absA, lda, absB, ldb, 0, S, ldc);
      const sAbs = c.read(S, M * ldc);
      const init = c.read(c.f32(M * ldc), M * ldc);
      if (beta === 0) init.fill(NaN);
      const out = c.out(M * ldc, (_e, i) => 2 * (K + 8) * U * (Math.abs(alpha) * sAbs[i]! + (beta === 0 ? 0 : Math.abs(beta * init[i]!))) + 1e-37, init);
      c.check(`gemm tA=${tA} tB=${tB} M=${M} N=${N} K=${K}`, (k) => k.gemm(tA, tB, M, N, K, alpha, a, lda, b, ldb, beta, out, ldc));
      c.free();
      n++;
    }
  }
});

test('gemmBatched: per-batch split and per-tile split, attention-like shapes', () => {
  for (const [batch, M, N, K] of [[12, 33, 7, 64], [3, 7, 1000, 33], [1, 64, 64, 64], [12, 64, 33, 33]] as const) {
    for (const tA of [false, true]) for (const tB of [false, true]) {
      const c = new Case();
      const lda = tA ? M : K, ldb = tB ? K : N;
      const sA = M * K + 5, sB = K * N + 3, sC = M * N + 1;
      const a = c.f32(sA * batch), b = c.f32(sB * batch);
      // inputs in [−1, 1): Σ|a||b| ≤ K, so the float32 error is ≤ K·u·K (+ the rounding of beta·C)
      const out = c.out(sC * batch, () => 2 * (K + 8) * U * (0.5 * K + 1));
      c.check(`gemmBatched ${batch}×${M}×${N}×${K} tA=${tA} tB=${tB}`, (k) =>
        k.gemmBatched(tA, tB, M, N, K, 0.5, a, lda, sA, b, ldb, sB, 1, out, N, sC, batch));
      c.free();
    }
  }
});

test('layerNorm forward, backward and parameter gradient', () => {
  for (const D of SIZES) for (const rows of [1, 37, 300]) {
    const c = new Case();
    const x = c.f32(rows * D, () => rand(-2, 2)), gamma = c.f32(D), beta = c.f32(D);
    // mean and variance are float32 sums of D terms (relative error ≲ D·u); y = x̂·gamma + beta with
    // |x̂| ≤ √D, so the error of y is ≲ D·u·(|y| + |gamma|·|x̂| + 1)
    const tolRow = (e: Float32Array, i: number) => 8 * (D + 8) * U * (Math.abs(e[i]!) + Math.sqrt(D) + 1);
    const y = c.out(rows * D, tolRow), mean = c.out(rows, (e, i) => 4 * (D + 8) * U * (2 + Math.abs(e[i]!)));
    const rstd = c.out(rows, (e, i) => 4 * (D + 8) * U * Math.abs(e[i]!));
    c.check(`layerNorm ${rows}×${D}`, (k) => k.layerNorm(x, gamma, beta, y, mean, rstd, rows, D, 1e-5));

    // backward from the reference statistics (inputs, so both sides see the same ones)
    const c2 = new Case();
    const x2 = c2.f32(rows * D, () => rand(-2, 2)), g2 = c2.f32(D), b2 = c2.f32(D), dy = c2.f32(rows * D);
    const y2 = c2.f32(rows * D), m2 = c2.f32(rows), r2 = c2.f32(rows);
    ref.layerNorm(x2, g2, b2, y2, m2, r2, rows, D, 1e-5);
    const rs = c2.read(r2, rows);
    // dx = rstd·(g − mean(g) − x̂·mean(g·x̂)): two float32 means of D terms of size ≤ √D
    const tolDx = (e: Float32Array, i: number) => 8 * (D + 8) * U * (Math.abs(e[i]!) + rs[Math.floor(i / D)]! * (Math.sqrt(D) + 2));
    for (const acc of [false, true]) {
      const dx = c2.out(rows * D, tolDx), dxAcc = acc ? c2.out(rows * D, tolDx) : 0;
      c2.check(`layerNormBackward ${rows}×${D} accumulate=${acc}`, (k) =>
        k.layerNormBackward(dy, x2, g2, m2, r2, dx, acc, dxAcc, rows, D));
    }
    // in place (dx = dy, as the engine calls it, with a dxAcc target): the same bits as separate buffers
    for (const ks of impls) for (const k of ks) {
      const dyInit = c2.read(dy, rows * D), acc0 = c2.read(c2.f32(rows * D), rows * D);
      const sep = c2.f32(rows * D), accSep = c2.f32(rows * D, (i) => acc0[i]!);
      k.layerNormBackward(dy, x2, g2, m2, r2, sep, false, accSep, rows, D);
      const inPlace = c2.f32(rows * D, (i) => dyInit[i]!), accIn = c2.f32(rows * D, (i) => acc0[i]!);
      k.layerNormBackward(inPlace, x2, g2, m2, r2, inPlace, false, accIn, rows, D);
      const same = (p: number, q: number) => bytesEqual(new Uint8Array(c2.read(p, rows * D).buffer), new Uint8Array(c2.read(q, rows * D).buffer));
      assert.ok(same(sep, inPlace) && same(accSep, accIn), `layerNormBackward in place ${rows}×${D} [${k.name}]`);
    }
    // dgamma, dbeta: float32 sums over rows of terms ≤ √D (dy·x̂) and ≤ 1 (dy), added to the old value
    const tolP = () => 4 * (rows + 8) * U * (rows * Math.sqrt(D) + 2);
    const dg = c2.out(D, tolP), db = c2.out(D, tolP);
    c2.check(`layerNormParamGrad ${rows}×${D}`, (k) => k.layerNormParamGrad(dy, x2, m2, r2, dg, db, rows, D));
    c.free();
    c2.free();
  }
});

test('rmsNorm forward and backward (gain w and 1 + w)', () => {
  for (const D of SIZES) for (const rows of [1, 37, 300]) for (const offset of [0, 1]) {
    const c = new Case();
    const x = c.f32(rows * D, () => rand(-2, 2)), gamma = c.f32(D);
    // mean(x²) is a float32 sum of D positive terms (relative error ≤ D·u), rstd its inverse square root (half
    // that, plus two roundings); y = (x·rstd)·(gamma + offset) adds three roundings: all relative to the value
    const rstd = c.out(rows, (e, i) => (D + 8) * U * Math.abs(e[i]!));
    const y = c.out(rows * D, (e, i) => 2 * (D + 8) * U * Math.abs(e[i]!) + 1e-37);
    c.check(`rmsNorm ${rows}×${D} offset ${offset}`, (k) => k.rmsNorm(x, gamma, offset, y, rstd, rows, D, 1e-5));

    // backward from the reference rstd (an input, so both sides see the same one)
    const c2 = new Case();
    const x2 = c2.f32(rows * D, () => rand(-2, 2)), g2 = c2.f32(D), dy = c2.f32(rows * D);
    const y2 = c2.f32(rows * D), r2 = c2.f32(rows);
    ref.rmsNorm(x2, g2, offset, y2, r2, rows, D, 1e-5);
    const rs = c2.read(r2, rows);
    // dx = rstd·(g − x̂·mean(g·x̂)), |g| ≤ 2 (gain ≤ 2), |x̂| ≤ √D: one float32 mean of D terms, as layerNorm's
    const tolDx = (e: Float32Array, i: number) => 8 * (D + 8) * U * (Math.abs(e[i]!) + 2 * rs[Math.floor(i / D)]! * (Math.sqrt(D) + 2));
    for (const acc of [false, true]) {
      const dx = c2.out(rows * D, tolDx), dxAcc = acc ? c2.out(rows * D, tolDx) : 0;
      c2.check(`rmsNormBackward ${rows}×${D} offset ${offset} accumulate=${acc}`, (k) =>
        k.rmsNormBackward(dy, x2, g2, offset, r2, dx, acc, dxAcc, rows, D));
    }
    // in place (dx = dy, as models/family-heads.ts calls it, with a dxAcc target): the same bits as separate buffers
    for (const ks of impls) for (const k of ks) {
      const dyInit = c2.read(dy, rows * D), acc0 = c2.read(c2.f32(rows * D), rows * D);
      const sep = c2.f32(rows * D), accSep = c2.f32(rows * D, (i) => acc0[i]!);
      k.rmsNormBackward(dy, x2, g2, offset, r2, sep, false, accSep, rows, D);
      const inPlace = c2.f32(rows * D, (i) => dyInit[i]!), accIn = c2.f32(rows * D, (i) => acc0[i]!);
      k.rmsNormBackward(inPlace, x2, g2, offset, r2, inPlace, false, accIn, rows, D);
      const same = (p: number, q: number) => bytesEqual(new Uint8Array(c2.read(p, rows * D).buffer), new Uint8Array(c2.read(q, rows * D).buffer));
      assert.ok(same(sep, inPlace) && same(accSep, accIn), `rmsNormBackward in place ${rows}×${D} [${k.name}]`);
    }
    c.free();
    c2.free();
  }
});

test('rmsNormBackward is the derivative of rmsNorm: central differences of the reference', () => {
  // L(x) = Σ dy·rmsNorm(x), differentiated by x_j ± h. x are multiples of 2⁻¹⁰ with |x| ≥ ¼ (D = 1 is then far
  // from its kink at 0), so x ± h is exact. Error of the difference quotient: truncation h²/6·|∂³L| (≲ 1e-5 here,
  // rms(x) ≈ 1) plus the float32 rounding of y and rstd (2u relative each side) over 2h: ≤ 4u·Σ|dy·y|/(2h).
  const h = 2 ** -7, rows = 3;
  for (const D of [1, 7, 33]) for (const offset of [0, 1]) {
    const c = new Case();
    const x = c.f32(rows * D, () => (rand() < 0 ? -1 : 1) * Math.round(rand(0.25, 2) * 1024) / 1024);
    const gamma = c.f32(D), dy = c.f32(rows * D), y = c.f32(rows * D), rstd = c.f32(rows);
    const X = c.read(x, rows * D), DY = c.read(dy, rows * D);
    const loss = (): { L: number; S: number } => {
      ref.rmsNorm(x, gamma, offset, y, rstd, rows, D, 1e-5);
      const Y = c.read(y, rows * D);
      let L = 0, S = 0;
      for (let i = 0; i < rows * D; i++) {
        L += DY[i]! * Y[i]!;
        S += Math.abs(DY[i]! * Y[i]!);
      }
      return { L, S };
    };
    const fd = X.map((_, j) => {
      heap.f32[(x >> 2) + j] = X[j]! + h;
      const p = loss();
      heap.f32[(x >> 2) + j] = X[j]! - h;
      const m = loss();
      heap.f32[(x >> 2) + j] = X[j]!;
      return (p.L - m.L) / (2 * h);
    });
    const S = loss().S;
    const tol = 1e-5 + (4 * U * S) / (2 * h);
    for (const k of [ref, impls[0]![0]!, impls[1]![0]!]) {
      const dx = c.f32(rows * D);
      k.rmsNormBackward(dy, x, gamma, offset, rstd, dx, false, 0, rows, D);
      const got = c.read(dx, rows * D);
      got.forEach((g, j) =>
        assert.ok(Math.abs(g - fd[j]!) <= tol,
          `${k.name} D=${D} offset ${offset} x[${j}]: ${g} vs finite difference ${fd[j]} (tolerance ${tol.toExponential(2)})`));
    }
    c.free();
  }
});

const KINDS = [ActivationKind.GeluErf, ActivationKind.GeluTanh, ActivationKind.Silu, ActivationKind.Relu];
/**
 * Error bounds of the float32 activations against float64, measured and asserted over [−6, 6] by the accuracy
 * test below: |Δf| ≤ 6u·|x| (Φ or σ within ~4u absolute, times x) and |Δf'| ≤ 6u absolute (f' = Φ + x·φ,
 * σ + x·σ(1 − σ), …: O(1) terms whose x-dependent parts decay; relative error is meaningless at f'’s zeros).
 * ReLU is exact.
 */
const fBound = (kind: ActivationKind, x: number) => (kind === ActivationKind.Relu ? 0 : 6 * U * Math.abs(x));
const dBound = (kind: ActivationKind) => (kind === ActivationKind.Relu ? 0 : 6 * U);

test('activation and activationBackward: every kind, gated and not', () => {
  for (const kind of KINDS) for (const n of [...SIZES, 100003]) for (const gated of [false, true]) {
    const c = new Case();
    const x = c.f32(n, () => rand(-6, 6)), up = gated ? c.f32(n) : 0, dy = c.f32(n);
    const xs = c.read(x, n), us = gated ? c.read(up, n) : null, dys = c.read(dy, n);
    const u = (i: number) => (us ? Math.abs(us[i]!) : 1);
    // out = f·up: f's bound scaled by |up| plus one rounding; dx = (dy·f')·up: f''s bound scaled by |dy·up| plus
    // two roundings; dup = dy·f: f's bound scaled by |dy| plus one rounding
    const out = c.out(n, (e, i) => fBound(kind, xs[i]!) * u(i) + 2 * U * Math.abs(e[i]!));
    c.check(`activation kind ${kind} n=${n} gated=${gated}`, (k) => k.activation(kind, x, up, out, n));
    const dx = c.out(n, (e, i) => dBound(kind) * Math.abs(dys[i]!) * u(i) + 3 * U * Math.abs(e[i]!));
    const dup = c.out(n, (e, i) => fBound(kind, xs[i]!) * Math.abs(dys[i]!) + 2 * U * Math.abs(e[i]!));
    c.check(`activationBackward kind ${kind} n=${n} gated=${gated}`, (k) => k.activationBackward(kind, x, up, dy, dx, dup, n));
    // one output at a time: the other pointer is 0 and nothing is written at address 0
    const low = heap.u8.slice(0, 4 * n);
    c.check(`activationBackward kind ${kind} n=${n} gated=${gated} dx only`, (k) => k.activationBackward(kind, x, up, dy, dx, 0, n));
    c.check(`activationBackward kind ${kind} n=${n} gated=${gated} dup only`, (k) => k.activationBackward(kind, x, up, dy, 0, dup, n));
    assert.ok(bytesEqual(heap.u8.slice(0, 4 * n), low), `activationBackward kind ${kind}: wrote at address 0`);
    c.free();
  }
});

test('activation accuracy against float64 over [−6, 6]: erf ≤ 8 ulp; f ≤ 5 ulp where it does not cancel', () => {
  const n = 1 << 18;
  const ulp = (v: number) => {
    const a = Math.abs(Math.fround(v));
    return a === 0 ? 2 ** -149 : 2 ** (Math.max(Math.floor(Math.log2(a)), -126) - 23);
  };
  const c = new Case();
  const x = c.f32(n, (i) => -6 + (12 * i) / (n - 1)), ones = c.f32(n, () => 1), y = c.f32(n), d = c.f32(n);
  const xs = c.read(x, n);
  for (const ks of impls) {
    const k = ks[1]!;
    k.erf(x, y, n);
    const e = c.read(y, n);
    let worst = 0;
    xs.forEach((v, i) => (worst = Math.max(worst, Math.abs(e[i]! - erf(v)) / ulp(erf(v)))));
    assert.ok(worst <= 8, `[${k.name}] erf: ${worst.toFixed(2)} ulp`);
    for (const kind of KINDS) {
      k.activation(kind, x, 0, y, n);
      k.activationBackward(kind, x, 0, ones, d, 0, n);
      const f = c.read(y, n), fd = c.read(d, n);
      let ulps = 0;
      xs.forEach((v, i) => {
        const [f64, d64] = activation64(kind, v), lbl = `[${k.name}] kind ${kind} x=${v}`;
        assert.ok(Math.abs(f[i]! - f64) <= fBound(kind, v), `${lbl}: f ${f[i]} vs ${f64}`);
        assert.ok(Math.abs(fd[i]! - d64) <= dBound(kind), `${lbl}: f' ${fd[i]} vs ${d64}`);
        // relative: for x ≥ 0, and everywhere for SiLU (σ = e·r for x < 0 keeps its relative accuracy); the GELUs
        // for x < 0 are ½ + ½·erf or e^{−|w|} of a rounded w, accurate only relative to |x| as bounded above
        if (v >= 0 || kind === ActivationKind.Silu) ulps = Math.max(ulps, Math.abs(f[i]! - f64) / ulp(f64));
      });
      assert.ok(ulps <= 5, `[${k.name}] kind ${kind}: f off by ${ulps.toFixed(2)} ulp`);
    }
  }
  c.free();
});

test('activations at large |x|, ±inf and NaN: exact limits, no NaN from finite inputs', () => {
  const big = [16, 30, 87.3, 88, 88.8, 100, 1e4, 1e19, 3.4e38, Infinity];
  const xsv = [...big, ...big.map((v) => -v), 0, -0, 1e-30, -1e-30, NaN];
  const n = xsv.length;
  const c = new Case();
  const x = c.f32(n, (i) => xsv[i]!), dy = c.f32(n, () => 1);
  for (const ks of impls) for (const kind of KINDS) {
    const k = ks[0]!, y = c.f32(n, () => 7), dx = c.f32(n, () => 7);
    k.activation(kind, x, 0, y, n);
    k.activationBackward(kind, x, 0, dy, dx, 0, n);
    const ys = c.read(y, n), ds = c.read(dx, n);
    // the logistic and Φ factors are exactly 1 or 0 in float32 beyond |x| = 16 (SiLU: 88)
    const far = kind === ActivationKind.Silu ? 88 : 16;
    for (let i = 0; i < n; i++) {
      const v = Math.fround(xsv[i]!), label = `[${k.name}] kind ${kind} x=${v}`;
      if (Number.isNaN(v)) {
        assert.ok(Number.isNaN(ys[i]!), `${label}: NaN propagates`);
        assert.ok(kind === ActivationKind.Relu ? ds[i] === 0 : Number.isNaN(ds[i]!), `${label}: f' = ${ds[i]}`);
        continue;
      }
      if (v === -Infinity && kind !== ActivationKind.Relu) {
        assert.ok(Number.isNaN(ys[i]!) && ds[i] === 0, `${label}: f = −inf·0 = NaN as PyTorch, f' = ${ds[i]}`);
        continue;
      }
      assert.ok(Number.isFinite(ds[i]!), `${label}: f' = ${ds[i]} is finite`);
      if (v >= far || (kind === ActivationKind.Relu && v > 0)) {
        assert.equal(ys[i], v, `${label}: f = x`);
        assert.equal(ds[i], 1, `${label}: f' = 1`);
      } else if (v <= -far || (kind === ActivationKind.Relu && v <= 0)) {
        assert.ok(ys[i] === 0 && ds[i] === 0, `${label}: f = ${ys[i]}, f' = ${ds[i]}, not ±0`);
      } else {
        const [f64, d64] = activation64(kind, v);
        const ok = Math.abs(ys[i]! - f64) <= fBound(kind, v) + 1e-37 && Math.abs(ds[i]! - d64) <= dBound(kind);
        assert.ok(ok, `${label}: ${ys[i]}, ${ds[i]} vs ${f64}, ${d64}`);
      }
    }
  }
  c.free();
});

test('headGradDeposit: row-scaled copy and per-segment dot products (write and accumulate)', () => {
  for (const [rows, seg, nseg] of [[1, 4, 3], [37, 7, 2], [300, 64, 6]] as const) {
    const cols = seg * nseg;
    const c = new Case();
    const g = c.f32(rows * cols), rstd = c.f32(rows, () => rand(0.5, 3)), y = c.f32(rows * cols, () => rand(-3, 3));
    const cvec = c.f32(cols), offs = c.f32(cols);
    // U is one float32 product (plus the old value when accumulating); A and Wt are float32 sums of seg terms
    // each ≲ |rstd|·(|y| + |offs|) ≤ 3·4, so their error is ≲ seg·u·12·3 plus the old value's rounding
    const tolU = (e: Float32Array, i: number) => 4 * U * (Math.abs(e[i]!) + 3);
    const tolDot = (e: Float32Array, i: number) => 4 * (seg + 8) * U * 40 * (1 + Math.abs(e[i]!));
    for (const acc of [false, true]) {
      const Uo = c.out(rows * cols, tolU), A = c.out(nseg * rows, tolDot), Wt = c.out(nseg * rows, tolDot);
      c.check(`headGradDeposit ${rows}×${cols}/${seg} accumulate=${acc}`, (k) =>
        k.headGradDeposit(g, rstd, y, cvec, offs, Uo, A, Wt, rows, cols, seg, 0.25, acc));
    }
    c.free();
  }
});

test('gelu and its gradient', () => {
  for (const n of [...SIZES, 100003]) for (const acc of [false, true]) {
    const c = new Case();
    const x = c.f32(n, () => rand(-6, 6)), dy = c.f32(n);
    const xs = c.read(x, n), dys = c.read(dy, n);
    // wasm: gelu = x·σ(w), w = 2u, σ through one exp (≈ 2 ulp) and one division. A relative error ε of e^{−|w|}
    // moves σ by ≤ σ(1 − σ)·ε ≤ ε/4, and the float32 rounding of w (≤ 3u relative) moves it by
    // σ(1 − σ)·|w|·3u ≤ 0.9u (z·σ(z)(1 − σ(z)) ≤ 0.3); with the final products, |Δgelu| ≲ 4u·|x| + 4u·|gelu|, which
    // the bound below covers with room
    const y = c.out(n, (e, i) => 8 * U * (Math.abs(xs[i]!) + Math.abs(e[i]!) + 1));
    c.check(`gelu n=${n}`, (k) => k.gelu(x, y, n));
    // gelu' = σ + x·σ(1 − σ)·w', w' = 2c(1 + 3a·x²): σ within ~4u relative, the second term within ~8u relative
    // of |x|·0.25·1.6·(1 + 0.134·x²), plus the Δw shift of σ (≤ 0.9u) scaled by ≤ 1 + |x·w'|
    const dx = c.out(n, (e, i) => {
      const xi = Math.abs(xs[i]!);
      return 16 * U * (Math.abs(dys[i]!) * (1 + xi) * (1 + 0.2 * xi * xi) + Math.abs(e[i]!));
    });
    c.check(`geluBackward n=${n} accumulate=${acc}`, (k) => k.geluBackward(x, dy, dx, n, acc));
    c.free();
  }
});

test('gelu and its gradient at large |x|, ±inf and NaN: exact limits, no NaN from finite inputs', () => {
  // beyond |x| ≈ 16 the logistic factor is exactly 0 or 1 in float32: gelu(x) = x or −0, gelu'(x) = 1 or 0,
  // as the float64 reference gives (tanh = ±1); around ±88 (the edge of exp) and ±1e4 (x³ = 1e12) included
  const big = [16, 17, 30, 87.3, 88, 88.8, 100, 1e4, 1e19, 1e30, 3.4e38, Infinity];
  const xsv = [...big, ...big.map((v) => -v), 0, -0, 1e-30, -1e-30, 10, -10, 12, -12, 15.9, -15.9, NaN];
  const n = xsv.length;
  const c = new Case();
  const x = c.f32(n, (i) => xsv[i]!), dy = c.f32(n, () => 1);
  for (const ks of impls) for (const k of ks) {
    const y = c.f32(n, () => 7), dx = c.f32(n, () => 7);
    k.gelu(x, y, n);
    k.geluBackward(x, dy, dx, n, false);
    const ys = c.read(y, n), ds = c.read(dx, n);
    for (let i = 0; i < n; i++) {
      const v = Math.fround(xsv[i]!), label = `[${k.name}] x=${v}`;
      if (Number.isNaN(v)) {
        assert.ok(Number.isNaN(ys[i]!) && Number.isNaN(ds[i]!), `${label}: NaN propagates`);
        continue;
      }
      if (v === -Infinity) {
        assert.ok(ds[i] === 0, `${label}: gelu' = ${ds[i]}`); // gelu(−inf) = −inf·0 = NaN, as the reference
        continue;
      }
      assert.ok(Number.isFinite(ds[i]!), `${label}: gelu' = ${ds[i]} is finite`);
      if (v >= 16) {
        assert.equal(ys[i], v, `${label}: gelu = x`);
        assert.equal(ds[i], 1, `${label}: gelu' = 1`);
      } else if (v <= -16) {
        assert.ok(ys[i] === 0, `${label}: gelu = ${ys[i]}, not ±0`);
        assert.ok(ds[i] === 0, `${label}: gelu' = ${ds[i]}, not ±0`);
      } else {
        assert.ok(Number.isFinite(ys[i]!), `${label}: gelu finite`);
        const t = Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3));
        const yr = 0.5 * v * (1 + t);
        const dr = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * Math.sqrt(2 / Math.PI) * (1 + 3 * 0.044715 * v * v);
        const ax = Math.abs(v);
        assert.ok(Math.abs(ys[i]! - yr) <= 8 * U * (ax + Math.abs(yr) + 1), `${label}: gelu ${ys[i]} vs ${yr}`);
        assert.ok(Math.abs(ds[i]! - dr) <= 16 * U * ((1 + ax) * (1 + 0.2 * ax * ax) + Math.abs(dr)), `${label}: gelu' ${ds[i]} vs ${dr}`);
      }
    }
  }
  c.free();
});

test('add, axpy, scale, addRowVector, sumRows, sumStacked', () => {
  // one float32 rounding per operation: add and scale match the reference exactly, axpy within 2 roundings
  const exact = () => 0;
  for (const n of [...SIZES, 70001]) {
    const c = new Case();
    const a = c.f32(n), b = c.f32(n);
    const o = c.out(n, exact);
    c.check(`add n=${n}`, (k) => k.add(a, b, o, n));
    c.check(`add in place n=${n}`, (k) => k.add(o, b, o, n));
    const y = c.out(n, (e, i) => 2 * U * (Math.abs(e[i]!) + 2));
    c.check(`axpy n=${n}`, (k) => k.axpy(-0.75, a, y, n));
    const s = c.out(n, exact);
    c.check(`scale n=${n}`, (k) => k.scale(a, 1.5, s, n));
    c.free();
  }
  for (const rows of SIZES) for (const cols of SIZES) {
    const c = new Case();
    const x = c.f32(rows * cols), v = c.f32(cols);
    const o = c.out(rows * cols, exact);
    c.check(`addRowVector ${rows}×${cols}`, (k) => k.addRowVector(x, v, o, rows, cols));
    // a float32 column sum of `rows` terms in [−1, 1), plus the old value
    const tol = () => (rows + 2) * U * (rows + 1);
    for (const acc of [false, true]) {
      const s = c.out(cols, tol);
      c.check(`sumRows ${rows}×${cols} accumulate=${acc}`, (k) => k.sumRows(x, s, rows, cols, acc));
      c.check(`sumStacked ${rows}×${cols} accumulate=${acc}`, (k) => k.sumStacked(x, s, rows, cols, acc));
    }
    c.free();
  }
});

test('widenBf16: every u16 pattern to its exact float32 bits (NaN payloads, ±inf, subnormals), odd lengths and offsets', () => {
  for (const n of [1, 7, 33, 1000, 65536 + 13, 70001]) {
    const c = new Case();
    const src = c.f32(Math.ceil((n + 1) / 2)); // one u16 of slack for the odd offset below
    for (const offset of [0, 1]) {
      const halves = new Uint16Array(heap.memory.buffer, src + 2 * offset, n);
      for (let i = 0; i < n; i++) halves[i] = (i * 40503 + 7) & 0xffff; // a stride through all 65,536 patterns
      const want = Uint32Array.from(halves, (h) => h << 16);
      const dst = c.f32(n, () => NaN);
      for (const k of [ref, ...impls.flat()]) {
        heap.f32.fill(NaN, dst >> 2, (dst >> 2) + n);
        k.widenBf16(src + 2 * offset, dst, n);
        const got = new Uint32Array(heap.memory.buffer, dst, n);
        const bad = got.findIndex((v, i) => v !== want[i]);
        assert.equal(bad, -1, `widenBf16 n=${n} offset=${offset} [${k.name}]: element ${bad} has bits ${got[bad]?.toString(16)}, want ${want[bad]?.toString(16)}`);
      }
    }
    c.free();
  }
});

test('gatherRows and scatterAddRows (repeated indices)', () => {
  for (const D of SIZES) for (const n of [1, 7, 100]) {
    const c = new Case();
    const tableRows = 13;
    const idx = c.i32(Array.from({ length: n }, () => Math.floor(rand(0, tableRows))));
    const table = c.f32(tableRows * D), src = c.f32(n * D);
    const out = c.out(n * D, () => 0);
    c.check(`gatherRows n=${n} D=${D}`, (k) => k.gatherRows(idx, table, out, n, D));
    // table rows receive up to n float32 additions in order, the same order as the reference
    const t = c.out(tableRows * D, () => (n + 1) * U * (n + 1));
    c.check(`scatterAddRows n=${n} D=${D}`, (k) => k.scatterAddRows(idx, src, t, n, D));
    c.free();
  }
});

test('softmaxRows', () => {
  for (const cols of SIZES) for (const rows of [1, 37, 200]) {
    const c = new Case();
    const x = c.f32(rows * cols, () => rand(-8, 8));
    // exp has a few ulp of relative error and the row sum (cols terms) ≲ cols·u: relative error ≲ (cols + 8)·u
    const tol = (e: Float32Array, i: number) => 4 * (cols + 8) * U * Math.abs(e[i]!) + 1e-37;
    const o = c.out(rows * cols, tol);
    c.check(`softmaxRows ${rows}×${cols}`, (k) => k.softmaxRows(x, o, rows, cols));
    const inPlace = c.out(rows * cols, tol, c.read(x, rows * cols));
    c.check(`softmaxRows in place ${rows}×${cols}`, (k) => k.softmaxRows(inPlace, inPlace, rows, cols));
    c.free();
  }
});

test('attention forward and backward (causal)', () => {
  // P and dh around the 4×8 blocks and the 16-row backward blocks (P = 1, 5, 17, 40; dh = 4, 7, 9, 13), one
  // (batch, head) pair, and a backward too large for the scratch area (P = 600, dh = 128: the row-by-row path)
  const shapes = [
    [1, 1, 1, 7], [1, 1, 2, 64], [2, 7, 3, 7], [1, 5, 1, 4], [2, 17, 2, 9], [1, 40, 1, 13], [1, 33, 2, 64],
    [2, 33, 3, 7], [3, 64, 4, 64], [1, 600, 1, 128],
  ] as const;
  for (const [B, P, H, dh] of shapes) {
    const c = new Case();
    const HD = H * dh, scale = 1 / Math.sqrt(dh);
    const qkv = c.f32(B * P * 3 * HD);
    // a score q·k·scale is a float32 dot product of dh terms: |Δs| ≤ dh·u·dh·scale; softmax turns it into a
    // relative error ≤ 2|Δs| + (P + 8)·4u of each probability; z sums P·|p·v| ≤ max|v| = 1
    const ds = dh * U * dh * scale;
    const rel = 2 * ds + 4 * (P + 8) * U;
    const probs = c.out(B * H * P * P, (e, i) => rel * Math.abs(e[i]!) + 1e-37);
    const z = c.out(B * P * HD, () => rel + (P + dh) * U);
    c.check(`attention B=${B} P=${P} H=${H} dh=${dh}`, (k) => k.attention(qkv, z, probs, B, P, H, dh, scale));

    const c2 = new Case();
    const q2 = c2.f32(B * P * 3 * HD), z2 = c2.f32(B * P * HD), p2 = c2.f32(B * H * P * P), dz = c2.f32(B * P * HD);
    ref.attention(q2, z2, p2, B, P, H, dh, scale);
    // every gradient element is a sum over ≤ P rows of products of O(1) terms, each itself a dh-term dot
    // product: the float32 error is ≲ (P + dh)·u times the magnitude of the sums
    let bound = 0;
    const dqkv = c2.out(B * P * 3 * HD, (e) => {
      bound ||= 16 * (P + dh + 8) * U * (maxAbs(e) + 1);
      return bound;
    });
    c2.check(`attentionBackward B=${B} P=${P} H=${H} dh=${dh}`, (k) => k.attentionBackward(dz, q2, p2, dqkv, B, P, H, dh, scale));
    c.free();
    c2.free();
  }
});

test('measurePeakGflops returns a positive rate', () => {
  const g = impls[0]![1]!.measurePeakGflops(20);
  assert.ok(g > 0 && Number.isFinite(g), `peak ${g}`);
});
