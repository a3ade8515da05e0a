/** The tokenizer contract shared by every implementation (see index.ts for loading one). */

/**
 * Which published id-CSVs fit a tokenizer: 'gpt2' (GPT-2's 50,257-token BPE: hannamw/eap-ig-faithfulness
 * data/<task>/gpt2.csv), 'neox' (GPT-NeoX-20B's BPE of the Pythia models: data/<task>/pythia.csv), 'other'
 * (no published id-CSV; tasks come from the generators).
 */
export type TokenizerKind = 'gpt2' | 'neox' | 'other';

export interface Tokenizer {
  /** Where the vocabulary came from, e.g. "bpe:/path/to/gpt2", "gpt-tokenizer:r50k_base", "hf:/dir/tokenizer.json". */
  readonly name: string;
  /** Number of token ids (largest id + 1); 50257 for GPT-2. */
  readonly vocabSize: number;
  /**
   * The id callers prepend to every prompt, as TransformerLens' prepend_bos does (see hf.ts for the rule per
   * family): 50256 (`<|endoftext|>`) for GPT-2. encode never adds it.
   */
  readonly bosId: number;
  /** The end-of-text id, or null when the tokenizer names none. GPT-2: 50256. */
  readonly eosId: number | null;
  /** The id batches are right-padded with (TransformerLens: pad_token, else eos_token). GPT-2: 50256. */
  readonly padId: number;
  /** Which published id-CSVs fit (see TokenizerKind). */
  readonly kind: TokenizerKind;
  /**
   * Text to token ids, never adding special tokens (no BOS/EOS). GPT-2 paths: `<|endoftext|>` inside the
   * text is plain text (7 ordinary tokens). tokenizer.json paths: a special token's text inside the text
   * is that token, as Hugging Face (and so TransformerLens) tokenize it.
   */
  encode(text: string): number[];
  /** Token ids to text (UTF-8; byte sequences left incomplete decode to U+FFFD). Throws on an unknown id. */
  decode(ids: readonly number[]): string;
  /** The decoded text of one token, leading space kept, for display (a lone partial UTF-8 byte shows as U+FFFD). */
  tokenString(id: number): string;
}
