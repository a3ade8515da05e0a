/** Capital → country fact retrieval: logit(country's first token) − logit(corrupted country's first token). */
import { logitDiffTask } from './define.js';

export const capitalCountry = logitDiffTask('capital-country', 'country_idx', 'corrupted_country_idx');
