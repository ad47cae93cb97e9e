/**
 * rpm's SQLite database `rpmdb.sqlite` (rpm 4.16+: Fedora 33+, RHEL 9, Rocky/Alma 9, CBL-Mariner 2, Amazon Linux
 * 2023): table `Packages (hnum INTEGER PRIMARY KEY, blob BLOB)`, one header blob (./header.ts) per package.
 *
 * Read with sql.js (SQLite compiled to WASM; Node 20 has no node:sqlite), imported on first use only, so images
 * without an rpm SQLite database never load it. rpm keeps the database in WAL mode: committed transactions
 * may still sit in `rpmdb.sqlite-wal` when rpm did not close the database cleanly (the WAL is checkpointed
 * into the main file and emptied at a clean close). sql.js opens a database from one buffer, so
 * `applySqliteWal` first replays the WAL's committed frames onto a copy of the main file, as SQLite's recovery
 * does (format: sqlite.org/fileformat.html, "The Write-Ahead Log"): frames whose salts match the WAL header and
 * whose running checksum is valid, up to the last commit frame.
 */
import type { SqlJsStatic } from "sql.js";
import { FindingList } from "../common.ts";
import type { CatalogResult } from "../types.ts";
import { type HeaderBlob, packagesFromBlobs } from "./blobs.ts";

const SQLITE_MAGIC = Buffer.from("SQLite format 3\0", "latin1");
const WAL_MAGIC = 0x377f0682; // | 1: checksums over big-endian words

let sqlJs: Promise<SqlJsStatic> | undefined;

/**
 * sql.js, loaded once. It finds its WASM file next to its own module, so a bundler must leave it external
 * (as scripts/bundle.mjs does with xz-decompress).
 */
function loadSqlJs(): Promise<SqlJsStatic> {
  sqlJs ??= import("sql.js").then((m) => m.default());
  sqlJs.catch(() => {
    sqlJs = undefined;
  });
  return sqlJs;
}

/** SQLite's WAL checksum of `b` (a multiple of 8 bytes) continuing from `s`. */
function walChecksum(b: Buffer, bigEndian: boolean, s: [number, number]): [number, number] {
  let [s0, s1] = s;
  for (let i = 0; i + 8 <= b.length; i += 8) {
    const x0 = bigEndian ? b.readUInt32BE(i) : b.readUInt32LE(i);
    const x1 = bigEndian ? b.readUInt32BE(i + 4) : b.readUInt32LE(i + 4);
    s0 = (s0 + x0 + s1) >>> 0;
    s1 = (s1 + x1 + s0) >>> 0;
  }
  return [s0, s1];
}

/**
 * The database `db` with the committed frames of its write-ahead log `wal` applied, and how many transactions
 * were replayed. A WAL that does not belong to the database (other page size, bad header) changes nothing and
 * says why in `problem`.
 */
export function applySqliteWal(
  db: Buffer,
  wal: Buffer,
): { bytes: Buffer; commits: number; problem?: string } {
  if (wal.length < 32) return { bytes: db, commits: 0 };
  const magic = wal.readUInt32BE(0);
  if ((magic & ~1) !== WAL_MAGIC) return { bytes: db, commits: 0, problem: "the -wal file has no WAL magic" };
  const be = (magic & 1) === 1;
  const pageSize = wal.readUInt32BE(8);
  const dbPageSize = db.length >= 18 ? db.readUInt16BE(16) : 0;
  if (pageSize !== (dbPageSize === 1 ? 65536 : dbPageSize)) {
    return { bytes: db, commits: 0, problem: `the -wal file's page size ${pageSize} is not the database's` };
  }
  const salt1 = wal.readUInt32BE(16);
  const salt2 = wal.readUInt32BE(20);
  let sum = walChecksum(wal.subarray(0, 24), be, [0, 0]);
  if (sum[0] !== wal.readUInt32BE(24) || sum[1] !== wal.readUInt32BE(28)) {
    return { bytes: db, commits: 0, problem: "the -wal file's header checksum does not match" };
  }
  const pending = new Map<number, Buffer>();
  const committed = new Map<number, Buffer>();
  let dbPages = Math.floor(db.length / pageSize);
  let commits = 0;
  for (let off = 32; off + 24 + pageSize <= wal.length; off += 24 + pageSize) {
    if (wal.readUInt32BE(off + 8) !== salt1 || wal.readUInt32BE(off + 12) !== salt2) break;
    sum = walChecksum(wal.subarray(off, off + 8), be, sum);
    sum = walChecksum(wal.subarray(off + 24, off + 24 + pageSize), be, sum);
    if (sum[0] !== wal.readUInt32BE(off + 16) || sum[1] !== wal.readUInt32BE(off + 20)) break;
    const pgno = wal.readUInt32BE(off);
    if (pgno === 0) break;
    pending.set(pgno, wal.subarray(off + 24, off + 24 + pageSize));
    const sizeAfterCommit = wal.readUInt32BE(off + 4);
    if (sizeAfterCommit !== 0) {
      for (const [n, page] of pending) committed.set(n, page);
      pending.clear();
      dbPages = sizeAfterCommit;
      commits++;
    }
  }
  if (commits === 0) return { bytes: db, commits: 0 };
  const out = Buffer.alloc(dbPages * pageSize);
  db.copy(out, 0, 0, Math.min(db.length, out.length));
  for (const [n, page] of committed) if (n <= dbPages) page.copy(out, (n - 1) * pageSize);
  return { bytes: out, commits };
}

/**
 * The packages of an rpm SQLite database (`bytes`: the main file; `wal`: its `-wal` file, if any).
 * `location`: its path in the image, for the results. Never throws on bad bytes: findings (`RPM_DB_CORRUPT`).
 */
export async function readRpmSqlite(
  bytes: Buffer,
  location = "/var/lib/rpm/rpmdb.sqlite",
  wal?: Buffer,
): Promise<CatalogResult> {
  const findings = new FindingList();
  if (bytes.length < 100 || !bytes.subarray(0, 16).equals(SQLITE_MAGIC)) {
    findings.add("RPM_DB_CORRUPT", location, "not an SQLite database (no 'SQLite format 3' header)");
    return { packages: [], findings: findings.done() };
  }
  let image = bytes;
  if (wal && wal.length > 0) {
    const w = applySqliteWal(bytes, wal);
    if (w.problem) findings.add("RPM_DB_CORRUPT", `${location}-wal`, `${w.problem}; it is ignored`);
    image = w.bytes;
  }
  const SQL = await loadSqlJs();
  const blobs: HeaderBlob[] = [];
  let db: InstanceType<SqlJsStatic["Database"]> | undefined;
  try {
    db = new SQL.Database(image);
    const st = db.prepare("SELECT hnum, blob FROM Packages ORDER BY hnum");
    try {
      while (st.step()) {
        const [hnum, blob] = st.get();
        if (typeof hnum !== "number" || !(blob instanceof Uint8Array)) {
          findings.add("RPM_DB_CORRUPT", location, `Packages row ${String(hnum)} has no header blob`);
          continue;
        }
        blobs.push({ instance: hnum, blob: Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength) });
      }
    } finally {
      st.free();
    }
  } catch (e) {
    findings.add(
      "RPM_DB_CORRUPT",
      location,
      `SQLite cannot read the Packages table: ${(e as Error).message}`,
    );
  } finally {
    db?.close();
  }
  return packagesFromBlobs(blobs, location, findings);
}
