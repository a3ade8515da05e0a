/**
 * `eapgp validate` under an ablation: exact patching (the ground truth), the variants and the circuits' evaluation
 * all run under the one intervention (--intervention, or the one the variants name). Its exact.json equals exact
 * patching under that ablation computed in-process, m(∅) is the fully ablated model, the variants are the
 * ablated ones, sharded exact patching under the ablation merges to the same file, and mixing interventions or
 * a method that takes none is refused with the fix.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { exactScores } from '../src/attribution/exact.js';
import { createEngine } from '../src/engine/engine.js';
import { baselinesUnder } from '../src/evaluation/evaluate.js';
import { readGraphJson } from '../src/graph/index.js';
import { loadModel } from '../src/models/load.js';
import { batches, getTask } from '../src/tasks/index.js';
import type { Label } from '../src/tasks/types.js';
import { DEFAULT_VARIANTS, parseVariant, parseVariants, validationVariants } from '../src/validation/variants.js';
import { assertUserError, eapgp, makeModel, makeTaskData } from './helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'eapgp-validate-ablation-'));
const model = join(tmp, 'model'), csv = join(tmp, 'ioi.csv'), out = join(tmp, 'out');
const common = ['--model', model, '--task', 'ioi', '--data', csv, '--batch-size', '3', '--threads', '2', '--quiet'];

interface Results {
  intervention: string;
  baseline: { clean: number; corrupted: number };
  exact: { faithfulness: { corrupted: number; points: { faithfulness: number }[] } };
  variants: { name: string; options: Record<string, unknown>; faithfulness: { corrupted: number } }[];
}

before(() => {
  makeModel(model, { layers: 2, heads: 2, dModel: 16, seed: 4 });
  makeTaskData('ioi', 6, csv, 2);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('variants under an ablation: they take it, default keeps the methods that can, mixing is refused', () => {
  assert.equal(parseVariant('eap', 'zero').name, 'eap:intervention=zero');
  assert.equal(parseVariant('eap-ig:intervention=mean', 'mean').name, 'eap-ig:steps=5:intervention=mean');
  assert.deepEqual(validationVariants('eap:intervention=zero,eap-ig:steps=2').variants.map((v) => v.name), ['eap:intervention=zero', 'eap-ig:steps=2:intervention=zero']);
  assert.equal(validationVariants('eap,eap-gp').intervention, 'patching');
  const under = parseVariants('default', 'mean-positional');
  assert.ok(under.length > 0 && under.length < DEFAULT_VARIANTS.length);
  assert.deepEqual([...new Set(under.map((v) => v.method))], ['eap', 'clean-corrupted', 'atp-star', 'relp', 'eap-ig', 'eap-ig-activations']);
  assert.ok(under.every((v) => v.options.intervention === 'mean-positional'));
  assert.throws(() => validationVariants('eap:intervention=zero,eap-ig:intervention=mean'), /"eap:intervention=zero" names intervention=zero and "eap-ig:intervention=mean" intervention=mean; validate runs under one intervention/);
  assert.throws(() => validationVariants('eap:intervention=mean', 'zero'), /validate runs under --intervention zero .*give --intervention mean to validate under it/);
  assert.throws(() => parseVariant('eap-gp', 'zero'), /"eap-gp": eap-gp takes no intervention, so it cannot be compared with exact patching under --intervention zero; leave it out \(methods that take one: eap, eap-ig, eap-ig-activations, clean-corrupted, atp-star, relp\)/);
});

test('validate --intervention mean-positional: exact.json is exact patching under it, m(∅) the fully ablated model, every curve under it', async () => {
  const r = eapgp(['validate', ...common, '--variants', 'eap,eap-ig:steps=2', '--intervention', 'mean-positional', '--out', out]);
  assert.equal(r.code, 0, r.err);
  const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Results;
  assert.equal(res.intervention, 'mean-positional');
  assert.deepEqual(res.variants.map((v) => v.name), ['eap:intervention=mean-positional', 'eap-ig:steps=2:intervention=mean-positional']);
  assert.match(readFileSync(join(out, 'summary.md'), 'utf8'), /under mean-positional ablation \(exact patching, variants and circuits; m\(∅\) the fully ablated model\)/);
  const e = await createEngine({ threads: 2 });
  try {
    const { model: m, tokenizer, config } = await loadModel(e, model, { quiet: true });
    const task = getTask('ioi');
    const bs = batches(task.load(csv, tokenizer), 3);
    const metric = (l: Float32Array, B: number, V: number, y: unknown[]) => task.metric(l, B, V, y as Label[]);
    const base = await baselinesUnder(m, bs, metric, 'mean-positional');
    const patching = await baselinesUnder(m, bs, metric);
    assert.equal(res.baseline.clean, base.clean);
    assert.equal(res.baseline.corrupted, base.corrupted);
    assert.notEqual(base.corrupted, patching.corrupted, 'the fully ablated model is not the corrupted run');
    for (const s of [res.exact.faithfulness, ...res.variants.map((v) => v.faithfulness)]) assert.equal(s.corrupted, base.corrupted);
    assert.ok(Math.abs(res.exact.faithfulness.points.at(-1)!.faithfulness - 1) < 1e-4, 'every edge: F = 1');
    const file = readGraphJson(join(out, 'exact.json'), { nLayers: config.nLayer, nHeads: config.nHead });
    assert.equal(file.meta?.intervention, 'mean-positional');
    const want = (await exactScores({ model: m, batches: bs, metric, intervention: 'mean-positional' })).scores;
    const under = (await exactScores({ model: m, batches: bs, metric })).scores;
    let worst = 0, largest = 0, apart = 0;
    file.graph.forEachEdge((u, v) => {
      const i = file.graph.flat(u, v);
      worst = Math.max(worst, Math.abs(file.graph.scores[i]! - want[i]!));
      largest = Math.max(largest, Math.abs(want[i]!));
      apart = Math.max(apart, Math.abs(want[i]! - under[i]!));
    });
    assert.ok(largest > 0 && worst <= 1e-6 * largest, `exact.json vs exact patching under the ablation: ${worst} (largest ${largest})`);
    assert.ok(apart > 1e-2 * largest, 'and it is not exact patching under the corrupted run');
    m.dispose();
  } finally {
    await e.close();
  }

  // sharded exact patching under the ablation merges to the same exact.json
  const parts = join(tmp, 'parts');
  for (const shard of ['0/2', '1/2']) {
    const s = eapgp(['validate', ...common, '--variants', 'eap', '--intervention', 'mean-positional', '--shard', shard, '--out', parts]);
    assert.equal(s.code, 0, s.err);
  }
  const merged = eapgp(['validate', ...common, '--variants', 'eap', '--intervention', 'mean-positional', '--exact-from', parts, '--out', join(tmp, 'merged')]);
  assert.equal(merged.code, 0, merged.err);
  assert.equal(readFileSync(join(tmp, 'merged', 'exact.json'), 'utf8'), readFileSync(join(out, 'exact.json'), 'utf8'));
  // parts made under another intervention are refused
  assertUserError(eapgp(['validate', ...common, '--variants', 'eap', '--exact-from', parts]), /--exact-from .*: the shards ran with other inputs or options than this run \(.*intervention/);
});

test('validate: an intervention the variants cannot share is refused before anything runs', () => {
  assertUserError(eapgp(['validate', ...common, '--variants', 'eap-gp:steps=2', '--intervention', 'zero']), /"eap-gp:steps=2": eap-gp takes no intervention/);
  assertUserError(eapgp(['validate', ...common, '--variants', 'eap:intervention=zero,eap-ig:intervention=mean']), /validate runs under one intervention/);
  assertUserError(eapgp(['validate', ...common, '--intervention', 'half']), /--intervention must be .*got "half"/);
});
