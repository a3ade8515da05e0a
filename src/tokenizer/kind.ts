/**
 * Which published id-CSVs fit a tokenizer (types.ts TokenizerKind), told by the ids it gives a few strings.
 * The GPT-2 ids are those test/tokenizer.test.ts checks; the GPT-NeoX-20B ids (Pythia) are the answer ids of
 * hannamw/eap-ig-faithfulness data/gender-bias/pythia.csv (" he" 344, " she" 703) and
 * data/fact-retrieval-comma/pythia.csv (first token of " Afghanistan" 16111).
 */
import type { Tokenizer, TokenizerKind } from './types.js';

const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

export function detectKind(tok: Pick<Tokenizer, 'encode' | 'vocabSize'>): TokenizerKind {
  const he = tok.encode(' he');
  const she = tok.encode(' she');
  if (tok.vocabSize === 50257 && same(he, [339]) && same(she, [673]) && same(tok.encode('Hello, world!'), [15496, 11, 995, 0])) return 'gpt2';
  // GPT-NeoX-20B's tokenizer.json has 50,277 ids (Pythia's embedding pads the vocabulary to 50,304).
  if (tok.vocabSize >= 50277 && tok.vocabSize <= 50304 && same(he, [344]) && same(she, [703]) && tok.encode(' Afghanistan')[0] === 16111) return 'neox';
  return 'other';
}
