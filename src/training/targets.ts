/**
 * What training teaches each task: a target distribution over the next token at the answer position
 * (soft cross-entropy; weights sum to 1). Chosen so that minimizing the loss makes the task's metric positive:
 *   - logit-difference tasks (ioi, gender-bias, capital-country): the correct token (ordinary next-token CE);
 *   - greater-than: uniform over the years "YY+1".."99" — every valid later year is a right answer, so the
 *     model learns "the end year exceeds YY" rather than one particular year (probability mass ≤ YY is wrong);
 *   - sva: uniform over the verb forms of the subject's number (singular or plural set);
 *   - hypernymy: uniform over the answer set (a listed id twice weighs twice).
 */
import type { Label } from '../tasks/types.js';

/** A distribution over token ids: ids[k] with probability weights[k] (an id may repeat). */
export interface Target {
  ids: readonly number[];
  weights: readonly number[];
}

function uniform(ids: readonly number[]): Target {
  if (ids.length === 0) throw new Error('training target: empty answer set');
  return { ids, weights: ids.map(() => 1 / ids.length) };
}

// greater-than and sva targets are shared by many labels: one per (id array, year / number)
const yearTargets = new WeakMap<readonly number[], Target[]>();
const verbTargets = new WeakMap<object, [Target, Target]>();

/** The training target of a task label (see the module comment). */
export function targetOf(label: Label): Target {
  switch (label.kind) {
    case 'logit-diff':
      return { ids: [label.correct], weights: [1] };
    case 'greater-than': {
      let all = yearTargets.get(label.yearIds);
      if (!all) {
        const ids = label.yearIds;
        // YY = 99 has no later year: the generator never makes it (YY ≤ 98); keep "99" itself rather than nothing
        all = Array.from({ length: 100 }, (_, yy) => uniform(yy < 99 ? ids.slice(yy + 1) : [ids[99]!]));
        yearTargets.set(ids, all);
      }
      return all[label.year]!;
    }
    case 'sva': {
      let pair = verbTargets.get(label.verbs);
      if (!pair) {
        pair = [uniform(label.verbs.singular), uniform(label.verbs.plural)];
        verbTargets.set(label.verbs, pair);
      }
      return pair[label.plural ? 1 : 0];
    }
    case 'hypernymy':
      return uniform(label.answers);
  }
}
