import assert from "node:assert/strict";
import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { memLayers, umociUnpack, writeLayout } from "../layer/view-testkit.ts";
import type { ImageConfig } from "../spec/schemas.ts";
import type { TarWriteEntry, TarWriteItem } from "../tar/index.ts";
import { prng } from "../tar/testkit.ts";
import { buildExplorerModel, diveCommand } from "./model.ts";
import type { FileNode } from "./types.ts";

const T = 1_700_000_000;
const bytes = (n: number, fill = 0x61) => Buffer.alloc(n, fill);
function F(path: string, data: Buffer, extra: Partial<TarWriteEntry> = {}): TarWriteItem {
  return { entry: { path, type: "file", mode: 0o644, mtime: T, ...extra }, body: data };
}
const D = (path: string): TarWriteItem => ({ entry: { path, type: "directory", mode: 0o755, mtime: T } });
const W = (path: string): TarWriteItem => ({
  entry: { path, type: "file", mode: 0, mtime: T },
  body: Buffer.alloc(0),
});
const H = (path: string, to: string): TarWriteItem => ({
  entry: { path, type: "hardlink", linkpath: to, mtime: T },
});
const S = (path: string, to: string): TarWriteItem => ({
  entry: { path, type: "symlink", linkpath: to, mtime: T },
});

function config(history: { created_by: string; empty_layer?: boolean }[], layers: number): ImageConfig {
  return {
    architecture: "amd64",
    os: "linux",
    rootfs: { type: "layers", diff_ids: Array.from({ length: layers }, () => "") },
    history,
  } as unknown as ImageConfig;
}

async function model(
  layers: TarWriteItem[][],
  history: { created_by: string; empty_layer?: boolean }[] = [],
) {
  const mem = await memLayers(layers);
  const m = await buildExplorerModel(
    { source: "test", name: "test", digest: null, id: null, platform: "linux/amd64" },
    config(history, layers.length),
    mem.sources.map((s) => s.descriptor),
    mem.sources,
    { keepRawEntries: true },
  );
  return { m, mem };
}

/** Three layers whose every figure is worked out by hand below. */
const LAYERS: TarWriteItem[][] = [
  [
    D("etc"),
    F("etc/a", bytes(100)),
    F("etc/b", bytes(50)),
    D("var"),
    F("var/x", bytes(30)),
    F("var/y", bytes(20)),
    F("keep", bytes(10)),
  ],
  // etc/a again with the same bytes, mode 0600 (metadata only); rm etc/b; rm -rf var; keep rewritten.
  [
    F("etc/a", bytes(100), { mode: 0o600 }),
    W("etc/.wh.b"),
    F("etc/c", bytes(5)),
    W(".wh.var"),
    F("keep", bytes(12, 0x62)),
  ],
  // An opaque etc: what lower layers put there is gone.
  [D("etc"), W("etc/.wh..wh..opq"), F("etc/new", bytes(7))],
];

test("dive's figures, as dive computes them (every copy counted, rm -rf sized by its directory, opaque ignored)", async () => {
  const { m } = await model(LAYERS);
  const d = m.metrics.dive;
  // Leaves per path: /etc/a 100+100, /etc/b 50+0 (the whiteout of a file counts 0), /keep 10+12, /var 50 (the
  // whiteout of a directory counts its subtree), /var/x 30, /var/y 20, /etc/c 5, /etc/new 7.
  assert.equal(d.sizeBytes, 210 + 117 + 7);
  assert.equal(d.userSizeBytes, 117 + 7);
  assert.equal(d.efficiency, (100 + 0 + 10 + 50 + 30 + 20 + 5 + 7) / (200 + 50 + 22 + 50 + 30 + 20 + 5 + 7));
  assert.equal(d.wastedBytes, 200 + 50 + 22);
  assert.equal(d.userWastedPercent, 272 / 124);
  assert.deepEqual(d.inefficient, [
    { file: "/etc/a", count: 2, sizeBytes: 200 },
    { file: "/etc/b", count: 2, sizeBytes: 50 },
    { file: "/keep", count: 2, sizeBytes: 22 },
  ]);
});

test("dive's defects reproduced: a whiteout with nothing below ends that layer's walk; one layer gives NaN", async () => {
  // Layer 1's leaves in dive's order: /.wh.nothing (missing below: the walk stops), then /z is never counted.
  const { m } = await model([[F("a", bytes(10))], [W(".wh.nothing"), F("z", bytes(40)), F("a", bytes(10))]]);
  assert.deepEqual(m.metrics.dive.inefficient, [], "nothing after the bad whiteout was counted");
  assert.equal(m.metrics.dive.efficiency, 1);
  const one = (await model([[F("a", bytes(10))]])).m.metrics.dive;
  assert.ok(Number.isNaN(one.userWastedPercent), "0/0 as in dive");
  assert.equal(one.efficiency, 1);
});

test("dive's stacking reproduced: a layer's implicit parent overwrites a directory below as not a directory", async () => {
  // Layer 1 has d/g but no entry for d: in dive's stacked tree d becomes "not a directory", so layer 2's
  // whiteout of d counts 0 bytes instead of d's 45; layer 3's empty d makes the path count twice.
  const { m } = await model([[D("d"), F("d/f", bytes(40))], [F("d/g", bytes(5))], [W(".wh.d")], [D("d")]]);
  assert.deepEqual(m.metrics.dive.inefficient, [{ file: "/d", count: 2, sizeBytes: 0 }]);
  assert.equal(m.metrics.dive.efficiency, 1);
  // The same with d's entry in layer 1: the whiteout counts the directory's 45 bytes.
  const { m: explicit } = await model([
    [D("d"), F("d/f", bytes(40))],
    [D("d"), F("d/g", bytes(5))],
    [W(".wh.d")],
    [D("d")],
  ]);
  assert.deepEqual(explicit.metrics.dive.inefficient, [{ file: "/d", count: 2, sizeBytes: 45 }]);
  assert.equal(explicit.metrics.dive.efficiency, 45 / 90);
});

test("exact figures: what squashing reclaims, every hidden copy attributed to its cause", async () => {
  const { m } = await model(LAYERS);
  const e = m.metrics.exact;
  assert.equal(e.totalBytes, 334);
  assert.equal(e.finalBytes, 12 + 7, "keep and etc/new are all that is left");
  assert.equal(e.wastedBytes, 315);
  assert.equal(e.efficiency, 19 / 334);
  assert.deepEqual(
    e.waste.map((w) => [w.path, w.bytes, w.cause, w.layer, w.by]),
    [
      ["etc/a", 100, "metadata-only", 0, 1],
      ["etc/a", 100, "deleted", 1, 2],
      ["etc/b", 50, "deleted", 0, 1],
      ["var/x", 30, "deleted", 0, 1],
      ["var/y", 20, "deleted", 0, 1],
      ["keep", 10, "overwritten", 0, 1],
      ["etc/c", 5, "deleted", 1, 2],
    ],
  );
  assert.equal(
    e.waste.reduce((n, w) => n + w.bytes, 0),
    e.wastedBytes,
  );
  assert.deepEqual(e.byCause, { overwritten: 10, deleted: 205, "metadata-only": 100 });
  // The base (layer 0) wastes nothing on its own: every user byte wasted is the user's.
  assert.deepEqual([e.baseLayers, e.userBytes, e.userWastedBytes], [1, 124, 315]);
  assert.equal(e.userWastedPercent, 315 / 124);
});

test("layers: dive's command from the history, empty layers skipped; change counts; raw entries", async () => {
  const { m } = await model(LAYERS, [
    { created_by: "/bin/sh -c #(nop) ADD file:abc in / " },
    { created_by: '/bin/sh -c #(nop)  CMD ["bash"]', empty_layer: true },
    { created_by: "/bin/sh -c apt-get update && rm -rf /var" },
    { created_by: "COPY new /etc/new # buildkit" },
  ]);
  assert.deepEqual(
    m.layers.map((l) => l.command),
    ["ADD file:abc in /", "apt-get update && rm -rf /var", "COPY new /etc/new # buildkit"],
  );
  assert.equal(m.layers[1]?.createdBy, "/bin/sh -c apt-get update && rm -rf /var");
  // Layer 2's entry for etc changes nothing of etc itself (its children are what changed).
  assert.deepEqual(m.changes(2), [
    { path: "etc/a", change: "removed", type: "file", size: 100 },
    { path: "etc/c", change: "removed", type: "file", size: 5 },
    { path: "etc/new", change: "added", type: "file", size: 7 },
  ]);
  assert.deepEqual(
    m.layers.map((l) => [l.size, l.entries, l.added, l.modified, l.removed]),
    [
      [210, 7, 7, 0, 0],
      [117, 5, 1, 2, 4],
      [7, 3, 1, 0, 2],
    ],
  );
  assert.ok(m.layers.every((l) => l.mediaType.endsWith("tar+gzip") && l.compressedSize > 0));
  assert.deepEqual(
    m.rawEntries(1).map((r) => r.path),
    ["etc/a", "etc/.wh.b", "etc/c", ".wh.var", "keep"],
  );
  assert.equal(diveCommand(undefined), "");
  assert.throws(() => m.rawEntries(3), { code: "E_USAGE" });
});

function markers(n: FileNode, out = new Map<string, string>()): Map<string, string> {
  if (n.path !== "") out.set(n.path, `${n.marker}:${n.size}`);
  for (const c of n.children ?? []) markers(c, out);
  return out;
}

test("trees as of each layer with dive's markers, in layer and aggregated compare modes", async () => {
  const { m } = await model(LAYERS);
  const t0 = m.tree(0, "layer");
  assert.ok(
    [...markers(t0.root).values()].every((v) => v.startsWith("unmodified")),
    "layer 0 marks nothing",
  );
  assert.deepEqual(Object.fromEntries(markers(m.tree(1, "layer").root)), {
    etc: "modified:105", // a (100) and c (5); the removed b is left out of the size
    "etc/a": "modified:100",
    "etc/b": "removed:50",
    "etc/c": "added:5",
    keep: "modified:12",
    var: "removed:50",
    "var/x": "removed:30",
    "var/y": "removed:20",
  });
  assert.deepEqual(Object.fromEntries(markers(m.tree(2, "layer").root)), {
    etc: "modified:7",
    "etc/a": "removed:100",
    "etc/c": "removed:5",
    "etc/new": "added:7",
    keep: "unmodified:12",
  });
  // Aggregated: layers 1..2 against layer 0.
  assert.deepEqual(Object.fromEntries(markers(m.tree(2, "aggregated").root)), {
    etc: "modified:7",
    "etc/a": "removed:100",
    "etc/b": "removed:50",
    "etc/new": "added:7",
    keep: "modified:12",
    var: "removed:50",
    "var/x": "removed:30",
    "var/y": "removed:20",
  });
  const t = m.tree(1, "layer");
  assert.equal(t.get("/etc/a/")?.mode, 0o600);
  assert.equal(t.get("etc/b")?.layer, 1, "a removed node names the layer that removed it");
  assert.equal(t.get(".")?.path, "");
  assert.equal(t.size, 8);
  assert.equal(m.tree(1, "layer"), t, "cached");
  assert.throws(() => m.tree(3, "layer"), { code: "E_USAGE" });
});

test("files of any layer read back, the largest files listed", async () => {
  const { m } = await model(LAYERS);
  const read = async (path: string, layer?: number) => {
    const parts: Buffer[] = [];
    for await (const c of m.readFile(path, layer)) parts.push(c);
    return Buffer.concat(parts);
  };
  assert.deepEqual(await read("/keep", 0), bytes(10));
  assert.deepEqual(await read("/keep"), bytes(12, 0x62));
  assert.deepEqual(await read("etc/b", 0), bytes(50));
  assert.throws(() => m.readFile("etc/b", 1), { code: "E_NOT_FOUND" });
  assert.throws(() => m.readFile("etc", 0), { code: "E_NOT_FOUND" });
  assert.deepEqual(m.largest(5), [
    { path: "keep", size: 12, layer: 1 },
    { path: "etc/new", size: 7, layer: 2 },
  ]);
});

/** Regular-file bytes of an unpacked root, each inode once (the reference for finalBytes). */
function unpackedBytes(root: string): number {
  const seen = new Set<number>();
  let total = 0;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && !seen.has(st.ino)) {
        seen.add(st.ino);
        total += st.size;
      }
    }
  };
  walk(root);
  return total;
}

test("exact figures agree with umoci: random layers that add, rewrite, chmod, delete, rm -rf and make opaque directories", async () => {
  const rand = prng(20261128);
  const pick = <X>(xs: X[]): X => xs[Math.floor(rand() * xs.length)]!;
  const dirs = ["a", "b", "a/c"];
  const names = ["f1", "f2", "f3"];
  for (let round = 0; round < 6; round++) {
    const layers: TarWriteItem[][] = [];
    const existing = new Set<string>();
    for (let l = 0; l < 4; l++) {
      const items: TarWriteItem[] = [];
      const used = new Set<string>();
      for (let k = 0; k < 8; k++) {
        const dir = pick(dirs);
        const path = `${dir}/${pick(names)}`;
        if (used.has(path) || used.has(dir)) continue;
        used.add(path);
        const r = rand();
        if (r < 0.55 || l === 0) {
          items.push(D(dir.split("/")[0]!));
          if (dir.includes("/")) items.push(D(dir));
          items.push(
            F(path, bytes(1 + Math.floor(rand() * 300), 0x61 + Math.floor(rand() * 3)), {
              mode: pick([0o644, 0o600]),
            }),
          );
          existing.add(path);
        } else if (r < 0.8 && existing.has(path)) {
          items.push(W(`${dir}/.wh.${path.slice(dir.length + 1)}`));
        } else if (r < 0.9) {
          used.add(dir);
          items.push(W(dir.includes("/") ? `a/.wh.c` : `.wh.${dir}`));
        } else {
          used.add(dir);
          items.push(D(dir.split("/")[0]!), ...(dir.includes("/") ? [D(dir)] : []), W(`${dir}/.wh..wh..opq`));
        }
      }
      layers.push(items);
    }
    const { m } = await model(layers);
    const e = m.metrics.exact;
    const final = unpackedBytes(await umociUnpack(await writeLayout(layers)));
    assert.equal(e.finalBytes, final, `round ${round}: the bytes umoci unpacks`);
    assert.equal(e.wastedBytes, e.totalBytes - final);
    assert.equal(
      e.waste.reduce((n, w) => n + w.bytes, 0),
      e.wastedBytes,
      `round ${round}: every wasted byte attributed`,
    );
    // The last layer's tree, without removed nodes, is the final filesystem's regular files.
    const last = m.tree(layers.length - 1, "layer");
    let files = 0;
    const walk = (n: FileNode) => {
      if (n.marker === "removed") return;
      if (n.type === "file") files += n.size;
      for (const c of n.children ?? []) walk(c);
    };
    walk(last.root);
    assert.equal(files, final, `round ${round}: the tree shows what is left`);
  }
});

test("figures are computed layer by layer: without the raw entries kept, the same figures; a path written twice in one tar is waste", async () => {
  const layers: TarWriteItem[][] = [...LAYERS, [F("twice", bytes(10)), F("twice", bytes(20, 0x62))]];
  const mem = await memLayers(layers);
  const info = { source: "t", name: null, digest: null, id: null, platform: null };
  const build = (keepRawEntries: boolean) =>
    buildExplorerModel(
      info,
      config([], layers.length),
      mem.sources.map((s) => s.descriptor),
      mem.sources,
      {
        keepRawEntries,
      },
    );
  const kept = await build(true);
  const lean = await build(false);
  assert.deepEqual(lean.metrics, kept.metrics);
  assert.throws(() => lean.rawEntries(0), { code: "E_USAGE" });
  assert.deepEqual(
    kept.metrics.exact.waste.find((w) => w.path === "twice"),
    { path: "twice", bytes: 10, cause: "overwritten", layer: 3, by: 3 },
  );
  assert.equal(kept.metrics.exact.wastedBytes, 315 + 10);
  assert.equal(
    kept.metrics.exact.waste.reduce((n, w) => n + w.bytes, 0),
    kept.metrics.exact.wastedBytes,
  );
});

test("hard links and symlinks: bytes a hard link still shows are not waste (umoci agrees); dive counts them", async () => {
  const layers: TarWriteItem[][] = [
    [F("data", bytes(100)), H("link", "data"), S("sym", "data"), F("other", bytes(40))],
    [W(".wh.data"), S("other", "link")],
  ];
  const { m } = await model(layers);
  const e = m.metrics.exact;
  // data's inode lives on as "link"; "other" (40 B) was replaced by a symlink: deleted.
  assert.deepEqual([e.totalBytes, e.finalBytes, e.wastedBytes], [140, 100, 40]);
  assert.equal(e.finalBytes, unpackedBytes(await umociUnpack(await writeLayout(layers))));
  assert.deepEqual(
    e.waste.map((w) => [w.path, w.bytes, w.cause]),
    [["other", 40, "deleted"]],
  );
  // dive: the whiteout of a file counts 0 and its path is seen twice (100 B "wasted"), the hard link 0 B.
  assert.deepEqual(m.metrics.dive.inefficient, [
    { file: "/data", count: 2, sizeBytes: 100 },
    { file: "/other", count: 2, sizeBytes: 40 },
  ]);
  assert.equal(m.metrics.dive.efficiency, 0);
  const t = m.tree(1, "layer");
  assert.deepEqual(
    ["data", "link", "sym", "other"].map((p) => [p, t.get(p)?.marker, t.get(p)?.type]),
    [
      ["data", "removed", "file"],
      ["link", "unmodified", "file"],
      ["sym", "unmodified", "symlink"],
      ["other", "modified", "symlink"],
    ],
  );
  assert.equal(t.get("link")?.hardlinkTo, "data");
  assert.equal(t.get("other")?.linkTarget, "link");
  const parts: Buffer[] = [];
  for await (const c of m.readFile("link")) parts.push(c);
  assert.deepEqual(Buffer.concat(parts), bytes(100));
});

test("rewrites of the same size are told apart by content, hashed after the pass for those files only", async () => {
  const { m } = await model([
    [F("x", bytes(4)), F("y", bytes(4)), F("z", bytes(9))],
    [F("x", bytes(4)), F("y", bytes(4, 0x62)), F("z", bytes(3))],
    [F("x", bytes(4, 0x63))],
  ]);
  const at = (layer: number, mode: "layer" | "aggregated") =>
    Object.fromEntries(["x", "y", "z"].map((p) => [p, m.tree(layer, mode).get(p)?.marker]));
  assert.deepEqual(at(1, "layer"), { x: "unmodified", y: "modified", z: "modified" });
  assert.deepEqual(at(2, "layer"), { x: "modified", y: "unmodified", z: "unmodified" });
  assert.deepEqual(at(2, "aggregated"), { x: "modified", y: "modified", z: "modified" });
  // What each layer changed: the identical rewrite of x is not a change.
  assert.deepEqual(m.changes(1), [
    { path: "y", change: "modified", type: "file", size: 4 },
    { path: "z", change: "modified", type: "file", size: 3 },
  ]);
  assert.deepEqual(
    m.layers.map((l) => [l.added, l.modified, l.removed]),
    [
      [3, 0, 0],
      [0, 2, 0],
      [0, 1, 0],
    ],
  );
  // The identical rewrite of x is a copy overwritten, not metadata-only (nothing differs).
  assert.deepEqual(
    m.metrics.exact.waste.map((w) => [w.path, w.bytes, w.cause, w.layer]),
    [
      ["z", 9, "overwritten", 0],
      ["x", 4, "overwritten", 0],
      ["x", 4, "overwritten", 1],
      ["y", 4, "overwritten", 0],
    ],
  );
});

test("mayHideOwnFiles: a path written twice, or a file's directory replaced by a non-directory; not otherwise", async () => {
  const { mayHideOwnFiles } = await import("./model.ts");
  const e = (path: string, type: "file" | "directory" | "symlink" = "file") =>
    ({ path, type, size: 1, mode: 0o644, uid: 0, gid: 0 }) as const;
  assert.equal(mayHideOwnFiles([e("a", "directory"), e("a/b"), e("c")]), false);
  assert.equal(mayHideOwnFiles([e("a/b"), e("a/b")]), true);
  assert.equal(mayHideOwnFiles([e("a/b/c"), e("a", "symlink")]), true);
  assert.equal(mayHideOwnFiles([e("a", "symlink"), e("a/b/c")]), true);
  assert.equal(mayHideOwnFiles([e("a/b/c"), e("a", "directory")]), false);
});
