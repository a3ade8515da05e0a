/** Counting dropped words and rows by reason, so `tasks make` can say what was left out and why. */
import type { DropReport } from './types.js';

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

  report(): DropReport {
    let total = 0;
    for (const c of this.counts.values()) total += c;
    return { total, byReason: Object.fromEntries(this.counts) };
  }
}
