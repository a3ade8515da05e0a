/**
 * The discovery page: model, task and method (read from the registry, through the worker), a run in the
 * discovery worker with progress and Cancel, then the viewer's circuit view of the result (its selection worker
 * and drawing, unchanged) and downloads of the graph JSON (`eapgp attribute`'s writer) and the SVG.
 */
import { drawPanel } from '../../viewer/src/circuit-view.js';
import { byId, h, int } from '../../viewer/src/dom.js';
import { combinedSvg, download } from '../../viewer/src/export.js';
import { renderFaithfulness } from '../../viewer/src/faithfulness.js';
import { renderPathView } from '../../viewer/src/path-view.js';
import type { PathFile } from '../../src/attribution/path-format.js';
import type { Results } from '../../src/reproduce/types.js';
import type { GraphSummary, SelectParams } from '../../viewer/src/protocol.js';
import { SelectionClient } from '../../viewer/src/selection-client.js';
import type { FromWorker, MethodInfo, RunRequest, TaskInfo } from './protocol.js';

const params = new URLSearchParams(location.search);
const endpoint = params.get('endpoint') ?? 'https://huggingface.co';
let methods: MethodInfo[] = [];
let worker: Worker;
let result: { json: string; url: string; method: string; task: string } | null = null;
let summary: GraphSummary | null = null;
let plots: { sweep: Extract<FromWorker, { type: 'result' }>['sweep']; path: PathFile | null } = { sweep: null, path: null };

function banner(text: string | null, error = false): void {
  const b = byId('banner');
  b.hidden = text === null;
  b.className = error ? 'banner error' : 'banner';
  b.textContent = text ?? '';
}

function setState(state: 'loading' | 'idle' | 'running' | 'done' | 'error'): void {
  document.body.dataset.state = state;
  byId<HTMLButtonElement>('run').disabled = state === 'loading' || state === 'running';
  byId<HTMLButtonElement>('cancel').disabled = state !== 'running';
  byId('progress').hidden = state !== 'running';
}

function showError(message: string | null): void {
  const e = byId('error');
  e.hidden = message === null;
  e.textContent = message ?? '';
}

/** A fresh discovery worker (also after Cancel, which terminates the old one with its kernel threads). */
function startWorker(): void {
  worker = new Worker(new URL('./discover-worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = (ev: MessageEvent<FromWorker>) => onMessage(ev.data);
  worker.onerror = (ev) => {
    ev.preventDefault();
    setState('error');
    showError(`the discovery worker failed: ${ev.message}`);
  };
  worker.postMessage({ type: 'hello' });
}

function onMessage(m: FromWorker): void {
  if (m.type === 'ready') {
    if (methods.length === 0) fillForm(m.methods, m.tasks);
    byId('status').textContent = m.isolated ? `${m.threads} threads (cross-origin isolated)` : '1 thread (the page is not cross-origin isolated)';
    banner(null);
    setState('idle');
  } else if (m.type === 'progress') {
    const pct = m.total > 0 ? (100 * m.done) / m.total : 0;
    const amount = m.unit === 'bytes' ? `${(m.done / 2 ** 20).toFixed(1)}${m.total ? ` of ${(m.total / 2 ** 20).toFixed(1)}` : ''} MiB` : m.total ? `${int(m.done)} of ${int(m.total)}` : '';
    byId('progress-text').textContent = `${m.stage}${amount ? `: ${amount}` : ''}`;
    byId('progress-bar').style.width = `${m.total > 0 ? pct : 100}%`;
  } else if (m.type === 'engine') {
    const line = byId('device-line');
    line.textContent = `Ran on ${m.text}`;
    line.dataset.device = m.device;
  } else if (m.type === 'error') {
    setState('error');
    showError(m.message);
  } else if (m.type === 'result') {
    setState('done');
    if (result) URL.revokeObjectURL(result.url);
    const meta = (JSON.parse(m.json) as { meta: Record<string, unknown> }).meta;
    result = { json: m.json, url: URL.createObjectURL(new Blob([m.binary as Uint8Array<ArrayBuffer>])), method: String(meta['method']), task: String(meta['task']) };
    const info = byId('result-info');
    info.textContent = `${result.method} on ${m.examples} ${result.task} examples in ${m.seconds.toFixed(1)} s · ${m.engine}` +
      (m.downloaded ? ` · downloaded ${(m.downloaded / 2 ** 20).toFixed(1)} MiB` : ' · model from the cache');
    info.dataset.downloaded = String(m.downloaded);
    byId('result').hidden = false;
    summary = null;
    plots = { sweep: m.sweep, path: m.path };
    const ex = byId<HTMLSelectElement>('path-example');
    ex.replaceChildren(h('option', { value: '-1' }, 'mean over examples'), ...(m.path?.examples ?? []).map((e, i) => h('option', { value: String(i) }, `${i + 1}: ${e.clean}`)));
    ex.value = m.path && m.path.examples.length > 0 ? '0' : '-1';
    client.load('A', 0, result.url);
  }
}

const client = new SelectionClient({
  progress() {},
  loaded(_slot, _id, s) {
    summary = s;
    void select();
  },
  error(_slot, _id, message) {
    showError(`the circuit view could not read the result: ${message}`);
  },
});

async function select(): Promise<void> {
  if (!summary) return;
  const n = Math.max(1, Math.min(summary.nEdges, Number(byId<HTMLInputElement>('budget').value) || 100));
  const p: SelectParams = { mode: 'greedy', n, absolute: true, prune: true, reference: null, drawCap: 2500 };
  const r = await client.select(p);
  const sel = r.A;
  if (!sel) return;
  const body = document.querySelector('#panel-A .panel-body')!;
  const box = { width: Math.max(400, body.clientWidth), height: Math.max(480, window.innerHeight - 160) };
  body.replaceChildren(drawPanel({ summary, sel, reference: null, title: summary.name, subtitle: `greedy ${int(n)} by |score|, pruned → ${int(sel.edges)} edges, ${int(sel.nodes)} nodes + logits` }, box));
  Object.assign(byId('panel-A').dataset, { state: 'ready', edges: String(sel.edges), nodes: String(sel.nodes), n: String(n) });
  renderPlots(n);
}

/** The viewer's faithfulness chart over this run's sweep (the part of a reproduce results.json it reads) and its saturation view. */
function renderPlots(n: number): void {
  const faith = byId('faith-body');
  const s = plots.sweep;
  if (s && result) {
    const points = s.points.map((p) => ({ requested: p.requested ?? p.edges, faithfulness: p.faithfulness }));
    const results = {
      settings: { select: 'greedy', absolute: true, intervention: 'patching' },
      tasks: { [result.task]: { baseline: s.baseline, corrupted: s.corrupted, metric: s.metric, examples: Number(JSON.parse(result.json).meta.examples), methods: { [result.method]: { points, fractions: { points, cpr: s.cpr, cmd: s.cmd } } } } },
    } as unknown as Results;
    faith.className = '';
    // the numbers behind the chart, for tests and tools
    faith.dataset.sweep = JSON.stringify({ baseline: s.baseline, corrupted: s.corrupted, cpr: s.cpr, cmd: s.cmd, points: s.points.map((p) => ({ requested: p.requested, edges: p.edges, faithfulness: p.faithfulness })) });
    renderFaithfulness(faith, { a: { results, task: result.task, method: result.method }, b: null, n, mode: 'greedy', absolute: true, prune: true, legend: methods.map((m) => ({ name: m.name, color: m.color })) });
  } else {
    delete faith.dataset.sweep;
    faith.className = 'muted';
    faith.textContent = 'Not asked for (tick "faithfulness curve" before running).';
  }
  if (plots.path) {
    renderPathView(byId('path-summary'), byId('path-charts'), { file: plots.path, example: Number(byId<HTMLSelectElement>('path-example').value), logY: true, threshold: 0.1 });
  } else {
    byId('path-summary').textContent = 'Not asked for (set the examples traced above 0 before running).';
    byId('path-charts').replaceChildren();
  }
}

function fillForm(ms: MethodInfo[], tasks: TaskInfo[]): void {
  methods = ms;
  const task = byId<HTMLSelectElement>('task');
  task.replaceChildren(...tasks.map((t) => h('option', { value: t.name, title: t.description }, t.name)), h('option', { value: 'custom' }, 'custom (typed prompts)'));
  const about = (): void => {
    const custom = task.value === 'custom';
    byId('task-generated').hidden = custom;
    byId('task-custom').hidden = !custom;
    byId('task-about').textContent = tasks.find((t) => t.name === task.value)?.description ?? 'Answers are single tokens of the model (write the leading space).';
  };
  task.onchange = about;
  about();
  const method = byId<HTMLSelectElement>('method');
  method.replaceChildren(...ms.map((m) => h('option', { value: m.name }, m.name)));
  method.value = ms.some((m) => m.name === 'eap-gp') ? 'eap-gp' : ms[0]!.name;
  const options = (): void => {
    const m = ms.find((x) => x.name === method.value)!;
    byId('method-about').textContent = m.summary;
    byId('method-options').replaceChildren(...m.options.map((o) =>
      h('label', { class: 'opt', title: `${o.help}; must be ${o.expects}` }, `${o.flag} `, h('input', { 'data-flag': o.flag, value: o.default, placeholder: o.metavar }), ` ${o.help}`)));
  };
  method.onchange = options;
  options();
  byId('endpoint').textContent = endpoint;
}

function request(): RunRequest {
  const model = (document.querySelector('input[name=model]:checked') as HTMLInputElement).value;
  const task = byId<HTMLSelectElement>('task').value;
  const options: Record<string, string> = {};
  const m = methods.find((x) => x.name === byId<HTMLSelectElement>('method').value)!;
  for (const input of document.querySelectorAll<HTMLInputElement>('#method-options input')) {
    const o = m.options.find((x) => x.flag === input.dataset.flag);
    if (o && input.value.trim() !== o.default) options[o.flag] = input.value.trim();
  }
  const rows = byId<HTMLTextAreaElement>('rows').value.split('\n').filter((l) => l.trim() !== '').map((l) => {
    const [clean = '', corrupted = '', answer = '', wrong = ''] = l.split('|').map((x) => x.replace(/^ /, '').replace(/ $/, ''));
    return { clean, corrupted, answer, wrong };
  });
  return {
    type: 'run',
    model: model === 'hub' ? { kind: 'hub', name: byId<HTMLInputElement>('hub-name').value, endpoint } : { kind: 'builtin' },
    task: task === 'custom' ? { kind: 'custom', rows } : { kind: 'generated', task, n: Number(byId<HTMLInputElement>('n').value), seed: Number(byId<HTMLInputElement>('seed').value) },
    method: m.name, options, batchSize: Number(byId<HTMLInputElement>('batch').value),
    device: byId<HTMLSelectElement>('device').value as RunRequest['device'],
    faithfulness: byId<HTMLInputElement>('faith').checked, paths: Math.max(0, Number(byId<HTMLInputElement>('paths').value) || 0),
  };
}

byId('form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  showError(null);
  const line = byId('device-line');
  line.textContent = '';
  delete line.dataset.device;
  byId('progress-text').textContent = 'starting';
  setState('running');
  worker.postMessage(request());
});
byId('cancel').addEventListener('click', () => {
  worker.terminate();
  showError('Cancelled.');
  setState('loading');
  startWorker();
});
byId('budget').addEventListener('change', () => void select());
byId('path-example').addEventListener('change', () => renderPlots(Number(byId<HTMLInputElement>('budget').value) || 100));
byId('download-json').addEventListener('click', () => {
  if (result) download(`${result.method}-${result.task}.json`, new Blob([result.json], { type: 'application/json' }));
});
byId('download-svg').addEventListener('click', () => {
  const svg = document.querySelector<SVGSVGElement>('#panel-A svg.circuit');
  if (svg && result) download(`${result.method}-${result.task}.svg`, new Blob([combinedSvg([svg])], { type: 'image/svg+xml' }));
});

if ('serviceWorker' in navigator && params.get('sw') !== '0') {
  void navigator.serviceWorker.register('sw.js').then(() => {
    // the service worker adds the headers that make the page cross-origin isolated: once it controls the page
    if (!crossOriginIsolated && !navigator.serviceWorker.controller && !sessionStorage.getItem('eapgp-reloaded')) {
      sessionStorage.setItem('eapgp-reloaded', '1');
      navigator.serviceWorker.ready.then(() => location.reload());
    }
  }, () => {});
}
setState('loading');
startWorker();
