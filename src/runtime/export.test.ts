/**
 * The export's union walk against the kernel: three layer dirs made by hand with every overlay convention (0:0
 * whiteouts of files and directories, opaque dirs, overlay xattrs, hard links in a lower layer and in the upper
 * one, names that are not UTF-8, devices, FIFOs, a socket) are mounted with `mount -t overlay` (read-only), and
 * the exported tar, extracted by GNU tar, must equal the mount: types, modes, owners, whole-second mtimes,
 * contents, link targets, device numbers, xattrs and which names share an inode.
 */
import assert from "node:assert/strict";
import { isUtf8 } from "node:buffer";
import { execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  type BigIntStats,
  chmodSync,
  closeSync,
  createReadStream,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { needTool, tmpdir } from "../../test/fixtures/tools.ts";
import { getXattr, listXattrs, setXattr } from "../_internal/xattr.ts";
import { readTar } from "../tar/index.ts";
import { type ExportWarning, exportTree, readUnionDir } from "./export.ts";

const mounts: string[] = [];
after(() => {
  for (const m of mounts.reverse()) {
    try {
      execFileSync("umount", [m]);
    } catch {
      // already unmounted
    }
  }
});

const BAD_NAME = Buffer.from([0x62, 0x61, 0x64, 0xff]); // "bad\xff": not UTF-8
const BAD_DIR = Buffer.from([0x64, 0x69, 0x72, 0xfe]); // "dir\xfe"
const LONG = `${"long-directory-name-".repeat(6)}/${"f".repeat(120)}`;

function p(root: string, ...parts: (string | Buffer)[]): Buffer {
  return Buffer.concat(
    [root, ...parts].flatMap((x, i) => (i === 0 ? [Buffer.from(x)] : [Buffer.from("/"), Buffer.from(x)])),
  );
}

function file(path: Buffer | string, data: string | Buffer, mode = 0o644, mtime = 1_600_000_000): void {
  writeFileSync(path, data);
  chmodSync(path, mode);
  utimesSync(path, mtime, mtime);
}

function dir(path: Buffer | string, mode = 0o755): void {
  mkdirSync(path, { recursive: true });
  chmodSync(path, mode);
}

function mknod(path: string, type: "c" | "b" | "p", major?: number, minor?: number): void {
  const args = [path, type];
  if (type !== "p") args.push(String(major), String(minor));
  execFileSync("mknod", args);
}

const whiteout = (path: string) => mknod(path, "c", 0, 0);
const opaque = (path: string) => setXattr(path, "trusted.overlay.opaque", Buffer.from("y"));

/** bottom (L2), middle (L1) and the upper dir, every overlay case in them. */
async function layers(base: string): Promise<{ upper: string; l1: string; l2: string }> {
  const l2 = join(base, "l2");
  const l1 = join(base, "l1");
  const upper = join(base, "upper");
  for (const d of [l1, l2, upper]) dir(d);

  // Bottom layer.
  dir(join(l2, "a"));
  file(join(l2, "a/x"), "lower x\n");
  file(join(l2, "a/y"), "lower y\n");
  dir(join(l2, "keep"));
  file(join(l2, "keep/k1"), "k1\n", 0o600);
  file(join(l2, "del"), "deleted by L1\n");
  dir(join(l2, "gone/deeper"));
  file(join(l2, "gone/deeper/g"), "in a dir L1 whites out\n");
  dir(join(l2, "opq"));
  file(join(l2, "opq/old"), "hidden by the opaque dir above\n");
  file(join(l2, "file-then-dir"), "a file the layer above makes a directory\n");
  dir(join(l2, "dir-then-file/sub"));
  file(join(l2, "dir-then-file/sub/c"), "child\n");
  file(join(l2, "h1"), "hard linked in the bottom layer\n", 0o640);
  linkSync(join(l2, "h1"), join(l2, "h2"));
  linkSync(join(l2, "h1"), join(l2, "h3")); // h3 is replaced by the upper layer: only h1 and h2 stay linked
  symlinkSync("a/x", join(l2, "s"));
  symlinkSync("/nowhere/at/all", join(l2, "dangling"));
  mknod(join(l2, "fifo"), "p");
  mknod(join(l2, "null"), "c", 1, 3);
  mknod(join(l2, "loop0"), "b", 7, 0);
  mknod(join(l2, "big-dev"), "c", 4000, 300000);
  whiteout(join(l2, "wo-bottom")); // a whiteout in the bottom layer hides nothing but is not shown either
  file(join(l2, "caps"), "file with a capability\n", 0o755);
  setXattr(
    join(l2, "caps"),
    "security.capability",
    Buffer.from("0100000200200000000000000000000000000000", "hex"),
  );
  setXattr(join(l2, "caps"), "user.note", Buffer.from("kept"));
  file(p(l2, BAD_NAME), "a name that is not UTF-8\n");
  dir(p(l2, BAD_DIR));
  file(p(l2, BAD_DIR, "child"), "under a directory whose name is not UTF-8\n");
  const badFd = openSync(p(l2, BAD_DIR), "r");
  setXattr(`/proc/self/fd/${badFd}/.`, "user.bad-dir", Buffer.from("read through its fd"));
  closeSync(badFd);
  dir(join(l2, LONG.split("/")[0]!));
  file(join(l2, LONG), "a long path\n");
  lchownSync(join(l2, "keep/k1"), 1000, 1001);
  lchownSync(join(l2, "s"), 33, 33);
  lchownSync(join(l2, "a"), 2_500_000, 3_000_000); // beyond ustar's octal fields: PAX uid/gid

  // Middle layer.
  whiteout(join(l1, "del"));
  whiteout(join(l1, "gone"));
  dir(join(l1, "opq"));
  opaque(join(l1, "opq"));
  file(join(l1, "opq/new"), "only this in opq\n");
  dir(join(l1, "file-then-dir"));
  file(join(l1, "file-then-dir/inside"), "now a directory\n");
  file(join(l1, "dir-then-file"), "now a file\n");
  dir(join(l1, "a"), 0o750);
  file(join(l1, "a/z"), "z from L1\n");
  file(join(l1, "big"), randomBytes(3 << 20)); // several read chunks
  file(join(l1, ".wh.not-a-whiteout-here"), "an ordinary file on disk (overlay whiteouts are devices)\n");

  // Upper dir, as the kernel leaves it after a container ran.
  dir(join(upper, "a"), 0o700);
  file(join(upper, "a/x"), "changed in the container\n");
  setXattr(join(upper, "a/x"), "trusted.overlay.origin", Buffer.from("fake origin"));
  whiteout(join(upper, "a/y"));
  dir(join(upper, "keep"));
  file(join(upper, "keep/k1"), "k1\n", 0o755); // chmod'ed: copied up
  file(join(upper, "h3"), "h3 replaced\n");
  file(join(upper, "u"), "new in the container\n");
  linkSync(join(upper, "u"), join(upper, "u-link"));
  file(join(upper, "spooled"), randomBytes((8 << 20) + 12345)); // over the in-memory limit when mutable
  dir(join(upper, "gone"));
  opaque(join(upper, "gone")); // recreated after L1 whited it out
  file(join(upper, "gone/fresh"), "fresh\n");
  dir(join(upper, "proc"));
  // A socket left by a process of the container (bound, never unlinked).
  execFileSync(needTool("python3", "python3"), [
    "-c",
    "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])",
    join(upper, "sock"),
  ]);
  utimesSync(join(upper, "a"), 1_700_000_000, 1_700_000_000);
  return { upper, l1, l2 };
}

/** Everything GNU tar can carry about each path under `root` (names as hex when not UTF-8), sockets left out. */
function listing(root: string): string[] {
  const nodes: { rel: Buffer; st: BigIntStats; line: string }[] = [];
  const walk = (rel: Buffer) => {
    const abs = rel.length === 0 ? Buffer.from(root) : p(root, rel);
    for (const n of readdirSync(abs, { encoding: "buffer" }).sort(Buffer.compare)) {
      const r = rel.length === 0 ? n : Buffer.concat([rel, Buffer.from("/"), n]);
      const a = p(root, r);
      const st = lstatSync(a, { bigint: true });
      if (st.isSocket()) continue;
      const type = st.isFile()
        ? "f"
        : st.isDirectory()
          ? "d"
          : st.isSymbolicLink()
            ? "l"
            : st.isCharacterDevice()
              ? "c"
              : st.isBlockDevice()
                ? "b"
                : "p";
      let extra = "";
      if (type === "f") extra = createHash("sha256").update(readFileSync(a)).digest("hex");
      if (type === "l") extra = readlinkSync(a, { encoding: "buffer" }).toString("hex");
      if (type === "c" || type === "b") extra = String(st.rdev);
      // The addon takes UTF-8 paths: the xattrs of names that are not are checked on the archive instead.
      const xa = (isUtf8(a) ? listXattrs(a.toString()) : [])
        .filter((x) => !x.startsWith("trusted.overlay."))
        .sort()
        .map((x) => `${x}=${getXattr(a.toString(), x)?.toString("hex")}`)
        .join(",");
      const name = r.toString("hex");
      const line = `${type} ${name} ${(st.mode & 0o7777n).toString(8)} ${st.uid}:${st.gid} ${st.mtimeNs / 1_000_000_000n} ${st.size * (type === "f" ? 1n : 0n)} ${extra} [${xa}]`;
      nodes.push({ rel: r, st, line });
      if (type === "d") walk(r);
    }
  };
  walk(Buffer.alloc(0));
  // Hard links: each name that shares an inode with an earlier one says which.
  const first = new Map<string, string>();
  return nodes.map(({ rel, st, line }) => {
    if (st.isDirectory() || st.nlink < 2n) return line;
    const key = `${st.dev}:${st.ino}`;
    const f = first.get(key);
    if (f === undefined) {
      first.set(key, rel.toString("hex"));
      return line;
    }
    return `${line} =${f}`;
  });
}

test("the export of an overlay equals the kernel's mount of it, read by GNU tar", async () => {
  needTool("mount", "mount");
  const tar = needTool("tar", "tar");
  needTool("mknod", "coreutils");
  const base = await tmpdir("export-unit");
  const { upper, l1, l2 } = await layers(base);
  const mnt = join(base, "mnt");
  dir(mnt);
  execFileSync("mount", ["-t", "overlay", "overlay", "-o", `ro,lowerdir=${upper}:${l1}:${l2}`, mnt]);
  mounts.push(mnt);

  const warnings: ExportWarning[] = [];
  const out = join(base, "export.tar");
  const r = await exportTree({ layers: [upper, l1, l2], overlay: true, mutableTop: false }, out, {
    onWarning: (w) => warnings.push(w),
  });
  assert.equal(r.path, out);
  assert.equal(r.bytes, lstatSync(out).size);
  assert.deepEqual(
    warnings.map((w) => [w.code, w.path]),
    [
      ["xattrs-unreadable", "/bad\ufffd"],
      ["socket-skipped", "/sock"],
    ],
  );

  const x = join(base, "x");
  dir(x);
  execFileSync(tar, ["--xattrs", "--xattrs-include=*", "-xpf", out, "-C", x]);
  const seen = listing(mnt);
  assert.ok(seen.length > 30 && seen.filter((l) => / =/.test(l)).length === 2, seen.join("\n"));
  assert.deepEqual(listing(x), seen);

  // What the archive holds, as our reader sees it: no whiteouts, no overlay xattrs, sorted, docker's names.
  const names: string[] = [];
  let hardlinks = 0;
  let badDirSeen = false;
  for await (const e of readTar(createReadStream(out))) {
    const h = e.header;
    const name = h.pathBytes.toString("latin1");
    names.push(name);
    assert.ok(!name.startsWith("./") && !name.startsWith("/"), name);
    assert.equal(name.endsWith("/"), h.type === "directory", name);
    assert.ok(!(h.type === "char" && h.devmajor === 0 && h.devminor === 0), `whiteout ${name}`);
    for (const k of h.xattrs.keys()) assert.ok(!k.startsWith("trusted.overlay."), `${name}: ${k}`);
    if (h.type === "hardlink") hardlinks++;
    if (h.pathBytes.equals(Buffer.concat([BAD_DIR, Buffer.from("/")]))) {
      assert.equal(h.xattrs.get("user.bad-dir")?.toString(), "read through its fd");
      badDirSeen = true;
    }
    for await (const _ of e.body()) {
    }
  }
  const sorted = [...names].sort((a, b) => {
    const ka = Buffer.from(a.replace(/\/$/, "").split("/").join("\0"), "latin1");
    const kb = Buffer.from(b.replace(/\/$/, "").split("/").join("\0"), "latin1");
    return Buffer.compare(ka, kb);
  });
  assert.deepEqual(names, sorted, "entries in path order, a directory followed by its contents");
  assert.ok(badDirSeen);
  assert.equal(hardlinks, 2, "h2 -> h1 and u-link -> u");
  assert.ok(!names.some((n) => /(^|\/)(del|a\/y|wo-bottom|opq\/old|gone\/deeper)/.test(n)), names.join("\n"));
  assert.ok(names.includes(".wh.not-a-whiteout-here"));

  // A mutable top layer (a running container's) reads each of its files once: same archive when nothing moves.
  const out2 = join(base, "export-mutable.tar");
  await exportTree({ layers: [upper, l1, l2], overlay: true, mutableTop: true, spoolDir: base }, out2);
  assert.ok(readFileSync(out2).equals(readFileSync(out)), "a mutable top layer gives the same bytes");
  assert.deepEqual(
    readdirSync(base).filter((n) => n.startsWith(".export-")),
    [],
    "the spool directory is removed",
  );
});

test("readUnionDir lists a merged directory as overlayfs does", async () => {
  const base = await tmpdir("export-readdir");
  const { upper, l1, l2 } = await layers(base);
  const names = (rel: string, merged: number[]) =>
    readUnionDir([upper, l1, l2], Buffer.from(rel), merged).map((e) => [
      e.name.toString("latin1"),
      e.layer,
      e.merged,
    ]);
  assert.deepEqual(names("a", [0, 1, 2]), [
    ["x", 0, []],
    ["z", 1, []],
  ]);
  const root = readUnionDir([upper, l1, l2], Buffer.alloc(0), [0, 1, 2]);
  const opq = root.find((e) => e.name.toString() === "opq")!;
  assert.deepEqual(opq.merged, [1], "an opaque dir merges nothing below it");
  assert.deepEqual(names("opq", opq.merged), [["new", 1, []]]);
  const gone = root.find((e) => e.name.toString() === "gone")!;
  assert.deepEqual(gone.merged, [0], "an opaque upper dir merges nothing below it");
  const a = root.find((e) => e.name.toString() === "a")!;
  assert.deepEqual(a.merged, [0, 1, 2]);
  assert.equal(root.find((e) => e.name.toString() === "dir-then-file")!.st.isFile(), true);
  assert.equal(root.find((e) => e.name.toString() === "file-then-dir")!.st.isDirectory(), true);
  assert.deepEqual(root.find((e) => e.name.toString() === "file-then-dir")!.merged, [1]);
  for (const hidden of ["del", "wo-bottom"])
    assert.equal(
      root.find((e) => e.name.toString() === hidden),
      undefined,
    );
});

test("a plain directory (--rootfs copy) is exported as it is: a 0:0 device there is a device", async () => {
  const tar = needTool("tar", "tar");
  const base = await tmpdir("export-plain");
  const root = join(base, "rootfs");
  dir(join(root, "etc"));
  file(join(root, "etc/hostname"), "plain\n");
  mknod(join(root, "zero-zero"), "c", 0, 0);
  dir(join(root, "o"));
  opaque(join(root, "o"));
  file(join(root, "o/kept"), "kept\n");
  const out = join(base, "plain.tar");
  await exportTree({ layers: [root], overlay: false, mutableTop: true, spoolDir: base }, out);
  const list = execFileSync(tar, ["-tvf", out], { encoding: "utf8" });
  assert.match(list, /^c.* 0,0 .*zero-zero$/m);
  assert.match(list, / o\/kept$/m);
  assert.match(list, / etc\/hostname$/m);
  assert.doesNotMatch(list, /trusted/);
});

test("errors: a missing layer directory, an unwritable output; a failed export leaves no file", async () => {
  const base = await tmpdir("export-errors");
  const root = join(base, "rootfs");
  dir(root);
  file(join(root, "f"), "f\n");
  await assert.rejects(
    exportTree({ layers: [join(base, "nope"), root], overlay: true, mutableTop: false }, join(base, "o.tar")),
    (e: Error & { code?: string }) =>
      e.code === "E_IO" && /layer directory of the container is missing/.test(e.message),
  );
  assert.deepEqual(readdirSync(base), ["rootfs"]);
  await assert.rejects(
    exportTree({ layers: [root], overlay: false, mutableTop: false }, join(base, "no/such/dir/o.tar")),
    (e: Error & { code?: string; hint?: string }) =>
      e.code === "E_IO" && /no\/such\/dir does not exist/.test(e.hint ?? ""),
  );
  await assert.rejects(
    exportTree({ layers: [root], overlay: false, mutableTop: false }, join(root, "f/o.tar")),
    (e: Error & { code?: string; hint?: string }) =>
      e.code === "E_IO" && /ENOTDIR/.test(e.message) && /is not a directory/.test(e.hint ?? ""),
  );
  await assert.rejects(
    exportTree({ layers: [root], overlay: false, mutableTop: false }, "/proc/o.tar"),
    (e: Error & { code?: string; hint?: string }) =>
      e.code === "E_IO" && /does not take new files/.test(e.hint ?? ""),
  );
  await assert.rejects(
    exportTree({ layers: [root], overlay: false, mutableTop: false }, base),
    (e: Error & { code?: string }) => e.code === "E_IO" && /is a directory/.test(e.message),
  );
  // Aborted half-way: the partial file is removed.
  const ac = new AbortController();
  ac.abort(new Error("stop"));
  await assert.rejects(
    exportTree({ layers: [root], overlay: false, mutableTop: false }, join(base, "aborted.tar"), {
      signal: ac.signal,
    }),
  );
  assert.deepEqual(readdirSync(base), ["rootfs"]);
});

test("a mutable top layer that changes all the time: every export completes and GNU tar reads it", async () => {
  const tar = needTool("tar", "tar");
  const base = await tmpdir("export-churn");
  const { upper, l1, l2 } = await layers(base);
  // Files appended to, rewritten over the in-memory limit, replaced, hard linked, directories removed and made.
  const churn = spawn(
    "sh",
    [
      "-c",
      `cd "$1"; i=0; while :; do i=$((i+1)); echo $i >> log; head -c 9000000 /dev/zero > big; rm -rf d; mkdir -p d/e; echo f > d/e/f; rm -f f; echo $i > f; ln -f f g; rm -f a/x; echo $i > a/x; done`,
      "sh",
      upper,
    ],
    { stdio: "ignore" },
  );
  try {
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 8; i++) {
      const out = join(base, `churn-${i}.tar`);
      await exportTree({ layers: [upper, l1, l2], overlay: true, mutableTop: true, spoolDir: base }, out);
      const list = execFileSync(tar, ["-tvf", out], { encoding: "utf8" });
      assert.match(list, / opq\/new$/m);
      for (const m of list.matchAll(/^-\S+ \S+ +(\d+) .* big$/gm)) assert.ok(Number(m[1]) <= 9_000_000);
    }
  } finally {
    churn.kill("SIGKILL");
  }
  assert.deepEqual(
    readdirSync(base).filter((n) => n.startsWith(".export-")),
    [],
  );
});
