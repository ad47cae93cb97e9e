/**
 * Streaming tar reader and header-only file scanner. Data chunks are passed through as slices of the source
 * chunks (no copies); only header blocks and special headers (PAX 'x'/'g', GNU 'L'/'K', capped) are buffered.
 * Rules: ../../../shared/design/extraction-rules.md R1, R15, R16, R18, R19, R21 and "Tolerance".
 */
import { open } from "node:fs/promises";
import { OslessError } from "../errors.ts";
import {
  BLOCK,
  decodeBlock,
  invalid,
  isZeroBlock,
  parsePaxRecords,
  paxInteger,
  paxTime,
  type RawBlock,
  type TarHeader,
  typeOfFlag,
  where,
} from "./header.ts";

export interface TarEntry {
  header: TarHeader;
  /** Byte offset of the first header block of this entry (incl. PAX/GNU special headers) in the tar stream. */
  headerOffset: number;
  /** Byte offset of the entry's data. */
  dataOffset: number;
  /**
   * The entry's data (exactly header.size bytes for regular files; nothing for other types, whose data, if any,
   * is skipped). Must be consumed before the next entry is requested; if it is not, the reader skips it.
   */
  body(): AsyncIterable<Buffer>;
  /**
   * The whole of the entry's data at once when it is already buffered (a window on the source chunk, not a
   * copy), else undefined and nothing is consumed: lets a reader skip an async iteration per small file.
   */
  bodyNow(): Buffer | undefined;
}

export interface TarReadOptions {
  /** Cap for 'x', 'g', 'L', 'K' records. Default 1 MiB. */
  maxSpecialHeaderSize?: number | undefined;
  /** Default 500_000. */
  maxEntries?: number | undefined;
  /** After end-of-archive, keep reading the source to EOF (bounded memory) so upstream hashers see every byte. Default true. */
  drain?: boolean;
}

/** Random access over a tar FILE: header blocks only. */
export interface TarFileEntry {
  header: TarHeader;
  headerOffset: number;
  dataOffset: number;
}

const DEFAULT_MAX_SPECIAL = 1 << 20;
const DEFAULT_MAX_ENTRIES = 500_000;
const EMPTY = Buffer.alloc(0);
const NO_RECORDS: ReadonlyMap<string, Buffer> = new Map();

export function padding(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

/**
 * What the header parser needs from a byte source. The `…Now` forms answer without awaiting when the bytes are
 * at hand (most headers of a layer are, in a chunk of a megabyte): an await per header block, special header
 * and skip cost ~60 ms over the ~8,000 entries of a Debian base layer.
 */
interface Source {
  /** Bytes consumed so far. */
  readonly pos: number;
  /** Exactly n bytes, or fewer at EOF. */
  read(n: number): Promise<Buffer>;
  /** Exactly n bytes when they are at hand, else undefined (nothing consumed). */
  readNow(n: number): Buffer | undefined;
  /** Skip n bytes; returns how many were skipped (fewer at EOF). */
  skip(n: number): Promise<number>;
  /** Skip n bytes when they are at hand and return true, else false (nothing consumed). */
  skipNow(n: number): boolean;
}

/** Chunk queue over an async iterable: slices without copying unless a read spans chunks. */
class StreamSource implements Source {
  pos = 0;
  #it: AsyncIterator<Uint8Array>;
  #buf: Buffer = EMPTY;
  #eof = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#it = source[Symbol.asyncIterator]();
  }

  async #fill(): Promise<boolean> {
    while (this.#buf.length === 0) {
      if (this.#eof) return false;
      const r = await this.#it.next();
      if (r.done) {
        this.#eof = true;
        return false;
      }
      const v = r.value;
      this.#buf = Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    }
    return true;
  }

  readNow(n: number): Buffer | undefined {
    if (this.#buf.length < n) return undefined;
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    this.pos += n;
    return out;
  }

  skipNow(n: number): boolean {
    if (this.#buf.length < n) return false;
    this.#buf = this.#buf.subarray(n);
    this.pos += n;
    return true;
  }

  async read(n: number): Promise<Buffer> {
    if (this.#buf.length >= n) {
      const out = this.#buf.subarray(0, n);
      this.#buf = this.#buf.subarray(n);
      this.pos += n;
      return out;
    }
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n && (await this.#fill())) {
      const take = Math.min(n - got, this.#buf.length);
      parts.push(this.#buf.subarray(0, take));
      this.#buf = this.#buf.subarray(take);
      got += take;
    }
    this.pos += got;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, got);
  }

  /** The next slice of at most n bytes, never copied; empty at EOF. */
  async chunk(n: number): Promise<Buffer> {
    if (!(await this.#fill())) return EMPTY;
    const take = Math.min(n, this.#buf.length);
    const out = this.#buf.subarray(0, take);
    this.#buf = this.#buf.subarray(take);
    this.pos += take;
    return out;
  }

  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0 && (await this.#fill())) {
      const take = Math.min(left, this.#buf.length);
      this.#buf = this.#buf.subarray(take);
      left -= take;
    }
    this.pos += n - left;
    return n - left;
  }

  /** Read to EOF, dropping everything (bounded memory). */
  async drain(): Promise<void> {
    this.pos += this.#buf.length;
    this.#buf = EMPTY;
    while (!this.#eof) {
      const r = await this.#it.next();
      if (r.done) this.#eof = true;
      else this.pos += r.value.byteLength;
    }
  }

  async close(): Promise<void> {
    if (!this.#eof) {
      this.#eof = true;
      await this.#it.return?.();
    }
  }
}

/** Positional reads over a file with a small read-ahead window. */
class FileSource implements Source {
  pos = 0;
  #fh: import("node:fs/promises").FileHandle;
  #size: number;
  #win: Buffer = EMPTY;
  #winStart = 0;

  constructor(fh: import("node:fs/promises").FileHandle, size: number) {
    this.#fh = fh;
    this.#size = size;
  }

  readNow(n: number): Buffer | undefined {
    const rel = this.pos - this.#winStart;
    if (rel < 0 || rel + n > this.#win.length) return undefined;
    this.pos += n;
    return this.#win.subarray(rel, rel + n);
  }

  skipNow(n: number): boolean {
    if (this.#size - this.pos < n) return false;
    this.pos += n;
    return true;
  }

  async read(n: number): Promise<Buffer> {
    const want = Math.min(n, Math.max(0, this.#size - this.pos));
    const rel = this.pos - this.#winStart;
    if (rel < 0 || rel + want > this.#win.length) {
      const len = Math.min(Math.max(want, 64 * 1024), this.#size - this.pos);
      const buf = Buffer.allocUnsafe(len);
      let got = 0;
      while (got < len) {
        const { bytesRead } = await this.#fh.read(buf, got, len - got, this.pos + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      this.#win = buf.subarray(0, got);
      this.#winStart = this.pos;
    }
    const start = this.pos - this.#winStart;
    const out = this.#win.subarray(start, start + want);
    this.pos += out.length;
    return out;
  }

  async skip(n: number): Promise<number> {
    const k = Math.min(n, Math.max(0, this.#size - this.pos));
    this.pos += k;
    return k;
  }
}

function truncated(msg: string, offset: number, path?: string): OslessError {
  return new OslessError("E_TAR_TRUNCATED", `${where(offset, path)}: ${msg}`, {
    hint: "the archive is truncated; fetch or export it again",
    details: { offset, ...(path === undefined ? {} : { path }) },
  });
}

function unsupported(msg: string, offset: number, path?: string): OslessError {
  return new OslessError("E_TAR_UNSUPPORTED", `${where(offset, path)}: ${msg}`, {
    hint: "OCI layers use ustar, GNU or PAX entries of the basic types; rebuild the layer without this feature",
    details: { offset, ...(path === undefined ? {} : { path }) },
  });
}

interface ParseState {
  maxSpecial: number;
  maxEntries: number;
  entries: number;
}

function stateOf(opts: TarReadOptions): ParseState {
  return {
    maxSpecial: opts.maxSpecialHeaderSize ?? DEFAULT_MAX_SPECIAL,
    maxEntries: opts.maxEntries ?? DEFAULT_MAX_ENTRIES,
    entries: 0,
  };
}

const SPECIAL_NAMES: Record<string, string> = {
  x: "PAX extended header",
  g: "PAX global header",
  L: "GNU long name",
  K: "GNU long link name",
};

/** Read a special header's data (size capped) and skip its padding. */
async function readSpecial(src: Source, raw: RawBlock, blockOffset: number, st: ParseState): Promise<Buffer> {
  const what = SPECIAL_NAMES[raw.typeflag]!;
  if (raw.size > st.maxSpecial) {
    throw new OslessError(
      "E_TAR_LIMIT",
      `${where(blockOffset)}: ${what} of ${raw.size} bytes exceeds the limit of ${st.maxSpecial} bytes`,
      {
        hint: "raise the special-header limit only for archives you trust",
        details: { offset: blockOffset, size: raw.size, limit: st.maxSpecial },
      },
    );
  }
  const data = src.readNow(raw.size) ?? (await src.read(raw.size));
  if (data.length < raw.size) throw truncated(`end of input inside the ${what}`, blockOffset);
  const pad = padding(raw.size);
  if (!src.skipNow(pad) && (await src.skip(pad)) < pad)
    throw truncated(`end of input inside the ${what}`, blockOffset);
  return data;
}

function cutAtNul(b: Buffer): Buffer {
  const i = b.indexOf(0);
  return Buffer.from(i < 0 ? b : b.subarray(0, i));
}

/**
 * Read the next entry's headers. Returns null at end-of-archive (two zero blocks, or EOF at a header boundary).
 * After return, src.pos is the entry's data offset.
 */
async function nextHeader(src: Source, st: ParseState): Promise<TarFileEntry | null> {
  let headerOffset = -1;
  let pax: Map<string, Buffer> | undefined;
  let longName: Buffer | undefined;
  let longLink: Buffer | undefined;
  for (;;) {
    const blockOffset = src.pos;
    const block = src.readNow(BLOCK) ?? (await src.read(BLOCK));
    const pending = headerOffset >= 0;
    if (block.length === 0) {
      if (pending) throw truncated("end of input after an extended header, before its entry", blockOffset);
      return null; // EOF at a header boundary: accepted (Tolerance)
    }
    if (block.length < BLOCK)
      throw truncated(`end of input inside a header block (${block.length} of 512 bytes)`, blockOffset);
    if (isZeroBlock(block)) {
      if (pending)
        throw invalid("extended header is followed by end-of-archive instead of an entry", blockOffset);
      const second = src.readNow(BLOCK) ?? (await src.read(BLOCK));
      if (second.length === 0 || (second.length === BLOCK && isZeroBlock(second))) return null;
      if (second.length < BLOCK)
        throw truncated("end of input inside the end-of-archive marker", blockOffset + BLOCK);
      throw invalid("a lone zero block is followed by more headers", blockOffset);
    }
    const raw = decodeBlock(block, blockOffset);
    const flag = raw.typeflag;
    if (flag === "g") {
      await readSpecial(src, raw, blockOffset, st); // R15: ignored
      continue;
    }
    if (headerOffset < 0) headerOffset = blockOffset;
    if (flag === "x") {
      const data = await readSpecial(src, raw, blockOffset, st);
      pax ??= new Map();
      parsePaxRecords(data, blockOffset, pax);
      continue;
    }
    if (flag === "L") {
      longName = cutAtNul(await readSpecial(src, raw, blockOffset, st));
      continue;
    }
    if (flag === "K") {
      longLink = cutAtNul(await readSpecial(src, raw, blockOffset, st));
      continue;
    }
    return finish(src, raw, blockOffset, headerOffset, pax, longName, longLink, st);
  }
}

function finish(
  src: Source,
  raw: RawBlock,
  blockOffset: number,
  headerOffset: number,
  pax: Map<string, Buffer> | undefined,
  longName: Buffer | undefined,
  longLink: Buffer | undefined,
  st: ParseState,
): TarFileEntry {
  // Most entries have no PAX records and no xattrs: they share one empty map (two fewer objects per entry).
  const p: ReadonlyMap<string, Buffer> = pax ?? NO_RECORDS;
  let pathBytes = longName ?? raw.name;
  const paxPath = p.get("path");
  if (paxPath !== undefined && paxPath.length > 0) {
    if (paxPath.includes(0))
      throw invalid("PAX path contains a NUL byte", blockOffset, paxPath.toString("utf8"));
    pathBytes = paxPath;
  }
  const path = pathBytes.toString("utf8");
  if (pathBytes.length === 0) throw invalid("entry has an empty name", blockOffset);
  const flag = raw.typeflag;
  if (flag === "S") throw unsupported("GNU sparse files are not supported (R16)", blockOffset, path);
  let type = typeOfFlag(flag);
  if (type === undefined) {
    throw unsupported(`unknown typeflag ${JSON.stringify(flag)} (R18)`, blockOffset, path);
  }
  if (type === "file" && (flag === "0" || flag === "\0") && path.endsWith("/")) type = "directory"; // v7 dirs
  let linkBytes = longLink ?? raw.linkname;
  const paxLink = p.get("linkpath");
  if (paxLink !== undefined && paxLink.length > 0) {
    if (paxLink.includes(0)) throw invalid("PAX linkpath contains a NUL byte", blockOffset, path);
    linkBytes = paxLink;
  }
  const header: TarHeader = {
    path,
    pathBytes,
    linkpath: linkBytes.toString("utf8"),
    linkpathBytes: linkBytes,
    type,
    typeflag: flag,
    mode: raw.mode & 0o7777,
    uid: raw.uid,
    gid: raw.gid,
    size: raw.size,
    mtime: raw.mtime,
    uname: raw.uname.toString("utf8"),
    gname: raw.gname.toString("utf8"),
    devmajor: raw.devmajor,
    devminor: raw.devminor,
    xattrs: NO_RECORDS,
    pax: p,
  };
  let xattrs: Map<string, Buffer> | undefined;
  for (const [key, v] of p) {
    if (key.startsWith("GNU.sparse."))
      throw unsupported(`PAX record ${key}: sparse files are not supported (R16)`, blockOffset, path);
    if (key.startsWith("SCHILY.xattr.")) {
      xattrs ??= new Map();
      xattrs.set(key.slice(13), v);
      header.xattrs = xattrs;
      continue;
    }
    if (v.length === 0) continue; // an empty value unsets the record: keep the ustar value
    switch (key) {
      case "uid":
        header.uid = paxInteger(v, key, blockOffset, path);
        break;
      case "gid":
        header.gid = paxInteger(v, key, blockOffset, path);
        break;
      case "size": {
        const size = paxInteger(v, key, blockOffset, path);
        // A non-zero ustar size that disagrees is ambiguous: readers that ignore PAX would see other entries.
        if (raw.size !== 0 && raw.size !== size) {
          throw invalid(`PAX size ${size} disagrees with the header size ${raw.size}`, blockOffset, path);
        }
        header.size = size;
        break;
      }
      case "mtime":
        header.mtime = paxTime(v, key, blockOffset, path);
        break;
      case "atime":
        header.atime = paxTime(v, key, blockOffset, path);
        break;
      case "ctime":
        header.ctime = paxTime(v, key, blockOffset, path);
        break;
      case "uname":
        header.uname = v.toString("utf8");
        break;
      case "gname":
        header.gname = v.toString("utf8");
        break;
      case "SCHILY.devmajor":
        header.devmajor = paxInteger(v, key, blockOffset, path);
        break;
      case "SCHILY.devminor":
        header.devminor = paxInteger(v, key, blockOffset, path);
        break;
    }
  }
  st.entries++;
  if (st.entries > st.maxEntries) {
    throw new OslessError("E_TAR_LIMIT", `${where(headerOffset, path)}: more than ${st.maxEntries} entries`, {
      hint: `an archive may hold at most ${st.maxEntries} entries, a fixed limit against archive bombs that real images stay far below; the archive is corrupt or hostile`,
      details: { offset: headerOffset, path, limit: st.maxEntries },
    });
  }
  return { header, headerOffset, dataOffset: src.pos };
}

function entryEOF(header: TarHeader, headerOffset: number, remaining: number): OslessError {
  return truncated(
    `end of input inside the entry's data (${header.size - remaining} of ${header.size} bytes)`,
    headerOffset,
    header.path,
  );
}

/**
 * An entry of a tar stream: one object whose methods read the stream (no closures and contexts per entry: an
 * image's every entry goes through here, and what an entry allocates tends to outlive young-generation GCs).
 */
class StreamEntry implements TarEntry {
  readonly header: TarHeader;
  readonly headerOffset: number;
  readonly dataOffset: number;
  /** Data bytes still in the stream. */
  remaining: number;
  /** False once the next entry was requested. */
  active = true;
  readonly #src: StreamSource;

  constructor(next: TarFileEntry, src: StreamSource) {
    this.header = next.header;
    this.headerOffset = next.headerOffset;
    this.dataOffset = next.dataOffset;
    this.remaining = next.header.size;
    this.#src = src;
  }

  async *body(): AsyncGenerator<Buffer> {
    if (!this.active) throw new Error(`tar: body() of "${this.header.path}" requested after the next entry`);
    if (this.header.type !== "file") return;
    while (this.remaining > 0) {
      const c = await this.#src.chunk(this.remaining);
      if (c.length === 0) throw entryEOF(this.header, this.headerOffset, this.remaining);
      this.remaining -= c.length;
      yield c;
    }
  }

  bodyNow(): Buffer | undefined {
    if (!this.active)
      throw new Error(`tar: bodyNow() of "${this.header.path}" requested after the next entry`);
    if (this.header.type !== "file" || this.remaining === 0) return EMPTY;
    const b = this.#src.readNow(this.remaining);
    if (b !== undefined) this.remaining = 0;
    return b;
  }
}

/**
 * Read a tar stream entry by entry. Each entry's body must be consumed before the next is requested
 * (otherwise it is skipped). With `drain` (default), the source is read to EOF after end-of-archive.
 */
export async function* readTar(
  source: AsyncIterable<Uint8Array>,
  opts: TarReadOptions = {},
): AsyncGenerator<TarEntry> {
  const src = new StreamSource(source);
  const st = stateOf(opts);
  try {
    for (;;) {
      const next = await nextHeader(src, st);
      if (next === null) {
        if (opts.drain ?? true) await src.drain();
        return;
      }
      const entry = new StreamEntry(next, src);
      yield entry;
      entry.active = false;
      const { header } = next;
      let remaining = entry.remaining;
      if (remaining > 0) {
        if (src.skipNow(remaining)) remaining = 0;
        else {
          remaining -= await src.skip(remaining);
          if (remaining > 0) throw entryEOF(header, next.headerOffset, remaining);
        }
      }
      const pad = padding(header.size);
      const skipped = src.skipNow(pad) ? pad : await src.skip(pad);
      if (skipped < pad) {
        // Tolerance: input that ends exactly where the last entry's data ends (no padding byte, no
        // end-of-archive blocks; umoci 0.4.7's `insert`/`repack` write layers like that) is a clean end, as in
        // Go's archive/tar, which containerd and Docker use. Part of the padding present is still truncation.
        if (skipped === 0) return;
        throw truncated(
          "end of input inside the padding after the entry's data",
          next.headerOffset,
          header.path,
        );
      }
    }
  } finally {
    await src.close();
  }
}

/** Read only the header blocks of a tar file (positional reads, seeking past data). */
export async function scanTarFile(path: string, opts: TarReadOptions = {}): Promise<TarFileEntry[]> {
  const fh = await open(path, "r");
  try {
    const { size } = await fh.stat();
    const src = new FileSource(fh, size);
    const st = stateOf(opts);
    const out: TarFileEntry[] = [];
    for (;;) {
      const next = await nextHeader(src, st);
      if (next === null) return out;
      const h = next.header;
      if (!src.skipNow(h.size) && (await src.skip(h.size)) < h.size) {
        throw truncated(
          `end of input inside the entry's data (${size - next.dataOffset} of ${h.size} bytes)`,
          next.headerOffset,
          h.path,
        );
      }
      const pad = padding(h.size);
      const skipped = src.skipNow(pad) ? pad : await src.skip(pad);
      if (skipped < pad && skipped > 0) {
        throw truncated("end of input inside the padding after the entry's data", next.headerOffset, h.path);
      }
      out.push(next);
      if (skipped < pad) return out; // Tolerance, as in readTar: EOF right after the last entry's data.
    }
  } finally {
    await fh.close();
  }
}
