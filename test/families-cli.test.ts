/**
 * The families from the command line, as a researcher runs them: a random Llama-style model (grouped-query
 * attention) with GPT-2's BPE as its tokenizer.json, the IOI generator, `attribute` and `evaluate` — all edges
 * in gives faithfulness 1 exactly as the identity requires. And bad input: an unsupported architecture, an unknown
 * rope_scaling type, heads not divisible by kv heads, an attention_bias the block lacks, a missing tokenizer.json — each a one-line error naming the
 * key or file, with nothing written.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { assertUserError, eapgp } from './helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'eapgp-fam-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const model = join(tmp, 'llama');

test('llama from the CLI: make-model, tasks make, attribute, evaluate (all edges ⇒ faithfulness 1)', () => {
  let r = eapgp(['make-model', '--arch', 'llama', '--layers', '2', '--heads', '4', '--kv-heads', '2', '--d-model', '32', '--vocab', '50304', '--gpt2-tokenizer-files', '--seed', '3', '--out', model]);
  assert.equal(r.code, 0, r.err);
  r = eapgp(['tasks', 'make', 'ioi', '--n', '12', '--seed', '1', '--out', join(tmp, 'ioi.csv')]);
  assert.equal(r.code, 0, r.err);
  r = eapgp(['attribute', '--model', model, '--task', 'ioi', '--data', join(tmp, 'ioi.csv'), '--method', 'eap-ig', '--steps', '2', '--out', join(tmp, 'g.json'), '--quiet']);
  assert.equal(r.code, 0, r.err);
  const g = JSON.parse(readFileSync(join(tmp, 'g.json'), 'utf8')) as { cfg: Record<string, unknown>; edges: Record<string, { score: number }> };
  assert.deepEqual([g.cfg['n_layers'], g.cfg['n_heads'], g.cfg['parallel_attn_mlp']], [2, 4, false]);
  // 4 query heads over 2 kv heads: every query head has its own k/v input (EAP-IG's ungrouped graph)
  assert.equal(Object.keys(g.edges).length, 110);
  assert.notEqual(g.edges['input->a0.h0<k>']!.score, g.edges['input->a0.h1<k>']!.score);
  r = eapgp(['evaluate', '--model', model, '--task', 'ioi', '--data', join(tmp, 'ioi.csv'), '--graph', join(tmp, 'g.json'), '--edges', '110', '--quiet']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /\n\s+110\s+110\s+\d+\s+\S+\s+1\.000000\s*\n/);
});

function badConfig(name: string, edit: (c: Record<string, unknown>) => void): string {
  const dir = join(tmp, name);
  eapgp(['make-model', '--arch', 'llama', '--layers', '1', '--heads', '4', '--kv-heads', '2', '--d-model', '16', '--vocab', '50304', '--gpt2-tokenizer-files', '--out', dir]);
  const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  edit(c);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
  return dir;
}

test('bad model input: one-line errors naming the key or file, nothing written', () => {
  const cases: [string, (c: Record<string, unknown>) => void, RegExp][] = [
    ['falcon', (c) => (c.architectures = ['FalconForCausalLM']), /unsupported model \(architectures \["FalconForCausalLM"\]\); supported architectures: GPT2LMHeadModel, GPTNeoXForCausalLM, LlamaForCausalLM/],
    ['yarn', (c) => (c.rope_scaling = { rope_type: 'yarn', factor: 4 }), /unsupported rope_scaling type "yarn"; supported: llama3, linear/],
    ['gqa', (c) => (c.num_key_value_heads = 3), /num_attention_heads 4 is not divisible by num_key_value_heads 3/],
    // Llama's attention_bias adds q/k/v/o biases this block does not read: refused, never silently dropped
    ['bias', (c) => (c.attention_bias = true), /"attention_bias": true is not supported \(this family has no attention biases\)/],
  ];
  for (const [name, edit, message] of cases) {
    const dir = badConfig(name, edit);
    const out = join(tmp, `${name}.json`);
    const r = eapgp(['attribute', '--model', dir, '--task', 'ioi', '--method', 'eap', '--out', out]);
    assertUserError(r, message, name);
    assert.ok(!existsSync(out), `${name}: ${out} was written`);
  }
  const dir = badConfig('notok', () => {});
  rmSync(join(dir, 'tokenizer.json'));
  const r = eapgp(['attribute', '--model', dir, '--task', 'ioi', '--method', 'eap', '--out', join(tmp, 'notok.json')]);
  assertUserError(r, /tokenizer\.json: missing; a llama model needs its own tokenizer\.json/, 'missing tokenizer');
});
