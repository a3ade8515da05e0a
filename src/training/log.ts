/**
 * Training progress: aggregates step reports over a window and formats one line per window —
 *   step 400/2000  loss 1.734  lr 4.3e-3  |g| 1.12  acc ioi 0.95 greater-than 1.00  6.1 steps/s  ETA 4m22s
 * Accuracy is the fraction of (measured) training examples of each task whose task metric was > 0.
 */
import { duration } from '../util/progress.js';
import type { StepReport } from './train.js';

export class TrainLog {
  private loss = 0;
  private n = 0;
  private readonly acc = new Map<string, [number, number]>();
  private readonly start = performance.now();

  constructor(private readonly totalSteps: number) {}

  /** Adds one step's report to the window. */
  add(s: StepReport): void {
    this.loss += s.loss;
    this.n++;
    if (!s.correct) return;
    s.tasks.forEach((t, i) => {
      const a = this.acc.get(t) ?? [0, 0];
      a[0] += s.correct![i] ? 1 : 0;
      a[1]++;
      this.acc.set(t, a);
    });
  }

  /** The window's line (and a fresh window); `s` is the window's last step. */
  line(s: StepReport): string {
    const done = s.step + 1;
    const secs = (performance.now() - this.start) / 1000;
    const rate = done / Math.max(secs, 1e-3);
    const acc = [...this.acc].map(([t, [c, n]]) => `${t} ${(c / n).toFixed(2)}`).join(' ');
    const parts = [
      `step ${done}/${this.totalSteps}`, `loss ${(this.loss / Math.max(this.n, 1)).toFixed(3)}`, `lr ${s.lr.toExponential(1)}`,
      `|g| ${s.gradNorm.toFixed(2)}`, ...(acc ? [`acc ${acc}`] : []), `${rate.toFixed(1)} steps/s`,
      done < this.totalSteps ? `ETA ${duration((this.totalSteps - done) / rate)}` : `in ${duration(secs)}`,
    ];
    this.loss = 0;
    this.n = 0;
    this.acc.clear();
    return parts.join('  ');
  }
}
