/**
 * The site's service worker: keeps the app shell in Cache Storage for offline use after the first visit, and
 * adds the headers that make the page cross-origin isolated (COOP same-origin, COEP require-corp) where the host
 * cannot send them, so the engine can run threads. Same-origin requests go to the network first (a new build
 * shows at once) and fall back to the cache; model files are kept by the discovery worker, not here.
 */
const SHELL = 'eapgp-shell-v1';
const FILES = ['./', 'index.html', 'app.js', 'discover-worker.js', 'kernel-thread.js', 'gpu-worker.js', 'worker.js', 'style.css', 'site.css', 'favicon.svg', 'kernels.wasm', 'kernels-relaxed.wasm'];
const sw = self as unknown as {
  addEventListener(type: string, fn: (ev: any) => void): void; // eslint-disable-line @typescript-eslint/no-explicit-any
  skipWaiting(): Promise<void>;
  clients: { claim(): Promise<void> };
  registration: { scope: string };
};

function isolated(res: Response): Response {
  if (res.status === 0 || res.type === 'opaque') return res;
  const headers = new Headers(res.headers);
  headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
  headers.set('Cross-Origin-Resource-Policy', 'same-origin');
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
}

sw.addEventListener('install', (ev) => {
  ev.waitUntil(caches.open(SHELL).then((c) => c.addAll(FILES)).then(() => sw.skipWaiting()));
});
sw.addEventListener('activate', (ev) => ev.waitUntil(sw.clients.claim()));
sw.addEventListener('fetch', (ev) => {
  const req: Request = ev.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== location.origin || url.pathname.includes('/models/')) return;
  ev.respondWith((async () => {
    const cache = await caches.open(SHELL);
    const key = url.pathname.endsWith('/') ? new Request(new URL('index.html', url).href) : req;
    try {
      const res = await fetch(req);
      if (res.ok) await cache.put(key, res.clone());
      return isolated(res);
    } catch {
      const hit = (await cache.match(key, { ignoreSearch: true })) ?? (await cache.match(req, { ignoreSearch: true }));
      if (hit) return isolated(hit);
      return new Response('offline, and this file was not cached on the first visit', { status: 503 });
    }
  })());
});
