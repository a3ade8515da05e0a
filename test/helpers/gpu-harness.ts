/**
 * Test-only runner for GpuDispatch lists on a Dawn device (the `webgpu` package), following the binding
 * convention of src/engine/webgpu/dispatch.ts: it copies the heap window the dispatches touch into one GPU
 * buffer, binds each buffer from its pointer rounded down to the alignment of the limits the ops were built
 * with, runs the dispatches in order in one pass and copies the window back into the heap.
 * Stands in for the runtime until the two branches meet; null when no adapter exists.
 */
import os from 'node:os';
import type { GpuDispatch, GpuLimits } from '../../src/engine/webgpu/dispatch.js';
import type { Heap } from '../../src/engine/memory.js';

export class GpuHarness {
  private readonly pipelines = new Map<string, { wgsl: string; pipeline: GPUComputePipeline }>();

  private constructor(
    /** Held so that it outlives the device: Dawn crashes when the instance is collected first. */
    readonly gpu: GPU,
    readonly device: GPUDevice,
    readonly limits: GpuLimits,
    readonly adapterName: string,
  ) {}

  static async create(): Promise<GpuHarness | null> {
    let mod: typeof import('webgpu');
    try {
      mod = await import('webgpu');
    } catch {
      return null;
    }
    process.env.XDG_RUNTIME_DIR ??= os.tmpdir();
    Object.assign(globalThis, mod.globals);
    const gpu = mod.create([]);
    const adapter = await gpu.requestAdapter();
    if (!adapter) return null;
    const l = adapter.limits;
    const device = await adapter.requestDevice({
      requiredLimits: {
        maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
        maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
        minStorageBufferOffsetAlignment: l.minStorageBufferOffsetAlignment,
        maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
        maxBufferSize: l.maxBufferSize,
      },
    });
    const limits: GpuLimits = {
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      minStorageBufferOffsetAlignment: l.minStorageBufferOffsetAlignment,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    };
    const info = adapter.info;
    return new GpuHarness(gpu, device, limits, `${info.vendor} ${info.device || info.description}`.trim());
  }

  /** Compiles a shader not seen before, failing with the WGSL compiler's messages. */
  private async compile(d: GpuDispatch): Promise<void> {
    const { name, wgsl } = d.shader;
    const hit = this.pipelines.get(name);
    if (hit) {
      if (hit.wgsl !== wgsl) throw new Error(`shader ${name}: two different WGSL texts under one name`);
      return;
    }
    const module = this.device.createShaderModule({ code: wgsl });
    const errors = (await module.getCompilationInfo()).messages.filter((m) => m.type === 'error');
    if (errors.length) throw new Error(`shader ${name}: ${errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ')}\n${wgsl}`);
    const pipeline = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    this.pipelines.set(name, { wgsl, pipeline });
  }

  private pipeline(d: GpuDispatch): GPUComputePipeline {
    return this.pipelines.get(d.shader.name)!.pipeline;
  }

  /** Runs `dispatches` (built with `limits`, whose alignment must be a multiple of the device's) on the heap's contents. */
  async run(heap: Heap, dispatches: readonly GpuDispatch[], limits: GpuLimits = this.limits): Promise<void> {
    if (dispatches.length === 0) return;
    for (const d of dispatches) await this.compile(d);
    const align = limits.minStorageBufferOffsetAlignment;
    const bound = dispatches.map((d) => d.buffers.map((b) => {
      const at = Math.floor(b.ptr / align) * align;
      return { at, size: Math.ceil((b.ptr + b.bytes - at) / 4) * 4, o: (b.ptr - at) / 4 };
    }));
    const flat = bound.flat();
    const lo = Math.min(...flat.map((b) => b.at)), hi = Math.max(...flat.map((b) => b.at + b.size));
    const dev = this.device;
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const buf = dev.createBuffer({ size: hi - lo, usage });
    dev.queue.writeBuffer(buf, 0, heap.u8.slice(lo, hi));
    dev.pushErrorScope('validation');
    const enc = dev.createCommandEncoder();
    const uniforms: GPUBuffer[] = [];
    dispatches.forEach((d, k) => {
      const words = bound[k]!.length + d.params.length;
      const u = new ArrayBuffer(Math.ceil(words / 4) * 16);
      const u32 = new Uint32Array(u), i32 = new Int32Array(u), f32 = new Float32Array(u);
      bound[k]!.forEach((b, i) => (u32[i] = b.o));
      d.params.forEach(([t, v], i) => {
        const j = bound[k]!.length + i;
        if (t === 'f32') f32[j] = v;
        else if (t === 'i32') i32[j] = v;
        else u32[j] = v;
      });
      const ub = dev.createBuffer({ size: u.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
      dev.queue.writeBuffer(ub, 0, u);
      uniforms.push(ub);
      const pipeline = this.pipeline(d);
      const group = dev.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: ub } },
          ...bound[k]!.map((b, i) => ({ binding: i + 1, resource: { buffer: buf, offset: b.at - lo, size: b.size } })),
        ],
      });
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(...d.workgroups);
      pass.end();
    });
    const read = dev.createBuffer({ size: hi - lo, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    enc.copyBufferToBuffer(buf, 0, read, 0, hi - lo);
    dev.queue.submit([enc.finish()]);
    const err = await dev.popErrorScope();
    if (err) throw new Error(`WebGPU validation: ${err.message}`);
    // Dawn's pending map does not hold Node's event loop open: a timer does until it resolves
    const alive = setInterval(() => {}, 5);
    try {
      await read.mapAsync(GPUMapMode.READ);
    } finally {
      clearInterval(alive);
    }
    heap.u8.set(new Uint8Array(read.getMappedRange()), lo);
    read.unmap();
    for (const b of [buf, read, ...uniforms]) b.destroy();
  }

  destroy(): void {
    this.device.destroy();
  }
}
