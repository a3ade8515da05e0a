/**
 * The GPU worker (a worker thread in Node, a Web Worker in the page: ./platform.ts): owns the WebGPU device, a
 * heap mirror (one GPUBuffer with the heap's byte addresses), the pipeline cache and the uniform ring. Each batch
 * from GpuKernels uploads host-written ranges of the shared heap, runs the dispatches in order, copies the
 * requested ranges back into the heap, then flips the shared state word that the main thread waits on. Errors go
 * back on the reply channel with the state FAILED.
 */
/// <reference types="@webgpu/types" />
import { planBindings, writtenBuffers, type BoundRange } from './bindings.js';
import type { GpuShader } from './dispatch.js';
import { loadWebGpu, onWorkerEnd, workerEndpoint, type WebGpuModule } from './platform.js';
import { DONE, FAILED, RUNNING, STATE, isSoftware, type AdapterInfo, type Batch, type DeviceLimits, type InitReply, type WireDispatch } from './protocol.js';

/** Uniform slot per dispatch: ≥ minUniformBufferOffsetAlignment and room for 64 four-byte fields. */
const SLOT = 256;
/** Host bytes copied per writeBuffer call (Dawn cannot read SharedArrayBuffer views, so uploads go through a plain copy). */
const UPLOAD_CHUNK = 32 * 1024 * 1024;

class Runtime {
  /** Dawn's instance and adapter: kept reachable, since collecting them while the device lives crashes Dawn. */
  keep: unknown[] = [];
  private mirror: GPUBuffer;
  private uniform: GPUBuffer | null = null;
  private scratch: GPUBuffer | null = null;
  private readonly pipelines = new Map<string, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout; buffers: number }>();
  private readonly shaders = new Map<string, GpuShader>();
  private readonly staging = new Uint8Array(UPLOAD_CHUNK);
  private lost: string | null = null;

  constructor(
    private readonly device: GPUDevice,
    private readonly g: WebGpuModule['globals'],
    readonly limits: DeviceLimits,
    private readonly memory: WebAssembly.Memory,
  ) {
    this.mirror = this.newMirror(memory.buffer.byteLength);
    void device.lost.then((info) => (this.lost = `the GPU device was lost: ${info.message || info.reason}`));
  }

  private newMirror(bytes: number): GPUBuffer {
    const size = Math.min(Math.ceil(bytes / 4) * 4, Math.floor(this.limits.maxBufferSize / 4) * 4);
    const u = this.g.GPUBufferUsage;
    return this.device.createBuffer({ size, usage: u.STORAGE | u.COPY_SRC | u.COPY_DST, label: 'heap mirror' });
  }

  /** Recreates the mirror larger when the heap has grown, keeping its contents. */
  private growMirror(heapSize: number): void {
    if (heapSize <= this.mirror.size) return;
    const bigger = this.newMirror(heapSize);
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(this.mirror, 0, bigger, 0, this.mirror.size);
    this.device.queue.submit([enc.finish()]);
    this.mirror.destroy();
    this.mirror = bigger;
  }

  private buffer(old: GPUBuffer | null, size: number, usage: number, label: string): GPUBuffer {
    if (old && old.size >= size) return old;
    old?.destroy();
    return this.device.createBuffer({ size: Math.max(256, Math.ceil((size * 1.25) / 256) * 256), usage, label });
  }

  private async pipeline(name: string, buffers: number) {
    const have = this.pipelines.get(name);
    if (have) {
      if (have.buffers !== buffers) throw new Error(`shader ${name} binds ${have.buffers} buffers, a dispatch gave ${buffers}`);
      return have;
    }
    const shader = this.shaders.get(name);
    if (!shader) throw new Error(`shader ${name} was never sent to the GPU worker`);
    const stage = this.g.GPUShaderStage.COMPUTE;
    const layout = this.device.createBindGroupLayout({
      label: name,
      entries: Array.from({ length: buffers + 1 }, (_, i) => ({ binding: i, visibility: stage, buffer: { type: i === 0 ? 'uniform' : 'storage' } as const })),
    });
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code: shader.wgsl, label: name });
    const pipeline = this.device.createComputePipeline({
      label: name,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: 'main' },
    });
    const err = await this.device.popErrorScope();
    if (err) {
      const info = await module.getCompilationInfo();
      const msgs = info.messages.map((m) => `${m.type} at line ${m.lineNum}:${m.linePos}: ${m.message}`).join('; ');
      throw new Error(`WGSL shader ${name} does not compile: ${msgs || err.message}`);
    }
    const p = { pipeline, layout, buffers };
    this.pipelines.set(name, p);
    return p;
  }

  async run(b: Batch): Promise<void> {
    if (this.lost) throw new Error(this.lost);
    for (const s of b.shaders) this.shaders.set(s.name, s);
    this.growMirror(b.heapSize);
    const { device } = this;
    const heap = () => new Uint8Array(this.memory.buffer);

    for (let i = 0; i < b.uploads.length; i += 2) this.upload(b.uploads[i]!, b.uploads[i + 1]!, heap);

    // binding plans and uniforms first: the scratch and uniform buffers must exist before encoding
    const align = this.limits.minStorageBufferOffsetAlignment;
    const plans: { d: WireDispatch; bound: BoundRange[]; soff: number[] }[] = [];
    let scratchNeed = 0;
    const uni = new DataView(new ArrayBuffer(Math.max(1, b.dispatches.length) * SLOT));
    for (const [k, d] of b.dispatches.entries()) {
      await this.pipeline(d.name, d.buffers.length / 2);
      const bufs = [];
      for (let i = 0; i < d.buffers.length; i += 2) {
        const ptr = d.buffers[i]!, bytes = d.buffers[i + 1]!;
        if (ptr + bytes > this.mirror.size) throw new Error(`${d.name}: binding [${ptr}, +${bytes}) lies outside the heap mirror (${this.mirror.size} bytes)`);
        bufs.push({ ptr, bytes });
      }
      const bound = planBindings(bufs, writtenBuffers(this.shaders.get(d.name)!), align);
      const soff = bound.map((r) => {
        if (!r.scratch) return 0;
        const at = scratchNeed;
        scratchNeed += Math.ceil(r.size / 256) * 256;
        return at;
      });
      let o = k * SLOT;
      for (const r of bound) {
        uni.setUint32(o, r.elem, true);
        o += 4;
      }
      for (const [t, v] of d.params) {
        if (t === 'f32') uni.setFloat32(o, v, true);
        else if (t === 'i32') uni.setInt32(o, v, true);
        else uni.setUint32(o, v, true);
        o += 4;
      }
      if (o > (k + 1) * SLOT) throw new Error(`${d.name}: more than ${SLOT / 4} uniform fields`);
      plans.push({ d, bound, soff });
    }
    const u = this.g.GPUBufferUsage;
    if (b.dispatches.length) {
      this.uniform = this.buffer(this.uniform, uni.byteLength, u.UNIFORM | u.COPY_DST, 'uniforms');
      device.queue.writeBuffer(this.uniform, 0, uni.buffer, 0, uni.byteLength);
    }
    if (scratchNeed) this.scratch = this.buffer(this.scratch, scratchNeed, u.STORAGE | u.COPY_SRC | u.COPY_DST, 'scratch');

    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    const enc = device.createCommandEncoder();
    let pass: GPUComputePassEncoder | null = null;
    for (const [k, { d, bound, soff }] of plans.entries()) {
      const { pipeline, layout } = this.pipelines.get(d.name)!;
      const scratch = bound.some((r) => r.scratch);
      if (scratch) {
        pass?.end();
        pass = null;
        bound.forEach((r, i) => r.scratch && enc.copyBufferToBuffer(this.mirror, r.offset, this.scratch!, soff[i]!, r.size));
      }
      const bindGroup = device.createBindGroup({
        layout,
        entries: [
          { binding: 0, resource: { buffer: this.uniform!, offset: k * SLOT, size: SLOT } },
          ...bound.map((r, i) => ({
            binding: i + 1,
            resource: r.scratch ? { buffer: this.scratch!, offset: soff[i]!, size: r.size } : { buffer: this.mirror, offset: r.offset, size: r.size },
          })),
        ],
      });
      pass ??= enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(d.wg[0], d.wg[1], d.wg[2]);
      if (bound.some((r) => r.copyBack)) {
        pass.end();
        pass = null;
        bound.forEach((r, i) => {
          if (!r.copyBack) return;
          // exactly the buffer's own words: its neighbours inside the aligned range may have been written on the mirror
          const ptr = d.buffers[2 * i]!, end = Math.ceil((ptr + d.buffers[2 * i + 1]!) / 4) * 4;
          enc.copyBufferToBuffer(this.scratch!, soff[i]! + (ptr - r.offset), this.mirror, ptr, end - ptr);
        });
      }
    }
    pass?.end();

    // downloads: whole words into a staging buffer, then exactly the requested bytes into the heap
    const dl: { ptr: number; n: number; w0: number; at: number }[] = [];
    let total = 0;
    for (let i = 0; i < b.downloads.length; i += 2) {
      const ptr = b.downloads[i]!, n = b.downloads[i + 1]!;
      const w0 = Math.floor(ptr / 4) * 4, w1 = Math.ceil((ptr + n) / 4) * 4;
      dl.push({ ptr, n, w0, at: total });
      total += w1 - w0;
    }
    const staging = total ? device.createBuffer({ size: total, usage: u.MAP_READ | u.COPY_DST, label: 'download' }) : null;
    for (const r of dl) enc.copyBufferToBuffer(this.mirror, r.w0, staging!, r.at, Math.ceil((r.ptr + r.n) / 4) * 4 - r.w0);
    device.queue.submit([enc.finish()]);
    const errs = [await device.popErrorScope(), await device.popErrorScope()].filter((e) => e);
    if (errs.length) {
      staging?.destroy();
      throw new Error(`WebGPU: ${errs.map((e) => e!.message).join('; ')}`);
    }
    if (staging) {
      await staging.mapAsync(this.g.GPUMapMode.READ);
      const src = new Uint8Array(staging.getMappedRange());
      const h = heap();
      for (const r of dl) h.set(src.subarray(r.at + (r.ptr - r.w0), r.at + (r.ptr - r.w0) + r.n), r.ptr);
      staging.unmap();
      staging.destroy();
    } else {
      await device.queue.onSubmittedWorkDone();
    }
  }

  private upload(ptr: number, bytes: number, heap: () => Uint8Array): void {
    const w0 = Math.floor(ptr / 4) * 4, w1 = Math.ceil((ptr + bytes) / 4) * 4;
    for (let at = w0; at < w1; at += UPLOAD_CHUNK) {
      const n = Math.min(UPLOAD_CHUNK, w1 - at);
      this.staging.set(heap().subarray(at, at + n));
      this.device.queue.writeBuffer(this.mirror, at, this.staging.buffer, 0, n);
    }
  }
}

async function init(memory: WebAssembly.Memory, allowSoftware: boolean): Promise<{ reply: InitReply; runtime?: Runtime }> {
  const loaded = await loadWebGpu();
  if (!loaded.ok) return { reply: { ok: false, reason: loaded.reason } };
  const { gpu, globals, noAdapter } = loaded.module;
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    return { reply: { ok: false, reason: `${noAdapter}: ${(err as Error).message}` } };
  }
  if (!adapter) return { reply: { ok: false, reason: noAdapter } };
  const i = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const fallback = Boolean(i.isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter);
  const info: AdapterInfo = {
    vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description,
    software: isSoftware(fallback, i.vendor, i.architecture, i.device, i.description),
  };
  if (info.software && !allowSoftware) return { reply: { ok: false, reason: 'software adapter', adapter: info } };
  const L = adapter.limits;
  const want = {
    maxStorageBuffersPerShaderStage: L.maxStorageBuffersPerShaderStage,
    maxStorageBufferBindingSize: L.maxStorageBufferBindingSize,
    maxBufferSize: L.maxBufferSize,
    maxComputeWorkgroupStorageSize: L.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: L.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: L.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupSizeY: L.maxComputeWorkgroupSizeY,
    // the adapter's finest alignment: fewer neighbouring tensors share an aligned range (each share costs a scratch copy)
    minStorageBufferOffsetAlignment: L.minStorageBufferOffsetAlignment,
  };
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits: want });
  } catch (err) {
    return { reply: { ok: false, reason: `the adapter refused a device (${(err as Error).message})`, adapter: info } };
  }
  const D = device.limits;
  const limits: DeviceLimits = {
    maxComputeWorkgroupsPerDimension: D.maxComputeWorkgroupsPerDimension,
    maxStorageBufferBindingSize: D.maxStorageBufferBindingSize,
    minStorageBufferOffsetAlignment: D.minStorageBufferOffsetAlignment,
    maxComputeInvocationsPerWorkgroup: D.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupStorageSize: D.maxComputeWorkgroupStorageSize,
    maxBufferSize: D.maxBufferSize,
    maxStorageBuffersPerShaderStage: D.maxStorageBuffersPerShaderStage,
    minUniformBufferOffsetAlignment: D.minUniformBufferOffsetAlignment,
  };
  if (D.minUniformBufferOffsetAlignment > SLOT) {
    return { reply: { ok: false, reason: `minUniformBufferOffsetAlignment ${D.minUniformBufferOffsetAlignment} > ${SLOT}`, adapter: info } };
  }
  const runtime = new Runtime(device, globals, limits, memory);
  runtime.keep = [gpu, adapter];
  return { reply: { ok: true, adapter: info, limits }, runtime };
}

let runtime: Runtime | null = null;
let control: Int32Array | null = null;
let queue: Promise<void> = Promise.resolve();

// a worker that dies (an error outside a batch, Dawn aborting) must not leave the main thread waiting forever
onWorkerEnd(() => {
  if (control && Atomics.load(control, STATE) === RUNNING) {
    Atomics.store(control, STATE, FAILED);
    Atomics.notify(control, STATE);
  }
});

workerEndpoint((raw, reply, send) => {
  const msg = raw as { type: string; memory?: WebAssembly.Memory; control?: SharedArrayBuffer; allowSoftware?: boolean };
  if (msg.type === 'init') {
    control = new Int32Array(msg.control!);
    init(msg.memory!, msg.allowSoftware ?? true).then(
      (r) => {
        runtime = r.runtime ?? null;
        send(r.reply);
      },
      (err: Error) => send({ ok: false, reason: err.message } satisfies InitReply),
    );
    return;
  }
  // batches run one after another; the main thread waits on the state word for each
  queue = queue.then(async () => {
    try {
      if (!runtime) throw new Error('the GPU worker has no device');
      await runtime.run(raw as Batch);
      Atomics.store(control!, STATE, DONE);
    } catch (err) {
      reply({ error: (err as Error).message });
      Atomics.store(control!, STATE, FAILED);
    }
    Atomics.notify(control!, STATE);
  });
});
