/**
 * GPT-2's byte-level alphabet: every byte maps to one printable unicode character so that BPE
 * vocabularies can be stored as text (space is "Ġ", newline "Ċ"), plus the UTF-8 glue both
 * tokenizers share so that they decode identically.
 */

/** GPT-2 pre-tokenization split (identical to gpt-tokenizer's r50k_base pattern). */
export const GPT2_SPLIT_PATTERN = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;

/** byte -> the character standing for it in vocab.json / merges.txt. */
export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

/** The inverse of BYTE_TO_CHAR, by char code. */
export const CHAR_TO_BYTE: ReadonlyMap<number, number> = new Map(
  BYTE_TO_CHAR.map((ch, b) => [ch.charCodeAt(0), b] as const),
);

function buildByteToChar(): string[] {
  // Printable Latin-1 bytes stand for themselves; the other 68 bytes take code points 256, 257, ...
  const printable = (b: number): boolean =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) table.push(String.fromCharCode(printable(b) ? b : 256 + extra++));
  return table;
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8'); // non-fatal: invalid sequences become U+FFFD

/** UTF-8 bytes of a string. */
export function utf8Bytes(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

/**
 * Bytes of a vocabulary entry written in the byte-level alphabet. A character outside the alphabet
 * (possible only in added/special tokens) stands for its own UTF-8 bytes.
 */
export function tokenTextToBytes(token: string): Uint8Array {
  const out: number[] = [];
  for (const ch of token) {
    const b = CHAR_TO_BYTE.get(ch.codePointAt(0)!);
    if (b !== undefined) out.push(b);
    else out.push(...utf8Encoder.encode(ch));
  }
  return Uint8Array.from(out);
}

/** Concatenates the bytes of `ids` and decodes them as UTF-8; throws a RangeError on an unknown id. */
export function decodeTokenBytes(ids: readonly number[], tokenBytes: readonly (Uint8Array | undefined)[]): string {
  let total = 0;
  for (const id of ids) {
    const bytes = tokenBytes[id];
    if (bytes === undefined) throw new RangeError(`unknown token id ${id} (vocabulary size ${tokenBytes.length})`);
    total += bytes.length;
  }
  const buf = new Uint8Array(total);
  let at = 0;
  for (const id of ids) {
    const bytes = tokenBytes[id]!;
    buf.set(bytes, at);
    at += bytes.length;
  }
  return utf8Decoder.decode(buf);
}
