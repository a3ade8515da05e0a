/**
 * How a dispatch's heap ranges become bindings of the heap mirror. WebGPU rejects two writable bindings of one
 * buffer whose ranges overlap (Dawn: "Writable storage buffer binding aliasing"), and every binding here is
 * read_write, so ranges that overlap after rounding down to minStorageBufferOffsetAlignment (or that alias on
 * purpose, out = x) cannot all bind the mirror: the runtime binds the extra ones to a copy in a scratch buffer and
 * copies the written ones back after the dispatch. Which bindings a shader writes is read from its WGSL.
 */
import type { GpuBinding, GpuShader } from './dispatch.js';

const writtenCache = new Map<string, ReadonlySet<number>>();

/** Indices i of the storage arrays `bI` the shader assigns to (`bI[…] =`, `+=`, …). */
export function writtenBuffers(shader: GpuShader): ReadonlySet<number> {
  let w = writtenCache.get(shader.name);
  if (w) return w;
  const src = shader.wgsl.replace(/\/\/[^\n]*/g, '');
  const out = new Set<number>();
  const re = /\bb(\d+)\s*\[/g;
  for (let m = re.exec(src); m; m = re.exec(src)) {
    // skip to the matching ']' (indices nest: b1[p.o1 + u32(b0[p.o0 + i])])
    let depth = 1, j = m.index + m[0].length;
    while (j < src.length && depth > 0) {
      if (src[j] === '[') depth++;
      else if (src[j] === ']') depth--;
      j++;
    }
    const rest = /^\s*([-+*/%&|^]|<<|>>)?=(?!=)/.exec(src.slice(j, j + 8));
    if (rest) out.add(Number(m[1]));
  }
  w = out;
  writtenCache.set(shader.name, w);
  return w;
}

/** Where binding i goes: the mirror at `offset` (bytes), or a scratch copy of [offset, offset + size). */
export interface BoundRange {
  /** Byte offset of the bound range in the heap (ptr rounded down to the alignment). */
  offset: number;
  /** Bytes bound (a multiple of 4, ≥ 4). */
  size: number;
  /** The uniform's oI: (ptr − offset) / 4. */
  elem: number;
  /** True: bound to a scratch copy of the range instead of the mirror. */
  scratch: boolean;
  /** Scratch-bound and written by the shader: [ptr, ptr + bytes) is copied back after the dispatch. */
  copyBack: boolean;
}

/**
 * The bound ranges of a dispatch's buffers: written buffers claim the mirror first, then the others, each only
 * where it overlaps no range already on the mirror.
 */
export function planBindings(buffers: readonly GpuBinding[], written: ReadonlySet<number>, align: number): BoundRange[] {
  const plans = buffers.map((b): BoundRange => {
    const offset = Math.floor(b.ptr / align) * align;
    const end = Math.max(offset + 4, Math.ceil((b.ptr + b.bytes) / 4) * 4);
    return { offset, size: end - offset, elem: (b.ptr - offset) / 4, scratch: false, copyBack: false };
  });
  const onMirror: BoundRange[] = [];
  const order = [...plans.keys()].sort((a, b) => Number(written.has(b)) - Number(written.has(a)));
  for (const i of order) {
    const p = plans[i]!;
    if (onMirror.some((q) => p.offset < q.offset + q.size && q.offset < p.offset + p.size)) {
      p.scratch = true;
      p.copyBack = written.has(i);
    } else {
      onMirror.push(p);
    }
  }
  return plans;
}
