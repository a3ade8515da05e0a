/** From a `--model` argument (a directory or a hub name) to a GPT-2 on the engine, with its tokenizer. */
import type { Engine } from '../engine/engine.js';
import { loadTokenizer, type Tokenizer } from '../tokenizer/index.js';
import { openCheckpoint, validateGPT2 } from './checkpoint.js';
import type { GPT2Config } from './config.js';
import { GPT2 } from './gpt2.js';
import { resolveModel, type ResolveOptions } from './hub.js';
import type { WeightStoreOptions } from './weights.js';
import { createProgress } from '../util/progress.js';

export interface LoadedModel {
  model: GPT2;
  config: GPT2Config;
  tokenizer: Tokenizer;
  /** The local directory the model was read from. */
  dir: string;
}

export interface LoadOptions extends ResolveOptions, WeightStoreOptions {}

export async function loadModel(engine: Engine, spec: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  const dir = await resolveModel(spec, opts);
  const ckpt = openCheckpoint(dir);
  try {
    validateGPT2(ckpt);
    const total = ckpt.bytesF32();
    // a progress line only for loads that take a noticeable time (GPT-2 medium and up)
    const progress = createProgress({ label: 'loading weights', total, unit: 'bytes', quiet: opts.quiet || total < 512 * 2 ** 20 });
    const model = new GPT2(engine, ckpt.config, ckpt, { ...opts, onRead: (n) => progress.add(n) });
    progress.finish();
    return { model, config: ckpt.config, tokenizer: loadTokenizer(dir), dir };
  } finally {
    ckpt.close();
  }
}
