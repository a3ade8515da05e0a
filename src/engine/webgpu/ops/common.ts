/** Helpers the OpBuilders share: bindings, 2-D workgroup grids, and splitting ranges that exceed a binding. */
import type { GpuBinding, GpuDispatch, GpuLimits, GpuParam, GpuShader } from '../dispatch.js';

export const bind = (ptr: number, elems: number, elemBytes = 4): GpuBinding => ({ ptr, bytes: Math.max(4, elems * elemBytes) });

/** A grid of `groups` workgroups as [x, y, 1] with x ≤ the per-dimension limit (shaders number items with gi()). */
export function grid(limits: GpuLimits, groups: number, name: string): [number, number, number] {
  const max = limits.maxComputeWorkgroupsPerDimension;
  const x = Math.min(groups, max), y = Math.ceil(groups / max);
  if (y > max) throw new Error(`${name}: ${groups} workgroups exceed maxComputeWorkgroupsPerDimension² (${max}²)`);
  return [x, y, 1];
}

/** Elements per piece so that one binding of `elemBytes`-sized elements, after alignment, fits the binding limit. */
export function pieceElems(limits: GpuLimits, elemBytes = 4, multiple = 256): number {
  const room = limits.maxStorageBufferBindingSize - limits.minStorageBufferOffsetAlignment - 4;
  return Math.max(multiple, Math.floor(room / elemBytes / multiple) * multiple);
}

/** One dispatch per piece [start, start + count) of n items, `groupsOf(count)` workgroups each. */
export function pieces(n: number, per: number, make: (start: number, count: number) => GpuDispatch): GpuDispatch[] {
  const out: GpuDispatch[] = [];
  for (let s = 0; s < n; s += per) out.push(make(s, Math.min(per, n - s)));
  return out;
}

export const dispatch = (shader: GpuShader, buffers: GpuBinding[], params: GpuParam[], workgroups: [number, number, number]): GpuDispatch =>
  ({ shader, buffers, params, workgroups });

/** Memoised shader per key (variants of one kernel: transposes, activation kinds). */
export function variants<K extends string | number>(make: (key: K) => GpuShader): (key: K) => GpuShader {
  const cache = new Map<K, GpuShader>();
  return (key) => {
    let s = cache.get(key);
    if (!s) cache.set(key, (s = make(key)));
    return s;
  };
}

export function checkCount(kernel: string, ...counts: number[]): void {
  for (const c of counts) if (!(Number.isInteger(c) && c >= 0)) throw new Error(`${kernel}: sizes must be integers ≥ 0, got ${counts.join(', ')}`);
}
