// Write direction: writeTar output read back by GNU tar (listing and extraction) and Python tarfile;
// determinism; read(write(x)) == x round trips; scanTarFile agrees with readTar.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { isOslessError } from "../errors.ts";
import type { TarHeader } from "./header.ts";
import { readTar, scanTarFile } from "./reader.ts";
import { chunked, collect, prng, pythonDump, requireTool, run, tarBytes, tempDir } from "./testkit.ts";
import { encodeHeader, type TarWriteEntry, type TarWriteItem, writeTar } from "./writer.ts";

let dir = "";
before(() => {
  requireTool("tar", "tar");
  requireTool("python3", "python3");
  requireTool("getfattr", "attr");
  dir = tempDir("write");
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const BIG_DATA = randomBytes(100_001);
const LONG = `w/${"a".repeat(100)}/${"b".repeat(100)}/${"c".repeat(95)}`; // 300 chars
const LONG_TARGET = `../${"t".repeat(200)}`;
const CAP = Buffer.from("0100000200200000000000000000000000000000", "hex");
const NON_UTF8 = Buffer.from("w/caf\xe9", "latin1");

function sample(): TarWriteItem[] {
  const d = (path: string, extra: Partial<TarWriteEntry> = {}): TarWriteItem => ({
    entry: { path, type: "directory", mtime: 1600000000, ...extra },
  });
  return [
    d("w/"),
    d(`w/${"a".repeat(100)}/`),
    d(`w/${"a".repeat(100)}/${"b".repeat(100)}/`),
    { entry: { path: "w/empty", type: "file", mtime: 1600000001 }, body: Buffer.alloc(0) },
    { entry: { path: "w/one", type: "file", mode: 0o600, mtime: 1700000000.5 }, body: Buffer.from("1") },
    {
      entry: { path: "w/b511", type: "file", mtime: 1, uid: 1000, gid: 100, uname: "user", gname: "users" },
      body: Buffer.alloc(511, 1),
    },
    { entry: { path: "w/b512", type: "file", mtime: 2 }, body: Buffer.alloc(512, 2) },
    {
      entry: { path: "w/big", type: "file", size: BIG_DATA.length, mtime: 3 },
      body: chunked(BIG_DATA, 7000),
    },
    { entry: { path: LONG, type: "file", mtime: 4 }, body: Buffer.from("long") },
    { entry: { path: "w/setuid", type: "file", mode: 0o4755, mtime: 5 }, body: Buffer.from("#!/bin/sh\n") },
    {
      entry: { path: "w/bigid", type: "file", uid: 3000000000, gid: 3000000001, mtime: 6 },
      body: Buffer.from("id"),
    },
    { entry: { path: "w/old", type: "file", mtime: -86400 }, body: Buffer.from("1969") },
    { entry: { path: "w/ünï€", type: "file", mtime: 7 }, body: Buffer.from("utf8") },
    { entry: { path: NON_UTF8, type: "file", mtime: 8 }, body: Buffer.from("latin1") },
    {
      entry: {
        path: "w/cap",
        type: "file",
        mtime: 9,
        xattrs: new Map([
          ["user.bin", Buffer.from([0, 0xff, 0x0a, 0x3d, 0x41])],
          ["security.capability", CAP],
        ]),
      },
      body: Buffer.from("cap"),
    },
    { entry: { path: "w/sym", type: "symlink", linkpath: "one", mtime: 10 } },
    { entry: { path: "w/longsym", type: "symlink", linkpath: LONG_TARGET, mtime: 11 } },
    { entry: { path: "w/hard", type: "hardlink", linkpath: "w/one" } },
    { entry: { path: "w/fifo", type: "fifo", mode: 0o640, mtime: 12 } },
    { entry: { path: "w/chr", type: "char", devmajor: 1, devminor: 3, mtime: 13 } },
    { entry: { path: "w/blk", type: "block", devmajor: 300, devminor: 1234, mode: 0o660, mtime: 14 } },
    {
      entry: { path: "w/longowner", type: "file", uname: "x".repeat(40), gname: "grüppe", mtime: 15 },
      body: Buffer.from("o"),
    },
  ];
}

function rdevOf(rdev: number): [number, number] {
  const major = ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
  const minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xff);
  return [major, minor];
}

test("GNU tar lists and extracts writeTar output with contents, modes, mtimes, links, owners, devices, xattrs", async () => {
  const tarPath = join(dir, "sample.tar");
  writeFileSync(tarPath, await tarBytes(sample()));
  const listing = run("tar", ["-tvv", "--numeric-owner", "--full-time", "-f", tarPath]).toString("latin1");
  const lines = listing.trim().split("\n");
  assert.equal(lines.length, sample().length);
  assert.match(listing, /-rwsr-xr-x 0\/0 +10 1970-01-01 00:00:05 +w\/setuid/);
  assert.match(listing, /-rw-r--r-- 3000000000\/3000000001 +2 .* w\/bigid/);
  assert.match(listing, /crw-r--r-- 0\/0 +1,3 .* w\/chr/);
  assert.match(listing, /brw-rw---- 0\/0 +300,1234 .* w\/blk/);
  assert.match(listing, /prw-r----- .* w\/fifo/);
  assert.match(listing, /w\/sym -> one/);
  assert.match(listing, /w\/hard link to w\/one/);
  assert.ok(listing.includes(`w/longsym -> ${LONG_TARGET}`));
  assert.ok(listing.includes(LONG));

  const out = join(dir, "x");
  run("mkdir", [out]);
  run("tar", [
    "-xpf",
    tarPath,
    "--same-owner",
    "--numeric-owner",
    "--xattrs",
    "--xattrs-include=*",
    "-C",
    out,
  ]);
  const st = (p: string | Buffer) =>
    lstatSync(typeof p === "string" ? join(out, p) : Buffer.concat([Buffer.from(`${out}/`), p]));
  const sha = (p: string) =>
    createHash("sha256")
      .update(readFileSync(join(out, p)))
      .digest("hex");
  assert.equal(sha("w/big"), createHash("sha256").update(BIG_DATA).digest("hex"));
  assert.equal(readFileSync(join(out, LONG), "utf8"), "long");
  assert.equal(readFileSync(join(out, "w/b511")).length, 511);
  assert.equal(st("w/one").mode & 0o7777, 0o600);
  assert.equal(st("w/one").mtimeMs, 1700000000500);
  assert.equal(st("w/old").mtimeMs, -86400000);
  assert.equal(st("w/setuid").mode & 0o7777, 0o4755);
  assert.equal(st("w/bigid").uid, 3000000000);
  assert.equal(st("w/bigid").gid, 3000000001);
  assert.equal(st("w/b511").uid, 1000);
  assert.equal(st("w/one").ino, st("w/hard").ino);
  assert.equal(readlinkSync(join(out, "w/sym")), "one");
  assert.equal(readlinkSync(join(out, "w/longsym")), LONG_TARGET);
  assert.ok(st("w/fifo").isFIFO());
  assert.deepEqual(rdevOf(st("w/chr").rdev), [1, 3]);
  assert.deepEqual(rdevOf(st("w/blk").rdev), [300, 1234]);
  assert.ok(st("w/blk").isBlockDevice());
  assert.equal(readFileSync(join(out, "w/ünï€"), "utf8"), "utf8");
  assert.ok(
    readdirSync(join(out, "w"), { encoding: "buffer" }).some((n) =>
      n.equals(Buffer.from("caf\xe9", "latin1")),
    ),
  );
  assert.equal(st(NON_UTF8).size, 6);
  assert.equal(st("w/").mtimeMs, 1600000000000);
  const attrs = run("getfattr", ["-d", "-m", "-", "-e", "hex", join(out, "w/cap")]).toString();
  assert.match(attrs, /security\.capability=0x0100000200200000000000000000000000000000/);
  assert.match(attrs, /user\.bin=0x00ff0a3d41/);
});

test("Python tarfile reads writeTar output: names, links, numbers, pax_headers and binary xattrs", async () => {
  const tarPath = join(dir, "py.tar");
  writeFileSync(tarPath, await tarBytes(sample()));
  const d = pythonDump(tarPath);
  const items = sample();
  assert.equal(d.length, items.length);
  const byName = new Map(d.map((x) => [Buffer.from(x.name, "hex").toString("latin1"), x]));
  const get = (p: string | Buffer) => {
    const k = (typeof p === "string" ? Buffer.from(p) : p).toString("latin1").replace(/\/$/, "");
    const e = byName.get(k);
    assert.ok(e, `python sees ${k}`);
    return e;
  };
  assert.equal(get(LONG).sha256, createHash("sha256").update("long").digest("hex"));
  assert.equal(get("w/big").sha256, createHash("sha256").update(BIG_DATA).digest("hex"));
  assert.equal(get("w/one").mtime, 1700000000.5);
  assert.equal(get("w/old").mtime, -86400);
  assert.equal(get("w/bigid").uid, 3000000000);
  assert.equal(get("w/bigid").gid, 3000000001);
  assert.equal(get("w/longsym").linkname, Buffer.from(LONG_TARGET).toString("hex"));
  assert.equal(get("w/hard").type, "hardlink");
  assert.deepEqual([get("w/blk").devmajor, get("w/blk").devminor], [300, 1234]);
  assert.equal(get(NON_UTF8).sha256, createHash("sha256").update("latin1").digest("hex"));
  assert.equal(get("w/cap").pax["SCHILY.xattr.security.capability"], CAP.toString("hex"));
  assert.equal(get("w/cap").pax["SCHILY.xattr.user.bin"], "00ff0a3d41");
  assert.equal(get("w/longowner").uname, "x".repeat(40));
  assert.equal(get("w/longowner").gname, "grüppe");
  assert.equal(get("w/setuid").mode, 0o4755);
  assert.deepEqual(Object.keys(get("w/b511").pax), [], "no PAX header when ustar suffices");
});

test("writeTar is deterministic: same entries give the same bytes, whatever the xattr map order", async () => {
  const a = await tarBytes(sample());
  const b = await tarBytes(sample());
  assert.ok(a.equals(b));
  const x1 = new Map([
    ["user.a", Buffer.from("1")],
    ["user.b", Buffer.from("2")],
  ]);
  const x2 = new Map([...x1].reverse());
  const e1 = encodeHeader({
    path: "f",
    type: "file",
    xattrs: x1,
    pax: new Map([
      ["z", Buffer.from("z")],
      ["a", Buffer.from("a")],
    ]),
  });
  const e2 = encodeHeader({
    path: "f",
    type: "file",
    xattrs: x2,
    pax: new Map([
      ["a", Buffer.from("a")],
      ["z", Buffer.from("z")],
    ]),
  });
  assert.ok(e1.equals(e2));
  assert.equal(a.length % 512, 0);
  assert.ok(a.subarray(-1024).equals(Buffer.alloc(1024)), "ends with two zero blocks");
});

test("encodeHeader uses PAX only when ustar cannot hold a value", () => {
  const len = (e: TarWriteEntry) => encodeHeader(e).length;
  assert.equal(
    len({ path: "a", type: "file", uid: 0o7777777, size: 0o77777777777, mtime: 0o77777777777 }),
    512,
  );
  assert.equal(len({ path: `${"p".repeat(150)}/${"n".repeat(100)}`, type: "file" }), 512, "prefix + name");
  assert.equal(
    len({ path: "a", type: "char", devmajor: 2 ** 32, devminor: 5 }),
    512,
    "base-256 device number",
  );
  assert.equal(len({ path: "a", type: "file", uid: 0o10000000 }), 1536);
  assert.equal(len({ path: "a", type: "file", size: 0o100000000000 }), 1536);
  for (const mtime of [0.5, -1, 0o100000000000])
    assert.equal(len({ path: "a", type: "file", mtime }), 1536, String(mtime));
  assert.equal(len({ path: "é", type: "file" }), 1536);
  assert.equal(len({ path: "a".repeat(101), type: "file" }), 1536);
  assert.equal(len({ path: "a", type: "symlink", linkpath: "b".repeat(101) }), 1536);
});

test("writeTar refuses inconsistent entries", async () => {
  const fails = async (items: TarWriteItem[], code: string) =>
    assert.rejects(collect(writeTar(items)), (e) => isOslessError(e) && e.code === code);
  await fails(
    [{ entry: { path: "a", type: "file", size: 5 }, body: chunked(Buffer.from("abc")) }],
    "E_SIZE_MISMATCH",
  );
  await fails(
    [{ entry: { path: "a", type: "file", size: 2 }, body: chunked(Buffer.from("abc")) }],
    "E_SIZE_MISMATCH",
  );
  await fails([{ entry: { path: "a", type: "file", size: 2 }, body: Buffer.from("abc") }], "E_TAR_INVALID");
  await fails([{ entry: { path: "a", type: "file" }, body: chunked(Buffer.from("abc")) }], "E_TAR_INVALID");
  await fails([{ entry: { path: "a\0b", type: "file" } }], "E_TAR_INVALID");
  await fails([{ entry: { path: "", type: "file" } }], "E_TAR_INVALID");
  await fails([{ entry: { path: "a/", type: "file" } }], "E_TAR_INVALID");
  await fails([{ entry: { path: "s", type: "symlink" } }], "E_TAR_INVALID");
  await fails([{ entry: { path: "a", type: "file", uid: -1 } }], "E_TAR_INVALID");
  await fails(
    [{ entry: { path: "a", type: "file", pax: new Map([["GNU.sparse.major", Buffer.from("1")]]) } }],
    "E_TAR_UNSUPPORTED",
  );
});

/** The fields a writer entry determines, as read back. */
function view(h: TarHeader) {
  return {
    path: h.pathBytes.toString("hex"),
    linkpath: h.linkpathBytes.toString("hex"),
    type: h.type,
    mode: h.mode,
    uid: h.uid,
    gid: h.gid,
    size: h.size,
    mtime: h.mtime,
    uname: h.uname,
    gname: h.gname,
    devmajor: h.devmajor,
    devminor: h.devminor,
    xattrs: [...h.xattrs].map(([k, v]) => [k, v.toString("hex")]).sort(),
    extra: [...h.pax]
      .filter(([k]) => k.startsWith("VND."))
      .map(([k, v]) => [k, v.toString("hex")])
      .sort(),
  };
}

function expected(e: TarWriteEntry, size: number) {
  const b = (v: string | Buffer | undefined) =>
    (typeof v === "string" ? Buffer.from(v) : (v ?? Buffer.alloc(0))).toString("hex");
  return {
    path: b(e.path),
    linkpath: b(e.linkpath),
    type: e.type,
    mode: e.mode ?? (e.type === "directory" ? 0o755 : e.type === "symlink" ? 0o777 : 0o644),
    uid: e.uid ?? 0,
    gid: e.gid ?? 0,
    size: e.type === "file" ? size : 0,
    mtime: e.mtime ?? 0,
    uname: e.uname ?? "",
    gname: e.gname ?? "",
    devmajor: e.devmajor ?? 0,
    devminor: e.devminor ?? 0,
    xattrs: [...(e.xattrs ?? [])].map(([k, v]) => [k, v.toString("hex")]).sort(),
    extra: [...(e.pax ?? [])]
      .filter(([k]) => k.startsWith("VND."))
      .map(([k, v]) => [k, v.toString("hex")])
      .sort(),
  };
}

function randomItems(seed: number, n: number): TarWriteItem[] {
  const r = prng(seed);
  const int = (max: number) => Math.floor(r() * max);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const alphabet = ["a", "b", "/", "é", "€", "-", "_", ".", "Z", "9"];
  const word = (len: number) => {
    let s = "";
    while (Buffer.byteLength(s) < len) s += pick(alphabet);
    return s.replace(/\/+/g, "/").replace(/^\/|\/$/g, "x");
  };
  const items: TarWriteItem[] = [];
  const types = [
    "file",
    "file",
    "file",
    "directory",
    "symlink",
    "hardlink",
    "char",
    "block",
    "fifo",
  ] as const;
  for (let i = 0; i < n; i++) {
    const type = pick(types);
    const path = `${i}/${word(pick([1, 50, 99, 100, 101, 200, 255, 300]))}`;
    const entry: TarWriteEntry = {
      path: r() < 0.1 ? Buffer.concat([Buffer.from(path), Buffer.from([0xff, 0xfe])]) : path,
      type,
      mode: int(0o10000),
      uid: pick([0, 1000, 0o7777777, 0o10000000, 3000000000, 2 ** 40]),
      gid: pick([0, 65534, 4294967295]),
      mtime: pick([0, 1, 1700000000, 1700000000.25, -1, -1.5, 0o77777777777, 2 ** 40, 1234.125]),
      uname: pick(["", "root", "ü".repeat(20), "n".repeat(32)]),
      gname: pick(["", "wheel", "g".repeat(33)]),
    };
    if (type === "symlink" || type === "hardlink") entry.linkpath = word(pick([1, 100, 101, 400]));
    if (type === "char" || type === "block") {
      entry.devmajor = pick([0, 8, 0o7777777, 2 ** 32 - 1]);
      entry.devminor = pick([0, 1, 2 ** 20]);
    }
    if (r() < 0.3)
      entry.xattrs = new Map([
        ["user.x", randomBytesSeeded(r, int(100))],
        ["security.capability", CAP],
      ]);
    if (r() < 0.2) entry.pax = new Map([["VND.key", randomBytesSeeded(r, int(50))]]);
    const size = int(3) === 0 ? int(2000) : 0;
    items.push({ entry, ...(type === "file" ? { body: randomBytesSeeded(r, size) } : {}) });
  }
  return items;
}

function randomBytesSeeded(r: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

test("round trip: readTar(writeTar(x)) == x for 300 random-ish entries (long paths, big ids, fractional times, xattrs)", async () => {
  for (const seed of [1, 2, 3]) {
    const items = randomItems(seed, 100);
    const bytes = await tarBytes(items);
    let i = 0;
    for await (const e of readTar(chunked(bytes, 1 + seed * 997))) {
      const item = items[i++]!;
      const body = Buffer.isBuffer(item.body) ? item.body : Buffer.alloc(0);
      assert.deepEqual(view(e.header), expected(item.entry, body.length), `seed ${seed} entry ${i - 1}`);
      const data = await collect(e.body());
      assert.ok(data.equals(e.header.type === "file" ? body : Buffer.alloc(0)));
    }
    assert.equal(i, items.length);
    // A read header fed back (fields + pax) writes the same bytes.
    const again: TarWriteItem[] = [];
    for await (const e of readTar(chunked(bytes))) {
      const h = e.header;
      const data = await collect(e.body());
      again.push({
        entry: {
          path: h.pathBytes,
          type: h.type,
          mode: h.mode,
          uid: h.uid,
          gid: h.gid,
          mtime: h.mtime,
          linkpath: h.linkpathBytes,
          uname: h.uname,
          gname: h.gname,
          devmajor: h.devmajor,
          devminor: h.devminor,
          xattrs: h.xattrs,
          pax: h.pax,
        },
        ...(h.type === "file" ? { body: data } : {}),
      });
    }
    assert.ok((await tarBytes(again)).equals(bytes), `seed ${seed}: rewrite is byte-identical`);
  }
});

test("scanTarFile gives the same headers and offsets as readTar (writeTar and GNU tar archives)", async () => {
  const files: string[] = [];
  const ours = join(dir, "scan-ours.tar");
  writeFileSync(ours, await tarBytes([...sample(), ...randomItems(9, 60)]));
  files.push(ours);
  const gnu = join(dir, "scan-gnu.tar");
  const src = join(dir, "scan-src");
  run("mkdir", ["-p", join(src, "d".repeat(100), "e".repeat(100))]);
  writeFileSync(join(src, "d".repeat(100), "e".repeat(100), "f".repeat(100)), randomBytes(70_000));
  run("ln", ["-s", "x".repeat(200), join(src, "lnk")]);
  run("tar", ["-cf", gnu, "--format=gnu", "-C", src, "."]);
  files.push(gnu);
  const pax = join(dir, "scan-pax.tar");
  run("tar", ["-cf", pax, "--format=pax", "-C", src, "."]);
  files.push(pax);
  for (const f of files) {
    const scanned = await scanTarFile(f);
    const streamed = [];
    for await (const e of readTar(chunked(readFileSync(f), 65536))) {
      streamed.push({ header: e.header, headerOffset: e.headerOffset, dataOffset: e.dataOffset });
    }
    assert.ok(scanned.length > 3);
    assert.deepEqual(scanned, streamed, f);
  }
});
