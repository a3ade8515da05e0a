/** The computational graph: structure and scores, selection and pruning, EAP-IG JSON, DOT and SVG. */
export { Graph, type SlotKind, type SourceKind } from './graph.js';
export { topn, threshold, greedy, prune, edgeRank, type CircuitCounts, type SelectOptions } from './selection.js';
export {
  readGraphJson,
  parseGraphJson,
  writeGraphJson,
  graphJsonChunks,
  graphJsonString,
  type GraphFile,
  type ReadGraphOptions,
  type WriteGraphOptions,
} from './json.js';
export { toDot, type DotOptions } from './dot.js';
export { toSvg, type SvgOptions } from './svg.js';
export { formatFloat32 } from './pyjson.js';
export { streamGraphJson, type StreamGraphOptions } from './json-stream.js';
export { encodeGraphBinary, decodeGraphBinary, type GraphBinaryHeader } from './binary.js';
export { NodeGraph, type NodeLevel } from './node-graph.js';
export { topnNodes, thresholdNodes, type NodeCounts } from './node-selection.js';
export { readNodeGraphJson, parseNodeGraphJson, writeNodeGraphJson, nodeGraphJsonString, isNodeGraphText, type NodeGraphFile } from './node-json.js';
