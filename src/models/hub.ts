/**
 * Model specs → local directories: an existing directory is used as is; otherwise a Hugging Face hub name
 * (`gpt2`, `gpt2-medium`, `gpt2-large`, `gpt2-xl` → `openai-community/<name>`, or any `owner/name`, with an
 * optional `@revision`, default `main`) is looked up in the cache and downloaded when missing.
 *
 * Cache layout is huggingface_hub's, so both tools share downloads: `<cache>/models--owner--name/refs/<rev>`
 * holds the commit hash and `snapshots/<hash>/<file>` the files. We write the files directly into the
 * snapshot (no blobs/ + symlinks); huggingface_hub reads such snapshots fine. Every file is downloaded to a
 * temp name and renamed when complete, so a file present in a snapshot is always whole, and a snapshot with
 * config.json and its weights is complete and used without network.
 *
 * Environment (as huggingface_hub): HF_HUB_CACHE, HF_HOME, HF_ENDPOINT, HF_TOKEN (or the token file written
 * by `huggingface-cli login`), HF_HUB_OFFLINE.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from '../util/errors.js';
import { writeFileAtomicSync } from '../util/atomic-write.js';
import { saveDownload } from '../util/download.js';

export interface ModelSpec {
  /** `owner/name` (or a legacy name without owner). */
  repo: string;
  revision: string;
}

export interface ResolveOptions {
  /** Environment variables to use instead of process.env. */
  env?: NodeJS.ProcessEnv;
  /** No progress output. */
  quiet?: boolean;
  /** Use only the cache (also set by HF_HUB_OFFLINE=1). */
  offline?: boolean;
}

/** The released GPT-2 sizes, which the hub now serves from the openai-community organization. */
export const GPT2_ALIASES: Record<string, string> = {
  gpt2: 'openai-community/gpt2',
  'gpt2-medium': 'openai-community/gpt2-medium',
  'gpt2-large': 'openai-community/gpt2-large',
  'gpt2-xl': 'openai-community/gpt2-xl',
};

const REQUIRED = 'config.json';
const SINGLE = 'model.safetensors';
const INDEX = 'model.safetensors.index.json';
// tokenizer_config.json names the BOS/EOS/pad tokens of tokenizer.json families (src/tokenizer/hf.ts).
const OPTIONAL = ['vocab.json', 'merges.txt', 'tokenizer.json', 'tokenizer_config.json'];
const REPO_RE = /^(?:[A-Za-z0-9][\w.-]*\/)?[A-Za-z0-9][\w.-]*$/;

/** Parse `owner/name[@revision]` or a GPT-2 alias. Throws UserError for anything else. */
export function parseModelSpec(spec: string): ModelSpec {
  const at = spec.lastIndexOf('@');
  const name = at > 0 ? spec.slice(0, at) : spec;
  const revision = at > 0 ? spec.slice(at + 1) : 'main';
  const repo = GPT2_ALIASES[name] ?? name;
  if (!REPO_RE.test(repo) || repo.includes('--') || repo.includes('..') || !revision || /\.\.|^\/|\s/.test(revision)) {
    throw new UserError(
      `"${spec}" is neither an existing directory nor a Hugging Face model name; ` +
        'pass a model directory, a GPT-2 size (gpt2, gpt2-medium, gpt2-large, gpt2-xl) or owner/name[@revision]',
    );
  }
  return { repo, revision };
}

/** The hub cache root: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub. */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return expandHome(env.HF_HUB_CACHE);
  return path.join(hfHome(env), 'hub');
}

function hfHome(env: NodeJS.ProcessEnv): string {
  if (env.HF_HOME) return expandHome(env.HF_HOME);
  return path.join(env.XDG_CACHE_HOME ? expandHome(env.XDG_CACHE_HOME) : path.join(os.homedir(), '.cache'), 'huggingface');
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
}

/** `<cache>/models--owner--name`. */
export function repoCacheDir(repo: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(hubCacheDir(env), `models--${repo.split('/').join('--')}`);
}

/** The complete cached snapshot directory for a repo and revision, or null. */
export function cachedSnapshot(spec: ModelSpec, env: NodeJS.ProcessEnv = process.env): string | null {
  const base = repoCacheDir(spec.repo, env);
  const candidates: string[] = [];
  if (/^[0-9a-f]{40}$/.test(spec.revision)) candidates.push(spec.revision);
  try {
    candidates.push(fs.readFileSync(path.join(base, 'refs', spec.revision), 'utf8').trim());
  } catch {
    /* no ref: maybe a snapshot named after the revision (servers without X-Repo-Commit) */
  }
  candidates.push(spec.revision);
  for (const c of candidates) {
    const dir = path.join(base, 'snapshots', c);
    if (c && isCompleteSnapshot(dir)) return dir;
  }
  return null;
}

/** config.json plus model.safetensors, or the index and every shard it names. */
function isCompleteSnapshot(dir: string): boolean {
  if (!fs.existsSync(path.join(dir, REQUIRED))) return false;
  if (fs.existsSync(path.join(dir, SINGLE))) return true;
  const shards = readShardNames(path.join(dir, INDEX));
  return shards !== null && shards.every((s) => fs.existsSync(path.join(dir, s)));
}

/** Shard files named by an index file; null when it is absent or unreadable. */
function readShardNames(indexPath: string): string[] | null {
  try {
    const map = JSON.parse(fs.readFileSync(indexPath, 'utf8')).weight_map as Record<string, string>;
    return [...new Set(Object.values(map))];
  } catch {
    return null;
  }
}

function isOffline(opts: ResolveOptions, env: NodeJS.ProcessEnv): boolean {
  return opts.offline === true || ['1', 'true', 'yes', 'on'].includes((env.HF_HUB_OFFLINE ?? '').toLowerCase());
}

/**
 * A local model directory for `spec`: the directory itself, a complete cached snapshot, or a fresh download
 * into the cache. Throws UserError with what to do when the model can't be found or fetched.
 */
export async function resolveModel(spec: string, opts: ResolveOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const local = expandHome(spec);
  if (fs.existsSync(local)) {
    if (fs.statSync(local).isDirectory()) return path.resolve(local);
    throw new UserError(`${path.resolve(local)} is a file; pass the model directory that holds config.json and the weights`);
  }
  if (looksLikePath(spec)) {
    throw new UserError(`model directory ${path.resolve(local)} does not exist; check the path, or pass a hub name like "gpt2"`);
  }
  const ms = parseModelSpec(spec);
  const cached = cachedSnapshot(ms, env);
  if (cached) return cached;
  if (isOffline(opts, env)) {
    throw new UserError(
      `model ${ms.repo} (revision ${ms.revision}) is not in the Hugging Face cache at ${repoCacheDir(ms.repo, env)} and offline mode is on ` +
        `(HF_HUB_OFFLINE); unset HF_HUB_OFFLINE to download it, point HF_HOME/HF_HUB_CACHE at a cache that has it, or pass a local model directory`,
    );
  }
  return download(ms, env, opts.quiet ?? false);
}

function looksLikePath(spec: string): boolean {
  return spec.startsWith('.') || spec.startsWith('~') || path.isAbsolute(spec) || spec.includes('\\') || spec.split('/').length > 2;
}

async function download(ms: ModelSpec, env: NodeJS.ProcessEnv, quiet: boolean): Promise<string> {
  const endpoint = (env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, '');
  const token = readToken(env);
  const base = repoCacheDir(ms.repo, env);
  const http = new HubClient(endpoint, token, ms);

  // config.json first: its response tells the commit, which names the snapshot.
  const cfg = await http.get(REQUIRED, ms.revision, false);
  const commit = cfg!.commit ?? ms.revision;
  const snap = path.join(base, 'snapshots', commit);
  const fetchFile = async (file: string, optional: boolean, res?: Fetched | null) => {
    const target = path.join(snap, file);
    if (fs.existsSync(target)) {
      await res?.response.body?.cancel();
      return true;
    }
    const r = res === undefined ? await http.get(file, commit, optional) : res;
    if (!r) return false;
    await http.save(r, target, quiet);
    return true;
  };
  await fetchFile(REQUIRED, false, cfg);

  if (!fs.existsSync(path.join(snap, SINGLE))) {
    let shards = readShardNames(path.join(snap, INDEX));
    if (!shards && !(await fetchFile(SINGLE, true))) {
      if (!(await fetchFile(INDEX, true))) {
        throw new UserError(
          `${ms.repo} (revision ${ms.revision}) has neither ${SINGLE} nor ${INDEX} at ${http.url(SINGLE, commit)}; ` +
            'only safetensors checkpoints are supported (convert pytorch_model.bin with the safetensors tools)',
        );
      }
      shards = readShardNames(path.join(snap, INDEX));
      if (!shards) throw new UserError(`${http.url(INDEX, commit)} is not a valid safetensors index (no weight_map); check the repository`);
    }
    for (const s of shards ?? []) await fetchFile(s, false);
  }
  for (const f of OPTIONAL) await fetchFile(f, true);
  if (commit !== ms.revision) writeFileAtomicSync(path.join(base, 'refs', ms.revision), commit);
  return snap;
}

/** HF_TOKEN, else the legacy variable, else the token file of `huggingface-cli login`. */
function readToken(env: NodeJS.ProcessEnv): string | undefined {
  const t = env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN;
  if (t) return t.trim();
  try {
    return fs.readFileSync(env.HF_TOKEN_PATH || path.join(hfHome(env), 'token'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

interface Fetched {
  url: string;
  response: Response;
  /** X-Repo-Commit of the first response in the redirect chain. */
  commit: string | undefined;
}

/** HTTP against `{endpoint}/{repo}/resolve/{revision}/{file}`, with errors turned into UserErrors. */
class HubClient {
  constructor(
    private readonly endpoint: string,
    private readonly token: string | undefined,
    private readonly ms: ModelSpec,
  ) {}

  url(file: string, revision: string): string {
    return `${this.endpoint}/${this.ms.repo}/resolve/${encodeURIComponent(revision)}/${file}`;
  }

  /** GET with redirects followed by hand (to keep X-Repo-Commit and drop the token across origins); null on 404 when optional. */
  async get(file: string, revision: string, optional: boolean): Promise<Fetched | null> {
    const first = this.url(file, revision);
    let url = first;
    let commit: string | undefined;
    for (let hop = 0; hop < 10; hop++) {
      // identity: Content-Length must count the bytes we store (undici would gunzip silently).
      const headers: Record<string, string> = { 'user-agent': 'eap-gp', 'accept-encoding': 'identity' };
      if (this.token && new URL(url).origin === new URL(first).origin) headers.authorization = `Bearer ${this.token}`;
      let response: Response;
      try {
        response = await fetch(url, { headers, redirect: 'manual' });
      } catch (e) {
        const cause = (e as { cause?: { code?: string; message?: string } }).cause;
        throw new UserError(
          `cannot reach ${url} (${cause?.code ?? cause?.message ?? (e as Error).message}); check the network connection and HF_ENDPOINT, ` +
            'or pass a local model directory (HF_HUB_OFFLINE=1 uses only the cache)',
          { cause: e },
        );
      }
      commit ??= response.headers.get('x-repo-commit') ?? undefined;
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        await response.body?.cancel();
        url = new URL(location, url).toString();
        continue;
      }
      if (response.ok) return { url, response, commit };
      await response.body?.cancel();
      if (response.status === 404 && optional) return null;
      throw this.httpError(response.status, url, file);
    }
    throw new UserError(`too many redirects fetching ${first}; check HF_ENDPOINT`);
  }

  private httpError(status: number, url: string, file: string): UserError {
    const { repo, revision } = this.ms;
    if (status === 401 || status === 403) {
      return new UserError(
        `access to ${url} was denied (HTTP ${status}): ${repo} does not exist (the hub answers 401 for unknown repositories), ` +
          `or it is private or gated; check the name, or accept its terms on the hub and set HF_TOKEN to an access token ` +
          `(${this.token ? 'a token was sent' : 'no token is set'})`,
      );
    }
    if (status === 404) {
      return new UserError(
        `${file === REQUIRED ? `model ${repo} (revision ${revision})` : `file ${file} of ${repo}`} not found at ${url} (HTTP 404); ` +
          'check the model name and revision (GPT-2 sizes: gpt2, gpt2-medium, gpt2-large, gpt2-xl), ' +
          'or pass a local model directory; private models also need HF_TOKEN',
      );
    }
    return new UserError(`HTTP ${status} fetching ${url}; try again later or check HF_ENDPOINT`);
  }

  /** Stream a response body into `target` (atomically), with progress. */
  async save(r: Fetched, target: string, quiet: boolean): Promise<void> {
    const len = r.response.headers.get('content-length');
    const total = len !== null ? Number(len) : undefined;
    const body = r.response.body;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      if (body) for await (const c of body as AsyncIterable<Uint8Array>) yield c;
    }
    await saveDownload(target, checkedLength(chunks(), total), {
      url: r.url, label: `${this.ms.repo} ${path.basename(target)}`, total, quiet, what: 'this file', retry: 'run the command again',
    });
  }
}

/** Pass chunks through, failing when the body ends short of (or beyond) Content-Length. */
async function* checkedLength(src: AsyncIterable<Uint8Array>, total: number | undefined): AsyncGenerator<Uint8Array> {
  let n = 0;
  for await (const c of src) {
    n += c.length;
    yield c;
  }
  if (total !== undefined && n !== total) throw new Error(`connection closed after ${n} of ${total} bytes`);
}
