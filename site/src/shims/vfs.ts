/**
 * The files of the discovery worker: a synchronous file system in memory, so that the library's model, tokenizer
 * and task loaders run unchanged in the page (they read with node:fs; the site build points node:fs here).
 * A file is bytes, or a Blob read in slices with FileReaderSync: a model file mounted from Cache Storage stays
 * in the browser's blob store (on disk for large ones) and only the tensor being copied into the heap is read.
 */
export type Content = Uint8Array | Blob;

const files = new Map<string, Content>();

/** A normalised absolute path (no trailing slash, no '.' or '..'). */
export function norm(p: string): string {
  const parts: string[] = [];
  for (const s of p.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') parts.pop();
    else parts.push(s);
  }
  return '/' + parts.join('/');
}

export function mount(path: string, content: Content): void {
  files.set(norm(path), content);
}
export function get(path: string): Content | undefined {
  return files.get(norm(path));
}
export function remove(path: string): void {
  files.delete(norm(path));
}
/** Whether `path` is a directory: a prefix of some file's path. */
export function isDir(path: string): boolean {
  const d = norm(path);
  if (d === '/') return true;
  for (const k of files.keys()) if (k.startsWith(d + '/')) return true;
  return false;
}
export function list(path: string): string[] {
  const d = norm(path) === '/' ? '' : norm(path);
  const names = new Set<string>();
  for (const k of files.keys()) if (k.startsWith(d + '/')) names.add(k.slice(d.length + 1).split('/')[0]!);
  return [...names].sort();
}
export function rename(from: string, to: string): void {
  const c = get(from);
  if (c === undefined) throw enoent(from);
  files.delete(norm(from));
  files.set(norm(to), c);
}
export const size = (c: Content): number => (c instanceof Blob ? c.size : c.length);

/** Bytes [pos, pos + len) of a file's content. */
export function slice(c: Content, pos: number, len: number): Uint8Array {
  if (!(c instanceof Blob)) return c.subarray(pos, pos + len);
  const reader = new (globalThis as unknown as { FileReaderSync: new () => { readAsArrayBuffer(b: Blob): ArrayBuffer } }).FileReaderSync();
  return new Uint8Array(reader.readAsArrayBuffer(c.slice(pos, pos + len)));
}

export function enoent(path: string): Error {
  return Object.assign(new Error(`ENOENT: no such file or directory, '${path}'`), { code: 'ENOENT' });
}
