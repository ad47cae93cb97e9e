// Read direction: archives made by GNU tar 1.34 (gnu, pax, ustar, v7) and Python tarfile, compared field by field
// with Python tarfile's view, plus data bytes (sha256).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { linkSync, mkdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type Dump, ourDumpFile, pythonDump, requireTool, run, tempDir } from "./testkit.ts";

let dir = "";
let tree = "";
const LONG_DIR = `long/${"d".repeat(90)}/${"e".repeat(90)}`; // > 100
const LONG_PATH = `${LONG_DIR}/${"f".repeat(90)}`; // > 255
const PREFIX_PATH = `${"p".repeat(120)}/${"n".repeat(80)}`; // fits ustar prefix + name
const LONG_TARGET = `${"t".repeat(150)}/target`;
const NON_UTF8 = Buffer.from("caf\xe9", "latin1");

before(() => {
  requireTool("tar", "tar");
  requireTool("python3", "python3");
  requireTool("setfattr", "attr");
  requireTool("mkfifo", "coreutils");
  requireTool("mknod", "coreutils");
  dir = tempDir("read");
  tree = join(dir, "tree");
  mkdirSync(join(tree, "base/sub"), { recursive: true });
  writeFileSync(join(tree, "base/hello"), "hello world\n");
  writeFileSync(join(tree, "base/bin"), randomBytes(3000));
  writeFileSync(join(tree, "base/empty"), "");
  writeFileSync(join(tree, "base/exact512"), Buffer.alloc(512, 7));
  writeFileSync(join(tree, "base/big"), randomBytes(100_000));
  linkSync(join(tree, "base/hello"), join(tree, "base/hard"));
  symlinkSync("hello", join(tree, "base/sym"));
  writeFileSync(join(tree, "base/frac"), "fractional mtime\n");
  utimesSync(join(tree, "base/frac"), 1700000000.25, 1700000000.123456);
  writeFileSync(join(tree, "base/sub/setuid"), "x");
  run("chmod", ["4755", join(tree, "base/sub/setuid")]);
  writeFileSync(join(tree, "base/café ünï"), "utf-8 name\n");
  // A name that is not UTF-8 (ISO-8859-1 "café"), made through the shell to keep the raw byte.
  run("sh", ["-c", `printf data > "$(printf 'base/caf\\351')"`], { cwd: tree });
  mkdirSync(join(tree, "special"));
  run("mkfifo", [join(tree, "special/fifo")]);
  run("mknod", [join(tree, "special/chr"), "c", "300", "1234"]);
  run("mknod", [join(tree, "special/blk"), "b", "7", "200"]);
  mkdirSync(join(tree, LONG_DIR), { recursive: true });
  writeFileSync(join(tree, LONG_PATH), "deep\n");
  mkdirSync(join(tree, PREFIX_PATH.split("/")[0]!));
  writeFileSync(join(tree, PREFIX_PATH), "prefix\n");
  symlinkSync(LONG_TARGET, join(tree, "long/longlink"));
  mkdirSync(join(tree, "xattr"));
  writeFileSync(join(tree, "xattr/cap"), "capable\n");
  run("setfattr", [
    "-n",
    "security.capability",
    "-v",
    "0x0100000200200000000000000000000000000000",
    join(tree, "xattr/cap"),
  ]);
  run("setfattr", ["-n", "user.bin", "-v", "0x00ff0a3d41e9", join(tree, "xattr/cap")]);
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function gnuTar(name: string, args: string[], members: string[]): string {
  const out = join(dir, name);
  run("tar", ["-cf", out, "-C", tree, ...args, ...members]);
  return out;
}

/** Python strips trailing "/" from directory names and merges global PAX records into every member. */
function pythonLike(d: Dump[], globalKeys: string[]): Dump[] {
  return d.map((x) => {
    const pax = { ...x.pax };
    for (const k of globalKeys) delete pax[k];
    const name = x.type === "directory" ? x.name.replace(/(2f)+$/, "") : x.name;
    return { ...x, name, pax };
  });
}

async function compareWithPython(tarPath: string, globalKeys: string[] = []): Promise<Dump[]> {
  const want = pythonLike(pythonDump(tarPath), globalKeys);
  for (const chunk of [1, 511, 4096, 65536]) {
    const got = pythonLike(await ourDumpFile(tarPath, chunk), []);
    assert.deepEqual(got, want, `${tarPath} read in ${chunk}-byte chunks`);
  }
  return want;
}

function find(d: Dump[], name: string | Buffer): Dump {
  const hex = (typeof name === "string" ? Buffer.from(name) : name).toString("hex");
  const e = d.find((x) => x.name === hex);
  assert.ok(e, `entry ${Buffer.from(hex, "hex").toString("latin1")} is present`);
  return e;
}

test("GNU tar --format=gnu: long names (L/K), base-256 uid/gid 3000000000, links, devices, fifo", async () => {
  const p = gnuTar(
    "gnu.tar",
    ["--format=gnu", "--owner=big:3000000000", "--group=grp:3000000001"],
    ["base", "special", "long", PREFIX_PATH.split("/")[0]!],
  );
  const d = await compareWithPython(p);
  assert.equal(find(d, LONG_PATH).sha256 !== null, true);
  assert.equal(find(d, "long/longlink").linkname, Buffer.from(LONG_TARGET).toString("hex"));
  assert.equal(find(d, "base/hello").uid, 3000000000);
  assert.equal(find(d, "base/hello").gid, 3000000001);
  assert.deepEqual([find(d, "special/chr").devmajor, find(d, "special/chr").devminor], [300, 1234]);
  assert.equal(find(d, "special/blk").type, "block");
  assert.equal(find(d, "special/fifo").type, "fifo");
  assert.equal(find(d, "base/hard").type, "hardlink");
  assert.equal(find(d, "base/sub/setuid").mode, 0o4755);
  assert.equal(find(d, Buffer.concat([Buffer.from("base/"), NON_UTF8])).size, 4);
});

test("GNU tar --format=pax: PAX path/linkpath/uid/gid/fractional times, binary SCHILY.xattr values", async () => {
  const p = gnuTar(
    "pax.tar",
    ["--format=pax", "--xattrs", "--xattrs-include=*", "--owner=big:3000000000", "--group=grp:3000000001"],
    ["base", "special", "long", "xattr", PREFIX_PATH.split("/")[0]!],
  );
  const d = await compareWithPython(p);
  const frac = find(d, "base/frac");
  assert.equal(frac.mtime, 1700000000.123456);
  assert.equal(frac.uid, 3000000000);
  const cap = find(d, "xattr/cap");
  assert.equal(cap.pax["SCHILY.xattr.security.capability"], "0100000200200000000000000000000000000000");
  assert.equal(cap.pax["SCHILY.xattr.user.bin"], "00ff0a3d41e9");
  assert.equal(find(d, LONG_PATH).pax.path, Buffer.from(LONG_PATH).toString("hex"));
  // xattrs map: raw bytes, not UTF-8 decoded
  const { readTar } = await import("./reader.ts");
  const { createReadStream } = await import("node:fs");
  let seen = false;
  for await (const e of readTar(createReadStream(p))) {
    if (e.header.path.endsWith("xattr/cap")) {
      seen = true;
      assert.deepEqual(e.header.xattrs.get("user.bin"), Buffer.from("00ff0a3d41e9", "hex"));
      assert.equal(e.header.xattrs.get("security.capability")?.length, 20);
      assert.equal(typeof e.header.atime, "number");
      assert.equal(typeof e.header.ctime, "number");
    }
  }
  assert.ok(seen);
});

test("GNU tar --format=ustar: prefix + name split, devices, fifo", async () => {
  const p = gnuTar("ustar.tar", ["--format=ustar"], ["base", "special", PREFIX_PATH]);
  const d = await compareWithPython(p);
  assert.equal(find(d, PREFIX_PATH).sha256 !== null, true);
  assert.equal(find(d, "special/chr").devminor, 1234);
});

test("GNU tar --format=v7: directories as trailing-slash names, no uname/gname", async () => {
  const p = gnuTar("v7.tar", ["--format=v7"], ["base"]);
  const d = await compareWithPython(p);
  assert.equal(find(d, "base/sub").type, "directory");
  assert.equal(find(d, "base/sub").mode, 0o755);
  assert.equal(find(d, "base/hello").uname, "");
});

test("Python tarfile PAX: binary xattr through hdrcharset=BINARY, unknown keys kept, global header ignored", async () => {
  const p = join(dir, "py.tar");
  const script = String.raw`
import io, sys, tarfile
with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT, encoding='utf-8', errors='surrogateescape',
                  pax_headers={'comment': 'global'}) as t:
    ti = tarfile.TarInfo('py/cap')
    data = b'payload'
    ti.size = len(data); ti.mtime = 1234567890.5; ti.uid = 4000000000; ti.uname = 'ünï'
    ti.pax_headers = {'SCHILY.xattr.security.capability': b'\x01\x00\x00\x02\xff\xfe'.decode('utf-8', 'surrogateescape'),
                      'VENDOR.custom': 'kept'}
    t.addfile(ti, io.BytesIO(data))
    ti = tarfile.TarInfo('py/' + 'x' * 300)
    t.addfile(ti, io.BytesIO(b''))
`;
  run("python3", ["-c", script, p]);
  const d = await compareWithPython(p, ["comment"]);
  assert.equal(d.length, 2, "the global header yields no entry");
  assert.equal(d[0]!.pax["SCHILY.xattr.security.capability"], "01000002fffe");
  assert.equal(d[0]!.pax["VENDOR.custom"], Buffer.from("kept").toString("hex"));
  assert.equal(d[0]!.uname, "ünï");
  assert.equal(d[0]!.uid, 4000000000);
  assert.equal(d[0]!.mtime, 1234567890.5);
});
