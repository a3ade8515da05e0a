// npm run build:site → site/dist/: the discovery page (site/src/page.ts), its workers (the engine's discovery
// worker, its kernel threads or its WebGPU worker, the viewer's selection worker), the service worker, the
// viewer's stylesheet, the kernels' .wasm and the built-in model, bundled from the same src/ modules the command
// line runs. Node's modules are replaced by site/src/shims/ (files in memory or Cache Storage instead of the
// disk), the engine's host by src/engine/host-browser.ts and the WebGPU platform by
// src/engine/webgpu/platform-browser.ts; nothing else differs.
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'site', 'dist');
const shims = join(root, 'site', 'src', 'shims');

const SHIMS = { fs: 'fs.ts', path: 'path.ts', os: 'os.ts', url: 'url.ts', crypto: 'crypto.ts' };

/** node:* and bare builtins → the shims; the engine's host → its browser implementation. */
const browserPlugin = {
  name: 'eapgp-browser',
  setup(build) {
    build.onResolve({ filter: /^(node:)?(fs|path|os|url|crypto|util|v8|module|worker_threads|child_process|readline|http|https|net|stream|zlib|events|fs\/promises|assert|perf_hooks|process|buffer)$/ }, (a) => {
      const name = a.path.replace(/^node:/, '');
      if (name === 'buffer') return { path: join(root, 'node_modules', 'buffer', 'index.js') };
      if (name === 'fs/promises') return { path: join(shims, 'fs.ts') };
      return { path: join(shims, SHIMS[name] ?? 'unavailable.ts') };
    });
    // src/version.ts reads package.json at run time; the page gets the same version at build time
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    build.onLoad({ filter: /[\\/]src[\\/]version\.ts$/ }, () => ({ contents: `export const version = ${JSON.stringify(version)};`, loader: 'ts' }));
    // the WebGPU backend's Node platform (Dawn, worker_threads) → the browser's (navigator.gpu, a Web Worker)
    build.onResolve({ filter: /^\.\/(webgpu\/)?platform\.js$/ }, (a) =>
      a.importer.includes(join('src', 'engine')) ? { path: join(root, 'src', 'engine', 'webgpu', 'platform-browser.ts') } : undefined);
    build.onResolve({ filter: /^\.\/host\.js$/ }, (a) =>
      a.importer.endsWith(join('engine', 'wasm-kernels.ts')) || a.importer.includes(join('src', 'engine')) ? { path: join(root, 'src', 'engine', 'host-browser.ts') } : undefined);
  },
};

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'models', 'default'), { recursive: true });
const common = { outdir: out, bundle: true, format: 'esm', platform: 'browser', target: 'es2022', minify: process.env.EAPGP_SITE_DEBUG !== '1', sourcemap: false, logLevel: 'warning', metafile: true, plugins: [browserPlugin] };
const results = [
  // the workers run the library: Node's globals (process, Buffer, setImmediate) come from the shims
  await esbuild.build({
    ...common,
    entryPoints: { 'discover-worker': join(root, 'site', 'src', 'discover-worker.ts') },
    inject: [join(shims, 'globals.ts')],
  }),
  // the page, the kernel threads, the viewer's selection worker and the service worker do not
  await esbuild.build({
    ...common,
    entryPoints: {
      app: join(root, 'site', 'src', 'page.ts'), sw: join(root, 'site', 'src', 'sw.ts'),
      'kernel-thread': join(root, 'site', 'src', 'kernel-thread.ts'), worker: join(root, 'viewer', 'src', 'worker.ts'),
      // the engine's GPU worker (started by the discovery worker's engine when the device is a GPU)
      'gpu-worker': join(root, 'src', 'engine', 'webgpu', 'gpu-worker.ts'),
    },
  }),
];
for (const [from, to] of [
  ['site/index.html', 'index.html'], ['site/site.css', 'site.css'], ['viewer/style.css', 'style.css'], ['viewer/favicon.svg', 'favicon.svg'],
  ['build/kernels.wasm', 'kernels.wasm'], ['build/kernels-relaxed.wasm', 'kernels-relaxed.wasm'],
  ['models/default/config.json', 'models/default/config.json'], ['models/default/model.safetensors', 'models/default/model.safetensors'],
]) copyFileSync(join(root, from), join(out, to));
const kib = results.flatMap((r) => Object.entries(r.metafile.outputs)).map(([f, o]) => `${f.split('/').pop()} ${(o.bytes / 1024).toFixed(0)} KiB`);
console.log(`build-site: ${out} (${kib.join(', ')})`);
