import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import { type Digest, digestOf } from "../digest/index.ts";
import { isOslessError } from "../errors.ts";
import { MediaType } from "../spec/index.ts";
import { chunked, collect, tarBytes } from "../tar/testkit.ts";
import { type LayerSource, layerTar } from "./source.ts";

function layer(
  blob: Buffer,
  tar: Buffer,
  over: Partial<{ digest: string; size: number; diffId: string }> = {},
) {
  let opened = 0;
  const src: LayerSource & { opened: () => number } = {
    index: 2,
    descriptor: {
      mediaType: MediaType.OCI_LAYER_GZIP,
      digest: (over.digest ?? digestOf(blob)) as Digest,
      size: over.size ?? blob.length,
    },
    diffId: (over.diffId ?? digestOf(tar)) as Digest,
    open: () => {
      opened++;
      return chunked(blob, 1000);
    },
    opened: () => opened,
  };
  return src;
}

const sample = () => tarBytes([{ entry: { path: "etc/motd", type: "file" }, body: Buffer.from("hello\n") }]);

test("layerTar: gzip, zstd and plain layers come out as the same tar when both digests match", async () => {
  const tar = await sample();
  const zst = execFileSync("zstd", ["-q", "-c"], { input: tar });
  for (const blob of [tar, gzipSync(tar), zst]) {
    const out = await collect(layerTar(layer(blob, tar)));
    assert.deepEqual(out, tar);
  }
});

test("layerTar: a wrong blob digest, a wrong size, or a wrong DiffID fails at the end of the stream", async () => {
  const tar = await sample();
  const gz = gzipSync(tar);
  await assert.rejects(
    collect(layerTar(layer(gz, tar, { digest: digestOf("other") }))),
    (e) => isOslessError(e, "E_DIGEST_MISMATCH") && /layer 3 .* blob/.test(e.message),
  );
  await assert.rejects(collect(layerTar(layer(gz, tar, { size: gz.length - 1 }))), (e) =>
    isOslessError(e, "E_SIZE_MISMATCH"),
  );
  await assert.rejects(collect(layerTar(layer(gz, tar, { size: gz.length + 1 }))), (e) =>
    isOslessError(e, "E_SIZE_MISMATCH"),
  );
  await assert.rejects(
    collect(layerTar(layer(gz, tar, { diffId: digestOf("not the tar") }))),
    (e) => isOslessError(e, "E_DIGEST_MISMATCH") && /DiffID/.test(e.message) && /diff_ids/.test(e.hint ?? ""),
  );
});

test("layerTar: bytes after the tar's end-of-archive are part of the DiffID (R19)", async () => {
  const tar = Buffer.concat([await sample(), Buffer.alloc(4096)]);
  const gz = gzipSync(tar);
  assert.deepEqual(await collect(layerTar(layer(gz, tar))), tar);
  const short = await sample();
  await assert.rejects(collect(layerTar(layer(gz, tar, { diffId: digestOf(short) }))), (e) =>
    isOslessError(e, "E_DIGEST_MISMATCH"),
  );
});

test("layerTar: the per-layer and per-image caps on uncompressed bytes (bomb) stop the stream early", async () => {
  const zeros = Buffer.alloc(64 << 20);
  const gz = gzipSync(zeros, { level: 9 });
  assert.ok(gz.length < 100_000, "a gzip bomb");
  const l = layer(gz, zeros);
  await assert.rejects(
    collect(layerTar(l, { limits: { maxLayerBytes: 1 << 20 } })),
    (e) => isOslessError(e, "E_SIZE_LIMIT") && /1048576/.test(e.message),
  );
  const budget = { used: 60 << 20 };
  await assert.rejects(
    collect(layerTar(l, { limits: { maxImageBytes: 64 << 20 }, budget })),
    (e) =>
      isOslessError(e, "E_SIZE_LIMIT") && /image/.test(e.message) && /--max-image-size/.test(e.hint ?? ""),
  );
  // The default cap is 10 × compressed + 1 GiB: a 64 MiB layer passes.
  assert.equal((await collect(layerTar(l))).length, zeros.length);
});

test("layerTar: xz and bzip2 are not layer compressions; an abort signal stops reading", async () => {
  const tar = await sample();
  const xz = execFileSync("xz", ["-c"], { input: tar });
  await assert.rejects(
    collect(layerTar(layer(xz, tar))),
    (e) => isOslessError(e, "E_COMPRESSION") && /xz/.test(e.message),
  );
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(collect(layerTar(layer(gzipSync(tar), tar), { signal: ac.signal })), {
    name: "AbortError",
  });
});

test("layerTar: verifiedAtRest skips re-hashing the blob but still checks its size and the DiffID", async () => {
  const tar = await sample();
  const gz = gzipSync(tar);
  const wrongDigest = { ...layer(gz, tar, { digest: digestOf("other") }), verifiedAtRest: true };
  assert.deepEqual(await collect(layerTar(wrongDigest)), tar);
  const wrongSize = { ...layer(gz, tar, { size: gz.length - 1 }), verifiedAtRest: true };
  await assert.rejects(collect(layerTar(wrongSize)), (e) => isOslessError(e, "E_SIZE_MISMATCH"));
  const wrongDiff = { ...layer(gz, tar, { diffId: digestOf("x") }), verifiedAtRest: true };
  await assert.rejects(collect(layerTar(wrongDiff)), (e) => isOslessError(e, "E_DIGEST_MISMATCH"));
});

test("layerTar: a consumer that stops early (readFile) closes the blob source", async () => {
  const tar = await tarBytes(
    Array.from({ length: 50 }, (_, i) => ({
      entry: { path: `f${i}`, type: "file" as const },
      body: Buffer.from(`${i}`.repeat(5000)),
    })),
  );
  for (const blob of [tar, gzipSync(tar), execFileSync("zstd", ["-q", "-c"], { input: tar })]) {
    let closed = false;
    const l = layer(blob, tar);
    const src = {
      ...l,
      open: () =>
        (async function* () {
          try {
            yield* chunked(blob, 1000);
          } finally {
            closed = true;
          }
        })(),
    };
    for await (const _ of layerTar(src)) break;
    assert.ok(closed, "the source was closed");
  }
});
