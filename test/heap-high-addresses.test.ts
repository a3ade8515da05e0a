/**
 * Every kernel, and a whole attribution (forward and backward passes), with its operands placed above 2 GiB
 * and at the very end of the 4 GiB heap. Offsets ≥ 2³¹ are negative as int32: any place that turns an offset
 * into an index with a signed shift, or passes it through a signed type, reads or writes the wrong memory
 * (issue #10: silently wrong scores, then out-of-bounds traps). The same computation at a low placement is the
 * oracle, and the results must be bit-identical: a kernel's arithmetic does not depend on where its data is.
 *
 * The fillers that push the operands up are never touched, so the test commits only a few MiB of memory.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { attribute } from '../src/attribution/attribute.js';
import type { MethodName } from '../src/attribution/types.js';
import { loadBlas } from '../src/engine/blas.js';
import type { Engine } from '../src/engine/engine.js';
import type { Kernels } from '../src/engine/kernels.js';
import { Heap, MAX_PAGES, PAGE } from '../src/engine/memory.js';
import { ReferenceKernels } from '../src/engine/reference.js';
import { createWasmKernels, type WasmKernels } from '../src/engine/wasm-kernels.js';
import { evaluateCircuits } from '../src/evaluation/evaluate.js';
import type { MetricFn } from '../src/evaluation/patching.js';
import { Graph } from '../src/graph/index.js';
import { loadGpt2Model } from '../src/models/load.js';
import { train } from '../src/training/train.js';
import { makeRandomModel } from '../src/models/make-model.js';
import { generateExamples } from '../src/tasks/generated.js';
import { batches, getTask, lossGrad, taskMetric, type TaskExample } from '../src/tasks/index.js';
import type { Label } from '../src/tasks/types.js';
import { withEngine } from './helpers/engines.js';

const GiB = 2 ** 30;
const HEAP_END = MAX_PAGES * PAGE;
/** Room left at the end of the heap for the "near the end" placement (the largest scenario needs < 16 MiB). */
const END_ROOM = 32 * 2 ** 20;

type Placement = 'low' | 'above 2 GiB' | 'at the 4 GiB end';
const PLACEMENTS: Placement[] = ['low', 'above 2 GiB', 'at the 4 GiB end'];

/** Allocates a block that moves the heap's top to `target` (or leaves it where it is, if already past). */
function fillTo(heap: Heap, target: number): number | null {
  const probe = heap.alloc(64);
  heap.free(probe);
  return target > probe ? heap.alloc(target - probe) : null;
}
function fillerFor(heap: Heap, where: Placement, room = END_ROOM): number | null {
  if (where === 'low') return null;
  return fillTo(heap, where === 'above 2 GiB' ? 2 * GiB + 3 * PAGE : HEAP_END - room);
}

// ---- the kernels

let seed = 7;
function rand(): number {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 1073741824 - 1;
}

/** One kernel call on freshly allocated operands; records every block's placement and reads the outputs back. */
class Scenario {
  private readonly blocks: number[] = [];
  readonly outs: [number, number][] = [];
  constructor(private readonly heap: Heap) {}
  f32(n: number, fill: (i: number) => number = rand): number {
    const p = this.heap.alloc(n * 4);
    this.blocks.push(p);
    const v = this.heap.f32At(p, n);
    for (let i = 0; i < n; i++) v[i] = fill(i);
    return p;
  }
  i32(values: number[]): number {
    const p = this.heap.alloc(values.length * 4);
    this.blocks.push(p);
    this.heap.i32At(p, values.length).set(values);
    return p;
  }
  out(n: number): number {
    const p = this.f32(n);
    this.outs.push([p, n]);
    return p;
  }
  lowest(): number {
    return Math.min(...this.blocks);
  }
  highestEnd(): number {
    return Math.max(...this.blocks.map((p) => p + 64));
  }
  read(): Float32Array[] {
    return this.outs.map(([p, n]) => this.heap.f32At(p, n).slice());
  }
  free(): void {
    for (const p of this.blocks.splice(0)) this.heap.free(p);
  }
}

/** Sizes large enough for the multi-threaded path of every wasm kernel (see PAR_* in wasm-kernels.ts). */
const R = 96, D = 416, N = 40000;
const CALLS: Record<string, (s: Scenario, k: Kernels) => void> = {
  gemm: (s, k) => {
    const M = 70, Nn = 90, K = 85;
    for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      k.gemm(tA, tB, M, Nn, K, 1.25, s.f32(M * K), tA ? M : K, s.f32(K * Nn), tB ? K : Nn, 0.5, s.out(M * Nn), Nn);
    }
  },
  gemmBatched: (s, k) => {
    const M = 40, Nn = 36, K = 64, b = 6;
    k.gemmBatched(false, true, M, Nn, K, 1, s.f32(b * M * K), K, M * K, s.f32(b * Nn * K), K, Nn * K, 0, s.out(b * M * Nn), Nn, M * Nn, b);
  },
  layerNorm: (s, k) => {
    k.layerNorm(s.f32(R * D), s.f32(D), s.f32(D), s.out(R * D), s.out(R), s.out(R), R, D, 1e-5);
  },
  layerNormBackward: (s, k) => {
    const x = s.f32(R * D), gamma = s.f32(D), mean = s.out(R), rstd = s.out(R);
    k.layerNorm(x, gamma, s.f32(D), s.out(R * D), mean, rstd, R, D, 1e-5);
    k.layerNormBackward(s.f32(R * D), x, gamma, mean, rstd, s.out(R * D), true, s.out(R * D), R, D);
  },
  layerNormParamGrad: (s, k) => {
    const x = s.f32(R * D), mean = s.out(R), rstd = s.out(R);
    k.layerNorm(x, s.f32(D), s.f32(D), s.out(R * D), mean, rstd, R, D, 1e-5);
    k.layerNormParamGrad(s.f32(R * D), x, mean, rstd, s.out(D), s.out(D), R, D);
  },
  headGradDeposit: (s, k) => {
    const seg = 32, heads = D / seg;
    k.headGradDeposit(s.f32(R * D), s.f32(R, (i) => 1 + (i % 5) / 10), s.f32(R * D), s.f32(D), s.f32(D),
      s.out(R * D), s.out(heads * R), s.out(heads * R), R, D, seg, 0.75, true);
  },
  gelu: (s, k) => k.gelu(s.f32(N), s.out(N), N),
  geluBackward: (s, k) => k.geluBackward(s.f32(N), s.f32(N), s.out(N), N, true),
  add: (s, k) => k.add(s.f32(N), s.f32(N), s.out(N), N),
  axpy: (s, k) => k.axpy(-0.5, s.f32(N), s.out(N), N),
  scale: (s, k) => k.scale(s.f32(N), 3, s.out(N), N),
  addRowVector: (s, k) => k.addRowVector(s.f32(R * D), s.f32(D), s.out(R * D), R, D),
  sumRows: (s, k) => k.sumRows(s.f32(R * D), s.out(D), R, D, true),
  sumStacked: (s, k) => k.sumStacked(s.f32(R * D), s.out(D), R, D, false),
  gatherRows: (s, k) => {
    const idx = Array.from({ length: R }, (_, i) => (i * 37) % 50);
    k.gatherRows(s.i32(idx), s.f32(50 * D), s.out(R * D), R, D);
  },
  scatterAddRows: (s, k) => {
    const idx = Array.from({ length: R }, (_, i) => (i * 11) % 50);
    k.scatterAddRows(s.i32(idx), s.f32(R * D), s.out(50 * D), R, D);
  },
  softmaxRows: (s, k) => k.softmaxRows(s.f32(R * D), s.out(R * D), R, D),
  attention: (s, k) => {
    const B = 2, P = 48, H = 4, dh = 32;
    k.attention(s.f32(B * P * 3 * H * dh), s.out(B * P * H * dh), s.out(B * H * P * P), B, P, H, dh, 1 / Math.sqrt(dh));
  },
  attentionBackward: (s, k) => {
    const B = 2, P = 48, H = 4, dh = 32;
    const qkv = s.f32(B * P * 3 * H * dh), probs = s.out(B * H * P * P);
    k.attention(qkv, s.out(B * P * H * dh), probs, B, P, H, dh, 0.2);
    k.attentionBackward(s.f32(B * P * H * dh), qkv, probs, s.out(B * P * 3 * H * dh), B, P, H, dh, 0.2);
  },
};

const heap = new Heap();
const impls: { name: string; k: Kernels; only?: string[] }[] = [];
const wasm: WasmKernels[] = [];

before(async () => {
  impls.push({ name: 'reference', k: new ReferenceKernels(heap) });
  for (const relaxed of [true, false]) {
    for (const threads of [1, 2]) {
      const k = await createWasmKernels(heap, { threads, relaxed });
      wasm.push(k);
      impls.push({ name: k.name, k });
    }
  }
  const blas = loadBlas(heap);
  if (blas.ok) {
    blas.blas.setThreads(2);
    impls.push({ name: 'OpenBLAS', k: blas.blas as unknown as Kernels, only: ['gemm', 'gemmBatched'] });
  } else if (process.env.EAPGP_REQUIRE_BLAS === '1') {
    throw new Error(`EAPGP_REQUIRE_BLAS=1 but the BLAS addon did not load: ${blas.reason}`);
  }
});
after(async () => {
  for (const k of wasm) await k.close();
});

test('every kernel gives the same bits above 2 GiB and at the 4 GiB end of the heap as at low addresses', () => {
  for (const [kernel, call] of Object.entries(CALLS)) {
    for (const { name, k, only } of impls) {
      if (only && !only.includes(kernel)) continue;
      const results: Float32Array[][] = [];
      for (const where of PLACEMENTS) {
        const filler = fillerFor(heap, where);
        seed = 7; // the same operands in every placement
        const s = new Scenario(heap);
        call(s, k);
        if (where === 'above 2 GiB') assert.ok(s.lowest() >= 2 ** 31, `${kernel}: operands placed at ${s.lowest()}`);
        if (where === 'at the 4 GiB end') {
          assert.ok(s.lowest() >= HEAP_END - END_ROOM && s.highestEnd() <= HEAP_END, `${kernel}: operands at ${s.lowest()}`);
        }
        results.push(s.read());
        s.free();
        if (filler !== null) heap.free(filler);
      }
      for (let p = 1; p < PLACEMENTS.length; p++) {
        results[p]!.forEach((got, j) => {
          const same = Buffer.from(got.buffer).equals(Buffer.from(results[0]![j]!.buffer));
          assert.ok(same, `${kernel} [${name}] output ${j} ${PLACEMENTS[p]} differs from the low placement`);
        });
      }
    }
  }
  assert.ok(heap.size === HEAP_END, 'the heap did reach its 4 GiB end');
});

// ---- a whole model: forward and backward passes of every method

const tmp = mkdtempSync(join(tmpdir(), 'eapgp-high-'));
const dir = join(tmp, 'm');
const task = getTask('ioi');
/** Room for the model (a 50257-token embedding) and its passes at the heap's end. */
const MODEL_ROOM = 256 * 2 ** 20;
let examples: TaskExample<Label>[];
before(() => {
  makeRandomModel({ layers: 2, heads: 3, dModel: 48, seed: 5, initStd: 0.1 }, dir);
  examples = generateExamples('ioi', { n: 6, seed: 11 }) as TaskExample<Label>[];
});
after(() => rmSync(tmp, { recursive: true, force: true }));

async function scores(e: Engine, method: MethodName): Promise<Float64Array> {
  const { model } = await loadGpt2Model(e, dir, { quiet: true });
  try {
    const r = await attribute({
      model, batches: batches(examples, 3), method, options: { steps: 3 },
      loss: (l, B, V, y) => lossGrad(task, l, B, V, y as Label[]),
    });
    return r.scores;
  } finally {
    model.dispose();
  }
}

const METHODS: MethodName[] = ['eap', 'eap-ig', 'eap-gp', 'eap-ig-activations'];

/** Edge patching of a circuit of every other edge, and of the empty circuit (patched forward passes). */
async function patched(e: Engine): Promise<Float64Array> {
  const { model } = await loadGpt2Model(e, dir, { quiet: true });
  try {
    const g = new Graph(model.dims.nLayer, model.dims.nHead);
    const half = new Uint8Array(g.nSrc * g.nDst), none = new Uint8Array(g.nSrc * g.nDst).fill(1);
    g.edgeFlatIndices().forEach((i, k) => (half[i] = k % 2));
    const metric: MetricFn = (l, B, V, y) => taskMetric(l, B, V, y as Label[]);
    return Float64Array.from(await evaluateCircuits({ model, batches: batches(examples, 3), metric, circuits: [half, none] }));
  } finally {
    model.dispose();
  }
}

test('attribution and edge patching (forward and backward passes) give the same numbers with the model above 2 GiB and at the heap end', async () => {
  for (const gemm of ['wasm', 'auto'] as const) {
    const byPlacement: Float64Array[][] = [];
    for (const where of PLACEMENTS) {
      // a fresh engine per placement: its heap has no holes, so everything lands above the filler
      byPlacement.push(await withEngine({ threads: 2, gemm }, async (e) => {
        fillerFor(e.heap, where, MODEL_ROOM);
        const out: Float64Array[] = [];
        for (const method of METHODS) out.push(await scores(e, method));
        out.push(await patched(e));
        return out;
      }));
    }
    [...METHODS, 'edge patching'].forEach((method, m) => {
      assert.ok(byPlacement[0]![m]!.some((v) => v !== 0), `${method}: scores are not all zero`);
      for (let p = 1; p < PLACEMENTS.length; p++) {
        assert.deepEqual(byPlacement[p]![m], byPlacement[0]![m], `${gemm} ${method}: ${PLACEMENTS[p]} differs from the low placement`);
      }
    });
  }
});

test('training (weight gradients, AdamW) gives the same losses and weights above 2 GiB and at the heap end', async () => {
  const runs: { losses: Float64Array; weights: Float32Array }[] = [];
  for (const where of PLACEMENTS) {
    runs.push(await withEngine({ threads: 2 }, async (e) => {
      fillerFor(e.heap, where, MODEL_ROOM);
      const { model, tokenizer } = await loadGpt2Model(e, dir, { quiet: true });
      try {
        const r = await train(model, tokenizer, {
          tasks: ['ioi', 'greater-than'], steps: 3, batchSize: 4, seed: 1, schedule: { lr: 1e-3, warmup: 1, decay: 'cosine' }, chunkSize: 32,
        });
        return { losses: r.losses, weights: model.weights.layer(1).fcW.toArray() };
      } finally {
        model.dispose();
      }
    }));
  }
  assert.ok(runs[0]!.losses.every((x) => Number.isFinite(x) && x > 0));
  for (let p = 1; p < PLACEMENTS.length; p++) {
    assert.deepEqual(runs[p]!.losses, runs[0]!.losses, `${PLACEMENTS[p]}: losses differ`);
    assert.deepEqual(runs[p]!.weights, runs[0]!.weights, `${PLACEMENTS[p]}: trained weights differ`);
  }
});
