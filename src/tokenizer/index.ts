/**
 * GPT-2 tokenization. `loadTokenizer(dir)` picks, in order: the directory's vocab.json + merges.txt,
 * its tokenizer.json (HF tokenizers), else the GPT-2 vocabulary bundled with gpt-tokenizer. All give
 * identical ids for GPT-2 (checked by test/tokenizer.test.ts on every task prompt).
 *
 * Special tokens: encode() treats "<|endoftext|>" in the text as plain text (7 ordinary tokens) on
 * every path, and never adds BOS; callers prepend `bosId` themselves.
 */
import { existsSync, statSync } from 'node:fs';
import { UserError } from '../util/errors.js';
import { join } from 'node:path';
import { loadTokenizerJson, loadVocabMerges } from './files.js';
import { gpt2Builtin } from './gpt2-builtin.js';
import type { Tokenizer } from './types.js';

export type { Tokenizer } from './types.js';
export { BpeTokenizer, END_OF_TEXT } from './bpe.js';
export type { BpeSpec } from './bpe.js';
export { parseMergesTxt, parseTokenizerJson, parseVocabJson, loadTokenizerJson, loadVocabMerges } from './files.js';
export { gpt2Builtin } from './gpt2-builtin.js';
export { gpt2MergesTxt, gpt2VocabJson, writeGpt2TokenizerFiles } from './gpt2-files.js';

/**
 * The tokenizer for a model directory (see the module comment for the order). With no directory, or
 * one without tokenizer files, returns the built-in GPT-2 tokenizer. A missing directory, half a
 * vocab.json/merges.txt pair, or malformed files throw a UserError (naming the file and line).
 */
export function loadTokenizer(modelDir?: string): Tokenizer {
  if (modelDir !== undefined) {
    // A mistyped directory must not silently fall back to the bundled vocabulary.
    if (!existsSync(modelDir) || !statSync(modelDir).isDirectory()) throw new UserError(`${modelDir}: no such model directory`);
    const vocab = join(modelDir, 'vocab.json');
    const merges = join(modelDir, 'merges.txt');
    if (existsSync(vocab) !== existsSync(merges)) {
      throw new UserError(`${modelDir}: has ${existsSync(vocab) ? 'vocab.json but no merges.txt' : 'merges.txt but no vocab.json'}; the BPE needs both`);
    }
    if (existsSync(vocab)) return loadVocabMerges(vocab, merges, `bpe:${modelDir}`);
    const tokJson = join(modelDir, 'tokenizer.json');
    if (existsSync(tokJson)) return loadTokenizerJson(tokJson);
  }
  return gpt2Builtin;
}
