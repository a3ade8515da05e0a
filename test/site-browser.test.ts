/**
 * The discovery site (npm run build:site) end to end in real Chromium (Debian's chromium via playwright-core).
 * The page loads with the registry's methods. EAP-IG and EAP-GP on the built-in model give the graph JSON that
 * `eapgp attribute` writes for the same prompts (within 1e-6 relative; in fact bit-identical) and the
 * faithfulness curve that `eapgp evaluate --fractions` measures. A sharded random model, served with the hub's URL
 * layout and headers, is downloaded, cached, and loaded again without a request; so is a Llama-family one. A 404,
 * an unsupported architecture, a too large config and a dead endpoint give readable errors. Cancel, typed prompts
 * and a host without the isolation headers (one thread; or threads through the service worker) are covered. With
 * the server stopped, the page still loads and runs the built-in model from its caches.
 * Without Chromium the tests skip, unless EAPGP_REQUIRE_BROWSER=1 (CI), where that is a failure.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { methodNames } from '../src/attribution/registry.js';
import { makeRandomModel } from '../src/models/make-model.js';
import { openSafetensors, writeSafetensors } from '../src/models/safetensors.js';
import { withGeneratedCsv } from '../src/tasks/generated.js';
import { startSite, type SiteServer } from '../src/viewer-server/site.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const CHROMIUM = (process.env['EAPGP_CHROMIUM'] ? [process.env['EAPGP_CHROMIUM']] : ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']).find((p) => existsSync(p));
const REQUIRED = process.env['EAPGP_REQUIRE_BROWSER'] === '1';
const SKIP = CHROMIUM ? false : 'Chromium not found (apt-get install chromium, or set EAPGP_CHROMIUM); set EAPGP_REQUIRE_BROWSER=1 to fail instead';
const RUN = 180_000;

const tmp = mkdtempSync(join(tmpdir(), 'eapgp-site-'));
let tiny = '';
let llama = '';
let site: SiteServer | null = null;
let hub: Server | null = null;
let hubUrl = '';
/** Requests the hub server answered, by path. */
const hubRequests: string[] = [];
let browser: Browser | null = null;
let ctx: BrowserContext;
let page: Page;

if (!CHROMIUM && REQUIRED) test('Chromium is installed (EAPGP_REQUIRE_BROWSER=1)', () => assert.fail('no Chromium found (/usr/bin/chromium or EAPGP_CHROMIUM)'));

/** A server with the hub's layout: /{owner}/{name}/resolve/{rev}/{file}, with its headers (ETag, x-repo-commit, CORS). */
async function startHub(repos: Record<string, string>): Promise<void> {
  hub = createServer((req, res) => {
    hubRequests.push(req.url ?? '');
    const cors = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Expose-Headers': 'ETag, x-repo-commit, Content-Length', 'Cross-Origin-Resource-Policy': 'cross-origin' };
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(req.url ?? '');
    const dir = m ? repos[m[1]!] : undefined;
    const file = dir && join(dir, decodeURIComponent(m![3]!));
    if (!file || !existsSync(file)) return void res.writeHead(404, { ...cors, 'x-error-code': 'EntryNotFound' }).end('Entry not found');
    const body = readFileSync(file);
    res.writeHead(200, { ...cors, 'Content-Type': 'application/octet-stream', 'Content-Length': body.length, ETag: `"${body.length}-${m![3]}"`, 'x-repo-commit': '0123456789abcdef0123456789abcdef01234567' }).end(body);
  });
  await new Promise<void>((ok) => hub!.listen(0, '127.0.0.1', ok));
  const a = hub.address();
  hubUrl = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
}

/** Splits dir/model.safetensors into two shards with a model.safetensors.index.json, as the hub stores large models. */
function shard(dir: string): void {
  const file = join(dir, 'model.safetensors');
  const st = openSafetensors(file);
  const names = [...st.names];
  const map: Record<string, string> = {};
  const halves = [names.slice(0, names.length >> 1), names.slice(names.length >> 1)];
  halves.forEach((part, i) => {
    const shardName = `model-0000${i + 1}-of-00002.safetensors`;
    writeSafetensors(join(dir, shardName), Object.fromEntries(part.map((n) => [n, { dtype: 'F32' as const, shape: st.info(n).shape, data: st.readF32(n) }])));
    for (const n of part) map[n] = shardName;
  });
  st.close();
  rmSync(file);
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: map }));
}

/** `eapgp attribute` on `csv` with the page's settings (batch 3, the wasm GEMM), its graph JSON parsed. */
function cliGraph(method: string, csv: string, model?: string): GraphJson {
  const out = join(tmp, `cli-${method}.json`);
  const p = spawnSync(process.execPath, [MAIN, 'attribute', ...(model ? ['--model', model] : []), '--task', 'ioi', '--data', csv, '--batch-size', '3', '--method', method, '--gemm', 'wasm', '--quiet', '--out', out], { encoding: 'utf8' });
  assert.equal(p.status, 0, p.stderr);
  return JSON.parse(readFileSync(out, 'utf8')) as GraphJson;
}

interface Sweep { baseline: number; corrupted: number; cpr: number; cmd: number; points: { requested: number; edges: number; faithfulness: number }[] }

/** `eapgp evaluate --fractions` of the CLI's graph for `method` on `csv` (the sweep the page draws). */
function cliSweep(method: string, csv: string): Sweep {
  const p = spawnSync(process.execPath, [MAIN, 'evaluate', '--task', 'ioi', '--data', csv, '--batch-size', '3', '--graph', join(tmp, `cli-${method}.json`), '--fractions', '--gemm', 'wasm', '--json'], { encoding: 'utf8' });
  assert.equal(p.status, 0, p.stderr);
  return JSON.parse(p.stdout) as Sweep;
}

/**
 * Same cfg and edges, every score within 1e-6 relative. The page and the CLI run the same code on the same wasm
 * kernels (the CLI with --gemm wasm; BLAS would round differently), and the kernels' results do not depend on the
 * thread count, so the scores are in fact bit-identical (largest difference 0 when this was written).
 */
function assertSameScores(got: GraphJson, want: GraphJson): { worst: number; nonzero: number } {
  assert.deepEqual(got.cfg, want.cfg);
  assert.deepEqual(Object.keys(got.edges), Object.keys(want.edges));
  let worst = 0, nonzero = 0;
  for (const [k, e] of Object.entries(want.edges)) {
    const a = got.edges[k]!.score, b = e.score;
    if (b !== 0) nonzero++;
    worst = Math.max(worst, Math.abs(a - b) / Math.max(Math.abs(b), 1e-30));
  }
  assert.ok(worst <= 1e-6, `largest relative difference ${worst}`);
  return { worst, nonzero };
}

before(async () => {
  if (!CHROMIUM) return;
  tiny = makeRandomModel({ layers: 2, heads: 2, dModel: 32, seed: 3, gpt2TokenizerFiles: true }, join(tmp, 'tiny')).dir;
  shard(tiny);
  llama = makeRandomModel({ arch: 'llama', layers: 2, heads: 2, dModel: 32, vocab: 50257, seed: 4, gpt2TokenizerFiles: true }, join(tmp, 'llama')).dir;
  const bert = join(tmp, 'bert');
  const big = join(tmp, 'big');
  for (const [d, cfg] of [[bert, { architectures: ['BertModel'], model_type: 'bert', hidden_size: 64 }], [big, { architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', n_embd: 8192, n_layer: 48, n_head: 64, vocab_size: 50257, n_positions: 1024 }]] as const) {
    spawnSync('mkdir', ['-p', d]);
    writeFileSync(join(d, 'config.json'), JSON.stringify(cfg));
  }
  await startHub({ 'test/tiny': tiny, 'test/llama': llama, 'test/bert': bert, 'test/big': big });
  site = await startSite(0);
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '--disable-dev-shm-usage'] });
  ctx = await browser.newContext({ acceptDownloads: true });
  page = await ctx.newPage();
  await page.goto(`${site.url}?endpoint=${encodeURIComponent(hubUrl)}`);
  await page.waitForSelector('body[data-state=idle]', { timeout: 60_000 });
});

after(async () => {
  await browser?.close();
  await site?.close();
  await new Promise<void>((ok) => (hub ? hub.close(() => ok()) : ok()));
  rmSync(tmp, { recursive: true, force: true });
});

interface GraphJson { cfg: unknown; nodes: Record<string, unknown>; edges: Record<string, { score: number }>; meta: Record<string, unknown> }
interface Run { method: string; model?: string; n?: number }

/** Fills the form, runs, and waits for the result or the error; returns the error text or null. */
async function discover(r: Run): Promise<string | null> {
  await page.check(`input[name=model][value=${r.model ? 'hub' : 'builtin'}]`);
  if (r.model) await page.fill('#hub-name', r.model);
  await page.selectOption('#task', 'ioi');
  await page.fill('#n', String(r.n ?? 6));
  await page.fill('#seed', '1');
  await page.fill('#batch', '3');
  await page.selectOption('#method', r.method);
  await page.click('#run');
  await page.waitForSelector('body[data-state=done], body[data-state=error]', { timeout: RUN });
  return (await page.getAttribute('body', 'data-state')) === 'error' ? await page.textContent('#error') : null;
}

/** The graph JSON the page offers for download. */
async function downloadedJson(): Promise<GraphJson> {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#download-json')]);
  return JSON.parse(readFileSync((await dl.path())!, 'utf8'));
}

test('the page loads and offers every method of the registry', { skip: SKIP }, async () => {
  assert.deepEqual(await page.$$eval('#method option', (os) => os.map((o) => (o as HTMLOptionElement).value)), methodNames());
  assert.deepEqual(await page.$$eval('#task option', (os) => os.map((o) => (o as HTMLOptionElement).value)), ['ioi', 'greater-than', 'sva', 'gender-bias', 'capital-country', 'hypernymy', 'custom']);
  assert.match((await page.textContent('#status'))!, /cross-origin isolated/);
});

for (const method of ['eap-ig', 'eap-gp']) {
  test(`${method} on the built-in model in the page equals eapgp attribute, and its faithfulness curve eapgp evaluate --fractions`, { skip: SKIP, timeout: 2 * RUN }, async () => {
    assert.equal(await discover({ method }), null);
    const got = await downloadedJson();
    // the CLI on the same generated rows
    const [want, wantSweep] = withGeneratedCsv('ioi', { n: 6, seed: 1 }, (csv) => [cliGraph(method, csv), cliSweep(method, csv)] as const);
    const { nonzero } = assertSameScores(got, want);
    assert.ok(nonzero > 100, `${nonzero} nonzero scores`);
    // the faithfulness curve is evaluate's sweep over the MIB fractions
    const sweep = JSON.parse((await page.getAttribute('#faith-body', 'data-sweep'))!) as Sweep;
    assert.deepEqual(sweep.points.map((p) => [p.requested, p.edges]), wantSweep.points.map((p) => [p.requested, p.edges]));
    const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));
    for (const [i, p] of sweep.points.entries()) assert.ok(close(p.faithfulness, wantSweep.points[i]!.faithfulness), `F at ${p.requested} edges: ${p.faithfulness} vs ${wantSweep.points[i]!.faithfulness}`);
    assert.ok(close(sweep.baseline, wantSweep.baseline) && close(sweep.corrupted, wantSweep.corrupted) && close(sweep.cpr, wantSweep.cpr) && close(sweep.cmd, wantSweep.cmd));
    assert.ok(sweep.points.at(-1)!.faithfulness > 0.99, 'all edges give F ≈ 1');
    // the saturation view draws the traced examples
    assert.ok((await page.$$('#path-charts svg')).length >= 3);
    // the meta differs only where the run's I/O does: where the model and the data were read from
    const { model_dir: _a, model: _b, data: _c, ...gotMeta } = got.meta;
    const { model_dir: _d, model: _e, data: _f, ...wantMeta } = want.meta;
    assert.deepEqual(gotMeta, wantMeta);
    assert.equal(await page.getAttribute('#panel-A', 'data-state'), 'ready');
    const [svg] = await Promise.all([page.waitForEvent('download'), page.click('#download-svg')]);
    const text = readFileSync((await svg.path())!, 'utf8');
    assert.ok((text.match(/class="edge/g) ?? []).length > 0, 'the SVG draws edges');
  });
}

test('a hub model is downloaded once, cached, and loaded again without a request', { skip: SKIP, timeout: 3 * RUN }, async () => {
  hubRequests.length = 0;
  assert.equal(await discover({ method: 'eap-ig', model: 'test/tiny', n: 2 }), null);
  assert.ok(hubRequests.includes('/test/tiny/resolve/main/config.json'));
  for (const f of ['model.safetensors.index.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']) {
    assert.ok(hubRequests.includes(`/test/tiny/resolve/main/${f}`), f);
  }
  assert.ok(Number(await page.getAttribute('#result-info', 'data-downloaded')) > 0);
  // the sharded random model's scores are the CLI's on its directory
  assertSameScores(await downloadedJson(), withGeneratedCsv('ioi', { n: 2, seed: 1 }, (csv) => cliGraph('eap-ig', csv, tiny)));
  const first = hubRequests.length;
  await page.reload();
  await page.waitForSelector('body[data-state=idle]', { timeout: 60_000 });
  assert.equal(await discover({ method: 'eap-ig', model: 'test/tiny', n: 2 }), null);
  assert.equal(hubRequests.length, first, `requests on the second visit: ${hubRequests.slice(first).join(', ')}`);
  assert.equal(await page.getAttribute('#result-info', 'data-downloaded'), '0');
});

test('a hub model of another family (Llama) runs in the page with the CLI\'s scores', { skip: SKIP, timeout: RUN }, async () => {
  assert.equal(await discover({ method: 'eap-ig', model: 'test/llama@main', n: 2 }), null);
  const got = await downloadedJson();
  assert.equal(got.meta['family'], 'llama');
  assertSameScores(got, withGeneratedCsv('ioi', { n: 2, seed: 1 }, (csv) => cliGraph('eap-ig', csv, llama)));
});

test('readable errors: 404, unsupported architecture, too large for the page, network failure', { skip: SKIP, timeout: RUN }, async () => {
  assert.match((await discover({ method: 'eap-ig', model: 'test/absent' }))!, /config\.json: not found \(404\); check the model name/);
  assert.match((await discover({ method: 'eap-ig', model: 'test/bert' }))!, /unsupported architecture \["BertModel"\]; the page runs GPT2LMHeadModel/);
  assert.match((await discover({ method: 'eap-ig', model: 'test/big' }))!, /too large for the page: its weights need about \d+\.\d+ GiB as float32.*at most 2\.00 GiB/);
  // an endpoint where nothing listens
  const url = page.url();
  await page.goto(`${site!.url}?endpoint=${encodeURIComponent('http://127.0.0.1:9')}`);
  await page.waitForSelector('body[data-state=idle]', { timeout: 60_000 });
  assert.match((await discover({ method: 'eap-ig', model: 'test/tiny' }))!, /^network failure while fetching http:\/\/127\.0\.0\.1:9\/test\/tiny\/resolve\/main\/config\.json/);
  await page.goto(url);
  await page.waitForSelector('body[data-state=idle]', { timeout: 60_000 });
});

test('Cancel ends a run (its worker and kernel threads) and the next run works', { skip: SKIP, timeout: 2 * RUN }, async () => {
  await page.check('input[name=model][value=builtin]');
  await page.selectOption('#task', 'ioi');
  await page.fill('#n', '200');
  await page.selectOption('#method', 'eap-gp');
  await page.click('#run');
  await page.waitForFunction(() => /attribution/.test(document.querySelector('#progress-text')?.textContent ?? ''), undefined, { timeout: RUN });
  await page.click('#cancel');
  assert.equal(await page.textContent('#error'), 'Cancelled.');
  await page.waitForSelector('body[data-state=idle]', { timeout: 60_000 });
  assert.equal(await discover({ method: 'eap-ig', n: 2 }), null);
});

test('typed prompts: the custom task with one-token answers, and a readable error for a longer one', { skip: SKIP, timeout: RUN }, async () => {
  await page.check('input[name=model][value=builtin]');
  await page.selectOption('#task', 'custom');
  await page.fill('#rows', 'When Mary and John went to the store, John gave a drink to | When Mary and John went to the store, Mary gave a drink to |  Mary |  John');
  await page.selectOption('#method', 'eap-ig');
  await page.click('#run');
  await page.waitForSelector('body[data-state=done], body[data-state=error]', { timeout: RUN });
  assert.equal(await page.getAttribute('body', 'data-state'), 'done', String(await page.textContent('#error')));
  const g = await downloadedJson();
  assert.equal(g.meta['task'], 'custom');
  assert.equal(g.meta['examples'], 1);
  await page.fill('#rows', 'When Mary and John went to the store, John gave a drink to | When Mary and John went to the store, Mary gave a drink to |  Maryanne-Louise |  John');
  await page.click('#run');
  await page.waitForSelector('body[data-state=error]', { timeout: RUN });
  assert.match((await page.textContent('#error'))!, /line 1, answer " Maryanne-Louise": must be one token of the model's tokenizer, but is \d+/);
});

test('a host without the isolation headers: one thread on a non-shared memory with the same scores, or threads through the service worker', { skip: SKIP, timeout: 2 * RUN }, async () => {
  const plain = await startSite(0, undefined, { isolate: false });
  const p2 = await ctx.newPage();
  try {
    await p2.goto(`${plain.url}?sw=0`);
    await p2.waitForSelector('body[data-state=idle]', { timeout: 60_000 });
    assert.equal(await p2.textContent('#status'), '1 thread (the page is not cross-origin isolated)');
    const saved = page;
    page = p2;
    try {
      assert.equal(await discover({ method: 'eap-ig', n: 6 }), null);
      assert.match((await page.textContent('#result-info'))!, /x1 thread/);
      assertSameScores(await downloadedJson(), withGeneratedCsv('ioi', { n: 6, seed: 1 }, (csv) => cliGraph('eap-ig', csv)));
    } finally {
      page = saved;
    }
    // with the service worker (a static host that cannot send headers): it adds them, the page reloads once, threads run
    await p2.goto(plain.url);
    await p2.waitForFunction(() => /threads? \(cross-origin isolated\)/.test(document.querySelector('#status')?.textContent ?? ''), undefined, { timeout: 60_000 });
    assert.equal(await p2.evaluate(() => crossOriginIsolated), true);
    assert.match((await p2.textContent('#status'))!, /^\d+ threads? \(cross-origin isolated\)$/);
    const saved2 = page;
    page = p2;
    try {
      assert.equal(await discover({ method: 'eap-ig', n: 2 }), null);
    } finally {
      page = saved2;
    }
  } finally {
    await p2.close();
    await plain.close();
  }
});

test('offline after the first visit: the page loads and runs the built-in model from its caches', { skip: SKIP, timeout: 2 * RUN }, async () => {
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
  const url = page.url();
  await site!.close();
  site = null;
  await page.goto(url);
  await page.waitForSelector('body[data-state=idle]', { timeout: 60_000 });
  assert.equal(await discover({ method: 'eap-ig', n: 2 }), null);
  assert.equal(await page.getAttribute('#result-info', 'data-downloaded'), '0');
});
