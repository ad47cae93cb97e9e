// Indexes carry more than images: buildx puts attestation manifests (platform unknown/unknown, config
// application/vnd.oci.empty.v1+json, in-toto layers) beside the platform images, cosign adds signatures. Pulling
// one platform ignores them; --all-platforms keeps the index whole (their blobs copied, never parsed); push
// sends it back byte for byte.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { loadImages } from "../../src/archive/load.ts";
import { saveImages } from "../../src/archive/save.ts";
import { digestOf } from "../../src/digest/index.ts";
import { RegistryClient } from "../../src/registry/client.ts";
import { Store } from "../../src/store/layout.ts";
import { fsck } from "../../src/store/maintenance.ts";
import { pullImage } from "../../src/transfer/pull.ts";
import { pushImage } from "../../src/transfer/push.ts";
import { IMAGES, ociLayout } from "../fixtures/images.ts";
import { startRegistry, type TestRegistry } from "../fixtures/registry.ts";
import { needTool, run, tmpdir } from "../fixtures/tools.ts";

let reg: TestRegistry;
let indexDigest: string;
let imageDigest: string;

function blob(data: string | Buffer, mediaType: string) {
  const bytes = Buffer.from(data);
  return { bytes, descriptor: { mediaType, digest: digestOf(bytes), size: bytes.length } };
}

before(async () => {
  reg = await startRegistry({ logLevel: "error" });
  await run(needTool("skopeo", "skopeo"), [
    "--insecure-policy",
    "copy",
    "-q",
    "--dest-tls-verify=false",
    `oci:${await ociLayout(IMAGES.hello)}:latest`,
    `docker://${reg.host}/art/app:image`,
  ]);
  const client = new RegistryClient(reg.host);
  const repo = client.repository("art/app");
  const image = await repo.getManifest("image");
  imageDigest = image.digest;
  const config = blob("{}", "application/vnd.oci.empty.v1+json");
  const statement = blob(
    JSON.stringify({
      _type: "https://in-toto.io/Statement/v0.1",
      predicateType: "https://spdx.dev/Document",
    }),
    "application/vnd.in-toto+json",
  );
  for (const b of [config, statement])
    await repo.pushBlob(b.descriptor, async function* () {
      yield b.bytes;
    });
  const attestation = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: config.descriptor,
      layers: [
        {
          ...statement.descriptor,
          annotations: { "in-toto.io/predicate-type": "https://spdx.dev/Document" },
        },
      ],
    }),
  );
  const attDigest = digestOf(attestation);
  await repo.putManifest(attDigest, attestation, "application/vnd.oci.image.manifest.v1+json", attDigest);
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        {
          mediaType: image.mediaType,
          digest: image.digest,
          size: image.size,
          platform: { os: "linux", architecture: "amd64" },
        },
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: attDigest,
          size: attestation.length,
          platform: { os: "unknown", architecture: "unknown" },
          annotations: {
            "vnd.docker.reference.type": "attestation-manifest",
            "vnd.docker.reference.digest": image.digest,
          },
        },
      ],
    }),
  );
  indexDigest = digestOf(index);
  await repo.putManifest("multi", index, "application/vnd.oci.image.index.v1+json", indexDigest);
  await client.close();
});

after(async () => {
  await reg?.stop();
});

test("one platform from an index with an attestation manifest: the image, nothing else", async () => {
  const store = await Store.open(await tmpdir("art-one-"));
  const r = await pullImage(store, `${reg.host}/art/app:multi`, {
    platform: { os: "linux", architecture: "amd64" },
  });
  assert.equal(r.digest, indexDigest);
  assert.equal(r.manifest, imageDigest);
  assert.deepEqual((await fsck(store)).problems, []);
});

test("--all-platforms keeps the attestation (blobs copied, not parsed) and push gives the same index back", async () => {
  const store = await Store.open(await tmpdir("art-all-"));
  const r = await pullImage(store, `${reg.host}/art/app:multi`, { allPlatforms: true });
  assert.equal(r.manifest, indexDigest);
  assert.equal(r.id, indexDigest);
  const check = await fsck(store);
  assert.deepEqual(check.problems, []);
  assert.equal(
    check.blobsChecked,
    7,
    "index, image manifest, config, layer, attestation manifest, its config and statement",
  );
  const pushed = await pushImage(store, r.name, `${reg.host}/art/copy:multi`);
  assert.equal(pushed.digest, indexDigest);
  // Saved as an OCI archive and loaded again: the attestation survives the round trip too.
  const file = `${await tmpdir("art-save-")}/multi.tar`;
  await saveImages(store, [r.name], `oci-archive:${file}`);
  const other = await Store.open(await tmpdir("art-load-"));
  const loaded = await loadImages(other, `oci-archive:${file}`);
  assert.equal(loaded.images[0]?.digest, indexDigest);
  const again = await fsck(other);
  assert.deepEqual(again.problems, []);
  assert.equal(again.blobsChecked, 7);
  const raw = await run(needTool("skopeo", "skopeo"), [
    "inspect",
    "--tls-verify=false",
    "--raw",
    `docker://${reg.host}/art/copy:multi`,
  ]);
  assert.equal(digestOf(raw.stdout), indexDigest);
});
