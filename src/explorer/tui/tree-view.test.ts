import assert from "node:assert/strict";
import { test } from "node:test";
import { prng } from "../../tar/testkit.ts";
import { type FakeFile, type FakeLayer, fakeModel } from "../testkit.ts";
import type { FileNode, Marker } from "../types.ts";
import { nodeAt, type Pos, type SortOrder, TreeView } from "./tree-view.ts";

/** Rows as a plain depth-first walk gives them: the reference the lazy row walk must agree with. */
function reference(
  root: FileNode,
  o: { sort: SortOrder; hidden: Set<Marker>; filter: RegExp | null; folded: Set<string> },
): string[] {
  const visible = (n: FileNode): boolean =>
    (!o.hidden.has(n.marker) && (o.filter === null || o.filter.test(`/${n.path}`))) ||
    (n.children ?? []).some(visible);
  const out: string[] = [];
  const walk = (dir: FileNode, depth: number) => {
    let kids = (dir.children ?? []).filter(visible);
    if (o.sort === "size") kids = kids.slice().sort((a, b) => b.size - a.size || (a.name < b.name ? -1 : 1));
    for (const k of kids) {
      out.push(`${depth} ${k.path}`);
      if (k.children && !o.folded.has(k.path)) walk(k, depth + 1);
    }
  };
  walk(root, 0);
  return out;
}

function randomLayers(rand: () => number): FakeLayer[] {
  const names = ["a", "b", "c", "dd", "e.txt", "f", "gg"];
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  const layers: FakeLayer[] = [];
  const known: string[] = [];
  for (let l = 0; l < 4; l++) {
    const files: Record<string, FakeFile | null> = {};
    for (let i = 0; i < 25; i++) {
      const r = rand();
      if (r < 0.15 && known.length) files[pick(known)] = null;
      else if (r < 0.3 && known.length) files[pick(known)] = { size: Math.floor(rand() * 1000), mode: 0o600 };
      else {
        const depth = 1 + Math.floor(rand() * 4);
        const p = Array.from({ length: depth }, () => pick(names)).join("/");
        // A path under an existing file would need that file replaced by a directory: keep it simple.
        if (known.some((k) => p.startsWith(`${k}/`) || k.startsWith(`${p}/`))) continue;
        files[p] = { size: Math.floor(rand() * 1000) };
        known.push(p);
      }
    }
    layers.push({ files });
  }
  return layers;
}

function walkAll(tv: TreeView): { rows: string[]; last: Pos | null } {
  const rows: string[] = [];
  let pos = tv.first();
  let last: Pos | null = null;
  while (pos) {
    rows.push(`${pos.length - 1} ${nodeAt(pos).path}`);
    last = pos;
    pos = tv.next(pos);
  }
  return { rows, last };
}

test("the lazy row walk (next, prev, last, find) agrees with a full depth-first walk, on random trees and options", () => {
  const rand = prng(20240601);
  for (let round = 0; round < 60; round++) {
    const model = fakeModel(randomLayers(rand));
    const layer = Math.floor(rand() * model.layers.length);
    const mode = rand() < 0.5 ? "layer" : "aggregated";
    const tree = model.tree(layer, mode);
    const hidden = new Set<Marker>(
      (["added", "modified", "removed", "unmodified"] as Marker[]).filter(() => rand() < 0.25),
    );
    const filter = rand() < 0.3 ? new RegExp(["a", "/b", "e\\.txt$", "^/c"][Math.floor(rand() * 4)]!) : null;
    const sort: SortOrder = rand() < 0.5 ? "name" : "size";
    const folded = new Set<string>();
    for (const p of ["a", "b", "c", "a/b", "b/a", "dd", "dd/dd"]) if (rand() < 0.2) folded.add(p);
    const tv = new TreeView(tree, { sort, hidden, filter, isCollapsed: (p) => folded.has(p) });
    const want = reference(tree.root, { sort, hidden, filter, folded });
    const { rows, last } = walkAll(tv);
    const what = `round ${round}: layer ${layer} ${mode} sort ${sort} hidden ${[...hidden]} filter ${filter} folded ${[...folded]}`;
    assert.deepEqual(rows, want, what);
    // Backwards from the last row gives the same rows reversed.
    const back: string[] = [];
    let pos = tv.last();
    assert.equal(pos && nodeAt(pos), last && nodeAt(last), what);
    while (pos) {
      back.push(`${pos.length - 1} ${nodeAt(pos).path}`);
      pos = tv.prev(pos);
    }
    assert.deepEqual(back.reverse(), want, what);
    // find() lands on every shown row.
    for (const r of want) {
      const path = r.slice(r.indexOf(" ") + 1);
      const p = tv.find(path);
      assert.equal(p && nodeAt(p).path, path, `${what}: find ${path}`);
    }
  }
});

test("guides: ├── / └── for the last child, │ under open parents, ─+ for a folded directory", () => {
  const m = fakeModel([{ files: { "a/x": "1", "a/y": "2", "b/z": "3", c: "4" } }]);
  const folded = new Set(["b"]);
  const tv = new TreeView(m.tree(0, "layer"), {
    sort: "name",
    hidden: new Set(),
    filter: null,
    isCollapsed: (p) => folded.has(p),
  });
  const out: string[] = [];
  for (let pos = tv.first(); pos; pos = tv.next(pos)) out.push(tv.guides(pos) + nodeAt(pos).name);
  assert.deepEqual(out, ["├── a", "│   ├── x", "│   └── y", "├─+ b", "└── c"]);
});
