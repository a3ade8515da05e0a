/**
 * npm's "prepare" (scripts/prepare.mjs) builds only when the sources changed since the last complete build:
 * `npx eapgp` in the repository re-runs the package's prepare script, and an unconditional build there cost
 * 17–55 s on the first call after `npm install`. Checked on a stand-in package whose build only records
 * that it ran, so the test takes seconds and does not touch this checkout's dist/.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-prepare-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A build that writes the outputs prepare.mjs looks for, counts its runs, and stamps like the real one. */
const FAKE_BUILD = `
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
for (const d of ['dist/src/cli', 'build', 'dist/viewer-app', 'site/dist']) mkdirSync(d, { recursive: true });
for (const f of ['dist/src/cli/main.js', 'dist/src/index.js', 'build/kernels.wasm', 'build/kernels-relaxed.wasm', 'site/dist/index.html']) writeFileSync(f, '');
appendFileSync('builds.log', 'built\\n');
process.exit(spawnSync(process.execPath, ['scripts/prepare.mjs', '--stamp'], { stdio: 'inherit' }).status ?? 1);
`;

test('package.json runs prepare.mjs as "prepare", and the build stamps its inputs as its last step', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.equal(pkg.scripts['prepare'], 'node scripts/prepare.mjs');
  assert.match(pkg.scripts['build']!, /&& node scripts\/prepare\.mjs --stamp$/);
});

test('prepare builds on a fresh checkout, skips when nothing changed, and rebuilds after a source change or a lost output', () => {
  mkdirSync(join(tmp, 'scripts'));
  mkdirSync(join(tmp, 'src'));
  copyFileSync(join(ROOT, 'scripts', 'prepare.mjs'), join(tmp, 'scripts', 'prepare.mjs'));
  writeFileSync(join(tmp, 'package.json'), JSON.stringify({ name: 'stand-in', version: '0.0.0', private: true, scripts: { build: 'node build.mjs' } }));
  writeFileSync(join(tmp, 'build.mjs'), FAKE_BUILD);
  writeFileSync(join(tmp, 'src', 'a.ts'), 'export const a = 1;\n');
  const prepare = () => {
    const r = spawnSync(process.execPath, ['scripts/prepare.mjs'], { cwd: tmp, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return { builds: existsSync(join(tmp, 'builds.log')) ? readFileSync(join(tmp, 'builds.log'), 'utf8').split('\n').filter(Boolean).length : 0, err: r.stderr };
  };
  assert.equal(prepare().builds, 1, 'a fresh checkout builds');
  assert.ok(existsSync(join(tmp, 'dist', '.build-inputs')), 'the build stamped its inputs');
  const again = prepare();
  assert.equal(again.builds, 1, 'nothing changed: no build');
  assert.match(again.err, /the build is up to date/);
  appendFileSync(join(tmp, 'src', 'a.ts'), 'export const b = 2;\n');
  assert.equal(prepare().builds, 2, 'a changed source builds');
  assert.equal(prepare().builds, 2);
  writeFileSync(join(tmp, 'src', 'new.ts'), 'export {};\n');
  assert.equal(prepare().builds, 3, 'a new source builds');
  unlinkSync(join(tmp, 'build', 'kernels.wasm'));
  assert.equal(prepare().builds, 4, 'a missing output builds');
  writeFileSync(join(tmp, 'README.md'), 'not an input\n');
  assert.equal(prepare().builds, 4, 'files the build does not read change nothing');
});
