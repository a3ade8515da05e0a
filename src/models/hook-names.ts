/** The hook point names (TransformerLens'); what each holds is documented in ./hooks.ts. No imports: the viewer's graph code reads them too. */
export const hookNames = {
  embed: 'hook_embed',
  residPre: (l: number) => `blocks.${l}.hook_resid_pre`,
  qInput: (l: number) => `blocks.${l}.hook_q_input`,
  kInput: (l: number) => `blocks.${l}.hook_k_input`,
  vInput: (l: number) => `blocks.${l}.hook_v_input`,
  attnScores: (l: number) => `blocks.${l}.attn.hook_attn_scores`,
  pattern: (l: number) => `blocks.${l}.attn.hook_pattern`,
  result: (l: number) => `blocks.${l}.attn.hook_result`,
  mlpIn: (l: number) => `blocks.${l}.hook_mlp_in`,
  mlpPost: (l: number) => `blocks.${l}.mlp.hook_post`,
  mlpOut: (l: number) => `blocks.${l}.hook_mlp_out`,
  residFinal: 'hook_resid_final',
} as const;
