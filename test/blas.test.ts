/**
 * The native BLAS path (src/engine/blas.ts + native/): gemm / gemmBatched against a plain float64 loop,
 * bounds errors, memory growth, thread-count determinism, and the install script's fallback.
 *
 * When the addon is not built these tests skip with the reason, unless EAPGP_REQUIRE_BLAS=1 (set in CI so that
 * both GEMM paths are really exercised), in which case they fail.
 *
 * Tolerance. The reference is computed in float64 from the very float32 inputs the addon reads, so its own error
 * is negligible. A float32 dot product of length K, in any summation order, with or without FMA, satisfies
 * |fl(x·y) − x·y| ≤ γ_K Σ|x_i·y_i| with γ_n = n·u/(1 − n·u), u = 2⁻²⁴ (Higham, Accuracy and Stability of
 * Numerical Algorithms, §3.1). A BLAS blocks K and, per block, scales the partial sum by alpha and adds it into C:
 * two more roundings per block, at most K blocks, plus one for beta·C. So every element must satisfy
 * |got − ref| ≤ γ_{3K+2} · (|alpha|·Σ_k|a_ik·b_kj| + |beta·c_ij|), for any blocking and any thread count. The
 * bound is rigorous (no fudge factor) yet tight enough: with inputs uniform in [−1, 1] it is about 7·10⁻⁷·K²,
 * while an indexing, transpose, stride or beta bug puts an element off by about √K/3 — at K = 1000, some 200
 * times the bound, and far more for smaller K.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadBlas, type Blas } from "../src/engine/blas.js";
import { Heap } from "../src/engine/memory.js";

const heap = new Heap();
const load = loadBlas(heap);
const required = process.env.EAPGP_REQUIRE_BLAS === "1";
const skip: string | false = load.ok ? false : required ? false : `native BLAS unavailable: ${load.reason}`;
/** The Blas under test; only called from tests that are not skipped (and that fail first when it is required). */
function blas(): Blas {
  if (!load.ok) assert.fail(`native BLAS required (EAPGP_REQUIRE_BLAS=1) but unavailable: ${load.reason}`);
  return load.blas;
}

const U = 2 ** -24;
const gamma = (n: number) => (n * U) / (1 - n * U);

let seed = 0x2545f491;
function rnd(): number {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return (seed / 2 ** 32) * 2 - 1;
}

/** A matrix of `rows`×`cols` stored with leading dimension `ld`, `count` of them `stride` elements apart. */
function fill(ptr: number, n: number, value?: number): void {
  const f = heap.f32;
  for (let i = 0; i < n; i++) f[ptr / 4 + i] = value ?? rnd();
}

interface Case {
  tA: boolean; tB: boolean; M: number; N: number; K: number; alpha: number; beta: number;
  lda: number; ldb: number; ldc: number; strideA: number; strideB: number; strideC: number; batch: number;
}

/** Allocates operands for `c`, runs `op`, and checks every element of every C (and that padding is untouched). */
function check(c: Case, op: (a: number, b: number, cc: number) => void): void {
  const aRows = c.tA ? c.K : c.M, bRows = c.tB ? c.N : c.K;
  const aLen = (c.batch - 1) * c.strideA + aRows * c.lda;
  const bLen = (c.batch - 1) * c.strideB + bRows * c.ldb;
  const cLen = (c.batch - 1) * c.strideC + c.M * c.ldc;
  const a = heap.alloc(Math.max(1, aLen) * 4), b = heap.alloc(Math.max(1, bLen) * 4), cc = heap.alloc(Math.max(1, cLen) * 4);
  try {
    fill(a, aLen);
    fill(b, bLen);
    // C: random where beta ≠ 0; NaN where beta = 0 (must be ignored); padding gets a sentinel either way
    const PAD = 12345.5;
    fill(cc, cLen, PAD);
    const f = heap.f32;
    for (let p = 0; p < c.batch; p++)
      for (let i = 0; i < c.M; i++)
        for (let j = 0; j < c.N; j++) f[cc / 4 + p * c.strideC + i * c.ldc + j] = c.beta === 0 ? NaN : rnd();
    const c0 = f.slice(cc / 4, cc / 4 + cLen);

    op(a, b, cc);

    const g = heap.f32;
    const A = (p: number, i: number, k: number) => g[a / 4 + p * c.strideA + (c.tA ? k * c.lda + i : i * c.lda + k)]!;
    const B = (p: number, k: number, j: number) => g[b / 4 + p * c.strideB + (c.tB ? j * c.ldb + k : k * c.ldb + j)]!;
    const bound = gamma(3 * c.K + 2);
    const written = new Uint8Array(cLen);
    for (let p = 0; p < c.batch; p++) {
      for (let i = 0; i < c.M; i++) {
        for (let j = 0; j < c.N; j++) {
          let s = 0, sAbs = 0;
          for (let k = 0; k < c.K; k++) {
            const t = A(p, i, k) * B(p, k, j);
            s += t;
            sAbs += Math.abs(t);
          }
          const at = p * c.strideC + i * c.ldc + j;
          written[at] = 1;
          const old = c.beta === 0 ? 0 : c0[at]!;
          const ref = c.alpha * s + c.beta * old;
          const tol = bound * (Math.abs(c.alpha) * sAbs + Math.abs(c.beta * old)) + 1e-30;
          const got = g[cc / 4 + at]!;
          if (!(Math.abs(got - ref) <= tol)) {
            assert.fail(
              `${JSON.stringify(c)}: C[${p}][${i}][${j}] = ${got}, expected ${ref} ± ${tol.toExponential(2)}`,
            );
          }
        }
      }
    }
    for (let at = 0; at < cLen; at++) {
      if (!written[at] && g[cc / 4 + at] !== PAD) assert.fail(`${JSON.stringify(c)}: padding of C at ${at} was written`);
    }
  } finally {
    heap.free(a);
    heap.free(b);
    heap.free(cc);
  }
}

const SHAPES: [number, number, number][] = [
  [1, 1, 1], [7, 7, 7], [1, 1000, 7], [7, 1, 1000], [1000, 7, 1], [33, 33, 33], [1000, 33, 33], [33, 1000, 33],
  [33, 33, 1000], [1, 1000, 1000], [1000, 1000, 1], [1000, 7, 1000], [7, 1000, 1000], [1000, 1000, 7],
];
const PARAMS = [
  { alpha: 1, beta: 0, pad: 0 },
  { alpha: -0.75, beta: 0.5, pad: 3 },
  { alpha: 1.25, beta: 1, pad: 16 },
  { alpha: 0.5, beta: 0, pad: 5 },
];
const TRANS = [[false, false], [false, true], [true, false], [true, true]] as const;

describe("native BLAS", () => {
  test("the addon loads (required when EAPGP_REQUIRE_BLAS=1)", { skip }, () => {
    assert.ok(load.ok, `native BLAS unavailable: ${load.ok ? "" : load.reason}`);
    const info = blas().info;
    assert.equal(typeof info.config, "string");
    assert.ok(info.config.length > 0);
    assert.ok(info.threads >= 1);
    assert.ok(existsSync(info.addon));
  });

  test("gemm matches a float64 loop: all transposes, shapes 1/7/33/1000, ld padding, alpha, beta (beta = 0 over NaN)", { skip }, () => {
    const bl = blas();
    let n = 0;
    for (const [M, N, K] of SHAPES) {
      for (const [tA, tB] of TRANS) {
        const p = PARAMS[n++ % PARAMS.length]!;
        const lda = (tA ? M : K) + p.pad, ldb = (tB ? K : N) + p.pad, ldc = N + p.pad;
        const c: Case = { tA, tB, M, N, K, alpha: p.alpha, beta: p.beta, lda, ldb, ldc, strideA: 0, strideB: 0, strideC: 0, batch: 1 };
        check(c, (a, b, cc) => bl.gemm(tA, tB, M, N, K, p.alpha, a, lda, b, ldb, p.beta, cc, ldc));
      }
    }
  });

  test("gemmBatched matches per-matrix loops, with padded strides and a broadcast (stride 0) operand", { skip }, () => {
    const bl = blas();
    const shapes: [number, number, number, number][] = [[7, 33, 1, 5], [33, 7, 33, 3], [1, 1, 1, 4], [64, 64, 33, 12], [1000, 7, 7, 2]];
    let n = 0;
    for (const [M, N, K, batch] of shapes) {
      for (const [tA, tB] of TRANS) {
        const p = PARAMS[n++ % PARAMS.length]!;
        const lda = (tA ? M : K) + p.pad, ldb = (tB ? K : N) + p.pad, ldc = N + p.pad;
        const aSize = (tA ? K : M) * lda, bSize = (tB ? N : K) * ldb;
        const broadcastB = n % 3 === 0;
        const c: Case = {
          tA, tB, M, N, K, alpha: p.alpha, beta: p.beta, lda, ldb, ldc, batch,
          strideA: aSize + 7, strideB: broadcastB ? 0 : bSize + 1, strideC: M * ldc + 9,
        };
        check(c, (a, b, cc) =>
          bl.gemmBatched(tA, tB, M, N, K, c.alpha, a, lda, c.strideA, b, ldb, c.strideB, c.beta, cc, ldc, c.strideC, batch),
        );
      }
    }
  });

  test("K = 0 gives C = beta·C (and clears NaN when beta = 0); batch = 0 and M = 0 write nothing", { skip }, () => {
    const bl = blas();
    const c = heap.alloc(6 * 4);
    try {
      const f = heap.f32;
      f.set([NaN, NaN, NaN, 1, 2, 3], c / 4);
      bl.gemm(false, false, 1, 3, 0, 1, 0, 1, 0, 3, 0, c, 3);
      bl.gemm(false, false, 1, 3, 0, 1, 0, 1, 0, 3, 2, c + 12, 3);
      assert.deepEqual(Array.from(heap.f32.subarray(c / 4, c / 4 + 6)), [0, 0, 0, 2, 4, 6]);
      bl.gemmBatched(false, false, 1, 3, 1, 1, c, 1, 1, c, 3, 3, 0, c, 3, 3, 0);
      bl.gemm(false, false, 0, 3, 1, 1, c, 1, c, 3, 0, c, 3);
      assert.deepEqual(Array.from(heap.f32.subarray(c / 4, c / 4 + 6)), [0, 0, 0, 2, 4, 6]);
    } finally {
      heap.free(c);
    }
  });

  test("out-of-range operands throw clear errors and write nothing", { skip }, () => {
    const bl = blas();
    const size = heap.size;
    const end = size - 16; // 4 floats before the end of memory
    heap.f32.fill(7, end / 4, size / 4);
    const a = heap.alloc(64 * 4);
    try {
      // C of 2×4 at 16 bytes before the end: needs 32
      assert.throws(() => bl.gemm(false, false, 2, 4, 1, 1, a, 1, a, 4, 0, end, 4), (e: Error) => {
        assert.ok(e instanceof RangeError, String(e));
        assert.match(e.message, /sgemm: C \(offset \d+ bytes, 2 x 4, ld 4\) ends at byte \d+, beyond the \d+-byte memory/);
        return true;
      });
      assert.deepEqual(Array.from(heap.f32.subarray(end / 4, size / 4)), [7, 7, 7, 7]);
      // A beyond the end
      assert.throws(() => bl.gemm(false, false, 2, 2, 2, 1, size - 8, 2, a, 2, 0, a + 64, 2), /sgemm: A .*beyond the/);
      // the last matrix of a batch beyond the end
      assert.throws(
        () => bl.gemmBatched(false, false, 2, 2, 2, 1, a, 2, 4, a, 2, 4, 0, a + 128, 2, size / 4, 2),
        /sgemmBatched: C .*batched.*beyond the/,
      );
      // leading dimensions, alignment, integers, types
      assert.throws(() => bl.gemm(false, false, 2, 2, 3, 1, a, 2, a, 2, 0, a, 2), /lda = 2 is less than the 3 columns of A/);
      assert.throws(() => bl.gemm(false, true, 2, 2, 3, 1, a, 3, a, 2, 0, a, 2), /ldb = 2 is less than the 3 columns of B/);
      assert.throws(() => bl.gemm(false, false, 2, 5, 3, 1, a, 3, a, 5, 0, a, 4), /ldc = 4 is less than the 5 columns of C/);
      assert.throws(() => bl.gemm(false, false, 2, 2, 2, 1, a + 2, 2, a, 2, 0, a, 2), /A offset \d+ is not a multiple of 4/);
      assert.throws(() => bl.gemm(false, false, -1, 2, 2, 1, a, 2, a, 2, 0, a, 2), /M = -1 is not an integer/);
      assert.throws(() => bl.gemm(false, false, 2, 2, 2, 1, -4, 2, a, 2, 0, a, 2), /aOff = -4 is not an integer/);
      assert.throws(() => bl.gemm(false, false, 2, 2, 2.5, 1, a, 3, a, 2, 0, a, 2), /K = 2.5 is not an integer/);
      assert.throws(
        () => (bl.gemm as (...x: unknown[]) => void)(0, false, 2, 2, 2, 1, a, 2, a, 2, 0, a, 2),
        (e: Error) => e instanceof TypeError && /tA must be a boolean/.test(e.message),
      );
    } finally {
      heap.free(a);
    }
  });

  test("works on memory added by a grow, and on two heaps alternately", { skip }, () => {
    const bl = blas();
    const before = heap.size;
    const big = heap.alloc(before); // forces a grow past the old end
    assert.ok(heap.size > before);
    const at = big + before - 64 * 4; // operands straddle the old end of memory
    try {
      const f = heap.f32;
      f.set([1, 2, 3, 4], at / 4); // A 2×2
      f.set([5, 6, 7, 8], at / 4 + 4); // B 2×2
      bl.gemm(false, false, 2, 2, 2, 1, at, 2, at + 16, 2, 0, at + 128, 2);
      assert.deepEqual(Array.from(heap.f32.subarray(at / 4 + 32, at / 4 + 36)), [19, 22, 43, 50]);

      const heap2 = new Heap(1 << 30, 70 * 1024 * 1024);
      const l2 = loadBlas(heap2);
      assert.ok(l2.ok);
      const p = heap2.alloc(64);
      heap2.f32.set([2, 0, 0, 2, 1, 1, 1, 1], p / 4);
      l2.blas.gemm(false, false, 2, 2, 2, 1, p, 2, p + 16, 2, 0, p + 32, 2);
      assert.deepEqual(Array.from(heap2.f32.subarray(p / 4 + 8, p / 4 + 12)), [2, 2, 2, 2]);
      bl.gemm(false, true, 2, 2, 2, 1, at, 2, at + 16, 2, 0, at + 128, 2); // back on the first heap
      assert.deepEqual(Array.from(heap.f32.subarray(at / 4 + 32, at / 4 + 36)), [17, 23, 39, 53]);
    } finally {
      heap.free(big);
    }
  });

  test("results are bit-identical for 1, 2 and 3 threads (plain and batched; products cut by shape, not thread count)", { skip }, () => {
    const bl = blas();
    const threads = bl.threads;
    // large enough to be cut into blocks; K not a multiple of OpenBLAS's K block; M, N not multiples of any unroll
    const M = 300, N = 517, K = 500, batch = 3;
    const a = heap.alloc(batch * M * K * 4), b = heap.alloc(batch * K * N * 4);
    const outs = [1, 2, 3].map(() => heap.alloc(batch * M * N * 4));
    try {
      fill(a, batch * M * K);
      fill(b, batch * K * N);
      for (const [tA, tB] of TRANS) {
        for (const batched of [false, true]) {
          [1, 2, 3].forEach((t, i) => {
            bl.setThreads(t);
            if (batched) bl.gemmBatched(tA, tB, M, N, K, 1, a, tA ? M : K, M * K, b, tB ? K : N, K * N, 0, outs[i]!, N, M * N, batch);
            else bl.gemm(tA, tB, M, N, K, 1, a, tA ? M : K, b, tB ? K : N, 0, outs[i]!, N);
          });
          const n = (batched ? batch : 1) * M * N;
          const bytes = outs.map((o) => Buffer.from(heap.u8.subarray(o, o + 4 * n)));
          assert.ok(bytes[1]!.equals(bytes[0]!) && bytes[2]!.equals(bytes[0]!), `tA=${tA} tB=${tB} batched=${batched}: thread counts differ`);
        }
      }
    } finally {
      bl.setThreads(threads);
      for (const p of [a, b, ...outs]) heap.free(p);
    }
  });

  test("thread-count invariance holds for OpenBLAS's other kernel sets too (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE)", { skip }, () => {
    // each environment in its own process (OpenBLAS reads them at load); within each, 1 and 3 threads agree
    const script = `
      const { Heap } = await import(${JSON.stringify(new URL("../src/engine/memory.js", import.meta.url).href)});
      const { loadBlas } = await import(${JSON.stringify(new URL("../src/engine/blas.js", import.meta.url).href)});
      const heap = new Heap(), l = loadBlas(heap);
      if (!l.ok) { console.log("unavailable " + l.reason); process.exit(0); }
      const M = 257, N = 390, K = 777, a = heap.alloc(M * K * 4), b = heap.alloc(K * N * 4), c = [heap.alloc(M * N * 4), heap.alloc(M * N * 4)];
      let s = 7; const f = heap.f32;
      for (let i = 0; i < M * K; i++) f[a / 4 + i] = ((s = (s * 1103515245 + 12345) % 2147483648) / 2 ** 30) - 1;
      for (let i = 0; i < K * N; i++) f[b / 4 + i] = ((s = (s * 1103515245 + 12345) % 2147483648) / 2 ** 30) - 1;
      [1, 3].forEach((t, i) => { l.blas.setThreads(t); l.blas.gemm(false, true, M, N, K, 1, a, K, b, K, 0, c[i], N); });
      const same = Buffer.from(heap.u8.subarray(c[0], c[0] + 4 * M * N)).equals(Buffer.from(heap.u8.subarray(c[1], c[1] + 4 * M * N)));
      console.log((same ? "same " : "differ ") + l.blas.info.corename);`;
    for (const env of [{}, { OPENBLAS_CORETYPE: "Haswell" }, { OPENBLAS_CORETYPE: "Sandybridge" }, { OPENBLAS_L2_SIZE: "262144" }]) {
      const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
        env: { ...process.env, OPENBLAS_CORETYPE: "", OPENBLAS_L2_SIZE: "", ...env }, encoding: "utf8",
      });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^same /, `${JSON.stringify(env)}: ${r.stdout}`);
    }
  });

  test("peakGflops measures a positive fp32 FMA rate", { skip }, () => {
    const bl = blas();
    const g = bl.peakGflops(1, 30);
    assert.ok(g > 0 && Number.isFinite(g), `peak ${g}`);
    assert.match(bl.info.peakIsa, /^(avx512f|avx2\+fma|generic)$/);
  });

  test("EAPGP_NO_BLAS=1 disables the addon with a reason", () => {
    const saved = process.env.EAPGP_NO_BLAS;
    process.env.EAPGP_NO_BLAS = "1";
    try {
      assert.deepEqual(loadBlas(heap), { ok: false, reason: "disabled by EAPGP_NO_BLAS" });
    } finally {
      if (saved === undefined) delete process.env.EAPGP_NO_BLAS;
      else process.env.EAPGP_NO_BLAS = saved;
    }
  });
});

/** The package root (holding scripts/build-native.mjs), from src/test or dist/test. */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, "scripts", "build-native.mjs"))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error("package root not found");
    dir = up;
  }
  return dir;
}

describe("scripts/build-native.mjs never fails the install", () => {
  const root = packageRoot();
  const script = path.join(root, "scripts", "build-native.mjs");
  const addon = path.join(root, "native", "build", "Release", "eapgp_blas.node");
  const cases: [string, Record<string, string>, RegExp][] = [
    ["no OpenBLAS headers", { EAPGP_BLAS_INCLUDE: "/nonexistent/eapgp-blas-include" }, /no cblas\.h in EAPGP_BLAS_INCLUDE/],
    ["no C compiler", { CC: "/nonexistent/eapgp-cc" }, /C compiler CC=\/nonexistent\/eapgp-cc not found/],
    ["EAPGP_NO_NATIVE=1", { EAPGP_NO_NATIVE: "1" }, /EAPGP_NO_NATIVE=1/],
  ];
  for (const [name, env, why] of cases) {
    test(`${name}: exits 0 with one clear line, leaving an existing build alone`, () => {
      const mtime = existsSync(addon) ? statSync(addon).mtimeMs : null;
      const r = spawnSync(process.execPath, [script], {
        env: { ...process.env, EAPGP_NO_NATIVE: "", ...env },
        encoding: "utf8",
        timeout: 60_000,
      });
      assert.equal(r.status, 0, r.stderr);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /^eap-gp: native BLAS addon not built \(.*\); the WebAssembly GEMM will be used\.$/);
      assert.match(lines[0]!, why);
      assert.equal(r.stdout, "");
      assert.equal(existsSync(addon) ? statSync(addon).mtimeMs : null, mtime);
    });
  }
});
