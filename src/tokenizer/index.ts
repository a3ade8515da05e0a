/**
 * Tokenizers. `loadTokenizer(dir)` reads the directory's config.json `model_type`:
 *   - another family than GPT-2 (gpt_neox, llama, mistral, qwen2, gemma2, ...): its tokenizer.json through
 *     @huggingface/tokenizers (hf.ts), required (`requireTokenizerFor`), never GPT-2's vocabulary;
 *   - GPT-2 or no config.json: vocab.json + merges.txt (our GPT-2 BPE), else tokenizer.json (a complete
 *     HF file through the library, a bare {model: {vocab, merges}} one through our BPE), else the GPT-2
 *     vocabulary bundled with gpt-tokenizer. All give identical ids for GPT-2 (test/tokenizer.test.ts).
 *
 * encode() never adds BOS; callers prepend `bosId` themselves (hf.ts says which token, per family, as
 * TransformerLens does). On the GPT-2 paths "<|endoftext|>" in the text is plain text (7 ordinary tokens).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { UserError } from '../util/errors.js';
import { join } from 'node:path';
import { parseJsonFile } from '../util/json.js';
import { loadTokenizerJson, loadVocabMerges } from './files.js';
import { gpt2Builtin } from './gpt2-builtin.js';
import { isHfPipelineJson, loadHfTokenizer } from './hf.js';
import type { Tokenizer } from './types.js';

export type { Tokenizer, TokenizerKind } from './types.js';
export { HfTokenizer, loadHfTokenizer } from './hf.js';
export { detectKind } from './kind.js';
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
    const family = modelTypeOf(modelDir);
    if (family !== undefined && family !== 'gpt2') return requireTokenizerFor(modelDir, family);
    return gpt2Rules(modelDir);
  }
  return gpt2Builtin;
}

/** GPT-2's order in an existing directory (module comment). */
function gpt2Rules(modelDir: string): Tokenizer {
  {
    const vocab = join(modelDir, 'vocab.json');
    const merges = join(modelDir, 'merges.txt');
    if (existsSync(vocab) !== existsSync(merges)) {
      throw new UserError(`${modelDir}: has ${existsSync(vocab) ? 'vocab.json but no merges.txt' : 'merges.txt but no vocab.json'}; the BPE needs both`);
    }
    if (existsSync(vocab)) return loadVocabMerges(vocab, merges, `bpe:${modelDir}`);
    const tokJson = join(modelDir, 'tokenizer.json');
    if (existsSync(tokJson)) {
      return isHfPipelineJson(parseJsonFile(readFileSync(tokJson, 'utf8'), tokJson)) ? loadHfTokenizer(modelDir) : loadTokenizerJson(tokJson);
    }
  }
  return gpt2Builtin;
}

/** config.json's `model_type` in `dir` ("gpt2", "llama", ...), or undefined without a config.json or that key. */
export function modelTypeOf(dir: string): string | undefined {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) return undefined;
  const cfg = parseJsonFile(readFileSync(path, 'utf8'), path);
  const t = typeof cfg === 'object' && cfg !== null ? (cfg as Record<string, unknown>)['model_type'] : undefined;
  return typeof t === 'string' ? t : undefined;
}

/**
 * The tokenizer of a model of `family` (config.json model_type, e.g. "llama") in `dir`: its tokenizer.json
 * (+ tokenizer_config.json) through @huggingface/tokenizers. For "gpt2" the GPT-2 rules of loadTokenizer
 * apply. Any other family without tokenizer.json is a UserError naming the missing file: GPT-2's vocabulary
 * would give ids that mean other tokens to that model.
 */
export function requireTokenizerFor(dir: string, family: string): Tokenizer {
  if (family === 'gpt2') return gpt2Rules(dir);
  if (!existsSync(join(dir, 'tokenizer.json'))) {
    throw new UserError(
      `${join(dir, 'tokenizer.json')}: missing; a ${family} model needs its own tokenizer.json (and tokenizer_config.json) ` +
        'from the model\'s Hugging Face repository next to config.json (GPT-2\'s vocabulary does not fit it)',
    );
  }
  return loadHfTokenizer(dir);
}
