/** In-memory random GPT-2 weights for tests that need no checkpoint file. */
import { Rng } from '../../src/models/random.js';
import type { GPT2Dims } from '../../src/models/gpt2.js';
import type { WeightSource } from '../../src/models/weights.js';

export function tinyDims(over: Partial<GPT2Dims> = {}): GPT2Dims {
  return { nLayer: 2, nHead: 2, dModel: 8, nPositions: 16, vocabSize: 50, layerNormEpsilon: 1e-5, ...over };
}

/** Weights ~ N(0, std), LayerNorm weights 1 + N(0, 0.1), like make-model but in memory. */
export function tinyWeights(d: GPT2Dims, seed = 1, std = 0.3): WeightSource {
  const rng = new Rng(seed);
  const D = d.dModel;
  const shapes = new Map<string, number[]>([
    ['wte.weight', [d.vocabSize, D]],
    ['wpe.weight', [d.nPositions, D]],
    ['ln_f.weight', [D]],
    ['ln_f.bias', [D]],
  ]);
  for (let l = 0; l < d.nLayer; l++) {
    const p = `h.${l}.`;
    for (const [n, s] of [
      ['ln_1.weight', [D]], ['ln_1.bias', [D]], ['attn.c_attn.weight', [D, 3 * D]], ['attn.c_attn.bias', [3 * D]],
      ['attn.c_proj.weight', [D, D]], ['attn.c_proj.bias', [D]], ['ln_2.weight', [D]], ['ln_2.bias', [D]],
      ['mlp.c_fc.weight', [D, 4 * D]], ['mlp.c_fc.bias', [4 * D]], ['mlp.c_proj.weight', [4 * D, D]], ['mlp.c_proj.bias', [D]],
    ] as const) shapes.set(p + n, [...s]);
  }
  const data = new Map<string, Float32Array>();
  for (const [n, s] of shapes) {
    const a = new Float32Array(s.reduce((x, y) => x * y, 1));
    const isLnW = /ln_.\.weight|ln_f\.weight/.test(n);
    for (let i = 0; i < a.length; i++) a[i] = (isLnW ? 1 : 0) + rng.normal() * (isLnW ? 0.1 : std);
    data.set(n, a);
  }
  return {
    readF32: (n) => {
      const a = data.get(n);
      if (!a) throw new Error(`no tensor ${n}`);
      return a;
    },
    shape: (n) => shapes.get(n)!,
  };
}
