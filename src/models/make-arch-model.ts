/**
 * Random checkpoints of the families other than GPT-2 (GPT-NeoX, Llama, Qwen2, Mistral, Gemma 2) in exactly
 * the Hugging Face layout (arch-layouts.ts), initialized like the GPT-2 path (make-model.ts): one random stream
 * per tensor from (seed, name), written chunk by chunk, so the bytes depend only on the options.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../util/errors.js';
import { writeFileAtomicSync } from '../util/atomic-write.js';
import { ARCH_FAMILIES, FAMILIES, archConfigJson, archTensors, type ArchDims, type ArchFamily, type TensorEntry } from './arch-layouts.js';
import { Rng, deriveSeed } from './random.js';
import { writeSafetensors, type TensorToWrite, type WriteDtype } from './safetensors.js';

/** The options only some families take (each names the families it applies to in APPLIES). */
export interface ArchOnlyOptions {
  kvHeads?: number;
  headDim?: number;
  dMlp?: number;
  tie?: boolean;
  rotaryPct?: number;
  ropeTheta?: number;
  ropeScaling?: string | null;
  slidingWindow?: number | null;
  attnSoftcap?: number | null;
  finalSoftcap?: number | null;
  queryPreAttnScalar?: number;
  parallel?: boolean;
}

/** The options every family's random checkpoint takes (GPT-2's add its own in make-model.ts). */
export interface CommonModelOptions {
  layers: number;
  heads: number;
  dModel: number;
  /** Vocabulary rows (default 50257, GPT-2's; other families: their released tokenizer's). Smaller is allowed; the tokenizer must then stay below it. */
  vocab?: number;
  /** Context length: n_ctx = n_positions (default 1024; other families' max_position_embeddings: 2048). */
  nCtx?: number;
  seed?: number;
  /** Standard deviation of weights and biases (default 0.02). */
  initStd?: number;
  /** Standard deviation of LayerNorm/RMSNorm weights around 1 (Gemma 2's (1 + w): around 0) (default 0.1). */
  lnNoise?: number;
  dtype?: WriteDtype;
  /** Directory whose vocab.json and merges.txt (other families: tokenizer.json, tokenizer_config.json, special_tokens_map.json if there) are copied into the model directory. */
  tokenizerDir?: string;
}

export interface ArchModelOptions extends ArchOnlyOptions, CommonModelOptions {
  family: ArchFamily;
}

/** Command-line spelling of each family-only option, for messages. */
export const OPTION_FLAGS: Record<keyof ArchOnlyOptions, string> = {
  kvHeads: '--kv-heads', headDim: '--head-dim', dMlp: '--d-mlp', tie: '--tie/--untie', rotaryPct: '--rotary-pct',
  ropeTheta: '--rope-theta', ropeScaling: '--rope-scaling', slidingWindow: '--sliding-window', attnSoftcap: '--attn-softcap',
  finalSoftcap: '--final-softcap', queryPreAttnScalar: '--query-pre-attn-scalar', parallel: '--parallel/--no-parallel',
};

const GQA: ArchFamily[] = ['llama', 'qwen2', 'mistral', 'gemma2'];
/** Which families each option applies to (the HF config key it sets exists and is read there). */
export const APPLIES: Record<keyof ArchOnlyOptions, readonly ArchFamily[]> = {
  kvHeads: GQA,
  // Llama/Mistral/Qwen2 derive head_dim = hidden_size / num_attention_heads in TransformerLens, so only Gemma 2 sets it
  headDim: ['gemma2'],
  dMlp: ARCH_FAMILIES,
  tie: ARCH_FAMILIES,
  rotaryPct: ['neox'],
  ropeTheta: ARCH_FAMILIES,
  ropeScaling: ['llama'],
  slidingWindow: ['mistral', 'gemma2'],
  attnSoftcap: ['gemma2'],
  finalSoftcap: ['gemma2'],
  queryPreAttnScalar: ['gemma2'],
  parallel: ['neox'],
};

/** Files copied from --tokenizer-dir: the first is required. */
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

/** The options resolved with the family's defaults, checked; UserError naming the option on anything invalid. */
export function resolveArchDims(o: ArchModelOptions): ArchDims {
  const fam = FAMILIES[o.family];
  if (!fam) throw new UserError(`make-model: unknown family "${o.family}"; supported: gpt2, ${ARCH_FAMILIES.join(', ')}`);
  for (const k of Object.keys(APPLIES) as (keyof ArchOnlyOptions)[]) {
    if (o[k] !== undefined && !APPLIES[k].includes(o.family)) {
      throw new UserError(`make-model: ${OPTION_FLAGS[k]} does not apply to --arch ${o.family} (it applies to ${APPLIES[k].join(', ')})`);
    }
  }
  const posInt = (v: unknown, flag: string) => {
    if (!Number.isSafeInteger(v) || (v as number) <= 0) throw new UserError(`make-model: ${flag} must be a positive integer, got ${v}`);
    return v as number;
  };
  const posNum = (v: unknown, flag: string) => {
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new UserError(`make-model: ${flag} must be a positive number, got ${v}`);
    return v;
  };
  const orNull = <T>(v: T | null | undefined, dflt: T | null, check: (x: T) => T) => (v === undefined ? dflt : v === null ? null : check(v));
  const layers = posInt(o.layers, '--layers');
  const heads = posInt(o.heads, '--heads');
  const dModel = posInt(o.dModel, '--d-model');
  const kvHeads = posInt(o.kvHeads ?? heads, '--kv-heads');
  if (heads % kvHeads !== 0) {
    throw new UserError(`make-model: num_attention_heads ${heads} is not divisible by num_key_value_heads ${kvHeads}; choose --kv-heads among the divisors of --heads`);
  }
  if (o.headDim === undefined && dModel % heads !== 0) {
    throw new UserError(`make-model: hidden_size ${dModel} is not divisible by num_attention_heads ${heads} (head_dim = hidden_size / heads)${o.family === 'gemma2' ? '; or give --head-dim' : ''}`);
  }
  const headDim = posInt(o.headDim ?? dModel / heads, '--head-dim');
  const rotaryPct = o.rotaryPct ?? 0.25;
  if (!(rotaryPct > 0 && rotaryPct <= 1)) throw new UserError(`make-model: --rotary-pct must be in (0, 1], got ${rotaryPct}`);
  // HF rotates int(head_dim · rotary_pct) dimensions in two halves (rotate_half): that count must be even
  const rotated = o.family === 'neox' ? Math.floor(headDim * rotaryPct) : headDim;
  if (rotated < 2 || rotated % 2 !== 0) {
    throw new UserError(`make-model: ${o.family === 'neox' ? `int(head_dim ${headDim} × rotary_pct ${rotaryPct}) = ${rotated}` : `head_dim ${headDim}`} rotary dimensions must be even and at least 2; change --d-model/--heads${o.family === 'neox' ? ' or --rotary-pct' : o.family === 'gemma2' ? ' or --head-dim' : ''}`);
  }
  if (o.ropeScaling !== undefined && o.ropeScaling !== null && o.ropeScaling !== 'llama3') {
    throw new UserError(`make-model: --rope-scaling must be llama3 (Llama-3.1/3.2 rope_scaling), got "${o.ropeScaling}"`);
  }
  const tie = o.tie ?? fam.tie;
  if (tie !== fam.tie && !fam.tieChoosable) {
    throw new UserError(`make-model: ${fam.architecture} checkpoints are ${fam.tie ? 'tied (lm_head is embed_tokens)' : 'untied (embed_out is its own matrix)'}; drop ${fam.tie ? '--untie' : '--tie'}`);
  }
  const dtype = o.dtype ?? 'F32';
  if (!['F32', 'F16', 'BF16'].includes(dtype)) throw new UserError(`make-model: dtype must be F32, F16 or BF16, got ${dtype}`);
  const seed = o.seed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new UserError(`make-model: seed must be a non-negative integer, got ${seed}`);
  return {
    family: o.family, layers, heads, kvHeads, dModel, headDim,
    dMlp: posInt(o.dMlp ?? 4 * dModel, '--d-mlp'),
    vocab: posInt(o.vocab ?? fam.vocab, '--vocab'),
    nCtx: posInt(o.nCtx ?? 2048, '--n-ctx'),
    tie,
    ropeTheta: posNum(o.ropeTheta ?? fam.ropeTheta, '--rope-theta'),
    rotaryPct,
    parallel: o.parallel ?? true,
    ropeScaling: o.ropeScaling === 'llama3' ? 'llama3' : null,
    // Mistral-7B-v0.3 has no window; Gemma-2's is 4096
    slidingWindow: orNull(o.slidingWindow, o.family === 'gemma2' ? 4096 : null, (x) => posInt(x, '--sliding-window')),
    attnSoftcap: orNull(o.attnSoftcap, 50.0, (x) => posNum(x, '--attn-softcap')),
    finalSoftcap: orNull(o.finalSoftcap, 30.0, (x) => posNum(x, '--final-softcap')),
    queryPreAttnScalar: posNum(o.queryPreAttnScalar ?? headDim, '--query-pre-attn-scalar'),
    dtype, seed,
    initStd: posNum(o.initStd ?? 0.02, '--init-std'),
    lnNoise: o.lnNoise ?? 0.1,
  };
}

/** Write a random checkpoint of one family to `outDir`; nothing is written when an option is invalid. */
export function makeArchModel(opts: ArchModelOptions, outDir: string): { dir: string; parameters: number; files: string[] } {
  const d = resolveArchDims(opts);
  if (opts.tokenizerDir) checkTokenizerDir(opts.tokenizerDir, d.vocab);
  const tensors: Record<string, TensorToWrite> = {};
  let parameters = 0;
  for (const t of archTensors(d)) {
    parameters += t.shape.reduce((a, b) => a * b, 1);
    tensors[t.name] = { dtype: d.dtype, shape: t.shape, data: archGenerator(t, d) };
  }
  fs.mkdirSync(outDir, { recursive: true });
  // Weights before config.json: a directory with config.json is never missing its weights.
  writeSafetensors(path.join(outDir, 'model.safetensors'), tensors, { format: 'pt' });
  writeFileAtomicSync(path.join(outDir, 'config.json'), JSON.stringify(archConfigJson(d), null, 2) + '\n');
  const files = ['model.safetensors', 'config.json'];
  for (const f of opts.tokenizerDir ? TOKENIZER_FILES : []) {
    const src = path.join(opts.tokenizerDir!, f);
    if (!fs.existsSync(src)) continue;
    writeFileAtomicSync(path.join(outDir, f), fs.readFileSync(src));
    files.push(f);
  }
  return { dir: path.resolve(outDir), parameters, files };
}

/** The chunked generator of one tensor: its own stream from (seed, name). */
export function archGenerator(t: TensorEntry, d: { seed: number; initStd: number; lnNoise: number }) {
  const rng = new Rng(deriveSeed(d.seed, t.name));
  const mean = t.init === 'norm' ? 1 : 0;
  const std = t.init === 'weight' ? d.initStd : d.lnNoise;
  return (out: Float32Array) => rng.fillNormal(out, mean, std);
}

/** tokenizer.json must exist and its ids fit the vocabulary (checked before anything is written). */
function checkTokenizerDir(dir: string, vocab: number): void {
  const file = path.join(dir, TOKENIZER_FILES[0]);
  if (!fs.existsSync(file)) throw new UserError(`make-model: tokenizer directory ${dir} has no tokenizer.json (the families other than gpt2 need a Hugging Face tokenizer.json)`);
  let tok: { model?: { vocab?: unknown }; added_tokens?: { id?: unknown }[] };
  try {
    tok = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`make-model: ${file} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  const v = tok.model?.vocab;
  // BPE/WordPiece/WordLevel: {token: id}; Unigram: [[piece, score], ...] with ids in order
  let maxId = Array.isArray(v) ? v.length - 1 : -1;
  if (v && typeof v === 'object' && !Array.isArray(v)) for (const id of Object.values(v)) if (typeof id === 'number' && id > maxId) maxId = id;
  for (const a of tok.added_tokens ?? []) if (typeof a.id === 'number') maxId = Math.max(maxId, a.id);
  if (maxId >= vocab) {
    throw new UserError(`make-model: ${file} has token ids up to ${maxId}, which do not fit --vocab ${vocab}; give --vocab ${maxId + 1} or more`);
  }
}
