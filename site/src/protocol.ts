/** Messages between the discovery page and its worker (discover-worker.ts). */
import type { PathFile } from '../../src/attribution/path-format.js';
import type { SweepResult } from '../../src/evaluation/sweep.js';

export interface OptionInfo { flag: string; metavar: string; default: string; help: string; expects: string }
export interface MethodInfo { name: string; summary: string; color: string; options: OptionInfo[] }
export interface TaskInfo { name: string; description: string }

export type ModelChoice = { kind: 'builtin' } | { kind: 'hub'; name: string; endpoint: string };
/** Generated prompts of a task, or typed rows (answers as text, each one token of the model's tokenizer). */
export type TaskChoice =
  | { kind: 'generated'; task: string; n: number; seed: number }
  | { kind: 'custom'; rows: { clean: string; corrupted: string; answer: string; wrong: string }[] };

export interface RunRequest {
  type: 'run';
  model: ModelChoice;
  task: TaskChoice;
  method: string;
  /** Method options by command-line flag, as text (parsed by the option itself, as on the command line). */
  options: Record<string, string>;
  batchSize: number;
  /** The engine's device, as --device: auto (a hardware WebGPU adapter, else WebAssembly), cpu, gpu (any adapter). */
  device: 'auto' | 'cpu' | 'gpu';
  /** Also sweep faithfulness over the MIB edge fractions (greedy by |score|, pruned, patching). */
  faithfulness: boolean;
  /** Also trace the straight path and GradPath on this many examples (0: none), as `eapgp path` does. */
  paths: number;
}

export type ToWorker = { type: 'hello' } | RunRequest;

export type FromWorker =
  | { type: 'ready'; methods: MethodInfo[]; tasks: TaskInfo[]; threads: number; isolated: boolean }
  | { type: 'progress'; stage: string; done: number; total: number; unit: 'bytes' | 'items' }
  /** The engine started: which device runs the kernels and why (the adapter, or why no GPU was used). */
  | { type: 'engine'; device: 'cpu' | 'gpu'; text: string }
  | {
    type: 'result'; json: string; binary: Uint8Array; seconds: number; downloaded: number; engine: string; examples: number;
    /** The faithfulness sweep with the task's metric name, when asked for. */
    sweep: (SweepResult & { metric: string }) | null;
    path: PathFile | null;
  }
  | { type: 'error'; message: string };
