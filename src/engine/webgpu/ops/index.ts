/** Every kernel-contract method and the OpBuilder that runs it on WebGPU (a method missing here does not compile). */
import type { Kernels } from '../../kernels.js';
import type { GpuDispatch, GpuLimits } from '../dispatch.js';
import { attention, attentionBackward } from './attention.js';
import { activationBackwardOp, activationOp, addOp, addRowVectorOp, axpyOp, geluBackwardOp, geluOp, scaleOp, widenBf16Op } from './elementwise.js';
import { gemmBatchedOp, gemmOp } from './gemm.js';
import { headGradDeposit } from './head-grads.js';
import { layerNorm, layerNormBackward, layerNormParamGrad, rmsNorm, rmsNormBackward } from './norms.js';
import { softmaxRowsOp, sumRowsOp, sumStackedOp } from './reduce.js';

export type KernelMethod = Exclude<keyof Kernels, 'name'>;

/** gatherRows and scatterAddRows also need the table's row count, read from the indices (GpuKernels.tableRows). */
type Builders = { [K in Exclude<KernelMethod, 'gatherRows' | 'scatterAddRows'>]: (limits: GpuLimits, ...args: Parameters<Kernels[K]>) => GpuDispatch[] };

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
  layerNorm,
  layerNormBackward,
  layerNormParamGrad,
  rmsNorm,
  rmsNormBackward,
  attention,
  attentionBackward,
  headGradDeposit,
  // gatherRows and scatterAddRows need the table's extent: GpuKernels calls ./rows.js itself
};
