/**
 * LayerNorm and RMSNorm: one workgroup per row (`wid.x`, rows of the dispatch's chunk), each thread owning the
 * columns d ≡ t (mod WG) in every phase, so an in-place call (dx = dy) reads each element before the same thread
 * overwrites it. Row sums: per-thread sums in column order, then the tree of workgroup-sums.ts.
 */
import { workgroupSumsWgsl } from './workgroup-sums.js';

export const NORM_WG = 256;

/** Operands x, gamma, beta, y, mean, rstd; params D, eps. Biased variance from a second pass over x − mean. */
export const layerNormWgsl = /* wgsl */ `${workgroupSumsWgsl(NORM_WG)}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let r = wid.x; let t = lid.x; let D = p.D; let o = r * D;
  var s = 0.0;
  for (var d = t; d < D; d += WG) { s += ld_x(o + d); }
  let mu = sum2(t, vec2<f32>(s, 0.0)).x / f32(D);
  var v = 0.0;
  for (var d = t; d < D; d += WG) { let c = ld_x(o + d) - mu; v += c * c; }
  let rs = 1.0 / sqrt(sum2(t, vec2<f32>(v, 0.0)).x / f32(D) + p.eps);
  if (t == 0u) { st_mean(r, mu); st_rstd(r, rs); }
  for (var d = t; d < D; d += WG) { st_y(o + d, (ld_x(o + d) - mu) * rs * ld_gamma(d) + ld_beta(d)); }
}
`;

/** Writes dx (p.acc ≠ 0: adds) and, when `dxAcc` is bound, adds dx to it. Operands dy, x, gamma, mean, rstd, dx[, dxAcc]. */
export const layerNormBackwardWgsl = (dxAcc: boolean): string => /* wgsl */ `${workgroupSumsWgsl(NORM_WG)}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let r = wid.x; let t = lid.x; let D = p.D; let o = r * D;
  let mu = ld_mean(r); let rs = ld_rstd(r);
  var sg = vec2<f32>(0.0, 0.0);
  for (var d = t; d < D; d += WG) {
    let g = ld_dy(o + d) * ld_gamma(d);
    sg += vec2<f32>(g, g * ((ld_x(o + d) - mu) * rs));
  }
  let m = sum2(t, sg) / f32(D);
  for (var d = t; d < D; d += WG) {
    let g = ld_dy(o + d) * ld_gamma(d);
    let v = rs * (g - m.x - (ld_x(o + d) - mu) * rs * m.y);
    if (p.acc != 0u) { st_dx(o + d, ld_dx(o + d) + v); } else { st_dx(o + d, v); }
    ${dxAcc ? 'st_dxAcc(o + d, ld_dxAcc(o + d) + v);' : ''}
  }
}
`;

/** Operands x, gamma, y, rstd; params D, eps, offset. x·rstd is an f32 product before the gain multiplies it. */
export const rmsNormWgsl = /* wgsl */ `${workgroupSumsWgsl(NORM_WG)}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let r = wid.x; let t = lid.x; let D = p.D; let o = r * D;
  var s = 0.0;
  for (var d = t; d < D; d += WG) { let x = ld_x(o + d); s += x * x; }
  let rs = 1.0 / sqrt(sum2(t, vec2<f32>(s, 0.0)).x / f32(D) + p.eps);
  if (t == 0u) { st_rstd(r, rs); }
  for (var d = t; d < D; d += WG) { let xh = ld_x(o + d) * rs; st_y(o + d, xh * (ld_gamma(d) + p.offset)); }
}
`;

/** As layerNormBackwardWgsl without the mean terms. Operands dy, x, gamma, rstd, dx[, dxAcc]; params D, offset, acc. */
export const rmsNormBackwardWgsl = (dxAcc: boolean): string => /* wgsl */ `${workgroupSumsWgsl(NORM_WG)}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let r = wid.x; let t = lid.x; let D = p.D; let o = r * D;
  let rs = ld_rstd(r);
  var s = 0.0;
  for (var d = t; d < D; d += WG) { s += ld_dy(o + d) * (ld_gamma(d) + p.offset) * ld_x(o + d) * rs; }
  let m = sum2(t, vec2<f32>(s, 0.0)).x / f32(D);
  for (var d = t; d < D; d += WG) {
    let v = rs * (ld_dy(o + d) * (ld_gamma(d) + p.offset) - ld_x(o + d) * rs * m);
    if (p.acc != 0u) { st_dx(o + d, ld_dx(o + d) + v); } else { st_dx(o + d, v); }
    ${dxAcc ? 'st_dxAcc(o + d, ld_dxAcc(o + d) + v);' : ''}
  }
}
`;

/**
 * dgamma[d] += Σ_r dy·x̂, dbeta[d] += Σ_r dy: one thread per column summing the chunk's rows in order.
 * Operands dy, x, mean, rstd (the chunk's rows, all columns), dgamma, dbeta (columns c0 … c0 + nc − 1);
 * params D, rows, c0, nc.
 */
export const PARAM_GRAD_WG = 64;
export const layerNormParamGradWgsl = /* wgsl */ `
@compute @workgroup_size(${PARAM_GRAD_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x; let D = p.D; let d = p.c0 + c;
  if (c >= p.nc) { return; }
  var sg = 0.0; var sb = 0.0;
  for (var r = 0u; r < p.rows; r++) {
    let g = ld_dy(r * D + d);
    sg += g * (ld_x(r * D + d) - ld_mean(r)) * ld_rstd(r);
    sb += g;
  }
  st_dgamma(c, ld_dgamma(c) + sg);
  st_dbeta(c, ld_dbeta(c) + sb);
}
`;
