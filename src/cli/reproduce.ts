/** `eapgp reproduce`: every task × method of the EAP-GP paper's evaluation in one resumable run. */
import { STEPS, usesSteps } from '../attribution/method-spec.js';
import { methodNames, methods } from '../attribution/registry.js';
import { modelSpecOrDefault } from '../models/default-model.js';
import { loadModel } from '../models/load.js';
import { checkPlanOptions, DEFAULT_LIMIT, DEFAULT_METHODS, reproduce as runReproduce } from '../reproduce/index.js';
import { taskNames } from '../tasks/index.js';
import { UserError } from '../util/errors.js';
import { ENGINE_OPTIONS, engineFrom, intOption, parse, requireOption } from './args.js';
import { givenCommand } from './command-line.js';
import { checkOutputDir } from './output-paths.js';
import { modelSha256 } from '../shard/fingerprint.js';
import { SHARD_OPTIONS, shardFrom } from '../shard/spec.js';

export const usage = `usage: eapgp reproduce [--model M] [--tasks ioi,greater-than,...] [--methods ${DEFAULT_METHODS.join(',')}]
                       [--limit N] [--batch-size B] [--steps K] [--metric logit-diff|prob-diff]
                       [--data generated|paper | --data-dir DIR] [--seed S] [--force] [--timings] [--quiet]
                       [--shard i/n|auto [--shard-count N]] [--threads N] [--gemm auto|blas|wasm] [--device auto|cpu|gpu] --out DIR

For each task and method: attribution, the faithfulness sweep (greedy by |score|, pruned, edge patching) over
the EAP-IG paper's GPT-2-small edge counts 30..90 by 10 and 100..1900 by 100 (scaled by edges / 32,491 for
larger models; graphs smaller than GPT-2 small's take 26 counts log-spaced from 1 edge to all, plus 2, 5, 10,
20 and 50 % of the edges for the tables), the MIB edge fractions with CPR and CMD, precision/recall against the manual IOI and
Greater-Than circuits (GPT-2 small), and the time per method. Writes DIR/report.md, DIR/results.json,
DIR/plots/*.svg and DIR/graphs/<task>-<method>.json (layout: docs/results-format.md). Without --model, the
built-in default model.

--tasks      default all: ${taskNames.join(',')}
--methods    default ${DEFAULT_METHODS.join(',')} (also ${methodNames().filter((m) => !DEFAULT_METHODS.includes(m)).join(', ')})
--limit      examples per task (default ${DEFAULT_LIMIT}); --batch-size default 20; --steps (${methods().filter(usesSteps).map((m) => m.name).join(', ')}) default ${STEPS.default}
--metric     every task in this metric form (default: each task's own; see eapgp tasks list)
--data       generated (default): each task's data comes from our generators (--seed, default 0), written
             to OUT/data/<task>.csv; paper: the EAP-IG paper's CSVs (its first --limit rows) from the data
             cache, checked by sha256 (fetch them once with \`eapgp data fetch all\`)
--data-dir   read DIR/<task>/eapig-faithfulness_gpt2.csv (a folder laid out like the data cache), else
             DIR/<task>.csv, using its first --limit rows
--force      recompute the selected pairs even if they finished before
--timings    put the time table (and the date) in report.md; without it, report.md and every other output
             are byte-identical for the same inputs and options, and the times, dates, thread counts and
             GEMM path are only in the run logs (DIR/results.log.json, DIR/state/<task>-<method>.log.json)

Resumable: each finished (task, method) is recorded in OUT/state/; a rerun skips those (an interrupted run
continues where it stopped) and rebuilds the report from all of them.

--shard i/n  compute only the i-th of n contiguous runs of the (task, method) pairs (i from 0; auto: from a
             Slurm job array or a Kubernetes Indexed Job), writing their states and graphs and
             DIR/shards/shard-i-of-n.json; \`eapgp merge DIR… --out DIR\` then writes results.json, report.md and
             the plots, the same bytes as one run. Shards may share one DIR (docs/scale-out.md).`;

const list = (v: string | undefined): string[] | undefined => (v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter((s) => s !== ''));

export async function reproduce(argv: string[]): Promise<void> {
  const { values } = parse('reproduce', argv, {
    ...ENGINE_OPTIONS, model: { type: 'string' as const }, tasks: { type: 'string' as const }, methods: { type: 'string' as const },
    limit: { type: 'string' as const }, 'batch-size': { type: 'string' as const }, steps: { type: 'string' as const },
    metric: { type: 'string' as const }, data: { type: 'string' as const }, 'data-dir': { type: 'string' as const }, seed: { type: 'string' as const },
    force: { type: 'boolean' as const }, quiet: { type: 'boolean' as const }, timings: { type: 'boolean' as const }, out: { type: 'string' as const },
    ...SHARD_OPTIONS,
  }, usage);
  if (values.help) return void console.log(usage);
  const out = requireOption(values.out, 'out', usage);
  checkOutputDir(out, 'out');
  const shard = shardFrom(values);
  if (shard && values.timings) throw new UserError('--timings is for the report, which eapgp merge writes from the shards; leave it out of --shard runs');
  const spec = modelSpecOrDefault(values.model);
  const opts = {
    modelPath: spec, out, tasks: list(values.tasks), methods: list(values.methods),
    limit: intOption(values.limit, 'limit'), batchSize: intOption(values['batch-size'], 'batch-size'), steps: intOption(values.steps, 'steps'),
    seed: intOption(values.seed, 'seed', 0), metric: values.metric, dataSource: values.data, dataDir: values['data-dir'], force: values.force, quiet: values.quiet,
  };
  checkPlanOptions(opts); // before the model loads, which can take minutes
  const engine = await engineFrom(values);
  try {
    const { model, tokenizer, dir } = await loadModel(engine, spec, { quiet: values.quiet });
    await runReproduce({
      ...opts, model, tokenizer, timings: values.timings, command: givenCommand('reproduce', argv),
      shard: shard && { shard, modelSha256: modelSha256(dir) },
    });
  } finally {
    await engine.close();
  }
}
