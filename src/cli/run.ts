/** `eapgp run`: the next-token distribution of a prompt. */
import { UserError } from '../util/errors.js';
import { softmax, topK } from '../util/math.js';
import { modelSpecOrDefault } from '../models/default-model.js';
import { loadModel } from '../models/load.js';
import { makeBatch } from '../models/batch.js';
import { ENGINE_OPTIONS, engineFrom, intOption, parse, requireOption } from './args.js';

export const usage = `usage: eapgp run [--model M] --prompt TEXT [--top K] [--json] [--no-bos] [--threads N] [--gemm auto|blas|wasm] [--device auto|cpu|gpu]

Prints the K most likely next tokens after the prompt. The prompt is prefixed with <|endoftext|> (50256) as
TransformerLens does, unless --no-bos. --json prints {"ids", "logits" (last position, whole vocabulary), "top"}.
--model is a Hugging Face directory or a hub name (gpt2, gpt2-medium, owner/name).`;

export async function run(argv: string[]): Promise<void> {
  const { values } = parse('run', argv, {
    ...ENGINE_OPTIONS, model: { type: 'string' as const }, prompt: { type: 'string' as const }, top: { type: 'string' as const },
    json: { type: 'boolean' as const }, 'no-bos': { type: 'boolean' as const },
  }, usage);
  if (values.help) return void console.log(usage);
  const spec = modelSpecOrDefault(values.model);
  const prompt = requireOption(values.prompt, 'prompt', usage);
  const k = intOption(values.top, 'top') ?? 10;
  const engine = await engineFrom(values);
  try {
    const { model, tokenizer } = await loadModel(engine, spec);
    const ids = [...(values['no-bos'] ? [] : [tokenizer.bosId]), ...tokenizer.encode(prompt)];
    if (ids.length === 0) throw new UserError('the prompt is empty and --no-bos leaves no token to run; give a non-empty --prompt');
    const logits = engine.tidy(() => model.forward(makeBatch([ids])).logits!.toArray());
    const probs = softmax(logits);
    const top = topK(logits, k).map((id) => ({ id, token: tokenizer.tokenString(id), logit: logits[id]!, prob: probs[id]! }));
    if (values.json) {
      process.stdout.write(JSON.stringify({ ids, logits: Array.from(logits), top }) + '\n');
    } else {
      console.log(`${ids.length} tokens; top ${k} next tokens:`);
      for (const t of top) console.log(`${(100 * t.prob).toFixed(2).padStart(7)}%  ${t.logit.toFixed(4).padStart(10)}  ${String(t.id).padStart(6)}  ${JSON.stringify(t.token)}`);
    }
  } finally {
    await engine.close();
  }
}
