/**
 * The WebGPU norm, attention and head-gradient kernels (src/engine/webgpu/ops/{norms,attention,head-grads}.ts)
 * against ReferenceKernels on random inputs of awkward shapes, through the real runtime (GpuKernels) on whatever
 * adapter Dawn finds (lavapipe in CI); skipped without one unless EAPGP_REQUIRE_GPU=1. Also: two runs give
 * identical bytes, and the same bytes again when the ops are built for a device with 256-byte binding alignment,
 * 64 KiB bindings and few workgroups a dimension (splitting and merged bindings change nothing but the chunked
 * parameter gradient's summation, which gets its own bound).
 *
 * Tolerances come from float32 rounding, u = 2⁻²⁴: the reference accumulates in float64 and rounds once, while a
 * float32 sum of n terms errs by at most ≈ n·u·Σ|terms| (Higham's γₙ; the GPU's tree sums do better, ≈ log₂n·u,
 * but the bounds allow the sequential worst case). WGSL's exp, sqrt and division may be a few ulp off (exp:
 * 3 + 2|x| ulp), which the constant terms below absorb. Each check states its bound.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Heap } from '../src/engine/memory.js';
import type { Kernels } from '../src/engine/kernels.js';
import { ReferenceKernels } from '../src/engine/reference.js';
import type { GpuDispatch, GpuLimits } from '../src/engine/webgpu/dispatch.js';
import { GpuKernels } from '../src/engine/webgpu/gpu-kernels.js';
import * as norms from '../src/engine/webgpu/ops/norms.js';
import * as attn from '../src/engine/webgpu/ops/attention.js';
import { headGradDeposit } from '../src/engine/webgpu/ops/head-grads.js';
import { gpuKernelsOn, skipWithoutGpu } from './helpers/gpu.js';
import { seededUniform } from './helpers/random.js';

const U_ = 2 ** -24;
const skip = skipWithoutGpu;
const heap = new Heap();
const ref = new ReferenceKernels(heap);
const gpuOn = gpuKernelsOn(heap);
let gpu: GpuKernels;
before(async () => void (gpu = (await gpuOn())!));

/** The kernels under test, with the Kernels signatures. */
type GpuOps = Pick<Kernels, 'layerNorm' | 'layerNormBackward' | 'layerNormParamGrad' | 'rmsNorm' | 'rmsNormBackward' | 'attention' | 'attentionBackward' | 'headGradDeposit'>;
type Call = (k: GpuOps) => void;

/** Runs one call's dispatches built for `limits` (instead of the device's) on the GPU. */
function runWithLimits(limits: GpuLimits, call: Call): void {
  const q = (kernel: string, ds: GpuDispatch[]) => gpu.enqueue(kernel, ds);
  call({
    layerNorm: (...a) => q('layerNorm', norms.layerNorm(limits, ...a)),
    layerNormBackward: (...a) => q('layerNormBackward', norms.layerNormBackward(limits, ...a)),
    layerNormParamGrad: (...a) => q('layerNormParamGrad', norms.layerNormParamGrad(limits, ...a)),
    rmsNorm: (...a) => q('rmsNorm', norms.rmsNorm(limits, ...a)),
    rmsNormBackward: (...a) => q('rmsNormBackward', norms.rmsNormBackward(limits, ...a)),
    attention: (...a) => q('attention', attn.attention(limits, ...a)),
    attentionBackward: (...a) => q('attentionBackward', attn.attentionBackward(limits, ...a)),
    headGradDeposit: (...a) => q('headGradDeposit', headGradDeposit(limits, ...a)),
  });
}

/** A device as small as the convention allows: 256-byte alignment (NVIDIA's), 64 KiB bindings, few workgroups a dimension. */
const tinyLimits = (maxWorkgroups = 7): GpuLimits => ({
  ...gpu.limits, minStorageBufferOffsetAlignment: 256, maxStorageBufferBindingSize: 65536, maxComputeWorkgroupsPerDimension: maxWorkgroups,
});

const rand = seededUniform(4242);

interface Out {
  ptr: number;
  n: number;
  init: Float32Array;
  /** Allowed |gpu − reference| at element i given the reference output. */
  tol: (expected: Float32Array, i: number) => number;
}

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
  read(p: number, n: number): Float32Array {
    return heap.f32At(p, n).slice();
  }
  /** An output of n floats at ptr (default: a new random block), restored to its contents before each run. */
  out(n: number, tol: Out['tol'], ptr = this.f32(n)): number {
    this.outs.push({ ptr, n, tol, init: this.read(ptr, n) });
    return ptr;
  }
  private run(call: () => void): Uint8Array[] {
    for (const o of this.outs) heap.f32At(o.ptr, o.n).set(o.init);
    call();
    return this.outs.map((o) => new Uint8Array(this.read(o.ptr, o.n).buffer));
  }

  /**
   * Reference vs GPU within the tolerances; a second GPU run gives the same bytes. With `tiny`, so do ops built
   * for tinyLimits(), or, for the chunked parameter gradient, they are within `tiny` (a tolerance) of the reference
   * (few shapes: each new grouping of bindings compiles a pipeline, ~1 s on lavapipe).
   */
  check(label: string, call: Call, tiny: boolean | Out['tol'] = false, tinyWorkgroups = 7): void {
    const expected = this.run(() => call(ref)).map((b) => new Float32Array(b.buffer));
    const first = this.run(() => call(gpu));
    first.forEach((g, j) => compare(`${label} output ${j}`, new Float32Array(g.buffer), expected[j]!, this.outs[j]!.tol));
    const again = this.run(() => call(gpu));
    again.forEach((g, j) => assert.ok(bytesEqual(g, first[j]!), `${label} output ${j}: a second run differs`));
    if (!tiny) return;
    const split = this.run(() => runWithLimits(tinyLimits(tinyWorkgroups), call));
    split.forEach((g, j) => {
      if (tiny !== true) compare(`${label} output ${j} (tiny limits)`, new Float32Array(g.buffer), expected[j]!, tiny);
      else assert.ok(bytesEqual(g, first[j]!), `${label} output ${j}: differs when split for tiny limits`);
    });
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
    const t = tol(expected, i);
    if (!(Math.abs(g - e) <= t)) assert.fail(`${label}: element ${i}: got ${g}, expected ${e} (tolerance ${t.toExponential(2)})`);
  }
}

/** [rows, D]: rows not a multiple of any workgroup size, D = 1, D = GPT-2 XL's 1600; `tiny` where splitting happens. */
const NORM_SHAPES: [number, number, boolean][] = [[1, 1, false], [37, 1, false], [300, 7, true], [37, 300, false], [1, 1600, false], [37, 1600, true]];

test('layerNorm forward, backward (accumulate, dxAcc, in place) and parameter gradient', { skip }, () => {
  for (const [rows, D, tiny] of NORM_SHAPES) {
    const c = new Case();
    const x = c.f32(rows * D, () => rand(-2, 2)), gamma = c.f32(D), beta = c.f32(D);
    // mean and variance are float32 sums of D terms (relative error ≲ D·u); y = x̂·gamma + beta with |x̂| ≤ √D,
    // so the error of y is ≲ D·u·(|y| + |gamma|·|x̂| + 1). mean and rstd adjacent in one block, as the engine has them.
    const tolRow = (e: Float32Array, i: number) => 8 * (D + 8) * U_ * (Math.abs(e[i]!) + Math.sqrt(D) + 1);
    const st = c.f32(2 * rows);
    const y = c.out(rows * D, tolRow), mean = c.out(rows, (e, i) => 4 * (D + 8) * U_ * (2 + Math.abs(e[i]!)), st);
    const rstd = c.out(rows, (e, i) => 4 * (D + 8) * U_ * Math.abs(e[i]!), st + 4 * rows);
    c.check(`layerNorm ${rows}×${D}`, (k) => k.layerNorm(x, gamma, beta, y, mean, rstd, rows, D, 1e-5), tiny);
    c.free();

    // backward from the reference statistics (inputs, so both sides see the same ones)
    const c2 = new Case();
    const x2 = c2.f32(rows * D, () => rand(-2, 2)), g2 = c2.f32(D), b2 = c2.f32(D), dy = c2.f32(rows * D);
    const y2 = c2.f32(rows * D), m2 = c2.f32(rows), r2 = c2.f32(rows);
    ref.layerNorm(x2, g2, b2, y2, m2, r2, rows, D, 1e-5);
    const rs = c2.read(r2, rows);
    // dx = rstd·(g − mean(g) − x̂·mean(g·x̂)): two float32 means of D terms of size ≤ √D
    const tolDx = (e: Float32Array, i: number) => 8 * (D + 8) * U_ * (Math.abs(e[i]!) + rs[Math.floor(i / D)]! * (Math.sqrt(D) + 2));
    for (const acc of [false, true]) for (const withAcc of [false, true]) {
      const c3 = new Case();
      const dx = c3.out(rows * D, tolDx), dxAcc = withAcc ? c3.out(rows * D, tolDx) : 0;
      c3.check(`layerNormBackward ${rows}×${D} accumulate=${acc} dxAcc=${withAcc}`, (k) =>
        k.layerNormBackward(dy, x2, g2, m2, r2, dx, acc, dxAcc, rows, D), tiny && acc);
      c3.free();
    }
    // in place (dx = dy, as models/head-ops.ts calls it) with a dxAcc target: dy is the output
    const c4 = new Case();
    const io = c4.out(rows * D, tolDx, c4.f32(rows * D)), accIn = c4.out(rows * D, tolDx);
    c4.check(`layerNormBackward in place ${rows}×${D}`, (k) => k.layerNormBackward(io, x2, g2, m2, r2, io, false, accIn, rows, D), tiny);
    c4.free();
    // dgamma, dbeta: float32 sums over rows of terms ≤ √D (dy·x̂) and ≤ 1 (dy), added to the old value; split into
    // chunks of rows (tiny limits), each chunk's sum is added separately: the same bound holds
    const tolP = () => 4 * (rows + 8) * U_ * (rows * Math.sqrt(D) + 2);
    const dg = c2.out(D, tolP), db = c2.out(D, tolP);
    c2.check(`layerNormParamGrad ${rows}×${D}`, (k) => k.layerNormParamGrad(dy, x2, m2, r2, dg, db, rows, D), tiny && tolP);
    c2.free();
  }
});

test('rmsNorm forward and backward (gain w and 1 + w, accumulate, dxAcc, in place)', { skip }, () => {
  for (const [rows, D, tiny] of NORM_SHAPES) for (const offset of [0, 1]) {
    const c = new Case();
    const x = c.f32(rows * D, () => rand(-2, 2)), gamma = c.f32(D);
    // mean(x²) is a float32 sum of D positive terms (relative error ≤ D·u), rstd its inverse square root (half
    // that, plus a few ulp of sqrt and division); y = (x·rstd)·(gamma + offset) adds three roundings
    const rstd = c.out(rows, (e, i) => (D + 8) * U_ * Math.abs(e[i]!));
    const y = c.out(rows * D, (e, i) => 2 * (D + 8) * U_ * Math.abs(e[i]!) + 1e-37);
    c.check(`rmsNorm ${rows}×${D} offset ${offset}`, (k) => k.rmsNorm(x, gamma, offset, y, rstd, rows, D, 1e-5), tiny && offset === 1);
    c.free();

    const c2 = new Case();
    const x2 = c2.f32(rows * D, () => rand(-2, 2)), g2 = c2.f32(D), dy = c2.f32(rows * D);
    const y2 = c2.f32(rows * D), r2 = c2.f32(rows);
    ref.rmsNorm(x2, g2, offset, y2, r2, rows, D, 1e-5);
    const rs = c2.read(r2, rows);
    // dx = rstd·(g − x̂·mean(g·x̂)), |g| ≤ 2 (gain ≤ 2), |x̂| ≤ √D: one float32 mean of D terms, as layerNorm's
    const tolDx = (e: Float32Array, i: number) => 8 * (D + 8) * U_ * (Math.abs(e[i]!) + 2 * rs[Math.floor(i / D)]! * (Math.sqrt(D) + 2));
    for (const acc of [false, true]) for (const withAcc of [false, true]) {
      const c3 = new Case();
      const dx = c3.out(rows * D, tolDx), dxAcc = withAcc ? c3.out(rows * D, tolDx) : 0;
      c3.check(`rmsNormBackward ${rows}×${D} offset ${offset} accumulate=${acc} dxAcc=${withAcc}`, (k) =>
        k.rmsNormBackward(dy, x2, g2, offset, r2, dx, acc, dxAcc, rows, D), tiny && acc && offset === 1);
      c3.free();
    }
    const c4 = new Case();
    const io = c4.out(rows * D, tolDx, c4.f32(rows * D)), accIn = c4.out(rows * D, tolDx);
    c4.check(`rmsNormBackward in place ${rows}×${D} offset ${offset}`, (k) =>
      k.rmsNormBackward(io, x2, g2, offset, r2, io, true, accIn, rows, D), tiny && offset === 0);
    c4.free();
    c2.free();
  }
});

test('headGradDeposit: segments of 24, 64 and 80, alpha ≠ 1, accumulate on and off', { skip }, () => {
  for (const [rows, nseg, seg, tiny] of [[1, 1, 24, false], [37, 3, 24, true], [37, 3, 64, false], [70, 25, 80, false]] as const) {
    const cols = nseg * seg;
    for (const accumulate of [false, true]) for (const alpha of [1, 0.37]) {
      const c = new Case();
      const g = c.f32(rows * cols), rstd = c.f32(rows, () => rand(0.5, 2)), y = c.f32(rows * cols);
      const cvec = c.f32(cols), offs = c.f32(cols);
      // U = rstd·g is one float32 product on both sides (plus the add when accumulating): 2 roundings. A and Wt are
      // float32 sums of seg terms |v·cvec| ≤ 2 and |v·(y − offs)| ≤ 4 (|v| ≤ 2): ≤ (seg + 4)·u·4·seg, plus the
      // rounding of the stored value
      const U = c.out(rows * cols, (e, i) => 2 * U_ * Math.abs(e[i]!));
      const sumTol = (e: Float32Array, i: number) => 2 * (seg + 4) * U_ * 4 * seg * Math.max(1, alpha) + 2 * U_ * Math.abs(e[i]!);
      const A = c.out(nseg * rows, sumTol), Wt = c.out(nseg * rows, sumTol);
      c.check(`headGradDeposit ${rows}×${nseg}×${seg} accumulate=${accumulate} alpha=${alpha}`, (k) =>
        k.headGradDeposit(g, rstd, y, cvec, offs, U, A, Wt, rows, cols, seg, alpha, accumulate), tiny && alpha !== 1);
      c.free();
    }
  }
});

/**
 * [B, P, H, dh, tiny]: P = 1, P = 37 and P over two tiles of 64, H = 3, dh = 24/64/80, GPT-2 XL's 25 × 64; tiny
 * limits split the forward of the second by batches, and both directions of the last by heads.
 */
const ATTN_SHAPES: [number, number, number, number, 'forward' | 'both' | false][] = [
  [1, 1, 1, 24, false], [2, 37, 3, 24, 'forward'], [1, 37, 3, 80, false], [2, 130, 2, 64, false], [1, 70, 25, 64, false], [2, 64, 3, 8, 'both'],
];

test('attention forward and backward against the reference: causal mask exact, dqkv written', { skip }, () => {
  for (const [B, P, H, dh, tiny] of ATTN_SHAPES) {
    const D = H * dh, scale = 1 / Math.sqrt(dh);
    const c = new Case();
    const qkv = c.f32(B * P * 3 * D);
    // Scores are float32 dot products of dh terms with |q_d·k_d| ≤ 1: |Δs| ≤ εs = (dh + 4)·u·dh·scale. A softmax
    // entry's relative error is then ≤ 4εs (its score and the max, and the same through the normalising sum) plus
    // exp's 3 + 2|s − m| ulp (|s − m| ≤ 2·dh·scale) and the sum's (P + 4)·u; the future is exactly 0 on both sides.
    // z = Σ p·v with |v| < 1 and Σ p = 1 inherits that relative error as absolute, plus its own (P + 4)·u. Doubled.
    const es = (dh + 4) * U_ * dh * scale, relP = 4 * es + (8 + 4 * dh * scale + P + 4) * U_;
    const probs = c.out(B * H * P * P, (e, i) => 2 * relP * e[i]!);
    const z = c.out(B * P * D, () => 2 * (relP + (P + 4) * U_));
    c.check(`attention B=${B} P=${P} H=${H} dh=${dh}`, (k) => k.attention(qkv, z, probs, B, P, H, dh, scale), !!tiny, 1000);

    // backward from the reference probabilities (an input, so both sides see the same ones)
    const c2 = new Case();
    const pr = c2.f32(B * H * P * P), zz = c2.f32(B * P * D), dz = c2.f32(B * P * D);
    ref.attention(qkv, zz, pr, B, P, H, dh, scale);
    const Pm = c2.read(pr, B * H * P * P);
    // dP = dz·v: |dP| ≤ dh, error εP = (dh + 4)·u·dh; dot = Σ p·dP adds (P + 4)·u·dh; dS = p·(dP − dot)·scale errs by
    // ≤ p·ES with ES = (2εP + (P + 8)·u·dh)·scale, |dS| ≤ 2·dh·scale·p. dq = Σ_j dS·k (Σ_j p = 1), dk_j = Σ_i dS·q
    // and dv_j = Σ_i p·dz (both weighted by the column sum C_j = Σ_i p_ij ≤ P) add their own sums' (P + 4)·u·Σ|terms|,
    // on the reference's float32 accumulation as on ours. Doubled.
    const eP = (dh + 4) * U_ * dh, ES = (2 * eP + (P + 8) * U_ * dh) * scale, sumS = (P + 4) * U_ * 2 * dh * scale;
    const col = new Float64Array(B * H * P);
    for (let bh = 0; bh < B * H; bh++) for (let i = 0; i < P; i++) for (let j = 0; j <= i; j++) col[bh * P + j]! += Pm[(bh * P + i) * P + j]!;
    const dqkv = c2.out(B * P * 3 * D, (_e, idx) => {
      const rowI = Math.floor(idx / (3 * D)), cc = idx % (3 * D), part = Math.floor(cc / D), h = Math.floor((cc % D) / dh);
      const b = Math.floor(rowI / P), pos = rowI % P, C = col[(b * H + h) * P + pos]!;
      if (part === 0) return 2 * (ES + sumS);
      if (part === 1) return 2 * C * (ES + sumS);
      return 2 * C * (P + 4) * U_ * 2;
    });
    c2.check(`attentionBackward B=${B} P=${P} H=${H} dh=${dh}`, (k) => k.attentionBackward(dz, qkv, pr, dqkv, B, P, H, dh, scale), tiny === 'both', 1000);
    c2.free();
    c.free();
  }
});

test('attention: limits that one head cannot fit are an error naming the kernel and the limit', { skip }, () => {
  // one batch of P = 37, 3 × 24 needs 74.6 KB of row bindings for the backward pass, over tiny limits' 64 KiB
  assert.throws(() => attn.attentionBackward(tinyLimits(1000), 1 << 26, 1 << 27, 1 << 28, 1 << 29, 2, 37, 3, 24, 0.2),
    /^Error: attentionBackward: one head of one batch .* maxStorageBufferBindingSize 65536/);
  assert.throws(() => attn.attention(gpu.limits, 1 << 26, 1 << 27, 1 << 28, 1, 8, 2, 512, 0.2), /attention: head dimension 512 exceeds/);
});

test('an input freed right after the call that reads it still reaches the kernel', { skip }, () => {
  // the tensor a hook adds is freed while the kernel reading it is still queued: its upload must not be dropped
  // (rounds 2 and 3 reuse the freed block, so a dropped upload would read the previous round's x)
  const rows = 64, D = 1024;
  const c = new Case();
  const gamma = c.f32(D), beta = c.f32(D), y = c.f32(rows * D), st = c.f32(2 * rows), yRef = c.f32(rows * D), stRef = c.f32(2 * rows);
  for (let round = 0; round < 3; round++) {
    const data = Float32Array.from({ length: rows * D }, () => rand(-2, 2));
    const x = heap.alloc(4 * rows * D);
    heap.f32At(x, rows * D).set(data);
    gpu.layerNorm(x, gamma, beta, y, st, st + 4 * rows, rows, D, 1e-5);
    heap.free(x);
    const got = c.read(y, rows * D);
    const x2 = c.f32(rows * D, (i) => data[i]!);
    ref.layerNorm(x2, gamma, beta, yRef, stRef, stRef + 4 * rows, rows, D, 1e-5);
    heap.free(c.blocks.pop()!);
    // layerNorm's bound from the first test
    compare(`round ${round}`, got, c.read(yRef, rows * D), (e, i) => 8 * (D + 8) * U_ * (Math.abs(e[i]!) + Math.sqrt(D) + 1));
  }
  c.free();
});

test('an input zeroed (Heap.fillF32) right after the call that reads it still reaches the kernel with its old values', { skip }, () => {
  // the fill runs on the device after the queued kernel; the host's earlier values must still be uploaded first
  const rows = 64, D = 1024;
  const c = new Case();
  const gamma = c.f32(D), beta = c.f32(D), y = c.f32(rows * D), st = c.f32(2 * rows), x = c.f32(rows * D);
  const yRef = c.f32(rows * D), stRef = c.f32(2 * rows);
  for (let round = 0; round < 2; round++) {
    const data = Float32Array.from({ length: rows * D }, () => rand(-2, 2));
    heap.f32At(x, rows * D).set(data);
    gpu.layerNorm(x, gamma, beta, y, st, st + 4 * rows, rows, D, 1e-5);
    heap.fillF32(x, rows * D, 0);
    const got = c.read(y, rows * D);
    assert.ok(c.read(x, rows * D).every((v) => v === 0), 'the fill itself ran');
    heap.f32At(x, rows * D).set(data);
    ref.layerNorm(x, gamma, beta, yRef, stRef, stRef + 4 * rows, rows, D, 1e-5);
    compare(`round ${round}`, got, c.read(yRef, rows * D), (e, i) => 8 * (D + 8) * U_ * (Math.abs(e[i]!) + Math.sqrt(D) + 1));
  }
  c.free();
});
