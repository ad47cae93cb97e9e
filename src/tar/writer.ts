/**
 * Deterministic tar writer: ustar headers, with a PAX 'x' header only when ustar cannot hold a value.
 * Same entries -> same bytes: no clock, no host lookups, PAX records sorted by key.
 */
import { isUtf8 } from "node:buffer";
import { OslessError } from "../errors.ts";
import { BLOCK, checksums, type TarType, TYPEFLAG } from "./header.ts";
import { padding } from "./reader.ts";

export interface TarWriteEntry {
  path: string | Buffer;
  type: TarType;
  /** Permission bits; default 0o755 for directories, 0o777 for symlinks, 0o644 otherwise. */
  mode?: number;
  uid?: number;
  gid?: number;
  /** Data size; required for a file with a stream body (defaults to the Buffer body's length). */
  size?: number;
  /** Seconds since the epoch (may be fractional or negative); default 0. */
  mtime?: number;
  linkpath?: string | Buffer;
  uname?: string;
  gname?: string;
  devmajor?: number;
  devminor?: number;
  /** Written as SCHILY.xattr.<name>; when given, replaces any SCHILY.xattr.* record in `pax`. */
  xattrs?: ReadonlyMap<string, Buffer>;
  /**
   * Extra PAX records to keep (e.g. from a read header). Records the writer derives from the fields above
   * (path, linkpath, size, uid, gid, mtime, uname, gname, hdrcharset) are recomputed, not copied.
   */
  pax?: ReadonlyMap<string, Buffer>;
}

export type TarWriteItem = { entry: TarWriteEntry; body?: Buffer | AsyncIterable<Uint8Array> };

const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;
const DERIVED = new Set(["path", "linkpath", "size", "uid", "gid", "mtime", "uname", "gname", "hdrcharset"]);
const PAX_HEADER_NAME = Buffer.from("././@PaxHeader");

function bad(
  msg: string,
  path: string,
  code: "E_TAR_INVALID" | "E_TAR_UNSUPPORTED" = "E_TAR_INVALID",
): OslessError {
  return new OslessError(code, `tar writer, entry "${path}": ${msg}`, {
    hint: "fix the entry passed to writeTar",
    details: { path },
  });
}

function bytesOf(v: string | Buffer): Buffer {
  return typeof v === "string" ? Buffer.from(v, "utf8") : v;
}

function isAscii(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i]! >= 0x80) return false;
  return true;
}

function writeOctal(block: Buffer, off: number, len: number, v: number): void {
  // len-1 digits, zero-padded, then NUL.
  block.write(v.toString(8).padStart(len - 1, "0"), off, len - 1, "latin1");
  block[off + len - 1] = 0;
}

function writeBase256(block: Buffer, off: number, len: number, v: number): void {
  let x = BigInt(v);
  for (let i = len - 1; i > 0; i--) {
    block[off + i] = Number(x & 0xffn);
    x >>= 8n;
  }
  block[off] = 0x80;
}

function paxRecord(key: string, value: Buffer): Buffer {
  const k = Buffer.from(key, "utf8");
  const base = k.length + value.length + 3; // " " "=" "\n"
  let len = base + String(base).length;
  if (String(len).length !== String(base).length) len = base + String(len).length;
  return Buffer.concat([Buffer.from(`${len} `), k, Buffer.from("="), value, Buffer.from("\n")]);
}

function formatTime(t: number): string {
  if (Number.isInteger(t)) return BigInt(t).toString();
  let s = String(t);
  if (s.includes("e")) s = t.toFixed(9).replace(/0+$/, "");
  return s;
}

/** One ustar block with the checksum filled in. */
function ustarBlock(fields: {
  name: Buffer;
  prefix?: Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname?: Buffer;
  uname?: Buffer;
  gname?: Buffer;
  devmajor?: number;
  devminor?: number;
}): Buffer {
  const b = Buffer.alloc(BLOCK);
  fields.name.copy(b, 0, 0, 100);
  writeOctal(b, 100, 8, fields.mode);
  writeOctal(b, 108, 8, fields.uid);
  writeOctal(b, 116, 8, fields.gid);
  writeOctal(b, 124, 12, fields.size);
  writeOctal(b, 136, 12, fields.mtime);
  b.write(fields.typeflag, 156, 1, "latin1");
  fields.linkname?.copy(b, 157, 0, 100);
  b.write("ustar\x0000", 257, 8, "latin1");
  fields.uname?.copy(b, 265, 0, 32);
  fields.gname?.copy(b, 297, 0, 32);
  for (const [off, v] of [
    [329, fields.devmajor ?? 0],
    [337, fields.devminor ?? 0],
  ] as const) {
    if (v > MAX_OCTAL_7) writeBase256(b, off, 8, v);
    else writeOctal(b, off, 8, v);
  }
  fields.prefix?.copy(b, 345, 0, 155);
  writeOctal(b, 148, 7, checksums(b).unsigned); // 6 digits + NUL, then the space already counted
  b[155] = 0x20;
  return b;
}

/** Split an ASCII path into ustar prefix/name, or undefined if it does not fit. */
function splitUstar(p: Buffer): { name: Buffer; prefix?: Buffer } | undefined {
  if (!isAscii(p)) return undefined;
  if (p.length <= 100) return { name: p };
  if (p.length > 256) return undefined;
  for (let i = Math.max(1, p.length - 101); i <= 155 && i < p.length - 1; i++) {
    if (p[i] === 0x2f) return { prefix: p.subarray(0, i), name: p.subarray(i + 1) };
  }
  return undefined;
}

function checkUint(v: number | undefined, what: string, path: string): number {
  const x = v ?? 0;
  if (!Number.isSafeInteger(x) || x < 0) throw bad(`${what} ${x} is not a non-negative integer`, path);
  return x;
}

/** The header block(s) of an entry, including a PAX 'x' header when needed, without data. */
export function encodeHeader(entry: TarWriteEntry): Buffer {
  const pathBytes = bytesOf(entry.path);
  const shown = pathBytes.toString("utf8");
  if (pathBytes.length === 0) throw bad("empty path", shown);
  if (pathBytes.includes(0)) throw bad("path contains a NUL byte", shown);
  const typeflag = TYPEFLAG[entry.type];
  if (typeflag === undefined) throw bad(`unknown type ${String(entry.type)}`, shown);
  if (entry.type === "file" && pathBytes[pathBytes.length - 1] === 0x2f) {
    throw bad("a regular file name cannot end in '/' (readers take it for a directory)", shown);
  }
  const linkBytes = bytesOf(entry.linkpath ?? "");
  if (linkBytes.includes(0)) throw bad("linkpath contains a NUL byte", shown);
  if ((entry.type === "hardlink" || entry.type === "symlink") && linkBytes.length === 0) {
    throw bad(`a ${entry.type} needs a linkpath`, shown);
  }
  const defaultMode = entry.type === "directory" ? 0o755 : entry.type === "symlink" ? 0o777 : 0o644;
  const mode = checkUint(entry.mode ?? defaultMode, "mode", shown);
  if (mode > 0o7777) throw bad(`mode ${mode.toString(8)} has bits beyond 0o7777`, shown);
  const uid = checkUint(entry.uid, "uid", shown);
  const gid = checkUint(entry.gid, "gid", shown);
  const size = entry.type === "file" ? checkUint(entry.size, "size", shown) : 0;
  const devmajor = checkUint(entry.devmajor, "devmajor", shown);
  const devminor = checkUint(entry.devminor, "devminor", shown);
  const mtime = entry.mtime ?? 0;
  if (!Number.isFinite(mtime)) throw bad(`mtime ${mtime} is not a number`, shown);

  const records = new Map<string, Buffer>();
  let binary = false;
  const split = splitUstar(pathBytes);
  if (split === undefined) {
    records.set("path", pathBytes);
    if (!isUtf8(pathBytes)) binary = true;
  }
  const linkFits = linkBytes.length <= 100 && isAscii(linkBytes);
  if (!linkFits) {
    records.set("linkpath", linkBytes);
    if (!isUtf8(linkBytes)) binary = true;
  }
  if (uid > MAX_OCTAL_7) records.set("uid", Buffer.from(String(uid)));
  if (gid > MAX_OCTAL_7) records.set("gid", Buffer.from(String(gid)));
  if (size > MAX_OCTAL_11) records.set("size", Buffer.from(String(size)));
  const mtimeFits = Number.isInteger(mtime) && mtime >= 0 && mtime <= MAX_OCTAL_11;
  if (!mtimeFits) records.set("mtime", Buffer.from(formatTime(mtime)));
  const uname = Buffer.from(entry.uname ?? "", "utf8");
  const gname = Buffer.from(entry.gname ?? "", "utf8");
  const unameFits = uname.length <= 32 && isAscii(uname);
  const gnameFits = gname.length <= 32 && isAscii(gname);
  if (!unameFits) records.set("uname", uname);
  if (!gnameFits) records.set("gname", gname);
  if (entry.pax) {
    for (const [key, value] of entry.pax) {
      if (DERIVED.has(key)) continue;
      if (entry.xattrs && key.startsWith("SCHILY.xattr.")) continue;
      if (key.startsWith("GNU.sparse."))
        throw bad(`PAX record ${key} would make a sparse entry`, shown, "E_TAR_UNSUPPORTED");
      if (key.length === 0 || key.includes("=") || key.includes("\0"))
        throw bad(`invalid PAX key ${JSON.stringify(key)}`, shown);
      records.set(key, value);
    }
  }
  if (entry.xattrs) {
    for (const [name, value] of entry.xattrs) {
      if (name.length === 0 || name.includes("=") || name.includes("\0")) {
        throw bad(`invalid xattr name ${JSON.stringify(name)}`, shown);
      }
      records.set(`SCHILY.xattr.${name}`, value);
    }
  }
  if (binary) records.set("hdrcharset", Buffer.from("BINARY"));

  const main = ustarBlock({
    ...(split ?? { name: pathBytes }),
    mode,
    uid: uid > MAX_OCTAL_7 ? 0 : uid,
    gid: gid > MAX_OCTAL_7 ? 0 : gid,
    size: size > MAX_OCTAL_11 ? 0 : size,
    mtime: mtimeFits ? mtime : Math.min(MAX_OCTAL_11, Math.max(0, Math.floor(mtime))),
    typeflag,
    linkname: linkBytes,
    uname: unameFits ? uname : Buffer.alloc(0),
    gname: gnameFits ? gname : Buffer.alloc(0),
    devmajor,
    devminor,
  });
  if (records.size === 0) return main;
  const keys = [...records.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const data = Buffer.concat(keys.map((k) => paxRecord(k, records.get(k)!)));
  const paxHeader = ustarBlock({
    name: PAX_HEADER_NAME,
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: data.length,
    mtime: 0,
    typeflag: "x",
  });
  return Buffer.concat([paxHeader, data, Buffer.alloc(padding(data.length)), main]);
}

/**
 * Deterministic tar stream: same entries -> same bytes. Bodies are passed through untouched;
 * ends with two zero blocks.
 */
export async function* writeTar(
  entries: AsyncIterable<TarWriteItem> | Iterable<TarWriteItem>,
): AsyncGenerator<Buffer> {
  for await (const { entry, body } of entries) {
    const shown = bytesOf(entry.path).toString("utf8");
    if (entry.type !== "file") {
      if (Buffer.isBuffer(body) && body.length > 0) throw bad(`a ${entry.type} cannot have data`, shown);
      if (body !== undefined && !Buffer.isBuffer(body))
        throw bad(`a ${entry.type} cannot have a data stream`, shown);
      yield encodeHeader(entry);
      continue;
    }
    let size = entry.size;
    if (size === undefined) {
      if (body !== undefined && !Buffer.isBuffer(body))
        throw bad("a file with a stream body needs a size", shown);
      size = body?.length ?? 0;
    }
    if (Buffer.isBuffer(body) && body.length !== size) {
      throw bad(`size ${size} does not match the body's ${body.length} bytes`, shown);
    }
    yield encodeHeader({ ...entry, size });
    let written = 0;
    if (Buffer.isBuffer(body)) {
      if (body.length > 0) yield body;
      written = body.length;
    } else if (body !== undefined) {
      for await (const chunk of body) {
        written += chunk.byteLength;
        if (written > size) break;
        yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      }
    }
    if (written !== size) {
      throw new OslessError(
        "E_SIZE_MISMATCH",
        `tar writer, entry "${shown}": body has ${written > size ? "more than " : ""}${written} bytes, size says ${size}`,
        { hint: "pass the exact size of the file's data", details: { path: shown, size, written } },
      );
    }
    const pad = padding(size);
    if (pad > 0) yield Buffer.alloc(pad);
  }
  yield Buffer.alloc(2 * BLOCK);
}
