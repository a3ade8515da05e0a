/** Gender bias: logit(clean answer, e.g. " she") − logit(corrupted answer, e.g. " he"). */
import { logitDiffTask } from './define.js';

export const genderBias = logitDiffTask('gender-bias', 'clean_answer_idx', 'corrupted_answer_idx');
