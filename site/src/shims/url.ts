/** node:url for the discovery worker: file URLs are vfs paths. */
export const fileURLToPath = (u: string | URL): string => decodeURIComponent(new URL(String(u)).pathname);
export const pathToFileURL = (p: string): URL => new URL(`file://${encodeURI(p)}`);
export default { fileURLToPath, pathToFileURL };
