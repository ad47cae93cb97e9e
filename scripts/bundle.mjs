#!/usr/bin/env node
// Bundles the CLI into dist/bundle/main.js (plus chunks for what commands load lazily), which bin/osless.js runs.
// Every command is a new process, and loading ~50 ES modules one by one costs ~35 ms of a ~300 ms pull on this
// class of machine; a bundle does not.
// The library itself (dist/**/*.js from tsc) stays unbundled for importers.
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;
await build({
  entryPoints: { main: `${root}src/cli/main.ts` },
  // Code splitting: what a command imports lazily (the explorer's UI and page, the CI rules' YAML parser, the
  // registry client, ...) goes into chunks loaded when that command runs, so that every command does not pay
  // to parse all of them (the single file had grown to 1.1 MB and ~42 ms of start-up).
  outdir: `${root}dist/bundle`,
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
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
  external: ["@napi-rs/xattr", "xz-decompress", "sql.js", "@cyclonedx/cyclonedx-library", "packageurl-js"],
  // commander is CommonJS and requires node: builtins; an ES module bundle needs a require for them.
  banner: {
    js: "import { createRequire as __oslessRequire } from 'node:module'; const require = __oslessRequire(import.meta.url);",
  },
});
