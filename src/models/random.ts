/**
 * Seeded pseudo-random numbers for random checkpoints: xoshiro128** (Blackman & Vigna) seeded through
 * splitmix32, normals by Box-Muller in float64. This stream is our own: the same seed gives different
 * numbers than numpy (the oracle's make_model.py), only the same distributions. It is stable across platforms
 * and releases; changing it changes every generated test model.
 */

const TWO_PI = 2 * Math.PI;
const INV_2_32 = 1 / 4294967296;

/** One splitmix32 step: returns [output, next state]. */
function splitmix32(state: number): [number, number] {
  state = (state + 0x9e3779b9) | 0;
  let z = state;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return [(z ^ (z >>> 15)) >>> 0, state];
}

/** A 32-bit seed derived from a user seed (any safe non-negative integer) and a stream name (a tensor name). */
export function deriveSeed(seed: number, name: string): number {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
  let h = 0x811c9dc5; // FNV-1a over the UTF-16 code units of the name
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  let [a, s] = splitmix32((seed >>> 0) ^ h);
  let b: number;
  [b, s] = splitmix32(s ^ Math.floor(seed / 4294967296));
  return (a ^ Math.imul(b, 0x9e3779b9)) >>> 0;
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** Second Box-Muller output, kept so the stream does not depend on how callers chunk their requests. */
  private spare = NaN;

  constructor(seed: number) {
    let s = seed | 0;
    let out: number;
    [out, s] = splitmix32(s);
    this.s0 = out;
    [out, s] = splitmix32(s);
    this.s1 = out;
    [out, s] = splitmix32(s);
    this.s2 = out;
    [out, s] = splitmix32(s);
    this.s3 = out;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 random bits. */
  uniform(): number {
    return this.nextU32() * INV_2_32;
  }

  /** Standard normal (float64). */
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const z = this.spare;
      this.spare = NaN;
      return z;
    }
    const u1 = (this.nextU32() + 1) * INV_2_32; // (0, 1]: log is finite
    const theta = TWO_PI * this.nextU32() * INV_2_32;
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** out[i] = mean + std·N(0,1), computed in float64 and rounded to f32 once. */
  fillNormal(out: Float32Array, mean = 0, std = 1): void {
    let i = 0;
    const n = out.length;
    if (n > 0 && !Number.isNaN(this.spare)) out[i++] = mean + std * this.normal();
    // Pairs inline (hot loop: ~124M calls for a GPT-2-small-size model).
    for (; i + 1 < n; i += 2) {
      const u1 = (this.nextU32() + 1) * INV_2_32;
      const theta = TWO_PI * this.nextU32() * INV_2_32;
      const r = Math.sqrt(-2 * Math.log(u1));
      out[i] = mean + std * r * Math.cos(theta);
      out[i + 1] = mean + std * r * Math.sin(theta);
    }
    if (i < n) out[i] = mean + std * this.normal();
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
