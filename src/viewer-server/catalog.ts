/**
 * The files `eapgp view` may serve: those given on the command line, and the graphs a given results.json lists
 * inside its own directory. Each gets a catalog id; the server answers by id only. Problems (a missing file, a
 * malformed results.json, a graph outside the results directory) become the entry's `error`, shown in the page.
 */
import { closeSync, openSync, readFileSync, readSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { RESULTS_VERSION, type Results } from '../reproduce/types.js';
import { isNodeGraphText } from '../graph/node-json.js';
import { isUserError } from '../util/errors.js';
import { parseJsonFile } from '../util/json.js';
import type { CatalogEntry, EntryKind, ResultsResponse } from './protocol.js';

export interface ServedCatalog {
  entries: CatalogEntry[];
  /** Absolute path of every servable entry (no error), by id. */
  files: Map<number, string>;
  /** Parsed results files, by id. */
  results: Map<number, ResultsResponse>;
}

/**
 * The kind of a file from its first bytes: reproduce and path files say so in "format"; a graph whose first nodes
 * carry scores or neurons is a node-level graph; anything else is an edge graph.
 */
export function sniffKind(file: string): EntryKind {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(65536);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const head = buf.toString('utf8', 0, n);
    const m = /"format"\s*:\s*"eapgp-(reproduce|path)"/.exec(head);
    if (m === null) return isNodeGraphText(head) ? 'nodes' : 'graph';
    return m[1] === 'path' ? 'path' : 'results';
  } finally {
    closeSync(fd);
  }
}

/** True when `child` (absolute) lies inside directory `dir` (absolute), also after resolving symbolic links. */
function inside(dir: string, child: string): boolean {
  const within = (d: string, c: string): boolean => {
    const r = relative(d, c);
    return r !== '' && !r.startsWith('..' + sep) && r !== '..' && !isAbsolute(r);
  };
  if (!within(dir, child)) return false;
  try {
    return within(realpathSync(dir), realpathSync(child));
  } catch {
    return true; // a missing file: its entry reports that
  }
}

const message = (e: unknown): string => (isUserError(e) ? e.message : (e as Error).message);

/** Checks the parts of a results.json the viewer reads; a message naming the first problem, or null. */
function resultsProblem(d: unknown): string | null {
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isObj(d) || d['format'] !== 'eapgp-reproduce') return 'not a results.json of eapgp reproduce ("format" must be "eapgp-reproduce")';
  // version 2 only moved the times and the date to results.log.json, which the viewer does not show
  if (d['version'] !== 1 && d['version'] !== RESULTS_VERSION) return `version ${JSON.stringify(d['version'])}; this viewer reads versions 1 and ${RESULTS_VERSION}`;
  if (!isObj(d['tasks'])) return '"tasks" must be an object';
  for (const [task, t] of Object.entries(d['tasks'])) {
    if (!isObj(t) || !isObj(t['methods'])) return `tasks.${task}.methods must be an object`;
    for (const [method, m] of Object.entries(t['methods'])) {
      if (!isObj(m) || typeof m['graph'] !== 'string') return `tasks.${task}.methods.${method}.graph must be a path`;
      if (!Array.isArray(m['points'])) return `tasks.${task}.methods.${method}.points must be an array`;
    }
  }
  return null;
}

/** Builds the catalog of `args` (files, or directories holding a results.json), resolved against `cwd`. */
export function buildCatalog(args: readonly string[], cwd: string): ServedCatalog {
  const cat: ServedCatalog = { entries: [], files: new Map(), results: new Map() };
  const add = (e: Omit<CatalogEntry, 'id' | 'bytes'>, abs: string | null): CatalogEntry => addEntry(cat, e, abs);

  for (const arg of args) {
    let abs = resolve(cwd, arg);
    try {
      if (statSync(abs).isDirectory()) abs = join(abs, 'results.json');
    } catch {
      add({ kind: /results\.json$/.test(arg) ? 'results' : 'graph', name: basename(arg), path: arg, error: `file not found: ${arg}` }, null);
      continue;
    }
    const shown = abs === resolve(cwd, arg) ? arg : join(arg, 'results.json');
    let kind: EntryKind;
    try {
      kind = sniffKind(abs);
    } catch (e) {
      add({ kind: 'graph', name: basename(abs), path: shown, error: `cannot read ${shown}: ${message(e)}` }, null);
      continue;
    }
    const entry = add({ kind, name: basename(abs), path: shown }, abs);
    if (kind === 'results' && entry.error === undefined) addResults(cat, entry, abs);
  }
  return cat;
}

/** Reads a results.json and adds an entry for each graph it lists (inside its directory only). */
function addResults(cat: ServedCatalog, entry: CatalogEntry, abs: string): void {
  let d: unknown;
  try {
    d = parseJsonFile(readFileSync(abs, 'utf8'), entry.path);
  } catch (e) {
    entry.error = message(e);
    cat.files.delete(entry.id);
    return;
  }
  const problem = resultsProblem(d);
  if (problem !== null) {
    entry.error = `${entry.path}: ${problem}`;
    cat.files.delete(entry.id);
    return;
  }
  const results = d as Results;
  const dir = dirname(abs);
  const graphs: ResultsResponse['graphs'] = {};
  for (const [task, t] of Object.entries(results.tasks)) {
    graphs[task] = {};
    for (const [method, m] of Object.entries(t.methods)) {
      const file = resolve(dir, m.graph);
      const shown = join(dirname(entry.path), m.graph);
      const base = { kind: 'graph' as const, name: `${task} · ${method}`, path: shown, from: { results: entry.id, task, method } };
      const added = inside(dir, file)
        ? addEntry(cat, base, file)
        : addEntry(cat, { ...base, error: `refused: ${m.graph} (listed by ${entry.path}) is outside the results directory` }, null);
      graphs[task]![method] = added.id;
    }
  }
  cat.results.set(entry.id, { results, graphs });
}

/** Appends an entry; with a path, checks that it is a readable file (else the entry carries the error). */
function addEntry(cat: ServedCatalog, e: Omit<CatalogEntry, 'id' | 'bytes'>, abs: string | null): CatalogEntry {
  const entry: CatalogEntry = { ...e, id: cat.entries.length, bytes: null };
  if (abs !== null && entry.error === undefined) {
    try {
      const st = statSync(abs);
      entry.bytes = st.size;
      if (!st.isFile()) entry.error = `${e.path} is not a file`;
    } catch {
      entry.error = `file not found: ${e.path}`;
    }
  }
  cat.entries.push(entry);
  if (abs !== null && entry.error === undefined) cat.files.set(entry.id, abs);
  return entry;
}
