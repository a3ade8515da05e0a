/**
 * Errors caused by bad input (a missing file, a malformed checkpoint, a wrong name). The message alone must
 * tell the user what is wrong, where (file, row, tensor) and how to fix it: the CLI prints only the message
 * and exits with status 1, with no stack trace. Every other error is a bug and is shown with its stack.
 */
export class UserError extends Error {
  override name = 'UserError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** True for a UserError, also one thrown by another copy of this module (e.g. across worker threads). */
export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError || (e instanceof Error && e.name === 'UserError');
}

/** A Node system error's fields (declared here: the viewer compiles this file without Node's types). */
type SystemError = Error & { code?: unknown; path?: unknown; dest?: unknown; syscall?: unknown };

/** What the operating system's error codes for files mean, in words. */
const FS_CODES: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EISDIR: 'is a directory (give a file name)',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EEXIST: 'already exists',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'file name too long',
};

/** The meaning of a file-system error code in words, or undefined for other errors. */
export function fsErrorMeaning(e: unknown): string | undefined {
  const code = (e as SystemError | undefined)?.code;
  return e instanceof Error && typeof code === 'string' && code in FS_CODES ? FS_CODES[code] : undefined;
}

/**
 * A one-line message for a file-system error (a missing, unwritable or wrongly typed path) that reached the
 * top without a more specific message, else undefined. Such errors come from the user's paths or machine, not
 * from a bug, so they are reported without a stack trace.
 */
export function fileSystemError(e: unknown): string | undefined {
  const err = e as SystemError;
  const meaning = fsErrorMeaning(e);
  if (meaning === undefined) return undefined;
  const paths = [err.path, err.dest].filter((p): p is string => typeof p === 'string');
  if (paths.length === 0) return `${err.message} (${meaning})`;
  return `cannot ${typeof err.syscall === 'string' ? err.syscall : 'access'} ${paths.join(' → ')}: ${meaning}`;
}
