// bzip2: our decoder against the real bzip2 1.0.8 (every level, block and RLE edge, concatenated streams as
// pbzip2 writes them), damaged input (truncated, flipped, garbage after), hand-made hostile blocks (each checked
// against `bzip2 -t` where it matters), a random-mutation run that must only ever raise E_COMPRESSION, and a
// 1 GiB bomb stopped by maxOutput with bounded memory. No timing is measured.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { isOslessError, type OslessError } from "../errors.ts";
import { detectCompression } from "./index.ts";
import {
  assertError,
  chunked,
  decode,
  drainBomb,
  expectData,
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
  requireTool("bzip2", "bzip2");
});

function bzip2(data: Uint8Array, level = 9): Buffer {
  return run("bzip2", [`-${level}`, "-c"], data);
}

/** E_COMPRESSION, "bzip2 data is corrupt", a hint, and a message that matches `pattern`. */
function assertCorrupt(r: { error?: unknown }, pattern: RegExp, label: string): void {
  assertError(r, "E_COMPRESSION", /^stream: bzip2 data is corrupt: /, label);
  assert.match((r.error as OslessError).message, pattern, label);
}

test("empty, one byte and small inputs match bzip2, fed one byte at a time", async () => {
  for (const data of [Buffer.alloc(0), Buffer.from("x"), Buffer.from("hello world\n"), textLike(5000)]) {
    await expectData("bzip2", bzip2(data), data, 1, `${data.length} bytes`);
  }
});

test("every level 1..9 on 950 kB (several blocks at low levels, two at -9), odd chunk sizes", async () => {
  // Text and random halves: no long runs, so the RLE stage cannot fold the input under one -9 block.
  const data = Buffer.concat([textLike(600_000), pseudoRandom(350_000, 3)]);
  for (let level = 1; level <= 9; level++) {
    await expectData("bzip2", bzip2(data, level), data, [4099, 0, 65536, 1], `level ${level}`);
  }
});

test("input much longer than the decoder's look-ahead (level 1: ≈280 kB) is compacted and refilled correctly", async () => {
  const data = Buffer.concat([pseudoRandom(1_200_000, 5), textLike(300_000, 6)]);
  const comp = bzip2(data, 1);
  assert.ok(comp.length > 1_000_000, `${comp.length} compressed bytes`);
  await expectData("bzip2", comp, data, [65536, 1, 4099, 0, 777], "level 1, 15 blocks");
});

test("runs of one byte around the RLE edges (4 + count 0..251), also across block boundaries", async () => {
  const data = runs();
  await expectData("bzip2", bzip2(data, 1), data, 65536, "runs -1");
  await expectData("bzip2", bzip2(data, 9), data, 7, "runs -9");
  // A run that the encoder cuts at the end of a -1 block (99981 bytes of RLE input per block).
  for (const prefix of [99_975, 99_978, 99_980, 99_981, 99_985]) {
    const d = Buffer.concat([pseudoRandom(prefix, prefix), Buffer.alloc(700, 0x5a), pseudoRandom(1000, 9)]);
    await expectData("bzip2", bzip2(d, 1), d, 65536, `run at block end, prefix ${prefix}`);
  }
  // One byte repeated: a block of pure RUNA/RUNB symbols.
  const zeros = Buffer.alloc(3 * MiB, 0);
  await expectData("bzip2", bzip2(zeros, 9), zeros, 65536, "3 MiB of zeros");
});

test("concatenated streams (pbzip2-style, one stream per slice, an empty one among them) decode in order", async () => {
  const data = Buffer.concat([textLike(400_000, 1), pseudoRandom(200_000, 2), runs()]);
  const slices = [
    data.subarray(0, 250_000),
    Buffer.alloc(0),
    data.subarray(250_000, 500_000),
    data.subarray(500_000),
  ];
  const levels = [9, 1, 5, 3];
  const cat = Buffer.concat(slices.map((s, i) => bzip2(s, levels[i])));
  assert.deepEqual(oracleDecode("bzip2", cat), data, "bzip2 -dc agrees");
  await expectData("bzip2", cat, data, 65536, "4 streams");
  await expectData("bzip2", cat, data, 13, "4 streams, 13-byte chunks");
});

test("truncated input fails with 'truncated' wherever it is cut", async () => {
  const data = Buffer.concat([textLike(150_000), pseudoRandom(100_000)]);
  const full = bzip2(data, 1); // three blocks
  for (const cut of [
    1,
    3,
    4,
    9,
    10,
    20,
    200,
    5000,
    full.length >> 1,
    full.length - 11,
    full.length - 5,
    full.length - 1,
  ]) {
    const r = await decode(chunked(full.subarray(0, cut), 4096), "bzip2");
    assertCorrupt(r, /unexpected end of input \(truncated\)/, `cut at ${cut}`);
    assert.equal(oracleDecode("bzip2", full.subarray(0, cut)), null, `bzip2 -dc also fails at ${cut}`);
  }
  assertCorrupt(await decode(chunked(Buffer.alloc(0)), "bzip2"), /empty input/, "empty");
});

test("a flipped byte is caught: data (CRC or structure), block CRC, stream CRC", async () => {
  const data = textLike(300_000);
  const full = bzip2(data, 9);
  for (const at of [2000, 10_000, full.length >> 1, full.length - 20]) {
    const bad = Buffer.from(full);
    bad[at]! ^= 0x10;
    assertCorrupt(await decode(chunked(bad), "bzip2"), /./, `flip at ${at}`);
  }
  const badBlockCrc = Buffer.from(full);
  badBlockCrc[10]! ^= 0x01; // bytes 10..13: the first block's CRC
  assertCorrupt(
    await decode(chunked(badBlockCrc), "bzip2"),
    /block 1 of stream 1: CRC mismatch/,
    "block CRC",
  );
  // The stream CRC is the 32 bits after the end-of-stream magic, ending with the padding in the last byte:
  // flipping the next-to-last byte changes it and nothing else.
  const badStreamCrc = Buffer.from(full);
  badStreamCrc[full.length - 2]! ^= 0x01;
  assertCorrupt(
    await decode(chunked(badStreamCrc), "bzip2"),
    /stream 1: combined CRC mismatch/,
    "stream CRC",
  );
});

test("bytes after the last stream are refused (bzip2 -d only warns), zero padding too", async () => {
  const data = Buffer.from("payload\n");
  const full = bzip2(data);
  for (const tail of [Buffer.from("garbage"), Buffer.alloc(4), Buffer.alloc(1000, 0x42)]) {
    const r = await decode(chunked(Buffer.concat([full, tail]), 3), "bzip2");
    assertCorrupt(r, /garbage after the end of stream 1/, `tail of ${tail.length}`);
    assert.deepEqual(
      oracleDecode("bzip2", Buffer.concat([full, tail])),
      data,
      "bzip2 -dc decodes and ignores it",
    );
  }
  // A second stream cut inside its header is truncation, not garbage.
  const r = await decode(chunked(Buffer.concat([full, Buffer.from("BZ")])), "bzip2");
  assertCorrupt(r, /truncated/, "partial second header");
});

test("a 1 GiB bomb (64 concatenated bzip2 streams of 16 MiB of zeros, 50 bytes each) stops at maxOutput", async () => {
  // One 1 GiB stream would take bzip2 10 s to make; concatenated streams decode the same (bzip2 -dc does).
  const one = bzip2(Buffer.alloc(16 * MiB, 0), 9);
  assert.ok(one.length < 100, `16 MiB of zeros is ${one.length} bytes`);
  const bomb = Buffer.concat(Array.from({ length: 64 }, () => one));
  assert.ok(detectCompression(bomb) === "bzip2");
  const limit = 64 * MiB;
  const { got, peak, error } = await drainBomb(chunked(bomb), "bzip2", {
    maxOutput: limit,
    what: "bomb.bz2",
  });
  assert.ok(isOslessError(error, "E_SIZE_LIMIT"), String(error));
  assert.match((error as Error).message, /^bomb\.bz2: decompressed data exceeds the limit of 67108864 bytes/);
  assert.ok(got <= limit, `${got} bytes came out before the error`);
  assert.ok(got > limit - MiB, `the limit was reached (${got})`);
  assert.ok(peak < 48 * MiB, `memory grew by ${peak} bytes`);
  // The limit counts output exactly: the same stream passes with a limit of its size.
  const exact = await decode(chunked(one), "bzip2", { maxOutput: 16 * MiB });
  assert.equal(exact.error, undefined);
  assert.equal(exact.bytes, 16 * MiB);
  const over = await decode(chunked(one), "bzip2", { maxOutput: 16 * MiB - 1 });
  assert.ok(isOslessError(over.error, "E_SIZE_LIMIT"));
});

// ---------------------------------------------------------------------------------------------------------------
// Hand-made blocks: a minimal bzip2 writer (test only) that takes every field explicitly, so that each rule the
// decoder enforces can be broken on its own. The valid baseline is checked against `bzip2 -dc`.

class BitWriter {
  bytes: number[] = [];
  acc = 0;
  n = 0;
  put(bits: number, value: number): this {
    for (let i = bits - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | (Math.floor(value / 2 ** i) & 1);
      if (++this.n === 8) {
        this.bytes.push(this.acc);
        this.acc = 0;
        this.n = 0;
      }
    }
    return this;
  }
  finish(): Buffer {
    if (this.n > 0) this.put(8 - this.n, 0);
    return Buffer.from(this.bytes);
  }
}

/** bzip2's block CRC of `data` (bitwise, independent of the decoder's tables). */
function blockCrc(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of data) {
    crc ^= b << 24;
    for (let k = 0; k < 8; k++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1;
    crc >>>= 0;
  }
  return ~crc >>> 0;
}

interface Block {
  crc: number;
  randomised?: boolean;
  origPtr: number;
  used: number[];
  nGroups?: number;
  /** Selectors as MTF values (unary-coded), raw. */
  selectorMtf: number[];
  nSelectors?: number;
  /** Code lengths per table; `rawLengthBits` replaces table 0's delta coding with these bits. */
  lengths: number[][];
  rawLengthBits?: string;
  /** Symbols, each coded with the table its group of 50 selects. */
  symbols: number[];
}

function canonicalCodes(lengths: number[]): number[] {
  const codes: number[] = [];
  let code = 0;
  for (let len = 1; len <= 20; len++) {
    for (let s = 0; s < lengths.length; s++) if (lengths[s] === len) codes[s] = code++;
    code <<= 1;
  }
  return codes;
}

/** Lengths of a complete prefix code over `m` ≥ 3 symbols: 2^k - m at depth k - 1, the rest at depth k. */
function completeLengths(m: number): number[] {
  const k = Math.ceil(Math.log2(m));
  const short = 2 ** k - m;
  return Array.from({ length: m }, (_, i) => (i < short ? k - 1 : k));
}

function writeBlock(w: BitWriter, b: Block): void {
  w.put(24, 0x314159).put(24, 0x265359).put(32, b.crc);
  w.put(1, b.randomised ? 1 : 0).put(24, b.origPtr);
  let used16 = 0;
  for (const u of b.used) used16 |= 0x8000 >>> (u >> 4);
  w.put(16, used16);
  for (let i = 0; i < 16; i++) {
    if (!(used16 & (0x8000 >>> i))) continue;
    let bits = 0;
    for (const u of b.used) if (u >> 4 === i) bits |= 0x8000 >>> (u & 15);
    w.put(16, bits);
  }
  w.put(3, b.nGroups ?? b.lengths.length).put(15, b.nSelectors ?? b.selectorMtf.length);
  for (const v of b.selectorMtf) w.put(v + 1, 2 ** (v + 1) - 2); // v ones, then a zero
  for (const [t, lens] of b.lengths.entries()) {
    if (t === 0 && b.rawLengthBits !== undefined) {
      for (const c of b.rawLengthBits) w.put(1, c === "1" ? 1 : 0);
      continue;
    }
    let curr = lens[0]!;
    w.put(5, curr);
    for (const target of lens) {
      for (; curr < target; curr++) w.put(2, 0b10);
      for (; curr > target; curr--) w.put(2, 0b11);
      w.put(1, 0);
    }
  }
  const order = [0, 1, 2, 3, 4, 5];
  const selectors = b.selectorMtf.map((v) => {
    const t = order[v]!;
    order.splice(v, 1);
    order.unshift(t);
    return t;
  });
  const codes = b.lengths.map(canonicalCodes);
  for (const [i, s] of b.symbols.entries()) {
    const sel = selectors[Math.floor(i / 50)] ?? 0;
    const t = sel < b.lengths.length ? sel : 0; // a selector naming no table: write with table 0
    w.put(b.lengths[t]![s]!, codes[t]![s]!);
  }
}

function stream(blocks: Block[], level = 9, streamCrc?: number): Buffer {
  const w = new BitWriter();
  w.put(8, 0x42)
    .put(8, 0x5a)
    .put(8, 0x68)
    .put(8, 0x30 + level);
  let combined = 0;
  for (const b of blocks) {
    writeBlock(w, b);
    combined = (((combined << 1) | (combined >>> 31)) ^ b.crc) >>> 0;
  }
  w.put(24, 0x177245)
    .put(24, 0x385090)
    .put(32, streamCrc ?? combined);
  return w.finish();
}

/**
 * A block for `data` (a few hundred bytes without 4 equal bytes in a row, so the initial RLE is the identity):
 * BWT by sorting rotations, MTF, zero runs in bijective base 2, two tables used alternately per 50 symbols.
 */
function encodeBlock(data: Buffer): Block {
  const n = data.length;
  const rot = Array.from({ length: n }, (_, i) => i).sort((a, b) => {
    for (let k = 0; k < n; k++) {
      const d = data[(a + k) % n]! - data[(b + k) % n]!;
      if (d !== 0) return d;
    }
    return 0;
  });
  const used = [...new Set(data)].sort((a, b) => a - b);
  const mtf = [...used];
  const symbols: number[] = [];
  let zeros = 0;
  const flush = () => {
    for (; zeros > 0; zeros = zeros % 2 === 1 ? (zeros - 1) / 2 : (zeros - 2) / 2)
      symbols.push(zeros % 2 === 1 ? 0 : 1);
  };
  for (const i of rot) {
    const c = data[(i + n - 1) % n]!;
    const idx = mtf.indexOf(c);
    if (idx === 0) {
      zeros++;
      continue;
    }
    flush();
    mtf.splice(idx, 1);
    mtf.unshift(c);
    symbols.push(idx + 1);
  }
  flush();
  const alpha = used.length + 2;
  symbols.push(alpha - 1);
  const groups = Math.ceil(symbols.length / 50);
  return {
    crc: blockCrc(data),
    origPtr: rot.indexOf(0),
    used,
    selectorMtf: Array.from({ length: groups }, (_, i) => (i === 0 ? 0 : 1)),
    lengths: [completeLengths(alpha), completeLengths(alpha).reverse()],
    symbols,
  };
}

/** The block of "a": BWT "a", origPtr 0, one RUNA (a run of the MTF front), EOB. */
function blockA(over: Partial<Block> = {}): Block {
  return {
    crc: blockCrc(Buffer.from("a")),
    origPtr: 0,
    used: [0x61],
    selectorMtf: [0],
    lengths: [
      [1, 2, 2],
      [2, 2, 1],
    ],
    symbols: [0, 2],
    ...over,
  };
}

const SAMPLE = textLike(400, 11);
const SAMPLE2 = textLike(230, 12);

test("hand-made streams: the writer's valid output is what bzip2 -dc and we decode", async () => {
  assert.ok(!/(.)\1\1\1/s.test(SAMPLE.toString("latin1")), "no runs of 4 in the sample");
  const cases: [Buffer, Buffer][] = [
    [stream([blockA()]), Buffer.from("a")],
    [stream([encodeBlock(SAMPLE)]), SAMPLE],
    [
      stream([encodeBlock(SAMPLE), blockA(), encodeBlock(SAMPLE2)], 1),
      Buffer.concat([SAMPLE, Buffer.from("a"), SAMPLE2]),
    ],
  ];
  for (const [i, [bz, expected]] of cases.entries()) {
    assert.deepEqual(oracleDecode("bzip2", bz), expected, `bzip2 -dc decodes hand-made stream ${i}`);
    const r = await decode(chunked(bz, 1), "bzip2", { keep: true });
    assert.equal(r.error, undefined, String(r.error));
    assert.deepEqual(r.data, expected, `hand-made stream ${i}`);
  }
});

test("hostile blocks are refused with E_COMPRESSION, each for its own reason", async () => {
  const cases: [string, Buffer, RegExp][] = [
    ["randomised block", stream([blockA({ randomised: true })]), /randomised/],
    ["origPtr outside the block", stream([blockA({ origPtr: 1 })]), /BWT origin 1 outside/],
    ["origPtr 2^24-1", stream([blockA({ origPtr: 0xffffff })]), /BWT origin 16777215/],
    ["no byte values used", stream([blockA({ used: [] })]), /uses no byte values/],
    ["one table", stream([blockA({ nGroups: 1, lengths: [[1, 2, 2]] })]), /1 Huffman tables/],
    ["seven tables", stream([blockA({ nGroups: 7 })]), /7 Huffman tables/],
    ["zero selectors", stream([blockA({ nSelectors: 0, selectorMtf: [] })]), /no selectors/],
    ["selector beyond the tables", stream([blockA({ selectorMtf: [2] })]), /selector beyond/],
    [
      "code length 21",
      stream([
        blockA({
          lengths: [
            [20, 21, 2],
            [2, 2, 1],
          ],
        }),
      ]),
      /code length 21/,
    ],
    ["code length 0", stream([blockA({ rawLengthBits: "00001" + "11".repeat(1) + "0" })]), /length 0/],
    [
      "endless +1/-1 length steps",
      stream([blockA({ rawLengthBits: `00001${"1011".repeat(200)}0` })]),
      /malformed Huffman code lengths/,
    ],
    [
      "oversubscribed table",
      stream([
        blockA({
          lengths: [
            [1, 1, 1],
            [2, 2, 1],
          ],
        }),
      ]),
      /oversubscribed/,
    ],
    [
      "more symbols than selectors",
      stream([{ ...encodeBlock(SAMPLE), selectorMtf: [0] }]),
      /more data than its 1 selectors/,
    ],
    [
      "run longer than the level's block (level 1, 2^17 bytes)",
      stream([blockA({ symbols: [...Array.from({ length: 17 }, () => 0), 2] })], 1),
      /exceeds the 100000-byte block size/,
    ],
    [
      "endless RUNB run",
      stream([blockA({ selectorMtf: [0, 0], symbols: [...Array.from({ length: 60 }, () => 1), 2] })]),
      /exceeds the 900000-byte block size/,
    ],
    ["block CRC", stream([blockA({ crc: 0x12345678 })]), /CRC mismatch \(stored 0x12345678/],
    ["stream CRC", stream([blockA()], 9, 1), /combined CRC mismatch/],
    ["bad level", Buffer.from("BZh0\x17\x72\x45\x38\x50\x90\0\0\0\0", "latin1"), /not bzip2 data/],
    ["not bzip2", Buffer.from("hello, this is not bzip2"), /not bzip2 data/],
    [
      "unknown block magic",
      Buffer.from("BZh9\x31\x41\x59\x26\x53\x58\0\0\0\0\0\0\0\0", "latin1"),
      /bad block magic/,
    ],
  ];
  for (const [label, data, pattern] of cases) {
    assertCorrupt(await decode(chunked(data, 5), "bzip2"), pattern, label);
  }
  // bzip2 itself refuses the structural ones too (CRC ones are its own checks).
  for (const [label, data] of cases) {
    // bzip2 1.0.8 does not check Kraft's inequality, and it decodes randomised blocks.
    if (label === "oversubscribed table" || label === "randomised block") continue;
    assert.equal(oracleDecode("bzip2", data), null, `bzip2 -dc refuses: ${label}`);
  }
});

test("a 100000-byte run is exactly a level-1 block: accepted (then fails only on the CRC we did not compute)", async () => {
  // 100000 = RUNA×1 + RUNB×... in bijective base 2: digits of 100001 - 1.
  const symbols: number[] = [];
  let n = 100_000;
  while (n > 0) {
    const d = n % 2 === 1 ? 1 : 2;
    symbols.push(d - 1);
    n = (n - d) / 2;
  }
  const data = stream([blockA({ crc: 0, origPtr: 0, symbols: [...symbols, 2] })], 1);
  const r = await decode(chunked(data, 5), "bzip2");
  assertCorrupt(r, /CRC mismatch/, "100000-byte run at level 1");
  assert.ok(r.bytes > 100_000, "the block was decoded");
});

test("random mutations of real streams only ever end in E_COMPRESSION (or correct output), never hang", async () => {
  const data = Buffer.concat([textLike(20_000), runs().subarray(0, 30_000), pseudoRandom(5000)]);
  const good = bzip2(data, 1);
  const rnd = pseudoRandom(4 * 400, 99);
  let failures = 0;
  for (let i = 0; i < 400; i++) {
    const bad = Buffer.from(good);
    const at = (rnd.readUInt16LE(i * 4) * 7919) % bad.length;
    const kind = rnd[i * 4 + 2]! % 3;
    let input: Buffer = bad;
    if (kind === 0) bad[at]! ^= 1 << (rnd[i * 4 + 3]! & 7);
    else if (kind === 1) bad[at] = rnd[i * 4 + 3]!;
    else input = Buffer.concat([bad.subarray(0, at), bad.subarray(at + 1)]);
    const r = await decode(chunked(input, 4096), "bzip2");
    if (r.error === undefined) {
      assert.equal(r.sha256, sha256(data), `mutation ${i} decoded to wrong bytes without an error`);
      continue;
    }
    failures++;
    assert.ok(isOslessError(r.error, "E_COMPRESSION"), `mutation ${i}: ${(r.error as Error).stack}`);
  }
  assert.ok(failures > 350, `${failures} of 400 mutations were caught`);
});
