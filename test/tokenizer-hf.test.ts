/**
 * tokenizer.json families through @huggingface/tokenizers (src/tokenizer/hf.ts), on two tiny fixtures of our
 * own (test/fixtures/tokenizers, made by make-fixtures.mjs; their ids are ours, stated here): a byte-level BPE
 * of the Llama-3 / GPT-NeoX kind and a SentencePiece-style one (dummy prefix "▁", byte fallback) of the
 * Llama-2 / Mistral kind. Ids, round trips, BOS/EOS/pad as TransformerLens takes them, and the refusal of a
 * non-GPT-2 model directory without tokenizer.json.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectKind, gpt2Builtin, HfTokenizer, loadTokenizer, requireTokenizerFor } from '../src/tokenizer/index.js';
import { isUserError } from '../src/util/errors.js';
import { FIXTURES } from './helpers/data.js';

const BYTE = join(FIXTURES, 'tokenizers', 'bytelevel');
const SP = join(FIXTURES, 'tokenizers', 'sentencepiece');

function expectUserError(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isUserError(e), `expected a UserError, got ${String(e)}`);
    for (const f of fragments) assert.ok((e as Error).message.includes(f), `message ${JSON.stringify((e as Error).message)} lacks ${JSON.stringify(f)}`);
    return true;
  });
}

const ROUND_TRIP = ['Hello, world!', ' he said\n\n', 'When Mary and John went', 'café naïve 日本 😀', '  two  spaces ', 'a\tb', '12345 00 07', ''];

test('byte-level (Llama 3 kind): ids, specials, BOS/EOS/pad from tokenizer_config.json', () => {
  const t = loadTokenizer(BYTE); // config.json says llama: the library path, never GPT-2's BPE
  assert.ok(t instanceof HfTokenizer);
  assert.equal(t.vocabSize, 290); // 256 bytes + 32 merges + 2 specials
  assert.equal(t.bosId, 288); // <|begin_of_text|>
  assert.equal(t.eosId, 289); // <|end_of_text|>
  assert.equal(t.padId, 289); // no pad_token: eos, as TransformerLens sets it
  assert.equal(t.kind, 'other');
  assert.equal((t as HfTokenizer).addsBos, true); // its post-processor would; encode never asks it to
  assert.deepEqual(t.encode(''), []);
  assert.deepEqual(t.encode('Hello, world!'), [272, 44, 277, 33]); // bytes: "," 44, "!" 33
  assert.deepEqual(t.encode(' he'), [257]);
  assert.deepEqual(t.encode(' she'), [260]);
  assert.deepEqual(t.encode(' Mary'), [264]);
  assert.deepEqual(t.encode('00'), [278]);
  assert.deepEqual(t.encode('10'), [49, 48]); // only "00".."09" were merged
  assert.deepEqual(t.encode('é'), [195, 169]); // its UTF-8 bytes
  assert.deepEqual(t.encode('<|begin_of_text|>x'), [288, 120]); // a special token's text is that token, as in HF
  assert.equal(t.tokenString(277), ' world');
  assert.equal(t.tokenString(195), '\ufffd'); // half a UTF-8 sequence
  assert.equal(t.tokenString(288), '<|begin_of_text|>');
  for (const s of ROUND_TRIP) assert.equal(t.decode(t.encode(s)), s, JSON.stringify(s));
  assert.throws(() => t.decode([290]), RangeError);
  assert.throws(() => t.tokenString(-1), RangeError);
});

test('SentencePiece kind (Llama 2 / Mistral): dummy prefix, byte fallback, leading space kept by tokenString', () => {
  const t = loadTokenizer(SP);
  assert.ok(t instanceof HfTokenizer);
  assert.equal(t.vocabSize, 301); // <unk> <s> </s>, 256 byte tokens, 19 characters, 23 merges
  assert.equal(t.bosId, 1); // <s>
  assert.equal(t.eosId, 2); // </s>
  assert.equal(t.padId, 2); // pad_token null: eos
  assert.deepEqual(t.encode(''), []);
  assert.deepEqual(t.encode('Hello, world!'), [295, 275, 300, 276]); // "▁Hello" "," "▁world" "!"
  assert.deepEqual(t.encode(' he'), [259, 279]); // "▁▁he" = "▁" + "▁he": the dummy prefix makes a lone " he" two tokens
  assert.deepEqual(t.encode('. he'), [259, 274, 279]);
  assert.deepEqual(t.encode('é'), [259, 198, 172]); // "▁" then <0xC3> <0xA9> (byte fallback: id = 3 + byte)
  assert.deepEqual(t.encode('<s>x'), [1, 259, 123]);
  assert.equal(t.tokenString(279), ' he'); // alone, the decoder's Strip would make it "he"
  assert.equal(t.tokenString(295), ' Hello');
  assert.equal(t.tokenString(1), '<s>');
  for (const s of ROUND_TRIP) assert.equal(t.decode(t.encode(s)), s, JSON.stringify(s));
});

test('BOS per family as TransformerLens prepends it: bos_token, else eos_token (Qwen2), else <|endoftext|>', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eapgp-hf-bos-'));
  try {
    copyFileSync(join(BYTE, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'qwen2' }));
    // Qwen2.5's tokenizer_config: bos_token null, eos_token <|endoftext|> (here our <|end_of_text|>).
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: null, eos_token: '<|end_of_text|>', pad_token: '<|begin_of_text|>' }));
    const q = loadTokenizer(dir);
    assert.deepEqual([q.bosId, q.eosId, q.padId], [289, 289, 288]);
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<nope>' }));
    expectUserError(() => loadTokenizer(dir), 'tokenizer_config.json', 'bos_token "<nope>" is not a token');
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({}));
    expectUserError(() => loadTokenizer(dir), 'names neither bos_token nor eos_token');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a non-GPT-2 model directory without tokenizer.json is refused, naming the file; GPT-2 keeps its rules', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eapgp-hf-missing-'));
  try {
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'gemma2' }));
    expectUserError(() => loadTokenizer(dir), join(dir, 'tokenizer.json'), 'missing', 'gemma2');
    expectUserError(() => requireTokenizerFor(dir, 'llama'), 'tokenizer.json', 'a llama model needs');
    assert.equal(requireTokenizerFor(dir, 'gpt2'), gpt2Builtin);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2' }));
    assert.equal(loadTokenizer(dir), gpt2Builtin);
    // A complete HF file with a GPT-2 config goes through the library too.
    copyFileSync(join(SP, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    copyFileSync(join(SP, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
    assert.ok(loadTokenizer(dir) instanceof HfTokenizer);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kind: GPT-2 and GPT-NeoX-20B (Pythia) told by their published ids; anything else is other', () => {
  assert.equal(gpt2Builtin.kind, 'gpt2');
  const ids: Record<string, number[]> = { ' he': [344], ' she': [703], ' Afghanistan': [16111, 88] };
  const neox = { vocabSize: 50277, encode: (s: string): number[] => ids[s] ?? [1, 2] };
  assert.equal(detectKind(neox), 'neox');
  assert.equal(detectKind({ ...neox, vocabSize: 50257 }), 'other');
  assert.equal(detectKind({ vocabSize: 50277, encode: (s: string) => (s === ' he' ? [344] : [9]) }), 'other');
});
