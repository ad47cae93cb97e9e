/**
 * diffViews over views built from in-memory layers: every kind of change, whiteouts and rm -rf, hard links,
 * directories, ordering, and the byte totals. Expected values are worked out here from the layers written in
 * each test (digests hashed from the bytes given), never taken from diffViews' own output.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { test } from "node:test";
import type { Digest } from "../digest/index.ts";
import { isOslessError } from "../errors.ts";
import { buildView, type SquashedView } from "../layer/view.ts";
import { memLayers } from "../layer/view-testkit.ts";
import type { TarWriteEntry, TarWriteItem } from "../tar/index.ts";
import { type DiffFile, diffImages, diffViews, type ImageDiff } from "./diff.ts";
import type { ExplorerImageInfo } from "./types.ts";

const T = 1_700_000_000;

function F(path: string, data: string, extra: Partial<TarWriteEntry> = {}): TarWriteItem {
  return { entry: { path, type: "file", mode: 0o644, mtime: T, ...extra }, body: Buffer.from(data) };
}
function D(path: string, extra: Partial<TarWriteEntry> = {}): TarWriteItem {
  return { entry: { path, type: "directory", mode: 0o755, mtime: T, ...extra } };
}
function S(path: string, linkpath: string): TarWriteItem {
  return { entry: { path, type: "symlink", linkpath, mtime: T } };
}
function H(path: string, linkpath: string): TarWriteItem {
  return { entry: { path, type: "hardlink", linkpath, mtime: T } };
}
function C(path: string, devmajor: number, devminor: number): TarWriteItem {
  return { entry: { path, type: "char", mode: 0o666, devmajor, devminor, mtime: T } };
}
/** A whiteout marker (`dir/.wh.name`) or an opaque one. */
function W(path: string): TarWriteItem {
  return { entry: { path, type: "file", mode: 0, mtime: 0 }, body: Buffer.alloc(0) };
}

function sha(data: string): Digest {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

async function view(layers: TarWriteItem[][], digests = true): Promise<SquashedView> {
  return buildView((await memLayers(layers)).sources, { digests });
}

async function diff(a: TarWriteItem[][], b: TarWriteItem[][]): Promise<ImageDiff> {
  return diffViews(await view(a), await view(b));
}

function file(data: string, extra: Partial<DiffFile> = {}): DiffFile {
  return {
    type: "file",
    size: Buffer.byteLength(data),
    mode: 0o644,
    uid: 0,
    gid: 0,
    digest: sha(data),
    layer: 0,
    ...extra,
  };
}

/** path → changes, for compact assertions. */
function changes(d: ImageDiff): Record<string, string[]> {
  return Object.fromEntries(d.changed.map((c) => [c.path, c.changes]));
}

const paths = (xs: { path: string }[]) => xs.map((x) => x.path);

test("content only: same size, other bytes; mtimes alone are no change", async () => {
  const d = await diff(
    [[D("etc"), F("etc/a", "one"), F("etc/b", "same")]],
    [[D("etc", { mtime: T + 50 }), F("etc/a", "two"), F("etc/b", "same", { mtime: T + 100 })]],
  );
  assert.deepEqual(d.added, []);
  assert.deepEqual(d.removed, []);
  assert.deepEqual(d.changed, [
    { path: "/etc/a", changes: ["content"], before: file("one"), after: file("two") },
  ]);
  assert.deepEqual(d.summary, {
    added: 0,
    removed: 0,
    changed: 1,
    unchanged: 3, // /, /etc, /etc/b
    addedBytes: 0,
    removedBytes: 0,
    changedBytes: 0,
    totalBytes: { a: 7, b: 7 },
  });
});

test("content and size: the delta of the changed files is after minus before", async () => {
  const d = await diff([[F("etc/passwd", "root\n")]], [[F("etc/passwd", "root\napp\n")]]);
  assert.deepEqual(changes(d), { "/etc/passwd": ["content", "size"] });
  assert.equal(d.summary.changedBytes, 4);
  assert.deepEqual(d.summary.totalBytes, { a: 5, b: 9 });
});

test("mode only, owner only (uid, then gid alone), both", async () => {
  const d = await diff(
    [
      [
        F("bin/su", "su", { mode: 0o755 }),
        F("home/app/x", "x", { uid: 0, gid: 0 }),
        F("home/app/y", "y", { uid: 1000, gid: 1000 }),
        F("srv/z", "z"),
      ],
    ],
    [
      [
        F("bin/su", "su", { mode: 0o4755 }),
        F("home/app/x", "x", { uid: 1000, gid: 0 }),
        F("home/app/y", "y", { uid: 1000, gid: 50 }),
        F("srv/z", "z", { mode: 0o600, uid: 7, gid: 7 }),
      ],
    ],
  );
  assert.deepEqual(changes(d), {
    "/bin/su": ["mode"],
    "/home/app/x": ["owner"],
    "/home/app/y": ["owner"],
    "/srv/z": ["mode", "owner"],
  });
  const su = d.changed[0]!;
  assert.equal(su.before.mode, 0o755);
  assert.equal(su.after.mode, 0o4755);
  assert.deepEqual(
    d.changed.map((c) => [c.before.uid, c.before.gid, c.after.uid, c.after.gid]),
    [
      [0, 0, 0, 0],
      [0, 0, 1000, 0],
      [1000, 1000, 1000, 50],
      [0, 0, 7, 7],
    ],
  );
  assert.equal(d.summary.changedBytes, 0);
});

test("type change file → symlink (no mode change for a symlink), and a symlink retargeted", async () => {
  const d = await diff(
    [[F("etc/localtime", "UTC0"), S("bin/sh", "busybox"), S("bin/ash", "busybox")]],
    [[S("etc/localtime", "/usr/share/zoneinfo/UTC"), S("bin/sh", "dash"), S("bin/ash", "busybox")]],
  );
  assert.deepEqual(d.changed, [
    {
      path: "/bin/sh",
      changes: ["linkTarget"],
      before: { type: "symlink", size: 0, mode: 0o777, uid: 0, gid: 0, linkTarget: "busybox", layer: 0 },
      after: { type: "symlink", size: 0, mode: 0o777, uid: 0, gid: 0, linkTarget: "dash", layer: 0 },
    },
    {
      path: "/etc/localtime",
      changes: ["type"],
      before: file("UTC0"),
      after: {
        type: "symlink",
        size: 0,
        mode: 0o777,
        uid: 0,
        gid: 0,
        linkTarget: "/usr/share/zoneinfo/UTC",
        layer: 0,
      },
    },
  ]);
  // The file's 4 bytes are gone from the changed paths.
  assert.equal(d.summary.changedBytes, -4);
  assert.equal(d.summary.unchanged, 4); // /, /bin, /bin/ash, /etc
});

test("a file deleted by a whiteout in an upper layer of B is removed; its bytes count", async () => {
  const base = [D("usr"), D("usr/bin"), F("usr/bin/wget", "wget-binary"), F("usr/bin/env", "env")];
  const d = await diff([base], [base, [W("usr/bin/.wh.wget"), F("etc/motd", "hello\n")]]);
  assert.deepEqual(d.removed, [{ path: "/usr/bin/wget", ...file("wget-binary") }]);
  // etc was made implicitly by layer 1 (0755 root:root).
  assert.deepEqual(d.added, [
    { path: "/etc", type: "directory", size: 0, mode: 0o755, uid: 0, gid: 0, layer: 1 },
    { path: "/etc/motd", ...file("hello\n", { layer: 1 }) },
  ]);
  assert.deepEqual(d.changed, [], "/usr/bin lost a child, but its own metadata is the same");
  assert.equal(d.summary.removedBytes, 11);
  assert.equal(d.summary.addedBytes, 6);
  assert.deepEqual(d.summary.totalBytes, { a: 14, b: 9 });
});

test("rm -rf of a directory: it and everything below it are removed, hard-linked bytes counted once", async () => {
  const base = [
    D("opt"),
    D("opt/app"),
    D("opt/app/bin"),
    F("opt/app/bin/run", "12345678", { mode: 0o755 }),
    H("opt/app/bin/run2", "opt/app/bin/run"),
    D("opt/app/lib"),
    F("opt/app/lib/x.so", "xso"),
    F("opt/keep", "k"),
  ];
  const d = await diff([base], [base, [W("opt/.wh.app")]]);
  assert.deepEqual(paths(d.removed), [
    "/opt/app",
    "/opt/app/bin",
    "/opt/app/bin/run",
    "/opt/app/bin/run2",
    "/opt/app/lib",
    "/opt/app/lib/x.so",
  ]);
  assert.equal(d.removed[3]!.hardlinkTo, "/opt/app/bin/run");
  assert.equal(d.removed[3]!.mode, 0o755, "a hard link shows its target's metadata");
  assert.deepEqual(d.changed, []);
  assert.deepEqual(d.added, []);
  assert.equal(d.summary.removedBytes, 8 + 3, "run and run2 are one inode");
  assert.deepEqual(d.summary.totalBytes, { a: 12, b: 1 });
  assert.equal(d.summary.unchanged, 3); // /, /opt, /opt/keep
});

test("an opaque directory in B: lower children removed, the layer's own kept or added", async () => {
  const d = await diff(
    [[D("var"), D("var/cache"), F("var/cache/a", "a"), F("var/cache/b", "b")]],
    [
      [D("var"), D("var/cache"), F("var/cache/a", "a"), F("var/cache/b", "b")],
      [W("var/cache/.wh..wh..opq"), F("var/cache/b", "b"), F("var/cache/c", "c")],
    ],
  );
  assert.deepEqual(paths(d.removed), ["/var/cache/a"]);
  assert.deepEqual(paths(d.added), ["/var/cache/c"]);
  assert.deepEqual(d.changed, [], "b has the same bytes and metadata, though another layer wrote it");
});

test("hard links compare as the file they show", async () => {
  const bb = "busybox!";
  const d = await diff(
    [
      [
        D("bin"),
        F("bin/busybox", bb, { mode: 0o755 }),
        F("bin/ls", "ls-old", { mode: 0o755 }),
        F("bin/cp", bb, { mode: 0o755 }), // a copy with busybox's bytes and metadata
      ],
    ],
    [
      [
        D("bin"),
        F("bin/busybox", bb, { mode: 0o755 }),
        H("bin/cat", "bin/busybox"),
        H("bin/cp", "bin/busybox"),
        H("bin/ls", "bin/busybox"),
      ],
    ],
  );
  assert.deepEqual(d.added, [{ path: "/bin/cat", ...file(bb, { mode: 0o755, hardlinkTo: "/bin/busybox" }) }]);
  assert.deepEqual(d.changed, [
    {
      path: "/bin/ls",
      changes: ["content", "size"],
      before: file("ls-old", { mode: 0o755 }),
      after: file(bb, { mode: 0o755, hardlinkTo: "/bin/busybox" }),
    },
  ]);
  assert.deepEqual(d.removed, []);
  assert.deepEqual(d.summary, {
    added: 1,
    removed: 0,
    changed: 1,
    unchanged: 4, // /, /bin, /bin/busybox, /bin/cp (a copy became a link to the same bytes: no change)
    addedBytes: 0, // /bin/cat's inode is /bin/busybox's, which was there
    removedBytes: 0,
    changedBytes: 8 - 6,
    totalBytes: { a: 8 + 6 + 8, b: 8 },
  });
});

test("identical filesystems from other layers (a file added then whited out, other mtimes): empty diff", async () => {
  const a = await view([[D("etc"), F("etc/a", "x")]]);
  const b = await view([
    [D("etc", { mtime: T + 5 }), F("etc/a", "x", { mtime: T + 9 }), F("tmp/junk", "junk")],
    [W(".wh.tmp")],
  ]);
  const empty = (unchanged: number, bytes: number): ImageDiff => ({
    added: [],
    removed: [],
    changed: [],
    summary: {
      added: 0,
      removed: 0,
      changed: 0,
      unchanged,
      addedBytes: 0,
      removedBytes: 0,
      changedBytes: 0,
      totalBytes: { a: bytes, b: bytes },
    },
  });
  assert.deepEqual(diffViews(a, b), empty(3, 1));
  assert.deepEqual(diffViews(a, a), empty(3, 1));
});

test("a directory's own metadata (the root's too) is a change; a directory whose children changed is not", async () => {
  const d = await diff(
    [[D("opt"), D("etc"), F("etc/hosts", "127.0.0.1 localhost\n")]],
    [
      [D("opt"), D("etc"), F("etc/hosts", "127.0.0.1 localhost\n")],
      [D(".", { mode: 0o700 }), D("opt", { mode: 0o750, uid: 5, gid: 5 }), F("etc/hosts", "::1 localhost\n")],
    ],
  );
  assert.deepEqual(changes(d), {
    "/": ["mode"],
    "/etc/hosts": ["content", "size"],
    "/opt": ["mode", "owner"],
  });
  const opt = d.changed.find((c) => c.path === "/opt")!;
  assert.deepEqual(opt.before, { type: "directory", size: 0, mode: 0o755, uid: 0, gid: 0, layer: 0 });
  assert.deepEqual(opt.after, { type: "directory", size: 0, mode: 0o750, uid: 5, gid: 5, layer: 1 });
});

test("a directory replaced by a file: the type changes (and the mode), its children are removed", async () => {
  const d = await diff([[D("x"), F("x/1", "1"), F("y", "y")]], [[F("x", "now a file"), F("y", "y")]]);
  assert.deepEqual(changes(d), { "/x": ["type", "mode"] });
  assert.deepEqual(paths(d.removed), ["/x/1"]);
  assert.equal(d.summary.removedBytes, 1);
  assert.equal(d.summary.changedBytes, 10, "a directory has no bytes; the file has 10");
});

test("device numbers and xattrs are compared", async () => {
  const cap = (v: string) => new Map([["security.capability", Buffer.from(v)]]);
  const d = await diff(
    [[C("dev/null", 1, 3), C("dev/zero", 1, 5), F("bin/ping", "ping", { xattrs: cap("net_raw") })]],
    [[C("dev/null", 1, 5), C("dev/zero", 1, 5), F("bin/ping", "ping", { xattrs: cap("net_admin") })]],
  );
  assert.deepEqual(changes(d), { "/bin/ping": ["xattrs"], "/dev/null": ["device"] });
  const dev = d.changed.find((c) => c.path === "/dev/null")!;
  assert.deepEqual(
    [dev.before.devmajor, dev.before.devminor, dev.after.devmajor, dev.after.devminor],
    [1, 3, 1, 5],
  );
  const ping = d.changed.find((c) => c.path === "/bin/ping")!;
  assert.deepEqual(ping.after.xattrs, { "security.capability": Buffer.from("net_admin").toString("base64") });
});

test("lists are in UTF-8 byte order of the whole path, though the walks are depth-first", async () => {
  // Depth-first: a, a/b, a-b, a.c; byte order: a, a-b, a.c, a/b ('-' < '.' < '/').
  const d = await diff([[F("z", "z")]], [[D("a"), F("a/b", "1"), F("a-b", "2"), F("a.c", "3"), F("z", "z")]]);
  assert.deepEqual(paths(d.added), ["/a", "/a-b", "/a.c", "/a/b"]);
  // The merged walk pairs a-b with a-b, though "a/b" (only in A) sorts after it byte-wise.
  const m = await diff([[D("a"), F("a/b", "1"), F("a-b", "2")]], [[D("a"), F("a-b", "2")]]);
  assert.deepEqual(paths(m.removed), ["/a/b"]);
  assert.deepEqual(m.added, []);
  assert.equal(m.summary.unchanged, 3);
  const n = await diff([[D("a"), F("a-b", "2")]], [[D("a"), F("a/b", "1"), F("a-b", "2")]]);
  assert.deepEqual(paths(n.added), ["/a/b"]);
  assert.deepEqual(n.removed, []);
  // U+FF61 sorts before U+1F600 by code point (UTF-8), after it by UTF-16 unit: the walk pairs by code point.
  const e = await diff([[F("\uff61", "1"), F("\u{1f600}", "2")]], [[F("\u{1f600}", "2")]]);
  assert.deepEqual(paths(e.removed), ["/\uff61"]);
  assert.deepEqual(e.added, []);
  assert.deepEqual(e.changed, []);
});

test("views built without digests are refused with E_USAGE when files are compared", async () => {
  const layers = [[F("a", "1")]];
  const a = await view(layers, false);
  const b = await view(layers, false);
  assert.throws(
    () => diffViews(a, b),
    (e: unknown) => isOslessError(e, "E_USAGE") && /digests: true/.test(e.hint ?? ""),
  );
});

const info = (name: string): ExplorerImageInfo => ({
  source: name,
  name,
  digest: null,
  id: null,
  platform: null,
});

test("diffImages: when one image's layer is corrupt, the other's view build is stopped and the corruption reported", async () => {
  // A: one 5.6 MB uncompressed layer served slowly (5 ms per 64 KiB chunk: about 0.45 s when read to its end).
  const big = await memLayers([[F("big", randomBytes(4 << 20).toString("base64"))]], { gzip: false });
  const src = big.sources[0]!;
  let pulled = 0;
  const slow = {
    ...src,
    open: async function* () {
      for await (const c of src.open()) {
        await new Promise((r) => setTimeout(r, 5));
        pulled += c.length;
        yield c;
      }
    },
  };
  // B: a small layer whose DiffID is wrong.
  const bad = await memLayers([[F("a", "1")]]);
  const corrupt = { ...bad.sources[0]!, diffId: sha("not this layer") };
  await assert.rejects(
    diffImages({ info: info("a"), layers: [slow] }, { info: info("b"), layers: [corrupt] }),
    (e: unknown) => isOslessError(e, "E_DIGEST_MISMATCH") && /layer/.test(e.message),
  );
  assert.ok(pulled < big.blobs[0]!.length / 2, `A's build stopped early (read ${pulled} bytes)`);
});

test("diffImages: the same layer chain is read once; an aborted signal stops before reading", async () => {
  const layers = [[D("etc"), F("etc/a", "1")], [F("etc/b", "2")]];
  const ma = await memLayers(layers);
  const mb = await memLayers(layers);
  const r = await diffImages(
    { info: info("a"), layers: ma.sources },
    { info: info("b"), layers: mb.sources },
  );
  assert.deepEqual(
    ma.stats.map((s) => s.opens),
    [1, 1],
  );
  assert.deepEqual(
    mb.stats.map((s) => s.opens),
    [0, 0],
  );
  assert.equal(r.a.name, "a");
  assert.equal(r.b.name, "b");
  assert.deepEqual([r.added, r.removed, r.changed], [[], [], []]);
  assert.equal(r.summary.unchanged, 4);
  const ac = new AbortController();
  ac.abort(new Error("stop"));
  const mc = await memLayers([[F("x", "x")]]);
  await assert.rejects(
    diffImages(
      { info: info("a"), layers: ma.sources },
      { info: info("c"), layers: mc.sources },
      { signal: ac.signal },
    ),
    /stop/,
  );
  assert.equal(mc.stats[0]!.opens, 0);
});
