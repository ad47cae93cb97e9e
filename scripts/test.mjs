#!/usr/bin/env node
// Runs every test file (src/**/*.test.ts, test/**/*.test.ts) with node's test runner and tsx.
// Arguments filter the files by substring: `npm test -- tar reference`.
// The last line of output is the plain summary "N passed, N failed[, N skipped]".
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const filters = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const passThrough = process.argv.slice(2).filter((a) => a.startsWith("-"));

function walk(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === "node_modules" || e.name.startsWith(".")) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.name.endsWith(".test.ts")) out.push(relative(root, p));
  }
  return out;
}

const files = [...walk(join(root, "src")), ...walk(join(root, "test"))]
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(" ")}`);
  console.log("0 passed, 1 failed");
  process.exit(1);
}

const child = spawn(
  process.execPath,
  [
    "--import",
    "tsx",
    "--test",
    `--test-concurrency=${process.env.OSLESS_TEST_CONCURRENCY ?? "2"}`,
    "--test-reporter=./scripts/test-reporter.mjs",
    "--test-reporter-destination=stdout",
    ...passThrough,
    ...files,
  ],
  { cwd: root, stdio: "inherit" },
);
child.on("exit", (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
