// Detection by magic bytes: the output of the real gzip, zstd, xz and bzip2 is recognised from its first bytes
// (in memory, in a file, and through sniff + decompress), and plain tars whose first member's name starts like
// a magic are not mistaken for compressed data.
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type Compression, decompress, detectCompression, detectFileCompression, sniff } from "./index.ts";
import { chunked, requireTool, run, sha256, tempDir, textLike } from "./testkit.ts";

const TOOLS: [Exclude<Compression, "none">, string, string][] = [
  ["gzip", "gzip", "gzip"],
  ["zstd", "zstd", "zstd"],
  ["xz", "xz", "xz-utils"],
  ["bzip2", "bzip2", "bzip2"],
];

const dirs: string[] = [];

before(() => {
  for (const [, cmd, pkg] of TOOLS) requireTool(cmd, pkg);
  requireTool("tar", "tar");
});

after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function scratch(tag: string): string {
  const d = tempDir(tag);
  dirs.push(d);
  return d;
}

/** A one-member ustar archive made by GNU tar, the member named `name`. */
function tarWith(name: string, dir: string): Buffer {
  writeFileSync(join(dir, name), "content\n");
  return run("tar", ["--format=ustar", "-C", dir, "-cf", "-", name]);
}

test("gzip, zstd, xz and bzip2 output is recognised by its magic, empty input too; sniff + decompress round-trip", async () => {
  const dir = scratch("detect");
  const data = textLike(100_000);
  for (const [compression, cmd] of TOOLS) {
    for (const input of [data, Buffer.alloc(0)]) {
      const compressed = run(cmd, ["-c"], input);
      const label = `${cmd} of ${input.length} bytes`;
      assert.equal(detectCompression(compressed), compression, label);
      const file = join(dir, `${cmd}-${input.length}`);
      writeFileSync(file, compressed);
      assert.equal(await detectFileCompression(file), compression, `${label}, from a file`);
      const s = await sniff(chunked(compressed, [3, 3, 3, 3, 3, 3, 65536]));
      assert.equal(s.compression, compression, `${label}, sniffed from 3-byte chunks`);
      const h = [];
      for await (const c of decompress(s.source, s.compression)) h.push(c);
      assert.equal(sha256(Buffer.concat(h)), sha256(input), `${label}, decompressed after sniff`);
    }
  }
});

test("a plain tar whose first member is named like a magic is 'none'", async () => {
  const dir = scratch("names");
  // "BZh91AY&SY" itself would be bzip2: those are exactly the 10 bytes a bzip2 stream starts with.
  for (const name of ["BZh91AY&SX", "BZh9notes.txt", "BZh1", "BZh0AY&SY", "BZh9\u00177rE8P"]) {
    const tar = tarWith(name, dir);
    assert.equal(detectCompression(tar), "none", name);
    const file = join(dir, "t.tar");
    writeFileSync(file, tar);
    assert.equal(await detectFileCompression(file), "none", `${name}, from a file`);
    assert.equal((await sniff(chunked(tar, 1))).compression, "none", `${name}, sniffed`);
  }
});

test("bzip2 detection needs the block or end-of-stream magic after BZh1..9, so 10 bytes", () => {
  const real = run("bzip2", ["-c"], Buffer.from("x"));
  assert.equal(detectCompression(real.subarray(0, 10)), "bzip2");
  assert.equal(detectCompression(real.subarray(0, 9)), "none", "9 bytes are not enough");
  const eos = run("bzip2", ["-c"], Buffer.alloc(0));
  assert.equal(eos.length, 14);
  assert.equal(detectCompression(eos), "bzip2", "an empty stream starts with the end-of-stream magic");
  for (const level of "123456789") {
    const head = Buffer.concat([Buffer.from(`BZh${level}`), real.subarray(4, 10)]);
    assert.equal(detectCompression(head), "bzip2", `level ${level}`);
  }
  const wrongLevel = Buffer.concat([Buffer.from("BZh0"), real.subarray(4, 10)]);
  assert.equal(detectCompression(wrongLevel), "none");
  assert.equal(detectCompression(new Uint8Array(0)), "none");
});
