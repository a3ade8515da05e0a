/**
 * GPT-NeoX / Pythia (transformers modeling_gpt_neox.py): LayerNorm with bias; attention and MLP in parallel
 * (both read the layer's input: x + attn(ln1(x)) + mlp(ln2(x))) when use_parallel_residual; fused
 * query_key_value laid out per head as [q|k|v]; partial rotary (rotary_pct of each head's dims); erf GELU
 * (hidden_act "gelu"); untied embed_out.
 */
import type { FamilyBlock } from './block.js';
import type { ConfigReader } from './spec.js';

export const neox: FamilyBlock = {
  name: 'neox',
  architectures: ['GPTNeoXForCausalLM'],
  modelTypes: ['gpt_neox'],
  parse(c: ConfigReader, architecture: string) {
    const nHead = c.int('num_attention_heads');
    const dModel = c.int('hidden_size');
    if (dModel % nHead !== 0) throw c.bad(`hidden_size ${dModel} is not divisible by num_attention_heads ${nHead}`);
    const dHead = dModel / nHead;
    const pct = c.num('rotary_pct', 0.25);
    if (!(pct > 0 && pct <= 1)) throw c.bad(`"rotary_pct" must be in (0, 1], got ${pct}`);
    const rotaryDim = Math.floor(dHead * pct); // HF: int(head_size * rotary_pct)
    if (rotaryDim % 2 !== 0) throw c.bad(`rotary_pct ${pct} gives ${rotaryDim} rotary dims per head; rotary needs an even number`);
    c.require('attention_bias', true, 'GPT-NeoX checkpoints have attention biases');
    c.require('rope_scaling', null, 'GPT-NeoX models run without rope scaling here');
    return {
      family: 'neox', architecture, nLayer: c.int('num_hidden_layers'), nHead, nKvHead: nHead, dModel, dHead,
      dMlp: c.int('intermediate_size', 4 * dModel), vocabSize: c.int('vocab_size'), nPositions: c.int('max_position_embeddings', 2048),
      norm: { kind: 'layer', eps: c.positive('layer_norm_eps', 1e-5), unitOffset: false },
      parallelAttnMlp: c.bool('use_parallel_residual', true), postNorms: false,
      activation: c.activation('hidden_act', { gelu: 'gelu', gelu_new: 'gelu_tanh', gelu_pytorch_tanh: 'gelu_tanh', relu: 'relu', silu: 'silu' }, 'gelu'),
      gated: false, rotaryDim, ropeTheta: c.positive('rotary_emb_base', c.has('rope_theta') ? c.num('rope_theta') : 10000), ropeScaling: null,
      attnScale: 1 / Math.sqrt(dHead), attnSoftcap: null, finalSoftcap: null, slidingWindow: null, slidingLayers: 'all', embedScale: 1,
      qkvBias: true, denseBias: true, tieWordEmbeddings: c.bool('tie_word_embeddings', false),
      bosTokenId: c.tokenId('bos_token_id'), eosTokenId: c.tokenId('eos_token_id'), raw: c.raw,
    };
  },
  embed: 'gpt_neox.embed_in.weight',
  finalNorm: { w: 'gpt_neox.final_layer_norm.weight', b: 'gpt_neox.final_layer_norm.bias' },
  unembed: 'embed_out.weight',
  layer: (l) => {
    const p = `gpt_neox.layers.${l}.`;
    return {
      ln1: { w: p + 'input_layernorm.weight', b: p + 'input_layernorm.bias' },
      ln2: { w: p + 'post_attention_layernorm.weight', b: p + 'post_attention_layernorm.bias' },
      attn: { fused: p + 'attention.query_key_value.weight', fusedBias: p + 'attention.query_key_value.bias' },
      o: p + 'attention.dense.weight', ob: p + 'attention.dense.bias',
      mlp: { fc: p + 'mlp.dense_h_to_4h.weight', fcb: p + 'mlp.dense_h_to_4h.bias', out: p + 'mlp.dense_4h_to_h.weight', outb: p + 'mlp.dense_4h_to_h.bias' },
    };
  },
  ignored: /\.attention\.(bias|masked_bias|rotary_emb\.inv_freq)$/,
};
