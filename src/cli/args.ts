/** Shared command-line parsing: node:util parseArgs with our error messages and the engine options. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { createEngine, type Engine, type EngineOptions } from '../engine/engine.js';
import { UserError } from '../util/errors.js';
import { nearest } from '../util/suggest.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

/** Options every command that computes takes. */
export const ENGINE_OPTIONS = {
  threads: { type: 'string' },
  gemm: { type: 'string' },
  device: { type: 'string' },
} as const;

const HELP = { help: { type: 'boolean', short: 'h' } } as const;

/** Parsed option values: strings, or booleans for flags. */
export type Values<T extends Options> = { [K in keyof T]?: T[K] extends { type: 'boolean' } ? boolean : string } & { help?: boolean };

/** A value that reads as a negative number: "-3", "-0.5", "-.5", "-1e-3". */
const NEGATIVE_NUMBER = /^-(\d|\.\d)/;

/**
 * `--name -3` as `--name=-3` for string options, so negative numbers reach the option's own range check
 * (node:util's parser would take "-3" for an option and call the value missing).
 */
function joinNegativeValues(argv: readonly string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const name = a.startsWith('--') && !a.includes('=') ? a.slice(2) : undefined;
    const next = argv[i + 1];
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

/** The message for an unknown option, with the nearest known one when it is close. */
function unknownOption(command: string, err: Error, options: Options): string {
  const given = /'(-{1,2}[^'=]+)/.exec(err.message)?.[1] ?? '';
  const guess = nearest(given.replace(/^-+/, ''), Object.keys(options));
  return `${command}: unknown option ${given}${guess ? `; did you mean --${guess}?` : ''}`;
}

/**
 * Parses a command's options. Positional arguments are an error unless the command takes them (`positionals`):
 * a stray word is nearly always a list written with spaces ("--edges 100 200") or a missing option name.
 */
export function parse<T extends Options>(
  command: string, argv: string[], options: T, usage: string, opts: { positionals?: boolean } = {},
): { values: Values<T>; positionals: string[] } {
  const all = { ...options, ...HELP };
  let parsed: { values: Values<T>; positionals: string[] };
  try {
    parsed = parseArgs({ args: joinNegativeValues(argv, all), options: all, allowPositionals: true, strict: true }) as { values: Values<T>; positionals: string[] };
  } catch (err) {
    const e = err as Error & { code?: string };
    const message = e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? unknownOption(command, e, all) : `${command}: ${e.message}`;
    throw new UserError(`${message}\n\n${usage}`);
  }
  if (!opts.positionals && parsed.positionals.length > 0 && !parsed.values.help) {
    throw new UserError(
      `${command}: unexpected argument "${parsed.positionals[0]}": every option takes one value (write lists with commas, e.g. --edges 100,200)\n\n${usage}`,
    );
  }
  return parsed;
}

/** Prints a warning on stderr (nothing for null). */
export function warn(message: string | null | undefined): void {
  if (message) console.error(`warning: ${message}`);
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
  const device = values.device as string | undefined;
  if (device !== undefined && !['auto', 'cpu', 'gpu'].includes(device)) {
    throw new UserError(`--device must be auto, cpu or gpu, got "${device}"`);
  }
  return createEngine({
    threads: intOption(values.threads, 'threads'), gemm: gemm as 'auto' | 'blas' | 'wasm' | undefined, device: device as EngineOptions['device'],
  });
}
