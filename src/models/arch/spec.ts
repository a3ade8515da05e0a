/**
 * What a model family's config.json means for the forward pass, in one family-independent record (the block of
 * every family in src/models/arch/<family>.ts reads its keys into this), and the typed readers those parsers share:
 * every key that changes the computation is read, and an unsupported value is an error naming the key.
 */
import { UserError } from '../../util/errors.js';
import type { Activation } from '../family-ops.js';

export type FamilyName = 'neox' | 'llama' | 'mistral' | 'qwen2' | 'gemma2';

export type RopeScaling =
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number }
  | { type: 'linear'; factor: number };

export interface ArchSpec {
  family: FamilyName;
  /** Hugging Face `architectures[0]`. */
  architecture: string;
  nLayer: number;
  /** Query heads. */
  nHead: number;
  /** Key/value heads (grouped-query attention when < nHead). */
  nKvHead: number;
  dModel: number;
  dHead: number;
  dMlp: number;
  vocabSize: number;
  /** Longest usable context (max_position_embeddings). */
  nPositions: number;
  norm: { kind: 'layer' | 'rms'; eps: number; unitOffset: boolean };
  /** Attention and MLP read the same residual stream (GPT-NeoX use_parallel_residual). */
  parallelAttnMlp: boolean;
  /** Norms after attention and MLP too (Gemma 2). */
  postNorms: boolean;
  activation: Activation;
  /** activation(gate)·up (SwiGLU, GeGLU) instead of activation(fc). */
  gated: boolean;
  /** Rotary dims per head (even; ≤ dHead). */
  rotaryDim: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  attnScale: number;
  attnSoftcap: number | null;
  finalSoftcap: number | null;
  slidingWindow: number | null;
  /** Which layers use the sliding window. */
  slidingLayers: 'all' | 'even';
  /** Token embeddings are multiplied by this (Gemma: √d_model, in the model's dtype). */
  embedScale: number;
  qkvBias: boolean;
  /** Output-projection and MLP biases (GPT-NeoX). */
  denseBias: boolean;
  tieWordEmbeddings: boolean;
  bosTokenId: number | null;
  eosTokenId: number | null;
  raw: Record<string, unknown>;
}

/** Typed access to a config object; errors name the file and key. */
export class ConfigReader {
  constructor(readonly raw: Record<string, unknown>, readonly source: string) {}

  bad(what: string): UserError {
    return new UserError(`${this.source}: ${what}`);
  }
  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }
  int(key: string, fallback?: number): number {
    const v = this.has(key) ? this.raw[key] : fallback;
    if (v === undefined) throw this.bad(`missing "${key}" (a positive integer); this is not a complete config`);
    if (!Number.isSafeInteger(v) || (v as number) <= 0) throw this.bad(`"${key}" must be a positive integer, got ${JSON.stringify(v)}`);
    return v as number;
  }
  num(key: string, fallback?: number): number {
    const v = this.has(key) ? this.raw[key] : fallback;
    if (v === undefined) throw this.bad(`missing "${key}" (a number)`);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw this.bad(`"${key}" must be a finite number, got ${JSON.stringify(v)}`);
    return v;
  }
  positive(key: string, fallback?: number): number {
    const v = this.num(key, fallback);
    if (!(v > 0)) throw this.bad(`"${key}" must be positive, got ${v}`);
    return v;
  }
  bool(key: string, fallback: boolean): boolean {
    const v = this.has(key) ? this.raw[key] : fallback;
    if (typeof v !== 'boolean') throw this.bad(`"${key}" must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }
  /** A positive number or null/absent (e.g. a soft-cap that is off). */
  optionalPositive(key: string): number | null {
    return this.has(key) ? this.positive(key) : null;
  }
  tokenId(key: string): number | null {
    const v = this.raw[key];
    if (v === undefined || v === null) return null;
    // some configs list several EOS ids: the first is the one we need
    const id = Array.isArray(v) ? v[0] : v;
    if (!Number.isSafeInteger(id) || (id as number) < 0) throw this.bad(`"${key}" must be a non-negative integer, got ${JSON.stringify(v)}`);
    return id as number;
  }
  /** The activation named by `key`, mapped by `known` (Hugging Face's ACT2FN names). */
  activation(key: string, known: Record<string, Activation>, fallback?: string): Activation {
    const name = this.has(key) ? this.raw[key] : fallback;
    const a = typeof name === 'string' ? known[name] : undefined;
    if (!a) throw this.bad(`unsupported ${key} ${JSON.stringify(name)}; supported: ${Object.keys(known).join(', ')}`);
    return a;
  }
  /** Heads and kv heads, checked: kv heads must divide heads. */
  heads(headsKey: string, kvKey: string): { nHead: number; nKvHead: number } {
    const nHead = this.int(headsKey);
    const nKvHead = this.int(kvKey, nHead);
    if (nHead % nKvHead !== 0) {
      throw this.bad(`${headsKey} ${nHead} is not divisible by ${kvKey} ${nKvHead}; every key/value head must serve the same number of query heads`);
    }
    return { nHead, nKvHead };
  }
  /** rope_scaling: null, Llama 3's or linear; anything else is an error naming its type. */
  ropeScaling(): RopeScaling | null {
    const rs = this.raw['rope_scaling'];
    if (rs === undefined || rs === null) return null;
    if (typeof rs !== 'object' || Array.isArray(rs)) throw this.bad(`"rope_scaling" must be an object or null, got ${JSON.stringify(rs)}`);
    const r = new ConfigReader(rs as Record<string, unknown>, `${this.source}: rope_scaling`);
    const type = r.raw['rope_type'] ?? r.raw['type'];
    if (type === 'default') return null;
    if (type === 'llama3') {
      return {
        type, factor: r.positive('factor'), lowFreqFactor: r.positive('low_freq_factor'), highFreqFactor: r.positive('high_freq_factor'),
        originalMaxPositions: r.int('original_max_position_embeddings'),
      };
    }
    if (type === 'linear') return { type, factor: r.positive('factor') };
    throw this.bad(`unsupported rope_scaling type ${JSON.stringify(type)}; supported: llama3, linear (or null)`);
  }
  /** Keys whose non-default values we cannot run, with the value that is fine. */
  require(key: string, ok: unknown, why: string): void {
    if (this.has(key) && this.raw[key] !== ok) throw this.bad(`"${key}": ${JSON.stringify(this.raw[key])} is not supported (${why})`);
  }
}

/** Rotary inverse frequencies of `dim` dims (HF's default rope, then rope_scaling), in float32 like HF. */
export function invFrequencies(dim: number, theta: number, scaling: RopeScaling | null): Float64Array {
  const half = dim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = Math.fround(1 / Math.pow(theta, Math.fround((2 * i) / dim)));
  if (!scaling) return inv;
  if (scaling.type === 'linear') return inv.map((f) => Math.fround(f / scaling.factor));
  // Llama 3: long wavelengths divided by factor, short ones kept, a smooth blend between
  const { factor, lowFreqFactor: lf, highFreqFactor: hf, originalMaxPositions: old } = scaling;
  const lowWl = old / lf, highWl = old / hf;
  return inv.map((f) => {
    const wl = (2 * Math.PI) / f;
    if (wl < highWl) return f;
    if (wl > lowWl) return Math.fround(f / factor);
    const smooth = (old / wl - lf) / (hf - lf);
    return Math.fround((1 - smooth) * (f / factor) + smooth * f);
  });
}
