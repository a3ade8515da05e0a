/**
 * Qwen2 / Qwen2.5 (transformers modeling_qwen2.py): the Llama block with q/k/v biases; tied embeddings on the
 * small sizes. use_sliding_window is off in every released Qwen2.5 config; on is refused (its layer rule differs).
 */
import type { FamilyBlock } from './block.js';
import { llamaLayer, parseLlamaLike } from './llama.js';

export const qwen2: FamilyBlock = {
  name: 'qwen2', architectures: ['Qwen2ForCausalLM'], modelTypes: ['qwen2'],
  parse: (c, arch) => {
    c.require('use_sliding_window', false, 'sliding-window Qwen2 layers are not supported');
    return parseLlamaLike(c, arch, 'qwen2', { qkvBias: true, window: false });
  },
  embed: 'model.embed_tokens.weight',
  finalNorm: { w: 'model.norm.weight' },
  unembed: 'lm_head.weight',
  layer: (l) => llamaLayer(l, true),
  ignored: /\.rotary_emb\.inv_freq$/,
};
