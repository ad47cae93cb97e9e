// What a key press costs on a 200,000-file image: counted in tree nodes the view examines (rows stepped over,
// children listed, visibility tested), never in wall time. A screenful is ~50 rows; with filters or a size sort,
// the children of each directory shown are listed once too (100 per directory here). Every key below must stay
// within a few screenfuls of that (2,000 nodes, 1% of the tree), whatever the size of the tree.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { bigModel, type FakeModel } from "../testkit.ts";
import { ExplorerView } from "./view.ts";

let model: FakeModel;
let files = 0;

before(() => {
  model = bigModel(200_000);
  files = model.tree(0, "layer").size;
});

const HEIGHT = 50;
/** Bound per key: a few screenfuls of rows at the tree's depth, and the children lists of the directories shown. */
const BOUND = 40 * HEIGHT;

function cost(v: ExplorerView, ...keys: string[]): number {
  const before = v.work;
  for (const k of keys) v.key(k);
  v.render();
  return v.work - before;
}

/** The cost of each movement key, in this order (the cursor ends where "home" leaves it). */
function movementCosts(v: ExplorerView): Record<string, number> {
  return {
    down: cost(v, "down"),
    "10 downs": cost(v, ..."j".repeat(10)),
    pgdn: cost(v, "pgdn"),
    "5 pgdn": cost(v, "pgdn", "pgdn", "pgdn", "pgdn", "pgdn"),
    pgup: cost(v, "pgup"),
    end: cost(v, "end"),
    up: cost(v, "up"),
    home: cost(v, "home"),
  };
}

test("the model is big: 200k files in the base layer", () => {
  assert.ok(files > 200_000, `only ${files} nodes`);
});

test("moving, paging, jumping to the end, folding and unfolding cost a bounded number of rows", () => {
  const v = new ExplorerView(model, { width: 160, height: HEIGHT });
  const first = cost(v);
  assert.ok(first <= BOUND, `first screen examined ${first} nodes`);
  v.key("tab");
  const costs: Record<string, number> = { ...movementCosts(v), "down into usr": cost(v, "down") };
  assert.equal(v.selected?.path, "usr/share");
  costs["space (fold usr/share: 200 dirs)"] = cost(v, "space");
  costs["space (unfold)"] = cost(v, "space");
  costs["ctrl+space (fold all)"] = cost(v, "ctrl+space");
  costs["ctrl+space (unfold all)"] = cost(v, "ctrl+space");
  costs["left (parent)"] = cost(v, "pgdn", "pgdn", "left");
  for (const [k, c] of Object.entries(costs))
    assert.ok(c <= BOUND, `${k} examined ${c} nodes (bound ${BOUND})`);
  // And the screen is right: the last row of the image after "end".
  v.key("end");
  assert.equal(v.selected?.path, "usr/share/d199/s9/f99");
  assert.match(v.render().find((l) => l.includes("▸"))!, /└── f99/);
});

test("changing layer and compare mode costs a bounded number of rows (the model's trees are its own cost)", () => {
  const v = new ExplorerView(model, { width: 160, height: HEIGHT });
  v.key("tab");
  for (let i = 0; i < 30; i++) v.key("down");
  const path = v.selected!.path;
  v.key("tab");
  const costs: Record<string, number> = {
    "layer 1": cost(v, "down"),
    "layer 2": cost(v, "down"),
    aggregated: cost(v, "ctrl+a"),
    "back to layer 0": cost(v, "up", "up", "ctrl+l"),
  };
  for (const [k, c] of Object.entries(costs))
    assert.ok(c <= BOUND, `${k} examined ${c} nodes (bound ${BOUND})`);
  assert.equal(v.selected!.path, path, "the cursor kept its path across layers");
  // Keys that arrive together cost one tree: a held arrow does not build every layer's tree.
  const builds = model.treeBuilds;
  const w = new ExplorerView(bigModel(2000), { width: 160, height: HEIGHT });
  const m2 = w.model as FakeModel;
  const b0 = m2.treeBuilds;
  w.key("down");
  w.key("down");
  w.key("up");
  w.key("down");
  w.render();
  assert.equal(m2.treeBuilds - b0, 1, "one tree for four keys");
  assert.ok(model.treeBuilds >= builds);
});

test("sorting by size sorts only the directories shown", () => {
  const v = new ExplorerView(model, { width: 160, height: HEIGHT });
  v.key("tab");
  const c = cost(v, "ctrl+o");
  // usr/share has 200 children, each d### 10, each s# 100: the first screen shows a few of them.
  assert.ok(c <= BOUND, `ctrl+o examined ${c} nodes`);
  const sizes = v
    .render()
    .map((l) => l.trimEnd())
    .map((l) => /\s(\d+(?:\.\d)?) (B|kB)\s+(?:[│ ] {3})*[├└]── f\d\d$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]) * (m[2] === "kB" ? 1000 : 1));
  assert.ok(sizes.length > 10, "sizes are read");
  for (let i = 1; i < sizes.length; i++)
    assert.ok(sizes[i - 1]! >= sizes[i]!, `not largest first: ${sizes.join(" ")}`);
});

test("a path filter looks at the tree once, then moving is bounded again", () => {
  const v = new ExplorerView(model, { width: 160, height: HEIGHT });
  v.key("ctrl+f");
  const typed = cost(v, ..."d123/s4/f5");
  assert.ok(typed > 0, "the filter examined nodes");
  const lines = v.render();
  assert.ok(
    lines.some((l) => /└── f59$/.test(l.trimEnd())),
    lines.join("\n"),
  );
  v.key("enter");
  const move = cost(v, "down", "down", "pgdn", "end", "home");
  assert.ok(move <= BOUND, `moving in the filtered tree examined ${move} nodes`);
  const shown = v.render().filter((l) => /[├└]── f5\d$/.test(l.trimEnd())).length;
  assert.equal(shown, 10, "f50..f59 of d123/s4");
});

test("hiding unmodified files, then changing layers with them hidden, costs a bounded number of rows", () => {
  const v = new ExplorerView(model, { width: 160, height: HEIGHT });
  v.key("tab");
  const costs: Record<string, number> = { "ctrl+u": cost(v, "ctrl+u") };
  let lines = v.render();
  assert.ok(
    lines.some((l) => /nothing matches the filters/.test(l)),
    "layer 0 marks nothing: all hidden",
  );
  v.key("tab");
  costs["layer 1"] = cost(v, "down");
  lines = v.render();
  assert.ok(
    lines.some((l) => /^.{60,}[AM] -rw-r--r--/.test(l)),
    lines.join("\n"),
  );
  costs["layer 2"] = cost(v, "down");
  lines = v.render();
  assert.ok(
    lines.some((l) => / D d.*└── d001\s*$/.test(l) || / D d.*── d001\s*$/.test(l)),
    lines.join("\n"),
  );
  assert.ok(!lines.some((l) => /── d000\s*$/.test(l)), "unchanged directories are hidden");
  costs.aggregated = cost(v, "ctrl+a");
  for (const [k, c] of Object.entries(costs))
    assert.ok(c <= BOUND, `${k} examined ${c} nodes (bound ${BOUND})`);
});

test("with long rows wrapped (ctrl+p), moving and paging still look at a bounded number of rows", () => {
  const v = new ExplorerView(model, { width: 160, height: HEIGHT });
  v.key("tab");
  const costs: Record<string, number> = { "ctrl+p": cost(v, "ctrl+p"), ...movementCosts(v) };
  assert.equal(v.wrap, true);
  for (const [k, c] of Object.entries(costs))
    assert.ok(c <= BOUND, `${k} examined ${c} nodes (bound ${BOUND})`);
});
