/**
 * The viewer page: the file catalog, the two graph panels with their controls, and the saturation tab. The
 * graphs live in the selection worker; this module keeps the page state, asks the worker for the circuit
 * whenever a control changes (one request at a time, always for the latest settings) and draws the answer.
 */
import type { PathFile } from '../../src/attribution/path-format.js';
import type { PrRecord } from '../../src/reproduce/types.js';
import type { Catalog, CatalogEntry, ResultsResponse } from '../../src/viewer-server/protocol.js';
import { fetchCatalog, fetchNodes, fetchPath, fetchResults } from './api.js';
import { drawPanel, type PanelBox } from './circuit-view.js';
import { renderDetails } from './details-view.js';
import { byId, bytes, h, int, num, onWidthChange } from './dom.js';
import { combinedSvg, download, svgToPng } from './export.js';
import { renderFaithfulness, type Origin } from './faithfulness.js';
import { renderOverlap } from './overlap-view.js';
import { renderPathView } from './path-view.js';
import { renderNodeView } from './node-view.js';
import type { DetailsTarget, GraphSummary, ReferenceChoice, SelectMode, SelectParams, SelectionResult, Slot } from './protocol.js';
import { SelectionClient } from './selection-client.js';

/** Most edges drawn per panel: the strongest of a larger circuit. */
const DRAW_CAP = 2500;
const SLOTS: Slot[] = ['A', 'B'];

const state = {
  catalog: null as Catalog | null,
  results: new Map<number, ResultsResponse>(),
  ids: { A: null, B: null } as Record<Slot, number | null>,
  summaries: {} as Partial<Record<Slot, GraphSummary>>,
  mode: 'greedy' as SelectMode,
  n: 100,
  absolute: true,
  prune: true,
  reference: null as ReferenceChoice | null,
  /** The reference follows the graph's task until the user picks one. */
  referenceAuto: true,
  selection: null as SelectionResult | null,
  /** The settings the shown selection was made with (drawn again when the page changes size). */
  shown: null as SelectParams | null,
  pinned: null as { slot: Slot; target: DetailsTarget } | null,
  paths: new Map<number, PathFile>(),
};

const entry = (id: number | null): CatalogEntry | undefined => (id === null ? undefined : state.catalog?.entries[id]);

function banner(text: string | null, error = false): void {
  const b = byId('banner');
  b.hidden = text === null;
  b.className = error ? 'banner error' : 'banner';
  b.textContent = text ?? '';
}

// ------------------------------------------------------------------ panels

function panel(slot: Slot): { root: HTMLElement; msg: HTMLElement; body: HTMLElement } {
  const root = byId(`panel-${slot}`);
  return { root, msg: root.querySelector('.panel-msg') as HTMLElement, body: root.querySelector('.panel-body') as HTMLElement };
}

function panelMessage(slot: Slot, text: string | Node | null, kind: 'info' | 'error' = 'info'): void {
  const { msg } = panel(slot);
  msg.className = `panel-msg${kind === 'error' ? ' error' : ''}`;
  msg.replaceChildren(...(text === null ? [] : [text]));
}

const client = new SelectionClient({
  progress(slot, id, loaded, total) {
    if (state.ids[slot] !== id) return;
    const pct = total > 0 ? Math.round((100 * loaded) / total) : null;
    const bar = h('div', { class: 'progress' }, h('div', { style: `width:${pct ?? 50}%` }));
    panelMessage(slot, h('div', {}, `Loading ${entry(id)?.name ?? ''}: ${bytes(loaded)}${total ? ` of ${bytes(total)}` : ''}`, bar));
  },
  loaded(slot, id, summary) {
    if (state.ids[slot] !== id) return;
    state.summaries[slot] = summary;
    panelMessage(slot, null);
    if (slot === 'A' || state.ids.A === null) openAtFileCircuit(summary);
    updateFileMode();
    autoReference();
    updateBudgetRange();
    renderGraphInfo();
    requestSelection();
  },
  error(slot, id, message) {
    if (state.ids[slot] !== id) return;
    delete state.summaries[slot];
    failPanel(slot, `Could not open ${entry(id)?.path ?? 'the file'}: ${message}`);
    updateFileMode();
    requestSelection();
  },
});

function failPanel(slot: Slot, message: string): void {
  const { root, body } = panel(slot);
  root.dataset.state = 'error';
  body.replaceChildren();
  panelMessage(slot, message, 'error');
}

function setGraph(slot: Slot, id: number | null): void {
  state.ids[slot] = id;
  delete state.summaries[slot];
  state.pinned = null;
  const { root, body } = panel(slot);
  if (slot === 'B') {
    root.hidden = id === null;
    byId('panels').classList.toggle('two', id !== null);
    byId('view-circuit').classList.toggle('two', id !== null);
    byId('compare-box').hidden = id === null;
  }
  body.replaceChildren();
  renderGraphInfo();
  if (id === null) {
    client.unload(slot);
    root.dataset.state = 'empty';
    panelMessage(slot, slot === 'A' ? 'No graph file was given: start eapgp view with graph JSON or a results.json.' : null);
    updateFileMode();
    requestSelection();
    return;
  }
  const e = entry(id)!;
  if (e.error !== undefined) {
    client.unload(slot);
    failPanel(slot, e.error);
    requestSelection();
    return;
  }
  root.dataset.state = 'loading';
  panelMessage(slot, `Loading ${e.name}…`);
  client.load(slot, id);
}

// ------------------------------------------------------------------ selection

let busy = false;
let dirty = false;

function params(): SelectParams {
  return { mode: state.mode, n: state.n, absolute: state.absolute, prune: state.prune, reference: state.reference, drawCap: DRAW_CAP };
}

/** Asks the worker for the circuit of the current settings (coalescing requests made while one runs). */
function requestSelection(): void {
  dirty = true;
  document.body.dataset.busy = 'true'; // for tests and tools: false again once the page shows the latest settings
  if (busy) return;
  void (async () => {
    busy = true;
    try {
      while (dirty) {
        dirty = false;
        const p = params();
        if (!SLOTS.some((s) => state.summaries[s])) {
          state.selection = null;
          renderSide();
          continue;
        }
        try {
          state.selection = await client.select(p);
          state.shown = p;
          render(p);
        } catch (e) {
          banner(`Selection failed: ${(e as Error).message}`, true);
        }
      }
    } finally {
      busy = false;
      document.body.dataset.busy = 'false';
    }
  })();
}

function modeText(p: SelectParams, requested: number): string {
  if (p.mode === 'file') return `the file's in_graph flags (${int(requested)} edges)`;
  return `${p.mode === 'greedy' ? 'greedy' : 'top-n'} ${int(requested)} by ${p.absolute ? '|score|' : 'score'}${p.prune ? ', pruned' : ''}`;
}

/**
 * The box a panel's picture fills: the panel's width, and the height from the panel's top to the bottom of
 * the window (with the page scrolled to the top), so the whole circuit shows at once where it can.
 */
function panelBox(slot: Slot): PanelBox {
  const { body } = panel(slot);
  const top = body.getBoundingClientRect().top + window.scrollY;
  return { width: Math.max(300, body.clientWidth), height: Math.max(420, window.innerHeight - top - 30) };
}

function render(p: SelectParams): void {
  const r = state.selection!;
  const lines: HTMLElement[] = [];
  for (const slot of SLOTS) {
    const sel = r[slot], summary = state.summaries[slot];
    const { root, body } = panel(slot);
    if (!sel || !summary) continue;
    const other = slot === 'A' ? r.B : r.A;
    const svg = drawPanel({
      summary, sel, reference: r.reference,
      title: `${slot} · ${summary.name}`,
      subtitle: `${modeText(p, sel.requested)} → ${int(sel.edges)} edges, ${int(sel.nodes)} nodes + logits` +
        (sel.drawn.flat.length < sel.edges ? ` (drawing the ${int(sel.drawn.flat.length)} strongest)` : '') +
        (sel.unique && other ? ` · ${int(sel.unique.reduce((a, b) => a + b, 0))} only here` : ''),
    }, panelBox(slot));
    body.replaceChildren(svg);
    Object.assign(root.dataset, { state: 'ready', graph: String(state.ids[slot]), n: String(p.n), mode: p.mode, edges: String(sel.edges), nodes: String(sel.nodes) });
    lines.push(h('div', {}, h('b', {}, `${slot}: `), `${int(sel.edges)} edges, ${int(sel.nodes)} nodes`));
  }
  const readout = byId('budget-readout');
  readout.replaceChildren(h('div', {}, p.mode === 'file' ? "the file's own circuit" : `budget ${int(p.n)} edges`), ...lines);
  readout.dataset.n = String(p.n);
  applyPin();
  renderSide();
}

/** Draws the shown selection again at the page's new size. */
function redraw(): void {
  if (byId('view-circuit').hidden) return; // drawn when shown again (its width changes then)
  if (state.selection && state.shown) render(state.shown);
  else renderSide();
}

function origin(slot: Slot): Origin | null {
  const from = entry(state.ids[slot])?.from;
  const res = from ? state.results.get(from.results) : undefined;
  return from && res ? { results: res.results, task: from.task, method: from.method } : null;
}

function renderSide(): void {
  const r = state.selection;
  renderFaithfulness(byId('faith-body'), { a: origin('A'), b: origin('B'), n: state.n, mode: state.mode, absolute: state.absolute, prune: state.prune, legend: state.catalog?.methods ?? [] });
  const pr: Partial<Record<Slot, PrRecord>> = {};
  for (const s of SLOTS) {
    const o = origin(s);
    const rec = o?.results.tasks[o.task]?.methods[o.method]?.pr;
    if (rec && state.reference && rec.reference === state.reference.variant && o!.task === state.reference.task) pr[s] = rec;
  }
  const names = Object.fromEntries(SLOTS.map((s) => [s, state.summaries[s]?.name ?? ''])) as Record<Slot, string>;
  renderOverlap(byId('overlap-body'), { result: r, names, pr, n: state.n, referenceChosen: state.reference !== null });
  const cb = byId('compare-body');
  cb.replaceChildren();
  if (r?.compareError) cb.append(h('p', { class: 'note warn' }, r.compareError));
  else if (r?.compare) {
    const { shared, onlyA, onlyB } = r.compare;
    const union = shared + onlyA + onlyB;
    cb.append(h('table', { id: 'compare-table' }, h('tbody', {},
      h('tr', {}, h('td', {}, 'shared edges'), h('td', { id: 'cmp-shared' }, int(shared))),
      h('tr', {}, h('td', {}, `only in A (${names.A})`), h('td', { id: 'cmp-only-a' }, int(onlyA))),
      h('tr', {}, h('td', {}, `only in B (${names.B})`), h('td', { id: 'cmp-only-b' }, int(onlyB))),
      h('tr', {}, h('td', {}, 'Jaccard overlap'), h('td', { id: 'cmp-jaccard' }, union ? num(shared / union) : '–')))),
    h('p', { class: 'note' }, 'In each panel, amber halos mark edges only that panel has; grey dashes show edges only the other has.'));
  }
}

// ------------------------------------------------------------------ hover, click, details

let hoverSeq = 0;

function targetOf(el: Element | null): { slot: Slot; target: DetailsTarget; el: Element } | null {
  const panelEl = el?.closest('.panel');
  if (!panelEl) return null;
  const slot = panelEl.id === 'panel-B' ? 'B' : 'A';
  const edge = el!.closest('[data-flat]');
  if (edge && edge.closest('svg.circuit')) return { slot, target: { kind: 'edge', flat: Number(edge.getAttribute('data-flat')) }, el: edge };
  const node = el!.closest('g.node');
  if (node) return { slot, target: { kind: 'node', src: Number(node.getAttribute('data-src')) }, el: node };
  return null;
}

async function showDetails(slot: Slot, target: DetailsTarget, pinned: boolean): Promise<void> {
  const seq = ++hoverSeq;
  const d = await client.details(slot, target, state.absolute).catch(() => null);
  if (seq !== hoverSeq) return;
  renderDetails(byId('details-body'), slot, state.summaries[slot]?.name ?? '', d, pinned);
}

/** Marks the pinned node's edges (or the pinned edge) and dims the rest. */
function applyPin(): void {
  for (const slot of SLOTS) {
    const svg = panel(slot).body.querySelector('svg.circuit');
    if (!svg) continue;
    svg.querySelectorAll('.lit').forEach((e) => e.classList.remove('lit'));
    const pin = state.pinned;
    svg.classList.toggle('focus', pin !== null && pin.slot === slot);
    if (!pin || pin.slot !== slot) continue;
    const t = pin.target;
    const sel = t.kind === 'edge' ? `.edges .edge[data-flat="${t.flat}"]` : `.edges .edge[data-src="${t.src}"], .edges .edge[data-dst="${t.src}"]`;
    svg.querySelectorAll(sel).forEach((e) => e.classList.add('lit'));
  }
}

function wirePanels(): void {
  const panels = byId('panels');
  panels.addEventListener('mouseover', (ev) => {
    if (state.pinned) return;
    const t = targetOf(ev.target as Element);
    panels.querySelectorAll('.edge.hover').forEach((e) => e.classList.remove('hover'));
    if (!t) return;
    if (t.target.kind === 'edge') t.el.closest('svg')?.querySelector(`.edges .edge[data-flat="${t.target.flat}"]`)?.classList.add('hover');
    void showDetails(t.slot, t.target, false);
  });
  panels.addEventListener('click', (ev) => {
    const t = targetOf(ev.target as Element);
    state.pinned = t ? { slot: t.slot, target: t.target } : null;
    applyPin();
    if (t) void showDetails(t.slot, t.target, true);
    else renderDetails(byId('details-body'), 'A', '', null, false);
  });
  document.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Escape' || !state.pinned) return;
    state.pinned = null;
    applyPin();
    renderDetails(byId('details-body'), 'A', '', null, false);
  });
}

// ------------------------------------------------------------------ controls

/** Largest budget on the slider: the bigger graph's edge count. */
function maxBudget(): number {
  return Math.max(1, ...SLOTS.map((s) => state.summaries[s]?.nEdges ?? 0));
}

const sliderToN = (v: number, max: number): number => Math.max(1, Math.min(max, Math.round(Math.exp((v / 1000) * Math.log(max)))));
const nToSlider = (n: number, max: number): number => (max <= 1 ? 0 : Math.round((1000 * Math.log(n)) / Math.log(max)));

function updateBudgetRange(): void {
  const max = maxBudget();
  if (SLOTS.some((s) => state.summaries[s])) state.n = Math.min(state.n, max);
  const num = byId<HTMLInputElement>('budget-number');
  num.max = String(max);
  num.value = String(state.n);
  byId<HTMLInputElement>('budget').value = String(nToSlider(state.n, max));
}

/** Sets the budget, clamped to 1 … the largest graph's edge count; the box shows what was set. */
function setBudget(n: number, from: 'slider' | 'number'): void {
  const max = SLOTS.some((s) => state.summaries[s]) ? maxBudget() : Infinity;
  state.n = Math.max(1, Math.min(max, Math.round(n)));
  byId<HTMLInputElement>('budget-number').value = String(state.n);
  if (from !== 'slider') byId<HTMLInputElement>('budget').value = String(nToSlider(state.n, maxBudget()));
  requestSelection();
}

function setMode(mode: SelectMode): void {
  state.mode = mode;
  byId<HTMLInputElement>('budget').disabled = mode === 'file';
  byId<HTMLInputElement>('budget-number').disabled = mode === 'file';
  const radio = document.querySelector<HTMLInputElement>(`input[name=mode][value=${mode}]`)!;
  radio.checked = true;
}

/**
 * A graph opens at the circuit its file flags: "file's flags", with the budget at that circuit's size (what
 * greedy or top-n then start from). A file that flags none opens at the budget (greedy when the flags were shown).
 */
function openAtFileCircuit(s: GraphSummary): void {
  if (s.fileEdges > 0) {
    setMode('file');
    state.n = s.fileEdges;
  } else if (state.mode === 'file') setMode('greedy');
}

/** "file's flags" is offered while a shown graph's file flags a circuit. */
function updateFileMode(): void {
  const any = SLOTS.some((s) => (state.summaries[s]?.fileEdges ?? 0) > 0);
  const radio = document.querySelector<HTMLInputElement>('input[name=mode][value=file]')!;
  radio.disabled = !any;
  byId('mode-file').title = any ? 'the circuit flagged in_graph in the file' : 'the shown graph files flag no circuit (no edge has in_graph: true)';
  if (!any && state.mode === 'file' && SLOTS.some((s) => state.summaries[s])) setMode('greedy');
}

/** The task a panel's graph is about: from its results.json, or the graph's own meta. */
function taskOf(slot: Slot): string | null {
  const o = origin(slot);
  if (o) return o.task;
  const t = state.summaries[slot]?.meta?.['task'];
  return typeof t === 'string' ? t : null;
}

function autoReference(): void {
  if (!state.referenceAuto) return;
  const s = state.summaries.A ?? state.summaries.B;
  const task = taskOf(state.summaries.A ? 'A' : 'B');
  const family = s?.meta?.['family'];
  const gpt2 = family === undefined || family === 'gpt2'; // graphs written before `family` was recorded are GPT-2's
  const fits = s !== undefined && s.nLayers === 12 && s.nHeads === 12 && !s.parallelAttnMlp && gpt2 && (task === 'ioi' || task === 'greater-than');
  state.reference = fits ? { task: task as ReferenceChoice['task'], variant: 'acdc' } : null;
  byId<HTMLSelectElement>('reference').value = state.reference ? `${state.reference.task}:${state.reference.variant}` : '';
  byId('reference-note').textContent = fits ? `Chosen from the graph's task (${task}).` : '';
}

function renderGraphInfo(): void {
  const el = byId('graph-info');
  el.replaceChildren();
  for (const slot of SLOTS) {
    const s = state.summaries[slot];
    if (!s) continue;
    const m = s.meta ?? {};
    const bits = [m['method'], m['task'], m['steps'] != null ? `${m['steps']} steps` : null, m['examples'] != null ? `${m['examples']} examples` : null]
      .filter((x) => x !== null && x !== undefined && x !== '');
    const text = `${s.nLayers} layers × ${s.nHeads} heads${s.parallelAttnMlp ? ' (parallel attention and MLP)' : ''}, ${int(s.nEdges)} edges${s.fileEdges ? ` (${int(s.fileEdges)} flagged)` : ''}` +
      `${bits.length ? ` · ${bits.join(', ')}` : ''} · ${s.file}`;
    el.append(h('div', { title: `${slot}: ${text}` }, h('b', {}, `${slot}: `), text));
  }
}

function graphOptions(select: HTMLSelectElement, withNone: boolean): void {
  const entries = state.catalog!.entries.filter((e) => e.kind === 'graph');
  select.replaceChildren(...(withNone ? [h('option', { value: '' }, '— none —')] : []));
  const groups = new Map<string, HTMLElement>();
  for (const e of entries) {
    const label = `${e.name}${e.error ? ' (cannot open)' : ''}`;
    const opt = h('option', { value: e.id }, label);
    if (e.from) {
      const key = `results ${entry(e.from.results)?.path ?? ''}`;
      if (!groups.has(key)) {
        const g = h('optgroup', { label: key });
        groups.set(key, g);
        select.append(g);
      }
      groups.get(key)!.append(opt);
    } else select.append(opt);
  }
}

function renderFiles(): void {
  byId('file-list').replaceChildren(...state.catalog!.entries.map((e) => h('li', { 'data-id': e.id, title: e.path },
    h('span', { class: 'kind' }, e.kind), e.name, h('span', { class: 'size' }, bytes(e.bytes)),
    e.error ? h('span', { class: 'err' }, e.error) : '')));
}

function defaultGraphs(): { a: number | null; b: number | null } {
  const graphs = state.catalog!.entries.filter((e) => e.kind === 'graph');
  const ok = graphs.filter((e) => !e.error);
  // A: the first graph of a method read against another (the registry's counterpart); B: that counterpart's
  const counterpartOf = (m: string): string | undefined => state.catalog!.methods.find((x) => x.name === m)?.counterpart;
  const a = ok.find((e) => e.from && counterpartOf(e.from.method)) ?? ok[0] ?? graphs[0];
  const counterpart = a?.from && counterpartOf(a.from.method);
  let b: CatalogEntry | undefined;
  if (a?.from && counterpart) b = ok.find((e) => e.from?.results === a.from!.results && e.from.task === a.from!.task && e.from.method === counterpart);
  return { a: a?.id ?? null, b: b?.id ?? null };
}

function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-|-$/g, '') || 'graph';
}

function wireControls(): void {
  const a = byId<HTMLSelectElement>('graph-a'), b = byId<HTMLSelectElement>('graph-b');
  a.addEventListener('change', () => setGraph('A', a.value === '' ? null : Number(a.value)));
  b.addEventListener('change', () => setGraph('B', b.value === '' ? null : Number(b.value)));
  for (const radio of document.querySelectorAll<HTMLInputElement>('input[name=mode]')) {
    radio.addEventListener('change', () => {
      setMode(radio.value as SelectMode);
      if (state.mode === 'topn' && state.prune) byId('reference-note').textContent = 'Precision/recall in the papers uses top-n without pruning.';
      requestSelection();
    });
  }
  byId<HTMLInputElement>('budget').addEventListener('input', (ev) => setBudget(sliderToN(Number((ev.target as HTMLInputElement).value), maxBudget()), 'slider'));
  byId<HTMLInputElement>('budget-number').addEventListener('change', (ev) => {
    const box = ev.target as HTMLInputElement;
    const v = box.value.trim() === '' ? NaN : Number(box.value);
    if (Number.isFinite(v)) setBudget(v, 'number');
    else box.value = String(state.n); // not a number: back to the budget in force
  });
  byId<HTMLInputElement>('absolute').addEventListener('change', (ev) => {
    state.absolute = (ev.target as HTMLInputElement).checked;
    requestSelection();
  });
  byId<HTMLInputElement>('prune').addEventListener('change', (ev) => {
    state.prune = (ev.target as HTMLInputElement).checked;
    requestSelection();
  });
  byId<HTMLSelectElement>('reference').addEventListener('change', (ev) => {
    const v = (ev.target as HTMLSelectElement).value;
    state.referenceAuto = false;
    byId('reference-note').textContent = '';
    if (v === '') state.reference = null;
    else {
      const [task, variant] = v.split(':') as [ReferenceChoice['task'], ReferenceChoice['variant']];
      state.reference = { task, variant };
    }
    requestSelection();
  });
  const visible = (): SVGSVGElement[] =>
    SLOTS.filter((s) => !panel(s).root.hidden).map((s) => panel(s).body.querySelector('svg.circuit')).filter((x): x is SVGSVGElement => x !== null);
  const name = (ext: string): string => `circuit-${slug(state.summaries.A?.name ?? 'graph')}${state.summaries.B && !panel('B').root.hidden ? `-vs-${slug(state.summaries.B.name)}` : ''}-${state.mode === 'file' ? 'file' : `${state.mode}${state.n}`}.${ext}`;
  byId('export-svg').addEventListener('click', () => {
    const svgs = visible();
    if (svgs.length === 0) return banner('Nothing to export yet: open a graph first.', true);
    download(name('svg'), new Blob([combinedSvg(svgs)], { type: 'image/svg+xml' }));
  });
  byId('export-png').addEventListener('click', () => {
    const svgs = visible();
    if (svgs.length === 0) return banner('Nothing to export yet: open a graph first.', true);
    svgToPng(combinedSvg(svgs)).then((png) => download(name('png'), png), (e: Error) => banner(`PNG export failed: ${e.message}`, true));
  });
}

// ------------------------------------------------------------------ saturation tab

const pathState = { id: null as number | null, example: 0, logY: true, threshold: 0.1 };

async function showPath(): Promise<void> {
  const msg = byId('path-msg');
  const id = pathState.id;
  msg.className = 'panel-msg';
  if (id === null) {
    msg.textContent = 'No path file was given. Make one with eapgp path --model M --task T --data CSV --out path.json, then open it with eapgp view.';
    byId('path-charts').replaceChildren();
    byId('path-summary').replaceChildren();
    return;
  }
  const e = entry(id)!;
  let f = state.paths.get(id);
  if (!f) {
    try {
      if (e.error) throw new Error(e.error);
      msg.textContent = `Loading ${e.name}…`;
      f = await fetchPath(id);
      state.paths.set(id, f);
    } catch (err) {
      msg.className = 'panel-msg error';
      msg.textContent = `Could not open ${e.path}: ${(err as Error).message}`;
      byId('path-charts').replaceChildren();
      byId('path-summary').replaceChildren();
      byId('view-path').dataset.state = 'error';
      return;
    }
  }
  msg.textContent = '';
  const ex = byId<HTMLSelectElement>('path-example');
  if (ex.dataset.file !== String(id)) {
    ex.dataset.file = String(id);
    ex.replaceChildren(
      h('option', { value: '-1' }, `mean of all ${f.examples.length} examples`),
      ...f.examples.map((x, i) => h('option', { value: i }, `row ${x.row}: ${x.clean.slice(0, 60)}${x.clean.length > 60 ? '…' : ''}`)));
    pathState.example = f.examples.length > 0 ? 0 : -1;
    ex.value = String(pathState.example);
  }
  renderPathView(byId('path-summary'), byId('path-charts'), { file: f, example: pathState.example, logY: pathState.logY, threshold: pathState.threshold });
  byId('view-path').dataset.state = 'ready';
}

function wirePathControls(): void {
  const file = byId<HTMLSelectElement>('path-file');
  file.addEventListener('change', () => {
    pathState.id = Number(file.value);
    void showPath();
  });
  byId<HTMLSelectElement>('path-example').addEventListener('change', (ev) => {
    pathState.example = Number((ev.target as HTMLSelectElement).value);
    void showPath();
  });
  byId<HTMLInputElement>('path-logy').addEventListener('change', (ev) => {
    pathState.logY = (ev.target as HTMLInputElement).checked;
    void showPath();
  });
  byId<HTMLInputElement>('path-threshold').addEventListener('change', (ev) => {
    const v = Number((ev.target as HTMLInputElement).value);
    if (Number.isFinite(v) && v >= 0) pathState.threshold = v / 100;
    void showPath();
  });
}

function showTab(tab: 'circuit' | 'path' | 'nodes'): void {
  byId('view-circuit').hidden = tab !== 'circuit';
  byId('view-path').hidden = tab !== 'path';
  byId('view-nodes').hidden = tab !== 'nodes';
  byId('tab-circuit').classList.toggle('active', tab === 'circuit');
  byId('tab-path').classList.toggle('active', tab === 'path');
  byId('tab-nodes').classList.toggle('active', tab === 'nodes');
  if (tab === 'path') void showPath();
  if (tab === 'nodes') void showNodes();
}

// ------------------------------------------------------------------ node graphs

const nodesState = { id: null as number | null };

async function showNodes(): Promise<void> {
  const msg = byId('nodes-msg'), body = byId('nodes-body'), summary = byId('nodes-summary');
  msg.className = 'panel-msg';
  const id = nodesState.id;
  if (id === null) {
    msg.textContent = 'No node graph was given. Make one with eapgp attribute --level node (or neuron) --out nodes.json, then open it with eapgp view.';
    body.replaceChildren();
    summary.replaceChildren();
    return;
  }
  const e = entry(id)!;
  try {
    if (e.error) throw new Error(e.error);
    msg.textContent = `Loading ${e.name}…`;
    renderNodeView(summary, body, await fetchNodes(id));
    msg.textContent = '';
    byId('view-nodes').dataset.state = 'ready';
  } catch (err) {
    msg.className = 'panel-msg error';
    msg.textContent = `Could not open ${e.path}: ${(err as Error).message}`;
    body.replaceChildren();
    summary.replaceChildren();
    byId('view-nodes').dataset.state = 'error';
  }
}

// ------------------------------------------------------------------ start

async function start(): Promise<void> {
  banner('Loading the file list…');
  try {
    state.catalog = await fetchCatalog();
  } catch (e) {
    return banner(`Could not reach the eapgp view server: ${(e as Error).message}`, true);
  }
  banner(null);
  const cat = state.catalog;
  byId('status').textContent = `${cat.tool} · ${cat.entries.length} file${cat.entries.length === 1 ? '' : 's'}`;
  for (const e of cat.entries) {
    if (e.kind === 'results' && !e.error) {
      try {
        state.results.set(e.id, await fetchResults(e.id));
      } catch (err) {
        e.error = (err as Error).message;
      }
    }
  }
  renderFiles();
  wireControls();
  wirePanels();
  onWidthChange(byId('panels'), redraw);
  onWidthChange(byId('faith-body'), () => !byId('view-circuit').hidden && renderSide());
  onWidthChange(byId('path-charts'), () => !byId('view-path').hidden && void showPath());
  let height = window.innerHeight;
  window.addEventListener('resize', () => {
    if (window.innerHeight === height) return;
    height = window.innerHeight;
    redraw();
  });
  wirePathControls();
  graphOptions(byId('graph-a'), false);
  graphOptions(byId('graph-b'), true);
  const paths = cat.entries.filter((e) => e.kind === 'path');
  byId<HTMLSelectElement>('path-file').replaceChildren(...paths.map((e) => h('option', { value: e.id }, e.name + (e.error ? ' (cannot open)' : ''))));
  pathState.id = paths[0]?.id ?? null;
  byId('tab-circuit').addEventListener('click', () => showTab('circuit'));
  byId('tab-path').addEventListener('click', () => showTab('path'));
  byId('tab-nodes').addEventListener('click', () => showTab('nodes'));
  const nodeFiles = cat.entries.filter((e) => e.kind === 'nodes');
  const nodeSelect = byId<HTMLSelectElement>('nodes-file');
  nodeSelect.replaceChildren(...nodeFiles.map((e) => h('option', { value: e.id }, e.name + (e.error ? ' (cannot open)' : ''))));
  nodesState.id = nodeFiles[0]?.id ?? null;
  nodeSelect.addEventListener('change', () => {
    nodesState.id = Number(nodeSelect.value);
    void showNodes();
  });
  const { a, b } = defaultGraphs();
  byId<HTMLSelectElement>('graph-a').value = a === null ? '' : String(a);
  byId<HTMLSelectElement>('graph-b').value = b === null ? '' : String(b);
  updateBudgetRange();
  setGraph('A', a);
  setGraph('B', b);
  renderSide();
  showTab(a === null && paths.length > 0 ? 'path' : a === null && nodeFiles.length > 0 ? 'nodes' : 'circuit');
}

start().catch((e: Error) => banner(`The viewer failed to start: ${e.message}`, true));
