#!/usr/bin/env node
// The osless command. Runs the bundled CLI (dist/osless.cjs, one file: faster to start; the container commands
// from dist/osless-run.cjs, a smaller bundle of just them), else the compiled modules (dist/cli/main.js), else,
// in a source checkout without a build, the TypeScript sources through tsx.
//
// A bundle is compiled with V8's code cache (Node 20 has no module compile cache): the first run of a build
// writes the cache to ~/.cache/osless (per user, never shared: cached code is code), later runs skip compiling
// the bundle (~25 ms of every command). V8 rejects a cache that does not match the source and this Node; a
// rejected or unreadable cache is rewritten.
// CommonJS (see bin/package.json): Node's ES module loader costs ~7 ms more to start this one file.
const {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} = require("node:fs");
const Module = require("node:module");
const { homedir } = require("node:os");
const { dirname, join } = require("node:path");
const { pathToFileURL } = require("node:url");

// Keep in step with CONTAINER_COMMANDS in src/cli/program.ts (a test checks it).
const CONTAINER_COMMANDS = new Set([
  "run",
  "exec",
  "ps",
  "logs",
  "stop",
  "kill",
  "rm",
  "export",
  "__monitor",
]);

/** The command word: the first argument that is not a global option (--root DIR, --root=DIR). */
function commandWord(argv) {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--root") i++;
    else if (!a.startsWith("-")) return a;
  }
  return undefined;
}

/** Where this bundle's code cache lives: keyed by the bundle's path, size and time, so a rebuild gets a new one. */
function cachePath(file) {
  const st = statSync(file);
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  const key = `${file}:${st.size}:${st.mtimeMs}:${process.version}`;
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (Math.imul(h, 31) + key.charCodeAt(i)) >>> 0;
  return join(base, "osless", "code-cache", `${file.split("/").pop()}-${h.toString(16)}`);
}

/** A cache file we may trust: ours, and not writable by anyone else. */
function readCache(path) {
  try {
    const st = statSync(path);
    if (st.uid !== process.getuid?.() || st.mode & 0o022) return undefined;
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

function writeCache(path, data) {
  try {
    // Level by level from an existing cache home (mkdir -p on some filesystems, /proc for one, never returns).
    const dir = dirname(path);
    const home = dirname(dirname(dir));
    if (!statSync(dirname(home)).isDirectory()) return;
    for (const d of [home, dirname(dir), dir]) {
      try {
        mkdirSync(d, { mode: 0o700 });
      } catch (e) {
        if (e.code !== "EEXIST") return;
      }
    }
    const tmp = `${path}.${process.pid}.tmp`;
    const fd = openSync(tmp, "wx", 0o600);
    writeSync(fd, data);
    closeSync(fd);
    renameSync(tmp, path);
    // The caches of earlier builds of this bundle are dead weight (each ~0.5 MB): remove them.
    const name = path.split("/").pop();
    const prefix = name.slice(0, name.lastIndexOf("-") + 1);
    for (const f of readdirSync(dir)) {
      if (f !== name && f.startsWith(prefix) && /^[0-9a-f]+$/.test(f.slice(prefix.length))) {
        rmSync(join(dir, f), { force: true });
      }
    }
  } catch {
    // No cache: the next run compiles again.
  }
}

function runBundle(file) {
  const vm = require("node:vm");
  // A leading #! line is not JavaScript once wrapped: make it a comment (same length, same lines).
  const text = readFileSync(file, "utf8");
  const source = text.startsWith("#!") ? `//${text.slice(2)}` : text;
  const cache = cachePath(file);
  const cachedData = readCache(cache);
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
  const mod = { exports: {}, filename: file, id: file, loaded: false };
  const fn = script.runInThisContext();
  if (cachedData === undefined || script.cachedDataRejected) {
    // At exit: the functions the command ran are compiled by then, and go into the cache too.
    process.once("exit", () => writeCache(cache, script.createCachedData()));
  }
  fn.call(mod.exports, mod.exports, Module.createRequire(file), mod, file, dirname(file));
}

const dist = join(__dirname, "..", "dist");
const run = join(dist, "osless-run.cjs");
const bundle = join(dist, "osless.cjs");
if (CONTAINER_COMMANDS.has(commandWord(process.argv.slice(2))) && existsSync(run)) {
  runBundle(run);
} else if (existsSync(bundle)) {
  runBundle(bundle);
} else if (existsSync(join(dist, "cli/main.js"))) {
  // The compiled ES modules (a build without the bundles). A failed import rejects: Node reports it, exit 1.
  import(pathToFileURL(join(dist, "cli/main.js")).href);
} else {
  // A source checkout with no build: the TypeScript sources through tsx.
  import("tsx/esm/api").then(({ register }) => {
    register();
    return import(pathToFileURL(join(__dirname, "..", "src/cli/main.ts")).href);
  });
}
