/**
 * Reader and writer for the safetensors format (https://huggingface.co/docs/safetensors): an 8-byte
 * little-endian header length N, N bytes of UTF-8 JSON `{name: {dtype, shape, data_offsets: [begin, end]},
 * "__metadata__"?: {string: string}}`, then the data section; offsets are relative to its start.
 *
 * The reader parses only the header at open and reads one tensor's bytes on demand (GPT-2 XL is 6 GB in
 * f32), widening F16/BF16/F64 to f32. The writer streams tensor by tensor through a small buffer, so
 * generated models never need the whole file in memory. Both assume a little-endian host (all current
 * Node platforms) and check it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { UserError } from '../util/errors.js';
import { writeAllSync, writeAtomicSync } from '../util/atomic-write.js';

/** Bytes per element of every dtype the format defines. */
const DTYPE_SIZE: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
};

/** The dtypes readF32 can widen or narrow to f32. */
export type FloatDtype = 'F64' | 'F32' | 'F16' | 'BF16';
/** The dtypes writeSafetensors can store. */
export type WriteDtype = 'F32' | 'F16' | 'BF16';

export interface TensorInfo {
  name: string;
  dtype: string;
  shape: number[];
  /** Number of elements (product of the shape; 1 for a scalar). */
  numel: number;
  /** Absolute byte offset of the data in the file. */
  offset: number;
  byteLength: number;
}

/** The parsed header of an open file; tensor data is read on demand. Call close() when done. */
export interface SafetensorsFile {
  readonly path: string;
  readonly metadata: Record<string, string>;
  /** Tensor names in header order. */
  readonly names: string[];
  info(name: string): TensorInfo;
  has(name: string): boolean;
  /**
   * The tensor as f32 (widened from F16/BF16, rounded from F64), in a fresh array or in `out` (which must have
   * exactly numel elements; e.g. a view into WebAssembly memory).
   */
  readF32(name: string, out?: Float32Array): Float32Array;
  /** The raw little-endian bytes of a tensor. */
  readBytes(name: string): Uint8Array;
  close(): void;
}

/** Largest header we accept (the reference library's limit), so a corrupt length can't make us allocate GBs. */
const MAX_HEADER = 100_000_000;
/** Chunk size in elements for conversions (4 MiB of f32). */
const CHUNK = 1 << 20;

function assertLittleEndian(): void {
  if (os.endianness() !== 'LE') throw new Error('safetensors: big-endian hosts are not supported');
}

/** Open a .safetensors file and validate its header against the file size. Throws UserError naming the file. */
export function openSafetensors(path: string): SafetensorsFile {
  assertLittleEndian();
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    throw new UserError(`cannot open safetensors file ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    return new Reader(path, fd);
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

class Reader implements SafetensorsFile {
  readonly metadata: Record<string, string> = {};
  readonly names: string[] = [];
  private readonly tensors = new Map<string, TensorInfo>();
  private fd: number | null;

  constructor(readonly path: string, fd: number) {
    this.fd = fd;
    const size = fs.fstatSync(fd).size;
    const bad = (what: string, fix = 'the file is corrupt or not a safetensors file; download or convert it again') =>
      new UserError(`invalid safetensors file ${path}: ${what}; ${fix}`);
    if (size < 8) throw bad(`file is only ${size} bytes, shorter than the 8-byte header length`);
    const lenBuf = Buffer.alloc(8);
    readFully(fd, lenBuf, 0);
    const n = lenBuf.readBigUInt64LE(0);
    if (n > BigInt(size - 8)) throw bad(`header length ${n} is larger than the file (${size} bytes)`);
    if (n > BigInt(MAX_HEADER)) throw bad(`header length ${n} exceeds the ${MAX_HEADER}-byte limit`);
    const headerLen = Number(n);
    const raw = Buffer.alloc(headerLen);
    readFully(fd, raw, 8);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      throw bad('the JSON header is not valid UTF-8');
    }
    let header: unknown;
    try {
      header = JSON.parse(text);
    } catch (e) {
      throw bad(`the header is not valid JSON (${(e as Error).message})`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad('the header is not a JSON object');
    const dataStart = 8 + headerLen;
    const dataSize = size - dataStart;
    for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') {
        if (typeof v !== 'object' || v === null) throw bad('__metadata__ is not an object');
        for (const [k, s] of Object.entries(v)) this.metadata[k] = String(s);
        continue;
      }
      const t = parseEntry(name, v, bad);
      if (t.end > dataSize) {
        throw bad(
          `tensor ${name} ends at byte ${t.end} of the data section but the file has only ${dataSize} data bytes (truncated file?)`,
          'download or copy it again',
        );
      }
      const info: TensorInfo = { name, dtype: t.dtype, shape: t.shape, numel: t.numel, offset: dataStart + t.begin, byteLength: t.end - t.begin };
      this.tensors.set(name, info);
      this.names.push(name);
    }
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new UserError(`tensor ${name} not found in ${this.path}`);
    return t;
  }

  readBytes(name: string): Uint8Array {
    const t = this.info(name);
    const out = new Uint8Array(t.byteLength);
    readFully(this.openFd(), out, t.offset, this.path);
    return out;
  }

  readF32(name: string, out?: Float32Array): Float32Array {
    const t = this.info(name);
    if (out && out.length !== t.numel) {
      throw new RangeError(`readF32(${name}): output has ${out.length} elements, tensor has ${t.numel}`);
    }
    const dst = out ?? new Float32Array(t.numel);
    const fd = this.openFd();
    switch (t.dtype) {
      case 'F32':
        readFully(fd, new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength), t.offset, this.path);
        break;
      case 'F16':
      case 'BF16': {
        const tmp = new Uint16Array(Math.min(CHUNK, t.numel));
        const bytes = new Uint8Array(tmp.buffer);
        for (let i = 0; i < t.numel; i += tmp.length) {
          const n = Math.min(tmp.length, t.numel - i);
          readFully(fd, bytes.subarray(0, 2 * n), t.offset + 2 * i, this.path);
          (t.dtype === 'F16' ? f16ToF32 : bf16ToF32)(tmp.subarray(0, n), dst.subarray(i, i + n));
        }
        break;
      }
      case 'F64': {
        const tmp = new Float64Array(Math.min(CHUNK, t.numel));
        for (let i = 0; i < t.numel; i += tmp.length) {
          const n = Math.min(tmp.length, t.numel - i);
          readFully(fd, new Uint8Array(tmp.buffer, 0, 8 * n), t.offset + 8 * i, this.path);
          dst.set(tmp.subarray(0, n), i);
        }
        break;
      }
      default:
        throw new UserError(
          `tensor ${name} in ${this.path} has dtype ${t.dtype}; only F32, F16, BF16 and F64 can be read as float32`,
        );
    }
    return dst;
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  private openFd(): number {
    if (this.fd === null) throw new Error(`safetensors file ${this.path} is closed`);
    return this.fd;
  }
}

type Bad = (what: string, fix?: string) => UserError;

function parseEntry(name: string, v: unknown, bad: Bad) {
  const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof e !== 'object' || e === null) throw bad(`entry for tensor ${name} is not an object`);
  const dtype = e.dtype;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_SIZE)) {
    throw bad(
      `tensor ${name} has unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPE_SIZE).join(', ')})`,
      'save the checkpoint with a standard dtype (F32, F16 or BF16)',
    );
  }
  const isDim = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 0;
  if (!Array.isArray(e.shape) || !e.shape.every(isDim)) throw bad(`tensor ${name} has an invalid shape ${JSON.stringify(e.shape)}`);
  const off = e.data_offsets;
  if (!Array.isArray(off) || off.length !== 2 || !off.every(isDim) || off[0] > off[1]) {
    throw bad(`tensor ${name} has invalid data_offsets ${JSON.stringify(off)}`);
  }
  const shape = e.shape as number[];
  const numel = shape.reduce((a, b) => a * b, 1);
  const [begin, end] = off as [number, number];
  if (end - begin !== numel * DTYPE_SIZE[dtype]) {
    throw bad(
      `tensor ${name} (${dtype}, shape [${shape.join(', ')}]) needs ${numel * DTYPE_SIZE[dtype]} bytes but its data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  }
  return { dtype, shape, numel, begin, end };
}

/** Read exactly dst.length bytes at `pos` (readSync may return less, and is limited to 2 GiB per call). */
function readFully(fd: number, dst: Uint8Array, pos: number, path = 'file'): void {
  let done = 0;
  while (done < dst.length) {
    const n = fs.readSync(fd, dst, done, Math.min(dst.length - done, 1 << 30), pos + done);
    if (n === 0) throw new UserError(`unexpected end of ${path} at byte ${pos + done} (truncated file?); download or copy it again`);
    done += n;
  }
}

// ---------------------------------------------------------------------------------------------- conversions

let f16Table: Float32Array | null = null;

/** All 65536 half-precision values, built once (256 KiB), so widening is one table lookup per element. */
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) t[h] = sign * mant * 2 ** -24;
    else if (exp === 31) t[h] = mant ? NaN : sign * Infinity;
    else t[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return (f16Table = t);
}

/** Widen F16 bits to f32. */
export function f16ToF32(src: Uint16Array, dst: Float32Array): void {
  const t = halfTable();
  for (let i = 0; i < src.length; i++) dst[i] = t[src[i]];
}

/** Widen BF16 bits to f32 (the upper half of the f32 bit pattern). */
export function bf16ToF32(src: Uint16Array, dst: Float32Array): void {
  const u = new Uint32Array(dst.buffer, dst.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) u[i] = src[i] << 16;
}

/** f32 → F16 bits, rounding to nearest even; overflow gives ±Inf, tiny values subnormals or ±0. */
export function f32ToF16(src: Float32Array, dst: Uint16Array): void {
  const u32 = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) {
    const u = u32[i];
    const sign = (u >>> 16) & 0x8000;
    const exp = (u >>> 23) & 0xff;
    const mant = u & 0x7fffff;
    if (exp === 0xff) {
      dst[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    const e = exp - 112; // rebias 127 → 15
    if (e >= 31) {
      dst[i] = sign | 0x7c00;
    } else if (e > 0) {
      // A carry out of the mantissa correctly bumps the exponent (and 65520+ becomes Inf).
      let h = (e << 10) | (mant >>> 13);
      const rem = mant & 0x1fff;
      if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
      dst[i] = sign | h;
    } else if (e >= -10) {
      const m = mant | 0x800000;
      const shift = 14 - e;
      let h = m >>> shift;
      const rem = m & ((1 << shift) - 1);
      const half = 1 << (shift - 1);
      if (rem > half || (rem === half && h & 1)) h++;
      dst[i] = sign | h;
    } else {
      dst[i] = sign;
    }
  }
}

/** f32 → BF16 bits, rounding to nearest even; NaN stays a (quiet) NaN. */
export function f32ToBF16(src: Float32Array, dst: Uint16Array): void {
  const u32 = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) {
    const u = u32[i];
    if ((u & 0x7fffffff) > 0x7f800000) dst[i] = (u >>> 16) | 0x40;
    else dst[i] = (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
  }
}

// ---------------------------------------------------------------------------------------------- writer

/**
 * Fills `out` with elements [start, start + out.length) of a tensor in row-major order. Called with
 * consecutive ranges from 0 to numel, so a generator may keep state between calls.
 */
export type TensorFill = (out: Float32Array, start: number) => void;

export interface TensorToWrite {
  dtype: WriteDtype;
  shape: number[];
  /** All elements, or a generator that produces them chunk by chunk (for tensors too large to hold twice). */
  data: Float32Array | TensorFill;
}

/**
 * Write a safetensors file atomically. Tensors are laid out in the order given (readers don't care; the
 * Hugging Face library sorts by dtype and name). The header is space-padded to a multiple of 8 bytes like the
 * reference library. F16/BF16 are rounded to nearest even. Memory use is one 4 MiB chunk beyond `data`.
 */
export function writeSafetensors(
  path: string,
  tensors: Record<string, TensorToWrite>,
  metadata?: Record<string, string>,
): void {
  assertLittleEndian();
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = { ...metadata };
  let off = 0;
  const entries = Object.entries(tensors);
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new Error('writeSafetensors: "__metadata__" is not a valid tensor name');
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (!(t.dtype in DTYPE_SIZE) || !['F32', 'F16', 'BF16'].includes(t.dtype)) {
      throw new Error(`writeSafetensors: cannot write dtype ${t.dtype} (tensor ${name})`);
    }
    if (typeof t.data !== 'function' && t.data.length !== numel) {
      throw new RangeError(`writeSafetensors: tensor ${name} has ${t.data.length} elements, shape [${t.shape}] needs ${numel}`);
    }
    const bytes = numel * DTYPE_SIZE[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + bytes] };
    off += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const head = Buffer.alloc(8 + Buffer.byteLength(json));
  head.writeBigUInt64LE(BigInt(head.length - 8), 0);
  head.write(json, 8, 'utf8');

  writeAtomicSync(path, (fd) => {
    writeAllSync(fd, head);
    const f32 = new Float32Array(CHUNK);
    const u16 = new Uint16Array(CHUNK);
    for (const [, t] of entries) {
      const numel = t.shape.reduce((a, b) => a * b, 1);
      for (let i = 0; i < numel; i += CHUNK) {
        const n = Math.min(CHUNK, numel - i);
        let src: Float32Array;
        if (typeof t.data === 'function') {
          src = f32.subarray(0, n);
          t.data(src, i);
        } else {
          src = t.data.subarray(i, i + n);
        }
        if (t.dtype === 'F32') {
          writeAllSync(fd, new Uint8Array(src.buffer, src.byteOffset, 4 * n));
        } else {
          (t.dtype === 'F16' ? f32ToF16 : f32ToBF16)(src, u16);
          writeAllSync(fd, new Uint8Array(u16.buffer, 0, 2 * n));
        }
      }
    }
  });
}
