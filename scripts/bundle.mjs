#!/usr/bin/env node
// Bundles the CLI into one file, dist/osless.cjs, which bin/osless.js runs. Every command is a new process, and
// loading ~50 ES modules one by one costs ~35 ms of a ~300 ms pull on this class of machine; one file does not.
// The container commands get a bundle of their own (dist/osless-run.cjs, about half the size), which
// bin/osless.js picks for them: `osless run` pays for compiling what it runs, not the whole CLI.
// CommonJS, not ES modules: bin/osless.js compiles a CommonJS bundle through vm.Script with V8's code cache
// (Node 20 has no module compile cache), which saves the ~25 ms of compiling the bundle on every command.
// The library itself (dist/**/*.js from tsc) stays unbundled ES modules for importers.
import { rm } from "node:fs/promises";
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;

// node:child_process (with node:net and friends) costs ~6 ms to load, and commander loads it at start for a
// feature osless does not use (executable subcommands). Every import of it in the bundle gets these stand-ins,
// which load the real module on their first call; the functions are all osless and commander call.
const CHILD_PROCESS_FUNCTIONS = [
  "spawn",
  "spawnSync",
  "execFile",
  "execFileSync",
  "exec",
  "execSync",
  "fork",
];
const lazyChildProcess = {
  name: "lazy-child-process",
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      args.namespace === "lazy" ? undefined : { path: "child_process", namespace: "lazy" },
    );
    b.onLoad({ filter: /.*/, namespace: "lazy" }, () => ({
      loader: "js",
      contents: CHILD_PROCESS_FUNCTIONS.map(
        (f) => `exports.${f} = (...a) => require("node:child_process").${f}(...a);`,
      ).join("\n"),
    }));
  },
};

const common = {
  // Whitespace and syntax only: names stay, so stack traces still read (and the source map maps them).
  minifyWhitespace: true,
  minifySyntax: true,
  plugins: [lazyChildProcess],
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  sourcemap: true,
  logLevel: "warning",
  // The optional native addon is loaded if installed; xz-decompress and sql.js find their WASM files next to
  // themselves.
  // The CycloneDX library's optional XML plugin needs a package we do not install: keep it (and packageurl-js,
  // which it loads) out of the bundle; both are loaded only for --format cyclonedx.
  // yaml (a quarter of the bundle) is only for `explore --ci` rules files: src/explorer/ci.ts requires it then.
  external: [
    "@napi-rs/xattr",
    "xz-decompress",
    "sql.js",
    "@cyclonedx/cyclonedx-library",
    "packageurl-js",
    "yaml",
  ],
  // A vm.Script (see bin/osless.js) has no loader for import(): dynamic imports of packages and node: builtins
  // become require() (every package osless loads that way is CommonJS).
  supported: { "dynamic-import": false },
  // The sources use import.meta.url (createRequire for optional packages): the bundle's own file URL.
  define: { "import.meta.url": "__oslessImportMetaUrl" },
  banner: { js: 'const __oslessImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
};
await build({ ...common, entryPoints: [`${root}src/cli/main.ts`], outfile: `${root}dist/osless.cjs` });
await build({
  ...common,
  entryPoints: [`${root}src/cli/run-main.ts`],
  outfile: `${root}dist/osless-run.cjs`,
});
// The ES module bundles of earlier builds.
for (const old of ["osless.mjs", "osless.mjs.map", "osless-run.mjs", "osless-run.mjs.map"]) {
  await rm(`${root}dist/${old}`, { force: true });
}
