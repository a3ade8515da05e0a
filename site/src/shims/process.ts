/** The `process` global for the discovery worker: no environment, and stderr lines go to the console. */
const stream = (log: (s: string) => void) => ({ isTTY: false, columns: 80, write: (s: string) => (log(String(s).replace(/\n$/, '')), true) });
export const process = {
  env: {} as Record<string, string | undefined>,
  argv: [] as string[],
  version: 'v20.0.0',
  versions: {} as Record<string, string>,
  platform: 'browser',
  pid: 1,
  exitCode: undefined as number | undefined,
  cwd: () => '/',
  stdout: stream((s) => console.log(s)),
  stderr: stream((s) => console.warn(s)),
  on: () => process,
  once: () => process,
  off: () => process,
  emitWarning: (w: string) => console.warn(w),
  hrtime: { bigint: () => BigInt(Math.round(performance.now() * 1e6)) },
  nextTick: (f: (...a: unknown[]) => void, ...a: unknown[]) => queueMicrotask(() => f(...a)),
  memoryUsage: () => ({ rss: 0, heapUsed: 0, heapTotal: 0, external: 0, arrayBuffers: 0 }),
};
