#!/usr/bin/env node
// The osless command. Runs the bundled CLI (dist/osless.mjs, one file: faster to start), else the compiled
// modules (dist/cli/main.js), else, in a source checkout without a build, the TypeScript sources through tsx.
import { existsSync } from "node:fs";

const bundle = new URL("../dist/osless.mjs", import.meta.url);
const dist = new URL("../dist/cli/main.js", import.meta.url);
if (existsSync(bundle)) {
  await import(bundle.href);
} else if (existsSync(dist)) {
  await import(dist.href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import(new URL("../src/cli/main.ts", import.meta.url).href);
}
