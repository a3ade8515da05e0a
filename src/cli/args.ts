/** Shared command-line parsing: node:util parseArgs with our error messages and the engine options. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { createEngine, type Engine } from '../engine/engine.js';
import { UserError } from '../util/errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

/** Options every command that computes takes. */
export const ENGINE_OPTIONS = {
  threads: { type: 'string' },
  gemm: { type: 'string' },
} as const;

const HELP = { help: { type: 'boolean', short: 'h' } } as const;

/** Parsed option values: strings, or booleans for flags. */
export type Values<T extends Options> = { [K in keyof T]?: T[K] extends { type: 'boolean' } ? boolean : string } & { help?: boolean };

export function parse<T extends Options>(command: string, argv: string[], options: T, usage: string): { values: Values<T>; positionals: string[] } {
  try {
    return parseArgs({ args: argv, options: { ...options, ...HELP }, allowPositionals: true, strict: true }) as { values: Values<T>; positionals: string[] };
  } catch (err) {
    throw new UserError(`${command}: ${(err as Error).message}\n\n${usage}`);
  }
}

export function intOption(v: unknown, name: string, min = 1): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new UserError(`--${name} must be an integer >= ${min}, got "${v}"`);
  return n;
}

export function requireOption(v: unknown, name: string, usage: string): string {
  if (typeof v !== 'string' || v === '') throw new UserError(`--${name} is required\n\n${usage}`);
  return v;
}

export async function engineFrom(values: Record<string, unknown>): Promise<Engine> {
  const gemm = values.gemm as string | undefined;
  if (gemm !== undefined && !['auto', 'blas', 'wasm'].includes(gemm)) {
    throw new UserError(`--gemm must be auto, blas or wasm, got "${gemm}"`);
  }
  return createEngine({ threads: intOption(values.threads, 'threads'), gemm: gemm as 'auto' | 'blas' | 'wasm' | undefined });
}
