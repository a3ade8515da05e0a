/** `eapgp make-model`: a random checkpoint of one model family in the Hugging Face format. */
import { ARCHES, makeRandomModel } from '../models/make-model.js';
import { intOption, parse, requireOption } from './args.js';
import { checkOutputDir } from './output-paths.js';
import { UserError } from '../util/errors.js';

export const usage = `usage: eapgp make-model --layers L --heads H --d-model D [--arch gpt2|neox|llama|qwen2|mistral|gemma2]
                        [--vocab N] [--n-ctx N] [--seed S] [--init-std 0.02] [--dtype F32|F16|BF16]
                        [--tokenizer-dir DIR | --gpt2-tokenizer-files] [family options] --out DIR

Writes a random, non-degenerate checkpoint (config.json, model.safetensors) with the real Hugging Face
architecture, config keys and parameter names of the family; the same seed gives the same bytes.
  gpt2     GPT2LMHeadModel      vocab 50257, n_ctx 1024
  neox     GPTNeoXForCausalLM   Pythia-style: parallel attention + MLP, rotary_pct 0.25, untied; vocab 50304
  llama    LlamaForCausalLM     Llama-3-style: RMSNorm, RoPE theta 500000, SwiGLU, untied; vocab 128256
  qwen2    Qwen2ForCausalLM     Qwen2.5-style: Llama + q/k/v biases, rope_theta 1e6, tied; vocab 151936
  mistral  MistralForCausalLM   Mistral-7B-v0.3-style: rope_theta 1e6, no sliding window, untied; vocab 32768
  gemma2   Gemma2ForCausalLM    Gemma-2-style: (1 + w) pre/post RMSNorms, GeGLU, soft-capping, sliding window
                                on even layers, tied; vocab 256000
Other families' n_ctx (max_position_embeddings) defaults to 2048, their --vocab to the released tokenizer's.

Family options (an option a family does not have is an error):
  --kv-heads N             key/value heads, a divisor of --heads (llama qwen2 mistral gemma2; default --heads)
  --head-dim N             gemma2: head_dim when not d_model / heads
  --d-mlp N                intermediate_size (default 4 × d_model)
  --tie | --untie          tie lm_head to the embedding (llama qwen2 mistral; neox is untied, gemma2 tied)
  --rope-theta X           rotary base (neox: rotary_emb_base 10000; llama 500000; qwen2, mistral 1e6; gemma2 10000)
  --rotary-pct P           neox: fraction of each head's dimensions that rotate (0.25)
  --parallel | --no-parallel   neox: use_parallel_residual (default --parallel, as Pythia)
  --rope-scaling llama3    llama: Llama-3.1/3.2 rope_scaling (factor 32, original 8192 positions)
  --sliding-window W|none  mistral (default none), gemma2 (default 4096)
  --attn-softcap C|none    gemma2: attn_logit_softcapping (50)
  --final-softcap C|none   gemma2: final_logit_softcapping (30)
  --query-pre-attn-scalar S    gemma2: attention scores scale by S^-1/2 (default head_dim)

--tokenizer-dir copies vocab.json and merges.txt (gpt2) or tokenizer.json and tokenizer_config.json (the
others; their ids must fit --vocab). --gpt2-tokenizer-files writes GPT-2's vocab.json and merges.txt, rebuilt
from the built-in encoding (the released files' bytes), for tools that need them next to the weights; for the
other families it writes GPT-2's BPE as tokenizer.json (vocab ≥ 50257), so every task runs on the random model.`;

export async function makeModel(argv: string[]): Promise<void> {
  const s = { type: 'string' as const };
  const b = { type: 'boolean' as const };
  const { values } = parse('make-model', argv, {
    layers: s, heads: s, 'd-model': s, vocab: s, 'n-ctx': s, seed: s, 'init-std': s, dtype: s,
    'tokenizer-dir': s, 'gpt2-tokenizer-files': b, out: s, arch: s,
    'kv-heads': s, 'head-dim': s, 'd-mlp': s, tie: b, untie: b, 'rope-theta': s, 'rotary-pct': s, parallel: b, 'no-parallel': b,
    'rope-scaling': s, 'sliding-window': s, 'attn-softcap': s, 'final-softcap': s, 'query-pre-attn-scalar': s,
  }, usage);
  if (values.help) return void console.log(usage);
  const arch = values.arch ?? 'gpt2';
  if (!ARCHES.includes(arch)) throw new UserError(`--arch must be one of ${ARCHES.join(', ')}, got "${arch}"`);
  const initStd = positive(values['init-std'], 'init-std');
  const dtype = (values.dtype ?? 'F32').toUpperCase();
  if (!['F32', 'F16', 'BF16'].includes(dtype)) throw new UserError(`--dtype must be F32, F16 or BF16, got "${values.dtype}"`);
  const opts = {
      arch,
      layers: intOption(requireOption(values.layers, 'layers', usage), 'layers')!,
      heads: intOption(requireOption(values.heads, 'heads', usage), 'heads')!,
      dModel: intOption(requireOption(values['d-model'], 'd-model', usage), 'd-model')!,
      vocab: intOption(values.vocab, 'vocab'),
      nCtx: intOption(values['n-ctx'], 'n-ctx'),
      seed: intOption(values.seed, 'seed', 0),
      initStd,
      dtype: dtype as 'F32' | 'F16' | 'BF16',
      tokenizerDir: values['tokenizer-dir'],
      gpt2TokenizerFiles: values['gpt2-tokenizer-files'],
      kvHeads: intOption(values['kv-heads'], 'kv-heads'),
      headDim: intOption(values['head-dim'], 'head-dim'),
      dMlp: intOption(values['d-mlp'], 'd-mlp'),
      tie: pair(values.tie, values.untie, 'tie', 'untie'),
      parallel: pair(values.parallel, values['no-parallel'], 'parallel', 'no-parallel'),
      ropeTheta: positive(values['rope-theta'], 'rope-theta'),
      rotaryPct: positive(values['rotary-pct'], 'rotary-pct'),
      ropeScaling: values['rope-scaling'],
      slidingWindow: values['sliding-window'] === 'none' ? null : intOption(values['sliding-window'], 'sliding-window'),
      attnSoftcap: values['attn-softcap'] === 'none' ? null : positive(values['attn-softcap'], 'attn-softcap'),
      finalSoftcap: values['final-softcap'] === 'none' ? null : positive(values['final-softcap'], 'final-softcap'),
      queryPreAttnScalar: positive(values['query-pre-attn-scalar'], 'query-pre-attn-scalar'),
  };
  // unset options keep the generator's defaults
  const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as typeof opts;
  const out = requireOption(values.out, 'out', usage);
  checkOutputDir(out, 'out');
  const m = makeRandomModel(given, out);
  console.error(`wrote ${m.dir}: ${m.parameters.toLocaleString('en-US')} parameters (${m.files.join(', ')})`);
}

function positive(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!(x > 0) || !Number.isFinite(x)) throw new UserError(`--${name} must be a positive number, got "${v}"`);
  return x;
}

/** A flag and its negation: true, false, or undefined when neither is given. */
function pair(yes: boolean | undefined, no: boolean | undefined, yesName: string, noName: string): boolean | undefined {
  if (yes && no) throw new UserError(`give --${yesName} or --${noName}, not both`);
  return yes ? true : no ? false : undefined;
}
