/**
 * From a `--model` argument (a directory or a hub name) to a model on the engine, with its tokenizer: GPT-2 runs
 * its own fused forward (./gpt2.ts), every other family the FamilyBlock forward (./transformer.ts).
 */
import type { Engine } from '../engine/engine.js';
import { loadTokenizer, requireTokenizerFor, type Tokenizer } from '../tokenizer/index.js';
import { UserError } from '../util/errors.js';
import { createProgress } from '../util/progress.js';
import { familyOf, isGpt2Config, parseArchConfig } from './arch/index.js';
import { expectedShapes } from './arch/shapes.js';
import { checkedDir, normalizeName, openWeights, validateGPT2, type Checkpoint } from './checkpoint.js';
import { parseConfig, readConfigJson, type GPT2Config } from './config.js';
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
  if (isGpt2Config(raw)) return loadGpt2Dir(engine, dir, parseConfig(raw, file), opts);
  // the tokenizer first: a model without one cannot run any task, so fail before reading gigabytes
  const tokenizer = requireTokenizerFor(dir, familyOf(raw, file).block.name);
  const model = openFamilyModel(engine, dir, opts, { raw, file });
  return { model, config: model.dims, tokenizer, dir };
}

export interface FamilyOpenOptions extends WeightStoreOptions {
  quiet?: boolean;
  /** Keep only layers 0 … layers−1 (the bench's per-layer figures); the rest of the file is never read. */
  layers?: number;
}

/**
 * A non-GPT-2 model directory without its tokenizer (loadModel adds it; the families test and bench bring token
 * ids themselves): config.json through the family's parser, every tensor checked against the shapes it implies.
 */
export function openFamilyModel(engine: Engine, dir: string, opts: FamilyOpenOptions = {}, config?: { raw: Record<string, unknown>; file: string }): TransformerLM {
  const { json, file } = config ? { json: config.raw, file: config.file } : readConfigJson(dir);
  const raw = { ...(json as Record<string, unknown>) };
  const keep = opts.layers;
  if (keep !== undefined) {
    const all = raw['num_hidden_layers'];
    if (!Number.isInteger(keep) || keep < 1 || typeof all !== 'number' || keep > all) {
      throw new UserError(`${file}: cannot keep ${keep} layers of num_hidden_layers ${String(all)}; ask for 1 to ${String(all)}`);
    }
    raw['num_hidden_layers'] = keep;
  }
  const { block, spec } = parseArchConfig(raw, file);
  const layerOf = (n: string): number => Number(/\.layers\.(\d+)\./.exec(n)?.[1] ?? -1);
  const ckpt = openWeights(dir, spec, (n) => (block.ignored?.test(n) || (keep !== undefined && layerOf(n) >= keep) ? null : n));
  try {
    validateShapes(ckpt, expectedShapes(block, spec), file);
    return withProgress(ckpt, opts, (onRead) => new TransformerLM(engine, spec, block, ckpt, { ...opts, onRead }));
  } finally {
    ckpt.close();
  }
}

function withProgress<T>(ckpt: Checkpoint<unknown>, opts: { quiet?: boolean }, make: (onRead: (n: number) => void) => T): T {
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
  return loadGpt2Dir(engine, dir, parseConfig(json, file), opts);
}

function loadGpt2Dir(engine: Engine, dir: string, config: GPT2Config, opts: LoadOptions): LoadedModel & { model: GPT2; config: GPT2Config } {
  const ckpt = openWeights(dir, config, normalizeName);
  try {
    validateGPT2(ckpt);
    const model = withProgress(ckpt, opts, (onRead) => new GPT2(engine, ckpt.config, ckpt, { ...opts, onRead }));
    return { model, config: ckpt.config, tokenizer: loadTokenizer(dir), dir };
  } finally {
    ckpt.close();
  }
}
