/** `eapgp make-model`: a random GPT-2 checkpoint in the Hugging Face format. */
import { makeRandomModel } from '../models/make-model.js';
import { intOption, parse, requireOption } from './args.js';
import { checkOutputDir } from './output-paths.js';
import { UserError } from '../util/errors.js';

export const usage = `usage: eapgp make-model --layers L --heads H --d-model D [--vocab 50257] [--n-ctx 1024] [--seed S]
                        [--init-std 0.02] [--dtype F32|F16|BF16] [--tokenizer-dir DIR | --gpt2-tokenizer-files] --out DIR

Writes a random, non-degenerate GPT-2 checkpoint (config.json, model.safetensors; vocab.json and merges.txt
copied from --tokenizer-dir) that loads like a Hugging Face one. The same seed gives the same bytes.
--gpt2-tokenizer-files writes GPT-2's vocab.json and merges.txt, rebuilt from the built-in encoding (the
released files' bytes), for tools that need them next to the weights.`;

export async function makeModel(argv: string[]): Promise<void> {
  const { values } = parse('make-model', argv, {
    layers: { type: 'string' as const }, heads: { type: 'string' as const }, 'd-model': { type: 'string' as const }, vocab: { type: 'string' as const },
    'n-ctx': { type: 'string' as const }, seed: { type: 'string' as const }, 'init-std': { type: 'string' as const }, dtype: { type: 'string' as const },
    'tokenizer-dir': { type: 'string' as const }, 'gpt2-tokenizer-files': { type: 'boolean' as const }, out: { type: 'string' as const },
  }, usage);
  if (values.help) return void console.log(usage);
  const initStd = values['init-std'] === undefined ? undefined : Number(values['init-std']);
  if (initStd !== undefined && !(initStd > 0)) throw new UserError(`--init-std must be a positive number, got "${values['init-std']}"`);
  const dtype = (values.dtype ?? 'F32').toUpperCase();
  if (!['F32', 'F16', 'BF16'].includes(dtype)) throw new UserError(`--dtype must be F32, F16 or BF16, got "${values.dtype}"`);
  const opts = {
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
  };
  // unset options keep the generator's defaults
  const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as typeof opts;
  const out = requireOption(values.out, 'out', usage);
  checkOutputDir(out, 'out');
  const m = makeRandomModel(given, out);
  console.error(`wrote ${m.dir}: ${m.parameters.toLocaleString('en-US')} parameters (${m.files.join(', ')})`);
}
