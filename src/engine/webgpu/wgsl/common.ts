/**
 * The frame every shader of this folder shares: the Params uniform (one element offset per buffer, then the
 * dispatch's params), one read_write storage array per buffer, and `main` with the builtins the bodies use.
 * Work items are numbered `gi(gid, nwg)` across a 2-D grid of 256-wide workgroups (one dimension alone stops at 65,535 groups).
 */

export type WgslScalar = 'f32' | 'u32' | 'i32';

export function shaderSource(buffers: readonly WgslScalar[], params: readonly [string, WgslScalar][], body: string, opts: { workgroup?: string; decls?: string } = {}): string {
  const fields = [...buffers.map((_, i) => `o${i}: u32`), ...params.map(([n, t]) => `${n}: ${t}`)].join(', ');
  const bindings = buffers.map((t, i) => `@group(0) @binding(${i + 1}) var<storage, read_write> b${i}: array<${t}>;`).join('\n');
  return /* wgsl */ `struct Params { ${fields} }
@group(0) @binding(0) var<uniform> p: Params;
${bindings}
${opts.decls ?? ''}
fn gi(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 256u; }
@compute @workgroup_size(${opts.workgroup ?? '256'})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lix: u32, @builtin(workgroup_id) wid: vec3u) {
${body}
}
`;
}
