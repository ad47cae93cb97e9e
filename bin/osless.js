#!/usr/bin/env node
// The osless command. Runs the bundled CLI (dist/osless.mjs, one file: faster to start; the container commands
// from dist/osless-run.mjs, a smaller bundle of just them), else the compiled modules (dist/cli/main.js), else,
// in a source checkout without a build, the TypeScript sources through tsx.
import { existsSync } from "node:fs";

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

const run = new URL("../dist/osless-run.mjs", import.meta.url);
const bundle = new URL("../dist/osless.mjs", import.meta.url);
const dist = new URL("../dist/cli/main.js", import.meta.url);
if (CONTAINER_COMMANDS.has(commandWord(process.argv.slice(2))) && existsSync(run)) {
  await import(run.href);
} else if (existsSync(bundle)) {
  await import(bundle.href);
} else if (existsSync(dist)) {
  await import(dist.href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import(new URL("../src/cli/main.ts", import.meta.url).href);
}
