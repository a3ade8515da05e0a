/** Runs `node args…` and sends it Ctrl-C (SIGINT) after `ms`: its exit code and stderr, for interruption tests. */
import { spawn } from 'node:child_process';

export async function interruptAfter(args: readonly string[], ms: number): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  await new Promise((r) => setTimeout(r, ms));
  child.kill('SIGINT');
  return { code: await exit, stderr };
}
