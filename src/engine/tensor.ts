/**
 * A tensor is a contiguous row-major block of the shared heap plus a shape. Tensors are freed explicitly,
 * usually all at once by the arena they were created in (see Engine.arena), since WebAssembly memory is
 * invisible to the JavaScript garbage collector.
 */
import type { Engine } from './engine.js';
import type { TapeNode } from './tape.js';

export type DType = 'f32' | 'i32';

export class Tensor {
  readonly size: number;
  /** True when gradients flow to this tensor (set by ops and by `requireGrad`). */
  requiresGrad = false;
  /** The tape node that produced this tensor, if it was recorded. */
  node: TapeNode | null = null;
  private freed = false;

  constructor(
    readonly engine: Engine,
    readonly ptr: number,
    readonly shape: readonly number[],
    readonly dtype: DType = 'f32',
    /** Aliases (views with another shape) do not own their memory. */
    readonly owner = true,
    /** The tensor whose memory an alias views (kept alive with it). */
    readonly base: Tensor | null = null,
  ) {
    this.size = shape.reduce((a, b) => a * b, 1);
  }

  get bytes(): number {
    return this.size * 4;
  }
  get disposed(): boolean {
    return this.freed;
  }

  /** Live view of the data; invalid after the heap grows, so use it at once and do not keep it. */
  data(): Float32Array {
    this.check();
    return this.engine.heap.f32At(this.ptr, this.size);
  }
  /** Live view of an i32 tensor's data. */
  dataI32(): Int32Array {
    this.check();
    return this.engine.heap.i32At(this.ptr, this.size);
  }
  /** A copy of the data (a read only, so a GPU backend does not send it back). */
  toArray(): Float32Array {
    this.check();
    return this.engine.heap.f32Copy(this.ptr, this.size);
  }
  /** Copies `src` into the tensor. */
  set(src: ArrayLike<number>, offset = 0): this {
    if (src.length + offset > this.size) throw new Error(`set: ${src.length} values into a tensor of ${this.size}`);
    if (this.dtype === 'i32') this.dataI32().set(src, offset);
    else this.data().set(src, offset);
    return this;
  }
  /** Marks this tensor (a leaf) as one whose gradient is wanted. */
  requireGrad(): this {
    this.requiresGrad = true;
    return this;
  }
  /** A view with another shape of the same size, sharing memory (not recorded on the tape). */
  reshape(shape: readonly number[]): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== this.size) throw new Error(`reshape: [${this.shape}] to [${shape}]`);
    return this.engine.register(new Tensor(this.engine, this.ptr, shape, this.dtype, false, this.base ?? this));
  }
  /** A view of rows [start, start+count) along the first dimension (not recorded on the tape). */
  rows(start: number, count: number): Tensor {
    const inner = this.size / this.shape[0]!;
    return this.engine.register(
      new Tensor(this.engine, this.ptr + start * inner * 4, [count, ...this.shape.slice(1)], this.dtype, false, this.base ?? this),
    );
  }

  dispose(): void {
    if (this.freed) return;
    this.freed = true;
    if (this.owner) this.engine.heap.free(this.ptr);
  }

  private check(): void {
    if (this.freed) throw new Error(`tensor [${this.shape}] used after it was freed`);
  }
}
