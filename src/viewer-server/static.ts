/**
 * The viewer's own files, as a fixed table from URL to file built at start-up: the page and its stylesheet
 * from the package's viewer/ folder and the compiled scripts from dist/viewer-app/ (npm run build). Requests
 * are looked up in the table as they come, never joined onto a directory, so no URL can reach another file.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../util/errors.js';

export interface Asset {
  file: string;
  type: string;
}

/** The package root (this file is dist/src/viewer-server/static.js there). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.js')) out.push(p);
  }
  return out;
}

/** URL path → file. Throws a UserError when the viewer has not been built. */
export function staticAssets(root = PACKAGE_ROOT): Map<string, Asset> {
  const viewer = join(root, 'viewer');
  const app = join(root, 'dist', 'viewer-app');
  if (!existsSync(join(app, 'viewer', 'src', 'main.js'))) {
    throw new UserError(`the viewer app is not built (${join(app, 'viewer', 'src', 'main.js')} is missing): run npm run build in ${root}`);
  }
  const assets = new Map<string, Asset>();
  for (const [url, name] of [['/', 'index.html'], ['/style.css', 'style.css'], ['/favicon.svg', 'favicon.svg']] as const) {
    assets.set(url, { file: join(viewer, name), type: TYPES[name.slice(name.lastIndexOf('.'))]! });
  }
  for (const file of walk(app)) assets.set('/app/' + relative(app, file).split(sep).join('/'), { file, type: TYPES['.js']! });
  return assets;
}
