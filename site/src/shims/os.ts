/** node:os for the discovery worker. */
export const availableParallelism = (): number => navigator.hardwareConcurrency || 1;
export const cpus = (): { model: string }[] => Array.from({ length: availableParallelism() }, () => ({ model: navigator.userAgent }));
export const endianness = (): 'LE' => 'LE';
export const tmpdir = (): string => '/tmp';
export const homedir = (): string => '/home';
export const hostname = (): string => 'browser';
export const platform = (): string => 'browser';
export const arch = (): string => 'wasm32';
export const totalmem = (): number => 0;
export const freemem = (): number => 0;
export const EOL = '\n';
export default { availableParallelism, cpus, endianness, tmpdir, homedir, hostname, platform, arch, totalmem, freemem, EOL };
