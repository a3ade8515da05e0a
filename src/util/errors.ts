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
