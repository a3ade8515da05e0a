/**
 * The GPT-2 encoding bundled with the npm package gpt-tokenizer (r50k_base = GPT-2's 50257-token
 * vocabulary), used when a model directory has no tokenizer files of its own.
 */
import { encode as r50kEncode, vocabularySize } from 'gpt-tokenizer/encoding/r50k_base';
import r50kRanks from 'gpt-tokenizer/bpeRanks/r50k_base';
import type { Tokenizer } from './types.js';
import { decodeTokenBytes, utf8Bytes } from './byte-level.js';

/** GPT-2's <|endoftext|> id in r50k_base. */
const END_OF_TEXT_ID = 50256;

/**
 * gpt-tokenizer throws on "<|endoftext|>" in the text by default (tiktoken's disallowed_special="all");
 * an empty disallowed set makes it plain text, matching our BPE.
 */
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

let tokenBytes: (Uint8Array | undefined)[] | undefined;

/**
 * Bytes of every token in id order, built once: gpt-tokenizer's own decode drops or mangles split UTF-8
 * sequences, so we decode like our BPE does (and gpt2-files.ts rebuilds GPT-2's vocab.json from them).
 */
export function getTokenBytes(): (Uint8Array | undefined)[] {
  if (tokenBytes === undefined) {
    const table = r50kRanks.map((v) => (typeof v === 'string' ? utf8Bytes(v) : Uint8Array.from(v)));
    table[END_OF_TEXT_ID] = utf8Bytes('<|endoftext|>');
    tokenBytes = table;
  }
  return tokenBytes;
}

/** gpt-tokenizer's GPT-2 encoding behind our Tokenizer interface. */
export const gpt2Builtin: Tokenizer = {
  name: 'gpt-tokenizer:r50k_base',
  vocabSize: vocabularySize,
  bosId: END_OF_TEXT_ID,
  eosId: END_OF_TEXT_ID,
  padId: END_OF_TEXT_ID,
  kind: 'gpt2',
  encode: (text) => r50kEncode(text, PLAIN_TEXT),
  decode: (ids) => decodeTokenBytes(ids, getTokenBytes()),
  tokenString: (id) => decodeTokenBytes([id], getTokenBytes()),
};
