/**
 * What identifies a model's numbers for the shards of one run: the sha256 of the files that decide them (the
 * config, the weights, the tokenizer), by name. Two checkpoints of the same shape from different seeds differ
 * here, so a merge refuses to mix them; where the directory is (a hub cache, a copy) does not matter.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';

const DECIDING = /^(config\.json|generation_config\.json|.*\.safetensors|.*\.safetensors\.index\.json|tokenizer\.json|tokenizer_config\.json|vocab\.json|merges\.txt|special_tokens_map\.json)$/;

/** sha256 of one file, read in 8 MiB pieces (weights of several GB never sit in memory at once). */
function fileSha256(file: string): string {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(8 << 20);
  const fd = openSync(file, 'r');
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/** sha256 over "name sha256(file)" lines of the model directory's deciding files, in name order. */
export function modelSha256(dir: string): string {
  const files = readdirSync(dir).filter((f) => DECIDING.test(f) && statSync(join(dir, f)).isFile()).sort();
  const h = createHash('sha256');
  for (const f of files) h.update(`${f} ${fileSha256(join(dir, f))}\n`);
  return h.digest('hex');
}
