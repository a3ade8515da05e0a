/** A set of byte ranges [start, end) kept as sorted, disjoint, non-touching intervals. */
export class RangeSet {
  private starts: number[] = [];
  private ends: number[] = [];

  get empty(): boolean {
    return this.starts.length === 0;
  }
  get count(): number {
    return this.starts.length;
  }
  clear(): void {
    this.starts = [];
    this.ends = [];
  }
  /** The intervals, in order. */
  *[Symbol.iterator](): Generator<[number, number]> {
    for (let i = 0; i < this.starts.length; i++) yield [this.starts[i]!, this.ends[i]!];
  }

  /** Index of the first interval whose end is ≥ x (it may touch or contain x). */
  private first(x: number): number {
    let lo = 0, hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ends[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  add(start: number, end: number): void {
    if (end <= start) return;
    const i = this.first(start);
    let j = i;
    while (j < this.starts.length && this.starts[j]! <= end) {
      start = Math.min(start, this.starts[j]!);
      end = Math.max(end, this.ends[j]!);
      j++;
    }
    this.starts.splice(i, j - i, start);
    this.ends.splice(i, j - i, end);
  }

  delete(start: number, end: number): void {
    if (end <= start) return;
    const i = this.after(start);
    const s: number[] = [], e: number[] = [];
    let j = i;
    for (; j < this.starts.length && this.starts[j]! < end; j++) {
      if (this.starts[j]! < start) { s.push(this.starts[j]!); e.push(start); }
      if (this.ends[j]! > end) { s.push(end); e.push(this.ends[j]!); }
    }
    this.starts.splice(i, j - i, ...s);
    this.ends.splice(i, j - i, ...e);
  }

  /** Index of the first interval that ends after x. */
  private after(x: number): number {
    const i = this.first(x);
    return i < this.ends.length && this.ends[i] === x ? i + 1 : i;
  }

  intersects(start: number, end: number): boolean {
    const i = this.after(start);
    return i < this.starts.length && this.ends[i]! > start && this.starts[i]! < end;
  }

  /** The parts of [start, end) inside the set. */
  intersection(start: number, end: number): [number, number][] {
    const out: [number, number][] = [];
    for (let i = this.after(start); i < this.starts.length && this.starts[i]! < end; i++) {
      const s = Math.max(start, this.starts[i]!), e = Math.min(end, this.ends[i]!);
      if (e > s) out.push([s, e]);
    }
    return out;
  }
}
