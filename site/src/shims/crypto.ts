/** node:crypto for the discovery worker: synchronous SHA-256 (data and model fingerprints) and random bytes. */
import { Buffer } from 'buffer';

const K = Uint32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

class Sha256 {
  private h = Uint32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  private buf = new Uint8Array(64);
  private fill = 0;
  private length = 0;
  private w = new Uint32Array(64);

  update(data: string | Uint8Array): this {
    const b = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    this.length += b.length;
    for (let i = 0; i < b.length; i++) {
      this.buf[this.fill++] = b[i]!;
      if (this.fill === 64) (this.block(), (this.fill = 0));
    }
    return this;
  }

  digest(enc?: 'hex'): string | Buffer {
    const bits = this.length * 8;
    this.update(Uint8Array.of(0x80));
    while (this.fill !== 56) this.update(Uint8Array.of(0));
    const len = new Uint8Array(8);
    new DataView(len.buffer).setUint32(0, Math.floor(bits / 2 ** 32));
    new DataView(len.buffer).setUint32(4, bits >>> 0);
    this.update(len);
    const out = new Uint8Array(32);
    for (let i = 0; i < 8; i++) new DataView(out.buffer).setUint32(4 * i, this.h[i]!);
    return enc === 'hex' ? Array.from(out, (x) => x.toString(16).padStart(2, '0')).join('') : Buffer.from(out);
  }

  private block(): void {
    const w = this.w, b = this.buf;
    for (let i = 0; i < 16; i++) w[i] = (b[4 * i]! << 24) | (b[4 * i + 1]! << 16) | (b[4 * i + 2]! << 8) | b[4 * i + 3]!;
    const r = (x: number, n: number): number => (x >>> n) | (x << (32 - n));
    for (let i = 16; i < 64; i++) {
      const s0 = r(w[i - 15]!, 7) ^ r(w[i - 15]!, 18) ^ (w[i - 15]! >>> 3);
      const s1 = r(w[i - 2]!, 17) ^ r(w[i - 2]!, 19) ^ (w[i - 2]! >>> 10);
      w[i] = w[i - 16]! + s0 + w[i - 7]! + s1;
    }
    let [a, bb, c, d, e, f, g, h] = this.h as unknown as number[];
    for (let i = 0; i < 64; i++) {
      const t1 = (h! + (r(e!, 6) ^ r(e!, 11) ^ r(e!, 25)) + ((e! & f!) ^ (~e! & g!)) + K[i]! + w[i]!) | 0;
      const t2 = ((r(a!, 2) ^ r(a!, 13) ^ r(a!, 22)) + ((a! & bb!) ^ (a! & c!) ^ (bb! & c!))) | 0;
      h = g; g = f; f = e; e = (d! + t1) | 0; d = c; c = bb; bb = a; a = (t1 + t2) | 0;
    }
    const v = [a, bb, c, d, e, f, g, h];
    for (let i = 0; i < 8; i++) this.h[i] = this.h[i]! + v[i]!;
  }
}

export function createHash(alg: string): Sha256 {
  if (alg !== 'sha256') throw new Error(`the site supports sha256 only, not ${alg}`);
  return new Sha256();
}
export const randomBytes = (n: number): Buffer => Buffer.from(crypto.getRandomValues(new Uint8Array(n)));
export const randomUUID = (): string => crypto.randomUUID();
export default { createHash, randomBytes, randomUUID };
