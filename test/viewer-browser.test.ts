/**
 * The viewer end to end in real Chromium (Debian's `chromium`, driven by playwright-core; Playwright never
 * downloads a browser here): `eapgp view` on a reproduce results directory, a lone graph of another shape, a
 * small graph whose file flags a circuit, a malformed and a missing file and a path file. What the page draws
 * is counted in its SVG and compared with the circuit src/graph selects in this process; its layout (panel
 * widths, chart labels) is measured in the page at several window sizes. Screenshots and exports go to
 * test-artifacts/.
 * Without Chromium the tests skip, unless EAPGP_REQUIRE_BROWSER=1 (CI), where that is a failure.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startViewServer } from './helpers/view-server.js';
import type { Browser, Page } from 'playwright-core';
import { referenceCircuit } from '../src/circuits/index.js';
import { overlap } from '../src/circuits/overlap.js';
import { Graph } from '../src/graph/graph.js';
import { readGraphJson, writeGraphJson } from '../src/graph/json.js';
import { edgeRank, greedy, prune, topn } from '../src/graph/selection.js';
import { drawnSources } from '../src/graph/style.js';
import { rng, writeViewerFixtures, type ViewerFixtures } from './helpers/viewer-fixtures.js';

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
/** Other families' shapes: GPT-NeoX's parallel blocks (and a sequential graph of its size), 32 heads a layer. */
const families: Record<'neox' | 'seq' | 'wide', Graph> = { neox: new Graph(3, 8, true), seq: new Graph(3, 8), wide: new Graph(2, 32) };
let server: ChildProcess | null = null;
let browser: Browser | null = null;
let page: Page;
const pageErrors: string[] = [];

if (!CHROMIUM && REQUIRED) test('Chromium is installed (EAPGP_REQUIRE_BROWSER=1)', () => assert.fail('no Chromium found (/usr/bin/chromium or EAPGP_CHROMIUM); CI installs Debian\'s chromium package'));
if (!CHROMIUM && !REQUIRED) console.log(`viewer browser tests skipped: ${SKIP}`);

function startServer(args: string[]): Promise<string> {
  const started = startViewServer(tmp, args);
  server = started.child;
  return started.url;
}

before(async () => {
  if (!CHROMIUM) return;
  fx = writeViewerFixtures(tmp);
  copyFileSync(SMALL, join(tmp, 'small.json'));
  for (const [name, g] of Object.entries(families)) {
    const r = rng(name.length);
    g.forEachEdge((u, v) => g.setScore(u, v, (r() - 0.4) * Math.exp(-4 * r())));
    writeGraphJson(join(tmp, `${name}.json`), g, { dModel: 64, meta: { method: 'eap-gp', task: 'ioi' } });
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  const url = await startServer(['run', 'small.json', 'flagged.json', 'broken.json', 'absent.json', 'path.json', 'neox.json', 'seq.json', 'wide.json']);
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

/** Types `value` into the budget box and presses Enter. */
async function typeBudget(value: string): Promise<void> {
  await page.fill('#budget-number', value);
  await page.press('#budget-number', 'Enter');
  await settled();
}

/** True when `text` is `x` to 4 significant digits, as the page shows scores: 0.5654, 3.800, 12.35, 1.235e-5. */
function fourDigits(text: string, x: number): boolean {
  if (x === 0) return text === '0';
  const m = /^-?(\d+)(?:\.(\d+))?(?:e[+-]?\d+)?$/.exec(text);
  return m !== null && (m[1]! + (m[2] ?? '')).replace(/^0+/, '').length === 4 && Number(text) === Number(x.toPrecision(4));
}

/** Resizes the window and waits until the pictures are drawn again at their new widths. */
async function resize(width: number, height = 1000): Promise<void> {
  await page.setViewportSize({ width, height });
  await page.waitForFunction(() => {
    // each picture is drawn as wide as its box (or the least width it is drawn at: 300 px panels, 260 px charts)
    const drawnAt = (box: Element | null, svg: Element | null | undefined, least: number): boolean => !svg || !box || (box as HTMLElement).offsetParent === null ||
      Math.abs(Number(svg.getAttribute('width')) - Math.max(least, Math.floor((box as HTMLElement).clientWidth))) <= 1;
    const faith = document.querySelector('#faith-body');
    return [...document.querySelectorAll('.panel:not([hidden]) .panel-body')].every((b) => drawnAt(b, b.querySelector('svg.circuit'), 300)) &&
      [...document.querySelectorAll('#path-charts .chart-cell')].every((c) => drawnAt(c, c.querySelector('svg'), 260)) &&
      drawnAt(faith, faith?.querySelector('svg.chart'), 260);
  }, null, { timeout: WAIT });
  await settled();
}

/**
 * Texts of the pictures (charts, panels) matching `selector` that overlap another text of their picture or
 * leave it, as the browser lays them out (bounding boxes of the rendered glyphs).
 */
async function labelClashes(selector: string): Promise<string[]> {
  return page.$$eval(selector, (charts) => charts.flatMap((svg) => {
    const box = svg.getBoundingClientRect();
    const name = svg.getAttribute('class') ?? 'chart';
    const texts = [...svg.querySelectorAll('text')].filter((t) => (t.textContent ?? '').trim() !== '').map((t) => ({ text: t.textContent!, r: t.getBoundingClientRect() }));
    const out: string[] = [];
    for (const { text, r } of texts) {
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5) out.push(`${name}: "${text}" leaves the chart`);
    }
    for (let i = 0; i < texts.length; i++) {
      for (let j = i + 1; j < texts.length; j++) {
        const a = texts[i]!.r, b = texts[j]!.r;
        if (a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5) out.push(`${name}: "${texts[i]!.text}" overlaps "${texts[j]!.text}"`);
      }
    }
    return out;
  }));
}

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
  assert.match(await page.textContent('#faith-at') ?? '', /^F ≈ 0\.5654$/);
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
  assert.ok(fourDigits(await page.textContent('#details-score') ?? '', g.score(u, v)), 'the score to 4 significant digits');
  assert.equal(Number(await page.getAttribute('#details-score', 'title')), g.score(u, v), 'the full score in its tooltip');
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

test('compare mode: the two drawings share the whole window width, drawn at the size shown, and follow the window', { skip: SKIP }, async () => {
  for (const width of [1600, 1280, 1920]) {
    await resize(width);
    const boxes = await page.$$eval('#panels svg.circuit', (svgs) => svgs.map((svg) => {
      const r = svg.getBoundingClientRect();
      return { left: r.left, right: r.right, width: r.width, viewBox: (svg as SVGSVGElement).viewBox.baseVal.width };
    }));
    assert.equal(boxes.length, 2);
    for (const b of boxes) {
      assert.ok(b.width > 0.45 * width, `each drawing is wider than 45% of a ${width} px window: ${Math.round(b.width)} px`);
      assert.ok(Math.abs(b.width - b.viewBox) < 1, `drawn at the size shown, so its text keeps its size (${b.width} vs ${b.viewBox})`);
    }
    assert.ok(boxes[0]!.right <= boxes[1]!.left, 'A and B side by side');
    assert.deepEqual(await labelClashes('#panels svg.circuit'), [], `the panels' title, legend and node labels at ${width} px`);
    await page.screenshot({ path: join(ARTIFACTS, `viewer-compare-${width}.png`), fullPage: true });
  }
  await resize(1600);
});

test('chart labels never overlap: the faithfulness curve at any budget, window width and layout', { skip: SKIP }, async () => {
  const budgets = [1, 30, 100, 700, 1900, 5000, 20000, 32491];
  for (const layout of ['compare', 'single'] as const) {
    if (layout === 'single') await page.selectOption('#graph-b', '');
    for (const width of [1280, 1600, 1920]) {
      await resize(width);
      for (const n of budgets) {
        await typeBudget(String(n));
        assert.equal(await budget(), n);
        assert.deepEqual(await labelClashes('svg.faithfulness'), [], `${layout}, ${width} px, n = ${n}`);
      }
    }
  }
  await showGraph('B', 'ioi · eap-ig');
  await resize(1600);
  await typeBudget('150');
});

test('scores show 4 significant digits: edge details, node edge lists, faithfulness, overlaps', { skip: SKIP }, async () => {
  const g = fx.graphs['eap-gp'];
  const hit = page.locator('#panel-A path.edge-hit').first(); // the weakest edge drawn
  const flat = Number(await hit.getAttribute('data-flat'));
  await hit.dispatchEvent('mouseover');
  await page.waitForFunction((name) => document.querySelector('#details-name')?.textContent === name, g.edgeName(Math.floor(flat / g.nDst), flat % g.nDst), { timeout: WAIT });
  const score = await page.textContent('#details-score') ?? '';
  assert.ok(fourDigits(score, g.scores[flat]!), `edge score ${score} for ${g.scores[flat]}`);
  const node = page.locator('#panel-A g.node.in-circuit[data-name^="a"]').first();
  await node.dispatchEvent('mouseover');
  await page.waitForFunction((n) => document.querySelector('#details-name')?.textContent === n, await node.getAttribute('data-name'), { timeout: WAIT });
  const rows = await page.$$eval('#details-body .edge-list li', (li) => li.map((l) => ({ flat: Number(l.getAttribute('data-flat')), text: l.lastElementChild!.textContent! })));
  assert.ok(rows.length > 10);
  for (const r of rows) assert.ok(fourDigits(r.text, g.scores[r.flat]!), `edge list score ${r.text} for ${g.scores[r.flat]}`);
  await page.mouse.move(0, 0);

  const F = 1 - Math.exp(-150 / 120); // the fixture's eap-gp curve at n = 150 (between sweep points, interpolated in log n)
  const faith = await page.textContent('#faith-at') ?? '';
  const shown = /^F ≈ (\S+) \(interpolated\)$/.exec(faith);
  assert.ok(shown && fourDigits(shown[1]!, Number(shown[1])) && Math.abs(Number(shown[1]) - F) < 0.05, faith);
  assert.equal(await page.textContent('svg.faithfulness .point-label'), `F ≈ ${shown[1]}`);
  const dd = await page.$$eval('#faith-body dd', (d) => d.map((x) => x.textContent));
  assert.equal(dd[0], '3.800, 0.03000 (logit-diff, 100 examples)');
  assert.equal(dd[2], '0.8000 / 0.2000');

  const a = expected(g, 'greedy', 150, true, true), b = expected(fx.graphs['eap-ig'], 'greedy', 150, true, true);
  let shared = 0, union = 0;
  a.mask.forEach((x, i) => ((shared += x && b.mask[i] ? 1 : 0), (union += x || b.mask[i] ? 1 : 0)));
  assert.ok(fourDigits(await page.textContent('#cmp-jaccard') ?? '', shared / union));
  const ov = overlap(a.graph, a.mask, referenceCircuit('ioi', a.graph));
  const cells = await page.$$eval('#overlap-table tbody tr', (tr) => tr.map((r) => r.querySelectorAll('td')[1]!.textContent!));
  [ov.nodes.precision, ov.nodes.recall, ov.edges.precision, ov.edges.recall].forEach((x, i) => assert.ok(fourDigits(cells[i]!, x), `overlap cell ${cells[i]} for ${x}`));
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

test('a graph opens at the circuit its file flags; the budget box shows the budget in force, clamped', { skip: SKIP }, async () => {
  const g = fx.flagged.graph;
  const flagged = Array.from(g.inGraphFlatIndices());
  assert.ok(flagged.length > 10 && flagged.length < g.nEdges && g.nEdges === 479);
  await showGraph('A', 'flagged.json');
  assert.equal(await page.isChecked('input[name=mode][value=file]'), true, "opens at the file's flags");
  assert.equal(Number(await page.getAttribute('#panel-A', 'data-edges')), flagged.length, 'the circuit is the flagged one');
  assert.deepEqual((await drawn('A')).flats.sort((x, y) => x - y), flagged, 'the very same edges');
  assert.equal(await page.inputValue('#budget-number'), String(flagged.length), 'the budget box starts at its size');
  await page.screenshot({ path: join(ARTIFACTS, 'viewer-flagged.png') });

  await page.click('label:has(input[value=greedy])');
  await settled();
  assert.equal(await budget(), flagged.length);
  await checkPanel('A', expected(g, 'greedy', flagged.length, true, true), 'greedy from the flagged size');
  for (const [typed, shown] of [['99999', 479], ['-5', 1], ['0', 1], ['12.6', 13], ['479', 479]] as const) {
    await typeBudget(typed);
    assert.equal(await page.inputValue('#budget-number'), String(shown), `typing ${typed} shows ${shown}`);
    assert.equal(await budget(), shown);
    await checkPanel('A', expected(g, 'greedy', shown, true, true), `greedy ${shown}`);
  }
  await page.fill('#budget-number', '');
  await page.press('#budget-number', 'Enter');
  assert.equal(await page.inputValue('#budget-number'), '479', 'an empty box goes back to the budget in force');

  await showGraph('A', 'ioi · eap-gp');
  assert.equal(await page.isDisabled('input[name=mode][value=file]'), true, "a file without flags offers no file's flags");
  assert.equal(await page.isChecked('input[name=mode][value=greedy]'), true);
});

test('the saturation view plots the straight path and each GradPath variant per example, with diagnostics, and marks saturated stretches', { skip: SKIP }, async () => {
  await page.click('#tab-path');
  await page.waitForSelector('#view-path[data-state=ready]', { timeout: WAIT });
  assert.equal(await page.$$eval('#path-charts svg.chart', (c) => c.length), 4);
  const markers = await page.$$eval('svg.path-metric .series.path-straight circle.marker', (c) => c.length);
  assert.equal(markers, 5, 'EAP-IG\'s 5 gradient points are marked');
  assert.equal(await page.$$eval('svg.path-metric .series.path-gradpath circle.marker', (c) => c.length), 5);
  assert.equal(await page.$$eval('svg.path-metric .series.path-gradpath-1 circle.marker', (c) => c.length), 5, 'the second variant beside the first');
  const table = await page.$$eval('#path-diagnostics tr', (rows) => rows.map((r) => [...r.children].map((c) => c.textContent)));
  assert.deepEqual(table.slice(1).map((r) => r[0]), ['GradPath paper', 'GradPath step=relative'], 'one diagnostics row per variant');
  assert.deepEqual(table[1]!.slice(1), ['yes', 'yes', '1.00', '0.75', '0%'], 'example 1, paper: J 40 → 0 monotone, metric 3.5 → 0.5 of the way to −0.5');
  const sat = await page.textContent('#path-saturation') ?? '';
  const [ig, gp] = [...sat.matchAll(/saturated over (\d+)% of the path/g)].map((m) => Number(m[1]));
  assert.ok(ig! > 40 && gp === 0, `the straight path saturates, GradPath does not: ${sat}`);
  assert.ok(await page.$$eval('svg.path-metric rect.band', (b) => b.length) >= 1);
  assert.match(await page.textContent('#path-summary') ?? '', /Metric: clean 3\.500, corrupted -0\.5000; end of GradPath paper 0\.5000, step=relative 1\.500\./);
  await page.screenshot({ path: join(ARTIFACTS, 'viewer-saturation.png') });
  // example 2 crowds the charts (metrics 0.2 apart, gradient norms over 35 decades); the mean is the third case
  for (const width of [1280, 1920]) {
    await resize(width);
    for (const example of ['0', '1', '-1']) {
      await page.selectOption('#path-example', example);
      for (const logY of [true, false]) {
        await page.setChecked('#path-logy', logY);
        assert.deepEqual(await labelClashes('#path-charts svg.chart'), [], `saturation charts, example ${example}, ${logY ? 'log' : 'linear'} y, ${width} px`);
      }
    }
    await page.selectOption('#path-example', '1');
    await page.check('#path-logy');
    await page.screenshot({ path: join(ARTIFACTS, `viewer-saturation-${width}.png`), fullPage: true });
  }
  await resize(1600);
  await page.selectOption('#path-example', '-1');
  await page.waitForFunction(() => document.querySelector('#path-summary')?.textContent?.includes('Mean over 2 examples'), null, { timeout: WAIT });
  await page.click('#tab-circuit');
  assert.deepEqual(pageErrors, [], 'no script errors in the page');
});

/** Each node of panel A's picture: name, visible label and its width, box in page pixels. */
async function nodeBoxes(): Promise<{ name: string; label: string; labelW: number; x: number; y: number; w: number; h: number }[]> {
  return page.$$eval('#panel-A svg.circuit g.node', (gs) => gs.map((g) => {
    const r = g.querySelector('rect')!.getBoundingClientRect(), t = g.querySelector('text')!;
    return { name: g.getAttribute('data-name')!, label: t.textContent!, labelW: t.getBoundingClientRect().width, x: r.left, y: r.top, w: r.width, h: r.height };
  }));
}

/**
 * The picture of a graph of another family: every node drawn once, with its own label inside its box (h{h} of
 * a{l}.h{h}, or {h} where that does not fit; MLP or M); no two boxes overlap; in each row the heads in order, then the MLP; layers bottom to top; the drawn edges are
 * src/graph's. Returns the drawn edges as [source, destination owner] node names.
 */
async function checkFamilyPicture(g: Graph, what: string): Promise<[string, string][]> {
  const boxes = await nodeBoxes();
  const names = [...Array.from({ length: g.nSrc }, (_, u) => g.srcName(u)), 'logits'];
  assert.deepEqual(boxes.map((b) => b.name).sort(), names.sort(), `${what}: every node drawn once`);
  const at = new Map(boxes.map((b) => [b.name, b]));
  for (const b of boxes) {
    const head = /^a\d+\.h(\d+)$/.exec(b.name)?.[1];
    const labels = head !== undefined ? [`h${head}`, head] : /^m\d+$/.test(b.name) ? ['MLP', 'M'] : [b.name];
    assert.ok(labels.includes(b.label), `${what}: the label "${b.label}" of ${b.name}`);
    assert.ok(b.labelW <= b.w, `${what}: the label "${b.label}" (${b.labelW} px) inside ${b.name}'s box (${b.w} px)`);
  }
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, b] = [boxes[i]!, boxes[j]!];
      assert.ok(a.x + a.w <= b.x + 0.5 || b.x + b.w <= a.x + 0.5 || a.y + a.h <= b.y + 0.5 || b.y + b.h <= a.y + 0.5, `${what}: ${a.name} overlaps ${b.name}`);
    }
  }
  for (let l = 0; l < g.nLayers; l++) {
    const row = [...Array.from({ length: g.nHeads }, (_, h) => at.get(`a${l}.h${h}`)!), at.get(`m${l}`)!];
    row.forEach((b, k) => {
      assert.equal(b.y, row[0]!.y, `${what}: ${b.name} in layer ${l}'s row`);
      if (k > 0) assert.ok(b.x > row[k - 1]!.x, `${what}: ${b.name} right of ${row[k - 1]!.name}`);
    });
    assert.ok(row[0]!.y < (l === 0 ? at.get('input')! : at.get(`a${l - 1}.h0`)!).y, `${what}: layer ${l} above the one below`);
  }
  assert.ok(at.get('logits')!.y < at.get(`a${g.nLayers - 1}.h0`)!.y, `${what}: logits on top`);
  const drawnEdges = await page.$$eval('#panel-A svg.circuit path.edge', (es) => es.map((e) => [Number(e.getAttribute('data-src')), Number(e.getAttribute('data-dst'))]));
  const name = (u: number): string => (u < 0 ? 'logits' : g.srcName(u));
  return drawnEdges.map(([u, v]) => [name(u!), name(v!)]);
}

/** A head → the MLP of its own layer. */
const sameLayerMlp = (u: string, v: string): boolean => /^a(\d+)\./.exec(u)?.[1] !== undefined && /^a(\d+)\./.exec(u)?.[1] === /^m(\d+)$/.exec(v)?.[1];

test('other families: a GPT-NeoX (parallel) graph and a 32-head graph are laid out whole, in order, without overlaps', { skip: SKIP }, async () => {
  await page.selectOption('#graph-b', '');
  await showGraph('A', 'neox.json');
  const neox = families.neox;
  assert.match(await page.textContent('#graph-info') ?? '', /3 layers × 8 heads \(parallel attention and MLP\), 778 edges/);
  for (const [mode, n] of [['greedy', neox.nEdges], ['topn', 300]] as const) {
    await page.click(`label:has(input[value=${mode}])`);
    await typeBudget(String(n));
    await checkPanel('A', expected(neox, mode, n, true, true), `neox ${mode} ${n}`);
    const edges = await checkFamilyPicture(neox, `neox ${mode} ${n}`);
    // parallel blocks: the MLP of layer l reads the stream before layer l's heads
    assert.deepEqual(edges.filter(([u, v]) => sameLayerMlp(u, v)), [], 'no a{l}.h → m{l} edge drawn');
    if (mode === 'greedy') assert.ok(edges.some(([u, v]) => u.startsWith('a0.') && v === 'm1'), 'earlier layers\' heads do feed the MLP');
  }
  await page.screenshot({ path: join(ARTIFACTS, 'viewer-neox.png') });
  // a sequential graph of the same size is another model's: no comparison
  await showGraph('B', 'seq.json');
  assert.match(await page.textContent('#compare-body') ?? '', /cannot compare a parallel 3×8 graph with a 3×8 one/);
  await page.selectOption('#graph-b', '');
  await settled();

  const wide = families.wide;
  await showGraph('A', 'wide.json');
  await page.click('label:has(input[value=greedy])');
  for (const width of [1280, 1920]) {
    await resize(width);
    await typeBudget('2000');
    await checkPanel('A', expected(wide, 'greedy', 2000, true, true), `32 heads at ${width} px`);
    const edges = await checkFamilyPicture(wide, `32 heads at ${width} px`);
    assert.ok(edges.some(([u, v]) => sameLayerMlp(u, v)), 'sequential blocks: a{l}.h → m{l} edges are drawn');
    assert.deepEqual(await labelClashes('#panel-A svg.circuit'), [], `32 heads at ${width} px: labels`);
    await page.screenshot({ path: join(ARTIFACTS, `viewer-32-heads-${width}.png`) });
  }
  // side by side (two 32-head graphs, each half the window): narrower boxes, still inside their panels
  await resize(1600);
  await showGraph('B', 'wide.json');
  const fits = await page.$$eval('#panels .panel-body', (bodies) => bodies.map((b) => [Number(b.querySelector('svg.circuit')!.getAttribute('width')), b.clientWidth]));
  assert.equal(fits.length, 2);
  for (const [drawnW, boxW] of fits) assert.ok(drawnW! <= Math.max(300, boxW!) + 1, `a ${drawnW} px picture in a ${boxW} px panel`);
  await checkFamilyPicture(wide, '32 heads side by side');
  assert.deepEqual(await labelClashes('#panels svg.circuit'), [], '32 heads side by side: labels');
  await page.screenshot({ path: join(ARTIFACTS, 'viewer-32-heads-compare.png') });
  await page.selectOption('#graph-b', '');
  await settled();
  assert.deepEqual(pageErrors, [], 'no script errors in the page');
});
