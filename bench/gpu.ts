/**
 * `npm run bench:gpu`: the WebGPU figures (issue #16), printed, never asserted. Runs from the built tree, offline.
 *   1. the adapter and its fp32 peak (a table of known cards; "unknown" otherwise),
 *   2. GEMM TFLOP/s at 4096³ and at the products of GPT-2 small and XL over 1,536 tokens, against that peak,
 *   3. GPT-2-small-shape forward + backward to all hook points over 16 × 96 tokens,
 *   4. EAP-GP (5 steps) on 1,000 generated IOI rows for GPT-2-small- and GPT-2-XL-shape random models.
 *
 *   node dist/bench/gpu.js [--software] [--skip-xl] [--rows 1000] [--batch 20] [--xl-batch 10] [--smoke]
 *
 * A software adapter (lavapipe) is skipped unless --software; --smoke shrinks every figure to seconds (a check
 * that the script works, not a measurement). The XL model is 6.2 GB of weights written to a temporary folder;
 * the heap (and so the GPU's mirror of it) stays under 4 GiB, the WebAssembly limit, with the per-layer
 * weights streaming in, so any card with 8 GB holds it; --xl-batch lowers the batch if it does not.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { attribute } from '../src/attribution/attribute.js';
import { createEngine, describeAdapter, type Engine } from '../src/engine/engine.js';
import type { GpuKernels } from '../src/engine/webgpu/gpu-kernels.js';
import { loadModel } from '../src/models/load.js';
import { makeRandomModel } from '../src/models/make-model.js';
import { generate, writeDataset } from '../src/tasks/generators/index.js';
import { batches, getTask, lossGrad } from '../src/tasks/index.js';
import type { Label } from '../src/tasks/types.js';
import { gpt2Builtin } from '../src/tokenizer/index.js';
import { benchForwardBackward, formatFwdBwd } from './forward-backward.js';

/** fp32 (non-tensor) peaks in TFLOP/s, by a pattern of the adapter's description. */
const PEAKS: [RegExp, number, string][] = [
  [/H100.*PCIe/i, 51, 'H100 PCIe'],
  [/H100/i, 67, 'H100 SXM'],
  [/H200/i, 67, 'H200'],
  [/A100/i, 19.5, 'A100'],
];

const USAGE = 'usage: node dist/bench/gpu.js [--software] [--skip-xl] [--rows 1000] [--batch 20] [--xl-batch 10] [--smoke]';

function args(): ReturnType<typeof parse> {
  try {
    return parse();
  } catch (err) {
    console.error(`bench/gpu: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

const parse = () => parseArgs({
  options: {
    software: { type: 'boolean', default: false },
    'skip-xl': { type: 'boolean', default: false },
    smoke: { type: 'boolean', default: false },
    rows: { type: 'string', default: '1000' },
    batch: { type: 'string', default: '20' },
    'xl-batch': { type: 'string', default: '10' },
    one: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
const { values } = args();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const smoke = values.smoke!;

/** Seconds per call of `f` (queued `reps` times, then one flush so the GPU has finished). */
function timeGpu(e: Engine, f: () => void, reps: number): number {
  const k = e.kernels as GpuKernels;
  f();
  k.flush();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) f();
  k.flush();
  return (performance.now() - t0) / 1000 / reps;
}

function gemmFigures(e: Engine, peak: number | null): void {
  const shapes: [string, number, number, number, boolean][] = smoke
    ? [['512³', 512, 512, 512, false]]
    : [
        ['4096³', 4096, 4096, 4096, false],
        ['small qkv 1536×768→2304', 1536, 2304, 768, false],
        ['small mlp 1536×768→3072', 1536, 3072, 768, false],
        ['small mlp 1536×3072→768', 1536, 768, 3072, false],
        ['small unembed 1536×768→50257ᵀ', 1536, 50257, 768, true],
        ['XL qkv 1536×1600→4800', 1536, 4800, 1600, false],
        ['XL mlp 1536×1600→6400', 1536, 6400, 1600, false],
        ['XL mlp 1536×6400→1600', 1536, 1600, 6400, false],
      ];
  for (const [name, M, N, K, tB] of shapes) {
    e.tidy(() => {
      const a = e.empty([M, K]), b = e.empty([N, K]), c = e.empty([M, N]);
      a.data().fill(0.5);
      b.data().fill(0.25);
      const s = timeGpu(e, () => e.kernels.gemm(false, tB, M, N, K, 1, a.ptr, K, b.ptr, tB ? K : N, 0, c.ptr, N), smoke ? 2 : 10);
      const tf = (2 * M * N * K) / s / 1e12;
      console.log(`GEMM ${name.padEnd(30)} ${(s * 1e3).toFixed(2).padStart(8)} ms  ${tf.toFixed(tf < 1 ? 4 : 2).padStart(7)} TFLOP/s${peak ? `  ${((100 * tf) / peak).toFixed(0)}% of peak` : ''}`);
    });
  }
}

/** One EAP-GP run in this process (a child of main): prints {"seconds"} as JSON. */
async function oneEapGp(dir: string, rows: number, batch: number): Promise<void> {
  const e = await createEngine({ device: 'gpu' });
  const { model, tokenizer } = await loadModel(e, dir, { quiet: true });
  const task = getTask('ioi');
  const bs = batches(task.load(join(dir, 'ioi.csv'), tokenizer, { limit: rows }), batch);
  const t0 = performance.now();
  await attribute({ model, batches: bs, method: 'eap-gp', loss: (l, B, V, y) => lossGrad(task, l, B, V, y as Label[]), options: { steps: 5 } });
  console.log(JSON.stringify({ seconds: (performance.now() - t0) / 1000 }));
  await e.close();
}

function eapGp(label: string, shape: [number, number, number], rows: number, batch: number): void {
  const dir = mkdtempSync(join(tmpdir(), 'eapgp-bench-gpu-'));
  try {
    const [layers, heads, dModel] = shape;
    makeRandomModel({ layers, heads, dModel, seed: 0, gpt2TokenizerFiles: true }, dir);
    writeDataset(generate('ioi', { n: rows, seed: 0, tokenizer: gpt2Builtin }), join(dir, 'ioi.csv'));
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--one', JSON.stringify({ dir, rows, batch })], { encoding: 'utf8' });
    const last = r.stdout.trim().split('\n').at(-1) ?? '';
    if (r.status !== 0 || !last.startsWith('{')) {
      const lines = r.stderr.split('\n').map((l) => l.trim());
      const why = lines.find((l) => /^\w*Error\b/.test(l)) ?? lines.filter(Boolean).at(-1) ?? `exit ${r.status}`;
      console.log(`EAP-GP ${label}: failed (${why})`);
      return;
    }
    const { seconds } = JSON.parse(last) as { seconds: number };
    console.log(`EAP-GP ${label}, ${rows} IOI rows, batch ${batch}, 5 steps: ${seconds.toFixed(1)} s`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (values.one) {
    const o = JSON.parse(values.one) as { dir: string; rows: number; batch: number };
    return oneEapGp(o.dir, o.rows, o.batch);
  }
  let e: Engine;
  try {
    e = await createEngine({ device: 'gpu' });
  } catch (err) {
    console.log(`WebGPU: no adapter, nothing to measure (${(err as Error).message.split('. ')[0]})`);
    return;
  }
  const adapter = e.info.device!.adapter!;
  const desc = describeAdapter(adapter);
  const known = PEAKS.find(([re]) => re.test(`${adapter.description} ${adapter.device}`));
  console.log(`WebGPU adapter: ${desc}; fp32 peak: ${known ? `${known[1]} TFLOP/s (${known[2]})` : 'unknown'}`);
  if (adapter.software && !values.software) {
    console.log('a software adapter: its figures would measure the CPU; skipped (--software runs them anyway)');
    await e.close();
    return;
  }
  try {
    gemmFigures(e, known?.[1] ?? null);
  } finally {
    await e.close();
  }
  const tmp = mkdtempSync(join(tmpdir(), 'eapgp-bench-gpu-fb-'));
  try {
    if (smoke) makeRandomModel({ layers: 2, heads: 4, dModel: 64, seed: 0 }, tmp);
    else makeRandomModel({ layers: 12, heads: 12, dModel: 768, seed: 0 }, tmp);
    const r = await benchForwardBackward(tmp, `WebGPU${smoke ? ' (smoke: 2×64 model)' : ''}`, { device: 'gpu' }, smoke ? 1 : 3);
    console.log(`forward + backward, GPT-2-small shape, 16 × 96 tokens: ${formatFwdBwd(r)}`);
  } catch (err) {
    console.log(`forward + backward: failed (${(err as Error).message})`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const rows = smoke ? 20 : Number(values.rows), batch = Number(values.batch);
  eapGp(smoke ? 'smoke (2×64 model)' : 'GPT-2-small shape', smoke ? [2, 4, 64] : [12, 12, 768], rows, batch);
  if (!values['skip-xl'] && !smoke) eapGp('GPT-2-XL shape', [48, 25, 1600], rows, Number(values['xl-batch']));
  console.log('goals on an H100/H200: GEMM ≥ 50% of peak; EAP-GP on 1,000 XL rows ≤ 10 minutes');
}

await main();
