/** `eapgp info`: version, device (GPU adapter or CPU) and why, threads, GEMM path and why, relaxed SIMD, memory limits. */
import os from 'node:os';
import { describeAdapter } from '../engine/engine.js';
import { fmtBytes } from '../engine/memory.js';
import { RESIDENT_LIMIT } from '../models/weights.js';
import { version } from '../version.js';
import { ENGINE_OPTIONS, engineFrom, parse } from './args.js';

export const usage = `usage: eapgp info [--json] [--threads N] [--gemm auto|blas|wasm] [--device auto|cpu|gpu]

Shows the version, the device (a WebGPU adapter, its limits, or the CPU) and why, compute threads, which
matrix-product path is active (WebGPU, OpenBLAS or WebAssembly) and why, whether relaxed SIMD is on, and the
memory limits. --device auto picks a hardware GPU when the optional "webgpu" package finds one; software
adapters (lavapipe) only with --device gpu.`;

export async function info(argv: string[]): Promise<void> {
  const { values } = parse('info', argv, { ...ENGINE_OPTIONS, json: { type: 'boolean' as const } }, usage);
  if (values.help) return void console.log(usage);
  const engine = await engineFrom(values);
  try {
    const i = engine.info;
    const data = {
      version,
      node: process.version,
      device: i.device?.device ?? 'cpu',
      deviceReason: i.device?.reason ?? null,
      adapter: i.device?.adapter ?? null,
      gpuLimits: i.device?.limits ?? null,
      threads: i.threads,
      cores: os.availableParallelism(),
      gemm: i.gemmPath,
      gemmReason: i.gemmReason,
      blasConfig: i.blasConfig ?? null,
      relaxedSimd: i.relaxedSimd,
      kernels: i.kernels,
      wasmMemoryMax: i.memoryMax,
      systemMemory: os.totalmem(),
      weightsStreamAbove: RESIDENT_LIMIT,
      weightsStreamAlways: process.env.EAPGP_STREAM_WEIGHTS === '1',
    };
    if (values.json) return void console.log(JSON.stringify(data, null, 2));
    console.log(`eap-gp ${version} (Node ${process.version})`);
    console.log(`device:        ${data.device.toUpperCase()} — ${data.deviceReason ?? 'CPU'} (--device)`);
    if (i.device?.adapter) console.log(`adapter:       ${describeAdapter(i.device.adapter)}`);
    const L = i.device?.limits;
    if (L) {
      console.log(
        `GPU limits:    storage binding ${fmtBytes(L.maxStorageBufferBindingSize)}, buffer ${fmtBytes(L.maxBufferSize)}, ` +
          `workgroup memory ${fmtBytes(L.maxComputeWorkgroupStorageSize)}, ${L.maxComputeInvocationsPerWorkgroup} invocations, ` +
          `${L.maxComputeWorkgroupsPerDimension} groups per dimension, offset alignment ${L.minStorageBufferOffsetAlignment}`,
      );
    }
    console.log(`threads:       ${i.threads} of ${data.cores} cores (--threads)`);
    const gemmName = { blas: 'BLAS', webgpu: 'WebGPU', wasm: 'WebAssembly', reference: 'reference' }[i.gemmPath];
    console.log(`GEMM:          ${gemmName} — ${i.gemmReason}`);
    if (i.blasConfig) console.log(`BLAS config:   ${i.blasConfig}`);
    console.log(`relaxed SIMD:  ${i.relaxedSimd ? 'on (fused multiply-add)' : 'off (plain SIMD128)'}`);
    console.log(`kernels:       ${i.kernels}`);
    console.log(`memory:        WebAssembly heap up to ${fmtBytes(i.memoryMax)}; system ${fmtBytes(data.systemMemory)}`);
    console.log(
      data.weightsStreamAlways
        ? '               per-layer weights always stream from outside the heap (EAPGP_STREAM_WEIGHTS=1)'
        : `               per-layer weights stream from outside the heap above ${fmtBytes(data.weightsStreamAbove)} (GPT-2 large, XL; EAPGP_STREAM_WEIGHTS=1: always)`,
    );
  } finally {
    await engine.close();
  }
}
