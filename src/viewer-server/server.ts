/**
 * The `eapgp view` HTTP server: bound to 127.0.0.1 only, it serves the viewer's own files (static.ts) and the
 * catalog's files by id (catalog.ts). Graphs are read as a stream and sent in the compact binary form of
 * src/graph/binary.ts, cached until the file changes. Requests with another Host header (DNS rebinding), other
 * methods or any other path are refused.
 */
import { readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { basename } from 'node:path';
import { checkPathFile } from '../attribution/path-format.js';
import { methods } from '../attribution/registry.js';
import { encodeGraphBinary } from '../graph/binary.js';
import { streamGraphJson } from '../graph/json-stream.js';
import { UserError, isUserError } from '../util/errors.js';
import { parseJsonFile } from '../util/json.js';
import { version } from '../version.js';
import { buildCatalog, type ServedCatalog } from './catalog.js';
import { nodeGraphResponse } from './node-response.js';
import type { Catalog, MethodLegend } from './protocol.js';
import { staticAssets, type Asset } from './static.js';

export const HOST = '127.0.0.1';

export interface ViewerOptions {
  /** Files (or results directories) to serve, as given by the user. */
  files: readonly string[];
  /** Port (default 8642; 0 = any free port). */
  port?: number;
  /** Directory the file arguments are relative to (default: the process's). */
  cwd?: string;
  /** Package root holding viewer/ and dist/viewer-app/ (default: this package). */
  root?: string;
}

export interface ViewerServer {
  url: string;
  port: number;
  catalog: ServedCatalog;
  close(): Promise<void>;
}

export const DEFAULT_PORT = 8642;

const SECURITY_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
};

function send(res: ServerResponse, status: number, type: string, body: string | Uint8Array): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

const errorStatus = (e: unknown): number => (isUserError(e) ? (/file not found|cannot read/.test((e as Error).message) ? 404 : 422) : 500);

/** The registry's methods as the page shows them. */
function methodLegend(): MethodLegend[] {
  return methods().map((m) => ({ name: m.name, color: m.color, ...(m.counterpart ? { counterpart: m.counterpart } : {}) }));
}

/** Starts the server; rejects with a UserError naming the port when it is taken. */
export async function startViewer(opts: ViewerOptions): Promise<ViewerServer> {
  const assets = staticAssets(opts.root);
  const catalog = buildCatalog(opts.files, opts.cwd ?? process.cwd());
  const digests = new Map<number, { stamp: string; bytes: Promise<Uint8Array> }>();
  let port = opts.port ?? DEFAULT_PORT;

  /** The binary digest of graph `id`, read again when the file's size or time changed. */
  const digest = (id: number, file: string, shown: string, name: string): Promise<Uint8Array> => {
    let stamp: string;
    try {
      const st = statSync(file);
      stamp = `${st.size}:${st.mtimeMs}`;
    } catch {
      return Promise.reject(new UserError(`file not found: ${shown}`));
    }
    const hit = digests.get(id);
    if (hit?.stamp === stamp) return hit.bytes;
    const bytes = streamGraphJson(file, { label: shown }).then((r) => encodeGraphBinary(r.graph, { name, file: shown, cfg: r.cfg, meta: r.meta ?? null }));
    digests.set(id, { stamp, bytes });
    bytes.catch(() => digests.delete(id)); // a fixed file is read again on the next request
    return bytes;
  };

  const api = async (res: ServerResponse, what: string, id: number): Promise<void> => {
    const entry = catalog.entries[id];
    const file = catalog.files.get(id);
    if (entry === undefined || (file === undefined && entry.error === undefined)) return sendJson(res, 404, { error: `no file with id ${id}` });
    if (entry.error !== undefined) return sendJson(res, 404, { error: entry.error });
    const kind = what === 'graph' ? 'graph' : what === 'results' ? 'results' : what === 'nodes' ? 'nodes' : 'path';
    if (entry.kind !== kind) return sendJson(res, 400, { error: `${entry.path} is a ${entry.kind} file, not a ${kind} file` });
    try {
      if (kind === 'graph') {
        const body = await digest(id, file!, entry.path, entry.name);
        return send(res, 200, 'application/octet-stream', body);
      }
      if (kind === 'results') return sendJson(res, 200, catalog.results.get(id));
      if (kind === 'nodes') return sendJson(res, 200, nodeGraphResponse(file!, entry.name));
      let text: string;
      try {
        text = readFileSync(file!, 'utf8');
      } catch (e) {
        throw new UserError(`cannot read ${entry.path}: ${(e as Error).message}`);
      }
      return sendJson(res, 200, checkPathFile(parseJsonFile(text, entry.path), entry.path));
    } catch (e) {
      if (!isUserError(e)) console.error(e);
      return sendJson(res, errorStatus(e), { error: isUserError(e) ? e.message : `internal error: ${(e as Error).message}` });
    }
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const host = req.headers.host;
    if (host !== undefined && host !== `${HOST}:${port}` && host !== `localhost:${port}`) {
      return send(res, 403, 'text/plain; charset=utf-8', `refused: Host "${host}" is not this viewer (open http://${HOST}:${port}/)`);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain; charset=utf-8', 'only GET is served');
    const raw = req.url ?? '/';
    const path = raw.split('?')[0]!;
    if (path === '/api/catalog') {
      const body: Catalog = { tool: `eap-gp ${version}`, entries: catalog.entries, methods: methodLegend() };
      return sendJson(res, 200, body);
    }
    const m = /^\/api\/(graph|results|path|nodes)\/(\d{1,9})$/.exec(path);
    if (m !== null) {
      void api(res, m[1]!, Number(m[2]));
      return;
    }
    const asset: Asset | undefined = assets.get(path);
    if (asset === undefined) {
      return send(res, 404, 'text/plain; charset=utf-8', `not found: ${path.slice(0, 200)} (eapgp view serves only its own page and the files it was given)`);
    }
    let body: Buffer;
    try {
      body = readFileSync(asset.file);
    } catch {
      return send(res, 500, 'text/plain; charset=utf-8', `the viewer file ${basename(asset.file)} is missing: reinstall or rebuild eap-gp`);
    }
    send(res, 200, asset.type, body);
  };

  const server: Server = createServer(handle);
  await new Promise<void>((ok, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') {
        fail(new UserError(`port ${port} on ${HOST} is already in use (another eapgp view?); choose another with --port P, or --port 0 for any free port`));
      } else if (e.code === 'EACCES') {
        fail(new UserError(`not allowed to listen on port ${port} (ports below 1024 need privileges); choose another with --port P`));
      } else fail(e);
    });
    server.listen(port, HOST, () => ok());
  });
  const addr = server.address();
  if (addr !== null && typeof addr === 'object') port = addr.port;
  return {
    url: `http://${HOST}:${port}/`,
    port,
    catalog,
    close: () => new Promise<void>((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    }),
  };
}
