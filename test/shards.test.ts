/**
 * Sharded runs (issue #13, docs/scale-out.md): attribute, evaluate and reproduce run as n = 1, 2, 3 separate
 * processes with --shard i/n and `eapgp merge` gives the single run's bytes, whatever the order of the parts.
 * The metrics are not merely close: the merge adds the same float64 numbers in the same (batch) order as the
 * single run, so the bound is 0 ulp, and the tests assert equality. A shard killed mid-run resumes from its last
 * finished batch; merges of missing, duplicated or mismatched parts are refused, naming the files.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { Job } from 'kubernetes-models/batch/v1';
import { PersistentVolumeClaim } from 'kubernetes-models/v1';
import YAML from 'yaml';
import { shardFrom, shardRange } from '../src/shard/spec.js';
import { assertUserError, eapgp, MAIN, makeModel, makeTaskData } from './helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'eapgp-shards-'));
const csv = join(tmp, 'ioi.csv');
const csv2 = join(tmp, 'ioi-other.csv');
const tiny = join(tmp, 'tiny'), tiny2 = join(tmp, 'tiny-seed2');
before(() => {
  makeTaskData('ioi', 18, csv);
  makeTaskData('ioi', 18, csv2, 5);
  makeModel(tiny, { layers: 2, heads: 2, dModel: 16, seed: 1 });
  makeModel(tiny2, { layers: 2, heads: 2, dModel: 16, seed: 2 });
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs eapgp and asserts success; returns stderr. */
function ok(args: string[], env?: Record<string, string>): string {
  const r = eapgp(args, { env });
  assert.equal(r.code, 0, `eapgp ${args.join(' ')}: ${r.err}`);
  return r.err;
}

const bytes = (f: string): Buffer => readFileSync(f);
const parts = (out: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${out}.shard-${i}-of-${n}.part`);

/** Runs shards 0..n−1 of `args` (each its own process) into `out`'s parts; returns the part files. */
function runShards(args: string[], out: string, n: number): string[] {
  for (let i = 0; i < n; i++) ok([...args, '--out', out, '--shard', `${i}/${n}`, '--quiet']);
  return parts(out, n);
}

const ATTR = ['attribute', '--task', 'ioi', '--data', csv, '--batch-size', '3', '--method', 'eap-gp', '--steps', '3'];

/** The single run of ATTR (made by the first test that needs it, so each test also runs alone). */
function attrSingle(): string {
  const f = join(tmp, 'attr-single.json');
  if (!existsSync(f)) ok([...ATTR, '--out', f, '--quiet']);
  return f;
}

test('attribute: 1, 2 and 3 shards merged are the single run, byte for byte, in any order of the parts', () => {
  const single = attrSingle();
  for (const n of [1, 2, 3]) {
    const files = runShards(ATTR, join(tmp, `attr-${n}.json`), n);
    const merged = join(tmp, `attr-merged-${n}.json`), reversed = join(tmp, `attr-reversed-${n}.json`);
    ok(['merge', ...files, '--out', merged]);
    ok(['merge', ...[...files].reverse(), '--out', reversed]);
    assert.ok(bytes(merged).equals(bytes(single)), `${n} shards: merged scores differ from the single run`);
    assert.ok(bytes(reversed).equals(bytes(single)), `${n} shards, parts reversed: differ`);
  }
  const meta = JSON.parse(readFileSync(single, 'utf8')).meta;
  assert.equal(meta.examples, 18);
  assert.equal(meta.method, 'eap-gp');
});

for (const intervention of ['patching', 'mean-positional']) test(`evaluate --fractions --intervention ${intervention}: 2 and 3 shards merged are the single run (the metrics equal: 0 ulp apart)`, () => {
  const graph = attrSingle();
  const EVAL = ['evaluate', '--task', 'ioi', '--data', csv, '--batch-size', '3', '--graph', graph, '--fractions', '--intervention', intervention];
  const single = join(tmp, `eval-single-${intervention}.json`);
  const printed = eapgp([...EVAL, '--out', single, '--quiet']);
  assert.equal(printed.code, 0, printed.err);
  const want = JSON.parse(readFileSync(single, 'utf8'));
  for (const n of [2, 3]) {
    const files = runShards(EVAL, join(tmp, `eval-${intervention}-${n}.json`), n);
    const merged = join(tmp, `eval-merged-${intervention}-${n}.json`);
    const r = eapgp(['merge', ...[...files].reverse(), '--out', merged]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, printed.out, 'merge prints the table evaluate prints');
    assert.ok(bytes(merged).equals(bytes(single)), `${n} shards: results differ`);
    const got = JSON.parse(readFileSync(merged, 'utf8'));
    assert.equal(got.baseline, want.baseline);
    assert.equal(got.corrupted, want.corrupted);
    assert.deepEqual(got.points.map((p: { metric: number }) => p.metric), want.points.map((p: { metric: number }) => p.metric));
    assert.equal(got.cpr, want.cpr);
  }
  assert.equal(want.points.length, 10);
  assert.ok(want.baseline !== want.corrupted);
});

test('attribute --method exact shards over the edges, every shard running every batch (tiny model)', () => {
  const EXACT = ['attribute', '--model', tiny, '--task', 'ioi', '--data', csv, '--limit', '8', '--batch-size', '2', '--method', 'exact'];
  const single = join(tmp, 'exact-single.json');
  ok([...EXACT, '--out', single, '--quiet']);
  const logs = [0, 1, 2].map((i) => ok([...EXACT, '--out', join(tmp, 'exact.json'), '--shard', `${i}/3`, '--quiet']));
  const edges = JSON.parse(readFileSync(single, 'utf8')).edges;
  const E = Object.keys(edges).length;
  assert.match(logs[0]!, new RegExp(`shard 0/3: wrote .* \\(edges 1–${Math.floor(E / 3)} of ${E}\\)`));
  assert.match(logs[2]!, new RegExp(`\\(edges ${Math.floor((2 * E) / 3) + 1}–${E} of ${E}\\)`));
  const files = parts(join(tmp, 'exact.json'), 3);
  ok(['merge', files[2]!, files[0]!, files[1]!, '--out', join(tmp, 'exact-merged.json')]);
  assert.ok(bytes(join(tmp, 'exact-merged.json')).equals(bytes(single)));
});

test('a shard killed after its first batch resumes from its state and merges into the single run', () => {
  const out = join(tmp, 'killed.json');
  const args = [MAIN, ...ATTR, '--out', out, '--shard', '1/2', '--quiet'];
  const killed = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, EAPGP_TEST_KILL_AFTER_BATCHES: '1' } });
  assert.equal(killed.signal, 'SIGKILL', `the shard was to kill itself: ${killed.stderr}`);
  const state = `${out}.shard-1-of-2.part.state`;
  assert.deepEqual(readdirSync(state), ['batch-000003.part'], 'one batch (the 4th of 6) finished before the kill');
  assert.equal(existsSync(`${out}.shard-1-of-2.part`), false, 'no part file from a killed shard');
  ok([...ATTR, '--out', out, '--shard', '0/2', '--quiet']);
  assertUserError(eapgp(['merge', ...parts(out, 2).slice(0, 1), '--out', join(tmp, 'x.json')]), /shard 1 of 2 missing \(a file like .*killed\.json\.shard-1-of-2\.part\)/, 'merge before the resume');
  const resumed = ok([...ATTR, '--out', out, '--shard', '1/2', '--quiet']);
  assert.match(resumed, /resuming: 1 of 3 batches were finished by an earlier run/);
  assert.equal(existsSync(state), false, 'the state goes once the part is written');
  const again = ok([...ATTR, '--out', out, '--shard', '1/2', '--quiet']);
  assert.match(again, /already finished/);
  ok(['merge', ...parts(out, 2), '--out', join(tmp, 'killed-merged.json')]);
  assert.ok(bytes(join(tmp, 'killed-merged.json')).equals(bytes(attrSingle())));
});

test('wrong merges are refused, naming the files, and write nothing', () => {
  const base = ['attribute', '--model', tiny, '--task', 'ioi', '--data', csv, '--batch-size', '3', '--method', 'eap'];
  const a = runShards(base, join(tmp, 'w-a.json'), 2);
  const out = join(tmp, 'w-out.json');
  const refused = (files: string[], message: RegExp, what: string): void => {
    assertUserError(eapgp(['merge', ...files, '--out', out]), message, what);
    assert.equal(existsSync(out), false, `${what}: nothing written`);
  };
  // another method, other data, another model of the same shape (seed), another shard count
  const method = runShards(['attribute', '--model', tiny, '--task', 'ioi', '--data', csv, '--batch-size', '3', '--method', 'eap-ig'], join(tmp, 'w-m.json'), 2);
  // a part's key holds its method's own options (the registry's): eap its intervention, eap-ig its steps too
  refused([a[0]!, method[1]!], /parts of different runs \(method: "eap" vs "eap-ig"; options: \{"intervention":"patching"\} vs \{"steps":5,"intervention":"patching"\}; points: 1 vs 5\)/, 'method');
  const data = runShards(['attribute', '--model', tiny, '--task', 'ioi', '--data', csv2, '--batch-size', '3', '--method', 'eap'], join(tmp, 'w-d.json'), 2);
  refused([a[0]!, data[1]!], /w-a\.json\.shard-0-of-2\.part and .*w-d\.json\.shard-1-of-2\.part are parts of different runs \(data_sha256: /, 'data');
  const model = runShards(['attribute', '--model', tiny2, '--task', 'ioi', '--data', csv, '--batch-size', '3', '--method', 'eap'], join(tmp, 'w-s.json'), 2);
  refused([a[0]!, model[1]!], /parts of different runs \(model_sha256: /, 'model');
  const three = runShards(base, join(tmp, 'w-3.json'), 3);
  refused([a[0]!, three[1]!], /is one of 2 shards but .* one of 3/, 'shard count');
  refused([a[0]!], /shard 1 of 2 missing/, 'missing');
  refused([a[0]!, a[0]!, a[1]!], /w-a\.json\.shard-0-of-2\.part is given twice/, 'the same file twice');
  const copy = join(tmp, 'w-copy.json.shard-0-of-2.part');
  copyFileSync(a[0]!, copy);
  refused([a[1]!, copy, a[0]!], /w-copy\.json\.shard-0-of-2\.part and .*w-a\.json\.shard-0-of-2\.part are both shard 0 of 2|w-a\.json\.shard-0-of-2\.part and .*w-copy\.json\.shard-0-of-2\.part are both shard 0 of 2/, 'shard 0 twice');
  refused([`${a[0]!}.log.json`, a[1]!], /not an eapgp partial result .*this is a run log/, 'a run log');
  // the single run of the same options merges with nothing: it is not a part
  refused([attrSingle()], /not an eapgp partial result \(no EAPGPART signature\)/, 'a finished output');
});

test('--shard i/n and --shard auto (Slurm job arrays, Kubernetes Indexed Jobs); shards cover the batches once', () => {
  assert.deepEqual(shardFrom({ shard: '2/5' }, {}), { index: 2, count: 5 });
  assert.equal(shardFrom({}, {}), undefined);
  assert.deepEqual(shardFrom({ shard: 'auto' }, { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '4' }), { index: 3, count: 4 });
  // an array submitted as --array=1-4 (min 1), and one with a step
  assert.deepEqual(shardFrom({ shard: 'auto' }, { SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '1' }), { index: 3, count: 4 });
  assert.deepEqual(shardFrom({ shard: 'auto' }, { SLURM_ARRAY_TASK_ID: '10', SLURM_ARRAY_TASK_COUNT: '3', SLURM_ARRAY_TASK_MIN: '6', SLURM_ARRAY_TASK_STEP: '2' }), { index: 2, count: 3 });
  assert.deepEqual(shardFrom({ shard: 'auto', 'shard-count': '6' }, { JOB_COMPLETION_INDEX: '5' }), { index: 5, count: 6 });
  assert.deepEqual(shardFrom({ shard: 'auto' }, { JOB_COMPLETION_INDEX: '0', EAPGP_SHARD_COUNT: '2' }), { index: 0, count: 2 });
  const refused = (values: { shard?: string; 'shard-count'?: string }, env: NodeJS.ProcessEnv, message: RegExp): void =>
    assert.throws(() => shardFrom(values, env), (e: Error) => e.name === 'UserError' && message.test(e.message));
  refused({ shard: 'auto' }, {}, /--shard auto found no scheduler: set SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT .* JOB_COMPLETION_INDEX/);
  refused({ shard: 'auto' }, { JOB_COMPLETION_INDEX: '1' }, /give --shard-count N or set EAPGP_SHARD_COUNT/);
  refused({ shard: 'auto' }, { SLURM_ARRAY_TASK_ID: '1' }, /SLURM_ARRAY_TASK_COUNT is not/);
  refused({ shard: 'auto', 'shard-count': '2' }, { JOB_COMPLETION_INDEX: '2' }, /shard index 2 is outside 0\.\.1/);
  refused({ shard: '3/3' }, {}, /shard index 3 is outside 0\.\.2/);
  refused({ shard: '1/0' }, {}, /count must be an integer >= 1/);
  refused({ shard: '1-3' }, {}, /--shard must be i\/n/);
  refused({ shard: '0/2', 'shard-count': '2' }, {}, /--shard-count goes with --shard auto only/);
  for (let total = 0; total <= 10; total++) {
    for (let n = 1; n <= 7; n++) {
      const covered = Array.from({ length: n }, (_, i) => shardRange({ index: i, count: n }, total)).flatMap(({ start, end }) => Array.from({ length: end - start }, (_, k) => start + k));
      assert.deepEqual(covered, Array.from({ length: total }, (_, k) => k), `${total} batches over ${n} shards`);
    }
  }
  // empty variables count as unset
  assertUserError(eapgp([...ATTR, '--out', join(tmp, 'auto.json'), '--shard', 'auto'], { env: { SLURM_ARRAY_TASK_ID: '', JOB_COMPLETION_INDEX: '' } }), /--shard auto found no scheduler/, 'empty env');
});

/** Every file under `dir` but the run logs and the shard records, by relative path. */
function outputs(dir: string): Map<string, Buffer> {
  const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath ?? d.path, d.name))).filter((f) => !f.endsWith('.log.json') && !f.startsWith('shards')).sort();
  return new Map(files.map((f) => [f, readFileSync(join(dir, f))]));
}

function assertSameOutputs(got: string, want: string): void {
  const a = outputs(got), b = outputs(want);
  assert.deepEqual([...a.keys()], [...b.keys()], 'the same files');
  for (const [f, x] of b) assert.ok(a.get(f)!.equals(x), `${f} differs`);
}

const REPRO = ['reproduce', '--model', tiny, '--tasks', 'ioi,sva', '--methods', 'eap,eap-gp', '--limit', '8', '--batch-size', '4'];

/** The single run of REPRO (made once). */
function reproSingle(): string {
  const d = join(tmp, 'r-single');
  if (!existsSync(join(d, 'results.json'))) ok([...REPRO, '--out', d, '--quiet']);
  return d;
}

test('reproduce: shards of the (task, method) pairs, in separate or one shared directory, merge into the single run', () => {
  const single = reproSingle();
  const shared = join(tmp, 'r-shared');
  for (let i = 0; i < 3; i++) ok([...REPRO, '--out', shared, '--shard', `${i}/3`, '--quiet']);
  assert.equal(existsSync(join(shared, 'results.json')), false, 'shards write no results.json');
  ok(['merge', shared, '--out', shared]);
  assertSameOutputs(shared, single);
  const dirs = [0, 1].map((i) => join(tmp, `r-sep-${i}`));
  dirs.forEach((d, i) => ok([...REPRO, '--out', d, '--shard', `${i}/2`, '--quiet']));
  ok(['merge', dirs[1]!, dirs[0]!, '--out', join(tmp, 'r-merged')]);
  assertSameOutputs(join(tmp, 'r-merged'), single);
  assertUserError(eapgp(['merge', dirs[0]!, '--out', join(tmp, 'r-x')]), /shard 1 of 2 missing/, 'reproduce shard missing');
  const other = join(tmp, 'r-other');
  ok([...REPRO.map((a) => (a === '8' ? '12' : a)), '--out', other, '--shard', '1/2', '--quiet']);
  assertUserError(eapgp(['merge', dirs[0]!, other, '--out', join(tmp, 'r-x')]), /shards of different runs \(.*settings: /, 'reproduce shards of other settings');
  assert.equal(existsSync(join(tmp, 'r-x')), false);
});

test('the Slurm script passes bash -n and runs a sharded reproduce and its merge with the array variables set by hand', () => {
  const script = join(import.meta.dirname, '..', '..', 'docs', 'scale-out', 'slurm-reproduce.sh');
  assert.equal(spawnSync('bash', ['-n', script]).status, 0, 'bash -n');
  const out = join(tmp, 'slurm');
  const env = {
    ...process.env, EAPGP: `${process.execPath} ${MAIN}`, OUT: out, MODEL: tiny, TASKS: 'ioi,sva', METHODS: 'eap,eap-gp', LIMIT: '8', BATCH_SIZE: '4', THREADS: '1',
  };
  // an array submitted as --array=1-2: the script's shard is TASK_ID − TASK_MIN
  for (const id of ['1', '2']) {
    const r = spawnSync('bash', [script], { encoding: 'utf8', env: { ...env, SLURM_ARRAY_TASK_ID: id, SLURM_ARRAY_TASK_COUNT: '2', SLURM_ARRAY_TASK_MIN: '1' } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`shard ${Number(id) - 1}/2: wrote shards/shard-${Number(id) - 1}-of-2\\.json`));
  }
  const m = spawnSync('bash', [script, 'merge'], { encoding: 'utf8', env });
  assert.equal(m.status, 0, m.stderr);
  assertSameOutputs(out, reproSingle());
  const outside = spawnSync('bash', [script], { encoding: 'utf8', env });
  assert.equal(outside.status, 2);
  assert.match(outside.stderr, /not in a job array/);
});

test('the Kubernetes manifests validate against the Kubernetes API schema, and the Indexed Job\'s pod command runs each shard', () => {
  const dir = join(import.meta.dirname, '..', '..', 'docs', 'scale-out');
  const docs = ['k8s-reproduce.yaml', 'k8s-merge.yaml'].flatMap((f) => YAML.parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJSON()));
  assert.deepEqual(docs.map((d) => d.kind), ['PersistentVolumeClaim', 'Job', 'Job']);
  // kubernetes-models' JSON schemas (generated from the Kubernetes OpenAPI spec): a missing or mistyped field throws
  new PersistentVolumeClaim(docs[0]).validate();
  for (const d of docs.slice(1)) new Job(d).validate();
  assert.throws(() => new Job({ ...docs[1], spec: { ...docs[1].spec, completions: 'eight' } }).validate(), /completions must be integer/);
  const job = docs[1];
  assert.equal(job.spec.completionMode, 'Indexed');
  const pod = job.spec.template.spec.containers[0];
  const count = pod.env.find((e: { name: string }) => e.name === 'EAPGP_SHARD_COUNT').value;
  assert.equal(Number(count), job.spec.completions, 'EAPGP_SHARD_COUNT = completions');
  assert.equal(job.spec.template.spec.volumes[0].persistentVolumeClaim.claimName, docs[0].metadata.name);
  assert.equal(docs[2].spec.template.spec.volumes[0].persistentVolumeClaim.claimName, docs[0].metadata.name);
  // the pods' commands, run here with the index Kubernetes would set (the tiny model and 8 rows instead of GPT-2 XL and 1,000)
  const out = join(tmp, 'k8s');
  const local = (cmd: string[]): string[] => {
    const args = cmd.slice(1).map((a) => (a.startsWith('/runs/') ? join(out, a.slice('/runs/'.length)) : a));
    const at = (flag: string, value: string): void => void (args[args.indexOf(flag) + 1] = value);
    if (args.includes('--model')) {
      at('--model', tiny);
      at('--limit', '8');
      at('--batch-size', '4');
      args.push('--tasks', 'ioi,sva', '--methods', 'eap,eap-gp');
    }
    return args;
  };
  assert.equal(pod.command[0], 'eapgp');
  for (let i = 0; i < job.spec.completions; i++) ok(local(pod.command), { JOB_COMPLETION_INDEX: String(i), EAPGP_SHARD_COUNT: count });
  ok(local(docs[2].spec.template.spec.containers[0].command));
  assertSameOutputs(join(out, 'reproduce'), reproSingle());
});

test('validate --shard splits exact patching over the edges; --exact-from reads the parts and writes what one run writes', () => {
  const V = ['validate', '--model', tiny, '--task', 'ioi', '--limit', '8', '--batch-size', '4', '--variants', 'eap,eap-gp', '--quiet'];
  // each run in its own directory with the same relative --out, as the recorded command line holds --out
  const run = (name: string, args: string[], env?: Record<string, string>): string => {
    const cwd = join(tmp, name);
    mkdirSync(cwd, { recursive: true });
    const r = eapgp([...V, ...args, '--out', 'out'], { cwd, env });
    assert.equal(r.code, 0, r.err);
    return join(cwd, 'out');
  };
  const single = run('v-single', []);
  for (let i = 0; i < 3; i++) run('v-sharded', ['--shard', `${i}/3`]);
  const sharded = run('v-sharded', ['--exact-from', 'out']);
  for (const f of ['results.json', 'summary.md', 'faithfulness.svg', 'exact.json']) {
    assert.ok(bytes(join(sharded, f)).equals(bytes(join(single, f))), `${f} differs`);
  }
  const results = JSON.parse(readFileSync(join(single, 'results.json'), 'utf8'));
  assert.equal(results.variants.length, 2);
  assertUserError(eapgp([...V.map((a) => (a === '4' ? '2' : a)), '--exact-from', sharded, '--out', join(tmp, 'v-x')]), /--exact-from .*: the shards ran with other inputs or options than this run \(batch_size: 4 vs 2\)/, 'other batch size');
  assertUserError(eapgp([...V, '--exact-from', join(tmp, 'v-single'), '--out', join(tmp, 'v-x')]), /no exact\.json\.shard-i-of-n\.part in it/, 'no parts');
});
