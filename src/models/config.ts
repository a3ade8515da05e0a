/**
 * GPT-2 hyper-parameters from a Hugging Face `config.json` (GPT2LMHeadModel / model_type "gpt2"). Only what
 * the architecture needs is kept, with Hugging Face's defaults for absent keys; anything we can't run
 * faithfully (other architectures, activations, attention variants) is rejected with a UserError.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../util/errors.js';

/** The tanh-approximated GELU of GPT-2 (`gelu_new`, also spelled `gelu_pytorch_tanh`). */
export type Activation = 'gelu_new';

export interface GPT2Config {
  nLayer: number;
  nHead: number;
  /** Residual width (n_embd). */
  dModel: number;
  /** dModel / nHead. */
  dHead: number;
  /** MLP hidden width (n_inner, default 4·dModel). */
  dMlp: number;
  /** Rows of the position embedding (n_positions), the longest usable context. */
  nPositions: number;
  /** n_ctx as written in the file (equal to nPositions in every released GPT-2). */
  nCtx: number;
  vocabSize: number;
  layerNormEpsilon: number;
  activation: Activation;
  /** Unembedding tied to wte when the checkpoint has no lm_head.weight. */
  tieWordEmbeddings: boolean;
  bosTokenId: number;
  eosTokenId: number;
  /** The parsed file, for keys we don't interpret. */
  raw: Record<string, unknown>;
}

const ACTIVATIONS: Record<string, Activation> = { gelu_new: 'gelu_new', gelu_pytorch_tanh: 'gelu_new' };

/** Read and parse `<dir>/config.json` as a GPT-2 config. */
export function loadConfig(dir: string): GPT2Config {
  const { json, file } = readConfigJson(dir);
  return parseConfig(json, file);
}

/** `<dir>/config.json` as parsed JSON (any family), with its path for messages. */
export function readConfigJson(dir: string): { json: unknown; file: string } {
  const file = path.join(dir, 'config.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UserError(
        `no config.json in ${dir}: a Hugging Face model directory needs config.json next to model.safetensors ` +
          `(download the model with its config, e.g. pass a hub name such as "gpt2", or create one with "eapgp make-model")`,
      );
    }
    throw new UserError(`cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${file} is not valid JSON (${(e as Error).message}); download or fix the file`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new UserError(`${file} is not a JSON object; expected a Hugging Face config`);
  return { json, file };
}

/** Parse a config object; `source` names the file in error messages. */
export function parseConfig(json: unknown, source: string): GPT2Config {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new UserError(`${source} is not a JSON object; expected a Hugging Face GPT-2 config`);
  }
  const raw = json as Record<string, unknown>;
  const bad = (what: string) => new UserError(`${source}: ${what}`);

  const archs = Array.isArray(raw.architectures) ? raw.architectures.map(String) : [];
  const isGpt2 = raw.model_type === 'gpt2' || (raw.model_type === undefined && archs.some((a) => a.startsWith('GPT2')));
  if (!isGpt2) {
    const what = raw.model_type !== undefined ? `model_type ${JSON.stringify(raw.model_type)}` : `architectures ${JSON.stringify(archs)}`;
    throw bad(`not a GPT-2 config (${what}); other families are read by src/models/arch`);
  }

  const int = (key: string, fallback?: number): number => {
    const v = raw[key] ?? fallback;
    if (v === undefined) throw bad(`missing "${key}" (a positive integer); this does not look like a complete GPT-2 config`);
    if (!Number.isSafeInteger(v) || (v as number) <= 0) throw bad(`"${key}" must be a positive integer, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const nLayer = int('n_layer');
  const nHead = int('n_head');
  const dModel = int('n_embd');
  const vocabSize = int('vocab_size');
  const nPositions = int('n_positions', raw.n_ctx as number | undefined);
  const nCtx = int('n_ctx', nPositions);
  if (dModel % nHead !== 0) throw bad(`n_embd ${dModel} is not divisible by n_head ${nHead}; each head needs an equal share`);
  const dMlp = raw.n_inner === null || raw.n_inner === undefined ? 4 * dModel : int('n_inner');

  const actName = String(raw.activation_function ?? 'gelu_new');
  const activation = ACTIVATIONS[actName];
  if (!activation) {
    throw bad(`unsupported activation_function ${JSON.stringify(actName)}; supported: ${Object.keys(ACTIVATIONS).join(', ')}`);
  }
  const eps = raw.layer_norm_epsilon ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0)) throw bad(`"layer_norm_epsilon" must be a positive number, got ${JSON.stringify(eps)}`);
  // Attention variants of the HF implementation that the plain GPT-2 forward pass does not have.
  if (raw.scale_attn_weights === false) throw bad('scale_attn_weights=false is not supported (attention is always scaled by 1/sqrt(d_head))');
  if (raw.scale_attn_by_inverse_layer_idx === true) throw bad('scale_attn_by_inverse_layer_idx=true is not supported');
  if (raw.add_cross_attention === true) throw bad('add_cross_attention=true (encoder-decoder GPT-2) is not supported');

  const tokenId = (key: string): number => {
    const v = raw[key] ?? 50256;
    if (!Number.isSafeInteger(v) || (v as number) < 0) throw bad(`"${key}" must be a non-negative integer, got ${JSON.stringify(v)}`);
    return v as number;
  };
  return {
    nLayer,
    nHead,
    dModel,
    dHead: dModel / nHead,
    dMlp,
    nPositions,
    nCtx,
    vocabSize,
    layerNormEpsilon: eps,
    activation,
    tieWordEmbeddings: raw.tie_word_embeddings !== false,
    bosTokenId: tokenId('bos_token_id'),
    eosTokenId: tokenId('eos_token_id'),
    raw,
  };
}
