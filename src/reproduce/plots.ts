/**
 * The SVG plots of a reproduction (src/report/line-chart.ts): per task, faithfulness against the edge budget
 * with one line per method (log x axis); per task with a manual circuit, precision against recall of the
 * top-n edges, one solid (edges) and one dashed (nodes) line per method.
 */
import { lineChart, type Series } from '../report/line-chart.js';
import type { Results } from './types.js';

export interface Plot {
  /** Path relative to the results directory. */
  file: string;
  svg: string;
}

export const faithfulnessPlotFile = (task: string): string => `plots/faithfulness-${task}.svg`;
export const prPlotFile = (task: string): string => `plots/pr-${task}.svg`;

export function plots(r: Results): Plot[] {
  const out: Plot[] = [];
  const model = `${r.model.path}, ${r.model.edges.toLocaleString('en-US')} edges`;
  for (const [task, t] of Object.entries(r.tasks)) {
    const methods = Object.entries(t.methods);
    const series: Series[] = methods.map(([m, res]) => ({ name: m, points: res.points.map((p) => [p.requested, p.faithfulness]) }));
    out.push({
      file: faithfulnessPlotFile(task),
      svg: lineChart({ title: `${task}: faithfulness vs edges (${model})`, xLabel: 'edges (greedy budget, pruned circuit)', yLabel: 'faithfulness', xScale: 'log', series }),
    });
    const withPr = methods.filter(([, res]) => res.pr);
    if (withPr.length === 0) continue;
    const pr: Series[] = withPr.flatMap(([m, res]) => [
      { name: `${m} edges`, points: res.pr!.points.map((p): [number, number] => [p.edges.recall, p.edges.precision]) },
      { name: `${m} nodes`, points: res.pr!.points.map((p): [number, number] => [p.nodes.recall, p.nodes.precision]), dashed: true },
    ]);
    out.push({
      file: prPlotFile(task),
      svg: lineChart({ title: `${task}: precision vs recall against the manual circuit (top-n edges)`, xLabel: 'recall', yLabel: 'precision', yRange: [0, 1], series: pr }),
    });
  }
  return out;
}
