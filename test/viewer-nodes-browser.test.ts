/**
 * The viewer's Nodes tab in real Chromium (as test/viewer-browser.test.ts; skipped without Chromium unless
 * EAPGP_REQUIRE_BROWSER=1): `eapgp view` on a node-level and a neuron-level graph. Every source node is drawn once,
 * its square's side follows √(|score| / max), its colour the score's sign, its outline the file's flag; the
 * neuron graph lists its top neurons in |score| order, as computed here from the file; a graph with MLP hidden units
 * (attribute --level mlp-neuron) lists its top MLP neurons (layer, unit) in |score| order.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startViewServer } from './helpers/view-server.js';
import type { Browser, Page } from 'playwright-core';
import { Graph } from '../src/graph/graph.js';
import { NodeGraph } from '../src/graph/node-graph.js';
import { writeNodeGraphJson } from '../src/graph/node-json.js';
import { topnNodes } from '../src/graph/node-selection.js';

const CHROMIUM = (process.env['EAPGP_CHROMIUM'] ? [process.env['EAPGP_CHROMIUM']] : ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']).find((p) => existsSync(p));
const REQUIRED = process.env['EAPGP_REQUIRE_BROWSER'] === '1';
const SKIP = CHROMIUM ? false : 'Chromium not found (apt-get install chromium, or set EAPGP_CHROMIUM); set EAPGP_REQUIRE_BROWSER=1 to fail instead';
const WAIT = 20_000;
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

const tmp = mkdtempSync(join(tmpdir(), 'eapgp-nodes-browser-'));
let server: ChildProcess | null = null;
let browser: Browser | null = null;
let page: Page;
const pageErrors: string[] = [];
const L = 3, H = 4, D = 8;
let nodeGraph: NodeGraph, neuronGraph: NodeGraph, mlpGraph: NodeGraph;
const F = 12;

if (!CHROMIUM && REQUIRED) test('Chromium is installed (EAPGP_REQUIRE_BROWSER=1)', () => assert.fail('no Chromium found'));

function startServer(args: string[]): Promise<string> {
  const started = startViewServer(tmp, args);
  server = started.child;
  return started.url;
}

before(async () => {
  if (!CHROMIUM) return;
  const layout = new Graph(L, H).layout, n = layout.nSrc;
  nodeGraph = NodeGraph.fromScores(layout, D, 'node', Array.from({ length: n }, (_, u) => (u % 3 === 1 ? -1 : 1) * (u + 1) / n));
  nodeGraph.nodeScores[5] = NaN;
  topnNodes(nodeGraph, 4);
  writeNodeGraphJson(join(tmp, 'nodes.json'), nodeGraph, { meta: { method: 'eap-ig', level: 'node' } });
  const neurons = Array.from({ length: n * D }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 5)));
  neuronGraph = NodeGraph.fromScores(layout, D, 'neuron', new Array(n).fill(NaN), neurons);
  writeNodeGraphJson(join(tmp, 'neurons.json'), neuronGraph, { meta: { method: 'eap', level: 'neuron' } });
  mlpGraph = NodeGraph.fromScores(layout, D, 'node', Array.from({ length: n }, (_, u) => u / n));
  mlpGraph.setMlpScores(F, Array.from({ length: L * F }, (_, i) => Math.cos(i * 2.3) * (1 + (i % 7))));
  writeNodeGraphJson(join(tmp, 'mlp.json'), mlpGraph, { meta: { method: 'eap-ig', level: 'mlp-neuron' } });
  const url = await startServer(['nodes.json', 'neurons.json', 'mlp.json']);
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '--disable-dev-shm-usage'] });
  page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
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

async function show(label: string): Promise<void> {
  const id = await page.$eval('#nodes-file', (s, l) => [...(s as HTMLSelectElement).options].find((o) => o.text.startsWith(l))?.value ?? '', label);
  assert.notEqual(id, '', `no option ${label}`);
  await page.selectOption('#nodes-file', id);
  await page.waitForFunction((l) => document.querySelector('#nodes-summary')?.textContent?.startsWith(l) ?? false, label);
}

type Drawn = { name: string; score: string; side: number; fill: string; inGraph: boolean };
const drawnNodes = (): Promise<Drawn[]> => page.$$eval('#nodes-body svg rect.node', (rs) => rs.map((r) => ({
  name: r.getAttribute('data-name')!, score: r.getAttribute('data-score')!, side: Number(r.getAttribute('width')),
  fill: r.getAttribute('fill')!, inGraph: r.classList.contains('in-graph'),
})));

test('a node-level graph: every node once, sized by √|score|, coloured by sign, outlined when flagged', { skip: SKIP }, async () => {
  await page.waitForSelector('#view-nodes:not([hidden])'); // only node graphs given: the Nodes tab opens
  await show('nodes.json');
  const rects = await drawnNodes();
  assert.equal(rects.length, nodeGraph.nSrc);
  assert.deepEqual(rects.map((r) => r.name), Array.from({ length: nodeGraph.nSrc }, (_, u) => nodeGraph.srcName(u)));
  const max = Math.max(...Array.from(nodeGraph.nodeScores).filter((x) => !Number.isNaN(x)).map(Math.abs));
  for (const [u, r] of rects.entries()) {
    const s = nodeGraph.nodeScores[u]!;
    if (Number.isNaN(s)) {
      assert.equal(r.fill, '#9ca3af', `${r.name}: unscored is grey`);
      continue;
    }
    assert.equal(r.fill, s >= 0 ? '#2563eb' : '#dc2626', r.name);
    assert.ok(Math.abs(r.side - Math.max(4, Math.sqrt(Math.abs(s) / max) * 36)) < 1e-3, `${r.name}: side ${r.side}`);
    assert.equal(r.inGraph, nodeGraph.nodeInGraph[u] === 1, `${r.name}: outline`);
  }
  assert.equal(rects.filter((r) => r.inGraph).length, 5); // the top 4 and the unscored node
  assert.equal(await page.locator('#nodes-body table').count(), 0); // no neurons, no MLP neurons
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'viewer-nodes.png') });
  assert.deepEqual(pageErrors, []);
});

test('a neuron-level graph: node squares from the summed neuron scores and the top neurons in |score| order', { skip: SKIP }, async () => {
  await show('neurons.json');
  const rects = await drawnNodes();
  const s = neuronGraph.neuronScores!;
  rects.forEach((r, u) => {
    let sum = 0;
    for (let d = 0; d < D; d++) sum += s[u * D + d]!;
    assert.ok(Math.abs(Number(r.score) - sum) <= 1e-5 * Math.abs(sum) + 1e-6, `${r.name}: ${r.score} vs Σ neurons ${sum}`);
  });
  const rows = await page.$$eval('#nodes-body table.top-neurons tbody tr', (trs) => trs.map((t) => `${t.getAttribute('data-node')}:${t.getAttribute('data-dim')}`));
  const order = Array.from(s.keys()).sort((a, b) => Math.abs(s[b]!) - Math.abs(s[a]!) || a - b).slice(0, 40);
  await page.screenshot({ path: join(ARTIFACTS, 'viewer-neurons.png') });
  assert.deepEqual(rows, order.map((i) => `${neuronGraph.srcName(Math.floor(i / D))}:${i % D}`));
  assert.deepEqual(pageErrors, []);
});

test('a graph with MLP hidden units: the top MLP neurons (layer, unit) in |score| order', { skip: SKIP }, async () => {
  await show('mlp.json');
  assert.equal((await drawnNodes()).length, mlpGraph.nSrc);
  assert.equal(await page.locator('#nodes-body table.top-neurons').count(), 0); // a node-level file: no d_model neurons
  const rows = await page.$$eval('#nodes-body table.top-mlp-neurons tbody tr', (trs) => trs.map((t) => `${t.getAttribute('data-layer')}:${t.getAttribute('data-unit')}:${t.children[1]!.textContent}`));
  const m = mlpGraph.mlp!.scores;
  const order = Array.from(m.keys()).sort((a, b) => Math.abs(m[b]!) - Math.abs(m[a]!) || a - b).slice(0, 40);
  assert.deepEqual(rows, order.map((i) => `${Math.floor(i / F)}:${i % F}:m${Math.floor(i / F)}`));
  await page.screenshot({ path: join(ARTIFACTS, 'viewer-mlp-neurons.png') });
  assert.deepEqual(pageErrors, []);
});
