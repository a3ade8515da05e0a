/**
 * Rank statistics, precision@n and variant parsing of `eapgp validate`. Known values are derived by hand in the
 * comments (they are also scipy's documented results for the same inputs); the O(n log n) Kendall τ-b is
 * checked against the O(n²) pair-counting definition on random data with many ties.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../src/models/random.js';
import { averageRanks, kendallTauB, pearson, spearman } from '../src/validation/rank-stats.js';
import { precisionAtN, topByMagnitude } from '../src/validation/top-n.js';
import { DEFAULT_VARIANTS, parseVariant, parseVariants } from '../src/validation/variants.js';

/** Sums of a few float64 products: agreement to 1e-12 is far above rounding (~1e-16) and far below any real error. */
const close = (a: number, b: number, msg?: string): void => assert.ok(Math.abs(a - b) <= 1e-12, `${msg ?? ''} ${a} vs ${b}`);

/** τ-b by its definition: (C − D) / √((C + D + Tx)(C + D + Ty)), Tx/Ty pairs tied in x only / y only. */
function tauBByPairs(x: number[], y: number[]): number {
  let c = 0, d = 0, tx = 0, ty = 0;
  for (let i = 0; i < x.length; i++) {
    for (let j = i + 1; j < x.length; j++) {
      const s = Math.sign(x[i]! - x[j]!) * Math.sign(y[i]! - y[j]!);
      if (x[i] === x[j] && y[i] === y[j]) continue;
      if (x[i] === x[j]) tx++;
      else if (y[i] === y[j]) ty++;
      else if (s > 0) c++;
      else d++;
    }
  }
  return (c - d) / Math.sqrt((c + d + tx) * (c + d + ty));
}

test('average ranks share tied ranks', () => {
  assert.deepEqual(Array.from(averageRanks([5, 7, 7, 1, 7])), [2, 4, 4, 1, 4]);
  assert.deepEqual(Array.from(averageRanks([3, 3])), [1.5, 1.5]);
});

test('Spearman: hand-computed values with and without ties', () => {
  // y ranks [1, 2, 3.5, 5, 3.5]; centred x [−2..2], centred y [−2, −1, .5, 2, .5]: ρ = 8 / √(10 · 9.5) = 0.8207826816681233
  close(spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]), 8 / Math.sqrt(95));
  close(spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]), 0.8207826816681233);
  // no ties: ρ = 1 − 6Σd²/(n(n²−1)), rank differences d = [0, 0, −1, 1, 0], Σd² = 2, n = 5: 1 − 12/120 = 0.9
  close(spearman([10, 20, 30, 40, 50], [1, 2, 4, 3, 5]), 0.9);
  close(spearman([1, 2, 3], [30, 20, 10]), -1);
  // monotone transforms do not change ranks
  close(spearman([0.1, 5, 2, 9], [Math.exp(0.1), Math.exp(5), Math.exp(2), Math.exp(9)]), 1);
  assert.ok(Number.isNaN(spearman([1, 2, 3], [4, 4, 4])), 'a constant side: undefined');
  assert.ok(Number.isNaN(pearson([1], [2])));
});

test('Kendall τ-b: hand-computed values with ties in x, in y and in both', () => {
  // x = [12, 2, 1, 12, 2], y = [1, 4, 7, 1, 0]: of 10 pairs, (0,3) tie in both (left out), (1,4) ties in x only;
  // of the other 8, C = 2 and D = 6, so τ-b = (2 − 6) / √((8 + 1)(8 + 0)) = −4/√72 = −√2/3 (scipy: −0.47140452079103173)
  close(kendallTauB([12, 2, 1, 12, 2], [1, 4, 7, 1, 0]), -Math.SQRT2 / 3);
  // [1..5] vs [5, 6, 7, 8, 7]: pair (2,4) ties in y; C = 8, D = 1: τ-b = 7 / √(10 · 9) = 0.7378647873726218
  close(kendallTauB([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]), 7 / Math.sqrt(90));
  close(kendallTauB([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  close(kendallTauB([1, 2, 3, 4], [1, 2, 3, 4]), 1);
  assert.ok(Number.isNaN(kendallTauB([1, 1, 1], [1, 2, 3])));
  assert.throws(() => kendallTauB([1, NaN], [1, 2]), /NaN at index 1/);
  assert.throws(() => spearman([1, 2], [1]), /different lengths/);
});

test('Kendall τ-b (merge sort) equals the pair-counting definition on tied random data', () => {
  const rng = new Rng(7);
  for (const [n, levels] of [[3, 1e9], [17, 3], [200, 5], [513, 40], [1000, 1e9]] as const) {
    const x = Array.from({ length: n }, () => Math.floor(rng.uniform() * levels));
    const y = x.map((v) => (rng.uniform() < 0.5 ? v : Math.floor(rng.uniform() * levels)));
    const want = tauBByPairs(x, y);
    assert.ok(Number.isFinite(want), 'the data must leave τ-b defined');
    close(kendallTauB(x, y), want, `n ${n}, ${levels} levels`);
    close(kendallTauB(y, x), want, 'symmetric');
  }
});

test('precision@n: top-n by magnitude, ties by smaller position', () => {
  assert.deepEqual(Array.from(topByMagnitude([0.1, -3, 2, -2, 0], 3)), [1, 2, 3]);
  const truth = [5, -4, 3, 2, 1, 0];
  const method = [-0.5, 0.1, 9, 8, 0, 0]; // its top: 2, 3, 0, 1, ...
  // n=1: {2} vs {0}: 0; n=2: {2,3} vs {0,1}: 0; n=3: {2,3,0} vs {0,1,2}: 2/3; n=4: {2,3,0,1} vs {0,1,2,3}: 1
  assert.deepEqual(precisionAtN(method, truth, [1, 2, 3, 4]), [0, 0, 2 / 3, 1]);
  assert.deepEqual(precisionAtN(truth, truth, [1, 6]), [1, 1]);
  assert.throws(() => precisionAtN([1], [1], [2]), /precision@2 of only 1/);
});

test('variants: canonical names, defaults, and errors that say how to write them', () => {
  assert.equal(parseVariant('eap').name, 'eap');
  assert.equal(parseVariant('eap-ig').name, 'eap-ig:steps=5');
  const gp = parseVariant('eap-gp:eta=.5:norm=batch:steps=3');
  assert.equal(gp.name, 'eap-gp:steps=3:norm=batch:eta=0.5');
  assert.deepEqual(gp.options, { steps: 3, gpEta: 0.5, gpNorm: 'batch', gpStep: 'absolute', gpBacktrack: 0, gpObjective: 'logits', gpEnd: 'free', gpPath: 'gradpath' });
  assert.equal(parseVariant('eap-gp:end=corrupted:backtrack=8:step=relative').name, 'eap-gp:steps=5:step=relative:backtrack=8:end=corrupted');
  assert.equal(parseVariant('eap-gp:path=straight').options.gpPath, 'straight');
  const all = parseVariants('default,eap,eap-gp:steps=20');
  assert.equal(all.length, DEFAULT_VARIANTS.length + 1, 'eap listed twice is kept once');
  assert.deepEqual(all.slice(0, DEFAULT_VARIANTS.length).map((v) => v.name), [...DEFAULT_VARIANTS]);
  assert.throws(() => parseVariants('eap,magic'), /unknown method "magic" in "magic"; choose one of eap, eap-ig/);
  assert.throws(() => parseVariant('eap:steps=5'), /"eap:steps=5": unknown key "steps": eap takes only intervention=/);
  assert.throws(() => parseVariant('ifr:steps=5'), /"ifr:steps=5": ifr takes no options/);
  // a variant runs under the validation's intervention (patching by default): one naming another is refused
  assert.throws(() => parseVariant('eap:intervention=zero'), /"eap:intervention=zero": validate runs under --intervention patching .*give --intervention zero to validate under it/);
  assert.equal(parseVariant('eap:intervention=zero', 'zero').name, 'eap:intervention=zero');
  assert.equal(parseVariant('eap:intervention=patching').name, 'eap');
  assert.throws(() => parseVariant('eap-ig:eta=1'), /eap-ig takes only steps=K/);
  assert.throws(() => parseVariant('eap-gp:steps=0'), /steps must be an integer >= 1, got "0"/);
  assert.throws(() => parseVariant('eap-gp:norm=row'), /norm must be example or batch/);
  assert.throws(() => parseVariant('eap-gp:steps'), /"steps" is not key=value/);
  assert.throws(() => parseVariants(' , '), /no variant given/);
});
