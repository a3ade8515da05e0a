/**
 * A node- or neuron-level graph (hannamw/EAP-IG's Graph with nodes_scores / neurons_scores): per source node a
 * score and a circuit flag, and at the neuron level per output dimension of each source a score and a flag
 * ([nSrc, d_model], EAP-IG's neurons_scores / neurons_in_graph). An unscored node or neuron holds NaN and stays
 * in every selection, as in EAP-IG. The edge graph beside it (`edges`) keeps what the file's "edges" section
 * says; inducedEdges gives the edges between kept nodes, which EAP-IG's node-level selection leaves in_graph.
 * Scores are float32, as in EAP-IG's tensors.
 */
import type { GraphLayout } from '../models/layout.js';
import { Graph } from './graph.js';

export type NodeLevel = 'node' | 'neuron';

export class NodeGraph {
  readonly layout: GraphLayout;
  readonly nSrc: number;
  /** Per source node [nSrc]; NaN: unscored. */
  readonly nodeScores: Float32Array;
  readonly nodeInGraph: Uint8Array;
  /** Per source and output dimension [nSrc, dModel] at the neuron level; null at the node level. */
  readonly neuronScores: Float32Array | null;
  readonly neuronInGraph: Uint8Array | null;

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

  srcName(u: number): string {
    return this.layout.srcName(u);
  }

  /** Everything in the circuit (the full model). */
  fill(): void {
    this.nodeInGraph.fill(1);
    this.neuronInGraph?.fill(1);
  }

  /** Nothing in the circuit. */
  clear(): void {
    this.nodeInGraph.fill(0);
    this.neuronInGraph?.fill(0);
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
