/** Saving a downloaded body: one place for the progress line, the atomic write and the error a cut download gives. */
import { writeStreamAtomic } from './atomic-write.js';
import { UserError } from './errors.js';
import { createProgress } from './progress.js';

export interface SaveOptions {
  /** Where the bytes came from (named in the error). */
  url: string;
  /** The progress line's label. */
  label: string;
  /** Expected bytes, when known (progress, and the error's "x of total"). */
  total?: number;
  quiet?: boolean;
  /** What was not saved ("this file", a cache path), and how to retry ("run the command again"). */
  what: string;
  retry: string;
}

/**
 * Streams `chunks` into `target` through a temp file renamed only at the end. A UserError from the chunks
 * (e.g. a checksum) passes through; any other failure (a cut connection) becomes one saying how far it got.
 */
export async function saveDownload(target: string, chunks: AsyncIterable<Uint8Array>, o: SaveOptions): Promise<void> {
  const progress = createProgress({ label: o.label, total: o.total, unit: 'bytes', quiet: o.quiet });
  let received = 0;
  let ok = false;
  try {
    await writeStreamAtomic(target, chunks, (c) => {
      received += c.length;
      progress.add(c.length);
    });
    ok = true;
  } catch (e) {
    if (e instanceof UserError) throw e;
    const cause = (e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message;
    throw new UserError(
      `download of ${o.url} failed after ${received}${o.total !== undefined ? ` of ${o.total}` : ''} bytes (${cause}); ` +
        `nothing was saved for ${o.what}, ${o.retry} to retry`,
      { cause: e },
    );
  } finally {
    progress.finish(!ok);
  }
}
