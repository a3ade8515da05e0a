/** `eapgp attribute`: edge scores of a task dataset with one method, written as EAP-IG graph JSON. */
import { attribute as runAttribution, METHODS } from '../attribution/attribute.js';
import { exactScores } from '../attribution/exact.js';
import type { MethodName } from '../attribution/types.js';
import { Graph, writeGraphJson } from '../graph/index.js';
import { loadModel } from '../models/load.js';
import { UserError } from '../util/errors.js';
import { createProgress } from '../util/progress.js';
import { version } from '../version.js';
import { ENGINE_OPTIONS, engineFrom, intOption, parse, requireOption } from './args.js';
import { TASK_OPTIONS, loadTaskData } from './task-data.js';

const METHOD_NAMES = [...Object.keys(METHODS), 'exact'];

export const usage = `usage: eapgp attribute --model M --task T --data CSV [--limit N] [--batch-size B] --method METHOD
                       [--steps K] [--gp-eta E] [--gp-norm example|batch] [--intervention patching|zero|mean]
                       [--verbs CSV] [--threads N] [--gemm auto|blas|wasm] --out scores.json

Scores every edge of the model's graph on the task (signed; |score| is used at selection time) and writes
EAP-IG graph JSON with our metadata under "meta". METHOD: ${METHOD_NAMES.join(', ')} (exact patches every
edge: small models only). --steps: points of EAP-IG / EAP-GP (default 5). Tasks: ioi, greater-than, sva,
gender-bias, capital-country, hypernymy (EAP-IG CSV formats).`;

export async function attribute(argv: string[]): Promise<void> {
  const { values } = parse('attribute', argv, {
    ...ENGINE_OPTIONS, ...TASK_OPTIONS, model: { type: 'string' as const }, method: { type: 'string' as const },
    steps: { type: 'string' as const }, 'gp-eta': { type: 'string' as const }, 'gp-norm': { type: 'string' as const },
    intervention: { type: 'string' as const }, out: { type: 'string' as const }, quiet: { type: 'boolean' as const },
  }, usage);
  if (values.help) return void console.log(usage);
  const method = requireOption(values.method, 'method', usage);
  if (!METHOD_NAMES.includes(method)) throw new UserError(`unknown method "${method}"; choose one of ${METHOD_NAMES.join(', ')}`);
  const out = requireOption(values.out, 'out', usage);
  const spec = requireOption(values.model, 'model', usage);
  const steps = intOption(values.steps, 'steps') ?? 5;
  const gpEta = values['gp-eta'] === undefined ? 1 : Number(values['gp-eta']);
  if (!Number.isFinite(gpEta) || gpEta < 0) throw new UserError(`--gp-eta must be a number >= 0, got "${values['gp-eta']}"`);
  const gpNorm = (values['gp-norm'] ?? 'example') as 'example' | 'batch';
  if (!['example', 'batch'].includes(gpNorm)) throw new UserError(`--gp-norm must be example or batch, got "${gpNorm}"`);
  const intervention = (values.intervention ?? 'patching') as 'patching' | 'zero' | 'mean';
  if (!['patching', 'zero', 'mean'].includes(intervention)) throw new UserError(`--intervention must be patching, zero or mean, got "${intervention}"`);
  if (intervention !== 'patching' && method !== 'exact') throw new UserError(`--intervention applies to --method exact only (gradient methods use the corrupted run)`);

  const engine = await engineFrom(values);
  try {
    const { model, tokenizer, config, dir } = await loadModel(engine, spec, { quiet: values.quiet });
    const data = loadTaskData(values, tokenizer, usage);
    const graph = new Graph(config.nLayer, config.nHead);
    const t0 = performance.now();
    let scores: Float64Array;
    if (method === 'exact') {
      const progress = createProgress({ label: 'exact patching', total: (graph.nEdges + 1) * data.batches.length, unit: 'items', itemName: 'runs', quiet: values.quiet });
      scores = (await exactScores({ model, batches: data.batches, metric: data.metric, onRun: () => progress.add(1) })).scores;
      progress.finish();
    } else {
      const progress = createProgress({ label: `${method} attribution`, total: data.examples, unit: 'items', itemName: 'examples', quiet: values.quiet });
      scores = (await runAttribution({
        model, batches: data.batches, method: method as MethodName, loss: data.loss,
        options: { steps, gpEta, gpNorm }, onBatch: (n) => progress.set(n),
      })).scores;
      progress.finish();
    }
    const seconds = (performance.now() - t0) / 1000;
    graph.setScoresDense(scores);
    writeGraphJson(out, graph, {
      dModel: config.dModel,
      meta: {
        tool: `eap-gp ${version}`, method, steps: method.startsWith('eap-ig') || method === 'eap-gp' ? steps : null,
        ...(method === 'eap-gp' ? { gp_eta: gpEta, gp_norm: gpNorm } : {}),
        ...(method === 'exact' ? { intervention } : {}),
        model: spec, model_dir: dir, task: data.task.name, data: data.dataPath, data_sha256: data.dataHash,
        examples: data.examples, batch_size: data.batches[0]!.clean.B, seconds: Number(seconds.toFixed(3)),
        gemm: engine.info.gemmPath, threads: engine.info.threads, created: new Date().toISOString(),
      },
    });
    console.error(`wrote ${out}: ${graph.nEdges.toLocaleString('en-US')} edges scored by ${method} on ${data.examples} examples in ${seconds.toFixed(2)} s`);
  } finally {
    await engine.close();
  }
}
