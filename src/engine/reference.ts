/**
 * Plain JavaScript implementation of the kernel contract: slow, obviously correct, and the ground truth
 * that the WebAssembly and BLAS kernels are tested against. Reductions accumulate in float64.
 */
import { ActivationKind, type Kernels } from './kernels.js';
import { word, type Heap } from './memory.js';

const GELU_C = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** erf in double precision: the Maclaurin series below 2.5, the continued fraction of erfc above (≈ 1e-13 relative). */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = ax, sum = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 60; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    const r = (2 / Math.sqrt(Math.PI)) * sum;
    return x < 0 ? -r : r;
  }
  // continued fraction for erfc (Lentz)
  let f = ax, C = ax, Dd = 0;
  for (let n = 1; n < 200; n++) {
    const a = n / 2;
    Dd = ax + a * Dd;
    Dd = Dd === 0 ? 1e-300 : 1 / Dd;
    C = ax + a / C;
    const delta = C * Dd;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / (f * Math.sqrt(Math.PI));
  return x < 0 ? erfc - 1 : 1 - erfc;
}

/** An activation's value and derivative at x, in double precision: [f(x), f'(x)]. */
export function activation64(kind: ActivationKind, x: number): [number, number] {
  switch (kind) {
    case ActivationKind.GeluErf: {
      const cdf = 0.5 * (1 + erf(x * Math.SQRT1_2));
      return [x * cdf, cdf + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x)];
    }
    case ActivationKind.GeluTanh: {
      const t = Math.tanh(GELU_C * (x + 0.044715 * x * x * x));
      return [0.5 * x * (1 + t), 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * 0.044715 * x * x)];
    }
    case ActivationKind.Silu: {
      const sg = 1 / (1 + Math.exp(-x));
      return [x * sg, sg * (1 + x * (1 - sg))];
    }
    case ActivationKind.Relu:
      return x > 0 ? [x, 1] : [Number.isNaN(x) ? x : 0, 0];
  }
}

export class ReferenceKernels implements Kernels {
  readonly name = 'reference (plain JavaScript)';
  constructor(private readonly heap: Heap) {}

  private get m(): Float32Array {
    return this.heap.f32;
  }

  gemm(
    tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number,
    a: number, lda: number, b: number, ldb: number, beta: number, c: number, ldc: number,
  ): void {
    const m = this.m;
    const A = word(a), Bp = word(b), C = word(c);
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = tA ? m[A + k * lda + i]! : m[A + i * lda + k]!;
          const bv = tB ? m[Bp + j * ldb + k]! : m[Bp + k * ldb + j]!;
          s += av * bv;
        }
        const idx = C + i * ldc + j;
        m[idx] = beta === 0 ? alpha * s : alpha * s + beta * m[idx]!;
      }
    }
  }

  gemmBatched(
    tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number,
    a: number, lda: number, strideA: number, b: number, ldb: number, strideB: number,
    beta: number, c: number, ldc: number, strideC: number, batch: number,
  ): void {
    for (let i = 0; i < batch; i++) {
      this.gemm(tA, tB, M, N, K, alpha, a + 4 * i * strideA, lda, b + 4 * i * strideB, ldb, beta, c + 4 * i * strideC, ldc);
    }
  }

  layerNorm(x: number, gamma: number, beta: number, y: number, mean: number, rstd: number, rows: number, D: number, eps: number): void {
    const m = this.m;
    for (let r = 0; r < rows; r++) {
      const o = word(x) + r * D;
      let s = 0;
      for (let d = 0; d < D; d++) s += m[o + d]!;
      const mu = s / D;
      let v = 0;
      for (let d = 0; d < D; d++) v += (m[o + d]! - mu) ** 2;
      const rs = 1 / Math.sqrt(v / D + eps);
      m[word(mean) + r] = mu;
      m[word(rstd) + r] = rs;
      const yo = word(y) + r * D;
      for (let d = 0; d < D; d++) m[yo + d] = (m[o + d]! - mu) * rs * m[word(gamma) + d]! + m[word(beta) + d]!;
    }
  }

  layerNormBackward(
    dy: number, x: number, gamma: number, mean: number, rstd: number, dx: number, accumulate: boolean, dxAcc: number,
    rows: number, D: number,
  ): void {
    const m = this.m;
    for (let r = 0; r < rows; r++) {
      const xo = word(x) + r * D, go = word(dy) + r * D;
      const mu = m[word(mean) + r]!, rs = m[word(rstd) + r]!;
      let sg = 0, sgx = 0;
      for (let d = 0; d < D; d++) {
        const g = m[go + d]! * m[word(gamma) + d]!;
        sg += g;
        sgx += g * (m[xo + d]! - mu) * rs;
      }
      sg /= D;
      sgx /= D;
      for (let d = 0; d < D; d++) {
        const g = m[go + d]! * m[word(gamma) + d]!;
        const v = rs * (g - sg - (m[xo + d]! - mu) * rs * sgx);
        const o = word(dx) + r * D + d;
        m[o] = accumulate ? m[o]! + v : v;
        if (dxAcc !== 0) m[word(dxAcc) + r * D + d]! += v;
      }
    }
  }

  rmsNorm(x: number, gamma: number, offset: number, y: number, rstd: number, rows: number, D: number, eps: number): void {
    const m = this.m;
    for (let r = 0; r < rows; r++) {
      const o = word(x) + r * D;
      let ss = 0;
      for (let d = 0; d < D; d++) ss += m[o + d]! * m[o + d]!;
      const rs = Math.fround(1 / Math.sqrt(Math.fround(ss / D) + eps));
      m[word(rstd) + r] = rs;
      const yo = word(y) + r * D;
      for (let d = 0; d < D; d++) m[yo + d] = Math.fround(m[o + d]! * rs) * (m[word(gamma) + d]! + offset);
    }
  }

  rmsNormBackward(
    dy: number, x: number, gamma: number, offset: number, rstd: number, dx: number, accumulate: boolean, dxAcc: number,
    rows: number, D: number,
  ): void {
    const m = this.m;
    for (let r = 0; r < rows; r++) {
      const xo = word(x) + r * D, go = word(dy) + r * D, rs = m[word(rstd) + r]!;
      let sgx = 0;
      for (let d = 0; d < D; d++) sgx += m[go + d]! * (m[word(gamma) + d]! + offset) * m[xo + d]! * rs;
      sgx /= D;
      for (let d = 0; d < D; d++) {
        const v = rs * (m[go + d]! * (m[word(gamma) + d]! + offset) - m[xo + d]! * rs * sgx);
        const o = word(dx) + r * D + d;
        m[o] = accumulate ? m[o]! + v : v;
        if (dxAcc !== 0) m[word(dxAcc) + r * D + d]! += v;
      }
    }
  }

  headGradDeposit(
    g: number, rstd: number, y: number, cvec: number, offs: number, U: number, A: number, Wt: number,
    rows: number, cols: number, seg: number, alpha: number, accumulate: boolean,
  ): void {
    const m = this.m;
    const nseg = cols / seg;
    for (let r = 0; r < rows; r++) {
      const s = m[word(rstd) + r]!;
      for (let h = 0; h < nseg; h++) {
        let a = 0, w = 0;
        for (let c = h * seg; c < (h + 1) * seg; c++) {
          const i = r * cols + c;
          const v = Math.fround(s * m[word(g) + i]!);
          m[word(U) + i] = accumulate ? m[word(U) + i]! + v : v;
          a += v * m[word(cvec) + c]!;
          w += v * (m[word(y) + i]! - m[word(offs) + c]!);
        }
        const o = h * rows + r;
        m[word(A) + o] = accumulate ? m[word(A) + o]! + a : a;
        m[word(Wt) + o] = alpha * w;
      }
    }
  }

  layerNormParamGrad(dy: number, x: number, mean: number, rstd: number, dgamma: number, dbeta: number, rows: number, D: number): void {
    const m = this.m;
    for (let d = 0; d < D; d++) {
      let sg = 0, sb = 0;
      for (let r = 0; r < rows; r++) {
        const g = m[word(dy) + r * D + d]!;
        sg += g * (m[word(x) + r * D + d]! - m[word(mean) + r]!) * m[word(rstd) + r]!;
        sb += g;
      }
      m[word(dgamma) + d]! += sg;
      m[word(dbeta) + d]! += sb;
    }
  }

  gelu(x: number, y: number, n: number): void {
    const m = this.m;
    for (let i = 0; i < n; i++) {
      const v = m[word(x) + i]!;
      m[word(y) + i] = 0.5 * v * (1 + Math.tanh(GELU_C * (v + 0.044715 * v * v * v)));
    }
  }

  geluBackward(x: number, dy: number, dx: number, n: number, accumulate: boolean): void {
    const m = this.m;
    for (let i = 0; i < n; i++) {
      const v = m[word(x) + i]!;
      const t = Math.tanh(GELU_C * (v + 0.044715 * v * v * v));
      const d = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * GELU_C * (1 + 3 * 0.044715 * v * v);
      const g = m[word(dy) + i]! * d;
      const o = word(dx) + i;
      m[o] = accumulate ? m[o]! + g : g;
    }
  }

  activation(kind: ActivationKind, x: number, up: number, out: number, n: number): void {
    const m = this.m;
    for (let i = 0; i < n; i++) {
      const f = activation64(kind, m[word(x) + i]!)[0];
      m[word(out) + i] = up ? f * m[word(up) + i]! : f;
    }
  }

  activationBackward(kind: ActivationKind, x: number, up: number, dy: number, dx: number, dup: number, n: number): void {
    const m = this.m;
    for (let i = 0; i < n; i++) {
      const [f, d] = activation64(kind, m[word(x) + i]!), g = m[word(dy) + i]!;
      if (dx) m[word(dx) + i] = g * d * (up ? m[word(up) + i]! : 1);
      if (dup) m[word(dup) + i] = g * f;
    }
  }

  widenBf16(src: number, dst: number, n: number): void {
    const u16 = new Uint16Array(this.m.buffer, src, n), u32 = new Uint32Array(this.m.buffer, dst, n);
    for (let i = 0; i < n; i++) u32[i] = u16[i]! << 16;
  }

  add(a: number, b: number, out: number, n: number): void {
    const m = this.m;
    for (let i = 0; i < n; i++) m[word(out) + i] = m[word(a) + i]! + m[word(b) + i]!;
  }

  axpy(alpha: number, x: number, y: number, n: number): void {
    const m = this.m;
    for (let i = 0; i < n; i++) m[word(y) + i]! += alpha * m[word(x) + i]!;
  }

  scale(x: number, alpha: number, out: number, n: number): void {
    const m = this.m;
    for (let i = 0; i < n; i++) m[word(out) + i] = alpha * m[word(x) + i]!;
  }

  addRowVector(x: number, v: number, out: number, rows: number, cols: number): void {
    const m = this.m;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) m[word(out) + r * cols + c] = m[word(x) + r * cols + c]! + m[word(v) + c]!;
    }
  }

  sumRows(x: number, out: number, rows: number, cols: number, accumulate: boolean): void {
    const m = this.m;
    for (let c = 0; c < cols; c++) {
      let s = 0;
      for (let r = 0; r < rows; r++) s += m[word(x) + r * cols + c]!;
      const o = word(out) + c;
      m[o] = accumulate ? m[o]! + s : s;
    }
  }

  sumStacked(x: number, out: number, count: number, n: number, accumulate: boolean): void {
    const m = this.m;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < count; k++) s += m[word(x) + k * n + i]!;
      const o = word(out) + i;
      m[o] = accumulate ? m[o]! + s : s;
    }
  }

  gatherRows(idx: number, table: number, out: number, n: number, D: number): void {
    const m = this.m, ix = this.heap.i32;
    for (let i = 0; i < n; i++) {
      const row = ix[word(idx) + i]!;
      for (let d = 0; d < D; d++) m[word(out) + i * D + d] = m[word(table) + row * D + d]!;
    }
  }

  scatterAddRows(idx: number, src: number, table: number, n: number, D: number): void {
    const m = this.m, ix = this.heap.i32;
    for (let i = 0; i < n; i++) {
      const row = ix[word(idx) + i]!;
      for (let d = 0; d < D; d++) m[word(table) + row * D + d]! += m[word(src) + i * D + d]!;
    }
  }

  attention(qkv: number, z: number, probs: number, B: number, P: number, H: number, dh: number, scale: number): void {
    const m = this.m;
    const D = H * dh, row = 3 * D;
    const s = new Float64Array(P);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < P; i++) {
          const q = word(qkv) + (b * P + i) * row + h * dh;
          let mx = -Infinity;
          for (let j = 0; j <= i; j++) {
            const k = word(qkv) + (b * P + j) * row + D + h * dh;
            let dot = 0;
            for (let d = 0; d < dh; d++) dot += m[q + d]! * m[k + d]!;
            s[j] = dot * scale;
            if (s[j]! > mx) mx = s[j]!;
          }
          let sum = 0;
          for (let j = 0; j <= i; j++) {
            s[j] = Math.exp(s[j]! - mx);
            sum += s[j]!;
          }
          const po = word(probs) + ((b * H + h) * P + i) * P;
          for (let j = 0; j < P; j++) m[po + j] = j <= i ? s[j]! / sum : 0;
          const zo = word(z) + (b * P + i) * D + h * dh;
          for (let d = 0; d < dh; d++) {
            let acc = 0;
            for (let j = 0; j <= i; j++) acc += m[po + j]! * m[word(qkv) + (b * P + j) * row + 2 * D + h * dh + d]!;
            m[zo + d] = acc;
          }
        }
      }
    }
  }

  attentionBackward(dz: number, qkv: number, probs: number, dqkv: number, B: number, P: number, H: number, dh: number, scale: number): void {
    const m = this.m;
    const D = H * dh, row = 3 * D;
    const Q = word(qkv), G = word(dqkv);
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < P; i++) for (let c = 0; c < row; c++) m[G + (b * P + i) * row + c] = 0;
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < P; i++) {
          const po = word(probs) + ((b * H + h) * P + i) * P;
          const dzo = word(dz) + (b * P + i) * D + h * dh;
          // dP[j] = dz_i · v_j ; dS = P ⊙ (dP − Σ P·dP)
          const dP = new Float64Array(i + 1);
          let dot = 0;
          for (let j = 0; j <= i; j++) {
            const vo = Q + (b * P + j) * row + 2 * D + h * dh;
            let s = 0;
            for (let d = 0; d < dh; d++) s += m[dzo + d]! * m[vo + d]!;
            dP[j] = s;
            dot += s * m[po + j]!;
          }
          for (let j = 0; j <= i; j++) {
            const p = m[po + j]!;
            const dS = p * (dP[j]! - dot) * scale;
            const qo = Q + (b * P + i) * row + h * dh, ko = Q + (b * P + j) * row + D + h * dh;
            const dqo = G + (b * P + i) * row + h * dh, dko = G + (b * P + j) * row + D + h * dh;
            const dvo = G + (b * P + j) * row + 2 * D + h * dh;
            for (let d = 0; d < dh; d++) {
              m[dqo + d]! += dS * m[ko + d]!;
              m[dko + d]! += dS * m[qo + d]!;
              m[dvo + d]! += p * m[dzo + d]!;
            }
          }
        }
      }
    }
  }

  softmaxRows(x: number, out: number, rows: number, cols: number): void {
    const m = this.m;
    for (let r = 0; r < rows; r++) {
      const o = word(x) + r * cols;
      let mx = -Infinity;
      for (let c = 0; c < cols; c++) mx = Math.max(mx, m[o + c]!);
      let s = 0;
      for (let c = 0; c < cols; c++) s += Math.exp(m[o + c]! - mx);
      for (let c = 0; c < cols; c++) m[word(out) + r * cols + c] = Math.exp(m[o + c]! - mx) / s;
    }
  }
}
