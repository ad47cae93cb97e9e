/** The store: concurrent loads, kill -9 at each commit step, fsck, prune, tag, rmi, images, inspect. */
import assert from "node:assert/strict";
import { chmod, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { dockerArchive, IMAGES } from "../fixtures/images.ts";
import { tmpdir } from "../fixtures/tools.ts";
import { osless } from "./cli.ts";

async function freshStore(): Promise<string> {
  return join(await tmpdir("osless-store-"), "store");
}

async function blobs(root: string): Promise<string[]> {
  return (await readdir(join(root, "blobs/sha256")).catch(() => [])).sort();
}

async function json<T>(root: string, args: string[]): Promise<T> {
  const r = await osless(root, [...args, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as T;
}

test("two concurrent loads of the same archive both succeed and leave one copy of each blob", async () => {
  const root = await freshStore();
  const archive = await dockerArchive(IMAGES.twoLayers, "two:1");
  const [a, b] = await Promise.all([
    osless(root, ["load", "-i", archive]),
    osless(root, ["load", "-i", archive]),
  ]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const images = await json<{ name: string }[]>(root, ["images"]);
  assert.deepEqual(
    images.map((i) => i.name),
    ["docker.io/library/two:1"],
  );
  // 2 layers + config + manifest, each once.
  assert.equal((await blobs(root)).length, 4);
  const fsck = await json<{ problems: unknown[] }>(root, ["fsck"]);
  assert.deepEqual(fsck.problems, []);
  assert.deepEqual(await readdir(join(root, "ingest")), []);
});

for (const fault of [
  "after-write",
  "before-fsync",
  "after-rename",
  "after-rename-before-index",
  "during-index-write",
]) {
  test(`kill -9 at ${fault}: the store stays consistent and a re-run succeeds`, async () => {
    const root = await freshStore();
    await osless(root, ["load", "-q", "-i", await dockerArchive(IMAGES.hello, "first:1")]);
    const indexBefore = await readFile(join(root, "index.json"), "utf8");
    const archive = await dockerArchive(IMAGES.twoLayers, "two:1");
    const killed = await osless(root, ["load", "-i", archive], { env: { OSLESS_FAULT: fault } });
    assert.equal(killed.code, 128 + 9, `expected SIGKILL, got ${killed.code}: ${killed.stderr}`);
    // index.json is the old one, intact; every blob hashes to its name; no image points at missing content.
    assert.equal(await readFile(join(root, "index.json"), "utf8"), indexBefore);
    const fsck = await osless(root, ["fsck", "--json"]);
    assert.equal(fsck.code, 0, fsck.stdout);
    const report = JSON.parse(fsck.stdout) as { problems: { kind: string }[]; leftovers: string[] };
    assert.deepEqual(report.problems, []);
    const ingest = await readdir(join(root, "ingest"));
    assert.equal(report.leftovers.length, ingest.length, "every ingest leftover is listed");
    // prune removes the debris; the re-run loads.
    await json(root, ["prune"]);
    assert.deepEqual(await readdir(join(root, "ingest")), []);
    assert.equal((await blobs(root)).length, 3, "only the first image's manifest, config and layer remain");
    const again = await osless(root, ["load", "-i", archive]);
    assert.equal(again.code, 0, again.stderr);
    const names = (await json<{ name: string }[]>(root, ["images"])).map((i) => i.name).sort();
    assert.deepEqual(names, ["docker.io/library/first:1", "docker.io/library/two:1"]);
    assert.deepEqual((await json<{ problems: unknown[] }>(root, ["fsck"])).problems, []);
  });
}

test("fsck finds a corrupt blob (exit 4) and --repair drops the broken image", async () => {
  const root = await freshStore();
  await osless(root, ["load", "-q", "-i", await dockerArchive(IMAGES.hello, "hello:1")]);
  await osless(root, ["load", "-q", "-i", await dockerArchive(IMAGES.busybox, "bb:1")]);
  const inspect = await json<{ RootFS: { Layers: string[] } }[]>(root, ["inspect", "hello:1"]);
  const layer = inspect[0]!.RootFS.Layers[0]!.slice(7);
  const path = join(root, "blobs/sha256", layer);
  await chmod(path, 0o644);
  const buf = await readFile(path);
  buf[1000] = (buf[1000]! + 1) % 256;
  await writeFile(path, buf);
  const bad = await osless(root, ["fsck"]);
  assert.equal(bad.code, 4);
  assert.match(bad.stdout, new RegExp(`blob sha256:${layer} has content sha256:`));
  const fixed = await osless(root, ["fsck", "--repair"]);
  assert.equal(fixed.code, 0, fixed.stderr);
  assert.match(fixed.stdout, /removed image docker\.io\/library\/hello:1/);
  assert.deepEqual(
    (await json<{ name: string }[]>(root, ["images"])).map((i) => i.name),
    ["docker.io/library/bb:1"],
  );
  assert.equal((await osless(root, ["fsck"])).code, 0);
});

test("tag, images filter, inspect by name/ID/digest, rmi and prune behave like docker", async () => {
  const root = await freshStore();
  await osless(root, ["load", "-q", "-i", await dockerArchive(IMAGES.hello, "example.com/hello:1")]);
  assert.equal((await osless(root, ["tag", "example.com/hello:1", "hello:latest"])).code, 0);
  const imgs = await json<{ name: string; id: string; digest: string }[]>(root, ["images"]);
  assert.equal(imgs.length, 2);
  assert.equal(imgs[0]!.id, imgs[1]!.id);
  const table = await osless(root, ["images", "hello"]);
  assert.match(
    table.stdout,
    /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\nhello\s+latest\s+[0-9a-f]{12}\s/,
  );
  assert.doesNotMatch(table.stdout, /example\.com/);
  const id = imgs[0]!.id;
  for (const key of ["hello", id, id.slice(7, 19), imgs[0]!.digest, `hello@${imgs[0]!.digest}`]) {
    const r = await json<{ Id: string; Config: { Entrypoint: string[] } }[]>(root, ["inspect", key]);
    assert.equal(r[0]!.Id, id, key);
    assert.deepEqual(r[0]!.Config.Entrypoint, ["/hello"]);
  }
  const raw = await osless(root, ["inspect", "--raw", "hello"]);
  assert.equal(JSON.parse(raw.stdout).schemaVersion, 2);
  // rmi by ID with two names needs --force; by name it untags and keeps the content for the other name.
  const refused = await osless(root, ["rmi", id.slice(7, 19)]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /must be forced/);
  const untag = await osless(root, ["rmi", "hello"]);
  assert.equal(untag.code, 0, untag.stderr);
  assert.match(untag.stdout, /^Untagged: hello:latest$/m);
  assert.doesNotMatch(untag.stdout, /Deleted/);
  const blobCount = (await blobs(root)).length;
  assert.equal(blobCount, 3);
  const last = await osless(root, ["rmi", "example.com/hello:1"]);
  assert.match(last.stdout, /Untagged: example\.com\/hello:1/);
  assert.equal((last.stdout.match(/^Deleted: sha256:/gm) ?? []).length, 3);
  assert.deepEqual(await blobs(root), []);
  const missing = await osless(root, ["inspect", "hello"]);
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /no such image: hello/);
});

test("rmi collects the content of its last name; other images stay intact", async () => {
  const root = await freshStore();
  await osless(root, ["load", "-q", "-i", await dockerArchive(IMAGES.busybox, "bb:1")]);
  await osless(root, ["load", "-q", "-i", await dockerArchive(IMAGES.twoLayers, "two:1")]);
  const before = await blobs(root);
  // Untag two:1 by re-pointing nothing: remove its name, leaving an unreferenced graph.
  await osless(root, ["rmi", "two:1"]);
  const r = await json<{ removedBlobs: string[] }>(root, ["prune"]);
  assert.deepEqual(r.removedBlobs, []); // rmi already collected it
  assert.ok((await blobs(root)).length < before.length);
  assert.deepEqual(
    (await json<{ name: string }[]>(root, ["images"])).map((i) => i.name),
    ["docker.io/library/bb:1"],
  );
  assert.deepEqual((await json<{ problems: unknown[] }>(root, ["fsck"])).problems, []);
});

test("prune clears debris of a first load killed mid-write, and never creates a store", async () => {
  const none = await freshStore();
  const empty = await osless(none, ["prune", "--json"]);
  assert.equal(empty.code, 0, empty.stderr);
  assert.deepEqual(await readdir(join(none, "..")), [], "prune created a store");
  const root = await freshStore();
  const killed = await osless(root, ["load", "-i", await dockerArchive(IMAGES.hello, "hello:1")], {
    env: { OSLESS_FAULT: "after-write" },
  });
  assert.equal(killed.code, 128 + 9);
  const debris = (await readdir(join(root, "ingest"))).length;
  assert.ok(debris >= 1, "the killed load left its staged blobs in ingest/");
  const r = await json<{ removedIngests: number }>(root, ["prune"]);
  assert.equal(r.removedIngests, debris);
  assert.deepEqual(await readdir(join(root, "ingest")), []);
});
