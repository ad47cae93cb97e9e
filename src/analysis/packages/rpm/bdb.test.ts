import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { FindingList } from "../common.ts";
import { bdbHashEntries, readRpmBdb } from "./bdb.ts";
import { parseRpmHeader } from "./header.ts";
import { prng, rowsOf, rpmFixture } from "./testkit.ts";

describe("rpm Berkeley DB databases (Packages)", () => {
  it("reads hash databases written by Berkeley DB as rpm's bdb_ro reads them (both byte orders, 4 KiB and 512-byte pages)", async () => {
    const fx = await rpmFixture();
    for (const [file, oracle] of [
      [fx.bdbLe4096, fx.oracle.bdbLe4096],
      [fx.bdbBe512, fx.oracle.bdbBe512],
    ] as const) {
      assert.deepEqual(oracle, fx.oracle.sqlite, "rpm reads the same packages from BDB as from SQLite");
      const r = readRpmBdb(readFileSync(file), "/var/lib/rpm/Packages");
      assert.deepEqual(r.findings, []);
      assert.deepEqual(rowsOf(r.packages), oracle);
      // Instance order, whatever the hash order of the buckets.
      assert.deepEqual(
        r.packages.map((p) => p.name),
        fx.blobs.map((b) => parseRpmHeader(b).package?.name),
      );
      for (const p of r.packages) {
        assert.equal(p.location, "/var/lib/rpm/Packages");
        assert.deepEqual(p.files, fx.files.get(p.name) ?? []);
      }
    }
  });

  it("follows buckets and overflow chains: every header comes back byte for byte", async () => {
    const fx = await rpmFixture();
    const be = readFileSync(fx.bdbBe512);
    // The big-endian fixture really has many buckets and multi-page values.
    assert.equal(be.readUInt32BE(12), 0x061561);
    assert.ok(be.readUInt32BE(72) >= 3, `max bucket ${be.readUInt32BE(72)}`);
    assert.ok((fx.blobs[0]?.length ?? 0) > 3 * 512);
    const findings = new FindingList();
    const entries = bdbHashEntries(be, "/p", findings);
    assert.deepEqual(findings.done(), []);
    assert.equal(entries.length, fx.blobs.length + 1, "the headers and rpm's key-0 record");
    const byKey = new Map(entries.map((e) => [e.key.readUInt32BE(0), e.value]));
    for (const [i, b] of fx.blobs.entries()) assert.ok(byKey.get(i + 1)?.equals(b), `instance ${i + 1}`);
  });

  it("reports a file that is not a Berkeley DB, such as a text file named Packages", () => {
    const text = Buffer.from(`${"Package: bash\nVersion: 5.2\nArchitecture: amd64\n\n".repeat(20)}`);
    assert.deepEqual(readRpmBdb(text, "/var/lib/rpm/Packages"), {
      packages: [],
      findings: [
        {
          code: "RPM_DB_CORRUPT",
          path: "/var/lib/rpm/Packages",
          message: "not a Berkeley DB hash database (no hash magic 0x061561 at offset 12)",
        },
      ],
    });
    assert.match(readRpmBdb(Buffer.alloc(0)).findings[0]?.message ?? "", /too short/);
    const btree = Buffer.alloc(4096);
    btree.writeUInt32LE(0x053162, 12);
    assert.equal(readRpmBdb(btree).findings.length, 1);
  });

  it("never loses packages silently when the file is cut short", async () => {
    const fx = await rpmFixture();
    for (const file of [fx.bdbLe4096, fx.bdbBe512]) {
      const full = readFileSync(file);
      const pageSize = full.readUInt32BE(20) === 512 ? 512 : full.readUInt32LE(20);
      const all = readRpmBdb(full).packages.length;
      for (let cut = 0; cut < full.length; cut += pageSize / 2) {
        const r = readRpmBdb(full.subarray(0, cut), "/p");
        assert.ok(r.findings.length > 0, `cut at ${cut} of ${full.length} is reported`);
        assert.ok(r.packages.length <= all);
      }
    }
  });

  it("stops at loops and bad page references instead of hanging or throwing", async () => {
    const fx = await rpmFixture();
    const full = readFileSync(fx.bdbBe512);
    const pageSize = 512;
    const pages = full.length / pageSize;
    // Point every overflow page's next-page link back at itself.
    const loop = Buffer.from(full);
    let overflowPages = 0;
    for (let p = 1; p < pages; p++) {
      if (loop[p * pageSize + 25] === 7 && loop.readUInt32BE(p * pageSize + 16) !== 0) {
        loop.writeUInt32BE(p, p * pageSize + 16);
        overflowPages++;
      }
    }
    assert.ok(overflowPages > 0);
    const r = readRpmBdb(loop, "/p");
    assert.ok(r.findings.some((f) => /overflow chain loops/.test(f.message)));
    // A bucket chain that loops back to its first page.
    const bucketLoop = Buffer.from(full);
    const first = 1 + bucketLoop.readUInt32BE(96);
    bucketLoop.writeUInt32BE(first, first * pageSize + 16);
    assert.ok(readRpmBdb(bucketLoop).findings.some((f) => /reached twice/.test(f.message)));
  });

  it("survives fuzzing of the database pages", async () => {
    const fx = await rpmFixture();
    const rand = prng(7);
    let reported = 0;
    for (const file of [fx.bdbLe4096, fx.bdbBe512]) {
      const full = readFileSync(file);
      for (let round = 0; round < 400; round++) {
        const b = Buffer.from(full);
        for (let e = 0; e < 1 + Math.floor(rand() * 12); e++) {
          // Page headers and index entries are where the structure lives: aim there half of the time.
          const page = Math.floor(rand() * (b.length / 512)) * 512;
          const at = rand() < 0.5 ? page + Math.floor(rand() * 64) : Math.floor(rand() * b.length);
          b[at] = Math.floor(rand() * 256);
        }
        const r = readRpmBdb(b, "/p");
        for (const p of r.packages) assert.ok(p.name.length > 0);
        if (r.findings.length) reported++;
      }
    }
    assert.ok(reported > 50, `${reported} of 800 damaged databases reported`);
  });
});
