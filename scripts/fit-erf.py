"""Derives the erf coefficients of src/engine/wasm/elementwise.ts (python3 scripts/fit-erf.py; needs numpy).

erf(x) ~ x*P(t)/Q(t), t = x*x, P of degree 6, Q of degree 4 with Q(0) = 1, on [0, 4] (erf(4) rounds to 1 in
float32). Minimax in relative error by Lawson's iteratively reweighted least squares on the linearised problem
P - g*Q = 0 (g = erf(x)/x), each row scaled by 1/(g*Q_prev). The result equioscillates at 12 points, about
6.5e-8. Then evaluates the float32-rounded coefficients in float32 (Horner with and without fused multiply-add,
clamped to 1) and prints the worst error in ulp.
"""
import math

import numpy as np

NP, NQ = 6, 4
xs = np.unique(np.concatenate([np.linspace(0, 4, 20001), 2 - 2 * np.cos(np.linspace(0, np.pi, 4001))]))
t = xs * xs
erf = np.vectorize(math.erf)
g = np.where(xs == 0, 2 / math.sqrt(math.pi), erf(xs) / np.where(xs == 0, 1, xs))

A = np.empty((len(t), NP + 1 + NQ))
for k in range(NP + 1):
    A[:, k] = t**k
for k in range(1, NQ + 1):
    A[:, NP + k] = -g * t**k
w, q_prev, best = np.ones_like(t), np.ones_like(t), None
for _ in range(400):
    s = np.sqrt(w) / (g * q_prev)
    As = A * s[:, None]
    scale = np.abs(As).max(0)
    c = np.linalg.lstsq(As / scale, g * s, rcond=None)[0] / scale
    p = np.polyval(c[: NP + 1][::-1], t)
    q_prev = np.polyval(np.concatenate([[1.0], c[NP + 1 :]])[::-1], t)
    err = p / q_prev / g - 1
    if best is None or np.abs(err).max() < best[0]:
        best = (np.abs(err).max(), c.copy())
    w = np.maximum(w * np.abs(err), 1e-300)
    w /= w.sum()

print(f"relative minimax error in exact arithmetic: {best[0]:.3e}")
c32 = best[1].astype(np.float32)
print("P0..P6:", ", ".join(repr(float(v)) for v in c32[: NP + 1]))
print("Q1..Q4:", ", ".join(repr(float(v)) for v in c32[NP + 1 :]))

# float32 evaluation over every 401st float32 in [0, 4]
z = np.arange(0, 0x40800000, 401, dtype=np.uint32).view(np.float32)
ref = erf(z.astype(np.float64))
ulp = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
P, Q = c32[: NP + 1], np.concatenate([[np.float32(1)], c32[NP + 1 :]])
for fused in (False, True):
    tt = z * z

    def horner(C):
        acc = np.full_like(tt, C[-1])
        for k in range(len(C) - 2, -1, -1):
            if fused:  # one rounding: the float64 product of two float32 is exact
                acc = (acc.astype(np.float64) * tt + np.float64(C[k])).astype(np.float32)
            else:
                acc = acc * tt + C[k]
        return acc

    e = np.minimum(z * horner(P) / horner(Q), np.float32(1))
    print(f"float32 {'fma' if fused else 'mul+add'}: max error {np.max(np.abs(e - ref) / ulp):.2f} ulp")
