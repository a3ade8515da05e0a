/**
 * GPT-2 XL shapes (48 layers, 25 heads, d 1600; 1.56 B parameters, 6.2 GB of f32 weights) must run within
 * 20 GiB: writes a random checkpoint of that shape (once, into $EAPGP_XL_DIR or a temporary folder; 6.2 GB of
 * disk), then runs `eapgp attribute --method eap-gp` and `eapgp evaluate` on a few IOI rows under
 * /usr/bin/time and prints wall time and peak memory. Minutes, not part of `npm run bench`:
 *   node dist/bench/xl.js [examples]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmtBytes } from '../src/engine/memory.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const examples = process.argv[2] ?? '4';

function timed(label: string, args: string[]): void {
  const hasTime = existsSync('/usr/bin/time');
  const r = hasTime
    ? spawnSync('/usr/bin/time', ['-f', 'WALL %e MAXRSS %M', process.execPath, MAIN, ...args], { encoding: 'utf8' })
    : spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${label} failed:\n${r.stderr}`);
  const m = /WALL ([\d.]+) MAXRSS (\d+)/.exec(r.stderr);
  console.log(`${label.padEnd(44)} ${m ? `${Number(m[1]).toFixed(1)} s, peak RSS ${fmtBytes(Number(m[2]) * 1024)}` : '(no /usr/bin/time)'}`);
}

const given = process.env.EAPGP_XL_DIR;
const work = mkdtempSync(join(tmpdir(), 'eapgp-xl-'));
const dir = given ?? join(work, 'model');
try {
  if (!existsSync(join(dir, 'model.safetensors'))) {
    timed('make-model (48 × 25 × 1600, random)', ['make-model', '--layers', '48', '--heads', '25', '--d-model', '1600', '--seed', '0', '--out', dir]);
  }
  const IOI = join(work, 'ioi.csv');
  timed('tasks make ioi', ['tasks', 'make', 'ioi', '--n', examples, '--out', IOI]);
  const data = ['--model', dir, '--task', 'ioi', '--data', IOI, '--limit', examples, '--batch-size', examples, '--quiet'];
  const scores = join(work, 'scores.json');
  timed(`attribute eap-gp, 5 steps, ${examples} examples`, ['attribute', ...data, '--method', 'eap-gp', '--steps', '5', '--out', scores]);
  timed(`evaluate greedy 100, 1000 edges`, ['evaluate', ...data, '--graph', scores, '--edges', '100,1000']);
  console.log('limit: 20 GiB');
} finally {
  rmSync(work, { recursive: true, force: true });
}
