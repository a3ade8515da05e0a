/**
 * The kernel modules import a shared memory (scripts/build-wasm.mjs). A page that is not cross-origin isolated
 * cannot make one, so there the engine instantiates a copy whose memory import is marked non-shared: one flag
 * bit in the import's limits, the code unchanged (its atomics validate on non-shared memory too).
 */

/** A copy of `bytes` with the shared flag of its memory imports cleared. */
export function unsharedMemoryImport(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = Uint8Array.from(bytes);
  let p = 8; // magic and version
  const leb = (): number => {
    let r = 0, s = 0, b: number;
    do {
      b = out[p++]!;
      r += (b & 0x7f) * 2 ** s;
      s += 7;
    } while (b & 0x80);
    return r;
  };
  const limits = (): void => {
    const flags = out[p]!;
    if (flags & 0x02) out[p] = flags & ~0x02; // the shared bit
    p++;
    leb();
    if (flags & 0x01) leb();
  };
  while (p < out.length) {
    const id = out[p++]!;
    const size = leb();
    const end = p + size;
    if (id === 2) {
      for (let n = leb(); n > 0; n--) {
        const skip = (): void => {
          const n = leb(); // a name: its length, then its bytes
          p += n;
        };
        skip(); // module name
        skip(); // field name
        const kind = out[p++]!;
        if (kind === 0) leb(); // function: type index
        else if (kind === 1) (p++, limits()); // table: element type, limits
        else if (kind === 2) limits(); // memory
        else if (kind === 3) p += 2; // global: value type, mutability
        else throw new Error(`kernel module: unknown import kind ${kind}`);
      }
      return out;
    }
    p = end;
  }
  return out;
}
