/**
 * Layer compression, recognised by magic bytes rather than media type (docker-archive exports label
 * uncompressed tars as gzip; see registry-rules.md). gzip uses node:zlib; zstd uses fzstd (pure JS, streaming)
 * after checking the frame's window size; xz uses xz-decompress (WASM, loaded on first use, see xz.ts); bzip2 uses
 * our own streaming decoder (bzip2.ts). xz and bzip2 are not OCI layer formats but appear in build contexts
 * (Dockerfile `ADD x.tar.xz`, `ADD x.tar.bz2`).
 * Every decoder counts its output and stops at `maxOutput` (decompression bombs); corrupt or truncated input is
 * E_COMPRESSION ("<what>: <format> data is corrupt: <detail>").
 */
import { open } from "node:fs/promises";
import { createGunzip } from "node:zlib";
import { Decompress as ZstdDecompress } from "fzstd";
import { OslessError } from "../errors.ts";
import { bunzip2 } from "./bzip2.ts";
import { unxz } from "./xz.ts";
import { ZstdFrameScanner } from "./zstd-frames.ts";

export type Compression = "none" | "gzip" | "zstd" | "xz" | "bzip2";

const GZIP = [0x1f, 0x8b];
const ZSTD = [0x28, 0xb5, 0x2f, 0xfd];
const XZ = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
/** "BZh" + level '1'..'9', then the magic of the first block or, for an empty stream, of the end of stream. */
const BZIP2_BLOCK = [0x31, 0x41, 0x59, 0x26, 0x53, 0x59];
const BZIP2_EOS = [0x17, 0x72, 0x45, 0x38, 0x50, 0x90];

function startsWith(head: Uint8Array, magic: number[]): boolean {
  return head.length >= magic.length && magic.every((b, i) => head[i] === b);
}

function isBzip2(head: Uint8Array): boolean {
  // Three letters and a digit are too common to trust alone (a tar starts with its first file's name), so the
  // 6-byte magic that follows them is required too.
  if (head.length < 10 || head[0] !== 0x42 || head[1] !== 0x5a || head[2] !== 0x68) return false;
  if (head[3]! < 0x31 || head[3]! > 0x39) return false;
  const rest = head.subarray(4);
  return startsWith(rest, BZIP2_BLOCK) || startsWith(rest, BZIP2_EOS);
}

/** Compression of a stream from its first bytes (at least 10 for a sure answer). */
export function detectCompression(head: Uint8Array): Compression {
  if (startsWith(head, GZIP)) return "gzip";
  if (startsWith(head, ZSTD)) return "zstd";
  if (startsWith(head, XZ)) return "xz";
  if (isBzip2(head)) return "bzip2";
  return "none";
}

/** Largest zstd window accepted (the reference decoder's default limit, windowLog 27). */
export const MAX_ZSTD_WINDOW = 128 * 1024 * 1024;

/** Compression of a file, from its first bytes. */
export async function detectFileCompression(path: string): Promise<Compression> {
  const fh = await open(path, "r");
  try {
    const head = Buffer.alloc(16);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    return detectCompression(head.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

export interface DecompressOptions {
  /** Fail once more than this many bytes come out (default: unlimited). */
  maxOutput?: number;
  what?: string;
  /** How the user can raise `maxOutput` (a flag), for the error's hint. */
  limitHint?: string;
}

/** Peek at the first bytes of a source: returns the compression and a source that still yields every byte. */
export async function sniff(
  source: AsyncIterable<Uint8Array>,
): Promise<{ compression: Compression; head: Uint8Array; source: AsyncIterable<Uint8Array> }> {
  const it = source[Symbol.asyncIterator]();
  const parts: Uint8Array[] = [];
  let have = 0;
  let done = false;
  while (have < 16) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    parts.push(r.value);
    have += r.value.length;
  }
  const head = Buffer.concat(parts);
  async function* rest(): AsyncGenerator<Uint8Array> {
    let finished = done;
    try {
      if (head.length > 0) yield head;
      if (done) return;
      for (;;) {
        const r = await it.next();
        if (r.done) {
          finished = true;
          return;
        }
        yield r.value;
      }
    } finally {
      // A consumer that stops early must close the source too (a file stream holds a descriptor).
      if (!finished) await it.return?.();
    }
  }
  return { compression: detectCompression(head), head, source: rest() };
}

/** Decompress `source` (whose compression is `compression`), counting output bytes against the limit. */
export async function* decompress(
  source: AsyncIterable<Uint8Array>,
  compression: Compression,
  opts: DecompressOptions = {},
): AsyncGenerator<Uint8Array> {
  const what = opts.what ?? "stream";
  const max = opts.maxOutput ?? Number.POSITIVE_INFINITY;
  let out = 0;
  const count = (n: number) => {
    out += n;
    if (out > max) {
      throw new OslessError("E_SIZE_LIMIT", `${what}: decompressed data exceeds the limit of ${max} bytes`, {
        hint:
          opts.limitHint ??
          "the data is larger than allowed (or a decompression bomb); raise the limit only for input you trust",
        details: { limit: max },
      });
    }
  };
  switch (compression) {
    case "none":
      for await (const c of source) {
        count(c.length);
        yield c;
      }
      return;
    case "gzip":
      yield* gunzip(source, count, what);
      return;
    case "zstd":
      yield* unzstd(source, count, what);
      return;
    case "xz":
      yield* unxz(source, count, what);
      return;
    case "bzip2":
      yield* bunzip2(source, count, what);
      return;
  }
}

async function* gunzip(
  source: AsyncIterable<Uint8Array>,
  count: (n: number) => void,
  what: string,
): AsyncGenerator<Uint8Array> {
  // 1 MiB output chunks: fewer round trips between the inflate thread and the main thread (~30 ms on a 120 MB layer).
  const z = createGunzip({ chunkSize: 1024 * 1024 });
  const feed = (async () => {
    try {
      for await (const c of source) {
        // The consumer may have destroyed the stream (an output limit, an error) while we waited for input:
        // writing then would raise an unhandled error, and a destroyed stream never emits 'drain' again.
        if (z.destroyed) return;
        if (!z.write(c)) await untilDrainOrClose(z);
        if (z.destroyed) return;
      }
      z.end();
    } catch (e) {
      z.destroy(e as Error);
    }
  })();
  try {
    for await (const c of z as AsyncIterable<Buffer>) {
      count(c.length);
      yield c;
    }
  } catch (e) {
    if (e instanceof OslessError) throw e;
    throw new OslessError("E_COMPRESSION", `${what}: gzip data is corrupt: ${(e as Error).message}`, {
      hint: "the file is truncated or damaged; export or download it again",
      cause: e,
    });
  } finally {
    z.destroy();
    await feed;
  }
}

function untilDrainOrClose(z: NodeJS.EventEmitter & { destroyed: boolean }): Promise<void> {
  return new Promise<void>((resolve) => {
    if (z.destroyed) {
      resolve();
      return;
    }
    const done = () => {
      z.off("drain", done);
      z.off("close", done);
      resolve();
    };
    z.on("drain", done);
    z.on("close", done);
  });
}

/**
 * fzstd decodes everything a push() makes possible in one synchronous call, handing each block (≤ 128 KiB) to
 * the callback. A few bytes of RLE blocks can stand for gigabytes, so input is pushed in small slices, output is
 * counted in the callback (the limit throws out of push() at once) and handed on between slices: memory stays
 * bounded by one slice's worth of blocks (1 KiB of input is at most ~256 RLE blocks, 32 MiB).
 */
const ZSTD_SLICE = 1024;

async function* unzstd(
  source: AsyncIterable<Uint8Array>,
  count: (n: number) => void,
  what: string,
): AsyncGenerator<Uint8Array> {
  let pending: Uint8Array[] = [];
  const d = new ZstdDecompress((chunk) => {
    count(chunk.length);
    pending.push(chunk);
  });
  const frames = new ZstdFrameScanner(MAX_ZSTD_WINDOW, what);
  const wrap = (e: unknown) =>
    e instanceof OslessError
      ? e
      : new OslessError("E_COMPRESSION", `${what}: zstd data is corrupt: ${(e as Error).message}`, {
          cause: e,
        });
  function* feed(c: Uint8Array): Generator<Uint8Array> {
    for (let o = 0; o < c.length; o += ZSTD_SLICE) {
      const slice = c.subarray(o, o + ZSTD_SLICE);
      // Every frame header is checked before the decoder sees (and allocates for) its frame.
      frames.push(slice);
      d.push(slice);
      if (pending.length > 0) {
        const out = pending;
        pending = [];
        yield* out;
      }
    }
  }
  try {
    for await (const c of source) yield* feed(c);
    d.push(new Uint8Array(0), true);
    yield* pending;
  } catch (e) {
    throw wrap(e);
  }
}
