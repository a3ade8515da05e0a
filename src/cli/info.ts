/** `eapgp info`: version, threads, GEMM path and why, relaxed SIMD, memory limits. */
import os from 'node:os';
import { fmtBytes } from '../engine/memory.js';
import { RESIDENT_LIMIT } from '../models/weights.js';
import { version } from '../version.js';
import { ENGINE_OPTIONS, engineFrom, parse } from './args.js';

export const usage = `usage: eapgp info [--json] [--threads N] [--gemm auto|blas|wasm] [--device auto|cpu|gpu]

Shows the version, compute threads, which matrix-product path is active (OpenBLAS or WebAssembly) and why,
whether relaxed SIMD is on, and the memory limits.`;

export async function info(argv: string[]): Promise<void> {
  const { values } = parse('info', argv, { ...ENGINE_OPTIONS, json: { type: 'boolean' as const } }, usage);
  if (values.help) return void console.log(usage);
  const engine = await engineFrom(values);
  try {
    const i = engine.info;
    const data = {
      version,
      node: process.version,
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
    console.log(`threads:       ${i.threads} of ${data.cores} cores (--threads)`);
    console.log(`GEMM:          ${i.gemmPath === 'blas' ? 'BLAS' : 'WebAssembly'} — ${i.gemmReason}`);
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
