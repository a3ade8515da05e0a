/**
 * Long computations are synchronous kernel calls; between their steps they give the event loop a turn, so that
 * Ctrl-C (SIGINT) and progress output are handled while they run instead of after they finish.
 */
export function nextTick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
