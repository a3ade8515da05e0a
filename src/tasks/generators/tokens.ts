/** Tokenizer checks the generators apply before a word or a row is used. */
import type { Tokenizer } from '../../tokenizer/index.js';
import { singleTokenId } from '../single-token.js';

/** The id of `text` when it is one token (as read after a prompt, see singleTokenId), else undefined. */
export function singleToken(tok: Tokenizer, text: string): number | undefined {
  return singleTokenId(tok, text);
}

/** Number of tokens of `text`. */
export function tokenCount(tok: Tokenizer, text: string): number {
  return tok.encode(text).length;
}

/** Drop reason when clean and corrupted tokenize to different lengths (the loaders reject such rows). */
export function lengthMismatch(tok: Tokenizer, clean: string, corrupted: string): string | undefined {
  return tokenCount(tok, clean) === tokenCount(tok, corrupted) ? undefined : 'clean and corrupted tokenize to different lengths';
}

/** A Python-style list of strings, like EAP-IG's answers columns: ['gem', 'gems']. */
export function pyList(items: readonly string[]): string {
  return `[${items.map((s) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`).join(', ')}]`;
}

/** A list of token ids as the loaders read it: [16840, 23685]. */
export function idList(ids: readonly number[]): string {
  return `[${ids.join(', ')}]`;
}
