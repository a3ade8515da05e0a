/**
 * What a method says about itself beside its computation: its name and summary, its options (command-line
 * flag, validate key, default, parser), what its graph JSON meta records, and how validate, reproduce and the
 * viewer treat it. Everything that lists methods or their options reads these (src/attribution/registry.ts),
 * so a method is described in its own file only.
 */
import type { ResolvedOptions } from './types.js';

/** One option of a method. Two methods that share an option share the object (same key, default and parser). */
export interface MethodOption<T = unknown> {
  /** Key in AttributionOptions, in validate's results.json and in shard keys ('gpEta'). */
  readonly key: string;
  /** Command-line flag without the dashes ('gp-eta'); absent for an option only validate's variants set. */
  readonly flag?: string;
  /** Key in a validate variant, method:key=value ('eta'). */
  readonly variantKey: string;
  /** Placeholder in synopses ('E', 'example|batch'). */
  readonly metavar: string;
  /** The graph JSON meta field that records it, if any ('gp_eta'). */
  readonly meta?: string;
  /** Written in the graph JSON meta only when not at its default (options added later: older outputs stay the same). */
  readonly metaWhenSet?: boolean;
  /** Written in validate's variant names even at its default (the points of a stepped method). */
  readonly alwaysNamed?: boolean;
  readonly default: T;
  /** What a valid value is, completing "must be …" ('a number >= 0'). */
  readonly expects: string;
  /** What it sets, a few words (help text and the README table). */
  readonly help: string;
  /** The value `text` spells, or undefined when it spells none. */
  parse(text: string): T | undefined;
  /** Whether `v` is a valid value (library callers pass values, not text). */
  valid(v: unknown): v is T;
}

/** Another variant a validate finding compares a variant with (by name, method and options). */
export interface Comparison {
  label: string;
  matches(other: { name: string; method: string; options: Readonly<Record<string, unknown>> }): boolean;
}

export interface MethodSpec {
  readonly name: string;
  /**
   * `gradient`: runs through attribute(), batch by batch, scores divided by N·K (information flow routes too,
   * which takes no gradients: Method.scoreClean); `patching`: patches every edge (exact).
   */
  readonly kind: 'gradient' | 'patching';
  /** What it computes, one line (help text and the README table). */
  readonly summary: string;
  /** Its options, in the order its graph JSON meta and validate's results.json list them. */
  readonly options: readonly MethodOption[];
  /** Gradient (or patched) passes per batch: the K of the scores' 1/(N·K). */
  points(L: number, opts: ResolvedOptions): number;
  /** Its line's colour in the viewer's faithfulness legend. */
  readonly color: string;
  /** In reproduce's default --methods (the EAP-GP paper's comparison). */
  readonly reproduceByDefault?: boolean;
  /** Validate's default variants of this method, as option spellings ('steps=5:eta=2'; '' for the defaults). */
  readonly validateVariants: readonly string[];
  /** The order of keys in its validate variant names, when not its options' order. */
  readonly variantNameOrder?: readonly string[];
  /** The method it is read against: the viewer shows it beside this one by default. */
  readonly counterpart?: string;
  /** The variants validate's findings compare a variant of this method with, given its options. */
  comparisons?(o: Readonly<Record<string, unknown>>): Comparison[];
  /** Why options need whole batches (no micro-batches), and the way out; null when they do not. */
  needsWholeBatch?(o: ResolvedOptions): { what: string; instead: string } | null;
  /** A likely cause when every score is 0, from the graph JSON meta; undefined when there is none to name. */
  zeroScoresHint?(meta: Readonly<Record<string, unknown>>): string | undefined;
}

/** A method that patches every edge instead of taking gradients (scored by src/attribution/score.ts). */
export interface PatchingMethod extends MethodSpec {
  readonly kind: 'patching';
}

/** "a, b or c". */
export function orList(xs: readonly string[]): string {
  return xs.length <= 1 ? xs.join('') : `${xs.slice(0, -1).join(', ')} or ${xs.at(-1)}`;
}

type Described = Pick<MethodOption, 'key' | 'flag' | 'variantKey' | 'metavar' | 'meta' | 'metaWhenSet' | 'help' | 'alwaysNamed'>;

/** An integer option >= min. */
export function intOption(o: Described & { default: number; min: number }): MethodOption<number> {
  const valid = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= o.min;
  return { ...o, expects: `an integer >= ${o.min}`, valid, parse: (t) => (t.trim() !== '' && valid(Number(t)) ? Number(t) : undefined) };
}

/** A finite number option >= min. */
export function numberOption(o: Described & { default: number; min: number }): MethodOption<number> {
  const valid = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= o.min;
  return { ...o, expects: `a number >= ${o.min}`, valid, parse: (t) => (t.trim() !== '' && valid(Number(t)) ? Number(t) : undefined) };
}

/** One of a few words. */
export function choiceOption<T extends string>(o: Described & { default: T; values: readonly T[] }): MethodOption<T> {
  const valid = (v: unknown): v is T => o.values.includes(v as T);
  return { ...o, expects: orList(o.values), valid, parse: (t) => (valid(t) ? t : undefined) };
}

/** Integration points along a path: shared by every method with steps (their graph meta's `steps`). */
export const STEPS = intOption({
  key: 'steps', flag: 'steps', variantKey: 'steps', metavar: 'K', meta: 'steps', alwaysNamed: true, default: 5, min: 1,
  help: 'gradient points along the path',
});

/** Whether `--steps` means something for the method. */
export function usesSteps(m: MethodSpec): boolean {
  return m.options.includes(STEPS);
}

/** The method's own options from `given`, each at its default where not given, in the method's order. */
export function ownOptions(m: MethodSpec, given: Readonly<Record<string, unknown>> = {}): Record<string, unknown> {
  return Object.fromEntries(m.options.map((o) => [o.key, given[o.key] ?? o.default]));
}

/**
 * The graph JSON meta fields of a scored graph after `method`: `steps` (null without steps), then the method's
 * other recorded options in its order.
 */
export function metaFields(m: MethodSpec, given: Readonly<Record<string, unknown>> = {}): Record<string, unknown> {
  const own = ownOptions(m, given);
  const out: Record<string, unknown> = { steps: usesSteps(m) ? own[STEPS.key] : null };
  for (const o of m.options) {
    if (o.meta !== undefined && o !== STEPS && !(o.metaWhenSet && own[o.key] === o.default)) out[o.meta] = own[o.key];
  }
  return out;
}
