/** `inspect`: an image's details in the shape of `docker image inspect`, plus the raw manifest and config. */
import { parseReference } from "../reference/index.ts";
import type { Platform } from "../spec/schemas.ts";
import { entryName, familiarRepository, openEntry, resolveImage } from "./images.ts";
import { REPO_DIGEST, type Store } from "./layout.ts";

export interface InspectResult {
  inspect: Record<string, unknown>;
  rawManifest: Buffer;
  rawConfig: Buffer;
}

export async function inspectImage(store: Store, input: string, platform?: Platform): Promise<InspectResult> {
  const r = await resolveImage(store, input);
  const img = await openEntry(store, r.entry, platform);
  const c = img.config.config;
  const all = (await store.readIndex()).manifests.filter((e) => e.digest === r.entry.digest);
  const names = all.map(entryName).filter((n): n is string => n !== undefined);
  const refs = names.map((n) => parseReference(n));
  const m = img.manifest.manifest;
  const inspect: Record<string, unknown> = {
    Id: img.config.digest,
    RepoTags: refs.map((x) => x.familiar()),
    // Pulled images: the digest the registry knows them by (an index's for multi-platform images), as docker.
    RepoDigests: [
      ...new Set([
        ...all.flatMap((e) => repoDigest(e.annotations?.[REPO_DIGEST])),
        ...refs.map((x) => `${familiarRepository(x)}@${r.entry.digest}`),
      ]),
    ],
    Parent: "",
    Comment: c.history?.at(-1)?.comment ?? "",
    Created: c.created ?? "",
    DockerVersion: typeof c.docker_version === "string" ? c.docker_version : "",
    Author: c.author ?? "",
    Config: c.config ?? {},
    Architecture: c.architecture,
    ...(c.variant ? { Variant: c.variant } : {}),
    Os: c.os,
    ...(c["os.version"] ? { OsVersion: c["os.version"] } : {}),
    Size: m.layers.reduce((a, l) => a + l.size, 0),
    RootFS: { Type: c.rootfs.type, Layers: c.rootfs.diff_ids },
    Descriptor: { mediaType: r.entry.mediaType, digest: r.entry.digest, size: r.entry.size },
    Manifest: {
      mediaType: img.manifest.mediaType,
      digest: img.manifest.digest,
      layers: m.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    },
    History: c.history ?? [],
  };
  return {
    inspect,
    rawManifest: img.index && r.entry.digest === img.index.digest ? img.index.raw : img.manifest.raw,
    rawConfig: img.config.raw,
  };
}

function repoDigest(v: string | undefined): string[] {
  if (!v) return [];
  try {
    const ref = parseReference(v);
    return ref.digest ? [`${familiarRepository(ref)}@${ref.digest}`] : [];
  } catch {
    return [];
  }
}
