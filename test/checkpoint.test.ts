import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openCheckpoint, validateGPT2 } from '../src/models/checkpoint.js';
import { loadConfig, parseConfig } from '../src/models/config.js';
import { makeRandomModel } from '../src/models/make-model.js';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../src/models/safetensors.js';
import { isUserError } from '../src/util/errors.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eapgp-ck-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const base = makeRandomModel({ layers: 2, heads: 2, dModel: 8, vocab: 50, nCtx: 16, seed: 2 }, path.join(tmp, 'base'));
let counter = 0;

/** A copy of the base model whose tensors are transformed by `edit` (rename, reshape, drop, add). */
function variant(edit: (t: Record<string, TensorToWrite>) => void, config?: (c: Record<string, unknown>) => void): string {
  const dir = path.join(tmp, `v${counter++}`);
  fs.mkdirSync(dir);
  const st = openSafetensors(path.join(base.dir, 'model.safetensors'));
  const t: Record<string, TensorToWrite> = {};
  for (const n of st.names) t[n] = { dtype: 'F32', shape: st.info(n).shape, data: st.readF32(n) };
  st.close();
  edit(t);
  writeSafetensors(path.join(dir, 'model.safetensors'), t);
  const cfg = JSON.parse(fs.readFileSync(path.join(base.dir, 'config.json'), 'utf8'));
  config?.(cfg);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
  return dir;
}

function userError(fn: () => unknown, ...parts: string[]) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isUserError(e), `expected UserError, got ${e}`);
    for (const p of parts) assert.ok((e as Error).message.includes(p), `message lacks "${p}": ${(e as Error).message}`);
    return true;
  });
}

test('config: parsed with defaults', () => {
  const c = loadConfig(base.dir);
  assert.deepEqual(
    [c.nLayer, c.nHead, c.dModel, c.dHead, c.dMlp, c.nPositions, c.nCtx, c.vocabSize, c.layerNormEpsilon, c.activation, c.tieWordEmbeddings, c.bosTokenId],
    [2, 2, 8, 4, 32, 16, 16, 50, 1e-5, 'gelu_new', true, 50256],
  );
});

/** GPT-2 small's config.json as released (openai-community/gpt2). */
const RELEASED_GPT2_CONFIG = {
  activation_function: 'gelu_new', architectures: ['GPT2LMHeadModel'], attn_pdrop: 0.1, bos_token_id: 50256, embd_pdrop: 0.1,
  eos_token_id: 50256, initializer_range: 0.02, layer_norm_epsilon: 1e-5, model_type: 'gpt2', n_ctx: 1024, n_embd: 768,
  n_head: 12, n_layer: 12, n_positions: 1024, resid_pdrop: 0.1, vocab_size: 50257,
};
test('config: the released GPT-2 config.json parses', () => {
  const released = path.join(tmp, 'released-gpt2');
  fs.mkdirSync(released);
  fs.writeFileSync(path.join(released, 'config.json'), JSON.stringify(RELEASED_GPT2_CONFIG, null, 2));
  const c = loadConfig(released);
  assert.deepEqual([c.nLayer, c.nHead, c.dModel, c.vocabSize, c.nPositions], [12, 12, 768, 50257, 1024]);
});

test('config: bad input', () => {
  userError(() => loadConfig(path.join(tmp, 'nowhere')), 'no config.json in', 'nowhere', 'Hugging Face model directory');
  const f = 'x/config.json';
  userError(() => parseConfig({ model_type: 'llama', architectures: ['LlamaForCausalLM'] }, f), f, 'not a GPT-2 config', 'llama');
  const ok = { model_type: 'gpt2', n_layer: 1, n_head: 3, n_embd: 8, vocab_size: 10, n_positions: 4 };
  userError(() => parseConfig(ok, f), f, 'n_embd 8 is not divisible by n_head 3');
  userError(() => parseConfig({ ...ok, n_head: 2, activation_function: 'relu' }, f), f, 'unsupported activation_function "relu"');
  userError(() => parseConfig({ ...ok, n_head: 2, n_layer: undefined }, f), f, 'missing "n_layer"');
  userError(() => parseConfig({ ...ok, n_head: 2, n_layer: 1.5 }, f), f, '"n_layer" must be a positive integer');
  const dir = path.join(tmp, 'badjson');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'config.json'), '{oops');
  userError(() => loadConfig(dir), path.join(dir, 'config.json'), 'not valid JSON');
});

test('openCheckpoint: names normalized, buffers ignored, tensors read lazily', () => {
  const dir = variant((t) => {
    for (const n of Object.keys(t)) {
      t[`transformer.${n}`] = t[n];
      delete t[n];
    }
    t['transformer.h.0.attn.bias'] = { dtype: 'F32', shape: [1, 1, 16, 16], data: new Float32Array(256) };
    t['h.1.attn.masked_bias'] = { dtype: 'F32', shape: [], data: new Float32Array(1) };
    t['lm_head.weight'] = { dtype: 'F32', shape: [50, 8], data: new Float32Array(400) };
  });
  const ck = openCheckpoint(dir);
  try {
    assert.ok(ck.has('wte.weight') && ck.has('lm_head.weight'));
    assert.ok(!ck.names.some((n) => n.includes('attn.bias') && !n.includes('c_attn') || n.includes('masked_bias') || n.startsWith('transformer.')));
    validateGPT2(ck);
    const ref = openCheckpoint(base.dir);
    assert.deepEqual(ck.readF32('h.1.mlp.c_fc.weight'), ref.readF32('h.1.mlp.c_fc.weight'));
    assert.ok(!ref.has('lm_head.weight'));
    ref.close();
  } finally {
    ck.close();
  }
});

test('sharded checkpoint through model.safetensors.index.json', () => {
  const dir = path.join(tmp, 'sharded');
  fs.mkdirSync(dir);
  fs.copyFileSync(path.join(base.dir, 'config.json'), path.join(dir, 'config.json'));
  const st = openSafetensors(path.join(base.dir, 'model.safetensors'));
  const shards: Record<string, Record<string, TensorToWrite>> = { 'model-00001-of-00002.safetensors': {}, 'model-00002-of-00002.safetensors': {} };
  const map: Record<string, string> = {};
  st.names.forEach((n, i) => {
    const f = Object.keys(shards)[i % 2];
    shards[f][n] = { dtype: 'BF16', shape: st.info(n).shape, data: st.readF32(n) };
    map[n] = f;
  });
  for (const [f, t] of Object.entries(shards)) writeSafetensors(path.join(dir, f), t);
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: map }));
  const ck = openCheckpoint(dir);
  try {
    validateGPT2(ck);
    assert.deepEqual(ck.names, [...st.names].sort());
    assert.match(ck.fileOf('wpe.weight'), /model-0000[12]-of-00002/);
    assert.equal(ck.dtype('wte.weight'), 'BF16');
    const a = ck.readF32('wte.weight');
    const b = st.readF32('wte.weight');
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= Math.abs(b[i]) * 2 ** -8);
  } finally {
    ck.close();
    st.close();
  }
  // a shard named by the index but absent
  fs.rmSync(path.join(dir, 'model-00002-of-00002.safetensors'));
  userError(() => openCheckpoint(dir), 'model.safetensors.index.json', 'model-00002-of-00002.safetensors', 'does not exist');
});

test('bad input: missing tensor named with file and expected shape', () => {
  const dir = variant((t) => delete t['h.1.mlp.c_proj.bias']);
  const ck = openCheckpoint(dir);
  userError(() => validateGPT2(ck), 'tensor h.1.mlp.c_proj.bias', '[8]', 'missing', dir);
  ck.close();
});

test('bad input: wrong tensor shape names tensor, file, expected and actual', () => {
  const dir = variant((t) => {
    t['h.0.attn.c_attn.weight'] = { dtype: 'F32', shape: [24, 8], data: t['h.0.attn.c_attn.weight'].data };
  });
  const ck = openCheckpoint(dir);
  userError(() => validateGPT2(ck), 'tensor h.0.attn.c_attn.weight', path.join(dir, 'model.safetensors'), 'shape [24, 8]', 'expected [8, 24]');
  ck.close();
});

test('bad input: config disagrees with weights', () => {
  const dir = variant(() => {}, (c) => { c.vocab_size = 60; });
  const ck = openCheckpoint(dir);
  userError(() => validateGPT2(ck), 'tensor wte.weight', 'shape [50, 8]', 'expected [60, 8]', 'vocab_size=60');
  ck.close();
});

test('bad input: missing config.json, missing weights, missing directory', () => {
  const dir = path.join(tmp, 'noconfig');
  fs.mkdirSync(dir);
  fs.copyFileSync(path.join(base.dir, 'model.safetensors'), path.join(dir, 'model.safetensors'));
  userError(() => openCheckpoint(dir), 'no config.json in', dir);
  const dir2 = path.join(tmp, 'noweights');
  fs.mkdirSync(dir2);
  fs.copyFileSync(path.join(base.dir, 'config.json'), path.join(dir2, 'config.json'));
  fs.writeFileSync(path.join(dir2, 'pytorch_model.bin'), '');
  userError(() => openCheckpoint(dir2), 'no model.safetensors', dir2, 'convert pytorch_model.bin');
  userError(() => openCheckpoint(path.join(tmp, 'absent')), 'does not exist', 'absent');
});

test('bad input: truncated weights file is reported at open with the file name', () => {
  const dir = variant(() => {});
  const p = path.join(dir, 'model.safetensors');
  fs.truncateSync(p, fs.statSync(p).size - 10);
  userError(() => openCheckpoint(dir), p, 'truncated');
});
