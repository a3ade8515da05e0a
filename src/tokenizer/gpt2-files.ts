/**
 * GPT-2's released vocab.json and merges.txt, rebuilt from the encoding bundled with gpt-tokenizer: r50k_base
 * holds GPT-2's tokens as byte strings in id order, and ids 256..50255 are also the merges in rank order, so
 * each merge is the pair that byte-pair encoding with the earlier merges leaves of its token. The text is
 * laid out as in the released files (Python's json.dumps for vocab.json), so the bytes are theirs (sha256
 * checked in test/tokenizer.test.ts). For tools that read only the files (Hugging Face, the PyTorch oracle).
 */
import { join } from 'node:path';
import { writeFileAtomicSync } from '../util/atomic-write.js';
import { BYTE_TO_CHAR } from './byte-level.js';
import { getTokenBytes } from './gpt2-builtin.js';

/** The first merge's id: ids below are the 256 single bytes. */
const FIRST_MERGE = 256;
/** `<|endoftext|>`, the last id: a special token, not a merge. */
const END_OF_TEXT_ID = 50256;

/** A token's bytes in the byte-level alphabet of the files. */
const asChars = (bytes: Uint8Array): string => Array.from(bytes, (b) => BYTE_TO_CHAR[b]).join('');

/** Python's json.dumps string escaping (ensure_ascii): JSON's escapes plus \uXXXX for every non-ASCII code unit. */
const pyJsonString = (s: string): string => JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

let vocabText: string | undefined;
let mergesText: string | undefined;

/** vocab.json: `{"!": 0, "\"": 1, ...}` in id order, as Python's json.dumps writes it. */
export function gpt2VocabJson(): string {
  return (vocabText ??= buildVocabJson());
}

/** merges.txt: the version line, then "left right" per merge in rank order, each line ending in "\n". */
export function gpt2MergesTxt(): string {
  return (mergesText ??= buildMergesTxt());
}

function buildVocabJson(): string {
  const bytes = getTokenBytes();
  const entries = bytes.map((b, id) => `${pyJsonString(id === END_OF_TEXT_ID ? '<|endoftext|>' : asChars(b!))}: ${id}`);
  return `{${entries.join(', ')}}`;
}

function buildMergesTxt(): string {
  const bytes = getTokenBytes();
  // rank of every token by its bytes (latin1 keys: one char per byte)
  const key = (b: Uint8Array): string => String.fromCharCode(...b);
  const rank = new Map<string, number>();
  bytes.forEach((b, id) => id !== END_OF_TEXT_ID && rank.set(key(b!), id));
  const lines = ['#version: 0.2'];
  for (let id = FIRST_MERGE; id < END_OF_TEXT_ID; id++) {
    const [left, right] = splitByEarlierMerges(key(bytes[id]!), id, rank);
    lines.push(`${asChars(Buffer.from(left, 'latin1'))} ${asChars(Buffer.from(right, 'latin1'))}`);
  }
  return lines.join('\n') + '\n';
}

/** Byte-pair encoding of `token` using only merges ranked below `id`: for a GPT-2 token, exactly two parts. */
function splitByEarlierMerges(token: string, id: number, rank: ReadonlyMap<string, number>): [string, string] {
  const parts = token.split('');
  for (;;) {
    let best = -1, bestRank = id;
    for (let i = 0; i + 1 < parts.length; i++) {
      const r = rank.get(parts[i]! + parts[i + 1]!);
      if (r !== undefined && r < bestRank) (best = i), (bestRank = r);
    }
    if (best < 0) break;
    parts.splice(best, 2, parts[best]! + parts[best + 1]!);
  }
  // an internal inconsistency of the bundled data, never bad user input
  if (parts.length !== 2) throw new Error(`gpt-tokenizer r50k_base: token ${id} does not split into two earlier tokens (${parts.length} parts)`);
  return [parts[0]!, parts[1]!];
}

/** Writes vocab.json and merges.txt into `dir` (atomically, creating it); returns their paths. */
export function writeGpt2TokenizerFiles(dir: string): { vocab: string; merges: string } {
  const vocab = join(dir, 'vocab.json');
  const merges = join(dir, 'merges.txt');
  writeFileAtomicSync(vocab, gpt2VocabJson());
  writeFileAtomicSync(merges, gpt2MergesTxt());
  return { vocab, merges };
}

/**
 * GPT-2's byte-level BPE as a Hugging Face tokenizer.json (+ tokenizer_config.json): what any family's loader reads,
 * so random models of other families (make-model --arch X --gpt2-tokenizer-files) run every task with GPT-2's
 * vocabulary. Returns the paths written.
 */
export function writeGpt2TokenizerJson(dir: string): string[] {
  const vocab = JSON.parse(gpt2VocabJson()) as Record<string, number>;
  const merges = gpt2MergesTxt().split('\n').slice(1).filter((l) => l.length > 0);
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const tok = {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [{ id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
    normalizer: null, pre_tokenizer: byteLevel, post_processor: { ...byteLevel, trim_offsets: false }, decoder: byteLevel,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges },
  };
  const files = [join(dir, 'tokenizer.json'), join(dir, 'tokenizer_config.json')];
  writeFileAtomicSync(files[0]!, JSON.stringify(tok));
  writeFileAtomicSync(files[1]!, JSON.stringify({ bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', add_bos_token: false }, null, 2) + '\n');
  return files;
}
