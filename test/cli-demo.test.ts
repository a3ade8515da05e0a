/**
 * `eapgp demo` on the default model: prints the faithfulness table and the viewer command, and writes the
 * graph JSON (loadable, with its circuit flagged), the SVG and the sweep under runs/demo of the working
 * directory (or --out). Kept small (--limit 10) so the suite stays fast; the full default run takes seconds.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readGraphJson } from '../src/graph/index.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const cwd = mkdtempSync(join(tmpdir(), 'eapgp-demo-'));
after(() => rmSync(cwd, { recursive: true, force: true }));
const demo = (...args: string[]) => spawnSync(process.execPath, [cli, 'demo', ...args], { cwd, encoding: 'utf8' });

test('eapgp demo finds, evaluates and draws an IOI circuit on the default model', () => {
  const t0 = performance.now();
  const r = demo('--limit', '10', '--quiet');
  const seconds = (performance.now() - t0) / 1000;
  assert.equal(r.status, 0, r.stderr);
  assert.ok(seconds < 60, `demo took ${seconds.toFixed(1)} s`);
  const out = join(cwd, 'runs', 'demo');
  assert.match(r.stdout, /budget +edges +nodes +m\(C\) +faithfulness/);
  const rows = r.stdout.split('\n').filter((l) => /^ +\d+ +\d+ +\d+ +-?\d/.test(l));
  assert.equal(rows.length, 5, r.stdout);
  // the last budget ("all") keeps every edge: the clean model's metric, faithfulness 1
  assert.match(rows.at(-1)!, / 1\.0000$/);
  assert.match(r.stdout, new RegExp(`eapgp view ${join('runs', 'demo', 'graph.json').replace(/[\\/.]/g, '\\$&')}`));
  const { graph } = readGraphJson(join(out, 'graph.json'));
  assert.equal(graph.nLayers, 4);
  assert.ok(graph.countEdgesInGraph() > 0, 'the circuit shown is flagged in_graph');
  const svg = readFileSync(join(out, 'circuit.svg'), 'utf8');
  assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.ok((svg.match(/class="edge"/g) ?? []).length === graph.countEdgesInGraph(), 'one drawn edge per circuit edge');
  const sweep = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')) as { points: unknown[] };
  assert.equal(sweep.points.length, 5);
});

test('eapgp demo: bad options are user errors, and nothing is written', () => {
  const r = demo('--edges', '20,lots', '--out', 'bad');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--edges: "lots" is neither a positive integer nor "all"/);
  assert.ok(!existsSync(join(cwd, 'bad')));
});
