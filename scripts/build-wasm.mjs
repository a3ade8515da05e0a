// Builds the AssemblyScript kernels (src/engine/wasm) into two modules:
//   build/kernels.wasm          SIMD128
//   build/kernels-relaxed.wasm  SIMD128 + relaxed SIMD (fused multiply-add)
// Both import a shared memory `env.memory` (max 65536 pages) and must keep their static data below 1 MiB,
// where the per-thread scratch areas begin (src/engine/memory.ts).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import asc from "assemblyscript/asc";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const entry = join(root, "src/engine/wasm/index.ts");
const outDir = join(root, "build");
const STATIC_LIMIT = 1 << 20;

const common = [
  entry, "-O3", "--runtime", "stub", "--noAssert",
  "--importMemory", "--sharedMemory", "--initialMemory", "1024", "--maximumMemory", "65536",
  "--enable", "simd", "--enable", "threads", "--uncheckedBehavior", "always",
];

mkdirSync(outDir, { recursive: true });
for (const [file, extra] of [["kernels.wasm", []], ["kernels-relaxed.wasm", ["--enable", "relaxed-simd"]]]) {
  const out = join(outDir, file);
  const { error, stderr } = await asc.main([...common, ...extra, "--outFile", out], {});
  if (error) {
    console.error(stderr.toString());
    console.error(`build-wasm: ${file}: ${error.message}`);
    process.exit(1);
  }
  const end = staticEnd(readFileSync(out));
  if (end >= STATIC_LIMIT) {
    console.error(`build-wasm: ${file}: static data ends at ${end}, above the 1 MiB kernel statics limit`);
    process.exit(1);
  }
  console.log(`build-wasm: ${file} (static data ends at ${end} B)`);
}

/** End of the highest active data segment with a constant offset (0 when there is none). */
function staticEnd(bytes) {
  let p = 8;
  let end = 0;
  const u = () => {
    let r = 0, s = 0, b;
    do { b = bytes[p++]; r |= (b & 0x7f) << s; s += 7; } while (b & 0x80);
    return r >>> 0;
  };
  while (p < bytes.length) {
    const id = bytes[p++];
    const size = u();
    const next = p + size;
    if (id === 11) {
      const n = u();
      for (let i = 0; i < n; i++) {
        const flags = u();
        if (flags === 1) { const len = u(); p += len; continue; } // passive
        if (flags === 2) u(); // memory index
        if (bytes[p] !== 0x41) throw new Error("build-wasm: non-constant data segment offset");
        p++;
        let off = 0, s = 0, b;
        do { b = bytes[p++]; off |= (b & 0x7f) << s; s += 7; } while (b & 0x80);
        p++; // end
        const len = u();
        p += len;
        end = Math.max(end, (off >>> 0) + len);
      }
    }
    p = next;
  }
  return end;
}
