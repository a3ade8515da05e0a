/**
 * The seam between the kernel-contract methods and the WebGPU runtime: an OpBuilder turns one Kernels call into
 * compute dispatches over heap ranges, and the runtime (gpu-worker.ts) binds those ranges of its heap mirror.
 *
 * Binding convention of every shader: `@group(0) @binding(0) var<uniform> p: Params;` with
 * `struct Params { o0: u32, …, o{n−1}: u32, <params in order> }` (one u32 element offset per buffer, then the
 * params, every field a 4-byte scalar), and `@group(0) @binding(i+1) var<storage, read_write> bI: array<…>;`
 * addressed as `bI[p.oI + j]`. All storage bindings are read_write; the runtime resolves overlapping ranges.
 */

/** One WGSL compute shader; `name` keys the pipeline cache (one pipeline per name). Entry point is `main`. */
export interface GpuShader { readonly name: string; readonly wgsl: string }
/** A heap range a dispatch reads or writes: byte offset into the heap and length in bytes. */
export interface GpuBinding { readonly ptr: number; readonly bytes: number }
export type GpuParam = readonly ['u32' | 'i32' | 'f32', number];
export interface GpuDispatch {
  readonly shader: GpuShader;
  readonly buffers: readonly GpuBinding[];   // binding i+1, in order
  readonly params: readonly GpuParam[];      // after the buffers' element offsets in the uniform
  readonly workgroups: readonly [number, number, number]; // each ≤ limits.maxComputeWorkgroupsPerDimension
}
export interface GpuLimits { maxComputeWorkgroupsPerDimension: number; maxStorageBufferBindingSize: number;
  minStorageBufferOffsetAlignment: number; maxComputeInvocationsPerWorkgroup: number; maxComputeWorkgroupStorageSize: number }
/** Builds the dispatches of one kernel-contract method: same arguments as the Kernels method, limits first. */
export type OpBuilder<A extends unknown[]> = (limits: GpuLimits, ...args: A) => GpuDispatch[];
