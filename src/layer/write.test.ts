// writeLayer: determinism (same tree made in another order -> same bytes), layer order, every entry type read
// back by GNU tar, Python tarfile and our reader, xattrs, SOURCE_DATE_EPOCH, the fixed gzip header, streaming of
// big files in bounded memory, and refusals (which leave no file behind).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { getXattr } from "../_internal/xattr.ts";
import { isOslessError } from "../errors.ts";
import { readTar, type TarHeader } from "../tar/index.ts";
import { pythonDump, requireTool, tempDir } from "../tar/testkit.ts";
import { diffTrees } from "./diff.ts";
import {
  compareLayerPaths,
  type LayerEntry,
  opaqueEntry,
  sortLayerEntries,
  whiteoutEntry,
  writeLayer,
} from "./write.ts";

let dir = "";
before(() => {
  for (const [cmd, pkg] of [
    ["tar", "tar"],
    ["gzip", "gzip"],
    ["python3", "python3"],
    ["getfattr", "attr"],
    ["setfattr", "attr"],
  ] as const) {
    requireTool(cmd, pkg);
  }
  dir = tempDir("layer-write");
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const CAP = Buffer.from("0100000200200000000000000000000000000000", "hex"); // cap_net_raw+p
let seq = 0;
const fresh = (tag: string) => {
  const p = join(dir, `${tag}-${++seq}`);
  mkdirSync(p, { recursive: true });
  return p;
};
const sh = (script: string, cwd: string) => execFileSync("sh", ["-ec", script], { cwd, stdio: "pipe" });
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

async function headers(file: string): Promise<{ h: TarHeader; data?: Buffer }[]> {
  const raw = readFileSync(file);
  const tar = raw[0] === 0x1f ? gunzipSync(raw) : raw;
  const out: { h: TarHeader; data?: Buffer }[] = [];
  async function* src() {
    yield tar;
  }
  for await (const e of readTar(src())) {
    if (e.header.type === "file") {
      const parts: Buffer[] = [];
      for await (const c of e.body()) parts.push(Buffer.from(c));
      out.push({ h: e.header, data: Buffer.concat(parts) });
    } else out.push({ h: e.header });
  }
  return out;
}

const base = { mode: 0o644, uid: 0, gid: 0, mtime: 1_600_000_000 };
const d = (path: string, extra: Partial<LayerEntry> = {}): LayerEntry => ({
  path,
  type: "directory",
  ...base,
  mode: 0o755,
  ...extra,
});
const f = (path: string, body: string | Buffer, extra: Partial<LayerEntry> = {}): LayerEntry => ({
  path,
  type: "file",
  ...base,
  body: Buffer.isBuffer(body) ? body : Buffer.from(body),
  ...extra,
});

/** A small tree with every entry type, made on disk in the given order (or reversed) with messy atimes. */
function makeTree(root: string, reverse: boolean): void {
  const dirs = ["etc/ssl", "usr/bin", "var/empty", "'sp ace'", "é"];
  const files = [
    "printf 'root:x:0:0::/root:/bin/sh\\n' > etc/passwd",
    "printf 'key' > etc/ssl/key && chmod 600 etc/ssl/key && chown 1:2 etc/ssl/key",
    "head -c 70000 /dev/zero | tr '\\0' a > usr/bin/tool && chmod 4755 usr/bin/tool",
    "ln -s ../etc/passwd usr/pw",
    "mknod var/null c 1 3 && mknod var/blk b 7 0 && mkfifo var/fifo",
    "printf x > 'sp ace/f' && printf y > é/ü",
  ];
  const after = [
    "ln usr/bin/tool usr/bin/tool-link",
    `setfattr -n security.capability -v 0x${CAP.toString("hex")} usr/bin/tool`,
    "setfattr -n user.note -v hello etc/passwd",
  ];
  const order = <T>(xs: T[]) => (reverse ? [...xs].reverse() : xs);
  sh(`mkdir -p ${order(dirs).join(" ")}`, root);
  for (const s of [...order(files), ...order(after)]) sh(s, root);
  sh(
    `find . -mindepth 1 -exec touch -h -a -d @${reverse ? 1_000 : 2_000_000_000} {} + ; ` +
      "find . -mindepth 1 -exec touch -h -m -d @1650000000 {} + ; find . -mindepth 1 -type d -exec chmod 755 {} +",
    root,
  );
}

test("determinism: the same tree made in two different orders (other inodes, atimes, ctimes) -> identical blob", async () => {
  const empty = fresh("empty");
  const a = fresh("tree-a");
  const b = fresh("tree-b");
  makeTree(a, false);
  makeTree(b, true);
  assert.notEqual(lstatSync(join(a, "etc/passwd")).ino, lstatSync(join(b, "etc/passwd")).ino);
  const la = await writeLayer(await diffTrees(empty, a), join(dir, "det-a.tgz"));
  const lb = await writeLayer(await diffTrees(empty, b), join(dir, "det-b.tgz"));
  // Entries in another order, twice more: still the same bytes.
  const shuffled = (await diffTrees(empty, a)).reverse();
  const lc = await writeLayer(shuffled, join(dir, "det-c.tgz"));
  assert.deepEqual(lb, la);
  assert.deepEqual(lc, la);
  assert.ok(readFileSync(join(dir, "det-a.tgz")).equals(readFileSync(join(dir, "det-b.tgz"))));
  assert.ok(readFileSync(join(dir, "det-a.tgz")).equals(readFileSync(join(dir, "det-c.tgz"))));
  // The descriptor and DiffID describe the files.
  const blob = readFileSync(join(dir, "det-a.tgz"));
  assert.equal(la.descriptor.digest, `sha256:${sha(blob)}`);
  assert.equal(la.descriptor.size, blob.length);
  assert.equal(la.descriptor.mediaType, "application/vnd.oci.image.layer.v1.tar+gzip");
  assert.equal(la.diffId, `sha256:${sha(gunzipSync(blob))}`);
  assert.equal(la.uncompressedSize, gunzipSync(blob).length);
  assert.equal(la.entries, (await headers(join(dir, "det-a.tgz"))).length);
});

test("one changed byte, mode or time changes both digests", async () => {
  const entries = [d("a"), f("a/x", "hello")];
  const ref = await writeLayer(entries, join(dir, "one-ref.tgz"));
  for (const [what, variant] of [
    ["content", [d("a"), f("a/x", "hellp")]],
    ["mode", [d("a"), f("a/x", "hello", { mode: 0o640 })]],
    ["mtime", [d("a"), f("a/x", "hello", { mtime: base.mtime + 1 })]],
    ["parent", [d("a", { uid: 5 }), f("a/x", "hello")]],
  ] as const) {
    const l = await writeLayer(variant, join(dir, `one-${what}.tgz`));
    assert.notEqual(l.diffId, ref.diffId, what);
    assert.notEqual(l.descriptor.digest, ref.descriptor.digest, what);
  }
});

test("layer order: component-wise, parents before children, opaque then whiteouts before their siblings", async () => {
  const entries: LayerEntry[] = [
    f("a-b", "1"),
    d("a"),
    f("a/z", "2"),
    whiteoutEntry("a/y"),
    opaqueEntry("a"),
    f("a/-dash", "3"),
    d("a/b"),
    f("a/b/c", "4"),
    f("A", "5"),
    whiteoutEntry("zz"),
    f("a.b", "6"),
  ];
  // ".wh.zz" before every ordinary top-level name; "a"'s subtree right after "a", before "a-b" ('-' < '/').
  const want = [
    ".wh.zz",
    "A",
    "a",
    "a/.wh..wh..opq",
    "a/.wh.y",
    "a/-dash",
    "a/b",
    "a/b/c",
    "a/z",
    "a-b",
    "a.b",
  ];
  assert.ok(compareLayerPaths("a/b", "a-b") < 0 && compareLayerPaths("a", "a/b") < 0);
  assert.deepEqual(
    sortLayerEntries(entries).map((e) => e.path),
    want,
  );
  const file = join(dir, "order.tar");
  await writeLayer(entries, file, { compression: "none" });
  const names = (await headers(file)).map((x) => x.h.path);
  assert.deepEqual(
    names,
    want.map((p) => (p === "a" || p === "a/b" ? `${p}/` : p)),
  );
  // GNU tar agrees on the names and order.
  const listed = execFileSync("tar", ["-tf", file]).toString().trim().split("\n");
  assert.deepEqual(listed, names);
});

test("every entry type: GNU tar -tv, Python tarfile and our reader see what was written", async () => {
  const src = join(fresh("src"), "payload");
  writeFileSync(src, "from a file\n");
  const entries: LayerEntry[] = [
    d("etc", { mode: 0o700, uid: 3, gid: 4 }),
    f("etc/hosts", "127.0.0.1 localhost\n"),
    { path: "etc/src", type: "file", ...base, mode: 0o600, source: src },
    { path: "etc/hl", type: "hardlink", ...base, linkpath: "etc/src" },
    { path: "etc/sym", type: "symlink", ...base, mode: 0o777, linkpath: "/etc/hosts" },
    { path: "dev-null", type: "char", ...base, mode: 0o666, devmajor: 1, devminor: 3 },
    { path: "loop0", type: "block", ...base, mode: 0o660, gid: 6, devmajor: 7, devminor: 0 },
    { path: "pipe", type: "fifo", ...base, mode: 0o620 },
    f("bin", "x", { mode: 0o4755, xattrs: new Map([["security.capability", CAP]]) }),
    whiteoutEntry("gone"),
  ];
  const file = join(dir, "types.tgz");
  await writeLayer(entries, file);
  execFileSync("gzip", ["-t", file]);
  const gl = execFileSync("gzip", ["-l", file]).toString();
  assert.match(gl, /uncompressed/);
  const tv = execFileSync("tar", ["--numeric-owner", "-tvzf", file]).toString();
  for (const re of [
    /^---------- 0\/0\s+0 1970-01-01 00:00 \.wh\.gone$/m,
    /^-rwsr-xr-x 0\/0\s+1 \S+ \S+ bin$/m,
    /^crw-rw-rw- 0\/0\s+1,3 \S+ \S+ dev-null$/m,
    /^drwx------ 3\/4\s+0 \S+ \S+ etc\/$/m,
    /^hrw------- 0\/0\s+0 \S+ \S+ etc\/src link to etc\/hl$/m, // etc/hl sorts first: it carries the data
    /^lrwxrwxrwx 0\/0\s+0 \S+ \S+ etc\/sym -> \/etc\/hosts$/m,
    /^brw-rw---- 0\/6\s+7,0 \S+ \S+ loop0$/m,
    /^prw--w---- 0\/0\s+0 \S+ \S+ pipe$/m,
  ]) {
    assert.match(tv, re);
  }
  // The hardlink group was re-pointed: "etc/hl" comes first in layer order, so it holds the data.
  assert.match(tv, /^-rw------- 0\/0\s+12 \S+ \S+ etc\/hl$/m);
  const py = pythonDump(join(dir, "types.tgz"));
  const byName = new Map(py.map((e) => [Buffer.from(e.name, "hex").toString(), e]));
  assert.equal(byName.get("etc/hl")?.type, "file");
  assert.equal(byName.get("etc/src")?.type, "hardlink");
  assert.equal(Buffer.from(byName.get("etc/src")!.linkname, "hex").toString(), "etc/hl");
  assert.equal(byName.get("bin")?.pax["SCHILY.xattr.security.capability"], CAP.toString("hex"));
  for (const e of py) {
    assert.equal(e.uname, "");
    assert.equal(e.gname, "");
    assert.equal(e.mtime, Math.floor(e.mtime));
  }
  const ours = await headers(file);
  assert.deepEqual(ours.find((x) => x.h.path === "bin")?.h.pax.get("SCHILY.xattr.security.capability"), CAP);
  assert.equal(ours.find((x) => x.h.path === "etc/hl")?.data?.toString(), "from a file\n");
});

test("extracted by GNU tar as root: modes, owners, devices, hardlinks, symlinks and security.capability", async () => {
  const empty = fresh("empty");
  const tree = fresh("tree");
  makeTree(tree, false);
  const file = join(dir, "extract.tgz");
  await writeLayer(await diffTrees(empty, tree), file);
  const out = fresh("out");
  execFileSync("tar", ["--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpzf", file, "-C", out]);
  const cmp = (p: string) => {
    const a = lstatSync(join(tree, p));
    const b = lstatSync(join(out, p));
    assert.deepEqual(
      [b.mode, b.uid, b.gid, b.size, b.rdev, Math.floor(b.mtimeMs / 1000)],
      [a.mode, a.uid, a.gid, a.size, a.rdev, Math.floor(a.mtimeMs / 1000)],
      p,
    );
  };
  for (const p of ["etc", "etc/ssl/key", "usr/bin/tool", "usr/pw", "var/null", "var/blk", "var/fifo", "é/ü"])
    cmp(p);
  assert.equal(lstatSync(join(out, "usr/bin/tool")).ino, lstatSync(join(out, "usr/bin/tool-link")).ino);
  assert.deepEqual(getXattr(join(out, "usr/bin/tool"), "security.capability"), CAP);
  assert.equal(getXattr(join(out, "etc/passwd"), "user.note")?.toString(), "hello");
  assert.equal(readFileSync(join(out, "usr/bin/tool")).length, 70000);
});

test("times: whole seconds (floored, no PAX), SOURCE_DATE_EPOCH clamps later times only", async () => {
  const entries = [
    f("old", "1", { mtime: 1_000_000_000.9 }),
    f("new", "2", { mtime: 1_900_000_000.2 }),
    d("dir", { mtime: 1_800_000_000 }),
    f("neg", "3", { mtime: -1.5 }),
  ];
  const plain = await headers(await written(entries, "t-plain.tar"));
  const t = (h: { h: TarHeader }[], p: string) => h.find((x) => x.h.path === p)?.h;
  assert.equal(t(plain, "old")?.mtime, 1_000_000_000);
  assert.equal(t(plain, "new")?.mtime, 1_900_000_000);
  assert.equal(t(plain, "old")?.pax.size, 0);
  assert.equal(t(plain, "neg")?.mtime, -2); // before 1970 needs PAX, and floors too
  const epoch = 1_700_000_000;
  const clamped = await headers(await written(entries, "t-clamp.tar", epoch));
  assert.equal(t(clamped, "old")?.mtime, 1_000_000_000);
  assert.equal(t(clamped, "new")?.mtime, epoch);
  assert.equal(t(clamped, "dir/")?.mtime, epoch);
  assert.equal(t(clamped, "new")?.pax.size, 0);
  // Clamping is part of the identity: a time after the epoch no longer changes the digest.
  const a = await writeLayer([f("x", "1", { mtime: 1_800_000_000 })], join(dir, "t-a.tgz"), {
    sourceDateEpoch: epoch,
  });
  const b = await writeLayer([f("x", "1", { mtime: 1_900_000_000 })], join(dir, "t-b.tgz"), {
    sourceDateEpoch: epoch,
  });
  assert.equal(a.descriptor.digest, b.descriptor.digest);
  await assert.rejects(writeLayer([f("x", "1")], join(dir, "t-bad.tgz"), { sourceDateEpoch: 1.5 }), (e) =>
    isOslessError(e, "E_USAGE"),
  );
});

async function written(entries: LayerEntry[], name: string, sourceDateEpoch?: number): Promise<string> {
  const file = join(dir, name);
  await writeLayer(entries, file, {
    compression: "none",
    ...(sourceDateEpoch === undefined ? {} : { sourceDateEpoch }),
  });
  return file;
}

test("gzip: fixed 10-byte header (mtime 0, no name, OS 3), XFL follows the level; 'none' is the plain tar", async () => {
  const entries = [d("a"), f("a/x", randomBytes(5000))];
  for (const [level, xfl] of [
    [undefined, 0],
    [1, 4],
    [9, 2],
  ] as const) {
    const file = join(dir, `gz-${level}.tgz`);
    await writeLayer(entries, file, level === undefined ? {} : { level });
    const head = readFileSync(file).subarray(0, 10);
    // ID1 ID2 CM=deflate FLG=0 | MTIME=0 | XFL | OS=3 (Unix)
    assert.equal(head.toString("hex"), `1f8b0800${"00000000"}${xfl.toString(16).padStart(2, "0")}03`);
    execFileSync("gzip", ["-t", file]);
  }
  const plain = await writeLayer(entries, join(dir, "gz-none.tar"), { compression: "none" });
  const gz = await writeLayer(entries, join(dir, "gz-6.tgz"));
  assert.equal(plain.descriptor.mediaType, "application/vnd.oci.image.layer.v1.tar");
  assert.equal(plain.descriptor.digest, plain.diffId);
  assert.equal(plain.diffId, gz.diffId);
  assert.equal(plain.descriptor.size, gz.uncompressedSize);
  assert.ok(readFileSync(join(dir, "gz-none.tar")).equals(gunzipSync(readFileSync(join(dir, "gz-6.tgz")))));
  for (const level of [-1, 10, 2.5]) {
    await assert.rejects(writeLayer(entries, join(dir, "gz-bad.tgz"), { level }), (e) =>
      isOslessError(e, "E_USAGE"),
    );
  }
});

test("a body given as bytes or read from a file (other chunking) -> same blob", async () => {
  const data = randomBytes(3 * 1024 * 1024 + 17);
  const src = join(fresh("chunk"), "data");
  writeFileSync(src, data);
  const a = await writeLayer([f("data", data)], join(dir, "chunk-a.tgz"));
  const b = await writeLayer(
    [{ path: "data", type: "file", ...base, source: src }],
    join(dir, "chunk-b.tgz"),
  );
  assert.deepEqual(a, b);
});

test("a 160 MB file is streamed: peak RSS grows by far less than the file", async () => {
  const work = fresh("big");
  const big = join(work, "big");
  // 1 MiB of random bytes repeated: the copies are farther apart than deflate's 32 KiB window, so gzip works on
  // all of it. Written piecewise so this process stays small too.
  const block = randomBytes(1 << 20);
  const fd = openSync(big, "w");
  for (let i = 0; i < 160; i++) writeSync(fd, block);
  closeSync(fd);
  const script = join(work, "run.mts");
  // VmHWM, not getrusage's maxrss: Linux carries ru_maxrss over fork+exec, so a child would report this
  // test process's peak.
  writeFileSync(
    script,
    `import { readFileSync } from "node:fs";
import { writeLayer } from ${JSON.stringify(new URL("./write.ts", import.meta.url).pathname)};
const hwm = () => Number(/VmHWM:\\s+(\\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))![1]) * 1024;
const before = hwm();
const r = await writeLayer([{ path: "big", type: "file", mode: 0o644, uid: 0, gid: 0, mtime: 0, source: ${JSON.stringify(big)} }], ${JSON.stringify(join(work, "big.tgz"))}, { level: 1 });
console.log(JSON.stringify({ before, peak: hwm(), r }));`,
  );
  const res = JSON.parse(
    execFileSync(process.execPath, ["--import", "tsx", script], { cwd: process.cwd() }).toString(),
  ) as { before: number; peak: number; r: { uncompressedSize: number; diffId: string } };
  const grew = res.peak - res.before;
  assert.ok(grew < 64 * 2 ** 20, `peak RSS grew by ${(grew / 2 ** 20).toFixed(1)} MiB for a 160 MiB file`);
  assert.ok(res.r.uncompressedSize > 160 * 2 ** 20);
  // The data inside is the file, bit for bit (GNU tar extracts it to stdout).
  const inner = execFileSync("sh", ["-c", `tar -xzOf ${join(work, "big.tgz")} big | sha256sum`]).toString();
  const want = execFileSync("sha256sum", [big]).toString();
  assert.equal(inner.split(" ")[0], want.split(" ")[0]);
  rmSync(work, { recursive: true, force: true });
});

test("hardlinks: a target that sorts later is re-pointed; chains resolve; links outside the layer are refused", async () => {
  const entries: LayerEntry[] = [
    f("z", "data", { mode: 0o600 }),
    { path: "m", type: "hardlink", ...base, linkpath: "z" },
    { path: "a", type: "hardlink", ...base, linkpath: "m" },
  ];
  const hs = await headers(await written(entries, "hl.tar"));
  assert.deepEqual(
    hs.map((x) => [x.h.path, x.h.type, x.h.linkpath, x.h.mode]),
    [
      ["a", "file", "", 0o600],
      ["m", "hardlink", "a", 0o600],
      ["z", "hardlink", "a", 0o600],
    ],
  );
  assert.equal(hs[0]?.data?.toString(), "data");
  for (const [why, bad] of [
    ["missing", [{ path: "a", type: "hardlink", ...base, linkpath: "nope" }]],
    ["directory", [d("x"), { path: "a", type: "hardlink", ...base, linkpath: "x" }]],
    [
      "cycle",
      [
        { path: "a", type: "hardlink", ...base, linkpath: "b" },
        { path: "b", type: "hardlink", ...base, linkpath: "a" },
      ],
    ],
  ] as const) {
    await assert.rejects(
      writeLayer(bad as unknown as LayerEntry[], join(dir, "hl-bad.tgz")),
      (e) => isOslessError(e, "E_LAYER_INVALID"),
      why,
    );
    assert.equal(existsSync(join(dir, "hl-bad.tgz")), false);
  }
});

test("refusals: unnormalised or duplicate paths, the root, bad whiteouts, conflicts, non-directory parents", async () => {
  const cases: [string, LayerEntry[], string][] = [
    ["leading slash", [f("/etc/x", "1")], "E_LAYER_INVALID"],
    ["dot slash", [f("./etc", "1")], "E_LAYER_INVALID"],
    ["trailing slash", [d("etc/")], "E_LAYER_INVALID"],
    ["double slash", [f("a//b", "1")], "E_LAYER_INVALID"],
    ["dot-dot inside", [f("a/../b", "1")], "E_LAYER_INVALID"],
    ["dot-dot out", [f("../b", "1")], "E_TAR_UNSAFE_PATH"],
    ["root", [d(".")], "E_LAYER_INVALID"],
    ["empty", [f("", "1")], "E_LAYER_INVALID"],
    ["duplicate", [f("a", "1"), f("a", "1")], "E_LAYER_INVALID"],
    ["whiteout with data", [f(".wh.a", "1")], "E_LAYER_INVALID"],
    ["whiteout dir", [d(".wh.a")], "E_LAYER_INVALID"],
    ["invalid whiteout", [f(".wh.", "")], "E_TAR_UNSAFE_PATH"],
    ["aufs", [f(".wh..wh.plnk", "")], "E_LAYER_INVALID"],
    ["whiteout + entry", [whiteoutEntry("a"), f("a", "1")], "E_LAYER_INVALID"],
    ["whiteout + child", [whiteoutEntry("a"), d("a/b")], "E_LAYER_INVALID"],
    ["file parent", [f("a", "1"), f("a/b", "2")], "E_LAYER_INVALID"],
    [
      "symlink parent",
      [{ path: "a", type: "symlink", ...base, linkpath: "/etc" }, f("a/passwd", "x")],
      "E_LAYER_INVALID",
    ],
    ["symlink without target", [{ path: "a", type: "symlink", ...base }], "E_LAYER_INVALID"],
    ["mode bits", [f("a", "1", { mode: 0o10644 })], "E_LAYER_INVALID"],
    ["negative uid", [f("a", "1", { uid: -1 })], "E_LAYER_INVALID"],
    ["size mismatch", [f("a", "12", { size: 3 })], "E_LAYER_INVALID"],
    ["size without data", [{ path: "a", type: "file", ...base, size: 4 }], "E_LAYER_INVALID"],
    ["relative source", [{ path: "a", type: "file", ...base, source: "rel/path" }], "E_LAYER_INVALID"],
    ["dir with data", [d("a", { body: Buffer.from("x") })], "E_LAYER_INVALID"],
    ["device range", [{ path: "a", type: "char", ...base, devmajor: 2 ** 32 }], "E_LAYER_INVALID"],
  ];
  for (const [why, entries, code] of cases) {
    const file = join(dir, "bad.tgz");
    await assert.rejects(writeLayer(entries, file), (e) => isOslessError(e, code as never), why);
    assert.equal(existsSync(file), false, why);
  }
});

test("a source that vanished, changed size, or became a symlink fails and removes the blob file", async () => {
  const work = fresh("src-change");
  const p = join(work, "f");
  const file = join(dir, "changed.tgz");
  const entry = { path: "f", type: "file" as const, ...base, size: 5, source: p };
  await assert.rejects(writeLayer([entry], file), (e) => isOslessError(e, "E_NOT_FOUND"));
  assert.equal(existsSync(file), false);
  writeFileSync(p, "123456");
  await assert.rejects(writeLayer([entry], file), (e) => isOslessError(e, "E_SIZE_MISMATCH"));
  assert.equal(existsSync(file), false);
  rmSync(p);
  writeFileSync(join(work, "target"), "12345");
  execFileSync("ln", ["-s", "target", p]);
  await assert.rejects(writeLayer([entry], file), (e) => isOslessError(e, "E_IO") && /ELOOP/.test(e.message));
  assert.equal(existsSync(file), false);
});

test("abort: an aborted signal stops the write and removes the file", async () => {
  const file = join(dir, "abort.tgz");
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(
    writeLayer([f("a", "1")], file, { signal: ac.signal }),
    (e) => (e as Error).name === "AbortError",
  );
  assert.equal(existsSync(file), false);
  // Mid-way: abort while a big body streams.
  const src = join(fresh("abort"), "big");
  writeFileSync(src, randomBytes(32 << 20));
  const ac2 = new AbortController();
  const p = writeLayer([{ path: "big", type: "file", ...base, source: src }], file, { signal: ac2.signal });
  setTimeout(() => ac2.abort(), 20);
  await assert.rejects(p, (e) => (e as Error).name === "AbortError");
  assert.equal(existsSync(file), false);
  assert.ok(statSync(src).size > 0);
});

test("a layer file that cannot be created is a clear E_IO", async () => {
  await assert.rejects(
    writeLayer([f("a", "1")], join(dir, "no-such-dir", "x.tgz")),
    (e) => isOslessError(e, "E_IO") && /no-such-dir/.test(e.message),
  );
});

test("entries can come from an async iterable", async () => {
  async function* gen() {
    yield f("b", "2");
    yield d("a");
  }
  const a = await writeLayer(gen(), join(dir, "async-a.tgz"));
  const b = await writeLayer([d("a"), f("b", "2")], join(dir, "async-b.tgz"));
  assert.equal(a.descriptor.digest, b.descriptor.digest);
  assert.equal(a.entries, 2);
});
