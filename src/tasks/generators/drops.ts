/** Counting dropped words and rows by reason, so `tasks make` can say what was left out and why. */
import type { Tokenizer } from '../../tokenizer/index.js';
import { UserError } from '../../util/errors.js';
import type { DropReport, GenerateOptions } from './types.js';

/** The default GenerateOptions.warn: one line on stderr. */
export const warnOnStderr = (line: string): void => void process.stderr.write(`eapgp: warning: ${line}\n`);

export class Drops {
  private readonly counts = new Map<string, number>();

  add(reason: string, k = 1): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + k);
  }

  /** Keeps the items that pass `check` (which returns undefined, or the reason to drop the item). */
  filter<T>(items: readonly T[], check: (item: T) => string | undefined): T[] {
    return items.filter((x) => {
      const why = check(x);
      if (why !== undefined) this.add(why);
      return why === undefined;
    });
  }

  /**
   * filter() for words whose answer must be one token of `tok` (`isSingle`). Dropping some is expected with a
   * tokenizer other than GPT-2's (whose word lists were made for it): that is said through `warn`, as
   * "dropped N of M <what>: answer not a single token for <tokenizer>"; dropping all is a UserError.
   */
  singleTokens<T>(task: string, what: string, reason: string, items: readonly T[], isSingle: (item: T) => boolean, tok: Tokenizer, opts: GenerateOptions): T[] {
    const kept = this.filter(items, (x) => (isSingle(x) ? undefined : reason));
    const k = items.length - kept.length;
    if (kept.length === 0) {
      throw new UserError(`${task}: dropped ${k} of ${items.length} ${what}: answer not a single token for ${tok.name}; none remain, so this task cannot be generated for this tokenizer`);
    }
    if (k > 0 && tok.kind !== 'gpt2') (opts.warn ?? warnOnStderr)(`${task}: dropped ${k} of ${items.length} ${what}: answer not a single token for ${tok.name}`);
    return kept;
  }

  report(): DropReport {
    let total = 0;
    for (const c of this.counts.values()) total += c;
    return { total, byReason: Object.fromEntries(this.counts) };
  }
}
