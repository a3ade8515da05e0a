/**
 * The methods, in the order every list shows them. A method is its own file (its description, method-spec.ts,
 * and for a gradient method its passes) plus one line here; the command line, validate, reproduce, the viewer
 * (through the catalog its server sends) and the README read this list, and nothing else names a method.
 * registerMethod adds one at run time (plug-ins, tests).
 */
import { UserError } from '../util/errors.js';
import { atpStar } from './atp-star.js';
import { cleanCorrupted } from './clean-corrupted.js';
import { eapGp } from './eap-gp.js';
import { eapIgActivations } from './eap-ig-activations.js';
import { eapIg } from './eap-ig.js';
import { eap } from './eap.js';
import { exact } from './exact-method.js';
import { ifr } from './ifr.js';
import { relp } from './relp.js';
import { ugs } from './ugs.js';
import type { MethodOption, PatchingMethod } from './method-spec.js';
import type { AttributionOptions, Method, ResolvedOptions } from './types.js';

export type AnyMethod = Method | PatchingMethod;

const REGISTRY: AnyMethod[] = [eap, eapIg, eapIgActivations, cleanCorrupted, eapGp, atpStar, ifr, relp, ugs, exact];
const BUILT_IN = new Set(REGISTRY);

/** Every method, in registry order. */
export function methods(): readonly AnyMethod[] {
  return REGISTRY;
}

export function methodNames(): string[] {
  return REGISTRY.map((m) => m.name);
}

/** The gradient methods (those attribute() runs). */
export function gradientMethods(): Method[] {
  return REGISTRY.filter((m): m is Method => m.kind === 'gradient');
}

export function findMethod(name: string): AnyMethod | undefined {
  return REGISTRY.find((m) => m.name === name);
}

/** The method called `name`; a UserError listing the methods otherwise. */
export function getMethod(name: string): AnyMethod {
  const m = findMethod(name);
  if (!m) throw new UserError(`unknown method "${name}"; choose one of ${methodNames().join(', ')}`);
  return m;
}

/** The gradient method called `name`; a UserError listing the gradient methods otherwise. */
export function getGradientMethod(name: string): Method {
  const m = findMethod(name);
  const gradient = gradientMethods().map((g) => g.name).join(', ');
  if (m && m.kind !== 'gradient') throw new UserError(`${name} takes no gradients (scoreEdges runs it); attribute() runs ${gradient}`);
  if (!m) throw new UserError(`unknown method "${name}"; choose one of ${gradient}`);
  return m;
}

/** Every option of every method, once each, in registry order. */
export function allOptions(): MethodOption[] {
  return [...new Set(REGISTRY.flatMap((m) => m.options))];
}

/** The methods that take `option`. */
export function methodsTaking(option: MethodOption): AnyMethod[] {
  return REGISTRY.filter((m) => m.options.includes(option));
}

/**
 * `given` with every option's default where it is not given: what a method's passes see. A given option of
 * the method that is not a valid value is a UserError naming it.
 */
export function resolveOptions(method: AnyMethod, given: AttributionOptions = {}): ResolvedOptions {
  const g = given as Record<string, unknown>;
  for (const o of method.options) {
    if (g[o.key] !== undefined && !o.valid(g[o.key])) throw new UserError(`--${o.flag ?? o.variantKey} must be ${o.expects}, got ${String(g[o.key])}`);
  }
  const defaults = Object.fromEntries(allOptions().map((o) => [o.key, o.default]));
  return { ...defaults, ...Object.fromEntries(Object.entries(g).filter(([, v]) => v !== undefined)) } as unknown as ResolvedOptions;
}

/**
 * Adds a method (a plug-in, or a test's). Its name must be new, and an option key it shares with a registered
 * method must be the same option object (one default and one parser per key).
 */
export function registerMethod(m: AnyMethod): void {
  if (findMethod(m.name)) throw new Error(`a method "${m.name}" is registered already`);
  for (const o of m.options) {
    const other = allOptions().find((x) => x.key === o.key || (o.flag !== undefined && x.flag === o.flag));
    if (other && other !== o) throw new Error(`method "${m.name}": option ${o.key} differs from the registered option of that key or flag; share the object`);
  }
  REGISTRY.push(m);
}

/** Removes a method registerMethod added (tests clean up after themselves); built-in methods stay. */
export function unregisterMethod(name: string): void {
  const i = REGISTRY.findIndex((m) => m.name === name && !BUILT_IN.has(m));
  if (i >= 0) REGISTRY.splice(i, 1);
}
