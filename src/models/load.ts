/**
 * From a `--model` argument (a directory or a hub name) to a model on the engine, with its tokenizer: GPT-2 runs
 * its own fused forward (./gpt2.ts), every other family the FamilyBlock forward (./transformer.ts).
 */
import type { Engine } from '../engine/engine.js';
import { loadTokenizer, requireTokenizerFor, type Tokenizer } from '../tokenizer/index.js';
import { UserError } from '../util/errors.js';
import { createProgress } from '../util/progress.js';
import { isGpt2Config, parseArchConfig } from './arch/index.js';
import { expectedShapes } from './arch/shapes.js';
import { checkedDir, openCheckpoint, openWeights, validateGPT2, type Checkpoint } from './checkpoint.js';
import { readConfigJson, type GPT2Config } from './config.js';
import { GPT2 } from './gpt2.js';
import { resolveModel, type ResolveOptions } from './hub.js';
import type { CausalLM, ModelDims } from './model.js';
import { TransformerLM } from './transformer.js';
import type { WeightStoreOptions } from './weights.js';

export interface LoadedModel {
  model: CausalLM;
  /** The architecture numbers (= model.dims). */
  config: ModelDims;
  tokenizer: Tokenizer;
  /** The local directory the model was read from. */
  dir: string;
}

export interface LoadOptions extends ResolveOptions, WeightStoreOptions {}

export async function loadModel(engine: Engine, spec: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  const dir = checkedDir(await resolveModel(spec, opts));
  const { json, file } = readConfigJson(dir);
  const raw = json as Record<string, unknown>;
  if (isGpt2Config(raw)) return loadGpt2Dir(engine, dir, opts);
  const { block, spec: arch } = parseArchConfig(raw, file);
  // the tokenizer first: a model without one cannot run any task, so fail before reading gigabytes
  const tokenizer = requireTokenizerFor(dir, arch.family);
  const ckpt = openWeights(dir, arch, (n) => (block.ignored?.test(n) ? null : n));
  try {
    validateShapes(ckpt, expectedShapes(block, arch), file);
    const model = withProgress(ckpt, opts, (onRead) => new TransformerLM(engine, arch, block, ckpt, { ...opts, onRead }));
    return { model, config: model.dims, tokenizer, dir };
  } finally {
    ckpt.close();
  }
}

function withProgress<T>(ckpt: Checkpoint<unknown>, opts: LoadOptions, make: (onRead: (n: number) => void) => T): T {
  const total = ckpt.bytesF32();
  // a progress line only for loads that take a noticeable time
  const progress = createProgress({ label: 'loading weights', total, unit: 'bytes', quiet: opts.quiet || total < 512 * 2 ** 20 });
  const model = make((n) => progress.add(n));
  progress.finish();
  return model;
}

/** Every tensor the config implies is present with its shape; a UserError names the first that is not. */
function validateShapes(ckpt: Checkpoint<unknown>, expected: Map<string, number[]>, configFile: string): void {
  for (const [name, shape] of expected) {
    if (!ckpt.has(name)) {
      throw new UserError(`tensor ${name} (shape [${shape.join(', ')}]) is missing from the checkpoint in ${ckpt.dir}; the weights do not match ${configFile} or are incomplete`);
    }
    const actual = ckpt.shape(name);
    if (actual.length !== shape.length || actual.some((d, i) => d !== shape[i])) {
      throw new UserError(`tensor ${name} in ${ckpt.fileOf(name)} has shape [${actual.join(', ')}], expected [${shape.join(', ')}] from ${configFile}; the weights do not match the config`);
    }
  }
}

/** A GPT-2 model with its full config (training and the tools that need GPT-2's own weights). */
export async function loadGpt2Model(engine: Engine, spec: string, opts: LoadOptions = {}): Promise<LoadedModel & { model: GPT2; config: GPT2Config }> {
  const dir = checkedDir(await resolveModel(spec, opts));
  const { json, file } = readConfigJson(dir);
  if (!isGpt2Config(json as Record<string, unknown>)) throw new UserError(`${file} is not a GPT-2 config; this needs a GPT-2 (GPT2LMHeadModel) model`);
  return loadGpt2Dir(engine, dir, opts);
}

function loadGpt2Dir(engine: Engine, dir: string, opts: LoadOptions): LoadedModel & { model: GPT2; config: GPT2Config } {
  const ckpt = openCheckpoint(dir);
  try {
    validateGPT2(ckpt);
    const model = withProgress(ckpt, opts, (onRead) => new GPT2(engine, ckpt.config, ckpt, { ...opts, onRead }));
    return { model, config: ckpt.config, tokenizer: loadTokenizer(dir), dir };
  } finally {
    ckpt.close();
  }
}
