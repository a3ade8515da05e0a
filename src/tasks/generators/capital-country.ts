/**
 * Capital → country: " Paris, the capital of" → " France"; the corrupted prompt names another capital (of
 * the same token length) whose country is the wrong answer. Countries must be single tokens.
 */
import { loadTokenizer } from '../../tokenizer/index.js';
import { Drops } from './drops.js';
import { checkCounts, pick, sampleRows, taskRng } from './sample.js';
import { lengthMismatch, singleToken, tokenCount } from './tokens.js';
import type { GenerateOptions, GeneratedDataset, Generator } from './types.js';

/** [capital, country]. */
const CAPITALS: readonly (readonly [string, string])[] = [
  ['Paris', 'France'], ['Berlin', 'Germany'], ['Madrid', 'Spain'], ['Rome', 'Italy'], ['Tokyo', 'Japan'],
  ['Beijing', 'China'], ['Moscow', 'Russia'], ['Cairo', 'Egypt'], ['Athens', 'Greece'], ['Lisbon', 'Portugal'],
  ['Vienna', 'Austria'], ['Warsaw', 'Poland'], ['Dublin', 'Ireland'], ['Oslo', 'Norway'], ['Stockholm', 'Sweden'],
  ['Helsinki', 'Finland'], ['Copenhagen', 'Denmark'], ['Ottawa', 'Canada'], ['Canberra', 'Australia'], ['Nairobi', 'Kenya'],
  ['Lima', 'Peru'], ['Santiago', 'Chile'], ['Bogota', 'Colombia'], ['Caracas', 'Venezuela'], ['Havana', 'Cuba'],
  ['Bangkok', 'Thailand'], ['Hanoi', 'Vietnam'], ['Manila', 'Philippines'], ['Jakarta', 'Indonesia'], ['Tehran', 'Iran'],
  ['Baghdad', 'Iraq'], ['Ankara', 'Turkey'], ['Budapest', 'Hungary'], ['Brussels', 'Belgium'], ['Amsterdam', 'Netherlands'],
  ['Bern', 'Switzerland'], ['Seoul', 'South Korea'], ['New Delhi', 'India'], ['Islamabad', 'Pakistan'], ['Dhaka', 'Bangladesh'],
  ['Riyadh', 'Saudi Arabia'], ['Kyiv', 'Ukraine'], ['Bucharest', 'Romania'], ['Sofia', 'Bulgaria'], ['Belgrade', 'Serbia'],
  ['Accra', 'Ghana'], ['Abuja', 'Nigeria'], ['Rabat', 'Morocco'], ['Tunis', 'Tunisia'], ['Buenos Aires', 'Argentina'],
  ['Brasilia', 'Brazil'], ['Mexico City', 'Mexico'], ['Montevideo', 'Uruguay'], ['Quito', 'Ecuador'], ['Kingston', 'Jamaica'],
  ['Wellington', 'New Zealand'], ['Prague', 'Czech Republic'], ['Damascus', 'Syria'], ['Beirut', 'Lebanon'], ['Amman', 'Jordan'],
];

const prompt = (capital: string): string => ` ${capital}, the capital of`;

export const capitalCountryGenerator: Generator = {
  name: 'capital-country',
  description: 'fact retrieval: " Paris, the capital of" → " France" (corrupted: another capital)',
  generate(opts: GenerateOptions): GeneratedDataset {
    const { n, seed = 0, tokenizer } = opts;
    checkCounts(n, seed);
    const tok = tokenizer ?? loadTokenizer();
    const drops = new Drops();
    const facts = drops
      .singleTokens('capital-country', 'countries', 'country is not a single token', CAPITALS, ([, country]) => singleToken(tok, ' ' + country) !== undefined, tok, opts)
      .map(([capital, country]) => ({ capital, country, id: singleToken(tok, ' ' + country)!, len: tokenCount(tok, prompt(capital)) }));
    const rng = taskRng('capital-country', seed);
    // The corrupted capital must give a prompt of the same token length, with another country.
    const partners = new Map(facts.map((a) => [a, facts.filter((b) => b.len === a.len && b.id !== a.id)]));
    const usable = drops.filter(facts, (a) => (partners.get(a)!.length === 0 ? 'no other capital of the same token length' : undefined));
    const rows = sampleRows('capital-country', n, drops, () => {
      const a = pick(rng, usable);
      const b = pick(rng, partners.get(a)!);
      const clean = prompt(a.capital);
      const corrupted = prompt(b.capital);
      const bad = lengthMismatch(tok, clean, corrupted);
      if (bad) return bad;
      return [clean, a.capital, a.country, String(a.id), corrupted, b.capital, b.country, String(b.id)];
    });
    return {
      task: 'capital-country',
      columns: ['clean', 'capital', 'country', 'country_idx', 'corrupted', 'corrupted_capital', 'corrupted_country', 'corrupted_country_idx'],
      rows,
      dropped: drops.report(),
      companions: [],
    };
  },
};
