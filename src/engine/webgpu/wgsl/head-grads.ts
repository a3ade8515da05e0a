/**
 * headGradDeposit: one workgroup per (row, head segment); each thread takes the segment's columns c ≡ t (mod WG)
 * in order, and the two segment sums go through workgroup-sums.ts' fixed tree. Rows of g, y and U are the dispatch's
 * chunk; A and Wt are bound whole ([segments, rows]) and indexed with the chunk's first row p.r0.
 * Operands g, rstd, y, cvec, offs, U, A, Wt; params rows, cols, seg, r0, alpha, acc.
 */
import { workgroupSumsWgsl } from './workgroup-sums.js';

export const HEAD_GRAD_WG = 64;

export const headGradDepositWgsl = /* wgsl */ `${workgroupSumsWgsl(HEAD_GRAD_WG)}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let r = wid.x; let h = wid.y; let t = lid.x;
  let s = ld_rstd(r);
  var aw = vec2<f32>(0.0, 0.0);
  for (var c = h * p.seg + t; c < (h + 1u) * p.seg; c += WG) {
    let i = r * p.cols + c;
    let v = s * ld_g(i);
    if (p.acc != 0u) { st_U(i, ld_U(i) + v); } else { st_U(i, v); }
    aw += vec2<f32>(v * ld_cvec(c), v * (ld_y(i) - ld_offs(c)));
  }
  let tot = sum2(t, aw);
  if (t == 0u) {
    let o = h * p.rows + p.r0 + r;
    if (p.acc != 0u) { st_A(o, ld_A(o) + tot.x); } else { st_A(o, tot.x); }
    st_Wt(o, p.alpha * tot.y);
  }
}
`;
