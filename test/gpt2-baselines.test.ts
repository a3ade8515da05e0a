/**
 * On real GPT-2 small only (EAPGP_GPT2_DIR), with the published data in the data cache (`eapgp data fetch all`):
 * the clean and corrupted baselines m(M) and m(∅) of the six tasks
 * on the EAP-IG paper's datasets equal its published numbers to 1e-3.
 *
 * Reference: hannamw/eap-ig-faithfulness pareto.py reads data/<task>/gpt2.csv (in the data cache
 * <task>/eapig-faithfulness_gpt2.csv), keeps `ds.head(3000)` (every row, except the
 * first 3,000 of sva's 12,400) and writes `baseline` / `corrupted_baseline` to
 * results/pareto/gpt2/csv/<task>.csv (our reference-results/eap-ig-faithfulness/pareto__gpt2__csv__*.csv),
 * each the mean over examples of the task's default metric. Its cross-task script evaluates the other metric
 * form of two tasks on every row (cross-task__gpt2__csv__faithfulness.csv): capital-country ("fact-retrieval-
 * comma") in prob-diff and hypernymy in logit-diff; those are checked too. The numbers are read from the
 * files here, never copied.
 *
 * Tolerance: 1e-3 absolute (relative for |value| > 1, i.e. hypernymy's logit sum of about 23): their
 * float32 CUDA runs and our float32 CPU runs differ by rounding only, orders of magnitude below that.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { dataCacheDir } from '../src/data/cache.js';
import { createEngine, type Engine } from '../src/engine/engine.js';
import { baselines } from '../src/evaluation/evaluate.js';
import { loadModel, type LoadedModel } from '../src/models/load.js';
import { getTask, taskNames } from '../src/tasks/index.js';
import { prepareTaskData } from '../src/tasks/prepare.js';
import { columnIndex, readCsv } from '../src/util/csv.js';
import { published } from './helpers/data.js';

const GPT2 = process.env['EAPGP_GPT2_DIR'];
const DATA = published(...taskNames, 'reference');
const SKIP = !GPT2
  ? 'EAPGP_GPT2_DIR is not set. To run this check, download GPT-2 small (e.g. `huggingface-cli download gpt2 config.json ' +
    'model.safetensors --local-dir ~/gpt2`), fetch the published data (`eapgp data fetch all`) and run ' +
    '`EAPGP_GPT2_DIR=~/gpt2 node --test dist/test/gpt2-baselines.test.js`'
  : DATA.skip;

const TASKS = dataCacheDir();
const REF = join(TASKS, 'reference-results', 'eap-ig-faithfulness');
/** Task names in eap-ig-faithfulness. */
const THEIR_NAME: Record<string, string> = { 'capital-country': 'fact-retrieval-comma', hypernymy: 'hypernymy-comma' };
const their = (task: string): string => THEIR_NAME[task] ?? task;
/** pareto.py's ds.head(3000). */
const PARETO_ROWS = 3000;

/** Column `name` of the first data row of a reference CSV, as a number. */
function refValue(file: string, name: string, row = 0): number {
  const t = readCsv(join(REF, file));
  const v = Number(t.rows[row]!.values[columnIndex(t, name)]);
  assert.ok(Number.isFinite(v), `${file}: ${name} is not a number`);
  return v;
}

let engine: Engine;
let gpt2: LoadedModel;

before(async () => {
  if (SKIP) return;
  engine = await createEngine();
  gpt2 = await loadModel(engine, GPT2!, { quiet: true });
  const { nLayer, nHead, dModel } = gpt2.config;
  assert.deepEqual({ nLayer, nHead, dModel }, { nLayer: 12, nHead: 12, dModel: 768 }, `EAPGP_GPT2_DIR=${GPT2} must hold GPT-2 small`);
});
after(async () => engine?.close());

/** `limit` undefined: every row. */
function check(task: string, metric: string | undefined, limit: number | undefined, want: { clean: number; corrupted: number }): void {
  const csv = join(TASKS, task, 'eapig-faithfulness_gpt2.csv');
  const data = prepareTaskData(getTask(task), csv, gpt2.tokenizer, { limit, batchSize: 25, metric });
  const got = baselines(gpt2.model, data.batches, data.metric);
  for (const k of ['clean', 'corrupted'] as const) {
    const tol = 1e-3 * Math.max(1, Math.abs(want[k]));
    assert.ok(Math.abs(got[k] - want[k]) <= tol, `${task} ${data.task.metricKind} (${data.examples} rows) ${k}: ours ${got[k]}, published ${want[k]}`);
  }
}

for (const task of taskNames) {
  test(`${task}: m(M) and m(∅) equal pareto__gpt2__csv__${their(task)}.csv`, { skip: SKIP }, () => {
    const file = `pareto__gpt2__csv__${their(task)}.csv`;
    check(task, undefined, PARETO_ROWS, { clean: refValue(file, 'baseline'), corrupted: refValue(file, 'corrupted_baseline') });
  });
}

for (const [task, metric] of [['capital-country', 'prob-diff'], ['hypernymy', 'logit-diff']] as const) {
  test(`${task} in ${metric}: m(M) and m(∅) equal cross-task__gpt2__csv__faithfulness.csv`, { skip: SKIP }, () => {
    // one row per task in the order of its columns; baseline and corrupted_baseline are the evaluated task's
    const t = readCsv(join(REF, 'cross-task__gpt2__csv__faithfulness.csv'));
    const row = columnIndex(t, their(task));
    const file = 'cross-task__gpt2__csv__faithfulness.csv';
    check(task, metric, undefined, { clean: refValue(file, 'baseline', row), corrupted: refValue(file, 'corrupted_baseline', row) });
  });
}
