/**
 * Reading BPE vocabularies from disk: vocab.json + merges.txt (the original GPT-2 release format) or a
 * HF tokenizers tokenizer.json. Malformed files raise a UserError naming the file and line.
 */
import { readFileSync } from 'node:fs';
import { UserError } from '../util/errors.js';
import { lineColumn, parseJsonFile } from '../util/json.js';
import { BpeTokenizer } from './bpe.js';

type Merge = readonly [string, string];

/** "line:column" where `key` first appears as a JSON string (best effort, for messages about one entry). */
function placeOfKey(text: string, key: string): string {
  const at = text.indexOf(JSON.stringify(key));
  if (at < 0) return '1';
  const { line, column } = lineColumn(text, at);
  return `${line}:${column}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A {token: id} object as a Map, checking every id is a non-negative integer. */
function vocabFromObject(obj: unknown, text: string, file: string, where: string): Map<string, number> {
  if (!isPlainObject(obj)) throw new UserError(`${file}:1: ${where} must be a JSON object of token -> id`);
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(obj)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new UserError(`${file}:${placeOfKey(text, token)}: ${where}: token ${JSON.stringify(token)} has id ${JSON.stringify(id)}, expected a non-negative integer`);
    }
    vocab.set(token, id);
  }
  return vocab;
}

/** Parses vocab.json text. */
export function parseVocabJson(text: string, file = 'vocab.json'): Map<string, number> {
  return vocabFromObject(parseJsonFile(text, file), text, file, 'vocabulary');
}

/**
 * Parses merges.txt text: an optional "#version" first line, then one "left right" pair per line.
 * Returns the merges with the 1-based line of each (for later messages).
 */
export function parseMergesTxt(text: string, file = 'merges.txt'): { merges: Merge[]; lines: number[] } {
  const merges: Merge[] = [];
  const lines: number[] = [];
  const rows = text.split('\n');
  rows.forEach((raw, i) => {
    const row = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (row === '' || (i === 0 && row.startsWith('#version'))) return;
    const parts = row.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      throw new UserError(`${file}:${i + 1}: expected a merge "left right" (two tokens separated by one space), got ${JSON.stringify(row.slice(0, 80))}`);
    }
    merges.push([parts[0]!, parts[1]!]);
    lines.push(i + 1);
  });
  return { merges, lines };
}

/** Reads a vocab.json + merges.txt pair into our BPE. */
export function loadVocabMerges(vocabPath: string, mergesPath: string, name = `bpe:${vocabPath}`): BpeTokenizer {
  const vocabText = readFileSync(vocabPath, 'utf8');
  const vocab = parseVocabJson(vocabText, vocabPath);
  const { merges, lines } = parseMergesTxt(readFileSync(mergesPath, 'utf8'), mergesPath);
  return new BpeTokenizer({
    name,
    vocab,
    merges,
    vocabSource: vocabPath,
    mergeSource: (k) => `${mergesPath}:${lines[k]}`,
  });
}

/**
 * Parses HF tokenizer.json text (model.vocab, model.merges as "a b" strings or [a, b] pairs, plus
 * added_tokens such as <|endoftext|> when model.vocab lacks them) into our BPE.
 */
export function parseTokenizerJson(text: string, file = 'tokenizer.json', name = `bpe:${file}`): BpeTokenizer {
  const root = parseJsonFile(text, file);
  const model = isPlainObject(root) ? root['model'] : undefined;
  if (!isPlainObject(model)) throw new UserError(`${file}:1: no "model" object (not a HF tokenizers file)`);
  if (model['type'] !== undefined && model['type'] !== 'BPE') {
    throw new UserError(`${file}:1: model.type is ${JSON.stringify(model['type'])}; only BPE is supported`);
  }
  const vocab = vocabFromObject(model['vocab'], text, file, 'model.vocab');

  const added = isPlainObject(root) ? root['added_tokens'] : undefined;
  if (Array.isArray(added)) {
    for (const t of added) {
      if (isPlainObject(t) && typeof t['content'] === 'string' && typeof t['id'] === 'number' && !vocab.has(t['content'])) {
        vocab.set(t['content'], t['id']);
      }
    }
  }

  const rawMerges = model['merges'];
  if (!Array.isArray(rawMerges)) throw new UserError(`${file}:1: model.merges must be an array`);
  const merges: Merge[] = rawMerges.map((m: unknown, k) => {
    if (typeof m === 'string') {
      const parts = m.split(' ');
      if (parts.length === 2 && parts[0] !== '' && parts[1] !== '') return [parts[0]!, parts[1]!] as const;
    } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') {
      return [m[0], m[1]] as const;
    }
    throw new UserError(`${mergeLocation(text, file, m)}: model.merges[${k}] must be "left right" or ["left", "right"], got ${JSON.stringify(m)}`);
  });
  return new BpeTokenizer({
    name,
    vocab,
    merges,
    vocabSource: `${file} (model.vocab)`,
    mergeSource: (k) => `${mergeLocation(text, file, rawMerges[k])}: model.merges[${k}]`,
  });
}

/** "file:line" of a merge entry when it can be found verbatim (one-entry-per-line layouts), else "file". */
function mergeLocation(text: string, file: string, m: unknown): string {
  const at = text.indexOf(JSON.stringify(m), Math.max(0, text.indexOf('"merges"')));
  return at < 0 ? file : `${file}:${lineColumn(text, at).line}`;
}

/** Reads a HF tokenizer.json into our BPE. */
export function loadTokenizerJson(path: string): BpeTokenizer {
  return parseTokenizerJson(readFileSync(path, 'utf8'), path, `bpe:${path}`);
}
