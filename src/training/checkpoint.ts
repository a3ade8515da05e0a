/**
 * Writes a trained GPT-2 as a Hugging Face model directory: model.safetensors (GPT2Model names, tied
 * unembedding, F32 or F16/BF16 rounded to nearest even) and config.json, each written atomically, the weights
 * first, so a directory whose config.json is new never pairs it with old weights. Optionally the residual stream
 * is rescaled on the way out (./rescale.ts), which leaves the model's function unchanged.
 */
import * as path from 'node:path';
import { writeFileAtomicSync } from '../util/atomic-write.js';
import { gpt2ConfigJson, randomModelDefaults } from '../models/make-model.js';
import type { GPT2Dims } from '../models/gpt2.js';
import { writeSafetensors, type TensorToWrite, type WriteDtype } from '../models/safetensors.js';
import type { Param } from './params.js';
import { scaleResidualStream } from './rescale.js';

export interface CheckpointOptions {
  dims: GPT2Dims;
  params: readonly Param[];
  dtype: WriteDtype;
  /** Stored in config.json under "eapgp_training" (how the model was made). */
  training: Record<string, unknown>;
  /** Scale the residual stream by this factor when writing (./rescale.ts; default 1: the weights as they are). */
  residualScale?: number;
}

/** Writes `dir`/model.safetensors and `dir`/config.json (the directory is created if needed). */
export function writeTrainedModel(dir: string, o: CheckpointOptions): void {
  const { dims } = o;
  const config = gpt2ConfigJson(randomModelDefaults({ layers: dims.nLayer, heads: dims.nHead, dModel: dims.dModel, vocab: dims.vocabSize, nCtx: dims.nPositions, dtype: o.dtype }));
  delete config.eapgp_init;
  config.layer_norm_epsilon = dims.layerNormEpsilon;
  config.eapgp_training = o.training;
  const data = new Map(o.params.map((p) => [p.name, p.tensor.toArray()] as const));
  if (o.residualScale !== undefined && o.residualScale !== 1) scaleResidualStream(data, o.residualScale);
  const tensors: Record<string, TensorToWrite> = {};
  for (const p of o.params) tensors[p.name] = { dtype: o.dtype, shape: [...p.tensor.shape], data: data.get(p.name)! };
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  writeFileAtomicSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
}
