/**
 * Hypernymy: ", apples and other" → a word for the class (" fruits", " fruit"); the corrupted prompt names a
 * member of another class, whose answers are the wrong set. Answers are single space-prefixed tokens written
 * as id lists; the two sets of a row never share an id.
 */
import { loadTokenizer } from '../../tokenizer/index.js';
import { Drops } from './drops.js';
import { checkCounts, pick, sampleRows, taskRng } from './sample.js';
import { idList, lengthMismatch, pyList, singleToken, tokenCount } from './tokens.js';
import type { GenerateOptions, GeneratedDataset, Generator } from './types.js';

interface HyperClass {
  hypernym: string;
  answers: readonly string[];
  members: readonly string[];
}

const CLASSES: readonly HyperClass[] = [
  { hypernym: 'fruit', answers: ['fruits', 'fruit'], members: ['apples', 'bananas', 'oranges', 'pears', 'grapes', 'peaches', 'cherries', 'plums', 'lemons', 'mangoes'] },
  { hypernym: 'vegetable', answers: ['vegetables', 'veggies'], members: ['carrots', 'potatoes', 'onions', 'cabbages', 'peas', 'turnips', 'cucumbers', 'beets', 'leeks'] },
  { hypernym: 'bird', answers: ['birds'], members: ['sparrows', 'eagles', 'pigeons', 'crows', 'owls', 'parrots', 'robins', 'hawks', 'finches'] },
  { hypernym: 'tool', answers: ['tools', 'equipment'], members: ['hammers', 'wrenches', 'screwdrivers', 'saws', 'drills', 'pliers', 'chisels'] },
  { hypernym: 'instrument', answers: ['instruments'], members: ['violins', 'guitars', 'pianos', 'drums', 'trumpets', 'flutes', 'cellos'] },
  { hypernym: 'furniture', answers: ['furniture'], members: ['chairs', 'tables', 'sofas', 'desks', 'beds', 'cabinets', 'stools'] },
  { hypernym: 'clothing', answers: ['clothing', 'clothes', 'garments'], members: ['shirts', 'jackets', 'skirts', 'trousers', 'sweaters', 'coats', 'socks'] },
  { hypernym: 'metal', answers: ['metals'], members: ['copper', 'iron', 'zinc', 'silver', 'tin', 'nickel', 'aluminum'] },
  { hypernym: 'insect', answers: ['insects', 'bugs'], members: ['ants', 'beetles', 'wasps', 'bees', 'mosquitoes', 'crickets', 'butterflies'] },
  { hypernym: 'weapon', answers: ['weapons', 'arms'], members: ['swords', 'rifles', 'spears', 'pistols', 'daggers', 'cannons'] },
  { hypernym: 'disease', answers: ['diseases', 'illnesses', 'infections'], members: ['measles', 'malaria', 'cholera', 'tuberculosis', 'typhoid', 'influenza'] },
  { hypernym: 'sport', answers: ['sports', 'games'], members: ['football', 'hockey', 'tennis', 'golf', 'baseball', 'rugby', 'volleyball'] },
];

const prompt = (member: string): string => `, ${member} and other`;

export const hypernymyGenerator: Generator = {
  name: 'hypernymy',
  description: 'hypernymy: ", apples and other" → " fruits" (answer sets as token-id lists)',
  generate(opts: GenerateOptions): GeneratedDataset {
    const { n, seed = 0, tokenizer } = opts;
    checkCounts(n, seed);
    const tok = tokenizer ?? loadTokenizer();
    const drops = new Drops();
    // One check over all answer words (for the warning and the none-left error), then per class.
    const single = new Set(drops.singleTokens('hypernymy', 'answer words', 'answer word is not a single token', CLASSES.flatMap((c) => c.answers), (a) => singleToken(tok, ' ' + a) !== undefined, tok, opts));
    const classes = CLASSES.map((c) => {
      const answers = c.answers.filter((a) => single.has(a));
      return { ...c, answers, ids: answers.map((a) => singleToken(tok, ' ' + a)!) };
    }).filter((c) => {
      if (c.answers.length === 0) drops.add('class has no single-token answer');
      return c.answers.length > 0;
    });
    // Every (member, class) with the members of other classes whose prompt has the same token length.
    const members = classes.flatMap((c) => c.members.map((m) => ({ m, c, len: tokenCount(tok, prompt(m)) })));
    const partners = new Map(members.map((a) => [a, members.filter((b) => b.c !== a.c && b.len === a.len && !b.c.ids.some((id) => a.c.ids.includes(id)))]));
    const usable = drops.filter(members, (a) => (partners.get(a)!.length === 0 ? 'no member of another class with the same token length' : undefined));
    const rng = taskRng('hypernymy', seed);
    const rows = sampleRows('hypernymy', n, drops, () => {
      const ha = pick(rng, usable);
      const hb = pick(rng, partners.get(ha)!);
      const [a, b, h1, c1] = [ha.c, hb.c, ha.m, hb.m];
      const clean = prompt(h1);
      const corrupted = prompt(c1);
      return lengthMismatch(tok, clean, corrupted) ?? [
        clean, h1, a.hypernym, pyList(a.answers), idList(a.ids),
        corrupted, c1, b.hypernym, pyList(b.answers), idList(b.ids),
      ];
    });
    return {
      task: 'hypernymy',
      columns: ['clean', 'h1', 'hypernym', 'answers', 'answers_idx', 'corrupted', 'c1', 'corrupted_hypernym', 'corrupted_answers', 'corrupted_answers_idx'],
      rows,
      dropped: drops.report(),
      companions: [],
    };
  },
};
