/** Starts `eapgp view ARGS… --port 0` in `cwd` for the browser tests and resolves with its child and URL. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export function startViewServer(cwd: string, args: string[]): { child: ChildProcess; url: Promise<string> } {
  const child = spawn(process.execPath, [MAIN, 'view', ...args, '--port', '0'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const url = new Promise<string>((ok, fail) => {
    let out = '', err = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) ok(m[1]!);
    });
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    child.on('exit', (code) => fail(new Error(`eapgp view exited with ${code}: ${err}`)));
  });
  return { child, url };
}
