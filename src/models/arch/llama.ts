/**
 * Llama and Mistral (transformers modeling_llama.py, modeling_mistral.py): RMSNorm, rotary on the whole head
 * (rope_theta, Llama 3 rope_scaling), grouped-query attention, SwiGLU MLP, no biases (attention_bias and
 * mlp_bias must be false), tied or untied unembedding. Mistral adds sliding_window on every layer when set.
 * Qwen2 (./qwen2.ts) is this block with q/k/v biases.
 */
import type { FamilyBlock, LayerNames } from './block.js';
import type { ArchSpec, ConfigReader, FamilyName } from './spec.js';

/** The decoder block shared by Llama, Mistral and Qwen2 (names under model.layers.{l}). */
export function llamaLayer(l: number, qkvBias: boolean): LayerNames {
  const p = `model.layers.${l}.`, a = p + 'self_attn.';
  return {
    ln1: { w: p + 'input_layernorm.weight' },
    ln2: { w: p + 'post_attention_layernorm.weight' },
    attn: {
      q: a + 'q_proj.weight', k: a + 'k_proj.weight', v: a + 'v_proj.weight',
      ...(qkvBias ? { qb: a + 'q_proj.bias', kb: a + 'k_proj.bias', vb: a + 'v_proj.bias' } : {}),
    },
    o: a + 'o_proj.weight',
    mlp: { gate: p + 'mlp.gate_proj.weight', up: p + 'mlp.up_proj.weight', down: p + 'mlp.down_proj.weight' },
  };
}

/** Config keys of the Llama-style decoders. */
export function parseLlamaLike(c: ConfigReader, architecture: string, family: FamilyName, o: { qkvBias: boolean; window: boolean }): ArchSpec {
  const { nHead, nKvHead } = c.heads('num_attention_heads', 'num_key_value_heads');
  const dModel = c.int('hidden_size');
  const dHead = c.int('head_dim', dModel % nHead === 0 ? dModel / nHead : undefined);
  if (dHead % 2 !== 0) throw c.bad(`head_dim ${dHead} is odd; rotary embeddings need an even head dimension`);
  if (!o.qkvBias) c.require('attention_bias', false, 'this family has no attention biases');
  c.require('mlp_bias', false, 'this family has no MLP biases');
  c.require('pretraining_tp', 1, 'tensor-parallel pretraining splits change the numerics');
  const window = o.window && c.has('sliding_window') ? c.int('sliding_window') : null;
  return {
    family, architecture, nLayer: c.int('num_hidden_layers'), nHead, nKvHead, dModel, dHead,
    dMlp: c.int('intermediate_size'), vocabSize: c.int('vocab_size'), nPositions: c.int('max_position_embeddings', 2048),
    norm: { kind: 'rms', eps: c.positive('rms_norm_eps', 1e-6), unitOffset: false },
    parallelAttnMlp: false, postNorms: false,
    activation: c.activation('hidden_act', { silu: 'silu', gelu: 'gelu', gelu_pytorch_tanh: 'gelu_tanh', relu: 'relu' }, 'silu'),
    gated: true, rotaryDim: dHead, ropeTheta: c.positive('rope_theta', 10000), ropeScaling: c.ropeScaling(),
    attnScale: 1 / Math.sqrt(dHead), attnSoftcap: null, finalSoftcap: null, slidingWindow: window, slidingLayers: 'all', embedScale: 1,
    qkvBias: o.qkvBias, denseBias: false, tieWordEmbeddings: c.bool('tie_word_embeddings', false),
    bosTokenId: c.tokenId('bos_token_id'), eosTokenId: c.tokenId('eos_token_id'), raw: c.raw,
  };
}

const common = {
  embed: 'model.embed_tokens.weight',
  finalNorm: { w: 'model.norm.weight' },
  unembed: 'lm_head.weight',
  ignored: /\.rotary_emb\.inv_freq$/,
};

export const llama: FamilyBlock = {
  name: 'llama', architectures: ['LlamaForCausalLM'], modelTypes: ['llama'], ...common,
  parse: (c, arch) => parseLlamaLike(c, arch, 'llama', { qkvBias: false, window: false }),
  layer: (l) => llamaLayer(l, false),
};

export const mistral: FamilyBlock = {
  name: 'mistral', architectures: ['MistralForCausalLM'], modelTypes: ['mistral'], ...common,
  parse: (c, arch) => parseLlamaLike(c, arch, 'mistral', { qkvBias: false, window: true }),
  layer: (l) => llamaLayer(l, false),
};
