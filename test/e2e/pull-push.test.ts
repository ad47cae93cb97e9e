// pull, push and copy through the osless CLI against a real registry (Debian's docker-registry, distribution
// 2.8, anonymous, on 127.0.0.1), with skopeo as the peer that writes what osless reads and reads what osless
// writes. Every test uses its own repositories and fresh osless stores, so the tests do not depend on each other.
// Multi-platform images, chunked uploads, a registry with relative upload URLs and copy between transports are in
// pull-push-copy.test.ts.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { IMAGES, ociLayout } from "../fixtures/images.ts";
import { startRegistry, type TestRegistry } from "../fixtures/registry.ts";
import { tmpdir } from "../fixtures/tools.ts";
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
  skopeo,
  skopeoRaw,
} from "./registry-kit.ts";

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

// --- tests -----------------------------------------------------------------------------------------------------

test("round trip: load, tag, push, pull into a fresh store: same manifest digest and image ID; re-pull and re-push move nothing", async () => {
  const name = `${reg.host}/a/bb:1`;
  const a = await newStore();
  const loaded = await loadAs(a, busybox, name);
  const { config, layers } = manifestBlobs(busybox, loaded.digest);

  const pushed = await okJson<PushJson>(a, ["push", name]);
  assert.equal(pushed.name, name);
  assert.equal(pushed.digest, loaded.digest);
  assert.equal(pushed.mediaType, "application/vnd.oci.image.manifest.v1+json");
  assert.deepEqual(pushed.blobs.map((b) => b.digest).sort(), [config, ...layers].sort());
  for (const b of pushed.blobs) assert.equal(b.status, "uploaded", `first push of ${b.digest}`);
  assert.equal(
    pushed.uploaded,
    pushed.blobs.reduce((n, b) => n + b.size, 0),
  );

  const b = await newStore();
  const pulled = await okJson<PullJson>(b, ["pull", name]);
  assert.equal(pulled.name, name);
  assert.equal(pulled.digest, loaded.digest);
  assert.equal(pulled.manifest, loaded.digest);
  assert.equal(pulled.id, loaded.id);
  assert.equal(pulled.id, config);
  assert.deepEqual(pulled.platforms, ["linux/amd64"]);
  assert.deepEqual(pulled.blobs.map((x) => x.digest).sort(), [...layers].sort());
  for (const x of pulled.blobs) assert.equal(x.status, "downloaded");
  assert.equal(pulled.upToDate, false);
  assert.ok(pulled.downloaded > 0);
  await assertClean(b);
  // What the second store holds is byte-identical to the first.
  assert.deepEqual(blobSet(b), blobSet(a));

  // Pulled again: nothing moves.
  const again = await ok(b, ["pull", name]);
  assert.match(again.stderr, /Status: Image is up to date for /, again.stderr);
  assert.match(again.stderr, new RegExp(`Digest: ${loaded.digest}`));
  assert.equal(again.stdout.trim(), name);
  const quiet = await ok(b, ["pull", "-q", name]);
  assert.equal(quiet.stdout, `${name}\n`);
  assert.equal(quiet.stderr, "");
  const againJson = await okJson<PullJson>(b, ["pull", name]);
  assert.equal(againJson.upToDate, true);
  assert.equal(againJson.downloaded, 0);
  assert.ok(againJson.blobs.length > 0);
  for (const x of againJson.blobs) assert.equal(x.status, "present");

  // By digest too, into yet another store.
  const c = await newStore();
  const byDigest = await okJson<PullJson>(c, ["pull", `${reg.host}/a/bb@${loaded.digest}`]);
  assert.equal(byDigest.manifest, loaded.digest);
  assert.equal(byDigest.id, loaded.id);

  // Pushed again: the registry has every blob.
  const repush = await okJson<PushJson>(a, ["push", name]);
  assert.equal(repush.digest, loaded.digest);
  assert.equal(repush.uploaded, 0);
  assert.equal(repush.blobs.length, 1 + layers.length);
  for (const x of repush.blobs) assert.equal(x.status, "exists", `re-push of ${x.digest}`);
  const plain = await ok(a, ["push", name]);
  assert.equal(plain.stdout.trim(), `1: digest: ${loaded.digest} size: ${pushed.size}`);
});

test("an image pushed by skopeo is pulled with skopeo's digests and unpacks with its whiteout applied", async () => {
  const ref = `${reg.host}/x/two:1`;
  await skopeo(["copy", "--quiet", "--dest-tls-verify=false", `oci:${twoLayers}:latest`, `docker://${ref}`]);
  const theirs = await skopeoRaw(ref);
  const store = await newStore();
  const pulled = await okJson<PullJson>(store, ["pull", ref]);
  assert.equal(pulled.digest, theirs.digest);
  assert.equal(pulled.manifest, theirs.digest);
  const config = (theirs.manifest.config as { digest: string }).digest;
  assert.equal(pulled.id, config);
  const layers = (theirs.manifest.layers as { digest: string }[]).map((l) => l.digest);
  assert.equal(layers.length, 2);
  assert.deepEqual(pulled.blobs.map((b) => b.digest).sort(), [...layers].sort());
  await assertClean(store);

  const rootfs = join(await tmpdir("pp-unpack"), "rootfs");
  await ok(store, ["unpack", "-q", ref, rootfs]);
  assert.equal(readFileSync(join(rootfs, "etc/motd"), "utf8"), "Hello from the second layer\n");
  assert.match(readFileSync(join(rootfs, "etc/passwd"), "utf8"), /^app:x:1000:1000:/m);
  assert.ok(existsSync(join(rootfs, "bin/busybox")), "the first layer's busybox");
  assert.ok(existsSync(join(rootfs, "usr/bin")), "usr/bin stays");
  assert.equal(existsSync(join(rootfs, "usr/bin/wget")), false, "/usr/bin/wget is whited out");
  assert.equal(existsSync(join(rootfs, "usr/bin/.wh.wget")), false, "no whiteout file is left");
});

test("an image pushed by osless is read by skopeo: same digest, same blobs", async () => {
  const ref = `${reg.host}/o/two:1`;
  const store = await newStore();
  const loaded = await loadAs(store, twoLayers, ref);
  const pushed = await okJson<PushJson>(store, ["push", ref]);
  assert.equal(pushed.digest, loaded.digest);

  const info = JSON.parse(await skopeo(["inspect", "--tls-verify=false", `docker://${ref}`])) as {
    Digest: string;
    Layers: string[];
  };
  assert.equal(info.Digest, loaded.digest);
  assert.deepEqual(info.Layers, manifestBlobs(twoLayers, loaded.digest).layers);

  const dir = join(await tmpdir("pp-skopeo-oci"), "layout");
  await skopeo(["copy", "--quiet", "--src-tls-verify=false", `docker://${ref}`, `oci:${dir}:t`]);
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  assert.equal(index.manifests.length, 1);
  assert.equal(index.manifests[0]!.digest, loaded.digest);
  assert.equal(index.manifests[0]!.annotations?.["org.opencontainers.image.ref.name"], "t");
  // skopeo's layout holds exactly the blobs of our store (manifest, config, both layers), bytes unchanged.
  const theirs = blobSet(dir);
  const ours = blobSet(store);
  assert.equal(theirs.size, 4);
  assert.deepEqual(theirs, ours);
});

test("cross-repository mount: an image pulled from one repository is pushed to another by mounting its blobs; a failed mount falls back to an upload", async () => {
  const src = `${reg.host}/m/src:1`;
  const dst = `${reg.host}/m/dst:1`;
  await skopeo(["copy", "--quiet", "--dest-tls-verify=false", `oci:${busybox}:latest`, `docker://${src}`]);
  const store = await newStore();
  const pulled = await okJson<PullJson>(store, ["pull", src]);

  const pushed = await okJson<PushJson>(store, ["push", src, dst]);
  assert.equal(pushed.name, dst);
  assert.equal(pushed.digest, pulled.digest);
  assert.equal(pushed.uploaded, 0);
  assert.equal(pushed.blobs.length, 2);
  for (const b of pushed.blobs) {
    assert.equal(b.status, "mounted", `blob ${b.digest}`);
    assert.equal(b.mountedFrom, "m/src");
  }
  assert.equal((await skopeoRaw(dst)).digest, pulled.digest);
  // The registry saw mount requests and no upload for the destination.
  const log = reg.logs();
  assert.match(log, /POST \/v2\/m\/dst\/blobs\/uploads\/\?mount=sha256/);
  assert.doesNotMatch(log, /PUT \/v2\/m\/dst\/blobs\/uploads\//);

  const again = await okJson<PushJson>(store, ["push", src, dst]);
  for (const b of again.blobs) assert.equal(b.status, "exists", `blob ${b.digest}`);
  assert.equal(again.uploaded, 0);

  // A candidate that does not have the blobs: the registry answers the mount with an upload session (202),
  // which the push then uses. (The image is named after a repository it was never pushed to.)
  const other = await newStore();
  const loaded = await loadAs(other, twoLayers, `${reg.host}/m/never-pushed:1`);
  const fallback = await okJson<PushJson>(other, [
    "push",
    `${reg.host}/m/never-pushed:1`,
    `${reg.host}/m/dst2:1`,
  ]);
  assert.equal(fallback.digest, loaded.digest);
  assert.equal(fallback.blobs.length, 3);
  for (const b of fallback.blobs) assert.equal(b.status, "uploaded", `blob ${b.digest}`);
  const log2 = reg.logs();
  assert.match(
    log2,
    /"POST \/v2\/m\/dst2\/blobs\/uploads\/\?mount=sha256[^" ]*&from=m%2Fnever-pushed HTTP\/1\.1" 202/,
  );
  assert.equal(
    log2.split("\n").filter((l) => l.includes('"POST /v2/m/dst2/blobs/uploads/')).length,
    3,
    "one POST per blob: the mount's upload session is used, no second one is opened",
  );
  assert.equal((await skopeoRaw(`${reg.host}/m/dst2:1`)).digest, loaded.digest);
});

test("errors: bad reference exit 2, unknown tag exit 3 (manifest unknown), push of a missing image exit 3", async () => {
  const store = await newStore();
  for (const bad of ["UPPER", "foo/UPPER", `${reg.host}/Bad/name:1`]) {
    const r = await fails(store, ["pull", bad], 2);
    assert.match(r.stderr, /invalid reference .*must be lowercase/, r.stderr);
  }
  const r0 = await fails(store, ["pull", `${reg.host}/x@sha256:1234`], 2);
  assert.match(r0.stderr, /not a valid sha256 digest/);

  await skopeo([
    "copy",
    "--quiet",
    "--dest-tls-verify=false",
    `oci:${busybox}:latest`,
    `docker://${reg.host}/e/bb:1`,
  ]);
  const r1 = await fails(store, ["pull", `${reg.host}/e/bb:nosuchtag`], 3);
  assert.match(r1.stderr, /manifest unknown/i);
  assert.match(r1.stderr, /e\/bb:nosuchtag/);
  const r2 = await fails(store, ["pull", `${reg.host}/e/nosuchrepo:1`], 3);
  assert.match(r2.stderr, /(manifest|name|repository) unknown/i);
  const r3 = await fails(store, ["pull", "--json", `${reg.host}/e/bb:nosuchtag`], 3);
  const err = JSON.parse(r3.stderr) as { error: { code: string; message: string } };
  assert.equal(err.error.code, "E_NOT_FOUND");

  const r4 = await fails(store, ["push", "nosuchimage"], 3);
  assert.match(r4.stderr, /no such image: nosuchimage/);
  const r5 = await fails(store, ["push", "nosuchimage", `${reg.host}/e/x:1`], 3);
  assert.match(r5.stderr, /no such image/);
  // Nothing failed half-way into the store.
  const images = await okJson<ImagesJson[]>(store, ["images"]);
  assert.deepEqual(images, []);
});
