/** `eapgp path`: the task metric and GradPath's objective along EAP-IG's straight path and GradPath (saturation view). */
import { basename } from 'node:path';
import { GP_ETA, GP_NORM } from '../attribution/eap-gp.js';
import { STEPS } from '../attribution/method-spec.js';
import { PATH_FORMAT, PATH_VERSION, type PathFile } from '../attribution/path-format.js';
import { tracePaths } from '../attribution/saturation.js';
import { rowStarts } from '../models/batch.js';
import { modelSpecOrDefault } from '../models/default-model.js';
import { loadModel } from '../models/load.js';
import type { Label } from '../tasks/types.js';
import { writeFileAtomicSync } from '../util/atomic-write.js';
import { createProgress } from '../util/progress.js';
import { makeRunLog, RunClock, runLogPath, writeRunLog } from '../util/run-log.js';
import { version } from '../version.js';
import { ENGINE_OPTIONS, engineFrom, intOption, parse, requireOption } from './args.js';
import { givenCommand } from './command-line.js';
import { optionValue } from './method-options.js';
import { checkOutputFile } from './output-paths.js';
import { TASK_OPTIONS, loadTaskData } from './task-data.js';

/** Examples traced when --limit is not given: each costs about 2·(points + steps) forward and backward passes. */
const DEFAULT_LIMIT = 16;

export const usage = `usage: eapgp path [--model M] --task T --data CSV [--limit N] [--batch-size B] [--steps K] [--points P]
                  [--gp-eta E] [--gp-norm example|batch] [--metric logit-diff|prob-diff] [--verbs CSV]
                  [--threads N] [--gemm auto|blas|wasm] --out path.json

Records, per example, the task metric, GradPath's objective J, their gradient norms with respect to the token
embeddings and the metric's slope along two paths from the clean input: EAP-IG's straight line to the
corrupted input and GradPath (K steps of size E, as --method eap-gp takes them), each at P evenly spaced
points (default 32) plus the points the methods take their gradients at. Where the gradient vanishes the path
is saturated. Open the file with eapgp view. The run's time, date and threads go to <out>.log.json
(path.json → path.log.json). --limit defaults to ${DEFAULT_LIMIT} examples here; without
--model, the built-in default model.`;

export async function path(argv: string[]): Promise<void> {
  const { values } = parse('path', argv, {
    ...ENGINE_OPTIONS, ...TASK_OPTIONS, model: { type: 'string' as const }, steps: { type: 'string' as const },
    points: { type: 'string' as const }, 'gp-eta': { type: 'string' as const }, 'gp-norm': { type: 'string' as const },
    out: { type: 'string' as const }, quiet: { type: 'boolean' as const },
  }, usage);
  if (values.help) return void console.log(usage);
  const out = requireOption(values.out, 'out', usage);
  checkOutputFile(out, 'out', 'path.json');
  const spec = modelSpecOrDefault(values.model);
  const steps = optionValue(STEPS, values);
  const points = intOption(values.points, 'points', 2) ?? 32;
  // GradPath's options as --method eap-gp parses them
  const gpEta = optionValue(GP_ETA, values);
  const gpNorm = optionValue(GP_NORM, values);

  const clock = new RunClock();
  const engine = await engineFrom(values);
  try {
    const { model, tokenizer } = await loadModel(engine, spec, { quiet: values.quiet });
    const data = loadTaskData({ ...values, limit: values.limit ?? String(DEFAULT_LIMIT) }, tokenizer, usage);
    const progress = createProgress({ label: 'path traces', total: data.examples, unit: 'items', itemName: 'examples', quiet: values.quiet });
    const t0 = performance.now();
    const trace = await tracePaths({
      model, batches: data.batches, options: { steps, points, gpEta, gpNorm }, onBatch: (n) => progress.set(n),
      metricGrad: (logits, B, V, labels) => data.task.metricGrad(logits, B, V, labels as Label[]),
    });
    progress.finish();
    const traced = clock.seconds(t0);
    // the examples' rows and text, in batch order
    const text = (ids: Int32Array, from: number, n: number): string => {
      const toks = Array.from(ids.subarray(from, from + n));
      return tokenizer.decode(toks[0] === tokenizer.bosId ? toks.slice(1) : toks);
    };
    const meta = data.batches.flatMap((b, bi) => {
      const starts = rowStarts(b.clean);
      const rows = (b as { rows?: number[] }).rows;
      return Array.from({ length: b.n }, (_, i) => ({
        row: rows?.[i] ?? bi * data.batches[0]!.n + i + 1,
        clean: text(b.clean.ids, starts[i]!, b.clean.lengths[i]!),
        corrupted: text(b.corrupted.ids, starts[i]!, b.corrupted.lengths[i]!),
      }));
    });
    const file: PathFile = {
      format: PATH_FORMAT, version: PATH_VERSION, tool: `eap-gp ${version}`,
      model: spec, task: data.task.name, metric: data.task.metricKind, data: data.dataPath, dataSha256: data.dataHash,
      steps, points, gpEta, gpNorm, straight: trace.straight, gradpath: trace.gradpath,
      examples: trace.examples.map((ex, i) => ({ ...meta[i]!, ...ex })),
    };
    writeFileAtomicSync(out, JSON.stringify(file));
    const log = runLogPath(out);
    writeRunLog(log, makeRunLog({
      describes: [basename(out)], tool: `eap-gp ${version}`, command: givenCommand('path', argv), clock,
      seconds: { traces: traced, total: clock.seconds() }, engine: engine.info,
    }));
    console.error(`wrote ${out}: ${data.examples} examples × 2 paths × ${trace.straight.t.length}/${trace.gradpath.t.length} points in ${traced.toFixed(2)} s (run log: ${log})`);
  } finally {
    await engine.close();
  }
}
