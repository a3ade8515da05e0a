/**
 * Workgroup reductions by a fixed tree in workgroup memory: every run adds the same pairs in the same order,
 * so results are bit-identical between runs (no atomics). `wg` must be a power of two; call from uniform
 * control flow (they contain barriers).
 */
export const workgroupSumsWgsl = (wg: number): string => /* wgsl */ `
const WG: u32 = ${wg}u;
var<workgroup> red: array<vec2<f32>, WG>;

fn sum2(t: u32, v: vec2<f32>) -> vec2<f32> {
  red[t] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (t < s) { red[t] = red[t] + red[t + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn max1(t: u32, v: f32) -> f32 {
  red[t] = vec2<f32>(v, 0.0);
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (t < s) { red[t].x = max(red[t].x, red[t + s].x); }
    workgroupBarrier();
  }
  let r = red[0].x;
  workgroupBarrier();
  return r;
}
`;
