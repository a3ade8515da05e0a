/**
 * The attribution variants `eapgp validate` compares with exact patching. A variant is written
 * `method[:key=value]...`, with the keys of the method's options (the registry's, src/attribution/registry.ts:
 * e.g. `steps` for the stepped methods, and for eap-gp `norm`, `eta` and `path`). Its name is the canonical
 * spelling: the steps always, the other options only where they differ from their defaults:
 *   eap · clean-corrupted · eap-ig:steps=10 · eap-gp:steps=5:norm=batch · eap-gp:steps=5:eta=0.5
 */
import { ownOptions, usesSteps } from '../attribution/method-spec.js';
import { findMethod, gradientMethods } from '../attribution/registry.js';
import type { AttributionOptions, Method, MethodName } from '../attribution/types.js';
import { INTERVENTION } from '../attribution/ablation.js';
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

/** Parses one variant spec (see the module comment); a UserError names the spec and the problem. */
export function parseVariant(spec: string): Variant {
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
  // the ground truth is exact patching with the corrupted run: an ablated variant would be scored against the
  // effects of another intervention (and its circuits evaluated under patching)
  const ablation = given[INTERVENTION.key];
  if (ablation !== undefined && ablation !== INTERVENTION.default) {
    bad(`validate compares with exact patching under the corrupted run, so ${INTERVENTION.variantKey}=${String(ablation)} would be measured against another intervention's effects; ` +
      `score an ablation with attribute --intervention ${String(ablation)} and evaluate --intervention ${String(ablation)} instead`);
  }
  const options = ownOptions(m, given) as AttributionOptions;
  return { name: variantName(m.name, options), method: m.name, options };
}

/**
 * Parses a comma-separated list; `default` stands for DEFAULT_VARIANTS. Duplicates (same canonical name) are
 * kept once, in first-seen order; an empty list is a UserError.
 */
export function parseVariants(list: string): Variant[] {
  const specs = list.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (specs.length === 0) throw new UserError(`--variants: no variant given (${HOW}, or "default")`);
  const out = new Map<string, Variant>();
  for (const s of specs.flatMap((s) => (s === 'default' ? DEFAULT_VARIANTS : [s]))) {
    const v = parseVariant(s);
    if (!out.has(v.name)) out.set(v.name, v);
  }
  return [...out.values()];
}
