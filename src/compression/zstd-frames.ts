/**
 * Walks the frame structure of a zstd stream as its bytes go by, without decoding, so that every frame's window
 * size is checked before the decoder sees the frame (fzstd allocates each frame's window itself, up to 2 GiB:
 * a 14-byte frame followed by a `--long=31` frame would otherwise get past a check of the first header only).
 * Format: RFC 8878 §3.1 (frames, skippable frames, block headers, content checksum).
 */
import { OslessError } from "../errors.ts";

const MAGIC = 0xfd2fb528;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE = 0x184d2a50;

export class ZstdFrameScanner {
  readonly #maxWindow: number;
  readonly #what: string;
  /** Bytes collected for the header being read. */
  #head: number[] = [];
  /** What the collected bytes are: a frame's start (magic + header), a block header, or bytes to skip. */
  #state: "frame" | "block" | "skip" = "frame";
  #skip = 0;
  /** After the skipped bytes: the next block header, or the next frame. */
  #after: "block" | "frame" = "frame";
  #checksum = false;
  /** Frames seen, for messages. */
  frames = 0;

  constructor(maxWindow: number, what: string) {
    this.#maxWindow = maxWindow;
    this.#what = what;
  }

  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.#state === "skip") {
        const n = Math.min(this.#skip, chunk.length - i);
        this.#skip -= n;
        i += n;
        if (this.#skip === 0) this.#state = this.#after;
        continue;
      }
      this.#head.push(chunk[i]!);
      i++;
      if (this.#state === "frame") this.#frameByte();
      else this.#blockByte();
    }
  }

  #toSkip(n: number, then: "block" | "frame"): void {
    this.#head = [];
    this.#after = then;
    if (n === 0) this.#state = then;
    else {
      this.#skip = n;
      this.#state = "skip";
    }
  }

  #frameByte(): void {
    const h = this.#head;
    if (h.length < 4) return;
    const magic = (h[0]! | (h[1]! << 8) | (h[2]! << 16) | (h[3]! << 24)) >>> 0;
    if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE) {
      if (h.length < 8) return;
      const size = (h[4]! | (h[5]! << 8) | (h[6]! << 16) | (h[7]! << 24)) >>> 0;
      this.#toSkip(size, "frame");
      return;
    }
    // Not a zstd frame: leave the error to the decoder, which names it.
    if (magic !== MAGIC) {
      this.#toSkip(Number.POSITIVE_INFINITY, "frame");
      return;
    }
    if (h.length < 5) return;
    const fhd = h[4]!;
    const single = (fhd >> 5) & 1;
    const fcsBytes = [single ? 1 : 0, 2, 4, 8][fhd >> 6]!;
    const dictBytes = [0, 1, 2, 4][fhd & 3]!;
    const headerLength = 5 + (single ? 0 : 1) + dictBytes + fcsBytes;
    if (h.length < headerLength) return;
    let window: number;
    if (!single) {
      const wd = h[5]!;
      const base = 2 ** (10 + (wd >> 3));
      window = base + (base / 8) * (wd & 7);
    } else {
      const off = headerLength - fcsBytes;
      window = 0;
      for (let k = fcsBytes - 1; k >= 0; k--) window = window * 256 + h[off + k]!;
      if (fcsBytes === 2) window += 256;
    }
    this.frames++;
    if (window > this.#maxWindow) {
      throw new OslessError(
        "E_SIZE_LIMIT",
        `${this.#what}: zstd frame ${this.frames} has a window of ${window} bytes, over the ${this.#maxWindow}-byte limit`,
        {
          hint: "recompress with a smaller window (zstd --long=27 or less)",
          details: { window, frame: this.frames },
        },
      );
    }
    this.#checksum = ((fhd >> 2) & 1) === 1;
    this.#head = [];
    this.#state = "block";
  }

  #blockByte(): void {
    const h = this.#head;
    if (h.length < 3) return;
    const header = h[0]! | (h[1]! << 8) | (h[2]! << 16);
    const last = header & 1;
    const type = (header >> 1) & 3;
    const size = header >>> 3;
    // Raw and compressed blocks carry `size` bytes; an RLE block carries one byte.
    const body = type === 1 ? 1 : size;
    if (!last) this.#toSkip(body, "block");
    else this.#toSkip(body + (this.#checksum ? 4 : 0), "frame");
  }
}
