/**
 * Reverse-mode automatic differentiation. Ops record a node per output when any input requires a gradient;
 * `backward` walks the nodes in reverse creation order (a valid reverse topological order), so a tensor's
 * gradient is complete when its producer is reached: that is when watchers see it.
 */
import type { Engine } from './engine.js';
import { Tensor } from './tensor.js';

/** Accumulates gradients into inputs; given to each node's backward function. */
export interface Grads {
  /**
   * The gradient buffer of `t`, created zeroed-or-not on first use: `fresh` is true when the caller must
   * write (not add) into it. Null when `t` needs no gradient.
   */
  slot(t: Tensor): { g: Tensor; fresh: boolean } | null;
  /** Adds `g` into t's gradient; may take ownership of `g` instead of copying it (do not use `g` afterwards). */
  give(t: Tensor, g: Tensor): void;
  /** False when this backward pass ignores gradient watchers (ops may then skip work done only for them). */
  readonly watching: boolean;
  /** The propagation rules ops apply instead of their gradient (relevance.ts); null: the gradient. */
  readonly relevance: RelevanceRules | null;
}

/** Which LRP rules a relevance backward pass applies (relevance.ts); a rule switched off keeps the gradient. */
export interface RelevanceRules {
  /** LN-rule: a norm's 1/σ is a constant. */
  readonly norm: boolean;
  /** Identity-rule: an activation passes dy·act(x)/x. */
  readonly activation: boolean;
  /** Half-rule: each factor of a gated activation gets half its gradient. */
  readonly gate: boolean;
  /** AH-rule: the attention pattern is a constant (no gradient to queries and keys). */
  readonly attention: boolean;
}

export interface BackwardOptions {
  /** Keep the recorded graph, so that backward can run again from other seeds (default false). */
  retain?: boolean;
  /** Call the gradient watchers (default true). */
  watch?: boolean;
  /** Send relevance by these rules instead of gradients (relevance.ts); default: gradients. */
  relevance?: RelevanceRules;
}

export type BackwardFn = (gradOut: Tensor, grads: Grads) => void;

export class TapeNode {
  constructor(
    readonly inputs: readonly Tensor[],
    readonly output: Tensor,
    readonly backward: BackwardFn,
  ) {}
}

export type GradWatcher = (grad: Tensor) => void;

export class Tape {
  readonly nodes: TapeNode[] = [];
  private readonly watchers = new Map<Tensor, GradWatcher[]>();

  constructor(readonly engine: Engine) {}

  /** Records `output = f(inputs)` if any input requires a gradient; returns the output. */
  record(inputs: readonly Tensor[], output: Tensor, backward: BackwardFn): Tensor {
    if (inputs.some((t) => t.requiresGrad)) {
      output.requiresGrad = true;
      const node = new TapeNode(inputs, output, backward);
      output.node = node;
      this.nodes.push(node);
    }
    return output;
  }

  /** Calls `cb` with t's complete gradient during backward (the gradient tensor is valid only during the call). */
  watch(t: Tensor, cb: GradWatcher): void {
    const list = this.watchers.get(t);
    if (list) list.push(cb);
    else this.watchers.set(t, [cb]);
  }

  /**
   * Back-propagates from `seeds`: pairs (tensor, dLoss/dTensor). Returns the gradients of the leaf tensors
   * that required one (e.g. input embeddings or, later, weights); the caller owns them.
   */
  backward(seeds: readonly (readonly [Tensor, Tensor])[], opts: BackwardOptions = {}): Map<Tensor, Tensor> {
    const e = this.engine;
    const watching = opts.watch ?? true;
    const grads = new Map<Tensor, Tensor>();
    // the gradient being processed; `give` may hand it on to an input instead of copying it
    let current: Tensor | null = null;
    let moved = false;
    const sink: Grads = {
      watching,
      relevance: opts.relevance ?? null,
      slot: (t) => {
        if (!t.requiresGrad) return null;
        const have = grads.get(t);
        if (have) return { g: have, fresh: false };
        const g = e.emptyDetached(t.shape);
        grads.set(t, g);
        return { g, fresh: true };
      },
      give: (t, g) => {
        if (!t.requiresGrad) {
          if (g !== current) g.dispose();
          return;
        }
        const have = grads.get(t);
        if (!have) {
          if (g === current && moved) {
            // already handed to another input: this one needs its own copy
            const copy = e.emptyDetached(t.shape);
            e.kernels.scale(g.ptr, 1, copy.ptr, copy.size);
            grads.set(t, copy);
            return;
          }
          if (g === current) moved = true;
          grads.set(t, g);
          return;
        }
        e.kernels.axpy(1, g.ptr, have.ptr, have.size);
        if (g !== current) g.dispose();
      },
    };
    for (const [t, s] of seeds) {
      if (s.size !== t.size) throw new Error(`backward: seed of size ${s.size} for a tensor of ${t.size}`);
      const g = e.emptyDetached(t.shape);
      e.kernels.scale(s.ptr, 1, g.ptr, g.size);
      sink.give(t, g);
    }
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const node = this.nodes[i]!;
      const g = grads.get(node.output);
      if (!g) continue;
      grads.delete(node.output);
      if (watching) this.fire(node.output, g);
      current = g;
      moved = false;
      node.backward(g, sink);
      current = null;
      if (!moved) g.dispose();
    }
    for (const [t, g] of grads) {
      if (watching) this.fire(t, g);
      e.register(g); // leaf gradients belong to the caller's arena
    }
    if (!opts.retain) {
      this.nodes.length = 0;
      this.watchers.clear();
    }
    return grads;
  }

  private fire(t: Tensor, g: Tensor): void {
    for (const cb of this.watchers.get(t) ?? []) cb(g);
  }
}
