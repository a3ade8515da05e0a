/**
 * Attribution speed and memory against the PyTorch oracle: a GPT-2-small-size random model, 100 IOI rows from
 * our generator (seed 0), batch 20, 2 threads; EAP, EAP-IG (5 steps), EAP-GP (5 steps). Each method runs in
 * its own process so that its peak memory (RSS) is its own. The oracle (not part of this repository: its
 * directory in EAPGP_ORACLE) runs too when that is set and /usr/bin/python3 has torch.
 *   node dist/bench/attribution.js [methods,comma,separated]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { attribute } from '../src/attribution/attribute.js';
import type { MethodName } from '../src/attribution/types.js';
import { createEngine } from '../src/engine/engine.js';
import { fmtBytes } from '../src/engine/memory.js';
import { loadModel } from '../src/models/load.js';
import { generate, writeDataset } from '../src/tasks/generators/index.js';
import { batches, getTask, lossGrad } from '../src/tasks/index.js';
import type { Label } from '../src/tasks/types.js';
import { gpt2Builtin, writeGpt2TokenizerFiles } from '../src/tokenizer/index.js';
import { ensureSmallModel } from './forward-backward.js';

const ORACLE = process.env['EAPGP_ORACLE'] ? join(process.env['EAPGP_ORACLE'], 'oracle.py') : null;
/** The IOI rows, in the model's directory. */
const ioiCsv = (dir: string): string => join(dir, 'ioi.csv');
const ORACLE_NAME: Record<string, string> = { eap: 'EAP', 'eap-ig': 'EAP-IG-inputs', 'eap-gp': 'EAP-GP' };

/** One method in this process: prints {"seconds", "rss"} as JSON. */
async function one(method: MethodName, dir: string): Promise<void> {
  const e = await createEngine({ threads: 2, device: 'cpu' });
  const { model, tokenizer } = await loadModel(e, dir, { quiet: true });
  const task = getTask('ioi');
  const bs = batches(task.load(ioiCsv(dir), tokenizer, { limit: 100 }), 20);
  const t0 = performance.now();
  await attribute({ model, batches: bs, method, loss: (l, B, V, y) => lossGrad(task, l, B, V, y as Label[]), options: { steps: 5 } });
  const seconds = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ seconds, rss: process.resourceUsage().maxRSS * 1024, gemm: e.info.gemmPath }));
  await e.close();
}

function oracle(method: string, dir: string): { seconds: number; rss: number } | null {
  if (ORACLE === null) return null;
  const r = spawnSync('/usr/bin/time', ['-f', 'MAXRSS %M', '/usr/bin/python3', ORACLE, 'attribute', '--model', dir, '--data', ioiCsv(dir), '--task', 'ioi',
    '--method', ORACLE_NAME[method]!, '--steps', '5', '--batch-size', '20', '--limit', '100', '--threads', '2', '--out', join(dir, 'oracle.json')], { encoding: 'utf8' });
  const t = /attribution wall time: ([\d.]+) s/.exec(r.stdout + r.stderr), m = /MAXRSS (\d+)/.exec(r.stderr);
  return t && m ? { seconds: Number(t[1]), rss: Number(m[1]) * 1024 } : null;
}

async function main(): Promise<void> {
  if (process.argv[2] === 'one') return one(process.argv[3] as MethodName, process.argv[4]!);
  const methods = (process.argv[2] ?? 'eap,eap-ig,eap-gp').split(',');
  const hasTorch = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0 && ORACLE !== null && existsSync(ORACLE);
  const tmp = mkdtempSync(join(tmpdir(), 'eapgp-bench-attr-'));
  try {
    ensureSmallModel(tmp);
    writeDataset(generate('ioi', { n: 100, seed: 0, tokenizer: gpt2Builtin }), ioiCsv(tmp));
    // the oracle reads the tokenizer from the model directory
    writeGpt2TokenizerFiles(tmp);
    console.log('attribution, GPT-2-small-size random model, 100 generated IOI rows, batch 20, 2 threads, 5 steps');
    console.log(`${'method'.padEnd(8)} ${'ours'.padStart(8)} ${'peak RSS'.padStart(10)}${hasTorch ? `  ${'oracle'.padStart(8)} ${'peak RSS'.padStart(10)}  ratio (target ≤ 0.5)` : ''}`);
    for (const m of methods) {
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), 'one', m, tmp], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${m}: ${r.stderr}`);
      const ours = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { seconds: number; rss: number; gemm: string };
      let line = `${m.padEnd(8)} ${(ours.seconds.toFixed(1) + ' s').padStart(8)} ${fmtBytes(ours.rss).padStart(10)}`;
      if (hasTorch) {
        const o = oracle(m, tmp);
        line += o ? `  ${(o.seconds.toFixed(1) + ' s').padStart(8)} ${fmtBytes(o.rss).padStart(10)}  ${(ours.seconds / o.seconds).toFixed(2)}` : '  oracle failed';
      }
      console.log(line + `   (GEMM: ${ours.gemm})`);
    }
    if (!hasTorch) console.log(`(oracle not run: it needs EAPGP_ORACLE naming its directory${ORACLE ? ` (${ORACLE} is missing)` : ''} and torch for /usr/bin/python3)`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
