/**
 * The built-in default model (models/default, trained by `eapgp train` with the command in README "Training"):
 * small enough to ship, GPT-2 tokenizer and vocabulary with tied embeddings, what `--model` defaults to from any
 * working directory, and it solves its tasks on freshly generated prompts. The prompts use seed 2025, which
 * differs from the held-out seed of training.json (1,000,003) and from the training stream (its chunks use
 * seeds derived from the training seed). Required by issue #6: IOI logit difference > 0 for ≥ 95 % of prompts,
 * Greater-Than probability difference > 0 for ≥ 90 %; the other four trained tasks are held to 90 % as well.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { defaultModelDir } from '../src/models/default-model.js';
import { loadGpt2Model } from '../src/models/load.js';
import { formatFigures, heldOutFigures } from '../src/training/accuracy.js';
import { withEngine } from './helpers/engines.js';

const dir = defaultModelDir();
const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown> & { eapgp_training: { tasks: string[] } };
const REQUIRED: Record<string, number> = { ioi: 0.95, 'greater-than': 0.9 };

test('the default model is a small GPT-2 with the full GPT-2 vocabulary and tied embeddings', () => {
  assert.equal(dir, fileURLToPath(new URL('../../models/default/', import.meta.url)));
  assert.equal(config.vocab_size, 50257);
  assert.equal(config.tie_word_embeddings, true);
  const bytes = statSync(join(dir, 'model.safetensors')).size;
  assert.ok(bytes < 10 * 2 ** 20, `model.safetensors is ${bytes} bytes; the repository copy must stay a few MB`);
  const header = readFileSync(join(dir, 'model.safetensors')).subarray(8, 8 + 4096).toString('utf8');
  assert.ok(!header.includes('lm_head'), 'tied: no lm_head.weight');
  for (const t of ['ioi', 'greater-than']) assert.ok(config.eapgp_training.tasks.includes(t), `trained on ${t}`);
});

test('the default model solves its tasks on fresh prompts', async () => {
  await withEngine({ gemm: 'auto', threads: 2 }, async (e) => {
    const { model, tokenizer } = await loadGpt2Model(e, dir, { quiet: true });
    const figures = heldOutFigures(model, tokenizer, config.eapgp_training.tasks, { n: 200, seed: 2025 });
    console.log(formatFigures(figures));
    for (const f of figures) {
      const need = REQUIRED[f.task] ?? 0.9;
      assert.ok(f.positive >= need, `${f.task}: metric > 0 for ${(100 * f.positive).toFixed(1)}% of ${f.n} prompts, need ${100 * need}%`);
    }
    model.dispose();
  });
});

test('the package ships the default model (package.json "files")', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { files: string[] };
  assert.ok(pkg.files.some((f) => f === 'models/default' || f === 'models'), `package.json "files" (${pkg.files.join(', ')}) must list models/default`);
});

test('--model defaults to the package\'s models/default from any working directory', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'eapgp-default-'));
  after(() => rmSync(cwd, { recursive: true, force: true }));
  const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
  const r = spawnSync(process.execPath, [cli, 'run', '--prompt', 'When Kate and Paul went to the park, Paul gave the ball to', '--json'], { cwd, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const top = (JSON.parse(r.stdout) as { top: { token: string }[] }).top[0]!;
  assert.equal(top.token, ' Kate', 'the default model answers the IOI prompt');
});
