import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parseRpmHeader } from "./header.ts";
import { applySqliteWal, readRpmSqlite } from "./sqlite.ts";
import { prng, rowsOf, rpmFixture } from "./testkit.ts";

describe("rpm SQLite databases (rpmdb.sqlite)", () => {
  it("reads the database rpm wrote exactly as rpm -qa does, files included, in install order", async () => {
    const fx = await rpmFixture();
    const r = await readRpmSqlite(readFileSync(fx.sqlite), "/var/lib/rpm/rpmdb.sqlite");
    assert.deepEqual(r.findings, []);
    assert.deepEqual(rowsOf(r.packages), fx.oracle.sqlite);
    for (const p of r.packages) {
      assert.equal(p.location, "/var/lib/rpm/rpmdb.sqlite");
      assert.deepEqual(p.files, fx.files.get(p.name) ?? []);
    }
    // Instance order: rpm installed the packages in its transaction order, which the export kept.
    assert.deepEqual(
      r.packages.map((p) => p.name),
      fx.blobs.map((b) => parseRpmHeader(b).package?.name),
    );
  });

  it("replays committed transactions still in the write-ahead log, as rpm does", async () => {
    const fx = await rpmFixture();
    const db = readFileSync(fx.walDb);
    const wal = readFileSync(`${fx.walDb}-wal`);
    const without = await readRpmSqlite(db);
    assert.deepEqual(
      rowsOf(without.packages),
      fx.oracle.sqlite,
      "the main file alone lacks the WAL's packages",
    );
    const r = await readRpmSqlite(db, "/usr/lib/sysimage/rpm/rpmdb.sqlite", wal);
    assert.deepEqual(r.findings, []);
    assert.deepEqual(rowsOf(r.packages), fx.oracle.wal);
    // Committed after the others, in the order the test inserted them.
    const late = fx.lateBlobs.map((b) => parseRpmHeader(b).package?.name);
    assert.deepEqual(
      r.packages.slice(-2).map((p) => p.name),
      late,
    );
    assert.equal(applySqliteWal(db, wal).commits, 2);
  });

  it("applies only whole committed transactions of a cut or damaged WAL", async () => {
    const fx = await rpmFixture();
    const db = readFileSync(fx.walDb);
    const wal = readFileSync(`${fx.walDb}-wal`);
    const pageSize = wal.readUInt32BE(8);
    const frame = 24 + pageSize;
    const frames = (wal.length - 32) / frame;
    assert.ok(Number.isInteger(frames) && frames >= 2, `${frames} frames`);
    const base = (await readRpmSqlite(db)).packages.map((p) => p.name);
    const seen = new Set<number>();
    let last = 0;
    for (let k = 0; k <= frames; k++) {
      for (const cut of [32 + k * frame, 32 + k * frame + 100]) {
        if (cut > wal.length) continue;
        const r = await readRpmSqlite(db, "/db", wal.subarray(0, cut));
        assert.deepEqual(r.findings, []);
        const names = r.packages.map((p) => p.name);
        assert.ok(names.length >= last, "a longer WAL never loses packages");
        last = names.length;
        seen.add(names.length);
        assert.deepEqual(names.slice(0, base.length), base);
      }
    }
    const n = fx.oracle.sqlite.length;
    assert.deepEqual([...seen].sort(), [n, n + 1, n + 2], "nothing, one, then both late packages");

    // A bad checksum in the last frame ends the log before the second commit.
    const bad = Buffer.from(wal);
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 0xff;
    const r = await readRpmSqlite(db, "/db", bad);
    assert.equal(r.packages.length, n + 1);
    assert.equal(r.packages.at(-1)?.name, parseRpmHeader(fx.lateBlobs[0] ?? Buffer.alloc(0)).package?.name);

    // A -wal that is not a WAL is reported and ignored.
    const junk = await readRpmSqlite(db, "/db", Buffer.alloc(4096, 7));
    assert.equal(junk.packages.length, n);
    assert.deepEqual(
      junk.findings.map((f) => [f.code, f.path]),
      [["RPM_DB_CORRUPT", "/db-wal"]],
    );
  });

  it("reports a file that is not SQLite, and an SQLite file without rpm's table", async () => {
    const text = await readRpmSqlite(Buffer.from("Package: bash\nVersion: 5\n"), "/var/lib/rpm/rpmdb.sqlite");
    assert.deepEqual(text, {
      packages: [],
      findings: [
        {
          code: "RPM_DB_CORRUPT",
          path: "/var/lib/rpm/rpmdb.sqlite",
          message: "not an SQLite database (no 'SQLite format 3' header)",
        },
      ],
    });
    // An SQLite database of something else.
    const SQL = await (await import("sql.js")).default();
    const other = new SQL.Database();
    other.run("CREATE TABLE Names (key TEXT)");
    const db = Buffer.from(other.export());
    other.close();
    const r = await readRpmSqlite(db, "/d");
    assert.equal(r.packages.length, 0);
    assert.equal(r.findings.length, 1);
    assert.match(r.findings[0]?.message ?? "", /cannot read the Packages table: no such table: Packages/);
  });

  it("never loses packages silently when the file is cut short, never throws", async () => {
    const fx = await rpmFixture();
    const full = readFileSync(fx.sqlite);
    const names = new Set(fx.oracle.sqlite.map((o) => o.name));
    const pageSize = full.readUInt16BE(16);
    const cuts = [0, 16, 99, 100, 512, pageSize, pageSize + 1];
    for (let p = 2; p * pageSize < full.length; p += 3) cuts.push(p * pageSize, p * pageSize - 7);
    cuts.push(full.length - 1);
    for (const cut of cuts) {
      const r = await readRpmSqlite(full.subarray(0, cut), "/d");
      for (const p of r.packages) assert.ok(names.has(p.name), `cut ${cut}: ${p.name}`);
      if (r.packages.length < names.size)
        assert.ok(r.findings.length > 0, `cut at ${cut} lost packages silently`);
    }
  });

  it("survives fuzzing of the database bytes", async () => {
    const fx = await rpmFixture();
    const full = readFileSync(fx.sqlite);
    const rand = prng(42);
    let damaged = 0;
    for (let round = 0; round < 150; round++) {
      const b = Buffer.from(full);
      for (let e = 0; e < 1 + Math.floor(rand() * 20); e++) {
        b[100 + Math.floor(rand() * (b.length - 100))] = Math.floor(rand() * 256);
      }
      const r = await readRpmSqlite(b, "/d");
      assert.ok(Array.isArray(r.packages));
      for (const f of r.findings) assert.match(f.code, /^RPM_(DB|HEADER)_CORRUPT$/);
      if (r.findings.length) damaged++;
    }
    // The database still answers afterwards (the WASM instance is not left broken).
    const again = await readRpmSqlite(full, "/d");
    assert.deepEqual(rowsOf(again.packages), fx.oracle.sqlite);
    assert.ok(damaged > 10, `${damaged} of 150 damaged databases reported`);
  });
});
