/**
 * No surprises on the command line: a graph without a flagged circuit is not silently evaluated as empty,
 * budgets above the graph's size are clamped with a note, a graph of another task draws a warning, negative
 * numbers reach the options' range checks, unknown options and commands get the nearest name, output paths are
 * checked before any work, and no bad input anywhere ends in a stack trace (the audit at the end runs every
 * command on missing files, directories, malformed JSON and wrong names).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Graph, greedy, readGraphJson, writeGraphJson } from '../src/graph/index.js';
import { nearest } from '../src/util/suggest.js';
import { assertUserError, eapgp, MAIN, makeModel, makeTaskData, STACK } from './helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'eapgp-surprises-'));
const model = join(tmp, 'model'); // 2 layers × 2 heads: 46 edges
const ioi = join(tmp, 'ioi.csv');
const gt = join(tmp, 'greater-than.csv');
const scores = join(tmp, 'scores.json'); // attribute's output: scores, no circuit flagged
const dir = join(tmp, 'a-directory');
const ref = join(tmp, 'gpt2-small-shaped.json'); // a 12 × 12 graph for compare, no circuit flagged
before(() => {
  makeModel(model);
  makeTaskData('ioi', 6, ioi);
  makeTaskData('greater-than', 6, gt);
  mkdirSync(dir);
  const r = eapgp(['attribute', '--model', model, '--task', 'ioi', '--data', ioi, '--method', 'eap', '--quiet', '--out', scores]);
  assert.equal(r.code, 0, r.err);
  const g = new Graph(12, 12);
  g.setScoresDense(Float64Array.from({ length: g.nSrc * g.nDst }, (_, i) => Math.sin(i)), 'ignore');
  writeGraphJson(ref, g, { dModel: 768, meta: { task: 'greater-than' } });
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const evaluate = (...extra: string[]) => eapgp(['evaluate', '--model', model, '--task', 'ioi', '--data', ioi, '--quiet', ...extra]);

test('evaluate: a graph that flags no circuit is an error saying what to add; one that flags a circuit is evaluated', () => {
  assertUserError(evaluate('--graph', scores), /scores\.json flags no circuit .* add --edges 100,200,500 .*--fractions/, 'evaluate without a selection');
  const flagged = join(tmp, 'flagged.json');
  const { graph, cfg, meta } = readGraphJson(scores);
  greedy(graph, 5, { absolute: true }); // as demo flags its circuit
  writeGraphJson(flagged, graph, { cfg, meta });
  const r = evaluate('--graph', flagged, '--json');
  assert.equal(r.code, 0, r.err);
  const points = (JSON.parse(r.out) as { points: { requested: number | null; edges: number }[] }).points;
  assert.equal(points.length, 1);
  assert.equal(points[0]!.requested, null);
  assert.ok(points[0]!.edges > 0 && points[0]!.edges <= 5, 'the flagged circuit (pruned), not an empty one');
  assert.equal(evaluate('--graph', scores, '--fractions', '--json').code, 0);
});

test('evaluate: --edges above the graph size are clamped to it with a note; a graph of another task is warned about', () => {
  const r = evaluate('--graph', scores, '--edges', '5,100000,46', '--json');
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /^note: --edges 100000 exceeds the graph's 46 edges; using 46 \(every edge\) instead$/m);
  const j = JSON.parse(r.out) as { points: { requested: number; faithfulness: number }[]; warnings: string[] };
  assert.deepEqual(j.points.map((p) => p.requested), [5, 46]);
  assert.ok(Math.abs(j.points[1]!.faithfulness - 1) < 1e-5, 'every edge: F = 1');
  assert.ok(!j.warnings.some((w) => /meta\.task/.test(w)));
  const other = eapgp(['evaluate', '--model', model, '--task', 'greater-than', '--data', gt, '--graph', scores, '--edges', '5', '--quiet', '--json']);
  assert.equal(other.code, 0, other.err);
  const warning = 'scores.json holds scores for task ioi (its meta.task) but is used with --task greater-than';
  assert.ok((JSON.parse(other.out) as { warnings: string[] }).warnings.some((w) => w.includes(warning)));
  assert.ok(other.err.includes(warning));
});

test('compare: no flagged circuit is an error; --edges are clamped; another task is warned about', () => {
  assertUserError(eapgp(['compare', '--task', 'ioi', '--graph', ref]), /flags no circuit .* add --edges/, 'compare without --edges');
  const r = eapgp(['compare', '--task', 'ioi', '--graph', ref, '--edges', '100,999999', '--json']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /note: --edges 999999 exceeds the graph's 32,491 edges; using 32491/);
  assert.match(r.err, /warning: .* holds scores for task greater-than \(its meta\.task\) but is used with --task ioi/);
  assert.deepEqual((JSON.parse(r.out) as { points: { requested: number }[] }).points.map((p) => p.requested), [100, 32491]);
});

test('output paths are checked before any work: a directory for a file, a file for a directory', () => {
  const file = join(tmp, 'a-file');
  writeFileSync(file, 'x');
  const cases: [string[], RegExp][] = [
    [['attribute', '--model', model, '--task', 'ioi', '--data', ioi, '--method', 'eap', '--out', dir], /--out .*a-directory is a directory; give a file name, e\.g\. --out .*scores\.json/],
    [['evaluate', '--model', model, '--task', 'ioi', '--data', ioi, '--graph', scores, '--edges', '5', '--svg', dir], /--svg .* is a directory/],
    [['evaluate', '--model', model, '--task', 'ioi', '--data', ioi, '--graph', scores, '--edges', '5', '--out', join(file, 'x.json')], /a-file is a file, not a directory/],
    [['path', '--model', model, '--task', 'ioi', '--data', ioi, '--out', dir], /--out .* is a directory/],
    [['tasks', 'make', 'ioi', '--n', '3', '--out', dir], /--out .* is a directory; give a file name, e\.g\. --out .*ioi\.csv/],
    [['make-model', '--layers', '1', '--heads', '1', '--d-model', '8', '--out', file], /--out .*a-file is a file; give a directory/],
    [['reproduce', '--model', model, '--out', file], /--out .*a-file is a file; give a directory/],
    [['validate', '--model', model, '--task', 'ioi', '--out', file], /--out .*a-file is a file; give a directory/],
    [['train', '--tasks', 'ioi', '--layers', '1', '--heads', '1', '--d-model', '8', '--steps', '1', '--out', file], /--out .*a-file is a file/],
    [['demo', '--model', model, '--out', file], /--out .*a-file is a file/],
  ];
  for (const [args, message] of cases) {
    const r = eapgp(args);
    assertUserError(r, message, args.slice(0, 2).join(' '));
    assert.doesNotMatch(r.err, /attribution|evaluating|examples\/s/, `${args[0]}: fails before computing`);
  }
});

test('--gemm blas without the addon is a clear error', () => {
  const r = eapgp(['run', '--model', model, '--prompt', 'x', '--gemm', 'blas'], { env: { EAPGP_NO_BLAS: '1' } });
  assertUserError(r, /BLAS was requested \(--gemm blas or EAPGP_GEMM=blas\) but the native addon is not available: disabled by EAPGP_NO_BLAS\. Use --gemm auto or --gemm wasm/, '--gemm blas');
});

test('output piped into a reader that stops early ends quietly (no EPIPE trace)', { skip: process.platform === 'win32' }, () => {
  const r = spawnSync('bash', ['-c', `"${process.execPath}" "${MAIN}" run --model "${model}" --prompt x --json | head -c 20 >/dev/null; echo "status \${PIPESTATUS[0]}" >&2`], { encoding: 'utf8' });
  assert.match(r.stderr, /status 0\s*$/);
  assert.doesNotMatch(r.stderr, /EPIPE|Unhandled|at .*:\d+:\d+/);
});

test('negative numbers are option values, checked against the option\'s range', () => {
  assertUserError(eapgp(['tasks', 'make', 'ioi', '--n', '3', '--seed', '-3', '--out', join(tmp, 'x.csv')]), /--seed must be an integer >= 0, got "-3"/, '--seed -3');
  assertUserError(eapgp(['attribute', '--model', model, '--task', 'ioi', '--data', ioi, '--method', 'eap-gp', '--gp-eta', '-1', '--out', join(tmp, 'x.json')]),
    /--gp-eta must be a number >= 0, got "-1"/, '--gp-eta -1');
  assertUserError(evaluate('--graph', scores, '--edges', '-5'), /--edges: "-5" is not a positive integer/, '--edges -5');
  assertUserError(eapgp(['run', '--model', model, '--prompt', 'x', '--threads', '-2']), /--threads must be an integer >= 1, got "-2"/, '--threads -2');
  assertUserError(eapgp(['train', '--tasks', 'ioi', '--layers', '1', '--heads', '1', '--d-model', '8', '--steps', '1', '--lr', '-.5', '--out', join(tmp, 't')]),
    /--lr must be a number >= .*, got "-\.5"/, '--lr -.5');
  // a negative number is also just a value where any string is: the prompt "-1"
  const r = eapgp(['run', '--model', model, '--prompt', '-1', '--json']);
  assert.equal(r.code, 0, r.err);
  assert.equal((JSON.parse(r.out) as { ids: number[] }).ids.length, 3); // <|endoftext|>, "-", "1"
});

test('unknown options and commands get the nearest name; stray arguments are errors', () => {
  assertUserError(evaluate('--grpah', scores), /^eapgp: evaluate: unknown option --grpah; did you mean --graph\?$/m, '--grpah');
  assertUserError(eapgp(['attribute', '--metod', 'eap']), /unknown option --metod; did you mean --method\?/, '--metod');
  assertUserError(eapgp(['reproduce', '--task', 'ioi']), /unknown option --task; did you mean --tasks\?/, '--task');
  const far = eapgp(['attribute', '--zzzzzz', '1']);
  assertUserError(far, /unknown option --zzzzzz\n/, '--zzzzzz');
  assert.doesNotMatch(far.err, /did you mean/);
  const cmd = eapgp(['atribute']);
  assert.equal(cmd.code, 2);
  assert.match(cmd.err, /unknown command "atribute"; did you mean "attribute"\?/);
  assertUserError(evaluate('--graph', scores, '--edges', '5', '10'), /unexpected argument "10": every option takes one value \(write lists with commas/, 'stray argument');
  assert.equal(nearest('evalute', ['evaluate', 'attribute']), 'evaluate');
  assert.equal(nearest('fractons', ['fractions', 'edges']), 'fractions');
  assert.equal(nearest('q', ['quiet', 'json']), undefined);
  assert.equal(nearest('da', ['data', 'data-dir']), undefined, 'an ambiguous prefix suggests nothing');
});

test('audit: bad input to every command ends in one clear message and exit 1, never a stack trace', () => {
  const badJson = join(tmp, 'bad.json');
  writeFileSync(badJson, '{"cfg": {"n_layers": 2,');
  const notGraph = join(tmp, 'not-graph.json');
  writeFileSync(notGraph, '[1, 2]');
  const badCsv = join(tmp, 'bad.csv');
  writeFileSync(badCsv, 'a,b\n1,2\n');
  const missing = join(tmp, 'missing');
  const task = (...rest: string[]) => ['--model', model, '--task', 'ioi', '--data', ioi, ...rest];
  const cases: string[][] = [
    ['run', '--model', missing, '--prompt', 'x'],
    ['run', '--model', dir, '--prompt', 'x'],
    ['run', '--model', ioi, '--prompt', 'x'],
    ['info', '--gemm', 'fast'],
    ['attribute', '--model', model, '--task', 'ioi', '--data', missing, '--method', 'eap', '--out', join(tmp, 'o.json')],
    ['attribute', '--model', model, '--task', 'ioi', '--data', dir, '--method', 'eap', '--out', join(tmp, 'o.json')],
    ['attribute', '--model', model, '--task', 'ioi', '--data', badCsv, '--method', 'eap', '--out', join(tmp, 'o.json')],
    ['attribute', '--model', model, '--task', 'ioii', '--data', ioi, '--method', 'eap', '--out', join(tmp, 'o.json')],
    ['attribute', ...task('--method', 'eap-xx', '--out', join(tmp, 'o.json'))],
    ['attribute', ...task('--method', 'eap', '--verbs', missing, '--out', join(tmp, 'o.json'))],
    ['attribute', ...task('--method', 'eap', '--metric', 'kl', '--out', join(tmp, 'o.json'))],
    ['evaluate', ...task('--graph', missing)],
    ['evaluate', ...task('--graph', dir)],
    ['evaluate', ...task('--graph', badJson)],
    ['evaluate', ...task('--graph', notGraph)],
    ['evaluate', ...task('--graph', ref, '--edges', '5')],
    ['evaluate', ...task('--graph', scores, '--select', 'best')],
    ['compare', '--task', 'ioi', '--graph', badJson],
    ['compare', '--task', 'sva', '--graph', ref, '--edges', '10'],
    ['compare', '--task', 'ioi', '--graph', scores, '--edges', '10'],
    ['tasks', 'make', 'ioii', '--n', '3', '--out', join(tmp, 'x.csv')],
    ['tasks', 'mak', 'ioi'],
    ['make-model', '--layers', '2', '--heads', '3', '--d-model', '16', '--out', join(tmp, 'mm')],
    ['make-model', '--layers', '2', '--heads', '2', '--d-model', '16', '--tokenizer-dir', missing, '--out', join(tmp, 'mm')],
    ['path', ...task('--points', '1', '--out', join(tmp, 'p.json'))],
    ['reproduce', '--model', model, '--tasks', 'ioii', '--out', join(tmp, 'r')],
    ['reproduce', '--model', model, '--tasks', 'ioi', '--methods', 'eap,eap', '--out', join(tmp, 'r')],
    ['reproduce', '--model', model, '--tasks', 'ioi', '--data-dir', missing, '--out', join(tmp, 'r')],
    ['validate', '--model', model, '--task', 'ioi', '--variants', 'eap:steps=x'],
    ['validate', '--model', model, '--task', 'custom'],
    ['view', missing, '--port', '70000'],
    ['train', '--tasks', 'ioii', '--layers', '1', '--heads', '1', '--d-model', '8', '--steps', '1', '--out', join(tmp, 't')],
    ['demo', '--model', model, '--edges', '10,lots', '--out', join(tmp, 'd')],
  ];
  for (const args of cases) {
    const r = eapgp(args);
    assert.equal(r.code, 1, `${args.join(' ')}: exit ${r.code}\n${r.err}`);
    assert.match(r.err, /^eapgp: \S/m, args.join(' '));
    assert.doesNotMatch(r.err, STACK, `${args.join(' ')}: no stack trace\n${r.err}`);
  }
  assert.ok(!existsSync(join(tmp, 'o.json')) && !existsSync(join(tmp, 'r')) && !existsSync(join(tmp, 'mm')), 'nothing written');
  assert.ok(readFileSync(ioi, 'utf8').length > 0);
});
