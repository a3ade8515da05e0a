/** node:path (POSIX) for the discovery worker. */
import { norm } from './vfs.js';

export const sep = '/';
export const delimiter = ':';
export const isAbsolute = (p: string): boolean => p.startsWith('/');
export const resolve = (...ps: string[]): string => {
  let out = '/';
  for (const p of ps) out = isAbsolute(p) ? p : `${out}/${p}`;
  return norm(out);
};
export const join = (...ps: string[]): string => {
  const j = ps.filter((p) => p !== '').join('/');
  const n = norm(j);
  return isAbsolute(j) ? n : n.slice(1) || '.';
};
export const normalize = join;
export const dirname = (p: string): string => {
  const i = p.replace(/\/+$/, '').lastIndexOf('/');
  return i < 0 ? '.' : i === 0 ? '/' : p.slice(0, i);
};
export const basename = (p: string, ext?: string): string => {
  const b = p.replace(/\/+$/, '').split('/').pop() ?? '';
  return ext && b.endsWith(ext) ? b.slice(0, -ext.length) : b;
};
export const extname = (p: string): string => {
  const b = basename(p);
  const i = b.lastIndexOf('.');
  return i <= 0 ? '' : b.slice(i);
};
export const relative = (from: string, to: string): string => {
  const a = resolve(from).split('/').filter(Boolean), b = resolve(to).split('/').filter(Boolean);
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return [...a.slice(i).map(() => '..'), ...b.slice(i)].join('/');
};
export const posix = { sep, delimiter, isAbsolute, resolve, join, normalize, dirname, basename, extname, relative };
export default { ...posix, posix };
