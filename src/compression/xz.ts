/**
 * xz decompression through xz-decompress (xz-embedded compiled to WASM, no native build), loaded on first use so
 * gzip/zstd paths never pay for its 26 kB of base64 WASM.
 *
 * What the package does and what we add on top (xz-decompress 0.2.3, read from its source):
 * - It runs `xz_dec_catrun`, so concatenated streams and stream padding are decoded as `xz -dc` does; anything
 *   else after a stream (garbage) is an error, as with `xz -dc`.
 * - Dictionaries up to 64 MiB are accepted (`xz -9` uses 64 MiB); a larger one fails with E_SIZE_LIMIT.
 *   Integrity checks: none, CRC32, CRC64 (the xz default); SHA-256 (`xz -C sha256`) is refused.
 * - It decodes ONE stream at a time per process (a module-wide mutex around its WASM context): a second xz
 *   decompression waits until the first finishes, fails, or is abandoned. We always cancel the stream when our
 *   generator ends early, so an abandoned decompression releases the mutex.
 * - An empty input chunk would make it finish the stream early, and an empty source makes it throw a TypeError,
 *   so empty chunks are dropped and an empty source is reported as truncated here.
 * - Errors come as `get_next_output failed with error code N` (xz-embedded's `enum xz_ret`); they are mapped to
 *   readable messages.
 * Output is pulled: the WASM decoder produces one buffer (≤ its internal buffer size) per read, so memory stays
 * bounded whatever the stream size.
 */
import { createRequire } from "node:module";
import { OslessError } from "../errors.ts";

type XzModule = typeof import("xz-decompress");
let xzModule: XzModule | undefined;

function loadXz(): XzModule {
  // createRequire rather than import(): the package is a webpack UMD bundle whose ESM namespace differs between
  // plain node (`default.XzReadableStream`) and loaders such as tsx (`XzReadableStream`).
  xzModule ??= createRequire(import.meta.url)("xz-decompress") as XzModule;
  return xzModule;
}

/** xz-embedded's `enum xz_ret` codes above XZ_STREAM_END. */
const XZ_UNSUPPORTED_CHECK = 2;
const XZ_MEMLIMIT_ERROR = 4;
const XZ_OPTIONS_ERROR = 6;
const XZ_ERRORS: Record<number, string> = {
  3: "out of memory",
  5: "not xz data (bad stream header magic), or garbage after the end of a stream",
  7: "data is damaged (bad block, index or checksum)",
  8: "unexpected end of input (truncated, or followed by bytes that are not an xz stream)",
};
const DICT_LIMIT = 64 * 1024 * 1024;

function corrupt(what: string, detail: string, cause?: unknown): OslessError {
  return new OslessError("E_COMPRESSION", `${what}: xz data is corrupt: ${detail}`, {
    hint: "the file is truncated or damaged; export or download it again",
    ...(cause === undefined ? {} : { cause }),
  });
}

function translate(e: unknown, what: string): OslessError {
  if (e instanceof OslessError) return e;
  const message = e instanceof Error ? e.message : String(e);
  const m = /error code (\d+)/.exec(message);
  if (!m) return corrupt(what, message, e);
  const code = Number(m[1]);
  if (code === XZ_MEMLIMIT_ERROR) {
    return new OslessError(
      "E_SIZE_LIMIT",
      `${what}: xz dictionary exceeds the ${DICT_LIMIT}-byte limit of the decoder`,
      {
        hint: "recompress with a dictionary of 64 MiB or less (xz -9 or lower)",
        cause: e,
      },
    );
  }
  if (code === XZ_OPTIONS_ERROR || code === XZ_UNSUPPORTED_CHECK) {
    return new OslessError(
      "E_COMPRESSION",
      `${what}: xz data uses unsupported options (a BCJ or delta filter, or a SHA-256 integrity check)`,
      {
        hint: "recompress with plain xz (its default CRC64 check, no --x86/--arm/--delta filters)",
        cause: e,
      },
    );
  }
  return corrupt(what, XZ_ERRORS[code] ?? `decoder error ${code}`, e);
}

/** Decompress an xz source (one or more concatenated streams); `count` is called before each chunk is yielded. */
export async function* unxz(
  source: AsyncIterable<Uint8Array>,
  count: (n: number) => void,
  what: string,
): AsyncGenerator<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  let sourceDone = false;
  const nextChunk = async (): Promise<Uint8Array | undefined> => {
    for (;;) {
      const r = await it.next();
      if (r.done) {
        sourceDone = true;
        return undefined;
      }
      if (r.value.length > 0) return r.value;
    }
  };
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let settled = false; // the decoder stream ended or failed, and so released its context
  let sourceFailure: { error: unknown } | undefined;
  try {
    const first = await nextChunk();
    if (first === undefined) throw corrupt(what, "unexpected end of input (empty)");
    let pending: Uint8Array | undefined = first;
    const input = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          let c: Uint8Array | undefined;
          try {
            c = pending ?? (await nextChunk());
          } catch (e) {
            sourceFailure = { error: e };
            throw e;
          }
          pending = undefined;
          if (c === undefined) controller.close();
          else controller.enqueue(c);
        },
      },
      { highWaterMark: 0 },
    );
    const { XzReadableStream } = loadXz();
    reader = new XzReadableStream(input).getReader();
    for (;;) {
      const r = await reader.read().catch((e: unknown) => {
        settled = true;
        // A failure to read the input (I/O, a digest check upstream) is not corrupt xz data: pass it on.
        if (sourceFailure !== undefined && e === sourceFailure.error) throw e;
        throw translate(e, what);
      });
      if (r.done) {
        settled = true;
        return;
      }
      if (r.value.length === 0) continue;
      count(r.value.length);
      yield r.value;
    }
  } finally {
    // Abandoned (the consumer stopped early, or count() threw): free the WASM context and its mutex.
    if (reader && !settled) await reader.cancel().catch(() => {});
    if (!sourceDone) await it.return?.();
  }
}
