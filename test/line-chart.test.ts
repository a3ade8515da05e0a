/** src/report/line-chart.ts: a well-formed standalone SVG, ticks, scales, legend, escaping, gaps. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeXml, formatTick, lineChart, linearTicks, logTicks } from '../src/report/line-chart.js';

/** Checks that every tag is closed in order (a small XML well-formedness check; no attributes with '>'). */
function assertWellFormed(svg: string): void {
  assert.match(svg, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    const [, close, name, self] = m;
    if (self) continue;
    if (close) assert.equal(stack.pop(), name, `closing </${name}>`);
    else stack.push(name!);
  }
  assert.deepEqual(stack, []);
  assert.doesNotMatch(svg.replace(/&(amp|lt|gt|quot|apos);/g, ''), /&/, 'every & is an entity');
}

/** The x positions of the circles of the series drawn with `color`. */
const circlesX = (svg: string, color: string): number[] =>
  [...svg.matchAll(new RegExp(`<circle cx="([\\d.]+)" cy="[\\d.]+" r="2.5" fill="${color}"`, 'g'))].map((m) => Number(m[1]));

test('ticks: round linear steps covering the range; log ticks 1-2-5 or decades; short labels', () => {
  assert.deepEqual(linearTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(linearTicks(-0.37, 1.12), [0, 0.5, 1]);
  assert.deepEqual(linearTicks(30, 1900), [500, 1000, 1500]);
  assert.deepEqual(logTicks(30, 1900), [50, 100, 200, 500, 1000]);
  assert.deepEqual(logTicks(1, 1e6), [1, 10, 100, 1000, 1e4, 1e5, 1e6]);
  assert.equal(formatTick(0.1 + 0.2), '0.3');
  assert.equal(formatTick(1e6), '1e6');
  assert.equal(formatTick(-2.5e-5), '-2.5e-5');
  assert.equal(formatTick(1900), '1900');
});

test('lineChart: a standalone SVG with title, axis labels, a legend entry and a line per series', () => {
  const svg = lineChart({
    title: 'IOI <small> & "quotes"', xLabel: 'edges', yLabel: 'faithfulness', xScale: 'log',
    series: [
      { name: 'eap', points: [[30, 0.1], [100, 0.5], [1900, 0.9]] },
      { name: 'eap-gp', points: [[30, 0.3], [100, 0.7], [1900, 1.0]], dashed: true },
    ],
  });
  assertWellFormed(svg);
  assert.match(svg, /<title>IOI &lt;small&gt; &amp; &quot;quotes&quot;<\/title>/);
  assert.ok(svg.includes('>edges</text>') && svg.includes('>faithfulness</text>'));
  assert.equal((svg.match(/<path /g) ?? []).length, 2);
  assert.equal((svg.match(/stroke-dasharray/g) ?? []).length, 2, 'the dashed series and its legend sample');
  assert.ok(svg.includes('>eap</text>') && svg.includes('>eap-gp</text>'));
  // log x axis: equal ratios are equal distances; both series share the axis
  const [a, b, c] = circlesX(svg, '#4e79a7');
  assert.ok(Math.abs((b! - a!) / (c! - b!) - Math.log(100 / 30) / Math.log(1900 / 100)) < 0.01);
  assert.deepEqual(circlesX(svg, '#f28e2b'), [a, b, c]);
  // tick labels of a log axis over 30..1900
  for (const t of ['50', '100', '200', '500', '1000']) assert.ok(svg.includes(`>${t}</text>`), `tick ${t}`);
  assert.match(svg, /width="640" height="400"/);
});

test('lineChart: points that cannot be drawn break the line; yRange fixes the axis and clips', () => {
  const svg = lineChart({
    title: 't', xLabel: 'x', yLabel: 'y', xScale: 'log', yRange: [0, 1], width: 300, height: 200,
    series: [{ name: 's', points: [[1, 0.5], [2, NaN], [3, 0.2], [4, 0.4], [0, 0.1], [-1, 0.3], [5, 2]] }],
  });
  assertWellFormed(svg);
  const paths = [...svg.matchAll(/<path d="([^"]+)"/g)].map((m) => m[1]!);
  // NaN and x <= 0 on a log axis split the line: [1], [3, 4], [5] (y = 2 is kept, clipped, not dropped)
  assert.deepEqual(paths.map((d) => (d.match(/[ML]/g) ?? []).length), [1, 2, 1]);
  assert.match(svg, /<g clip-path="url\(#clip-[0-9a-f]{8}\)"/);
  for (const t of ['0', '0.2', '0.4', '0.6', '0.8', '1']) assert.ok(svg.includes(`>${t}</text>`), `y tick ${t}`);
  assert.match(svg, /width="300" height="200"/);
});

test('lineChart: empty series and a single point still give axes', () => {
  assertWellFormed(lineChart({ title: 'empty', xLabel: 'x', yLabel: 'y', series: [] }));
  const one = lineChart({ title: 'one', xLabel: 'x', yLabel: 'y', series: [{ name: 'a', points: [[5, 5]] }] });
  assertWellFormed(one);
  assert.equal(circlesX(one, '#4e79a7').length, 1);
  assert.equal(escapeXml(`<a href="x">&'`), '&lt;a href=&quot;x&quot;&gt;&amp;&apos;');
});
