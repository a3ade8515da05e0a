/** `eapgp train`: train a small GPT-2 on the project's generated task data and write it in the Hugging Face format. */
import { join } from 'node:path';
import { generators } from '../tasks/generators/index.js';
import { formatFigures } from '../training/accuracy.js';
import { TrainLog } from '../training/log.js';
import { DEFAULT_EVAL_SEED, trainRun } from '../training/run.js';
import { UserError } from '../util/errors.js';
import { makeRunLog, RunClock, writeRunLog } from '../util/run-log.js';
import { version } from '../version.js';
import { ENGINE_OPTIONS, engineFrom, intOption, parse, requireOption } from './args.js';
import { givenCommand, recordedCommand } from './command-line.js';
import { checkOutputDir } from './output-paths.js';

export const usage = `usage: eapgp train --tasks T1,T2,... --layers L --heads H --d-model D --steps N [--seed S]
                   [--batch-size 32] [--lr 5e-3] [--warmup N] [--decay cosine|linear|constant] [--min-lr X]
                   [--weight-decay 0.1] [--clip 1] [--n-ctx 64] [--init-std 0.02] [--dtype F32|F16]
                   [--embedding-norm N] [--eval-n 200] [--eval-seed S] [--log-every 50] [--quiet] [--threads N] [--gemm auto|blas|wasm] [--device auto|cpu|gpu] --out DIR

Trains a GPT-2 (GPT-2 tokenizer, full 50,257-token vocabulary, tied embeddings) from scratch on freshly
generated prompts of the tasks (${generators.map((g) => g.name).join(', ')}), mixed in equal shares: cross-entropy
at the answer position against the task's answer (greater-than: uniform over the years after YY; sva and
hypernymy: uniform over the answer set). AdamW (β = 0.9, 0.95; no decay on biases and LayerNorm), linear
warm-up (default 5 % of the steps) then cosine decay to --min-lr (default lr/10), global-norm clipping.
The seed fixes the initial weights and the data: the same command gives the same bytes on any thread count.
Writes DIR/model.safetensors and DIR/config.json (loadable by --model and by Hugging Face), then measures
the saved model on --eval-n held-out prompts per task (--eval-seed) and writes DIR/training.json; the time,
date, threads and GEMM path go to DIR/training.log.json.
--embedding-norm N rescales the saved model exactly (same logits: embeddings and every residual write times c,
ln_f divided by c) so that the mean L2 norm of the token embeddings the training data used is N, e.g. GPT-2
small's scale (~3.5), for which GradPath's step size (eap-gp's --gp-eta 1) is calibrated.
Progress (loss, learning rate, gradient norm, per-task training accuracy) goes to stderr.`;

const OPTIONS = {
  ...ENGINE_OPTIONS,
  tasks: { type: 'string' as const }, layers: { type: 'string' as const }, heads: { type: 'string' as const },
  'd-model': { type: 'string' as const }, steps: { type: 'string' as const }, seed: { type: 'string' as const },
  'batch-size': { type: 'string' as const }, lr: { type: 'string' as const }, warmup: { type: 'string' as const },
  decay: { type: 'string' as const }, 'min-lr': { type: 'string' as const }, 'weight-decay': { type: 'string' as const },
  clip: { type: 'string' as const }, 'n-ctx': { type: 'string' as const }, 'init-std': { type: 'string' as const },
  dtype: { type: 'string' as const }, 'eval-n': { type: 'string' as const }, 'eval-seed': { type: 'string' as const },
  'log-every': { type: 'string' as const }, 'embedding-norm': { type: 'string' as const }, quiet: { type: 'boolean' as const }, out: { type: 'string' as const },
};

/** A finite number >= min, or undefined when absent (UserError naming the option otherwise). */
function numberOption(v: unknown, name: string, min = 0): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n) || n < min) throw new UserError(`--${name} must be a number >= ${min}, got "${v}"`);
  return n;
}

export async function trainCommand(argv: string[]): Promise<void> {
  const { values } = parse('train', argv, OPTIONS, usage);
  if (values.help) return void console.log(usage);
  const tasks = requireOption(values.tasks, 'tasks', usage).split(',').map((t) => t.trim()).filter((t) => t !== '');
  const steps = intOption(requireOption(values.steps, 'steps', usage), 'steps')!;
  const dtype = (values.dtype ?? 'F32').toUpperCase();
  if (dtype !== 'F32' && dtype !== 'F16') throw new UserError(`--dtype must be F32 or F16, got "${values.dtype}"`);
  const decay = values.decay ?? 'cosine';
  if (!['cosine', 'linear', 'constant'].includes(decay)) throw new UserError(`--decay must be cosine, linear or constant, got "${decay}"`);
  const lr = numberOption(values.lr, 'lr', Number.MIN_VALUE) ?? 5e-3;
  const logEvery = intOption(values['log-every'], 'log-every') ?? 50;
  const out = requireOption(values.out, 'out', usage);
  checkOutputDir(out, 'out');
  const clock = new RunClock();
  const engine = await engineFrom(values);
  try {
    const log = new TrainLog(steps);
    const r = await trainRun(engine, {
      tasks, steps, out, dtype,
      layers: intOption(requireOption(values.layers, 'layers', usage), 'layers')!,
      heads: intOption(requireOption(values.heads, 'heads', usage), 'heads')!,
      dModel: intOption(requireOption(values['d-model'], 'd-model', usage), 'd-model')!,
      nCtx: intOption(values['n-ctx'], 'n-ctx'),
      initStd: numberOption(values['init-std'], 'init-std', Number.MIN_VALUE),
      seed: intOption(values.seed, 'seed', 0) ?? 0,
      batchSize: intOption(values['batch-size'], 'batch-size') ?? 32,
      schedule: {
        lr, decay: decay as 'cosine' | 'linear' | 'constant',
        warmup: intOption(values.warmup, 'warmup', 0) ?? Math.round(0.05 * steps),
        minLr: numberOption(values['min-lr'], 'min-lr'),
      },
      adamw: { weightDecay: numberOption(values['weight-decay'], 'weight-decay') },
      clip: numberOption(values.clip, 'clip'),
      evalN: intOption(values['eval-n'], 'eval-n', 0),
      embeddingNorm: numberOption(values['embedding-norm'], 'embedding-norm', Number.MIN_VALUE),
      evalSeed: intOption(values['eval-seed'], 'eval-seed', 0) ?? DEFAULT_EVAL_SEED,
      command: recordedCommand('train', argv),
      onStep: (s) => {
        log.add(s);
        if (!values.quiet && ((s.step + 1) % logEvery === 0 || s.step + 1 === steps)) console.error(log.line(s));
      },
    });
    writeRunLog(join(out, 'training.log.json'), makeRunLog({
      describes: ['model.safetensors', 'config.json', 'training.json'], tool: `eap-gp ${version}`, command: givenCommand('train', argv), clock,
      seconds: { training: Number(r.seconds.toFixed(3)), held_out: Number(r.evalSeconds.toFixed(3)), total: clock.seconds() }, engine: engine.info,
    }));
    console.error(`wrote ${out}: ${r.parameters.toLocaleString('en-US')} parameters (${dtype}), trained in ${r.seconds.toFixed(1)} s`);
    if (r.heldOut.length > 0) console.error(`held-out prompts (the saved model):\n${formatFigures(r.heldOut)}`);
  } finally {
    await engine.close();
  }
}
