/**
 * The attribution variants `eapgp validate` compares with exact patching. A variant is written
 * `method[:key=value]...`, with the keys of the method's options (the registry's, src/attribution/registry.ts:
 * e.g. `steps` for the stepped methods, and for eap-gp `norm`, `eta` and `path`). Its name is the canonical
 * spelling: the steps always, the other options only where they differ from their defaults:
 *   eap · clean-corrupted · eap-ig:steps=10 · eap-gp:steps=5:norm=batch · eap-gp:steps=5:eta=0.5
 * A validation runs under one intervention (patching, or an ablation: validate --intervention, or the one the
 * variants name): exact patching, every variant and every circuit's evaluation use it, so an ablated variant is
 * measured against the effects of its own ablation; a method that takes no intervention (eap-gp, ifr) has no
 * place in an ablated validation.
 */
import { ownOptions, usesSteps } from '../attribution/method-spec.js';
import { findMethod, gradientMethods } from '../attribution/registry.js';
import type { AttributionOptions, Method, MethodName } from '../attribution/types.js';
import { INTERVENTION } from '../attribution/ablation.js';
import type { Intervention } from '../evaluation/means.js';
import { UserError } from '../util/errors.js';

export interface Variant {
  /** Canonical spelling, unique within a list. */
  name: string;
  method: MethodName;
  /** The method's own options (the registry's), each at its default where not written. */
  options: AttributionOptions;
}

/**
 * The default comparison: each gradient method's own default variants (its validateVariants), the one-gradient
 * methods first, then the stepped ones, each group in registry order.
 */
export const DEFAULT_VARIANTS: readonly string[] = [...gradientMethods()]
  .sort((a, b) => Number(usesSteps(a)) - Number(usesSteps(b)))
  .flatMap((m) => m.validateVariants.map((v) => (v === '' ? m.name : `${m.name}:${v}`)));

/** The canonical name of a method with options. */
export function variantName(method: MethodName, o: AttributionOptions): string {
  const m = findMethod(method)!;
  const own = ownOptions(m, o as Record<string, unknown>);
  const order = m.variantNameOrder ?? m.options.map((x) => x.variantKey);
  let s = method;
  for (const key of order) {
    const opt = m.options.find((x) => x.variantKey === key)!;
    if (opt.alwaysNamed || own[opt.key] !== opt.default) s += `:${key}=${String(own[opt.key])}`;
  }
  return s;
}

/** The options that mean something for the variant's method: its own (none for eap and clean-corrupted). */
export function relevantOptions(v: Variant): Record<string, unknown> {
  return ownOptions(findMethod(v.method)!, v.options as Record<string, unknown>);
}

const HOW = 'write variants as method[:key=value]..., e.g. eap,eap-ig:steps=10,eap-gp:steps=5:norm=batch:eta=0.5';

/** A spec's method and the options it writes (only those). */
function parseGiven(spec: string): { m: Method; given: Record<string, unknown> } {
  const [name, ...pairs] = spec.trim().split(':');
  const found = findMethod(name ?? '');
  if (!name || found?.kind !== 'gradient') {
    throw new UserError(`--variants: unknown method "${name ?? ''}" in "${spec}"; choose one of ${gradientMethods().map((m) => m.name).join(', ')} (${HOW})`);
  }
  const m: Method = found;
  const given: Record<string, unknown> = {};
  const bad = (why: string): never => {
    throw new UserError(`--variants: "${spec}": ${why} (${HOW})`);
  };
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq < 0) bad(`"${pair}" is not key=value`);
    const key = pair.slice(0, eq), value = pair.slice(eq + 1);
    if (m.options.length === 0) bad(`${m.name} takes no options`);
    const opt = m.options.find((o) => o.variantKey === key);
    if (!opt) bad(`unknown key "${key}": ${m.name} takes only ${m.options.map((o) => `${o.variantKey}=${o.metavar}`).join(', ')}`);
    const v = opt!.parse(value);
    if (v === undefined) bad(`${key} must be ${opt!.expects}, got "${value}"`);
    given[opt!.key] = v;
  }
  return { m, given };
}

/**
 * Parses one variant spec (see the module comment) for a validation under `intervention` (default patching):
 * the variant takes that intervention, since its ground truth (exact patching) and its circuits' evaluation run
 * under it. A variant that names another one, or a method that takes none under an ablation, is a UserError.
 */
export function parseVariant(spec: string, intervention: Intervention = 'patching'): Variant {
  const { m, given } = parseGiven(spec);
  const named = given[INTERVENTION.key];
  if (named !== undefined && named !== intervention) {
    throw new UserError(`--variants: "${spec}": validate runs under --intervention ${intervention} (its exact patching and circuits), so ${INTERVENTION.variantKey}=${String(named)} ` +
      `would be measured against another intervention's effects; give --intervention ${String(named)} to validate under it (one intervention per run)`);
  }
  if (intervention !== 'patching') {
    if (!m.options.includes(INTERVENTION)) {
      throw new UserError(`--variants: "${spec}": ${m.name} takes no intervention, so it cannot be compared with exact patching under --intervention ${intervention}; ` +
        `leave it out (methods that take one: ${gradientMethods().filter(takesIntervention).map((x) => x.name).join(', ')})`);
    }
    given[INTERVENTION.key] = intervention;
  }
  const options = ownOptions(m, given) as AttributionOptions;
  return { name: variantName(m.name, options), method: m.name, options };
}

const takesIntervention = (m: Method): boolean => m.options.includes(INTERVENTION);

/** The intervention a list of specs names (patching when none does); two different ones are a UserError. */
function namedIntervention(specs: readonly string[]): Intervention {
  const named = new Map<string, string>();
  for (const s of specs) {
    if (s === 'default') continue;
    const i = parseGiven(s).given[INTERVENTION.key];
    if (i !== undefined && !named.has(String(i))) named.set(String(i), s);
  }
  if (named.size > 1) {
    const [[a, sa], [b, sb]] = [...named.entries()] as [string, string][];
    throw new UserError(`--variants: "${sa}" names ${INTERVENTION.variantKey}=${a} and "${sb}" ${INTERVENTION.variantKey}=${b}; validate runs under one intervention (its exact patching and circuits): validate each separately`);
  }
  return (named.keys().next().value ?? 'patching') as Intervention;
}

/**
 * Parses a comma-separated list under `intervention`; `default` stands for DEFAULT_VARIANTS (under an ablation,
 * those of the methods that take one). Duplicates (same canonical name) are kept once, in first-seen order; an
 * empty list is a UserError.
 */
export function parseVariants(list: string, intervention: Intervention = 'patching'): Variant[] {
  return validationVariants(list, intervention).variants;
}

/**
 * The intervention of a validation and its variants: `intervention` (validate --intervention) when given, else
 * the one the specs name (e.g. eap:intervention=zero), else patching. Every variant runs under it.
 */
export function validationVariants(list: string, intervention?: Intervention): { intervention: Intervention; variants: Variant[] } {
  const specs = list.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (specs.length === 0) throw new UserError(`--variants: no variant given (${HOW}, or "default")`);
  const under = intervention ?? namedIntervention(specs);
  const defaults = under === 'patching' ? DEFAULT_VARIANTS : DEFAULT_VARIANTS.filter((s) => takesIntervention(findMethod(s.split(':')[0]!) as Method));
  const out = new Map<string, Variant>();
  for (const s of specs.flatMap((s) => (s === 'default' ? defaults : [s]))) {
    const v = parseVariant(s, under);
    if (!out.has(v.name)) out.set(v.name, v);
  }
  return { intervention: under, variants: [...out.values()] };
}
