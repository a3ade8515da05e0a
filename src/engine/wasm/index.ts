// Entry point of the kernel module. Every kernel is exported as kernel(...args, tid, nthreads): thread `tid`
// of `nthreads` computes its own share of the outputs (see common.ts partStart).
export { gemm, gemmBatched, peak_fma } from "./gemm";
export {
  gelu, geluBackward, activation, activationBackward, erf, widenBf16, add, axpy, scale, addRowVector, sumRows, gatherRows, scatterAddRows,
} from "./elementwise";
export { layerNorm, layerNormBackward, rmsNorm, rmsNormBackward, layerNormParamGrad, softmaxRows, headGradDeposit } from "./rows";
export { attention, attentionBackward } from "./attention";
