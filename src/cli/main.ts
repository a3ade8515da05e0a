#!/usr/bin/env node
/** The `eapgp` command: one file per subcommand; bad input prints one message and exits 1. */
import { fileSystemError, isUserError } from '../util/errors.js';
import { nearest } from '../util/suggest.js';
import { version } from '../version.js';

const COMMANDS: Record<string, { summary: string; load: () => Promise<(argv: string[]) => Promise<void>> }> = {
  run: { summary: 'next-token probabilities of a prompt', load: async () => (await import('./run.js')).run },
  info: { summary: 'version, threads, GEMM path, SIMD, memory', load: async () => (await import('./info.js')).info },
  attribute: { summary: 'score every edge of a task with EAP, EAP-IG, EAP-GP or exact patching', load: async () => (await import('./attribute.js')).attribute },
  evaluate: { summary: 'faithfulness of circuits selected from a scored graph', load: async () => (await import('./evaluate.js')).evaluate },
  data: { summary: 'fetch the EAP-IG paper\'s datasets, reference results and ACDC circuits into the cache; list it', load: async () => (await import('./data.js')).data },
  tasks: { summary: 'list the tasks; generate a task dataset (tasks make TASK --n N --out FILE.csv)', load: async () => (await import('./tasks.js')).tasks },
  compare: { summary: 'precision/recall and ROC AUC against the manual IOI / Greater-Than circuits', load: async () => (await import('./compare.js')).compare },
  view: { summary: 'open graphs, reproduce results and path traces in the local web viewer', load: async () => (await import('./view.js')).view },
  path: { summary: 'metric and gradients along the EAP-IG and GradPath paths, for the saturation view', load: async () => (await import('./path.js')).path },
  reproduce: { summary: 'the paper\'s evaluation in one resumable run: every task × method, report.md, plots, results.json', load: async () => (await import('./reproduce.js')).reproduce },
  mib: { summary: 'the MIB circuit track: export a submission folder; CPR and CMD as MIB computes them', load: async () => (await import('./mib.js')).mib },
  merge: { summary: 'the output of a sharded run (--shard i/n) from its parts, the same bytes as one run', load: async () => (await import('./merge.js')).merge },
  validate: { summary: 'exact patching of every edge as ground truth; rank agreement, precision and faithfulness of each method', load: async () => (await import('./validate.js')).validate },
  demo: { summary: 'the tour: an IOI circuit found by EAP-GP on the built-in model, evaluated, drawn (runs/demo)', load: async () => (await import('./demo.js')).demo },
  train: { summary: 'train a small GPT-2 on generated task data (Hugging Face checkpoint)', load: async () => (await import('./train.js')).trainCommand },
  'make-model': { summary: 'write a random checkpoint (GPT-2, GPT-NeoX, Llama, Qwen2, Mistral, Gemma 2; Hugging Face format)', load: async () => (await import('./make-model.js')).makeModel },
};

function help(): string {
  const w = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    `eapgp ${version} — circuit discovery in GPT-2 (EAP, EAP-IG, EAP-GP)`,
    '',
    'usage: eapgp <command> [options]   (eapgp <command> --help for its options)',
    '',
    ...Object.entries(COMMANDS).map(([c, v]) => `  ${c.padEnd(w)}  ${v.summary}`),
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(help());
    return 0;
  }
  if (cmd === '--version' || cmd === '-v') {
    console.log(version);
    return 0;
  }
  const entry = COMMANDS[cmd];
  if (!entry) {
    const guess = nearest(cmd, Object.keys(COMMANDS));
    console.error(`eapgp: unknown command "${cmd}"${guess ? `; did you mean "${guess}"?` : ''}\n\n${help()}`);
    return 2;
  }
  await (await entry.load())(rest);
  return 0;
}

// output piped into a reader that stops early (eapgp tasks list | head -1): stop quietly, as other tools do
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

process.on('SIGINT', () => {
  console.error('\ninterrupted');
  process.exit(130);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const fsError = fileSystemError(err);
    if (isUserError(err)) console.error(`eapgp: ${err.message}`);
    else if (fsError) console.error(`eapgp: ${fsError}`);
    else console.error(err);
    process.exitCode = 1;
  },
);
