/**
 * The SVG of a validation run's faithfulness curves: F(C) against the edge fraction (log axis) for the exact
 * scores' circuits (the reference, first colour) and each variant's. The palette has 10 colours, so the
 * variants after the ninth are dashed to stay distinguishable.
 */
import { lineChart } from '../report/line-chart.js';
import type { ValidationResult } from './runner.js';
import type { SweepResult } from '../evaluation/sweep.js';

const points = (r: ValidationResult, s: SweepResult): [number, number][] => s.points.map((p, i) => [100 * r.fractions[i]!, p.faithfulness]);

export function faithfulnessChart(r: ValidationResult, title: string): string {
  return lineChart({
    title, xLabel: 'edges in the circuit (% of all edges, requested)', yLabel: 'faithfulness F(C)', xScale: 'log', width: 820, height: 480,
    series: [
      { name: 'exact (ground truth)', points: points(r, r.exact.faithfulness) },
      ...r.variants.map((v, i) => ({ name: v.name, points: points(r, v.faithfulness), dashed: i + 1 >= 10 })),
    ],
  });
}
