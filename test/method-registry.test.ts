/**
 * The method registry (src/attribution/registry.ts): every method describes itself completely, its options parse
 * and reject bad values naming the option, the defaults live in one place (help, README and graph meta agree
 * with it), and a method added through the registry alone runs in attribute(), scoreEdges, validate's variants
 * and `eapgp attribute`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { attribute } from '../src/attribution/attribute.js';
import { methodsTable, optionsHelp, variantKeysHelp } from '../src/attribution/method-docs.js';
import { choiceOption, metaFields, STEPS, usesSteps } from '../src/attribution/method-spec.js';
import { allOptions, findMethod, getMethod, gradientMethods, methodNames, methods, registerMethod, resolveOptions, unregisterMethod } from '../src/attribution/registry.js';
import { scoreEdges } from '../src/attribution/score.js';
import type { AttributionOptions, Method } from '../src/attribution/types.js';
import { attribute as attributeCommand, usage as attributeUsage } from '../src/cli/attribute.js';
import { methodOptionFlags, methodOptionsFrom } from '../src/cli/method-options.js';
import { usage as reproduceUsage } from '../src/cli/reproduce.js';
import { usage as validateUsage } from '../src/cli/validate.js';
import type { Engine } from '../src/engine/engine.js';
import { loadModel } from '../src/models/load.js';
import { makeRandomModel } from '../src/models/make-model.js';
import { DEFAULT_METHODS } from '../src/reproduce/plan.js';
import { batches, getTask, lossGrad, type TaskExample } from '../src/tasks/index.js';
import type { Label } from '../src/tasks/types.js';
import { isUserError } from '../src/util/errors.js';
import { DEFAULT_VARIANTS, parseVariant } from '../src/validation/variants.js';
import { fixtureCsv } from './helpers/data.js';
import { withEngine } from './helpers/engines.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function userError(fn: () => unknown, re: RegExp, what: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isUserError(e), `${what}: not a UserError: ${String(e)}`);
    assert.match((e as Error).message, re, what);
    return true;
  });
}

test('every method describes itself: name, kind, summary, colour, options, points, validate variants', () => {
  assert.deepEqual(methodNames(), ['eap', 'eap-ig', 'eap-ig-activations', 'clean-corrupted', 'eap-gp', 'atp-star', 'ifr', 'relp', 'ugs', 'exact']);
  const colors = new Set<string>();
  for (const m of methods()) {
    assert.match(m.name, /^[a-z][a-z0-9-]*$/, m.name);
    assert.ok(m.summary.length > 10, `${m.name}: summary`);
    assert.match(m.color, /^#[0-9a-f]{6}$/, `${m.name}: colour`);
    assert.ok(!colors.has(m.color), `${m.name}: colour shared`);
    colors.add(m.color);
    const points = m.points(12, resolveOptions(m));
    assert.ok(Number.isSafeInteger(points) && points >= 1, `${m.name}: points ${points}`);
    // a method attribute() runs takes gradient passes (run) or scores from the clean run (scoreClean), not both
    if (m.kind === 'gradient') assert.equal([(m as Method).run, (m as Method).scoreClean, (m as Method).learn].filter((f) => typeof f === 'function').length, 1, `${m.name}: run, scoreClean or learn`);
    if (m.variantNameOrder) assert.deepEqual([...m.variantNameOrder].sort(), m.options.map((o) => o.variantKey).sort(), `${m.name}: name order`);
    if (m.counterpart) assert.ok(findMethod(m.counterpart), `${m.name}: counterpart ${m.counterpart}`);
    for (const v of m.validateVariants) assert.equal(parseVariant(v === '' ? m.name : `${m.name}:${v}`).method, m.name);
  }
  // what each method records per batch, as the scores' 1/(N·K) divides by it (GPT-2 small: L = 12)
  const K = Object.fromEntries(methods().map((m) => [m.name, m.points(12, resolveOptions(m, { steps: 5 }))]));
  assert.deepEqual(K, { eap: 1, 'eap-ig': 5, 'eap-ig-activations': 125, 'clean-corrupted': 2, 'eap-gp': 5, 'atp-star': 12, ifr: 1, relp: 1, ugs: 1, exact: 1 });
  assert.deepEqual(Object.fromEntries(gradientMethods().map((m) => [m.name, [!!m.recordsClean, !!m.recordsCorrupted]])), {
    eap: [true, false], 'eap-ig': [false, true], 'eap-ig-activations': [false, false], 'clean-corrupted': [true, false], 'eap-gp': [true, false], 'atp-star': [true, false], ifr: [false, false],
    relp: [true, false], ugs: [false, false],
  });
  assert.deepEqual(methods().filter(usesSteps).map((m) => m.name), ['eap-ig', 'eap-ig-activations', 'eap-gp']);
  assert.deepEqual(DEFAULT_METHODS, ['eap', 'eap-ig', 'eap-gp']);
  assert.equal(DEFAULT_VARIANTS.length, 24);
});

test('options: one object per key, valid defaults that round-trip, bad values rejected naming the option', () => {
  const opts = allOptions();
  assert.deepEqual(opts.map((o) => o.key), [
    'intervention', 'steps', 'gpEta', 'gpNorm', 'gpStep', 'gpBacktrack', 'gpObjective', 'gpEnd', 'gpPath', 'qkFix', 'gradDrop', 'relpAttention',
    'ugsLambda', 'ugsLr', 'ugsNodeReg', 'ugsSamples', 'ugsInit', 'ugsEpochs', 'ugsSeed',
  ]);
  assert.equal(new Set(opts.map((o) => o.flag).filter((f) => f !== undefined)).size, opts.filter((o) => o.flag).length, 'flags unique');
  for (const o of opts) {
    assert.ok(o.valid(o.default), `${o.key}: default ${String(o.default)} invalid`);
    assert.equal(o.parse(String(o.default)), o.default, `${o.key}: default round-trips`);
    // (-1 is a valid initial UGS logit)
    for (const bad of ['', 'x', 'NaN', ...(o.valid(-1) ? [] : ['-1'])]) assert.equal(o.parse(bad), undefined, `${o.key} takes "${bad}"`);
  }
  const gp = getMethod('eap-gp');
  userError(() => methodOptionsFrom(gp, { 'gp-eta': '-1' }), /^--gp-eta must be a number >= 0, got "-1"$/, 'gp-eta');
  userError(() => methodOptionsFrom(gp, { 'gp-norm': 'row' }), /^--gp-norm must be example or batch, got "row"$/, 'gp-norm');
  userError(() => methodOptionsFrom(gp, { steps: '2.5' }), /^--steps must be an integer >= 1, got "2.5"$/, 'steps');
  userError(() => methodOptionsFrom(getMethod('exact'), { intervention: 'half' }), /^--intervention must be patching, zero, mean or mean-positional, got "half"$/, 'intervention');
  // another method's option: an error unless it is at its default (then it changes nothing)
  userError(() => methodOptionsFrom(gp, { intervention: 'zero' }), /^--intervention applies to --method eap, eap-ig, eap-ig-activations, clean-corrupted, atp-star, relp, exact only, not eap-gp$/, 'intervention on eap-gp');
  userError(() => methodOptionsFrom(getMethod('eap'), { steps: '10' }), /^--steps applies to --method eap-ig, eap-ig-activations, eap-gp only, not eap$/, 'steps on eap');
  assert.deepEqual(methodOptionsFrom(getMethod('eap'), { steps: '5', 'gp-norm': 'example' }), { intervention: 'patching' });
  assert.deepEqual(methodOptionsFrom(getMethod('eap'), { intervention: 'mean-positional' }), { intervention: 'mean-positional' });
  const variantDefaults = { gpStep: 'absolute', gpBacktrack: 0, gpObjective: 'logits', gpEnd: 'free' };
  assert.deepEqual(methodOptionsFrom(gp, { steps: '3', 'gp-eta': '.5' }), { steps: 3, gpEta: 0.5, gpNorm: 'example', ...variantDefaults, gpPath: 'gradpath' });
  assert.deepEqual(methodOptionsFrom(gp, { 'gp-backtrack': '4', 'gp-end': 'corrupted' }), { steps: 5, gpEta: 1, gpNorm: 'example', ...variantDefaults, gpBacktrack: 4, gpEnd: 'corrupted', gpPath: 'gradpath' });
  userError(() => methodOptionsFrom(gp, { 'gp-backtrack': '1.5' }), /^--gp-backtrack must be an integer >= 0, got "1.5"$/, 'gp-backtrack');
  userError(() => methodOptionsFrom(gp, { 'gp-objective': 'loss' }), /^--gp-objective must be logits or metric, got "loss"$/, 'gp-objective');
  // library callers pass values: the method checks its own
  userError(() => resolveOptions(getMethod('eap-ig'), { steps: 0 }), /^--steps must be an integer >= 1, got 0$/, 'resolve steps');
  userError(() => resolveOptions(gp, { gpNorm: 'row' } as unknown as AttributionOptions), /^--gp-norm must be example or batch, got row$/, 'resolve gpNorm');
  userError(() => getMethod('magic'), /^unknown method "magic"; choose one of eap, eap-ig, eap-ig-activations, clean-corrupted, eap-gp, atp-star, ifr, relp, ugs, exact$/, 'unknown method');
  userError(() => parseVariant('eap-ig:eta=1'), /unknown key "eta": eap-ig takes only steps=K/, 'variant key');
  userError(() => parseVariant('exact'), /unknown method "exact" in "exact"/, 'exact is no variant');
});

test('defaults in one place: graph meta, help texts and the README table read the registry', () => {
  // the scores' graph JSON meta (byte layout of every scores file): steps, then the method's recorded options
  assert.deepEqual(metaFields(getMethod('eap-gp')), { steps: 5, gp_eta: 1, gp_norm: 'example' });
  // GradPath's variant options are recorded only when set: the paper's variant writes the same meta as before them
  assert.deepEqual(metaFields(getMethod('eap-gp'), { gpStep: 'relative', gpEnd: 'corrupted' }), { steps: 5, gp_eta: 1, gp_norm: 'example', gp_step: 'relative', gp_end: 'corrupted' });
  assert.deepEqual(metaFields(getMethod('eap-ig'), { steps: 7 }), { steps: 7, intervention: 'patching' });
  assert.deepEqual(metaFields(getMethod('eap'), { intervention: 'zero' }), { steps: null, intervention: 'zero' });
  assert.deepEqual(metaFields(getMethod('ifr')), { steps: null });
  assert.deepEqual(metaFields(getMethod('relp'), { relpAttention: 'detach' }), { steps: null, relp_attention: 'detach', intervention: 'patching' });
  assert.deepEqual(metaFields(getMethod('ugs'), { ugsLambda: 0.01 }), {
    steps: null, ugs_lambda: 0.01, ugs_lr: 'mib', ugs_node_reg: 'mib', ugs_samples: 12, ugs_init: 1, ugs_epochs: 1, ugs_seed: 0,
  });
  userError(() => methodOptionsFrom(getMethod('ugs'), { 'ugs-lr': 'fast' }), /^--ugs-lr must be a number >= 0 or mib, got "fast"$/, 'ugs-lr');
  assert.deepEqual(methodOptionsFrom(getMethod('ugs'), { 'ugs-lr': '0.5', 'ugs-init': '-0.5' }).ugsLr, 0.5);
  assert.deepEqual(metaFields(getMethod('exact'), { intervention: 'mean' }), { steps: null, intervention: 'mean' });
  for (const o of allOptions().filter((x) => x.flag)) {
    assert.ok(attributeUsage.includes(`[--${o.flag} ${o.metavar}]`), `attribute synopsis lacks --${o.flag}`);
    assert.ok(attributeUsage.includes(`(default ${String(o.default)}; `), `attribute help lacks ${o.flag}'s default`);
  }
  assert.ok(attributeUsage.includes(optionsHelp()));
  assert.match(attributeUsage, /--gp-eta E {2,}GradPath step size η in token-embedding space \(default 1; eap-gp\)/);
  for (const m of methods()) assert.ok(attributeUsage.includes(m.summary), `attribute help lacks ${m.name}`);
  assert.ok(validateUsage.includes(variantKeysHelp()));
  assert.ok(validateUsage.includes(DEFAULT_VARIANTS.join(', ')));
  assert.match(reproduceUsage, /--methods {4}default eap,eap-ig,eap-gp \(also eap-ig-activations, clean-corrupted, atp-star, ifr, relp, ugs, exact\)/);
  assert.match(reproduceUsage, /--steps \(eap-ig, eap-ig-activations, eap-gp\) default 5/);
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  assert.ok(readme.includes(methodsTable() + '\n'), `README.md's methods table differs from the registry; it should read:\n${methodsTable()}`);
  assert.match(methodsTable(), /^\| `eap-gp` \| .* \| `--steps` \(5\), `--gp-eta` \(1\), `--gp-norm` \(example\), `--gp-step` \(absolute\), `--gp-backtrack` \(0\), `--gp-objective` \(logits\), `--gp-end` \(free\), validate `path=` \(gradpath\) \|$/m);
});

// ---- a toy method, added through the registry alone ----

/** The side of the toy's one gradient. */
const SIDE = choiceOption({ key: 'toySide', flag: 'toy-side', variantKey: 'side', metavar: 'clean|corrupted', meta: 'toy_side', default: 'corrupted', values: ['clean', 'corrupted'] as const, help: 'where the gradient is taken' });

/** One gradient at the clean or the corrupted input (so: EAP, or 2·clean-corrupted − EAP). */
const toy: Method = {
  name: 'toy-side',
  kind: 'gradient',
  summary: 'one gradient at the input --toy-side names (a test method)',
  options: [SIDE],
  color: '#123456',
  validateVariants: [],
  points: () => 1,
  run: (ctx) => ctx.point({ tokens: (ctx.opts as unknown as Record<string, unknown>).toySide as 'clean' | 'corrupted' }),
};

const DATA = fixtureCsv('ioi');
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-registry-'));
const modelDir = join(tmp, 'm');
const task = getTask('ioi');
let examples: TaskExample<Label>[];

async function scores(e: Engine, method: string, options: Record<string, unknown> = {}): Promise<Float64Array> {
  const { model, tokenizer } = await loadModel(e, modelDir, { quiet: true });
  examples ??= task.load(DATA, tokenizer, { limit: 8 });
  try {
    return (await attribute({ model, batches: batches(examples, 4), method, options: options as AttributionOptions, loss: (l, B, V, y) => lossGrad(task, l, B, V, y as Label[]) })).scores;
  } finally {
    model.dispose();
  }
}

/** max |a − (Σ c·b)| / max |a|. */
function relDiff(a: Float64Array, terms: [number, Float64Array][]): number {
  let mx = 0, md = 0;
  a.forEach((x, i) => {
    mx = Math.max(mx, Math.abs(x));
    md = Math.max(md, Math.abs(x - terms.reduce((s, [c, b]) => s + c * b[i]!, 0)));
  });
  return md / mx;
}

describe('a toy method registered in this process', () => {
  before(async () => {
    await makeRandomModel({ layers: 2, heads: 3, dModel: 48, seed: 5, initStd: 0.1 }, modelDir);
    registerMethod(toy);
  });
  after(() => {
    unregisterMethod(toy.name);
    rmSync(tmp, { recursive: true, force: true });
  });

  test('a method added through the registry alone runs in attribute(), with its option, and is a validate variant', async () => {
    assert.equal(findMethod('toy-side'), toy);
    assert.throws(() => registerMethod({ ...toy }), /registered already/);
    assert.throws(() => registerMethod({ ...toy, name: 'toy-2', options: [{ ...STEPS, default: 3 }] }), /differs from the registered option/);
    assert.ok('toy-side' in methodOptionFlags());
    assert.deepEqual(parseVariant('toy-side:side=clean'), { name: 'toy-side:side=clean', method: 'toy-side', options: { toySide: 'clean' } });
    assert.equal(parseVariant('toy-side').name, 'toy-side');
    await withEngine({ threads: 1 }, async (e) => {
      const eap = await scores(e, 'eap');
      const cc = await scores(e, 'clean-corrupted');
      const clean = await scores(e, 'toy-side', { toySide: 'clean' });
      const corrupted = await scores(e, 'toy-side');
      // the same gradient as EAP; the corrupted one is what clean-corrupted averages with it
      assert.ok(relDiff(clean, [[1, eap]]) < 1e-6, `toy at clean vs EAP: ${relDiff(clean, [[1, eap]])}`);
      assert.ok(relDiff(corrupted, [[2, cc], [-1, eap]]) < 1e-5, `toy at corrupted vs 2·cc − EAP: ${relDiff(corrupted, [[2, cc], [-1, eap]])}`);
      assert.ok(relDiff(corrupted, [[1, eap]]) > 1e-3, 'the option changes the scores');
      const { model } = await loadModel(e, modelDir, { quiet: true });
      try {
        const via = await scoreEdges({ model, batches: batches(examples, 4), method: 'toy-side', loss: (l, B, V, y) => lossGrad(task, l, B, V, y as Label[]), metric: () => new Float64Array(0), options: { toySide: 'clean' } as AttributionOptions });
        assert.deepEqual(via.scores, clean, 'scoreEdges runs it as attribute() does');
      } finally {
        model.dispose();
      }
    });
  });

  test('eapgp attribute takes a registered method and its flag, and records the option in the graph meta', async () => {
    const out = join(tmp, 'toy.json');
    await attributeCommand(['--model', modelDir, '--task', 'ioi', '--data', DATA, '--limit', '8', '--batch-size', '4', '--method', 'toy-side', '--toy-side', 'clean', '--threads', '1', '--quiet', '--out', out]);
    const g = JSON.parse(readFileSync(out, 'utf8')) as { meta: Record<string, unknown>; edges: Record<string, { score: number }> };
    assert.deepEqual(Object.keys(g.meta).slice(0, 4), ['tool', 'method', 'steps', 'toy_side']);
    assert.equal(g.meta.method, 'toy-side');
    assert.equal(g.meta.steps, null);
    assert.equal(g.meta.toy_side, 'clean');
    const eap = await withEngine({ threads: 1 }, (e) => scores(e, 'eap'));
    const maxEap = Math.max(...eap.map(Math.abs));
    const maxFile = Math.max(...Object.values(g.edges).map((x) => Math.abs(x.score)));
    assert.ok(Math.abs(maxFile - maxEap) <= 1e-6 * maxEap, `largest |score| ${maxFile} vs EAP's ${maxEap}`);
    await assert.rejects(attributeCommand(['--model', modelDir, '--task', 'ioi', '--data', DATA, '--method', 'eap', '--toy-side', 'clean', '--out', join(tmp, 'x.json')]),
      /--toy-side applies to --method toy-side only, not eap/);
  });
});
