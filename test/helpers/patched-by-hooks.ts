/**
 * The plain definition of a patched run, for tests: each destination's input plus Σ_{u missing} (ã_u − a*_u),
 * ã_u the source's intervention value and a*_u its output in this run (recorded into `diff` with weight −1 as
 * the pass goes), added one destination group at a time through the per-head hooks. Last-position logits.
 */
import type { Tensor } from '../../src/engine/tensor.js';
import type { MissingEdges } from '../../src/evaluation/patching.js';
import type { Batch } from '../../src/models/batch.js';
import { hookNames, type ForwardHook } from '../../src/models/hooks.js';
import type { CausalLM } from '../../src/models/model.js';

/** `diff` [nSrc, R, D] holds ã_u per source on entry (the run subtracts its own outputs); call inside a tidy. */
export function patchedLogitsByHooks(model: CausalLM, clean: Batch, diff: Tensor, missing: MissingEdges): Float32Array {
  const e = model.engine, k = e.kernels, lay = model.layout;
  const { nLayer: L, nHead: H, dModel: D } = model.dims;
  const RD = clean.ids.length * D;
  // rows of destinations v … v + count − 1 of the mask over their parents, as a [count, parents] matrix
  const rows = (v: number, count: number): Tensor | null => {
    const np = lay.parentCount(v), m = new Float32Array(count * np);
    for (let i = 0; i < count; i++) for (let u = 0; u < np; u++) m[i * np + u] = missing[u * lay.nDst + v + i]!;
    return m.some((x) => x !== 0) ? e.fromArray(m, [count, np]) : null;
  };
  const hook = (m: Tensor): ForwardHook => (x) => {
    const out = e.empty(x.shape);
    k.scale(x.ptr, 1, out.ptr, x.size);
    k.gemm(false, false, m.shape[0]!, RD, m.shape[1]!, 1, m.ptr, m.shape[1]!, diff.ptr, RD, 1, out.ptr, RD);
    return out;
  };
  const hooks: Record<string, ForwardHook> = {};
  for (let l = 0; l < L; l++) {
    [hookNames.qInput(l), hookNames.kInput(l), hookNames.vInput(l)].forEach((n, j) => {
      const m = rows(lay.headSlot(l, j as 0 | 1 | 2, 0), H);
      if (m) hooks[n] = hook(m);
    });
    const m = rows(lay.mlpSlot(l), 1);
    if (m) hooks[hookNames.mlpIn(l)] = hook(m);
  }
  const m = rows(lay.logitsSlot, 1);
  if (m) hooks[hookNames.residFinal] = hook(m);
  return model.forward(clean, { hooks, record: { buf: diff, alpha: -1, write: false } }).logits!.toArray();
}
