/**
 * The rpm header blob, as every rpm database backend stores one per installed package (and as a .rpm file holds
 * after its lead and signature, there with an 8-byte magic in front):
 *
 *   il  u32 BE   number of index entries
 *   dl  u32 BE   bytes of the data store
 *   il × { tag i32, type u32, offset i32, count u32 }   (big-endian, 16 bytes each)
 *   dl bytes of data; an entry's value starts at data[offset]
 *
 * Types: 1 CHAR, 2 INT8, 3 INT16, 4 INT32, 5 INT64, 6 STRING (one NUL-terminated string), 7 BIN, 8 STRING_ARRAY
 * (count NUL-terminated strings), 9 I18NSTRING (like STRING_ARRAY, one per locale; the first is the default).
 * The first entry is normally a region tag (63 HEADERIMMUTABLE) whose value is a trailer entry; entries after
 * the region ("dribble" entries rpm adds at install) replace region entries with the same tag, so here a later
 * entry wins. Format: rpm's lib/header.c and header_internal.h; knqyf263/go-rpmdb (pkg/entry.go) was read as a
 * second description. No code is taken from either.
 *
 * Every offset and count is bounded by dl and by the blob's length; a value that does not fit is a finding, and a
 * blob that cannot be read at all yields no package. Nothing here throws on bad bytes.
 *
 * Package version convention (rpm's own %{EVR}, as syft prints it): `[epoch:]version-release`, the epoch present
 * exactly when the header has an EPOCH tag (so `0:` is kept when a spec says `Epoch: 0`). The source package
 * comes from SOURCERPM (`name-version-release.src.rpm`); its version is `[epoch:]version-release` with the
 * binary package's epoch, as trivy does (a source rpm's file name carries no epoch, and rpmbuild gives the
 * source and its binaries the spec's one epoch).
 */
import type { CatalogFinding, Package } from "../types.ts";

/** The fields of a package a header gives; the database reader adds `location`. */
export type RpmHeaderPackage = Omit<Package, "location">;

export const RPMTAG = {
  HEADERIMAGE: 61,
  HEADERSIGNATURES: 62,
  HEADERIMMUTABLE: 63,
  HEADERI18NTABLE: 100,
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  LICENSE: 1014,
  ARCH: 1022,
  OLDFILENAMES: 1027,
  SOURCERPM: 1044,
  DIRINDEXES: 1116,
  BASENAMES: 1117,
  DIRNAMES: 1118,
} as const;

const TYPE = { INT32: 4, STRING: 6, STRING_ARRAY: 8, I18NSTRING: 9 } as const;

/** The 8 bytes before a header in a .rpm file (and in `rpmdb --exportdb` output): magic, version 1, reserved. */
const HEADER_MAGIC = Buffer.from([0x8e, 0xad, 0xe8, 0x01]);

/** rpm's own limits (lib/header.c): at most 0xffff entries, a data store below 256 MiB. */
const MAX_ENTRIES = 0xffff;
const MAX_DATA = 256 * 1024 * 1024;

interface Entry {
  tag: number;
  type: number;
  offset: number;
  count: number;
}

/** A header's index and data store, bounds-checked: every entry's offset is inside the data store. */
export interface RpmHeader {
  entries: Map<number, Entry>;
  data: Buffer;
}

export type HeaderResult = { header: RpmHeader; error?: undefined } | { header?: undefined; error: string };

/**
 * The index of `blob` (with or without the 8-byte header magic). An error string says why it cannot be read;
 * entries whose offset lies outside the data store are left out (reading their tag then reports it missing).
 */
export function decodeRpmHeader(blob: Buffer): HeaderResult {
  let b = blob;
  if (b.length >= 8 && b.subarray(0, 4).equals(HEADER_MAGIC)) b = b.subarray(8);
  if (b.length < 8)
    return { error: `header blob of ${blob.length} bytes is shorter than its 8-byte preamble` };
  const il = b.readUInt32BE(0);
  const dl = b.readUInt32BE(4);
  if (il < 1 || il > MAX_ENTRIES)
    return { error: `header has ${il} index entries (1 to ${MAX_ENTRIES} allowed)` };
  if (dl > MAX_DATA) return { error: `header data store of ${dl} bytes exceeds rpm's limit of ${MAX_DATA}` };
  const need = 8 + il * 16 + dl;
  if (b.length < need) {
    return {
      error: `header blob is truncated: ${il} entries and ${dl} data bytes need ${need} bytes, ${b.length} present`,
    };
  }
  const data = b.subarray(8 + il * 16, need);
  const entries = new Map<number, Entry>();
  for (let i = 0; i < il; i++) {
    const o = 8 + i * 16;
    const e: Entry = {
      tag: b.readInt32BE(o),
      type: b.readUInt32BE(o + 4),
      offset: b.readInt32BE(o + 8),
      count: b.readUInt32BE(o + 12),
    };
    if (e.offset < 0 || e.offset >= dl) continue;
    entries.set(e.tag, e);
  }
  return { header: { entries, data } };
}

/** `count` NUL-terminated strings at `offset`, or an error when one runs past the data store. */
function readStrings(data: Buffer, offset: number, count: number): string[] | string {
  const out: string[] = [];
  let p = offset;
  for (let i = 0; i < count; i++) {
    if (p >= data.length) return `string ${i + 1} of ${count} starts past the data store`;
    const nul = data.indexOf(0, p);
    if (nul < 0) return `string ${i + 1} of ${count} is not NUL-terminated inside the data store`;
    out.push(data.toString("utf8", p, nul));
    p = nul + 1;
  }
  return out;
}

/** Reads one tag of a decoded header; errors (wrong type, out of bounds) go to `problems`. */
class TagReader {
  readonly problems: string[] = [];
  constructor(private readonly h: RpmHeader) {}

  has(tag: number): boolean {
    return this.h.entries.has(tag);
  }

  string(tag: number, name: string): string | undefined {
    const e = this.h.entries.get(tag);
    if (!e) return undefined;
    if (e.type !== TYPE.STRING && e.type !== TYPE.I18NSTRING && e.type !== TYPE.STRING_ARRAY) {
      this.problems.push(`${name} (tag ${tag}) has type ${e.type}, not a string`);
      return undefined;
    }
    if (e.count < 1) {
      this.problems.push(`${name} (tag ${tag}) has no value`);
      return undefined;
    }
    const r = readStrings(this.h.data, e.offset, 1);
    if (typeof r === "string") {
      this.problems.push(`${name} (tag ${tag}): ${r}`);
      return undefined;
    }
    return r[0];
  }

  strings(tag: number, name: string): string[] | undefined {
    const e = this.h.entries.get(tag);
    if (!e) return undefined;
    if (e.type !== TYPE.STRING_ARRAY && e.type !== TYPE.I18NSTRING) {
      this.problems.push(`${name} (tag ${tag}) has type ${e.type}, not a string array`);
      return undefined;
    }
    // Each string takes at least its NUL: a count above what is left of the data store cannot be right.
    if (e.count > this.h.data.length - e.offset) {
      this.problems.push(`${name} (tag ${tag}) claims ${e.count} strings, more than the data store can hold`);
      return undefined;
    }
    const r = readStrings(this.h.data, e.offset, e.count);
    if (typeof r === "string") {
      this.problems.push(`${name} (tag ${tag}): ${r}`);
      return undefined;
    }
    return r;
  }

  int32s(tag: number, name: string): number[] | undefined {
    const e = this.h.entries.get(tag);
    if (!e) return undefined;
    if (e.type !== TYPE.INT32) {
      this.problems.push(`${name} (tag ${tag}) has type ${e.type}, not INT32`);
      return undefined;
    }
    if (e.offset % 4 !== 0 || e.count * 4 > this.h.data.length - e.offset) {
      this.problems.push(`${name} (tag ${tag}): ${e.count} INT32 values at offset ${e.offset} do not fit`);
      return undefined;
    }
    const out: number[] = [];
    for (let i = 0; i < e.count; i++) out.push(this.h.data.readInt32BE(e.offset + i * 4));
    return out;
  }
}

/** `name-version-release.src.rpm` (or `.nosrc.rpm`) split into name and `version-release`. */
export function parseSourceRpm(srpm: string): { name: string; versionRelease: string | null } {
  const base = srpm.replace(/\.(no)?src\.rpm$/, "");
  const rel = base.lastIndexOf("-");
  const ver = rel > 0 ? base.lastIndexOf("-", rel - 1) : -1;
  if (base === srpm || ver <= 0) return { name: base, versionRelease: null };
  return { name: base.slice(0, ver), versionRelease: base.slice(ver + 1) };
}

function fileList(r: TagReader): string[] | undefined {
  const bases = r.strings(RPMTAG.BASENAMES, "BASENAMES");
  if (bases) {
    const dirs = r.strings(RPMTAG.DIRNAMES, "DIRNAMES");
    const idx = r.int32s(RPMTAG.DIRINDEXES, "DIRINDEXES");
    if (!dirs || !idx) {
      if (r.problems.length === 0) r.problems.push("BASENAMES without DIRNAMES and DIRINDEXES");
      return undefined;
    }
    if (idx.length !== bases.length) {
      r.problems.push(`${bases.length} BASENAMES but ${idx.length} DIRINDEXES`);
      return undefined;
    }
    const files: string[] = [];
    for (let i = 0; i < bases.length; i++) {
      const d = dirs[idx[i] ?? -1];
      if (d === undefined) {
        r.problems.push(`DIRINDEXES[${i}] = ${idx[i]} is outside the ${dirs.length} DIRNAMES`);
        return undefined;
      }
      files.push(d + bases[i]);
    }
    return files;
  }
  // Headers from before rpm 4.0's compressed file lists.
  return r.strings(RPMTAG.OLDFILENAMES, "OLDFILENAMES") ?? [];
}

/**
 * The package a header blob describes. Findings (code `RPM_HEADER_CORRUPT`, at `path`) say what could not be
 * read: without NAME, VERSION and RELEASE there is no package; a bad optional tag (licence, source, files) only
 * leaves that field out.
 */
export function parseRpmHeader(
  blob: Buffer,
  path = "",
): { package?: RpmHeaderPackage; findings: CatalogFinding[] } {
  const findings: CatalogFinding[] = [];
  const d = decodeRpmHeader(blob);
  if (d.error !== undefined) {
    findings.push({ code: "RPM_HEADER_CORRUPT", path, message: d.error });
    return { findings };
  }
  const r = new TagReader(d.header);
  const name = r.string(RPMTAG.NAME, "NAME");
  const version = r.string(RPMTAG.VERSION, "VERSION");
  const release = r.string(RPMTAG.RELEASE, "RELEASE");
  const epochs = r.int32s(RPMTAG.EPOCH, "EPOCH");
  if (!name || version === undefined || release === undefined) {
    const missing = [!name && "NAME", version === undefined && "VERSION", release === undefined && "RELEASE"]
      .filter(Boolean)
      .join(", ");
    const why = r.problems.length ? `: ${r.problems.join("; ")}` : "";
    findings.push({
      code: "RPM_HEADER_CORRUPT",
      path,
      message: `header${name ? ` of ${name}` : ""} lacks a readable ${missing}${why}`,
    });
    return { findings };
  }
  const epoch = epochs?.[0];
  const evrPrefix = epoch !== undefined ? `${epoch >>> 0}:` : "";
  const arch = r.string(RPMTAG.ARCH, "ARCH") ?? null;
  const license = r.string(RPMTAG.LICENSE, "LICENSE") ?? null;
  const srpm = r.string(RPMTAG.SOURCERPM, "SOURCERPM");
  let source: RpmHeaderPackage["source"] = null;
  if (srpm && srpm !== "(none)") {
    const s = parseSourceRpm(srpm);
    source = { name: s.name, version: s.versionRelease === null ? null : evrPrefix + s.versionRelease };
  }
  const files = fileList(r);
  const pkg: RpmHeaderPackage = {
    type: "rpm",
    name,
    version: `${evrPrefix}${version}-${release}`,
    arch,
    source,
    license,
  };
  if (files) pkg.files = files;
  if (r.problems.length) {
    findings.push({
      code: "RPM_HEADER_CORRUPT",
      path,
      message: `header of ${name} has unreadable tags: ${r.problems.join("; ")}`,
    });
  }
  return { package: pkg, findings };
}
