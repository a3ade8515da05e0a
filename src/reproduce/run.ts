/**
 * One (task, method) of a reproduction: attribution, the faithfulness sweep over the plan's budgets and over
 * the MIB edge fractions (greedy by |score|, pruned, edge patching against the corrupted run), the
 * precision/recall curve where the task has a manual circuit, and the scored graph on disk. The clean and corrupted
 * baselines come from the caller, shared by every method of the task. The wall times are returned beside the
 * result, for the pair's run log: nothing the pair writes holds a time.
 */
import { join } from 'node:path';
import { usesSteps } from '../attribution/method-spec.js';
import { getMethod } from '../attribution/registry.js';
import { scoreEdges, type ScoreMethod } from '../attribution/score.js';
import type { Baselines } from '../evaluation/evaluate.js';
import { MIB_FRACTIONS, fractionBudgets, sweeps, type SweepResult } from '../evaluation/sweep.js';
import { Graph, writeGraphJson } from '../graph/index.js';
import type { CausalLM } from '../models/model.js';
import type { TaskData } from '../tasks/prepare.js';
import { createProgress } from '../util/progress.js';
import { version } from '../version.js';
import { prCounts } from './budgets.js';
import type { Plan } from './plan.js';
import { hasReference, precisionRecall } from './pr.js';
import type { MethodResult, PairTiming, TaskKey } from './types.js';

export interface PairArgs {
  model: CausalLM;
  plan: Plan;
  task: string;
  method: ScoreMethod;
  data: TaskData;
  taskKey: TaskKey;
  base: Baselines;
  /** The results directory. */
  out: string;
  /** No progress bars (the caller's start/finish lines remain). */
  quiet?: boolean;
}

const seconds = (t0: number): number => Number(((performance.now() - t0) / 1000).toFixed(3));

/** Runs the pair (see the module comment); writes DIR/graphs/<task>-<method>.json and returns the record and its times. */
export async function runPair(a: PairArgs): Promise<{ result: MethodResult; seconds: PairTiming['seconds'] }> {
  const { model, plan, task, method, data } = a;
  const { dModel } = model.dims;
  const t0 = performance.now();
  const scores = await scoreEdges({
    model, batches: data.batches, method, loss: data.loss, metric: data.metric, options: { steps: plan.settings.steps },
    progress: (p) => createProgress({ ...p, label: `${task} ${p.label}`, unit: 'items', quiet: a.quiet }),
  });
  const attributeSeconds = seconds(t0);

  const graph = Graph.of(model.layout);
  graph.setScoresDense(scores.scores);

  const t1 = performance.now();
  const budgets = plan.settings.budgets;
  const fractionCounts = fractionBudgets(graph.nEdges, MIB_FRACTIONS);
  const progress = createProgress({
    label: `${task} ${method} evaluation`, total: (budgets.length + fractionCounts.length) * data.batches.length,
    unit: 'items', itemName: 'runs', quiet: a.quiet,
  });
  const common = { model, batches: data.batches, metric: data.metric, graph, select: 'greedy' as const, absolute: true, intervention: 'patching' as const, base: a.base, onRun: () => progress.add(1) };
  let curve: SweepResult, fractions: SweepResult;
  try {
    // one evaluation for both: the corrupted run's cache once per batch, equal circuits once
    const r = await sweeps(common, [{ budgets }, { budgets: fractionCounts, fractions: MIB_FRACTIONS }]);
    curve = r[0]!;
    fractions = r[1]!;
    progress.finish();
  } catch (e) {
    progress.finish(true);
    throw e;
  }
  const pr = hasReference(task, plan.model) ? precisionRecall(graph, task, prCounts(graph.nEdges, budgets)) : undefined;
  const evaluateSeconds = seconds(t1);

  // written last, next to the state the caller writes, so an interruption leaves no graph of an unfinished pair
  const graphFile = `graphs/${task}-${method}.json`;
  writeGraphJson(join(a.out, graphFile), graph, {
    dModel,
    meta: {
      tool: `eap-gp ${version}`, method, steps: usesSteps(getMethod(method)) ? plan.settings.steps : null,
      model: plan.model.path, task, metric: a.taskKey.metric, data: a.taskKey.data, data_sha256: a.taskKey.sha256,
      examples: data.examples, batch_size: plan.settings.batchSize,
    },
  });

  const point = (p: (typeof curve.points)[number]) => ({ requested: p.requested!, edges: p.edges, nodes: p.nodes, metric: p.metric, faithfulness: p.faithfulness });
  const result: MethodResult = {
    graph: graphFile,
    points: curve.points.map(point),
    fractions: {
      points: fractions.points.map((p) => ({ fraction: p.fraction!, ...point(p) })),
      cpr: fractions.cpr!,
      cmd: fractions.cmd!,
    },
    ...(pr ? { pr } : {}),
  };
  return { result, seconds: { attribute: attributeSeconds, evaluate: evaluateSeconds } };
}
