/** `eapgp validate`: exact patching of every edge as ground truth, and how each attribution variant compares. */
import { join } from 'node:path';
import { Graph, writeGraphJson } from '../graph/index.js';
import { loadModel } from '../models/load.js';
import { writeFileAtomicSync } from '../util/atomic-write.js';
import { UserError } from '../util/errors.js';
import { createProgress } from '../util/progress.js';
import { makeRunLog, RunClock, writeRunLog } from '../util/run-log.js';
import { formatMarkdown, formatText, toJson, variantSeconds, type ValidationMeta } from '../validation/report.js';
import { faithfulnessChart } from '../validation/chart.js';
import { validate as runValidation } from '../validation/runner.js';
import { DEFAULT_VARIANTS, validationVariants } from '../validation/variants.js';
import { version } from '../version.js';
import { gapWarning } from '../evaluation/degenerate.js';
import { baselinesUnder } from '../evaluation/evaluate.js';
import { droppedRowsWarning, identicalRowsWarning } from '../tasks/prepare.js';
import { ENGINE_OPTIONS, engineFrom, parse, warn } from './args.js';
import { givenCommand, recordedCommand } from './command-line.js';
import { checkOutputDir } from './output-paths.js';
import { GENERATED_OPTIONS, loadOrGenerateTaskData } from './generated-data.js';
import { TASK_OPTIONS } from './task-data.js';
import { modelSpecOrDefault } from '../models/default-model.js';
import { readdirSync } from 'node:fs';
import { edgeScoresFrom, scoreEdgeBatches, type ScoreEdgesArgs } from '../attribution/score.js';
import type { GraphLayout } from '../models/layout.js';
import { checkParts } from '../shard/merge.js';
import { keyDifferences } from '../shard/partial.js';
import { runShard } from '../shard/run.js';
import { SHARD_OPTIONS, shardFrom, shardRange } from '../shard/spec.js';
import { attributeKey } from './attribute.js';
import { INTERVENTION } from '../attribution/ablation.js';
import { exact as exactMethod } from '../attribution/exact-method.js';
import { variantKeysHelp } from '../attribution/method-docs.js';
import { optionValue } from './method-options.js';

/** Generated prompts when neither --data nor --limit says otherwise. */
const DEFAULT_N = 20;

export const usage = `usage: eapgp validate [--model M] --task T [--data CSV [--verbs CSV] | --seed S] [--limit N] [--batch-size B]
                      [--metric logit-diff|prob-diff] [--variants LIST] [--intervention ${INTERVENTION.metavar}]
                      [--top 5,10,50] [--out DIR] [--timings] [--json] [--quiet]
                      [--shard i/n|auto [--shard-count N] | --exact-from DIR] [--threads N] [--gemm auto|blas|wasm] [--device auto|cpu|gpu]

Scores every edge by exact patching (one patched forward pass per edge and batch: small models only) and
compares each attribution variant with it: Spearman ρ and Kendall τ-b of |score| vs |exact effect| over all
edges, precision of the top-n edges against the top-n exact edges (--top; default 1, 2, 5, 10, 20 % of the
edges), the faithfulness of greedy circuits by |score| (pruned) over the MIB edge fractions with CPR and CMD,
and the attribution time. Without --data, --limit prompts (default ${DEFAULT_N}) come from the task's generator
(--seed, default 1).

--variants: comma-separated method[:key=value]... (keys: ${variantKeysHelp()});
"default" stands for:
  ${DEFAULT_VARIANTS.join(', ')}
--intervention: what a removed edge carries, in exact patching (the ground truth), in every variant and in the
circuits' evaluation (m(∅) is then the fully ablated model): the corrupted run (patching, the default), zero,
the dataset mean or the per-position mean. Without it, the one the variants name (e.g. eap:intervention=zero);
under an ablation "default" keeps the methods that take one.
--out DIR writes results.json, summary.md, faithfulness.svg and exact.json (the exact scores as EAP-IG graph
JSON, usable with evaluate --graph), byte-identical for the same inputs and options, and results.log.json
(the times, date, threads and GEMM path); --timings also puts the times in summary.md. --json prints the
results JSON instead of the tables.
--shard i/n: only exact patching (the long part), of the i-th of n slices of the edges (i from 0), written to
DIR/exact.json.shard-i-of-n.part (--out DIR); then --exact-from DIR (same options, no --shard) reads every
shard's part instead of patching, and writes what one run writes (docs/scale-out.md).`;

function parseTop(text: string): number[] {
  return text.split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isSafeInteger(n) || n < 1) throw new UserError(`--top: "${s}" is not a positive integer (expected e.g. 5,10,50)`);
    return n;
  });
}

export async function validate(argv: string[]): Promise<void> {
  const { values } = parse('validate', argv, {
    ...ENGINE_OPTIONS, ...TASK_OPTIONS, ...GENERATED_OPTIONS, model: { type: 'string' as const }, variants: { type: 'string' as const },
    top: { type: 'string' as const }, out: { type: 'string' as const }, json: { type: 'boolean' as const }, quiet: { type: 'boolean' as const },
    timings: { type: 'boolean' as const }, intervention: { type: 'string' as const }, 'exact-from': { type: 'string' as const }, ...SHARD_OPTIONS,
  }, usage);
  if (values.help) return void console.log(usage);
  const spec = modelSpecOrDefault(values.model);
  const { intervention, variants } = validationVariants(values.variants ?? 'default', values.intervention === undefined ? undefined : optionValue(INTERVENTION, values));
  const topN = values.top === undefined ? undefined : parseTop(values.top);
  checkOutputDir(values.out, 'out');
  const shard = shardFrom(values);
  if (shard && !values.out) throw new UserError('--shard writes its part of exact patching into --out DIR; give --out');
  if (shard && values['exact-from']) throw new UserError('--exact-from reads the finished shards; run it without --shard');
  if (values.timings && !values.out) throw new UserError('--timings puts the times in summary.md, which only --out DIR writes; add --out DIR');

  const clock = new RunClock();
  const engine = await engineFrom(values);
  try {
    const { model, tokenizer, config, dir } = await loadModel(engine, spec, { quiet: values.quiet });
    const data = loadOrGenerateTaskData(values, tokenizer, usage, DEFAULT_N);
    // the parts of sharded exact patching are attribute --method exact's, under the name validate writes
    const exactKey = (): Record<string, unknown> => attributeKey({ model, dir, method: exactMethod.name, options: { intervention }, data, verbs: values.verbs });
    if (shard) {
      const nEdges = model.layout.nEdges;
      const scoreArgs = { model, batches: data.batches, method: exactMethod.name, options: { intervention }, loss: data.loss, metric: data.metric, progress: (p: Parameters<NonNullable<ScoreEdgesArgs['progress']>>[0]) => createProgress({ ...p, unit: 'items', quiet: values.quiet }) };
      await runShard({
        out: join(values.out!, 'exact.json'), shard, command: 'attribute', batches: data.batches.length, edges: nEdges, key: exactKey(),
        render: { dModel: config.dModel, meta: { tool: `eap-gp ${version}`, method: exactMethod.name, intervention, model: spec, task: data.task.name, metric: data.task.metricKind, data: data.dataPath, data_sha256: data.dataHash, examples: data.examples, batch_size: data.batches[0]!.clean.B } },
        compute: (indices, save) => scoreEdgeBatches(scoreArgs, indices, save, shardRange(shard, nEdges)),
      });
      console.error(`when every shard has finished: eapgp validate <the same options> --exact-from ${values.out} --out ${values.out}`);
      return;
    }
    const exact = values['exact-from'] === undefined ? undefined : exactFromParts(values['exact-from'], exactKey(), model.layout);
    // before the long part: exact patching of every edge
    const base = await baselinesUnder(model, data.batches, data.metric, intervention);
    const warnings = [identicalRowsWarning(data), droppedRowsWarning(data), gapWarning(base)].filter((w): w is string => w !== null);
    warnings.forEach(warn);
    const result = await runValidation({
      model, batches: data.batches, metric: data.metric, loss: data.loss, variants, intervention, base, topN, exact,
      progress: (p) => createProgress({ ...p, unit: 'items', quiet: values.quiet }),
    });
    const meta: ValidationMeta = {
      tool: `eap-gp ${version}`, command: recordedCommand('validate', argv), model: spec, task: data.task.name, metric: data.task.metricKind,
      data: data.dataPath, dataSha256: data.dataHash, batchSize: data.batches[0]!.clean.B, warnings,
    };
    const json = toJson(result, meta);
    if (values.out) {
      const chart = 'faithfulness.svg';
      const exact = Graph.of(model.layout);
      exact.setScoresDense(result.exact.scores);
      // every file is complete before the next starts (atomic renames), and nothing is written before this point
      writeGraphJson(join(values.out, 'exact.json'), exact, {
        dModel: config.dModel,
        meta: { tool: meta.tool, method: exactMethod.name, intervention, model: spec, task: meta.task, metric: meta.metric, data: meta.data, data_sha256: meta.dataSha256, examples: result.examples, batch_size: meta.batchSize },
      });
      writeFileAtomicSync(join(values.out, chart), faithfulnessChart(result, `${meta.task}: faithfulness of greedy circuits (${result.examples} examples, ${result.edges} edges)`));
      const timing = values.timings ? { gemm: engine.info.gemmPath, threads: engine.info.threads } : undefined;
      writeFileAtomicSync(join(values.out, 'summary.md'), formatMarkdown(result, meta, chart, timing));
      writeFileAtomicSync(join(values.out, 'results.json'), JSON.stringify(json, null, 2) + '\n');
      writeRunLog(join(values.out, 'results.log.json'), makeRunLog({
        describes: ['results.json', 'summary.md', chart, 'exact.json'], tool: meta.tool, command: givenCommand('validate', argv), clock,
        seconds: { ...variantSeconds(result), total: clock.seconds() }, engine: engine.info,
      }));
    }
    if (values.json) process.stdout.write(JSON.stringify(json) + '\n');
    else console.log(formatText(result, meta));
  } finally {
    await engine.close();
  }
}

/** Exact patching's scores from the finished shards' parts in `dir` (DIR/exact.json.shard-i-of-n.part), checked against this run's key. */
function exactFromParts(dir: string, key: Record<string, unknown>, layout: GraphLayout): Float64Array {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => /^exact\.json\.shard-\d+-of-\d+\.part$/.test(f)).sort().map((f) => join(dir, f));
  } catch {
    throw new UserError(`--exact-from ${dir}: not a directory; give the --out DIR of the validate --shard runs`);
  }
  if (files.length === 0) throw new UserError(`--exact-from ${dir}: no exact.json.shard-i-of-n.part in it; run validate --shard i/n --out ${dir} first`);
  const merged = checkParts(files);
  const diffs = keyDifferences(merged.header.key, key);
  if (diffs.length > 0) throw new UserError(`--exact-from ${dir}: the shards ran with other inputs or options than this run (${diffs.join('; ')}); give the same model, data and options`);
  return edgeScoresFrom(exactMethod.name, layout, merged.records, 1).scores;
}
