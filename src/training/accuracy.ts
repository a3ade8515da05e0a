/**
 * How well a model solves its tasks: the task metric (DESIGN.md §6) of each example's clean prompt, summarized
 * as the fraction of examples where it is positive (IOI: logit difference > 0; Greater-Than: probability
 * difference > 0; …) and its mean. Held-out figures use freshly generated prompts from a seed of their own.
 */
import type { GPT2 } from '../models/gpt2.js';
import { batches } from '../tasks/batch.js';
import { generateExamples } from '../tasks/generated.js';
import { getTask } from '../tasks/index.js';
import type { TaskExample } from '../tasks/types.js';
import type { Tokenizer } from '../tokenizer/index.js';

export interface TaskFigures {
  task: string;
  metric: 'logit-diff' | 'prob-diff';
  n: number;
  /** Fraction of examples with metric > 0. */
  positive: number;
  /** Mean metric. */
  mean: number;
}

/** The metric of every example (clean prompts, no gradients), in order. */
export function exampleMetrics(model: GPT2, task: string, examples: readonly TaskExample[], batchSize = 64): Float64Array {
  const e = model.engine, t = getTask(task);
  const out = new Float64Array(examples.length);
  let i = 0;
  for (const b of batches(examples, batchSize)) {
    const values = e.tidy(() => {
      const { logits } = model.forward(b.clean, { logits: 'last' });
      return t.metric(logits!.data(), b.n, model.dims.vocabSize, b.labels);
    });
    out.set(values, i);
    i += b.n;
  }
  return out;
}

/** Summary of per-example metric values. */
export function summarize(task: string, values: Float64Array): TaskFigures {
  let pos = 0, sum = 0;
  for (const v of values) {
    if (v > 0) pos++;
    sum += v;
  }
  return { task, metric: getTask(task).metricKind, n: values.length, positive: pos / values.length, mean: sum / values.length };
}

/** Figures per task on `n` fresh prompts each, generated with `seed`. */
export function heldOutFigures(model: GPT2, tokenizer: Tokenizer, tasks: readonly string[], opts: { n: number; seed: number; batchSize?: number }): TaskFigures[] {
  return tasks.map((task) => {
    const examples = generateExamples(task, { n: opts.n, seed: opts.seed, tokenizer });
    return summarize(task, exampleMetrics(model, task, examples, opts.batchSize));
  });
}

/** One line per task: "ioi  logit-diff > 0 for 98.5% of 400 (mean 3.21)". */
export function formatFigures(figures: readonly TaskFigures[]): string {
  const w = Math.max(...figures.map((f) => f.task.length));
  return figures
    .map((f) => `${f.task.padEnd(w)}  ${f.metric} > 0 for ${(100 * f.positive).toFixed(1).padStart(5)}% of ${f.n} (mean ${f.mean.toFixed(3)})`)
    .join('\n');
}
