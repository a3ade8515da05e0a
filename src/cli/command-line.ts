/**
 * The command line as output files record it, and as run logs record it. Output files leave out the options
 * that change nothing in them (the thread count, --quiet, --json, --log-every), so that runs that differ only
 * in those write the same bytes; the run log (src/util/run-log.ts) keeps the command exactly as given.
 */

/**
 * Options with a value that never change an output file's content (validate --exact-from reads exact patching's
 * scores from the shards that computed them, the same bits).
 */
const RUN_ONLY_WITH_VALUE = new Set(['threads', 'log-every', 'exact-from']);
/** Flags that never change an output file's content. */
const RUN_ONLY_FLAGS = new Set(['quiet', 'json']);

export const shellQuote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** `eapgp <command> argv…` as given, for the run log. */
export function givenCommand(command: string, argv: readonly string[]): string[] {
  return ['eapgp', command, ...argv];
}

/** `eapgp <command> argv…` without the run-only options, shell-quoted: what output files record. */
export function recordedCommand(command: string, argv: readonly string[]): string {
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const m = /^--([^=]+)(=.*)?$/.exec(a);
    if (m && RUN_ONLY_FLAGS.has(m[1]!)) continue;
    if (m && RUN_ONLY_WITH_VALUE.has(m[1]!)) {
      if (m[2] === undefined) i++; // "--threads 2": skip the value too
      continue;
    }
    kept.push(a);
  }
  return ['eapgp', command, ...kept].map(shellQuote).join(' ');
}
