import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  bf16ToF32, f16ToF32, f32ToBF16, f32ToF16, openSafetensors, writeSafetensors,
} from '../src/models/safetensors.js';
import { isUserError } from '../src/util/errors.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eapgp-st-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let counter = 0;
const file = () => path.join(tmp, `t${counter++}.safetensors`);

/** A raw safetensors file from a header object (or raw header bytes) and a data section. */
function rawFile(header: object | Uint8Array, data: Uint8Array | number = 0, lengthOverride?: bigint): string {
  const h = header instanceof Uint8Array ? Buffer.from(header) : Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthOverride ?? BigInt(h.length));
  const p = file();
  fs.writeFileSync(p, Buffer.concat([len, h, typeof data === 'number' ? Buffer.alloc(data) : Buffer.from(data)]));
  return p;
}

function assertUserError(fn: () => unknown, ...parts: (string | RegExp)[]) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isUserError(e), `expected UserError, got ${e}`);
    for (const p of parts) {
      if (typeof p === 'string') assert.ok((e as Error).message.includes(p), `message lacks ${p}: ${(e as Error).message}`);
      else assert.match((e as Error).message, p);
    }
    return true;
  });
}

test('round trip F32/F16/BF16 with metadata, shapes and header alignment', () => {
  const p = file();
  const a = Float32Array.from({ length: 3000 }, (_, i) => Math.sin(i) * 3);
  const b = Float32Array.from([1, -2, 0.5, 65504, 1e-8]);
  writeSafetensors(p, {
    a: { dtype: 'F32', shape: [30, 100], data: a },
    h: { dtype: 'F16', shape: [5], data: b },
    g: { dtype: 'BF16', shape: [5], data: (out, start) => out.set(b.subarray(start, start + out.length)) },
    s: { dtype: 'F32', shape: [], data: Float32Array.of(7) },
  }, { format: 'pt' });
  const buf = fs.readFileSync(p);
  assert.equal(Number(buf.readBigUInt64LE(0)) % 8, 0, 'header padded to 8 bytes');
  const st = openSafetensors(p);
  try {
    assert.deepEqual(st.metadata, { format: 'pt' });
    assert.deepEqual(st.names, ['a', 'h', 'g', 's']);
    assert.deepEqual(st.info('a').shape, [30, 100]);
    assert.deepEqual(st.readF32('a'), a);
    assert.deepEqual([...st.readF32('h')], [1, -2, 0.5, 65504, 0]); // 1e-8 underflows in f16
    const g = st.readF32('g');
    assert.equal(g[0], 1);
    assert.equal(g[3], 65536); // bf16 has 8 mantissa bits
    assert.deepEqual([...st.readF32('s')], [7]);
    const out = new Float32Array(3000);
    assert.equal(st.readF32('a', out), out);
    assert.deepEqual(out, a);
  } finally {
    st.close();
  }
});

test('f16 rounding: nearest even, overflow, subnormals', () => {
  const x = Float32Array.from([1, -1, 65504, 65519, 65520, 2 ** -24, 2 ** -25, 3 * 2 ** -25, 2 ** -14, 1 + 2 ** -11, 1 + 3 * 2 ** -11, Infinity, NaN, -0]);
  const h = new Uint16Array(x.length);
  f32ToF16(x, h);
  assert.deepEqual([...h].map((v) => v.toString(16)), [
    '3c00', 'bc00', '7bff', '7bff', '7c00', '1', '0', '2', '400', '3c00', '3c02', '7c00', '7e00', '8000',
  ]);
  const back = new Float32Array(h.length);
  f16ToF32(h, back);
  assert.equal(back[5], 2 ** -24);
  assert.ok(Number.isNaN(back[12]));
  // every finite half survives f16 → f32 → f16
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i).filter((v) => (v & 0x7c00) !== 0x7c00);
  const f = new Float32Array(all.length);
  f16ToF32(all, f);
  const again = new Uint16Array(all.length);
  f32ToF16(f, again);
  assert.deepEqual(again, all);
});

test('bf16 rounding to nearest even', () => {
  const x = Float32Array.from([1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, NaN]);
  const h = new Uint16Array(x.length);
  f32ToBF16(x, h);
  const y = new Float32Array(x.length);
  bf16ToF32(h, y);
  assert.deepEqual([...y.subarray(0, 4)], [1, 1, 1 + 4 * 2 ** -8, 1 + 2 * 2 ** -8]);
  assert.ok(Number.isNaN(y[4]));
});

test('F64 tensors are read as f32', () => {
  const d = new Float64Array([1.5, -2.25, 1 / 3]);
  const p = rawFile({ x: { dtype: 'F64', shape: [3], data_offsets: [0, 24] } }, new Uint8Array(d.buffer));
  const st = openSafetensors(p);
  assert.deepEqual(st.readF32('x'), Float32Array.from(d));
  st.close();
});

test('large generated tensor streams in chunks', () => {
  const p = file();
  const n = 3 * (1 << 20) + 5;
  writeSafetensors(p, { big: { dtype: 'F16', shape: [n], data: (out, start) => { for (let i = 0; i < out.length; i++) out[i] = (start + i) % 1000; } } });
  const st = openSafetensors(p);
  const v = st.readF32('big');
  st.close();
  assert.equal(v.length, n);
  for (const i of [0, 999, 1000, (1 << 20) + 7, n - 1]) assert.equal(v[i], i % 1000);
});

test('bad input: header length larger than the file', () => {
  const p = rawFile({}, 0, 1000n);
  assertUserError(() => openSafetensors(p), p, 'header length 1000 is larger than the file');
});

test('bad input: file shorter than 8 bytes', () => {
  const p = file();
  fs.writeFileSync(p, Buffer.from([1, 2, 3]));
  assertUserError(() => openSafetensors(p), p, 'shorter than the 8-byte');
});

test('bad input: truncated data section', () => {
  const p = rawFile({ w: { dtype: 'F32', shape: [4, 4], data_offsets: [0, 64] } }, 40);
  assertUserError(() => openSafetensors(p), p, 'tensor w', 'truncated');
});

test('bad input: non-UTF-8 header', () => {
  const p = rawFile(Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d]));
  assertUserError(() => openSafetensors(p), p, 'not valid UTF-8');
});

test('bad input: non-JSON header', () => {
  const p = rawFile(Buffer.from('{"w": {"dtype": '));
  assertUserError(() => openSafetensors(p), p, 'not valid JSON');
});

test('bad input: unknown dtype', () => {
  const p = rawFile({ w: { dtype: 'F12', shape: [2], data_offsets: [0, 4] } }, 4);
  assertUserError(() => openSafetensors(p), p, 'tensor w', 'unknown dtype "F12"');
});

test('bad input: byte size does not match shape', () => {
  const p = rawFile({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }, 24);
  assertUserError(() => openSafetensors(p), p, 'tensor w', 'needs 24 bytes', 'span 20');
});

test('bad input: integer tensors are not readable as f32, missing tensor named', () => {
  const p = rawFile({ ids: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, 8);
  const st = openSafetensors(p);
  assertUserError(() => st.readF32('ids'), 'tensor ids', 'dtype I64', p);
  assertUserError(() => st.readF32('nope'), 'tensor nope not found', p);
  st.close();
});

test('bad input: missing file', () => {
  assertUserError(() => openSafetensors(path.join(tmp, 'none.safetensors')), 'none.safetensors');
});
