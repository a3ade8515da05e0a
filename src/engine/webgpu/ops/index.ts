/**
 * Every kernel-contract method and the OpBuilder that runs it on WebGPU. A method missing here makes GpuKernels
 * throw "not yet on the GPU: <name>" (the norms, attention and the head-gradient deposit come from their own files).
 */
import type { Kernels } from '../../kernels.js';
import type { GpuDispatch, GpuLimits } from '../dispatch.js';
import { activationBackwardOp, activationOp, addOp, addRowVectorOp, axpyOp, geluBackwardOp, geluOp, scaleOp, widenBf16Op } from './elementwise.js';
import { gemmBatchedOp, gemmOp } from './gemm.js';
import { layerNormParamGradOp, softmaxRowsOp, sumRowsOp, sumStackedOp } from './reduce.js';

export type KernelMethod = Exclude<keyof Kernels, 'name'>;

type Builders = { [K in KernelMethod]?: (limits: GpuLimits, ...args: Parameters<Kernels[K]>) => GpuDispatch[] };

export const OPS: Builders = {
  gemm: gemmOp,
  gemmBatched: gemmBatchedOp,
  gelu: geluOp,
  geluBackward: geluBackwardOp,
  activation: activationOp,
  activationBackward: activationBackwardOp,
  widenBf16: widenBf16Op,
  add: addOp,
  axpy: axpyOp,
  scale: scaleOp,
  addRowVector: addRowVectorOp,
  sumRows: sumRowsOp,
  sumStacked: sumStackedOp,
  softmaxRows: softmaxRowsOp,
  layerNormParamGrad: layerNormParamGradOp,
  // gatherRows and scatterAddRows need the table's extent: GpuKernels calls ./rows.js itself
};
