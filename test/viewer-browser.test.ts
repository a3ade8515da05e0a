/**
 * The viewer end to end in real Chromium (Debian's `chromium`, driven by playwright-core; Playwright never
 * downloads a browser here): `eapgp view` on a reproduce results directory, a lone graph of another shape, a
 * malformed and a missing file and a path file. What the page draws is counted in its SVG and compared with
 * the circuit src/graph selects in this process. Screenshots and exports go to test-artifacts/.
 * Without Chromium the tests skip, unless EAPGP_REQUIRE_BROWSER=1 (CI), where that is a failure.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { referenceCircuit } from '../src/circuits/index.js';
import { overlap } from '../src/circuits/overlap.js';
import type { Graph } from '../src/graph/graph.js';
import { readGraphJson } from '../src/graph/json.js';
import { edgeRank, greedy, prune, topn } from '../src/graph/selection.js';
import { drawnSources } from '../src/graph/style.js';
import { writeViewerFixtures, type ViewerFixtures } from './helpers/viewer-fixtures.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const SMALL = fileURLToPath(new URL('../../test/fixtures/graph/eapig-l2h2.json', import.meta.url));
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
/** EAPGP_CHROMIUM, when set, is the only browser tried. */
const CHROMIUM = (process.env['EAPGP_CHROMIUM'] ? [process.env['EAPGP_CHROMIUM']] : ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']).find((p) => existsSync(p));
const REQUIRED = process.env['EAPGP_REQUIRE_BROWSER'] === '1';
const SKIP = CHROMIUM ? false : 'Chromium not found (apt-get install chromium, or set EAPGP_CHROMIUM); set EAPGP_REQUIRE_BROWSER=1 to fail instead';
/** One budget slider step takes at most this long to show (ms). */
const WAIT = 20_000;

const tmp = mkdtempSync(join(tmpdir(), 'eapgp-browser-'));
let fx: ViewerFixtures;
let server: ChildProcess | null = null;
let browser: Browser | null = null;
let page: Page;
const pageErrors: string[] = [];

if (!CHROMIUM && REQUIRED) test('Chromium is installed (EAPGP_REQUIRE_BROWSER=1)', () => assert.fail('no Chromium found (/usr/bin/chromium or EAPGP_CHROMIUM); CI installs Debian\'s chromium package'));
if (!CHROMIUM && !REQUIRED) console.log(`viewer browser tests skipped: ${SKIP}`);

/** Starts `eapgp view` on a free port and returns its URL. */
function startServer(args: string[]): Promise<string> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [MAIN, 'view', ...args, '--port', '0'], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    server = child;
    let out = '', err = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) ok(m[1]!);
    });
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    child.on('exit', (code) => fail(new Error(`eapgp view exited with ${code}: ${err}`)));
  });
}

before(async () => {
  if (!CHROMIUM) return;
  fx = writeViewerFixtures(tmp);
  copyFileSync(SMALL, join(tmp, 'small.json'));
  mkdirSync(ARTIFACTS, { recursive: true });
  const url = await startServer(['run', 'small.json', 'broken.json', 'absent.json', 'path.json']);
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '--disable-dev-shm-usage'],
  });
  const ctx = await browser.newContext({ viewport: { width: 1600, height: 1000 }, acceptDownloads: true });
  page = await ctx.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()));
  await page.goto(url);
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
});

// ------------------------------------------------------------------ helpers

/** Waits until the page shows the latest settings. */
async function settled(): Promise<void> {
  await page.waitForSelector('body[data-busy=false]', { timeout: WAIT });
}

async function showGraph(slot: 'A' | 'B', label: string): Promise<void> {
  const select = slot === 'A' ? '#graph-a' : '#graph-b';
  const id = await page.$eval(select, (s, l) => [...(s as HTMLSelectElement).options].find((o) => o.text.startsWith(l))?.value ?? '', label);
  assert.notEqual(id, '', `no option ${label}`);
  await page.selectOption(select, id);
  await page.waitForSelector(`#panel-${slot}[data-graph="${id}"][data-state=ready], #panel-${slot}[data-state=error]`, { timeout: WAIT });
  await settled();
}

interface Expected {
  edges: number;
  nodes: number;
  /** Nodes drawn as in the circuit: flagged or touched by an edge, plus logits. */
  drawn: number;
  mask: Uint8Array;
  graph: Graph;
}

/** The circuit src/graph selects, computed here. */
function expected(g: Graph, mode: 'greedy' | 'topn', n: number, absolute: boolean, pruned: boolean): Expected {
  const c = g.clone();
  (mode === 'greedy' ? greedy : topn)(c, n, { absolute });
  if (pruned) prune(c);
  const edges = c.inGraphFlatIndices();
  return {
    edges: edges.length, nodes: c.countNodesInGraph(), drawn: drawnSources(c, edges).reduce((a, b) => a + b, 0) + 1, mask: Uint8Array.from(c.inGraph), graph: c,
  };
}

async function drawn(slot: 'A' | 'B'): Promise<{ edges: number; flats: number[]; nodes: number; dataEdges: number; halos: number; missing: number; refMissing: number; inRef: number }> {
  return page.$eval(`#panel-${slot} svg.circuit`, (svg) => ({
    edges: svg.querySelectorAll('path.edge').length,
    flats: [...svg.querySelectorAll('path.edge')].map((e) => Number(e.getAttribute('data-flat'))),
    nodes: svg.querySelectorAll('g.node.in-circuit').length,
    dataEdges: Number(svg.getAttribute('data-edges')),
    halos: svg.querySelectorAll('path.halo-unique').length,
    missing: svg.querySelectorAll('path.edge-missing').length,
    refMissing: svg.querySelectorAll('path.edge-ref-missing').length,
    inRef: svg.querySelectorAll('g.node.in-reference').length,
  }));
}

async function checkPanel(slot: 'A' | 'B', want: Expected, what: string): Promise<void> {
  const got = await drawn(slot);
  assert.equal(got.dataEdges, want.edges, `${what}: circuit edges`);
  assert.equal(got.edges, Math.min(want.edges, 2500), `${what}: drawn edges`);
  if (want.edges <= 2500) assert.deepEqual(got.flats.sort((x, y) => x - y), Array.from(want.graph.inGraphFlatIndices()), `${what}: the very same edges`);
  assert.equal(got.nodes, want.drawn, `${what}: drawn circuit nodes`);
  assert.equal(Number(await page.getAttribute(`#panel-${slot}`, 'data-nodes')), want.nodes, `${what}: circuit nodes`);
}

const budget = async (): Promise<number> => Number(await page.getAttribute('#budget-readout', 'data-n'));

// ------------------------------------------------------------------ tests

test('opens a results directory: both methods side by side, counts match src/graph, faithfulness and manual circuit', { skip: SKIP }, async () => {
  await page.waitForSelector('#panel-A[data-state=ready]', { timeout: WAIT });
  await page.waitForSelector('#panel-B[data-state=ready]', { timeout: WAIT });
  await settled();
  assert.equal(await budget(), 100);
  const a = expected(fx.graphs['eap-gp'], 'greedy', 100, true, true);
  const b = expected(fx.graphs['eap-ig'], 'greedy', 100, true, true);
  await checkPanel('A', a, 'A greedy 100');
  await checkPanel('B', b, 'B greedy 100');
  // shared / unique / missing edges
  let shared = 0, onlyA = 0, onlyB = 0;
  a.mask.forEach((x, i) => (x && b.mask[i] ? shared++ : x ? onlyA++ : b.mask[i] ? onlyB++ : 0));
  assert.ok(onlyA > 0 && onlyB > 0 && shared > 0, 'the fixture methods overlap partly');
  assert.equal(Number(await page.textContent('#cmp-shared')), shared);
  assert.equal(Number(await page.textContent('#cmp-only-a')), onlyA);
  assert.equal(Number(await page.textContent('#cmp-only-b')), onlyB);
  const da = await drawn('A');
  assert.equal(da.halos, onlyA, 'amber halos on the edges only A has');
  assert.equal(da.missing, onlyB, 'grey dashes for the edges only B has');
  // the manual IOI circuit, chosen from the task
  assert.equal(await page.inputValue('#reference'), 'ioi:acdc');
  const ref = referenceCircuit('ioi', a.graph);
  const ov = overlap(a.graph, a.mask, ref);
  const cells = await page.$$eval('#overlap-table tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].slice(1, 2).map((td) => Number(td.textContent))[0]!));
  const want = [ov.nodes.precision, ov.nodes.recall, ov.edges.precision, ov.edges.recall];
  cells.forEach((x, i) => assert.ok(Math.abs(x - want[i]!) < 5e-3, `overlap cell ${i}: ${x} vs ${want[i]}`));
  assert.equal(da.inRef, 26, 'the 26 IOI heads are ringed');
  let refMissed = 0;
  ref.edges.forEach((x, i) => (refMissed += x && !a.mask[i] ? 1 : 0));
  assert.equal(da.refMissing, refMissed);
  // faithfulness at the budget, from results.json (budget 100 is a sweep point)
  assert.match(await page.textContent('#faith-at') ?? '', /^F ≈ 0\.565$/);
  assert.equal(await page.$$eval('svg.faithfulness .series', (s) => s.length), 2);
  // each curve has a marker per distinct budget of the edge-count and the fraction sweeps
  const budgets = (JSON.parse(readFileSync(fx.results, 'utf8')) as { settings: { budgets: number[] } }).settings.budgets;
  const distinct = new Set([...budgets, 1900, 3249, 32491]).size;
  assert.equal(await page.$$eval('svg.faithfulness .method-eap-gp .marker', (m) => m.length), distinct);
  await page.screenshot({ path: join(ARTIFACTS, 'viewer-compare.png') });
});

test('the budget slider (moved with the mouse), top-n, no pruning and signed ranking select as src/graph does', { skip: SKIP }, async () => {
  const box = (await page.locator('#budget').boundingBox())!;
  await page.mouse.click(box.x + box.width * 0.6, box.y + box.height / 2);
  await settled();
  const n = await budget();
  assert.ok(n > 100 && n < 2500, `slider at 60% gives n = ${n}`);
  assert.equal(Number(await page.inputValue('#budget-number')), n);
  assert.equal(await page.getAttribute('#panel-A', 'data-n'), String(n));
  await checkPanel('A', expected(fx.graphs['eap-gp'], 'greedy', n, true, true), `A greedy ${n}`);
  await checkPanel('B', expected(fx.graphs['eap-ig'], 'greedy', n, true, true), `B greedy ${n}`);

  await page.click('label:has(input[value=topn])');
  await page.uncheck('#prune');
  await settled();
  const t = expected(fx.graphs['eap-gp'], 'topn', n, true, false);
  assert.equal(t.edges, n);
  await checkPanel('A', t, `A top-n ${n}`);
  await page.uncheck('#absolute');
  await settled();
  await checkPanel('A', expected(fx.graphs['eap-gp'], 'topn', n, false, false), `A signed top-n ${n}`);
  await page.check('#absolute');
  await page.check('#prune');
  await page.fill('#budget-number', '150');
  await page.press('#budget-number', 'Enter');
  await settled();
  assert.equal(await budget(), 150);
  await checkPanel('A', expected(fx.graphs['eap-gp'], 'topn', 150, true, true), 'A top-n 150 pruned');
  await page.click('label:has(input[value=greedy])');
  await settled();
  await checkPanel('A', expected(fx.graphs['eap-gp'], 'greedy', 150, true, true), 'A greedy 150');
});

test('details on hover and click: an edge\'s score and rank, a node\'s edges', { skip: SKIP }, async () => {
  const g = fx.graphs['eap-gp'];
  const hit = page.locator('#panel-A path.edge-hit').last(); // the strongest edge is drawn last
  const flat = Number(await hit.getAttribute('data-flat'));
  const [u, v] = [Math.floor(flat / g.nDst), flat % g.nDst];
  await hit.dispatchEvent('mouseover');
  await page.waitForFunction((name) => document.querySelector('#details-name')?.textContent === name, g.edgeName(u, v), { timeout: WAIT });
  assert.equal(await page.textContent('#details-rank'), `${edgeRank(g, u, v)} of ${g.nEdges.toLocaleString('en-US')}`);
  assert.equal(Number(await page.textContent('#details-score')), g.score(u, v));
  const node = page.locator('#panel-A g.node.in-circuit[data-name^="a"]').last();
  const name = (await node.getAttribute('data-name'))!;
  await node.click();
  await page.waitForFunction((n) => document.querySelector('#details-name')?.textContent === n, name, { timeout: WAIT });
  const parents = 3 * g.parentCount(g.dstIndex(`${name}<q>`));
  assert.match(await page.textContent('#details-body') ?? '', new RegExp(`incoming: \\d+ in the circuit of ${parents}`));
  const lit = await page.$$eval('#panel-A .edges .edge.lit', (e) => e.length);
  const touching = await page.$$eval('#panel-A .edges .edge', (es, u) => es.filter((e) => e.getAttribute('data-src') === u || e.getAttribute('data-dst') === u).length, String(g.srcIndex(name)));
  assert.ok(lit > 0 && lit === touching, `clicking a node lights its ${touching} edges (lit ${lit})`);
  await page.click('#panel-A svg.circuit text.title'); // the background: releases the pin
  assert.equal(await page.$$eval('#panel-A .edges .edge.lit', (e) => e.length), 0);
});

test('export: the SVG holds the drawn edges of both panels; the PNG is a PNG at twice the size', { skip: SKIP }, async () => {
  const a = await drawn('A'), b = await drawn('B');
  const [svgDl] = await Promise.all([page.waitForEvent('download'), page.click('#export-svg')]);
  assert.match(svgDl.suggestedFilename(), /^circuit-ioi-eap-gp-vs-ioi-eap-ig-greedy150\.svg$/);
  const svgFile = join(ARTIFACTS, 'viewer-export.svg');
  await svgDl.saveAs(svgFile);
  const text = readFileSync(svgFile, 'utf8');
  assert.ok(text.startsWith('<?xml') && text.includes('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.equal(text.match(/class="edge"/g)?.length, a.edges + b.edges);
  assert.equal(text.match(/class="node in-circuit/g)?.length, a.nodes + b.nodes);
  assert.ok(!text.includes('edge-hit'), 'no hover targets in the export');
  const [pngDl] = await Promise.all([page.waitForEvent('download'), page.click('#export-png')]);
  const pngFile = join(ARTIFACTS, 'viewer-export.png');
  await pngDl.saveAs(pngFile);
  const png = readFileSync(pngFile);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const width = Number(/<svg[^>]* width="(\d+)"/.exec(text.slice(text.indexOf('<svg')))![1]);
  assert.equal(png.readUInt32BE(16), 2 * width, 'PNG width = 2 × SVG width');
});

test('a lone graph of another shape: no faithfulness curve, no comparison, no manual circuit; its own flags', { skip: SKIP }, async () => {
  await showGraph('A', 'small.json');
  assert.match(await page.textContent('#compare-body') ?? '', /cannot compare a 2×2 graph with a 12×12 one/);
  await page.selectOption('#graph-b', '');
  await settled();
  assert.match(await page.textContent('#faith-none') ?? '', /No faithfulness curve: this graph was opened on its own/);
  await page.selectOption('#reference', 'ioi:acdc');
  await settled();
  assert.match(await page.textContent('#reference-error') ?? '', /reference circuit is for GPT-2 small \(12 layers × 12 heads\); this graph has 2 × 2/);
  await page.selectOption('#reference', '');
  await page.click('label:has(input[value=file])');
  await settled();
  const g = readGraphJson(SMALL).graph;
  prune(g);
  const edges = g.inGraphFlatIndices();
  await checkPanel('A', { edges: edges.length, nodes: g.countNodesInGraph(), drawn: drawnSources(g, edges).reduce((x, y) => x + y, 0) + 1, mask: Uint8Array.from(g.inGraph), graph: g }, "the file's own flags, pruned");
  await page.click('label:has(input[value=greedy])');
  await settled();
});

test('missing and malformed files give readable messages in the page', { skip: SKIP }, async () => {
  await showGraph('A', 'broken.json');
  assert.equal(await page.getAttribute('#panel-A', 'data-state'), 'error');
  assert.match(await page.textContent('#panel-A .panel-msg.error') ?? '', /Could not open broken\.json: broken\.json:1:\d+: not valid JSON \(unexpected end of file\)/);
  assert.match(await page.textContent('#file-list') ?? '', /file not found: absent\.json/);
  await showGraph('A', 'ioi · eap-gp');
  assert.equal(await page.getAttribute('#panel-A', 'data-state'), 'ready');
});

test('the saturation view plots both paths per example and marks saturated stretches', { skip: SKIP }, async () => {
  await page.click('#tab-path');
  await page.waitForSelector('#view-path[data-state=ready]', { timeout: WAIT });
  assert.equal(await page.$$eval('#path-charts svg.chart', (c) => c.length), 4);
  const markers = await page.$$eval('svg.path-metric .series.path-straight circle.marker', (c) => c.length);
  assert.equal(markers, 5, 'EAP-IG\'s 5 gradient points are marked');
  assert.equal(await page.$$eval('svg.path-metric .series.path-gradpath circle.marker', (c) => c.length), 5);
  const sat = await page.textContent('#path-saturation') ?? '';
  const [ig, gp] = [...sat.matchAll(/saturated over (\d+)% of the path/g)].map((m) => Number(m[1]));
  assert.ok(ig! > 40 && gp === 0, `the straight path saturates, GradPath does not: ${sat}`);
  assert.ok(await page.$$eval('svg.path-metric rect.band', (b) => b.length) >= 1);
  await page.screenshot({ path: join(ARTIFACTS, 'viewer-saturation.png') });
  await page.selectOption('#path-example', '-1');
  await page.waitForFunction(() => document.querySelector('#path-summary')?.textContent?.includes('Mean over 2 examples'), null, { timeout: WAIT });
  await page.click('#tab-circuit');
  assert.deepEqual(pageErrors, [], 'no script errors in the page');
});
