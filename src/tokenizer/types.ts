/** The tokenizer contract shared by every implementation (see index.ts for loading one). */
export interface Tokenizer {
  /** Where the vocabulary came from, e.g. "bpe:/path/to/gpt2" or "gpt-tokenizer:r50k_base". */
  readonly name: string;
  /** Number of token ids (largest id + 1); 50257 for GPT-2. */
  readonly vocabSize: number;
  /** Id of `<|endoftext|>` (50256 for GPT-2), which GPT-2 uses as BOS. Callers prepend it; encode never does. */
  readonly bosId: number;
  /**
   * Text to token ids, GPT-2 byte-level BPE. `<|endoftext|>` inside the text is plain text
   * (7 ordinary tokens), never the special id: special ids only come from callers.
   */
  encode(text: string): number[];
  /** Token ids to text (UTF-8; byte sequences left incomplete decode to U+FFFD). Throws on an unknown id. */
  decode(ids: readonly number[]): string;
  /** The decoded text of one token, for display (a lone partial UTF-8 byte shows as U+FFFD). */
  tokenString(id: number): string;
}
