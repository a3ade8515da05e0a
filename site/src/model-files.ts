/**
 * Model files in the page: fetched once (the built-in model from the site, a hub model from
 * `${endpoint}/${repo}/resolve/${rev}/${file}`), kept in Cache Storage, and mounted into the worker's file system
 * as Blobs, so the library's loaders read them tensor by tensor (a shard is streamed from the network into the
 * cache and never held whole in memory). A second visit finds every file in the cache and downloads nothing.
 */
import { isGpt2Config, familyOf, SUPPORTED_ARCHITECTURES } from '../../src/models/arch/index.js';
import { UserError } from '../../src/util/errors.js';
import * as vfs from './shims/vfs.js';

export const MODEL_CACHE = 'eapgp-models-v1';
/** The weights, as float32, may fill at most half of the 4 GiB WebAssembly memory: the rest holds the activations and gradients. */
export const WEIGHT_BUDGET = 2 * 1024 ** 3;

/** Marks a cached answer that says the file does not exist. */
const MISSING = 'x-eapgp-missing';
const missing = (url: string): never => {
  throw new UserError(`${url}: not found (404); check the model name and revision (owner/name[@rev]) and that the file exists`);
};

export interface Fetched {
  /** Bytes downloaded now (0 when everything came from the cache). */
  downloaded: number;
}

export type OnBytes = (file: string, loaded: number, total: number) => void;

/** The file at `url` as a Blob, from the cache or downloaded into it (null on a 404 when `optional`). */
async function cachedBlob(url: string, label: string, onBytes: OnBytes, stats: Fetched, optional = false): Promise<Blob | null> {
  const cache = await caches.open(MODEL_CACHE);
  const hit = await cache.match(url);
  if (hit) return hit.headers.get(MISSING) ? (optional ? null : missing(url)) : hit.blob();
  let res: Response;
  try {
    res = await fetch(url, { mode: 'cors', credentials: 'omit' });
  } catch (e) {
    throw new UserError(`network failure while fetching ${url} (${(e as Error).message}); check the connection or the hub endpoint (?endpoint=)`);
  }
  if (res.status === 404) {
    if (!optional) missing(url);
    // remember the absence too, so that a second visit asks nothing
    await cache.put(url, new Response('', { headers: { [MISSING]: '1' } }));
    return null;
  }
  if (!res.ok || !res.body) throw new UserError(`${url}: the server answered ${res.status} ${res.statusText}`);
  const total = Number(res.headers.get('content-length') ?? 0);
  let loaded = 0;
  const reader = res.body.getReader();
  // count the bytes on their way into the cache: the file is not held in memory here
  const counted = new ReadableStream<Uint8Array>({
    async pull(ctl) {
      const { done, value } = await reader.read();
      if (done) return ctl.close();
      loaded += value.length;
      stats.downloaded += value.length;
      onBytes(label, loaded, total);
      ctl.enqueue(value);
    },
  });
  const headers = new Headers({ 'content-type': res.headers.get('content-type') ?? 'application/octet-stream' });
  if (total) headers.set('content-length', String(total));
  await cache.put(url, new Response(counted, { headers }));
  const stored = await cache.match(url);
  if (!stored) throw new UserError(`${url}: the browser did not keep the file in Cache Storage (is storage full or disabled?)`);
  return stored.blob();
}

const json = async (b: Blob, file: string): Promise<Record<string, unknown>> => {
  try {
    return JSON.parse(await b.text()) as Record<string, unknown>;
  } catch (e) {
    throw new UserError(`${file}: not valid JSON (${(e as Error).message})`);
  }
};

/** Parameters of a config, estimated: embeddings, per-layer attention and MLP, an untied unembedding. */
export function estimateWeightBytes(cfg: Record<string, unknown>): number {
  const num = (...keys: string[]): number | undefined => keys.map((k) => cfg[k]).find((v): v is number => typeof v === 'number');
  const D = num('n_embd', 'hidden_size', 'd_model') ?? 0;
  const L = num('n_layer', 'num_hidden_layers') ?? 0;
  const V = num('vocab_size') ?? 0;
  const F = num('n_inner', 'intermediate_size') ?? 4 * D;
  const gated = !isGpt2Config(cfg) && !/neox/i.test(String(cfg['model_type'] ?? ''));
  const tied = cfg['tie_word_embeddings'] !== false && (isGpt2Config(cfg) || cfg['tie_word_embeddings'] === true);
  const params = V * D * (tied ? 1 : 2) + L * (4 * D * D + (gated ? 3 : 2) * D * F);
  return params * 4;
}

const gib = (n: number): string => `${(n / 1024 ** 3).toFixed(2)} GiB`;

/** config.json's checks before any weight is downloaded: a supported architecture that fits the page. */
export function checkConfig(cfg: Record<string, unknown>, source: string): void {
  if (!isGpt2Config(cfg)) {
    try {
      familyOf(cfg, source);
    } catch {
      const arch = JSON.stringify(cfg['architectures'] ?? cfg['model_type'] ?? 'none');
      throw new UserError(`${source}: unsupported architecture ${arch}; the page runs ${SUPPORTED_ARCHITECTURES.join(', ')}`);
    }
  }
  const bytes = estimateWeightBytes(cfg);
  if (bytes > WEIGHT_BUDGET) {
    throw new UserError(`${source}: the model is too large for the page: its weights need about ${gib(bytes)} as float32, and a page may give them ` +
      `at most ${gib(WEIGHT_BUDGET)} (half of WebAssembly's 4 GiB memory; the rest holds activations and gradients); use eapgp on the command line, or a smaller model`);
  }
}

/**
 * Mounts a model at vfs `dir` from `base` (a URL prefix ending in '/'): config.json first (checked), the tokenizer
 * files it has, then model.safetensors or the shards of model.safetensors.index.json.
 */
export async function mountModel(base: string, dir: string, onBytes: OnBytes): Promise<Fetched> {
  const stats: Fetched = { downloaded: 0 };
  const get = (file: string, optional = false) => cachedBlob(base + file, file, onBytes, stats, optional);
  const config = (await get('config.json'))!;
  checkConfig(await json(config, base + 'config.json'), base + 'config.json');
  vfs.mount(`${dir}/config.json`, config);
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'vocab.json', 'merges.txt']) {
    const b = await get(f, true);
    if (b) vfs.mount(`${dir}/${f}`, b);
  }
  const single = await get('model.safetensors', true);
  if (single) {
    vfs.mount(`${dir}/model.safetensors`, single);
    return stats;
  }
  const index = await get('model.safetensors.index.json', true);
  if (!index) throw new UserError(`${base}: neither model.safetensors nor model.safetensors.index.json was found (404); the page reads safetensors weights only`);
  vfs.mount(`${dir}/model.safetensors.index.json`, index);
  const map = (await json(index, base + 'model.safetensors.index.json'))['weight_map'];
  if (typeof map !== 'object' || map === null) throw new UserError(`${base}model.safetensors.index.json: no weight_map object`);
  for (const shard of [...new Set(Object.values(map as Record<string, string>))].sort()) vfs.mount(`${dir}/${shard}`, (await get(shard))!);
  return stats;
}

/** The URL prefix of a hub model: `name` is owner/name[@revision]. */
export function hubBase(endpoint: string, name: string): string {
  const m = /^([\w.-]+\/)?([\w.-]+)(?:@([\w./-]+))?$/.exec(name.trim());
  if (!m) throw new UserError(`"${name}" is not a hub model name; write owner/name or owner/name@revision (e.g. openai-community/gpt2)`);
  const repo = (m[1] ?? '') + m[2]!;
  return `${endpoint.replace(/\/+$/, '')}/${repo}/resolve/${encodeURIComponent(m[3] ?? 'main')}/`;
}
