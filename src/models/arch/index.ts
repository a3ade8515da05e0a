/**
 * The model families: which file describes the block of a config.json (GPT-2 keeps its own fused
 * implementation in ../gpt2.ts; every other family runs ../transformer.ts from its FamilyBlock).
 */
import { UserError } from '../../util/errors.js';
import type { FamilyBlock } from './block.js';
import { gemma2 } from './gemma2.js';
import { llama, mistral } from './llama.js';
import { neox } from './neox.js';
import { qwen2 } from './qwen2.js';
import { ConfigReader, type ArchSpec } from './spec.js';

export const FAMILIES: readonly FamilyBlock[] = [neox, llama, mistral, qwen2, gemma2];

/** Every supported `architectures` value, GPT-2's included (for messages and the README). */
export const SUPPORTED_ARCHITECTURES = ['GPT2LMHeadModel', ...FAMILIES.flatMap((f) => f.architectures)];

/** True when the config describes a GPT-2 (run by ../gpt2.ts). */
export function isGpt2Config(raw: Record<string, unknown>): boolean {
  const archs = Array.isArray(raw.architectures) ? raw.architectures.map(String) : [];
  return raw.model_type === 'gpt2' || (raw.model_type === undefined && archs.some((a) => a.startsWith('GPT2')));
}

/** The family block of a non-GPT-2 config, or a UserError naming what is unsupported. */
export function familyOf(raw: Record<string, unknown>, source: string): { block: FamilyBlock; architecture: string } {
  const archs = Array.isArray(raw.architectures) ? raw.architectures.map(String) : [];
  for (const a of archs) {
    const block = FAMILIES.find((f) => f.architectures.includes(a));
    if (block) return { block, architecture: a };
  }
  const byType = FAMILIES.find((f) => f.modelTypes.includes(String(raw.model_type)));
  if (byType && archs.length === 0) return { block: byType, architecture: byType.architectures[0]! };
  const what = archs.length ? `architectures ${JSON.stringify(archs)}` : `model_type ${JSON.stringify(raw.model_type)}`;
  throw new UserError(`${source}: unsupported model (${what}); supported architectures: ${SUPPORTED_ARCHITECTURES.join(', ')}`);
}

/** Parse a non-GPT-2 config into the forward pass's description. */
export function parseArchConfig(raw: Record<string, unknown>, source: string): { block: FamilyBlock; spec: ArchSpec } {
  const { block, architecture } = familyOf(raw, source);
  return { block, spec: block.parse(new ConfigReader(raw, source), architecture) };
}

export type { ArchSpec, FamilyName } from './spec.js';
export type { FamilyBlock } from './block.js';
