/** Whether an answer word is one token of a tokenizer, as the model would read it after a prompt. */
import type { Tokenizer } from '../tokenizer/index.js';
import { UserError } from '../util/errors.js';

/** A prompt's last character stands in for the prompt when an answer is read in context. */
const CONTEXT = '.';

/**
 * The id of `text` when it is one token, else undefined. Read alone first (GPT-2 stops there, so its ids
 * never change); other tokenizers also in context, after CONTEXT: a SentencePiece tokenizer with a dummy
 * prefix (Llama 2, Mistral) encodes " he" alone as ["▁", "▁he"] but after a prompt as the one token "▁he".
 */
export function singleTokenId(tok: Tokenizer, text: string): number | undefined {
  const ids = tok.encode(text);
  if (ids.length === 1) return ids[0];
  if (tok.kind === 'gpt2') return undefined;
  const base = tok.encode(CONTEXT);
  const both = tok.encode(CONTEXT + text);
  return both.length === base.length + 1 && base.every((x, i) => both[i] === x) ? both[base.length] : undefined;
}

/**
 * The ids of the two-digit years "00".."99" that greater-than's metric reads; a UserError when one is not a
 * single token (Qwen2, Gemma and Mistral split digits one by one, Llama 3 in threes): the metric needs all.
 */
export function twoDigitIds(tok: Tokenizer): number[] {
  const ids: number[] = [];
  const split: string[] = [];
  for (let y = 0; y < 100; y++) {
    const yy = String(y).padStart(2, '0');
    const id = singleTokenId(tok, yy);
    if (id === undefined) split.push(yy);
    ids.push(id ?? -1);
  }
  if (split.length) {
    throw new UserError(
      `greater-than needs every two-digit year "00".."99" as one token, but ${tok.name} splits ${split.length} of them ` +
        `(${split.slice(0, 5).map((s) => `"${s}"`).join(', ')}${split.length > 5 ? ', ...' : ''}); choose another task for this model`,
    );
  }
  return ids;
}
