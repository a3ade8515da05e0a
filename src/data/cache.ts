/**
 * Where fetched data lives and whether a cached file is the published one. The cache is `$EAPGP_CACHE`, else
 * `$XDG_CACHE_HOME/eap-gp`, else `~/.cache/eap-gp`; files sit at their manifest `file` path under it. Only
 * verified downloads are ever renamed into it (fetch.ts), and readers check size and sha256 again, so an
 * edited or truncated file is reported instead of used. A file the manifest does not pin is checked against what
 * its first download recorded next to it (trust on first use, mib-files.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { DATA_FILES, DATA_GROUPS, isPinned, type DataFile } from './manifest.js';

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? join(homedir(), p.slice(1)) : p;
}

/** The data cache directory (see the module comment). */
export function dataCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['EAPGP_CACHE']) return expandHome(env['EAPGP_CACHE']);
  const base = env['XDG_CACHE_HOME'] ? expandHome(env['XDG_CACHE_HOME']) : join(homedir(), '.cache');
  return join(base, 'eap-gp');
}

/** Where `f` sits in the cache `dir`. */
export const cachedPath = (dir: string, f: DataFile): string => join(dir, ...f.file.split('/'));

export type FileState = 'cached' | 'missing' | 'differs';

/** sha256 of bytes, hex. */
export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/**
 * What the first download of a file trusted on first use (isPinned false) got: where from, the revision the
 * server resolved (the hub's X-Repo-Commit), its size and sha256. Kept next to the file; fetch.ts writes it.
 */
export interface FirstUseRecord {
  url: string;
  revision: string;
  size: number;
  sha256: string;
}

/** Where the first-use record of `f` sits. */
export const recordPath = (dir: string, f: DataFile): string => `${cachedPath(dir, f)}.recorded.json`;

/** The first-use record of `f` in the cache `dir`, or null when there is none (or it is not one). */
export function readRecord(dir: string, f: DataFile): FirstUseRecord | null {
  try {
    const r = JSON.parse(readFileSync(recordPath(dir, f), 'utf8')) as Partial<FirstUseRecord>;
    return typeof r.sha256 === 'string' && typeof r.size === 'number' && typeof r.revision === 'string' && typeof r.url === 'string' ? (r as FirstUseRecord) : null;
  } catch {
    return null;
  }
}

/**
 * Whether the cached copy of `f` is there and has the pinned size and sha256 (for a file trusted on first use:
 * those its first download recorded; without a record it differs).
 */
export function fileState(dir: string, f: DataFile): FileState {
  const p = cachedPath(dir, f);
  if (!existsSync(p)) return 'missing';
  const want = isPinned(f) ? f : readRecord(dir, f);
  if (want === null || !statSync(p).isFile() || statSync(p).size !== want.size) return 'differs';
  return sha256Hex(readFileSync(p)) === want.sha256 ? 'cached' : 'differs';
}

/** The files of the named groups ("all": every group), in manifest order; a UserError names unknown groups. */
export function filesOfGroups(names: readonly string[], files: readonly DataFile[] = DATA_FILES): DataFile[] {
  const known = [...new Set(files.map((f) => f.group))];
  for (const n of names) {
    if (n !== 'all' && !known.includes(n)) throw new UserError(`unknown data "${n}"; choose among ${[...known, 'all'].join(', ')}`);
  }
  return names.includes('all') ? [...files] : files.filter((f) => names.includes(f.group));
}

/** The command that fetches `groups` (for messages). */
export const fetchCommand = (groups: readonly string[]): string => `eapgp data fetch ${[...new Set(groups)].join(' ')}`;

/**
 * The cached path of `file` (a manifest path) after checking it is the published file; otherwise a UserError
 * saying what to run. `what` describes the file for the message, e.g. "the EAP-IG paper's ioi data".
 */
export function requireCached(file: string, what: string, env: NodeJS.ProcessEnv = process.env, files: readonly DataFile[] = DATA_FILES): string {
  const f = files.find((x) => x.file === file);
  if (!f) throw new Error(`no data file ${file} in the manifest`); // a bug in the caller, not bad input
  const dir = dataCacheDir(env);
  const state = fileState(dir, f);
  const p = cachedPath(dir, f);
  if (state === 'missing') {
    throw new UserError(`${what} is not in the data cache (${p} is missing); fetch it with \`${fetchCommand([f.group])}\` (EAPGP_CACHE sets the cache directory)`);
  }
  if (state === 'differs' && !isPinned(f)) {
    throw new UserError(`${p} is not the copy its first download recorded (${recordPath(dir, f)} is missing, or the size or sha256 differs); fetch it again with \`${fetchCommand([f.group])}\``);
  }
  if (state === 'differs') {
    throw new UserError(`${p} is not the published file (size or sha256 differs from ${f.source.repo} ${f.path} @ ${f.source.commit.slice(0, 7)}); fetch it again with \`${fetchCommand([f.group])}\``);
  }
  return p;
}

/** Group names in `eapgp data fetch` order. */
export const dataGroupNames = (): string[] => DATA_GROUPS.map((g) => g.name);
