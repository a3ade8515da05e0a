/**
 * Test data from this repository alone: the fixture CSVs of the six tasks (test/fixtures/tasks, made by our
 * generators, see gen-tasks.py), GPT-2's vocab.json/merges.txt rebuilt from the built-in encoding, and the
 * published files of the data cache for the few tests that need them, which skip with the command that
 * fetches them when they are not there.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cachedPath, dataCacheDir, fetchCommand, fileState } from '../../src/data/cache.js';
import { DATA_FILES } from '../../src/data/manifest.js';
import { writeGpt2TokenizerFiles } from '../../src/tokenizer/gpt2-files.js';

/** test/fixtures (from dist/test/helpers). */
export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));

/** The fixture CSV of a task (24 generated rows; sva's verb list next to it). */
export const fixtureCsv = (task: string): string => join(FIXTURES, 'tasks', `${task}.csv`);

let tokenizerDir: string | undefined;

/** A directory holding GPT-2's vocab.json and merges.txt, written once per process; removed at exit. */
export function gpt2TokenizerDir(): string {
  if (tokenizerDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'eapgp-gpt2-tok-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    writeGpt2TokenizerFiles(dir);
    tokenizerDir = dir;
  }
  return tokenizerDir;
}

/** Published data from the cache: `path(file)` for files that are there and intact, else `skip` says what to fetch. */
export interface Published {
  /** false when every file is cached; otherwise the skip message. */
  skip: string | false;
  /** The cached path of a manifest file (e.g. "ioi/eapig-faithfulness_gpt2.csv"). */
  path(file: string): string;
}

/** The published files of `groups` (manifest group names) in the user's data cache. */
export function published(...groups: string[]): Published {
  const dir = dataCacheDir();
  const files = DATA_FILES.filter((f) => groups.includes(f.group));
  const missing = [...new Set(files.filter((f) => fileState(dir, f) !== 'cached').map((f) => f.group))];
  return {
    skip: missing.length ? `needs the published data of ${missing.join(', ')} in the data cache (${dir}); \`${fetchCommand(missing)}\` fetches it` : false,
    path(file) {
      const f = files.find((x) => x.file === file);
      if (!f) throw new Error(`${file} is not a file of ${groups.join(', ')}`);
      return cachedPath(dir, f);
    },
  };
}
