/**
 * Row gather and scatter-add by i32 indices. scatterAddRows gives each source row i a workgroup: only the first
 * i with a given index writes, adding the rows of that index to the table in increasing i, exactly the order
 * (and the float32 roundings) of the reference loop; no atomics, so the result is deterministic. A table larger
 * than one binding is bound in windows of rows [lo, lo + count): each dispatch handles the indices inside its window.
 */
import { shaderSource } from './common.js';

/** out[i, d] = table[idx[i], d]: n·D items. */
export const gatherRowsWgsl = () =>
  shaderSource(['i32', 'f32', 'f32'], [['n', 'u32'], ['D', 'u32'], ['lo', 'u32'], ['count', 'u32']], `  let i = gi(gid, nwg);
  if (i >= p.n) { return; }
  let row = u32(b0[p.o0 + i / p.D]) - p.lo;
  if (row >= p.count) { return; }
  b2[p.o2 + i] = b1[p.o1 + row * p.D + i % p.D];`);

export const scatterAddRowsWgsl = () =>
  shaderSource(['i32', 'f32', 'f32'], [['n', 'u32'], ['D', 'u32'], ['lo', 'u32'], ['count', 'u32']], `  let i = wid.x + wid.y * nwg.x;
  if (i >= p.n) { return; }
  let row = b0[p.o0 + i];
  if (u32(row) - p.lo >= p.count) { return; }
  var seen = false;
  for (var j = 0u; j < i; j++) { if (b0[p.o0 + j] == row) { seen = true; break; } }
  if (seen) { return; }
  let to = p.o2 + (u32(row) - p.lo) * p.D;
  for (var d = lix; d < p.D; d += 256u) {
    var t = b2[to + d];
    for (var j = i; j < p.n; j++) { if (b0[p.o0 + j] == row) { t = t + b1[p.o1 + j * p.D + d]; } }
    b2[to + d] = t;
  }`);
