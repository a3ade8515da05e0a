// Makes the package's `bin` files executable after tsc writes them (tsc writes 0644), so `npx eapgp` works in a
// fresh clone, where npm does not link the root package's own bin.
import { chmodSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { bin } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
for (const file of Object.values(typeof bin === 'string' ? { bin } : bin)) chmodSync(join(root, file), 0o755);
