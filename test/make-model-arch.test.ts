import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeRandomModel, type RandomModelOptions } from '../src/models/make-model.js';
import { f32ToBF16, f32ToF16, openSafetensors } from '../src/models/safetensors.js';
import { makeModel } from '../src/cli/make-model.js';
import { isUserError } from '../src/util/errors.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eapgp-mma-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

// L=2, 6 query heads over 2 kv heads (grouped-query), d 48 → head_dim 8, intermediate 40 (not 4·d: catches a swap)
const dims = { layers: 2, heads: 6, dModel: 48, dMlp: 40, vocab: 300, nCtx: 64, seed: 7 };
const init = (seed: number, std = 0.02) => ({ seed, init_std: std, ln_noise: 0.1, generator: 'xoshiro128**+box-muller' });

function make(opts: Partial<RandomModelOptions> & { arch: string }, name: string) {
  return makeRandomModel({ ...dims, ...opts } as RandomModelOptions, path.join(tmp, name));
}
const config = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
/** name → [dtype, ...shape] of every tensor in the file. */
function header(dir: string): Record<string, (string | number)[]> {
  const st = openSafetensors(path.join(dir, 'model.safetensors'));
  try {
    return Object.fromEntries(st.names.map((n) => [n, [st.info(n).dtype, ...st.info(n).shape]]));
  } finally {
    st.close();
  }
}
/** The expected tensors: globals plus each layer's entries with `{l}` replaced by 0..L-1. */
function expand(globals: Record<string, number[]>, perLayer: Record<string, number[]>, dtype = 'F32') {
  const out: Record<string, (string | number)[]> = {};
  for (const [n, s] of Object.entries(globals)) out[n] = [dtype, ...s];
  for (let l = 0; l < dims.layers; l++) for (const [n, s] of Object.entries(perLayer)) out[n.replace('{l}', String(l))] = [dtype, ...s];
  return out;
}

// Names and shapes from transformers' modeling_gpt_neox.py (GPTNeoXModel: embed_in, layers.N.{input_layernorm,
// post_attention_layernorm, attention.query_key_value [3d, d], attention.dense, mlp.dense_h_to_4h, mlp.dense_4h_to_h},
// final_layer_norm; GPTNeoXForCausalLM.embed_out), config keys from configuration_gpt_neox.py / EleutherAI/pythia-70m.
test('neox: GPTNeoXForCausalLM config and parameters', () => {
  const m = make({ arch: 'neox' }, 'neox');
  assert.deepEqual(config(m.dir), {
    architectures: ['GPTNeoXForCausalLM'], attention_bias: true, attention_dropout: 0, bos_token_id: 0, eapgp_init: init(7),
    eos_token_id: 0, hidden_act: 'gelu', hidden_dropout: 0, hidden_size: 48, initializer_range: 0.02, intermediate_size: 40,
    layer_norm_eps: 1e-5, max_position_embeddings: 64, model_type: 'gpt_neox', num_attention_heads: 6, num_hidden_layers: 2,
    rope_scaling: null, rotary_emb_base: 10000, rotary_pct: 0.25, tie_word_embeddings: false, torch_dtype: 'float32',
    use_cache: true, use_parallel_residual: true, vocab_size: 300,
  });
  const P = 'gpt_neox.layers.{l}.';
  assert.deepEqual(header(m.dir), expand(
    { 'gpt_neox.embed_in.weight': [300, 48], 'gpt_neox.final_layer_norm.weight': [48], 'gpt_neox.final_layer_norm.bias': [48], 'embed_out.weight': [300, 48] },
    {
      [P + 'input_layernorm.weight']: [48], [P + 'input_layernorm.bias']: [48],
      [P + 'post_attention_layernorm.weight']: [48], [P + 'post_attention_layernorm.bias']: [48],
      [P + 'attention.query_key_value.weight']: [144, 48], [P + 'attention.query_key_value.bias']: [144],
      [P + 'attention.dense.weight']: [48, 48], [P + 'attention.dense.bias']: [48],
      [P + 'mlp.dense_h_to_4h.weight']: [40, 48], [P + 'mlp.dense_h_to_4h.bias']: [40],
      [P + 'mlp.dense_4h_to_h.weight']: [48, 40], [P + 'mlp.dense_4h_to_h.bias']: [48],
    }));
  assert.equal(m.parameters, 2 * 300 * 48 + 2 * 48 + 2 * (4 * 48 + 144 * 49 + 48 * 49 + 40 * 49 + 48 * 41));
});

// Llama/Mistral/Qwen2/Gemma2 decoder layers (modeling_llama.py LlamaAttention q/k/v/o_proj with
// num_key_value_heads·head_dim rows for k and v, LlamaMLP gate/up/down_proj, input_layernorm,
// post_attention_layernorm; model.norm; lm_head only when tie_word_embeddings is false).
const L = 'model.layers.{l}.';
const llamaLayer = (hd: number, extra: Record<string, number[]> = {}) => ({
  [L + 'self_attn.q_proj.weight']: [6 * hd, 48], [L + 'self_attn.k_proj.weight']: [2 * hd, 48],
  [L + 'self_attn.v_proj.weight']: [2 * hd, 48], [L + 'self_attn.o_proj.weight']: [48, 6 * hd],
  [L + 'mlp.gate_proj.weight']: [40, 48], [L + 'mlp.up_proj.weight']: [40, 48], [L + 'mlp.down_proj.weight']: [48, 40],
  [L + 'input_layernorm.weight']: [48], [L + 'post_attention_layernorm.weight']: [48], ...extra,
});
const globals = (tied: boolean) => ({
  'model.embed_tokens.weight': [300, 48], 'model.norm.weight': [48], ...(tied ? {} : { 'lm_head.weight': [300, 48] }),
});

// configuration_llama.py keys as in meta-llama/Llama-3.2-1B's config.json (rope_scaling of Llama-3.1/3.2);
// bos/eos ids 128000/128001 do not fit a vocabulary of 300 and are left out.
test('llama: LlamaForCausalLM config (llama3 rope scaling, GQA) and parameters; --tie drops lm_head', () => {
  const m = make({ arch: 'llama', kvHeads: 2, ropeScaling: 'llama3' }, 'llama');
  assert.deepEqual(config(m.dir), {
    architectures: ['LlamaForCausalLM'], attention_bias: false, attention_dropout: 0, eapgp_init: init(7), head_dim: 8,
    hidden_act: 'silu', hidden_size: 48, initializer_range: 0.02, intermediate_size: 40, max_position_embeddings: 64,
    mlp_bias: false, model_type: 'llama', num_attention_heads: 6, num_hidden_layers: 2, num_key_value_heads: 2,
    pretraining_tp: 1, rms_norm_eps: 1e-5,
    rope_scaling: { factor: 32, high_freq_factor: 4, low_freq_factor: 1, original_max_position_embeddings: 8192, rope_type: 'llama3' },
    rope_theta: 500000, tie_word_embeddings: false, torch_dtype: 'float32', use_cache: true, vocab_size: 300,
  });
  assert.deepEqual(header(m.dir), expand(globals(false), llamaLayer(8)));
  const t = make({ arch: 'llama', kvHeads: 3, tie: true, dtype: 'BF16' }, 'llama-tied');
  const c = config(t.dir);
  assert.deepEqual([c.tie_word_embeddings, c.rope_scaling, c.num_key_value_heads, c.torch_dtype], [true, null, 3, 'bfloat16']);
  const h = header(t.dir);
  assert.equal(h['lm_head.weight'], undefined);
  assert.deepEqual(h['model.layers.1.self_attn.k_proj.weight'], ['BF16', 24, 48]);
});

// configuration_qwen2.py keys as in Qwen/Qwen2.5-0.5B; modeling_qwen2.py Qwen2Attention has bias=True on q/k/v only.
test('qwen2: Qwen2ForCausalLM config and parameters (q/k/v biases, tied by default)', () => {
  const m = make({ arch: 'qwen2', kvHeads: 2 }, 'qwen2');
  assert.deepEqual(config(m.dir), {
    architectures: ['Qwen2ForCausalLM'], attention_dropout: 0, eapgp_init: init(7), hidden_act: 'silu', hidden_size: 48,
    initializer_range: 0.02, intermediate_size: 40, max_position_embeddings: 64, max_window_layers: 2, model_type: 'qwen2',
    num_attention_heads: 6, num_hidden_layers: 2, num_key_value_heads: 2, rms_norm_eps: 1e-6, rope_theta: 1000000,
    sliding_window: 64, tie_word_embeddings: true, torch_dtype: 'float32', use_cache: true, use_sliding_window: false, vocab_size: 300,
  });
  assert.deepEqual(header(m.dir), expand(globals(true), llamaLayer(8, {
    [L + 'self_attn.q_proj.bias']: [48], [L + 'self_attn.k_proj.bias']: [16], [L + 'self_attn.v_proj.bias']: [16],
  })));
  assert.ok('lm_head.weight' in header(make({ arch: 'qwen2', tie: false }, 'qwen2-untied').dir));
});

// configuration_mistral.py keys as in mistralai/Mistral-7B-v0.3 (no sliding window, bos 1, eos 2, vocab 32768).
test('mistral: MistralForCausalLM config with the released vocabulary by default; --sliding-window', () => {
  const m = make({ arch: 'mistral', kvHeads: 1, vocab: undefined, dModel: 12, heads: 2, dMlp: 16, layers: 1 }, 'mistral');
  assert.deepEqual(config(m.dir), {
    architectures: ['MistralForCausalLM'], attention_dropout: 0, bos_token_id: 1, eapgp_init: init(7), eos_token_id: 2,
    hidden_act: 'silu', hidden_size: 12, initializer_range: 0.02, intermediate_size: 16, max_position_embeddings: 64,
    model_type: 'mistral', num_attention_heads: 2, num_hidden_layers: 1, num_key_value_heads: 1, rms_norm_eps: 1e-5,
    rope_theta: 1000000, sliding_window: null, tie_word_embeddings: false, torch_dtype: 'float32', use_cache: true, vocab_size: 32768,
  });
  const h = header(m.dir);
  assert.deepEqual(h['lm_head.weight'], ['F32', 32768, 12]);
  assert.deepEqual(h['model.layers.0.self_attn.v_proj.weight'], ['F32', 6, 12]);
  assert.equal(Object.keys(h).length, 3 + 9);
  assert.equal(config(make({ arch: 'mistral', slidingWindow: 16 }, 'mistral-sw').dir).sliding_window, 16);
});

// configuration_gemma2.py keys as in google/gemma-2-2b (bos 2, eos 1, pad 0, head_dim ≠ d/H, soft-caps 50/30,
// sliding window 4096, query_pre_attn_scalar = head_dim); modeling_gemma2.py Gemma2DecoderLayer has four norms.
test('gemma2: Gemma2ForCausalLM config and parameters (four norms a layer, head_dim 12 ≠ 48/6, tied)', () => {
  const m = make({ arch: 'gemma2', kvHeads: 2, headDim: 12 }, 'gemma2');
  assert.deepEqual(config(m.dir), {
    architectures: ['Gemma2ForCausalLM'], attention_bias: false, attention_dropout: 0, attn_logit_softcapping: 50,
    bos_token_id: 2, cache_implementation: 'hybrid', eapgp_init: init(7), eos_token_id: 1, final_logit_softcapping: 30,
    head_dim: 12, hidden_act: 'gelu_pytorch_tanh', hidden_activation: 'gelu_pytorch_tanh', hidden_size: 48,
    initializer_range: 0.02, intermediate_size: 40, max_position_embeddings: 64, model_type: 'gemma2',
    num_attention_heads: 6, num_hidden_layers: 2, num_key_value_heads: 2, pad_token_id: 0, query_pre_attn_scalar: 12,
    rms_norm_eps: 1e-6, rope_theta: 10000, sliding_window: 4096, tie_word_embeddings: true, torch_dtype: 'float32',
    use_cache: true, vocab_size: 300,
  });
  assert.deepEqual(header(m.dir), expand(globals(true), llamaLayer(12, {
    [L + 'pre_feedforward_layernorm.weight']: [48], [L + 'post_feedforward_layernorm.weight']: [48],
  })));
});

test('same seed gives the same bytes, another seed other bytes (every family)', () => {
  for (const arch of ['neox', 'llama', 'qwen2', 'mistral', 'gemma2']) {
    const kv = arch === 'neox' ? {} : { kvHeads: 2 };
    const bytes = (seed: number, n: string) => fs.readFileSync(path.join(make({ arch, ...kv, seed }, `${arch}-${n}`).dir, 'model.safetensors'));
    const a = bytes(3, 'a');
    assert.ok(a.equals(bytes(3, 'b')), arch);
    assert.ok(!a.equals(bytes(4, 'c')), arch);
  }
});

test('F16/BF16 files hold the rounding of the F32 file\'s values', () => {
  const dirs = Object.fromEntries((['F32', 'F16', 'BF16'] as const).map((dtype) => [dtype, make({ arch: 'gemma2', kvHeads: 3, dtype }, `g-${dtype}`).dir]));
  const f32 = openSafetensors(path.join(dirs.F32, 'model.safetensors'));
  try {
    for (const [dtype, round] of [['F16', f32ToF16], ['BF16', f32ToBF16]] as const) {
      const st = openSafetensors(path.join(dirs[dtype], 'model.safetensors'));
      try {
        assert.deepEqual(st.names, f32.names);
        for (const n of st.names) {
          const want = new Uint16Array(f32.info(n).numel);
          round(f32.readF32(n), want);
          assert.equal(st.info(n).dtype, dtype);
          assert.ok(Buffer.from(st.readBytes(n)).equals(Buffer.from(want.buffer)), `${dtype} ${n}`);
        }
      } finally {
        st.close();
      }
    }
  } finally {
    f32.close();
  }
});

test('initialization: norms around 1 (Gemma 2\'s (1 + w) around 0), weights and biases N(0, init_std)', () => {
  const stats = (x: Float32Array) => {
    let s = 0, s2 = 0;
    for (const v of x) s += v, s2 += v * v;
    return [s / x.length, Math.sqrt(s2 / x.length - (s / x.length) ** 2)];
  };
  const read = (dir: string, n: string) => {
    const st = openSafetensors(path.join(dir, 'model.safetensors'));
    try { return stats(st.readF32(n)); } finally { st.close(); }
  };
  const big = { dModel: 512, heads: 8, vocab: 400, dMlp: 64, layers: 1 };
  const q = make({ arch: 'qwen2', ...big, initStd: 0.05 }, 'q-stats').dir;
  const g = make({ arch: 'gemma2', ...big }, 'g-stats').dir;
  const near = ([m, s]: number[], mean: number, std: number) => Math.abs(m - mean) < 4 * std / Math.sqrt(400) && Math.abs(s - std) < 0.15 * std;
  assert.ok(near(read(q, 'model.layers.0.input_layernorm.weight'), 1, 0.1));
  assert.ok(near(read(q, 'model.norm.weight'), 1, 0.1));
  assert.ok(near(read(q, 'model.layers.0.self_attn.k_proj.bias'), 0, 0.05));
  assert.ok(near(read(q, 'model.embed_tokens.weight'), 0, 0.05));
  assert.ok(near(read(g, 'model.layers.0.post_feedforward_layernorm.weight'), 0, 0.1));
  assert.ok(near(read(g, 'model.layers.0.mlp.down_proj.weight'), 0, 0.02));
});

test('bad input: UserErrors naming the option, nothing written', () => {
  const never = path.join(tmp, 'never');
  const fails = (opts: Partial<RandomModelOptions> & { arch?: string }, re: RegExp) =>
    assert.throws(() => makeRandomModel({ ...dims, ...opts } as RandomModelOptions, never), (e) => isUserError(e) && re.test(e.message));
  fails({ arch: 'bloom' }, /unknown --arch "bloom"; supported: gpt2, neox, llama, qwen2, mistral, gemma2/);
  fails({ arch: 'llama', heads: 6, kvHeads: 4 }, /num_attention_heads 6 is not divisible by num_key_value_heads 4/);
  fails({ arch: 'llama', rotaryPct: 0.5 }, /--rotary-pct does not apply to --arch llama \(it applies to neox\)/);
  fails({ arch: 'neox', kvHeads: 2 }, /--kv-heads does not apply to --arch neox/);
  fails({ arch: 'gpt2', kvHeads: 2 }, /--kv-heads does not apply to --arch gpt2/);
  fails({ arch: 'qwen2', slidingWindow: 8 }, /--sliding-window does not apply to --arch qwen2 \(it applies to mistral, gemma2\)/);
  fails({ arch: 'llama', headDim: 16 }, /--head-dim does not apply to --arch llama/);
  fails({ arch: 'gemma2', tie: false }, /Gemma2ForCausalLM checkpoints are tied.*drop --untie/);
  fails({ arch: 'neox', tie: true }, /GPTNeoXForCausalLM checkpoints are untied.*drop --tie/);
  fails({ arch: 'neox', rotaryPct: 0.2 }, /int\(head_dim 8 × rotary_pct 0.2\) = 1 rotary dimensions must be even/);
  fails({ arch: 'llama', ropeScaling: 'yarn' }, /--rope-scaling must be llama3.*"yarn"/);
  fails({ arch: 'mistral', dModel: 50 }, /hidden_size 50 is not divisible by num_attention_heads 6/);
  fails({ arch: 'gemma2', gpt2TokenizerFiles: true }, /GPT-2's tokenizer needs a vocabulary of at least 50257 rows, not 300/);
  const tok = path.join(tmp, 'tok');
  fs.mkdirSync(tok);
  fails({ arch: 'llama', tokenizerDir: tok }, /has no tokenizer\.json/);
  fs.writeFileSync(path.join(tok, 'tokenizer.json'), JSON.stringify({ model: { type: 'BPE', vocab: { a: 0, b: 1 } }, added_tokens: [{ id: 300, content: '<s>' }] }));
  fails({ arch: 'llama', tokenizerDir: tok }, /token ids up to 300, which do not fit --vocab 300; give --vocab 301 or more/);
  assert.ok(!fs.existsSync(never), 'nothing written');
  fs.writeFileSync(path.join(tok, 'tokenizer_config.json'), '{"bos_token": "<s>"}');
  const m = make({ arch: 'llama', vocab: 301, tokenizerDir: tok }, 'with-tok');
  assert.deepEqual(m.files, ['model.safetensors', 'config.json', 'tokenizer.json', 'tokenizer_config.json']);
  assert.equal(fs.readFileSync(path.join(m.dir, 'tokenizer_config.json'), 'utf8'), '{"bos_token": "<s>"}');
});

test('CLI: family options reach config.json; conflicting flags are errors', async () => {
  const out = path.join(tmp, 'cli-neox');
  const argv = ['--arch', 'neox', '--layers', '1', '--heads', '2', '--d-model', '16', '--vocab', '50', '--no-parallel', '--rotary-pct', '0.5', '--rope-theta', '20000', '--out', out];
  const log = console.error;
  console.error = () => {};
  try {
    await makeModel(argv);
    const g = path.join(tmp, 'cli-gemma2');
    await makeModel(['--arch', 'gemma2', '--layers', '1', '--heads', '2', '--kv-heads', '1', '--d-model', '16', '--vocab', '50',
      '--attn-softcap', 'none', '--final-softcap', '12.5', '--sliding-window', '7', '--query-pre-attn-scalar', '64', '--out', g]);
    const c = config(g);
    assert.deepEqual([c.attn_logit_softcapping, c.final_logit_softcapping, c.sliding_window, c.query_pre_attn_scalar], [null, 12.5, 7, 64]);
  } finally {
    console.error = log;
  }
  const c = config(out);
  assert.deepEqual([c.use_parallel_residual, c.rotary_pct, c.rotary_emb_base, c.vocab_size], [false, 0.5, 20000, 50]);
  await assert.rejects(makeModel([...argv, '--parallel']), (e) => isUserError(e) && /--parallel or --no-parallel, not both/.test(e.message));
  await assert.rejects(makeModel(['--arch', 'phi', '--layers', '1', '--heads', '1', '--d-model', '8', '--out', out]),
    (e) => isUserError(e) && /--arch must be one of gpt2, neox, llama, qwen2, mistral, gemma2, got "phi"/.test(e.message));
});
