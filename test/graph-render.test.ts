/** DOT and SVG pictures: well-formed, deterministic, exactly the circuit's nodes and edges. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toDot } from '../src/graph/dot.js';
import { Graph } from '../src/graph/graph.js';
import { greedy, prune, topn } from '../src/graph/selection.js';
import { toSvg } from '../src/graph/svg.js';

function scored(L: number, H: number, seed: number): Graph {
  const g = new Graph(L, H);
  let x = seed;
  g.forEachEdge((u, v) => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    g.setScore(u, v, (x / 2 ** 32 - 0.5) * (u === 0 ? 4 : 1 + (u % 5))); // strong input edges: non-empty pruned circuits
  });
  return g;
}

/**
 * Minimal XML well-formedness check: tags balance, attributes are quoted and unique, text has no raw '<'
 * or bare '&'. Returns the element names in document order.
 */
function xmlElements(xml: string): string[] {
  const names: string[] = [];
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt < 0 ? xml.length : lt);
    assert.doesNotMatch(text, /&(?!(amp|lt|gt|quot|apos);)/, `bare & in text near ${i}`);
    assert.doesNotMatch(text, />/, `stray > near ${i}`);
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(xml);
    assert.ok(m, `malformed tag at ${lt}: ${xml.slice(lt, lt + 60)}`);
    const attrs = [...m[3]!.matchAll(/([\w:-]+)=/g)].map((a) => a[1]);
    assert.equal(new Set(attrs).size, attrs.length, `duplicate attribute in ${m[0]}`);
    if (m[1] === '/') assert.equal(stack.pop(), m[2], `unbalanced </${m[2]}>`);
    else {
      names.push(m[2]!);
      if (m[4] !== '/') stack.push(m[2]!);
    }
    i = tag.lastIndex;
  }
  assert.deepEqual(stack, [], 'unclosed elements');
  return names;
}

const count = (s: string, re: RegExp): number => (s.match(re) ?? []).length;

test('SVG is well-formed and draws exactly the circuit', () => {
  const g = scored(4, 3, 11);
  greedy(g, 40);
  const c = prune(g);
  assert.ok(c.edges > 5, 'a non-trivial circuit');
  const svg = toSvg(g, { title: 'ioi <greedy> & pruned' });
  const els = xmlElements(svg);
  assert.equal(els[0], 'svg');
  assert.equal(count(svg, /<path class="edge"/g), c.edges);
  assert.equal(count(svg, /<g class="node">/g), c.nodes + 1, 'sources + logits');
  assert.equal(count(svg, /stroke-dasharray="5 3"><title>/g), g.inGraphFlatIndices().filter((f) => g.scores[f]! < 0).length);
  assert.match(svg, /<title>ioi &lt;greedy&gt; &amp; pruned<\/title>/);
  assert.match(svg, /a\d\.h\d-&gt;m\d/, 'edge names escaped in tooltips');
  assert.equal(toSvg(g, { title: 'ioi <greedy> & pruned' }), svg, 'deterministic');
});

test('SVG of an unpruned selection still draws every edge (endpoints drawn)', () => {
  const g = scored(3, 2, 5);
  topn(g, 25);
  const svg = toSvg(g);
  xmlElements(svg);
  assert.equal(count(svg, /<path class="edge"/g), 25);
});

test('SVG of a 2,000-edge circuit on GPT-2 small stays small', () => {
  const g = scored(12, 12, 3);
  topn(g, 2000);
  const c = prune(g);
  const svg = toSvg(g);
  assert.equal(count(svg, /<path class="edge"/g), c.edges);
  assert.ok(svg.length < 1_000_000, `${svg.length} bytes`);
  xmlElements(svg);
});

test('DOT lists the circuit nodes and edges with q/k/v colours and widths', () => {
  const g = scored(3, 3, 7);
  greedy(g, 30);
  const c = prune(g);
  assert.ok(c.edges > 5, 'a non-trivial circuit');
  const dot = toDot(g);
  assert.match(dot, /^digraph "circuit" \{\n/);
  assert.ok(dot.trimEnd().endsWith('}'));
  assert.equal(count(dot, /^ {2}"[^"]+" -> "[^"]+" \[/gm), c.edges);
  assert.equal(count(dot, /^ {2}"[^"]+" \[fillcolor=/gm), c.nodes + 1);
  assert.equal(count(dot, /\{/g), count(dot, /\}/g), 'balanced braces');
  const colours = new Set([...dot.matchAll(/color="(#[0-9a-f]{6})", penwidth/g)].map((m) => m[1]));
  assert.ok(colours.size >= 3, 'several slot/sign colours');
  for (const m of dot.matchAll(/penwidth=([\d.]+)/g)) assert.ok(Number(m[1]) >= 0.6 && Number(m[1]) <= 5);
  assert.equal(toDot(g), dot);
});
