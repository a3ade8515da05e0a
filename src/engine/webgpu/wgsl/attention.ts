/**
 * Causal attention, forward and backward. Workgroup (wid.x, wid.y, wid.z) = (query or key row, head within the
 * dispatch's head range, batch within its batch range); p.h0 is the first head. Operand rows are those of the
 * dispatch's batches; probs holds its (batch, head) blocks of P×P, p.nh heads per batch. qkv rows are [q | k | v]
 * with head h at columns h·dh of each third. Every sum over positions runs in position order in one thread
 * (per head dimension d) or through workgroup-sums.ts' fixed tree: no atomics, same bits every run.
 */
import { workgroupSumsWgsl } from './workgroup-sums.js';

export const ATTN_WG = 64;
/** The largest head dimension the kernels keep in workgroup memory. */
export const MAX_DH = 256;
/** Head dimensions each thread owns in the accumulations over positions: d = t + k·WG. */
const PER = MAX_DH / ATTN_WG;

const common = /* wgsl */ `${workgroupSumsWgsl(ATTN_WG)}
const MAXDH: u32 = ${MAX_DH}u;
const PER: u32 = ${PER}u;
var<workgroup> vec_s: array<f32, MAXDH>;
var<workgroup> tile: array<f32, WG>;
// element d of row j's q (part 0), k (1) or v (2) for head h of the dispatch's batch b
fn qkvAt(b: u32, j: u32, part: u32, h: u32, d: u32) -> u32 {
  let D = p.H * p.dh;
  return (b * p.P + j) * 3u * D + part * D + h * p.dh + d;
}
// start of the probs row (b, head h0 + hl, i)
fn probsRow(b: u32, hl: u32, i: u32) -> u32 { return ((b * p.nh + hl) * p.P + i) * p.P; }
`;

/**
 * probs row i = softmax(q_i·k_j·scale) over j ≤ i (the row is the scratch for scores and exponentials), the
 * future exactly 0; then z_i = Σ_j p_ij·v_j, each thread summing over j in order for its head dimensions.
 * Operands qkv, z, probs.
 */
export const attentionWgsl = /* wgsl */ `${common}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = wid.x; let hl = wid.y; let b = wid.z; let h = p.h0 + hl; let t = lid.x; let dh = p.dh;
  for (var d = t; d < dh; d += WG) { vec_s[d] = ld_qkv(qkvAt(b, i, 0u, h, d)); }
  workgroupBarrier();
  let po = probsRow(b, hl, i);
  var mx = -3.4e38; // below any finite score that matters; WGSL has no -inf literal
  for (var j = t; j <= i; j += WG) {
    let ko = qkvAt(b, j, 1u, h, 0u);
    var s = 0.0;
    for (var d = 0u; d < dh; d++) { s += vec_s[d] * ld_qkv(ko + d); }
    s = s * p.scale;
    st_probs(po + j, s);
    mx = max(mx, s);
  }
  let m = max1(t, mx);
  var sum = 0.0;
  for (var j = t; j <= i; j += WG) { let e = exp(ld_probs(po + j) - m); st_probs(po + j, e); sum += e; }
  let tot = sum2(t, vec2<f32>(sum, 0.0)).x;
  for (var j = t; j < p.P; j += WG) { if (j <= i) { st_probs(po + j, ld_probs(po + j) / tot); } else { st_probs(po + j, 0.0); } }
  storageBarrier();
  let D = p.H * dh;
  for (var d = t; d < dh; d += WG) {
    var acc = 0.0;
    for (var j = 0u; j <= i; j++) { acc += ld_probs(po + j) * ld_qkv(qkvAt(b, j, 2u, h, d)); }
    st_z((b * p.P + i) * D + h * dh + d, acc);
  }
}
`;

/**
 * Backward, first of three dispatches, per query row i: dot_i = Σ_j p_ij·dP_ij with dP_ij = dz_i·v_j, then
 * dq_i = Σ_j dS_ij·k_j, dS_ij = p_ij·(dP_ij − dot_i)·scale (dS in tiles of WG positions in workgroup memory).
 * dot_i is left in dv's element 0 of (b, i, h) for the dk dispatch; the dv dispatch overwrites it.
 * Operands dz, qkv, probs, dqkv.
 */
export const attentionDqWgsl = /* wgsl */ `${common}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = wid.x; let hl = wid.y; let b = wid.z; let h = p.h0 + hl; let t = lid.x; let dh = p.dh;
  let D = p.H * dh;
  for (var d = t; d < dh; d += WG) { vec_s[d] = ld_dz((b * p.P + i) * D + h * dh + d); }
  workgroupBarrier();
  let po = probsRow(b, hl, i);
  var part = 0.0;
  for (var j = t; j <= i; j += WG) {
    let vo = qkvAt(b, j, 2u, h, 0u);
    var s = 0.0;
    for (var d = 0u; d < dh; d++) { s += vec_s[d] * ld_qkv(vo + d); }
    part += s * ld_probs(po + j);
  }
  let dot = sum2(t, vec2<f32>(part, 0.0)).x;
  var acc: array<f32, PER>;
  for (var j0 = 0u; j0 <= i; j0 += WG) {
    let j = j0 + t;
    var ds = 0.0;
    if (j <= i) {
      let vo = qkvAt(b, j, 2u, h, 0u);
      var s = 0.0;
      for (var d = 0u; d < dh; d++) { s += vec_s[d] * ld_qkv(vo + d); }
      ds = ld_probs(po + j) * (s - dot) * p.scale;
    }
    tile[t] = ds;
    workgroupBarrier();
    let n = min(WG, i + 1u - j0);
    for (var k = 0u; k < PER; k++) {
      let d = t + k * WG;
      if (d < dh) { for (var jj = 0u; jj < n; jj++) { acc[k] += tile[jj] * ld_qkv(qkvAt(b, j0 + jj, 1u, h, d)); } }
    }
    workgroupBarrier();
  }
  for (var k = 0u; k < PER; k++) {
    let d = t + k * WG;
    if (d < dh) { st_dqkv(qkvAt(b, i, 0u, h, d), acc[k]); }
  }
  if (t == 0u) { st_dqkv(qkvAt(b, i, 2u, h, 0u), dot); }
}
`;

/**
 * Backward, second dispatch, per key row j: dk_j = Σ_{i ≥ j} dS_ij·q_i in order of i, dS recomputed from v_j,
 * dz_i, p_ij and the first dispatch's dot_i. Operands dz, qkv, probs, dqkv.
 */
export const attentionDkWgsl = /* wgsl */ `${common}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let j = wid.x; let hl = wid.y; let b = wid.z; let h = p.h0 + hl; let t = lid.x; let dh = p.dh;
  let D = p.H * dh;
  for (var d = t; d < dh; d += WG) { vec_s[d] = ld_qkv(qkvAt(b, j, 2u, h, d)); }
  workgroupBarrier();
  var acc: array<f32, PER>;
  for (var i0 = j; i0 < p.P; i0 += WG) {
    let i = i0 + t;
    var ds = 0.0;
    if (i < p.P) {
      let zo = (b * p.P + i) * D + h * dh;
      var s = 0.0;
      for (var d = 0u; d < dh; d++) { s += ld_dz(zo + d) * vec_s[d]; }
      ds = ld_probs(probsRow(b, hl, i) + j) * (s - ld_dqkv(qkvAt(b, i, 2u, h, 0u))) * p.scale;
    }
    tile[t] = ds;
    workgroupBarrier();
    let n = min(WG, p.P - i0);
    for (var k = 0u; k < PER; k++) {
      let d = t + k * WG;
      if (d < dh) { for (var ii = 0u; ii < n; ii++) { acc[k] += tile[ii] * ld_qkv(qkvAt(b, i0 + ii, 0u, h, d)); } }
    }
    workgroupBarrier();
  }
  for (var k = 0u; k < PER; k++) {
    let d = t + k * WG;
    if (d < dh) { st_dqkv(qkvAt(b, j, 1u, h, d), acc[k]); }
  }
}
`;

/** Backward, third dispatch, per key row j: dv_j = Σ_{i ≥ j} p_ij·dz_i in order of i. Operands dz, probs, dqkv. */
export const attentionDvWgsl = /* wgsl */ `${common}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let j = wid.x; let hl = wid.y; let b = wid.z; let h = p.h0 + hl; let t = lid.x; let dh = p.dh;
  let D = p.H * dh;
  for (var d = t; d < dh; d += WG) {
    var acc = 0.0;
    for (var i = j; i < p.P; i++) { acc += ld_probs(probsRow(b, hl, i) + j) * ld_dz((b * p.P + i) * D + h * dh + d); }
    st_dqkv(qkvAt(b, j, 2u, h, d), acc);
  }
}
`;
