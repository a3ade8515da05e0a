/**
 * Tokenizer throughput (not a test): tokens/s of our BPE and of gpt-tokenizer's built-in GPT-2 encoding
 * on plain English (the README and docs, and 2,000 generated prompts of each task), cold (first pass, empty
 * piece cache) and warm.
 * Run: npx tsc -p tsconfig.json && node dist/bench/tokenizer.js
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatCsv, generate } from '../src/tasks/generators/index.js';
import { taskNames } from '../src/tasks/index.js';
import { gpt2Builtin, loadTokenizer, writeGpt2TokenizerFiles, type Tokenizer } from '../src/tokenizer/index.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function corpus(): string {
  const docs = ['README.md', ...readdirSync(join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];
  const parts = docs.map((f) => readFileSync(join(repoRoot, f), 'utf8'));
  for (const task of taskNames) parts.push(formatCsv(generate(task, { n: 2000, seed: 0, tokenizer: gpt2Builtin })));
  return parts.join('\n');
}

function time(t: Tokenizer, text: string): { tokens: number; seconds: number } {
  const t0 = performance.now();
  const tokens = t.encode(text).length;
  return { tokens, seconds: (performance.now() - t0) / 1000 };
}

const text = corpus();
// GPT-2's tokenizer files, written before the timing starts
const filesDir = mkdtempSync(join(tmpdir(), 'eapgp-bench-tok-'));
process.on('exit', () => rmSync(filesDir, { recursive: true, force: true }));
writeGpt2TokenizerFiles(filesDir);
const rate = (r: { tokens: number; seconds: number }): string => `${(r.tokens / r.seconds / 1e6).toFixed(2)} M tokens/s`;
console.log(`corpus: ${(text.length / 1e6).toFixed(2)} M chars`);
for (const [label, load] of [
  ['our BPE (vocab.json + merges.txt)', () => loadTokenizer(filesDir)],
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
