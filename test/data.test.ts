/**
 * `eapgp data fetch` / `data list` (src/data) against a local HTTP server laid out like raw.githubusercontent.com
 * (<owner>/<repo>/<commit>/<path>): a fetch that succeeds (files of our own through an injected manifest, one
 * behind a redirect; through the CLI, ACDC's canonical circuits served from a data cache that holds them, when
 * this machine's has them), a corrupted download (sha256 mismatch: an error naming the file, exit 1,
 * nothing in the cache), a server that dies mid-download (no partial file), no server at all (an error saying
 * what to fetch), the cache directory's environment variables, and the checks readers of the cache make.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cachedPath, dataCacheDir, fileState, filesOfGroups, readRecord, requireCached } from '../src/data/cache.js';
import { dataBaseUrl, DEFAULT_DATA_URL, describeFiles, fetchFiles, fileUrl, hubBaseUrl } from '../src/data/fetch.js';
import { DATA_FILES, isPinned, type DataFile } from '../src/data/manifest.js';
import { MIB_DATA_GROUPS } from '../src/data/mib-files.js';
import { isUserError } from '../src/util/errors.js';
import { fixtureCsv, published } from './helpers/data.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-data-'));
let caches = 0;
const newCache = (): string => join(tmp, `cache${caches++}`);

// ------------------------------------------------------------------ the server
interface Route {
  body: Buffer;
  /** 'drop': send half, then cut the connection; 'redirect': 302 to /moved<path>. */
  mode?: 'drop' | 'redirect';
  headers?: Record<string, string>;
}
const routes = new Map<string, Route>();
const MIB_GROUPS = MIB_DATA_GROUPS.map((g) => g.name);
const requests: string[] = [];

function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = decodeURI(req.url ?? '');
  requests.push(url);
  const moved = url.startsWith('/moved/');
  const route = routes.get(moved ? url.slice('/moved'.length) : url);
  if (!route) return void res.writeHead(404).end('404: Not Found');
  if (route.mode === 'redirect' && !moved) return void res.writeHead(302, { location: `/moved${url}` }).end();
  res.writeHead(200, { 'content-length': route.body.length, ...route.headers });
  if (route.mode === 'drop') {
    res.write(route.body.subarray(0, route.body.length >> 1));
    setTimeout(() => res.socket?.destroy(), 20);
    return;
  }
  res.end(route.body);
}

async function startServer(): Promise<{ server: http.Server; base: string }> {
  const server = http.createServer(handler);
  server.requestTimeout = 10_000; // bounded: nothing here waits on a client for long
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
async function stopServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
}

let server: http.Server;
let base: string;
before(async () => ({ server, base } = await startServer()));
after(async () => {
  await stopServer(server).catch(() => undefined);
  rmSync(tmp, { recursive: true, force: true });
});

/** Serves `body` where `f` is fetched from. */
const serve = (f: DataFile, body: Buffer, mode?: Route['mode'], headers?: Record<string, string>): void =>
  void routes.set(decodeURI(new URL(fileUrl(base, f)).pathname), { body, mode, headers });

/** The CLI in a child process (asynchronously: the server answers from this process), killed after 60 s. */
function eapgp(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every file under dir, relative, '/'-separated. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true, encoding: 'utf8' }) as string[]).filter((f) => statSync(join(dir, f)).isFile()).map((f) => f.split('\\').join('/')).sort();
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const noStackTrace = (s: string): void => assert.doesNotMatch(s, /at .*\.js:\d+/);

/** A manifest entry for bytes of our own. */
function ownFile(group: string, file: string, body: Buffer, path = `data/${file}`): DataFile {
  return { group, file, source: { repo: 'test/own-data', commit: 'c'.repeat(40) }, path, size: body.length, sha256: sha256(body) };
}

// ------------------------------------------------------------------ tests

test('the manifest: every task CSV, sva\'s verb list, the reference tables and the circuits, each pinned', () => {
  const groups = [...new Set(DATA_FILES.map((f) => f.group))];
  assert.deepEqual(groups, ['ioi', 'greater-than', 'sva', 'gender-bias', 'capital-country', 'hypernymy', 'reference', 'circuits', ...MIB_GROUPS]);
  for (const t of groups.slice(0, 6)) {
    assert.ok(DATA_FILES.some((f) => f.group === t && f.file === `${t}/eapig-faithfulness_gpt2.csv` && f.tokenizer === 'gpt2'), t);
    assert.ok(DATA_FILES.some((f) => f.group === t && f.file === `${t}/eapig-faithfulness_pythia.csv` && f.tokenizer === 'neox'), t);
  }
  assert.ok(DATA_FILES.some((f) => f.file === 'sva/eapig-faithfulness_combined_verb_list.csv'));
  assert.equal(new Set(DATA_FILES.map((f) => f.file)).size, DATA_FILES.length, 'no two files at one place');
  for (const f of DATA_FILES.filter((x) => !x.group.startsWith('mib-'))) {
    assert.ok(isPinned(f), f.file);
    assert.match(f.source.commit, /^[0-9a-f]{40}$/, f.file);
    assert.match(f.sha256!, /^[0-9a-f]{64}$/, f.file);
    assert.ok(Number.isSafeInteger(f.size) && f.size! > 0, f.file);
  }
  // MIB's datasets: validation and test of each task, from the hub's main revision, trusted on first use
  const mib = DATA_FILES.filter((x) => x.group.startsWith('mib-'));
  assert.equal(mib.length, 2 * MIB_GROUPS.length);
  for (const f of mib) assert.ok(!isPinned(f) && f.source.host === 'huggingface-dataset' && f.source.commit === 'main' && f.source.repo.startsWith('mib-bench/'), f.file);
  assert.deepEqual(filesOfGroups(['mib-ioi']).map((f) => [f.file, fileUrl(hubBaseUrl({}), f)]), [
    ['mib/ioi/validation.json', 'https://huggingface.co/datasets/mib-bench/ioi/resolve/main/validation.json'],
    ['mib/ioi/test.json', 'https://huggingface.co/datasets/mib-bench/ioi/resolve/main/test.json'],
  ]);
  assert.deepEqual(filesOfGroups(['mib-mcqa']).map((f) => [f.file, fileUrl('http://mirror', f)]), [
    ['mib/mcqa/validation.jsonl', 'http://mirror/datasets/mib-bench/copycolors_mcqa/resolve/main/4_answer_choices/validation.jsonl'],
    ['mib/mcqa/test.jsonl', 'http://mirror/datasets/mib-bench/copycolors_mcqa/resolve/main/4_answer_choices/test.jsonl'],
  ]);
  assert.equal(hubBaseUrl({ HF_ENDPOINT: 'http://hub.example//' }), 'http://hub.example');
  assert.equal(fileUrl(DEFAULT_DATA_URL, DATA_FILES[0]!), 'https://raw.githubusercontent.com/hannamw/eap-ig-faithfulness/d42fea6aa2c7acca39007c9c94923770669cb9ae/data/ioi/gpt2.csv');
  assert.deepEqual(filesOfGroups(['all']), [...DATA_FILES]);
  assert.throws(() => filesOfGroups(['ioi', 'iio']), (e: unknown) => isUserError(e) && /unknown data "iio"; choose among ioi, greater-than, .*circuits, mib-ioi, .*, mib-arc-challenge, all/.test((e as Error).message));
});

test('cache directory: $EAPGP_CACHE, else $XDG_CACHE_HOME/eap-gp, else ~/.cache/eap-gp; base URL: $EAPGP_DATA_URL', () => {
  assert.equal(dataCacheDir({ EAPGP_CACHE: '/x/c', XDG_CACHE_HOME: '/y' }), '/x/c');
  assert.equal(dataCacheDir({ EAPGP_CACHE: '~/c' }), join(homedir(), 'c'));
  assert.equal(dataCacheDir({ XDG_CACHE_HOME: '/y' }), join('/y', 'eap-gp'));
  assert.equal(dataCacheDir({}), join(homedir(), '.cache', 'eap-gp'));
  assert.equal(dataBaseUrl({}), 'https://raw.githubusercontent.com');
  assert.equal(dataBaseUrl({ EAPGP_DATA_URL: 'http://mirror.example/raw//' }), 'http://mirror.example/raw');
});

test('fetch of our own files (one behind a redirect): bytes land in place; a second fetch downloads nothing; an altered copy is replaced', async () => {
  const a = ownFile('mine', 'mine/a.csv', readFileSync(fixtureCsv('ioi')));
  const b = ownFile('mine', 'mine/sub/b.csv', readFileSync(fixtureCsv('greater-than')), 'data/with space/b.csv');
  serve(a, readFileSync(fixtureCsv('ioi')));
  serve(b, readFileSync(fixtureCsv('greater-than')), 'redirect');
  const cacheDir = newCache();
  requests.length = 0;
  const first = await fetchFiles([a, b], { cacheDir, baseUrl: base, quiet: true });
  assert.deepEqual([first.downloaded, first.cached], [[a, b], []]);
  assert.deepEqual(requests, ['/test/own-data/cccccccccccccccccccccccccccccccccccccccc/data/mine/a.csv',
    '/test/own-data/cccccccccccccccccccccccccccccccccccccccc/data/with space/b.csv', '/moved/test/own-data/cccccccccccccccccccccccccccccccccccccccc/data/with space/b.csv']);
  assert.ok(readFileSync(cachedPath(cacheDir, a)).equals(readFileSync(fixtureCsv('ioi'))));
  assert.ok(readFileSync(join(cacheDir, 'mine', 'sub', 'b.csv')).equals(readFileSync(fixtureCsv('greater-than'))));
  assert.deepEqual([fileState(cacheDir, a), fileState(cacheDir, b)], ['cached', 'cached']);

  requests.length = 0;
  const again = await fetchFiles([a, b], { cacheDir, baseUrl: base, quiet: true });
  assert.deepEqual([again.downloaded, again.cached, requests], [[], [a, b], []]);

  writeFileSync(cachedPath(cacheDir, a), 'edited by hand\n');
  assert.equal(fileState(cacheDir, a), 'differs');
  const fixed = await fetchFiles([a, b], { cacheDir, baseUrl: base, quiet: true });
  assert.deepEqual([fixed.downloaded, fixed.cached], [[a], [b]]);
  assert.equal(fileState(cacheDir, a), 'cached');
  assert.deepEqual(filesUnder(cacheDir), ['mine/a.csv', 'mine/sub/b.csv']);
});

test('readers of the cache: a missing or altered file is an error naming the fetch command', () => {
  const body = readFileSync(fixtureCsv('hypernymy'));
  const f = ownFile('mine', 'mine/h.csv', body);
  const cacheDir = newCache();
  const env = { EAPGP_CACHE: cacheDir };
  assert.throws(() => requireCached(f.file, 'my data', env, [f]), (e: unknown) =>
    isUserError(e) && (e as Error).message === `my data is not in the data cache (${cachedPath(cacheDir, f)} is missing); fetch it with \`eapgp data fetch mine\` (EAPGP_CACHE sets the cache directory)`);
  mkdirSync(join(cacheDir, 'mine'), { recursive: true });
  writeFileSync(cachedPath(cacheDir, f), Buffer.concat([body.subarray(0, 10), Buffer.from('X'), body.subarray(11)])); // same size, one byte changed
  assert.throws(() => requireCached(f.file, 'my data', env, [f]), (e: unknown) =>
    isUserError(e) && /mine.h\.csv is not the published file \(size or sha256 differs from test\/own-data data\/mine\/h\.csv @ ccccccc\); fetch it again with `eapgp data fetch mine`/.test((e as Error).message));
  writeFileSync(cachedPath(cacheDir, f), body);
  assert.equal(requireCached(f.file, 'my data', env, [f]), cachedPath(cacheDir, f));
});

test('a file trusted on first use (MIB): saved as served, its sha256 and the hub\'s revision recorded; later reads check it', async () => {
  const body = readFileSync(fixtureCsv('ioi'));
  const f: DataFile = { group: 'mine-hub', file: 'hub/t.jsonl', source: { repo: 'org/data', commit: 'main', host: 'huggingface-dataset' }, path: 'sub/t.jsonl' };
  serve(f, body, undefined, { 'x-repo-commit': 'f'.repeat(40) });
  const cacheDir = newCache();
  requests.length = 0;
  const first = await fetchFiles([f], { cacheDir, baseUrl: 'http://127.0.0.1:9/not-github', hubUrl: base, quiet: true });
  assert.deepEqual([first.downloaded, requests], [[f], ['/datasets/org/data/resolve/main/sub/t.jsonl']]);
  assert.ok(readFileSync(cachedPath(cacheDir, f)).equals(body));
  assert.deepEqual(readRecord(cacheDir, f), { url: `${base}/datasets/org/data/resolve/main/sub/t.jsonl`, revision: 'f'.repeat(40), size: body.length, sha256: sha256(body) });
  assert.deepEqual(filesUnder(cacheDir), ['hub/t.jsonl', 'hub/t.jsonl.recorded.json']);
  assert.equal(fileState(cacheDir, f), 'cached');
  assert.equal(describeFiles([f], cacheDir), `1 file, ${(body.length / 1024).toFixed(1)} KiB`);
  requests.length = 0;
  assert.deepEqual((await fetchFiles([f], { cacheDir, baseUrl: base, hubUrl: base, quiet: true })).cached, [f]);
  assert.deepEqual(requests, [], 'cached: not downloaded again');
  // an edit, or a lost record, reads as differing: readers refuse it, the next fetch downloads and records again
  const env = { EAPGP_CACHE: cacheDir };
  writeFileSync(cachedPath(cacheDir, f), Buffer.concat([body.subarray(0, 5), Buffer.from('#'), body.subarray(6)]));
  assert.throws(() => requireCached(f.file, 'my data', env, [f]), (e: unknown) => isUserError(e) && /hub.t\.jsonl is not the copy its first download recorded \(.*t\.jsonl\.recorded\.json is missing, or the size or sha256 differs\); fetch it again with `eapgp data fetch mine-hub`/.test((e as Error).message));
  assert.deepEqual((await fetchFiles([f], { cacheDir, baseUrl: base, hubUrl: base, quiet: true })).downloaded, [f]);
  assert.equal(requireCached(f.file, 'my data', env, [f]), cachedPath(cacheDir, f));
  rmSync(join(cacheDir, 'hub', 't.jsonl.recorded.json'));
  assert.equal(fileState(cacheDir, f), 'differs');
});

test('data list on an empty cache: every group missing, and the command that fetches them', async () => {
  const list = await eapgp(['data', 'list'], { EAPGP_CACHE: newCache() });
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^ioi +2 +511\.7 KiB +missing$/m); // gpt2.csv and pythia.csv
  assert.match(list.stdout, /^sva +3 +2\.2 MiB +missing$/m); // both CSVs and their verb list
  assert.match(list.stdout, /^circuits +2 +140\.6 KiB +missing$/m);
  assert.match(list.stdout, /to fetch what is missing or differs: eapgp data fetch all$/m);
});

// the published bytes are needed for the real manifest's sha256: served from this machine's data cache
const acdc = published('circuits');
test('eapgp data fetch circuits: the pinned ACDC files from the server into the cache; data list shows them and what is missing', { skip: acdc.skip }, async () => {
  for (const f of filesOfGroups(['circuits'])) serve(f, readFileSync(acdc.path(f.file)));
  const cache = newCache();
  const env = { EAPGP_CACHE: cache, EAPGP_DATA_URL: base };
  const r = await eapgp(['data', 'fetch', 'circuits'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /circuits: downloaded 2 files, 140\.6 KiB \(sha256 verified\)/);
  assert.deepEqual(filesUnder(cache), ['ground-truth-circuits/acdc_canonical_greaterthan_layout.gv', 'ground-truth-circuits/acdc_canonical_ioi_layout.gv']);
  for (const f of filesOfGroups(['circuits'])) assert.equal(sha256(readFileSync(cachedPath(cache, f))), f.sha256);

  const again = await eapgp(['data', 'fetch', 'circuits'], { ...env, EAPGP_DATA_URL: 'http://127.0.0.1:9/nothing-here' });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /circuits: already cached 2 files, 140\.6 KiB/);

  const list = await eapgp(['data', 'list'], { EAPGP_CACHE: cache });
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`^data cache: ${cache.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
  assert.match(list.stdout, /^ioi +1 +256\.2 KiB +missing$/m);
  assert.match(list.stdout, /^reference +53 +.* +missing$/m);
  assert.match(list.stdout, /^circuits +2 +140\.6 KiB +cached$/m);
  assert.match(list.stdout, new RegExp(`to fetch what is missing or differs: eapgp data fetch ioi greater-than sva gender-bias capital-country hypernymy reference ${MIB_GROUPS.join(' ')}$`, 'm'));
  const files = await eapgp(['data', 'list', '--files'], { EAPGP_CACHE: cache });
  assert.match(files.stdout, /^circuits +.*ground-truth-circuits.acdc_canonical_ioi_layout\.gv +102\.8 KiB +cached$/m);
  assert.match(files.stdout, /^sva +.*sva.eapig-faithfulness_combined_verb_list\.csv +37\.4 KiB +missing$/m);
  assert.equal(files.stdout.split('\n').filter((l) => / (cached|missing|differs)$/.test(l)).length, DATA_FILES.length);
});

test('a corrupted download (same size, other bytes; or another size): an error naming the file, exit 1, nothing in the cache', async () => {
  const [ioi] = filesOfGroups(['ioi']);
  const [gt] = filesOfGroups(['greater-than']);
  serve(ioi!, Buffer.alloc(ioi!.size!, 'x'));
  serve(gt!, readFileSync(fixtureCsv('greater-than')));
  const cache = newCache();
  for (const [group, f, what] of [['ioi', ioi!, `sha256 ${sha256(Buffer.alloc(ioi!.size!, 'x'))}`], ['greater-than', gt!, `${readFileSync(fixtureCsv('greater-than')).length} bytes, sha256 ${sha256(readFileSync(fixtureCsv('greater-than')))}`]] as const) {
    const r = await eapgp(['data', 'fetch', group], { EAPGP_CACHE: cache, EAPGP_DATA_URL: base });
    assert.equal(r.code, 1, group);
    assert.ok(r.stderr.includes(`eapgp: ${f.file}: the file served at ${fileUrl(base, f)} is not the published one (${what}; pinned: ${f.size} bytes, sha256 ${f.sha256}`), r.stderr);
    assert.match(r.stderr, /nothing was saved/);
    noStackTrace(r.stderr);
  }
  assert.deepEqual(filesUnder(cache), [], 'no file and no temporary file in the cache');
  const list = await eapgp(['data', 'list'], { EAPGP_CACHE: cache });
  assert.match(list.stdout, /^ioi +2 +511\.7 KiB +missing$/m);
});

test('the server dies mid-download: an error saying to retry, no partial or temporary file', async () => {
  const [sva, verbs] = ['sva/eapig-faithfulness_gpt2.csv', 'sva/eapig-faithfulness_combined_verb_list.csv'].map((f) => filesOfGroups(['sva']).find((x) => x.file === f));
  // the verb list arrives whole; the big CSV is cut in half
  serve(sva!, Buffer.alloc(sva!.size!, 'y'), 'drop');
  serve(verbs!, Buffer.alloc(verbs!.size!, 'z'));
  const cache = newCache();
  const r = await eapgp(['data', 'fetch', 'sva'], { EAPGP_CACHE: cache, EAPGP_DATA_URL: base });
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`eapgp: download of ${fileUrl(base, sva!).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} failed after \\d+ of ${sva!.size} bytes \\(.*\\); nothing was saved for sva/eapig-faithfulness_gpt2\\.csv, run \`eapgp data fetch sva\` again to retry`));
  noStackTrace(r.stderr);
  assert.deepEqual(filesUnder(cache), []);
});

test('no server (connection refused) or a 404: a clear error saying what to fetch, nothing in the cache', async () => {
  const { server: s, base: dead } = await startServer();
  await stopServer(s);
  const cache = newCache();
  const r = await eapgp(['data', 'fetch', 'hypernymy'], { EAPGP_CACHE: cache, EAPGP_DATA_URL: dead });
  assert.equal(r.code, 1);
  const [f] = filesOfGroups(['hypernymy']);
  assert.ok(r.stderr.includes(`eapgp: cannot reach ${fileUrl(dead, f!)} (ECONNREFUSED): \`eapgp data fetch hypernymy\` downloads hypernymy/eapig-faithfulness_gpt2.csv`), r.stderr);
  assert.match(r.stderr, /set EAPGP_DATA_URL to a mirror .*or copy a data cache that has it to .*; nothing was saved/);
  noStackTrace(r.stderr);

  const missing = await eapgp(['data', 'fetch', 'gender-bias'], { EAPGP_CACHE: cache, EAPGP_DATA_URL: base });
  assert.equal(missing.code, 1);
  assert.ok(missing.stderr.includes(`HTTP 404 fetching ${fileUrl(base, filesOfGroups(['gender-bias'])[0]!)} (for gender-bias/eapig-faithfulness_gpt2.csv)`), missing.stderr);
  assert.deepEqual(filesUnder(cache), []);

  const bad = await eapgp(['data', 'fetch', 'everything'], { EAPGP_CACHE: cache });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /unknown data "everything"; choose among ioi, greater-than, sva, gender-bias, capital-country, hypernymy, reference, circuits, mib-ioi, mib-mcqa, mib-arithmetic-addition, mib-arithmetic-subtraction, mib-arc-easy, mib-arc-challenge, all/);
  const sub = await eapgp(['data', 'get'], { EAPGP_CACHE: cache });
  assert.equal(sub.code, 1);
  assert.match(sub.stderr, /data: unknown subcommand "get"; use fetch or list/);
});
