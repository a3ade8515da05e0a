/**
 * One shared WebAssembly.Memory holds every tensor. Kernels (WebAssembly, on every worker thread) and the
 * optional BLAS addon address it by byte offset; JavaScript reads it through typed-array views.
 *
 * Layout: [0, KERNEL_RESERVED) belongs to the kernels (their static data and one scratch area per thread,
 * see src/engine/wasm); tensors live above it. Shared memories never move when they grow, so an offset
 * (and the addon's raw pointer) stays valid for the life of the process.
 */

import { UserError } from '../util/errors.js';

export const PAGE = 65536;
/** Bytes at the bottom of memory that belong to the kernels: statics below 1 MiB, then 1 MiB of scratch per thread. */
export const KERNEL_RESERVED = 64 * 1024 * 1024;
/** Scratch area of kernel thread `tid`: [SCRATCH_BASE + tid·SCRATCH_BYTES, +SCRATCH_BYTES). */
export const SCRATCH_BASE = 1024 * 1024;
export const SCRATCH_BYTES = 1024 * 1024;
export const MAX_THREADS = (KERNEL_RESERVED - SCRATCH_BASE) / SCRATCH_BYTES;
/** wasm32 addresses stop at 4 GiB. */
export const MAX_PAGES = 65536;
const ALIGN = 64;

/** The heap cannot grow enough: a UserError (the message says what to change), and the signal micro-batching splits on. */
export class OutOfMemoryError extends UserError {
  override name = 'UserError';
}

/**
 * Element index of the 4-byte word at byte offset `ptr`. Offsets reach 4 GiB, so this must be the unsigned
 * shift: `ptr >> 2` turns offsets ≥ 2³¹ negative, and typed arrays read negative indices from the end.
 */
export function word(ptr: number): number {
  return ptr >>> 2;
}

/**
 * Told of every host access to heap bytes, so that a device holding its own copy of the heap (the WebGPU backend)
 * can bring the range to the host first and treat it as written by the host afterwards.
 */
export interface HeapHook {
  /** The host is about to read [ptr, ptr + bytes), and write it unless `write` is false, through a view it takes now. */
  hostAccess(ptr: number, bytes: number, write?: boolean): void;
  /** [ptr, ptr + bytes) was freed: its contents no longer matter. */
  freed(ptr: number, bytes: number): void;
  /** Fills n f32 at ptr with value on the device instead of the host (a zeroed tensor then never crosses the bus). */
  fillF32?(ptr: number, n: number, value: number): void;
}

/** Free-list allocator over the shared memory; blocks are 64-byte aligned and coalesced on free. */
export class Heap {
  readonly memory: WebAssembly.Memory;
  /** Set by a device backend that mirrors the heap (every view below reports its range to it). */
  hook: HeapHook | null = null;
  private views: { buf: ArrayBufferLike; f32: Float32Array; i32: Int32Array; u8: Uint8Array } | null = null;
  /** Free blocks sorted by offset: parallel arrays of start and size. */
  private freeStart: number[] = [];
  private freeSize: number[] = [];
  private used = new Map<number, number>();
  private top: number;
  private bytesInUse = 0;
  private peak = 0;
  /** Highest end of any allocation so far: what the heap really needed, fragmentation included. */
  private peakEnd = 0;

  /**
   * `shared` false gives a non-shared memory, for a page that is not cross-origin isolated (no SharedArrayBuffer):
   * one thread only, and its buffer is replaced on every grow (the views below follow it).
   */
  constructor(readonly maxBytes = MAX_PAGES * PAGE, initialBytes = KERNEL_RESERVED + 64 * 1024 * 1024, shared = true) {
    const maximum = Math.min(MAX_PAGES, Math.ceil(maxBytes / PAGE));
    const initial = Math.min(maximum, Math.ceil(initialBytes / PAGE));
    this.memory = new WebAssembly.Memory({ initial, maximum, shared });
    this.top = KERNEL_RESERVED;
  }

  /** Current size of the memory in bytes. */
  get size(): number {
    return this.memory.buffer.byteLength;
  }
  get inUse(): number {
    return this.bytesInUse;
  }
  get peakInUse(): number {
    return this.peak;
  }
  /** Highest end offset any allocation reached since the last resetPeak (≥ KERNEL_RESERVED + peakInUse). */
  get peakTop(): number {
    return this.peakEnd;
  }
  /** Bytes still available to allocations that land at the top: the heap's limit minus its current top. */
  get headroom(): number {
    return Math.min(this.maxBytes, MAX_PAGES * PAGE) - this.top;
  }
  resetPeak(): void {
    this.peak = this.bytesInUse;
    this.peakEnd = this.top;
  }

  /**
   * Typed views over the whole memory, renewed after a grow. With a hook they count as an access to every
   * allocation (a device backend syncs them all), so engine code uses the ranged views below; kernels that run on
   * the host (reference, WebAssembly) and tests use these.
   */
  get f32(): Float32Array {
    this.hook?.hostAccess(KERNEL_RESERVED, this.top - KERNEL_RESERVED);
    return this.view().f32;
  }
  get i32(): Int32Array {
    this.hook?.hostAccess(KERNEL_RESERVED, this.top - KERNEL_RESERVED);
    return this.view().i32;
  }
  get u8(): Uint8Array {
    this.hook?.hostAccess(KERNEL_RESERVED, this.top - KERNEL_RESERVED);
    return this.view().u8;
  }
  /** View of `n` f32 values at byte offset `ptr`; invalid after the heap grows or a kernel runs, so use it at once. */
  f32At(ptr: number, n: number): Float32Array {
    this.hook?.hostAccess(ptr, 4 * n);
    return this.view().f32.subarray(word(ptr), word(ptr) + n);
  }
  /** View of `n` i32 values at byte offset `ptr`. */
  i32At(ptr: number, n: number): Int32Array {
    this.hook?.hostAccess(ptr, 4 * n);
    return this.view().i32.subarray(word(ptr), word(ptr) + n);
  }
  /** A copy of `n` f32 values at byte offset `ptr` (a read only: a device backend need not upload them again). */
  f32Copy(ptr: number, n: number): Float32Array {
    this.hook?.hostAccess(ptr, 4 * n, false);
    return this.view().f32.slice(word(ptr), word(ptr) + n);
  }
  /** A copy of `n` i32 values at byte offset `ptr` (a read only). */
  i32Copy(ptr: number, n: number): Int32Array {
    this.hook?.hostAccess(ptr, 4 * n, false);
    return this.view().i32.slice(word(ptr), word(ptr) + n);
  }
  /** View of `n` u16 values at byte offset `ptr` (even). */
  u16At(ptr: number, n: number): Uint16Array {
    this.hook?.hostAccess(ptr, 2 * n);
    return new Uint16Array(this.memory.buffer, ptr, n);
  }
  /** Sets `n` f32 values at byte offset `ptr` to `value`. */
  fillF32(ptr: number, n: number, value: number): void {
    if (this.hook?.fillF32) return this.hook.fillF32(ptr, n, value);
    this.hook?.hostAccess(ptr, 4 * n);
    this.view().f32.fill(value, word(ptr), word(ptr) + n);
  }

  private view() {
    const buf = this.memory.buffer;
    if (!this.views || this.views.buf !== buf || this.views.f32.length * 4 !== buf.byteLength) {
      this.views = { buf, f32: new Float32Array(buf), i32: new Int32Array(buf), u8: new Uint8Array(buf) };
    }
    return this.views;
  }

  /** Allocates `bytes` (rounded up to 64) and returns the byte offset. Contents are not cleared. */
  alloc(bytes: number): number {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    // best fit among free blocks
    let best = -1;
    for (let i = 0; i < this.freeSize.length; i++) {
      const s = this.freeSize[i]!;
      if (s >= size && (best < 0 || s < this.freeSize[best]!)) {
        best = i;
        if (s === size) break;
      }
    }
    let ptr: number;
    if (best >= 0) {
      ptr = this.freeStart[best]!;
      const rest = this.freeSize[best]! - size;
      if (rest > 0) {
        this.freeStart[best] = ptr + size;
        this.freeSize[best] = rest;
      } else {
        this.freeStart.splice(best, 1);
        this.freeSize.splice(best, 1);
      }
    } else {
      // a free block touching the top can be extended instead of leaving a hole
      const last = this.freeStart.length - 1;
      if (last >= 0 && this.freeStart[last]! + this.freeSize[last]! === this.top) {
        ptr = this.freeStart[last]!;
        this.top = ptr;
        this.freeStart.pop();
        this.freeSize.pop();
      } else {
        ptr = this.top;
      }
      this.ensure(ptr + size);
      this.top = ptr + size;
      if (this.top > this.peakEnd) this.peakEnd = this.top;
    }
    this.used.set(ptr, size);
    this.bytesInUse += size;
    if (this.bytesInUse > this.peak) this.peak = this.bytesInUse;
    return ptr;
  }

  free(ptr: number): void {
    const size = this.used.get(ptr);
    if (size === undefined) throw new Error(`heap: free of unknown block ${ptr}`);
    this.used.delete(ptr);
    this.bytesInUse -= size;
    this.hook?.freed(ptr, size);
    // insert sorted, then coalesce with neighbours
    let lo = 0;
    let hi = this.freeStart.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.freeStart[mid]! < ptr) lo = mid + 1;
      else hi = mid;
    }
    this.freeStart.splice(lo, 0, ptr);
    this.freeSize.splice(lo, 0, size);
    if (lo + 1 < this.freeStart.length && ptr + size === this.freeStart[lo + 1]) {
      this.freeSize[lo]! += this.freeSize[lo + 1]!;
      this.freeStart.splice(lo + 1, 1);
      this.freeSize.splice(lo + 1, 1);
    }
    if (lo > 0 && this.freeStart[lo - 1]! + this.freeSize[lo - 1]! === ptr) {
      this.freeSize[lo - 1]! += this.freeSize[lo]!;
      this.freeStart.splice(lo, 1);
      this.freeSize.splice(lo, 1);
      lo--;
    }
    // give the block back to the top when it ends there
    if (this.freeStart[lo]! + this.freeSize[lo]! === this.top) {
      this.top = this.freeStart[lo]!;
      this.freeStart.splice(lo, 1);
      this.freeSize.splice(lo, 1);
    }
  }

  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const maxBytes = Math.min(this.maxBytes, MAX_PAGES * PAGE);
    if (end > maxBytes) {
      throw new OutOfMemoryError(
        `out of WebAssembly memory: need ${fmtBytes(end)} of at most ${fmtBytes(maxBytes)} ` +
          `(${fmtBytes(this.bytesInUse)} in use); use a smaller --batch-size or a smaller model`,
      );
    }
    // grow geometrically to keep the number of grows small
    const want = Math.min(maxBytes, Math.max(end, Math.floor(have * 1.25)));
    try {
      this.memory.grow(Math.ceil((want - have) / PAGE));
    } catch {
      try {
        this.memory.grow(Math.ceil((end - have) / PAGE)); // the geometric step may be what the system refuses
      } catch (err) {
        throw new OutOfMemoryError(
          `the system refused to grow the WebAssembly memory to ${fmtBytes(end)} (${(err as Error).message}); ` +
            'free some RAM, or use a smaller --batch-size or a smaller model',
        );
      }
    }
  }
}

export function fmtBytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}
