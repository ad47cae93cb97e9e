/** An image's layers as `LayerSource`s backed by the store's blobs (level 4 glue over src/layer). */
import { asDigest } from "../digest/index.ts";
import type { LayerSource } from "../layer/source.ts";
import { checkImageConsistency } from "../spec/index.ts";
import type { OpenedImage } from "./images.ts";
import type { Store } from "./layout.ts";

export function imageLayers(store: Store, image: OpenedImage): LayerSource[] {
  const what = image.name ?? image.manifest.digest;
  const { manifest } = image.manifest;
  checkImageConsistency(manifest, image.config.config, what);
  const diffIds = image.config.config.rootfs.diff_ids;
  return manifest.layers.map((descriptor, index) => ({
    index,
    descriptor,
    diffId: asDigest(diffIds[index]!, `${what} diff_ids[${index}]`),
    open: () => store.openBlobUnverified(descriptor.digest, `${what} layer ${index + 1}`),
    // Blobs are committed to the store only after their digest was checked.
    verifiedAtRest: true,
  }));
}
