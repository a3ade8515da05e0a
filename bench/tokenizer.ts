/**
 * Tokenizer throughput (not a test): tokens/s of our BPE and of gpt-tokenizer's built-in GPT-2 encoding
 * on plain English (the shared design document, the task prompts and the raw SVA sentences), cold
 * (first pass, empty piece cache) and warm.
 * Run: npx tsc -p tsconfig.json && node dist/bench/tokenizer.js [sharedDir]
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTokenizer, type Tokenizer } from '../src/tokenizer/index.js';
import { readCsv } from '../src/util/csv.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = process.argv[2] ?? join(repoRoot, '..', 'shared');

function corpus(): string {
  const parts = [readFileSync(join(shared, 'DESIGN.md'), 'utf8')];
  const tasks = join(shared, 'data', 'tasks');
  for (const task of ['ioi', 'greater-than', 'sva', 'gender-bias', 'capital-country', 'hypernymy']) {
    for (const row of readCsv(join(tasks, task, 'eapig-faithfulness_gpt2.csv')).rows) parts.push(row.values.join(' '));
  }
  const raw = join(tasks, 'sva-raw');
  for (const f of readdirSync(raw).filter((n) => n.endsWith('.csv'))) parts.push(readFileSync(join(raw, f), 'utf8'));
  return parts.join('\n');
}

function time(t: Tokenizer, text: string): { tokens: number; seconds: number } {
  const t0 = performance.now();
  const tokens = t.encode(text).length;
  return { tokens, seconds: (performance.now() - t0) / 1000 };
}

const text = corpus();
const rate = (r: { tokens: number; seconds: number }): string => `${(r.tokens / r.seconds / 1e6).toFixed(2)} M tokens/s`;
console.log(`corpus: ${(text.length / 1e6).toFixed(2)} M chars`);
for (const [label, load] of [
  ['our BPE (vocab.json + merges.txt)', () => loadTokenizer(join(shared, 'models', 'gpt2'))],
  ['gpt-tokenizer r50k_base', () => loadTokenizer()],
] as const) {
  const l0 = performance.now();
  const tok = load();
  const loadMs = performance.now() - l0;
  const cold = time(tok, text);
  let best = Infinity;
  let tokens = 0;
  for (let i = 0; i < 5; i++) {
    const r = time(tok, text);
    best = Math.min(best, r.seconds);
    tokens = r.tokens;
  }
  console.log(`${label}: load ${loadMs.toFixed(0)} ms; ${cold.tokens} tokens; cold ${rate(cold)}; warm ${rate({ tokens, seconds: best })}`);
}
