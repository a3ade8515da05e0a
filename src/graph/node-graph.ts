/**
 * A node- or neuron-level graph (hannamw/EAP-IG's Graph with nodes_scores / neurons_scores): per source node a
 * score and a circuit flag, and at the neuron level per output dimension of each source a score and a flag
 * ([nSrc, d_model], EAP-IG's neurons_scores / neurons_in_graph). An unscored node or neuron holds NaN and stays
 * in every selection, as in EAP-IG. The edge graph beside it (`edges`) keeps what the file's "edges" section
 * says; inducedEdges gives the edges between kept nodes, which EAP-IG's node-level selection leaves in_graph.
 * Scores are float32, as in EAP-IG's tensors. Beside either level a graph may carry the MLPs' hidden units
 * (`mlp`: per layer and unit [L, F] a score and a flag; attribute --level mlp-neuron), our extra keys in the file.
 */
import type { GraphLayout } from '../models/layout.js';
import { Graph } from './graph.js';

export type NodeLevel = 'node' | 'neuron';

export interface MlpUnits {
  width: number;
  scores: Float32Array;
  inGraph: Uint8Array;
}

export class NodeGraph {
  readonly layout: GraphLayout;
  readonly nSrc: number;
  /** Per source node [nSrc]; NaN: unscored. */
  readonly nodeScores: Float32Array;
  readonly nodeInGraph: Uint8Array;
  /** Per source and output dimension [nSrc, dModel] at the neuron level; null at the node level. */
  readonly neuronScores: Float32Array | null;
  readonly neuronInGraph: Uint8Array | null;
  /** The MLPs' hidden units, [L, width] row-major (NaN: unscored), or null when the graph has none. */
  mlp: MlpUnits | null = null;

  constructor(readonly edges: Graph, readonly dModel: number, readonly level: NodeLevel) {
    this.layout = edges.layout;
    this.nSrc = edges.nSrc;
    this.nodeScores = new Float32Array(this.nSrc).fill(NaN);
    this.nodeInGraph = new Uint8Array(this.nSrc);
    this.neuronScores = level === 'neuron' ? new Float32Array(this.nSrc * dModel).fill(NaN) : null;
    this.neuronInGraph = level === 'neuron' ? new Uint8Array(this.nSrc * dModel) : null;
  }

  /** A graph of `layout`'s shape holding node scores [nSrc] and, at the neuron level, neuron scores [nSrc, D]. */
  static fromScores(layout: GraphLayout, dModel: number, level: NodeLevel, nodes: ArrayLike<number>, neurons?: ArrayLike<number>): NodeGraph {
    const g = new NodeGraph(Graph.of(layout), dModel, level);
    g.nodeScores.set(Array.from(nodes));
    if (g.neuronScores) {
      if (!neurons) throw new Error('NodeGraph.fromScores: the neuron level needs neuron scores');
      g.neuronScores.set(Array.from(neurons));
    }
    return g;
  }

  /** Gives the graph hidden-unit scores [L, width] (all out of the circuit). */
  setMlpScores(width: number, scores: ArrayLike<number>): MlpUnits {
    const n = this.layout.nLayers * width;
    if (scores.length !== n) throw new Error(`NodeGraph.setMlpScores: ${scores.length} scores for ${this.layout.nLayers} layers × ${width} units`);
    this.mlp = { width, scores: Float32Array.from(scores as ArrayLike<number>), inGraph: new Uint8Array(n) };
    return this.mlp;
  }

  /** Which hidden units keep their own value (1) and which take the intervention's (0), [L, width]; null without units. */
  mlpKeepMask(): Float32Array | null {
    return this.mlp ? Float32Array.from(this.mlp.inGraph) : null;
  }

  srcName(u: number): string {
    return this.layout.srcName(u);
  }

  /** Everything in the circuit (the full model). */
  fill(): void {
    this.nodeInGraph.fill(1);
    this.neuronInGraph?.fill(1);
    this.mlp?.inGraph.fill(1);
  }

  /** Nothing in the circuit. */
  clear(): void {
    this.nodeInGraph.fill(0);
    this.neuronInGraph?.fill(0);
    this.mlp?.inGraph.fill(0);
  }

  countNodes(): number {
    return this.nodeInGraph.reduce((s, x) => s + x, 0);
  }

  /** Neurons in the circuit (of nodes in it); at the node level, d_model per node in it. */
  countNeurons(): number {
    if (!this.neuronInGraph) return this.countNodes() * this.dModel;
    let n = 0;
    for (let u = 0; u < this.nSrc; u++) if (this.nodeInGraph[u]) for (let d = 0; d < this.dModel; d++) n += this.neuronInGraph[u * this.dModel + d]!;
    return n;
  }

  /**
   * Which part of every source's output keeps its own value [nSrc, D] (1) and which takes the intervention's (0):
   * a node out of the circuit is patched whole; at the neuron level a node in it keeps only its flagged dimensions.
   */
  keepMask(): Float32Array {
    const D = this.dModel, m = new Float32Array(this.nSrc * D);
    for (let u = 0; u < this.nSrc; u++) {
      if (!this.nodeInGraph[u]) continue;
      for (let d = 0; d < D; d++) m[u * D + d] = this.neuronInGraph ? this.neuronInGraph[u * D + d]! : 1;
    }
    return m;
  }

  /**
   * The edges between nodes in the circuit (a destination's owner in it, or logits), flagged in `edges`: what
   * EAP-IG's node-level selection leaves in_graph. Patching these edges is node patching: each node out of the
   * circuit reaches every reader as the intervention's value.
   */
  inducedEdges(): Graph {
    const g = this.edges;
    g.clearCircuit();
    g.forEachEdge((u, v) => {
      const owner = g.slotOwner(v);
      if (this.nodeInGraph[u] && (owner < 0 || this.nodeInGraph[owner])) g.setEdgeInGraph(u, v, true);
    });
    for (let u = 0; u < this.nSrc; u++) g.setNodeInGraph(u, this.nodeInGraph[u] === 1);
    return g;
  }
}
