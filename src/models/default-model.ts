/**
 * The built-in default model: a small GPT-2 trained by the project on its six tasks (README "Training"),
 * shipped in the package at models/default and used wherever `--model` is not given. Its path is resolved
 * from this module's own location (dist/src/models/ → the package root), so it works from any working
 * directory and in an installed package.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../util/errors.js';

/** Absolute path of the package's models/default directory. */
export function defaultModelDir(): string {
  return fileURLToPath(new URL('../../../models/default/', import.meta.url));
}

/** The model directory or hub name to load: `spec` when given, else the default model (UserError if it is missing). */
export function modelSpecOrDefault(spec: string | undefined): string {
  if (spec !== undefined && spec !== '') return spec;
  const dir = defaultModelDir();
  if (!existsSync(join(dir, 'config.json')) || !existsSync(join(dir, 'model.safetensors'))) {
    throw new UserError(`the built-in default model is missing from ${dir} (config.json and model.safetensors); reinstall the package, or pass --model`);
  }
  return dir;
}
