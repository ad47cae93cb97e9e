/**
 * rpm's Berkeley DB `Packages` file (rpm before 4.16; RHEL/CentOS ≤ 8, Amazon Linux 2, old SUSE): a Berkeley DB
 * hash database whose keys are 4-byte instance numbers (in the database's byte order; key 0 is rpm's own
 * bookkeeping record) and whose values are header blobs (./header.ts).
 *
 * Our own reader of the on-disk format, written from Berkeley DB 5.3's dbinc/db_page.h and dbinc/hash.h layouts
 * and from rpm's read-only backend (lib/backend/bdb_ro.c), which walks the file the same way; knqyf263/go-rpmdb
 * (pkg/bdb) was read as a second description. No code is taken from them.
 *
 *   every page starts with a 26-byte header: lsn 8, pgno u32 @8, prev_pgno u32 @12, next_pgno u32 @16,
 *     entries u16 @20, hf_offset u16 @22, level u8 @24, type u8 @25
 *   page 0, the hash meta page (type 8): magic 0x061561 u32 @12 (read byte-swapped: a big-endian database),
 *     version @16, pagesize @20, encrypt_alg u8 @24, last_pgno @32, max_bucket @72, high_mask @76, low_mask @80,
 *     spares[32] @96 (bucket b lives on page b + spares[bits(b)], bits(b) = ⌈log2(b+1)⌉)
 *   hash pages (type 13, or 2 before BDB 4.6): `entries` u16 offsets after the header, alternating key, value;
 *     an item is H_KEYDATA (1: type byte, bytes up to the previous item's offset, or the page end for item 0) or
 *     H_OFFPAGE (3: type, 3 pad, pgno u32, total length u32); a bucket continues on next_pgno
 *   overflow pages (type 7): hf_offset bytes of data after the header, chained by next_pgno
 *
 * Bad bytes never throw: what cannot be read is a finding (code `RPM_DB_CORRUPT`), and what can is returned.
 */
import { FindingList } from "../common.ts";
import type { CatalogResult } from "../types.ts";
import { type HeaderBlob, packagesFromBlobs } from "./blobs.ts";

const HASH_MAGIC = 0x061561;
const PAGE_HEADER = 26;
const P_HASH_UNSORTED = 2;
const P_OVERFLOW = 7;
const P_HASHMETA = 8;
const P_HASH = 13;
const H_KEYDATA = 1;
const H_OFFPAGE = 3;

class Pages {
  readonly le: boolean;
  readonly pageSize: number;
  /** Pages present in the file (a truncated file has fewer than last_pgno + 1). */
  readonly count: number;

  constructor(
    readonly bytes: Buffer,
    le: boolean,
    pageSize: number,
  ) {
    this.le = le;
    this.pageSize = pageSize;
    this.count = Math.floor(bytes.length / pageSize);
  }

  u16(o: number): number {
    return this.le ? this.bytes.readUInt16LE(o) : this.bytes.readUInt16BE(o);
  }

  u32(o: number): number {
    return this.le ? this.bytes.readUInt32LE(o) : this.bytes.readUInt32BE(o);
  }

  /** The page's byte offset, or a reason it cannot be read. */
  page(pgno: number, types: number[]): number | string {
    if (pgno < 1 || pgno >= this.count) return `page ${pgno} is outside the ${this.count} pages of the file`;
    const off = pgno * this.pageSize;
    if (this.u32(off + 8) !== pgno) return `page ${pgno} says it is page ${this.u32(off + 8)}`;
    const type = this.bytes[off + 25] ?? 0;
    if (!types.includes(type)) return `page ${pgno} has type ${type}, expected ${types.join(" or ")}`;
    return off;
  }
}

/** An off-page item's bytes: `len` bytes along the overflow chain starting at `pgno`. */
function overflow(p: Pages, pgno: number, len: number): Buffer | string {
  const parts: Buffer[] = [];
  let got = 0;
  const seen = new Set<number>();
  while (got < len) {
    if (pgno === 0) return `overflow chain ends after ${got} of ${len} bytes`;
    if (seen.has(pgno)) return `overflow chain loops at page ${pgno}`;
    seen.add(pgno);
    const off = p.page(pgno, [P_OVERFLOW]);
    if (typeof off === "string") return `overflow chain: ${off}`;
    const n = p.u16(off + 22);
    if (PAGE_HEADER + n > p.pageSize || n > len - got) {
      return `overflow page ${pgno} holds ${n} bytes, more than ${Math.min(p.pageSize - PAGE_HEADER, len - got)} fit`;
    }
    parts.push(p.bytes.subarray(off + PAGE_HEADER, off + PAGE_HEADER + n));
    got += n;
    pgno = p.u32(off + 16);
  }
  return Buffer.concat(parts, len);
}

/** A hash item (key or value) at page offset `off` with `len` bytes on the page. */
function item(p: Pages, page: number, off: number, len: number): Buffer | string {
  if (len <= 0 || off + len > p.pageSize)
    return `item at offset ${off} of ${len} bytes does not fit the page`;
  const at = page + off;
  const type = p.bytes[at];
  if (type === H_KEYDATA) return p.bytes.subarray(at + 1, at + len);
  if (type === H_OFFPAGE) {
    if (len !== 12) return `off-page item at offset ${off} is ${len} bytes, not 12`;
    return overflow(p, p.u32(at + 4), p.u32(at + 8));
  }
  return `item at offset ${off} has type ${type} (duplicates are not used by rpm)`;
}

/** The key/value pairs of a Berkeley DB hash database, bucket by bucket; problems go to `findings`. */
export function bdbHashEntries(
  bytes: Buffer,
  path: string,
  findings: FindingList,
): { key: Buffer; value: Buffer }[] {
  const out: { key: Buffer; value: Buffer }[] = [];
  if (bytes.length < 512) {
    findings.add("RPM_DB_CORRUPT", path, `${bytes.length} bytes is too short for a Berkeley DB meta page`);
    return out;
  }
  let le: boolean;
  if (bytes.readUInt32LE(12) === HASH_MAGIC) le = true;
  else if (bytes.readUInt32BE(12) === HASH_MAGIC) le = false;
  else {
    findings.add(
      "RPM_DB_CORRUPT",
      path,
      "not a Berkeley DB hash database (no hash magic 0x061561 at offset 12)",
    );
    return out;
  }
  const meta = new Pages(bytes, le, 512);
  const version = meta.u32(16);
  const pageSize = meta.u32(20);
  if (version < 8 || version > 10) {
    findings.add(
      "RPM_DB_CORRUPT",
      path,
      `unsupported Berkeley DB hash version ${version} (8 to 10 are known)`,
    );
    return out;
  }
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
    findings.add("RPM_DB_CORRUPT", path, `page size ${pageSize} is not a power of two from 512 to 65536`);
    return out;
  }
  if (bytes[24] !== 0) {
    findings.add(
      "RPM_DB_CORRUPT",
      path,
      `the database is encrypted (algorithm ${bytes[24]}); rpm never writes one`,
    );
    return out;
  }
  if (bytes[25] !== P_HASHMETA) {
    findings.add("RPM_DB_CORRUPT", path, `page 0 has type ${bytes[25]}, not the hash meta page (8)`);
    return out;
  }
  const p = new Pages(bytes, le, pageSize);
  const lastPage = meta.u32(32);
  if (p.count < lastPage + 1) {
    findings.add(
      "RPM_DB_CORRUPT",
      path,
      `file is truncated: it has ${p.count} of ${lastPage + 1} pages of ${pageSize} bytes`,
    );
  }
  const maxBucket = meta.u32(72);
  if (maxBucket >= p.count) {
    findings.add("RPM_DB_CORRUPT", path, `${maxBucket + 1} hash buckets cannot fit in ${p.count} pages`);
    return out;
  }
  const spares: number[] = [];
  for (let i = 0; i < 32; i++) spares.push(meta.u32(96 + i * 4));
  const seen = new Set<number>();
  for (let bucket = 0; bucket <= maxBucket; bucket++) {
    const bits = bucket === 0 ? 0 : 32 - Math.clz32(bucket);
    let pgno = bucket + (spares[bits] ?? 0);
    while (pgno !== 0) {
      if (seen.has(pgno)) {
        findings.add("RPM_DB_CORRUPT", path, `bucket ${bucket}: page ${pgno} is reached twice`);
        break;
      }
      seen.add(pgno);
      const page = p.page(pgno, [P_HASH, P_HASH_UNSORTED]);
      if (typeof page === "string") {
        findings.add("RPM_DB_CORRUPT", path, `bucket ${bucket}: ${page}`);
        break;
      }
      const n = p.u16(page + 20);
      const maxEntries = Math.floor((pageSize - PAGE_HEADER) / 2);
      if (n > maxEntries || n % 2 !== 0) {
        findings.add("RPM_DB_CORRUPT", path, `bucket ${bucket}: page ${pgno} claims ${n} items`);
        break;
      }
      const inp = (i: number) => p.u16(page + PAGE_HEADER + i * 2);
      for (let i = 0; i < n; i += 2) {
        const koff = inp(i);
        const voff = inp(i + 1);
        const kend = i === 0 ? pageSize : inp(i - 1);
        const key = item(p, page, koff, kend - koff);
        const value = typeof key === "string" ? key : item(p, page, voff, koff - voff);
        if (typeof key === "string" || typeof value === "string") {
          findings.add(
            "RPM_DB_CORRUPT",
            path,
            `page ${pgno}, item ${i / 2}: ${typeof key === "string" ? key : value}`,
          );
          continue;
        }
        out.push({ key, value });
      }
      pgno = p.u32(page + 16);
    }
  }
  return out;
}

/** The packages of an rpm Berkeley DB `Packages` file. `location`: its path in the image, for the results. */
export function readRpmBdb(bytes: Buffer, location = "/var/lib/rpm/Packages"): CatalogResult {
  const findings = new FindingList();
  const blobs: HeaderBlob[] = [];
  const le = bytes.length >= 16 && bytes.readUInt32LE(12) === HASH_MAGIC;
  for (const { key, value } of bdbHashEntries(bytes, location, findings)) {
    if (key.length !== 4) {
      findings.add(
        "RPM_DB_CORRUPT",
        location,
        `a key of ${key.length} bytes; rpm's keys are 4-byte instance numbers`,
      );
      continue;
    }
    const instance = le ? key.readUInt32LE(0) : key.readUInt32BE(0);
    if (instance === 0) continue; // rpm's record of the last instance number used
    blobs.push({ instance, blob: value });
  }
  return packagesFromBlobs(blobs, location, findings);
}
