/**
 * Our own GPT-2 byte-level BPE, built from a vocabulary (token text -> id) and a ranked merge list,
 * as found in vocab.json + merges.txt or in a HF tokenizer.json. File parsing lives in files.ts.
 */
import { UserError } from '../util/errors.js';
import { detectKind } from './kind.js';
import type { Tokenizer, TokenizerKind } from './types.js';
import { BYTE_TO_CHAR, GPT2_SPLIT_PATTERN, decodeTokenBytes, tokenTextToBytes, utf8Bytes } from './byte-level.js';

/** The text of the end-of-text token, used as BOS by GPT-2. */
export const END_OF_TEXT = '<|endoftext|>';

/** Pieces remembered by one tokenizer before its cache is emptied (bounds memory on huge inputs). */
const CACHE_LIMIT = 100_000;

export interface BpeSpec {
  /** Shown as Tokenizer.name. */
  name: string;
  /** Token text in the byte-level alphabet -> id. */
  vocab: ReadonlyMap<string, number>;
  /** Merge rules, highest priority first. */
  merges: readonly (readonly [string, string])[];
  /** Names the origin of the vocabulary in error messages, e.g. a file path. */
  vocabSource?: string;
  /** Names the origin of merge k in error messages, e.g. "merges.txt:12". */
  mergeSource?: (k: number) => string;
}

/** GPT-2 byte-level BPE over an explicit vocabulary and merge list. */
export class BpeTokenizer implements Tokenizer {
  readonly name: string;
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly kind: TokenizerKind;

  /** id of the single-byte token for each byte value. */
  private readonly byteIds: Int32Array;
  /** (left id * stride + right id) -> rank * stride + merged id, so a smaller value is a higher-priority merge. */
  private readonly pairs = new Map<number, number>();
  private readonly stride: number;
  private readonly tokenBytes: (Uint8Array | undefined)[];
  private readonly cache = new Map<string, number[]>();
  private readonly split = new RegExp(GPT2_SPLIT_PATTERN, 'gu');

  constructor(spec: BpeSpec) {
    const vocabSource = spec.vocabSource ?? 'vocabulary';
    const mergeSource = spec.mergeSource ?? ((k: number) => `merge ${k}`);
    this.name = spec.name;

    let maxId = -1;
    for (const [token, id] of spec.vocab) {
      if (!Number.isInteger(id) || id < 0) throw new UserError(`${vocabSource}: token ${JSON.stringify(token)} has invalid id ${id}`);
      if (id > maxId) maxId = id;
    }
    this.vocabSize = maxId + 1;
    this.stride = this.vocabSize;

    const bos = spec.vocab.get(END_OF_TEXT);
    if (bos === undefined) throw new UserError(`${vocabSource}: no ${END_OF_TEXT} token`);
    this.bosId = bos;
    this.eosId = bos;
    this.padId = bos;

    this.byteIds = new Int32Array(256);
    for (let b = 0; b < 256; b++) {
      const id = spec.vocab.get(BYTE_TO_CHAR[b]!);
      if (id === undefined) throw new UserError(`${vocabSource}: no token for byte 0x${b.toString(16).padStart(2, '0')} (not a byte-level BPE vocabulary)`);
      this.byteIds[b] = id;
    }

    spec.merges.forEach(([left, right], rank) => {
      const a = spec.vocab.get(left);
      const b = spec.vocab.get(right);
      const merged = spec.vocab.get(left + right);
      const missing = a === undefined ? left : b === undefined ? right : merged === undefined ? left + right : undefined;
      if (missing !== undefined) {
        throw new UserError(`${mergeSource(rank)}: merge "${left} ${right}" uses ${JSON.stringify(missing)}, which is not in ${vocabSource}`);
      }
      const key = a! * this.stride + b!;
      // A repeated pair keeps its first (highest-priority) rank, as in the reference implementations.
      if (!this.pairs.has(key)) this.pairs.set(key, rank * this.stride + merged!);
    });

    this.tokenBytes = new Array<Uint8Array | undefined>(this.vocabSize);
    for (const [token, id] of spec.vocab) this.tokenBytes[id] = tokenTextToBytes(token);
    this.kind = detectKind(this);
  }

  encode(text: string): number[] {
    const out: number[] = [];
    const split = this.split;
    split.lastIndex = 0;
    for (let m = split.exec(text); m !== null; m = split.exec(text)) {
      const piece = m[0];
      let ids = this.cache.get(piece);
      if (ids === undefined) {
        ids = this.mergePiece(piece);
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(piece, ids);
      }
      for (let i = 0; i < ids.length; i++) out.push(ids[i]!);
    }
    return out;
  }

  decode(ids: readonly number[]): string {
    return decodeTokenBytes(ids, this.tokenBytes);
  }

  tokenString(id: number): string {
    return decodeTokenBytes([id], this.tokenBytes);
  }

  /** BPE of one pre-tokenized piece: start from bytes, repeatedly apply the best-ranked merge everywhere. */
  private mergePiece(piece: string): number[] {
    const bytes = utf8Bytes(piece);
    let ids: number[] = Array.from(bytes, (b) => this.byteIds[b]!);
    const stride = this.stride;
    while (ids.length > 1) {
      let best = Infinity;
      for (let i = 0; i + 1 < ids.length; i++) {
        const v = this.pairs.get(ids[i]! * stride + ids[i + 1]!);
        if (v !== undefined && v < best) best = v;
      }
      if (best === Infinity) break;
      const rankBase = best - (best % stride); // rank * stride
      const mergedId = best - rankBase;
      // Merge every non-overlapping occurrence of the winning pair, left to right.
      const next: number[] = [];
      for (let i = 0; i < ids.length; i++) {
        if (i + 1 < ids.length && this.pairs.get(ids[i]! * stride + ids[i + 1]!) === best) {
          next.push(mergedId);
          i++;
        } else {
          next.push(ids[i]!);
        }
      }
      ids = next;
    }
    return ids;
  }
}
