#!/usr/bin/env node
// Bundles the CLI into one file, dist/osless.mjs, which bin/osless.js runs. Every command is a new process, and
// loading ~50 ES modules one by one costs ~35 ms of a ~300 ms pull on this class of machine; one file does not.
// The library itself (dist/**/*.js from tsc) stays unbundled for importers.
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;
// The container commands get a bundle of their own (dist/osless-run.mjs, about a third of the size), which
// bin/osless.js picks for them: `osless run` pays for compiling what it runs, not the whole CLI.
const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
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
  // commander is CommonJS and requires node: builtins; an ES module bundle needs a require for them.
  banner: {
    js: "import { createRequire as __oslessRequire } from 'node:module'; const require = __oslessRequire(import.meta.url);",
  },
};
await build({ ...common, entryPoints: [`${root}src/cli/main.ts`], outfile: `${root}dist/osless.mjs` });
await build({
  ...common,
  entryPoints: [`${root}src/cli/run-main.ts`],
  outfile: `${root}dist/osless-run.mjs`,
});
