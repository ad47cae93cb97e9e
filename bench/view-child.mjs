// One measured pass in a fresh process, so peak RSS belongs to that pass alone. Plain JavaScript over the
// built library (dist/, made by `npm run bench`'s prebench step) so that no TypeScript loader is in the
// measurement. Prints one JSON line: { ms, maxRssMB, nodes? }. Arguments: MODE STORE IMAGE. Modes:
//   floor        gunzip + sha256 of every layer blob (node:zlib with 256 KiB chunks, node:crypto), nothing else
//   view         buildView (tar parse, whiteouts, in-memory tree, DiffIDs verified)
//   view-digests buildView with a sha256 of every file's content
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { buildView } from "../dist/layer/view.js";
import { imageLayers, openImage, Store } from "../dist/store/index.js";

const [mode, root, image] = process.argv.slice(2);
if (!mode || !root || !image) throw new Error("usage: view-child MODE STORE IMAGE");
const store = await Store.open(root);
const layers = imageLayers(store, await openImage(store, image));
const t0 = performance.now();
let nodes;
if (mode === "floor") {
  for (const l of layers) {
    const h = createHash("sha256");
    await pipeline(
      createReadStream(store.blobPath(l.descriptor.digest), { highWaterMark: 1 << 20 }),
      createGunzip({ chunkSize: 256 * 1024 }),
      async (src) => {
        for await (const c of src) h.update(c);
      },
    );
    if (`sha256:${h.digest("hex")}` !== l.diffId) throw new Error("floor: DiffID mismatch");
  }
} else {
  const view = await buildView(layers, { digests: mode === "view-digests" });
  nodes = view.size;
}
const ms = performance.now() - t0;
const maxRssMB = process.resourceUsage().maxRSS / 1024;
console.log(JSON.stringify({ ms, maxRssMB, nodes }));
