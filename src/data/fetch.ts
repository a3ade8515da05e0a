/**
 * Downloads pinned files into the data cache. Each file comes from `<base>/<repo>/<commit>/<path>` (the
 * layout of raw.githubusercontent.com, the default base; `EAPGP_DATA_URL` names a mirror), redirects
 * followed, streamed to a temp file next to its place and renamed there only when its size and sha256 are
 * the pinned ones: a failed, cut or altered download leaves nothing in the cache. Files already cached and
 * intact are not downloaded again. Files of a Hugging Face dataset come from `<hub>/datasets/<repo>/resolve/<revision>/<path>`
 * (`HF_ENDPOINT`, as for models, else huggingface.co). A file the manifest does not pin (mib-files.ts) is saved as
 * served, and its size, sha256 and the revision the hub resolved are recorded next to it (trust on first use).
 */
import { createHash, type Hash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { writeFileAtomicSync } from '../util/atomic-write.js';
import { saveDownload } from '../util/download.js';
import { UserError } from '../util/errors.js';
import { formatBytes } from '../util/progress.js';
import { cachedPath, fetchCommand, fileState, readRecord, recordPath, type FirstUseRecord } from './cache.js';
import { isPinned, type DataFile } from './manifest.js';

export const DEFAULT_DATA_URL = 'https://raw.githubusercontent.com';
/** Files from this size on show a progress line while downloading. */
const PROGRESS_FROM_BYTES = 256 * 1024;

/** The download base: `$EAPGP_DATA_URL` (without trailing slashes), else raw.githubusercontent.com. */
export function dataBaseUrl(env: NodeJS.ProcessEnv = process.env): string {
  return (env['EAPGP_DATA_URL'] || DEFAULT_DATA_URL).replace(/\/+$/, '');
}

/** The Hugging Face hub: `$HF_ENDPOINT` (without trailing slashes), else huggingface.co. */
export function hubBaseUrl(env: NodeJS.ProcessEnv = process.env): string {
  return (env['HF_ENDPOINT'] || 'https://huggingface.co').replace(/\/+$/, '');
}

/** Where `f` is downloaded from, `base` being the base of its host (dataBaseUrl for GitHub, hubBaseUrl for the hub). */
export const fileUrl = (base: string, f: DataFile): string => f.source.host === 'huggingface-dataset'
  ? `${base}/datasets/${f.source.repo}/resolve/${encodeURIComponent(f.source.commit)}/${encodeURI(f.path)}`
  : `${base}/${f.source.repo}/${f.source.commit}/${encodeURI(f.path)}`;

export interface FetchOptions {
  cacheDir: string;
  /** See dataBaseUrl. */
  baseUrl: string;
  /** See hubBaseUrl (default: from the environment). */
  hubUrl?: string;
  /** No progress lines. */
  quiet?: boolean;
}

export interface FetchSummary {
  downloaded: DataFile[];
  /** Already in the cache and intact. */
  cached: DataFile[];
}

/** Makes sure every file of `files` is in the cache (see the module comment); stops at the first failure with a UserError. */
export async function fetchFiles(files: readonly DataFile[], o: FetchOptions): Promise<FetchSummary> {
  const summary: FetchSummary = { downloaded: [], cached: [] };
  for (const f of files) {
    if (fileState(o.cacheDir, f) === 'cached') {
      summary.cached.push(f);
      continue;
    }
    await download(f, o);
    summary.downloaded.push(f);
  }
  return summary;
}

async function download(f: DataFile, o: FetchOptions): Promise<void> {
  const url = fileUrl(f.source.host === 'huggingface-dataset' ? o.hubUrl ?? hubBaseUrl() : o.baseUrl, f);
  const retry = `run \`${fetchCommand([f.group])}\` again`;
  let response: Response;
  try {
    // identity: the bytes hashed are the bytes served, with no transparent decompression in between
    response = await fetch(url, { headers: { 'user-agent': 'eap-gp', 'accept-encoding': 'identity' }, redirect: 'follow' });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new UserError(
      `cannot reach ${url} (${cause?.code ?? cause?.message ?? (e as Error).message}): \`${fetchCommand([f.group])}\` downloads ${f.file} ` +
        `from ${new URL(url).host}; run it where that host is reachable, set EAPGP_DATA_URL to a mirror with the same layout, ` +
        `or copy a data cache that has it to ${o.cacheDir}; nothing was saved`,
      { cause: e },
    );
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new UserError(`HTTP ${response.status} fetching ${url} (for ${f.file}); check EAPGP_DATA_URL if set, or ${retry} later; nothing was saved`);
  }
  const total = f.size ?? (Number(response.headers.get('content-length')) || undefined);
  const opts = { url, label: f.file, total, quiet: o.quiet || (total ?? 0) < PROGRESS_FROM_BYTES, what: f.file, retry };
  if (isPinned(f)) return saveDownload(cachedPath(o.cacheDir, f), verified(response.body, f, url), opts);
  // trusted on first use: the record is written once the file is in place (a file without one reads as differing)
  const seen = { size: 0, hash: createHash('sha256') };
  rmSync(recordPath(o.cacheDir, f), { force: true });
  await saveDownload(cachedPath(o.cacheDir, f), counted(response.body, seen), opts);
  const record: FirstUseRecord = { url, revision: response.headers.get('x-repo-commit') ?? f.source.commit, size: seen.size, sha256: seen.hash.digest('hex') };
  writeFileAtomicSync(recordPath(o.cacheDir, f), JSON.stringify(record, null, 2) + '\n');
}

/** The body's chunks, counted and hashed into `seen` as they pass. */
async function* counted(body: ReadableStream<Uint8Array> | null, seen: { size: number; hash: Hash }): AsyncGenerator<Uint8Array> {
  if (!body) return;
  for await (const c of body as AsyncIterable<Uint8Array>) {
    seen.size += c.length;
    seen.hash.update(c);
    yield c;
  }
}

/**
 * The body's chunks, ending in an error unless they are exactly the pinned file: thrown before the stream
 * ends, so writeStreamAtomic removes the temp file instead of renaming it.
 */
async function* verified(body: ReadableStream<Uint8Array> | null, f: DataFile & { size: number; sha256: string }, url: string): AsyncGenerator<Uint8Array> {
  const hash = createHash('sha256');
  let n = 0;
  const mismatch = (what: string): UserError =>
    new UserError(
      `${f.file}: the file served at ${url} is not the published one (${what}; pinned: ${f.size} bytes, sha256 ${f.sha256}, ` +
        `${f.source.repo} ${f.path} @ ${f.source.commit}); nothing was saved. Check EAPGP_DATA_URL if set, or report it`,
    );
  if (body) {
    for await (const c of body as AsyncIterable<Uint8Array>) {
      n += c.length;
      if (n > f.size) throw mismatch(`more than ${f.size} bytes`);
      hash.update(c);
      yield c;
    }
  }
  const sha = hash.digest('hex');
  if (n !== f.size) throw mismatch(`${n} bytes${n ? `, sha256 ${sha}` : ''}`);
  if (sha !== f.sha256) throw mismatch(`sha256 ${sha}`);
}

/** "1 file, 256.2 KiB" for log lines (the sizes of files trusted on first use as recorded in `cacheDir`, when there). */
export function describeFiles(files: readonly DataFile[], cacheDir?: string): string {
  const sizes = files.map((f) => f.size ?? (cacheDir === undefined ? undefined : readRecord(cacheDir, f)?.size));
  const bytes = sizes.reduce<number>((s, x) => s + (x ?? 0), 0);
  const unknown = sizes.some((x) => x === undefined);
  return `${files.length} file${files.length === 1 ? '' : 's'}${unknown && bytes === 0 ? '' : `, ${unknown ? 'at least ' : ''}${formatBytes(bytes)}`}`;
}
