/** Globals the library expects from Node, injected into the site's bundles (scripts/build-site.mjs). */
export { Buffer } from 'buffer';
export { process } from './process.js';
/** Node's setImmediate: a macrotask, so the worker's messages are handled between a run's steps. */
export const setImmediate = (f: () => void): ReturnType<typeof setTimeout> => setTimeout(f, 0);
