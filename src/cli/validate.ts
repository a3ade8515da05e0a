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
import { DEFAULT_VARIANTS, parseVariants } from '../validation/variants.js';
import { version } from '../version.js';
import { gapWarning } from '../evaluation/degenerate.js';
import { baselines } from '../evaluation/evaluate.js';
import { identicalRowsWarning } from '../tasks/prepare.js';
import { ENGINE_OPTIONS, engineFrom, parse, warn } from './args.js';
import { givenCommand, recordedCommand } from './command-line.js';
import { checkOutputDir } from './output-paths.js';
import { GENERATED_OPTIONS, loadOrGenerateTaskData } from './generated-data.js';
import { TASK_OPTIONS } from './task-data.js';
import { modelSpecOrDefault } from '../models/default-model.js';

/** Generated prompts when neither --data nor --limit says otherwise. */
const DEFAULT_N = 20;

export const usage = `usage: eapgp validate [--model M] --task T [--data CSV [--verbs CSV] | --seed S] [--limit N] [--batch-size B]
                      [--metric logit-diff|prob-diff] [--variants LIST] [--top 5,10,50] [--out DIR] [--timings] [--json] [--quiet]
                      [--threads N] [--gemm auto|blas|wasm]

Scores every edge by exact patching (one patched forward pass per edge and batch: small models only) and
compares each attribution variant with it: Spearman ρ and Kendall τ-b of |score| vs |exact effect| over all
edges, precision of the top-n edges against the top-n exact edges (--top; default 1, 2, 5, 10, 20 % of the
edges), the faithfulness of greedy circuits by |score| (pruned) over the MIB edge fractions with CPR and CMD,
and the attribution time. Without --data, --limit prompts (default ${DEFAULT_N}) come from the task's generator
(--seed, default 1).

--variants: comma-separated method[:key=value]... (keys steps; for eap-gp also norm=example|batch, eta=E,
path=gradpath|straight); "default" stands for:
  ${DEFAULT_VARIANTS.join(', ')}
--out DIR writes results.json, summary.md, faithfulness.svg and exact.json (the exact scores as EAP-IG graph
JSON, usable with evaluate --graph), byte-identical for the same inputs and options, and results.log.json
(the times, date, threads and GEMM path); --timings also puts the times in summary.md. --json prints the
results JSON instead of the tables.`;

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
    timings: { type: 'boolean' as const },
  }, usage);
  if (values.help) return void console.log(usage);
  const spec = modelSpecOrDefault(values.model);
  const variants = parseVariants(values.variants ?? 'default');
  const topN = values.top === undefined ? undefined : parseTop(values.top);
  checkOutputDir(values.out, 'out');
  if (values.timings && !values.out) throw new UserError('--timings puts the times in summary.md, which only --out DIR writes; add --out DIR');

  const clock = new RunClock();
  const engine = await engineFrom(values);
  try {
    const { model, tokenizer, config } = await loadModel(engine, spec, { quiet: values.quiet });
    const data = loadOrGenerateTaskData(values, tokenizer, usage, DEFAULT_N);
    // before the long part: exact patching of every edge
    const warnings = [identicalRowsWarning(data), gapWarning(baselines(model, data.batches, data.metric))].filter((w): w is string => w !== null);
    warnings.forEach(warn);
    const result = await runValidation({
      model, batches: data.batches, metric: data.metric, loss: data.loss, variants, topN,
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
        meta: { tool: meta.tool, method: 'exact', model: spec, task: meta.task, metric: meta.metric, data: meta.data, data_sha256: meta.dataSha256, examples: result.examples, batch_size: meta.batchSize },
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
