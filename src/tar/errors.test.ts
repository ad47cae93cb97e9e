// Refusals and tolerances of the reader (extraction-rules R1, R15, R16, R18, R19, R21, "Tolerance"), on crafted
// archives and on archives GNU tar makes with features osless refuses (sparse files, volume labels).
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { isOslessError } from "../errors.ts";
import { checksums } from "./header.ts";
import { readTar, scanTarFile, type TarReadOptions } from "./reader.ts";
import { chunked, collect, ourDump, requireTool, run, tempDir } from "./testkit.ts";
import { encodeHeader, type TarWriteEntry } from "./writer.ts";

let dir = "";
before(() => {
  requireTool("tar", "tar");
  requireTool("truncate", "coreutils");
  dir = tempDir("errors");
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const EOA = Buffer.alloc(1024);
const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);

function fixChecksum(b: Buffer): Buffer {
  b.fill(0x20, 148, 156);
  b.write(`${checksums(b).unsigned.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  return b;
}

/** A single ustar block for `entry`, with `patches` (offset -> bytes) applied and the checksum fixed. */
function block(entry: TarWriteEntry, patches: [number, string | Buffer][] = []): Buffer {
  const b = Buffer.from(encodeHeader(entry));
  assert.equal(b.length, 512);
  for (const [off, v] of patches) (typeof v === "string" ? Buffer.from(v, "latin1") : v).copy(b, off);
  return fixChecksum(b);
}

function file(path: string, data: string | Buffer): Buffer {
  const d = Buffer.from(data);
  return Buffer.concat([block({ path, type: "file", size: d.length }), d, pad(d.length)]);
}

function special(flag: string, data: Buffer): Buffer {
  return Buffer.concat([
    block({ path: "././@LongLink", type: "file", size: data.length }, [[156, flag]]),
    data,
    pad(data.length),
  ]);
}

function paxRecords(records: [string, Buffer | string][]): Buffer {
  return Buffer.concat(
    records.map(([k, v]) => {
      const body = Buffer.concat([Buffer.from(` ${k}=`), Buffer.from(v), Buffer.from("\n")]);
      let len = body.length + String(body.length).length;
      if (String(len).length !== String(body.length).length) len++;
      return Buffer.concat([Buffer.from(String(len)), body]);
    }),
  );
}

async function refuses(bytes: Buffer, code: string, opts?: TarReadOptions, message?: RegExp): Promise<void> {
  for (const size of [1, 512, 100_000]) {
    await assert.rejects(ourDump(chunked(bytes, size), opts), (e) => {
      assert.ok(isOslessError(e), String(e));
      assert.equal(e.code, code, e.message);
      if (message) assert.match(e.message, message);
      return true;
    });
  }
}

test("bad header checksum -> E_TAR_INVALID naming the byte offset; signed checksums are accepted", async () => {
  const good = Buffer.concat([file("a", "1"), file("b", "2"), EOA]);
  const bad = Buffer.from(good);
  bad[1024 + 3] = 0x41;
  await refuses(bad, "E_TAR_INVALID", undefined, /at byte 1024: header checksum mismatch/);
  // Old writers summed signed chars: a name with high bytes and a signed checksum is still valid.
  const b = block({ path: "x", type: "file" }, [[0, Buffer.from([0xe9, 0xe9])]]);
  const signed = checksums(b).signed;
  b.write(`${signed.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  const d = await ourDump(chunked(Buffer.concat([b, EOA])));
  assert.equal(d[0]?.name, "e9e9");
  const [e] = await collectEntries(Buffer.concat([b, EOA]));
  assert.equal(e?.path, "\ufffd\ufffd", "invalid UTF-8 decodes to U+FFFD");
});

async function collectEntries(bytes: Buffer, opts?: TarReadOptions) {
  const out = [];
  for await (const e of readTar(chunked(bytes, 333), opts)) out.push(e.header);
  return out;
}

test("special headers above the cap -> E_TAR_LIMIT (PAX 'x', 'g', GNU 'L', 'K'; default 1 MiB)", async () => {
  const longPath = Buffer.from(encodeHeader({ path: "p".repeat(2000), type: "file" }));
  await refuses(
    Buffer.concat([longPath, EOA]),
    "E_TAR_LIMIT",
    { maxSpecialHeaderSize: 1024 },
    /PAX extended header of \d+ bytes/,
  );
  for (const flag of ["g", "L", "K"]) {
    await refuses(
      Buffer.concat([special(flag, Buffer.alloc(2000, 0x61)), file("a", "x"), EOA]),
      "E_TAR_LIMIT",
      {
        maxSpecialHeaderSize: 1024,
      },
    );
  }
  const huge = encodeHeader({
    path: "h",
    type: "file",
    xattrs: new Map([["user.big", Buffer.alloc(2 << 20)]]),
  });
  await refuses(Buffer.concat([huge, EOA]), "E_TAR_LIMIT", undefined, /limit of 1048576 bytes/);
});

test("sparse files (GNU 'S' and PAX GNU.sparse.*) made by GNU tar -> E_TAR_UNSUPPORTED", async () => {
  const src = join(dir, "sparse");
  run("mkdir", ["-p", src]);
  run("truncate", ["-s", "4M", join(src, "holes")]);
  writeFileSync(join(src, "holes"), "end", { flag: "a" });
  for (const format of ["gnu", "pax"]) {
    const t = join(dir, `sparse-${format}.tar`);
    run("tar", ["-cSf", t, `--format=${format}`, "-C", src, "holes"]);
    await refuses(readFileSync(t), "E_TAR_UNSUPPORTED", undefined, /sparse/);
    await assert.rejects(scanTarFile(t), (e) => isOslessError(e, "E_TAR_UNSUPPORTED"));
  }
});

test("unknown typeflags ('Z', GNU volume label 'V') -> E_TAR_UNSUPPORTED naming the entry", async () => {
  await refuses(
    Buffer.concat([block({ path: "zz", type: "file" }, [[156, "Z"]]), EOA]),
    "E_TAR_UNSUPPORTED",
    undefined,
    /"zz" at byte 0/,
  );
  const src = join(dir, "label");
  run("mkdir", ["-p", src]);
  writeFileSync(join(src, "f"), "x");
  const t = join(dir, "label.tar");
  run("tar", ["-cf", t, "--format=gnu", "-V", "my volume", "-C", src, "f"]);
  await refuses(readFileSync(t), "E_TAR_UNSUPPORTED", undefined, /typeflag "V"/);
});

test("NUL in a PAX path or linkpath, empty names -> E_TAR_INVALID", async () => {
  const nulPath = Buffer.concat([
    special("x", paxRecords([["path", Buffer.from("a\0b")]])),
    file("ok", "1"),
    EOA,
  ]);
  await refuses(nulPath, "E_TAR_INVALID", undefined, /NUL/);
  const nulLink = Buffer.concat([
    special("x", paxRecords([["linkpath", Buffer.from("a\0b")]])),
    block({ path: "s", type: "symlink", linkpath: "t" }),
    EOA,
  ]);
  await refuses(nulLink, "E_TAR_INVALID", undefined, /NUL/);
  const empty = Buffer.concat([block({ path: "a", type: "file" }, [[0, "\0"]]), EOA]);
  await refuses(empty, "E_TAR_INVALID", undefined, /empty name/);
  const malformed = Buffer.concat([special("x", Buffer.from("99 path=x\n")), file("ok", "1"), EOA]);
  await refuses(malformed, "E_TAR_INVALID", undefined, /PAX record/);
});

test("EOF inside a header, special header or data -> E_TAR_TRUNCATED naming entry and offset", async () => {
  const t = Buffer.concat([file("first", "1"), file("second", "x".repeat(3000)), EOA]);
  await refuses(
    t.subarray(0, 1024 + 100),
    "E_TAR_TRUNCATED",
    undefined,
    /at byte 1024: end of input inside a header block/,
  );
  await refuses(
    t.subarray(0, 1024 + 512 + 1000),
    "E_TAR_TRUNCATED",
    undefined,
    /"second" at byte 1024: end of input inside the entry's data/,
  );
  const pax = Buffer.from(encodeHeader({ path: "p".repeat(300), type: "file" }));
  await refuses(pax.subarray(0, 700), "E_TAR_TRUNCATED", undefined, /PAX extended header/);
  await refuses(pax.subarray(0, 1024), "E_TAR_TRUNCATED", undefined, /after an extended header/);
  const p = join(dir, "trunc.tar");
  writeFileSync(p, t.subarray(0, 1024 + 512 + 1000));
  await assert.rejects(
    scanTarFile(p),
    (e) => isOslessError(e, "E_TAR_TRUNCATED") && /"second"/.test(e.message),
  );
});

test("more entries than maxEntries -> E_TAR_LIMIT; exactly maxEntries is fine", async () => {
  const five = Buffer.concat([...[1, 2, 3, 4, 5].map((i) => file(`f${i}`, "")), EOA]);
  assert.equal((await collectEntries(five, { maxEntries: 5 })).length, 5);
  const six = Buffer.concat([...[1, 2, 3, 4, 5, 6].map((i) => file(`f${i}`, "")), EOA]);
  await refuses(six, "E_TAR_LIMIT", { maxEntries: 5 }, /"f6" at byte 2560: more than 5 entries/);
  // The hint states the limit and that it is fixed: users have no way to raise it.
  await assert.rejects(ourDump(chunked(six, 512), { maxEntries: 5 }), (e) => {
    assert.ok(isOslessError(e, "E_TAR_LIMIT"));
    assert.match(e.hint ?? "", /5 entries/);
    assert.match(e.hint ?? "", /fixed/);
    assert.doesNotMatch(e.hint ?? "", /raise/);
    return true;
  });
});

test("numbers: octal with spaces/NULs, base-256 accepted; negative base-256 size and non-octal digits refused", async () => {
  const odd = block({ path: "n", type: "file" }, [
    [100, "  0755 \0"],
    [108, "\0\0\0\0\0\0\0\0"],
    [116, " 17\0\0\0\0\0"],
    [136, "     1234 \0\0"],
    [124, "3\0          "],
  ]);
  const [h] = await collectEntries(Buffer.concat([odd, Buffer.from("abc"), pad(3), EOA]));
  assert.deepEqual([h?.mode, h?.uid, h?.gid, h?.mtime, h?.size], [0o755, 0, 0o17, 0o1234, 3]);
  const b256 = block({ path: "b", type: "file" }, [
    [108, Buffer.from([0x80, 0, 0, 0, 0xb2, 0xd0, 0x5e, 0x00])],
    [136, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe])],
  ]);
  const [b] = await collectEntries(Buffer.concat([b256, EOA]));
  assert.deepEqual([b?.uid, b?.mtime], [3000000000, -2]);
  const negSize = block({ path: "neg", type: "file" }, [[124, Buffer.alloc(12, 0xff)]]);
  await refuses(Buffer.concat([negSize, EOA]), "E_TAR_INVALID", undefined, /negative size/);
  const notOctal = block({ path: "x", type: "file" }, [[124, "00000000009\0"]]);
  await refuses(
    Buffer.concat([notOctal, EOA]),
    "E_TAR_INVALID",
    undefined,
    /size field is not an octal number/,
  );
  const paxSize = Buffer.concat([special("x", paxRecords([["size", "5"]])), file("x", "abc"), EOA]);
  await refuses(paxSize, "E_TAR_INVALID", undefined, /PAX size 5 disagrees/);
  // PAX size over a zero ustar size is the normal large-file form.
  const zeroUstar = Buffer.concat([
    special("x", paxRecords([["size", "3"]])),
    block({ path: "x", type: "file" }),
    Buffer.from("abc"),
    pad(3),
    EOA,
  ]);
  assert.equal((await ourDump(chunked(zeroUstar)))[0]?.size, 3);
});

test("EOF right after the last entry's data (no padding, no end-of-archive; umoci 0.4.7) is a clean end", async () => {
  const t = Buffer.concat([file("first", "1"), file("second", "x".repeat(3000))]);
  const cut = t.subarray(0, 1024 + 512 + 3000);
  const seen: string[] = [];
  for await (const e of readTar(chunked(cut, 700))) {
    seen.push(`${e.header.path}:${(await collect(e.body())).length}`);
  }
  assert.deepEqual(seen, ["first:1", "second:3000"]);
  const p = join(dir, "nopad.tar");
  writeFileSync(p, cut);
  assert.deepEqual(
    (await scanTarFile(p)).map((e) => e.header.path),
    ["first", "second"],
  );
  // One padding byte present but not the rest: truncated.
  await refuses(t.subarray(0, 1024 + 512 + 3001), "E_TAR_TRUNCATED", undefined, /padding/);
  writeFileSync(p, t.subarray(0, 1024 + 512 + 3001));
  await assert.rejects(scanTarFile(p), (e) => isOslessError(e, "E_TAR_TRUNCATED"));
});

test("EOF at a header boundary without end-of-archive blocks is accepted (also after one zero block)", async () => {
  const t = Buffer.concat([file("a", "1"), file("b", "22")]);
  assert.deepEqual(
    (await collectEntries(t)).map((h) => h.path),
    ["a", "b"],
  );
  assert.equal((await collectEntries(Buffer.concat([t, Buffer.alloc(512)]))).length, 2);
  await refuses(
    Buffer.concat([t, Buffer.alloc(512), file("hidden", "x")]),
    "E_TAR_INVALID",
    undefined,
    /lone zero block/,
  );
  await refuses(
    Buffer.concat([special("x", paxRecords([["path", "p"]])), EOA]),
    "E_TAR_INVALID",
    undefined,
    /followed by end-of-archive/,
  );
});

test("trailing zeros after end-of-archive are drained to EOF with bounded memory; drain:false stops early", async () => {
  const archive = Buffer.concat([file("a", "1"), EOA]);
  const zero = Buffer.alloc(64 * 1024);
  const total = 64 << 20;
  let pulled = 0;
  let closed = false;
  async function* source(): AsyncGenerator<Buffer> {
    try {
      pulled += archive.length;
      yield archive;
      for (let n = 0; n < total; n += zero.length) {
        pulled += zero.length;
        yield zero;
      }
    } finally {
      closed = true;
    }
  }
  const before = process.memoryUsage().rss;
  assert.equal((await collectEntriesFrom(source())).length, 1);
  assert.equal(pulled, archive.length + total, "every byte was read");
  assert.ok(process.memoryUsage().rss - before < 48 << 20, "memory stays bounded");
  pulled = 0;
  closed = false;
  assert.equal((await collectEntriesFrom(source(), { drain: false })).length, 1);
  assert.ok(pulled < total, "drain:false does not read the tail");
  assert.ok(closed, "the source is closed");
});

async function collectEntriesFrom(src: AsyncIterable<Buffer>, opts?: TarReadOptions) {
  const out = [];
  for await (const e of readTar(src, opts)) out.push(e.header);
  return out;
}

test("PAX global headers are ignored and never yield an entry", async () => {
  const t = Buffer.concat([
    special(
      "g",
      paxRecords([
        ["path", "../evil"],
        ["uid", "7"],
      ]),
    ),
    file("a", "1"),
    EOA,
  ]);
  const hs = await collectEntries(t);
  assert.deepEqual(
    hs.map((h) => [h.path, h.uid, h.pax.size]),
    [["a", 0, 0]],
  );
});

test("data on symlink, hardlink, directory and device entries is skipped; unconsumed bodies are skipped", async () => {
  const data = Buffer.alloc(700, 0x5a);
  const withData = (e: TarWriteEntry) => Buffer.concat([block(e, [[124, "00000001274\0"]]), data, pad(700)]);
  const t = Buffer.concat([
    withData({ path: "s", type: "symlink", linkpath: "t" }),
    withData({ path: "h", type: "hardlink", linkpath: "s" }),
    withData({ path: "d/", type: "directory" }),
    withData({ path: "c", type: "char", devmajor: 1, devminor: 5 }),
    file("f", "after"),
    file("unread", "x".repeat(5000)),
    file("half", "y".repeat(5000)),
    file("last", "end"),
    EOA,
  ]);
  const seen: [string, string, number][] = [];
  for await (const e of readTar(chunked(t, 1000))) {
    const h = e.header;
    if (h.path === "unread") continue;
    if (h.path === "half") {
      for await (const c of e.body()) {
        assert.ok(c.length > 0);
        break;
      }
      continue;
    }
    seen.push([h.path, (await collect(e.body())).toString(), h.size]);
  }
  assert.deepEqual(seen, [
    ["s", "", 700],
    ["h", "", 700],
    ["d/", "", 700],
    ["c", "", 700],
    ["f", "after", 5],
    ["last", "end", 3],
  ]);
  // body() after the next entry was requested is a programming error.
  const it = readTar(chunked(Buffer.concat([file("a", "1"), file("b", "2"), EOA])));
  const first = await it.next();
  await it.next();
  assert.ok(!first.done);
  await assert.rejects(collect(first.value.body()), /requested after the next entry/);
  await it.return(undefined);
});
