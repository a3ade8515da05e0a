/** The command line's method options, from the registry: one flag per option, parsed by the option itself. */
import type { MethodOption } from '../attribution/method-spec.js';
import { ownOptions } from '../attribution/method-spec.js';
import { allOptions, methodsTaking, type AnyMethod } from '../attribution/registry.js';
import { UserError } from '../util/errors.js';

/** parseArgs entries for every method option with a flag. */
export function methodOptionFlags(): Record<string, { type: 'string' }> {
  return Object.fromEntries(allOptions().filter((o) => o.flag !== undefined).map((o) => [o.flag!, { type: 'string' as const }]));
}

/** The option's value from the parsed flags (its default when not given); a UserError names the flag. */
export function optionValue<T>(o: MethodOption<T>, values: Record<string, unknown>): T {
  const text = values[o.flag!];
  if (text === undefined) return o.default;
  const v = o.parse(String(text));
  if (v === undefined) throw new UserError(`--${o.flag} must be ${o.expects}, got "${String(text)}"`);
  return v;
}

/**
 * The method's options from the parsed flags, in its order. Every flag is checked; one the method does not
 * take is an error unless it is at its default (it would change nothing, silently).
 */
export function methodOptionsFrom(method: AnyMethod, values: Record<string, unknown>): Record<string, unknown> {
  const given: Record<string, unknown> = {};
  const options = allOptions().filter((o) => o.flag !== undefined);
  for (const o of options) given[o.key] = optionValue(o, values);
  for (const o of options) {
    if (!method.options.includes(o) && given[o.key] !== o.default) {
      throw new UserError(`--${o.flag} applies to --method ${methodsTaking(o).map((m) => m.name).join(', ')} only, not ${method.name}`);
    }
  }
  return ownOptions(method, given);
}
