/**
 * rpm's NDB `Packages.db` (SUSE since 2021): rpm's own package store, all little-endian.
 *
 *   header, 32 bytes: magic "RpmP" u32 @0, version u32 @4 (0), generation @8, slot pages @12, next index @16
 *   slot pages, 4096 bytes each (the first starts after the header): 16-byte slots
 *     { magic "Slot", package index, block offset, block count }; block offset 0 is a free slot
 *   blobs at block offset × 16: head { magic "BlbS", package index, timestamp, blob length }, the header blob
 *     (./header.ts), zero padding, tail { adler32 of head + blob + padding, blob length, magic "BlbE" };
 *     block count = ⌈(16 + length + 12) / 16⌉
 *
 * Our own reader, written from rpm's lib/backend/ndb/rpmpkg.c; knqyf263/go-rpmdb (pkg/ndb) was read as a second
 * description (it calls the head's timestamp a checksum; rpmpkg.c is right). No code is taken from either.
 * rpm itself does not check the adler32 when it reads a blob; a mismatch is reported here, and the blob is
 * still parsed (the header parser checks its own bounds). Bad bytes never throw: findings (`RPM_DB_CORRUPT`).
 */
import { FindingList } from "../common.ts";
import type { CatalogResult } from "../types.ts";
import { type HeaderBlob, packagesFromBlobs } from "./blobs.ts";

const magic = (s: string) => Buffer.from(s, "latin1").readUInt32LE(0);
const DB_MAGIC = magic("RpmP");
const SLOT_MAGIC = magic("Slot");
const HEAD_MAGIC = magic("BlbS");
const TAIL_MAGIC = magic("BlbE");
const HEADER_SIZE = 32;
const PAGE_SIZE = 4096;
const SLOT_SIZE = 16;
const BLK_SIZE = 16;
const HEAD_SIZE = 16;
const TAIL_SIZE = 12;

/** Adler-32 (RFC 1950) of `b`, starting from 1. */
export function adler32(b: Buffer): number {
  let s1 = 1;
  let s2 = 0;
  for (let i = 0; i < b.length; ) {
    const end = Math.min(b.length, i + 5552);
    for (; i < end; i++) {
      s1 += b[i] ?? 0;
      s2 += s1;
    }
    s1 %= 65521;
    s2 %= 65521;
  }
  return ((s2 << 16) | s1) >>> 0;
}

/** The packages of an rpm NDB `Packages.db`. `location`: its path in the image, for the results. */
export function readRpmNdb(bytes: Buffer, location = "/var/lib/rpm/Packages.db"): CatalogResult {
  const findings = new FindingList();
  const blobs: HeaderBlob[] = [];
  const bad = (m: string) => findings.add("RPM_DB_CORRUPT", location, m);
  if (bytes.length < HEADER_SIZE || bytes.readUInt32LE(0) !== DB_MAGIC) {
    bad('not an rpm NDB database (no "RpmP" magic at offset 0)');
    return { packages: [], findings: findings.done() };
  }
  const version = bytes.readUInt32LE(4);
  if (version !== 0) {
    bad(`unsupported NDB version ${version} (0 is known)`);
    return { packages: [], findings: findings.done() };
  }
  const slotPages = bytes.readUInt32LE(12);
  let pagesPresent = slotPages;
  if (slotPages === 0) bad("the header counts no slot pages");
  if (slotPages * PAGE_SIZE > bytes.length) {
    pagesPresent = Math.floor(bytes.length / PAGE_SIZE);
    bad(
      `file is truncated: ${slotPages} slot pages of ${PAGE_SIZE} bytes do not fit in ${bytes.length} bytes`,
    );
  }
  if (bytes.length % BLK_SIZE !== 0) bad(`file length ${bytes.length} is not a multiple of ${BLK_SIZE}`);
  const fileBlocks = Math.floor(bytes.length / BLK_SIZE);
  const firstBlob = slotPages * (PAGE_SIZE / BLK_SIZE);
  const seen = new Set<number>();
  for (let off = HEADER_SIZE; off < pagesPresent * PAGE_SIZE; off += SLOT_SIZE) {
    const slot = (off - HEADER_SIZE) / SLOT_SIZE;
    if (bytes.readUInt32LE(off) !== SLOT_MAGIC) {
      bad(`slot ${slot} has no "Slot" magic`);
      continue;
    }
    const pkgIdx = bytes.readUInt32LE(off + 4);
    const blkOff = bytes.readUInt32LE(off + 8);
    const blkCnt = bytes.readUInt32LE(off + 12);
    if (blkOff === 0) continue;
    const where = `slot ${slot} (package index ${pkgIdx})`;
    if (pkgIdx === 0 || blkCnt === 0 || blkOff < firstBlob) {
      bad(`${where}: invalid entry (block offset ${blkOff}, count ${blkCnt})`);
      continue;
    }
    if (seen.has(pkgIdx)) {
      bad(`${where}: a second slot for the same package index`);
      continue;
    }
    seen.add(pkgIdx);
    if (blkOff + blkCnt > fileBlocks) {
      bad(`${where}: blob at block ${blkOff} (${blkCnt} blocks) runs past the end of the file`);
      continue;
    }
    const start = blkOff * BLK_SIZE;
    const end = start + blkCnt * BLK_SIZE;
    if (blkCnt * BLK_SIZE < HEAD_SIZE + TAIL_SIZE) {
      bad(`${where}: ${blkCnt} blocks cannot hold a blob head and tail`);
      continue;
    }
    if (bytes.readUInt32LE(start) !== HEAD_MAGIC || bytes.readUInt32LE(start + 4) !== pkgIdx) {
      bad(`${where}: no blob head for this package at block ${blkOff}`);
      continue;
    }
    const len = bytes.readUInt32LE(start + 12);
    if (Math.ceil((HEAD_SIZE + len + TAIL_SIZE) / BLK_SIZE) !== blkCnt) {
      bad(`${where}: blob length ${len} does not match its ${blkCnt} blocks`);
      continue;
    }
    const tail = end - TAIL_SIZE;
    if (bytes.readUInt32LE(tail + 8) !== TAIL_MAGIC || bytes.readUInt32LE(tail + 4) !== len) {
      bad(`${where}: blob tail is missing or does not repeat the length`);
      continue;
    }
    if (adler32(bytes.subarray(start, tail)) !== bytes.readUInt32LE(tail)) {
      bad(`${where}: blob checksum (adler32) does not match; its header is read anyway`);
    }
    blobs.push({ instance: pkgIdx, blob: bytes.subarray(start + HEAD_SIZE, start + HEAD_SIZE + len) });
  }
  return packagesFromBlobs(blobs, location, findings);
}
