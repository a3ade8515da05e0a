/**
 * Where a forward pass first goes non-finite: the pass is run again, without a tape, with a read-only look at
 * every hook point in forward order. It costs one forward pass with per-head copies, so callers run it only
 * once a cheap check (the logits, the metric) has found a problem.
 */
import type { Tensor } from '../engine/tensor.js';
import { firstNonFinite, nonFiniteName } from '../util/finite.js';
import type { CausalLM } from './model.js';
import type { Batch } from './batch.js';
import type { ForwardOptions } from './model.js';
import { allHookNames, type ForwardHook } from './hooks.js';

/** A forward pass as a caller ran it: the input and what replaced its values. */
export interface ForwardInput {
  batch: Batch;
  embeds?: Tensor;
  hooks?: ForwardOptions['hooks'];
}

/** "NAME holds NaN (head h)" for the value at index i of a hook's tensor. */
function describe(name: string, t: Tensor, i: number): string {
  const v = nonFiniteName(t.data()[i]!);
  const perHead = t.shape.length === 3;
  return `${name} holds ${v}${perHead ? ` (head ${Math.floor(i / (t.size / t.shape[0]!))})` : ''}`;
}

/**
 * The first hook point (or the logits) holding a NaN or infinity in the forward pass of `input`, described
 * for a message ("blocks.0.attn.hook_result holds NaN (head 1)"); null when the pass is finite throughout.
 */
export function firstNonFiniteHook(model: CausalLM, input: ForwardInput): string | null {
  const e = model.engine;
  const prev = e.tape;
  e.tape = null;
  try {
    return e.tidy(() => {
      let found: string | null = null;
      const hooks: Record<string, ForwardHook> = {};
      for (const name of allHookNames(model.dims.nLayer)) {
        const inner = input.hooks?.[name];
        hooks[name] = (value, n) => {
          const r = inner?.(value, n) ?? undefined;
          if (found === null) {
            const t = r ?? value;
            const i = firstNonFinite(t.data());
            if (i >= 0) found = describe(n, t, i);
          }
          return r;
        };
      }
      const { logits } = model.forward(input.batch, { embeds: input.embeds, hooks, logits: 'last' });
      if (found !== null) return found;
      const l = logits!.data();
      const i = firstNonFinite(l);
      return i >= 0 ? `the logits hold ${nonFiniteName(l[i]!)}` : null;
    });
  } finally {
    e.tape = prev;
  }
}
