/** `eapgp merge`: the output of a sharded run from its parts, the same bytes as the run without --shard. */
import { edgeScoresFrom, type ScoreMethod } from '../attribution/score.js';
import { GraphLayout } from '../models/layout.js';
import { checkParts } from '../shard/merge.js';
import { UserError } from '../util/errors.js';
import { parse, requireOption } from './args.js';
import { writeScores, type ScoresRender } from './attribute.js';
import { mergeEvaluate } from './evaluate.js';
import { checkOutputDir, checkOutputFile } from './output-paths.js';
import { mergeReproduce } from '../reproduce/shards.js';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';

export const usage = `usage: eapgp merge PARTS... --out FILE|DIR

Combines the parts of a sharded run into the output the same command writes without --shard, byte for byte:
  attribute --shard i/n --out F   parts F.shard-i-of-n.part       → the scores file F
  evaluate  --shard i/n --out F   parts F.shard-i-of-n.part       → the results file F (also printed as evaluate does)
  reproduce --shard i/n --out D   the shard directories D…        → results.json, report.md and the plots in --out
                                  (the pairs' states, graphs and data are copied there; --out may be D itself)
Every shard 0..n−1 must be given once, all from one run (the same model, data and options: the parts record
their sha256 and options, and a mismatch names the field); the order of PARTS does not matter.`;

interface AttributeKey {
  method: ScoreMethod;
  points: number;
  layout: { nLayers: number; nHeads: number; parallelAttnMlp: boolean };
}

export async function merge(argv: string[]): Promise<void> {
  const { values, positionals } = parse('merge', argv, { out: { type: 'string' as const } }, usage, { positionals: true });
  if (values.help) return void console.log(usage);
  const out = requireOption(values.out, 'out', usage);
  if (positionals.some((p) => resolve(p) === resolve(out)) && !positionals.every(isDirectory)) throw new UserError(`merge: --out ${out} is one of the parts; write the merged output elsewhere`);
  if (positionals.length > 0 && positionals.every(isDirectory)) {
    checkOutputDir(out, 'out');
    mergeReproduce(positionals, out);
    return;
  }
  checkOutputFile(out, 'out');
  const merged = checkParts(positionals);
  const { header, records } = merged;
  if (header.command === 'attribute') {
    const key = header.key as unknown as AttributeKey;
    const layout = new GraphLayout(key.layout);
    const scores = edgeScoresFrom(key.method, layout, records, key.points);
    writeScores(out, layout, scores.scores, header.render as unknown as ScoresRender);
    console.error(`wrote ${out}: ${layout.nEdges.toLocaleString('en-US')} edges scored by ${key.method} on ${scores.examples} examples, from ${merged.parts.length} shards`);
  } else if (header.command === 'evaluate') {
    mergeEvaluate(merged, out);
  } else {
    throw new UserError(`merge: ${merged.parts[0]!.file} is a part of "${header.command}", which this eapgp cannot merge`);
  }
}

const isDirectory = (p: string): boolean => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};
