/**
 * Analysis of images that are not in the store: a registry image streamed into the view (nothing written), and
 * archives or OCI layouts verified through a temporary store. (Level 5 beside src/transfer, whose client setup
 * and archive loading it uses; transfer never imports analysis.)
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseReference } from "../reference/index.ts";
import type { Platform } from "../spec/schemas.ts";
import { Store } from "../store/layout.ts";
import { type ImageLocation, loadOne } from "../transfer/copy.ts";
import { type RemoteOptions, registryClient } from "../transfer/remote.ts";
import { type AnalyzedImage, analyzeRegistryImage, analyzeStoreImage } from "./image.ts";

/** docker://REF: streamed from the registry into the view; nothing is written (the store is not opened). */
export async function analyzeRemote(
  reference: string,
  source: string,
  opts: RemoteOptions & { platform: Platform | undefined },
): Promise<AnalyzedImage> {
  const ref = parseReference(reference);
  const client = registryClient(ref.domain, opts);
  try {
    return await analyzeRegistryImage(client.repository(ref.path), ref, {
      platform: opts.platform,
      signal: opts.signal,
      source,
    });
  } finally {
    await client.close();
  }
}

/**
 * oci:, oci-archive:, docker-archive:: loaded (every blob, DiffID and the manifest/config consistency verified)
 * into a temporary store that is removed afterwards, then analysed from there. The user's store is not touched.
 */
export async function analyzeArchive(
  where: Extract<ImageLocation, { kind: "layout" }>,
  source: string,
  opts: { platform: Platform | undefined; signal: AbortSignal },
): Promise<AnalyzedImage> {
  const dir = await mkdtemp(join(tmpdir(), "osless-analyze-"));
  try {
    const tmp = await Store.open(join(dir, "store"));
    const digest = await loadOne(tmp, where, { signal: opts.signal }, "analyze");
    const r = await analyzeStoreImage(tmp, digest, { platform: opts.platform, signal: opts.signal });
    return { ...r, image: { ...r.image, source } };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
