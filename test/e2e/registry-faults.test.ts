// Fault injection against the registry client and pull: a real docker-registry (distribution 2.8) behind the
// fault proxy, images pushed once with skopeo, pulled with the library into fresh stores. Each failing pull must
// leave nothing committed (no index entry, fsck clean); broken transfers resume with Range, wrong bytes are
// discarded, lying headers and hostile manifests are refused with their own error codes.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { digestOf } from "../../src/digest/index.ts";
import { OslessError } from "../../src/errors.ts";
import type { ProgressEvent } from "../../src/events/index.ts";
import { RegistryClient } from "../../src/registry/client.ts";
import type { ParsedManifest } from "../../src/spec/parse.ts";
import { Store } from "../../src/store/layout.ts";
import { fsck } from "../../src/store/maintenance.ts";
import { type PullOptions, type PullResult, pullImage } from "../../src/transfer/pull.ts";
import { type FaultProxy, type ProxiedRequest, startFaultProxy } from "../fixtures/fault-proxy.ts";
import { IMAGES, ociLayout } from "../fixtures/images.ts";
import { putBlob, writeOciLayout } from "../fixtures/layout.ts";
import { startRegistry, type TestRegistry } from "../fixtures/registry.ts";
import { needTool, run, tarDirectory, tmpdir } from "../fixtures/tools.ts";

const RETRY = { attempts: 5, baseDelayMs: 20 };
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";
const BIG_LAYER_SIZE = 8 << 20;

let reg: TestRegistry;
let proxy: FaultProxy;

interface Pushed {
  repo: string;
  manifest: ParsedManifest;
  layer: { digest: string; size: number };
}
let busybox: Pushed;
let big: Pushed;
let mismatch: Pushed;

async function skopeoPush(layout: string, repo: string): Promise<void> {
  const bin = needTool("skopeo", "skopeo");
  const t = await tmpdir("skopeo");
  try {
    await run(
      bin,
      [
        "--insecure-policy",
        "--tmpdir",
        t,
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        `oci:${layout}:latest`,
        `docker://${reg.host}/${repo}:latest`,
      ],
      { env: { TMPDIR: t } },
    );
  } catch (e) {
    (e as Error).message += `\n--- registry log (tail) ---\n${reg.logs().split("\n").slice(-30).join("\n")}`;
    throw e;
  }
}

/** The manifest as the registry serves it (straight, not through the proxy). */
async function registryManifest(repo: string): Promise<Pushed> {
  const client = new RegistryClient(reg.host, { retry: RETRY });
  try {
    const m = await client.repository(repo).getManifest("latest");
    assert.equal(m.kind, "manifest");
    const manifest = m as ParsedManifest;
    const l = manifest.manifest.layers.reduce((a, b) => (b.size > a.size ? b : a));
    return { repo, manifest, layer: { digest: l.digest, size: l.size } };
  } finally {
    await client.close();
  }
}

/** A one-layer image whose layer is a gzip of a tar holding `fileSize` random bytes (incompressible). */
async function randomLayerLayout(
  fileSize: number,
  config?: (diffId: string) => Record<string, unknown>,
): Promise<string> {
  const src = await tmpdir("rand-layer");
  await writeFile(join(src, "random.bin"), randomBytes(fileSize));
  const tarFile = join(await tmpdir("rand-tar"), "layer.tar");
  await tarDirectory(src, tarFile);
  const tar = await readFile(tarFile);
  const layout = await tmpdir("rand-layout");
  const blob = await putBlob(layout, gzipSync(tar, { level: 1 }));
  const diffId = digestOf(tar);
  return writeOciLayout(layout, [{ descriptor: { mediaType: GZIP_LAYER, ...blob }, diffId }], {
    ...(config ? { config: config(diffId) } : {}),
  });
}

const ref = (p: Pushed, tagOrDigest = ":latest") => `${proxy.host}/${p.repo}${tagOrDigest}`;
const manifestPath = (p: Pushed, r = "latest") => new RegExp(`^/v2/${p.repo}/manifests/${r}$`);
const blobPath = (p: Pushed, digest = p.layer.digest) => new RegExp(`^/v2/${p.repo}/blobs/${digest}$`);

async function newStore(): Promise<Store> {
  return Store.open(join(await tmpdir("faults-store"), "store"));
}

function pull(store: Store, reference: string, opts: PullOptions = {}): Promise<PullResult> {
  return pullImage(store, reference, { retry: RETRY, bodyTimeoutMs: 5000, ...opts });
}

function gets(path: RegExp): ProxiedRequest[] {
  return proxy.requests.filter((r) => r.method === "GET" && path.test(r.url));
}

const bytesOf = (rs: ProxiedRequest[]) => rs.reduce((n, r) => n + r.bytes, 0);

/**
 * Where a resume asked to start (`Range: bytes=K-`). The client resumes from the bytes it consumed: after a cut
 * connection, bytes still buffered in the socket may be lost, so K is at most what the proxy sent (and > 0).
 */
function resumedAt(r: ProxiedRequest, sentBefore: number): number {
  const m = /^bytes=(\d+)-$/.exec(String(r.headers.range));
  assert.ok(m, `a resume with Range: bytes=K-, got ${String(r.headers.range)}`);
  const k = Number(m[1]);
  assert.ok(k > 0 && k <= sentBefore, `resumed at ${k}, after ${sentBefore} bytes were sent`);
  return k;
}

/** Rejects with an OslessError of `code` (message matching `message` if given); returns it. */
async function expectError(p: Promise<unknown>, code: string, message?: RegExp): Promise<OslessError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== undefined, `expected ${code}, but it succeeded`);
  assert.ok(
    caught instanceof OslessError,
    `expected ${code}, got ${String((caught as Error)?.stack ?? caught)}`,
  );
  assert.equal(caught.code, code, `expected ${code}, got ${caught.code}: ${caught.message}`);
  if (message) assert.match(caught.message, message);
  return caught;
}

/** Nothing committed: no index entry, every blob hashes to its name, fsck has no problem. */
async function assertNothingCommitted(store: Store): Promise<Awaited<ReturnType<typeof fsck>>> {
  const index = await store.readIndex();
  assert.deepEqual(index.manifests, [], "the failed pull must not name an image");
  const f = await fsck(store);
  assert.deepEqual(f.problems, [], "fsck must be clean after a failed pull");
  return f;
}

/** A successful pull: the image is named in the index, its layer is in blobs/, fsck clean. */
async function assertPulled(store: Store, p: Pushed, r: PullResult): Promise<void> {
  const index = await store.readIndex();
  assert.equal(index.manifests.length, 1);
  assert.equal(index.manifests[0]!.digest, p.manifest.digest);
  assert.equal(r.manifest, p.manifest.digest);
  const data = await readFile(store.blobPath(p.layer.digest));
  assert.equal(data.length, p.layer.size);
  assert.equal(digestOf(data), p.layer.digest);
  const f = await fsck(store);
  assert.deepEqual(f.problems, []);
  assert.deepEqual(f.partial, [], "a successful pull leaves no partial ingest");
  assert.ok(f.blobsChecked >= 3);
}

function ingestName(digest: string): string {
  return digest.replace(":", "-");
}

/** Size of a partial download fsck lists (the ingest file, or `data` inside an ingest directory). */
async function partialSize(path: string): Promise<number> {
  const st = await stat(path);
  return st.isDirectory() ? (await stat(join(path, "data"))).size : st.size;
}

async function ingestEntries(store: Store): Promise<string[]> {
  return readdir(store.ingestDir).catch(() => []);
}

before(async () => {
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.url);
  const busyboxLayout = await ociLayout(IMAGES.busybox);
  const bigLayout = await randomLayerLayout(BIG_LAYER_SIZE);
  // The config lists two diff_ids for the one layer.
  const mismatchLayout = await randomLayerLayout(4096, (diffId) => ({
    rootfs: { type: "layers", diff_ids: [diffId, diffId] },
  }));
  await Promise.all([
    skopeoPush(busyboxLayout, "faults/busybox"),
    skopeoPush(bigLayout, "faults/big"),
    skopeoPush(mismatchLayout, "faults/mismatch"),
  ]);
  busybox = await registryManifest("faults/busybox");
  big = await registryManifest("faults/big");
  mismatch = await registryManifest("faults/mismatch");
  assert.ok(busybox.layer.size > 500_000, "busybox has a ~1 MB layer");
  assert.ok(big.layer.size > BIG_LAYER_SIZE, "the random layer does not compress");
});

after(async () => {
  await proxy?.stop();
  await reg?.stop();
});

describe("broken layer bodies are resumed with Range", () => {
  test("truncated body: resumed from the byte it stopped at, no full re-download", async () => {
    proxy.reset();
    const N = 300_000;
    proxy.rules.push({
      method: "GET",
      path: blobPath(busybox),
      fault: { kind: "truncate", afterBytes: N, times: 1 },
    });
    const store = await newStore();
    const r = await pull(store, ref(busybox));
    await assertPulled(store, busybox, r);
    const layerGets = gets(blobPath(busybox));
    assert.equal(layerGets.length, 2, "one truncated GET and one resume");
    assert.equal(layerGets[0]!.headers.range, undefined);
    assert.equal(layerGets[0]!.bytes, N);
    const k = resumedAt(layerGets[1]!, N);
    assert.equal(layerGets[1]!.status, 206);
    assert.equal(layerGets[1]!.bytes, busybox.layer.size - k, "only the rest was served");
    assert.ok(bytesOf(layerGets) <= busybox.layer.size + N, `served ${bytesOf(layerGets)} bytes`);
    assert.equal(r.blobs.find((b) => b.digest === busybox.layer.digest)?.status, "downloaded");
    assert.equal(r.downloaded, busybox.layer.size, "each byte of the layer is counted once");
  });

  test("a 200 that ignores Range: the first N bytes are skipped and the blob is right", async () => {
    proxy.reset();
    const N = 400_000;
    proxy.rules.push(
      { method: "GET", path: blobPath(busybox), fault: { kind: "truncate", afterBytes: N, times: 1 } },
      { method: "GET", path: blobPath(busybox), fault: { kind: "ignoreRange", times: 1 } },
    );
    const store = await newStore();
    const r = await pull(store, ref(busybox));
    await assertPulled(store, busybox, r);
    const layerGets = gets(blobPath(busybox));
    assert.equal(layerGets.length, 2);
    resumedAt(layerGets[1]!, N);
    assert.equal(layerGets[1]!.status, 200, "the proxy dropped Range: the whole body came");
    assert.equal(bytesOf(layerGets), N + busybox.layer.size);
  });

  test("a 206 with a wrong Content-Range once: refused, asked again, then right", async () => {
    proxy.reset();
    const N = 250_000;
    proxy.rules.push(
      { method: "GET", path: blobPath(busybox), fault: { kind: "truncate", afterBytes: N, times: 1 } },
      { method: "GET", path: blobPath(busybox), fault: { kind: "badContentRange", times: 1 } },
    );
    const store = await newStore();
    const r = await pull(store, ref(busybox));
    await assertPulled(store, busybox, r);
    const layerGets = gets(blobPath(busybox));
    assert.equal(layerGets.length, 3);
    const k = resumedAt(layerGets[1]!, N);
    assert.deepEqual(
      layerGets.map((g) => [g.headers.range, g.status, g.fault]),
      [
        [undefined, 200, "truncate"],
        [`bytes=${k}-`, 206, "badContentRange"],
        [`bytes=${k}-`, 206, undefined],
      ],
    );
  });

  test("a 206 with a wrong Content-Range every time: E_NETWORK naming the range, partial kept", async () => {
    proxy.reset();
    const N = 250_000;
    proxy.rules.push(
      { method: "GET", path: blobPath(busybox), fault: { kind: "truncate", afterBytes: N, times: 1 } },
      { method: "GET", path: blobPath(busybox), fault: { kind: "badContentRange" } },
    );
    const store = await newStore();
    const err = pull(store, ref(busybox));
    await assert.rejects(err);
    const layerGets = gets(blobPath(busybox));
    assert.equal(layerGets.length, 4, "the first GET and 3 refused resumes");
    const k = resumedAt(layerGets[1]!, N);
    for (const g of layerGets.slice(1)) assert.equal(g.headers.range, `bytes=${k}-`);
    await expectError(
      err,
      "E_NETWORK",
      new RegExp(
        `byte ${k} of ${busybox.layer.size}: asked for bytes ${k}- but got Content-Range "bytes ${k + 1}-`,
      ),
    );
    const f = await assertNothingCommitted(store);
    // The good bytes are kept for the next pull.
    assert.deepEqual(f.partial, [join(store.ingestDir, ingestName(busybox.layer.digest))]);
    assert.equal(await partialSize(f.partial[0]!), k, "the partial ingest holds every byte received");
    // ... and they are the right bytes: the next pull continues from them and the digest checks out.
    proxy.reset();
    const r = await pull(store, ref(busybox));
    await assertPulled(store, busybox, r);
    assert.equal(r.blobs.find((b) => b.digest === busybox.layer.digest)?.status, "resumed");
    assert.deepEqual(
      gets(blobPath(busybox)).map((g) => g.headers.range),
      [`bytes=${k}-`],
    );
  });

  test("a stall longer than bodyTimeoutMs: the body is resumed with Range", async () => {
    proxy.reset();
    const N = 200_000;
    proxy.rules.push({
      method: "GET",
      path: blobPath(busybox),
      fault: { kind: "stall", afterBytes: N, ms: 6000, times: 1 },
    });
    const store = await newStore();
    const t0 = Date.now();
    const r = await pull(store, ref(busybox), { bodyTimeoutMs: 500 });
    const took = Date.now() - t0;
    await assertPulled(store, busybox, r);
    const layerGets = gets(blobPath(busybox));
    assert.equal(layerGets.length, 2);
    assert.equal(layerGets[0]!.fault, "stall");
    const k = resumedAt(layerGets[1]!, N);
    assert.equal(layerGets[1]!.bytes, busybox.layer.size - k);
    assert.ok(took < 4000, `resumed after the body timeout, not after the 6 s stall (${took} ms)`);
  });
});

describe("retries", () => {
  test("429 with Retry-After: 1 on the manifest: waits about a second, says so, succeeds", async () => {
    proxy.reset();
    proxy.rules.push({
      method: "GET",
      path: manifestPath(busybox),
      fault: { kind: "status", status: 429, headers: { "Retry-After": "1" }, times: 1 },
    });
    const events: ProgressEvent[] = [];
    const store = await newStore();
    const t0 = Date.now();
    const r = await pull(store, ref(busybox), { events: (e) => events.push(e) });
    const took = Date.now() - t0;
    await assertPulled(store, busybox, r);
    assert.ok(took >= 900, `Retry-After: 1 was honoured (${took} ms)`);
    assert.deepEqual(
      gets(manifestPath(busybox)).map((g) => g.status),
      [429, 200],
    );
    const notes = events.filter((e) => e.type === "note").map((e) => (e as { text: string }).text);
    assert.ok(
      notes.some((t) => /429/.test(t) && /retrying in 1\.0 s/.test(t)),
      `a note about the retry: ${JSON.stringify(notes)}`,
    );
  });

  test("500 twice then OK: succeeds on the third request", async () => {
    proxy.reset();
    proxy.rules.push({
      method: "GET",
      path: manifestPath(busybox),
      fault: { kind: "status", status: 500, times: 2 },
    });
    const store = await newStore();
    const r = await pull(store, ref(busybox));
    await assertPulled(store, busybox, r);
    assert.deepEqual(
      gets(manifestPath(busybox)).map((g) => g.status),
      [500, 500, 200],
    );
  });

  test("503 always on the manifest: E_REGISTRY after exactly `attempts` requests", async () => {
    proxy.reset();
    proxy.rules.push({ method: "GET", path: manifestPath(busybox), fault: { kind: "status", status: 503 } });
    const store = await newStore();
    await expectError(pull(store, ref(busybox)), "E_REGISTRY", /HTTP 503/);
    assert.equal(gets(manifestPath(busybox)).length, RETRY.attempts);
    await assertNothingCommitted(store);
  });

  test("500 always on the layer: E_REGISTRY after exactly `attempts` requests, nothing committed", async () => {
    proxy.reset();
    proxy.rules.push({
      method: "GET",
      path: blobPath(busybox),
      fault: {
        kind: "status",
        status: 500,
        body: JSON.stringify({ errors: [{ code: "UNKNOWN", message: "storage on fire" }] }),
      },
    });
    const store = await newStore();
    await expectError(pull(store, ref(busybox)), "E_REGISTRY", /storage on fire/);
    assert.equal(gets(blobPath(busybox)).length, RETRY.attempts);
    const f = await assertNothingCommitted(store);
    assert.deepEqual(f.partial, []);
  });
});

describe("wrong bytes are refused and discarded", () => {
  test("a corrupt byte: E_DIGEST_MISMATCH, no partial ingest left for that digest", async () => {
    proxy.reset();
    proxy.rules.push({ method: "GET", path: blobPath(busybox), fault: { kind: "corrupt", atByte: 123_456 } });
    const store = await newStore();
    await expectError(pull(store, ref(busybox)), "E_DIGEST_MISMATCH", new RegExp(busybox.layer.digest));
    const f = await assertNothingCommitted(store);
    assert.deepEqual(f.partial, []);
    assert.ok(!(await ingestEntries(store)).includes(ingestName(busybox.layer.digest)));
    assert.equal(await store.blobSize(busybox.layer.digest), undefined);
    assert.equal(gets(blobPath(busybox)).length, 1, "wrong content is not retried");
  });

  test("extra bytes (Content-Length says so): E_SIZE_MISMATCH", async () => {
    proxy.reset();
    proxy.rules.push({ method: "GET", path: blobPath(busybox), fault: { kind: "extra", bytes: 100 } });
    const store = await newStore();
    const err = await expectError(pull(store, ref(busybox)), "E_SIZE_MISMATCH");
    assert.deepEqual(err.details, { expected: busybox.layer.size, actual: busybox.layer.size + 100 });
    const f = await assertNothingCommitted(store);
    assert.deepEqual(f.partial, []);
  });

  test("extra bytes after a resume (206, no length check): E_SIZE_MISMATCH, partial discarded", async () => {
    proxy.reset();
    proxy.rules.push(
      { method: "GET", path: blobPath(busybox), fault: { kind: "truncate", afterBytes: 100_000, times: 1 } },
      { method: "GET", path: blobPath(busybox), fault: { kind: "extra", bytes: 10 } },
    );
    const store = await newStore();
    await expectError(pull(store, ref(busybox)), "E_SIZE_MISMATCH");
    const f = await assertNothingCommitted(store);
    assert.deepEqual(f.partial, [], "bytes past the size make the whole download suspect");
    assert.equal(gets(blobPath(busybox)).length, 2);
  });

  for (const delta of [+1000, -1000]) {
    test(`Content-Length ${delta > 0 ? "larger" : "smaller"} than the descriptor: E_SIZE_MISMATCH before reading`, async () => {
      proxy.reset();
      const value = busybox.layer.size + delta;
      proxy.rules.push({ method: "GET", path: blobPath(busybox), fault: { kind: "contentLength", value } });
      const store = await newStore();
      const err = await expectError(pull(store, ref(busybox)), "E_SIZE_MISMATCH", /announces/);
      assert.deepEqual(err.details, { expected: busybox.layer.size, actual: value });
      const f = await assertNothingCommitted(store);
      assert.deepEqual(f.partial, [], "nothing was written");
      assert.equal(gets(blobPath(busybox)).length, 1, "not retried");
    });
  }
});

describe("hostile manifests", () => {
  test("a manifest over 4 MiB: E_MANIFEST_TOO_LARGE", async () => {
    proxy.reset();
    const body = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: busybox.manifest.manifest.config,
      layers: busybox.manifest.manifest.layers,
      annotations: { pad: "x".repeat(4 * 1024 * 1024 + 10) },
    });
    proxy.rules.push({ method: "GET", path: manifestPath(busybox), fault: { kind: "replaceBody", body } });
    const store = await newStore();
    await expectError(pull(store, ref(busybox)), "E_MANIFEST_TOO_LARGE", /4194304-byte limit/);
    await assertNothingCommitted(store);
    assert.equal(gets(blobPath(busybox)).length, 0);
  });

  test("a schema1 manifest: E_MANIFEST_SCHEMA1, 'schema1 is not supported'", async () => {
    proxy.reset();
    const body = JSON.stringify({
      schemaVersion: 1,
      name: "faults/busybox",
      tag: "latest",
      architecture: "amd64",
      fsLayers: [{ blobSum: busybox.layer.digest }],
      history: [{ v1Compatibility: "{}" }],
      signatures: [],
    });
    proxy.rules.push({
      method: "GET",
      path: manifestPath(busybox),
      fault: {
        kind: "replaceBody",
        body,
        contentType: "application/vnd.docker.distribution.manifest.v1+prettyjws",
      },
    });
    const store = await newStore();
    await expectError(pull(store, ref(busybox)), "E_MANIFEST_SCHEMA1", /schema1 images are not supported/);
    await assertNothingCommitted(store);
  });

  test("a schema1 body under a generic Content-Type is still recognised", async () => {
    proxy.reset();
    const body = JSON.stringify({ schemaVersion: 1, fsLayers: [{ blobSum: busybox.layer.digest }] });
    proxy.rules.push({
      method: "GET",
      path: manifestPath(busybox),
      fault: { kind: "replaceBody", body, contentType: "application/json" },
    });
    const store = await newStore();
    await expectError(pull(store, ref(busybox)), "E_MANIFEST_SCHEMA1", /schema1 images are not supported/);
    await assertNothingCommitted(store);
  });

  test("pull by digest, body with another digest: E_DIGEST_MISMATCH", async () => {
    proxy.reset();
    const digest = busybox.manifest.digest;
    const body = Buffer.concat([busybox.manifest.raw, Buffer.from("\n")]);
    proxy.rules.push({
      method: "GET",
      path: manifestPath(busybox, digest),
      fault: { kind: "replaceBody", body, contentType: busybox.manifest.mediaType },
    });
    const store = await newStore();
    await expectError(pull(store, ref(busybox, `@${digest}`)), "E_DIGEST_MISMATCH", new RegExp(digest));
    await assertNothingCommitted(store);
    assert.equal(gets(blobPath(busybox)).length, 0);
  });

  test("pull by digest, the right body: succeeds (the check is not always failing)", async () => {
    proxy.reset();
    const store = await newStore();
    const r = await pull(store, ref(busybox, `@${busybox.manifest.digest}`));
    await assertPulled(store, busybox, r);
    assert.equal(r.digest, busybox.manifest.digest);
  });

  test("Content-Type says image manifest, the body has `manifests`: E_MEDIA_TYPE_MISMATCH", async () => {
    proxy.reset();
    const body = JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: OCI_MANIFEST, digest: busybox.manifest.digest, size: busybox.manifest.size }],
    });
    proxy.rules.push({
      method: "GET",
      path: manifestPath(busybox),
      fault: { kind: "replaceBody", body, contentType: OCI_MANIFEST },
    });
    const store = await newStore();
    await expectError(pull(store, ref(busybox)), "E_MEDIA_TYPE_MISMATCH", /manifests/);
    await assertNothingCommitted(store);
  });

  test("an unknown manifest media type: E_MEDIA_TYPE_UNKNOWN", async () => {
    proxy.reset();
    const mt = "application/vnd.example.thing.manifest.v1+json";
    const doc = JSON.parse(busybox.manifest.raw.toString("utf8")) as Record<string, unknown>;
    const body = JSON.stringify({ ...doc, mediaType: mt });
    proxy.rules.push({
      method: "GET",
      path: manifestPath(busybox),
      fault: { kind: "replaceBody", body, contentType: mt },
    });
    const store = await newStore();
    await expectError(
      pull(store, ref(busybox)),
      "E_MEDIA_TYPE_UNKNOWN",
      new RegExp(mt.replace(/[.+]/g, "\\$&")),
    );
    await assertNothingCommitted(store);
  });

  test("an index without the wanted platform: E_PLATFORM_NOT_FOUND listing what there is", async () => {
    proxy.reset();
    const child = (n: number) => digestOf(`child ${n}`);
    const body = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        {
          mediaType: OCI_MANIFEST,
          digest: child(1),
          size: 500,
          platform: { os: "linux", architecture: "s390x" },
        },
        {
          mediaType: OCI_MANIFEST,
          digest: child(2),
          size: 500,
          platform: { os: "windows", architecture: "amd64", "os.version": "10.0.17763.1" },
        },
      ],
    });
    proxy.rules.push({ method: "GET", path: manifestPath(busybox), fault: { kind: "replaceBody", body } });
    const store = await newStore();
    const err = await expectError(
      pull(store, ref(busybox), { platform: { os: "linux", architecture: "amd64" } }),
      "E_PLATFORM_NOT_FOUND",
      /linux\/amd64/,
    );
    assert.match(err.message, /linux\/s390x/);
    assert.match(err.message, /windows\(10\.0\.17763\.1\)\/amd64/);
    await assertNothingCommitted(store);
    assert.equal(gets(/\/manifests\/sha256:/).length, 0, "no child manifest was fetched");
  });
});

describe("inconsistent images", () => {
  test("config diff_ids count differs from the layers: E_CONFIG_INVALID, no layer fetched", async () => {
    proxy.reset();
    const store = await newStore();
    await expectError(
      pull(store, ref(mismatch)),
      "E_CONFIG_INVALID",
      /the manifest has 1 layer but the config lists 2 rootfs\.diff_ids/,
    );
    const f = await assertNothingCommitted(store);
    assert.deepEqual(f.partial, []);
    assert.equal(gets(blobPath(mismatch)).length, 0);
    assert.equal(await store.blobSize(mismatch.manifest.manifest.config.digest), undefined);
  });

  test("a layer descriptor of size 0: a clear error before any layer request", async () => {
    proxy.reset();
    const doc = JSON.parse(busybox.manifest.raw.toString("utf8")) as {
      layers: Array<{ size: number }>;
    };
    for (const l of doc.layers) l.size = 0;
    proxy.rules.push({
      method: "GET",
      path: manifestPath(busybox),
      fault: { kind: "replaceBody", body: JSON.stringify(doc), contentType: busybox.manifest.mediaType },
    });
    const store = await newStore();
    await expectError(
      pull(store, ref(busybox)),
      "E_MANIFEST_INVALID",
      /layers\[0\] \(sha256:[0-9a-f]{64}\) has size 0/,
    );
    const f = await assertNothingCommitted(store);
    assert.deepEqual(f.partial, []);
    assert.deepEqual(await ingestEntries(store), []);
    assert.equal(gets(blobPath(busybox)).length, 0);
  });
});

describe("interrupted and concurrent pulls", () => {
  test("an aborted pull keeps its partial ingest and the next pull resumes it", async () => {
    proxy.reset();
    proxy.rules.push({
      method: "GET",
      path: blobPath(big),
      fault: { kind: "throttle", bytesPerSecond: 4 << 20, times: 1 },
    });
    const store = await newStore();
    const ac = new AbortController();
    const first = pull(store, ref(big), {
      signal: ac.signal,
      events: (e) => {
        if (e.type === "progress" && e.id === big.layer.digest && e.done >= 1 << 20) ac.abort();
      },
    });
    await assert.rejects(first, (e: unknown) => {
      assert.ok(ac.signal.aborted, `the pull failed before the abort: ${String(e)}`);
      assert.equal((e as Error).name, "AbortError");
      return true;
    });
    const f = await assertNothingCommitted(store);
    assert.deepEqual(f.partial, [join(store.ingestDir, ingestName(big.layer.digest))]);
    const kept = await partialSize(f.partial[0]!);
    assert.ok(kept >= 1 << 20 && kept < big.layer.size, `kept ${kept} bytes`);
    assert.equal(await store.blobSize(big.layer.digest), undefined);

    proxy.reset();
    const r = await pull(store, ref(big));
    await assertPulled(store, big, r);
    assert.equal(r.blobs.find((b) => b.digest === big.layer.digest)?.status, "resumed");
    const layerGets = gets(blobPath(big));
    assert.equal(layerGets.length, 1);
    assert.equal(layerGets[0]!.headers.range, `bytes=${kept}-`);
    assert.equal(bytesOf(layerGets), big.layer.size - kept);
    assert.ok(bytesOf(layerGets) < big.layer.size);
  });

  test("two concurrent pulls into one store: both succeed, the layer is fetched once", async () => {
    proxy.reset();
    proxy.rules.push({
      method: "GET",
      path: blobPath(big),
      fault: { kind: "throttle", bytesPerSecond: 32 << 20 },
    });
    const dir = join(await tmpdir("faults-store"), "store");
    const [s1, s2] = await Promise.all([Store.open(dir), Store.open(dir)]);
    const [r1, r2] = await Promise.all([pull(s1, ref(big)), pull(s2, ref(big))]);
    const statuses = [r1, r2].map((r) => r.blobs.find((b) => b.digest === big.layer.digest)?.status).sort();
    assert.deepEqual(statuses, ["downloaded", "present"]);
    await assertPulled(s1, big, r1);
    const layerGets = gets(blobPath(big));
    assert.equal(layerGets.filter((g) => g.headers.range === undefined).length, 1);
    assert.equal(layerGets.length, 1);
    assert.equal(bytesOf(layerGets), big.layer.size);
    assert.equal(r1.downloaded + r2.downloaded, big.layer.size);
  });
});
