/**
 * An image being built: its layers (blobs already in the store, so a later RUN can stack them and a failed build
 * keeps them as cache) and its config with the history Docker writes. `commitImage` writes the config and the
 * manifest and names the image, in one store transaction: until then nothing names it, so a failed build tags
 * nothing.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { type Digest, digestOf } from "../digest/index.ts";
import type { LayerSource } from "../layer/source.ts";
import { type LayerEntry, writeLayer } from "../layer/write.ts";
import { MediaType } from "../spec/media-types.ts";
import type { ContainerConfig, Descriptor, HistoryEntry, ImageConfig, Manifest } from "../spec/schemas.ts";
import { entryName } from "../store/images.ts";
import { type IndexEntry, REF_NAME, type Store } from "../store/layout.ts";

const OCI_NAME: Record<string, string> = {
  [MediaType.DOCKER_LAYER_GZIP]: MediaType.OCI_LAYER_GZIP,
  [MediaType.DOCKER_LAYER_ZSTD]: MediaType.OCI_LAYER_ZSTD,
  [MediaType.DOCKER_LAYER_FOREIGN_GZIP]: MediaType.OCI_LAYER_NONDIST_GZIP,
};

export interface ImageState {
  /** The config so far: `rootfs.diff_ids` and `history` follow the layers. */
  config: ImageConfig;
  /** The layers, base first, readable from the store. */
  layers: LayerSource[];
}

/** FROM scratch: no layers, an empty run config. */
export function scratchImage(platform: {
  os: string;
  architecture: string;
  variant?: string | undefined;
}): ImageState {
  return {
    config: {
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: {},
      rootfs: { type: "layers", diff_ids: [] },
      history: [],
    },
    layers: [],
  };
}

/** A layer whose blob is in the store, as a LayerSource. */
export function storeLayer(store: Store, index: number, descriptor: Descriptor, diffId: Digest): LayerSource {
  return {
    index,
    descriptor,
    diffId,
    open: () => store.openBlob({ digest: descriptor.digest, size: descriptor.size }, `layer ${index + 1}`),
    verifiedAtRest: true,
  };
}

/** The run config (`config.config`) changed by `fn`, as a new state with a history entry for a step with no layer. */
export function withConfig(
  state: ImageState,
  history: HistoryEntry,
  fn: (c: ContainerConfig) => ContainerConfig = (c) => c,
): ImageState {
  return {
    layers: state.layers,
    config: {
      ...state.config,
      config: fn({ ...(state.config.config ?? {}) }),
      history: [...(state.config.history ?? []), { ...history, empty_layer: true }],
    },
  };
}

export interface AddLayerOptions {
  sourceDateEpoch?: number | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * Write `entries` as a gzip layer into the store (its own transaction: the blob stays as cache even if the build
 * fails later; prune collects it if nothing ever names it) and stack it on `state`.
 */
export async function addLayer(
  store: Store,
  state: ImageState,
  entries: LayerEntry[],
  history: HistoryEntry,
  opts: AddLayerOptions = {},
): Promise<ImageState> {
  const layer = await putLayer(store, entries, opts);
  return stackLayer(store, state, layer.descriptor, layer.diffId, history);
}

/** `state` with one more layer (already in the store) and its history entry. */
export function stackLayer(
  store: Store,
  state: ImageState,
  descriptor: Descriptor,
  diffId: Digest,
  history: HistoryEntry,
): ImageState {
  const { empty_layer: _drop, ...h } = history;
  return {
    layers: [...state.layers, storeLayer(store, state.layers.length, descriptor, diffId)],
    config: {
      ...state.config,
      rootfs: { type: "layers", diff_ids: [...state.config.rootfs.diff_ids, diffId] },
      history: [...(state.config.history ?? []), h],
    },
  };
}

/** Write a layer's blob into the store; its descriptor and DiffID. */
export async function putLayer(
  store: Store,
  entries: LayerEntry[],
  opts: AddLayerOptions = {},
): Promise<{ descriptor: Descriptor; diffId: Digest }> {
  await store.init();
  const dir = await mkdtemp(join(store.root, "ingest", `${process.pid}-layer-`));
  try {
    const file = join(dir, "layer.tar.gz");
    const written = await writeLayer(entries, file, {
      ...(opts.sourceDateEpoch !== undefined ? { sourceDateEpoch: opts.sourceDateEpoch } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const tx = await store.begin();
    try {
      await tx.adopt(file, { digest: written.descriptor.digest, size: written.descriptor.size });
      await tx.commit();
    } finally {
      await tx.dispose();
    }
    return { descriptor: written.descriptor, diffId: written.diffId };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface CommittedImage {
  /** The image ID: the config's digest. */
  id: Digest;
  /** The manifest's digest. */
  digest: Digest;
  manifest: Descriptor;
  /** The names given to it. */
  names: string[];
}

/**
 * The config and manifest of `state`, written with its layers' descriptors; both are serialized with a fixed key
 * order, so equal inputs give equal digests. `names` (canonical references) then name it in the store; with none,
 * it is stored untagged (and still listed by ID).
 */
export async function commitImage(
  store: Store,
  state: ImageState,
  names: string[],
  created: string,
): Promise<CommittedImage> {
  const c = state.config;
  const config: ImageConfig = {
    created,
    architecture: c.architecture,
    os: c.os,
    ...(c.variant ? { variant: c.variant } : {}),
    config: c.config ?? {},
    rootfs: { type: "layers", diff_ids: c.rootfs.diff_ids },
    history: c.history ?? [],
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = digestOf(configBytes);
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OCI_MANIFEST,
    config: { mediaType: MediaType.OCI_CONFIG, digest: configDigest, size: configBytes.length },
    layers: state.layers.map((l) => ({
      // A Docker layer in an OCI manifest takes its OCI name: the same bytes.
      mediaType: OCI_NAME[l.descriptor.mediaType] ?? l.descriptor.mediaType,
      digest: l.descriptor.digest,
      size: l.descriptor.size,
    })),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const manifestDigest = digestOf(manifestBytes);
  const desc: Descriptor = {
    mediaType: MediaType.OCI_MANIFEST,
    digest: manifestDigest,
    size: manifestBytes.length,
  };
  await store.init();
  const tx = await store.begin();
  try {
    await tx.put(configBytes, { digest: configDigest, size: configBytes.length });
    await tx.put(manifestBytes, { digest: manifestDigest, size: manifestBytes.length });
    // Every layer must still be there (a prune may have run since it was written): the commit checks under the
    // store lock that staged-as-present blobs exist.
    for (const l of state.layers)
      await tx.put(() => l.open(), { digest: l.descriptor.digest, size: l.descriptor.size });
    tx.updateIndex((entries: IndexEntry[]) => {
      const base = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
      if (names.length === 0) {
        return entries.some((e) => e.digest === desc.digest) ? entries : [...entries, base];
      }
      const kept = entries.filter((e) => {
        const n = entryName(e);
        return n === undefined ? e.digest !== desc.digest : !names.includes(n);
      });
      return [...kept, ...names.map((n) => ({ ...base, annotations: { [REF_NAME]: n } }))];
    });
    await tx.commit();
  } finally {
    await tx.dispose();
  }
  return { id: configDigest, digest: manifestDigest, manifest: desc, names };
}
