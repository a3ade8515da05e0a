/**
 * A small progress reporter on stderr for downloads (bytes) and long computations (items). On a TTY it redraws
 * one line (`\r`) with a bar, amount, rate and ETA at most 10 times a second; otherwise (logs, CI) it prints
 * plain lines at most every 5 s or every 10 %, so log files stay short. `quiet` gives a no-op reporter.
 */

export interface ProgressOptions {
  /** Shown at the start of the line, e.g. the file name. */
  label: string;
  /** Total amount if known (bytes or items); without it no bar or ETA is shown. */
  total?: number;
  /** 'bytes' formats amounts as KiB/MiB/GiB; 'items' as plain counts followed by `itemName`. */
  unit?: 'bytes' | 'items';
  itemName?: string;
  quiet?: boolean;
  /** Defaults to process.stderr. */
  stream?: NodeJS.WriteStream;
}

export interface Progress {
  /** Add `n` to the amount done. */
  add(n: number): void;
  /** Set the amount done. */
  set(done: number): void;
  /** Set or change the total (e.g. once a Content-Length is known). */
  setTotal(total: number | undefined): void;
  /**
   * Final line with the total time (always printed unless quiet); with `failed` only ends a redrawn line,
   * so an aborted task doesn't look finished. Further calls are ignored.
   */
  finish(failed?: boolean): void;
}

const NOOP: Progress = { add() {}, set() {}, setTotal() {}, finish() {} };

export function createProgress(opts: ProgressOptions): Progress {
  if (opts.quiet) return NOOP;
  return new Reporter(opts);
}

class Reporter implements Progress {
  private done = 0;
  private total: number | undefined;
  private readonly start = Date.now();
  /** Non-TTY: the first line comes after 5 s, or at a 10 % step after 1 s, so short tasks print only their final line. */
  private lastDraw = Date.now();
  private lastPct = 0;
  private drawn = false;
  private finished = false;
  private readonly out: NodeJS.WriteStream;
  private readonly tty: boolean;

  constructor(private readonly opts: ProgressOptions) {
    this.total = opts.total;
    this.out = opts.stream ?? process.stderr;
    this.tty = Boolean(this.out.isTTY);
  }

  add(n: number): void {
    this.set(this.done + n);
  }

  set(done: number): void {
    if (this.finished) return;
    this.done = done;
    const now = Date.now();
    if (this.tty) {
      if (now - this.lastDraw >= 100) this.draw(now, false);
      return;
    }
    const pct = this.total ? Math.floor((100 * done) / this.total / 10) * 10 : 0;
    // a line every 5 s, or at a new 10 % step when a second has passed: logs stay short for quick tasks
    if (now - this.lastDraw >= 5000 || (pct > this.lastPct && now - this.lastDraw >= 1000)) {
      this.lastPct = pct;
      this.draw(now, false);
    }
  }

  setTotal(total: number | undefined): void {
    this.total = total;
  }

  finish(failed = false): void {
    if (this.finished) return;
    this.finished = true;
    if (!failed) this.draw(Date.now(), true);
    else if (this.tty && this.drawn) this.out.write('\n');
  }

  private draw(now: number, final: boolean): void {
    this.lastDraw = now;
    this.drawn = true;
    const secs = Math.max((now - this.start) / 1000, 1e-3);
    const rate = this.done / secs;
    const parts = [this.opts.label];
    if (this.total && this.tty) parts.push(bar(this.done / this.total, 24));
    parts.push(this.total ? `${this.fmt(this.done)} / ${this.fmt(this.total)}` : this.fmt(this.done));
    parts.push(`${this.fmt(rate)}/s`);
    if (final) parts.push(`in ${duration(secs)}`);
    else if (this.total && rate > 0) parts.push(`ETA ${duration((this.total - this.done) / rate)}`);
    const line = parts.join('  ');
    this.out.write(this.tty ? `\r${line}\x1b[K${final ? '\n' : ''}` : `${line}\n`);
  }

  private fmt(n: number): string {
    if (this.opts.unit === 'items') return `${Math.round(n)}${this.opts.itemName ? ' ' + this.opts.itemName : ''}`;
    return formatBytes(n);
  }
}

function bar(frac: number, width: number): string {
  const n = Math.max(0, Math.min(width, Math.round(frac * width)));
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}] ${(100 * Math.min(1, frac)).toFixed(0).padStart(3)}%`;
}

/** 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(n)} B` : `${n.toFixed(1)} ${units[i]}`;
}

/** 75 → "1m15s". */
export function duration(secs: number): string {
  if (!isFinite(secs)) return '?';
  if (secs < 60) return `${secs.toFixed(secs < 10 ? 1 : 0)}s`;
  const m = Math.floor(secs / 60);
  if (m < 60) return `${m}m${String(Math.floor(secs % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
