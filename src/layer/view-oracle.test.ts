/**
 * The squashed view against the real unpackers: `umoci unpack` and osless's own `unpackLayers` (both as root, so
 * ownership is kept) of the same image, dumped with Python's lstat. Compared: the set of paths, types, modes (setuid/setgid/sticky included; not for
 * symlinks), uid/gid, sizes, symlink targets, device numbers, xattrs, hard-link groups (same inode <-> same
 * `ino`), mtimes (directories only where an entry defined them), and the sha256 of every file (digests: true).
 *
 * Where umoci 0.4.7 differs by design (a non-directory parent is replaced by a directory, R10, where umoci fails
 * with ENOTDIR; AUFS `.wh..wh.*` entries are ignored where umoci creates them; a directory entry adds xattrs
 * where umoci replaces the set; a hard link's target is resolved before its path is cleared), the view is
 * compared with osless's unpacker only. Escaping names are refused by both osless sides (unit tests).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { IMAGES, ociLayout } from "../../test/fixtures/images.ts";
import { layoutLayerSources } from "../../test/fixtures/layout.ts";
import type { TarWriteEntry, TarWriteItem } from "../tar/index.ts";
import { unpackLayers } from "./unpack.ts";
import { buildView, type SquashedView } from "./view.ts";
import {
  diffDumps,
  dumpRootfs,
  dumpView,
  type Rec,
  requireTool,
  umociUnpack,
  writeLayout,
} from "./view-testkit.ts";

const cleanup: string[] = [];
after(async () => {
  for (const d of cleanup) await rm(d, { recursive: true, force: true });
});

async function unpack(layout: string): Promise<Map<string, Rec>> {
  const rootfs = await umociUnpack(layout);
  cleanup.push(dirname(dirname(rootfs)));
  return dumpRootfs(rootfs);
}

/** osless's unpacker (apply.ts via unpackLayers) into a fresh directory, dumped the same way. */
async function unpackOsless(layout: string): Promise<Map<string, Rec>> {
  if (process.getuid?.() !== 0) throw new Error("the unpacker oracle needs root (ownership, device nodes)");
  const work = await mkdtemp(join(tmpdir(), "osless-view-unpack-"));
  cleanup.push(work);
  const dest = join(work, "rootfs");
  const umask = process.umask(0o022);
  try {
    await unpackLayers(layoutLayerSources(layout), dest);
  } finally {
    process.umask(umask);
  }
  return dumpRootfs(dest);
}

/**
 * Compare the view of `layout:latest` with umoci's unpack and with osless's; `umociTimes` lists directories
 * whose mtime umoci leaves at the unpack time (see below).
 */
async function compare(
  layout: string,
  umociTimes: string[] = [],
): Promise<{ oracle: Map<string, Rec>; view: SquashedView }> {
  const view = await buildView(layoutLayerSources(layout), { digests: true });
  const ours = dumpView(view);
  const oracle = await unpack(layout);
  const diff = diffDumps(oracle, ours, { dirTimes: true, ignoreTimes: umociTimes });
  assert.deepEqual(diff.slice(0, 50), [], `${diff.length} differences from umoci unpack`);
  assert.equal(view.size, oracle.size);
  await compareOsless(layout, view);
  return { oracle, view };
}

async function compareOsless(
  layout: string,
  view: SquashedView,
  ignoreTimes: string[] = [],
): Promise<Map<string, Rec>> {
  const osless = await unpackOsless(layout);
  const diff = diffDumps(osless, dumpView(view), { dirTimes: true, ignoreTimes });
  assert.deepEqual(diff.slice(0, 50), [], `${diff.length} differences from osless's unpackLayers`);
  assert.equal(view.size, osless.size);
  return osless;
}

test("IMAGES.twoLayers: the view is what umoci and osless unpack (whiteout of /usr/bin/wget, changed /etc/passwd)", async () => {
  const { oracle, view } = await compare(await ociLayout(IMAGES.twoLayers));
  assert.ok(oracle.has("etc/motd") && !oracle.has("usr/bin/wget") && oracle.has("bin/busybox"));
  assert.equal(view.layers[1]!.changes.find((c) => c.path === "usr/bin/wget")?.kind, "removed");
});

test("IMAGES.debian: the view is what umoci and osless unpack, file for file, sha256 for sha256", async () => {
  const { oracle, view } = await compare(await ociLayout(IMAGES.debian));
  assert.ok(oracle.size > 5000, `${oracle.size} paths`);
  const setuid = [...oracle].filter(([, r]) => r.type === "file" && (r.mode & 0o4000) !== 0);
  assert.ok(setuid.length > 0, "debian minbase has setuid programs (su, passwd, ...)");
  assert.ok(
    [...oracle.values()].some((r) => r.group !== undefined),
    "and hard links",
  );
  assert.match(await view.readFileBuffer("/etc/os-release", 4096).then(String), /ID=debian/);
});

const T = 1_700_000_000;
const F = (path: string, data: string = path, extra: Partial<TarWriteEntry> = {}): TarWriteItem => ({
  entry: { path, type: "file", mode: 0o644, mtime: T, ...extra },
  body: Buffer.from(data),
});
const D = (path: string, extra: Partial<TarWriteEntry> = {}): TarWriteItem => ({
  entry: { path, type: "directory", mode: 0o755, mtime: T, ...extra },
});
const S = (path: string, linkpath: string): TarWriteItem => ({
  entry: { path, type: "symlink", linkpath, mtime: T },
});
const H = (path: string, linkpath: string): TarWriteItem => ({
  entry: { path, type: "hardlink", linkpath, mtime: T },
});
const W = (path: string): TarWriteItem => ({
  entry: { path, type: "file", mode: 0, mtime: 0 },
  body: Buffer.alloc(0),
});

test("a 3-layer image of whiteouts, opaque markers, symlinked parents, hard links and type changes", async () => {
  const layers: TarWriteItem[][] = [
    [
      D("./"),
      D("etc"),
      F("etc/passwd", "root:x:0:0::/root:/bin/sh\n"),
      F("etc/shadow", "root:*:1::::::\n", { mode: 0o640, gid: 42 }),
      F("etc/w"),
      S("etc/os-release", "../usr/lib/os-release"),
      D("usr"),
      D("usr/lib"),
      F("usr/lib/os-release", "ID=osless-test\n"),
      D("usr/bin"),
      F("usr/bin/su", "su", { mode: 0o4755 }),
      F("usr/bin/a", "A", { mode: 0o755, uid: 3 }),
      H("usr/bin/b", "/usr/bin/a"),
      S("usr/bin/sl", "a"),
      H("usr/bin/hsl", "usr/bin/sl"),
      D("d", { mode: 0o700, uid: 5 }),
      F("d/old"),
      D("d/sub"),
      F("d/sub/x"),
      D("o", { mode: 0o750 }),
      F("o/old"),
      D("o/sub", { mode: 0o700, uid: 7 }),
      F("o/sub/y"),
      S("o/l", ".."),
      S("o/bad", "../../etc/shadow"),
      D("w"),
      F("w/a", "a0"),
      F("w/b", "b0"),
      F("w/c", "c0"),
      D("keep"),
      F("keep/f1"),
      F("keep/f2"),
      D("dev"),
      { entry: { path: "dev/fifo", type: "fifo", mode: 0o620, mtime: T } },
      { entry: { path: "dev/null", type: "char", mode: 0o666, devmajor: 1, devminor: 3, mtime: T } },
      { entry: { path: "dev/sda", type: "block", mode: 0o660, gid: 6, devmajor: 8, devminor: 0, mtime: T } },
      S("le", "/etc"),
      S("dl", "/dne"),
      D("rep"),
      F("rep/child"),
      F("rep2"),
      S("sd", "/etc"),
      D("setgid", { mode: 0o2775, gid: 50 }),
      D("sticky", { mode: 0o1777 }),
      F("xa", "x", { xattrs: new Map([["user.test", Buffer.from([0, 255, 1])]]) }),
      F("dup"),
    ],
    [
      W("w/.wh.b"),
      F("w/a", "a1"),
      F("w/b", "b1"),
      W("w/.wh.a"),
      W("w/.wh.c"),
      D("o", { mode: 0o755, uid: 4 }),
      F("o/new"),
      F("o/sub/z"),
      W("o/.wh..wh..opq"),
      W("le/.wh.w"),
      F("le/x", "through le"),
      W(".wh.d"),
      F("rep", "now a file"),
      D("rep2"),
      F("rep2/in"),
      D("sd"),
      H("sd/p", "etc/passwd"),
      F("usr/bin/a", "A2"),
      F("dup", "1"),
      F("dup", "2"),
      H("hp", "le/passwd"),
      S("dl2", "/dne2"),
      F(".wh.etc/f", "an ordinary name"),
    ],
    [
      D("d", { mode: 0o711 }),
      F("d/new"),
      W("usr/bin/.wh.sl"),
      F("keep/f3"),
      W("keep/.wh..wh..opq"),
      F("etc/passwd", "root:x:0:0::/root:/bin/sh\n", { mode: 0o600 }),
      S("dup", "rep2"),
      W("dl/.wh.x"),
      W(".wh.nothing"),
      W("dne/../.wh.rep"),
      F("le/y", "through le again"),
      D("usr/bin", { mode: 0o700 }),
      H("usr/bin/c", "usr/bin/hsl"),
    ],
  ];
  const layout = await writeLayout(layers);
  cleanup.push(dirname(layout));
  // umoci restores the times of an entry's parent only: "." gets the unpack time when `.wh.etc/f` creates the
  // implicit directory `.wh.etc` in it, and o/sub when the opaque marker of o removes o/sub/y. The view keeps the
  // header times (R14: directory times set after all children).
  const { oracle, view } = await compare(layout, [".", "o/sub"]);
  // The scenario does what it says (checked on umoci's side).
  for (const p of [
    "etc/x",
    "etc/y",
    "w/a",
    "w/b",
    "o/new",
    "o/sub/z",
    "d/new",
    "keep/f3",
    "sd/p",
    "usr/bin/hsl",
  ]) {
    assert.ok(oracle.has(p), p);
  }
  for (const p of [
    "etc/w",
    "w/c",
    "o/old",
    "o/sub/y",
    "o/l",
    "d/old",
    "keep/f1",
    "usr/bin/sl",
    "rep",
    "dne",
  ]) {
    assert.ok(!oracle.has(p), p);
  }
  assert.deepEqual(oracle.get("usr/bin/c")?.group, ["usr/bin/c", "usr/bin/hsl"]);
  assert.equal(view.get("d")?.addedIn, 2);
  assert.equal(view.get("o/sub")?.uid, 7);
});

test("an image whose top layer umoci repack generated (dir removed, file to dir, dir to symlink, hard links)", async () => {
  requireTool("umoci", "umoci");
  const work = await mkdtemp(join(tmpdir(), "osless-view-repack-"));
  cleanup.push(work);
  const layout = join(work, "oci");
  await cp(await ociLayout(IMAGES.twoLayers), layout, { recursive: true });
  const bundle = join(work, "bundle");
  const sh = (script: string) =>
    execFileSync("sh", ["-c", `umask 022 && set -e && ${script}`, "sh", layout, bundle], { stdio: "pipe" });
  sh('umoci unpack --image "$1:latest" "$2" >/dev/null');
  sh(
    [
      'R="$2/rootfs"',
      'rm -rf "$R/usr/sbin" "$R/bin/ls" "$R/etc/motd"',
      'mkdir -p "$R/opt/app" "$R/etc/motd"',
      'echo hi > "$R/opt/app/x"',
      'ln "$R/opt/app/x" "$R/opt/app/y"',
      'chmod 4750 "$R/opt/app/x"',
      'chown 12:34 "$R/opt/app/y"',
      'echo m > "$R/etc/motd/m"',
      'rm -rf "$R/tmp"',
      'ln -s /var/tmp "$R/tmp"',
      'umoci repack --image "$1:latest" "$2"',
    ].join(" && "),
  );
  const { view } = await compare(layout);
  assert.equal(view.layers.length, 3);
  const removed = view.layers[2]!.changes.filter((c) => c.kind === "removed").map((c) => c.path);
  assert.ok(removed.includes("usr/sbin") && removed.includes("bin/ls"), removed.join(" "));
  assert.equal(view.get("opt/app/x")?.ino, view.get("opt/app/y")?.ino);
});

test("where umoci differs by design, the view is what osless's unpacker makes", async () => {
  const xattr = (k: string, v: string) => new Map([[k, Buffer.from(v)]]);
  const layout = await writeLayout([
    [
      F("n", "a file"),
      D("etc"),
      F("etc/passwd"),
      F("etc/f", "F"),
      S("lp", "/etc/passwd"),
      S("l", "/etc"),
      D("x", { xattrs: xattr("user.a", "1") }),
      F("x/f"),
      F(".wh..wh.plnk/1.2"),
    ],
    [
      F("n/a/b", "R10"),
      F("lp/x", "R10 through a symlink to a file"),
      H("l", "l/f"),
      D("x", { xattrs: xattr("user.b", "2") }),
      W(".wh..wh.aufs"),
    ],
  ]);
  cleanup.push(dirname(layout));
  const view = await buildView(layoutLayerSources(layout), { digests: true });
  // apply.ts leaves etc's mtime at the unpack time when R10 replaces etc/passwd by a directory (a removal in etc
  // whose time it does not restore); the view keeps the header time.
  const osless = await compareOsless(layout, view, ["etc"]);
  assert.equal(osless.get("n")?.type, "directory");
  assert.equal(osless.get("etc/passwd")?.type, "directory");
  assert.deepEqual(osless.get("x")?.xattrs, { "user.a": "31", "user.b": "32" });
  assert.deepEqual(osless.get("l")?.group, ["etc/f", "l"]);
  assert.ok(!osless.has(".wh..wh.plnk"));
});
