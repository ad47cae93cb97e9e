/**
 * Test helpers for the compression tests: the real compressors as oracles, sources cut into chunks, a collector
 * that records the error a decoder ends with, the assertions every decoder's tests make, and a bomb drain that
 * watches memory. Not used by library code.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isOslessError, type OslessError } from "../errors.ts";
import { type Compression, type DecompressOptions, decompress } from "./index.ts";

/** Fail (never skip) when an oracle tool is missing. */
export function requireTool(cmd: string, debianPackage: string): void {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "pipe" });
  } catch {
    throw new Error(`${cmd} is missing: install Debian package ${debianPackage}`);
  }
}

/** Run a tool with `input` on stdin; its stdout. */
export function run(cmd: string, args: string[], input?: Uint8Array): Buffer {
  return execFileSync(cmd, args, {
    stdio: ["pipe", "pipe", "pipe"],
    maxBuffer: 1 << 30,
    ...(input ? { input } : {}),
  });
}

/** What the real decompressor says (`cmd -dc`): the output, or null when it exits non-zero. */
export function oracleDecode(cmd: string, data: Uint8Array): Buffer | null {
  try {
    return run(cmd, ["-dc"], data);
  } catch {
    return null;
  }
}

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `osless-compression-${tag}-`));
}

/** `data` cut into chunks of `size` bytes (sizes cycle when an array), with an empty chunk now and then. */
export async function* chunked(
  data: Uint8Array,
  size: number | number[] = 65536,
): AsyncGenerator<Uint8Array> {
  const sizes = Array.isArray(size) ? size : [size];
  let k = 0;
  for (let i = 0; i < data.length; ) {
    const n = sizes[k++ % sizes.length]!;
    if (n === 0) {
      yield new Uint8Array(0);
      continue;
    }
    yield data.subarray(i, i + n);
    i += n;
  }
}

export interface Decoded {
  bytes: number;
  sha256: string;
  /** The whole output, when asked for. */
  data?: Buffer;
  error?: unknown;
}

/** Decompress and hash the output; an error ends the run and is returned, not thrown. */
export async function decode(
  source: AsyncIterable<Uint8Array>,
  compression: Compression,
  opts: DecompressOptions & { keep?: boolean } = {},
): Promise<Decoded> {
  const h = createHash("sha256");
  const parts: Uint8Array[] = [];
  let bytes = 0;
  let error: unknown;
  try {
    for await (const c of decompress(source, compression, opts)) {
      h.update(c);
      bytes += c.length;
      if (opts.keep) parts.push(Buffer.from(c));
    }
  } catch (e) {
    error = e;
  }
  return {
    bytes,
    sha256: h.digest("hex"),
    ...(opts.keep ? { data: Buffer.concat(parts) } : {}),
    ...(error === undefined ? {} : { error }),
  };
}

/** `compressed`, fed in chunks of `chunk` bytes, decodes without error to exactly `expected`. */
export async function expectData(
  compression: Compression,
  compressed: Uint8Array,
  expected: Uint8Array,
  chunk: number | number[],
  label: string,
): Promise<void> {
  const r = await decode(chunked(compressed, chunk), compression);
  assert.equal(r.error, undefined, `${label}: ${(r.error as Error | undefined)?.message}`);
  assert.equal(r.bytes, expected.length, label);
  assert.equal(r.sha256, sha256(expected), label);
}

/** The run ended with an OslessError `code` whose message matches `pattern`, and that has a hint. */
export function assertError(
  r: { error?: unknown },
  code: "E_COMPRESSION" | "E_SIZE_LIMIT",
  pattern: RegExp,
  label: string,
): void {
  assert.ok(r.error, `${label}: decoded without error`);
  assert.ok(isOslessError(r.error, code), `${label}: ${String(r.error)}`);
  assert.match((r.error as OslessError).message, pattern, label);
  assert.ok((r.error as OslessError).hint, `${label}: a hint`);
}

/**
 * Decompress a bomb to its end or its error, counting the bytes that came out and the peak growth of memory in
 * use (sampled after every chunk) over what it was when the run started.
 */
export async function drainBomb(
  source: AsyncIterable<Uint8Array>,
  compression: Compression,
  opts: DecompressOptions,
): Promise<{ got: number; peak: number; error?: unknown }> {
  const before = memoryInUse();
  let peak = 0;
  let got = 0;
  try {
    for await (const c of decompress(source, compression, opts)) {
      got += c.length;
      peak = Math.max(peak, memoryInUse() - before);
    }
  } catch (error) {
    return { got, peak, error };
  }
  return { got, peak };
}

export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Deterministic pseudo-random bytes (xorshift32), so failures reproduce. */
export function pseudoRandom(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** Text-like data that compresses but has no long runs: words from a small vocabulary. */
export function textLike(n: number, seed = 7): Buffer {
  const words = [
    "layer",
    "image",
    "tar",
    "blob",
    "digest",
    "sha256",
    "manifest",
    "config",
    "oci",
    "docker",
    "\n",
  ];
  const r = pseudoRandom(Math.ceil(n / 2) + 16, seed);
  const parts: string[] = [];
  let len = 0;
  for (let i = 0; len < n; i++) {
    const w = `${words[r[i % r.length]! % words.length]!}${r[(i * 7) % r.length]! % 10} `;
    parts.push(w);
    len += w.length;
  }
  return Buffer.from(parts.join("")).subarray(0, n);
}

/** Runs of one byte at the lengths where bzip2's initial RLE (4 bytes + a count of 0..251) has edges. */
export function runs(): Buffer {
  const lengths = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 250, 251, 252, 253, 254, 255, 256, 257, 258, 259, 260, 261, 262, 263,
  ];
  const parts: Buffer[] = [];
  let v = 0;
  for (const n of lengths) parts.push(Buffer.alloc(n, v++ % 3 === 0 ? 0x41 : v));
  // Equal runs back to back: "AAAA"+count then more "A" must start a new run.
  for (const n of [4, 5, 255, 256, 259, 260, 518, 1000, 5000])
    parts.push(Buffer.alloc(n, 0x41), Buffer.from("B"));
  parts.push(Buffer.alloc(300_000, 0)); // far more than one RLE run
  return Buffer.concat(parts);
}

/** Heap + array buffer bytes now. */
export function memoryInUse(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}
