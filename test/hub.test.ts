import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { openCheckpoint, validateGPT2 } from '../src/models/checkpoint.js';
import { parseModelSpec, repoCacheDir, resolveModel } from '../src/models/hub.js';
import { makeRandomModel } from '../src/models/make-model.js';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../src/models/safetensors.js';
import { isUserError } from '../src/util/errors.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eapgp-hub-'));
const COMMIT = 'a'.repeat(40);

// ------------------------------------------------------------------ fixtures: model directories to serve
const tok = path.join(tmp, 'tok');
fs.mkdirSync(tok);
fs.writeFileSync(path.join(tok, 'vocab.json'), '{"!": 0}');
fs.writeFileSync(path.join(tok, 'merges.txt'), '#version: 0.2\n');
const tiny = makeRandomModel({ layers: 1, heads: 2, dModel: 8, vocab: 40, nCtx: 8, seed: 1, tokenizerDir: tok }, path.join(tmp, 'src-tiny')).dir;

const sharded = path.join(tmp, 'src-sharded');
{
  fs.mkdirSync(sharded);
  fs.copyFileSync(path.join(tiny, 'config.json'), path.join(sharded, 'config.json'));
  const st = openSafetensors(path.join(tiny, 'model.safetensors'));
  const parts: Record<string, TensorToWrite>[] = [{}, {}];
  const map: Record<string, string> = {};
  st.names.forEach((n, i) => {
    parts[i % 2][`transformer.${n}`] = { dtype: 'F32', shape: st.info(n).shape, data: st.readF32(n) };
    map[`transformer.${n}`] = `model-0000${(i % 2) + 1}-of-00002.safetensors`;
  });
  st.close();
  parts.forEach((p, i) => writeSafetensors(path.join(sharded, `model-0000${i + 1}-of-00002.safetensors`), p));
  fs.writeFileSync(path.join(sharded, 'model.safetensors.index.json'), JSON.stringify({ weight_map: map }));
}

// ------------------------------------------------------------------ a fake hub
interface Repo {
  dir: string;
  commit?: string;
  /** Send only the first half of this file, then drop ('drop') or hang ('stall'). */
  broken?: { file: string; mode: 'drop' | 'stall' };
  token?: string;
}
const repos = new Map<string, Repo>([
  ['test/tiny', { dir: tiny, commit: COMMIT }],
  ['test/nocommit', { dir: tiny }],
  ['test/sharded', { dir: sharded, commit: 'b'.repeat(40) }],
  ['test/drop', { dir: tiny, commit: COMMIT, broken: { file: 'model.safetensors', mode: 'drop' } }],
  ['test/stall', { dir: tiny, commit: COMMIT, broken: { file: 'model.safetensors', mode: 'stall' } }],
  ['test/private', { dir: tiny, commit: COMMIT, token: 'secret' }],
]);
const authSeen: (string | undefined)[] = [];

function handler(req: http.IncomingMessage, res: http.ServerResponse) {
  authSeen.push(req.headers.authorization);
  // /{owner}/{name}/resolve/{rev}/{file}  or  /cdn/{owner}/{name}/{file}  (LFS files redirect to the "CDN")
  const m = /^\/(cdn\/)?([^/]+\/[^/]+)\/(?:resolve\/([^/]+)\/)?([^/]+)$/.exec(req.url ?? '');
  const repo = m && repos.get(m[2]);
  if (!m || !repo) return void res.writeHead(404).end('Repository not found');
  if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`) return void res.writeHead(401).end();
  const file = path.join(repo.dir, m[4]);
  if (!fs.existsSync(file)) return void res.writeHead(404, repo.commit ? { 'x-repo-commit': repo.commit } : {}).end();
  if (!m[1] && m[4].endsWith('.safetensors')) {
    return void res.writeHead(302, { location: `/cdn/${m[2]}/${m[4]}`, ...(repo.commit ? { 'x-repo-commit': repo.commit } : {}) }).end();
  }
  const data = fs.readFileSync(file);
  res.writeHead(200, { 'content-length': data.length, ...(!m[1] && repo.commit ? { 'x-repo-commit': repo.commit } : {}) });
  if (repo.broken?.file === m[4]) {
    res.write(data.subarray(0, data.length >> 1));
    if (repo.broken.mode === 'drop') setTimeout(() => res.socket?.destroy(), 20);
    return;
  }
  res.end(data);
}

async function startServer(): Promise<{ server: http.Server; endpoint: string }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
async function stopServer(server: http.Server) {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
}

let server: http.Server;
let endpoint: string;
test.before(async () => ({ server, endpoint } = await startServer()));
test.after(async () => {
  await stopServer(server).catch(() => undefined);
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Run `fn` with HF_* variables set (others cleared) and a fresh HF_HOME unless given. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const keys = ['HF_HOME', 'HF_HUB_CACHE', 'HF_ENDPOINT', 'HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_HUB_OFFLINE', 'HF_TOKEN_PATH'];
  const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
  for (const k of keys) delete process.env[k];
  Object.assign(process.env, { HF_ENDPOINT: endpoint, ...vars });
  for (const [k, v] of Object.entries(vars)) if (v === undefined) delete process.env[k];
  try {
    return await fn();
  } finally {
    for (const k of keys) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}
let homes = 0;
const newHome = () => path.join(tmp, `home${homes++}`);

async function rejectsUser(p: Promise<unknown>, ...parts: string[]) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isUserError(e), `expected UserError, got ${(e as Error)?.stack ?? e}`);
    for (const s of parts) assert.ok((e as Error).message.includes(s), `message lacks "${s}": ${(e as Error).message}`);
    return true;
  });
}

/** Every file under dir (recursively). */
function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => fs.statSync(path.join(dir, f)).isFile());
}

test('spec parsing: aliases, owner/name@revision, invalid names', async () => {
  assert.deepEqual(parseModelSpec('gpt2'), { repo: 'openai-community/gpt2', revision: 'main' });
  assert.deepEqual(parseModelSpec('gpt2-xl@abc'), { repo: 'openai-community/gpt2-xl', revision: 'abc' });
  assert.deepEqual(parseModelSpec('someone/model@v1.0'), { repo: 'someone/model', revision: 'v1.0' });
  assert.throws(() => parseModelSpec('a b/c'), (e) => isUserError(e) && e.message.includes('"a b/c" is neither'));
  assert.equal(await resolveModel(tiny), tiny);
  await rejectsUser(resolveModel('./no/such/dir'), 'does not exist', path.resolve('no/such/dir'));
  await rejectsUser(resolveModel(path.join(tiny, 'config.json')), 'is a file', 'model directory');
});

test('download into the cache, load, then reuse the cache with the server stopped', async () => {
  const home = newHome();
  const dir = await withEnv({ HF_HOME: home }, () => resolveModel('test/tiny', { quiet: true }));
  const base = path.join(home, 'hub', 'models--test--tiny');
  assert.equal(dir, path.join(base, 'snapshots', COMMIT));
  assert.equal(fs.readFileSync(path.join(base, 'refs', 'main'), 'utf8'), COMMIT);
  assert.deepEqual(listFiles(dir).sort(), ['config.json', 'merges.txt', 'model.safetensors', 'vocab.json']);
  assert.ok(fs.readFileSync(path.join(dir, 'model.safetensors')).equals(fs.readFileSync(path.join(tiny, 'model.safetensors'))));
  const ck = openCheckpoint(dir);
  validateGPT2(ck);
  ck.close();

  // second resolve: no server at all (unreachable endpoint), and also in offline mode
  const dead = 'http://127.0.0.1:1';
  assert.equal(await withEnv({ HF_HOME: home, HF_ENDPOINT: dead }, () => resolveModel('test/tiny', { quiet: true })), dir);
  assert.equal(await withEnv({ HF_HOME: home, HF_HUB_OFFLINE: '1' }, () => resolveModel('test/tiny@main')), dir);
  assert.equal(await withEnv({ HF_HUB_CACHE: path.join(home, 'hub'), HF_ENDPOINT: dead }, () => resolveModel(`test/tiny@${COMMIT}`)), dir);
});

test('without X-Repo-Commit the snapshot is named after the revision', async () => {
  const home = newHome();
  const dir = await withEnv({ HF_HOME: home }, () => resolveModel('test/nocommit', { quiet: true }));
  assert.equal(dir, path.join(home, 'hub', 'models--test--nocommit', 'snapshots', 'main'));
  assert.equal(await withEnv({ HF_HOME: home, HF_HUB_OFFLINE: '1' }, () => resolveModel('test/nocommit')), dir);
});

test('sharded layout: index and shards downloaded when model.safetensors is 404', async () => {
  const home = newHome();
  const dir = await withEnv({ HF_HOME: home }, () => resolveModel('test/sharded', { quiet: true }));
  assert.deepEqual(listFiles(dir).sort(), [
    'config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json',
  ]);
  const ck = openCheckpoint(dir);
  validateGPT2(ck);
  const ref = openCheckpoint(tiny);
  assert.deepEqual(ck.readF32('h.0.attn.c_attn.weight'), ref.readF32('h.0.attn.c_attn.weight'));
  ck.close();
  ref.close();
});

test('404 for a model names the URL', async () => {
  await withEnv({ HF_HOME: newHome() }, () =>
    rejectsUser(resolveModel('test/missing', { quiet: true }), 'model test/missing (revision main) not found', `${endpoint}/test/missing/resolve/main/config.json`));
});

test('connection dropped mid-file: error, no partial file in the cache; a retry completes', async () => {
  const home = newHome();
  await withEnv({ HF_HOME: home }, () =>
    rejectsUser(resolveModel('test/drop', { quiet: true }), 'download of', '/cdn/test/drop/model.safetensors', 'run the command again'));
  const files = listFiles(path.join(home, 'hub'));
  assert.ok(!files.some((f) => f.endsWith('model.safetensors') || f.endsWith('.tmp')), files.join(', '));
  assert.ok(!fs.existsSync(path.join(home, 'hub', 'models--test--drop', 'refs', 'main')));
  // the server recovers: the retry downloads what is missing
  const repo = repos.get('test/drop')!;
  const broken = repo.broken;
  delete repo.broken;
  try {
    const dir = await withEnv({ HF_HOME: home }, () => resolveModel('test/drop', { quiet: true }));
    validateGPT2(openCheckpoint(dir));
  } finally {
    repo.broken = broken;
  }
});

test('process exiting mid-download leaves no partial or temp file', async () => {
  const home = newHome();
  const hub = new URL('../src/models/hub.js', import.meta.url).href;
  const code = `import { resolveModel } from ${JSON.stringify(hub)};
    setTimeout(() => process.exit(130), 300);
    await resolveModel('test/stall', { quiet: true });`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    env: { ...process.env, HF_HOME: home, HF_ENDPOINT: endpoint, HF_HUB_CACHE: '' },
    stdio: 'inherit',
  });
  const status = await new Promise((r) => child.on('exit', r));
  assert.equal(status, 130);
  const files = listFiles(path.join(home, 'hub'));
  assert.ok(files.some((f) => f.endsWith('config.json')), 'the download had started');
  assert.ok(!files.some((f) => f.endsWith('model.safetensors') || f.endsWith('.tmp')), files.join(', '));
});

test('HF_HUB_OFFLINE=1 with an empty cache: clear error', async () => {
  const home = newHome();
  await withEnv({ HF_HOME: home, HF_HUB_OFFLINE: '1' }, () =>
    rejectsUser(resolveModel('gpt2'), 'openai-community/gpt2', 'not in the Hugging Face cache at', path.join(home, 'hub', 'models--openai-community--gpt2'), 'offline', 'HF_HUB_OFFLINE'));
  assert.equal(repoCacheDir('openai-community/gpt2', { HF_HOME: home }), path.join(home, 'hub', 'models--openai-community--gpt2'));
});

test('HF_TOKEN is sent as a bearer token; 401 explains what to do', async () => {
  await withEnv({ HF_HOME: newHome() }, () => rejectsUser(resolveModel('test/private', { quiet: true }), 'HTTP 401', 'HF_TOKEN', '/test/private/resolve/main/config.json'));
  authSeen.length = 0;
  const dir = await withEnv({ HF_HOME: newHome(), HF_TOKEN: 'secret' }, () => resolveModel('test/private', { quiet: true }));
  assert.ok(fs.existsSync(path.join(dir, 'model.safetensors')));
  assert.ok(authSeen.length >= 4 && authSeen.every((a) => a === 'Bearer secret'), JSON.stringify(authSeen));
  // the token file of `huggingface-cli login` works too
  const home = newHome();
  fs.mkdirSync(home, { recursive: true });
  fs.writeFileSync(path.join(home, 'token'), 'secret\n');
  await withEnv({ HF_HOME: home }, () => resolveModel('test/private', { quiet: true }));
});

test('unreachable host names the URL', async () => {
  const { server: s, endpoint: e } = await startServer();
  await stopServer(s);
  await withEnv({ HF_HOME: newHome(), HF_ENDPOINT: e }, () =>
    rejectsUser(resolveModel('test/tiny', { quiet: true }), 'cannot reach', `${e}/test/tiny/resolve/main/config.json`, 'HF_ENDPOINT'));
});

test('atomic streaming write: a failing source leaves the old file and no temp', async () => {
  const { writeStreamAtomic, isTempPath } = await import('../src/util/atomic-write.js');
  const dir = path.join(tmp, 'atomic');
  const target = path.join(dir, 'f.bin');
  await writeStreamAtomic(target, (async function* () { yield Buffer.from('old'); })());
  await assert.rejects(
    writeStreamAtomic(target, (async function* () {
      yield Buffer.from('new data');
      throw new Error('boom');
    })()),
    /boom/,
  );
  assert.equal(fs.readFileSync(target, 'utf8'), 'old');
  assert.deepEqual(fs.readdirSync(dir), ['f.bin']);
  assert.ok(isTempPath(`${target}.123.0123456789ab.tmp`));
});

test('progress: plain lines when not a TTY, quiet is silent', async () => {
  const { createProgress, formatBytes, duration } = await import('../src/util/progress.js');
  const lines: string[] = [];
  const stream = { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
  const p = createProgress({ label: 'f', total: 1000, stream });
  for (let i = 0; i < 100; i++) p.add(10);
  p.finish();
  p.finish();
  assert.equal(lines.length, 1, 'a task shorter than a second prints only its final line: ' + lines.join(''));
  assert.match(lines.at(-1)!, /^f {2}1000 B \/ 1000 B .* in /);
  const q = createProgress({ label: 'q', quiet: true, stream });
  q.add(5);
  q.finish();
  assert.ok(!lines.some((l) => l.startsWith('q')));
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(duration(75), '1m15s');
});
