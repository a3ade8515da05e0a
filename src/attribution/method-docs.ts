/**
 * The registry as text: the command line's option synopsis and help, validate's variant keys, and the README's
 * methods and levels tables (tests check that the README holds exactly methodsTable() and levelsTable()).
 */
import type { MethodOption } from './method-spec.js';
import { allOptions, gradientMethods, methods, methodsTaking } from './registry.js';

const flagged = (): MethodOption[] => allOptions().filter((o) => o.flag !== undefined);
const code = (s: string): string => '`' + s + '`';

/** "[--steps K] [--gp-eta E] …": every method option the command line takes. */
export function optionSynopsis(): string {
  return flagged().map((o) => `[--${o.flag} ${o.metavar}]`).join(' ');
}

/** One line per method: its name and what it computes. */
export function methodsHelp(indent = '  '): string {
  const width = Math.max(...methods().map((m) => m.name.length));
  return methods().map((m) => `${indent}${m.name.padEnd(width)}  ${m.summary}`).join('\n');
}

/** One line per command-line option: what it sets, its default and the methods that take it. */
export function optionsHelp(indent = '  '): string {
  const rows = flagged().map((o) => [`--${o.flag} ${o.metavar}`, `${o.help} (default ${String(o.default)}; ${methodsTaking(o).map((m) => m.name).join(', ')})`]);
  const width = Math.max(...rows.map(([a]) => a!.length));
  return rows.map(([a, b]) => `${indent}${a!.padEnd(width)}  ${b}`).join('\n');
}

/** validate's variant keys per method: "eap-ig steps=K; eap-gp steps=K, eta=E, …". */
export function variantKeysHelp(): string {
  return gradientMethods().filter((m) => m.options.length > 0)
    .map((m) => `${m.name} ${m.options.map((o) => `${o.variantKey}=${o.metavar}`).join(', ')}`).join('; ');
}

/** The README's table of methods: name, what it computes, options with their defaults. */
export function methodsTable(): string {
  const head = ['| method | computes | options (default) |', '|---|---|---|'];
  const rows = methods().map((m) => {
    const opts = m.options.map((o) => (o.flag !== undefined ? `${code(`--${o.flag}`)} (${String(o.default)})` : `validate ${code(`${o.variantKey}=`)} (${String(o.default)})`));
    return `| ${code(m.name)} | ${m.summary} | ${opts.join(', ') || '—'} |`;
  });
  return [...head, ...rows].join('\n');
}

/** Whether a method scores nodes and neurons (nodes.ts): it takes gradients at the nodes' outputs. */
export function scoresNodes(m: ReturnType<typeof methods>[number]): boolean {
  return m.kind === 'gradient' && !m.scoreClean && !m.edgesOnly;
}

/** The README's table of what each method scores at each `--level`. */
export function levelsTable(): string {
  const head = ['| method | `--level edge` | `--level node` | `--level neuron` | `--level mlp-neuron` |', '|---|---|---|---|---|'];
  const rows = methods().map((m) => {
    const n = scoresNodes(m) ? 'yes' : '—';
    return `| ${code(m.name)} | yes | ${n} | ${n} | ${n} |`;
  });
  return [...head, ...rows].join('\n');
}
