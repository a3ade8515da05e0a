/** Seeded uniform numbers for tests (mulberry32): the same sequence on every run and machine. */
export function seededUniform(seed: number): (lo?: number, hi?: number) => number {
  let s = seed | 0;
  return (lo = -1, hi = 1) => {
    s = (s + 0x6d2b79f5) | 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return lo + ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * (hi - lo));
  };
}
