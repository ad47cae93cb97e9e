import assert from "node:assert/strict";
import { test } from "node:test";
import { createProgress } from "./progress.ts";

function stream(isTTY: boolean) {
  const writes: string[] = [];
  return {
    writes,
    isTTY,
    columns: 100,
    write(s: string) {
      writes.push(s);
      return true;
    },
  } as unknown as NodeJS.WritableStream & { isTTY: boolean; columns: number; writes: string[] };
}

const A = "abcdefabcdef";
const B = "012345012345";

function pullEvents(sink: ReturnType<typeof createProgress>["sink"]) {
  sink({ type: "start", id: "a", label: A, total: 2_000_000 });
  sink({ type: "start", id: "b", label: B, total: 500 });
  sink({ type: "progress", id: "a", done: 1_000_000 });
  sink({ type: "end", id: "b", skipped: true, detail: "Already exists" });
  sink({ type: "progress", id: "a", done: 2_000_000 });
  sink({ type: "end", id: "a", detail: "Pull complete" });
}

test("plain progress: one line per finished unit, docker's words, sizes of what was transferred", () => {
  const s = stream(false);
  const p = createProgress(s, true);
  pullEvents(p.sink);
  p.sink({ type: "note", level: "warn", text: "registry is slow" });
  p.stop();
  assert.deepEqual(s.writes, [
    `${B}: Already exists\n`,
    `${A}: Pull complete (2MB)\n`,
    "warning: registry is slow\n",
  ]);
});

test("TTY progress: one bar line per layer, redrawn in place, final states shown", async () => {
  const s = stream(true);
  const p = createProgress(s, true);
  p.sink({ type: "start", id: "a", label: A, total: 2_000_000 });
  p.sink({ type: "progress", id: "a", done: 1_000_000 });
  await new Promise((r) => setTimeout(r, 120));
  const mid = s.writes.join("");
  assert.match(mid, new RegExp(`${A} +\\[=+>? +\\] 1MB/2MB`), mid);
  pullEvents(p.sink);
  p.stop();
  const last = s.writes.at(-1) as string;
  assert.match(last, /^\x1b\[\d+A/, "the bars are redrawn in place (cursor up)");
  const lines = last.split("\n").filter(Boolean);
  assert.equal(lines.length, 2, "one line per unit");
  assert.match(lines[0] as string, new RegExp(`${A} +Pull complete`));
  assert.match(lines[1] as string, new RegExp(`${B} +Already exists`));
});

test("quiet: nothing is written", () => {
  const s = stream(true);
  const p = createProgress(s, false);
  pullEvents(p.sink);
  p.stop();
  assert.deepEqual(s.writes, []);
});
