/**
 * `eapgp view`'s server: 127.0.0.1 only, only its own page and the given files (by catalog id), no path
 * traversal in any spelling, foreign Host headers refused, graphs sent in the binary form, readable errors
 * for missing and malformed files, and a clear message for a busy port.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { methods } from '../src/attribution/registry.js';
import { decodeGraphBinary } from '../src/graph/binary.js';
import { readGraphJson } from '../src/graph/json.js';
import type { Catalog, ResultsResponse } from '../src/viewer-server/protocol.js';
import { startViewer, type ViewerServer } from '../src/viewer-server/server.js';
import { writeViewerFixtures, type ViewerFixtures } from './helpers/viewer-fixtures.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-view-'));
let fx: ViewerFixtures;
let server: ViewerServer;

/** A raw GET: the path is sent exactly as given (no normalisation by a URL parser). */
function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: Buffer; headers: Record<string, unknown> }> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, method, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => ok({ status: res.statusCode!, body: Buffer.concat(parts), headers: res.headers }));
    });
    req.on('error', fail);
    req.end();
  });
}

before(async () => {
  fx = writeViewerFixtures(tmp);
  // a second results directory listing a graph outside itself
  mkdirSync(join(tmp, 'evil'));
  writeFileSync(join(tmp, 'evil', 'results.json'), JSON.stringify({
    format: 'eapgp-reproduce', version: 1, tasks: { ioi: { methods: { eap: { graph: '../run/graphs/ioi-eap-gp.json', points: [] } } } },
  }));
  server = await startViewer({ files: ['run', 'broken.json', 'path.json', 'absent.json', 'evil/results.json'], port: 0, cwd: tmp });
});
after(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

test('binds to 127.0.0.1 only', async () => {
  assert.equal(new URL(server.url).hostname, '127.0.0.1');
  const other = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal);
  if (!other) return; // no other interface on this machine
  await assert.rejects(new Promise((ok, fail) => {
    const req = request({ host: other.address, port: server.port, path: '/', timeout: 2000 }, ok);
    req.on('error', fail);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  }), /ECONNREFUSED|timeout|EHOSTUNREACH/);
});

test('catalog: given files, the graphs a results.json lists, and errors for missing and outside files', async () => {
  const r = await get('/api/catalog');
  assert.equal(r.status, 200);
  const cat = JSON.parse(r.body.toString()) as Catalog;
  const by = (p: (e: Catalog['entries'][number]) => boolean) => cat.entries.filter(p);
  assert.deepEqual(by((e) => e.kind === 'results' && !e.error).map((e) => e.path), [join('run', 'results.json'), join('evil', 'results.json')]);
  assert.deepEqual(by((e) => e.from?.task === 'ioi' && !e.error).map((e) => e.name).sort(), ['ioi · eap-gp', 'ioi · eap-ig']);
  assert.match(by((e) => e.name === 'absent.json')[0]!.error!, /file not found: absent\.json/);
  const outside = by((e) => e.from?.method === 'eap')[0]!;
  assert.match(outside.error!, /refused: \.\.\/run\/graphs\/ioi-eap-gp\.json .* outside the results directory/);
  const o = await get(`/api/graph/${outside.id}`);
  assert.equal(o.status, 404);
  assert.match(JSON.parse(o.body.toString()).error, /outside the results directory/);
  const res = JSON.parse((await get(`/api/results/${by((e) => e.kind === 'results')[0]!.id}`)).body.toString()) as ResultsResponse;
  assert.equal(res.results.tasks['ioi']!.baseline, 3.8);
  assert.equal(cat.entries[res.graphs['ioi']!['eap-gp']!]!.name, 'ioi · eap-gp');
  // the page's legend and default pair come from the method registry, with the catalog
  assert.deepEqual(cat.methods, methods().map((m) => ({ name: m.name, color: m.color, ...(m.counterpart ? { counterpart: m.counterpart } : {}) })));
  assert.deepEqual(cat.methods.find((m) => m.name === 'eap-gp'), { name: 'eap-gp', color: '#ea580c', counterpart: 'eap-ig' });
});

test('graphs come in the binary form, bit-exact; a malformed file gives its JSON error; a path file is checked', async () => {
  const cat = JSON.parse((await get('/api/catalog')).body.toString()) as Catalog;
  const id = cat.entries.find((e) => e.name === 'ioi · eap-gp')!.id;
  const r = await get(`/api/graph/${id}`);
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/octet-stream');
  const { graph, header } = decodeGraphBinary(new Uint8Array(r.body));
  const want = readGraphJson(fx.graphA).graph;
  assert.deepEqual(new Uint32Array(Float32Array.from(graph.scores).buffer), new Uint32Array(Float32Array.from(want.scores).buffer));
  assert.equal((header['meta'] as { method: string }).method, 'eap-gp');
  const bad = await get(`/api/graph/${cat.entries.find((e) => e.name === 'broken.json')!.id}`);
  assert.equal(bad.status, 422);
  assert.match(JSON.parse(bad.body.toString()).error, /^broken\.json:1:\d+: not valid JSON/);
  const path = await get(`/api/path/${cat.entries.find((e) => e.kind === 'path')!.id}`);
  assert.equal(path.status, 200);
  assert.equal(JSON.parse(path.body.toString()).examples.length, 2);
  const wrong = await get(`/api/path/${id}`);
  assert.equal(wrong.status, 400);
  assert.match(JSON.parse(wrong.body.toString()).error, /is a graph file, not a path file/);
});

test('refuses every other path: traversal (plain, encoded, backslashes), absolute paths, unknown ids', async () => {
  const probes = [
    '/../package.json', '/app/../../package.json', '/app/%2e%2e/%2e%2e/package.json', '/%2e%2e/%2e%2e/etc/passwd',
    '/app/viewer/src/..%2f..%2f..%2fpackage.json', '/app/..\\..\\package.json', '/app/%2E%2E%5C%2E%2E%5Cpackage.json',
    '/api/graph/..%2f..%2fpackage.json', '/api/graph/1/../../package.json', '/api/graph/-1', '/api/graph/999', '/api/graph/1%00',
    '/api/file?path=/etc/passwd', '//etc/passwd', '/etc/passwd', '/index.html', '/viewer/index.html', '/style.css/../package.json',
    `/${fx.graphA}`, `/${encodeURIComponent(fx.graphA)}`, '/dist/viewer-app/viewer/src/main.js', '/package.json', '/%2fetc%2fpasswd',
  ];
  for (const p of probes) {
    const r = await get(p);
    assert.ok(r.status === 404 || r.status === 400, `${p}: status ${r.status}`);
    assert.ok(!r.body.toString().includes('"name": "eap-gp"') && !r.body.toString().includes('root:'), `${p}: leaked a file`);
  }
  assert.equal((await get('/')).status, 200);
  assert.match(String((await get('/')).headers['content-security-policy']), /default-src 'self'/);
  assert.equal((await get('/app/viewer/src/main.js')).status, 200);
  assert.equal((await get('/app/src/graph/selection.js')).status, 200);
});

test('refuses foreign Host headers (DNS rebinding) and methods other than GET', async () => {
  const evil = await get('/api/catalog', { Host: 'attacker.example:80' });
  assert.equal(evil.status, 403);
  assert.equal((await get('/api/catalog', { Host: `localhost:${server.port}` })).status, 200);
  assert.equal((await get('/api/catalog', {}, 'POST')).status, 405);
});

test('a busy port: exit 1 naming the port and --port; --open without a browser only warns; no file: usage', async () => {
  const blocker: Server = createServer();
  await new Promise<void>((ok) => blocker.listen(0, '127.0.0.1', ok));
  const port = (blocker.address() as { port: number }).port;
  try {
    const r = spawnSync(process.execPath, [MAIN, 'view', fx.graphA, '--port', String(port)], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use.*--port`));
  } finally {
    blocker.close();
  }
  // --open without any browser to start: a note, and the server runs anyway
  const child = spawn(process.execPath, [MAIN, 'view', fx.graphA, '--port', '0', '--open'], { env: { ...process.env, PATH: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  try {
    const deadline = Date.now() + 15_000;
    while (!(/127\.0\.0\.1:\d+/.test(out) && /could not start a browser/.test(err)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, /1 file at http:\/\/127\.0\.0\.1:\d+\//);
    assert.match(err, /could not start a browser \(xdg-open\); open http:\/\/127\.0\.0\.1:\d+\/ yourself/);
  } finally {
    child.kill('SIGTERM');
  }
  const none = spawnSync(process.execPath, [MAIN, 'view'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(none.status, 1);
  assert.match(none.stderr, /give at least one file/);
});
