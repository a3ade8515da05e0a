/**
 * The engine: one shared heap, the kernels that work on it (WebAssembly over a worker pool, matrix products
 * through BLAS when the native addon loads), arenas that free tensors in bulk, and the autodiff tape.
 */
import type { Kernels } from './kernels.js';
import { host } from './host.js';
import { Heap, MAX_THREADS } from './memory.js';
import { ReferenceKernels } from './reference.js';
import { Tape } from './tape.js';
import { Tensor, type DType } from './tensor.js';
import { UserError } from '../util/errors.js';
import type { AdapterInfo, DeviceLimits } from './webgpu/protocol.js';

export interface EngineOptions {
  /** Compute threads including the main one (default: all cores). */
  threads?: number;
  /** 'auto' (default): BLAS when the addon loads; 'wasm': never BLAS; 'reference': plain JS kernels (tests). */
  gemm?: 'auto' | 'blas' | 'wasm' | 'reference';
  /** Use relaxed-SIMD kernels when the runtime has them (default true). */
  relaxedSimd?: boolean;
  /** Upper bound of the WebAssembly memory in bytes (default 4 GiB). */
  maxMemory?: number;
  /**
   * 'auto' (default, or EAPGP_DEVICE): a hardware WebGPU adapter when the optional `webgpu` package finds one,
   * else the CPU; 'gpu': any adapter, software ones (lavapipe) included, else a UserError; 'cpu': never the GPU.
   */
  device?: 'auto' | 'cpu' | 'gpu';
}

/** The WebGPU adapter an engine runs on, or why it runs on the CPU. */
export interface DeviceInfo {
  device: 'cpu' | 'gpu';
  /** Why this device: the adapter chosen, or why none was (package missing, no adapter, software adapter under auto). */
  reason: string;
  adapter?: AdapterInfo;
  limits?: DeviceLimits;
}

export interface EngineInfo {
  kernels: string;
  threads: number;
  gemmPath: 'blas' | 'wasm' | 'reference' | 'webgpu';
  /** Why this GEMM path is active. */
  gemmReason: string;
  blasConfig?: string;
  relaxedSimd: boolean;
  memoryMax: number;
  /** CPU or GPU, and why (absent: CPU, the GPU not considered). */
  device?: DeviceInfo;
}

/** A set of tensors freed together; arenas nest, and `keep` moves a tensor to the enclosing arena. */
export class Arena {
  readonly tensors = new Set<Tensor>();
  constructor(readonly parent: Arena | null) {}
}

export class Engine {
  private arenaTop: Arena | null = null;
  /** The active tape, if gradients are being recorded. */
  tape: Tape | null = null;

  constructor(
    readonly heap: Heap,
    readonly kernels: Kernels,
    readonly info: EngineInfo,
    private readonly closers: (() => Promise<void> | void)[] = [],
  ) {}

  // ---- tensors

  /** Registers a tensor with the current arena (ops call this for every new tensor). */
  register(t: Tensor): Tensor {
    this.arenaTop?.tensors.add(t);
    return t;
  }
  /** An uninitialised tensor in the current arena. */
  empty(shape: readonly number[], dtype: DType = 'f32'): Tensor {
    return this.register(this.emptyDetached(shape, dtype));
  }
  /** An uninitialised tensor that belongs to no arena (the caller frees it). */
  emptyDetached(shape: readonly number[], dtype: DType = 'f32'): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    return new Tensor(this, this.heap.alloc(n * 4), shape, dtype);
  }
  zeros(shape: readonly number[]): Tensor {
    const t = this.empty(shape);
    this.heap.fillF32(t.ptr, t.size, 0);
    return t;
  }
  fromArray(data: ArrayLike<number>, shape: readonly number[] = [data.length], dtype: DType = 'f32'): Tensor {
    return this.empty(shape, dtype).set(data);
  }

  // ---- arenas

  /** Runs `fn` in a new arena and frees every tensor it created except those returned (or kept). */
  tidy<T>(fn: () => T): T {
    const arena = this.beginArena();
    let out: T;
    try {
      out = fn();
    } catch (err) {
      this.endArena(arena);
      throw err;
    }
    for (const t of collectTensors(out)) this.keep(t);
    this.endArena(arena);
    return out;
  }
  beginArena(): Arena {
    const a = new Arena(this.arenaTop);
    this.arenaTop = a;
    return a;
  }
  /** Frees the arena's tensors and makes its parent current. */
  endArena(a: Arena): void {
    if (this.arenaTop !== a) throw new Error('arenas must end in reverse order');
    for (const t of a.tensors) t.dispose();
    this.arenaTop = a.parent;
  }
  /** Moves `t` out of the current arena into its parent (or out of all arenas). */
  keep(t: Tensor): Tensor {
    const a = this.arenaTop;
    if (a?.tensors.delete(t)) a.parent?.tensors.add(t);
    if (t.base) this.keep(t.base); // an alias is only as alive as the memory it views
    return t;
  }

  // ---- gradients

  /** Runs `fn` with a fresh tape recording ops; returns its result and the tape. */
  record<T>(fn: (tape: Tape) => T): T {
    const prev = this.tape;
    const tape = new Tape(this);
    this.tape = tape;
    try {
      return fn(tape);
    } finally {
      this.tape = prev;
    }
  }

  async close(): Promise<void> {
    for (const c of this.closers.splice(0)) await c();
  }
}

function* collectTensors(v: unknown, depth = 0): Generator<Tensor> {
  if (v instanceof Tensor) yield v;
  else if (depth < 3 && Array.isArray(v)) for (const x of v) yield* collectTensors(x, depth + 1);
  else if (depth < 3 && v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    for (const x of Object.values(v)) yield* collectTensors(x, depth + 1);
  }
}

/** Kernels whose matrix products go to another implementation (BLAS) and everything else to `base`. */
function withGemm(base: Kernels, gemm: Pick<Kernels, 'gemm' | 'gemmBatched'>, name: string): Kernels {
  const k = Object.create(base) as Kernels;
  return Object.assign(k, {
    name,
    gemm: gemm.gemm.bind(gemm),
    gemmBatched: gemm.gemmBatched.bind(gemm),
  });
}

/** Why `auto` found no hardware adapter in this process (probed once: a probe starts Dawn in a worker). */
let noAutoGpu: string | null = null;
let noAutoAdapter: AdapterInfo | undefined;

/**
 * The GPU engine when `device` asks for one and an adapter is there; otherwise null and why. `auto` skips software
 * adapters (lavapipe, SwiftShader emulate a GPU on the CPU, slower than the CPU kernels).
 */
async function gpuEngine(heap: Heap, device: 'auto' | 'gpu'): Promise<{ engine: Engine | null; reason: string; adapter?: AdapterInfo }> {
  if (device === 'auto' && noAutoGpu) return { engine: null, reason: noAutoGpu, adapter: noAutoAdapter };
  if (device === 'auto') {
    const { noHardwareVulkan } = await import('./webgpu/platform.js');
    noAutoGpu = noHardwareVulkan();
    if (noAutoGpu) return { engine: null, reason: noAutoGpu };
  }
  const { GpuKernels } = await import('./webgpu/gpu-kernels.js');
  const got = await GpuKernels.create(heap, device === 'gpu');
  if (!got.ok && got.adapter?.software && device === 'auto') {
    noAutoGpu = `${describeAdapter(got.adapter)} is a software adapter (slower than the CPU path); --device gpu uses it anyway`;
    noAutoAdapter = got.adapter;
    return { engine: null, reason: noAutoGpu, adapter: got.adapter };
  }
  if (!got.ok) {
    if (device === 'gpu') {
      const { noAdapterMessage } = await import('./webgpu/platform.js');
      throw new UserError(noAdapterMessage(got.reason));
    }
    noAutoGpu = got.reason;
    return { engine: null, reason: got.reason, adapter: got.adapter };
  }
  const k = got.kernels;
  const name = describeAdapter(k.adapter);
  const info: EngineInfo = {
    kernels: k.name, threads: 1, gemmPath: 'webgpu', gemmReason: 'every kernel runs on the GPU (WebGPU)', relaxedSimd: false,
    memoryMax: heap.maxBytes,
    device: { device: 'gpu', reason: `${device === 'gpu' ? '--device gpu' : 'auto'}: ${name}`, adapter: k.adapter, limits: k.limits },
  };
  return { engine: new Engine(heap, k, info, [() => k.close()]), reason: info.device!.reason };
}

export function describeAdapter(a: AdapterInfo): string {
  const parts = [a.vendor, a.architecture, a.device, a.description].filter((s) => s);
  return `${parts.join(' / ') || 'unnamed adapter'}${a.software ? ' (software)' : ''}`;
}

/** Creates the engine: heap, kernels (WebGPU, or WebAssembly with optional BLAS). */
export async function createEngine(opts: EngineOptions = {}): Promise<Engine> {
  const threads = Math.max(1, Math.min(MAX_THREADS, opts.threads ?? host.cores()));
  const heap = new Heap(opts.maxMemory, undefined, host.sharedMemory());
  const mode = opts.gemm ?? (host.env('EAPGP_GEMM') as EngineOptions['gemm']) ?? 'auto';
  const device = opts.device ?? ((host.env('EAPGP_DEVICE') || undefined) as EngineOptions['device']) ?? 'auto';
  if (!['auto', 'cpu', 'gpu'].includes(device)) throw new UserError(`EAPGP_DEVICE must be auto, cpu or gpu, got "${device}"`);
  let cpuReason = device === 'cpu' ? '--device cpu (or EAPGP_DEVICE=cpu)' : 'reference kernels requested';
  let seen: AdapterInfo | undefined;
  // the reference kernels are a CPU test path: auto does not look for a GPU there
  if (device === 'gpu' || (device === 'auto' && mode !== 'reference')) {
    const got = await gpuEngine(heap, device);
    if (got.engine) return got.engine;
    cpuReason = `no GPU: ${got.reason}`;
    seen = got.adapter;
  }
  const cpu: DeviceInfo = { device: 'cpu', reason: cpuReason, adapter: seen };
  if (mode === 'reference') {
    const k = new ReferenceKernels(heap);
    return new Engine(heap, k, {
      kernels: k.name, threads: 1, gemmPath: 'reference', gemmReason: 'reference kernels requested',
      relaxedSimd: false, memoryMax: heap.maxBytes, device: cpu,
    });
  }
  const { createWasmKernels } = await import('./wasm-kernels.js');
  const wasm = await createWasmKernels(heap, { threads, relaxed: opts.relaxedSimd });
  const closers: (() => Promise<void> | void)[] = [() => wasm.close()];
  let kernels: Kernels = wasm;
  let gemmPath: EngineInfo['gemmPath'] = 'wasm';
  let gemmReason: string;
  let blasConfig: string | undefined;
  if (mode === 'wasm') {
    gemmReason = 'BLAS disabled (--gemm wasm / EAPGP_GEMM=wasm)';
  } else {
    const loaded = await host.loadBlas(heap);
    if (loaded.ok) {
      loaded.blas.setThreads(threads);
      kernels = withGemm(wasm, loaded.blas, `${wasm.name}; GEMM: OpenBLAS`);
      gemmPath = 'blas';
      blasConfig = loaded.blas.info.config;
      gemmReason = 'native OpenBLAS addon loaded';
    } else if (mode === 'blas') {
      await wasm.close();
      throw new UserError(
        `BLAS was requested (--gemm blas or EAPGP_GEMM=blas) but the native addon is not available: ${loaded.reason}. ` +
          'Use --gemm auto or --gemm wasm, or build the addon: install OpenBLAS headers (apt-get install libopenblas-dev) and run npm rebuild',
      );
    } else {
      gemmReason = `native BLAS addon not available (${loaded.reason})`;
    }
  }
  return new Engine(
    heap,
    kernels,
    { kernels: kernels.name, threads: wasm.threads, gemmPath, gemmReason, blasConfig, relaxedSimd: wasm.relaxedSimd, memoryMax: heap.maxBytes, device: cpu },
    closers,
  );
}
