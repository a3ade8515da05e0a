/**
 * Logits agree with the independent PyTorch oracle (float64) on random models of two shapes, all positions of
 * a right-padded batch. Fixtures: test/fixtures/logits-*.json (made by gen-logits.py). Tolerance 1e-4 of the
 * example's max |logit| (the bound); float32 rounding through a few layers gives ≈ 1e-6 of it.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { makeBatch } from '../src/models/batch.js';
import { loadModel } from '../src/models/load.js';
import { makeRandomModel } from '../src/models/make-model.js';
import { ENGINE_VARIANTS, withEngine } from './helpers/engines.js';

const FIX = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-logits-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Fixture {
  model: { name: string; layers: number; heads: number; dModel: number; seed: number; initStd: number };
  prompts: string[];
  tokens: number[][];
  sampleIds: number[];
  examples: { sample: number[][]; maxAbs: number[]; sum: number[]; sumSq: number[] }[];
}

for (const file of readdirSync(FIX).filter((f) => /^logits-.*\.json$/.test(f))) {
  const fx = JSON.parse(readFileSync(join(FIX, file), 'utf8')) as Fixture;
  const dir = join(tmp, fx.model.name);
  makeRandomModel({ ...fx.model, gpt2TokenizerFiles: true }, dir);
  for (const variant of ENGINE_VARIANTS) {
    test(`logits match the oracle: ${fx.model.name} (${variant.label})`, async () => {
      await withEngine(variant.opts, async (e) => {
        const { model, tokenizer, config } = await loadModel(e, dir, { quiet: true });
        const seqs = fx.prompts.map((p) => [tokenizer.bosId, ...tokenizer.encode(p)]);
        assert.deepEqual(seqs, fx.tokens, 'tokenization differs from the oracle');
        const batch = makeBatch(seqs);
        const V = config.vocabSize;
        const logits = e.tidy(() => model.forward(batch, { logits: 'all' }).logits!.toArray());
        fx.examples.forEach((ex, b) => {
          const tol = 1e-4 * Math.max(...ex.maxAbs);
          for (let p = 0; p < seqs[b]!.length; p++) {
            const row = logits.subarray((b * batch.P + p) * V, (b * batch.P + p + 1) * V);
            fx.sampleIds.forEach((id, j) => {
              const want = ex.sample[p]![j]!;
              assert.ok(Math.abs(row[id]! - want) <= tol, `example ${b} position ${p} token ${id}: ${row[id]} vs oracle ${want}`);
            });
            let mx = 0, s = 0, s2 = 0;
            for (const x of row) {
              mx = Math.max(mx, Math.abs(x));
              s += x;
              s2 += x * x;
            }
            assert.ok(Math.abs(mx - ex.maxAbs[p]!) <= tol, `example ${b} position ${p}: max |logit| ${mx} vs ${ex.maxAbs[p]}`);
            // every logit within tol moves the sum by at most V·tol and the sum of squares by 2·tol·Σ|x|
            assert.ok(Math.abs(s - ex.sum[p]!) <= V * tol, `example ${b} position ${p}: Σ logits ${s} vs ${ex.sum[p]}`);
            assert.ok(Math.abs(s2 - ex.sumSq[p]!) <= 2 * tol * V * mx + 1e-9, `example ${b} position ${p}: Σ logit² ${s2} vs ${ex.sumSq[p]}`);
          }
        });
        // the last-position mode gives the same numbers as the all-positions mode
        const last = e.tidy(() => model.forward(batch).logits!.toArray());
        seqs.forEach((s, b) => {
          const all = logits.subarray((b * batch.P + s.length - 1) * V, (b * batch.P + s.length) * V);
          const mine = last.subarray(b * V, (b + 1) * V);
          for (let i = 0; i < V; i += 7) assert.ok(Math.abs(all[i]! - mine[i]!) <= 1e-5 * Math.max(...fx.examples[b]!.maxAbs));
        });
        model.dispose();
      });
    });
  }
}
