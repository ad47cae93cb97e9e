/**
 * Bad input for `load`: each case gets a clear error naming the problem, a non-zero exit, and leaves the store
 * exactly as it was (byte for byte). Bad archives are made from a real skopeo-made docker archive, edited with
 * GNU tar and python.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmod, cp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { dockerArchive, IMAGES, ociArchive } from "../fixtures/images.ts";
import { needTool, run, tmpdir } from "../fixtures/tools.ts";
import { osless, snapshot } from "./cli.ts";

const TAR = needTool("tar", "tar");

/** A store that already holds one image, so "unchanged" is a real claim. */
async function seededStore(): Promise<{ root: string; before: string[] }> {
  const root = join(await tmpdir("osless-store-"), "store");
  const r = await osless(root, ["load", "-q", "-i", await dockerArchive(IMAGES.busybox, "seed:1")]);
  assert.equal(r.code, 0, r.stderr);
  return { root, before: await snapshot(root) };
}

/** Unpack a docker archive into a directory, let `edit` change it, pack it again. */
async function editedArchive(edit: (dir: string) => Promise<void>): Promise<string> {
  const src = await dockerArchive(IMAGES.hello, "example.com/hello:1");
  const work = await tmpdir("osless-bad-");
  const dir = join(work, "x");
  await run("mkdir", ["-p", dir]);
  await run(TAR, ["-xf", src, "-C", dir]);
  await edit(dir);
  const out = join(work, "bad.tar");
  const names = (await readdir(dir)).sort();
  await run(TAR, ["-cf", out, "-C", dir, ...names]);
  return out;
}

async function manifestOf(
  dir: string,
): Promise<{ Config: string; Layers: string[]; RepoTags: string[] | null }[]> {
  return JSON.parse(await readFile(join(dir, "manifest.json"), "utf8"));
}

async function expectRefused(archive: string, pattern: RegExp, input?: Buffer): Promise<void> {
  const { root, before } = await seededStore();
  const r = input ? await osless(root, ["load"], { input }) : await osless(root, ["load", "-i", archive]);
  assert.notEqual(r.code, 0, `load should fail; stdout: ${r.stdout}`);
  assert.match(r.stderr, pattern);
  assert.match(r.stderr, /^Error: /m);
  assert.deepEqual(await snapshot(root), before, "the store changed");
}

test("truncated archive is refused and the store is unchanged", async () => {
  const src = await dockerArchive(IMAGES.hello, "example.com/hello:1");
  const data = await readFile(src);
  const cut = join(await tmpdir("osless-trunc-"), "cut.tar");
  await writeFile(cut, data.subarray(0, Math.floor(data.length / 2) + 100));
  await expectRefused(cut, /truncated|not a readable tar|not in the archive/i);
});

test("a layer whose bytes do not match its DiffID is refused", async () => {
  const bad = await editedArchive(async (dir) => {
    const [item] = await manifestOf(dir);
    const layer = join(dir, item!.Layers[0]!);
    await chmod(layer, 0o644);
    const buf = await readFile(layer);
    buf[600] = (buf[600]! + 1) % 256; // inside the first file's data
    await writeFile(layer, buf);
  });
  await expectRefused(bad, /does not match|digest/i);
});

test("a config whose content does not match its digest name is refused", async () => {
  const bad = await editedArchive(async (dir) => {
    const [item] = await manifestOf(dir);
    const cfg = join(dir, item!.Config);
    await chmod(cfg, 0o644);
    const j = JSON.parse(await readFile(cfg, "utf8"));
    j.author = "mallory";
    await writeFile(cfg, JSON.stringify(j));
  });
  await expectRefused(bad, /config.*(digest|does not match)/i);
});

test("manifest.json naming a missing layer is refused", async () => {
  const bad = await editedArchive(async (dir) => {
    const m = await manifestOf(dir);
    const layer = m[0]!.Layers[0]!;
    await rm(join(dir, layer));
  });
  await expectRefused(bad, /not in the archive/);
});

test("invalid JSON in manifest.json is refused with its position", async () => {
  const bad = await editedArchive(async (dir) => {
    await writeFile(join(dir, "manifest.json"), '[{"Config": "x.json", ');
  });
  await expectRefused(bad, /manifest\.json.*(JSON|position|line)/i);
});

test("an unparseable image name in RepoTags is refused", async () => {
  const bad = await editedArchive(async (dir) => {
    const m = await manifestOf(dir);
    m[0]!.RepoTags = ["Not A Valid:Name"];
    await writeFile(join(dir, "manifest.json"), JSON.stringify(m));
  });
  await expectRefused(bad, /image name "Not A Valid:Name" is invalid/);
});

test("an OCI archive whose manifest is over 4 MiB is refused before parsing", async () => {
  const src = await ociArchive(IMAGES.hello);
  const work = await tmpdir("osless-big-");
  const dir = join(work, "x");
  await run("mkdir", ["-p", dir]);
  await run(TAR, ["-xf", src, "-C", dir]);
  const big = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      pad: "x".repeat(4 * 1024 * 1024),
    }),
  );
  const hex = createHash("sha256").update(big).digest("hex");
  await writeFile(join(dir, "blobs/sha256", hex), big);
  const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8"));
  index.manifests = [
    { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: `sha256:${hex}`, size: big.length },
  ];
  await writeFile(join(dir, "index.json"), JSON.stringify(index));
  const out = join(work, "big.tar");
  await run(TAR, ["-cf", out, "-C", dir, "oci-layout", "index.json", "blobs"]);
  await expectRefused(out, /over the 4194304-byte limit|too large|4 MiB/i);
});

test("an unknown manifest media type is refused naming the type", async () => {
  const src = await ociArchive(IMAGES.hello);
  const work = await tmpdir("osless-mt-");
  const dir = join(work, "x");
  await run("mkdir", ["-p", dir]);
  await run(TAR, ["-xf", src, "-C", dir]);
  const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8"));
  index.manifests[0].mediaType = "application/vnd.example.thing.v1+json";
  await writeFile(join(dir, "index.json"), JSON.stringify(index));
  const out = join(work, "mt.tar");
  await run(TAR, ["-cf", out, "-C", dir, "oci-layout", "index.json", "blobs"]);
  await expectRefused(out, /application\/vnd\.example\.thing\.v1\+json/);
});

test("a file that is not an archive is refused; so is garbage on stdin", async () => {
  const junk = join(await tmpdir("osless-junk-"), "junk.tar");
  await writeFile(junk, Buffer.alloc(5000, 0x41));
  await expectRefused(junk, /not a readable tar archive|not an image archive|neither manifest\.json/i);
  await expectRefused(
    "-",
    /not a readable tar|neither manifest|not an image archive/i,
    Buffer.alloc(3000, 0x42),
  );
});

test("a missing input file gives exit 3 and a hint", async () => {
  const { root, before } = await seededStore();
  const r = await osless(root, ["load", "-i", "/nonexistent/x.tar"]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /cannot read \/nonexistent\/x\.tar/);
  assert.match(r.stderr, /hint:/);
  assert.deepEqual(await snapshot(root), before);
});

test("--json errors are machine readable", async () => {
  const root = join(await tmpdir("osless-store-"), "store");
  const r = await osless(root, ["load", "--json", "-i", "/nonexistent/x.tar"]);
  assert.equal(r.code, 3);
  const err = JSON.parse(r.stderr).error;
  assert.equal(err.code, "E_NOT_FOUND");
  assert.match(err.hint, /archive/);
});

test("a failed load into a fresh store creates nothing", async () => {
  const root = join(await tmpdir("osless-fresh-"), "store");
  const junk = join(await tmpdir("osless-junk-"), "junk.tar");
  await writeFile(junk, Buffer.alloc(2048, 0x41));
  const r = await osless(root, ["load", "-i", junk]);
  assert.notEqual(r.code, 0);
  assert.deepEqual(await snapshot(root), []);
});

test("copying the archive elsewhere does not matter: load reads by content", async () => {
  const src = await dockerArchive(IMAGES.hello, "example.com/hello:1");
  const copy = join(await tmpdir("osless-cp-"), "copy.tar");
  await cp(src, copy);
  const root = join(await tmpdir("osless-store-"), "store");
  const a = await osless(root, ["load", "-i", copy]);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /Loaded image: example\.com\/hello:1/);
});
