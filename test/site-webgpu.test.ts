/**
 * The discovery page's device choice (auto | cpu | gpu) in real Chromium (Debian's chromium via playwright-core).
 * Headless Chromium on a Linux machine without a GPU offers no WebGPU adapter ("No available adapters."); with
 * --enable-unsafe-webgpu it offers SwiftShader, its own Vulkan device on the CPU (a software adapter, shipped in
 * Debian's chromium-common, so CI has it too).
 * - No adapter: device gpu stops with a readable message; auto runs WebAssembly and says why.
 * - SwiftShader: auto still runs WebAssembly (it never takes a software adapter) and says so; device gpu runs
 *   EAP-IG on the built-in model in the page's GPU worker, within 1e-4 of max |score| of `eapgp attribute
 *   --device cpu`, and a second run downloads the same bytes. A page that is not cross-origin isolated cannot
 *   share the engine's memory with the GPU worker: device gpu says so. An error raised in the GPU worker (a
 *   shader that does not compile) reaches the engine's thread, blocked in Atomics.wait, with its text.
 * Without Chromium the tests skip, unless EAPGP_REQUIRE_BROWSER=1. Without a SwiftShader adapter the GPU test
 * skips, unless EAPGP_REQUIRE_GPU=1 (CI), where it fails with what Chromium reported.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { withGeneratedCsv } from '../src/tasks/generated.js';
import { startSite, type SiteServer } from '../src/viewer-server/site.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHROMIUM = (process.env['EAPGP_CHROMIUM'] ? [process.env['EAPGP_CHROMIUM']] : ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']).find((p) => existsSync(p));
const SKIP = CHROMIUM ? false : 'Chromium not found (apt-get install chromium, or set EAPGP_CHROMIUM); set EAPGP_REQUIRE_BROWSER=1 to fail instead';
const RUN = 180_000;
/** Chromium's software WebGPU adapter (SwiftShader) on a machine without a GPU. */
const WEBGPU_FLAGS = ['--enable-unsafe-webgpu'];

const tmp = mkdtempSync(join(tmpdir(), 'eapgp-site-gpu-'));
let site: SiteServer | null = null;
const browsers: Browser[] = [];

if (!CHROMIUM && process.env['EAPGP_REQUIRE_BROWSER'] === '1') test('Chromium is installed (EAPGP_REQUIRE_BROWSER=1)', () => assert.fail('no Chromium found (/usr/bin/chromium or EAPGP_CHROMIUM)'));

before(async () => {
  if (CHROMIUM) site = await startSite(0);
});

after(async () => {
  for (const b of browsers) await b.close();
  await site?.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function launch(args: string[]): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const b = await chromium.launch({ executablePath: CHROMIUM, args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '--disable-dev-shm-usage', ...args] });
  browsers.push(b);
  return b;
}

async function open(b: Browser, url: string): Promise<Page> {
  const page = await (await b.newContext({ acceptDownloads: true })).newPage();
  await page.goto(url);
  await page.waitForSelector('body[data-state=idle]', { timeout: 60_000 });
  return page;
}

/** Integration steps of the runs here: fewer than the default 5, since SwiftShader is slow. */
const STEPS = '2';

/** EAP-IG (STEPS steps) on `n` IOI prompts of the built-in model on `device`, without the plots; the error text or null. */
async function discover(page: Page, device: string, n = 2): Promise<string | null> {
  await page.check('input[name=model][value=builtin]');
  await page.selectOption('#task', 'ioi');
  await page.fill('#n', String(n));
  await page.fill('#seed', '1');
  await page.fill('#batch', '3');
  await page.selectOption('#method', 'eap-ig');
  await page.fill('#method-options input[data-flag=steps]', STEPS);
  await page.selectOption('#device', device);
  await page.uncheck('#faith');
  await page.fill('#paths', '0');
  await page.click('#run');
  await page.waitForSelector('body[data-state=done], body[data-state=error]', { timeout: RUN });
  return (await page.getAttribute('body', 'data-state')) === 'error' ? await page.textContent('#error') : null;
}

/** The device line after a run: which device ran the kernels, and its text. */
async function deviceLine(page: Page): Promise<[string | null, string]> {
  return [await page.getAttribute('#device-line', 'data-device'), (await page.textContent('#device-line'))!];
}

async function downloaded(page: Page): Promise<Buffer> {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#download-json')]);
  return readFileSync((await dl.path())!);
}

interface GraphJson { cfg: unknown; edges: Record<string, { score: number }>; meta: Record<string, unknown> }

test('no WebGPU adapter: device gpu stops with a readable message, auto runs WebAssembly and says why', { skip: SKIP, timeout: 2 * RUN }, async () => {
  const page = await open(await launch([]), site!.url);
  assert.equal(await page.evaluate(async () => (await navigator.gpu.requestAdapter()) === null), true, 'Chromium without flags offers no adapter here');
  assert.match((await discover(page, 'gpu'))!, /^device gpu: no WebGPU: the browser offers no WebGPU adapter \(.*--enable-unsafe-webgpu.*\)\. Choose the device auto or cpu/);
  assert.equal(await page.getAttribute('#device-line', 'data-device'), null);
  assert.equal(await discover(page, 'auto'), null);
  const [device, line] = await deviceLine(page);
  assert.equal(device, 'cpu');
  assert.match(line, /^Ran on WebAssembly, \d+ threads?: no GPU: the browser offers no WebGPU adapter/);
  assert.doesNotMatch((await page.textContent('#result-info'))!, /webgpu/);
});

let swift: Promise<{ b: Browser; page: Page; report: string | null }> | undefined;

/** Chromium with WEBGPU_FLAGS and the site open in it; `report` says what Chromium gave when it has no adapter. */
function swiftShader(): Promise<{ b: Browser; page: Page; report: string | null }> {
  return (swift ??= (async () => {
    const b = await launch(WEBGPU_FLAGS);
    const page = await open(b, site!.url);
    const messages: string[] = [];
    page.on('console', (m) => messages.push(m.text()));
    const adapter = await page.evaluate(async () => Boolean(await navigator.gpu?.requestAdapter()));
    const report = adapter ? null : `Chromium ${b.version()} with ${WEBGPU_FLAGS.join(' ')} gives no WebGPU adapter (console: ${messages.join(' | ') || 'nothing'})`;
    return { b, page, report };
  })());
}

/** Skips the test (or fails it with EAPGP_REQUIRE_GPU=1) when Chromium gave no adapter; true to go on. */
function haveAdapter(t: TestContext, report: string | null): boolean {
  if (!report) return true;
  if (process.env['EAPGP_REQUIRE_GPU'] === '1') assert.fail(`EAPGP_REQUIRE_GPU=1: ${report}`);
  t.skip(report);
  return false;
}

test('SwiftShader: auto keeps WebAssembly; device gpu runs EAP-IG in the page within 1e-4 of max |score| of the CLI on the CPU, the same bytes twice', { skip: SKIP, timeout: 4 * RUN }, async (t) => {
  const { b, page, report } = await swiftShader();
  if (!haveAdapter(t, report)) return;

  assert.equal(await discover(page, 'auto'), null);
  const [autoDevice, autoLine] = await deviceLine(page);
  assert.equal(autoDevice, 'cpu');
  assert.match(autoLine, /^Ran on WebAssembly, \d+ threads?: no GPU: .+ \(software\) is a software adapter \(slower than the CPU path\)/);

  assert.equal(await discover(page, 'gpu'), null);
  const [device, line] = await deviceLine(page);
  assert.equal(device, 'gpu');
  assert.match(line, /^Ran on WebGPU on .+ \(software\) \(device gpu\)$/);
  assert.match((await page.textContent('#result-info'))!, / · webgpu \(/);
  const first = await downloaded(page);
  // the CLI on the same prompts, on the CPU (WebAssembly kernels, as the page's other tests compare with)
  const want = withGeneratedCsv('ioi', { n: 2, seed: 1 }, (csv) => {
    const out = join(tmp, 'cli.json');
    const p = spawnSync(process.execPath, [MAIN, 'attribute', '--task', 'ioi', '--data', csv, '--batch-size', '3', '--method', 'eap-ig', '--steps', STEPS, '--gemm', 'wasm', '--device', 'cpu', '--quiet', '--out', out], { encoding: 'utf8' });
    assert.equal(p.status, 0, p.stderr);
    return JSON.parse(readFileSync(out, 'utf8')) as GraphJson;
  });
  const got = JSON.parse(first.toString('utf8')) as GraphJson;
  assert.deepEqual(got.cfg, want.cfg);
  assert.deepEqual(Object.keys(got.edges), Object.keys(want.edges));
  // GPU GEMMs and reductions sum in other orders than the WebAssembly kernels; the repository's CPU-vs-GPU bound
  // for attribution scores is 1e-4 of max |score| (about 1e-7 of it when this was written)
  const max = Math.max(...Object.values(want.edges).map((e) => Math.abs(e.score)));
  const worst = Math.max(...Object.entries(want.edges).map(([k, e]) => Math.abs(got.edges[k]!.score - e.score)));
  assert.ok(max > 0 && worst <= 1e-4 * max, `largest difference ${worst} of max |score| ${max}`);
  t.diagnostic(`page on the GPU vs the CLI on the CPU: largest difference ${worst.toExponential(2)} of max |score| ${max.toPrecision(4)}`);
  const { model_dir: _a, model: _b, data: _c, ...gotMeta } = got.meta;
  const { model_dir: _d, model: _e, data: _f, ...wantMeta } = want.meta;
  assert.deepEqual(gotMeta, wantMeta);

  assert.equal(await discover(page, 'gpu'), null);
  assert.ok((await downloaded(page)).equals(first), 'a second run on the GPU downloads the same bytes');

  // not cross-origin isolated (no headers, no service worker): no shared memory for the GPU worker
  const plain = await startSite(0, undefined, { isolate: false });
  try {
    const p2 = await open(b, `${plain.url}?sw=0`);
    assert.match((await discover(p2, 'gpu'))!, /^device gpu: no WebGPU: the page is not cross-origin isolated/);
  } finally {
    await plain.close();
  }
});

test('an error raised in the page\'s GPU worker reaches the blocked engine thread through the shared reply buffer', { skip: SKIP, timeout: RUN }, async (t) => {
  const { b, report } = await swiftShader();
  if (!haveAdapter(t, report)) return;
  // test/helpers/gpu-page-worker.ts and the GPU worker, bundled with the browser's platform as the site's build does
  const dir = join(tmp, 'harness');
  await esbuild.build({
    entryPoints: { harness: join(ROOT, 'test', 'helpers', 'gpu-page-worker.ts'), 'gpu-worker': join(ROOT, 'src', 'engine', 'webgpu', 'gpu-worker.ts') },
    outdir: dir, bundle: true, format: 'esm', platform: 'browser', target: 'es2022', logLevel: 'warning',
    plugins: [{
      name: 'webgpu-platform',
      setup: (build) => build.onResolve({ filter: /^\.\/platform\.js$/ }, () => ({ path: join(ROOT, 'src', 'engine', 'webgpu', 'platform-browser.ts') })),
    }],
  });
  writeFileSync(join(dir, 'index.html'), '<script type="module">const w = new Worker("harness.js", { type: "module" }); w.onmessage = (e) => (window.result = e.data); w.postMessage(0);</script>');
  const server = await serveIsolated(dir);
  try {
    const page = await b.newPage();
    await page.goto(server.url);
    const result = (await (await page.waitForFunction(() => (window as { result?: unknown }).result, undefined, { timeout: RUN })).jsonValue()) as { error?: string; filled?: number[]; failure?: string };
    assert.equal(result.error, undefined);
    assert.deepEqual(result.filled, Array(16).fill(2.5));
    assert.match(result.failure!, /^WebGPU: WGSL shader broken does not compile: error at line 1:\d+: /);
  } finally {
    await server.close();
  }
});

/** A static server for `dir` with the cross-origin isolation headers. */
async function serveIsolated(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const file = join(dir, (req.url ?? '/').split('?')[0] === '/' ? 'index.html' : (req.url ?? '').slice(1));
    const type = file.endsWith('.html') ? 'text/html' : 'text/javascript';
    if (!existsSync(file)) return void res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': type, 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' }).end(readFileSync(file));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const a = server.address();
  return { url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/`, close: () => new Promise((ok) => server.close(() => ok())) };
}
