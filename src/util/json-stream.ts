/**
 * Incremental JSON parsing over byte chunks, for files too large to hold as one string and one object tree
 * (a GPT-2 XL graph file is 150 MB with 2.2 M edge objects). Values are built as JSON.parse builds them,
 * except that the members of chosen top-level objects are handed to a callback one at a time and dropped,
 * so memory stays at one member. Python's bare NaN, Infinity and -Infinity are accepted as numbers (what
 * Python's json.dump writes). A syntax error is a UserError "file:line:column: not valid JSON (unexpected ...)",
 * as parseJsonFile reports it.
 */
import { UserError } from './errors.js';

type Obj = Record<string, unknown>;

export interface JsonStreamOptions {
  /** Top-level keys whose object members go to the callback, one (key, value) at a time, instead of the tree. */
  sinks?: Record<string, (key: string, value: unknown) => void>;
  /** Called when a top-level member is complete (a sunk object arrives empty). */
  onTopValue?: (key: string, value: unknown) => void;
}

const enum S {
  Value, // a value must come
  ValueOrEnd, // after '[': a value or ']'
  KeyOrEnd, // after '{': a key or '}'
  Key, // after ',' in an object
  Colon,
  CommaOrEnd,
  Done,
}

interface Frame {
  arr: unknown[] | null;
  obj: Obj | null;
  key: string;
  sink: ((key: string, value: unknown) => void) | undefined;
}

const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
const PY_NUMBERS: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };
const LITERALS: Record<string, unknown> = { true: true, false: false, null: null };

/** True for bytes that can continue a number or bare word (letters, digits, + - .). */
function wordByte(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2b || c === 0x2d || c === 0x2e;
}

/** Push chunks, then `end()` returns the document's value. */
export class JsonStreamParser {
  #buf: Buffer = Buffer.alloc(0);
  /** Absolute byte offset of #buf[0]. */
  #base = 0;
  #line = 1;
  /** Absolute offset of the current line's first byte. */
  #lineStart = 0;
  #state = S.Value;
  readonly #stack: Frame[] = [];
  #root: unknown = undefined;
  #started = false;

  constructor(
    readonly file: string,
    readonly opts: JsonStreamOptions = {},
  ) {}

  /** Parses as far as `chunk` allows; an incomplete token waits for the next chunk. */
  push(chunk: Uint8Array): void {
    const b = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.#buf = this.#buf.length > 0 ? Buffer.concat([this.#buf, b]) : b;
    this.#scan(false);
  }

  /** Finishes the document and returns its value. */
  end(): unknown {
    this.#scan(true);
    if (this.#state !== S.Done) this.#fail(this.#base + this.#buf.length);
    return this.#root;
  }

  #fail(pos: number): never {
    const i = pos - this.#base;
    let what = 'unexpected end of file';
    if (i >= 0 && i < this.#buf.length) {
      const c = this.#buf[i]!;
      const ch = c < 0x80 ? String.fromCharCode(c) : this.#buf.toString('utf8', i, Math.min(i + 4, this.#buf.length))[0]!;
      what = `unexpected ${JSON.stringify(ch)}`;
    }
    throw new UserError(`${this.file}:${this.#line}:${pos - this.#lineStart + 1}: not valid JSON (${what})`);
  }

  #scan(final: boolean): void {
    const buf = this.#buf;
    const n = buf.length;
    let i = 0;
    if (!this.#started) {
      if (n < 3 && !final) return;
      this.#started = true;
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) i = 3; // UTF-8 BOM
    }
    while (i < n) {
      const c = buf[i]!;
      if (c === 0x20 || c === 0x09 || c === 0x0d) {
        i++;
        continue;
      }
      if (c === 0x0a) {
        this.#line++;
        this.#lineStart = this.#base + i + 1;
        i++;
        continue;
      }
      const at = this.#base + i;
      if (this.#state === S.ValueOrEnd) {
        if (c === 0x5d) {
          i++;
          this.#close();
          continue;
        }
        this.#state = S.Value;
      }
      switch (this.#state) {
        case S.Done:
          return this.#fail(at);
        case S.Colon:
          if (c !== 0x3a) this.#fail(at);
          this.#state = S.Value;
          i++;
          continue;
        case S.CommaOrEnd: {
          const top = this.#stack[this.#stack.length - 1]!;
          if (c === 0x2c) {
            this.#state = top.arr ? S.Value : S.Key;
            i++;
          } else if ((c === 0x5d && top.arr) || (c === 0x7d && top.obj)) {
            i++;
            this.#close();
          } else this.#fail(at);
          continue;
        }
        case S.KeyOrEnd:
        case S.Key: {
          if (c === 0x7d && this.#state === S.KeyOrEnd) {
            i++;
            this.#close();
            continue;
          }
          if (c !== 0x22) this.#fail(at);
          const end = this.#stringEnd(i, final);
          if (end < 0) return this.#keep(i);
          this.#stack[this.#stack.length - 1]!.key = this.#string(i, end);
          this.#state = S.Colon;
          i = end + 1;
          continue;
        }
        default: {
          if (c === 0x7b || c === 0x5b) {
            this.#open(c === 0x7b);
            i++;
            continue;
          }
          if (c === 0x22) {
            const end = this.#stringEnd(i, final);
            if (end < 0) return this.#keep(i);
            this.#value(this.#string(i, end));
            i = end + 1;
            continue;
          }
          let j = i;
          while (j < n && wordByte(buf[j]!)) j++;
          if (j === n && !final) return this.#keep(i);
          if (j === i) this.#fail(at);
          const word = buf.toString('latin1', i, j);
          let v: unknown;
          if (word in LITERALS) v = LITERALS[word];
          else if (word in PY_NUMBERS) v = PY_NUMBERS[word];
          else if (NUMBER.test(word)) v = Number(word);
          else this.#fail(this.#base + i + this.#badWordOffset(word));
          this.#value(v);
          i = j;
          continue;
        }
      }
    }
    this.#keep(n);
  }

  /** Where a bad bare word stops being valid (for the error position). */
  #badWordOffset(word: string): number {
    for (let k = word.length; k > 0; k--) {
      const p = word.slice(0, k);
      if (NUMBER.test(p) || [...Object.keys(LITERALS), ...Object.keys(PY_NUMBERS)].some((w) => w.startsWith(p))) return k;
    }
    return 0;
  }

  /** Drops the parsed prefix of the buffer, keeping bytes from `i` on. */
  #keep(i: number): void {
    this.#base += i;
    this.#buf = this.#buf.subarray(i);
  }

  /** Index of the closing quote of the string opening at i, or -1 when the buffer ends first (not final). */
  #stringEnd(i: number, final: boolean): number {
    const buf = this.#buf;
    for (let j = i + 1; j < buf.length; j++) {
      const c = buf[j]!;
      if (c === 0x22) return j;
      if (c === 0x5c) j++;
      else if (c < 0x20) this.#fail(this.#base + j);
    }
    if (final) this.#fail(this.#base + buf.length);
    return -1;
  }

  #string(i: number, end: number): string {
    const buf = this.#buf;
    let plain = true;
    for (let j = i + 1; j < end; j++) {
      if (buf[j] === 0x5c || buf[j]! >= 0x80) {
        plain = false;
        break;
      }
    }
    if (plain) return buf.toString('latin1', i + 1, end);
    try {
      return JSON.parse(buf.toString('utf8', i, end + 1)) as string;
    } catch {
      return this.#fail(this.#base + i + 1 + buf.subarray(i + 1, end).indexOf(0x5c));
    }
  }

  #open(isObject: boolean): void {
    const parent = this.#stack[this.#stack.length - 1];
    const frame: Frame = { arr: isObject ? null : [], obj: isObject ? {} : null, key: '', sink: undefined };
    if (isObject && parent?.obj && this.#stack.length === 1) frame.sink = this.opts.sinks?.[parent.key];
    this.#stack.push(frame);
    this.#state = isObject ? S.KeyOrEnd : S.ValueOrEnd;
  }

  #close(): void {
    const f = this.#stack.pop()!;
    this.#value(f.arr ?? f.obj);
  }

  /** Attaches a complete value to its container (or makes it the root). */
  #value(v: unknown): void {
    const top = this.#stack[this.#stack.length - 1];
    if (top === undefined) {
      this.#root = v;
      this.#state = S.Done;
      return;
    }
    this.#state = S.CommaOrEnd;
    if (top.arr) top.arr.push(v);
    else if (top.sink) top.sink(top.key, v);
    else {
      const o = top.obj!;
      if (top.key === '__proto__') Object.defineProperty(o, top.key, { value: v, writable: true, enumerable: true, configurable: true });
      else o[top.key] = v;
      if (this.#stack.length === 1) this.opts.onTopValue?.(top.key, v);
    }
  }
}
