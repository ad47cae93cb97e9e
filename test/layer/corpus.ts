/**
 * Building blocks for hostile and tricky layers: entries for our tar writer (F, D, S, H, ...), raw header
 * blocks for what the writer refuses to produce (GNU long names, bad prefixes, base-256 and junk numbers, data
 * on links, global headers, sparse/unknown typeflags), and in-memory LayerSources with real digests
 * (uncompressed, gzip, zstd) for `unpackLayers`.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { asDigest, type Digest } from "../../src/digest/index.ts";
import type { LayerSource } from "../../src/layer/source.ts";
import { checksums } from "../../src/tar/header.ts";
import { encodeHeader, type TarWriteEntry, type TarWriteItem } from "../../src/tar/index.ts";
import { needTool } from "../fixtures/tools.ts";

/** An item of a crafted tar: an entry for the writer, or raw bytes (header blocks and data) placed as they are. */
export type Item = TarWriteItem | Buffer;

type Extra = Partial<Omit<TarWriteEntry, "path" | "type">>;

export const F = (path: string | Buffer, data: string | Buffer = "", extra: Extra = {}): TarWriteItem => {
  const body = Buffer.isBuffer(data) ? data : Buffer.from(data);
  return {
    entry: { path, type: "file", mode: 0o644, mtime: 1_700_000_000, ...extra, size: body.length },
    body,
  };
};
export const D = (path: string | Buffer, extra: Extra = {}): TarWriteItem => ({
  entry: { path, type: "directory", mode: 0o755, mtime: 1_700_000_000, ...extra },
});
export const S = (path: string | Buffer, target: string | Buffer, extra: Extra = {}): TarWriteItem => ({
  entry: { path, type: "symlink", linkpath: target, mtime: 1_700_000_000, ...extra },
});
export const H = (path: string | Buffer, target: string | Buffer, extra: Extra = {}): TarWriteItem => ({
  entry: { path, type: "hardlink", linkpath: target, mtime: 1_700_000_000, ...extra },
});
export const FIFO = (path: string, extra: Extra = {}): TarWriteItem => ({
  entry: { path, type: "fifo", mode: 0o644, mtime: 1_700_000_000, ...extra },
});
export const CHR = (path: string, major: number, minor: number, extra: Extra = {}): TarWriteItem => ({
  entry: {
    path,
    type: "char",
    mode: 0o666,
    devmajor: major,
    devminor: minor,
    mtime: 1_700_000_000,
    ...extra,
  },
});
export const BLK = (path: string, major: number, minor: number, extra: Extra = {}): TarWriteItem => ({
  entry: {
    path,
    type: "block",
    mode: 0o660,
    devmajor: major,
    devminor: minor,
    mtime: 1_700_000_000,
    ...extra,
  },
});

const BLOCK = 512;
const pad = (n: number) => (n % BLOCK === 0 ? 0 : BLOCK - (n % BLOCK));
export const EOA = Buffer.alloc(2 * BLOCK);

/** The tar bytes of `items`, with the end-of-archive blocks unless `eoa` is false. */
export function tarOf(items: Item[], opts: { eoa?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const it of items) {
    if (Buffer.isBuffer(it)) {
      parts.push(it);
      continue;
    }
    const body = Buffer.isBuffer(it.body) ? it.body : Buffer.alloc(0);
    const size = it.entry.type === "file" ? body.length : 0;
    parts.push(encodeHeader({ ...it.entry, size }));
    if (size > 0) parts.push(body, Buffer.alloc(pad(size)));
  }
  if (opts.eoa ?? true) parts.push(EOA);
  return Buffer.concat(parts);
}

/** A numeric field value: a number (written in octal) or the raw bytes of the field. */
type Num = number | Buffer;

export interface RawFields {
  name?: string | Buffer;
  mode?: Num;
  uid?: Num;
  gid?: Num;
  size?: Num;
  mtime?: Num;
  typeflag: string;
  linkname?: string | Buffer;
  prefix?: string | Buffer;
  devmajor?: Num;
  devminor?: Num;
  /** "ustar" (POSIX, default) or "gnu" magic. */
  magic?: "ustar" | "gnu";
}

function put(b: Buffer, off: number, len: number, v: Num | string | undefined): void {
  if (v === undefined) return;
  if (typeof v === "number") {
    b.write(v.toString(8).padStart(len - 1, "0"), off, len - 1, "latin1");
    b[off + len - 1] = 0;
    return;
  }
  const bytes = typeof v === "string" ? Buffer.from(v) : v;
  if (bytes.length > len) throw new Error(`raw header: ${bytes.length} bytes do not fit a ${len}-byte field`);
  bytes.copy(b, off);
}

/** One 512-byte header block with a correct checksum, whatever the fields say. */
export function rawHeader(f: RawFields): Buffer {
  const b = Buffer.alloc(BLOCK);
  put(b, 0, 100, f.name ?? "");
  put(b, 100, 8, f.mode ?? 0o644);
  put(b, 108, 8, f.uid ?? 0);
  put(b, 116, 8, f.gid ?? 0);
  put(b, 124, 12, f.size ?? 0);
  put(b, 136, 12, f.mtime ?? 1_700_000_000);
  b.write(f.typeflag, 156, 1, "latin1");
  put(b, 157, 100, f.linkname);
  if (f.magic === "gnu") b.write("ustar  \0", 257, 8, "latin1");
  else b.write("ustar\x0000", 257, 8, "latin1");
  put(b, 329, 8, f.devmajor ?? 0);
  put(b, 337, 8, f.devminor ?? 0);
  put(b, 345, 155, f.prefix);
  b.write(checksums(b).unsigned.toString(8).padStart(6, "0"), 148, 6, "latin1");
  b[154] = 0;
  b[155] = 0x20;
  return b;
}

/** A raw entry: header block, then `data` padded to the block size. */
export function rawEntry(f: RawFields, data: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([rawHeader(f), data, Buffer.alloc(pad(data.length))]);
}

/** GNU base-256 encoding of `v` in a `len`-byte numeric field (negative values in two's complement). */
export function base256(v: bigint, len: number): Buffer {
  const b = Buffer.alloc(len);
  let x = v < 0n ? (1n << BigInt(8 * len)) + v : v;
  for (let i = len - 1; i >= 0; i--) {
    b[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  b[0] = v < 0n ? b[0]! | 0xc0 : (b[0]! & 0x7f) | 0x80;
  return b;
}

/** A PAX 'x' (or 'g') header with `records`, values as given (bytes stay bytes). */
export function paxHeader(records: Record<string, string | Buffer>, typeflag: "x" | "g" = "x"): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(records)) {
    const value = Buffer.isBuffer(v) ? v : Buffer.from(v);
    const base = Buffer.byteLength(k) + value.length + 3;
    let len = base + String(base).length;
    if (String(len).length !== String(base).length) len = base + String(len).length;
    parts.push(Buffer.from(`${len} ${k}=`), value, Buffer.from("\n"));
  }
  const data = Buffer.concat(parts);
  return rawEntry(
    { name: typeflag === "g" ? "pax_global_header" : "PaxHeader/x", typeflag, size: data.length },
    data,
  );
}

/** A GNU 'L' (long name) or 'K' (long link) header carrying `name`. */
export function gnuLong(type: "L" | "K", name: string | Buffer): Buffer {
  const data = Buffer.concat([Buffer.isBuffer(name) ? name : Buffer.from(name), Buffer.from([0])]);
  return rawEntry({ name: "././@LongLink", typeflag: type, size: data.length, magic: "gnu" }, data);
}

export function sha256(data: Buffer): Digest {
  return asDigest(`sha256:${createHash("sha256").update(data).digest("hex")}`, "test digest");
}

export type Compression = "none" | "gzip" | "zstd";

const MEDIA: Record<Compression, string> = {
  none: "application/vnd.oci.image.layer.v1.tar",
  gzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  zstd: "application/vnd.oci.image.layer.v1.tar+zstd",
};

export function zstd(data: Buffer, level = 3): Buffer {
  return execFileSync(needTool("zstd", "zstd"), ["-q", "-c", `-${level}`], {
    input: data,
    maxBuffer: 1 << 30,
  });
}

export function compress(tar: Buffer, c: Compression): Buffer {
  return c === "gzip" ? gzipSync(tar) : c === "zstd" ? zstd(tar) : tar;
}

/** Chunks of `data` as a file read stream delivers them (64 KiB). */
export async function* chunks(data: Buffer, size = 64 * 1024): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

export interface SourceOptions {
  compression?: Compression;
  /** Use this DiffID instead of the digest of `tar`. */
  diffId?: Digest;
  /** The blob bytes, when they are not simply `tar` compressed (gzip tails, bytes after EOA). */
  blob?: Buffer;
}

/** A LayerSource for `tar` with correct digests (unless overridden). */
export function source(index: number, tar: Buffer, opts: SourceOptions = {}): LayerSource {
  const c = opts.compression ?? "none";
  const blob = opts.blob ?? compress(tar, c);
  return {
    index,
    descriptor: { mediaType: MEDIA[c], digest: sha256(blob), size: blob.length },
    diffId: opts.diffId ?? sha256(tar),
    open: () => chunks(blob),
  };
}

/** LayerSources for tars given in order (base layer first), uncompressed or all with `compression`. */
export function sources(tars: Buffer[], compression: Compression = "none"): LayerSource[] {
  return tars.map((t, i) => source(i, t, { compression }));
}

/** Layers as lists of items: `layers([F("a")], [F("b")])`. */
export function layers(...items: Item[][]): LayerSource[] {
  return sources(items.map((i) => tarOf(i)));
}

/**
 * A LayerSource whose blob is produced on the fly by `open` (bombs that are not worth holding in memory). Its
 * digests are placeholders: these layers must be refused before verification.
 */
export function streamingSource(
  index: number,
  compression: Compression,
  size: number,
  open: () => AsyncIterable<Uint8Array>,
): LayerSource {
  return {
    index,
    descriptor: { mediaType: MEDIA[compression], digest: sha256(Buffer.from("placeholder")), size },
    diffId: sha256(Buffer.from("placeholder diffid")),
    open,
  };
}

/** The tar of one regular file `name` of `size` zero bytes: its header (the data and EOA are all zeros). */
export function zeroFileHeader(name: string, size: number): Buffer {
  return rawHeader({ name, typeflag: "0", size: size <= 0o77777777777 ? size : base256(BigInt(size), 12) });
}

/**
 * A gzip bomb: a tar holding one file of `size` zeros, as a gzip stream of 1 MiB members (the first carries
 * the header). Concatenated members are one valid gzip stream (RFC 1952); building it costs one deflate of
 * 1 MiB instead of deflating the whole size.
 */
export function gzipBomb(size: number): Buffer {
  const mib = 1 << 20;
  if (size % mib !== 0) throw new Error("gzipBomb: size must be a multiple of 1 MiB");
  const zeros = gzipSync(Buffer.alloc(mib), { level: 9 });
  const parts = [gzipSync(zeroFileHeader("zeros", size), { level: 9 })];
  for (let i = 0; i < size / mib; i++) parts.push(zeros);
  parts.push(gzipSync(EOA));
  return Buffer.concat(parts);
}

/** A zstd bomb: a tar holding one file of `size` zeros, compressed by the zstd CLI as one frame. */
export function zstdBomb(size: number): Buffer {
  const dir = mkdtempSync(join(tmpdir(), "osless-zstd-bomb-"));
  try {
    const hdr = join(dir, "header");
    writeFileSync(hdr, zeroFileHeader("zeros", size));
    const zstdBin = needTool("zstd", "zstd");
    return execFileSync(
      "sh",
      ["-c", `{ cat "$1"; head -c ${size + 1024} /dev/zero; } | "$2" -q -3 -c`, "sh", hdr, zstdBin],
      { maxBuffer: 1 << 26 },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
