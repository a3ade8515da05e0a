/**
 * A seedable, endless stream of training examples mixed from the task generators. Each task has its own
 * sequence of chunks; chunk k is `generateExamples(task, {n: chunkSize, seed: deriveSeed(seed, "train/<task>/<k>")})`,
 * so the stream is fully determined by (tasks, seed, chunkSize) and differs from any held-out set made with
 * another seed. Batches take tasks in turn (example i of the stream is task i mod T), so every task gets the
 * same share whatever the batch size. Only clean prompts are trained on; the target is the task's answer
 * distribution (./targets.ts).
 */
import { makeBatch, type Batch } from '../models/batch.js';
import { deriveSeed } from '../models/random.js';
import { generateExamples } from '../tasks/generated.js';
import { GPT2_PAD_ID } from '../tasks/batch.js';
import { generators } from '../tasks/generators/index.js';
import type { Label, TaskExample } from '../tasks/types.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { UserError } from '../util/errors.js';
import { targetOf, type Target } from './targets.js';

/** A training batch: clean prompts right-padded, with each example's task, label and target. */
export interface TrainingBatch {
  batch: Batch;
  tasks: string[];
  labels: Label[];
  targets: Target[];
}

export interface StreamOptions {
  tasks: readonly string[];
  seed: number;
  tokenizer: Tokenizer;
  /** Examples generated at a time per task (default 1024). */
  chunkSize?: number;
}

/** Checks a task list for training: known generated tasks, no repeats (UserError otherwise). */
export function checkTrainingTasks(tasks: readonly string[]): void {
  const known = generators.map((g) => g.name);
  if (tasks.length === 0) throw new UserError(`--tasks needs at least one task; choose from ${known.join(', ')}`);
  for (const t of tasks) {
    if (!known.includes(t)) throw new UserError(`--tasks: "${t}" is not a task with a generator; choose from ${known.join(', ')}`);
  }
  const dup = tasks.find((t, i) => tasks.indexOf(t) !== i);
  if (dup) throw new UserError(`--tasks lists "${dup}" twice`);
}

export class TrainingStream {
  private readonly chunkSize: number;
  private readonly pools: { examples: TaskExample[]; next: number; chunk: number }[];
  private turn = 0;

  constructor(private readonly opts: StreamOptions) {
    checkTrainingTasks(opts.tasks);
    this.chunkSize = opts.chunkSize ?? 1024;
    this.pools = opts.tasks.map(() => ({ examples: [], next: 0, chunk: 0 }));
  }

  /** The next example of task index `t`. */
  private take(t: number): TaskExample {
    const pool = this.pools[t]!;
    if (pool.next >= pool.examples.length) {
      const task = this.opts.tasks[t]!;
      pool.examples = generateExamples(task, { n: this.chunkSize, seed: deriveSeed(this.opts.seed, `train/${task}/${pool.chunk}`), tokenizer: this.opts.tokenizer });
      pool.chunk++;
      pool.next = 0;
    }
    return pool.examples[pool.next++]!;
  }

  /** The next `B` examples of the stream as a batch. */
  nextBatch(B: number): TrainingBatch {
    const tasks: string[] = [], labels: Label[] = [], seqs: number[][] = [];
    for (let i = 0; i < B; i++) {
      const t = this.turn;
      this.turn = (this.turn + 1) % this.opts.tasks.length;
      const ex = this.take(t);
      tasks.push(this.opts.tasks[t]!);
      labels.push(ex.label);
      seqs.push(ex.clean);
    }
    return { batch: makeBatch(seqs, GPT2_PAD_ID), tasks, labels, targets: labels.map(targetOf) };
  }
}
