// xz through xz-decompress (WASM): against the real xz 5.4 at several presets and checks, concatenated streams
// and stream padding (as `xz -dc`), damaged input (truncated, flipped, garbage after, empty), options the decoder
// lacks (SHA-256 check, BCJ filter, > 64 MiB dictionary), a 1 GiB bomb stopped by maxOutput, bounded memory on a
// 64 MiB stream, and the decoder's one-stream-at-a-time lock released by abandoned and failed runs.
// No timing is measured.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { isOslessError } from "../errors.ts";
import { decompress } from "./index.ts";
import {
  assertError,
  chunked,
  decode,
  drainBomb,
  expectData,
  memoryInUse,
  oracleDecode,
  pseudoRandom,
  requireTool,
  run,
  runs,
  sha256,
  textLike,
} from "./testkit.ts";

const MiB = 1 << 20;

before(() => {
  requireTool("xz", "xz-utils");
});

function xz(data: Uint8Array, ...args: string[]): Buffer {
  return run("xz", ["-c", "-T1", ...args], data);
}

const CORRUPT = /^stream: xz data is corrupt: /;

test("sizes 0, 1, 10 kB and 1 MB at presets 0..9 and checks none/crc32/crc64 match xz", async () => {
  const large = Buffer.concat([textLike(700_000), pseudoRandom(300_000)]);
  const small = [["-0"], ["-6"], ["-9", "-C", "crc32"], ["-1", "-C", "none"]];
  for (const data of [Buffer.alloc(0), Buffer.from("x"), textLike(10_000), large]) {
    for (const args of data === large ? [["-0"], ["-2", "-C", "none"]] : small) {
      const label = `${data.length} bytes, xz ${args.join(" ")}`;
      await expectData(
        "xz",
        xz(data, ...args),
        data,
        data.length < 20_000 ? [1, 0, 7] : [65536, 0, 4099],
        label,
      );
    }
  }
  const r = runs();
  await expectData("xz", xz(r), r, 65536, "runs");
});

test("concatenated streams and stream padding decode like xz -dc; an input chunk larger than the decoder's buffer", async () => {
  const a = textLike(300_000, 1);
  const b = pseudoRandom(200_000, 2);
  const cat = Buffer.concat([xz(a, "-0"), xz(Buffer.alloc(0)), Buffer.alloc(8), xz(b, "-6")]);
  assert.deepEqual(oracleDecode("xz", cat), Buffer.concat([a, b]), "xz -dc agrees");
  await expectData("xz", cat, Buffer.concat([a, b]), 13, "3 streams + padding, 13-byte chunks");
  await expectData("xz", cat, Buffer.concat([a, b]), cat.length, "3 streams + padding, one chunk");
});

test("truncated, flipped, garbage-followed and empty input fail with E_COMPRESSION", async () => {
  const data = Buffer.concat([textLike(200_000), pseudoRandom(100_000)]);
  const full = xz(data, "-6");
  for (const cut of [1, 5, 6, 12, 100, full.length >> 1, full.length - 13, full.length - 1]) {
    const r = await decode(chunked(full.subarray(0, cut), 4096), "xz");
    assertError(r, "E_COMPRESSION", CORRUPT, `cut at ${cut}`);
    assert.equal(oracleDecode("xz", full.subarray(0, cut)), null, `xz -dc also fails at ${cut}`);
  }
  // Not byte 30: the first byte of LZMA range-coder data is always 0, liblzma checks it and xz-embedded skips it,
  // so flipping it changes nothing that comes out.
  for (const at of [20, 40, 5000, full.length >> 1, full.length - 30]) {
    const bad = Buffer.from(full);
    bad[at]! ^= 0x04;
    assertError(await decode(chunked(bad), "xz"), "E_COMPRESSION", CORRUPT, `flip at ${at}`);
  }
  for (const tail of [Buffer.from("garbage"), Buffer.alloc(3), Buffer.alloc(100, 0x42)]) {
    const bad = Buffer.concat([full, tail]);
    assertError(await decode(chunked(bad), "xz"), "E_COMPRESSION", CORRUPT, `tail of ${tail.length}`);
    assert.equal(oracleDecode("xz", bad), null, "xz -dc refuses it too");
  }
  assertError(
    await decode(chunked(Buffer.alloc(0)), "xz"),
    "E_COMPRESSION",
    /end of input \(empty\)/,
    "empty",
  );
  const cut = await decode(chunked(full.subarray(0, 5000)), "xz");
  assertError(cut, "E_COMPRESSION", /unexpected end of input \(truncated/, "cut at 5000");
  assertError(
    await decode(chunked(Buffer.from("not xz at all")), "xz"),
    "E_COMPRESSION",
    /not xz data/,
    "not xz",
  );
});

test("what the WASM decoder lacks is named: SHA-256 check, BCJ filter, dictionary over 64 MiB", async () => {
  const x = Buffer.from("x");
  for (const [label, args] of [
    ["sha256", ["-C", "sha256"]],
    ["x86", ["--x86", "--lzma2"]],
  ] as const) {
    const r = await decode(chunked(xz(x, ...args)), "xz");
    assertError(r, "E_COMPRESSION", /^stream: xz data uses unsupported options/, label);
  }
  const big = xz(x, "--lzma2=preset=6,dict=128MiB");
  assertError(
    await decode(chunked(big), "xz"),
    "E_SIZE_LIMIT",
    /dictionary exceeds the 67108864-byte limit/,
    "dict",
  );
  const ok = xz(x, "--lzma2=preset=6,dict=64MiB");
  assert.equal((await decode(chunked(ok), "xz")).error, undefined, "64 MiB dictionary accepted");
});

test("a 1 GiB bomb (64 concatenated xz streams of 16 MiB of zeros) stops at maxOutput with bounded memory", async () => {
  const one = xz(Buffer.alloc(16 * MiB), "-0");
  assert.ok(one.length < 5_000, `16 MiB of zeros is ${one.length} bytes`);
  const bomb = Buffer.concat(Array.from({ length: 64 }, () => one));
  const limit = 24 * MiB;
  const { got, peak, error } = await drainBomb(chunked(bomb), "xz", { maxOutput: limit, what: "bomb.xz" });
  assert.ok(isOslessError(error, "E_SIZE_LIMIT"), String(error));
  assert.match((error as Error).message, /^bomb\.xz: decompressed data exceeds the limit of 25165824 bytes/);
  assert.ok(got <= limit && got > limit - MiB, `${got} bytes came out before the error`);
  assert.ok(peak < 32 * MiB, `memory grew by ${peak} bytes`);

  // A full 64 MiB stream: memory does not grow with the output.
  const four = Buffer.concat(Array.from({ length: 4 }, () => one));
  const start = memoryInUse();
  let fullPeak = 0;
  let total = 0;
  for await (const c of decompress(chunked(four), "xz", { maxOutput: 64 * MiB })) {
    total += c.length;
    if ((total & (4 * MiB - 1)) === 0) fullPeak = Math.max(fullPeak, memoryInUse() - start);
  }
  assert.equal(total, 64 * MiB);
  assert.ok(fullPeak < 32 * MiB, `memory grew by ${fullPeak} bytes over 64 MiB`);
});

test("the decoder lock is released by an abandoned run and a failed one; concurrent runs both finish", async () => {
  const data = textLike(MiB);
  const comp = xz(data, "-0");
  const it = decompress(chunked(comp), "xz")[Symbol.asyncIterator]();
  assert.equal((await it.next()).done, false);
  await it.return?.(undefined);
  await expectData("xz", comp, data, 65536, "after an abandoned run");

  assert.equal((await decode(chunked(comp), "xz", { maxOutput: 1000 })).error !== undefined, true);
  const bad = Buffer.from(comp);
  bad[bad.length >> 1]! ^= 0xff;
  assert.ok((await decode(chunked(bad), "xz")).error);
  await expectData("xz", comp, data, 65536, "after a size-limited and a corrupt run");

  // Two consumers at once: the package decodes one stream at a time, so the second waits for the first.
  const [r1, r2] = await Promise.all([decode(chunked(comp), "xz"), decode(chunked(comp, 4096), "xz")]);
  assert.equal(r1.sha256, sha256(data));
  assert.equal(r2.sha256, sha256(data));
});
