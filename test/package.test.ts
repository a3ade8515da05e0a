/** The package entry point exports the public API the README shows, and package.json points at it. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
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
