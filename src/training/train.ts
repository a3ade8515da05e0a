/**
 * The training loop: batches from the task stream (./data.ts), forward to the logits at each example's answer
 * position only, soft-target cross-entropy (./loss.ts), weight gradients of every parameter from one backward
 * pass, global-norm clipping, AdamW with warm-up and decay. Deterministic for a seed, on any thread count
 * (the data stream, initialization and optimizer are seeded or fixed-order; kernels partition outputs, and BLAS
 * products are cut into blocks by their shape alone).
 */
import type { GPT2 } from '../models/gpt2.js';
import { taskMetric } from '../tasks/metric.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { UserError } from '../util/errors.js';
import { nextTick } from '../util/ticks.js';
import { AdamW, type AdamWOptions } from './adamw.js';
import { clipGradients } from './clip.js';
import { TrainingStream, type TrainingBatch } from './data.js';
import { crossEntropy } from './loss.js';
import { modelParams, setRequiresGrad, type Param } from './params.js';
import { checkSchedule, learningRate, type ScheduleOptions } from './schedule.js';

export interface TrainOptions {
  tasks: readonly string[];
  steps: number;
  batchSize: number;
  /** Seed of the data stream (the initial weights have their own, see make-model). */
  seed: number;
  schedule: Omit<ScheduleOptions, 'steps'>;
  adamw?: AdamWOptions;
  /** Global gradient-norm limit (default 1; 0 or Infinity: no clipping). */
  clip?: number;
  /** Examples generated at a time per task (default 1024). */
  chunkSize?: number;
  /** Measure the task metric of the training batch every this many steps (default 5; it costs a softmax per example). */
  accuracyEvery?: number;
  /** Called after every step. */
  onStep?: (s: StepReport) => void;
}

/** What one step did. */
export interface StepReport {
  step: number;
  lr: number;
  /** Mean loss of the batch (before the update). */
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Per example of the batch: its task, loss and (on measured steps, else null) whether the task metric was > 0. */
  tasks: readonly string[];
  losses: Float64Array;
  correct: readonly boolean[] | null;
}

export interface TrainResult {
  /** Batch loss of every step. */
  losses: Float64Array;
  seconds: number;
  /** Every token id the training prompts and targets used (padding included: it is the prompts' BOS too). */
  tokenIds: Set<number>;
}

/** Checks the numeric training options (UserError naming the option). */
export function checkTrainOptions(o: TrainOptions): void {
  if (!(Number.isSafeInteger(o.batchSize) && o.batchSize > 0)) throw new UserError(`--batch-size must be a positive integer, got ${o.batchSize}`);
  if (!(Number.isSafeInteger(o.seed) && o.seed >= 0)) throw new UserError(`--seed must be a non-negative integer, got ${o.seed}`);
  if (o.accuracyEvery !== undefined && !(Number.isSafeInteger(o.accuracyEvery) && o.accuracyEvery > 0)) {
    throw new UserError(`accuracyEvery must be a positive integer, got ${o.accuracyEvery}`);
  }
  const clip = o.clip ?? 1;
  if (!(clip >= 0)) throw new UserError(`--clip must be a number >= 0 (0: no clipping), got ${clip}`);
  checkSchedule({ ...o.schedule, steps: o.steps });
}

/** Trains `model` in place (see the module comment). */
export async function train(model: GPT2, tokenizer: Tokenizer, opts: TrainOptions): Promise<TrainResult> {
  checkTrainOptions(opts);
  const e = model.engine, B = opts.batchSize, accuracyEvery = opts.accuracyEvery ?? 5;
  const params = modelParams(model);
  const stream = new TrainingStream({ tasks: opts.tasks, seed: opts.seed, tokenizer, chunkSize: opts.chunkSize });
  const optimizer = new AdamW(params, opts.adamw);
  const schedule: ScheduleOptions = { ...opts.schedule, steps: opts.steps };
  const losses = new Float64Array(opts.steps);
  const tokenIds = new Set<number>();
  const t0 = performance.now();
  setRequiresGrad(params, true);
  try {
    for (let step = 0; step < opts.steps; step++) {
      const tb = stream.nextBatch(B);
      for (const id of tb.batch.ids) tokenIds.add(id);
      for (const t of tb.targets) for (const id of t.ids) tokenIds.add(id);
      const lr = learningRate(schedule, step);
      const measure = step % accuracyEvery === 0 || step === opts.steps - 1;
      const r = e.tidy(() => trainStep(model, params, optimizer, tb, lr, opts.clip ?? 1, measure));
      losses[step] = r.loss;
      opts.onStep?.({ step, lr, tasks: tb.tasks, ...r });
      await nextTick(); // Ctrl-C and progress output get a turn
    }
  } finally {
    setRequiresGrad(params, false);
  }
  return { losses, seconds: (performance.now() - t0) / 1000, tokenIds };
}

function trainStep(model: GPT2, params: readonly Param[], optimizer: AdamW, tb: TrainingBatch, lr: number, clip: number, measure: boolean) {
  const e = model.engine, B = tb.batch.B, V = model.dims.vocabSize;
  return e.record((tape) => {
    const { logits } = model.forward(tb.batch, { logits: 'last' });
    // the task metric (for the accuracy shown in progress) costs a float64 softmax per example: sampled steps only
    const metric = measure ? taskMetric(logits!.data(), B, V, tb.labels) : null;
    const { loss, perExample, grad } = crossEntropy(logits!, tb.targets);
    const leaves = tape.backward([[logits!, grad]], { watch: false });
    const grads = params.map((p) => {
      const g = leaves.get(p.tensor);
      if (!g) throw new Error(`training: no gradient reached ${p.name}`); // a forward path that skips the weight's op
      return g;
    });
    const gradNorm = clipGradients(grads, clip);
    if (!Number.isFinite(gradNorm)) throw new UserError(`training diverged: gradient norm ${gradNorm} (loss ${loss}); lower --lr`);
    optimizer.step(grads, lr);
    return { loss, gradNorm, losses: perExample, correct: metric ? Array.from(metric, (m) => m > 0) : null };
  });
}
