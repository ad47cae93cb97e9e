import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { test } from "node:test";
import { isOslessError } from "../errors.ts";
import { digestOf, Hasher, parseDigest, VerifyStream, verifyBytes } from "./index.ts";

const EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

test("digestOf matches the well-known empty sha256 and sha512", () => {
  assert.equal(digestOf(new Uint8Array()), EMPTY);
  assert.match(digestOf("", "sha512"), /^sha512:cf83e1357eefb8bd/);
});

test("parseDigest accepts sha256/sha512 and rejects malformed, uppercase and unknown algorithms", () => {
  assert.deepEqual(parseDigest(EMPTY), { algorithm: "sha256", hex: EMPTY.slice(7) });
  for (const bad of [
    "sha256:abc",
    EMPTY.toUpperCase().replace("SHA256", "sha256"),
    "sha256",
    "",
    `${EMPTY}0`,
  ]) {
    assert.throws(
      () => parseDigest(bad),
      (e) => isOslessError(e, "E_DIGEST_INVALID"),
      bad,
    );
  }
  assert.throws(
    () => parseDigest("md5:d41d8cd98f00b204e9800998ecf8427e"),
    (e) => isOslessError(e, "E_DIGEST_UNSUPPORTED"),
  );
});

test("Hasher counts bytes across chunks", () => {
  const h = new Hasher();
  h.update(Buffer.from("hello ")).update(Buffer.from("world"));
  assert.equal(h.size, 11);
  assert.equal(h.digest(), digestOf("hello world"));
});

test("verifyBytes checks size then digest", () => {
  const data = Buffer.from("abc");
  verifyBytes(data, { digest: digestOf(data), size: 3 });
  assert.throws(
    () => verifyBytes(data, { digest: digestOf(data), size: 4 }),
    (e) => isOslessError(e, "E_SIZE_MISMATCH"),
  );
  assert.throws(
    () => verifyBytes(data, { digest: EMPTY, size: 3 }),
    (e) => isOslessError(e, "E_DIGEST_MISMATCH"),
  );
});

async function run(chunks: string[], expected: { digest: string; size: number }): Promise<string> {
  let out = "";
  await pipeline(
    Readable.from(chunks.map((c) => Buffer.from(c))),
    new VerifyStream(expected),
    async (src) => {
      for await (const c of src) out += c.toString();
    },
  );
  return out;
}

test("VerifyStream passes exact content and rejects short, long and altered content", async () => {
  const good = { digest: digestOf("hello world"), size: 11 };
  assert.equal(await run(["hello ", "world"], good), "hello world");
  await assert.rejects(run(["hello "], good), (e) => isOslessError(e, "E_SIZE_MISMATCH"));
  await assert.rejects(run(["hello world", "!"], good), (e) => isOslessError(e, "E_SIZE_MISMATCH"));
  await assert.rejects(run(["hello_world"], good), (e) => isOslessError(e, "E_DIGEST_MISMATCH"));
});
