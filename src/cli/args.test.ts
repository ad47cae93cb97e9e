import assert from "node:assert/strict";
import { test } from "node:test";
import { isOslessError, OslessError } from "../errors.ts";
import { parseSize, splitCommandLine } from "./args.ts";

test("parseSize: bytes, decimal and binary units, case-insensitive; junk refused as a usage error", () => {
  assert.equal(parseSize("512", "--x"), 512);
  assert.equal(parseSize("100MB", "--x"), 100e6);
  assert.equal(parseSize("2GiB", "--x"), 2 * 2 ** 30);
  assert.equal(parseSize("1.5g", "--x"), 1.5e9);
  assert.equal(parseSize("3 kib", "--x"), 3072);
  for (const bad of ["", "-1", "1.2.3", "10 parsecs", "GB"]) {
    assert.throws(
      () => parseSize(bad, "--max-layer-size"),
      (e) => isOslessError(e, "E_USAGE") && /--max-layer-size/.test(e.message),
    );
  }
});

test("splitCommandLine splits as a shell splits a simple command, without expanding anything", () => {
  assert.deepEqual(splitCommandLine("greet  world", "--probe"), ["greet", "world"]);
  assert.deepEqual(splitCommandLine(`greet 'big world' "a \\"b\\" $X" c\\ d ''`, "--probe"), [
    "greet",
    "big world",
    'a "b" $X',
    "c d",
    "",
  ]);
  for (const bad of ["", "   ", "a 'b", 'a "b', "a\\"]) {
    assert.throws(
      () => splitCommandLine(bad, "--probe"),
      (e) => e instanceof OslessError && e.code === "E_USAGE" && e.message.startsWith("--probe"),
      bad,
    );
  }
});
