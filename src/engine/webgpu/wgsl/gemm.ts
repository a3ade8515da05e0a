/**
 * Tiled f32 GEMM, C = alpha·op(A)·op(B) + beta·C, one BM×BN tile of C per 256-thread workgroup, the batch index
 * in workgroup z. Each step stages a BK-deep slice of A and B in workgroup memory (k-major, zero outside the
 * matrices), then every thread accumulates a TM×TN block whose rows and columns are strided by the thread grid
 * (conflict-free reads, coalesced writes). Each output is one float32 sum over k in increasing order: the
 * result does not depend on scheduling. beta = 0 writes alpha·acc without reading C (NaN in C is ignored).
 */
export interface GemmTile { BM: number; BN: number; TM: number; TN: number }

export function gemmWgsl(tA: boolean, tB: boolean, t: GemmTile): string {
  const { BM, BN, TM, TN } = t;
  const TX = BN / TN, TY = BM / TM, BK = 1024 / BM;
  if (TX * TY !== 256 || BK * BN !== 1024) throw new Error('gemmWgsl: the tile must have 256 threads and 1024-element slices');
  const aIdx = tA ? 'gk * p.lda + gm' : 'gm * p.lda + gk';
  const aSplit = tA ? `let kk = e / ${BM}u; let mm = e % ${BM}u;` : `let mm = e / ${BK}u; let kk = e % ${BK}u;`;
  const bIdx = tB ? 'gn * p.ldb + gk' : 'gk * p.ldb + gn';
  const bSplit = tB ? `let nn = e / ${BK}u; let kk = e % ${BK}u;` : `let kk = e / ${BN}u; let nn = e % ${BN}u;`;
  const lines: string[] = [];
  for (let i = 0; i < TM; i++) lines.push(`      let a${i} = As[ka + ${i * TY}u];`);
  for (let j = 0; j < TN; j++) lines.push(`      let c${j} = Bs[kb + ${j * TX}u];`);
  for (let i = 0; i < TM; i++) for (let j = 0; j < TN; j++) lines.push(`      acc[${i * TN + j}] = fma(a${i}, c${j}, acc[${i * TN + j}]);`);
  const stores: string[] = [];
  for (let i = 0; i < TM; i++) {
    for (let j = 0; j < TN; j++) {
      stores.push(`  { let gm = m0 + ty + ${i * TY}u; let gn = n0 + tx + ${j * TX}u;
    if (gm < p.M && gn < p.N) { let ci = cb + gm * p.ldc + gn; let v = p.alpha * acc[${i * TN + j}];
      if (p.beta == 0.0) { b2[ci] = v; } else { b2[ci] = v + p.beta * b2[ci]; } } }`);
    }
  }
  return /* wgsl */ `struct Params { o0: u32, o1: u32, o2: u32, M: u32, N: u32, K: u32, lda: u32, ldb: u32, ldc: u32, sA: u32, sB: u32, sC: u32, alpha: f32, beta: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> b0: array<f32>;
@group(0) @binding(2) var<storage, read_write> b1: array<f32>;
@group(0) @binding(3) var<storage, read_write> b2: array<f32>;
var<workgroup> As: array<f32, ${BK * BM}>;
var<workgroup> Bs: array<f32, ${BK * BN}>;
@compute @workgroup_size(${TX}, ${TY})
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let tx = lid.x; let ty = lid.y; let t = ty * ${TX}u + tx;
  let m0 = wid.y * ${BM}u; let n0 = wid.x * ${BN}u;
  let ab = p.o0 + wid.z * p.sA; let bb = p.o1 + wid.z * p.sB; let cb = p.o2 + wid.z * p.sC;
  var acc: array<f32, ${TM * TN}>;
  for (var k0 = 0u; k0 < p.K; k0 += ${BK}u) {
    for (var l = 0u; l < 4u; l++) {
      let e = t + l * 256u;
      ${aSplit}
      let gm = m0 + mm; let gk = k0 + kk;
      var v = 0.0;
      if (gm < p.M && gk < p.K) { v = b0[ab + ${aIdx}]; }
      As[kk * ${BM}u + mm] = v;
    }
    for (var l = 0u; l < 4u; l++) {
      let e = t + l * 256u;
      ${bSplit}
      let gn = n0 + nn; let gk = k0 + kk;
      var v = 0.0;
      if (gn < p.N && gk < p.K) { v = b1[bb + ${bIdx}]; }
      Bs[kk * ${BN}u + nn] = v;
    }
    workgroupBarrier();
    for (var k = 0u; k < ${BK}u; k++) {
      let ka = k * ${BM}u + ty; let kb = k * ${BN}u + tx;
${lines.join('\n')}
    }
    workgroupBarrier();
  }
${stores.join('\n')}
}
`;
}
