/**
 * Run logs: what a run's output files must not hold if they are to be byte-identical for the same inputs and
 * options (README "Determinism"): wall-clock seconds, dates, the thread count, the GEMM path and the machine.
 * Each command writes them to a sidecar `<name>.log.json` next to the output it describes (scores.json →
 * scores.log.json), after that output, atomically. The facts that can change the results' bits (the GEMM path,
 * relaxed SIMD, the BLAS library and OPENBLAS_CORETYPE) are recorded here too, so that two runs whose outputs
 * differ can be told apart by their logs.
 */
import os from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomicSync } from './atomic-write.js';

export const RUN_LOG_FORMAT = 'eapgp-run-log';
export const RUN_LOG_VERSION = 1;

/** The engine as a run log records it (the engine's EngineInfo has these fields; util imports no engine). */
export interface EngineFacts {
  threads: number;
  gemmPath: string;
  gemmReason: string;
  kernels: string;
  relaxedSimd: boolean;
  blasConfig?: string;
  /** Where the kernels ran (cpu or gpu), why, and the GPU adapter when one was seen. */
  device?: { device: string; reason: string; adapter?: unknown };
}

/** Wall-clock seconds: a number per phase, or a group of them (e.g. one per method). */
export interface Seconds {
  [phase: string]: number | Seconds;
}

export interface RunLog {
  format: typeof RUN_LOG_FORMAT;
  version: typeof RUN_LOG_VERSION;
  /** The output files this run wrote, relative to the log's directory. */
  describes: string[];
  tool: string;
  /** The command line as given (including --threads, --out, ...). */
  command: string[];
  started: string;
  finished: string;
  seconds: Seconds;
  threads: number;
  gemm: string;
  gemm_reason: string;
  kernels: string;
  relaxed_simd: boolean;
  blas?: string;
  host: HostFacts;
}

export interface HostFacts {
  platform: string;
  arch: string;
  cpu: string;
  cores: number;
  memory_bytes: number;
  node: string;
  /** Environment variables that choose kernels or change the BLAS library's arithmetic, where set. */
  env: Record<string, string>;
}

/** Variables that select kernels or change OpenBLAS's code path (and so, possibly, the bits of the results). */
const RECORDED_ENV = ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE', 'OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'EAPGP_GEMM', 'EAPGP_NO_BLAS', 'EAPGP_NO_RELAXED_SIMD'];

export function hostFacts(): HostFacts {
  const env: Record<string, string> = {};
  for (const k of RECORDED_ENV) if (process.env[k] !== undefined) env[k] = process.env[k]!;
  return {
    platform: `${os.platform()} ${os.release()}`, arch: os.arch(), cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(), memory_bytes: os.totalmem(), node: process.version, env,
  };
}

/** The sidecar of `output`: its name with a final ".json" replaced by ".log.json" (else ".log.json" appended). */
export function runLogPath(output: string): string {
  return output.replace(/\.json$/i, '') + '.log.json';
}

/** True for a run log's file name (readers of a directory of outputs skip these). */
export function isRunLogPath(p: string): boolean {
  return p.endsWith('.log.json');
}

/** Measures a run: its start date and wall-clock seconds since. */
export class RunClock {
  readonly started = new Date();
  private readonly t0 = performance.now();
  /** Seconds since the clock started (or since `from`, a performance.now() value), to the millisecond. */
  seconds(from = this.t0): number {
    return Number(((performance.now() - from) / 1000).toFixed(3));
  }
}

export interface RunLogInput {
  describes: string[];
  tool: string;
  command: string[];
  clock: RunClock;
  seconds: Seconds;
  engine: EngineFacts;
}

/** The log of a run that ends now. */
export function makeRunLog(i: RunLogInput, extra: Record<string, unknown> = {}): RunLog & Record<string, unknown> {
  const e = i.engine;
  return {
    format: RUN_LOG_FORMAT, version: RUN_LOG_VERSION, describes: i.describes, tool: i.tool, command: i.command,
    started: i.clock.started.toISOString(), finished: new Date().toISOString(), seconds: i.seconds,
    threads: e.threads, gemm: e.gemmPath, gemm_reason: e.gemmReason, kernels: e.kernels, relaxed_simd: e.relaxedSimd,
    ...(e.blasConfig ? { blas: e.blasConfig } : {}),
    ...(e.device ? { device: e.device.device, device_reason: e.device.reason, ...(e.device.adapter ? { adapter: e.device.adapter } : {}) } : {}),
    host: hostFacts(),
    ...extra,
  };
}

/** Writes `log` to `file` (atomically). */
export function writeRunLog(file: string, log: RunLog & Record<string, unknown>): void {
  writeFileAtomicSync(file, JSON.stringify(log, null, 2) + '\n');
}

/** Reads a run log; undefined when the file is missing or is not one (logs are records, never inputs to results). */
export function readRunLog(file: string): (RunLog & Record<string, unknown>) | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const d = JSON.parse(readFileSync(file, 'utf8')) as Partial<RunLog> | null;
    return d !== null && typeof d === 'object' && d.format === RUN_LOG_FORMAT ? (d as RunLog & Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
