/**
 * Reductions. sumRows and sumStacked give one work item per output that adds its column in increasing order, the
 * order of the CPU kernels. softmaxRows gives each row a workgroup that reduces max and sum in a fixed tree.
 */
import { shaderSource } from './common.js';

const item = '  let i = gi(gid, nwg);\n  if (i >= p.n) { return; }\n';

/** out[i] (+)= Σ_k x[k·stride + i] for k < count: sumRows (stride = cols) and sumStacked (stride = n) alike. */
export const sumStridedWgsl = (accumulate: boolean) =>
  shaderSource(['f32', 'f32'], [['n', 'u32'], ['count', 'u32'], ['stride', 'u32']], `${item}  var s = 0.0;
  for (var k = 0u; k < p.count; k++) { s += b0[p.o0 + k * p.stride + i]; }
  b1[p.o1 + i] = ${accumulate ? 'b1[p.o1 + i] + s' : 's'};`);

/** One 256-thread workgroup per row (rows numbered across a 2-D grid). */
export const softmaxRowsWgsl = () =>
  shaderSource(['f32', 'f32'], [['rows', 'u32'], ['cols', 'u32']], `  let r = wid.x + wid.y * nwg.x;
  if (r >= p.rows) { return; }
  let xo = p.o0 + r * p.cols; let yo = p.o1 + r * p.cols;
  var m = -3.4028234663852886e38;
  for (var c = lix; c < p.cols; c += 256u) { m = max(m, b0[xo + c]); }
  red[lix] = m;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lix < s) { red[lix] = max(red[lix], red[lix + s]); }
    workgroupBarrier();
  }
  m = red[0];
  workgroupBarrier();
  var t = 0.0;
  for (var c = lix; c < p.cols; c += 256u) { t += exp(b0[xo + c] - m); }
  red[lix] = t;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lix < s) { red[lix] = red[lix] + red[lix + s]; }
    workgroupBarrier();
  }
  let inv = 1.0 / red[0];
  for (var c = lix; c < p.cols; c += 256u) { let v = exp(b0[xo + c] - m) * inv; b1[yo + c] = v; }`, { decls: 'var<workgroup> red: array<f32, 256>;' });

/**
 * layerNormParamGrad: one work item per column d adds Σ_r dy·x̂ to dgamma[d] and Σ_r dy to dbeta[d], rows in
 * increasing order (as the CPU kernels). Buffers: dy, x, mean, rstd, dgamma, dbeta.
 */
export const layerNormParamGradWgsl = () =>
  shaderSource(['f32', 'f32', 'f32', 'f32', 'f32', 'f32'], [['n', 'u32'], ['rows', 'u32'], ['D', 'u32']], `${item}  var sg = 0.0;
  var sb = 0.0;
  for (var r = 0u; r < p.rows; r++) {
    let g = b0[p.o0 + r * p.D + i];
    sg += g * (b1[p.o1 + r * p.D + i] - b2[p.o2 + r]) * b3[p.o3 + r];
    sb += g;
  }
  b4[p.o4 + i] = b4[p.o4 + i] + sg;
  b5[p.o5 + i] = b5[p.o5 + i] + sb;`);
