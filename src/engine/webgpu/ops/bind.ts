/**
 * Turns a kernel's named heap operands into the bindings of one dispatch, and its WGSL body into a shader.
 *
 * Dawn rejects a dispatch whose writable bindings of one buffer overlap ("Writable storage buffer binding
 * aliasing"), and the runtime binds each range from its pointer rounded down to minStorageBufferOffsetAlignment
 * (256 on NVIDIA, while heap blocks are 64-byte aligned). The runtime would bind such overlaps to scratch copies
 * (bindings.ts); instead, operands whose bound ranges would overlap, an in-place call (dx = dy) or neighbours such
 * as a norm's mean and rstd, share one binding here and are read and written in place, each reached at
 * its own element offset (a `d_<name>` field of the uniform). The body reads and writes operand `x` only through
 * the generated `ld_x(i)` and `st_x(i, v)` (the latter only where the body calls it), so one body serves every
 * grouping.
 */
import type { GpuBinding, GpuDispatch, GpuLimits, GpuParam } from '../dispatch.js';

/** A heap range a kernel touches, named as its WGSL body names it. */
export interface Operand {
  readonly name: string;
  readonly ptr: number;
  readonly bytes: number;
}

/** A scalar of the uniform after the offsets, named as the body reads it (`p.<name>`). */
export type Param = readonly [name: string, type: GpuParam[0], value: number];

interface Group {
  members: number[];
  lo: number;
  hi: number;
}

const ceil4 = (n: number): number => Math.ceil(n / 4) * 4;

/** Operands grouped so that no two groups' bound ranges overlap; groups in the order of their first operand. */
function group(ops: readonly Operand[], align: number): Group[] {
  const order = ops.map((_, i) => i).sort((a, b) => ops[a]!.ptr - ops[b]!.ptr || a - b);
  const groups: Group[] = [];
  let cur: Group | null = null;
  for (const i of order) {
    const o = ops[i]!;
    const lo = Math.floor(o.ptr / align) * align, hi = o.ptr + ceil4(o.bytes);
    if (cur && lo < cur.hi) {
      cur.members.push(i);
      cur.hi = Math.max(cur.hi, hi);
    } else {
      cur = { members: [i], lo, hi };
      groups.push(cur);
    }
  }
  for (const g of groups) g.members.sort((a, b) => a - b);
  return groups.sort((a, b) => a.members[0]! - b.members[0]!);
}

const shaders = new Map<string, string>();

/**
 * One dispatch of `kernel`: `body` is WGSL using `p.<param>` and the operands' accessors, entry point `main`.
 * `variant` names what makes the body differ between calls of one kernel (flags compiled in), so that the
 * shader name (the pipeline cache key) is unique per WGSL text.
 */
export function dispatch(
  limits: GpuLimits, kernel: string, variant: string, ops: readonly Operand[], params: readonly Param[],
  body: string, workgroups: readonly [number, number, number],
): GpuDispatch {
  const groups = group(ops, limits.minStorageBufferOffsetAlignment);
  const buffers: GpuBinding[] = [];
  const deltas: GpuParam[] = [];
  const fields: string[] = groups.map((_, k) => `o${k}: u32`);
  const access: string[] = [];
  groups.forEach((g, k) => {
    const base = Math.min(...g.members.map((i) => ops[i]!.ptr));
    const end = Math.max(...g.members.map((i) => ops[i]!.ptr + ceil4(ops[i]!.bytes)));
    if (end - g.lo > limits.maxStorageBufferBindingSize) {
      const names = g.members.map((i) => ops[i]!.name).join(', ');
      throw new Error(`${kernel}: binding of ${names} (${end - g.lo} bytes) exceeds maxStorageBufferBindingSize ${limits.maxStorageBufferBindingSize}`);
    }
    buffers.push({ ptr: base, bytes: end - base });
    for (const i of g.members) {
      const o = ops[i]!;
      let at = `p.o${k} + i`;
      if (g.members.length > 1) {
        fields.push(`d_${o.name}: u32`);
        deltas.push(['u32', (o.ptr - base) / 4]);
        at = `p.o${k} + p.d_${o.name} + i`;
      }
      access.push(`fn ld_${o.name}(i: u32) -> f32 { return b${k}[${at}]; }`);
      // only for operands the body writes: the runtime reads which bindings a shader writes from its WGSL
      if (body.includes(`st_${o.name}(`)) access.push(`fn st_${o.name}(i: u32, v: f32) { b${k}[${at}] = v; }`);
    }
  });
  for (const [name, type] of params) fields.push(`${name}: ${type}`);
  for (const w of workgroups) {
    if (w > limits.maxComputeWorkgroupsPerDimension) {
      throw new Error(`${kernel}: ${w} workgroups exceed maxComputeWorkgroupsPerDimension ${limits.maxComputeWorkgroupsPerDimension}`);
    }
  }
  const layout = groups.map((g) => g.members.map((i) => ops[i]!.name).join('+')).join(',');
  const name = `${kernel}${variant ? `/${variant}` : ''}[${layout}]`;
  let wgsl = shaders.get(name);
  if (wgsl === undefined) {
    wgsl = [
      `struct Params { ${fields.join(', ')} }`,
      '@group(0) @binding(0) var<uniform> p: Params;',
      ...groups.map((_, k) => `@group(0) @binding(${k + 1}) var<storage, read_write> b${k}: array<f32>;`),
      ...access,
      body,
    ].join('\n');
    shaders.set(name, wgsl);
  }
  return { shader: { name, wgsl }, buffers, params: [...deltas, ...params.map(([, t, v]) => [t, v] as const)], workgroups };
}

/**
 * Consecutive ranges [start, count) of `n` items (rows, batches) such that a dispatch binding `perItem` bytes
 * per item plus `fixed` bytes fits maxStorageBufferBindingSize even if every operand merges into one binding
 * (each may add an alignment's worth), and at most `maxCount` items (a workgroup dimension) per range.
 */
export function chunks(
  limits: GpuLimits, kernel: string, n: number, perItem: number, fixed: number, nOps: number, maxCount: number,
): [number, number][] {
  const room = limits.maxStorageBufferBindingSize - fixed - nOps * (limits.minStorageBufferOffsetAlignment + 4);
  const per = Math.min(maxCount, Math.floor(room / perItem));
  if (per < 1) {
    throw new Error(`${kernel}: one item needs ${perItem + fixed} bytes of bindings, over maxStorageBufferBindingSize ${limits.maxStorageBufferBindingSize}`);
  }
  const out: [number, number][] = [];
  for (let s = 0; s < n; s += per) out.push([s, Math.min(per, n - s)]);
  return out;
}
