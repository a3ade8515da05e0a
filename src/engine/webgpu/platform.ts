/**
 * Everything of the WebGPU backend that is specific to Node: loading the optional `webgpu` package (Dawn), the
 * GPU worker thread, and reading its error reply synchronously. The page's build puts ./platform-browser.ts in
 * its place (navigator.gpu, a Web Worker, a SharedArrayBuffer for the reply); both export the same names.
 */
/// <reference types="@webgpu/types" />
import { readdirSync } from 'node:fs';
import os from 'node:os';
import { MessageChannel, Worker, parentPort, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';

export interface WebGpuModule {
  gpu: GPU;
  /** GPUBufferUsage, GPUShaderStage, GPUMapMode (Dawn's globals). */
  globals: { GPUBufferUsage: GPUBufferUsage; GPUShaderStage: GPUShaderStage; GPUMapMode: GPUMapMode };
  /** Why there is no adapter when requestAdapter() gives none, in this platform's terms. */
  noAdapter: string;
}

/** Loads Dawn through the optional `webgpu` package: the module, or why it could not be loaded. */
export async function loadWebGpu(): Promise<{ ok: true; module: WebGpuModule } | { ok: false; reason: string }> {
  // Dawn warns on stderr when it cannot find a runtime directory; any writable one will do
  process.env.XDG_RUNTIME_DIR ??= os.tmpdir();
  const name = 'webgpu'; // a variable keeps TypeScript from requiring the optional package at build time
  try {
    const mod = (await import(name)) as { create(flags: string[]): GPU; globals: WebGpuModule['globals'] };
    return {
      ok: true,
      module: { gpu: mod.create([]), globals: mod.globals, noAdapter: 'Dawn found no WebGPU adapter (no Vulkan/Metal/D3D12 driver that it can use)' },
    };
  } catch (err) {
    return { ok: false, reason: `the optional package "webgpu" did not load (${(err as Error).message.split('\n')[0]})` };
  }
}

/**
 * Why `auto` need not start Dawn on this machine: on Linux, no GPU device node (/dev/dri/renderD* for Mesa's
 * drivers, /dev/nvidia* for NVIDIA's, /dev/dxg under WSL), so every Vulkan driver can offer at most lavapipe, a
 * GPU emulated on the CPU that `auto` refuses. Starting Dawn would cost a worker and print Dawn's warnings about
 * lavapipe's limits on stderr. Null: probe with Dawn (another system, a driver list in the environment, or a node).
 */
export function noHardwareVulkan(): string | null {
  if (process.platform !== 'linux') return null;
  const env = process.env;
  if (env.VK_DRIVER_FILES || env.VK_ICD_FILENAMES || env.VK_ADD_DRIVER_FILES) return null;
  const list = (dir: string) => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  const nodes = [...list('/dev/dri').filter((f) => f.startsWith('renderD')), ...list('/dev').filter((f) => /^nvidia\d+$|^dxg$/.test(f))];
  if (nodes.length > 0) return null;
  return 'no GPU device node (/dev/dri/renderD*, /dev/nvidia*), so only a software Vulkan device (lavapipe) could exist; --device gpu uses it anyway';
}

/** `--device gpu` found no adapter: the user error's text, with what to install. */
export function noAdapterMessage(reason: string): string {
  return (
    `--device gpu (or EAPGP_DEVICE=gpu): no WebGPU adapter: ${reason}. Install a Vulkan driver for the GPU ` +
    '(NVIDIA: the proprietary driver with its Vulkan ICD; AMD/Intel: mesa-vulkan-drivers; no GPU: mesa-vulkan-drivers ' +
    'from Debian bookworm-backports gives the lavapipe software device), make sure the optional package "webgpu" installed, or use --device cpu'
  );
}

/** The main thread's end of the GPU worker. */
export interface WorkerLink {
  post(msg: unknown): void;
  /** The worker's next reply on the error port, read without yielding to the event loop. */
  takeReply(): unknown;
  /** Resolves with the worker's next message on its main channel. */
  next(): Promise<unknown>;
  terminate(): Promise<void>;
}

export function startWorker(): WorkerLink {
  const worker = new Worker(new URL('./gpu-worker.js', import.meta.url));
  const { port1, port2 } = new MessageChannel();
  worker.postMessage({ type: 'port', port: port2 }, [port2]);
  worker.unref();
  let failed: Error | null = null;
  worker.on('error', (err) => (failed = err));
  return {
    post: (msg) => worker.postMessage(msg),
    takeReply: () => receiveMessageOnPort(port1)?.message ?? (failed ? { error: failed.message } : undefined),
    next: () =>
      new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      }),
    terminate: async () => {
      port1.close();
      await worker.terminate();
    },
  };
}

/** The worker's side: messages from the main thread, and the port it sends error replies on. */
export function workerEndpoint(onMessage: (msg: unknown, reply: (m: unknown) => void, send: (m: unknown) => void) => void): void {
  const parent = parentPort!;
  let port: MessagePort | null = null;
  parent.on('message', (msg: { type?: string; port?: MessagePort }) => {
    if (msg.type === 'port') {
      port = msg.port!;
      return;
    }
    onMessage(msg, (m) => port!.postMessage(m), (m) => parent.postMessage(m));
  });
}

/** Runs `fn` when the GPU worker's thread ends (an error outside a batch, Dawn aborting). */
export function onWorkerEnd(fn: () => void): void {
  process.on('exit', fn);
}
