/** `eapgp data`: fetch the published datasets, reference results and canonical circuits into the data cache; list it. */
import { cachedPath, dataCacheDir, dataGroupNames, fetchCommand, fileState, filesOfGroups, type FileState } from '../data/cache.js';
import { dataBaseUrl, describeFiles, fetchFiles } from '../data/fetch.js';
import { DATA_FILES, DATA_GROUPS, isPinned, type DataFile } from '../data/manifest.js';
import { UserError } from '../util/errors.js';
import { formatBytes } from '../util/progress.js';
import { parse } from './args.js';

const usage = (): string => `usage: eapgp data fetch [${[...dataGroupNames(), 'all'].join('|')} ...] [--quiet]
       eapgp data list [--files]

fetch  downloads into the data cache, each file pinned to a commit and checked by size and sha256 (a file
       that does not match is an error naming it, and nothing of it is kept); without a name, all:
${DATA_GROUPS.map((g) => `         ${g.name.padEnd(28)}${g.about}`).join('\n')}
       Files already cached and intact are kept.
list   what is cached, missing, or differs from the published bytes, per group (--files: per file).

Cache: $EAPGP_CACHE, else $XDG_CACHE_HOME/eap-gp, else ~/.cache/eap-gp (here: ${dataCacheDir()}).
Sources: hannamw/eap-ig-faithfulness and ArthurConmy/Automatic-Circuit-Discovery on GitHub, fetched from
raw.githubusercontent.com or $EAPGP_DATA_URL (a mirror laid out as <owner>/<repo>/<commit>/<path>); MIB's
datasets mib-bench/* from the Hugging Face hub ($HF_ENDPOINT), not pinned: the first download records each
file's sha256 and revision next to it, and later reads check it.
\`eapgp reproduce --data paper\` reads the task CSVs from the cache.`;

async function fetchGroups(argv: string[]): Promise<void> {
  const { values, positionals } = parse('data fetch', argv, { quiet: { type: 'boolean' as const } }, usage(), { positionals: true });
  if (values.help) return void console.log(usage());
  const names = positionals.length ? positionals : ['all'];
  const files = filesOfGroups(names);
  const cacheDir = dataCacheDir();
  const log = (l: string): void => void (values.quiet || console.error(l));
  log(`data cache: ${cacheDir}`);
  for (const group of groupsOf(files)) {
    const { downloaded, cached } = await fetchFiles(files.filter((f) => f.group === group), { cacheDir, baseUrl: dataBaseUrl(), quiet: values.quiet });
    const parts = [downloaded.length ? `downloaded ${describeFiles(downloaded, cacheDir)}` : '', cached.length ? `already cached ${describeFiles(cached, cacheDir)}` : ''];
    const check = files.some((f) => f.group === group && !isPinned(f))
      ? 'not pinned: trusted on first use, its sha256 and revision recorded next to each file (docs/mib.md says how to pin them)'
      : 'sha256 verified';
    log(`${group}: ${parts.filter(Boolean).join('; ')} (${check})`);
  }
}

/** The groups of `files`, in order. */
const groupsOf = (files: readonly DataFile[]): string[] => [...new Set(files.map((f) => f.group))];

function list(argv: string[]): void {
  const { values } = parse('data list', argv, { files: { type: 'boolean' as const } }, usage());
  if (values.help) return void console.log(usage());
  const dir = dataCacheDir();
  const states = new Map<DataFile, FileState>(DATA_FILES.map((f) => [f, fileState(dir, f)]));
  console.log(`data cache: ${dir}`);
  const rows: string[][] = [];
  if (values.files) {
    rows.push(['group', 'file', 'size', 'state']);
    for (const [f, s] of states) rows.push([f.group, cachedPath(dir, f), f.size === undefined ? '?' : formatBytes(f.size), s]);
  } else {
    rows.push(['group', 'files', 'size', 'state']);
    for (const group of groupsOf(DATA_FILES)) {
      const fs = DATA_FILES.filter((f) => f.group === group);
      const size = fs.every((f) => f.size !== undefined) ? formatBytes(fs.reduce((s, f) => s + f.size!, 0)) : '?';
      rows.push([group, String(fs.length), size, groupState(fs.map((f) => states.get(f)!))]);
    }
  }
  const w = rows[0]!.map((_, k) => Math.max(...rows.map((r) => r[k]!.length)));
  for (const r of rows) console.log(r.map((c, k) => (k === r.length - 1 ? c : c.padEnd(w[k]!))).join('  ').trimEnd());
  const todo = groupsOf([...states].filter(([, s]) => s !== 'cached').map(([f]) => f));
  console.log(todo.length ? `\nto fetch what is missing or differs: ${fetchCommand(todo.length === DATA_GROUPS.length ? ['all'] : todo)}` : '\neverything is cached');
}

/** "cached", "missing", or counts such as "2 missing, 1 differs, 50 cached". */
function groupState(states: readonly FileState[]): string {
  const kinds: FileState[] = ['missing', 'differs', 'cached'];
  const present = kinds.filter((k) => states.includes(k));
  if (present.length === 1) return present[0]!;
  return present.map((k) => `${states.filter((s) => s === k).length} ${k}`).join(', ');
}

export async function data(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === 'fetch') return fetchGroups(rest);
  if (sub === 'list') return list(rest);
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') return void console.log(usage());
  throw new UserError(`data: unknown subcommand "${sub}"; use fetch or list\n\n${usage()}`);
}
