/**
 * Model families bench (issue #12): random BF16 checkpoints of real shapes made by `eapgp make-model --arch`.
 *   1. Qwen2.5-0.5B-shaped and Llama-3.2-1B-shaped: EAP-IG (5 steps) on IOI-like rows in batches of 20, ours and
 *      the PyTorch reference (bench/ref/families_ref.py, float32 autograd, 2 threads) on the same checkpoint and
 *      token ids: wall time, peak RSS, and how far our scores are from the reference's.
 *   2. Llama-3.1-8B width (d 4096, 32 heads, 8 kv heads, mlp 14336, vocab 128256) with 4 layers, run at 2 and
 *      4 layers: time per layer of EAP-IG on 8 rows, and the 32-layer figures they imply (peak RSS bounded by its
 *      parts: the depth-independent rest, 32 layers of host weights and a full wasm32 heap).
 * Every run is its own process under /usr/bin/time (its peak RSS is its own). No tokenizer: the rows are
 * seeded random token ids, clean/corrupted of equal length (15–20) differing in 2 positions, with a
 * correct/incorrect answer id and the logit difference as metric (as test/families.test.ts).
 *   node dist/bench/families.js [--rows 100] [--wide-rows 8] [--models qwen2.5-0.5b,llama-3.2-1b,llama-3.1-8b-width]
 *                               [--no-torch] [--dir DIR]
 * Models are written once into --dir (default $EAPGP_BENCH_DIR, else a temporary folder removed at the end).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { attribute } from '../src/attribution/attribute.js';
import type { PairBatch } from '../src/attribution/types.js';
import { createEngine } from '../src/engine/engine.js';
import { fmtBytes } from '../src/engine/memory.js';
import { makeBatch } from '../src/models/batch.js';
import { openFamilyModel } from '../src/models/load.js';
import { GraphLayout } from '../src/models/layout.js';
import { gradientRows } from '../src/attribution/gradients.js';
import { bytesPerExample } from '../src/attribution/memory-plan.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const REF = fileURLToPath(new URL('../../bench/ref/families_ref.py', import.meta.url));
const GiB = 2 ** 30;

/** torchMicroBatch: the reference runs each batch in chunks of this many rows (same scores; batch 20 at once needs > 23 GiB). */
interface Shape { arch: string; args: string[]; vocab: number; torchMicroBatch?: number }
/** The released configs' dimensions (Qwen/Qwen2.5-0.5B, meta-llama/Llama-3.2-1B, meta-llama/Llama-3.1-8B). */
const SHAPES: Record<string, Shape> = {
  'qwen2.5-0.5b': { arch: 'qwen2', vocab: 151936, args: ['--layers', '24', '--d-model', '896', '--heads', '14', '--kv-heads', '2', '--d-mlp', '4864', '--tie'] },
  'llama-3.2-1b': { arch: 'llama', vocab: 128256, torchMicroBatch: 5, args: ['--layers', '16', '--d-model', '2048', '--heads', '32', '--kv-heads', '8', '--d-mlp', '8192', '--tie', '--rope-scaling', 'llama3'] },
  'llama-3.1-8b-width': { arch: 'llama', vocab: 128256, args: ['--layers', '4', '--d-model', '4096', '--heads', '32', '--kv-heads', '8', '--d-mlp', '14336', '--untie', '--rope-scaling', 'llama3'] },
};
const WIDE = 'llama-3.1-8b-width';
const WIDE_FULL_LAYERS = 32;

interface Row { clean: number[]; corrupted: number[]; correct: number; incorrect: number }

/** xorshift32: the same rows on every run and in both implementations (they read the same file). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 2 ** 32;
  };
}

function makeRows(n: number, vocab: number, seed: number): Row[] {
  const r = rng(seed);
  const id = () => 1 + Math.floor(r() * (vocab - 1)); // never 0, the padding id
  return Array.from({ length: n }, () => {
    const T = 15 + Math.floor(r() * 6);
    const clean = Array.from({ length: T }, id);
    const corrupted = [...clean];
    const p1 = 1 + Math.floor(r() * (T - 1));
    let p2 = p1;
    while (p2 === p1) p2 = 1 + Math.floor(r() * (T - 1));
    for (const p of [p1, p2]) while (corrupted[p] === clean[p]) corrupted[p] = id();
    const correct = id();
    let incorrect = correct;
    while (incorrect === correct) incorrect = id();
    return { clean, corrupted, correct, incorrect };
  });
}

/** metric = logit(correct) − logit(incorrect) at the last real token; loss = −mean. */
function logitDiffLoss(logits: Float32Array, B: number, V: number, labels: unknown[]) {
  const grad = new Float32Array(B * V);
  let loss = 0;
  (labels as Row[]).forEach((y, b) => {
    loss -= (logits[b * V + y.correct]! - logits[b * V + y.incorrect]!) / B;
    grad[b * V + y.correct] = -1 / B;
    grad[b * V + y.incorrect] = 1 / B;
  });
  return { loss, grad };
}

/** Child process: EAP-IG on the rows, prints {"seconds", "gemm", ...} as JSON; scores to `out` (float64). */
async function one(dir: string, data: string, batch: number, layers: number | undefined, out: string | undefined): Promise<void> {
  const e = await createEngine({ threads: 2, device: 'cpu' });
  const t0 = performance.now();
  const model = openFamilyModel(e, dir, layers === undefined ? { quiet: true } : { quiet: true, layers });
  const load = (performance.now() - t0) / 1000;
  const headroomAfterLoad = e.heap.headroom; // what the passes have: the layer slots and vocabulary chunks are in
  const rows = JSON.parse(readFileSync(data, 'utf8')) as Row[];
  const bs: PairBatch[] = [];
  for (let i = 0; i < rows.length; i += batch) {
    const ex = rows.slice(i, i + batch);
    bs.push({ n: ex.length, clean: makeBatch(ex.map((x) => x.clean), 0), corrupted: makeBatch(ex.map((x) => x.corrupted), 0), labels: ex });
  }
  const t1 = performance.now();
  const r = await attribute({ model, batches: bs, method: 'eap-ig', loss: logitDiffLoss, options: { steps: 5 } });
  const seconds = (performance.now() - t1) / 1000;
  if (out) writeFileSync(out, Buffer.from(r.scores.buffer, r.scores.byteOffset, r.scores.byteLength));
  console.log(JSON.stringify({
    seconds, load, gemm: e.info.gemmPath, kernels: e.info.kernels, streamed: model.streamed,
    heapTop: e.heap.peakTop, heapMax: Math.min(e.heap.maxBytes, 2 ** 32), headroomAfterLoad, hostLayerBytes: model.weights.hostLayerBytes,
  }));
  model.dispose();
  await e.close();
}

interface Timed { seconds: number; rss: number; wall: number; out: string; err: string; ok: boolean }

function timed(cmd: string, args: string[]): Timed {
  const r = spawnSync('/usr/bin/time', ['-f', 'WALL %e MAXRSS %M', cmd, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const m = /WALL ([\d.]+) MAXRSS (\d+)/.exec(r.stderr);
  return { seconds: NaN, wall: m ? Number(m[1]) : NaN, rss: m ? Number(m[2]) * 1024 : NaN, out: r.stdout, err: r.stderr, ok: r.status === 0 };
}

function firstError(t: Timed): string {
  return t.err.split('\n').find((l) => l.trim() && !l.startsWith('WALL') && !l.startsWith('Command exited'))?.slice(0, 200) ?? 'failed';
}

interface OneInfo {
  seconds: number; load: number; gemm: string; kernels: string; streamed: boolean;
  heapTop: number; heapMax: number; headroomAfterLoad: number; hostLayerBytes: number;
}

function ours(dir: string, data: string, batch: number, layers?: number, out?: string): Timed & { info?: OneInfo } {
  const t = timed(process.execPath, [SELF, 'one', dir, data, String(batch), String(layers ?? ''), out ?? '']);
  if (!t.ok) return t;
  const j = JSON.parse(t.out.trim().split('\n').at(-1)!) as OneInfo;
  return { ...t, seconds: j.seconds, info: j };
}

function torchRef(dir: string, data: string, batch: number, out: string, microBatch?: number): Timed {
  const mb = microBatch ? ['--micro-batch', String(microBatch)] : [];
  const t = timed('/usr/bin/python3', [REF, '--model', dir, '--data', data, '--steps', '5', '--batch-size', String(batch), '--threads', '2', ...mb, '--out', out]);
  const m = /attribution wall time: ([\d.]+) s/.exec(t.out);
  return { ...t, seconds: m ? Number(m[1]) : NaN };
}

/** max |ours − ref| / max |ref| over all scores. */
function relDiff(a: string, b: string): number {
  const f64 = (f: string) => new Float64Array(Uint8Array.from(readFileSync(f)).buffer);
  const x = f64(a), y = f64(b);
  if (x.length !== y.length) return NaN;
  let worst = 0, max = 0;
  for (let i = 0; i < x.length; i++) {
    worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
    max = Math.max(max, Math.abs(y[i]!));
  }
  return worst / max;
}

const s = (x: number) => (Number.isFinite(x) ? `${x.toFixed(1)} s` : '—');
const b = (x: number) => (Number.isFinite(x) ? fmtBytes(x) : '—');

async function main(): Promise<void> {
  if (process.argv[2] === 'one') {
    const [dir, data, batch, layers, out] = process.argv.slice(3);
    return one(dir!, data!, Number(batch), layers ? Number(layers) : undefined, out || undefined);
  }
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: process.env.EAPGP_BENCH_FAMILIES_ROWS ?? '100' },
      'wide-rows': { type: 'string', default: '8' },
      models: { type: 'string', default: Object.keys(SHAPES).join(',') },
      'no-torch': { type: 'boolean', default: false },
      dir: { type: 'string' },
    },
  });
  const rows = Number(values.rows), wideRows = Number(values['wide-rows']);
  const models = values.models!.split(',').filter(Boolean);
  for (const m of models) if (!SHAPES[m]) throw new Error(`unknown model ${m}; choose from ${Object.keys(SHAPES).join(', ')}`);
  const hasTorch = !values['no-torch'] && spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
  const own = values.dir ?? process.env.EAPGP_BENCH_DIR;
  const work = own ?? mkdtempSync(join(tmpdir(), 'eapgp-families-'));
  mkdirSync(work, { recursive: true });
  try {
    console.log(`model families: random BF16 checkpoints, EAP-IG 5 steps, 2 threads; rows of 15–20 random token ids, ` +
      `batch 20 (${rows} rows)${hasTorch ? '' : ' — PyTorch reference not run: /usr/bin/python3 has no torch'}`);
    const header = `${'model'.padEnd(20)} ${'ours'.padStart(8)} ${'torch'.padStart(8)} ${'ratio'.padStart(6)} ${'ours RSS'.padStart(10)} ${'torch RSS'.padStart(10)}  scores vs torch`;
    let printedHeader = false;
    for (const name of models) {
      const sh = SHAPES[name]!, dir = join(work, name);
      if (!existsSync(join(dir, 'model.safetensors'))) {
        const t = timed(process.execPath, [MAIN, 'make-model', '--arch', sh.arch, ...sh.args, '--dtype', 'BF16', '--seed', '0', '--out', dir]);
        if (!t.ok) { console.log(`${name}: make-model failed: ${firstError(t)}`); continue; }
        console.log(`${name}: make-model ${t.wall.toFixed(1)} s`);
      }
      if (name === WIDE) continue;
      const data = join(work, `${name}-rows.json`);
      writeFileSync(data, JSON.stringify(makeRows(rows, sh.vocab, 12)));
      const o = ours(dir, data, 20, undefined, join(work, `${name}-ours.f64`));
      const r = hasTorch ? torchRef(dir, data, 20, join(work, `${name}-torch.f64`), sh.torchMicroBatch) : null;
      if (!printedHeader) { console.log(header); printedHeader = true; }
      const diff = o.ok && r?.ok ? relDiff(join(work, `${name}-ours.f64`), join(work, `${name}-torch.f64`)) : NaN;
      console.log(`${name.padEnd(20)} ${s(o.seconds).padStart(8)} ${s(r?.seconds ?? NaN).padStart(8)} ${(r?.ok && o.ok ? (o.seconds / r.seconds).toFixed(2) : '—').padStart(6)} ` +
        `${b(o.rss).padStart(10)} ${b(r?.rss ?? NaN).padStart(10)}  ${Number.isFinite(diff) ? `max |Δ| / max |ref| = ${diff.toExponential(1)}` : ''}` +
        `${o.ok ? `  (GEMM: ${o.info!.gemm}, load ${o.info!.load.toFixed(1)} s${o.info!.streamed ? ', streamed' : ''})` : `  ours FAILED: ${firstError(o)}`}` +
        `${r && !r.ok ? `  torch FAILED: ${firstError(r)}` : ''}${r && sh.torchMicroBatch ? `  (torch in micro-batches of ${sh.torchMicroBatch} rows)` : ''}`);
    }
    if (models.includes(WIDE)) {
      const dir = join(work, WIDE), data = join(work, `${WIDE}-rows.json`);
      writeFileSync(data, JSON.stringify(makeRows(wideRows, SHAPES[WIDE]!.vocab, 13)));
      const two = ours(dir, data, wideRows, 2), four = ours(dir, data, wideRows, 4);
      console.log(`\n${WIDE} (d 4096, 32 heads, 8 kv heads, mlp 14336, vocab 128256, untied, BF16), EAP-IG on ${wideRows} rows, one batch:`);
      for (const [L, t] of [[2, two], [4, four]] as const) {
        console.log(`  ${L} layers: ${s(t.seconds)}, peak RSS ${b(t.rss)}${t.ok ? `  (GEMM: ${t.info!.gemm}, load ${t.info!.load.toFixed(1)} s${t.info!.streamed ? ', streamed' : ''})` : `  FAILED: ${firstError(t)}`}`);
      }
      if (two.ok && four.ok) {
        // RSS = what does not grow with depth + host weights (per layer) + the heap's touched pages. The heap
        // cannot pass its wasm32 limit: at 32 layers the per-batch buffers are micro-batched to fit, so the bound
        // takes the whole heap instead of extrapolating its 4-layer growth.
        const f = four.info!, perT = (four.seconds - two.seconds) / 2, hostPer = f.hostLayerBytes / 4;
        const fullT = four.seconds + (WIDE_FULL_LAYERS - 4) * perT;
        const rest = four.rss - f.hostLayerBytes - f.heapTop;
        const fullM = rest + WIDE_FULL_LAYERS * hostPer + f.heapMax;
        console.log(`  per layer: ${s(perT)}; host weights ${b(hostPer)} per layer; heap high-water ${b(f.heapTop)} of ${b(f.heapMax)} at 4 layers`);
        console.log(`  → ${WIDE_FULL_LAYERS} layers (Llama-3.1-8B): ~${s(fullT)}; peak RSS ≤ ${b(fullM)} (= ${b(rest)} fixed + ` +
          `${WIDE_FULL_LAYERS} × ${b(hostPer)} host weights + a full ${b(f.heapMax)} heap) — goal fits 24 GiB: ${fullM <= 24 * GiB ? 'yes' : 'no'}`);
        // and the heap must hold one example's passes at 32 layers (the memory plan's estimate; the streamed
        // weights' slots do not grow with depth)
        const dims = { nLayer: WIDE_FULL_LAYERS, nHead: 32, dModel: 4096, vocabSize: SHAPES[WIDE]!.vocab };
        const layout = new GraphLayout({ nLayers: WIDE_FULL_LAYERS, nHeads: 32 });
        const P = 20, need = bytesPerExample(dims, P, { buffers: layout.nSrc + gradientRows(layout), taped: true, headCopies: 'none' });
        const fits = Math.floor(f.headroomAfterLoad / need);
        console.log(`  heap at ${WIDE_FULL_LAYERS} layers: one ${P}-token example's EAP-IG passes need ≤ ${b(need)}; ${b(f.headroomAfterLoad)} free ` +
          `after loading → ${fits >= 1 ? `${fits} example${fits === 1 ? '' : 's'} per micro-batch` : 'does not fit'}`);
      }
    }
  } finally {
    if (!own) rmSync(work, { recursive: true, force: true });
  }
}

await main();
