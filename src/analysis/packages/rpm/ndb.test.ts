import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { adler32, readRpmNdb } from "./ndb.ts";
import { prng, rowsOf, rpmFixture, writeNdb } from "./testkit.ts";

// No tool on Debian reads or writes NDB (Debian's rpm is built without it): these databases are written by the
// tests from the format (rpm's lib/backend/ndb/rpmpkg.c) around the real headers rpm installed, and the oracle
// is what rpm said of those headers in its SQLite database.
describe("rpm NDB databases (Packages.db)", () => {
  it("computes Adler-32 as RFC 1950 does", () => {
    assert.equal(adler32(Buffer.from("Wikipedia")), 0x11e60398);
    assert.equal(adler32(Buffer.alloc(0)), 1);
    // Past the 5552-byte reduction block, with the largest byte values.
    assert.equal(adler32(Buffer.alloc(100000, 0xff)), 0x149a302c); // zlib.adler32(b"\xff" * 100000)
  });

  it("reads every package of an NDB database, free slots and gaps between blobs included", async () => {
    const fx = await rpmFixture();
    const r = readRpmNdb(readFileSync(fx.ndb), "/usr/lib/sysimage/rpm/Packages.db");
    assert.deepEqual(r.findings, []);
    assert.deepEqual(rowsOf(r.packages), fx.oracle.sqlite);
    for (const p of r.packages) {
      assert.equal(p.location, "/usr/lib/sysimage/rpm/Packages.db");
      assert.deepEqual(p.files, fx.files.get(p.name) ?? []);
    }
    // More than one slot page.
    const two = readRpmNdb(writeNdb(fx.blobs, { slotPages: 2 }));
    assert.deepEqual(two.findings, []);
    assert.equal(two.packages.length, fx.blobs.length);
  });

  it("reports a checksum mismatch and still reads the header, as rpm does", async () => {
    const fx = await rpmFixture();
    const b = Buffer.from(readFileSync(fx.ndb));
    // The first blob starts right after the slot page; damage one byte of its header's data (a file name).
    const at = b.indexOf("greeting", 4096);
    assert.ok(at > 0);
    b[at] = 0x47; // "Greeting"
    const r = readRpmNdb(b, "/p");
    assert.equal(r.packages.length, fx.blobs.length);
    assert.ok(r.packages.some((p) => p.files?.includes("/usr/share/hello-osless/Greeting")));
    assert.equal(r.findings.length, 1);
    assert.match(r.findings[0]?.message ?? "", /checksum \(adler32\) does not match/);
  });

  it("reports files that are not NDB and damaged slots, never throws", async () => {
    const fx = await rpmFixture();
    const full = readFileSync(fx.ndb);
    assert.match(readRpmNdb(Buffer.from("RpmX")).findings[0]?.message ?? "", /not an rpm NDB database/);
    assert.match(readRpmNdb(Buffer.from("Packages\n")).findings[0]?.message ?? "", /not an rpm NDB/);
    const v1 = Buffer.from(full);
    v1.writeUInt32LE(1, 4);
    assert.match(readRpmNdb(v1).findings[0]?.message ?? "", /unsupported NDB version 1/);
    const many = Buffer.from(full);
    many.writeUInt32LE(0xffffffff, 12);
    const m = readRpmNdb(many);
    assert.ok(m.findings.some((f) => /truncated/.test(f.message)));
    // A slot whose blob belongs to another package index.
    const swapped = Buffer.from(full);
    const slot = 32 + 3 * 16; // the first used slot (three free ones come first)
    assert.equal(swapped.readUInt32LE(slot + 4), 1);
    swapped.writeUInt32LE(99, slot + 4);
    const s = readRpmNdb(swapped, "/p");
    assert.equal(s.packages.length, fx.blobs.length - 1);
    assert.match(s.findings[0]?.message ?? "", /slot 3 \(package index 99\): no blob head/);
  });

  it("never loses packages silently when the file is cut short", async () => {
    const fx = await rpmFixture();
    const full = readFileSync(fx.ndb);
    for (let cut = 0; cut < full.length; cut += 97) {
      const r = readRpmNdb(full.subarray(0, cut), "/p");
      assert.ok(r.findings.length > 0, `cut at ${cut}`);
      assert.ok(r.packages.length < fx.blobs.length);
    }
  });

  it("survives fuzzing", async () => {
    const fx = await rpmFixture();
    const full = readFileSync(fx.ndb);
    const rand = prng(99);
    let reported = 0;
    for (let round = 0; round < 1000; round++) {
      const b = Buffer.from(full);
      for (let e = 0; e < 1 + Math.floor(rand() * 10); e++) {
        const at = rand() < 0.5 ? Math.floor(rand() * 4096) : Math.floor(rand() * b.length);
        b[at] = Math.floor(rand() * 256);
      }
      const r = readRpmNdb(b, "/p");
      for (const p of r.packages) assert.ok(p.name.length > 0);
      if (r.findings.length) reported++;
    }
    assert.ok(reported > 500, `${reported} of 1000 damaged databases reported`);
  });
});
