/**
 * Squashed view: layer semantics (whiteouts, opaque markers, symlinked parents, hard links, duplicates, R10),
 * refusals, per-layer changes, lookups, and readFile reading only the owning layer. Expected values are written
 * from the rules (extraction-rules.md), never taken from the view's own output; the umoci comparisons are in
 * view-oracle.test.ts.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { test } from "node:test";
import type { ProgressEvent } from "../events/index.ts";
import type { TarWriteEntry, TarWriteItem } from "../tar/index.ts";
import { buildView, type LayerChange, type SquashedView, type ViewNode, type ViewOptions } from "./view.ts";
import { memLayers, memLayersFromTars, tarOf } from "./view-testkit.ts";

const T = 1_700_000_000;

function F(path: string, data: string | Buffer = path, extra: Partial<TarWriteEntry> = {}): TarWriteItem {
  return { entry: { path, type: "file", mode: 0o644, mtime: T, ...extra }, body: Buffer.from(data) };
}
function D(path: string, extra: Partial<TarWriteEntry> = {}): TarWriteItem {
  return { entry: { path, type: "directory", mode: 0o755, mtime: T, ...extra } };
}
function S(path: string, linkpath: string): TarWriteItem {
  return { entry: { path, type: "symlink", linkpath, mtime: T } };
}
function H(path: string, linkpath: string, extra: Partial<TarWriteEntry> = {}): TarWriteItem {
  return { entry: { path, type: "hardlink", linkpath, mtime: T, ...extra } };
}
function W(path: string): TarWriteItem {
  return { entry: { path, type: "file", mode: 0, mtime: 0 }, body: Buffer.alloc(0) };
}

async function view(layers: TarWriteItem[][], opts: ViewOptions = {}) {
  const mem = await memLayers(layers);
  return { v: await buildView(mem.sources, opts), mem };
}

/**
 * Changes without the fields that locate a node (inode, content location, link targets), for tests about kinds,
 * sizes and metadata; "changes record where each state's bytes are" checks those fields.
 */
function kinds(changes: LayerChange[]): LayerChange[] {
  return changes.map((c) => {
    if (c.before === undefined) return c;
    const { ino: _i, content: _c, linkTarget: _l, hardlinkTo: _h, ...before } = c.before;
    return { ...c, before: before as LayerChange["before"] };
  });
}

async function text(v: SquashedView, path: string): Promise<string> {
  return (await v.readFileBuffer(path, 1 << 20)).toString("utf8");
}

function paths(v: SquashedView): string[] {
  return [...v.walk()].map((n) => n.path);
}

function node(v: SquashedView, path: string): ViewNode {
  const n = v.get(path);
  assert.ok(n, `${path} should exist`);
  return n;
}

async function refused(layers: TarWriteItem[][], code: string, message?: RegExp): Promise<void> {
  const mem = await memLayers(layers);
  await assert.rejects(buildView(mem.sources), (e: Error & { code?: string }) => {
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

test("whiteouts hide lower-layer paths only, whatever their position in the layer", async () => {
  const { v } = await view([
    [F("a", "a0"), F("b", "b0"), F("c", "c0")],
    [W(".wh.b"), F("a", "a1"), F("b", "b1"), W(".wh.a"), W(".wh.c")],
  ]);
  assert.deepEqual(paths(v), [".", "a", "b"]);
  assert.equal(await text(v, "a"), "a1");
  assert.equal(await text(v, "b"), "b1");
  assert.equal(node(v, "a").layer, 1);
  assert.equal(node(v, "a").addedIn, 0, "a was replaced, never absent");
});

test("an opaque marker acts as if first: lower children go (links as links), same-layer children stay", async () => {
  const { v } = await view([
    [
      D("etc"),
      F("etc/shadow", "secret"),
      D("d", { mode: 0o750, uid: 3 }),
      F("d/old"),
      D("d/sub"),
      F("d/sub/x"),
      S("d/l", ".."),
      S("d/bad", "../../etc/shadow"),
      { entry: { path: "d/p", type: "fifo", mode: 0o600, mtime: T } },
      D("d/keep", { mode: 0o700, uid: 9 }),
      F("d/keep/lower"),
    ],
    [D("d", { mode: 0o755, uid: 4 }), F("d/new"), F("d/keep/mine"), W("d/.wh..wh..opq")],
  ]);
  assert.deepEqual(paths(v), [".", "d", "d/keep", "d/keep/mine", "d/new", "etc", "etc/shadow"]);
  assert.equal(await text(v, "etc/shadow"), "secret", "the links were removed, not what they point to");
  const d = node(v, "d");
  assert.deepEqual([d.mode, d.uid, d.layer], [0o755, 4, 1]);
  // umoci's rule (upperPaths): a lower directory this layer writes into is kept, with its metadata, while its
  // lower children go.
  const keep = node(v, "d/keep");
  assert.deepEqual([keep.mode, keep.uid, keep.layer], [0o700, 9, 0]);
});

test("an opaque marker keeps the directory itself, and on the root clears every lower path", async () => {
  const { v } = await view([
    [D("x", { mode: 0o711 }), F("x/a"), F("top")],
    [W("x/.wh..wh..opq")],
    [F("n"), W(".wh..wh..opq")],
  ]);
  assert.deepEqual(paths(v), [".", "n"]);
  const { v: v2 } = await view([[D("x", { mode: 0o711 }), F("x/a")], [W("x/.wh..wh..opq")]]);
  assert.deepEqual(paths(v2), [".", "x"]);
  assert.equal(node(v2, "x").mode, 0o711);
});

test("whiteouts resolve their directory through symlinks in-root; a dangling one makes them a no-op", async () => {
  const { v } = await view([
    [
      D("etc"),
      F("etc/passwd"),
      F("etc/w"),
      F("etc/v"),
      S("le", "/etc"),
      S("l2", "../../etc"),
      S("dl", "/dne"),
    ],
    [W("le/.wh.w"), W("l2/.wh.v"), W("dl/.wh.etc"), W(".wh.le"), W("missing/.wh.x"), W(".wh.nothing")],
  ]);
  assert.deepEqual(paths(v), [".", "dl", "etc", "etc/passwd", "l2"]);
  assert.equal(node(v, "dl").linkTarget, "/dne");
});

test("entries under symlinked parents land at the resolved in-root path", async () => {
  const { v } = await view([
    [
      D("etc"),
      S("le", "/etc"),
      F("le/x", "sym-abs-parent"),
      S("d/etc", "/etc"),
      S("le2", "./d/etc"),
      F("le2/y", "sym-chain"),
      S("le3", "/dummy/../etc"),
      F("le3/z", "non-lexical .."),
      S("le4", "../../etc"),
      F("le4/passwd", "sym-rel-escape"),
      S("in/up", ".."),
      S("in/up/esc", "../victim"),
      F("in/up/esc/new", "two-hop"),
      D("x"),
      S("x", "/canary"),
      F("x/passwd", "dir-then-sym"),
      F("foo/t/f", "1"),
      S("foo", "/canary2"),
      F("foo/t/f", "2"),
      D("foo"),
      F("foo/t/f", "3"),
      S("l", "/dne"),
      F("l/x", "dangling-parent"),
    ],
    [S("k", "../../../../home/u/.ssh")],
    [F("k/authorized_keys", "multi-layer-sym")],
  ]);
  const want: Record<string, string> = {
    "etc/x": "sym-abs-parent",
    "etc/y": "sym-chain",
    "etc/z": "non-lexical ..",
    "etc/passwd": "sym-rel-escape",
    "victim/new": "two-hop",
    "canary/passwd": "dir-then-sym",
    "canary2/t/f": "2",
    "foo/t/f": "3",
    "dne/x": "dangling-parent",
    "home/u/.ssh/authorized_keys": "multi-layer-sym",
  };
  for (const [p, data] of Object.entries(want)) assert.equal(await text(v, p), data, p);
  for (const p of ["le", "le2", "le3", "le4", "d/etc", "in/up", "esc", "x", "l", "k"]) {
    assert.equal(node(v, p).type, "symlink", p);
  }
  assert.equal(node(v, "foo").type, "directory");
  assert.equal(v.get("le/x"), undefined, "no node under a symlink");
  // An implicit parent made while resolving: 0755 root:root.
  const victim = node(v, "victim");
  assert.deepEqual([victim.type, victim.mode, victim.uid, victim.gid], ["directory", 0o755, 0, 0]);
});

test("a symlink loop in a parent is refused (ELOOP); 40 hops resolve, 41 do not", async () => {
  await refused(
    [[S("a", "b"), S("b", "a"), F("a/x")]],
    "E_LAYER_INVALID",
    /too many levels of symbolic links/,
  );
  const chain = (n: number) => {
    const items = [D("target")];
    for (let i = 1; i < n; i++) items.push(S(`s${i}`, `s${i + 1}`));
    items.push(S(`s${n}`, "/target"), F("s1/f", "deep"));
    return items;
  };
  const { v } = await view([chain(40)]);
  assert.equal(await text(v, "target/f"), "deep");
  await refused([chain(41)], "E_LAYER_INVALID", /ELOOP|symbolic links/);
  // The same for a whiteout's directory.
  await refused([[S("a", "b"), S("b", "a")], [W("a/.wh.x")]], "E_LAYER_INVALID");
});

test("missing parents become 0755 root:root directories; a non-directory parent is replaced by one (R10)", async () => {
  const { v } = await view([
    [F("n", "file"), D("etc"), F("etc/passwd"), S("lp", "/etc/passwd")],
    [F("n/a/b", "b", { uid: 5, gid: 6, mode: 0o600 }), F("lp/x", "x")],
  ]);
  for (const p of ["n", "n/a", "etc/passwd"]) {
    const d = node(v, p);
    assert.deepEqual([d.type, d.mode, d.uid, d.gid, d.layer], ["directory", 0o755, 0, 0, 1], p);
  }
  assert.equal(node(v, "n").addedIn, 0, "n existed before the layer");
  assert.equal(node(v, "n/a").addedIn, 1);
  assert.equal(await text(v, "n/a/b"), "b");
  assert.equal(await text(v, "etc/passwd/x"), "x");
  assert.equal(node(v, "lp").type, "symlink");
});

test("directory over directory merges metadata and keeps children; any other duplicate: the last wins", async () => {
  const { v } = await view([
    [
      F("f1", "1"),
      F("f1", "2"),
      F("f2"),
      D("f2"),
      D("f3"),
      F("f3/c"),
      F("f3", "file"),
      S("f4", "/etc"),
      D("f4", { mode: 0o700 }),
      D("f5"),
      F("f5/c"),
      S("f5", "x"),
      F("t", "target"),
      H("f6", "t"),
      F("f6", "new"),
      D("m", { mode: 0o700, uid: 1, xattrs: new Map([["user.a", Buffer.from("1")]]) }),
      F("m/c"),
      D("x", { xattrs: new Map([["user.a", Buffer.from("1")]]) }),
    ],
    [
      D("m", { mode: 0o755, uid: 2, mtime: T + 5 }),
      S("f1", "f2"),
      D("t"),
      D("x", {
        xattrs: new Map([
          ["user.a", Buffer.from("2")],
          ["user.b", Buffer.from("3")],
        ]),
      }),
    ],
  ]);
  assert.deepEqual(paths(v), [".", "f1", "f2", "f3", "f4", "f5", "f6", "m", "m/c", "t", "x"]);
  assert.equal(node(v, "f1").type, "symlink");
  assert.equal(node(v, "f2").type, "directory");
  assert.equal(await text(v, "f3"), "file");
  assert.deepEqual([node(v, "f4").type, node(v, "f4").mode], ["directory", 0o700]);
  assert.deepEqual([node(v, "f5").type, node(v, "f5").linkTarget], ["symlink", "x"]);
  assert.equal(await text(v, "f6"), "new");
  assert.equal(node(v, "f6").hardlinkTo, undefined);
  assert.notEqual(node(v, "f6").ino, node(v, "t").ino);
  const m = node(v, "m");
  // Merged xattrs: the entry's names replace theirs, the others stay (apply.ts, containerd, moby; not umoci).
  assert.deepEqual(
    [m.mode, m.uid, m.mtime, m.layer, m.addedIn, m.xattrs],
    [0o755, 2, T + 5, 1, 0, new Map([["user.a", Buffer.from("1")]])],
  );
  assert.deepEqual(
    node(v, "x").xattrs,
    new Map([
      ["user.a", Buffer.from("2")],
      ["user.b", Buffer.from("3")],
    ]),
  );
  assert.equal(node(v, "t").type, "directory");
});

test("hard links take their target's inode as it is then: type, metadata, content; later changes do not follow", async () => {
  const { v } = await view([
    [
      D("usr/bin"),
      F("usr/bin/a", "A", { mode: 0o4755, uid: 3 }),
      H("usr/bin/b", "/usr/bin/a"),
      H("usr/bin/h2", "usr/bin/a", { uid: 1337, mode: 0o777 }),
      D("etc"),
      F("etc/passwd", "P"),
      S("le", "/etc"),
      H("p", "le/passwd"),
      S("pl", "/etc/passwd"),
      H("lp", "pl"),
      { entry: { path: "fifo", type: "fifo", mode: 0o640, mtime: T } },
      H("fifo2", "fifo"),
    ],
    [F("usr/bin/a", "A2"), H("usr/bin/c", "usr/bin/b")],
  ]);
  const a = node(v, "usr/bin/a");
  const b = node(v, "usr/bin/b");
  assert.equal(await text(v, "usr/bin/a"), "A2");
  assert.equal(await text(v, "usr/bin/b"), "A");
  assert.deepEqual(
    [b.type, b.mode, b.uid, b.hardlinkTo, b.content?.layer],
    ["file", 0o4755, 3, "usr/bin/a", 0],
  );
  assert.notEqual(a.ino, b.ino);
  const h2 = node(v, "usr/bin/h2");
  assert.deepEqual([h2.mode, h2.uid, h2.ino], [0o4755, 3, b.ino], "the link's header metadata is ignored");
  const c = node(v, "usr/bin/c");
  assert.deepEqual([c.ino, c.hardlinkTo, c.layer, c.content?.layer], [b.ino, "usr/bin/b", 1, 0]);
  assert.equal(node(v, "p").hardlinkTo, "etc/passwd", "the target's parent is resolved through le");
  assert.equal(node(v, "p").ino, node(v, "etc/passwd").ino);
  const lp = node(v, "lp");
  assert.deepEqual(
    [lp.type, lp.linkTarget, lp.hardlinkTo, lp.ino],
    ["symlink", "/etc/passwd", "pl", node(v, "pl").ino],
  );
  assert.equal(node(v, "fifo2").type, "fifo");
  assert.equal(node(v, "fifo2").mode, 0o640);
});

test("hard links to nothing, to a directory or to themselves are refused, and so are escaping link names", async () => {
  await refused([[H("a", "missing")]], "E_LAYER_INVALID", /does not exist/);
  await refused([[D("dir"), H("a", "dir")]], "E_LAYER_INVALID", /is a directory/);
  await refused([[H("a", "/")]], "E_LAYER_INVALID", /is the root directory/);
  await refused([[F("a"), H("a", "a")]], "E_LAYER_INVALID", /is itself/);
  await refused([[S("l", "."), F("a"), H("l/a", "a")]], "E_LAYER_INVALID", /is itself/);
  await refused([[H("b", "a"), F("a")]], "E_LAYER_INVALID", /does not exist/);
  // The target is resolved first (as the unpacker does); what making the parents or clearing the path removes
  // is gone when the link is made.
  await refused([[F("n"), H("n/a", "n")]], "E_LAYER_INVALID", /removed by this very entry/);
  await refused([[D("x"), F("x/y"), H("x", "x/y")]], "E_LAYER_INVALID", /removed by this very entry/);
  const { v } = await view([[D("etc"), F("etc/f", "F"), S("l", "/etc"), H("l", "l/f")]]);
  assert.deepEqual(
    [node(v, "l").type, node(v, "l").hardlinkTo, node(v, "l").ino],
    ["file", "etc/f", node(v, "etc/f").ino],
  );
  for (const link of ["../victim/hello", "/../victim/hello", "../dest-evil/s", "a/../../x"]) {
    await refused([[F("a"), H("x", link)]], "E_TAR_UNSAFE_PATH");
  }
});

test("names that escape, invalid whiteouts and a non-directory root are refused with the unpacker's codes", async () => {
  for (const name of ["../victim/x", "/../victim/x", "a/../../x", "./../x", ".."]) {
    await refused([[F(name)]], "E_TAR_UNSAFE_PATH", /layer 1 \(sha256:/);
  }
  for (const name of [".wh.", "a/.wh.", ".wh..", "etc/.wh..", ".wh...", "etc/.wh..."]) {
    await refused([[F(name)]], "E_TAR_UNSAFE_PATH", /not a valid whiteout/);
  }
  for (const name of [".", "/", "./"])
    await refused([[S(name, "/etc")]], "E_TAR_UNSAFE_PATH", /replace the root/);
  await refused([[F(".")]], "E_TAR_UNSAFE_PATH");
  await refused([[F("ok"), D("x")], [F("../x")]], "E_TAR_UNSAFE_PATH", /layer 2 /);
  // A directory entry for the root sets its metadata.
  const { v } = await view([[D("./", { mode: 0o700, uid: 5, mtime: T + 1 }), F("f")]]);
  const root = node(v, "/");
  assert.deepEqual([root.path, root.mode, root.uid, root.mtime], [".", 0o700, 5, T + 1]);
});

test("AUFS metadata is ignored, '.wh.' on a directory component is a name, odd names are ordinary", async () => {
  const { v } = await view([
    [D("etc"), F("etc/f"), D("x")],
    [
      F(".wh..wh.plnk/1.2"),
      W(".wh..wh.aufs"),
      F(".wh.etc/f", "ordinary"),
      F("..\\x"),
      F("..gitme"),
      W("dne/../.wh.etc"),
      { entry: { path: ".wh.x", type: "directory", mode: 0o755, mtime: 0 } },
    ],
  ]);
  assert.deepEqual(paths(v), [".", "..\\x", "..gitme", ".wh.etc", ".wh.etc/f"]);
});

test("per-layer changes: added, modified, removed, with the bytes each layer stores and what it replaced", async () => {
  const { v, mem } = await view([
    [
      D("etc"),
      F("etc/a", "aaaa"),
      F("etc/b", "bb"),
      D("var"),
      D("var/lib"),
      F("var/lib/x", "xxx"),
      F("var/lib/y", "y"),
    ],
    [
      F("etc/a", "AAAAAA"),
      W("etc/.wh.b"),
      F("etc/c", "c"),
      W(".wh.var"),
      D("etc", { mode: 0o700 }),
      F("new/deep/f", "12345"),
    ],
    [D("var"), F("var/z", "zz"), F("etc/c", "c1"), F("etc/c", "c22"), W("etc/.wh.a"), F("etc/a", "q")],
  ]);
  const dir = (layer: number) => ({ type: "directory", size: 0, layer, mode: 0o755, uid: 0, gid: 0 });
  const file = (size: number, layer: number) => ({ type: "file", size, layer, mode: 0o644, uid: 0, gid: 0 });
  assert.deepEqual(
    v.layers.map((l) => [l.index, l.entries, l.bytes]),
    [
      [0, 7, 10],
      [1, 6, 12],
      [2, 6, 8],
    ],
  );
  assert.deepEqual(kinds(v.layers[0]!.changes), [
    { path: "etc", kind: "added", type: "directory", size: 0 },
    { path: "etc/a", kind: "added", type: "file", size: 4 },
    { path: "etc/b", kind: "added", type: "file", size: 2 },
    { path: "var", kind: "added", type: "directory", size: 0 },
    { path: "var/lib", kind: "added", type: "directory", size: 0 },
    { path: "var/lib/x", kind: "added", type: "file", size: 3 },
    { path: "var/lib/y", kind: "added", type: "file", size: 1 },
  ]);
  assert.deepEqual(kinds(v.layers[1]!.changes), [
    { path: "etc", kind: "modified", type: "directory", size: 0, before: dir(0) },
    { path: "etc/a", kind: "modified", type: "file", size: 6, before: file(4, 0) },
    { path: "etc/b", kind: "removed", type: "file", size: 0, before: file(2, 0) },
    { path: "etc/c", kind: "added", type: "file", size: 1 },
    { path: "new", kind: "added", type: "directory", size: 0 },
    { path: "new/deep", kind: "added", type: "directory", size: 0 },
    { path: "new/deep/f", kind: "added", type: "file", size: 5 },
    { path: "var", kind: "removed", type: "directory", size: 0, before: dir(0) },
    { path: "var/lib", kind: "removed", type: "directory", size: 0, before: dir(0) },
    { path: "var/lib/x", kind: "removed", type: "file", size: 0, before: file(3, 0) },
    { path: "var/lib/y", kind: "removed", type: "file", size: 0, before: file(1, 0) },
  ]);
  assert.deepEqual(kinds(v.layers[2]!.changes), [
    { path: "etc/a", kind: "modified", type: "file", size: 1, before: file(6, 1) },
    { path: "etc/c", kind: "modified", type: "file", size: 5, before: file(1, 1) },
    { path: "var", kind: "added", type: "directory", size: 0 },
    { path: "var/z", kind: "added", type: "file", size: 2 },
  ]);
  assert.deepEqual(
    ["etc", "etc/a", "etc/c", "new", "new/deep/f", "var", "var/z"].map((p) => [
      p,
      node(v, p).layer,
      node(v, p).addedIn,
    ]),
    [
      ["etc", 1, 0],
      ["etc/a", 2, 0],
      ["etc/c", 2, 1],
      ["new", 1, 1],
      ["new/deep/f", 1, 1],
      ["var", 2, 2],
      ["var/z", 2, 2],
    ],
  );
  assert.deepEqual(
    v.layers.map((l) => [l.digest, l.diffId]),
    mem.sources.map((s) => [s.descriptor.digest, s.diffId]),
  );
});

test("readFile of a lower-layer file, shadowed then restored, reads only that layer and stops after the data", async () => {
  const big = randomBytes(4 << 20); // incompressible, after the file: reading to it would pull ~4 MB
  const { v, mem } = await view([
    [D("etc"), F("etc/conf", "v1"), H("etc/keep", "etc/conf"), F("zbig", big)],
    [F("etc/conf", "v2")],
    [W("etc/.wh.conf"), H("etc/conf", "etc/keep")],
  ]);
  assert.deepEqual(
    mem.stats.map((s, i) => s.pulled === mem.blobs[i]!.length),
    [true, true, true],
    "the build read every layer to its end",
  );
  assert.deepEqual(
    mem.stats.map((s) => s.opens),
    [1, 1, 1],
  );
  const conf = node(v, "etc/conf");
  assert.deepEqual([conf.layer, conf.addedIn, conf.content?.layer, conf.hardlinkTo], [2, 0, 0, "etc/keep"]);
  const before = mem.stats.map((s) => s.pulled);
  assert.equal(await text(v, "/etc/conf"), "v1");
  assert.deepEqual(
    mem.stats.map((s) => s.opens),
    [2, 1, 1],
    "only the owning layer is opened",
  );
  const pulled = mem.stats[0]!.pulled - before[0]!;
  assert.ok(
    pulled < 1 << 20,
    `read ${pulled} bytes of a ${mem.blobs[0]!.length}-byte blob for a 2-byte file`,
  );
  // The big file itself, in chunks, byte for byte.
  const parts: Buffer[] = [];
  for await (const c of v.readFile("zbig")) parts.push(c);
  assert.ok(Buffer.concat(parts).equals(big));
  assert.deepEqual(
    mem.stats.map((s) => s.opens),
    [3, 1, 1],
  );
  // Stopping early closes the stream without error.
  for await (const _ of v.readFile("zbig")) break;
});

test("readFile follows symlinks in-root and explains what it cannot read", async () => {
  const { v } = await view([
    [
      D("usr/lib"),
      F("usr/lib/os-release", "ID=test\n"),
      D("etc"),
      S("etc/os-release", "../usr/lib/os-release"),
      S("a", "/usr/lib"),
      S("loop1", "loop2"),
      S("loop2", "loop1"),
      S("dangling", "/nowhere"),
      { entry: { path: "dev/null", type: "char", mode: 0o666, devmajor: 1, devminor: 3, mtime: T } },
    ],
  ]);
  assert.equal(await text(v, "/etc/os-release"), "ID=test\n");
  assert.equal(await text(v, "a/os-release"), "ID=test\n");
  assert.equal(await text(v, "../../etc/os-release"), "ID=test\n", ".. stops at the root");
  assert.equal(v.resolve("/etc/os-release")?.path, "usr/lib/os-release");
  assert.equal(v.get("/etc/os-release")?.type, "symlink");
  assert.equal(v.resolve("a/../etc/os-release"), undefined, "a/.. is /usr, through the link, not lexical");
  assert.equal(v.get("a/../etc/os-release")?.type, "symlink", "get() cleans lexically");
  assert.equal(v.resolve("usr/lib/os-release/x"), undefined);
  assert.equal(v.resolve("loop1"), undefined);
  assert.equal(v.resolve("/")?.path, ".");
  const code = (c: string, m: RegExp) => (e: Error & { code?: string }) => e.code === c && m.test(e.message);
  await assert.rejects(v.readFileBuffer("missing", 10), code("E_NOT_FOUND", /does not exist/));
  await assert.rejects(v.readFileBuffer("dangling", 10), code("E_NOT_FOUND", /does not exist/));
  await assert.rejects(v.readFileBuffer("loop1", 10), code("E_NOT_FOUND", /symlink loop/));
  await assert.rejects(v.readFileBuffer("etc", 10), code("E_USAGE", /directory/));
  await assert.rejects(v.readFileBuffer("dev/null", 10), code("E_USAGE", /char/));
  await assert.rejects(v.readFileBuffer("etc/os-release", 3), code("E_SIZE_LIMIT", /8 bytes/));
  assert.throws(() => v.readFile("etc"), code("E_USAGE", /directory/));
});

test("digests on and off agree; digest() computes on demand from the owning layer, once", async () => {
  const items: TarWriteItem[][] = [
    [D("d"), F("d/a", randomBytes(100_000)), F("d/empty", ""), F("d/b", "bbb"), H("d/h", "d/a")],
    [F("d/b", randomBytes(70_000)), S("d/s", "b")],
  ];
  const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
  const bodies = new Map<string, string>();
  for (const layer of items)
    for (const { entry, body } of layer) if (Buffer.isBuffer(body)) bodies.set(String(entry.path), sha(body));
  bodies.set("d/h", bodies.get("d/a")!);
  const on = await view(items, { digests: true });
  const off = await view(items);
  const strip = (n: ViewNode) => ({ ...JSON.parse(JSON.stringify(n)), digest: undefined });
  assert.deepEqual([...off.v.walk()].map(strip), [...on.v.walk()].map(strip));
  for (const p of ["d/a", "d/empty", "d/b", "d/h"]) {
    assert.equal(node(on.v, p).digest, bodies.get(p), p);
    assert.equal(node(off.v, p).digest, undefined);
    assert.equal(await on.v.digest(p), bodies.get(p));
  }
  assert.deepEqual(
    on.mem.stats.map((s) => s.opens),
    [1, 1],
    "known digests need no reading",
  );
  assert.equal(await off.v.digest("d/s"), bodies.get("d/b"), "digest() resolves symlinks");
  assert.equal(await off.v.digest("d/b"), bodies.get("d/b"));
  assert.equal(await off.v.digest("d/a"), bodies.get("d/a"));
  assert.deepEqual(
    off.mem.stats.map((s) => s.opens),
    [2, 2],
    "one read of d/a (layer 0) and one of d/b (layer 1), then cached",
  );
});

test("readFile refuses bytes that no longer match the view; buildView refuses a wrong DiffID", async () => {
  const layer = (x: string) => [D("d"), D("e"), F("d/a", x.repeat(1000)), F("d/b", "b")];
  // Uncompressed, so that the swapped blobs have the same size (a size change is caught by layerTar itself).
  const good = await memLayers([layer("x")], { gzip: false });
  const other = await memLayers([layer("y")], { gzip: false });
  const v = await buildView(good.sources, { digests: true });
  (good.sources[0] as { open: () => AsyncIterable<Uint8Array> }).open = other.sources[0]!.open;
  await assert.rejects(
    v.readFileBuffer("d/a", 1 << 20),
    (e: Error & { code?: string }) => e.code === "E_DIGEST_MISMATCH",
  );
  // Same entries and size, another order: d/b's data is no longer at the offset the view recorded.
  const shifted = await memLayers([[D("d"), F("d/a", "x".repeat(1000)), F("d/b", "b"), D("e")]], {
    gzip: false,
  });
  assert.equal(shifted.blobs[0]!.length, good.blobs[0]!.length);
  (good.sources[0] as { open: () => AsyncIterable<Uint8Array> }).open = shifted.sources[0]!.open;
  await assert.rejects(
    v.readFileBuffer("d/b", 1 << 20),
    (e: Error & { code?: string }) => e.code === "E_LAYER_INVALID",
  );

  const bad = await memLayers([layer("x"), [F("z")]]);
  bad.sources[1]!.diffId = `sha256:${createHash("sha256")
    .update(await tarOf([F("other")]))
    .digest("hex")}`;
  await assert.rejects(buildView(bad.sources), (e: Error & { code?: string }) => {
    assert.equal(e.code, "E_DIGEST_MISMATCH");
    assert.match(e.message, /layer 2 .*DiffID/);
    return true;
  });
});

test("get, list and walk: lexical lookups, children in UTF-8 byte order, depth-first, every node once", async () => {
  const names = ["b", "a", "Z", "a-b", "é", "\u{1F600}", "\uFFFD", "a.b", "_"];
  const items: TarWriteItem[] = [];
  for (const n of [...names].reverse()) {
    items.push(D(`top/${n}`));
    for (const m of names) items.push(F(`top/${n}/${m}`));
  }
  items.push(F("a-file"));
  const { v } = await view([items]);
  const sorted = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  assert.deepEqual(
    v.list("/top").map((n) => n.path),
    sorted.map((n) => `top/${n}`),
  );
  assert.deepEqual(v.list("top/a-file"), []);
  assert.deepEqual(v.list("nothing"), []);
  const expected = [".", "a-file", "top"];
  for (const n of sorted) expected.push(`top/${n}`, ...sorted.map((m) => `top/${n}/${m}`));
  assert.deepEqual(paths(v), expected);
  assert.equal(v.size, expected.length);
  assert.equal(v.get("/top/./b/../a")?.path, "top/a");
  assert.equal(v.get("top/zz"), undefined);
});

test("xattrs are kept as the unpacker applies them; device numbers beyond 32 bits are refused", async () => {
  const xattrs = new Map([
    ["user.a", Buffer.from([0, 1, 2])],
    ["security.capability", Buffer.from("cap")],
    ["trusted.overlay.opaque", Buffer.from("y")],
    ["security.selinux", Buffer.from("ctx")],
  ]);
  const events: ProgressEvent[] = [];
  const { v } = await view([[F("f", "x", { xattrs })]], { events: (e) => events.push(e) });
  assert.deepEqual(
    node(v, "f").xattrs,
    new Map([
      ["user.a", Buffer.from([0, 1, 2])],
      ["security.capability", Buffer.from("cap")],
    ]),
  );
  assert.ok(events.some((e) => e.type === "note" && e.level === "warn" && /trusted/.test(e.text)));
  await refused(
    [[{ entry: { path: "dev/x", type: "char", mode: 0o600, devmajor: 2 ** 32, devminor: 0, mtime: T } }]],
    "E_LAYER_INVALID",
    /outside \[0, 2\^32\)/,
  );
});

test("limits: entries per layer and name depth", async () => {
  const mem = await memLayers([[F("a"), F("b"), F("c"), F("d")]]);
  await assert.rejects(
    buildView(mem.sources, { limits: { maxEntries: 3 } }),
    (e: Error & { code?: string }) => e.code === "E_TAR_LIMIT",
  );
  const deep = await memLayers([[F("1/2/3/4/5/6")]]);
  await assert.rejects(
    buildView(deep.sources, { limits: { maxDepth: 5 } }),
    (e: Error & { code?: string }) => e.code === "E_TAR_LIMIT",
  );
  assert.equal((await buildView(deep.sources, { limits: { maxDepth: 6 } })).size, 7);
});

test("events: start, progress up to the blob size, and end, per layer; abort stops the build", async () => {
  const events: ProgressEvent[] = [];
  const { mem } = await view([[F("a", randomBytes(200_000))], [F("b")]], { events: (e) => events.push(e) });
  for (const s of mem.sources) {
    const id = s.descriptor.digest;
    const mine = events.filter((e) => "id" in e && e.id === id);
    assert.equal(mine[0]?.type, "start");
    assert.equal(mine.at(-1)?.type, "end");
    const progress = mine.filter(
      (e): e is Extract<ProgressEvent, { type: "progress" }> => e.type === "progress",
    );
    assert.equal(progress.at(-1)?.done, s.descriptor.size);
  }
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(buildView(mem.sources, { signal: ac.signal }), { name: "AbortError" });
});

test("nodes serialise to JSON without their tree links", async () => {
  const { v } = await view([[D("d"), F("d/f", "x", { xattrs: new Map([["user.k", Buffer.from("v")]]) })]]);
  const json = JSON.parse(JSON.stringify(v.get("d/f")));
  assert.equal(json.path, "d/f");
  assert.equal(json.content.size, 1);
  assert.deepEqual(json.xattrs, { "user.k": Buffer.from("v").toString("base64") });
  assert.equal(json.parent, undefined);
  assert.equal(json.children, undefined);
});

test("changes carry the replaced node's digest and metadata, so a metadata-only rewrite can be told apart", async () => {
  const sha = (b: string) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
  const { v } = await view(
    [
      [F("same", "content", { mode: 0o644 }), F("edited", "one"), S("link", "x")],
      [F("same", "content", { mode: 0o600, uid: 7 }), F("edited", "two"), S("link", "y")],
    ],
    { digests: true },
  );
  assert.deepEqual(kinds(v.layers[1]!.changes), [
    {
      path: "edited",
      kind: "modified",
      type: "file",
      size: 3,
      before: { type: "file", size: 3, layer: 0, mode: 0o644, uid: 0, gid: 0, digest: sha("one") },
    },
    {
      path: "link",
      kind: "modified",
      type: "symlink",
      size: 0,
      before: { type: "symlink", size: 0, layer: 0, mode: 0o777, uid: 0, gid: 0 },
    },
    {
      path: "same",
      kind: "modified",
      type: "file",
      size: 7,
      before: { type: "file", size: 7, layer: 0, mode: 0o644, uid: 0, gid: 0, digest: sha("content") },
    },
  ]);
  const same = node(v, "same");
  assert.deepEqual([same.digest, same.mode, same.uid], [sha("content"), 0o600, 7]);
});

test("rawEntries: every tar entry as the layer states it, whiteouts and unresolved names included", async () => {
  const items: TarWriteItem[][] = [
    [D("etc"), S("le", "/etc"), F("etc/a", "aa")],
    [
      W("etc/.wh.a"),
      F("le/x", "xyz", { uid: 4 }),
      H("h", "/le/x"),
      F(".wh..wh.plnk/1"),
      W("etc/.wh..wh..opq"),
    ],
  ];
  const { v } = await view(items, { rawEntries: true, digests: true });
  const sha = (b: string) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
  // Each regular file's data offset leads to its bytes.
  for (const [i, l] of v.layers.entries()) {
    for (const r of l.rawEntries ?? []) {
      assert.equal(r.offset !== undefined, r.type === "file", r.path);
      const offset = r.offset;
      delete r.offset;
      if (offset === undefined || r.size === 0) continue;
      const parts: Buffer[] = [];
      for await (const c of v.readContent({ layer: i, offset, size: r.size }, r.path)) parts.push(c);
      const got = `sha256:${createHash("sha256").update(Buffer.concat(parts)).digest("hex")}`;
      if (r.digest) assert.equal(got, r.digest, r.path);
    }
  }
  assert.deepEqual(v.layers[0]!.rawEntries, [
    { path: "etc", type: "directory", size: 0, mode: 0o755, uid: 0, gid: 0 },
    { path: "le", type: "symlink", size: 0, mode: 0o777, uid: 0, gid: 0, linkpath: "/etc" },
    { path: "etc/a", type: "file", size: 2, mode: 0o644, uid: 0, gid: 0, digest: sha("aa") },
  ]);
  assert.deepEqual(v.layers[1]!.rawEntries, [
    { path: "etc/.wh.a", type: "file", size: 0, mode: 0, uid: 0, gid: 0 },
    { path: "le/x", type: "file", size: 3, mode: 0o644, uid: 4, gid: 0, digest: sha("xyz") },
    { path: "h", type: "hardlink", size: 0, mode: 0o644, uid: 0, gid: 0, linkpath: "/le/x" },
    { path: ".wh..wh.plnk/1", type: "file", size: 14, mode: 0o644, uid: 0, gid: 0 },
    { path: "etc/.wh..wh..opq", type: "file", size: 0, mode: 0, uid: 0, gid: 0 },
  ]);
  assert.equal((await view(items)).v.layers[0]!.rawEntries, undefined, "off by default");
});

test("names and link targets that are not UTF-8, and empty symlink targets, are refused as the unpacker does", async () => {
  const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9]); // "café" in Latin-1
  await refused(
    [[{ entry: { path: latin1, type: "file", mode: 0o644 }, body: Buffer.from("x") }]],
    "E_TAR_UNSUPPORTED",
    /name is not valid UTF-8 \(bytes 636166e9\)/,
  );
  await refused(
    [[{ entry: { path: "s", type: "symlink", linkpath: latin1 } }]],
    "E_TAR_UNSUPPORTED",
    /link target/,
  );
  // The writer refuses an empty linkpath: blank the ustar linkname of "s" and fix the header checksum.
  const tar = await tarOf([S("s", "x")]);
  tar.fill(0, 157, 257);
  tar.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += tar[i]!;
  tar.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  await assert.rejects(buildView(memLayersFromTars([tar]).sources), (e: Error & { code?: string }) => {
    assert.equal(e.code, "E_LAYER_INVALID");
    assert.match(e.message, /empty target/);
    return true;
  });
});

test("a layer that ends right after its last entry's data (umoci 0.4.7) is read; any other truncation is refused", async () => {
  const full = await tarOf([D("d"), F("d/a", "abc"), F("d/last", "0123456789")]);
  // Data offset of d/last: three 512-byte headers and d/a's one data block come before it.
  const end = 512 * 4 + 10;
  assert.equal(full.subarray(end - 10, end).toString(), "0123456789");
  for (const gzip of [true, false]) {
    const v = await buildView(memLayersFromTars([full.subarray(0, end)], { gzip }).sources, {
      digests: true,
    });
    assert.equal(await text(v, "d/last"), "0123456789");
    assert.equal(await text(v, "d/a"), "abc");
  }
  for (const cut of [end - 1, end + 100, 512 * 3 + 100]) {
    await assert.rejects(
      buildView(memLayersFromTars([full.subarray(0, cut)]).sources),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, "E_TAR_TRUNCATED", `cut at ${cut}: ${e.message}`);
        return true;
      },
    );
  }
});

test("changes record where each state's bytes are; afterStates records what a layer left; afterLayer sees each layer's tree", async () => {
  const seen: string[][] = [];
  const { v } = await view(
    [
      [F("keep", "one"), F("gone", "two"), S("ln", "keep"), F("t", "x")],
      [F("keep", "three", { mode: 0o600 }), W(".wh.gone"), H("hl", "keep"), S("ln", "t")],
    ],
    {
      afterStates: true,
      afterLayer: (i, nodes) => seen.push([String(i), ...[...nodes].map((n) => n.path).sort()]),
    },
  );
  assert.deepEqual(seen, [
    ["0", ".", "gone", "keep", "ln", "t"],
    ["1", ".", "hl", "keep", "ln", "t"],
  ]);
  const read = async (c: { layer: number; offset: number }, size: number) => {
    const parts: Buffer[] = [];
    for await (const b of v.readContent({ ...c, size }, "x")) parts.push(b);
    return Buffer.concat(parts).toString();
  };
  const by = (i: number, path: string) => v.layers[i]!.changes.find((c) => c.path === path)!;
  const keep0 = by(0, "keep");
  assert.equal(keep0.kind, "added");
  assert.equal(keep0.before, undefined);
  assert.equal(await read(keep0.after!.content!, 3), "one");
  const keep1 = by(1, "keep");
  assert.equal(await read(keep1.before!.content!, 3), "one", "the replaced bytes, still readable");
  assert.equal(await read(keep1.after!.content!, 5), "three");
  assert.deepEqual([keep1.after!.mode, keep1.after!.layer, keep1.after!.size], [0o600, 1, 5]);
  assert.equal(keep1.before!.ino, keep0.after!.ino);
  assert.notEqual(keep1.after!.ino, keep0.after!.ino, "a new file, a new inode");
  const gone = by(1, "gone");
  assert.deepEqual(
    [gone.kind, gone.after, await read(gone.before!.content!, 3)],
    ["removed", undefined, "two"],
  );
  const hl = by(1, "hl");
  assert.deepEqual([hl.kind, hl.after!.hardlinkTo, hl.after!.ino], ["added", "keep", keep1.after!.ino]);
  const ln = by(1, "ln");
  assert.deepEqual([ln.before!.linkTarget, ln.after!.linkTarget], ["keep", "t"]);
  // Without afterStates, no after states.
  const plain = await view([[F("a")]]);
  assert.equal(plain.v.layers[0]!.changes[0]!.after, undefined);
  assert.throws(() => v.readContent({ layer: 9, offset: 0, size: 1 }, "x"), { code: "E_USAGE" });
});

test("digestsAt: the sha256 of the files at given offsets of one layer, in one pass; unknown offsets left out", async () => {
  const sha = (b: string) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
  const { v, mem } = await view([[F("a", "one"), F("b", "two"), F("c", "three")], [F("a", "four")]], {
    rawEntries: true,
  });
  const entries = v.layers[0]!.rawEntries!;
  const at = (p: string) => entries.find((r) => r.path === p)!.offset!;
  const opens = mem.stats[0]!.opens;
  const got = await v.digestsAt(0, [at("a"), at("c"), 3]);
  assert.deepEqual(
    [...got].sort((x, y) => x[0] - y[0]),
    [
      [at("a"), sha("one")],
      [at("c"), sha("three")],
    ],
  );
  assert.equal(mem.stats[0]!.opens, opens + 1, "one pass");
  assert.deepEqual(await v.digestsAt(1, []), new Map());
  await assert.rejects(v.digestsAt(7, [0]), { code: "E_USAGE" });
});

test("comparePaths: tree order (component by component, UTF-8 byte order); compareNames: UTF-8 byte order", async () => {
  const { comparePaths, compareNames } = await import("./view-tree.ts");
  const paths = ["b", "a.b", "\u{1F600}", "a/b/c", "\uffff", "a", "a/b", "a-b/c"];
  assert.deepEqual([...paths].sort(comparePaths), [
    "a",
    "a/b",
    "a/b/c",
    "a-b/c",
    "a.b",
    "b",
    "\uffff",
    "\u{1F600}",
  ]);
  // Byte order puts "a-b/c" and "a.b" before "a/b" ("-" and "." are below "/"); tree order does not.
  assert.deepEqual([...paths].sort(compareNames), [
    "a",
    "a-b/c",
    "a.b",
    "a/b",
    "a/b/c",
    "b",
    "\uffff",
    "\u{1F600}",
  ]);
  const utf8 = [...paths].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  assert.deepEqual([...paths].sort(compareNames), utf8);
});
