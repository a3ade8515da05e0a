/**
 * What an ablated source carries instead of its corrupted-run output (EAP-IG's intervention 'zero', 'mean',
 * 'mean-positional'), for edge patching and for the gradient methods' Δ:
 *   zero             ã_u = 0
 *   mean             ã_u = m_u = (1/T) Σ_{clean examples} Σ_{real positions} a_u     (T: all real tokens)
 *   mean-positional  ã_u[p] = m_u[p] = a_u at position p, averaged over the clean examples that reach p
 * The means are over the clean prompts of every batch of the run (EAP-IG averages the clean strings of its
 * intervention dataloader; here that is the data attributed or evaluated), in one pass before anything else,
 * batch by batch as the run batches them, summed in float64. One set serves every batch, and every shard: a
 * shard's means are still over all batches. Padding is never averaged in (EAP-IG's positional mean counts padded
 * rows too, and its plain mean keeps one position per example; see the header of src/attribution/ablation.ts).
 */
import { recordSources } from '../attribution/sources.js';
import { bytesPerExample } from '../attribution/memory-plan.js';
import { packPair, runInSlicesSync } from '../attribution/micro.js';
import type { PairBatch } from '../attribution/types.js';
import type { Tensor } from '../engine/tensor.js';
import { rowStarts, type Batch } from '../models/batch.js';
import type { CausalLM } from '../models/model.js';

/** Every intervention, in the order options list them; `patching` is the corrupted run (DESIGN.md §5). */
export const INTERVENTIONS = ['patching', 'zero', 'mean', 'mean-positional'] as const;
export type Intervention = (typeof INTERVENTIONS)[number];

/** Dataset means of every source's output: [positions, nSrc, D], one position for `mean`. */
export interface SourceMeans {
  positional: boolean;
  positions: number;
  nSrc: number;
  D: number;
  values: Float32Array;
}

/** Whether the intervention needs dataset means. */
export function usesMeans(i: Intervention): i is 'mean' | 'mean-positional' {
  return i === 'mean' || i === 'mean-positional';
}

/** The means of every source over the clean prompts of `batches` (see the header). */
export function sourceMeans(model: CausalLM, batches: readonly PairBatch[], positional: boolean): SourceMeans {
  const e = model.engine;
  const D = model.dims.dModel, nSrc = model.layout.nSrc;
  const positions = positional ? Math.max(...batches.map((b) => Math.max(...b.clean.lengths))) : 1;
  const sum = new Float64Array(positions * nSrc * D);
  const count = new Float64Array(positions);
  for (const whole of batches) {
    const perExample = bytesPerExample(model.dims, whole.clean.P, { buffers: nSrc, taped: false, headCopies: 'none' });
    runInSlicesSync(e, whole, { perExample, what: 'dataset means', weightsInHeap: model.residentLayerBytes }, (slice) => {
      const clean = packPair(slice).clean; // every row a real position
      const R = clean.ids.length, starts = rowStarts(clean);
      e.tidy(() => {
        const buf = e.empty([nSrc, R, D]);
        recordSources(e, model, clean, buf, 1);
        const v = buf.data();
        for (let b = 0; b < clean.B; b++) {
          for (let r = starts[b]!; r < starts[b + 1]!; r++) {
            const p = positional ? r - starts[b]! : 0;
            count[p]! += 1;
            for (let u = 0; u < nSrc; u++) {
              const o = (u * R + r) * D, s = (p * nSrc + u) * D;
              for (let d = 0; d < D; d++) sum[s + d]! += v[o + d]!;
            }
          }
        }
      });
    });
  }
  const values = new Float32Array(sum.length);
  for (let p = 0; p < positions; p++) for (let i = p * nSrc * D; i < (p + 1) * nSrc * D; i++) values[i] = sum[i]! / count[p]!;
  return { positional, positions, nSrc, D, values };
}

/**
 * Writes the ablated values of sources first … first + count − 1 for the rows of `batch` into out [count, R, D]
 * (R: its rows). Zero needs no means.
 */
export function writeAblated(out: Tensor, intervention: Exclude<Intervention, 'patching'>, means: SourceMeans | undefined, batch: Batch, first = 0, count?: number): void {
  const n = count ?? out.shape[0]!;
  const R = batch.ids.length, D = out.size / (n * R);
  if (intervention === 'zero') return void out.engine.heap.fillF32(out.ptr, out.size, 0);
  if (!means) throw new Error(`the ${intervention} intervention needs dataset means`);
  if (means.D !== D) throw new Error(`writeAblated: [${out.shape}] for ${n} sources of ${R} rows and means of width ${means.D}`);
  const { nSrc } = means;
  const f = out.data(), starts = rowStarts(batch);
  for (let b = 0; b < batch.B; b++) {
    for (let r = starts[b]!; r < starts[b + 1]!; r++) {
      // a padding row (unpacked batches) takes any value: no real position reads it
      const real = r - starts[b]! < batch.lengths[b]!;
      const p = !means.positional ? 0 : real ? r - starts[b]! : Math.min(r - starts[b]!, means.positions - 1);
      if (p >= means.positions) throw new Error(`position ${p} has no mean (means over ${means.positions} positions)`);
      for (let i = 0; i < n; i++) {
        const s = (p * nSrc + first + i) * D;
        f.set(means.values.subarray(s, s + D), (i * R + r) * D);
      }
    }
  }
}
