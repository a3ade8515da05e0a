/**
 * The attribution variants `eapgp validate` compares with exact patching. A variant is written
 * `method[:key=value]...`, keys `steps` (EAP-IG / EAP-GP points), and for eap-gp `norm` (example|batch),
 * `eta` (GradPath step size) and `path` (gradpath|straight: the straight clean→corrupted line at the same k
 * points; a check, since these are EAP-IG's points). Its name is the canonical spelling, with the
 * defaults (steps 5, norm example, eta 1, path gradpath) written only where they matter:
 *   eap · clean-corrupted · eap-ig:steps=10 · eap-gp:steps=5:norm=batch · eap-gp:steps=5:eta=0.5
 */
import { METHODS } from '../attribution/attribute.js';
import type { AttributionOptions, MethodName } from '../attribution/types.js';
import { UserError } from '../util/errors.js';

export interface Variant {
  /** Canonical spelling, unique within a list. */
  name: string;
  method: MethodName;
  options: Required<Pick<AttributionOptions, 'steps' | 'gpEta' | 'gpNorm' | 'gpPath'>>;
}

/** Methods with integration points. */
const STEPPED: readonly MethodName[] = ['eap-ig', 'eap-ig-activations', 'eap-gp'];
const DEFAULTS: Variant['options'] = { steps: 5, gpEta: 1, gpNorm: 'example', gpPath: 'gradpath' };

/**
 * The default comparison: the one-gradient methods, EAP-IG at 5/10/20 steps, EAP-GP at 3/5/10 steps, and at
 * 5 steps with the batch norm and two other step sizes. (eap-gp with path=straight is not listed: its k points
 * are exactly EAP-IG's k points, so it equals eap-ig at the same steps.)
 */
export const DEFAULT_VARIANTS: readonly string[] = [
  'eap', 'clean-corrupted',
  'eap-ig:steps=5', 'eap-ig:steps=10', 'eap-ig:steps=20', 'eap-ig-activations:steps=5',
  'eap-gp:steps=3', 'eap-gp:steps=5', 'eap-gp:steps=10',
  'eap-gp:steps=5:norm=batch', 'eap-gp:steps=5:eta=0.5', 'eap-gp:steps=5:eta=2',
];

/** The canonical name of a method with options. */
export function variantName(method: MethodName, o: Variant['options']): string {
  if (!STEPPED.includes(method)) return method;
  let s = `${method}:steps=${o.steps}`;
  if (method === 'eap-gp') {
    if (o.gpNorm !== DEFAULTS.gpNorm) s += `:norm=${o.gpNorm}`;
    if (o.gpEta !== DEFAULTS.gpEta) s += `:eta=${o.gpEta}`;
    if (o.gpPath !== DEFAULTS.gpPath) s += `:path=${o.gpPath}`;
  }
  return s;
}

/** The options that mean something for the variant's method (none for eap and clean-corrupted). */
export function relevantOptions(v: Variant): Partial<Variant['options']> {
  if (v.method === 'eap-gp') return { ...v.options };
  return STEPPED.includes(v.method) ? { steps: v.options.steps } : {};
}

const HOW = 'write variants as method[:key=value]..., e.g. eap,eap-ig:steps=10,eap-gp:steps=5:norm=batch:eta=0.5';

/** Parses one variant spec (see the module comment); a UserError names the spec and the problem. */
export function parseVariant(spec: string): Variant {
  const [method, ...pairs] = spec.trim().split(':');
  if (!method || !(method in METHODS)) {
    throw new UserError(`--variants: unknown method "${method ?? ''}" in "${spec}"; choose one of ${Object.keys(METHODS).join(', ')} (${HOW})`);
  }
  const m = method as MethodName;
  const o = { ...DEFAULTS };
  const bad = (why: string): never => {
    throw new UserError(`--variants: "${spec}": ${why} (${HOW})`);
  };
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq < 0) bad(`"${pair}" is not key=value`);
    const key = pair.slice(0, eq), value = pair.slice(eq + 1);
    if (!STEPPED.includes(m)) bad(`${m} takes no options`);
    if (key !== 'steps' && m !== 'eap-gp') bad(`${m} takes only steps=K`);
    if (key === 'steps') {
      const k = Number(value);
      if (!Number.isSafeInteger(k) || k < 1) bad(`steps must be an integer >= 1, got "${value}"`);
      o.steps = k;
    } else if (key === 'eta') {
      const eta = Number(value);
      if (value === '' || !Number.isFinite(eta) || eta < 0) bad(`eta must be a number >= 0, got "${value}"`);
      o.gpEta = eta;
    } else if (key === 'norm') {
      if (value !== 'example' && value !== 'batch') bad(`norm must be example or batch, got "${value}"`);
      o.gpNorm = value as 'example' | 'batch';
    } else if (key === 'path') {
      if (value !== 'gradpath' && value !== 'straight') bad(`path must be gradpath or straight, got "${value}"`);
      o.gpPath = value as 'gradpath' | 'straight';
    } else bad(`unknown key "${key}"; keys are steps, and for eap-gp norm, eta, path`);
  }
  return { name: variantName(m, o), method: m, options: o };
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
