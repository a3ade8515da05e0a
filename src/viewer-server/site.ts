/**
 * `eapgp view --discover`: serves the discovery site (npm run build:site → site/dist/) on this machine, with
 * the headers that make it cross-origin isolated (so the engine runs threads without the service worker's
 * reload). Files are looked up in a table built at start-up, never joined onto a requested path.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, relative, sep } from 'node:path';
import { UserError } from '../util/errors.js';
import { PACKAGE_ROOT } from './static.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml', '.wasm': 'application/wasm', '.json': 'application/json', '.safetensors': 'application/octet-stream',
};

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

export interface SiteServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/**
 * Serves `dir` (default the package's site/dist) on 127.0.0.1:`port` (0: a free one). `isolate: false` leaves out
 * the COOP/COEP headers, as a plain static host does (the tests' single-thread page).
 */
export async function startSite(port: number, dir = join(PACKAGE_ROOT, 'site', 'dist'), opts: { isolate?: boolean } = {}): Promise<SiteServer> {
  if (!existsSync(join(dir, 'index.html'))) throw new UserError(`the discovery site is not built (${join(dir, 'index.html')} is missing): run npm run build:site in ${PACKAGE_ROOT}`);
  const files = new Map<string, string>();
  for (const f of walk(dir)) files.set('/' + relative(dir, f).split(sep).join('/'), f);
  files.set('/', join(dir, 'index.html'));
  // an installed package ships the site without its copy of the built-in model: serve the package's own
  for (const f of ['config.json', 'model.safetensors']) {
    const own = join(PACKAGE_ROOT, 'models', 'default', f);
    if (!files.has(`/models/default/${f}`) && existsSync(own)) files.set(`/models/default/${f}`, own);
  }
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = files.get(path);
    const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp', 'Cross-Origin-Resource-Policy': 'same-origin' };
    const headers = { ...(opts.isolate === false ? {} : isolation), 'Cache-Control': 'no-cache' };
    if (!file || (req.method !== 'GET' && req.method !== 'HEAD')) return void res.writeHead(404, headers).end('not found');
    const body = readFileSync(file);
    res.writeHead(200, { ...headers, 'Content-Type': TYPES[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream', 'Content-Length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((ok, fail) => server.once('error', fail).listen(port, '127.0.0.1', ok));
  const addr = server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : port}/`;
  return { url, server, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}
