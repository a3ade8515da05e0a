/** The package entry point exports the public API the README shows, and package.json points at it. */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { test } from 'node:test';
import * as api from '../src/index.js';

test('the entry point exports the documented API', () => {
  for (const name of ['createEngine', 'loadModel', 'makeBatch', 'attribute', 'exactScores', 'evaluateCircuits', 'sweep', 'readGraphJson', 'writeGraphJson', 'greedy', 'prune', 'toSvg', 'getTask', 'batches', 'generate', 'referenceCircuit', 'loadTokenizer', 'makeRandomModel']) {
    assert.equal(typeof (api as Record<string, unknown>)[name], 'function', `${name} is not exported`);
  }
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { main: string; exports: Record<string, { import: string }> };
  assert.equal(pkg.exports['.']!.import, `./${pkg.main}`);
  assert.ok(new URL(`../../${pkg.main}`, import.meta.url).pathname.endsWith('dist/src/index.js'));
});

test('the command is executable after the build, so `npx eapgp` runs it in a fresh clone', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { bin: Record<string, string> };
  for (const [name, file] of Object.entries(pkg.bin)) {
    const mode = statSync(new URL(`../../${file}`, import.meta.url)).mode;
    assert.equal(mode & 0o111, 0o111, `${name} (${file}) is not executable: mode ${(mode & 0o777).toString(8)}`);
  }
});
