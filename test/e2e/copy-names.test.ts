// copy from the store into a docker archive names the image as the destination says (skopeo's
// docker-archive:FILE:NAME), as it does for copies that do not start in the store.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { IMAGES, ociLayout } from "../fixtures/images.ts";
import { tmpdir } from "../fixtures/tools.ts";
import { newStore, ok, okJson } from "./registry-kit.ts";

test("copy IMAGE docker-archive:FILE:NAME writes the archive with NAME, and leaves the store's names alone", async () => {
  const s = await newStore();
  const loaded = await okJson<{ images: { id: string }[] }>(s, [
    "load",
    "-i",
    `oci:${await ociLayout(IMAGES.hello)}:latest`,
  ]);
  const id = loaded.images[0]?.id as string;
  await ok(s, ["tag", id, "src/app:1"]);
  const archive = join(await tmpdir("copy-names-"), "out.tar");
  await ok(s, ["copy", "src/app:1", `docker-archive:${archive}:other/name:2`]);
  const t = await newStore();
  await ok(t, ["load", "-i", archive]);
  const names = (await okJson<{ name: string; id: string }[]>(t, ["images"])).map((i) => [i.name, i.id]);
  assert.deepEqual(names, [["docker.io/other/name:2", id]]);
  const before = (await okJson<{ name: string }[]>(s, ["images"])).map((i) => i.name).sort();
  assert.ok(!before.includes("docker.io/other/name:2"), `the store gained a name: ${before.join(", ")}`);
});
