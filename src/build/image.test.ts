import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { tmpdir } from "../../test/fixtures/tools.ts";
import { openImage } from "../store/images.ts";
import { imageLayers } from "../store/layers.ts";
import { Store } from "../store/layout.ts";
import { addLayer, commitImage, scratchImage, withConfig } from "./image.ts";

const EPOCH = 1_700_000_000;
const CREATED = new Date(EPOCH * 1000).toISOString();

async function build(store: Store, names: string[]) {
  let s = scratchImage({ os: "linux", architecture: "amd64" });
  s = await addLayer(
    store,
    s,
    [
      {
        path: "hello",
        type: "file",
        mode: 0o755,
        uid: 0,
        gid: 0,
        mtime: EPOCH + 100,
        body: Buffer.from("hi\n"),
      },
    ],
    { created: CREATED, created_by: "COPY hello / # buildkit" },
    { sourceDateEpoch: EPOCH },
  );
  s = withConfig(s, { created: CREATED, created_by: 'CMD ["/hello"]' }, (c) => ({ ...c, Cmd: ["/hello"] }));
  return commitImage(store, s, names, CREATED);
}

test("an image built twice from the same steps has the same digest; names point at it; history as Docker's", async () => {
  const store = await Store.open(join(await tmpdir("build-image-"), "store"));
  const a = await build(store, ["docker.io/library/app:1"]);
  const b = await build(store, ["docker.io/library/app:2"]);
  assert.equal(a.digest, b.digest);
  assert.equal(a.id, b.id);
  const img = await openImage(store, "app:1");
  assert.equal(img.entry.digest, a.digest);
  assert.equal((await openImage(store, "app:2")).entry.digest, a.digest);
  const cfg = img.config.config;
  assert.deepEqual(cfg.config?.Cmd, ["/hello"]);
  assert.equal(cfg.created, CREATED);
  assert.deepEqual(
    cfg.history?.map((h) => [h.created_by, h.empty_layer ?? false]),
    [
      ["COPY hello / # buildkit", false],
      ['CMD ["/hello"]', true],
    ],
  );
  // The layer reads back with its DiffID checked; its mtime was clamped to SOURCE_DATE_EPOCH.
  const [layer] = imageLayers(store, img);
  const { layerTar } = await import("../layer/source.ts");
  const { readTar } = await import("../tar/index.ts");
  const names: [string, number][] = [];
  for await (const e of readTar(layerTar(layer!))) {
    names.push([e.header.path, e.header.mtime]);
  }
  assert.deepEqual(names, [["hello", EPOCH]]);
});
