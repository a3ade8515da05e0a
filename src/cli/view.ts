/** `eapgp view`: the local web viewer for graphs, reproduce results and path traces. */
import { spawn } from 'node:child_process';
import { DEFAULT_PORT, startViewer } from '../viewer-server/server.js';
import { startSite } from '../viewer-server/site.js';
import { UserError } from '../util/errors.js';
import { intOption, parse } from './args.js';

export const usage = `usage: eapgp view FILE... [--port P] [--open]
       eapgp view --discover [--port P] [--open]

Serves a web viewer on http://127.0.0.1:P/ (default port ${DEFAULT_PORT}; --port 0 picks a free one) for:
  graph JSON files (from eapgp attribute, or EAP-IG's Graph.to_json),
  results.json of eapgp reproduce (or its directory), with the graphs it lists and their sweeps,
  path.json of eapgp path (the saturation view).
Only these files are served, to this machine only. --open starts the system's browser. Ctrl-C stops.
--discover serves the discovery site instead (npm run build:site): circuit discovery in the browser, the model,
task and method chosen in the page, cross-origin isolated so the engine runs threads.`;

/** Starts the system browser on `url`, best effort: a failure only prints a note. */
function openBrowser(url: string): void {
  const [cmd, args] =
    process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '""', url]] : ['xdg-open', [url]];
  try {
    const child = spawn(cmd, args, { detached: true, stdio: 'ignore' });
    child.on('error', () => console.error(`eapgp view: could not start a browser (${cmd}); open ${url} yourself`));
    child.unref();
  } catch {
    console.error(`eapgp view: could not start a browser; open ${url} yourself`);
  }
}

export async function view(argv: string[]): Promise<void> {
  const { values, positionals } = parse('view', argv, {
    port: { type: 'string' as const }, open: { type: 'boolean' as const }, discover: { type: 'boolean' as const },
  }, usage, { positionals: true });
  if (values.help) return void console.log(usage);
  const port = intOption(values.port, 'port', 0) ?? DEFAULT_PORT;
  if (port > 65535) throw new UserError(`--port must be at most 65535, got ${port}`);
  if (values.discover) {
    if (positionals.length > 0) throw new UserError('view --discover serves the discovery site and takes no files; drop them, or drop --discover to view them');
    const site = await startSite(port);
    console.log(`eapgp view: the discovery site at ${site.url}  (Ctrl-C to stop)`);
    if (values.open) openBrowser(site.url);
    return;
  }
  if (positionals.length === 0) throw new UserError(`view: give at least one file\n\n${usage}`);
  const server = await startViewer({ files: positionals, port });
  for (const e of server.catalog.entries) if (e.error !== undefined) console.error(`eapgp view: ${e.error}`);
  const n = server.catalog.entries.length;
  console.log(`eapgp view: ${n} file${n === 1 ? '' : 's'} at ${server.url}  (Ctrl-C to stop)`);
  if (values.open) openBrowser(server.url);
}
