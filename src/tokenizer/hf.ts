/**
 * Tokenizers of every family from a Hugging Face tokenizer.json (+ tokenizer_config.json), run by the
 * `@huggingface/tokenizers` package (a JS port of HF tokenizers: byte-level BPE, SentencePiece-style
 * Metaspace/byte-fallback BPE, Unigram). We write no BPE or SentencePiece of our own for these.
 *
 * BOS, as TransformerLens applies it (HookedTransformer.set_tokenizer and to_tokens,
 * TransformerLensOrg/TransformerLens transformer_lens/HookedTransformer.py):
 *   - set_tokenizer: `if tokenizer.eos_token is None: eos_token = "<|endoftext|>"`, then
 *     `if pad_token is None: pad_token = eos_token` and `if bos_token is None: bos_token = eos_token`;
 *   - to_tokens with prepend_bos (default True): the tokenizer's own BOS when it adds one (Llama 3's
 *     <|begin_of_text|>, Gemma's <bos>, Mistral's <s>: `tokenizer_prepends_bos = len(tokenizer.encode("")) > 0`),
 *     else `bos_token + text` tokenized, i.e. the BOS id followed by the text's ids.
 * So every family gets [bosId] + encode(text): Pythia/GPT-NeoX `<|endoftext|>` (its tokenizer_config's
 * bos_token); Llama 3 `<|begin_of_text|>`; Gemma 2 `<bos>`; Mistral `<s>`; Qwen2/2.5, whose tokenizer_config
 * has `bos_token: null`, its eos_token (`<|endoftext|>` in the base models, `<|im_end|>` in -Instruct).
 * encode() calls the library with add_special_tokens false, so it never adds BOS/EOS itself.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer as HfLib } from '@huggingface/tokenizers';
import { UserError } from '../util/errors.js';
import { parseJsonFile } from '../util/json.js';
import { detectKind } from './kind.js';
import type { Tokenizer, TokenizerKind } from './types.js';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The keys of a complete HF tokenizers file (tokenizer.json as `save_pretrained` writes it). */
export const HF_PIPELINE_KEYS = ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder'] as const;

/** True when `root` is a complete HF tokenizers file, not a bare {model: {vocab, merges}} export. */
export function isHfPipelineJson(root: unknown): boolean {
  return isObject(root) && HF_PIPELINE_KEYS.some((k) => k in root);
}

/** A special token in tokenizer_config.json: a string, or an AddedToken object {content: ...}. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v['content'] === 'string') return v['content'];
  return undefined;
}

export class HfTokenizer implements Tokenizer {
  readonly name: string;
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number | null;
  readonly padId: number;
  readonly kind: TokenizerKind;
  /** Whether the file's own post-processor prepends BOS (add_special_tokens true); we never ask it to. */
  readonly addsBos: boolean;

  private readonly lib: HfLib;
  /** id → token text, for range checks (holes are ids the file does not define). */
  private readonly idText: (string | undefined)[];
  /** A token that decodes to one visible character: decoded in front of a token, it keeps that token's leading space. */
  private readonly anchor: { id: number; text: string } | undefined;

  /**
   * @param json tokenizer.json parsed; @param config tokenizer_config.json parsed ({} when absent);
   * @param source the tokenizer.json path, for names and messages.
   */
  constructor(json: Json, config: Json, source: string, configSource = 'tokenizer_config.json') {
    this.name = `hf:${source}`;
    const lib = (() => {
      try {
        // added_tokens is required by the library; files of older exports may lack it.
        return new HfLib({ added_tokens: [], ...json }, config);
      } catch (e) {
        throw new UserError(`${source}: not a tokenizer the @huggingface/tokenizers library can run: ${(e as Error).message}`);
      }
    })();
    this.lib = lib;
    const vocab = lib.get_vocab(true);
    const idText: (string | undefined)[] = [];
    for (const [text, id] of vocab) idText[id] = text;
    this.idText = idText;
    this.vocabSize = idText.length;
    if (this.vocabSize === 0) throw new UserError(`${source}: the vocabulary (model.vocab) is empty`);

    const idOf = (key: string): number | undefined => {
      const text = tokenText(config[key]);
      if (text === undefined) return undefined;
      const id = lib.token_to_id(text);
      if (id === undefined) throw new UserError(`${configSource}: ${key} ${JSON.stringify(text)} is not a token of ${source}`);
      return id;
    };
    // TransformerLens' fallbacks (module comment): eos ← "<|endoftext|>", pad ← eos, bos ← eos.
    const eos = idOf('eos_token') ?? lib.token_to_id('<|endoftext|>') ?? null;
    const bos = idOf('bos_token') ?? eos;
    if (bos === null) {
      throw new UserError(
        `${configSource}: names neither bos_token nor eos_token, and ${source} has no <|endoftext|>; ` +
          'add "bos_token" (the token prepended to every prompt) to tokenizer_config.json',
      );
    }
    this.bosId = bos;
    this.eosId = eos;
    this.padId = idOf('pad_token') ?? eos ?? bos;
    this.addsBos = lib.encode('', { add_special_tokens: true }).ids.length > 0;

    const hash = lib.token_to_id('#');
    this.anchor = hash === undefined ? undefined : { id: hash, text: this.rawDecode([hash]) };
    this.kind = detectKind(this);
  }

  encode(text: string): number[] {
    const ids = this.lib.encode(text, { add_special_tokens: false }).ids;
    // The library maps a piece it cannot encode to model.unk_token_id, which is undefined without an unk_token.
    for (const id of ids) {
      if (typeof id !== 'number') throw new UserError(`${this.name}: cannot encode ${JSON.stringify(text.slice(0, 80))}: a piece has no token and the tokenizer has no unk_token`);
    }
    return ids;
  }

  private check(ids: readonly number[]): void {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize || this.idText[id] === undefined) {
        throw new RangeError(`token id ${id} is not in the vocabulary of ${this.name} (0..${this.vocabSize - 1})`);
      }
    }
  }

  private rawDecode(ids: readonly number[]): string {
    if (ids.length === 0) return '';
    // clean_up_tokenization_spaces would turn " ." into "."; TransformerLens' to_string turns it off too.
    return this.lib.decode([...ids], { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  }

  decode(ids: readonly number[]): string {
    this.check(ids);
    return this.rawDecode(ids);
  }

  tokenString(id: number): string {
    this.check([id]);
    // SentencePiece decoders strip the text's first space ("▁he" alone decodes to "he"); behind the anchor
    // the token is not first, so its leading space stays.
    if (this.anchor !== undefined) {
      const s = this.rawDecode([this.anchor.id, id]);
      if (s.startsWith(this.anchor.text)) return s.slice(this.anchor.text.length);
    }
    return this.rawDecode([id]);
  }
}

/** Reads `dir`/tokenizer.json (+ tokenizer_config.json beside it) into an HfTokenizer. */
export function loadHfTokenizer(dir: string): HfTokenizer {
  const path = join(dir, 'tokenizer.json');
  const json = parseJsonFile(readFileSync(path, 'utf8'), path);
  if (!isObject(json) || !isObject(json['model'])) throw new UserError(`${path}:1: no "model" object (not a HF tokenizers file)`);
  const configPath = join(dir, 'tokenizer_config.json');
  let config: Json = {};
  if (existsSync(configPath)) {
    const c = parseJsonFile(readFileSync(configPath, 'utf8'), configPath);
    if (!isObject(c)) throw new UserError(`${configPath}:1: expected a JSON object`);
    config = c;
  }
  return new HfTokenizer(json, config, path, configPath);
}
