/** Node modules the page never reaches (parsing argv, the native addon, worker_threads): present so the bundle links. */
const no = (what: string) => (): never => {
  throw new Error(`${what} is not available in the page`);
};
export const parseArgs = no('parseArgs');
export const createRequire = no('require');
export const setFlagsFromString = (): void => {};
export const inspect = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));
export const format = (...a: unknown[]): string => a.map(inspect).join(' ');
export const promisify = no('promisify');
export const Worker = no('worker_threads');
export const parentPort = null;
export const workerData = null;
export const isMainThread = true;
export const spawn = no('child processes');
export const spawnSync = no('child processes');
export const execFileSync = no('child processes');
export const createInterface = no('readline');
export const createServer = no('servers');
export const pipeline = no('streams');
export const Readable = no('streams');
export const Writable = no('streams');
export const createGunzip = no('zlib');
export const gunzipSync = no('zlib');
export const gzipSync = no('zlib');
export default { parseArgs, createRequire, setFlagsFromString, inspect, format, promisify };
