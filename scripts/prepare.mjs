#!/usr/bin/env node
/**
 * npm's "prepare": runs `npm run build` only when its inputs changed since the last complete build.
 *
 * Why: `npx eapgp` in the repository runs the package's own bin by linking the working tree into npx's cache,
 * and npm then runs the linked package's "prepare" and "install" scripts again. An unconditional build there
 * added 17–55 s to the first `npx eapgp` after `npm install`, rebuilding exactly what `npm install` had just
 * built. The inputs are hashed by content (git checkouts do not keep file times); the hash is stored in
 * dist/.build-inputs by `npm run build` (this script with --stamp) once every step has succeeded.
 *
 *   node scripts/prepare.mjs           build if the stamp is missing, stale, or an output is missing
 *   node scripts/prepare.mjs --stamp   record the current inputs as built (the last step of `npm run build`)
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const STAMP = join(root, 'dist', '.build-inputs');
/** Source trees the build reads (every .ts below them), and single files it depends on. */
const TREES = ['src', 'test', 'bench', 'viewer/src', 'site/src'];
const FILES = ['package.json', 'package-lock.json', 'tsconfig.json', 'viewer/tsconfig.json', 'scripts/build-wasm.mjs', 'scripts/mark-bin.mjs', 'scripts/prepare.mjs',
  'site/tsconfig.json', 'site/index.html', 'site/site.css', 'viewer/style.css', 'scripts/build-site.mjs'];
/** What the build writes; a missing one means building again, whatever the stamp says. */
const OUTPUTS = ['dist/src/cli/main.js', 'dist/src/index.js', 'build/kernels.wasm', 'build/kernels-relaxed.wasm', 'dist/viewer-app', 'site/dist/index.html'];
/** The compilers' versions are inputs too. */
const TOOLS = ['typescript', 'assemblyscript', 'esbuild'];

function tsFiles(dir) {
  const abs = join(root, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(root, join(e.parentPath ?? e.path, e.name)).split('\\').join('/'));
}

function inputsHash() {
  const h = createHash('sha256');
  const files = [...TREES.flatMap(tsFiles), ...FILES.filter((f) => existsSync(join(root, f)))].sort();
  for (const f of files) h.update(`${f}\0`).update(readFileSync(join(root, f))).update('\0');
  for (const t of TOOLS) {
    const p = join(root, 'node_modules', t, 'package.json');
    h.update(`${t}@${existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')).version : 'absent'}\0`);
  }
  return h.digest('hex');
}

const hash = inputsHash();
if (process.argv.includes('--stamp')) {
  writeFileSync(STAMP, `${hash}\n`);
  process.exit(0);
}
const stamped = existsSync(STAMP) ? readFileSync(STAMP, 'utf8').trim() : '';
const missing = OUTPUTS.filter((o) => !existsSync(join(root, o)));
if (stamped === hash && missing.length === 0) {
  console.error('eap-gp: the build is up to date (dist/, build/ match the sources); `npm run build` skipped');
  process.exit(0);
}
const npm = process.env.npm_execpath;
const r = npm
  ? spawnSync(process.execPath, [npm, 'run', 'build'], { cwd: root, stdio: 'inherit' })
  : spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
process.exit(r.status ?? 1);
