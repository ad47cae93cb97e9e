/**
 * bzip2 decompression, streaming, written here because no npm decoder is fit for untrusted input: none is actively
 * maintained; seek-bzip and compressjs decode whole buffers, unbzip2-stream (1.4.3) is an old `through` stream;
 * none documents the hostile-input checks below.
 *
 * Format (bzip2 1.0.8's decompress.c is the reference for every check): a stream is "BZh" + level '1'..'9', then
 * blocks, each starting with the 48-bit magic 0x314159265359 and its CRC, then the 48-bit end-of-stream magic
 * 0x177245385090 and the combined CRC, padded to a byte. Blocks are bit-aligned, not byte-aligned. Inside a block:
 * BWT origin pointer, symbol map, 2..6 Huffman tables chosen per 50 symbols by MTF-coded selectors, then
 * MTF/RLE2 symbols; decoding inverts the BWT and the initial run-length coding (4 equal bytes + a count byte).
 *
 * Behaviour:
 * - Concatenated streams (pbzip2, `cat a.bz2 b.bz2`) are decoded one after the other, like `bzip2 -dc`.
 * - Anything after the last stream that is not another stream is an error. `bzip2 -d` only warns ("trailing
 *   garbage after EOF ignored") and exits 0; Go's compress/bzip2, which Docker uses for `ADD x.tar.bz2`, fails;
 *   we fail too, since a layer with unexplained bytes is more likely damaged than padded.
 * - Every block CRC and every stream CRC is checked (E_COMPRESSION on mismatch). A block's bytes are yielded
 *   before its CRC can be checked (the CRC covers the whole block), so a consumer sees the error after at most
 *   one block of bad output, as with gzip's trailer.
 * - Randomised blocks (written only by bzip2 0.9.0 and older, before 1999) are refused.
 * - Hostile input: the block size declared by the level is enforced (runs included), Huffman tables must have
 *   code lengths 1..20 and must not be oversubscribed, selectors must name an existing table and be enough for the
 *   data, origPtr must lie inside the block. Every loop is bounded by the block size, and memory is bounded by the
 *   level: a 4-byte-per-entry BWT vector of 100k × level entries, plus an input look-ahead of ≈2.3 MB (the largest
 *   possible compressed block) so that a block is decoded synchronously without per-bit awaits.
 */
import { OslessError } from "../errors.ts";

const BLOCK_MAGIC_HI = 0x314159;
const BLOCK_MAGIC_LO = 0x265359;
const EOS_MAGIC_HI = 0x177245;
const EOS_MAGIC_LO = 0x385090;
/** bzip2 1.0.8 reads up to 32767 selectors but uses at most this many (2 + 900000 / 50). */
const MAX_SELECTORS = 18002;
const MAX_CODE_LEN = 20;
const MAX_ALPHA = 258;
const MAX_GROUPS = 6;
/** A legitimate encoder needs at most 19 delta steps to reach a code length; more is junk. */
const MAX_LEN_STEPS = 40;
const LUT_BITS = 10;
const LUT_SIZE = 1 << LUT_BITS;
const OUT_CHUNK = 256 * 1024;

/**
 * Input bytes that a block can take, at most, for a level: every symbol adds at least one byte to the block
 * (a run of k RUNA/RUNB symbols adds at least 2^k - 1), so at most (100000 × level + 1) symbols of ≤ 20 bits,
 * plus the header, 32767 selectors of ≤ 6 bits and 6 tables of 258 lengths of ≤ 1 + 2 × MAX_LEN_STEPS bits.
 */
function maxBlockBytes(level: number): number {
  const bits =
    (100000 * level + 1) * MAX_CODE_LEN +
    32767 * 6 +
    MAX_GROUPS * (5 + MAX_ALPHA * (1 + 2 * MAX_LEN_STEPS)) +
    48 + // block magic
    32 + // block CRC
    1 + // randomised
    24 + // origPtr
    16 + // used map
    256 +
    3 + // groups
    15; // selectors
  // + the end-of-stream trailer (80 bits + padding) and the next stream header, so one wait covers them.
  return Math.ceil(bits / 8) + 16;
}

let crcTables: Int32Array | undefined;
/**
 * CRC-32 as bzip2 computes it: polynomial 0x04c11db7, most significant bit first (zlib's is reflected, so
 * node:zlib's crc32 does not fit). Four tables of 256 for slicing by 4: table k is the CRC of a byte followed by
 * k zero bytes.
 */
function bzCrcTables(): Int32Array {
  if (crcTables) return crcTables;
  const t = new Int32Array(4 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c;
  }
  for (let k = 1; k < 4; k++) {
    for (let i = 0; i < 256; i++) {
      const p = t[(k - 1) * 256 + i]!;
      t[k * 256 + i] = (p << 8) ^ t[p >>> 24]!;
    }
  }
  crcTables = t;
  return t;
}

/** Continue a bzip2 CRC (kept inverted, as an int32) over `data`. */
function bzCrcUpdate(crc: number, data: Uint8Array, n: number): number {
  const T = bzCrcTables();
  let i = 0;
  for (const n4 = n & ~3; i < n4; i += 4) {
    crc ^= (data[i]! << 24) | (data[i + 1]! << 16) | (data[i + 2]! << 8) | data[i + 3]!;
    crc =
      T[768 + (crc >>> 24)]! ^
      T[512 + ((crc >>> 16) & 0xff)]! ^
      T[256 + ((crc >>> 8) & 0xff)]! ^
      T[crc & 0xff]!;
  }
  for (; i < n; i++) crc = (crc << 8) ^ T[((crc >>> 24) ^ data[i]!) & 0xff]!;
  return crc;
}

/** Input bytes in a buffer with a look-ahead filled from the async source, and an MSB-first bit reader. */
class BitInput {
  buf = new Uint8Array(0);
  pos = 0;
  end = 0;
  eof = false;
  /** Unconsumed bits are the low `bitCount` bits of `bitBuf` (≤ 31). */
  bitBuf = 0;
  bitCount = 0;
  /** Bytes dropped from the front of `buf` so far, for offsets in error details. */
  dropped = 0;
  readonly it: AsyncIterator<Uint8Array>;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** Bits consumed beyond the end of the input (0 when the reader is within the data). */
  overrun(): number {
    return Math.max(0, (this.pos - this.end) * 8 - this.bitCount);
  }

  /** Unread byte count (whole bytes not yet in the bit buffer, plus whole bytes in it). */
  available(): number {
    return this.end - this.pos + (this.bitCount >> 3);
  }

  /** Make at least `n` bytes available (fewer only at the end of the input). */
  async ensure(n: number): Promise<void> {
    // Give whole bytes in the bit buffer back to `buf`, so that compaction keeps them and the zeros a hot loop
    // may have read ahead past `end` are dropped.
    const back = this.bitCount >> 3;
    if (back > 0) {
      this.pos -= back;
      this.bitCount -= back * 8;
      this.bitBuf = (this.bitBuf >>> (back * 8)) & ((1 << this.bitCount) - 1);
    }
    if (this.pos > this.end) return; // consumed past the end: the caller reports it
    if (this.end - this.pos >= n || this.eof) return;
    if (this.pos > 0) {
      this.buf.copyWithin(0, this.pos, this.end);
      this.end -= this.pos;
      this.dropped += this.pos;
      this.pos = 0;
    }
    while (this.end < n && !this.eof) {
      const r = await this.it.next();
      if (r.done) {
        this.eof = true;
        break;
      }
      const c = r.value;
      if (this.end + c.length > this.buf.length) {
        const grown = new Uint8Array(Math.max(n, this.end + c.length, this.buf.length * 2));
        grown.set(this.buf.subarray(0, this.end));
        this.buf = grown;
      }
      this.buf.set(c, this.end);
      this.end += c.length;
    }
  }

  /** Store the reader state kept in locals by a hot loop. */
  sync(pos: number, bitBuf: number, bitCount: number): void {
    this.pos = pos;
    this.bitBuf = bitBuf;
    this.bitCount = bitCount;
  }

  /** Read `n` ≤ 24 bits; past the end of the input, zeros (check `overrun()`). */
  bits(n: number): number {
    while (this.bitCount < n) {
      this.bitBuf = (this.bitBuf << 8) | (this.pos < this.end ? this.buf[this.pos]! : 0);
      this.pos++;
      this.bitCount += 8;
    }
    this.bitCount -= n;
    return (this.bitBuf >>> this.bitCount) & ((1 << n) - 1);
  }

  bit(): number {
    return this.bits(1);
  }

  /** Drop the bits up to the next byte boundary. */
  align(): void {
    this.bitCount -= this.bitCount & 7;
  }

  async close(): Promise<void> {
    if (!this.eof) await this.it.return?.();
  }
}

/** The state of one decoder: tables are allocated once and reused for every block. */
class Bzip2Decoder {
  readonly inp: BitInput;
  readonly what: string;
  /** BWT vector: low 8 bits the byte, high 24 bits the link. */
  tt = new Uint32Array(0);
  readonly counts = new Int32Array(256);
  readonly cftab = new Int32Array(257);
  readonly seqToUnseq = new Uint8Array(256);
  /** Move-to-front list of byte values (memmove beats bzip2's 16×16 block scheme in V8). */
  readonly mtf = new Uint8Array(256);
  readonly selectors = new Uint8Array(MAX_SELECTORS);
  readonly lengths = new Uint8Array(MAX_ALPHA);
  /** Per table: a LUT_BITS look-up (entry = symbol << 5 | length, 0 = longer code). */
  readonly lut = new Int32Array(MAX_GROUPS * LUT_SIZE);
  /** Per table and length: first canonical code, code count, offset into `sorted`. */
  readonly first = new Int32Array(MAX_GROUPS * (MAX_CODE_LEN + 1));
  readonly count = new Int32Array(MAX_GROUPS * (MAX_CODE_LEN + 1));
  readonly offset = new Int32Array(MAX_GROUPS * (MAX_CODE_LEN + 1));
  readonly maxLen = new Int32Array(MAX_GROUPS);
  readonly sorted = new Uint16Array(MAX_GROUPS * MAX_ALPHA);
  /** Block number in the stream and stream number, for messages. */
  block = 0;
  stream = 0;

  constructor(inp: BitInput, what: string) {
    this.inp = inp;
    this.what = what;
  }

  fail(detail: string): OslessError {
    const inp = this.inp;
    if (inp.overrun() > 0) {
      detail = inp.eof
        ? "unexpected end of input (truncated)"
        : `block ${this.block} of stream ${this.stream} is longer than any valid block`;
    }
    return new OslessError("E_COMPRESSION", `${this.what}: bzip2 data is corrupt: ${detail}`, {
      hint: "the file is truncated or damaged; export or download it again",
      details: { stream: this.stream, block: this.block, offset: inp.dropped + Math.min(inp.pos, inp.end) },
    });
  }

  /** Read the block after its magic and CRC: fills `tt` and `counts`; returns nblock and origPtr. */
  readBlock(level: number): { nblock: number; origPtr: number } {
    const inp = this.inp;
    const where = `block ${this.block} of stream ${this.stream}`;
    if (inp.bit()) throw this.fail(`${where} is randomised (bzip2 0.9.0 or older), which is not supported`);
    const origPtr = inp.bits(24);

    // Symbol map: which bytes occur in the block.
    let nInUse = 0;
    const used16 = inp.bits(16);
    for (let i = 0; i < 16; i++) {
      if (used16 & (0x8000 >>> i)) {
        const bits = inp.bits(16);
        for (let j = 0; j < 16; j++) if (bits & (0x8000 >>> j)) this.seqToUnseq[nInUse++] = i * 16 + j;
      }
    }
    if (nInUse === 0) throw this.fail(`${where} uses no byte values`);
    const alphaSize = nInUse + 2;

    const nGroups = inp.bits(3);
    if (nGroups < 2 || nGroups > MAX_GROUPS) throw this.fail(`${where} has ${nGroups} Huffman tables (2..6)`);
    let nSelectors = inp.bits(15);
    if (nSelectors < 1) throw this.fail(`${where} has no selectors`);

    // Selectors, MTF-coded in unary.
    const pos = [0, 1, 2, 3, 4, 5];
    for (let i = 0; i < nSelectors; i++) {
      let v = 0;
      while (inp.bit()) {
        if (++v >= nGroups) throw this.fail(`${where} has a selector beyond its ${nGroups} tables`);
      }
      const t = pos[v]!;
      for (; v > 0; v--) pos[v] = pos[v - 1]!;
      pos[0] = t;
      if (i < MAX_SELECTORS) this.selectors[i] = t;
    }
    if (inp.overrun() > 0) throw this.fail("selectors");
    if (nSelectors > MAX_SELECTORS) nSelectors = MAX_SELECTORS;

    // Code lengths, delta-coded, then canonical decoding tables.
    for (let t = 0; t < nGroups; t++) {
      let curr = inp.bits(5);
      for (let i = 0; i < alphaSize; i++) {
        let steps = 0;
        for (;;) {
          if (curr < 1 || curr > MAX_CODE_LEN)
            throw this.fail(`${where}: Huffman code length ${curr} (1..20)`);
          if (!inp.bit()) break;
          if (++steps > MAX_LEN_STEPS) throw this.fail(`${where}: malformed Huffman code lengths`);
          curr += inp.bit() ? -1 : 1;
        }
        this.lengths[i] = curr;
      }
      if (inp.overrun() > 0) throw this.fail("tables");
      this.buildTable(t, alphaSize, where);
    }

    const nblock = this.readSymbols(level * 100000, nSelectors, alphaSize, nInUse, where);
    if (origPtr >= nblock)
      throw this.fail(`${where}: BWT origin ${origPtr} outside the block of ${nblock} bytes`);
    return { nblock, origPtr };
  }

  buildTable(t: number, alphaSize: number, where: string): void {
    const L = MAX_CODE_LEN + 1;
    const base = t * L;
    const { first, count, offset, sorted, lengths, lut } = this;
    count.fill(0, base, base + L);
    for (let i = 0; i < alphaSize; i++) count[base + lengths[i]!]!++;
    let code = 0;
    let off = 0;
    let maxLen = 0;
    for (let len = 1; len <= MAX_CODE_LEN; len++) {
      const n = count[base + len]!;
      first[base + len] = code;
      offset[base + len] = off;
      if (code + n > 2 ** len) throw this.fail(`${where}: Huffman table ${t} is oversubscribed`);
      if (n > 0) maxLen = len;
      off += n;
      code = (code + n) * 2;
    }
    this.maxLen[t] = maxLen;
    // Symbols sorted by (length, symbol): canonical order.
    const next = new Int32Array(L);
    for (let len = 1; len <= MAX_CODE_LEN; len++) next[len] = offset[base + len]!;
    const sbase = t * MAX_ALPHA;
    for (let i = 0; i < alphaSize; i++) sorted[sbase + next[lengths[i]!]!++] = i;
    const lbase = t * LUT_SIZE;
    lut.fill(0, lbase, lbase + LUT_SIZE);
    for (let len = 1; len <= LUT_BITS; len++) {
      const n = count[base + len]!;
      const f = first[base + len]!;
      const o = offset[base + len]!;
      const span = 1 << (LUT_BITS - len);
      for (let k = 0; k < n; k++) {
        const sym = sorted[sbase + o + k]!;
        const start = lbase + ((f + k) << (LUT_BITS - len));
        lut.fill((sym << 5) | len, start, start + span);
      }
    }
  }

  /** Huffman + MTF + RLE2 decoding into `tt`; the hot loop, with the bit reader in locals. */
  readSymbols(
    maxBlock: number,
    nSelectors: number,
    alphaSize: number,
    nInUse: number,
    where: string,
  ): number {
    const inp = this.inp;
    const { buf, end } = inp;
    let { pos, bitBuf, bitCount } = inp;
    const { lut, first, count, offset, sorted, selectors, mtf, tt } = this;
    const counts = this.counts;
    counts.fill(0);
    mtf.set(this.seqToUnseq.subarray(0, nInUse));
    const eob = alphaSize - 1;
    const L = MAX_CODE_LEN + 1;
    let nblock = 0;
    let groupNo = -1;
    let groupLeft = 0;
    let lbase = 0;
    let t = 0;
    let runLen = 0;
    let runN = 1;
    for (;;) {
      if (groupLeft === 0) {
        if (pos > end + 4) {
          inp.sync(pos, bitBuf, bitCount);
          throw this.fail("data");
        }
        if (++groupNo >= nSelectors) {
          inp.sync(pos, bitBuf, bitCount);
          throw this.fail(`${where} has more data than its ${nSelectors} selectors cover`);
        }
        t = selectors[groupNo]!;
        lbase = t * LUT_SIZE;
        groupLeft = 50;
      }
      groupLeft--;
      while (bitCount < MAX_CODE_LEN) {
        bitBuf = (bitBuf << 8) | (pos < end ? buf[pos]! : 0);
        pos++;
        bitCount += 8;
      }
      const e = lut[lbase + ((bitBuf >>> (bitCount - LUT_BITS)) & (LUT_SIZE - 1))]!;
      let sym: number;
      if (e !== 0) {
        sym = e >>> 5;
        bitCount -= e & 31;
      } else {
        const tb = t * L;
        const maxLen = this.maxLen[t]!;
        let len = LUT_BITS + 1;
        for (;;) {
          if (len > maxLen) {
            inp.sync(pos, bitBuf, bitCount);
            throw this.fail(`${where}: invalid Huffman code`);
          }
          const d = ((bitBuf >>> (bitCount - len)) & ((1 << len) - 1)) - first[tb + len]!;
          if (d >= 0 && d < count[tb + len]!) {
            sym = sorted[t * MAX_ALPHA + offset[tb + len]! + d]!;
            bitCount -= len;
            break;
          }
          len++;
        }
      }
      if (sym <= 1) {
        // RUNA / RUNB: a bijective base-2 run length of the byte at the front of the MTF list.
        runLen += runN << sym;
        runN <<= 1;
        if (runLen > maxBlock) {
          inp.sync(pos, bitBuf, bitCount);
          throw this.fail(`${where} exceeds the ${maxBlock}-byte block size of its level`);
        }
        continue;
      }
      if (runLen > 0) {
        if (nblock + runLen > maxBlock) {
          inp.sync(pos, bitBuf, bitCount);
          throw this.fail(`${where} exceeds the ${maxBlock}-byte block size of its level`);
        }
        const uc = mtf[0]!;
        if (runLen < 32) for (let k = nblock + runLen - 1; k >= nblock; k--) tt[k] = uc;
        else tt.fill(uc, nblock, nblock + runLen);
        counts[uc]! += runLen;
        nblock += runLen;
        runLen = 0;
        runN = 1;
      }
      if (sym === eob) break;
      if (nblock >= maxBlock) {
        inp.sync(pos, bitBuf, bitCount);
        throw this.fail(`${where} exceeds the ${maxBlock}-byte block size of its level`);
      }
      const idx = sym - 1;
      const uc = mtf[idx]!;
      if (idx < 16) {
        for (let j = idx; j > 0; j--) mtf[j] = mtf[j - 1]!;
      } else {
        mtf.copyWithin(1, 0, idx);
      }
      mtf[0] = uc;
      tt[nblock++] = uc;
      counts[uc]!++;
    }
    inp.sync(pos, bitBuf, bitCount);
    if (inp.overrun() > 0) throw this.fail("data");
    return nblock;
  }

  /** Invert the BWT and the initial RLE, yielding output chunks; returns the block CRC. */
  *emit(nblock: number, origPtr: number): Generator<Uint8Array, number> {
    const { tt, counts, cftab } = this;
    cftab[0] = 0;
    for (let i = 0; i < 256; i++) cftab[i + 1] = cftab[i]! + counts[i]!;
    for (let i = 0; i < nblock; i++) {
      const b = tt[i]! & 0xff;
      tt[cftab[b]!++]! |= i << 8;
    }
    let crc = -1;
    let out = new Uint8Array(OUT_CHUNK);
    let o = 0;
    let tPos = tt[origPtr]! >>> 8;
    let prev = -1;
    let run = 0;
    for (let left = nblock; left > 0; left--) {
      tPos = tt[tPos]!;
      const ch = tPos & 0xff;
      tPos >>>= 8;
      if (run === 4) {
        // The byte after four equal ones is a repeat count (0..255).
        out.fill(prev, o, o + ch);
        o += ch;
        run = 0;
      } else {
        if (ch === prev) run++;
        else {
          prev = ch;
          run = 1;
        }
        out[o++] = ch;
      }
      if (o > OUT_CHUNK - 256) {
        crc = bzCrcUpdate(crc, out, o);
        yield out.subarray(0, o);
        out = new Uint8Array(OUT_CHUNK);
        o = 0;
      }
    }
    if (o > 0) {
      crc = bzCrcUpdate(crc, out, o);
      yield out.subarray(0, o);
    }
    return ~crc >>> 0;
  }
}

/** Decompress a bzip2 source (one or more concatenated streams); `count` is called before each chunk is yielded. */
export async function* bunzip2(
  source: AsyncIterable<Uint8Array>,
  count: (n: number) => void,
  what: string,
): AsyncGenerator<Uint8Array> {
  const inp = new BitInput(source);
  const dec = new Bzip2Decoder(inp, what);
  try {
    for (;;) {
      await inp.ensure(4);
      if (inp.available() === 0 && inp.eof && inp.overrun() === 0) {
        if (dec.stream === 0) throw dec.fail("empty input");
        return;
      }
      const b = inp.bits(8);
      const z = inp.bits(8);
      const h = inp.bits(8);
      const level = inp.bits(8) - 0x30;
      if (b !== 0x42 || z !== 0x5a || h !== 0x68 || level < 1 || level > 9) {
        throw dec.fail(
          dec.stream === 0
            ? "not bzip2 data (no BZh1..BZh9 header)"
            : `garbage after the end of stream ${dec.stream} (bzip2 -d ignores it with a warning; refused here)`,
        );
      }
      dec.stream++;
      dec.block = 0;
      const maxBlock = level * 100000;
      if (dec.tt.length < maxBlock) dec.tt = new Uint32Array(maxBlock);
      const lookAhead = maxBlockBytes(level);
      let combined = 0;
      for (;;) {
        await inp.ensure(lookAhead);
        const hi = inp.bits(24);
        const lo = inp.bits(24);
        if (hi === BLOCK_MAGIC_HI && lo === BLOCK_MAGIC_LO) {
          dec.block++;
          const stored = ((inp.bits(16) << 16) | inp.bits(16)) >>> 0;
          const { nblock, origPtr } = dec.readBlock(level);
          const gen = dec.emit(nblock, origPtr);
          let r = gen.next();
          while (!r.done) {
            count(r.value.length);
            yield r.value;
            r = gen.next();
          }
          if (r.value !== stored) {
            throw dec.fail(
              `block ${dec.block} of stream ${dec.stream}: CRC mismatch (stored ${hex(stored)}, computed ${hex(r.value)})`,
            );
          }
          combined = (((combined << 1) | (combined >>> 31)) ^ stored) >>> 0;
        } else if (hi === EOS_MAGIC_HI && lo === EOS_MAGIC_LO) {
          const stored = ((inp.bits(16) << 16) | inp.bits(16)) >>> 0;
          if (inp.overrun() > 0) throw dec.fail("end of stream");
          if (stored !== combined) {
            throw dec.fail(
              `stream ${dec.stream}: combined CRC mismatch (stored ${hex(stored)}, computed ${hex(combined)})`,
            );
          }
          inp.align();
          break;
        } else {
          throw dec.fail(`stream ${dec.stream}: bad block magic after block ${dec.block}`);
        }
      }
    }
  } finally {
    await inp.close();
  }
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, "0")}`;
}
