/** node:fs for the discovery worker, over ./vfs.ts (only the calls the library makes). */
import { Buffer } from 'buffer';
import * as vfs from './vfs.js';

interface Open { path: string; chunks: Uint8Array[] | null; content: vfs.Content | null; pos: number }
const fds = new Map<number, Open>();
let nextFd = 3;

const text = (b: Uint8Array, enc?: unknown): string | Buffer => {
  const e = typeof enc === 'string' ? enc : (enc as { encoding?: string } | undefined)?.encoding;
  return e ? new TextDecoder().decode(b) : Buffer.from(b.buffer, b.byteOffset, b.length);
};
const bytesOf = (data: string | Uint8Array): Uint8Array => (typeof data === 'string' ? new TextEncoder().encode(data) : data);

function statOf(path: string) {
  const c = vfs.get(path);
  const dir = c === undefined && vfs.isDir(path);
  if (c === undefined && !dir) throw vfs.enoent(path);
  const size = c === undefined ? 0 : vfs.size(c);
  return { size, mtimeMs: 0, mtime: new Date(0), isFile: () => !dir, isDirectory: () => dir };
}

export function existsSync(path: string): boolean {
  return vfs.get(path) !== undefined || vfs.isDir(path);
}
export function statSync(path: string, opts?: { throwIfNoEntry?: boolean }) {
  if (opts?.throwIfNoEntry === false && !existsSync(path)) return undefined;
  return statOf(path);
}
export const lstatSync = statSync;
export function readFileSync(path: string | number, enc?: unknown): string | Buffer {
  const c = typeof path === 'number' ? fds.get(path)?.content : vfs.get(path);
  if (c === undefined || c === null) throw vfs.enoent(String(path));
  return text(vfs.slice(c, 0, vfs.size(c)), enc);
}
export function writeFileSync(path: string, data: string | Uint8Array): void {
  vfs.mount(path, Uint8Array.from(bytesOf(data)));
}
export function readdirSync(path: string): string[] {
  if (!vfs.isDir(path)) throw vfs.enoent(path);
  return vfs.list(path);
}
export function mkdirSync(): void {}
let tmp = 0;
export function mkdtempSync(prefix: string): string {
  return `${prefix}${++tmp}`;
}
export function rmSync(path: string, opts?: { recursive?: boolean }): void {
  if (opts?.recursive) for (const name of vfs.isDir(path) ? vfs.list(path) : []) rmSync(`${path}/${name}`, opts);
  vfs.remove(path);
}
export const unlinkSync = (path: string): void => vfs.remove(path);
export const renameSync = (from: string, to: string): void => vfs.rename(from, to);
export function openSync(path: string, flags = 'r'): number {
  const fd = nextFd++;
  if (flags.startsWith('r')) {
    const content = vfs.get(path);
    if (content === undefined) throw vfs.enoent(path);
    fds.set(fd, { path, chunks: null, content, pos: 0 });
  } else fds.set(fd, { path, chunks: [], content: null, pos: 0 });
  return fd;
}
function open(fd: number): Open {
  const f = fds.get(fd);
  if (!f) throw Object.assign(new Error(`EBADF: bad file descriptor ${fd}`), { code: 'EBADF' });
  return f;
}
export function fstatSync(fd: number) {
  const f = open(fd);
  return f.content ? statOf(f.path) : { size: f.chunks!.reduce((s, c) => s + c.length, 0), isFile: () => true, isDirectory: () => false };
}
export function readSync(fd: number, buf: Uint8Array, off: number, len: number, pos: number | null): number {
  const f = open(fd);
  const at = pos ?? f.pos;
  const got = vfs.slice(f.content!, at, Math.min(len, vfs.size(f.content!) - at));
  buf.set(got, off);
  if (pos === null) f.pos += got.length;
  return got.length;
}
export function writeSync(fd: number, data: string | Uint8Array, off?: number, len?: number): number {
  const b = bytesOf(data);
  const part = typeof data === 'string' ? b : b.subarray(off ?? 0, (off ?? 0) + (len ?? b.length - (off ?? 0)));
  open(fd).chunks!.push(Uint8Array.from(part));
  return part.length;
}
export function fsyncSync(): void {}
export function closeSync(fd: number): void {
  const f = open(fd);
  fds.delete(fd);
  if (!f.chunks) return;
  const out = new Uint8Array(f.chunks.reduce((s, c) => s + c.length, 0));
  let o = 0;
  for (const c of f.chunks) (out.set(c, o), (o += c.length));
  vfs.mount(f.path, out);
}
export const promises = {
  readFile: async (p: string, enc?: unknown) => readFileSync(p, enc),
  writeFile: async (p: string, d: string | Uint8Array) => writeFileSync(p, d),
  mkdir: async () => {},
  rm: async (p: string, o?: { recursive?: boolean }) => rmSync(p, o),
  stat: async (p: string) => statSync(p),
};
export default { existsSync, statSync, lstatSync, readFileSync, writeFileSync, readdirSync, mkdirSync, mkdtempSync, rmSync, unlinkSync, renameSync, openSync, fstatSync, readSync, writeSync, fsyncSync, closeSync, promises };
export const constants = { F_OK: 0, R_OK: 4, W_OK: 2, X_OK: 1 };
export function accessSync(path: string): void {
  if (!existsSync(path)) throw vfs.enoent(path);
}
export function createReadStream(): never {
  throw new Error('file streams are not available in the page');
}
export function stat(path: string, cb: (e: Error | null, s?: ReturnType<typeof statOf>) => void): void {
  try {
    cb(null, statOf(path));
  } catch (e) {
    cb(e as Error);
  }
}
