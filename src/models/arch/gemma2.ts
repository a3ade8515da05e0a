/**
 * Gemma 2 (transformers modeling_gemma2.py): RMSNorm with gain 1 + w; embeddings × √hidden_size; norms before
 * AND after attention and MLP; GeGLU with tanh GELU; attention scaled by query_pre_attn_scalar^-½ with
 * tanh soft-capping of its logits; sliding-window attention on even layers (layer 0 slides: HF's order, the
 * opposite of TransformerLens'); final logit soft-capping; head_dim independent of hidden_size / heads.
 */
import type { FamilyBlock } from './block.js';
import { ConfigReader } from './spec.js';

export const gemma2: FamilyBlock = {
  name: 'gemma2', architectures: ['Gemma2ForCausalLM'], modelTypes: ['gemma2'],
  parse(c: ConfigReader, architecture: string) {
    const { nHead, nKvHead } = c.heads('num_attention_heads', 'num_key_value_heads');
    const dModel = c.int('hidden_size');
    const dHead = c.int('head_dim', 256);
    if (dHead % 2 !== 0) throw c.bad(`head_dim ${dHead} is odd; rotary embeddings need an even head dimension`);
    c.require('attention_bias', false, 'Gemma 2 has no attention biases');
    const actKey = c.has('hidden_activation') ? 'hidden_activation' : 'hidden_act';
    return {
      family: 'gemma2', architecture, nLayer: c.int('num_hidden_layers'), nHead, nKvHead, dModel, dHead,
      dMlp: c.int('intermediate_size'), vocabSize: c.int('vocab_size'), nPositions: c.int('max_position_embeddings', 8192),
      norm: { kind: 'rms', eps: c.positive('rms_norm_eps', 1e-6), unitOffset: true },
      parallelAttnMlp: false, postNorms: true,
      activation: c.activation(actKey, { gelu_pytorch_tanh: 'gelu_tanh', gelu: 'gelu' }, 'gelu_pytorch_tanh'),
      gated: true, rotaryDim: dHead, ropeTheta: c.positive('rope_theta', 10000), ropeScaling: c.ropeScaling(),
      attnScale: 1 / Math.sqrt(c.positive('query_pre_attn_scalar', 256)),
      attnSoftcap: c.optionalPositive('attn_logit_softcapping'), finalSoftcap: c.optionalPositive('final_logit_softcapping'),
      slidingWindow: c.has('sliding_window') ? c.int('sliding_window') : null, slidingLayers: 'even',
      // HF multiplies by the normalizer cast to the model's dtype; in float32 that is fround(√D)
      embedScale: Math.fround(Math.sqrt(dModel)),
      qkvBias: false, denseBias: false, tieWordEmbeddings: c.bool('tie_word_embeddings', true),
      bosTokenId: c.tokenId('bos_token_id'), eosTokenId: c.tokenId('eos_token_id'), raw: c.raw,
    };
  },
  embed: 'model.embed_tokens.weight',
  finalNorm: { w: 'model.norm.weight' },
  unembed: 'lm_head.weight',
  layer: (l) => {
    const p = `model.layers.${l}.`, a = p + 'self_attn.';
    return {
      ln1: { w: p + 'input_layernorm.weight' },
      postAttn: { w: p + 'post_attention_layernorm.weight' },
      ln2: { w: p + 'pre_feedforward_layernorm.weight' },
      postMlp: { w: p + 'post_feedforward_layernorm.weight' },
      attn: { q: a + 'q_proj.weight', k: a + 'k_proj.weight', v: a + 'v_proj.weight' },
      o: a + 'o_proj.weight',
      mlp: { gate: p + 'mlp.gate_proj.weight', up: p + 'mlp.up_proj.weight', down: p + 'mlp.down_proj.weight' },
    };
  },
};
