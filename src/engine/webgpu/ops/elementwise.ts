/** OpBuilders of the elementwise kernels and activations: items split into pieces whose bindings fit the limit. */
import type { ActivationKind, Kernels } from '../../kernels.js';
import type { GpuDispatch, GpuLimits, GpuParam, GpuShader, OpBuilder } from '../dispatch.js';
import { activationBackwardWgsl, activationWgsl, geluBackwardWgsl, geluWgsl } from '../wgsl/activations.js';
import { addRowVectorWgsl, addWgsl, axpyWgsl, fillWgsl, scaleWgsl, widenBf16Wgsl } from '../wgsl/elementwise.js';
import { bind, checkCount, grid, pieceElems, pieces, variants } from './common.js';

const one = <T>(name: string, wgsl: () => string) => {
  let s: GpuShader | null = null;
  return () => (s ??= { name, wgsl: wgsl() });
};
const addShader = one('add', addWgsl), axpyShader = one('axpy', axpyWgsl), scaleShader = one('scale', scaleWgsl);
const fillShader = one('fill', fillWgsl);
const rowVecShader = one('addRowVector', addRowVectorWgsl), widenShader = one('widenBf16', widenBf16Wgsl), geluShader = one('gelu', geluWgsl);
const geluBackShader = variants<number>((acc) => ({ name: `geluBackward_${acc}`, wgsl: geluBackwardWgsl(acc === 1) }));
const actShader = variants<string>((key) => {
  const [kind, gated] = key.split(':').map(Number) as [ActivationKind, number];
  return { name: `activation_${kind}_${gated}`, wgsl: activationWgsl(kind, gated === 1) };
});
const actBackShader = variants<string>((key) => {
  const [kind, g, dx, du] = key.split(':').map(Number) as [ActivationKind, number, number, number];
  return { name: `activationBackward_${kind}_${g}${dx}${du}`, wgsl: activationBackwardWgsl(kind, g === 1, dx === 1, du === 1) };
});

/** n elements of f32 arrays at `ptrs`, split into pieces, `params` after the piece's count. */
function elementwise(limits: GpuLimits, name: string, shader: GpuShader, ptrs: number[], n: number, params: GpuParam[] = []): GpuDispatch[] {
  checkCount(name, n);
  return pieces(n, pieceElems(limits), (s, c) => ({
    shader,
    buffers: ptrs.map((p) => bind(p + 4 * s, c)),
    params: [['u32', c], ...params],
    workgroups: grid(limits, Math.ceil(c / 256), name),
  }));
}

export const addOp: OpBuilder<Parameters<Kernels['add']>> = (L, a, b, out, n) => elementwise(L, 'add', addShader(), [a, b, out], n);
export const axpyOp: OpBuilder<Parameters<Kernels['axpy']>> = (L, alpha, x, y, n) => elementwise(L, 'axpy', axpyShader(), [x, y], n, [['f32', alpha]]);
export const scaleOp: OpBuilder<Parameters<Kernels['scale']>> = (L, x, alpha, out, n) => elementwise(L, 'scale', scaleShader(), [x, out], n, [['f32', alpha]]);
export const geluOp: OpBuilder<Parameters<Kernels['gelu']>> = (L, x, y, n) => elementwise(L, 'gelu', geluShader(), [x, y], n);
export const geluBackwardOp: OpBuilder<Parameters<Kernels['geluBackward']>> = (L, x, dy, dx, n, acc) =>
  elementwise(L, 'geluBackward', geluBackShader(acc ? 1 : 0), [x, dy, dx], n);

export const activationOp: OpBuilder<Parameters<Kernels['activation']>> = (L, kind, x, up, out, n) =>
  elementwise(L, 'activation', actShader(`${kind}:${up ? 1 : 0}`), up ? [x, up, out] : [x, out], n);

export const activationBackwardOp: OpBuilder<Parameters<Kernels['activationBackward']>> = (L, kind, x, up, dy, dx, dup, n) => {
  if (!dx && !dup) return [];
  const ptrs = [x, ...(up ? [up] : []), dy, ...(dx ? [dx] : []), ...(dup ? [dup] : [])];
  return elementwise(L, 'activationBackward', actBackShader(`${kind}:${up ? 1 : 0}:${dx ? 1 : 0}:${dup ? 1 : 0}`), ptrs, n);
};

export const addRowVectorOp: OpBuilder<Parameters<Kernels['addRowVector']>> = (L, x, v, out, rows, cols) => {
  checkCount('addRowVector', rows, cols);
  if (cols === 0) return [];
  const per = Math.max(1, Math.floor(pieceElems(L) / cols));
  return pieces(rows, per, (r, c) => ({
    shader: rowVecShader(),
    buffers: [bind(x + 4 * r * cols, c * cols), bind(v, cols), bind(out + 4 * r * cols, c * cols)],
    params: [['u32', c * cols], ['u32', cols]],
    workgroups: grid(L, Math.ceil((c * cols) / 256), 'addRowVector'),
  }));
};

export const widenBf16Op: OpBuilder<Parameters<Kernels['widenBf16']>> = (L, src, dst, n) => {
  checkCount('widenBf16', n);
  if (src % 2) throw new Error(`widenBf16: source offset ${src} is not 2-byte aligned`);
  return pieces(n, pieceElems(L), (s, c) => {
    const at = src + 2 * s, word = at - (at % 4);
    return {
      shader: widenShader(),
      buffers: [{ ptr: word, bytes: Math.ceil((at - word + 2 * c) / 4) * 4 }, bind(dst + 4 * s, c)],
      params: [['u32', c], ['u32', (at - word) / 2]],
      workgroups: grid(L, Math.ceil(c / 256), 'widenBf16'),
    };
  });
};

/** n f32 at ptr set to value (its exact bits, NaN payloads included). */
export function fillOp(L: GpuLimits, ptr: number, n: number, value: number): GpuDispatch[] {
  const bits = new Uint32Array(new Float32Array([value]).buffer)[0]!;
  return elementwise(L, 'fill', fillShader(), [ptr], n, [['u32', bits]]);
}
