#!/usr/bin/env node
/**
 * Builds the optional native BLAS addon (native/ → native/build/Release/eapgp_blas.node) with node-gyp.
 * Run by `npm install` (package.json "install"). It never fails the install: if the addon cannot be built it
 * prints ONE line to stderr saying that the WebAssembly GEMM will be used, and why, and exits 0.
 * It never touches the network: node-gyp gets local Node headers (--nodedir) or the build is skipped.
 *
 * Environment:
 *   EAPGP_NO_NATIVE=1        skip the build.
 *   EAPGP_BLAS_INCLUDE=dir   directory holding cblas.h (default: pkg-config openblas, then the usual places:
 *                            /usr/include/<multiarch>/openblas-pthread, /usr/include/openblas, Homebrew, ...).
 *                            Pointing it at a directory without cblas.h simulates "no OpenBLAS headers".
 *   EAPGP_BLAS_LIB=dir       directory holding libopenblas (added with an rpath).
 *   CC=path                  C compiler; a CC that does not exist simulates "no compiler" (so does a PATH without
 *                            cc/gcc/clang). Both are checked before native/build is touched.
 *   npm_config_node_gyp      node-gyp to run (npm sets it); else npm's bundled node-gyp next to this node.
 *   npm_config_nodedir       Node headers (else <node prefix>/include/node, else node-gyp's header cache).
 *
 * Other modes (used by native/binding.gyp):
 *   node scripts/build-native.mjs --include-dirs   prints the include directory for cblas.h
 *   node scripts/build-native.mjs --libs           prints the linker flags for OpenBLAS
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const nativeDir = path.join(root, "native");
const isMac = process.platform === "darwin";

function fallback(why) {
  process.stderr.write(`eap-gp: native BLAS addon not built (${why}); the WebAssembly GEMM will be used.\n`);
  process.exit(0);
}

function run(cmd, args, opts = {}) {
  try {
    const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 5000, ...opts });
    return r.error ? null : r;
  } catch {
    return null;
  }
}

function pkgConfig(flag) {
  const r = run("pkg-config", [flag, "openblas"], { timeout: 2000 });
  return r && r.status === 0 ? r.stdout.trim().split(/\s+/).filter(Boolean) : null;
}

function multiarchDirs(base) {
  try {
    return readdirSync(base)
      .filter((d) => /-linux-gnu|-linux-musl/.test(d))
      .map((d) => path.join(base, d));
  } catch {
    return [];
  }
}

/** The directory holding cblas.h, preferring OpenBLAS's own (it declares openblas_get_config etc.). */
function findInclude() {
  if (process.env.EAPGP_BLAS_INCLUDE) {
    const d = path.resolve(process.env.EAPGP_BLAS_INCLUDE);
    return existsSync(path.join(d, "cblas.h")) ? { dir: d } : { error: `no cblas.h in EAPGP_BLAS_INCLUDE=${d}` };
  }
  const candidates = [];
  for (const f of pkgConfig("--cflags-only-I") ?? []) if (f.startsWith("-I")) candidates.push(f.slice(2));
  for (const m of multiarchDirs("/usr/include"))
    candidates.push(`${m}/openblas-pthread`, `${m}/openblas-openmp`, `${m}/openblas-serial`, m);
  candidates.push(
    "/usr/include/openblas",
    "/usr/local/include/openblas",
    "/opt/homebrew/opt/openblas/include",
    "/usr/local/opt/openblas/include",
    "/opt/OpenBLAS/include",
    "/usr/local/include",
    "/usr/include",
  );
  const withHeader = candidates.filter((d) => d && existsSync(path.join(d, "cblas.h")));
  const dir = withHeader.find((d) => existsSync(path.join(d, "openblas_config.h"))) ?? withHeader[0];
  return dir
    ? { dir: path.resolve(dir) }
    : { error: "OpenBLAS headers (cblas.h) not found; install libopenblas-dev or set EAPGP_BLAS_INCLUDE" };
}

/** Linker flags for libopenblas. */
function findLibs() {
  const libNames = isMac ? ["libopenblas.dylib"] : ["libopenblas.so", "libopenblas.so.0"];
  const has = (d) => libNames.some((n) => existsSync(path.join(d, n)));
  const rpath = (d) => (isMac ? [`-L${d}`, `-Wl,-rpath,${d}`] : [`-L${d}`, `-Wl,-rpath,${d}`]);
  if (process.env.EAPGP_BLAS_LIB) {
    const d = path.resolve(process.env.EAPGP_BLAS_LIB);
    return has(d) ? { flags: [...rpath(d), "-lopenblas"] } : { error: `no libopenblas in EAPGP_BLAS_LIB=${d}` };
  }
  const pc = pkgConfig("--libs-only-L");
  if (pc) {
    const dirs = pc.filter((f) => f.startsWith("-L")).map((f) => f.slice(2));
    if (dirs.length === 0 || dirs.some(has)) {
      // system locations resolve through the loader's cache; others need an rpath
      const flags = dirs.flatMap((d) => (/^\/(usr\/)?lib/.test(d) ? [`-L${d}`] : rpath(d)));
      return { flags: [...flags, "-lopenblas"] };
    }
  }
  const system = [...multiarchDirs("/usr/lib"), ...multiarchDirs("/lib"), "/usr/lib64", "/usr/lib", "/lib64", "/lib"];
  if (system.some(has)) return { flags: ["-lopenblas"] };
  for (const m of multiarchDirs("/usr/lib")) {
    const d = `${m}/openblas-pthread`;
    if (has(d)) return { flags: [`-L${d}`, "-lopenblas"] };
  }
  for (const d of ["/opt/homebrew/opt/openblas/lib", "/usr/local/opt/openblas/lib", "/usr/local/lib", "/opt/OpenBLAS/lib"])
    if (has(d)) return { flags: [...rpath(d), "-lopenblas"] };
  return { error: "libopenblas not found; install libopenblas-dev or set EAPGP_BLAS_LIB" };
}

function which(name) {
  if (path.isAbsolute(name)) return existsSync(name) ? name : null;
  for (const d of (process.env.PATH ?? "").split(path.delimiter)) {
    if (d && existsSync(path.join(d, name))) return path.join(d, name);
  }
  return null;
}

function findNodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return fromNpm;
  const bin = path.dirname(process.execPath);
  const candidates = [
    path.join(bin, "..", "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
    path.join(bin, "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
    path.join(root, "node_modules", "node-gyp", "bin", "node-gyp.js"),
  ];
  // npm installed elsewhere (e.g. another prefix): follow the npm on PATH to its package
  const npmCli = which("npm");
  if (npmCli) {
    try {
      const npmRoot = path.resolve(path.dirname(realpathSync(npmCli)), "..");
      candidates.push(path.join(npmRoot, "node_modules", "node-gyp", "bin", "node-gyp.js"));
    } catch {}
  }
  return candidates.find((c) => existsSync(c)) ?? null;
}

/** Local Node headers matching this node, so node-gyp never downloads. Returns the --nodedir or "" (env set). */
function findNodeDir() {
  const version = process.versions.node;
  const matches = (dir) => {
    try {
      const h = readFileSync(path.join(dir, "include", "node", "node_version.h"), "utf8");
      const v = ["MAJOR", "MINOR", "PATCH"].map((k) => h.match(new RegExp(`#define NODE_${k}_VERSION (\\d+)`))?.[1]);
      return v.join(".") === version && existsSync(path.join(dir, "include", "node", "node_api.h"));
    } catch {
      return false;
    }
  };
  const env = process.env.npm_config_nodedir;
  if (env && existsSync(path.join(env, "include", "node", "node_api.h"))) return { dir: env };
  const prefix = path.resolve(path.dirname(process.execPath), "..");
  if (matches(prefix)) return { dir: prefix };
  const cache = process.env.npm_config_devdir
    ? path.join(process.env.npm_config_devdir, version)
    : isMac
      ? path.join(os.homedir(), "Library", "Caches", "node-gyp", version)
      : path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "node-gyp", version);
  if (matches(cache)) return { dir: cache };
  return { error: `Node ${version} headers not found locally (set npm_config_nodedir)` };
}

// ---- modes used by binding.gyp ------------------------------------------------------------------------------

const mode = process.argv[2];
if (mode === "--include-dirs") {
  const inc = findInclude();
  process.stdout.write(inc.dir ?? "");
  process.exit(0);
}
if (mode === "--libs") {
  const libs = findLibs();
  process.stdout.write((libs.flags ?? ["-lopenblas"]).join(" "));
  process.exit(0);
}

// ---- build --------------------------------------------------------------------------------------------------

if (process.env.EAPGP_NO_NATIVE === "1") fallback("EAPGP_NO_NATIVE=1");

const inc = findInclude();
if (inc.error) fallback(inc.error);
const libs = findLibs();
if (libs.error) fallback(libs.error);

const cc = process.env.CC ? process.env.CC.trim().split(/\s+/)[0] : null;
if (cc) {
  if (!which(cc)) fallback(`C compiler CC=${process.env.CC} not found`);
} else if (!["cc", "gcc", "clang"].some(which)) {
  fallback("no C compiler (cc, gcc or clang) on PATH");
}
if (!isMac && process.platform !== "win32" && !which("make")) fallback("make not found on PATH");
if (!process.env.PYTHON && !which("python3") && !which("python")) fallback("python3 (needed by node-gyp) not found");

const nodeGyp = findNodeGyp();
if (!nodeGyp) fallback("node-gyp not found (it ships with npm)");
const nodeDir = findNodeDir();
if (nodeDir.error) fallback(nodeDir.error);

const jobs = Math.max(1, Math.min(4, os.availableParallelism?.() ?? os.cpus().length));
const env = {
  ...process.env,
  // binding.gyp runs `node ../scripts/build-native.mjs`: make sure that is this node
  PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ""}`,
};
const t0 = Date.now();
const r = spawnSync(
  process.execPath,
  [nodeGyp, "rebuild", "--release", `--nodedir=${nodeDir.dir}`, `--jobs=${jobs}`, "--loglevel=error"],
  { cwd: nativeDir, env, encoding: "utf8", timeout: 300_000 },
);
if (r.error || r.status !== 0) {
  const out = `${r.stdout ?? ""}\n${r.stderr ?? ""}`;
  const line =
    out.split("\n").find((l) => /\berror\b/i.test(l) && !/^gyp ERR! (stack|System|command|cwd|node|not ok)/.test(l)) ??
    (r.error ? String(r.error.message) : `node-gyp exited with ${r.status}`);
  fallback(`build failed: ${line.trim().slice(0, 200)}`);
}

// the addon must also load (a missing shared library only shows up here)
const addon = path.join(nativeDir, "build", "Release", "eapgp_blas.node");
const check = spawnSync(
  process.execPath,
  ["-e", `const a=require(${JSON.stringify(addon)});process.stdout.write(String(a.info().config))`],
  { encoding: "utf8", timeout: 20_000 },
);
if (check.status !== 0) {
  const line = (check.stderr ?? "").split("\n").find((l) => /Error/.test(l)) ?? `exit ${check.status}`;
  fallback(`built but does not load: ${line.trim().slice(0, 200)}`);
}
process.stderr.write(
  `eap-gp: native BLAS addon built in ${((Date.now() - t0) / 1000).toFixed(1)} s (${check.stdout.trim()}).\n`,
);
