/**
 * One measured pass in a fresh process, so peak RSS belongs to that pass alone. Prints one JSON line:
 * { ms, maxRssMB, nodes? }. Modes:
 *   floor        gunzip + sha256 of every layer blob (node:zlib, node:crypto), nothing else
 *   view         buildView (tar parse, whiteouts, in-memory tree, blob digest + DiffID verified)
 *   view-digests buildView with a sha256 of every file's content
 */

import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { buildView } from "../src/layer/view.ts";
import { blobPath, layoutLayers } from "./layout.ts";

const [mode, layout] = process.argv.slice(2);
if (!mode || !layout) throw new Error("usage: view-child MODE LAYOUT");
const layers = await layoutLayers(layout);
const t0 = performance.now();
let nodes: number | undefined;
if (mode === "floor") {
  for (const l of layers) {
    const h = createHash("sha256");
    await pipeline(
      createReadStream(blobPath(layout, l.descriptor.digest), { highWaterMark: 1 << 20 }),
      createGunzip(),
      async (src: AsyncIterable<Buffer>) => {
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
