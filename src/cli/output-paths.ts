/**
 * Output paths checked before any work starts, so that a typo costs a second, not a finished computation:
 * a file option must not name a directory, a directory option not a file, and the path's nearest existing
 * ancestor must be a writable directory (missing directories are created when the output is written).
 */
import { accessSync, constants, statSync, type Stats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UserError } from '../util/errors.js';

const stat = (p: string): Stats | undefined => {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
};

/** The nearest existing ancestor of `p` must be a writable directory. */
function checkAncestor(p: string, option: string): void {
  let dir = dirname(resolve(p));
  for (;;) {
    const s = stat(dir);
    if (s) {
      if (!s.isDirectory()) throw new UserError(`--${option} ${p}: ${dir} is a file, not a directory`);
      try {
        accessSync(dir, constants.W_OK);
      } catch {
        throw new UserError(`--${option} ${p}: cannot write in ${dir} (permission denied)`);
      }
      return;
    }
    const up = dirname(dir);
    if (up === dir) return;
    dir = up;
  }
}

/** `--option FILE`: nothing, or a file; `example` names a file to suggest when it is a directory. */
export function checkOutputFile(p: string | undefined, option: string, example = 'out.json'): void {
  if (p === undefined) return;
  if (stat(p)?.isDirectory()) throw new UserError(`--${option} ${p} is a directory; give a file name, e.g. --${option} ${join(p, example)}`);
  checkAncestor(p, option);
}

/** `--option DIR`: nothing, or a directory. */
export function checkOutputDir(p: string | undefined, option: string): void {
  if (p === undefined) return;
  const s = stat(p);
  if (s && !s.isDirectory()) throw new UserError(`--${option} ${p} is a file; give a directory (it is created if missing)`);
  checkAncestor(p, option);
}
