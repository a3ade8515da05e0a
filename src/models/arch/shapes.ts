/** Every parameter a FamilyBlock model reads, with the shape its config implies (HF orientation [out, in]). */
import type { FamilyBlock } from './block.js';
import type { ArchSpec } from './spec.js';

export function expectedShapes(block: FamilyBlock, s: ArchSpec): Map<string, number[]> {
  const D = s.dModel, HD = s.nHead * s.dHead, KVD = s.nKvHead * s.dHead, F = s.dMlp;
  const m = new Map<string, number[]>([[block.embed, [s.vocabSize, D]]]);
  const norm = (n: { w: string; b?: string }) => {
    m.set(n.w, [D]);
    if (n.b) m.set(n.b, [D]);
  };
  for (let l = 0; l < s.nLayer; l++) {
    const n = block.layer(l);
    [n.ln1, n.ln2, n.postAttn, n.postMlp].forEach((x) => x && norm(x));
    const a = n.attn;
    if ('fused' in a) m.set(a.fused, [3 * HD, D]).set(a.fusedBias, [3 * HD]);
    else {
      m.set(a.q, [HD, D]).set(a.k, [KVD, D]).set(a.v, [KVD, D]);
      if (a.qb) m.set(a.qb, [HD]).set(a.kb!, [KVD]).set(a.vb!, [KVD]);
    }
    m.set(n.o, [D, HD]);
    if (n.ob) m.set(n.ob, [D]);
    const f = n.mlp;
    if ('gate' in f) m.set(f.gate, [F, D]).set(f.up, [F, D]).set(f.down, [D, F]);
    else {
      m.set(f.fc, [F, D]).set(f.out, [D, F]);
      if (f.fcb) m.set(f.fcb, [F]);
      if (f.outb) m.set(f.outb, [D]);
    }
  }
  norm(block.finalNorm);
  if (!s.tieWordEmbeddings) m.set(block.unembed, [s.vocabSize, D]);
  return m;
}
