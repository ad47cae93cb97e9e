import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { isOslessError } from "../../errors.ts";
import { fakeModel } from "../testkit.ts";
import { runTui } from "./terminal.ts";

test("runTui refuses input or output that is not a terminal, pointing at --json and --ci", async () => {
  const model = fakeModel([{ files: { a: "x" } }]);
  const pipe = () => new PassThrough() as unknown as NodeJS.ReadStream & NodeJS.WriteStream;
  const fakeTty = () => Object.assign(pipe(), { isTTY: true, setRawMode: () => {} });
  for (const [input, output, which] of [
    [pipe(), pipe(), "standard input"],
    [fakeTty(), pipe(), "standard output"],
  ] as const) {
    await assert.rejects(runTui(model, { input, output }), (e: unknown) => {
      assert.ok(isOslessError(e, "E_USAGE"), String(e));
      assert.match(e.message, new RegExp(`needs a terminal, and its ${which} is not one`));
      assert.match(e.hint ?? "", /--json/);
      assert.match(e.hint ?? "", /--ci/);
      return true;
    });
  }
});
