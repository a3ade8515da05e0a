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
