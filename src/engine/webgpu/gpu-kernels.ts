/**
 * The kernel contract on WebGPU. Each call checks its ranges and appends its dispatches to a pending list; the
 * list goes to the GPU worker when the host touches a range that a pending or finished kernel wrote (or a pending
 * kernel reads), and the worker copies the touched range back into the shared heap before the call returns.
 *
 * Coherence (Heap.hook): a host access to [s, e) first waits for any batch in flight, flushes if [s, e) meets a
 * range the GPU wrote since the host last saw it (downloading that part) or, for a write, a binding of a pending
 * kernel, then marks [s, e) host-written unless the access is a read only (Heap.f32Copy, Tensor.toArray).
 * A host-written range is uploaded with the first batch after the next kernel call, not before: the host may still
 * be writing through its view when another view's access flushes (`const o = out.data(), s = x.data()`), and views
 * are not kept across kernel calls (tensor.ts). So a loop that reads one tensor over and over costs one round trip,
 * and nothing moves while kernels run back to back.
 */
import type { ActivationKind, Kernels } from '../kernels.js';
import type { Heap, HeapHook } from '../memory.js';
import { writtenBuffers } from './bindings.js';
import type { GpuDispatch } from './dispatch.js';
import { OPS } from './ops/index.js';
import { fillOp } from './ops/elementwise.js';
import { gatherRowsOp, scatterAddRowsOp } from './ops/rows.js';
import { startWorker, type WorkerLink } from './platform.js';
import { DONE, FAILED, RUNNING, STATE, type AdapterInfo, type Batch, type DeviceLimits, type InitReply } from './protocol.js';
import { RangeSet } from './ranges.js';

/** Pending dispatches that go to the worker without waiting (kernels run on while the host computes the next ones). */
const ASYNC_BATCH = 512;

export class GpuKernels implements Kernels, HeapHook {
  readonly name: string;
  /** Batches sent to the worker that the main thread waited for (tests count round trips with it). */
  flushes = 0;
  /** Batches sent in all, waited for or not. */
  batches = 0;
  /** Bytes uploaded from the host so far. */
  uploadBytes = 0;
  private pending: GpuDispatch[] = [];
  private readonly pendingRanges = new RangeSet();
  /** Written by the GPU (pending or done) and not yet brought to the host. */
  private readonly deviceNewer = new RangeSet();
  /** Written by the host before the latest kernel call and not uploaded yet: the next batch uploads them. */
  private readonly hostDirty = new RangeSet();
  /** Handed to the host as writable views since the latest kernel call: host-written from that call on. */
  private readonly hostOpen = new RangeSet();
  private readonly sentShaders = new Set<string>();
  private inFlight = false;
  private closed = false;

  private constructor(
    private readonly heap: Heap,
    private readonly link: WorkerLink,
    private readonly control: Int32Array,
    readonly limits: DeviceLimits,
    readonly adapter: AdapterInfo,
  ) {
    this.name = `webgpu (${adapter.description || adapter.device || adapter.vendor || 'unnamed adapter'})`;
    heap.hook = this;
  }

  /** Starts the GPU worker on `heap`: the kernels, or why there is no usable adapter. */
  static async create(heap: Heap, allowSoftware = true): Promise<{ ok: true; kernels: GpuKernels } | { ok: false; reason: string; adapter?: AdapterInfo }> {
    let link: WorkerLink;
    try {
      link = startWorker();
    } catch (err) {
      // the platform cannot run a GPU worker at all (a page that is not cross-origin isolated)
      return { ok: false, reason: (err as Error).message };
    }
    const control = new Int32Array(new SharedArrayBuffer(16));
    link.post({ type: 'init', memory: heap.memory, control: control.buffer, allowSoftware });
    let reply: InitReply;
    try {
      reply = (await link.next()) as InitReply;
    } catch (err) {
      reply = { ok: false, reason: `the GPU worker failed to start (${(err as Error).message})` };
    }
    if (!reply.ok) {
      await link.terminate();
      return reply;
    }
    return { ok: true, kernels: new GpuKernels(heap, link, control, reply.limits, reply.adapter) };
  }

  // ---- coherence

  hostAccess(ptr: number, bytes: number, write = true): void {
    const s = ptr, e = ptr + bytes;
    if (this.inFlight) this.wait();
    // a read waits only for writes to the range; a write also for pending kernels that read it
    if (this.deviceNewer.intersects(s, e) || (write && this.pendingRanges.intersects(s, e))) this.flush(this.deviceNewer.intersection(s, e));
    this.deviceNewer.delete(s, e);
    if (write) this.hostOpen.add(s, e);
  }

  fillF32(ptr: number, n: number, value: number): void {
    if (this.inFlight) this.wait();
    this.closeHostViews();
    // the device's values replace whatever the host wrote there, unless a kernel queued before the fill reads it
    if (!this.pendingRanges.intersects(ptr, ptr + 4 * n)) this.hostDirty.delete(ptr, ptr + 4 * n);
    this.enqueue('fill', fillOp(this.limits, ptr, n, value));
  }

  freed(ptr: number, bytes: number): void {
    this.deviceNewer.delete(ptr, ptr + bytes);
    // a pending kernel may still read what the host wrote there (a tensor freed right after the call that reads
    // it): the upload must stay
    if (!this.pendingRanges.intersects(ptr, ptr + bytes)) this.hostDirty.delete(ptr, ptr + bytes);
    this.hostOpen.delete(ptr, ptr + bytes);
  }

  /** A kernel call ends the host's views: what they may have written goes up with the next batch. */
  private closeHostViews(): void {
    for (const [s, e] of this.hostOpen) this.hostDirty.add(s, e);
    this.hostOpen.clear();
  }

  /** Runs everything pending and waits for it; `downloads` are copied into the heap. */
  flush(downloads: [number, number][] = []): void {
    this.post(downloads);
    this.wait();
    this.flushes++;
  }

  private post(downloads: [number, number][]): void {
    if (this.closed) throw new Error('the WebGPU kernels were closed');
    const shaders = [];
    for (const d of this.pending) {
      if (!this.sentShaders.has(d.shader.name)) {
        this.sentShaders.add(d.shader.name);
        shaders.push(d.shader);
      }
    }
    const batch: Batch = {
      type: 'batch',
      heapSize: this.heap.size,
      shaders,
      uploads: [...this.hostDirty].flatMap(([s, e]) => [s, e - s]),
      dispatches: this.pending.map((d) => ({
        name: d.shader.name,
        buffers: d.buffers.flatMap((b) => [b.ptr, b.bytes]),
        params: d.params.map((p) => [p[0], p[1]] as const),
        wg: [d.workgroups[0], d.workgroups[1], d.workgroups[2]],
      })),
      downloads: downloads.flatMap(([s, e]) => [s, e - s]),
    };
    for (const [s, e] of this.hostDirty) this.uploadBytes += e - s;
    this.pending = [];
    this.pendingRanges.clear();
    this.hostDirty.clear();
    Atomics.store(this.control, STATE, RUNNING);
    this.link.post(batch);
    this.inFlight = true;
    this.batches++;
  }

  private wait(): void {
    Atomics.wait(this.control, STATE, RUNNING);
    this.inFlight = false;
    if (Atomics.load(this.control, STATE) === FAILED) {
      const reply = this.link.takeReply() as { error?: string } | undefined;
      throw new Error(`WebGPU: ${reply?.error ?? 'the GPU worker failed without a message'}`);
    }
    if (Atomics.load(this.control, STATE) !== DONE) throw new Error('WebGPU: the GPU worker left an unknown state');
  }

  /** Queues prebuilt dispatches after checking them (the Kernels methods come here; tests pass tighter limits to builders). */
  enqueue(kernel: string, dispatches: GpuDispatch[]): void {
    this.closeHostViews();
    const size = this.heap.size, maxWg = this.limits.maxComputeWorkgroupsPerDimension;
    for (const d of dispatches) {
      const written = writtenBuffers(d.shader);
      if (d.workgroups.some((w) => !Number.isInteger(w) || w < 0 || w > maxWg)) {
        throw new Error(`${kernel}: workgroup counts [${d.workgroups}] exceed the limit ${maxWg} (maxComputeWorkgroupsPerDimension)`);
      }
      if (d.workgroups.some((w) => w === 0)) continue;
      d.buffers.forEach((b, i) => {
        if (!(Number.isInteger(b.ptr) && Number.isInteger(b.bytes) && b.ptr >= 0 && b.bytes >= 0 && b.ptr + b.bytes <= size)) {
          throw new Error(`${kernel}: buffer ${i} [${b.ptr}, +${b.bytes}) lies outside the heap of ${size} bytes`);
        }
        // the runtime binds from ptr rounded down to the alignment
        const bound = b.bytes + (b.ptr % this.limits.minStorageBufferOffsetAlignment);
        if (bound > this.limits.maxStorageBufferBindingSize) {
          throw new Error(`${kernel}: buffer ${i} binds ${bound} bytes, over maxStorageBufferBindingSize ${this.limits.maxStorageBufferBindingSize}`);
        }
        this.pendingRanges.add(b.ptr, b.ptr + b.bytes);
        if (written.has(i)) this.deviceNewer.add(b.ptr, b.ptr + b.bytes);
      });
      this.pending.push(d);
    }
    if (this.pending.length >= ASYNC_BATCH) {
      if (this.inFlight) this.wait();
      this.post([]);
    }
  }

  private call<K extends keyof typeof OPS>(kernel: K, args: Parameters<Kernels[K]>): void {
    const build = OPS[kernel] as (limits: DeviceLimits, ...a: Parameters<Kernels[K]>) => GpuDispatch[];
    this.enqueue(kernel, build(this.limits, ...args));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.inFlight) this.wait();
    } finally {
      this.closed = true;
      if (this.heap.hook === this) this.heap.hook = null;
      await this.link.terminate();
    }
  }

  // ---- the contract

  gemm(...a: Parameters<Kernels['gemm']>): void { this.call('gemm', a); }
  gemmBatched(...a: Parameters<Kernels['gemmBatched']>): void { this.call('gemmBatched', a); }
  layerNorm(...a: Parameters<Kernels['layerNorm']>): void { this.call('layerNorm', a); }
  layerNormBackward(...a: Parameters<Kernels['layerNormBackward']>): void { this.call('layerNormBackward', a); }
  headGradDeposit(...a: Parameters<Kernels['headGradDeposit']>): void { this.call('headGradDeposit', a); }
  rmsNorm(...a: Parameters<Kernels['rmsNorm']>): void { this.call('rmsNorm', a); }
  rmsNormBackward(...a: Parameters<Kernels['rmsNormBackward']>): void { this.call('rmsNormBackward', a); }
  layerNormParamGrad(...a: Parameters<Kernels['layerNormParamGrad']>): void { this.call('layerNormParamGrad', a); }
  gelu(...a: Parameters<Kernels['gelu']>): void { this.call('gelu', a); }
  geluBackward(...a: Parameters<Kernels['geluBackward']>): void { this.call('geluBackward', a); }
  activation(kind: ActivationKind, x: number, up: number, out: number, n: number): void { this.call('activation', [kind, x, up, out, n]); }
  activationBackward(...a: Parameters<Kernels['activationBackward']>): void { this.call('activationBackward', a); }
  widenBf16(...a: Parameters<Kernels['widenBf16']>): void { this.call('widenBf16', a); }
  add(...a: Parameters<Kernels['add']>): void { this.call('add', a); }
  axpy(...a: Parameters<Kernels['axpy']>): void { this.call('axpy', a); }
  scale(...a: Parameters<Kernels['scale']>): void { this.call('scale', a); }
  addRowVector(...a: Parameters<Kernels['addRowVector']>): void { this.call('addRowVector', a); }
  sumRows(...a: Parameters<Kernels['sumRows']>): void { this.call('sumRows', a); }
  sumStacked(...a: Parameters<Kernels['sumStacked']>): void { this.call('sumStacked', a); }
  gatherRows(idx: number, table: number, out: number, n: number, D: number): void {
    this.enqueue('gatherRows', gatherRowsOp(this.limits, idx, table, out, n, D, this.tableRows('gatherRows', idx, n)));
  }
  scatterAddRows(idx: number, src: number, table: number, n: number, D: number): void {
    this.enqueue('scatterAddRows', scatterAddRowsOp(this.limits, idx, src, table, n, D, this.tableRows('scatterAddRows', idx, n)));
  }

  /** Rows of the table that the n indices at idx reach (read on the host: indices are token ids the host wrote). */
  private tableRows(kernel: string, idx: number, n: number): number {
    let max = -1;
    for (const v of this.heap.i32Copy(idx, n)) {
      if (v < 0) throw new Error(`${kernel}: negative row index ${v}`);
      if (v > max) max = v;
    }
    return max + 1;
  }
  attention(...a: Parameters<Kernels['attention']>): void { this.call('attention', a); }
  attentionBackward(...a: Parameters<Kernels['attentionBackward']>): void { this.call('attentionBackward', a); }
  softmaxRows(...a: Parameters<Kernels['softmaxRows']>): void { this.call('softmaxRows', a); }
}
