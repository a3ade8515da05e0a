/**
 * What a reproduction will do: the tasks and methods, the model's graph size and the settings every
 * (task, method) shares, checked once before any work starts.
 */
import { statSync } from 'node:fs';
import { STEPS } from '../attribution/method-spec.js';
import { methods } from '../attribution/registry.js';
import { checkMethod, type ScoreMethod } from '../attribution/score.js';
import type { ModelDims } from '../models/model.js';
import { dataCacheDir, fetchCommand } from '../data/cache.js';
import { getTask, taskNames } from '../tasks/index.js';
import { UserError } from '../util/errors.js';
import { sweepBudgets } from './budgets.js';
import { isCachedPaperDataset, paperDataset } from './data.js';
import type { ModelInfo, Settings } from './types.js';

/** The methods compared by default, as in the EAP-GP paper (the registry's reproduceByDefault). */
export const DEFAULT_METHODS: readonly ScoreMethod[] = methods().filter((m) => m.reproduceByDefault).map((m) => m.name);
/** Examples per task by default. */
export const DEFAULT_LIMIT = 100;

export interface PlanOptions {
  /** The --model argument, recorded as given. */
  modelPath: string;
  /** Default: all six tasks. */
  tasks?: readonly string[];
  /** Default: DEFAULT_METHODS. */
  methods?: readonly string[];
  /** Examples per task (generated rows, or the first rows of --data-dir files); default DEFAULT_LIMIT. */
  limit?: number;
  /** Default 20. */
  batchSize?: number;
  /** Integration steps of the stepped methods; default STEPS.default (5). */
  steps?: number;
  /** A metric form for every task (default: each task's own). */
  metric?: string;
  /** Where the datasets come from (see data.ts): our generators (default) or the paper's CSVs in the data cache. */
  dataSource?: string;
  /** Read datasets from here instead (see data.ts). */
  dataDir?: string;
  /** Generator seed; default 0. */
  seed?: number;
}

/** The values of --data. */
export const DATA_SOURCES = ['generated', 'paper'] as const;
export type DataSourceName = (typeof DATA_SOURCES)[number];

export interface Plan {
  tasks: string[];
  methods: ScoreMethod[];
  metric?: string;
  dataSource: DataSourceName;
  dataDir?: string;
  seed: number;
  model: ModelInfo;
  settings: Settings;
}

function positiveInt(v: number | undefined, name: string, fallback: number, min = 1): number {
  if (v === undefined) return fallback;
  if (!(Number.isSafeInteger(v) && v >= min)) throw new UserError(`--${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

function distinct<T extends string>(items: readonly T[], what: string): T[] {
  if (items.length === 0) throw new UserError(`--${what}: give at least one name`);
  const seen = new Set<string>();
  for (const x of items) {
    if (seen.has(x)) throw new UserError(`--${what}: "${x}" is listed twice`);
    seen.add(x);
  }
  return [...items];
}

/** The checks of makePlan that need no model (callers run them before loading one); returns makePlan's result without the model's part. */
export function checkPlanOptions(o: PlanOptions): Omit<Plan, 'model' | 'settings'> & { settings: Omit<Settings, 'budgets'> } {
  const tasks = distinct(o.tasks ?? taskNames, 'tasks');
  for (const t of tasks) {
    if (!taskNames.includes(t)) throw new UserError(`--tasks: unknown task "${t}"; choose among ${taskNames.join(', ')}`);
    if (o.metric !== undefined) getTask(t).withMetric(o.metric); // throws, naming the task's forms
  }
  const methods = distinct(o.methods ?? DEFAULT_METHODS, 'methods').map((m) => checkMethod(m));
  if (o.dataDir !== undefined) {
    let isDir = false;
    try {
      isDir = statSync(o.dataDir).isDirectory();
    } catch {
      /* reported below */
    }
    if (!isDir) throw new UserError(`--data-dir ${o.dataDir}: no such directory (expected one laid out like the data cache of \`eapgp data fetch\`: <task>/eapig-faithfulness_gpt2.csv)`);
  }
  const dataSource = (o.dataSource ?? 'generated') as DataSourceName;
  if (!DATA_SOURCES.includes(dataSource)) throw new UserError(`--data must be ${DATA_SOURCES.join(' or ')}, got "${o.dataSource}"`);
  if (dataSource === 'paper') {
    if (o.dataDir !== undefined) throw new UserError('--data paper reads the data cache and --data-dir a directory of your own; give one of them');
    // missing data fails here, before the model loads, naming every task to fetch
    const missing = tasks.filter((t) => !isCachedPaperDataset(t));
    if (missing.length === 1) paperDataset(missing[0]!); // its own message says which file and why
    if (missing.length > 1) {
      throw new UserError(`--data paper: the EAP-IG paper's data of ${missing.join(', ')} is missing from the data cache (${dataCacheDir()}) ` +
        `or differs from the published files; fetch it with \`${fetchCommand(missing)}\``);
    }
  }
  return {
    tasks,
    methods,
    metric: o.metric,
    dataSource,
    dataDir: o.dataDir,
    seed: positiveInt(o.seed, 'seed', 0, 0),
    settings: {
      limit: positiveInt(o.limit, 'limit', DEFAULT_LIMIT),
      batchSize: positiveInt(o.batchSize, 'batch-size', 20),
      steps: positiveInt(o.steps, 'steps', STEPS.default),
      intervention: 'patching',
      select: 'greedy',
      absolute: true,
    },
  };
}

/** Checks the options (UserErrors name the option and the fix) and sizes the budgets to the model's graph. */
export function makePlan(o: PlanOptions, dims: ModelDims, edges: number, family: string): Plan {
  const c = checkPlanOptions(o);
  return {
    ...c,
    model: { path: o.modelPath, layers: dims.nLayer, heads: dims.nHead, dModel: dims.dModel, edges, ...(family === 'gpt2' ? {} : { family }) },
    settings: { ...c.settings, budgets: sweepBudgets(edges) },
  };
}
