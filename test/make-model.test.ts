import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openCheckpoint, validateGPT2 } from '../src/models/checkpoint.js';
import { makeRandomModel } from '../src/models/make-model.js';
import { Rng, deriveSeed } from '../src/models/random.js';
import { isUserError } from '../src/util/errors.js';
import { gpt2MergesTxt, gpt2VocabJson } from '../src/tokenizer/index.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eapgp-mm-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const small = { layers: 2, heads: 4, dModel: 32, vocab: 500, nCtx: 64 };
const bytes = (dir: string) => fs.readFileSync(path.join(dir, 'model.safetensors'));

function stats(x: Float32Array) {
  let s = 0, s2 = 0;
  for (const v of x) { s += v; s2 += v * v; }
  const mean = s / x.length;
  return { mean, std: Math.sqrt(s2 / x.length - mean * mean) };
}

test('deterministic by seed; different seeds differ', () => {
  const a = makeRandomModel({ ...small, seed: 3 }, path.join(tmp, 'a'));
  const b = makeRandomModel({ ...small, seed: 3 }, path.join(tmp, 'b'));
  const c = makeRandomModel({ ...small, seed: 4 }, path.join(tmp, 'c'));
  assert.ok(bytes(a.dir).equals(bytes(b.dir)));
  assert.ok(!bytes(a.dir).equals(bytes(c.dir)));
  assert.equal(
    fs.readFileSync(path.join(a.dir, 'config.json'), 'utf8'),
    fs.readFileSync(path.join(b.dir, 'config.json'), 'utf8'),
  );
});

test('Hugging Face layout: config, names, shapes; loads through openCheckpoint + validateGPT2', () => {
  const m = makeRandomModel({ ...small, seed: 1 }, path.join(tmp, 'layout'));
  const cfg = JSON.parse(fs.readFileSync(path.join(m.dir, 'config.json'), 'utf8'));
  assert.deepEqual(cfg.architectures, ['GPT2LMHeadModel']);
  assert.equal(cfg.model_type, 'gpt2');
  assert.equal(cfg.activation_function, 'gelu_new');
  assert.equal(cfg.layer_norm_epsilon, 1e-5);
  assert.equal(cfg.bos_token_id, 50256);
  assert.equal(cfg.tie_word_embeddings, true);
  assert.deepEqual([cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.n_ctx, cfg.n_positions, cfg.vocab_size], [2, 4, 32, 64, 64, 500]);
  const ck = openCheckpoint(m.dir);
  try {
    validateGPT2(ck);
    assert.equal(ck.names.length, 2 + 12 * 2 + 2);
    assert.ok(!ck.names.some((n) => n.startsWith('transformer.') || n.startsWith('lm_head')));
    assert.deepEqual(ck.shape('wte.weight'), [500, 32]);
    assert.deepEqual(ck.shape('wpe.weight'), [64, 32]);
    assert.deepEqual(ck.shape('h.1.attn.c_attn.weight'), [32, 96]);
    assert.deepEqual(ck.shape('h.1.mlp.c_proj.weight'), [128, 32]);
    assert.equal(ck.bytesF32(), 4 * m.parameters);
    assert.equal(m.parameters, 500 * 32 + 64 * 32 + 2 * (4 * 32 + 32 * 96 + 96 + 32 * 32 + 32 + 2 * 32 * 128 + 128 + 32) + 2 * 32);
  } finally {
    ck.close();
  }
});

test('statistics as specified; qkScale scales q and k columns only', () => {
  const m = makeRandomModel({ layers: 1, heads: 2, dModel: 64, vocab: 2000, nCtx: 32, seed: 5, qkScale: 3 }, path.join(tmp, 'stats'));
  const ck = openCheckpoint(m.dir);
  try {
    const wte = stats(ck.readF32('wte.weight'));
    assert.ok(Math.abs(wte.mean) < 0.001 && Math.abs(wte.std - 0.02) < 0.001, JSON.stringify(wte));
    const ln = stats(ck.readF32('h.0.ln_1.weight'));
    assert.ok(Math.abs(ln.mean - 1) < 0.05 && Math.abs(ln.std - 0.1) < 0.03, JSON.stringify(ln));
    const lnb = stats(ck.readF32('ln_f.bias'));
    assert.ok(lnb.std < 0.04, JSON.stringify(lnb));
    const w = ck.readF32('h.0.attn.c_attn.weight');
    const col = (lo: number, hi: number) => stats(w.filter((_, i) => i % 192 >= lo && i % 192 < hi));
    assert.ok(Math.abs(col(0, 128).std - 0.06) < 0.005, 'q,k columns scaled by 3');
    assert.ok(Math.abs(col(128, 192).std - 0.02) < 0.002, 'v columns unscaled');
  } finally {
    ck.close();
  }
});

test('F16 variant stores half precision with the same values rounded', () => {
  const f32 = makeRandomModel({ ...small, seed: 9 }, path.join(tmp, 'f32'));
  const f16 = makeRandomModel({ ...small, seed: 9, dtype: 'F16' }, path.join(tmp, 'f16'));
  const a = openCheckpoint(f32.dir);
  const b = openCheckpoint(f16.dir);
  try {
    validateGPT2(b);
    assert.equal(b.dtype('h.0.mlp.c_fc.weight'), 'F16');
    assert.equal(fs.statSync(path.join(f16.dir, 'model.safetensors')).size < 0.6 * fs.statSync(path.join(f32.dir, 'model.safetensors')).size, true);
    const x = a.readF32('h.0.mlp.c_fc.weight');
    const y = b.readF32('h.0.mlp.c_fc.weight');
    for (let i = 0; i < x.length; i++) assert.ok(Math.abs(x[i] - y[i]) <= Math.abs(x[i]) * 2 ** -11 + 2 ** -24);
  } finally {
    a.close();
    b.close();
  }
});

test('tokenizer files copied; bad options are UserErrors', () => {
  const tok = path.join(tmp, 'tok');
  fs.mkdirSync(tok);
  fs.writeFileSync(path.join(tok, 'vocab.json'), '{"a": 0}');
  fs.writeFileSync(path.join(tok, 'merges.txt'), '#version: 0.2\n');
  const m = makeRandomModel({ layers: 1, heads: 1, dModel: 8, vocab: 10, nCtx: 8, tokenizerDir: tok }, path.join(tmp, 'tokm'));
  assert.equal(fs.readFileSync(path.join(m.dir, 'vocab.json'), 'utf8'), '{"a": 0}');
  assert.ok(fs.existsSync(path.join(m.dir, 'merges.txt')));
  assert.throws(() => makeRandomModel({ layers: 1, heads: 3, dModel: 8 }, path.join(tmp, 'x')), (e) => isUserError(e) && /not divisible/.test(e.message));
  assert.throws(() => makeRandomModel({ layers: 0, heads: 1, dModel: 8 }, path.join(tmp, 'x')), (e) => isUserError(e) && /layers/.test(e.message));
});

test('GPT-2 tokenizer files written on request (the built-in encoding\'s), only with GPT-2\'s vocabulary', () => {
  const m = makeRandomModel({ layers: 1, heads: 1, dModel: 8, nCtx: 8, gpt2TokenizerFiles: true }, path.join(tmp, 'gpt2tok'));
  assert.deepEqual(m.files, ['model.safetensors', 'config.json', 'vocab.json', 'merges.txt']);
  assert.equal(fs.readFileSync(path.join(m.dir, 'vocab.json'), 'utf8'), gpt2VocabJson());
  assert.equal(fs.readFileSync(path.join(m.dir, 'merges.txt'), 'utf8'), gpt2MergesTxt());
  const never = path.join(tmp, 'never');
  assert.throws(() => makeRandomModel({ layers: 1, heads: 1, dModel: 8, vocab: 10, gpt2TokenizerFiles: true }, never),
    (e) => isUserError(e) && /GPT-2's tokenizer files need GPT-2's vocabulary of 50257 rows, not 10/.test(e.message));
  assert.throws(() => makeRandomModel({ layers: 1, heads: 1, dModel: 8, gpt2TokenizerFiles: true, tokenizerDir: tmp }, never),
    (e) => isUserError(e) && /not both/.test(e.message));
  assert.ok(!fs.existsSync(never), 'nothing written');
});

test('PRNG: stream independent of chunking; normal moments', () => {
  const a = new Float32Array(10001);
  new Rng(deriveSeed(7, 'x')).fillNormal(a);
  const b = new Float32Array(10001);
  const r = new Rng(deriveSeed(7, 'x'));
  for (let i = 0; i < b.length; ) {
    const n = Math.min(1 + (i % 7), b.length - i);
    r.fillNormal(b.subarray(i, i + n));
    i += n;
  }
  assert.deepEqual(a, b);
  const s = stats(a);
  assert.ok(Math.abs(s.mean) < 0.03 && Math.abs(s.std - 1) < 0.03, JSON.stringify(s));
  assert.notEqual(deriveSeed(7, 'x'), deriveSeed(7, 'y'));
  assert.notEqual(deriveSeed(7, 'x'), deriveSeed(2 ** 32 + 7, 'x'));
  // xoshiro128** reference vector (state 1,2,3,4), then our seeding and normals pinned: the stream defines
  // every generated test model, so a change here must be deliberate.
  const ref = new Rng(0);
  Object.assign(ref as object, { s0: 1, s1: 2, s2: 3, s3: 4 });
  assert.deepEqual(Array.from({ length: 6 }, () => ref.nextU32()), [11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  assert.equal(deriveSeed(0, 'wte.weight'), 214191460);
  const r2 = new Rng(214191460);
  assert.deepEqual([r2.nextU32(), r2.nextU32(), r2.nextU32()], [3645574313, 1771655605, 2597788200]);
  const n = new Float32Array(3);
  new Rng(1).fillNormal(n);
  assert.deepEqual([...n], [-2.1849637031555176, -0.08512978255748749, -0.4854024052619934]);
});

test('GPT-2-small size (124M parameters) in a few seconds', { skip: process.env.EAPGP_SKIP_SLOW ? 'EAPGP_SKIP_SLOW' : false }, () => {
  const t0 = Date.now();
  const m = makeRandomModel({ layers: 12, heads: 12, dModel: 768, seed: 0 }, path.join(tmp, 'small'));
  const secs = (Date.now() - t0) / 1000;
  assert.equal(m.parameters, 124439808);
  assert.ok(secs < 30, `took ${secs}s`);
  fs.rmSync(m.dir, { recursive: true });
});
