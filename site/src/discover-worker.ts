/**
 * The discovery worker: the engine (its kernel threads nested below it), the model, the task data and the method,
 * all from the library's own modules as `eapgp attribute` runs them; only the I/O differs (files come from
 * Cache Storage through ./shims/vfs.ts, results go back as messages). The page ends a run by terminating it.
 */
import { configureBrowserHost } from '../../src/engine/host-browser.js';
import { createEngine, describeAdapter, type EngineInfo } from '../../src/engine/engine.js';
import { loadModel } from '../../src/models/load.js';
import { methods } from '../../src/attribution/registry.js';
import { scoreEdges } from '../../src/attribution/score.js';
import type { AttributionOptions } from '../../src/attribution/types.js';
import { attributeRender, writeScores } from '../../src/cli/attribute.js';
import { loadOrGenerateTaskData } from '../../src/cli/generated-data.js';
import { methodOptionsFrom } from '../../src/cli/method-options.js';
import { generators } from '../../src/tasks/generators/index.js';
import { encodeGraphBinary } from '../../src/graph/binary.js';
import { fractionBudgets, MIB_FRACTIONS, sweep } from '../../src/evaluation/sweep.js';
import { STEPS } from '../../src/attribution/method-spec.js';
import { pathFile, variantsFrom } from '../../src/cli/path.js';
import { optionValue } from '../../src/cli/method-options.js';
import { UserError } from '../../src/util/errors.js';
import type { Tokenizer } from '../../src/tokenizer/index.js';
import { hubBase, mountModel } from './model-files.js';
import type { FromWorker, MethodInfo, RunRequest, TaskChoice, ToWorker } from './protocol.js';
import type { PathFile } from '../../src/attribution/path-format.js';
import type { SweepResult } from '../../src/evaluation/sweep.js';
import * as vfs from './shims/vfs.js';

const post = (m: FromWorker, transfer: Transferable[] = []): void => self.postMessage(m, { transfer });
const here = (file: string): string => new URL(file, self.location.href).href;

async function setUp(): Promise<void> {
  const wasm: Record<string, Uint8Array<ArrayBuffer>> = {};
  for (const f of ['kernels.wasm', 'kernels-relaxed.wasm']) {
    const res = await fetch(here(f));
    if (!res.ok) throw new Error(`${f}: HTTP ${res.status}`);
    wasm[f] = new Uint8Array(await res.arrayBuffer());
  }
  configureBrowserHost(wasm, here('kernel-thread.js'));
}

function methodInfos(): MethodInfo[] {
  return methods().map((m) => ({
    name: m.name, summary: m.summary, color: m.color,
    options: m.options.filter((o) => o.flag !== undefined).map((o) => ({
      flag: o.flag!, metavar: o.metavar, default: o.default === undefined ? '' : String(o.default), help: o.help, expects: o.expects,
    })),
  }));
}

/** Typed rows as the custom task's CSV: answers as their token ids (each must be one token). */
function customCsv(task: Extract<TaskChoice, { kind: 'custom' }>, tok: Tokenizer): string {
  if (task.rows.length === 0) throw new UserError('no prompts: type at least one line "clean | corrupted | answer | wrong"');
  const id = (text: string, row: number, col: string): number => {
    const ids = tok.encode(text);
    if (ids.length !== 1) throw new UserError(`line ${row}, ${col} "${text}": must be one token of the model's tokenizer, but is ${ids.length}; write it with its leading space (" Mary"), or pick another word`);
    return ids[0]!;
  };
  const q = (s: string): string => `"${s.replace(/"/g, '""')}"`;
  const lines = task.rows.map((r, i) => [q(r.clean), q(r.corrupted), id(r.answer, i + 1, 'answer'), id(r.wrong, i + 1, 'wrong')].join(','));
  return ['clean,corrupted,answer,wrong', ...lines].join('\n') + '\n';
}

/** Which device runs the kernels and why, for the page's device line. */
function deviceLine(info: EngineInfo, asked: RunRequest['device']): Extract<FromWorker, { type: 'engine' }> {
  const d = info.device!;
  if (d.device === 'gpu') return { type: 'engine', device: 'gpu', text: `WebGPU on ${describeAdapter(d.adapter!)} (device ${asked})` };
  const wasm = `WebAssembly, ${info.threads} thread${info.threads === 1 ? '' : 's'}`;
  return { type: 'engine', device: 'cpu', text: asked === 'cpu' ? `${wasm} (device cpu)` : `${wasm}: ${d.reason}` };
}

async function run(r: RunRequest): Promise<void> {
  const t0 = performance.now();
  let shown = 0;
  // at most ten progress messages a second: a large shard arrives in many thousand chunks
  const onBytes = (file: string, loaded: number, total: number): void => {
    if (performance.now() - shown < 100 && loaded !== total) return;
    shown = performance.now();
    post({ type: 'progress', stage: `downloading ${file}`, done: loaded, total, unit: 'bytes' });
  };
  const dir = r.model.kind === 'builtin' ? '/models/default' : `/models/hub/${r.model.name.replace(/[@/]/g, '_')}`;
  const base = r.model.kind === 'builtin' ? here('models/default/') : hubBase(r.model.endpoint, r.model.name);
  const { downloaded } = await mountModel(base, dir, onBytes);
  post({ type: 'progress', stage: 'starting the engine', done: 0, total: 0, unit: 'items' });
  const engine = await createEngine({ gemm: 'wasm', device: r.device });
  try {
    post(deviceLine(engine.info, r.device));
    post({ type: 'progress', stage: 'loading the weights', done: 0, total: 0, unit: 'items' });
    const { model, tokenizer } = await loadModel(engine, dir, { quiet: true });
    const spec = r.model.kind === 'builtin' ? 'built-in default model' : r.model.name;
    const m = methods().find((x) => x.name === r.method);
    if (!m) throw new UserError(`unknown method ${r.method}`);
    const options = methodOptionsFrom(m, r.options);
    let values: Record<string, unknown>;
    if (r.task.kind === 'generated') values = { task: r.task.task, limit: String(r.task.n), seed: String(r.task.seed) };
    else {
      vfs.mount('/data/custom.csv', new TextEncoder().encode(customCsv(r.task, tokenizer)));
      values = { task: 'custom', data: '/data/custom.csv' };
    }
    const data = loadOrGenerateTaskData({ ...values, 'batch-size': String(r.batchSize) }, tokenizer, '', 20);
    const stage = (label: string, total: number) => {
      let done = 0;
      const report = (): void => post({ type: 'progress', stage: label, done, total, unit: 'items' });
      report();
      return { add: (n: number) => ((done += n), report()), set: (n: number) => ((done = n), report()) };
    };
    const { scores } = await scoreEdges({
      model, batches: data.batches, method: m.name, loss: data.loss, metric: data.metric, options: options as AttributionOptions,
      progress: ({ label, total }) => {
        const report = (done: number): void => post({ type: 'progress', stage: label, done, total, unit: 'items' });
        let done = 0;
        return { add: (n) => report((done += n)), set: (n) => report((done = n)), setTotal() {}, finish() {} };
      },
    });
    const render = attributeRender({ method: m.name, options, spec, dir, model, data });
    const graph = writeScores('/out/graph.json', model.layout, scores, render);
    const json = new TextDecoder().decode(vfs.get('/out/graph.json') as Uint8Array);
    vfs.remove('/out/graph.json');
    let swept: (SweepResult & { metric: string }) | null = null;
    if (r.faithfulness) {
      const budgets = fractionBudgets(graph.nEdges);
      const p = stage('faithfulness sweep', (budgets.length + 2) * data.batches.length);
      const res = await sweep({ model, batches: data.batches, metric: data.metric, graph, budgets, fractions: MIB_FRACTIONS, select: 'greedy', absolute: true, onRun: () => p.add(1) });
      swept = { ...res, metric: data.task.metricKind };
    }
    let path: PathFile | null = null;
    if (r.paths > 0) {
      // GradPath with the run's options when the method has them (eap-gp), else the paper's
      const gp = { ...r.options };
      const limit = Math.min(r.paths, data.examples);
      const few = loadOrGenerateTaskData({ ...values, limit: String(limit), 'batch-size': String(r.batchSize) }, tokenizer, '', limit);
      const p = stage('path traces', few.examples);
      path = await pathFile({ model, tokenizer, data: few, spec, steps: optionValue(STEPS, gp), points: 32, variants: variantsFrom(gp), onBatch: (n) => p.set(n) });
    }
    const binary = encodeGraphBinary(graph, { name: `${m.name} · ${data.task.name}`, file: 'graph.json', cfg: JSON.parse(json).cfg, meta: render.meta });
    post({ type: 'result', json, binary, seconds: (performance.now() - t0) / 1000, downloaded, engine: engine.info.kernels, examples: data.examples, sweep: swept, path }, [binary.buffer as ArrayBuffer]);
  } finally {
    await engine.close();
  }
}

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  const fail = (e: unknown): void => post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  if (m.type === 'hello') {
    setUp().then(() => post({
      type: 'ready', methods: methodInfos(), tasks: generators.map((g) => ({ name: g.name, description: g.description })),
      threads: self.crossOriginIsolated ? Math.max(1, navigator.hardwareConcurrency || 1) : 1, isolated: self.crossOriginIsolated,
    }), fail);
  } else if (m.type === 'run') run(m).catch(fail);
};
