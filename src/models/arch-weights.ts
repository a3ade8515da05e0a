/**
 * The weights of a FamilyBlock model in the engine, by role. At load, grouped-query k/v projections are
 * ungrouped (each query head gets its KV head's rows, TransformerLens' ungroup_grouped_query_attention) and
 * GPT-NeoX's fused query_key_value is split into q, k, v. Norms and biases live in the heap. The big per-layer
 * matrices live in the heap when they fit, else in ordinary memory in their stored precision (BF16 and F16 stay
 * 2 bytes) and are widened one layer at a time into a reusable slot. The embedding and unembedding go the same
 * way: resident, or held outside the heap and used a chunk of rows at a time (VocabMatrix).
 */
import type { Engine } from '../engine/engine.js';
import type { WeightRef } from '../engine/ops.js';
import type { Tensor } from '../engine/tensor.js';
import type { FamilyBlock, NormNames } from './arch/block.js';
import type { ArchSpec } from './arch/spec.js';
import type { NormParams } from './family-ops.js';
import { bf16ToF32, f16ToF32 } from './safetensors.js';
import { LayerSlots, RESIDENT_LIMIT, type WeightSource } from './weights.js';

/** A weight source that can also hand over a tensor's stored half-precision bits. */
export interface HalfWeightSource extends WeightSource {
  dtype?(name: string): string;
  readHalf?(name: string): Uint16Array;
}

/** A matrix in ordinary memory: f32, or BF16/F16 bits widened when copied into the heap. */
export type HostMatrix = { kind: 'f32'; data: Float32Array } | { kind: 'BF16' | 'F16'; data: Uint16Array };

function widenInto(m: HostMatrix, start: number, n: number, out: Float32Array): void {
  if (m.kind === 'f32') out.set(m.data.subarray(start, start + n));
  else (m.kind === 'BF16' ? bf16ToF32 : f16ToF32)(m.data.subarray(start, start + n), out);
}

/**
 * A layer matrix as held outside the heap: the stored tensor, and where it is a rearrangement of the stored rows
 * (grouped-query k/v ungrouped, GPT-NeoX's fused q/k/v split), the stored row of each heap row. The rearrangement
 * happens while widening into the heap, so ungrouped k/v cost no more host memory than the checkpoint's.
 */
interface LayerMatrix {
  m: HostMatrix;
  rowLen: number;
  rows: readonly number[] | null;
}

/** BF16 values staged into the heap per widenBf16 call (8 MiB). */
const STAGE = 1 << 22;

/**
 * Widens host matrices into the heap. BF16 (every big checkpoint) goes through a staging area in the heap and the
 * kernels' widenBf16 (SIMD over the pool: a streamed model widens its layers and vocabulary on every pass); F16 and
 * f32 are widened in JavaScript.
 */
export class Widener {
  private stage: Tensor | null = null;

  constructor(private readonly e: Engine) {}

  /** Elements start … start + n of m into the heap at byte offset dst. */
  range(m: HostMatrix, start: number, n: number, dst: number): void {
    this.rows(m, n, [start], dst);
  }

  /** A layer matrix, its rows rearranged where it says so, into t. */
  layer(x: LayerMatrix, t: Tensor): void {
    if (!x.rows) this.range(x.m, 0, t.size, t.ptr);
    else this.rows(x.m, x.rowLen, x.rows.map((r) => r * x.rowLen), t.ptr);
  }

  /** The rows of m starting at elements `starts` (each rowLen long), in that order, into the heap at dst; BF16 a stage-full per kernel call. */
  private rows(m: HostMatrix, rowLen: number, starts: readonly number[], dst: number): void {
    if (m.kind !== 'BF16') {
      starts.forEach((s, i) => widenInto(m, s, rowLen, this.e.heap.f32At(dst + 4 * i * rowLen, rowLen)));
      return;
    }
    this.stage ??= this.e.emptyDetached([STAGE / 2]);
    const flush = (n: number, at: number) => this.e.kernels.widenBf16(this.stage!.ptr, at, n);
    let used = 0, at = dst;
    for (const s of starts) {
      // a row longer than the stage (a whole matrix passed as one row) goes through in stage-sized pieces
      for (let o = 0; o < rowLen; ) {
        const k = Math.min(rowLen - o, STAGE - used);
        this.e.heap.u16At(this.stage.ptr + 2 * used, k).set(m.data.subarray(s + o, s + o + k));
        used += k;
        o += k;
        if (used === STAGE) {
          flush(used, at);
          at += 4 * used;
          used = 0;
        }
      }
    }
    if (used > 0) flush(used, at);
  }

  dispose(): void {
    this.stage?.dispose();
    this.stage = null;
  }
}

/** Rows of `src` (each `rowLen` long) in the order `rows` names. */
function pickRows<T extends Float32Array | Uint16Array>(src: T, rowLen: number, rows: readonly number[]): T {
  const out = new (src.constructor as new (n: number) => T)(rows.length * rowLen);
  rows.forEach((r, i) => out.set(src.subarray(r * rowLen, (r + 1) * rowLen), i * rowLen));
  return out;
}

/** The big matrices of a layer. */
const BIG = ['q', 'k', 'v', 'o', 'fc', 'out', 'gate', 'up', 'down'] as const;
export type BigName = (typeof BIG)[number];

export interface FamilyLayerWeights {
  ln1: NormParams;
  ln2: NormParams;
  postAttn: NormParams | null;
  postMlp: NormParams | null;
  qb: Tensor | null;
  kb: Tensor | null;
  vb: Tensor | null;
  ob: Tensor | null;
  fcb: Tensor | null;
  outb: Tensor | null;
}

export class FamilyWeights {
  readonly embed: VocabMatrix;
  readonly unembed: VocabMatrix;
  readonly finalNorm: NormParams;
  readonly streamed: boolean;
  private readonly small: FamilyLayerWeights[] = [];
  private readonly names: BigName[];
  private readonly resident: Tensor[][] = [];
  private readonly host: LayerMatrix[][] = [];
  private slots: LayerSlots | null = null;
  private readonly widener: Widener;

  constructor(readonly engine: Engine, readonly spec: ArchSpec, readonly block: FamilyBlock, src: HalfWeightSource, opts: { stream?: boolean; residentLimit?: number; onRead?: (bytes: number) => void } = {}) {
    const e = engine, s = spec;
    this.widener = new Widener(e);
    const read = (name: string) => {
      const d = src.readF32(name);
      opts.onRead?.(d.byteLength);
      return d;
    };
    const heapOf = (name: string) => e.emptyDetached(src.shape(name)).set(read(name));
    const normOf = (n: NormNames): NormParams => ({ kind: s.norm.kind, g: heapOf(n.w), b: n.b ? heapOf(n.b) : null, eps: s.norm.eps, unitOffset: s.norm.unitOffset });
    const half = (name: string): 'BF16' | 'F16' | null => {
      const d = src.readHalf ? src.dtype?.(name) : undefined;
      return d === 'BF16' || d === 'F16' ? d : null;
    };
    const hostOf = (name: string): HostMatrix => {
      const h = half(name);
      if (h) {
        const data = src.readHalf!(name);
        opts.onRead?.(data.byteLength);
        return { kind: h, data };
      }
      return { kind: 'f32', data: read(name) };
    };

    const H = s.nHead, KV = s.nKvHead, dh = s.dHead, D = s.dModel;
    const gsize = H / KV;
    // query head h reads KV head ⌊h / (H/KV)⌋: its dh rows of k_proj / v_proj
    const ungroupRows = Array.from({ length: H * dh }, (_, i) => Math.floor(Math.floor(i / dh) / gsize) * dh + (i % dh));
    const fusedRows = (j: number) => Array.from({ length: H * dh }, (_, i) => Math.floor(i / dh) * 3 * dh + j * dh + (i % dh));

    const l0 = block.layer(0);
    this.names = ['q', 'k', 'v', 'o', ...(('gate' in l0.mlp ? ['gate', 'up', 'down'] : ['fc', 'out']) as BigName[])];
    // the layer matrices as held in the heap (k/v ungrouped), every layer alike
    const shapes = this.shapes();
    const bigBytes = 4 * s.nLayer * shapes.reduce((a, sh) => a + sh[0]! * sh[1]!, 0);
    this.streamed = opts.stream ?? (process.env.EAPGP_STREAM_WEIGHTS === '1' || bigBytes > (opts.residentLimit ?? RESIDENT_LIMIT));

    for (let l = 0; l < s.nLayer; l++) {
      const n = block.layer(l), a = n.attn;
      // the big matrices of this layer, as host matrices (rearranged where needed)
      const mats = new Map<BigName, LayerMatrix>();
      const rearranged = (m: HostMatrix, rowLen: number, rows: number[]): LayerMatrix => ({ m, rowLen, rows });
      const asIs = (name: string): LayerMatrix => ({ m: hostOf(name), rowLen: 0, rows: null });
      let qb: Float32Array | null = null, kb: Float32Array | null = null, vb: Float32Array | null = null;
      if ('fused' in a) {
        const f = hostOf(a.fused), fb = read(a.fusedBias);
        mats.set('q', rearranged(f, D, fusedRows(0))).set('k', rearranged(f, D, fusedRows(1))).set('v', rearranged(f, D, fusedRows(2)));
        [qb, kb, vb] = [0, 1, 2].map((j) => pickRows(fb, 1, fusedRows(j)));
      } else {
        mats.set('q', asIs(a.q));
        mats.set('k', rearranged(hostOf(a.k), D, ungroupRows));
        mats.set('v', rearranged(hostOf(a.v), D, ungroupRows));
        if (a.qb) qb = read(a.qb);
        if (a.kb) kb = pickRows(read(a.kb), 1, ungroupRows);
        if (a.vb) vb = pickRows(read(a.vb), 1, ungroupRows);
      }
      mats.set('o', asIs(n.o));
      const m = n.mlp;
      if ('gate' in m) mats.set('gate', asIs(m.gate)).set('up', asIs(m.up)).set('down', asIs(m.down));
      else mats.set('fc', asIs(m.fc)).set('out', asIs(m.out));
      const vec = (x: Float32Array | null) => (x ? e.emptyDetached([x.length]).set(x) : null);
      this.small.push({
        ln1: normOf(n.ln1), ln2: normOf(n.ln2), postAttn: n.postAttn ? normOf(n.postAttn) : null, postMlp: n.postMlp ? normOf(n.postMlp) : null,
        qb: vec(qb), kb: vec(kb), vb: vec(vb), ob: n.ob ? heapOf(n.ob) : null,
        fcb: 'fc' in m && m.fcb ? heapOf(m.fcb) : null, outb: 'fc' in m && m.outb ? heapOf(m.outb) : null,
      });
      const list = this.names.map((k) => mats.get(k)!);
      if (this.streamed) this.host.push(list);
      else {
        this.resident.push(list.map((hm, i) => {
          const t = e.emptyDetached(shapes[i]!);
          this.widener.layer(hm, t);
          return t;
        }));
      }
    }
    if (this.streamed) this.slots = new LayerSlots(e, shapes, (l, i, t) => this.widener.layer(this.host[l]![i]!, t));
    this.finalNorm = normOf(block.finalNorm);
    // the vocabulary matrices: in the heap unless together they would crowd it
    const V = s.vocabSize;
    const untied = !s.tieWordEmbeddings; // (the loader checked that an untied checkpoint has its unembedding)
    const vocabBytes = 4 * V * D * (untied ? 2 : 1);
    const hostVocab = this.streamed && vocabBytes > 2 ** 28;
    this.embed = new VocabMatrix(e, hostOf(block.embed), V, D, hostVocab, this.widener);
    this.unembed = untied ? new VocabMatrix(e, hostOf(block.unembed), V, D, hostVocab, this.widener) : this.embed;
    if (!this.streamed && !hostVocab) this.widener.dispose(); // everything is in the heap: no staging needed later
  }

  /** Shapes of the big matrices of a layer, in `names` order (HF orientation [out, in]; k/v ungrouped). */
  private shapes(): number[][] {
    const s = this.spec, HD = s.nHead * s.dHead, D = s.dModel, F = s.dMlp;
    const byName: Record<BigName, number[]> = { q: [HD, D], k: [HD, D], v: [HD, D], o: [D, HD], fc: [F, D], out: [D, F], gate: [F, D], up: [F, D], down: [D, F] };
    return this.names.map((k) => byName[k]);
  }

  layer(l: number): FamilyLayerWeights {
    return this.small[l]!;
  }

  /** A big matrix of layer l, as a reference the backward pass can fetch again. */
  matrix(l: number, which: BigName): WeightRef {
    const i = this.names.indexOf(which);
    if (i < 0) throw new Error(`layer ${l} has no ${which} matrix`);
    return this.streamed ? () => this.fetch(l)[i]! : this.resident[l]![i]!;
  }

  private fetch(l: number): Tensor[] {
    return this.slots!.fetch(l);
  }

  /** Bytes of layer matrices held outside the heap (streamed models; a fused tensor's split views count once). */
  get hostLayerBytes(): number {
    const seen = new Set<ArrayBufferView>();
    for (const list of this.host) for (const x of list) seen.add(x.m.data);
    let n = 0;
    for (const d of seen) n += d.byteLength;
    return n;
  }

  get residentLayerBytes(): number {
    let n = 0;
    for (const ts of this.resident) for (const t of ts) n += t.bytes;
    return n;
  }

  dispose(): void {
    const seen = new Set<Tensor>();
    const free = (t: Tensor | null) => {
      if (t && !seen.has(t)) {
        seen.add(t);
        t.dispose();
      }
    };
    for (const w of this.small) {
      for (const p of [w.ln1, w.ln2, w.postAttn, w.postMlp]) if (p) (free(p.g), free(p.b));
      [w.qb, w.kb, w.vb, w.ob, w.fcb, w.outb].forEach(free);
    }
    for (const ts of [...this.resident, this.slots?.tensors ?? []]) ts.forEach(free);
    free(this.finalNorm.g);
    free(this.finalNorm.b);
    this.embed.dispose();
    this.unembed.dispose();
    this.widener.dispose();
  }
}

/** Rows per chunk when a vocabulary matrix is used from outside the heap. */
const VOCAB_CHUNK = 8192;

/**
 * A [V, D] vocabulary matrix (embedding or unembedding): in the heap, or outside it and widened a chunk of rows
 * at a time into a small slot (Llama 3's 128,256 × 4,096 would take 2 GiB of the heap as f32).
 */
export class VocabMatrix {
  private readonly heapCopy: Tensor | null;
  private slot: Tensor | null = null;

  constructor(
    readonly engine: Engine, private readonly host: HostMatrix, readonly V: number, readonly D: number, outside: boolean,
    private readonly widener: Widener,
  ) {
    if (outside) this.heapCopy = null;
    else {
      this.heapCopy = engine.emptyDetached([V, D]);
      widener.range(host, 0, V * D, this.heapCopy.ptr);
    }
  }

  /** The whole matrix in the heap, or null when it is kept outside. */
  get tensor(): Tensor | null {
    return this.heapCopy;
  }

  /** Rows `ids` [n, D], scaled by `scale` (a new tensor in the current arena; not on the tape). */
  gather(ids: Int32Array, scale = 1): Tensor {
    const e = this.engine, D = this.D;
    const out = e.empty([ids.length, D]);
    const o = out.data();
    const row = new Float32Array(D);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (this.heapCopy) row.set(this.heapCopy.data().subarray(id * D, (id + 1) * D));
      else widenInto(this.host, id * D, D, row);
      for (let d = 0; d < D; d++) o[i * D + d] = scale === 1 ? row[d]! : Math.fround(row[d]! * scale);
    }
    return out;
  }

  /** Calls fn(chunk [n, D] in the heap, first row) over the matrix, a chunk of rows at a time. */
  forChunks(fn: (chunk: Tensor, first: number) => void): void {
    if (this.heapCopy) return fn(this.heapCopy, 0);
    this.slot ??= this.engine.emptyDetached([Math.min(VOCAB_CHUNK, this.V), this.D]);
    for (let r0 = 0; r0 < this.V; r0 += VOCAB_CHUNK) {
      const n = Math.min(VOCAB_CHUNK, this.V - r0);
      const view = this.slot.rows(0, n);
      this.widener.range(this.host, r0 * this.D, n * this.D, view.ptr);
      fn(view, r0);
    }
  }

  /** x [n, D] · Wᵀ → [n, V], on the tape (the gradient reaches x). */
  project(x: Tensor): Tensor {
    const e = this.engine, k = e.kernels, D = this.D, V = this.V, n = x.size / D;
    const out = e.empty([n, V]);
    this.forChunks((c, r0) => k.gemm(false, true, n, c.shape[0]!, D, 1, x.ptr, D, c.ptr, D, 0, out.ptr + 4 * r0, V));
    if (!e.tape) return out;
    return e.tape.record([x], out, (g, grads) => {
      const sx = grads.slot(x);
      if (!sx) return;
      let first = sx.fresh;
      this.forChunks((c, r0) => {
        k.gemm(false, false, n, D, c.shape[0]!, 1, g.ptr + 4 * r0, V, c.ptr, D, first ? 0 : 1, sx.g.ptr, D);
        first = false;
      });
    });
  }

  /** Wᵀ·W [D, D] (a new detached tensor). */
  gram(): Tensor {
    const e = this.engine, D = this.D;
    const g = e.emptyDetached([D, D]);
    let first = true;
    this.forChunks((c) => {
      e.kernels.gemm(true, false, D, D, c.shape[0]!, 1, c.ptr, D, c.ptr, D, first ? 0 : 1, g.ptr, D);
      first = false;
    });
    return g;
  }

  dispose(): void {
    this.heapCopy?.dispose();
    this.slot?.dispose();
  }
}
