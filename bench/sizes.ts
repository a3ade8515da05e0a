/**
 * Sizes smoke benchmark (issue #10): every method, `evaluate` and `reproduce --limit 20` on random models of
 * GPT-2 small, medium, large and XL shape, at several batch sizes and prompt lengths up to n_ctx, each as its own
 * `eapgp` process under /usr/bin/time: prints wall time and peak RSS, or the error a run stopped with. Nothing
 * is asserted; a row that fails shows the command's one-line message (never a raw RuntimeError).
 *
 *   node dist/bench/sizes.js [--shapes small,medium,large,xl] [--batches 1,5,20] [--lengths 24,245,1010]
 *                            [--methods eap,eap-ig,eap-gp] [--steps 5] [--skip evaluate,reproduce] [--dir DIR]
 *
 * The defaults are the full matrix: hours on 2 cores (XL alone writes 6.2 GB of weights). Models are written
 * once into --dir (default $EAPGP_BENCH_DIR, else a temporary folder removed at the end).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { fmtBytes } from '../src/engine/memory.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const SHAPES: Record<string, [layers: number, heads: number, d: number]> = {
  small: [12, 12, 768], medium: [24, 16, 1024], large: [36, 20, 1280], xl: [48, 25, 1600],
};
/** 17 tokens; a prompt is BOS + k sentences + a 6-token ending: 1 + 17k + 6 tokens (k = 1 → 24, 14 → 245, 59 → 1010). */
const SENTENCE = ' When Mary and John went to the store, Mary bought milk and John bought bread.';

const { values } = parseArgs({
  options: {
    shapes: { type: 'string', default: 'small,medium,large,xl' },
    batches: { type: 'string', default: '1,5,20' },
    lengths: { type: 'string', default: '24,245,1010' },
    methods: { type: 'string', default: 'eap,eap-ig,eap-gp' },
    steps: { type: 'string', default: '5' },
    skip: { type: 'string', default: '' },
    dir: { type: 'string' },
  },
});
const list = (s: string) => s.split(',').filter(Boolean);
const skip = new Set(list(values.skip!));
const own = values.dir ?? process.env.EAPGP_BENCH_DIR;
const work = own ?? mkdtempSync(join(tmpdir(), 'eapgp-sizes-'));
mkdirSync(work, { recursive: true });

interface Row { what: string; seconds?: number; rss?: number; error?: string }
const rows: Row[] = [];

function run(what: string, args: string[]): boolean {
  const r = spawnSync('/usr/bin/time', ['-f', 'WALL %e MAXRSS %M', process.execPath, MAIN, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const m = /WALL ([\d.]+) MAXRSS (\d+)/.exec(r.stderr);
  const row: Row = { what, seconds: m ? Number(m[1]) : undefined, rss: m ? Number(m[2]) * 1024 : undefined };
  if (r.status !== 0) row.error = r.stderr.split('\n').find((l) => l.trim() && !l.startsWith('WALL'))?.slice(0, 160) ?? `exit ${r.status}`;
  rows.push(row);
  console.log(`${what.padEnd(58)} ${row.seconds !== undefined ? `${row.seconds.toFixed(1).padStart(7)} s` : ''}` +
    `${row.rss !== undefined ? `  peak RSS ${fmtBytes(row.rss).padStart(9)}` : ''}${row.error ? `  FAILED: ${row.error}` : ''}`);
  return r.status === 0;
}

/** A custom-task CSV of `n` rows whose prompts have about `tokens` tokens. */
function promptsCsv(tokens: number, n: number): string {
  const k = Math.max(1, Math.round((tokens - 7) / 17));
  const body = SENTENCE.repeat(k);
  const file = join(work, `prompts-${tokens}-${n}.csv`);
  const rows = ['clean,corrupted,answer,wrong'];
  for (let i = 0; i < n; i++) rows.push(`"${body} Then, John gave a drink to","${body} Then, Mary gave a drink to",5335,1757`);
  writeFileSync(file, rows.join('\n') + '\n');
  return file;
}

try {
  for (const shape of list(values.shapes!)) {
    const dims = SHAPES[shape];
    if (!dims) throw new Error(`unknown shape ${shape}; choose from ${Object.keys(SHAPES).join(', ')}`);
    const model = join(work, shape);
    if (!existsSync(join(model, 'model.safetensors'))) {
      run(`${shape}: make-model ${dims.join(' × ')}`, ['make-model', '--layers', `${dims[0]}`, '--heads', `${dims[1]}`, '--d-model', `${dims[2]}`, '--seed', '0', '--out', model]);
    }
    for (const tokens of list(values.lengths!).map(Number)) {
      for (const B of list(values.batches!).map(Number)) {
        const data = ['--model', model, '--task', 'custom', '--data', promptsCsv(tokens, B), '--limit', `${B}`, '--batch-size', `${B}`, '--quiet'];
        let graph: string | null = null;
        for (const method of list(values.methods!)) {
          const out = join(work, `${shape}-${tokens}-${B}-${method}.json`);
          if (run(`${shape} T≈${tokens} B=${B} attribute ${method}`, ['attribute', ...data, '--method', method, '--steps', values.steps!, '--out', out])) graph ??= out;
        }
        if (graph && !skip.has('evaluate')) run(`${shape} T≈${tokens} B=${B} evaluate 100,1000 edges`, ['evaluate', ...data, '--graph', graph, '--edges', '100,1000']);
      }
    }
    if (!skip.has('reproduce')) {
      for (const B of list(values.batches!).map(Number)) {
        const out = join(work, `${shape}-reproduce-${B}`);
        run(`${shape} reproduce ioi --limit 20 B=${B}`, ['reproduce', '--model', model, '--tasks', 'ioi', '--methods', values.methods!, '--limit', '20',
          '--batch-size', `${B}`, '--steps', values.steps!, '--force', '--quiet', '--out', out]);
      }
    }
  }
  const failed = rows.filter((r) => r.error);
  console.log(`\n${rows.length} runs, ${failed.length} failed`);
} finally {
  if (!own) rmSync(work, { recursive: true, force: true });
}
