/** Read an OCI image layout directory's first image as LayerSources, without a store (benchmarks only). */
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Digest } from "../src/digest/index.ts";
import type { LayerSource } from "../src/layer/source.ts";

export function blobPath(layout: string, digest: string): string {
  const [alg, hex] = digest.split(":");
  return join(layout, "blobs", alg!, hex!);
}

export async function layoutLayers(layout: string): Promise<LayerSource[]> {
  const index = JSON.parse(await readFile(join(layout, "index.json"), "utf8"));
  const manifest = JSON.parse(await readFile(blobPath(layout, index.manifests[0].digest), "utf8"));
  const config = JSON.parse(await readFile(blobPath(layout, manifest.config.digest), "utf8"));
  return manifest.layers.map(
    (descriptor: { digest: string; size: number; mediaType: string }, index: number) => ({
      index,
      descriptor,
      diffId: config.rootfs.diff_ids[index] as Digest,
      open: () => createReadStream(blobPath(layout, descriptor.digest), { highWaterMark: 1 << 20 }),
    }),
  );
}
