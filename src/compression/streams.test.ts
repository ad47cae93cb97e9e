/** Stream hygiene of the decoders: early stops close the source, nothing hangs, limits hold per zstd frame. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { gzipSync } from "node:zlib";
import { isOslessError, OslessError } from "../errors.ts";
import { type Compression, decompress, sniff } from "./index.ts";

/** A source that records whether it was closed, optionally slow, optionally failing after `failAfter` chunks. */
function tracked(data: Buffer, opts: { chunk?: number; delayMs?: number; failAfter?: number } = {}) {
  const state = { closed: false, finished: false };
  const chunk = opts.chunk ?? 4096;
  async function* gen(): AsyncGenerator<Uint8Array> {
    try {
      let n = 0;
      for (let i = 0; i < data.length; i += chunk) {
        if (opts.failAfter !== undefined && n++ >= opts.failAfter) {
          throw new OslessError("E_IO", "the disk went away");
        }
        if (opts.delayMs) await sleep(opts.delayMs);
        yield data.subarray(i, i + chunk);
      }
      state.finished = true;
    } finally {
      state.closed = true;
    }
  }
  return { source: gen(), state };
}

async function* once(b: Buffer): AsyncGenerator<Uint8Array> {
  yield b;
}

function compress(c: Compression, data: Buffer): Buffer {
  if (c === "gzip") return gzipSync(data);
  const tool = { zstd: "zstd", xz: "xz", bzip2: "bzip2", none: "cat" }[c];
  return execFileSync(tool, c === "none" ? [] : ["-c"], { input: data, maxBuffer: 1 << 30 });
}

/** 200 kB that do not compress (an LCG), so every compressed form spans many source chunks. */
const payload = (() => {
  const b = Buffer.alloc(200_000);
  let x = 12345;
  for (let i = 0; i < b.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
})();

test("a consumer that stops after the first chunk closes the source, for every compression", async () => {
  for (const c of ["none", "gzip", "zstd", "xz", "bzip2"] as const) {
    const { source, state } = tracked(compress(c, payload), { chunk: 1024 });
    const s = await sniff(source);
    assert.equal(s.compression, c);
    for await (const _ of decompress(s.source, s.compression)) break;
    assert.ok(state.closed, `${c}: source closed`);
    // bzip2 reads a whole block (up to 900 kB of input) before its first output: this input is one block.
    if (c !== "bzip2") assert.ok(!state.finished, `${c}: source not read to the end`);
  }
});

test("gunzip stopped while its input is slow finishes instead of hanging", async () => {
  const { source, state } = tracked(gzipSync(payload), { chunk: 512, delayMs: 20 });
  const t0 = performance.now();
  for await (const _ of decompress(source, "gzip")) break;
  assert.ok(performance.now() - t0 < 5000, "returned within 5 s");
  assert.ok(state.closed);
});

test("an error of the source passes through every decoder unchanged (it is not 'corrupt data')", async () => {
  for (const c of ["none", "gzip", "zstd", "xz", "bzip2"] as const) {
    const { source } = tracked(compress(c, payload), { chunk: 1024, failAfter: 3 });
    await assert.rejects(
      (async () => {
        for await (const _ of decompress(source, c)) {
        }
      })(),
      (e) => isOslessError(e, "E_IO") && e.message === "the disk went away",
      c,
    );
  }
});

test("zstd: every frame's window is checked, not only the first frame's (a 2 GiB window after a small frame)", async () => {
  const small = execFileSync("zstd", ["-c"], { input: Buffer.from("hello\n") });
  // Frame header: magic, FHD 0 (window descriptor present), window descriptor exponent 21 -> 2 GiB; then one
  // raw last block of 4 bytes.
  const huge = Buffer.concat([
    Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3]),
    Buffer.from([0x01 | (4 << 3), 0, 0]),
    Buffer.from("abcd"),
  ]);
  const rss = process.memoryUsage().rss;
  await assert.rejects(
    (async () => {
      for await (const _ of decompress(once(Buffer.concat([small, huge])), "zstd")) {
      }
    })(),
    (e) => isOslessError(e, "E_SIZE_LIMIT") && /frame 2/.test(e.message) && /window/.test(e.message),
  );
  assert.ok(process.memoryUsage().rss - rss < 256 << 20, "no window was allocated");
  // Skippable frames and checksummed frames are walked over correctly: a valid multi-frame stream decodes.
  const skippable = Buffer.concat([Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0]), Buffer.from("xyz")]);
  const checked = execFileSync("zstd", ["-c", "--check"], { input: payload });
  const out: Buffer[] = [];
  for await (const c of decompress(once(Buffer.concat([small, skippable, checked, small])), "zstd"))
    out.push(Buffer.from(c));
  assert.deepEqual(
    Buffer.concat(out),
    Buffer.concat([Buffer.from("hello\n"), payload, Buffer.from("hello\n")]),
  );
});
