/**
 * A Hugging Face GPT-2 model directory: config.json plus `model.safetensors` or a sharded
 * `model.safetensors.index.json` (weight_map: tensor name → shard file). Opening reads only headers.
 *
 * Names are normalized to the GPT2Model layout: a `transformer.` prefix (GPT2LMHeadModel checkpoints) is
 * stripped and the non-parameter buffers `h.N.attn.bias` / `h.N.attn.masked_bias` are ignored.
 * `lm_head.weight` is kept when present; without it the unembedding is tied to `wte.weight`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../util/errors.js';
import { checkFinite } from '../util/finite.js';
import { loadConfig, type GPT2Config } from './config.js';
import { openSafetensors, type SafetensorsFile, type TensorInfo } from './safetensors.js';

export interface Checkpoint<C = GPT2Config> {
  /** Absolute path of the directory. */
  readonly dir: string;
  readonly config: C;
  /** Normalized tensor names (sorted). */
  readonly names: string[];
  has(name: string): boolean;
  shape(name: string): number[];
  /** Stored dtype (F32, F16, BF16, ...). */
  dtype(name: string): string;
  /** The file that holds a tensor (for messages). */
  fileOf(name: string): string;
  /** The tensor as f32, in a fresh array or in `out` (exactly numel elements). Reads only this tensor. */
  readF32(name: string, out?: Float32Array): Float32Array;
  /** The stored bits of a BF16 or F16 tensor (kept at 2 bytes per weight by the callers that stream them). */
  readHalf(name: string): Uint16Array;
  /** Bytes all tensors take as f32 (what loading the whole model costs). */
  bytesF32(): number;
  close(): void;
}

const SINGLE = 'model.safetensors';
const INDEX = 'model.safetensors.index.json';
const IGNORED = /^h\.\d+\.attn\.(bias|masked_bias)$/;

/** Strip `transformer.`; null for buffers that are not parameters. */
export function normalizeName(name: string): string | null {
  const n = name.startsWith('transformer.') ? name.slice('transformer.'.length) : name;
  return IGNORED.test(n) ? null : n;
}

/** Open a GPT-2 model directory (config.json + safetensors weights). Throws UserError on anything malformed. */
export function openCheckpoint(dir: string): Checkpoint {
  const abs = checkedDir(dir);
  return openWeights(abs, loadConfig(abs), normalizeName);
}

/** The absolute path of an existing model directory. */
export function checkedDir(dir: string): string {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) {
    throw new UserError(`model directory ${abs} does not exist; pass a Hugging Face model directory or a hub name like "gpt2"`);
  }
  return abs;
}

/**
 * The safetensors weights of a model directory with an already parsed config; `normalize` maps stored names to
 * the names the model asks for (null: a buffer that is not a parameter).
 */
export function openWeights<C>(abs: string, config: C, normalize: (name: string) => string | null): Checkpoint<C> {
  const files = new Map<string, SafetensorsFile>();
  try {
    const shardOf = weightFiles(abs);
    const entries = new Map<string, { file: SafetensorsFile; info: TensorInfo }>();
    for (const [fileName, wanted] of shardOf) {
      const st = openSafetensors(path.join(abs, fileName));
      files.set(fileName, st);
      for (const raw of wanted ?? st.names) {
        if (!st.has(raw)) {
          throw new UserError(`${path.join(abs, INDEX)} maps tensor ${raw} to ${fileName}, but ${st.path} has no such tensor; download the model again`);
        }
        const name = normalize(raw);
        if (name === null) continue;
        const prev = entries.get(name);
        if (prev) throw new UserError(`tensor ${name} appears twice (as ${prev.info.name} in ${prev.file.path} and as ${raw} in ${st.path}); remove one`);
        entries.set(name, { file: st, info: st.info(raw) });
      }
    }
    return makeCheckpoint(abs, config, entries, files);
  } catch (e) {
    for (const f of files.values()) f.close();
    throw e;
  }
}

/** Weight files to open, each with the raw tensor names it should hold (null: all of them). */
function weightFiles(dir: string): Map<string, string[] | null> {
  if (fs.existsSync(path.join(dir, SINGLE))) return new Map([[SINGLE, null]]);
  const indexPath = path.join(dir, INDEX);
  if (!fs.existsSync(indexPath)) {
    const bin = fs.existsSync(path.join(dir, 'pytorch_model.bin'));
    throw new UserError(
      `no ${SINGLE} or ${INDEX} in ${dir}` +
        (bin ? '; only safetensors weights are supported, convert pytorch_model.bin to model.safetensors' : '; the directory holds no model weights'),
    );
  }
  let index: { weight_map?: unknown };
  try {
    index = JSON.parse(fs.readFileSync(indexPath, 'utf8'));
  } catch (e) {
    throw new UserError(`${indexPath} is not valid JSON (${(e as Error).message}); download the model again`);
  }
  const map = index?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new UserError(`${indexPath} has no "weight_map" object (tensor name → shard file); download the model again`);
  }
  const shards = new Map<string, string[]>();
  for (const [name, file] of Object.entries(map)) {
    if (typeof file !== 'string' || file.includes('/') || file.includes('\\')) {
      throw new UserError(`${indexPath}: tensor ${name} maps to invalid shard ${JSON.stringify(file)}`);
    }
    if (!shards.has(file)) {
      if (!fs.existsSync(path.join(dir, file))) {
        throw new UserError(`${indexPath} names shard ${file} (for tensor ${name}), but ${path.join(dir, file)} does not exist; download the missing shard`);
      }
      shards.set(file, []);
    }
    shards.get(file)!.push(name);
  }
  return shards;
}

function makeCheckpoint<C>(
  dir: string,
  config: C,
  entries: Map<string, { file: SafetensorsFile; info: TensorInfo }>,
  files: Map<string, SafetensorsFile>,
): Checkpoint<C> {
  const names = [...entries.keys()].sort();
  const get = (name: string) => {
    const e = entries.get(name);
    if (!e) throw new UserError(`tensor ${name} not found in the checkpoint in ${dir}`);
    return e;
  };
  return {
    dir,
    config,
    names,
    has: (name) => entries.has(name),
    shape: (name) => [...get(name).info.shape],
    dtype: (name) => get(name).info.dtype,
    fileOf: (name) => get(name).file.path,
    readF32: (name, out) => {
      const e = get(name);
      const data = e.file.readF32(e.info.name, out);
      // a NaN or infinity in the weights would spread through every later number: refuse it at the source
      checkFinite(data, 'weights', (i, v) => `tensor ${e.info.name} ${JSON.stringify(e.info.shape)} in ${e.file.path} holds ${v} at element ${i}`);
      return data;
    },
    readHalf: (name) => {
      const e = get(name);
      const { dtype } = e.info;
      if (dtype !== 'BF16' && dtype !== 'F16') throw new Error(`readHalf(${name}): stored as ${dtype}`);
      const b = e.file.readBytes(e.info.name);
      const bits = new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
      // all-ones exponent: an infinity or NaN (refused as in readF32)
      const exp = dtype === 'BF16' ? 0x7f80 : 0x7c00;
      const bad = bits.findIndex((x) => (x & exp) === exp);
      if (bad >= 0) throw new UserError(`tensor ${e.info.name} ${JSON.stringify(e.info.shape)} in ${e.file.path} holds a non-finite value at element ${bad}; the weights are corrupt`);
      return bits;
    },
    bytesF32: () => names.reduce((s, n) => s + 4 * get(n).info.numel, 0),
    close: () => {
      for (const f of files.values()) f.close();
    },
  };
}

/** Every parameter a GPT-2 needs, with its shape (Conv1D orientation: weights are [in, out]). */
export function gpt2Shapes(c: GPT2Config): Map<string, number[]> {
  const D = c.dModel;
  const m = new Map<string, number[]>([
    ['wte.weight', [c.vocabSize, D]],
    ['wpe.weight', [c.nPositions, D]],
  ]);
  for (let l = 0; l < c.nLayer; l++) {
    const p = `h.${l}.`;
    m.set(p + 'ln_1.weight', [D]).set(p + 'ln_1.bias', [D]);
    m.set(p + 'attn.c_attn.weight', [D, 3 * D]).set(p + 'attn.c_attn.bias', [3 * D]);
    m.set(p + 'attn.c_proj.weight', [D, D]).set(p + 'attn.c_proj.bias', [D]);
    m.set(p + 'ln_2.weight', [D]).set(p + 'ln_2.bias', [D]);
    m.set(p + 'mlp.c_fc.weight', [D, c.dMlp]).set(p + 'mlp.c_fc.bias', [c.dMlp]);
    m.set(p + 'mlp.c_proj.weight', [c.dMlp, D]).set(p + 'mlp.c_proj.bias', [D]);
  }
  m.set('ln_f.weight', [D]).set('ln_f.bias', [D]);
  return m;
}

/**
 * Check that every GPT-2 tensor is present with the shape config.json implies (and lm_head.weight, if
 * present, is [vocab, D]). Throws a UserError naming the tensor, its file and expected vs actual shape.
 */
export function validateGPT2(ckpt: Checkpoint): void {
  const c = ckpt.config;
  const where = `n_layer=${c.nLayer}, n_embd=${c.dModel}, vocab_size=${c.vocabSize}, n_positions=${c.nPositions} in ${path.join(ckpt.dir, 'config.json')}`;
  const expected = gpt2Shapes(c);
  if (ckpt.has('lm_head.weight')) expected.set('lm_head.weight', [c.vocabSize, c.dModel]);
  for (const [name, shape] of expected) {
    if (!ckpt.has(name)) {
      throw new UserError(
        `tensor ${name} (shape [${shape.join(', ')}]) is missing from the checkpoint in ${ckpt.dir} (${where}); ` +
          'the weights do not match config.json or are incomplete',
      );
    }
    const actual = ckpt.shape(name);
    if (actual.length !== shape.length || actual.some((d, i) => d !== shape[i])) {
      throw new UserError(
        `tensor ${name} in ${ckpt.fileOf(name)} has shape [${actual.join(', ')}], expected [${shape.join(', ')}] ` +
          `(from ${where}); the weights do not match config.json`,
      );
    }
  }
}
