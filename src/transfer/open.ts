/**
 * An image to read, wherever it is: a name in the store, `docker://REF` (streamed from the registry, nothing
 * written), or `oci:`, `oci-archive:`, `docker-archive:` (loaded and verified into a temporary store that `close`
 * removes). What readers get is the same for each: the config, the layers as `LayerSource`s (verified as they
 * are read: blob digest and DiffID) and what names the image. The explorer and `osless diff` read images
 * through this; `close` must be called when done (it also ends the registry client a view may still read from).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asDigest } from "../digest/index.ts";
import { OslessError } from "../errors.ts";
import type { LayerSource } from "../layer/source.ts";
import { parseReference } from "../reference/index.ts";
import { isConfigMediaType, MediaType } from "../spec/media-types.ts";
import {
  checkImageConsistency,
  MAX_CONFIG_SIZE,
  type ParsedManifest,
  parseImageConfig,
} from "../spec/parse.ts";
import { formatPlatform, hostPlatform } from "../spec/platform.ts";
import type { Descriptor, ImageConfig, Platform } from "../spec/schemas.ts";
import { openImage } from "../store/images.ts";
import { imageLayers } from "../store/layers.ts";
import { Store } from "../store/layout.ts";
import { loadOne, parseImageLocation } from "./copy.ts";
import { type RemoteOptions, registryClient } from "./remote.ts";

/** What names an image that was read: how the user gave it, and what it turned out to be. */
export interface ImageInfo {
  /** What was opened, as the user wrote it (or "dir:PATH" for a root filesystem). */
  source: string;
  /** The image's name in the store, or the reference; null when it has none. */
  name: string | null;
  /** Manifest digest and image ID (config digest); null when there are none (a directory). */
  digest: string | null;
  id: string | null;
  /** e.g. "linux/amd64". */
  platform: string | null;
}

/** The ImageInfo fields of `s` alone (an OpenedSource also holds its layers and a close function). */
export function imageInfo(s: ImageInfo): ImageInfo {
  return { source: s.source, name: s.name, digest: s.digest, id: s.id, platform: s.platform };
}

export interface OpenedSource extends ImageInfo {
  /** An opened image always has a manifest digest and an ID. */
  digest: string;
  id: string;
  config: ImageConfig;
  /** The manifest's layer descriptors, base first (media types and blob sizes). */
  descriptors: Descriptor[];
  layers: LayerSource[];
  /** Ends what the source holds open: the registry client, the temporary store. Idempotent. */
  close(): Promise<void>;
}

export interface OpenSourceOptions {
  /** The user's store, opened only for a store name. */
  store: () => Promise<Store>;
  /** For docker://: TLS, credentials (see RemoteOptions). */
  remote?: RemoteOptions | undefined;
  platform?: Platform | undefined;
  signal?: AbortSignal | undefined;
}

/** Open `input` (store name, ID or digest; docker://; oci:, oci-archive:, docker-archive:) for reading. */
export async function openImageSource(input: string, opts: OpenSourceOptions): Promise<OpenedSource> {
  const where = parseImageLocation(input);
  if (where.kind === "registry") return openRemote(where.ref, input, opts);
  if (where.kind === "layout") {
    const dir = await mkdtemp(join(tmpdir(), "osless-open-"));
    const remove = () => rm(dir, { recursive: true, force: true });
    try {
      const tmp = await Store.open(join(dir, "store"));
      const digest = await loadOne(tmp, where, { signal: opts.signal }, "open");
      // The image's name is the one it was loaded under (the archive's own, or the one asked for).
      return { ...(await openStored(tmp, digest, input, opts.platform)), close: remove };
    } catch (e) {
      await remove();
      throw e;
    }
  }
  return openStored(await opts.store(), input, input, opts.platform);
}

async function openStored(
  store: Store,
  input: string,
  source: string,
  platform: Platform | undefined,
): Promise<OpenedSource> {
  const img = await openImage(store, input, platform);
  const c = img.config.config;
  return {
    source,
    name: img.name ?? null,
    digest: img.manifest.digest,
    id: img.config.digest,
    platform: formatPlatform(c),
    config: c,
    descriptors: img.manifest.manifest.layers,
    layers: imageLayers(store, img),
    close: async () => {},
  };
}

async function openRemote(reference: string, source: string, opts: OpenSourceOptions): Promise<OpenedSource> {
  const ref = parseReference(reference);
  const client = registryClient(ref.domain, opts.remote ?? {});
  try {
    const repo = client.repository(ref.path);
    const label = ref.toString();
    const top = await repo.getManifest(ref.digest ?? (ref.tag as string));
    const m: ParsedManifest =
      top.kind === "index" ? await repo.platformManifest(top, opts.platform ?? hostPlatform(), label) : top;
    const cfgDesc = m.manifest.config;
    if (!isConfigMediaType(cfgDesc.mediaType)) {
      throw new OslessError(
        "E_MEDIA_TYPE_UNKNOWN",
        `${label}: config media type ${cfgDesc.mediaType} is not an image config`,
        {
          hint: `this is an artifact, not a container image (image configs are ${MediaType.OCI_CONFIG} or ${MediaType.DOCKER_CONFIG})`,
          details: { mediaType: cfgDesc.mediaType },
        },
      );
    }
    const config = parseImageConfig(await repo.readBlob(cfgDesc, MAX_CONFIG_SIZE, "config"), {
      expected: cfgDesc,
      where: `${label} config`,
    });
    const c = config.config;
    checkImageConsistency(m.manifest, c, label);
    const layers: LayerSource[] = m.manifest.layers.map((descriptor, index) => ({
      index,
      descriptor,
      diffId: asDigest(c.rootfs.diff_ids[index]!, `${label} diff_ids[${index}]`),
      // Not verified here: layerTar hashes the blob and the uncompressed tar while a view reads them.
      open: () => repo.blob(descriptor, { verify: false }, `layer ${index + 1}`),
    }));
    return {
      source,
      name: label,
      digest: m.digest,
      id: config.digest,
      platform: formatPlatform(c),
      config: c,
      descriptors: m.manifest.layers,
      layers,
      close: () => client.close(),
    };
  } catch (e) {
    await client.close();
    throw e;
  }
}
