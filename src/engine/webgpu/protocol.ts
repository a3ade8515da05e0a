/** Messages between GpuKernels (main thread) and the GPU worker. Heap ranges travel as flat [ptr, bytes, …] lists. */
import type { GpuLimits, GpuParam, GpuShader } from './dispatch.js';

export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** The adapter says it is a fallback (software) adapter, or its name is a known CPU emulation (lavapipe, SwiftShader). */
  software: boolean;
}

/** The limits the runtime and the OpBuilders care about (the device is created with the adapter's values). */
export interface DeviceLimits extends GpuLimits {
  maxBufferSize: number;
  maxStorageBuffersPerShaderStage: number;
  minUniformBufferOffsetAlignment: number;
}

export type InitReply = { ok: true; adapter: AdapterInfo; limits: DeviceLimits } | { ok: false; reason: string; adapter?: AdapterInfo };

export interface WireDispatch {
  name: string;
  buffers: number[];
  params: GpuParam[];
  wg: [number, number, number];
}

export interface Batch {
  type: 'batch';
  /** Bytes of the heap now: the mirror grows to match. */
  heapSize: number;
  /** Shaders not sent before. */
  shaders: GpuShader[];
  uploads: number[];
  dispatches: WireDispatch[];
  downloads: number[];
}

/** control[STATE] of the shared Int32Array: the worker sets DONE or FAILED and notifies. */
export const STATE = 0;
export const RUNNING = 0;
export const DONE = 1;
export const FAILED = 2;

/** Known CPU emulations of a GPU: slower than the engine's own CPU path, so `auto` never picks them. */
export function isSoftware(fallback: boolean, ...names: string[]): boolean {
  return fallback || /llvmpipe|lavapipe|swiftshader|software|microsoft basic render/i.test(names.join(' '));
}
