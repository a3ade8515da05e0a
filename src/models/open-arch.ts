/**
 * A family checkpoint directory opened without its tokenizer, for callers that bring token ids themselves (the
 * families test and bench): config.json through the family's own parser, weights by their HF names.
 * `layers` keeps only the first layers (the bench's per-layer figures); the rest of the file is never read.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '../engine/engine.js';
import { UserError } from '../util/errors.js';
import { parseArchConfig } from './arch/index.js';
import { openWeights } from './checkpoint.js';
import { TransformerLM } from './transformer.js';

export interface OpenArchOptions {
  /** Stream weights per layer (default: decided by size, as loadModel does). */
  stream?: boolean;
  /** Keep only layers 0 .. layers-1. */
  layers?: number;
}

export function openArchModel(e: Engine, dir: string, opts: OpenArchOptions = {}): TransformerLM {
  const file = join(dir, 'config.json');
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const all = raw['num_hidden_layers'];
  const keep = opts.layers;
  if (keep !== undefined) {
    if (!Number.isInteger(keep) || keep < 1 || typeof all !== 'number' || keep > all) {
      throw new UserError(`${file}: cannot keep ${keep} layers of num_hidden_layers ${String(all)}; ask for 1 to ${String(all)}`);
    }
    raw['num_hidden_layers'] = keep;
  }
  const { block, spec } = parseArchConfig(raw, file);
  const layerOf = (n: string): number => Number(/\.layers\.(\d+)\./.exec(n)?.[1] ?? -1);
  const ckpt = openWeights(dir, spec, (n) => (block.ignored?.test(n) || (keep !== undefined && layerOf(n) >= keep) ? null : n));
  try {
    return new TransformerLM(e, spec, block, ckpt, opts.stream === undefined ? {} : { stream: opts.stream });
  } finally {
    ckpt.close();
  }
}
