/**
 * Atomic file writes: data goes to `<path>.<pid>.<random>.tmp` in the same directory and is renamed over
 * `path` only when complete, so readers (and the Hugging Face cache) never see a partial file. The temp file
 * is removed on error, and at process exit if the process dies mid-write (for example when a CLI turns
 * SIGINT into process.exit).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fsErrorMeaning, UserError } from './errors.js';

const pending = new Set<string>();
let exitHookInstalled = false;

function track(tmp: string): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // 'exit' handlers must be synchronous; best effort, the files may already be gone.
    process.once('exit', () => {
      for (const t of pending) rmQuiet(t);
    });
  }
  pending.add(tmp);
}

function rmQuiet(p: string): void {
  try {
    fs.rmSync(p, { force: true });
  } catch {
    /* nothing more we can do */
  }
}

/** A fresh temp name next to `target` (same directory, so rename is atomic on the same file system). */
export function tempPathFor(target: string): string {
  return `${target}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
}

/** True for names produced by tempPathFor (used to skip or clean leftovers). */
export function isTempPath(p: string): boolean {
  return /\.\d+\.[0-9a-f]{12}\.tmp$/.test(p);
}

/**
 * Write a file through a callback that gets an open fd (for files too large for one buffer). The directory
 * is created if needed.
 */
export function writeAtomicSync(target: string, write: (fd: number) => void): void {
  const tmp = tempPathFor(target);
  let fd: number | null = null;
  try {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    track(tmp);
    fd = fs.openSync(tmp, 'w');
    write(fd);
    fs.closeSync(fd);
    fd = null;
    fs.renameSync(tmp, target);
  } catch (e) {
    if (fd !== null) fs.closeSync(fd);
    rmQuiet(tmp);
    throw writeError(target, e);
  } finally {
    pending.delete(tmp);
  }
}

/** A file-system error while writing `target` as a UserError naming it (not the temp file); others as they are. */
function writeError(target: string, e: unknown): unknown {
  const meaning = fsErrorMeaning(e);
  return meaning === undefined ? e : new UserError(`cannot write ${target}: ${meaning}`, { cause: e });
}

/** Write a whole string or byte array atomically. */
export function writeFileAtomicSync(target: string, data: string | Uint8Array): void {
  writeAtomicSync(target, (fd) => {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    writeAllSync(fd, bytes);
  });
}

/** fs.writeSync until every byte is written (writeSync may write less than asked). */
export function writeAllSync(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
}

/**
 * Stream chunks to `target` atomically (downloads). `onChunk` sees each chunk after it is written. If the
 * source throws (connection dropped, HTTP error mid-body) the temp file is removed and the error rethrown;
 * `target` is untouched.
 */
export async function writeStreamAtomic(
  target: string,
  source: AsyncIterable<Uint8Array>,
  onChunk?: (chunk: Uint8Array) => void,
): Promise<void> {
  const tmp = tempPathFor(target);
  let fh: fs.promises.FileHandle;
  track(tmp);
  try {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fh = await fs.promises.open(tmp, 'w');
  } catch (e) {
    pending.delete(tmp);
    throw writeError(target, e);
  }
  let open = true;
  try {
    for await (const chunk of source) {
      let off = 0;
      while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
      onChunk?.(chunk);
    }
    await fh.close();
    open = false;
    await fs.promises.rename(tmp, target);
  } catch (e) {
    if (open) await fh.close().catch(() => undefined);
    rmQuiet(tmp);
    throw writeError(target, e);
  } finally {
    pending.delete(tmp);
  }
}
