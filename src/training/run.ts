/**
 * A whole training run, as `eapgp train` does it: a fresh GPT-2 (make-model's initialization with the run's
 * seed and LayerNorm gains exactly 1), training on the task stream, the checkpoint written in the Hugging Face
 * format (optionally rescaled exactly to a given embedding norm, ./rescale.ts), then loaded back from disk (as users will get it, e.g. rounded to F16) and measured on held-out
 * prompts; the figures and the options go to training.json next to the weights. Nothing run-specific (time,
 * date, thread count, GEMM path) is written here, so the files are byte-identical for the same options; the
 * caller logs those (`eapgp train` writes training.log.json).
 */
import * as path from 'node:path';
import type { Engine } from '../engine/engine.js';
import { GPT2, type GPT2Dims } from '../models/gpt2.js';
import { loadGpt2Model } from '../models/load.js';
import { randomModelDefaults, randomWeightSource } from '../models/make-model.js';
import type { WriteDtype } from '../models/safetensors.js';
import { loadTokenizer } from '../tokenizer/index.js';
import { writeFileAtomicSync } from '../util/atomic-write.js';
import { UserError } from '../util/errors.js';
import { version } from '../version.js';
import { heldOutFigures, type TaskFigures } from './accuracy.js';
import { writeTrainedModel } from './checkpoint.js';
import { modelParams } from './params.js';
import { scaleForEmbeddingNorm } from './rescale.js';
import { checkTrainingTasks } from './data.js';
import { checkTrainOptions, train, type TrainOptions } from './train.js';

export interface TrainRunOptions extends TrainOptions {
  layers: number;
  heads: number;
  dModel: number;
  /** n_positions = n_ctx (default 64: the task prompts are under 24 tokens). */
  nCtx?: number;
  /** Standard deviation of the initial weights (default 0.02). */
  initStd?: number;
  dtype: WriteDtype;
  out: string;
  /** Held-out prompts per task measured at the end (default 200; 0 skips). */
  evalN?: number;
  /** Seed of the held-out prompts (default 1,000,003; the training stream derives its seeds from `seed`). */
  evalSeed?: number;
  /** The command line, recorded in config.json (without run-only options such as --threads). */
  command?: string;
  /**
   * Rescale the saved model exactly (./rescale.ts) so that the mean L2 norm of the wte rows of the tokens the
   * training data used is this (default: no rescaling).
   */
  embeddingNorm?: number;
}

export interface TrainRunResult {
  losses: Float64Array;
  /** Wall-clock seconds of the training loop and of the held-out measurement. */
  seconds: number;
  evalSeconds: number;
  heldOut: TaskFigures[];
  parameters: number;
}

export const DEFAULT_EVAL_SEED = 1_000_003;

/** Runs training end to end (see the module comment). */
export async function trainRun(engine: Engine, o: TrainRunOptions): Promise<TrainRunResult> {
  const nCtx = o.nCtx ?? 64;
  checkTrainOptions(o); // bad options fail before the model is made
  checkTrainingTasks(o.tasks);
  if (o.dModel % o.heads !== 0) throw new UserError(`--d-model ${o.dModel} is not divisible by --heads ${o.heads}`);
  const init = randomModelDefaults({ layers: o.layers, heads: o.heads, dModel: o.dModel, nCtx, seed: o.seed, initStd: o.initStd, lnNoise: 0 });
  const dims: GPT2Dims = { nLayer: o.layers, nHead: o.heads, dModel: o.dModel, nPositions: nCtx, vocabSize: init.vocab, layerNormEpsilon: 1e-5 };
  const tokenizer = loadTokenizer();
  const model = new GPT2(engine, dims, randomWeightSource(init));
  let result: Awaited<ReturnType<typeof train>>;
  let parameters = 0;
  /** The rescaling applied on saving: target mean row norm, the factor c, and over how many distinct tokens. */
  let embedding: { norm: number; scale: number; tokens: number } | undefined;
  try {
    result = await train(model, tokenizer, o);
    const params = modelParams(model);
    parameters = params.reduce((s, p) => s + p.tensor.size, 0);
    if (o.embeddingNorm !== undefined) {
      const c = scaleForEmbeddingNorm(model.weights.wte.data(), dims.dModel, result.tokenIds, o.embeddingNorm);
      embedding = { norm: o.embeddingNorm, scale: c, tokens: result.tokenIds.size };
    }
    writeTrainedModel(o.out, {
      dims, params, dtype: o.dtype, residualScale: embedding?.scale,
      training: {
        tool: `eap-gp ${version}`, tasks: o.tasks, steps: o.steps, batch_size: o.batchSize, seed: o.seed,
        lr: o.schedule.lr, warmup: o.schedule.warmup, decay: o.schedule.decay, min_lr: o.schedule.minLr ?? 0.1 * o.schedule.lr,
        weight_decay: o.adamw?.weightDecay ?? 0.1, clip: o.clip ?? 1, init_std: init.initStd,
        ...(o.command ? { command: o.command } : {}),
        ...(embedding ? { embedding_norm: embedding } : {}),
      },
    });
  } finally {
    model.dispose();
  }
  const t0 = performance.now();
  const heldOut = await measureSaved(engine, o);
  const evalSeconds = (performance.now() - t0) / 1000;
  const last = result.losses.slice(-Math.min(50, result.losses.length));
  writeFileAtomicSync(path.join(o.out, 'training.json'), JSON.stringify({
    final_loss: Number((last.reduce((a, b) => a + b, 0) / last.length).toFixed(4)),
    ...(embedding ? { embedding_norm: embedding } : {}),
    held_out: { seed: o.evalSeed ?? DEFAULT_EVAL_SEED, figures: heldOut },
  }, null, 2) + '\n');
  return { losses: result.losses, seconds: result.seconds, evalSeconds, heldOut, parameters };
}

/** Held-out figures of the model as written to disk. */
async function measureSaved(engine: Engine, o: TrainRunOptions): Promise<TaskFigures[]> {
  const n = o.evalN ?? 200;
  if (n === 0) return [];
  const { model, tokenizer } = await loadGpt2Model(engine, path.resolve(o.out), { quiet: true });
  try {
    return heldOutFigures(model, tokenizer, o.tasks, { n, seed: o.evalSeed ?? DEFAULT_EVAL_SEED });
  } finally {
    model.dispose();
  }
}
