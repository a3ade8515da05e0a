/**
 * The MIB benchmark's task data (Mueller et al. 2025) on the Hugging Face hub, the datasets mib-bench/<name> its
 * circuit track loads (MIB_circuit_track/utils.py TASKS_TO_HF_NAMES, dataset.py HFEAPDataset): IOI as one JSON
 * file per split, the others as JSON Lines (MCQA under its `4_answer_choices` configuration, the one the track
 * uses). The validation and test splits (train holds up to 34,440 rows and serves training, not evaluation).
 *
 * Not pinned: no published sha256 or commit of these files was available where this manifest was written, so they
 * come from the `main` revision and are trusted on first use. The first download records the commit the hub
 * resolved `main` to (its X-Repo-Commit header), the size and the sha256 next to the file (`<file>.recorded.json`);
 * later reads and fetches check the file against that record. To pin one, copy the record's revision, size and
 * sha256 into its row below (`commit`, then `size` and `sha256`): it is then checked like every other file.
 */
import type { DataFile, DataSource } from './manifest.js';

/** The MIB task groups of `eapgp data fetch`, in MIB's order (utils.py TASKS_TO_HF_NAMES). */
export const MIB_DATA_GROUPS: readonly { name: string; about: string }[] = [
  { name: 'mib-ioi', about: 'MIB IOI (mib-bench/ioi): validation and test splits, JSON' },
  { name: 'mib-mcqa', about: 'MIB MCQA (mib-bench/copycolors_mcqa, 4 answer choices): validation and test, JSON Lines' },
  { name: 'mib-arithmetic-addition', about: 'MIB arithmetic, addition (mib-bench/arithmetic_addition): validation and test' },
  { name: 'mib-arithmetic-subtraction', about: 'MIB arithmetic, subtraction (mib-bench/arithmetic_subtraction): validation and test' },
  { name: 'mib-arc-easy', about: 'MIB ARC, easy (mib-bench/arc_easy): validation and test, JSON Lines' },
  { name: 'mib-arc-challenge', about: 'MIB ARC, challenge (mib-bench/arc_challenge): validation and test, JSON Lines' },
];

/** The splits fetched per task. */
export const MIB_SPLITS = ['validation', 'test'] as const;

const hub = (repo: string): DataSource => ({ repo, commit: 'main', host: 'huggingface-dataset' });

/** Per group: the dataset and the path of a split's file in it. */
const SOURCES: Record<string, { source: DataSource; path: (split: string) => string }> = {
  'mib-ioi': { source: hub('mib-bench/ioi'), path: (s) => `${s}.json` },
  'mib-mcqa': { source: hub('mib-bench/copycolors_mcqa'), path: (s) => `4_answer_choices/${s}.jsonl` },
  'mib-arithmetic-addition': { source: hub('mib-bench/arithmetic_addition'), path: (s) => `${s}.jsonl` },
  'mib-arithmetic-subtraction': { source: hub('mib-bench/arithmetic_subtraction'), path: (s) => `${s}.jsonl` },
  'mib-arc-easy': { source: hub('mib-bench/arc_easy'), path: (s) => `${s}.jsonl` },
  'mib-arc-challenge': { source: hub('mib-bench/arc_challenge'), path: (s) => `${s}.jsonl` },
};

/** Where a MIB task's split sits in the data cache: mib/<task>/<split>.json or .jsonl. */
export const mibCacheFile = (group: string, split: string): string => {
  const p = SOURCES[group]!.path(split);
  return `mib/${group.slice('mib-'.length)}/${split}${p.slice(p.lastIndexOf('.'))}`;
};

export const MIB_FILES: readonly DataFile[] = MIB_DATA_GROUPS.flatMap(({ name }) =>
  MIB_SPLITS.map((split): DataFile => ({ group: name, file: mibCacheFile(name, split), source: SOURCES[name]!.source, path: SOURCES[name]!.path(split) })));
