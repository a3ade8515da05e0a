/** Batches of token ids: right-padded or packed rows, and where each example's rows are. */
/**
 * Token ids of B examples. Rows are right-padded to P positions (B·P rows, example b at rows b·P…), or, when
 * `packed`, only the real tokens back to back (Σ lengths rows): the padding rows cost a forward and backward
 * pass but never touch a real position, so packed batches give the same values at real rows for less work.
 */
export interface Batch {
  B: number;
  /** The longest example (the padded width). */
  P: number;
  /** Token id of every row: [B·P] batch-major, or [Σ lengths] when packed. */
  ids: Int32Array;
  /** Real length of each example (≥ 1). */
  lengths: Int32Array;
  /** Rows hold only real tokens (see packBatch). */
  packed?: boolean;
}

/** Builds a right-padded batch from token sequences. */
export function makeBatch(seqs: readonly (readonly number[])[], padId = 50256): Batch {
  if (seqs.length === 0) throw new Error('makeBatch: no sequences');
  const B = seqs.length;
  const P = Math.max(...seqs.map((s) => s.length));
  const ids = new Int32Array(B * P).fill(padId);
  const lengths = new Int32Array(B);
  seqs.forEach((s, b) => {
    if (s.length === 0) throw new Error(`makeBatch: example ${b} is empty`);
    ids.set(s, b * P);
    lengths[b] = s.length;
  });
  return { B, P, ids, lengths };
}

/** First row of each example, and the row count at the end: [B + 1]. */
export function rowStarts(b: Batch): Int32Array {
  const s = new Int32Array(b.B + 1);
  for (let i = 0; i < b.B; i++) s[i + 1] = s[i]! + (b.packed ? b.lengths[i]! : b.P);
  return s;
}

/** The row of each example's last real token: [B]. */
export function lastRows(b: Batch): Int32Array {
  const s = rowStarts(b);
  return Int32Array.from({ length: b.B }, (_, i) => s[i]! + b.lengths[i]! - 1);
}

/** The same examples without padding rows (a packed batch is returned as is). */
export function packBatch(b: Batch): Batch {
  if (b.packed) return b;
  const ids = new Int32Array(b.lengths.reduce((a, n) => a + n, 0));
  for (let i = 0, r = 0; i < b.B; r += b.lengths[i]!, i++) ids.set(b.ids.subarray(i * b.P, i * b.P + b.lengths[i]!), r);
  return { B: b.B, P: b.P, ids, lengths: b.lengths, packed: true };
}
