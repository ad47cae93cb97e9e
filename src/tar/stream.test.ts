// Streaming: a 200 MB archive of big files flows through writeTar -> readTar without accumulating whole files
// (the reader never runs more than one source chunk ahead of the consumer) and data chunks pass through uncopied.
// No timing is measured.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { readTar } from "./reader.ts";
import { writeTar } from "./writer.ts";

const MiB = 1 << 20;

test("reading a 200 MB archive streams: bounded read-ahead, zero-copy data chunks, exact bytes", async () => {
  const sizes = [50 * MiB, 50 * MiB + 1, 50 * MiB - 511, 50 * MiB + 4096];
  let produced = 0; // data bytes handed to the writer so far
  const producedChunks = new Set<ArrayBufferLike>();
  const expected: string[] = [];

  async function* body(size: number, seed: number): AsyncGenerator<Buffer> {
    const h = createHash("sha256");
    for (let off = 0; off < size; ) {
      const n = Math.min(MiB, size - off);
      const c = Buffer.alloc(n, (seed + off / MiB) & 0xff);
      h.update(c);
      producedChunks.add(c.buffer);
      produced += n;
      off += n;
      yield c;
    }
    expected.push(h.digest("hex"));
  }

  async function* items() {
    for (const [i, size] of sizes.entries()) {
      yield { entry: { path: `big/${i}`, type: "file" as const, size, mtime: 1 }, body: body(size, i) };
    }
  }

  let consumed = 0;
  let maxLead = 0;
  let zeroCopy = 0;
  let chunks = 0;
  const got: string[] = [];
  const heapBefore = process.memoryUsage().heapUsed;
  for await (const e of readTar(writeTar(items()))) {
    const h = createHash("sha256");
    for await (const c of e.body()) {
      consumed += c.length;
      chunks++;
      if (producedChunks.has(c.buffer)) zeroCopy++;
      maxLead = Math.max(maxLead, produced - consumed);
      h.update(c);
    }
    producedChunks.clear();
    got.push(h.digest("hex"));
  }
  assert.equal(
    consumed,
    sizes.reduce((a, b) => a + b, 0),
  );
  assert.deepEqual(got, expected);
  assert.ok(maxLead <= 2 * MiB, `reader ran ${maxLead} bytes ahead of the consumer`);
  assert.equal(zeroCopy, chunks, "every data chunk is a slice of a source chunk");
  assert.ok(process.memoryUsage().heapUsed - heapBefore < 64 * MiB, "heap did not grow with the archive");
});
