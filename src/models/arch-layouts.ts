/**
 * What a Hugging Face checkpoint of each family other than GPT-2 contains: its config.json (the keys the HF
 * modeling file reads, with the values of a released model of the family) and its parameters (HF names,
 * shapes, and how make-model initializes each). Written from transformers' configuration_*.py / modeling_*.py
 * of gpt_neox, llama, qwen2, mistral, gemma2 (the 4.4x releases, whose config.json keys the released
 * checkpoints carry) and the released configs named per family below. Buffers that newer HF versions no longer
 * save (NeoX's attention.bias / masked_bias / rotary_emb.inv_freq) are not parameters and are not written.
 */

export type ArchFamily = 'neox' | 'llama' | 'qwen2' | 'mistral' | 'gemma2';
export const ARCH_FAMILIES: readonly ArchFamily[] = ['neox', 'llama', 'qwen2', 'mistral', 'gemma2'];

/** Every choice of a family's model, resolved (no defaults left open). */
export interface ArchDims {
  family: ArchFamily;
  layers: number;
  heads: number;
  kvHeads: number;
  dModel: number;
  headDim: number;
  dMlp: number;
  vocab: number;
  nCtx: number;
  tie: boolean;
  ropeTheta: number;
  /** neox: fraction of each head's dimensions that rotate. */
  rotaryPct: number;
  /** neox: attention and MLP read the same residual (Pythia) or run one after the other. */
  parallel: boolean;
  /** llama: Llama-3.1/3.2 frequency scaling. */
  ropeScaling: 'llama3' | null;
  /** mistral, gemma2 (gemma2: even layers only, as HF's layer_types). */
  slidingWindow: number | null;
  attnSoftcap: number | null;
  finalSoftcap: number | null;
  queryPreAttnScalar: number;
  dtype: 'F32' | 'F16' | 'BF16';
  seed: number;
  initStd: number;
  lnNoise: number;
}

/**
 * How a tensor is initialized: `weight` (and biases) N(0, initStd); `norm` a LayerNorm/RMSNorm scale
 * 1 + N(0, lnNoise); `norm0` Gemma's RMSNorm, which multiplies by (1 + w), so w ~ N(0, lnNoise).
 */
export type InitKind = 'weight' | 'norm' | 'norm0';
export interface TensorEntry {
  name: string;
  shape: number[];
  init: InitKind;
}

/** Released-model constants per family: the config values make-model does not take as options. */
export interface FamilyInfo {
  architecture: string;
  modelType: string;
  /** The released tokenizer's vocabulary rows (make-model's default --vocab). */
  vocab: number;
  /** bos/eos/pad ids of the released config; written only where they fit the vocabulary. */
  tokens: { bos_token_id?: number; eos_token_id?: number; pad_token_id?: number };
  tie: boolean;
  /** Whether --tie/--untie may change `tie` (the HF class supports both). */
  tieChoosable: boolean;
  ropeTheta: number;
  /** Which released config the constants come from. */
  source: string;
}

export const FAMILIES: Record<ArchFamily, FamilyInfo> = {
  neox: { architecture: 'GPTNeoXForCausalLM', modelType: 'gpt_neox', vocab: 50304, tokens: { bos_token_id: 0, eos_token_id: 0 }, tie: false, tieChoosable: false, ropeTheta: 10000, source: 'EleutherAI/pythia-70m' },
  llama: { architecture: 'LlamaForCausalLM', modelType: 'llama', vocab: 128256, tokens: { bos_token_id: 128000, eos_token_id: 128001 }, tie: false, tieChoosable: true, ropeTheta: 500000, source: 'meta-llama/Llama-3.1-8B (tied in Llama-3.2)' },
  qwen2: { architecture: 'Qwen2ForCausalLM', modelType: 'qwen2', vocab: 151936, tokens: { bos_token_id: 151643, eos_token_id: 151643 }, tie: true, tieChoosable: true, ropeTheta: 1000000, source: 'Qwen/Qwen2.5-0.5B' },
  mistral: { architecture: 'MistralForCausalLM', modelType: 'mistral', vocab: 32768, tokens: { bos_token_id: 1, eos_token_id: 2 }, tie: false, tieChoosable: true, ropeTheta: 1000000, source: 'mistralai/Mistral-7B-v0.3' },
  gemma2: { architecture: 'Gemma2ForCausalLM', modelType: 'gemma2', vocab: 256000, tokens: { bos_token_id: 2, eos_token_id: 1, pad_token_id: 0 }, tie: true, tieChoosable: false, ropeTheta: 10000, source: 'google/gemma-2-2b' },
};

const TORCH_DTYPE = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' } as const;

/** config.json of the model, keys sorted as transformers' save_pretrained writes them. */
export function archConfigJson(d: ArchDims): Record<string, unknown> {
  const f = FAMILIES[d.family];
  const tokens = Object.fromEntries(Object.entries(f.tokens).filter(([, id]) => id < d.vocab));
  const common = {
    architectures: [f.architecture], model_type: f.modelType, ...tokens,
    hidden_size: d.dModel, intermediate_size: d.dMlp, num_hidden_layers: d.layers, num_attention_heads: d.heads,
    max_position_embeddings: d.nCtx, vocab_size: d.vocab, initializer_range: d.initStd, tie_word_embeddings: d.tie,
    torch_dtype: TORCH_DTYPE[d.dtype], use_cache: true, attention_dropout: 0.0,
    eapgp_init: { seed: d.seed, init_std: d.initStd, ln_noise: d.lnNoise, generator: 'xoshiro128**+box-muller' },
  };
  const gqa = { num_key_value_heads: d.kvHeads };
  let c: Record<string, unknown>;
  switch (d.family) {
    case 'neox':
      c = { ...common, hidden_act: 'gelu', layer_norm_eps: 1e-5, rotary_pct: d.rotaryPct, rotary_emb_base: d.ropeTheta,
        rope_scaling: null, use_parallel_residual: d.parallel, attention_bias: true, hidden_dropout: 0.0 };
      break;
    case 'llama':
      c = { ...common, ...gqa, head_dim: d.headDim, hidden_act: 'silu', rms_norm_eps: 1e-5, rope_theta: d.ropeTheta,
        rope_scaling: d.ropeScaling === 'llama3'
          ? { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' }
          : null,
        attention_bias: false, mlp_bias: false, pretraining_tp: 1 };
      break;
    case 'qwen2':
      // sliding_window is read only with use_sliding_window (false in every released Qwen2.5)
      c = { ...common, ...gqa, hidden_act: 'silu', rms_norm_eps: 1e-6, rope_theta: d.ropeTheta,
        use_sliding_window: false, sliding_window: d.nCtx, max_window_layers: d.layers };
      break;
    case 'mistral':
      c = { ...common, ...gqa, hidden_act: 'silu', rms_norm_eps: 1e-5, rope_theta: d.ropeTheta, sliding_window: d.slidingWindow };
      break;
    case 'gemma2':
      c = { ...common, ...gqa, head_dim: d.headDim, hidden_act: 'gelu_pytorch_tanh', hidden_activation: 'gelu_pytorch_tanh',
        rms_norm_eps: 1e-6, rope_theta: d.ropeTheta, attention_bias: false, query_pre_attn_scalar: d.queryPreAttnScalar,
        sliding_window: d.slidingWindow, attn_logit_softcapping: d.attnSoftcap, final_logit_softcapping: d.finalSoftcap,
        cache_implementation: 'hybrid' };
      break;
  }
  return Object.fromEntries(Object.entries(c).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The parameters, in module order, with HF names and shapes (nn.Linear weights are [out, in]). */
export function archTensors(d: ArchDims): TensorEntry[] {
  const { layers: L, dModel: D, dMlp: F, vocab: V, heads: H, kvHeads: KV, headDim: hd } = d;
  const out: TensorEntry[] = [];
  const w = (name: string, ...shape: number[]) => out.push({ name, shape, init: 'weight' });
  const norm = (name: string) => out.push({ name, shape: [D], init: d.family === 'gemma2' ? 'norm0' : 'norm' });
  if (d.family === 'neox') {
    const P = 'gpt_neox.';
    w(P + 'embed_in.weight', V, D);
    for (let l = 0; l < L; l++) {
      const p = `${P}layers.${l}.`;
      norm(p + 'input_layernorm.weight'), w(p + 'input_layernorm.bias', D);
      norm(p + 'post_attention_layernorm.weight'), w(p + 'post_attention_layernorm.bias', D);
      // rows per head: [q; k; v] of head 0, then head 1, ... (HF views the output as [H, 3·hd])
      w(p + 'attention.query_key_value.weight', 3 * D, D), w(p + 'attention.query_key_value.bias', 3 * D);
      w(p + 'attention.dense.weight', D, D), w(p + 'attention.dense.bias', D);
      w(p + 'mlp.dense_h_to_4h.weight', F, D), w(p + 'mlp.dense_h_to_4h.bias', F);
      w(p + 'mlp.dense_4h_to_h.weight', D, F), w(p + 'mlp.dense_4h_to_h.bias', D);
    }
    norm(P + 'final_layer_norm.weight'), w(P + 'final_layer_norm.bias', D);
    w('embed_out.weight', V, D);
    return out;
  }
  w('model.embed_tokens.weight', V, D);
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`;
    w(p + 'self_attn.q_proj.weight', H * hd, D);
    if (d.family === 'qwen2') w(p + 'self_attn.q_proj.bias', H * hd);
    w(p + 'self_attn.k_proj.weight', KV * hd, D);
    if (d.family === 'qwen2') w(p + 'self_attn.k_proj.bias', KV * hd);
    w(p + 'self_attn.v_proj.weight', KV * hd, D);
    if (d.family === 'qwen2') w(p + 'self_attn.v_proj.bias', KV * hd);
    w(p + 'self_attn.o_proj.weight', D, H * hd);
    w(p + 'mlp.gate_proj.weight', F, D);
    w(p + 'mlp.up_proj.weight', F, D);
    w(p + 'mlp.down_proj.weight', D, F);
    norm(p + 'input_layernorm.weight');
    norm(p + 'post_attention_layernorm.weight');
    if (d.family === 'gemma2') {
      norm(p + 'pre_feedforward_layernorm.weight');
      norm(p + 'post_feedforward_layernorm.weight');
    }
  }
  norm('model.norm.weight');
  if (!d.tie) w('lm_head.weight', V, D);
  return out;
}
