/**
 * IOI: "When Kate and Paul went to the park, Paul gave the ball to" → " Kate". ABBA and BABA orders;
 * the corrupted prompt replaces the second mention of the subject (S2) by a third name, so neither name is
 * repeated there. correct_idx = the indirect object's token, incorrect_idx = the subject's.
 */
import { Drops } from './drops.js';
import { checkCounts, pick, pickOther, sampleRows, taskRng } from './sample.js';
import { lengthMismatch, singleToken } from './tokens.js';
import type { GenerateOptions, GeneratedDataset, Generator } from './types.js';
import { loadTokenizer } from '../../tokenizer/index.js';

const NAMES = [
  'Kate', 'Paul', 'Emma', 'Peter', 'Lucy', 'Oscar', 'Grace', 'Henry', 'Alice', 'Victor', 'Helen', 'Simon',
  'Julia', 'Frank', 'Nora', 'Walter', 'Rose', 'Adam', 'Clara', 'Hugo', 'Diana', 'Leo', 'Ruth', 'Martin',
  'Irene', 'Felix', 'Sophie', 'Gordon', 'Wendy', 'Ralph', 'Dominic', 'Anna', 'Barnaby', 'Mark',
];
const PLACES = ['park', 'market', 'library', 'harbor', 'museum', 'bakery', 'stadium', 'garden', 'gym', 'cafe', 'zoo', 'theater', 'lake', 'farm'];
const OBJECTS = ['ball', 'letter', 'key', 'map', 'book', 'hat', 'cake', 'ticket', 'phone', 'lamp', 'coin', 'basket', 'kite', 'pencil'];

/** [A] and [B] are the pair, [S] the subject who acts again, [P] a place, [O] an object. */
const TEMPLATES = [
  'When [A] and [B] went to the [P], [S] gave the [O] to',
  'After [A] and [B] arrived at the [P], [S] handed the [O] to',
  'While [A] and [B] were waiting at the [P], [S] passed the [O] to',
  'Then, [A] and [B] spent the morning at the [P]. [S] sent the [O] to',
  'Yesterday [A] and [B] met at the [P], and [S] offered the [O] to',
  'Once [A] and [B] got back from the [P], [S] threw the [O] to',
];

function fill(t: string, a: string, b: string, s: string, p: string, o: string): string {
  return t.replace('[A]', a).replace('[B]', b).replace('[S]', s).replace('[P]', p).replace('[O]', o);
}

export const ioiGenerator: Generator = {
  name: 'ioi',
  description: 'indirect object identification: "When A and B went to the park, B gave the ball to" → A',
  generate(opts: GenerateOptions): GeneratedDataset {
    const { n, seed = 0, tokenizer } = opts;
    checkCounts(n, seed);
    const tok = tokenizer ?? loadTokenizer();
    const drops = new Drops();
    const names = drops.singleTokens('ioi', 'names', 'name is not a single token', NAMES, (x) => singleToken(tok, ' ' + x) !== undefined, tok, opts);
    const rng = taskRng('ioi', seed);
    const rows = sampleRows('ioi', n, drops, () => {
      const template = pick(rng, TEMPLATES);
      const io = pick(rng, names);
      const s = pickOther(rng, names, io);
      const third = pickOther(rng, names, io, s);
      const [a, b] = rng.uniform() < 0.5 ? [io, s] : [s, io]; // ABBA or BABA
      const place = pick(rng, PLACES);
      const object = pick(rng, OBJECTS);
      const clean = fill(template, a, b, s, place, object);
      const corrupted = fill(template, a, b, third, place, object);
      const bad = lengthMismatch(tok, clean, corrupted);
      if (bad) return bad;
      return [clean, corrupted, String(singleToken(tok, ' ' + io)), String(singleToken(tok, ' ' + s))];
    });
    return { task: 'ioi', columns: ['clean', 'corrupted', 'correct_idx', 'incorrect_idx'], rows, dropped: drops.report(), companions: [] };
  },
};
