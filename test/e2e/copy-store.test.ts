// What arrives in the store, and what the user is told: copy from a multi-image archive brings only the chosen
// image under the destination name; --platform on a single-platform image warns (as docker); push without a
// destination names the repository it pushes to.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { IMAGES, ociLayout } from "../fixtures/images.ts";
import { startRegistry, type TestRegistry } from "../fixtures/registry.ts";
import { tmpdir } from "../fixtures/tools.ts";
import { explainWith, newStore, ok, okJson } from "./registry-kit.ts";

let reg: TestRegistry;

before(async () => {
  reg = await startRegistry({ logLevel: "error" });
  explainWith(reg);
});

after(async () => {
  await reg?.stop();
});

test("copy docker-archive:FILE:NAME into the store brings that one image, under the destination name only", async () => {
  const a = await newStore();
  for (const [spec, name] of [
    [IMAGES.busybox, "x/a:1"],
    [IMAGES.hello, "x/b:1"],
  ] as const) {
    const loaded = await okJson<{ images: { id: string }[] }>(a, [
      "load",
      "-i",
      `oci:${await ociLayout(spec)}:latest`,
    ]);
    await ok(a, ["tag", loaded.images[0]?.id as string, name]);
  }
  const archive = join(await tmpdir("copy-store-"), "two.tar");
  await ok(a, ["save", "-o", archive, "x/a:1", "x/b:1"]);
  const b = await newStore();
  await ok(b, ["copy", `docker-archive:${archive}:x/a:1`, "mine:1"]);
  const images = await okJson<{ name: string; id: string }[]>(b, ["images"]);
  assert.deepEqual(
    images.map((i) => i.name),
    ["docker.io/library/mine:1"],
  );
  const want = (await okJson<{ name: string; id: string }[]>(a, ["images"])).find(
    (i) => i.name === "docker.io/x/a:1",
  );
  assert.equal(images[0]?.id, want?.id);
  const fsck = await okJson<{ problems: unknown[]; blobsChecked: number }>(b, ["fsck"]);
  assert.deepEqual(fsck.problems, []);
  assert.equal(fsck.blobsChecked, 3, "manifest, config and layer of the one image; nothing of the other");
});

test("--platform on a single-platform image pulls it with a warning; push without a destination names its repository", async () => {
  const s = await newStore();
  const loaded = await okJson<{ images: { id: string }[] }>(s, [
    "load",
    "-i",
    `oci:${await ociLayout(IMAGES.hello)}:latest`,
  ]);
  const name = `${reg.host}/single/hello:1`;
  await ok(s, ["tag", loaded.images[0]?.id as string, name]);
  const push = await ok(s, ["push", name]);
  assert.match(
    push.stderr,
    new RegExp(`The push refers to repository \\[${reg.host.replace(/\./g, "\\.")}/single/hello\\]`),
  );
  const t = await newStore();
  const pull = await ok(t, ["pull", "--platform", "linux/arm64", name]);
  assert.match(
    pull.stderr,
    /warning: the image's platform \(linux\/amd64\) does not match the requested platform \(linux\/arm64\)/,
  );
  const same = await ok(t, ["pull", "--platform", "linux/amd64", name]);
  assert.doesNotMatch(same.stderr, /warning/);
});
