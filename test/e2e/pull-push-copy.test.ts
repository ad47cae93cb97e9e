// pull, push and copy through the osless CLI against a real registry (docker-registry, distribution 2.8, on
// 127.0.0.1), part two: multi-platform images (pushed by `skopeo copy --all`), chunked uploads, a registry that
// answers with relative upload URLs, and `osless copy` between every pair of transports, each result checked
// against skopeo or a pull. Every test uses its own repositories and fresh stores.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { gzipSync } from "node:zlib";
import { IMAGES, ociLayout } from "../fixtures/images.ts";
import { putBlob, writeOciLayout } from "../fixtures/layout.ts";
import { startRegistry, type TestRegistry } from "../fixtures/registry.ts";
import { tarDirectory, tmpdir } from "../fixtures/tools.ts";
import {
  assertClean,
  blobSet,
  explainWith,
  fails,
  type ImagesJson,
  loadAs,
  manifestBlobs,
  newStore,
  ok,
  okJson,
  type PullJson,
  type PushJson,
  sha256,
  skopeo,
  skopeoRaw,
} from "./registry-kit.ts";

const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";
const REF_NAME = "org.opencontainers.image.ref.name";

let reg: TestRegistry;
let busybox: string;
let twoLayers: string;

before(async () => {
  reg = await startRegistry();
  explainWith(reg);
  busybox = await ociLayout(IMAGES.busybox);
  twoLayers = await ociLayout(IMAGES.twoLayers);
});

after(async () => {
  await reg?.stop();
});

/**
 * A gzip-compressed layer of `files` (GNU tar) put into `layout`: its descriptor and DiffID. Compressed, so that
 * skopeo pushes it as it is (it compresses uncompressed layers, which changes the manifests' digests).
 */
async function putLayer(layout: string, files: Record<string, string | Buffer>) {
  const dir = await tmpdir("pp-layer");
  const root = join(dir, "root");
  for (const [path, data] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), data);
  }
  await tarDirectory(root, join(dir, "layer.tar"));
  const tar = readFileSync(join(dir, "layer.tar"));
  const blob = await putBlob(layout, gzipSync(tar, { level: 1 }));
  return { descriptor: { mediaType: OCI_LAYER, ...blob }, diffId: sha256(tar) };
}

interface CopyJson {
  source: string;
  destination: string;
  digest: string;
}

interface PlatformImage {
  manifest: string;
  config: string;
}

/**
 * An OCI layout whose "latest" is an index of two images, linux/amd64 and linux/arm64, each with its own small
 * layer (/arch naming it) and a config saying its platform.
 */
async function multiPlatformLayout(): Promise<{
  layout: string;
  index: string;
  amd64: PlatformImage;
  arm64: PlatformImage;
}> {
  const layout = join(await tmpdir("pp-multi"), "layout");
  const images: Record<string, PlatformImage & { size: number }> = {};
  for (const arch of ["amd64", "arm64"]) {
    const layer = await putLayer(layout, { arch: `${arch}\n`, "etc/hostname": `multi-${arch}\n` });
    const config = await putBlob(
      layout,
      JSON.stringify({
        architecture: arch,
        os: "linux",
        config: { Cmd: ["/bin/sh"] },
        rootfs: { type: "layers", diff_ids: [layer.diffId] },
      }),
    );
    const manifest = await putBlob(
      layout,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, ...config },
        layers: [layer.descriptor],
      }),
    );
    images[arch] = { manifest: manifest.digest, config: config.digest, size: manifest.size };
  }
  const index = await putBlob(
    layout,
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: ["amd64", "arm64"].map((arch) => ({
        mediaType: OCI_MANIFEST,
        digest: images[arch]!.manifest,
        size: images[arch]!.size,
        platform: { architecture: arch, os: "linux" },
      })),
    }),
  );
  await writeFile(
    join(layout, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: OCI_INDEX, ...index, annotations: { [REF_NAME]: "latest" } }],
    }),
  );
  await writeFile(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  return { layout, index: index.digest, amd64: images.amd64!, arm64: images.arm64! };
}

/** An OCI layout ("latest") of one image whose single layer is `bytes` random bytes: unique to this run. */
async function randomImageLayout(bytes: number): Promise<string> {
  const layout = join(await tmpdir("pp-random"), "layout");
  const layer = await putLayer(layout, { "data.bin": randomBytes(bytes) });
  return writeOciLayout(layout, [layer]);
}

/** Request lines of the registry's access log with this method whose path starts with `prefix`. */
function logged(r: TestRegistry, method: string, prefix: string): string[] {
  return r
    .logs()
    .split("\n")
    .filter((l) => l.includes(`"${method} ${prefix}`));
}

test("multi-platform: --platform picks a child (aarch64 = arm64), the default is the host's, --all-platforms keeps the index, which pushes back unchanged", async () => {
  const multi = await multiPlatformLayout();
  const ref = `${reg.host}/mp/multi:1`;
  await skopeo([
    "copy",
    "--quiet",
    "--all",
    "--dest-tls-verify=false",
    `oci:${multi.layout}:latest`,
    `docker://${ref}`,
  ]);
  assert.equal((await skopeoRaw(ref)).digest, multi.index, "skopeo pushed the index unchanged");

  const arm = await newStore();
  const arm64 = await okJson<PullJson>(arm, ["pull", "--platform", "linux/arm64", ref]);
  assert.equal(arm64.digest, multi.index, "the reference resolved to the index");
  assert.equal(arm64.manifest, multi.arm64.manifest);
  assert.equal(arm64.id, multi.arm64.config);
  assert.deepEqual(arm64.platforms, ["linux/arm64"]);
  const armImages = await okJson<ImagesJson[]>(arm, ["images"]);
  assert.equal(armImages.length, 1);
  assert.equal(armImages[0]!.digest, multi.arm64.manifest);
  assert.equal(armImages[0]!.id, multi.arm64.config);
  assert.deepEqual(armImages[0]!.platforms, ["linux/arm64"]);
  await assertClean(arm);
  // The store holds the arm64 image only: its manifest, config and layer.
  const armBlobs = blobSet(arm);
  assert.equal(armBlobs.size, 3);
  assert.ok(armBlobs.has(multi.arm64.manifest) && !armBlobs.has(multi.amd64.manifest));

  const aarch = await okJson<PullJson>(await newStore(), ["pull", "--platform", "linux/aarch64", ref]);
  assert.equal(aarch.manifest, multi.arm64.manifest, "linux/aarch64 is linux/arm64");

  const host = process.arch === "arm64" ? multi.arm64 : multi.amd64;
  assert.ok(process.arch === "x64" || process.arch === "arm64", `this test needs an amd64 or arm64 host`);
  const dflt = await okJson<PullJson>(await newStore(), ["pull", ref]);
  assert.equal(dflt.manifest, host.manifest, `the default platform is this host's (${process.arch})`);
  assert.equal(dflt.id, host.config);

  const all = await newStore();
  const whole = await okJson<PullJson>(all, ["pull", "--all-platforms", ref]);
  assert.equal(whole.digest, multi.index);
  assert.equal(whole.manifest, multi.index);
  assert.equal(whole.id, multi.index);
  assert.deepEqual([...whole.platforms].sort(), ["linux/amd64", "linux/arm64"]);
  const images = await okJson<ImagesJson[]>(all, ["images"]);
  assert.equal(images.length, 1);
  assert.equal(images[0]!.name, ref);
  assert.equal(images[0]!.id, multi.index);
  assert.equal(images[0]!.digest, multi.index);
  assert.deepEqual([...images[0]!.platforms].sort(), ["linux/amd64", "linux/arm64"]);
  await assertClean(all);
  assert.equal(blobSet(all).size, 7, "index + 2 × (manifest, config, layer)");
  const wholeAgain = await okJson<PullJson>(all, ["pull", "--all-platforms", ref]);
  assert.equal(wholeAgain.upToDate, true);
  assert.equal(wholeAgain.downloaded, 0);

  // The whole index pushes to a new repository (children first) and skopeo reads back the same bytes.
  const copy = `${reg.host}/mp/again:2`;
  const pushed = await okJson<PushJson>(all, ["push", ref, copy]);
  assert.equal(pushed.digest, multi.index);
  assert.equal(pushed.mediaType, OCI_INDEX);
  assert.equal(pushed.blobs.length, 4, "two configs and two layers");
  assert.equal((await skopeoRaw(copy)).digest, multi.index);
  for (const arch of ["amd64", "arm64"] as const) {
    const child = await skopeoRaw(`${reg.host}/mp/again@${multi[arch].manifest}`);
    assert.equal(child.digest, multi[arch].manifest);
  }

  // copy: --all-platforms keeps the index (registry to registry, and into an OCI archive); --platform takes one.
  const store = await newStore();
  const copied = `${reg.host}/mp/copied:1`;
  const viaAll = await okJson<CopyJson>(store, [
    "copy",
    "--all-platforms",
    `docker://${ref}`,
    `docker://${copied}`,
  ]);
  assert.equal(viaAll.digest, multi.index);
  assert.equal((await skopeoRaw(copied)).digest, multi.index);
  const archive = join(await tmpdir("pp-multi-archive"), "multi.tar");
  const toArchive = await okJson<CopyJson>(store, [
    "copy",
    "-a",
    `docker://${ref}`,
    `oci-archive:${archive}:all`,
  ]);
  assert.equal(toArchive.digest, multi.index);
  const rawIndex = await skopeo(["inspect", "--raw", `oci-archive:${archive}:all`]);
  assert.equal(sha256(rawIndex), multi.index);
  const armDir = join(await tmpdir("pp-multi-oci"), "layout");
  const viaOne = await okJson<CopyJson>(store, [
    "copy",
    "--platform",
    "linux/arm64",
    `docker://${ref}`,
    `oci:${armDir}:arm`,
  ]);
  assert.equal(viaOne.digest, multi.arm64.manifest);
  const armInfo = JSON.parse(await skopeo(["inspect", `oci:${armDir}:arm`])) as {
    Digest: string;
    Architecture: string;
  };
  assert.equal(armInfo.Digest, multi.arm64.manifest);
  assert.equal(armInfo.Architecture, "arm64");
  assert.deepEqual(
    await okJson<ImagesJson[]>(store, ["images"]),
    [],
    "copy between two remotes leaves the store alone",
  );

  const none = await fails(await newStore(), ["pull", "--platform", "linux/s390x", ref], 1);
  assert.match(none.stderr, /s390x/);
  assert.match(none.stderr, /linux\/amd64/);
  assert.match(none.stderr, /linux\/arm64/);
});

test("chunked upload: --chunk-size 64KiB sends PATCH chunks and the image pulls back identical", async () => {
  const layout = await randomImageLayout(1 << 20);
  const ref = `${reg.host}/ch/big:1`;
  const a = await newStore();
  const loaded = await loadAs(a, layout, ref);
  const { layers } = manifestBlobs(layout, loaded.digest);
  const pushed = await okJson<PushJson>(a, ["push", "--chunk-size", "64KiB", ref]);
  assert.equal(pushed.digest, loaded.digest);
  const layer = pushed.blobs.find((b) => b.digest === layers[0]);
  assert.ok(layer, "the layer was pushed");
  assert.equal(layer.status, "uploaded");
  assert.ok(layer.size > 1 << 20);
  const patches = logged(reg, "PATCH", "/v2/ch/big/blobs/uploads/");
  // The layer in 64 KiB chunks; the config (smaller than one chunk) goes up in one PUT.
  assert.equal(patches.length, Math.ceil(layer.size / 65536), patches.join("\n"));

  const b = await newStore();
  const pulled = await okJson<PullJson>(b, ["pull", ref]);
  assert.equal(pulled.manifest, loaded.digest);
  assert.equal(pulled.id, loaded.id);
  await assertClean(b);
  assert.deepEqual(blobSet(b), blobSet(a));
});

test("a registry with relative upload URLs: monolithic and chunked pushes and a pull work", async () => {
  const rel = await startRegistry({ relativeUrls: true });
  explainWith(rel);
  try {
    const layout = await randomImageLayout(200_000);
    const store = await newStore();
    const loaded = await loadAs(store, layout, `${rel.host}/r/one:1`);
    const mono = await okJson<PushJson>(store, ["push", `${rel.host}/r/one:1`]);
    assert.equal(mono.digest, loaded.digest);
    for (const b of mono.blobs) assert.equal(b.status, "uploaded");
    // From a store that knows no other repository of this registry, so that nothing is mounted.
    const other = await newStore();
    await loadAs(other, layout, `${rel.host}/r/two:1`);
    const chunked = await okJson<PushJson>(other, ["push", "--chunk-size", "64KiB", `${rel.host}/r/two:1`]);
    assert.equal(chunked.digest, loaded.digest);
    for (const b of chunked.blobs) assert.equal(b.status, "uploaded");
    assert.ok(logged(rel, "PATCH", "/v2/r/two/blobs/uploads/").length >= 3);
    // The registry really answers with relative Locations that carry a query (_state), to which the final PUT
    // appended &digest=.
    const probe = await fetch(`${rel.url}/v2/r/probe/blobs/uploads/`, { method: "POST" });
    await probe.arrayBuffer();
    assert.equal(probe.status, 202);
    assert.match(probe.headers.get("location") ?? "", /^\/v2\/r\/probe\/blobs\/uploads\/[^?]+\?_state=/);
    for (const repo of ["one", "two"]) {
      assert.match(
        rel.logs(),
        new RegExp(`"PUT /v2/r/${repo}/blobs/uploads/[^" ?]+\\?_state=[^" ]*&digest=sha256%3A`),
      );
    }

    for (const repo of ["one", "two"]) {
      const ref = `${rel.host}/r/${repo}:1`;
      assert.equal((await skopeoRaw(ref)).digest, loaded.digest);
      const pulled = await okJson<PullJson>(await newStore(), ["pull", ref]);
      assert.equal(pulled.manifest, loaded.digest);
      assert.equal(pulled.id, loaded.id);
    }
  } finally {
    await rel.stop();
  }
});

test("copy between transports: registry, OCI layout, docker archive and the store, digests checked each time", async () => {
  const src = `${reg.host}/c/src:1`;
  await skopeo(["copy", "--quiet", "--dest-tls-verify=false", `oci:${busybox}:latest`, `docker://${src}`]);
  const original = await skopeoRaw(src);
  const config = (original.manifest.config as { digest: string }).digest;
  const work = await tmpdir("pp-copy");
  const store = await newStore();
  const copy = (from: string, to: string) => okJson<CopyJson>(store, ["copy", from, to]);

  // docker:// -> oci:DIR:tag
  const dir = join(work, "layout");
  const toOci = await copy(`docker://${src}`, `oci:${dir}:t`);
  assert.equal(toOci.digest, original.digest);
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const entry = index.manifests.find((m) => m.annotations?.[REF_NAME] === "t");
  assert.equal(entry?.digest, original.digest);
  const inDir = blobSet(dir);
  const { layers } = manifestBlobs(dir, original.digest);
  for (const d of [original.digest, config, ...layers]) assert.ok(inDir.has(d), `${d} in the layout`);
  const fromOci = JSON.parse(await skopeo(["inspect", `oci:${dir}:t`])) as { Digest: string };
  assert.equal(fromOci.Digest, original.digest);

  // oci:DIR:tag -> docker://
  const ociBack = await copy(`oci:${dir}:t`, `docker://${reg.host}/c/x:1`);
  assert.equal(ociBack.digest, original.digest);
  assert.equal((await skopeoRaw(`${reg.host}/c/x:1`)).digest, original.digest);

  // docker:// -> docker:// (another repository)
  const dup = await copy(`docker://${src}`, `docker://${reg.host}/c/dup:1`);
  assert.equal(dup.digest, original.digest);
  assert.equal((await skopeoRaw(`${reg.host}/c/dup:1`)).digest, original.digest);

  // docker:// -> the store under a name of our own
  const toStore = await copy(`docker://${src}`, "mine:1");
  assert.equal(toStore.digest, original.digest);
  const images = await okJson<ImagesJson[]>(store, ["images"]);
  const mine = images.find((i) => i.name === "docker.io/library/mine:1");
  assert.ok(mine, `mine:1 in ${JSON.stringify(images)}`);
  assert.equal(mine.digest, original.digest);
  assert.equal(mine.id, config);
  const listed = await ok(store, ["images", "mine"]);
  assert.match(listed.stdout, /^mine\s+1\s+/m);

  // the store -> docker://
  const fromStore = await copy("mine:1", `docker://${reg.host}/c/fromstore:1`);
  assert.equal(fromStore.digest, original.digest);
  assert.equal((await skopeoRaw(`${reg.host}/c/fromstore:1`)).digest, original.digest);

  // docker-archive (from osless save) -> docker://. A docker archive has no manifest: the one written is
  // rebuilt, so compare it with skopeo's and the image ID (the config bytes) with the original.
  const archive = join(work, "mine.tar");
  await ok(store, ["save", "-q", "-o", archive, "mine:1"]);
  const fromArchive = await copy(`docker-archive:${archive}`, `docker://${reg.host}/c/arch:1`);
  const archived = await skopeoRaw(`${reg.host}/c/arch:1`);
  assert.equal(fromArchive.digest, archived.digest);
  assert.equal((archived.manifest.config as { digest: string }).digest, config);
  const pulled = await okJson<PullJson>(await newStore(), ["pull", `${reg.host}/c/arch:1`]);
  assert.equal(pulled.manifest, fromArchive.digest);
  assert.equal(pulled.id, config);

  // A missing source names what is missing; nothing is written.
  const gone = join(work, "never");
  const r1 = await fails(store, ["copy", `docker://${reg.host}/c/nothere:1`, `oci:${gone}:t`], 3);
  assert.match(r1.stderr, /c\/nothere:1/);
  assert.match(r1.stderr, /(manifest|name) unknown/i);
  assert.equal(existsSync(gone), false);
  const r2 = await fails(store, ["copy", `oci:${gone}:t`, `docker://${reg.host}/c/y:1`], 3);
  assert.match(r2.stderr, new RegExp(gone));
  const r3 = await fails(store, ["copy", "nosuchimage:1", `docker://${reg.host}/c/y:1`], 3);
  assert.match(r3.stderr, /no such image/);
  // An unsupported transport is a usage error.
  const r4 = await fails(store, ["copy", "docker-daemon:x", `docker://${reg.host}/c/y:1`], 2);
  assert.match(r4.stderr, /transport "docker-daemon:" is not supported/);
  const r5 = await fails(store, ["copy", `docker://${src}`, "containers-storage:x"], 2);
  assert.match(r5.stderr, /not supported/);
  // None of the failed copies created c/y.
  const tags = await fetch(`${reg.url}/v2/c/y/tags/list`);
  await tags.arrayBuffer();
  assert.equal(tags.status, 404);
});

test("copy from a docker archive or an OCI layout holding two images that share a layer: pick one by name", async () => {
  const one = `${reg.host}/s/one:1`;
  const two = `${reg.host}/s/two:1`;
  const store = await newStore();
  const first = await loadAs(store, busybox, one);
  const second = await loadAs(store, twoLayers, two);
  const shared = manifestBlobs(busybox, first.digest).layers[0]!;
  assert.equal(
    manifestBlobs(twoLayers, second.digest).layers[0],
    shared,
    "twoLayers starts with busybox's layer",
  );
  const work = await tmpdir("pp-shared");

  // docker archive: the name after the path picks the image (RepoTags); without one, copy refuses.
  const archive = join(work, "both.tar");
  await ok(store, ["save", "-q", "-o", archive, one, two]);
  const fromArchive = await okJson<CopyJson>(store, [
    "copy",
    `docker-archive:${archive}:${two}`,
    `docker://${reg.host}/s/arch:1`,
  ]);
  const pushed = await skopeoRaw(`${reg.host}/s/arch:1`);
  assert.equal(pushed.digest, fromArchive.digest);
  assert.equal((pushed.manifest.config as { digest: string }).digest, second.id);
  const ambiguous = await fails(
    store,
    ["copy", `docker-archive:${archive}`, `docker://${reg.host}/s/x:1`],
    1,
  );
  assert.match(ambiguous.stderr, /holds 2 images; copy takes one/);
  const unknown = await fails(
    store,
    ["copy", `docker-archive:${archive}:nope:1`, `docker://${reg.host}/s/x:1`],
    3,
  );
  assert.match(unknown.stderr, /no image named nope:1/);
  assert.ok(unknown.stderr.includes(two), "the hint lists the archive's names");

  // The same archive loads whole into a fresh store (the shared layer staged once).
  const other = await newStore();
  const loaded = await okJson<{ images: { id: string }[] }>(other, ["load", "-i", archive]);
  assert.deepEqual(loaded.images.map((i) => i.id).sort(), [first.id, second.id].sort());
  await assertClean(other);

  // OCI layout with both images: its ref picks one.
  const dir = join(work, "layout");
  await ok(store, ["save", "-q", "-o", `oci:${dir}:a`, one]);
  await ok(store, ["save", "-q", "-o", `oci:${dir}:b`, two]);
  const fromDir = await okJson<CopyJson>(store, ["copy", `oci:${dir}:b`, `docker://${reg.host}/s/dir:1`]);
  assert.equal(fromDir.digest, second.digest);
  assert.equal((await skopeoRaw(`${reg.host}/s/dir:1`)).digest, second.digest);
  const r = await fails(store, ["copy", `oci:${dir}`, `docker://${reg.host}/s/x:1`], 1);
  assert.match(r.stderr, /holds 2 images/);
});
