/**
 * Tar header codec: 512-byte ustar/GNU/v7 header blocks, octal and base-256 numbers, checksums and PAX records.
 * PAX values stay bytes (binary xattrs survive). See ../../../shared/design/stack.md "Why an own tar header codec".
 */
import { OslessError } from "../errors.ts";

export type TarType = "file" | "hardlink" | "symlink" | "char" | "block" | "directory" | "fifo";

export interface TarHeader {
  /** Resolved name: PAX path > GNU 'L' > ustar prefix + "/" + name; UTF-8 decoded (invalid bytes -> U+FFFD). */
  path: string;
  /** The exact bytes of that name. */
  pathBytes: Buffer;
  /** PAX linkpath > GNU 'K' > ustar linkname; "" if none. */
  linkpath: string;
  linkpathBytes: Buffer;
  type: TarType;
  /** Raw typeflag character ("\0" for the old regular-file flag). */
  typeflag: string;
  /** Permission bits (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Data bytes that follow the header in the stream (PAX size overrides). */
  size: number;
  /** Seconds since the epoch; fractional when PAX says so. */
  mtime: number;
  atime?: number;
  ctime?: number;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  /** From SCHILY.xattr.<name>; raw value bytes. Read-only: entries without any share one empty map. */
  xattrs: ReadonlyMap<string, Buffer>;
  /** Every PAX 'x' record of this entry: key -> raw value bytes. Read-only, shared when empty. */
  pax: ReadonlyMap<string, Buffer>;
}

export const BLOCK = 512;

/** Byte layout of a header block (POSIX ustar; GNU shares the first 345 bytes). */
export const F = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  chksum: [148, 8],
  typeflag: [156, 1],
  linkname: [157, 100],
  magic: [257, 6],
  version: [263, 2],
  uname: [265, 32],
  gname: [297, 32],
  devmajor: [329, 8],
  devminor: [337, 8],
  prefix: [345, 155],
} as const;

export const TYPEFLAG: Record<TarType, string> = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  char: "3",
  block: "4",
  directory: "5",
  fifo: "6",
};

const TYPE_OF_FLAG: Record<string, TarType> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "hardlink",
  "2": "symlink",
  "3": "char",
  "4": "block",
  "5": "directory",
  "6": "fifo",
};

export function typeOfFlag(flag: string): TarType | undefined {
  return TYPE_OF_FLAG[flag];
}

/** Where an error happened, for messages: "tar entry "a/b" at byte 1024". */
export function where(offset: number, path?: string): string {
  return path === undefined ? `tar header at byte ${offset}` : `tar entry "${path}" at byte ${offset}`;
}

export function invalid(msg: string, offset: number, path?: string, hint?: string): OslessError {
  return new OslessError("E_TAR_INVALID", `${where(offset, path)}: ${msg}`, {
    hint: hint ?? "the layer is not a valid tar archive; rebuild or fetch it again",
    details: { offset, ...(path === undefined ? {} : { path }) },
  });
}

export function isZeroBlock(b: Buffer): boolean {
  // 8-byte words: 64 reads instead of 512.
  for (let i = 0; i < BLOCK; i += 8) {
    if (b.readBigUInt64LE(i) !== 0n) return false;
  }
  return true;
}

/** Unsigned and signed header checksums (checksum field counted as spaces). */
export function checksums(b: Buffer): { unsigned: number; signed: number } {
  let unsigned = 0;
  let high = 0; // count of bytes >= 0x80
  for (let i = 0; i < BLOCK; i++) {
    const v = i >= 148 && i < 156 ? 0x20 : b[i]!;
    unsigned += v;
    if (v >= 0x80) high++;
  }
  return { unsigned, signed: unsigned - 256 * high };
}

/** The bytes of a NUL-terminated string field, copied (so the block's chunk is not retained). */
export function fieldBytes(b: Buffer, off: number, len: number): Buffer {
  let end = off;
  const max = off + len;
  while (end < max && b[end] !== 0) end++;
  return Buffer.from(b.subarray(off, end));
}

/**
 * Parse a numeric field: octal (leading spaces, trailing spaces/NULs tolerated) or GNU base-256
 * (first byte has 0x80 set; 0x40 also set means negative, two's complement).
 */
export function parseNumber(b: Buffer, off: number, len: number, what: string, offset: number): number {
  const first = b[off]!;
  if (first & 0x80) {
    let v = BigInt(first & 0x7f);
    const negative = (first & 0x40) !== 0;
    if (negative) v = BigInt(first);
    for (let i = 1; i < len; i++) v = (v << 8n) | BigInt(b[off + i]!);
    if (negative) v -= 1n << BigInt(8 * len); // two's complement over the whole field
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw invalid(`base-256 ${what} field is out of range`, offset);
    }
    return Number(v);
  }
  let i = off;
  const end = off + len;
  while (i < end && (b[i] === 0x20 || b[i] === 0)) i++;
  let v = 0;
  let digits = 0;
  while (i < end) {
    const c = b[i]!;
    if (c < 0x30 || c > 0x37) break;
    v = v * 8 + (c - 0x30);
    digits++;
    i++;
  }
  for (; i < end; i++) {
    const c = b[i]!;
    if (c !== 0x20 && c !== 0) {
      throw invalid(
        `${what} field is not an octal number (${JSON.stringify(b.toString("latin1", off, end))})`,
        offset,
      );
    }
  }
  if (digits > 17 && v > Number.MAX_SAFE_INTEGER) throw invalid(`${what} field is out of range`, offset);
  return v;
}

/** A decoded header block, before PAX/GNU overrides are applied. */
export interface RawBlock {
  typeflag: string;
  name: Buffer;
  linkname: Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  uname: Buffer;
  gname: Buffer;
  devmajor: number;
  devminor: number;
  format: "ustar" | "gnu" | "v7";
}

/** Decode and checksum-verify one non-zero header block at stream offset `offset`. */
export function decodeBlock(b: Buffer, offset: number): RawBlock {
  const stored = parseNumber(b, F.chksum[0], F.chksum[1], "checksum", offset);
  const { unsigned, signed } = checksums(b);
  if (stored !== unsigned && stored !== signed) {
    throw invalid(
      `header checksum mismatch (stored ${stored}, computed ${unsigned})`,
      offset,
      undefined,
      "the archive is corrupt or not a tar archive (is it still compressed?)",
    );
  }
  // magic "ustar\0" + version "00" = POSIX; "ustar  \0" = old GNU; anything else = v7.
  let format: RawBlock["format"] = "v7";
  if (b[257] === 0x75 && b[258] === 0x73 && b[259] === 0x74 && b[260] === 0x61 && b[261] === 0x72) {
    if (b[262] === 0) format = "ustar";
    else if (b[262] === 0x20 && b[263] === 0x20 && b[264] === 0) format = "gnu";
  }
  const typeflag = String.fromCharCode(b[156]!);
  let name = fieldBytes(b, 0, 100);
  if (format === "ustar") {
    // star ("tar\0" trailer at 508) uses 131 prefix bytes followed by atime/ctime.
    const star = b[508] === 0x74 && b[509] === 0x61 && b[510] === 0x72 && b[511] === 0;
    const prefix = fieldBytes(b, 345, star ? 131 : 155);
    if (prefix.length > 0) name = Buffer.concat([prefix, Buffer.from("/"), name]);
  }
  const ext = format !== "v7";
  return {
    typeflag,
    name,
    linkname: fieldBytes(b, 157, 100),
    mode: nonNegative(parseNumber(b, 100, 8, "mode", offset), "mode", offset),
    uid: nonNegative(parseNumber(b, 108, 8, "uid", offset), "uid", offset),
    gid: nonNegative(parseNumber(b, 116, 8, "gid", offset), "gid", offset),
    size: nonNegative(parseNumber(b, 124, 12, "size", offset), "size", offset),
    mtime: parseNumber(b, 136, 12, "mtime", offset),
    uname: ext ? fieldBytes(b, 265, 32) : Buffer.alloc(0),
    gname: ext ? fieldBytes(b, 297, 32) : Buffer.alloc(0),
    devmajor: ext ? nonNegative(parseNumber(b, 329, 8, "devmajor", offset), "devmajor", offset) : 0,
    devminor: ext ? nonNegative(parseNumber(b, 337, 8, "devminor", offset), "devminor", offset) : 0,
    format,
  };
}

function nonNegative(v: number, what: string, offset: number): number {
  if (v < 0) throw invalid(`negative ${what} (${v})`, offset);
  return v;
}

/** Parse PAX extended-header records "<len> <key>=<value>\n"; values are raw bytes (copied). */
export function parsePaxRecords(data: Buffer, offset: number, into: Map<string, Buffer>): void {
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) {
      // Some writers pad the record area with NULs; tolerate only an all-NUL tail.
      for (let i = pos; i < data.length; i++) {
        if (data[i] !== 0) throw invalid("PAX header has data after NUL padding", offset);
      }
      return;
    }
    let i = pos;
    let len = 0;
    while (i < data.length && i - pos < 20 && data[i]! >= 0x30 && data[i]! <= 0x39) {
      len = len * 10 + (data[i]! - 0x30);
      i++;
    }
    if (i === pos || data[i] !== 0x20 || len < i - pos + 4 || pos + len > data.length) {
      throw invalid(`malformed PAX record at header byte ${pos}`, offset);
    }
    const end = pos + len;
    if (data[end - 1] !== 0x0a)
      throw invalid(`PAX record at header byte ${pos} does not end in a newline`, offset);
    const eq = data.indexOf(0x3d, i + 1);
    if (eq < 0 || eq >= end - 1 || eq === i + 1)
      throw invalid(`PAX record at header byte ${pos} has no key`, offset);
    const key = data.toString("utf8", i + 1, eq);
    into.set(key, Buffer.from(data.subarray(eq + 1, end - 1)));
    pos = end;
  }
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;
const TIME = /^-?[0-9]+(\.[0-9]+)?$/;

/** A non-negative safe integer PAX value. */
export function paxInteger(v: Buffer, key: string, offset: number, path: string): number {
  const s = v.toString("latin1");
  const n = Number(s);
  if (!DECIMAL.test(s) || !Number.isSafeInteger(n)) {
    throw invalid(`PAX ${key} "${s}" is not a non-negative integer`, offset, path);
  }
  return n;
}

export function paxTime(v: Buffer, key: string, offset: number, path: string): number {
  const s = v.toString("latin1");
  if (!TIME.test(s) || s.length > 40) throw invalid(`PAX ${key} "${s}" is not a time`, offset, path);
  return Number(s);
}
