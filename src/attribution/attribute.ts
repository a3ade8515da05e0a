/**
 * The shared attribution loop: per batch, the activation differences Δ = a(corrupted) − a(clean) of every
 * source, then the method's gradient passes summed per destination, then one contraction per layer:
 *   S[u, v] = 1/(N·K) Σ_batches Σ_passes Σ_{rows, d} Δ_u · ∂L/∂x_v,   L = −mean_batch(metric).
 * Scores are signed and zero off the graph's edges; |score| matters only at selection time.
 * Each batch's contribution is summed on its own, then added to the total in batch order, so that shards of a
 * run (src/shard/) that keep the per-batch contributions merge into exactly the single run's sums.
 */
import type { Engine } from '../engine/engine.js';
import type { Tensor } from '../engine/tensor.js';
import { Graph } from '../graph/graph.js';
import { firstNonFiniteHook } from '../models/finite-hooks.js';
import type { CausalLM } from '../models/model.js';
import { UserError } from '../util/errors.js';
import { firstNonFinite, NonFiniteError, nonFiniteName } from '../util/finite.js';
import { nextTick } from '../util/ticks.js';
import { GradSum, contract, gradientRows } from './gradients.js';
import { contractNodes } from './node-contract.js';
import { contractMlpNeurons, mlpNeuronShape } from './mlp-neurons.js';
import type { GraphLayout } from '../models/layout.js';
import { bytesPerExample } from './memory-plan.js';
import { packPair, runInSlices } from './micro.js';
import { getGradientMethod, getMethod, methodsTaking, resolveOptions } from './registry.js';
import { INTERVENTION } from './ablation.js';
import { sourceMeans, usesMeans, writeAblated } from '../evaluation/means.js';
import { recordSources } from './sources.js';
import type { AttributionLevel, AttributionOptions, BatchContext, LossFn, MethodName, PairBatch } from './types.js';

export interface Scores {
  /** Row-major [nSrc, nDst] signed scores (float64 sums of float32 contractions). */
  scores: Float64Array;
  nSrc: number;
  nDst: number;
  examples: number;
  /** Gradient passes per batch. */
  points: number;
}

export interface AttributeArgs {
  model: CausalLM;
  batches: readonly PairBatch[];
  method: MethodName;
  loss: LossFn;
  options?: AttributionOptions;
  /** Called after each batch with the number of examples done. */
  onBatch?: (examplesDone: number) => void;
  /**
   * `edge` (default): sums over edges [nSrc, nDst]; `node` or `neuron`: per source and output dimension
   * [nSrc, D] from the same passes (node-contract.ts; nodes.ts sums them over D); `mlp-neuron`: those, then
   * per layer and MLP hidden unit [L, F] (mlp-neurons.ts).
   */
  level?: AttributionLevel;
}

/**
 * One batch's unnormalised contribution to the scores, row-major [nSrc, nDst] float64 (zero off the edges), or
 * [nSrc, D] at the node and neuron levels ([nSrc, D] then [L, F] at the mlp-neuron level).
 */
export interface BatchScores {
  index: number;
  examples: number;
  sums: Float64Array;
}

export async function attribute(a: AttributeArgs): Promise<Scores> {
  const { nSrc, nDst } = a.model.layout;
  const S = new Float64Array(nSrc * nDst);
  let N = 0;
  const K = await attributeBatches(a, a.batches.map((_, i) => i), (b) => {
    for (let i = 0; i < S.length; i++) S[i]! += b.sums[i]!;
    N += b.examples;
    a.onBatch?.(N);
  });
  return { scores: normaliseScores(S, N, K), nSrc, nDst, examples: N, points: K };
}

/** The total of the batch sums (added in batch order) divided by N·K, in place: the scores. */
export function normaliseScores(S: Float64Array, N: number, K: number): Float64Array {
  for (let i = 0; i < S.length; i++) S[i]! /= N * K;
  return S;
}

/** The method's passes per batch (the K of 1/(N·K); 1 for exact patching). */
export function methodPoints(method: MethodName, nLayer: number, options?: AttributionOptions): number {
  const m = getMethod(method);
  return m.points(nLayer, resolveOptions(m, options));
}

/**
 * Runs the batches `indices` (in that order) and hands each one's contribution to `each` as it finishes (the
 * buffer is reused: copy what is kept). Returns the passes per batch K.
 */
export async function attributeBatches(a: AttributeArgs, indices: readonly number[], each: (b: BatchScores) => void): Promise<number> {
  const { model } = a;
  const e: Engine = model.engine;
  const method = getGradientMethod(a.method);
  const opts = resolveOptions(method, a.options);
  const { nLayer: L, dModel: D, vocabSize: V } = model.dims;
  const { nSrc, nDst } = model.layout;
  const nodes = (a.level ?? 'edge') !== 'edge';
  if (nodes && method.scoreClean) throw new UserError(`--level ${a.level} needs gradients at the nodes' outputs; ${method.name} takes none (use --level edge)`);
  if (nodes && method.edgesOnly) throw new UserError(`${method.name} has no --level ${a.level}: ${method.edgesOnly} (use --level edge)`);
  const hidden = a.level === 'mlp-neuron' ? mlpNeuronShape(model, method.name) : null;
  const S = new Float64Array(nSrc * (nodes ? D : nDst) + (hidden ? L * hidden.F : 0)); // the current batch's sums
  const K = method.points(L, opts);
  const ablation = opts.intervention;
  if (ablation !== 'patching' && !method.options.includes(INTERVENTION)) {
    throw new UserError(`--intervention ${ablation} applies to --method ${methodsTaking(INTERVENTION).map((m) => m.name).join(', ')} only, not ${method.name}`);
  }
  if (hidden && ablation !== 'patching') throw new UserError(`--level mlp-neuron takes the hidden units' differences from the corrupted run: --intervention ${ablation} has no hidden-unit values (use --intervention patching, or --level node|neuron)`);
  // a learning method's state lives over the whole run: every batch, in order
  const learner = method.learn?.(model, opts) ?? null;
  if (learner && (indices.length !== a.batches.length || indices.some((b, i) => b !== i))) {
    throw new UserError(`${method.name} learns its scores over every batch in order: it cannot run some batches alone (a shard); run it without sharding`);
  }
  // the dataset means, once per run and over every batch (also when this call runs a few of them: a shard)
  const means = usesMeans(ablation) ? sourceMeans(model, a.batches, ablation === 'mean-positional') : undefined;
  const runBatch = (padded: PairBatch, batchN: number, index: number): void => {
    // padding rows never reach a real position (causal attention), so the passes run on packed rows only
    const batch = packPair(padded);
    const { B } = batch.clean;
    const R = batch.clean.ids.length;
    if (batch.corrupted.B !== B || batch.corrupted.ids.length !== R) throw new Error('clean and corrupted batches differ in shape');
    if (method.scoreClean) return void e.tidy(() => method.scoreClean!({ e, model, batch, opts, sums: S }));
    if (learner) return void e.tidy(() => learner.step({ e, model, batch, opts, sums: S }));
    e.tidy(() => {
      const delta = e.empty([nSrc, R, D]);
      // Δh of the MLPs' hidden units, recorded with Δ wherever the sources are (mlp-neurons.ts)
      const hdelta = hidden ? e.empty([L, R, hidden.F]) : undefined;
      // Δ = baseline − clean: the first recording writes the buffer, the second adds to it. The baseline is the
      // corrupted run (recorded here, or by the method's own pass at the corrupted input) or the ablated values.
      const ablated = ablation !== 'patching';
      const baseFirst = ablated || !method.recordsCorrupted;
      let corrFinal: Tensor | null = null;
      if (ablated) writeAblated(delta, ablation, means, batch.clean);
      else if (baseFirst) corrFinal = recordSources(e, model, batch.corrupted, delta, 1, { keepFinal: !!method.needsCorruptedFinal, hidden: hdelta });
      let corrupted: Tensor | null = null;
      if (method.needsCorrupted) {
        corrupted = e.empty(delta.shape);
        e.kernels.scale(delta.ptr, 1, corrupted.ptr, delta.size);
      }
      if (!method.recordsClean) recordSources(e, model, batch.clean, delta, -1, { write: !baseFirst, hidden: hdelta });
      const grads = new GradSum(e, model.layout, R, D);
      const backwardTask: BatchContext['backwardTask'] = (tape, logits, bopts, at) => {
        const values = logits.toArray();
        const label = at?.label ?? 'a gradient point';
        if (firstNonFinite(values) >= 0) {
          throw new NonFiniteError('activation', `${(at && firstNonFiniteHook(model, at)) ?? 'the logits'} in the forward pass at ${label}`);
        }
        const { loss, grad } = a.loss(values, B, V, batch.labels);
        const bad = firstNonFinite(grad);
        if (bad >= 0 || !Number.isFinite(loss)) {
          throw new NonFiniteError('metric', `the task loss at ${label} ${bad >= 0 ? `has a ${nonFiniteName(grad[bad]!)} gradient at finite logits` : `is ${nonFiniteName(loss)}`}`);
        }
        // a slice keeps the whole batch's 1/B: its loss is the batch mean's share
        if (batchN !== B) for (let i = 0; i < grad.length; i++) grad[i]! *= B / batchN;
        tape.backward([[logits, e.fromArray(grad, logits.shape)]], bopts);
      };
      const ctx: BatchContext = {
        e, model, batch, index, opts, delta, corrupted, ablated, corruptedFinal: corrFinal, grads, sums: S, backwardTask,
        recordClean: { buf: delta, alpha: -1, write: false, hidden: hdelta },
        recordCorrupted: { buf: delta, alpha: 1, write: false, hidden: hdelta },
        point: (p = {}) =>
          e.tidy(() =>
            e.record((tape) => {
              const input = p.tokens === 'corrupted' ? batch.corrupted : batch.clean;
              const record = p.recordClean ? ctx.recordClean : p.recordCorrupted ? ctx.recordCorrupted : undefined;
              const gradHooks = p.gradHooks ? { ...(p.grads ?? grads).hooks, ...p.gradHooks } : (p.grads ?? grads).hooks;
              const { logits } = model.forward(input, { embeds: p.embeds, hooks: p.hooks, record, gradHooks, logits: 'last' });
              const label = p.label ?? (p.embeds ? 'an interpolated input' : `the ${p.tokens ?? 'clean'} input`);
              backwardTask(tape, logits!, p.relevance ? { relevance: p.relevance } : undefined, { label, batch: input, embeds: p.embeds, hooks: p.hooks });
            }),
          ),
        taskMetric: (logits) => {
          const { values, grad } = a.loss(logits, B, V, batch.labels);
          if (!values) throw new UserError('GradPath\'s metric objective (--gp-objective metric) needs the per-example metric values from the loss function (lossGrad gives them)');
          for (let i = 0; i < grad.length; i++) grad[i] = -B * grad[i]!; // L = −mean_b metric_b
          return { values, grad };
        },
        embeddings: (which) => {
          const ids = (which === 'clean' ? batch.clean : batch.corrupted).ids;
          return model.embed(ids);
        },
        baselineEmbeddings: () => {
          if (!ablated) return ctx.embeddings('corrupted');
          const x = e.empty([R, D]);
          writeAblated(x, ablation, means, batch.clean, 0, 1);
          return x;
        },
      };
      let badGradient: ReturnType<typeof contract>;
      try {
        const after = method.run!(ctx);
        if (nodes) {
          contractNodes(S, delta, grads, model.layout, hdelta && contractMlpNeurons(S, nSrc * D, hdelta, model));
          badGradient = null;
        } else {
          badGradient = contract(S, delta, grads, model.layout);
          after?.();
        }
      } finally {
        grads.dispose(); // the deferred per-head sums live outside the arena
      }
      // the scores so far are finite unless this batch broke them: only then look for where
      if (firstNonFinite(S) >= 0) throw locateInBatch(delta, badGradient, model.layout);
    });
  };
  const wholeOnly = method.needsWholeBatch?.(opts) ?? null;
  if (wholeOnly && opts.microBatch !== undefined) throw new UserError(`${wholeOnly.what} needs whole batches: it cannot run in micro-batches`);
  for (const index of indices) {
    const whole = a.batches[index]!;
    const first = a.batches.slice(0, index).reduce((s, b) => s + b.n, 0);
    S.fill(0);
    // a clean-run method holds the sources and a destination's inputs (a layer's q/k/v copies at most)
    const buffers = method.scoreClean ? nSrc + 3 * model.dims.nHead + 2 : nSrc + gradientRows(model.layout) + (method.needsCorrupted ? nSrc : 0) + (hidden ? Math.ceil((L * hidden.F) / D) : 0);
    await runInSlices(e, whole, {
      perExample: bytesPerExample(model.dims, whole.clean.P, method.scoreClean
        ? { buffers, taped: false, headCopies: 'none' }
        : { buffers, taped: true, retained: !!method.retainsTape, passes: K, headCopies: method.perHeadHooks ? 'outputs' : 'none' }),
      size: opts.microBatch,
      whole: wholeOnly ? `${wholeOnly.what} needs whole batches, but a batch of ${whole.n} does not fit in memory here; ${wholeOnly.instead} or a smaller --batch-size` : undefined,
      what: `${a.method} on ${model.dims.nLayer} layers × ${model.dims.nHead} heads × d ${D}, batch ${index + 1}`,
      weightsInHeap: model.residentLayerBytes,
    }, async (batch) => {
      await nextTick();
      try {
        runBatch(batch, whole.n, index);
      } catch (err) {
        if (err instanceof NonFiniteError) {
          throw err.within(`${a.method}, batch ${index + 1} of ${a.batches.length} (examples ${first + 1}–${first + whole.n})`);
        }
        throw err;
      }
    });
    if (learner && index === a.batches.length - 1) {
      // the learned scores, times N·K: the total's normalisation gives them back
      const NK = a.batches.reduce((s, b) => s + b.n, 0) * K, learned = learner.scores();
      for (let i = 0; i < S.length; i++) S[i] = learned[i]! * NK;
    }
    each({ index, examples: whole.n, sums: S });
  }
  return K;
}

/**
 * Why a batch made the scores non-finite, from its Δ [nSrc, R, D] and gradient sums [nDst, R, D]: the first
 * source whose activations differ by a non-finite amount, else the first destination with a non-finite
 * gradient, else the contraction itself overflowed.
 */
function locateInBatch(delta: Tensor, badGradient: ReturnType<typeof contract>, layout: GraphLayout): NonFiniteError {
  const names = Graph.of(layout);
  const d = delta.data();
  const i = firstNonFinite(d);
  if (i >= 0) {
    const u = Math.floor(i / (delta.size / delta.shape[0]!));
    return new NonFiniteError('activation', `the output of ${names.srcName(u)} in the clean or corrupted run holds ${nonFiniteName(d[i]!)}`);
  }
  if (badGradient) return new NonFiniteError('gradient', `the gradient at ${names.dstName(badGradient.dst)} holds ${nonFiniteName(badGradient.value)}`);
  return new NonFiniteError('score', 'the products of activation differences and gradients overflowed');
}
