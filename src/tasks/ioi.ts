/** Indirect object identification: logit(IO name) − logit(S name). */
import { logitDiffTask } from './define.js';

export const ioi = logitDiffTask('ioi', 'correct_idx', 'incorrect_idx');
