// Archive interop with the real peers, both ways: what skopeo and umoci write loads into osless with the same
// image IDs, configs and layers; what osless saves is read by skopeo, loaded by podman and unpacked by umoci.
// Every test has its own osless store (and podman store), so the tests are independent of each other.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { dockerArchive, IMAGES, type ImageSpec, ociArchive, ociLayout } from "../fixtures/images.ts";
import { needTool, type RunOptions, run, tmpdir } from "../fixtures/tools.ts";

const repoRoot = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const CLI = ["--import", "tsx", join(repoRoot, "src/cli/main.ts")];

const skopeoBin = () => needTool("skopeo", "skopeo");
const podmanBin = () => needTool("podman", "podman");
const umociBin = () => needTool("umoci", "umoci");
const tarBin = () => needTool("tar", "tar");
const bashBin = () => needTool("bash", "bash");

const sha256 = (data: string | Buffer) => `sha256:${createHash("sha256").update(data).digest("hex")}`;

// --- osless --------------------------------------------------------------------------------------------------

/** A fresh, empty osless store (an OCI layout directory the CLI creates on first use). */
async function newStore(): Promise<string> {
  return join(await tmpdir("interop-store"), "store");
}

/** Runs the osless CLI from source against `store`; rejects (with stderr) on a non-zero exit. */
async function osless(store: string, args: string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(process.execPath, [...CLI, ...args], {
    ...opts,
    cwd: repoRoot,
    env: { ...opts.env, OSLESS_ROOT: store },
  });
  return r.stdout;
}

async function oslessJson<T>(store: string, args: string[], opts: RunOptions = {}): Promise<T> {
  return JSON.parse(await osless(store, [...args, "--json"], opts)) as T;
}

interface LoadJson {
  format: string;
  images: { names: string[]; digest: string; id: string; mediaType: string; refName?: string }[];
}

interface ImagesJson {
  name: string | null;
  id: string;
  digest: string;
}

interface InspectJson {
  Id: string;
  RepoTags: string[];
  Config: { Entrypoint?: string[]; Cmd?: string[]; Env?: string[] };
  RootFS: { Layers: string[] };
  Descriptor: { digest: string };
  Manifest: { digest: string; layers: { digest: string; mediaType: string }[] };
}

async function inspect(store: string, image: string): Promise<InspectJson> {
  const out = await oslessJson<InspectJson[]>(store, ["inspect", image]);
  assert.equal(out.length, 1);
  return out[0]!;
}

/** The raw config bytes osless stored (the CLI ends them with a newline of its own). */
async function rawConfig(store: string, image: string): Promise<string> {
  const out = await osless(store, ["inspect", "--config", image]);
  assert.ok(out.endsWith("\n"));
  return out.slice(0, -1);
}

async function assertFsckClean(store: string, images: number): Promise<void> {
  const r = await oslessJson<{ problems: unknown[]; images: number; blobsChecked: number }>(store, ["fsck"]);
  assert.deepEqual(r.problems, [], "fsck finds no problems");
  assert.equal(r.images, images);
  assert.ok(r.blobsChecked > 0);
}

/** The config fields a fixture spec sets, as they must appear in the image config. */
function assertConfigOf(cfg: InspectJson["Config"], spec: ImageSpec, what: string): void {
  assert.deepEqual(cfg.Entrypoint, spec.entrypoint, `${what}: Entrypoint`);
  assert.deepEqual(cfg.Cmd, spec.cmd, `${what}: Cmd`);
  assert.deepEqual(cfg.Env, spec.env, `${what}: Env`);
}

// --- peers ---------------------------------------------------------------------------------------------------

async function skopeo(args: string[]): Promise<string> {
  const t = await tmpdir("interop-skopeo");
  // No policy.json needed (--insecure-policy); temporary files stay in our own directory.
  const r = await run(skopeoBin(), ["--insecure-policy", "--tmpdir", t, ...args], { env: { TMPDIR: t } });
  return r.stdout;
}

interface SkopeoView {
  /** Manifest digest: sha256 of the raw manifest bytes. */
  digest: string;
  /** Config digest from the manifest, i.e. the image ID. */
  config: string;
  /** Raw config bytes. */
  configRaw: string;
  /** DiffIDs from the config. */
  diffIds: string[];
  /** Layer digests from `skopeo inspect` (the manifest's layers). */
  layers: string[];
}

/** What skopeo reports for `ref`: raw manifest, raw config, and its parsed inspect view. */
async function skopeoView(ref: string): Promise<SkopeoView> {
  const raw = await skopeo(["inspect", "--raw", ref]);
  const manifest = JSON.parse(raw) as { config: { digest: string } };
  const configRaw = await skopeo(["inspect", "--config", "--raw", ref]);
  assert.equal(sha256(configRaw), manifest.config.digest, `${ref}: config bytes match their digest`);
  const config = JSON.parse(configRaw) as { rootfs: { diff_ids: string[] } };
  const info = JSON.parse(await skopeo(["inspect", ref])) as { Layers: string[] };
  return {
    digest: sha256(raw),
    config: manifest.config.digest,
    configRaw,
    diffIds: config.rootfs.diff_ids,
    layers: info.Layers,
  };
}

/** podman with a private store, run root and libpod tmp dir under `root`; nothing touches the host's. */
async function podman(root: string, args: string[]): Promise<string> {
  const tmp = join(root, "tmp");
  mkdirSync(tmp, { recursive: true });
  const r = await run(
    podmanBin(),
    [
      "--root",
      join(root, "storage"),
      "--runroot",
      join(root, "run"),
      "--tmpdir",
      join(root, "libpod"),
      "--storage-driver",
      "vfs",
      "--cgroup-manager=cgroupfs",
      "--events-backend=file",
      ...args,
    ],
    { env: { TMPDIR: tmp } },
  );
  return r.stdout;
}

interface PodmanImage {
  Id: string;
  Names?: string[];
}

/** `podman load -i FILE` into a fresh private store; returns that store and what `podman images` lists. */
async function podmanLoad(file: string): Promise<{ root: string; images: PodmanImage[] }> {
  const root = await tmpdir("interop-podman");
  const out = await podman(root, ["load", "-i", file]);
  assert.match(out, /Loaded image/, `podman load -i ${file}`);
  const images = JSON.parse(await podman(root, ["images", "--format", "json"])) as PodmanImage[];
  return { root, images };
}

async function umociUnpack(layoutAndTag: string): Promise<string> {
  const bundle = join(await tmpdir("interop-bundle"), "bundle");
  const rootless = process.getuid?.() === 0 ? [] : ["--rootless"];
  await run(umociBin(), ["unpack", ...rootless, "--image", layoutAndTag, bundle]);
  return join(bundle, "rootfs");
}

/** `bash -c script` with "$@" = args; for pipes and redirections the peers' docs use. */
async function sh(script: string, args: string[], opts: RunOptions = {}): Promise<string> {
  return (await run(bashBin(), ["-c", `set -euo pipefail\n${script}`, "bash", ...args], opts)).stdout;
}

// --- fixtures ------------------------------------------------------------------------------------------------

interface DockerCase {
  key: "hello" | "twoLayers" | "busybox";
  name: string;
}

const DOCKER_CASES: DockerCase[] = [
  { key: "hello", name: "example.com/hello:1" },
  { key: "twoLayers", name: "example.com/two:1" },
  { key: "busybox", name: "example.com/x:1" },
];

/** A store holding `spec` loaded from skopeo's docker-archive of it, named `name`. */
async function storeWith(spec: ImageSpec, name: string): Promise<{ store: string; archive: string }> {
  const archive = await dockerArchive(spec, name);
  const store = await newStore();
  const r = await oslessJson<LoadJson>(store, ["load", "-i", archive]);
  assert.deepEqual(r.images[0]?.names, [name]);
  return { store, archive };
}

// === 1. skopeo / umoci → osless ==============================================================================

for (const c of DOCKER_CASES) {
  test(`skopeo docker-archive (${c.key}, ${c.name}) loads with skopeo's config digest as ID`, async () => {
    const spec = IMAGES[c.key];
    const archive = await dockerArchive(spec, c.name);
    const peer = await skopeoView(`docker-archive:${archive}`);
    assert.deepEqual(peer.layers, peer.diffIds, "docker-archive layers are the uncompressed DiffIDs");
    const store = await newStore();

    const loaded = await oslessJson<LoadJson>(store, ["load", "-i", archive]);
    assert.equal(loaded.format, "docker-archive");
    assert.equal(loaded.images.length, 1);
    assert.deepEqual(loaded.images[0]!.names, [c.name]);
    assert.equal(loaded.images[0]!.id, peer.config);

    const images = await oslessJson<ImagesJson[]>(store, ["images"]);
    assert.deepEqual(
      images.map((i) => [i.name, i.id]),
      [[c.name, peer.config]],
    );

    const info = await inspect(store, c.name);
    assert.equal(info.Id, peer.config);
    assert.deepEqual(info.RepoTags, [c.name]);
    assertConfigOf(info.Config, spec, c.key);
    assert.deepEqual(info.RootFS.Layers, peer.diffIds);
    assert.deepEqual(
      info.Manifest.layers.map((l) => l.digest),
      peer.layers,
      "uncompressed layers kept as skopeo wrote them",
    );
    assert.equal(await rawConfig(store, c.name), peer.configRaw, "config bytes unchanged");
    await assertFsckClean(store, 1);
  });
}

test("skopeo oci-archive loads (untagged, ref.name latest) with skopeo's manifest and config digests", async () => {
  const spec = IMAGES.twoLayers;
  const archive = await ociArchive(spec, "latest");
  const peer = await skopeoView(`oci-archive:${archive}`);
  const store = await newStore();

  const loaded = await oslessJson<LoadJson>(store, ["load", "-i", `oci-archive:${archive}`]);
  assert.equal(loaded.format, "oci-archive");
  assert.equal(loaded.images.length, 1);
  const img = loaded.images[0]!;
  assert.deepEqual(img.names, [], "ref.name latest is a tag, not an image name");
  assert.equal(img.refName, "latest");
  assert.equal(img.id, peer.config);
  assert.equal(img.digest, peer.digest, "manifest stored byte for byte");

  const images = await oslessJson<ImagesJson[]>(store, ["images"]);
  assert.deepEqual(
    images.map((i) => [i.name, i.id, i.digest]),
    [[null, peer.config, peer.digest]],
  );
  const info = await inspect(store, peer.config);
  assert.equal(info.Id, peer.config);
  assertConfigOf(info.Config, spec, "twoLayers");
  assert.deepEqual(info.RootFS.Layers, peer.diffIds);
  assert.deepEqual(
    info.Manifest.layers.map((l) => l.digest),
    peer.layers,
  );
  assert.equal(await rawConfig(store, peer.config), peer.configRaw);
  await assertFsckClean(store, 1);
});

test("an umoci-made OCI layout loads from oci:DIR:latest", async () => {
  const spec = IMAGES.hello;
  const layout = await ociLayout(spec, "latest");
  const peer = await skopeoView(`oci:${layout}:latest`);
  const store = await newStore();

  const loaded = await oslessJson<LoadJson>(store, ["load", "-i", `oci:${layout}:latest`]);
  assert.equal(loaded.format, "oci-dir");
  assert.equal(loaded.images.length, 1);
  assert.equal(loaded.images[0]!.id, peer.config);
  assert.equal(loaded.images[0]!.digest, peer.digest);
  assert.equal(loaded.images[0]!.refName, "latest");

  const images = await oslessJson<ImagesJson[]>(store, ["images"]);
  assert.deepEqual(
    images.map((i) => [i.name, i.id, i.digest]),
    [[null, peer.config, peer.digest]],
  );
  await assertFsckClean(store, 1);
  // Name it, as the CLI suggests for a ref.name that is only a tag.
  await osless(store, ["tag", peer.config.slice(7, 19), "example.com/hello:oci"]);
  const named = await oslessJson<ImagesJson[]>(store, ["images", "example.com/hello:oci"]);
  assert.deepEqual(
    named.map((i) => [i.name, i.id, i.digest]),
    [["example.com/hello:oci", peer.config, peer.digest]],
  );
  const info = await inspect(store, "example.com/hello:oci");
  assert.equal(info.Id, peer.config);
  assertConfigOf(info.Config, spec, "hello");
  assert.deepEqual(info.RootFS.Layers, peer.diffIds);
  assert.equal(info.Manifest.layers[0]?.mediaType, "application/vnd.oci.image.layer.v1.tar+gzip");
  assert.equal(await rawConfig(store, "example.com/hello:oci"), peer.configRaw);
});

// === 2. osless → skopeo / podman / umoci =====================================================================

/** skopeo reads `ref` (written by osless) as the image `info` describes: same config bytes, same DiffIDs. */
async function assertSkopeoSees(ref: string, info: InspectJson, config: string): Promise<SkopeoView> {
  const peer = await skopeoView(ref);
  assert.equal(peer.config, info.Id, `${ref}: config digest is the image ID`);
  assert.equal(peer.configRaw, config, `${ref}: config bytes`);
  assert.deepEqual(peer.diffIds, info.RootFS.Layers, `${ref}: DiffIDs`);
  return peer;
}

/** podman loaded the image under `name` with osless's ID and the same DiffIDs and Cmd/Entrypoint. */
async function assertPodmanHas(
  loaded: { root: string; images: PodmanImage[] },
  name: string,
  info: InspectJson,
): Promise<void> {
  const img = loaded.images.find((i) => i.Names?.includes(name));
  assert.ok(img, `podman images lists ${name}: ${JSON.stringify(loaded.images)}`);
  assert.equal(`sha256:${img.Id}`, info.Id, "podman's image ID is our config digest");
  const [pi] = JSON.parse(await podman(loaded.root, ["image", "inspect", name])) as {
    RootFS: { Layers: string[] };
    Config: { Entrypoint?: string[]; Cmd?: string[] };
  }[];
  assert.deepEqual(pi?.RootFS.Layers, info.RootFS.Layers);
  assert.deepEqual(pi?.Config.Cmd, info.Config.Cmd);
  assert.deepEqual(pi?.Config.Entrypoint, info.Config.Entrypoint);
}

test("osless save (docker-archive) is read by skopeo (inspect, copy to oci:) and loaded by podman", async () => {
  const name = "example.com/two:1";
  const { store } = await storeWith(IMAGES.twoLayers, name);
  const info = await inspect(store, name);
  const config = await rawConfig(store, name);
  const out = join(await tmpdir("interop-save"), "x.tar");
  await osless(store, ["save", "-q", "-o", out, name]);

  const peer = await assertSkopeoSees(`docker-archive:${out}`, info, config);
  assert.deepEqual(peer.layers, info.RootFS.Layers, "docker-archive layers are the DiffIDs");
  assert.equal(peer.layers.length, 2);

  const copied = join(await tmpdir("interop-copy"), "oci");
  await skopeo(["copy", "--quiet", `docker-archive:${out}`, `oci:${copied}:t`]);
  const copy = JSON.parse(await skopeo(["inspect", "--config", `oci:${copied}:t`])) as {
    rootfs: { diff_ids: string[] };
    config: { Cmd?: string[] };
  };
  assert.deepEqual(copy.rootfs.diff_ids, info.RootFS.Layers);
  assert.deepEqual(copy.config.Cmd, ["sh"]);

  await assertPodmanHas(await podmanLoad(out), name, info);
});

test("osless save (docker-archive) of an image with gzip layers decompresses them for skopeo and podman", async () => {
  // The umoci layout's layers are gzip-compressed; a docker archive must carry them uncompressed.
  const layout = await ociLayout(IMAGES.busybox, "latest");
  const store = await newStore();
  const loaded = await oslessJson<LoadJson>(store, ["load", "-i", `oci:${layout}:latest`]);
  const name = "example.com/x:1";
  await osless(store, ["tag", loaded.images[0]!.id, name]);
  const info = await inspect(store, name);
  assert.match(info.Manifest.layers[0]!.mediaType, /gzip/);
  const config = await rawConfig(store, name);
  const out = join(await tmpdir("interop-save"), "x.tar");
  await osless(store, ["save", "-q", "-o", out, name]);

  const peer = await assertSkopeoSees(`docker-archive:${out}`, info, config);
  assert.deepEqual(peer.layers, info.RootFS.Layers);
  await assertPodmanHas(await podmanLoad(out), name, info);
});

test("osless save --format oci-archive is read by skopeo and loaded by podman", async () => {
  const name = "example.com/two:1";
  const { store } = await storeWith(IMAGES.twoLayers, name);
  const info = await inspect(store, name);
  const config = await rawConfig(store, name);
  const out = join(await tmpdir("interop-save"), "y.tar");
  await osless(store, ["save", "-q", "--format", "oci-archive", "-o", out, name]);

  const peer = await assertSkopeoSees(`oci-archive:${out}`, info, config);
  assert.equal(peer.digest, info.Descriptor.digest, "the stored manifest, byte for byte");
  assert.deepEqual(
    peer.layers,
    info.Manifest.layers.map((l) => l.digest),
  );
  await assertPodmanHas(await podmanLoad(out), name, info);
});

interface OciDirCase {
  key: "hello" | "busybox" | "twoLayers";
  name: string;
  check: (rootfs: string) => Promise<void>;
}

const OCI_DIR_CASES: OciDirCase[] = [
  {
    key: "hello",
    name: "example.com/hello:1",
    check: async (rootfs) => {
      const hello = join(rootfs, "hello");
      assert.ok(lstatSync(hello).isFile());
      assert.equal(lstatSync(hello).mode & 0o111, 0o111, "/hello is executable");
      assert.equal((await run(hello, [])).stdout, "Hello from a static binary\n");
    },
  },
  {
    key: "busybox",
    name: "example.com/x:1",
    check: async (rootfs) => {
      assert.ok(lstatSync(join(rootfs, "bin/busybox")).isFile());
      assert.equal(lstatSync(join(rootfs, "bin/busybox")).mode & 0o111, 0o111);
      assert.ok(lstatSync(join(rootfs, "bin/sh")).isSymbolicLink());
      assert.ok(lstatSync(join(rootfs, "usr/bin/wget")).isSymbolicLink(), "the base layer has usr/bin/wget");
      assert.match(readFileSync(join(rootfs, "etc/passwd"), "utf8"), /^root:x:0:0:/);
    },
  },
  {
    key: "twoLayers",
    name: "example.com/two:1",
    check: async (rootfs) => {
      assert.equal(readFileSync(join(rootfs, "etc/motd"), "utf8"), "Hello from the second layer\n");
      assert.match(readFileSync(join(rootfs, "etc/passwd"), "utf8"), /^app:x:1000:1000:/m, "upper passwd");
      assert.ok(lstatSync(join(rootfs, "bin/sh")).isSymbolicLink(), "lower layer present");
      assert.ok(!existsSync(join(rootfs, "usr/bin/wget")), "whited-out usr/bin/wget is gone");
      assert.ok(
        !readdirSync(join(rootfs, "usr/bin")).some((n) => n.startsWith(".wh.")),
        "no whiteout files left",
      );
    },
  },
];

for (const c of OCI_DIR_CASES) {
  test(`osless save -o oci:DIR (${c.key}) is unpacked by umoci and read by skopeo`, async () => {
    const { store } = await storeWith(IMAGES[c.key], c.name);
    const info = await inspect(store, c.name);
    const config = await rawConfig(store, c.name);
    const dir = join(await tmpdir("interop-ocidir"), "layout");
    await osless(store, ["save", "-q", "-o", `oci:${dir}`, c.name]);
    const tag = c.name.slice(c.name.lastIndexOf(":") + 1);

    const rootfs = await umociUnpack(`${dir}:${tag}`);
    await c.check(rootfs);

    const peer = await assertSkopeoSees(`oci:${dir}:${tag}`, info, config);
    assert.equal(peer.digest, info.Descriptor.digest);
  });
}

test("osless save -o oci:DIR of several images: distinct tags all reach umoci, a shared tag is refused", async () => {
  const { store } = await storeWith(IMAGES.hello, "example.com/hello:1");
  await osless(store, ["load", "-q", "-i", await dockerArchive(IMAGES.twoLayers, "example.com/two:1")]);
  const work = await tmpdir("interop-ocidir");

  // Both would be ref.name "1": the layout could hold only one of them (umoci calls such a tag ambiguous).
  const clash = join(work, "clash");
  const r = await run(
    process.execPath,
    [...CLI, "save", "-q", "-o", `oci:${clash}`, "example.com/hello:1", "example.com/two:1"],
    { cwd: repoRoot, env: { OSLESS_ROOT: store }, allowFail: true },
  );
  assert.notEqual(r.code, 0, "refused");
  assert.match(r.stderr, /would both be named "1"/);
  assert.ok(!existsSync(clash), "nothing written");

  await osless(store, ["tag", "example.com/two:1", "example.com/two:2"]);
  const dir = join(work, "layout");
  await osless(store, ["save", "-q", "-o", `oci:${dir}`, "example.com/hello:1", "example.com/two:2"]);
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as {
    manifests: { annotations?: Record<string, string> }[];
  };
  assert.deepEqual(index.manifests.map((m) => m.annotations?.["org.opencontainers.image.ref.name"]).sort(), [
    "1",
    "2",
  ]);
  await OCI_DIR_CASES[0]!.check(await umociUnpack(`${dir}:1`));
  await OCI_DIR_CASES[2]!.check(await umociUnpack(`${dir}:2`));
  const back = await newStore();
  const loaded = await oslessJson<LoadJson>(back, ["load", "-i", `oci:${dir}`]);
  assert.deepEqual(loaded.images.map((i) => i.names).sort(), [
    ["example.com/hello:1"],
    ["example.com/two:2"],
  ]);
  await assertFsckClean(back, 2);
});

// === 3. round trips ===========================================================================================

async function assertSameImage(a: string, b: string, name: string): Promise<void> {
  const ia = await inspect(a, name);
  const ib = await inspect(b, name);
  assert.equal(ib.Id, ia.Id, "same image ID");
  assert.deepEqual(ib.RootFS.Layers, ia.RootFS.Layers, "same DiffIDs");
  assert.deepEqual(
    ib.Manifest.layers.map((l) => l.digest),
    ia.Manifest.layers.map((l) => l.digest),
    "same layer blobs",
  );
  assert.equal(ib.Descriptor.digest, ia.Descriptor.digest, "same manifest digest");
  assert.equal(await rawConfig(b, name), await rawConfig(a, name));
  const images = await oslessJson<ImagesJson[]>(b, ["images"]);
  assert.deepEqual(
    images.map((i) => [i.name, i.id]),
    [[name, ia.Id]],
  );
  await assertFsckClean(b, 1);
}

test("round trip: skopeo docker-archive → osless → save → second store keeps ID and DiffIDs", async () => {
  const name = "example.com/two:1";
  const { store: a, archive } = await storeWith(IMAGES.twoLayers, name);
  const peer = await skopeoView(`docker-archive:${archive}`);
  const out = join(await tmpdir("interop-rt"), "rt.tar");
  await osless(a, ["save", "-q", "-o", out, name]);
  const b = await newStore();
  const loaded = await oslessJson<LoadJson>(b, ["load", "-i", out]);
  assert.deepEqual(loaded.images[0]?.names, [name]);
  assert.equal(loaded.images[0]?.id, peer.config);
  await assertSameImage(a, b, name);
  assert.deepEqual((await inspect(b, name)).RootFS.Layers, peer.diffIds);
});

test("round trip: skopeo oci-archive → osless → save (oci-archive, oci:DIR) → other stores keep ID and DiffIDs", async () => {
  const archive = await ociArchive(IMAGES.twoLayers, "latest");
  const peer = await skopeoView(`oci-archive:${archive}`);
  const a = await newStore();
  await osless(a, ["load", "-q", "-i", `oci-archive:${archive}`]);
  const name = "example.com/two:oci";
  await osless(a, ["tag", peer.config, name]);

  const work = await tmpdir("interop-rt");
  await osless(a, ["save", "-q", "--format", "oci-archive", "-o", join(work, "rt.tar"), name]);
  const b = await newStore();
  const loaded = await oslessJson<LoadJson>(b, ["load", "-i", join(work, "rt.tar")]);
  assert.equal(loaded.format, "oci-archive");
  assert.deepEqual(loaded.images[0]?.names, [name], "full name from io.containerd.image.name");
  assert.equal(loaded.images[0]?.id, peer.config);
  assert.equal(loaded.images[0]?.digest, peer.digest);
  await assertSameImage(a, b, name);

  await osless(a, ["save", "-q", "-o", `oci:${join(work, "layout")}`, name]);
  const c = await newStore();
  await osless(c, ["load", "-q", "-i", `oci:${join(work, "layout")}:oci`]);
  await assertSameImage(a, c, name);
  assert.deepEqual((await inspect(c, name)).RootFS.Layers, peer.diffIds);
});

// === 4. junk members ==========================================================================================

/** An AppleDouble header (magic 0x00051607, version 2, "Mac OS X" filler, no entries), as macOS tar adds. */
const APPLE_DOUBLE = Buffer.concat([
  Buffer.from([0x00, 0x05, 0x16, 0x07, 0x00, 0x02, 0x00, 0x00]),
  Buffer.from("Mac OS X        ", "latin1"),
  Buffer.from([0x00, 0x00]),
]);

/** The start of a Finder .DS_Store file (alignment word 1, then the "Bud1" buddy-allocator magic). */
const DS_STORE = Buffer.concat([Buffer.from([0, 0, 0, 1]), Buffer.from("Bud1", "latin1"), Buffer.alloc(24)]);

async function assertLoadsLike(file: string, name: string, id: string): Promise<void> {
  const store = await newStore();
  const loaded = await oslessJson<LoadJson>(store, ["load", "-i", file]);
  assert.equal(loaded.format, "docker-archive");
  assert.deepEqual(
    loaded.images.map((i) => [i.names, i.id]),
    [[[name], id]],
  );
  const images = await oslessJson<ImagesJson[]>(store, ["images"]);
  assert.deepEqual(
    images.map((i) => [i.name, i.id]),
    [[name, id]],
  );
  await assertFsckClean(store, 1);
}

test("a docker-archive with .DS_Store and AppleDouble ._ members appended still loads", async () => {
  const name = "example.com/hello:1";
  const archive = await dockerArchive(IMAGES.hello, name);
  const peer = await skopeoView(`docker-archive:${archive}`);
  const work = await tmpdir("interop-junk");
  const copy = join(work, "junk.tar");
  copyFileSync(archive, copy);
  chmodSync(copy, 0o644);
  const junk = join(work, "junk");
  mkdirSync(junk);
  const layerDir = (await run(tarBin(), ["-tf", archive])).stdout
    .split("\n")
    .find((n) => n.endsWith("/layer.tar"))
    ?.split("/")[0];
  assert.ok(layerDir, "skopeo wrote a legacy layer directory");
  mkdirSync(join(junk, layerDir));
  writeFileSync(join(junk, ".DS_Store"), DS_STORE);
  writeFileSync(join(junk, "._manifest.json"), APPLE_DOUBLE);
  writeFileSync(join(junk, "._repositories"), APPLE_DOUBLE);
  writeFileSync(join(junk, layerDir, "._layer.tar"), APPLE_DOUBLE);
  await run(tarBin(), [
    "-rf",
    copy,
    "-C",
    junk,
    ".DS_Store",
    "._manifest.json",
    "._repositories",
    `${layerDir}/._layer.tar`,
  ]);
  const names = (await run(tarBin(), ["-tf", copy])).stdout.split("\n");
  assert.ok(names.includes("._manifest.json") && names.includes(".DS_Store"), names.join(" "));
  await assertLoadsLike(copy, name, peer.config);
});

test("a docker-archive re-tarred macOS style (./ names, ._ siblings first, .DS_Store) still loads", async () => {
  const name = "example.com/two:1";
  const archive = await dockerArchive(IMAGES.twoLayers, name);
  const peer = await skopeoView(`docker-archive:${archive}`);
  const work = await tmpdir("interop-junk");
  const tree = join(work, "tree");
  mkdirSync(tree);
  await run(tarBin(), ["-xf", archive, "-C", tree]);
  const members = readdirSync(tree, { recursive: true, encoding: "utf8" });
  for (const m of members) {
    const parts = m.split("/");
    const base = parts.pop()!;
    if (base.startsWith(".")) continue;
    writeFileSync(join(tree, ...parts, `._${base}`), APPLE_DOUBLE);
  }
  writeFileSync(join(tree, ".DS_Store"), DS_STORE);
  const out = join(work, "mac.tar");
  await run(tarBin(), ["-cf", out, "--sort=name", "-C", tree, "."]);
  const names = (await run(tarBin(), ["-tf", out])).stdout.split("\n");
  assert.ok(names.indexOf("./._manifest.json") >= 0);
  assert.ok(names.indexOf("./._manifest.json") < names.indexOf("./manifest.json"), "._ sibling comes first");
  await assertLoadsLike(out, name, peer.config);
});

// === 5. compressed and streamed archives =====================================================================

test("a gzip-compressed docker-archive loads (plain path and docker-archive:)", async () => {
  const name = "example.com/x:1";
  const archive = await dockerArchive(IMAGES.busybox, name);
  const peer = await skopeoView(`docker-archive:${archive}`);
  const gz = join(await tmpdir("interop-gz"), "x.tar.gz");
  await sh('gzip -c "$1" > "$2"', [archive, gz]);
  assert.deepEqual([...readFileSync(gz).subarray(0, 2)], [0x1f, 0x8b]);
  await assertLoadsLike(gz, name, peer.config);
  await assertLoadsLike(`docker-archive:${gz}`, name, peer.config);
});

test("a docker-archive piped to `osless load` on stdin loads, plain and gzip-compressed", async () => {
  const name = "example.com/hello:1";
  const archive = await dockerArchive(IMAGES.hello, name);
  const peer = await skopeoView(`docker-archive:${archive}`);
  const cli = [process.execPath, ...CLI];
  for (const [what, script] of [
    ["plain", 'f=$1; shift; cat "$f" | "$@" load --json'],
    ["gzip", 'f=$1; shift; gzip -c "$f" | "$@" load --json'],
  ] as const) {
    const store = await newStore();
    const out = await sh(script, [archive, ...cli], { cwd: repoRoot, env: { OSLESS_ROOT: store } });
    const loaded = JSON.parse(out) as LoadJson;
    assert.equal(loaded.format, "docker-archive", what);
    assert.deepEqual(
      loaded.images.map((i) => [i.names, i.id]),
      [[[name], peer.config]],
      what,
    );
    const info = await inspect(store, name);
    assert.deepEqual(info.RootFS.Layers, peer.diffIds, what);
    assertConfigOf(info.Config, IMAGES.hello, what);
    await assertFsckClean(store, 1);
  }
});
