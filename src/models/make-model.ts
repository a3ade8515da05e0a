/**
 * Random checkpoints in exactly the Hugging Face layout; GPT-2 here, the other families (--arch) in
 * make-arch-model.ts with the same random streams. GPT-2: checkpoints in exactly the Hugging Face layout (config.json + model.safetensors with GPT2Model
 * names, no `transformer.` prefix, no lm_head: tied), for tests and benchmarks without downloads. The
 * distributions follow the oracle's make_model.py so the models behave alike: LayerNorm weights 1 + N(0, 0.1),
 * everything else N(0, initStd); only the random stream differs (see random.ts).
 *
 * Each tensor has its own stream seeded by (seed, tensor name), so the bytes depend only on the options, and
 * tensors are generated chunk by chunk while being written (GPT-2-XL width needs no large buffers).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeGpt2TokenizerFiles, writeGpt2TokenizerJson } from '../tokenizer/gpt2-files.js';
import { UserError } from '../util/errors.js';
import { writeFileAtomicSync } from '../util/atomic-write.js';
import { ARCH_FAMILIES, type ArchFamily } from './arch-layouts.js';
import { gpt2Shapes } from './checkpoint.js';
import { parseConfig } from './config.js';
import { APPLIES, OPTION_FLAGS, makeArchModel, type ArchOnlyOptions, type CommonModelOptions } from './make-arch-model.js';
import { Rng, deriveSeed } from './random.js';
import { writeSafetensors, type TensorToWrite } from './safetensors.js';
import type { WeightSource } from './weights.js';

/** The supported values of --arch. */
export const ARCHES: readonly string[] = ['gpt2', ...ARCH_FAMILIES];

export interface RandomModelOptions extends Gpt2ModelOptions, ArchOnlyOptions {
  /** Model family (default gpt2); the others take the ArchOnlyOptions that apply to them. */
  arch?: string;
}

export interface Gpt2ModelOptions extends CommonModelOptions {
  /** Multiplies the query and key columns of c_attn (weight and bias): attention logits scale by qkScale² (default 1). */
  qkScale?: number;
  /** Writes GPT-2's own vocab.json and merges.txt (other families: GPT-2's BPE as tokenizer.json) instead of copying a tokenizer. */
  gpt2TokenizerFiles?: boolean;
}

export interface RandomModel {
  dir: string;
  parameters: number;
  /** Files written, relative to dir. */
  files: string[];
}

/** GPT-2's vocabulary size. */
const GPT2_VOCAB = 50257;

/** Write a random checkpoint of opts.arch (default GPT-2) to `outDir` (created if needed; existing files are replaced). */
export function makeRandomModel(opts: RandomModelOptions, outDir: string): RandomModel {
  const arch = opts.arch ?? 'gpt2';
  if (!ARCHES.includes(arch)) throw new UserError(`make-model: unknown --arch "${arch}"; supported: ${ARCHES.join(', ')}`);
  if (arch !== 'gpt2') {
    if (opts.gpt2TokenizerFiles && opts.tokenizerDir) throw new UserError('make-model: give a tokenizer directory or ask for the GPT-2 tokenizer files, not both');
    if (opts.gpt2TokenizerFiles && opts.vocab !== undefined && opts.vocab < GPT2_VOCAB) throw new UserError(`make-model: GPT-2's tokenizer needs a vocabulary of at least ${GPT2_VOCAB} rows, not ${opts.vocab}`);
    if (opts.qkScale !== undefined && opts.qkScale !== 1) throw new UserError(`make-model: qkScale applies to --arch gpt2 only`);
    const { arch: _, qkScale: __, gpt2TokenizerFiles: ___, ...rest } = opts;
    const m = makeArchModel({ ...rest, family: arch as ArchFamily }, outDir);
    // GPT-2's BPE as the family's tokenizer.json: every task runs on a random model of any family
    if (opts.gpt2TokenizerFiles) m.files.push(...writeGpt2TokenizerJson(outDir).map((f) => path.basename(f)));
    return m;
  }
  for (const k of Object.keys(APPLIES) as (keyof ArchOnlyOptions)[]) {
    if (opts[k] !== undefined) throw new UserError(`make-model: ${OPTION_FLAGS[k]} does not apply to --arch gpt2 (it applies to ${APPLIES[k].join(', ')})`);
  }
  const o = randomModelDefaults(opts);
  for (const k of ['layers', 'heads', 'dModel', 'vocab', 'nCtx'] as const) {
    if (!Number.isSafeInteger(o[k]) || o[k] <= 0) throw new UserError(`make-model: ${k} must be a positive integer, got ${o[k]}`);
  }
  if (o.dModel % o.heads !== 0) throw new UserError(`make-model: d_model ${o.dModel} is not divisible by ${o.heads} heads`);
  if (!Number.isSafeInteger(o.seed) || o.seed < 0) throw new UserError(`make-model: seed must be a non-negative integer, got ${o.seed}`);
  if (!['F32', 'F16', 'BF16'].includes(o.dtype)) throw new UserError(`make-model: dtype must be F32, F16 or BF16, got ${o.dtype}`);
  if (opts.gpt2TokenizerFiles && opts.tokenizerDir) throw new UserError('make-model: give a tokenizer directory or ask for the GPT-2 tokenizer files, not both');
  if (opts.gpt2TokenizerFiles && o.vocab !== GPT2_VOCAB) throw new UserError(`make-model: GPT-2's tokenizer files need GPT-2's vocabulary of ${GPT2_VOCAB} rows, not ${o.vocab}`);

  const tokenizerFiles = ['vocab.json', 'merges.txt'];
  for (const f of opts.tokenizerDir ? tokenizerFiles : []) {
    // checked before anything is written: a failure leaves no half-made model directory
    if (!fs.existsSync(path.join(opts.tokenizerDir!, f))) throw new UserError(`make-model: tokenizer directory ${opts.tokenizerDir} has no ${f}; it needs vocab.json and merges.txt`);
  }

  const config = gpt2ConfigJson(o);
  const shapes = gpt2Shapes(parseConfig(config, 'make-model'));
  const tensors: Record<string, TensorToWrite> = {};
  let parameters = 0;
  for (const [name, shape] of shapes) {
    parameters += shape.reduce((a, b) => a * b, 1);
    tensors[name] = { dtype: o.dtype, shape, data: generator(name, o) };
  }
  fs.mkdirSync(outDir, { recursive: true });
  // Weights before config.json: a directory with config.json is never missing its weights.
  writeSafetensors(path.join(outDir, 'model.safetensors'), tensors, { format: 'pt' });
  writeFileAtomicSync(path.join(outDir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  const files = ['model.safetensors', 'config.json'];
  if (opts.gpt2TokenizerFiles) {
    writeGpt2TokenizerFiles(outDir);
    files.push('vocab.json', 'merges.txt');
  }
  if (opts.tokenizerDir) {
    for (const f of tokenizerFiles) {
      writeFileAtomicSync(path.join(outDir, f), fs.readFileSync(path.join(opts.tokenizerDir, f)));
      files.push(f);
    }
  }
  return { dir: path.resolve(outDir), parameters, files };
}

type Opts = { seed: number; initStd: number; lnNoise: number; qkScale: number; dModel: number };

/** The options with make-model's defaults for those not given (tokenizerDir dropped). */
export function randomModelDefaults(opts: Gpt2ModelOptions & { arch?: string }): RandomModelParts {
  const { tokenizerDir: _, arch: __, ...rest } = opts;
  // options present but undefined keep their defaults
  const given = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
  return { vocab: GPT2_VOCAB, nCtx: 1024, seed: 0, initStd: 0.02, lnNoise: 0.1, qkScale: 1, dtype: 'F32', ...given } as RandomModelParts;
}

/** Options of the config and the random values (make-model's options with their defaults filled in). */
export type RandomModelParts = Required<Omit<Gpt2ModelOptions, 'tokenizerDir'>>;

/** The config.json of a GPT-2 with these dimensions, as make-model writes it (other fields can be added). */
export function gpt2ConfigJson(o: RandomModelParts): Record<string, unknown> {
  return {
    activation_function: 'gelu_new',
    architectures: ['GPT2LMHeadModel'],
    bos_token_id: 50256,
    eos_token_id: 50256,
    initializer_range: o.initStd,
    layer_norm_epsilon: 1e-5,
    model_type: 'gpt2',
    n_ctx: o.nCtx,
    n_embd: o.dModel,
    n_head: o.heads,
    n_layer: o.layers,
    n_positions: o.nCtx,
    vocab_size: o.vocab,
    tie_word_embeddings: true,
    torch_dtype: { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[o.dtype],
    eapgp_init: { seed: o.seed, init_std: o.initStd, ln_noise: o.lnNoise, qk_scale: o.qkScale, generator: 'xoshiro128**+box-muller' },
  };
}

/**
 * The same random weights as makeRandomModel writes (F32 values), held in memory: the starting point of
 * training. Each tensor is generated when first read.
 */
export function randomWeightSource(o: RandomModelParts): WeightSource {
  const shapes = gpt2Shapes(parseConfig(gpt2ConfigJson(o), 'random weights'));
  return {
    shape: (name) => {
      const s = shapes.get(name);
      if (!s) throw new Error(`random weights: no tensor ${name}`);
      return s;
    },
    has: (name) => shapes.has(name),
    readF32: (name) => {
      const s = shapes.get(name);
      if (!s) throw new Error(`random weights: no tensor ${name}`);
      const out = new Float32Array(s.reduce((a, b) => a * b, 1));
      generator(name, o)(out, 0);
      return out;
    },
  };
}

/** The chunked generator of one tensor. */
function generator(name: string, o: Opts) {
  const rng = new Rng(deriveSeed(o.seed, name));
  const isLnWeight = /(^|\.)ln_(1|2|f)\.weight$/.test(name);
  const mean = isLnWeight ? 1 : 0;
  const std = isLnWeight ? o.lnNoise : o.initStd;
  const qk = o.qkScale !== 1 && name.endsWith('attn.c_attn.weight') ? 'w' : o.qkScale !== 1 && name.endsWith('attn.c_attn.bias') ? 'b' : null;
  const D = o.dModel;
  return (out: Float32Array, start: number) => {
    rng.fillNormal(out, mean, std);
    if (!qk) return;
    // q and k are the first 2·D of the 3·D columns (weight rows are [D, 3D], row-major).
    for (let i = 0; i < out.length; i++) {
      if ((start + i) % (3 * D) < 2 * D) out[i] = Math.fround(out[i] * o.qkScale);
    }
  };
}
