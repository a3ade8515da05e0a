/**
 * gelu_new and the MLP activations, the formulas of the WebAssembly kernels (src/engine/wasm/elementwise.ts):
 * σ from e = exp(−|w|) and r = 1/(1 + e) (no overflow, no cancellation), x clamped to ±16 inside σ, the erf of the
 * erf GELU as the same rational minimax fit on [−4, 4] (P of degree 6 in z², Q of degree 4).
 */
import { ActivationKind } from '../../kernels.js';
import { shaderSource, type WgslScalar } from './common.js';

const FUNCTIONS = /* wgsl */ `
const GC2 = 1.5957691216057308;   // 2c, c = sqrt(2/pi)
const GCA = 0.07135481627159562;  // 2c·a, a = 0.044715
const GCA3 = 0.21406444881478685; // 2c·3a
fn sig(w: f32, e: f32) -> f32 { return select(e, 1.0, w >= 0.0) / (1.0 + e); }
fn gelu_t(x: f32) -> f32 {
  let xc = clamp(x, -16.0, 16.0);
  let w = xc * fma(xc * xc, GCA, GC2);
  return x * sig(w, exp(-abs(w)));
}
fn gelu_t_grad(x: f32) -> f32 {
  let xc = clamp(x, -16.0, 16.0);
  let x2 = xc * xc;
  let w = xc * fma(x2, GCA, GC2);
  let e = exp(-abs(w));
  let r = 1.0 / (1.0 + e);
  return fma(xc * fma(x2, GCA3, GC2), e * r * r, select(e, 1.0, w >= 0.0) * r);
}
fn erf32(z: f32) -> f32 {
  let zc = clamp(z, -4.0, 4.0);
  let t = zc * zc;
  var p = fma(1.911068103765956e-8, t, -1.9422943751123967e-6);
  p = fma(p, t, 1.4728518726769835e-4);
  p = fma(p, t, 0.003990546800196171);
  p = fma(p, t, 0.051524821668863297);
  p = fma(p, t, 0.20712490379810333);
  p = fma(p, t, 1.1283791065216064);
  var q = fma(1.0211041662842035e-3, t, 0.014958026818931103);
  q = fma(q, t, 0.11797058582305908);
  q = fma(q, t, 0.5168909430503845);
  q = fma(q, t, 1.0);
  return clamp(zc * p / q, -1.0, 1.0);
}
fn phi_cdf(x: f32) -> f32 { return fma(erf32(x * 0.7071067811865476), 0.5, 0.5); }
// act(x) and act'(x) of each ActivationKind
fn act0(x: f32) -> vec2f {
  let p = phi_cdf(x);
  let xc = clamp(x, -16.0, 16.0);
  return vec2f(x * p, fma(xc, exp(xc * xc * -0.5) * 0.3989422804014327, p));
}
fn act1(x: f32) -> vec2f { return vec2f(gelu_t(x), gelu_t_grad(x)); }
fn act2(x: f32) -> vec2f {
  let e = exp(-abs(x));
  let r = 1.0 / (1.0 + e);
  let s = select(e, 1.0, x >= 0.0) * r;
  return vec2f(x * s, fma(clamp(x, -88.0, 88.0), e * r * r, s));
}
fn act3(x: f32) -> vec2f { return vec2f(max(x, 0.0), select(0.0, 1.0, x > 0.0)); }
`;

const item = '  let i = gi(gid, nwg);\n  if (i >= p.n) { return; }\n';

export function geluWgsl(): string {
  return shaderSource(['f32', 'f32'], [['n', 'u32']], `${item}  b1[p.o1 + i] = gelu_t(b0[p.o0 + i]);`, { decls: FUNCTIONS });
}

export function geluBackwardWgsl(accumulate: boolean): string {
  const g = 'b1[p.o1 + i] * gelu_t_grad(b0[p.o0 + i])';
  return shaderSource(['f32', 'f32', 'f32'], [['n', 'u32']], `${item}  b2[p.o2 + i] = ${accumulate ? `b2[p.o2 + i] + ${g}` : g};`, { decls: FUNCTIONS });
}

/** Buffers: x, then up when gated, then out. */
export function activationWgsl(kind: ActivationKind, gated: boolean): string {
  const bufs: WgslScalar[] = gated ? ['f32', 'f32', 'f32'] : ['f32', 'f32'];
  const body = gated
    ? `  let f = act${kind}(b0[p.o0 + i]).x * b1[p.o1 + i];\n  b2[p.o2 + i] = f;`
    : `  let f = act${kind}(b0[p.o0 + i]).x;\n  b1[p.o1 + i] = f;`;
  return shaderSource(bufs, [['n', 'u32']], item + body, { decls: FUNCTIONS });
}

/** Buffers: x, up (if gated), dy, dx (if wanted), dup (if wanted). */
export function activationBackwardWgsl(kind: ActivationKind, gated: boolean, dx: boolean, dup: boolean): string {
  const bufs: WgslScalar[] = ['f32'];
  const up = gated ? bufs.push('f32') - 1 : -1;
  const dy = bufs.push('f32') - 1;
  const gx = dx ? bufs.push('f32') - 1 : -1;
  const gu = dup ? bufs.push('f32') - 1 : -1;
  const ref = (k: number) => `b${k}[p.o${k} + i]`;
  let body = `  let a = act${kind}(${ref(0)});\n  let g = ${ref(dy)};\n`;
  if (dx) body += `  let vx = g * a.y${gated ? ` * ${ref(up)}` : ''};\n`;
  if (dup) body += `  let vu = g * a.x;\n`;
  if (dx) body += `  ${ref(gx)} = vx;\n`;
  if (dup) body += `  ${ref(gu)} = vu;\n`;
  return shaderSource(bufs, [['n', 'u32']], item + body, { decls: FUNCTIONS });
}

export const ACTIVATION_KINDS = [ActivationKind.GeluErf, ActivationKind.GeluTanh, ActivationKind.Silu, ActivationKind.Relu] as const;
