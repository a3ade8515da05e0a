/** `eapgp path`: the task metric and GradPath's objective along EAP-IG's straight path and GradPath (saturation view). */
import { basename } from 'node:path';
import { GRADPATH_NAMED, GRADPATH_OPTIONS, gradPathRule } from '../attribution/eap-gp.js';
import { STEPS } from '../attribution/method-spec.js';
import { diagnoseExample, summarise, type PathSummary } from '../attribution/path-diagnostics.js';
import { PATH_FORMAT, PATH_VERSION, type GradPathVariant, type PathFile } from '../attribution/path-format.js';
import { tracePaths } from '../attribution/saturation.js';
import { UserError } from '../util/errors.js';
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
import { TASK_OPTIONS, loadTaskData, type TaskData } from './task-data.js';
import type { CausalLM } from '../models/model.js';
import type { Tokenizer } from '../tokenizer/index.js';

/** Examples traced when --limit is not given: each costs about 2·(points + steps) forward and backward passes. */
const DEFAULT_LIMIT = 16;

export const usage = `usage: eapgp path [--model M] --task T --data CSV [--limit N] [--batch-size B] [--steps K] [--points P]
                  [${GRADPATH_OPTIONS.map((o) => `--${o.flag} ${o.metavar}`).join('] [')}]
                  [--variants LIST] [--metric logit-diff|prob-diff] [--verbs CSV]
                  [--threads N] [--gemm auto|blas|wasm] [--device auto|cpu|gpu] --out path.json

Records, per example, the task metric, GradPath's objective J, their gradient norms with respect to the token
embeddings and the metric's slope along EAP-IG's straight line from the clean to the corrupted input and along
GradPath (K steps, as --method eap-gp takes them with the same --gp-* options), each at P evenly spaced
points (default 32) plus the points the methods take their gradients at. Where the gradient vanishes the path
is saturated. --variants traces several GradPath variants into one file instead (no --gp-* flags then):
a comma-separated list, each a name or key=value[:key=value...] over the defaults, with the keys
  ${GRADPATH_OPTIONS.map((o) => `${o.variantKey}=${o.metavar}`).join(', ')}
and the names
  ${Object.entries(GRADPATH_NAMED).map(([k, v]) => `${k} (${v || 'the defaults, the EAP-GP paper\'s'})`).join(', ')}
e.g. --variants paper,descent,objective=metric:backtrack=8.
The file and stderr report per example and in summary whether J decreased monotonically, how far each path
got towards the corrupted run (J and metric) and the saturated share (definitions: path-format.ts). Open the
file with eapgp view. The run's time, date and threads go to <out>.log.json (path.json → path.log.json).
--limit defaults to ${DEFAULT_LIMIT} examples here; without --model, the built-in default model.`;

type VariantOptions = Omit<GradPathVariant, 'name'>;

/** The variant's canonical spelling: its options that differ from the defaults, as key=value joined by ':'. */
function spelling(v: Readonly<Record<string, unknown>>): string {
  return GRADPATH_OPTIONS.filter((o) => v[o.key] !== o.default).map((o) => `${o.variantKey}=${String(v[o.key])}`).join(':');
}

/** A variant's name: 'paper' for the defaults, a named combination's name, else its spelling. */
function nameOf(v: VariantOptions): string {
  const s = spelling(v as unknown as Record<string, unknown>);
  return Object.entries(GRADPATH_NAMED).find(([, x]) => spelling(parseSpec(x, x)) === s)?.[0] ?? s;
}

/** Options from key=value pairs over the defaults; a UserError names the spec. */
function parseSpec(spec: string, whole: string): VariantOptions {
  const out: Record<string, unknown> = Object.fromEntries(GRADPATH_OPTIONS.map((o) => [o.key, o.default]));
  for (const pair of spec.split(':').filter((x) => x !== '')) {
    const [key, value] = [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)];
    const o = GRADPATH_OPTIONS.find((x) => x.variantKey === key);
    const how = `write key=value[:key=value...] with ${GRADPATH_OPTIONS.map((x) => `${x.variantKey}=${x.metavar}`).join(', ')}, or one of ${Object.keys(GRADPATH_NAMED).join(', ')}`;
    if (!pair.includes('=') || !o) throw new UserError(`--variants: "${whole}": unknown key "${pair.includes('=') ? key : pair}" (${how})`);
    const v = o.parse(value);
    if (v === undefined) throw new UserError(`--variants: "${whole}": ${key} must be ${o.expects}, got "${value}"`);
    out[o.key] = v;
  }
  return out as unknown as VariantOptions;
}

/** The variants to trace: --variants, or the one the --gp-* flags give. */
export function variantsFrom(values: Record<string, unknown>): GradPathVariant[] {
  const list = values['variants'];
  if (list === undefined) {
    const v = Object.fromEntries(GRADPATH_OPTIONS.map((o) => [o.key, optionValue(o, values)])) as unknown as VariantOptions;
    return [{ name: nameOf(v), ...v }];
  }
  const given = GRADPATH_OPTIONS.filter((o) => values[o.flag!] !== undefined);
  if (given.length > 0) throw new UserError(`give GradPath's options either as flags or in --variants, not both (--${given[0]!.flag} with --variants)`);
  const out = new Map<string, GradPathVariant>();
  for (const spec of String(list).split(',').map((x) => x.trim()).filter((x) => x !== '')) {
    const v = parseSpec(GRADPATH_NAMED[spec] ?? spec, spec);
    const name = nameOf(v);
    if (!out.has(name)) out.set(name, { name, ...v });
  }
  if (out.size === 0) throw new UserError('--variants: no variant given');
  return [...out.values()];
}

const pct = (x: number | null): string => (x === null ? '—' : `${(100 * x).toFixed(0)}%`);
const fix = (x: number | null): string => (x === null ? '—' : x.toFixed(2));

/** The summary as a table for stderr. */
export function summaryTable(s: PathSummary): string {
  const rows = [
    ['variant', 'J monotone', 'J end<start', 'own obj. end<start', 'J fraction (median)', 'metric fraction (median)', 'saturated'],
    ...s.gradpaths.map((v) => [v.name, pct(v.monotone), pct(v.jBelow), pct(v.ownBelow), fix(v.jFraction), fix(v.metricFraction), pct(v.saturated)]),
    ['straight path', '', '', '', '', '', pct(s.straight.saturated)],
  ];
  const w = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((x, c) => x.padEnd(w[c]!)).join('  ').trimEnd()).join('\n');
}

export async function path(argv: string[]): Promise<void> {
  const { values } = parse('path', argv, {
    ...ENGINE_OPTIONS, ...TASK_OPTIONS, model: { type: 'string' as const }, steps: { type: 'string' as const },
    points: { type: 'string' as const }, variants: { type: 'string' as const },
    ...Object.fromEntries(GRADPATH_OPTIONS.map((o) => [o.flag!, { type: 'string' as const }])) as Record<'gp-eta', { type: 'string' }>,
    out: { type: 'string' as const }, quiet: { type: 'boolean' as const },
  }, usage);
  if (values.help) return void console.log(usage);
  const out = requireOption(values.out, 'out', usage);
  checkOutputFile(out, 'out', 'path.json');
  const spec = modelSpecOrDefault(values.model);
  const steps = optionValue(STEPS, values);
  const points = intOption(values.points, 'points', 2) ?? 32;
  // GradPath's options as --method eap-gp parses them
  const variants = variantsFrom(values);

  const clock = new RunClock();
  const engine = await engineFrom(values);
  try {
    const { model, tokenizer } = await loadModel(engine, spec, { quiet: values.quiet });
    const data = loadTaskData({ ...values, limit: values.limit ?? String(DEFAULT_LIMIT) }, tokenizer, usage);
    const progress = createProgress({ label: 'path traces', total: data.examples, unit: 'items', itemName: 'examples', quiet: values.quiet });
    const t0 = performance.now();
    const file = await pathFile({ model, tokenizer, data, spec, steps, points, variants, onBatch: (n) => progress.set(n) });
    progress.finish();
    const traced = clock.seconds(t0);
    writeFileAtomicSync(out, JSON.stringify(file));
    const log = runLogPath(out);
    writeRunLog(log, makeRunLog({
      describes: [basename(out)], tool: `eap-gp ${version}`, command: givenCommand('path', argv), clock,
      seconds: { traces: traced, total: clock.seconds() }, engine: engine.info,
    }));
    if (!values.quiet) console.error(summaryTable(file.summary));
    console.error(`wrote ${out}: ${data.examples} examples × ${1 + variants.length} paths × ${file.straight.t.length}/${file.gradpath.t.length} points in ${traced.toFixed(2)} s (run log: ${log})`);
  } finally {
    await engine.close();
  }
}

export interface PathFileArgs {
  model: CausalLM;
  tokenizer: Tokenizer;
  data: TaskData;
  /** The model as given (recorded in the file). */
  spec: string;
  steps: number;
  points: number;
  variants: GradPathVariant[];
  onBatch?: (examplesDone: number) => void;
}

/** The traces of `eapgp path` with their diagnostics and summary (also what the discovery site plots). */
export async function pathFile(a: PathFileArgs): Promise<PathFile> {
  const { model, tokenizer, data, spec, steps, points, variants } = a;
  const trace = await tracePaths({
    model, batches: data.batches, options: { steps, points, variants: variants.map(gradPathRule) }, onBatch: a.onBatch,
    metricGrad: (logits, B, V, labels) => data.task.metricGrad(logits, B, V, labels as Label[]),
  });
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
  const head = {
    format: PATH_FORMAT, version: PATH_VERSION, tool: `eap-gp ${version}`,
    model: spec, task: data.task.name, metric: data.task.metricKind, data: data.dataPath, dataSha256: data.dataHash,
    steps, points, gradpaths: variants, straight: trace.straight, gradpath: trace.gradpath,
  } as const;
  const examples = trace.examples.map((ex, i) => ({ ...meta[i]!, ...ex, diagnostics: diagnoseExample(head, ex) }));
  return { ...head, examples, summary: summarise({ ...head, examples }) };
}
