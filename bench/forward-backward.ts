/**
 * Forward + backward of a GPT-2-small-size random model (12 layers, 12 heads, d 768, vocab 50257) over
 * 16 × 96 tokens, with every hook point's gradient delivered (per-head q/k/v inputs, head outputs, MLP in/out,
 * embeddings, final residual), loss on the last-position logits — the work of one attribution pass.
 */
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, type EngineOptions } from '../src/engine/engine.js';
import { fmtBytes } from '../src/engine/memory.js';
import type { Tensor } from '../src/engine/tensor.js';
import { openCheckpoint } from '../src/models/checkpoint.js';
import { GPT2 } from '../src/models/gpt2.js';
import { makeBatch } from '../src/models/batch.js';
import { allHookNames } from '../src/models/hooks.js';
import { makeRandomModel } from '../src/models/make-model.js';
import { Rng } from '../src/models/random.js';

export interface FwdBwdResult {
  label: string;
  seconds: number;
  gflop: number;
  heapPeak: number;
  rssPeak: number;
}

/**
 * FLOPs of the matrix products (everything else is memory-bound and small). Backward computes input gradients
 * only: the same products as forward (the per-head q/k/v split has the FLOPs of the fused product), and twice
 * the attention products; causal attention counts half of its P×P products.
 */
export function fwdBwdFlops(L: number, H: number, D: number, V: number, B: number, P: number): number {
  const R = B * P;
  const linear = 2 * R * D * (3 * D + D + 4 * D + 4 * D);
  const attention = (2 * 2 * B * H * P * P * (D / H)) / 2;
  return L * (2 * linear + 3 * attention) + 2 * 2 * B * D * V;
}

export function ensureSmallModel(dir: string): void {
  if (!existsSync(join(dir, 'model.safetensors'))) makeRandomModel({ layers: 12, heads: 12, dModel: 768, seed: 0 }, dir);
}

export async function benchForwardBackward(dir: string, label: string, opts: EngineOptions, reps = 3): Promise<FwdBwdResult> {
  const e = await createEngine(opts);
  const ckpt = openCheckpoint(dir);
  const model = new GPT2(e, ckpt.config, ckpt);
  ckpt.close();
  const { nLayer: L, nHead: H, dModel: D, vocabSize: V } = ckpt.config;
  const B = 16, P = 96;
  const rng = new Rng(1);
  const batch = makeBatch(Array.from({ length: B }, () => Array.from({ length: P }, () => rng.nextU32() % 50000)));
  const gradHooks = Object.fromEntries(allHookNames(L).map((n) => [n, (_g: Tensor) => {}]));
  const once = () =>
    e.tidy(() =>
      e.record((tape) => {
        const { logits } = model.forward(batch, { gradHooks });
        tape.backward([[logits!, e.fromArray(new Float32Array(B * V).fill(1 / B), logits!.shape)]]);
      }),
    );
  once(); // warm-up: memory growth, worker start, JIT
  e.heap.resetPeak();
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    once();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  const res = { label, seconds: best, gflop: fwdBwdFlops(L, H, D, V, B, P) / 1e9, heapPeak: e.heap.peakInUse, rssPeak: process.resourceUsage().maxRSS * 1024 };
  model.dispose();
  await e.close();
  return res;
}

export function formatFwdBwd(r: FwdBwdResult): string {
  return `${r.label.padEnd(28)} ${r.seconds.toFixed(2).padStart(6)} s  ${(r.gflop / r.seconds).toFixed(1).padStart(6)} GFLOP/s  heap peak ${fmtBytes(r.heapPeak)} (weights included), process RSS peak ${fmtBytes(r.rssPeak)}`;
}

// node dist/bench/forward-backward.js [blas|wasm|both] [model dir]
if (import.meta.url === `file://${process.argv[1]}`) {
  const given = process.argv[3];
  const dir = given ?? mkdtempSync(join(tmpdir(), 'eapgp-bench-'));
  try {
    ensureSmallModel(dir);
    const which = process.argv[2] ?? 'both';
    if (which !== 'wasm') console.log(formatFwdBwd(await benchForwardBackward(dir, 'BLAS, 2 threads', { gemm: 'blas', threads: 2, device: 'cpu' })));
    if (which !== 'blas') console.log(formatFwdBwd(await benchForwardBackward(dir, 'WebAssembly only, 2 threads', { gemm: 'wasm', threads: 2, device: 'cpu' })));
  } finally {
    if (!given) rmSync(dir, { recursive: true, force: true });
  }
}
