/**
 * Images in the store: names (index.json entries tagged with org.opencontainers.image.ref.name holding the
 * full canonical reference, e.g. "docker.io/library/alpine:latest"), lookup by name, ID or digest, tag, rmi.
 * Image ID = config digest (as Docker) for single-platform images, the index digest for multi-platform ones.
 */
import { OslessError } from "../errors.ts";
import { type ImageReference, parseReference } from "../reference/index.ts";
import type { ParsedConfig, ParsedIndex, ParsedManifest } from "../spec/parse.ts";
import { hostPlatform, selectPlatform } from "../spec/platform.ts";
import type { Platform } from "../spec/schemas.ts";
import { readConfig, readManifestOrIndex } from "./graph.ts";
import { type IndexEntry, REF_NAME, type Store } from "./layout.ts";

/** The name stored for an entry, if any. */
export function entryName(e: IndexEntry): string | undefined {
  const n = e.annotations?.[REF_NAME];
  return typeof n === "string" && n !== "" ? n : undefined;
}

/** Docker's short repository name: "alpine", "user/app", "localhost:5000/x" (no tag, no digest). */
export function familiarRepository(ref: ImageReference): string {
  return ref
    .familiar()
    .replace(/@.*$/, "")
    .replace(/:[^:/]*$/, "");
}

export interface ImageSummary {
  /** Canonical name, undefined for untagged images. */
  name: string | undefined;
  reference: ImageReference | undefined;
  /** Manifest or index digest (what a registry would call the image digest). */
  digest: string;
  mediaType: string;
  /** Config digest (single-platform) or index digest (multi-platform). */
  id: string;
  created: string | undefined;
  /** Bytes the image's blobs take in the store (shared blobs counted for each image). */
  size: number;
  platforms: string[];
  entry: IndexEntry;
}

async function summarize(store: Store, e: IndexEntry): Promise<ImageSummary> {
  const name = entryName(e);
  let reference: ImageReference | undefined;
  try {
    reference = name ? parseReference(name, { defaultTag: false }) : undefined;
  } catch {
    reference = undefined;
  }
  const base = { name, reference, digest: e.digest, mediaType: e.mediaType, entry: e };
  const parsed = await readManifestOrIndex(store, e, `${name ?? e.digest} manifest`);
  if (parsed.kind === "manifest") {
    const cfg = await readConfig(store, parsed.manifest.config, `${name ?? e.digest} config`);
    const size = parsed.size + cfg.size + parsed.manifest.layers.reduce((a, l) => a + l.size, 0);
    return { ...base, id: cfg.digest, created: cfg.config.created, size, platforms: [platformOf(cfg)] };
  }
  let size = parsed.size;
  const platforms: string[] = [];
  let created: string | undefined;
  for (const child of parsed.index.manifests) {
    size += child.size;
    if (child.platform) platforms.push(formatPlat(child.platform));
    try {
      const m = await readManifestOrIndex(store, child);
      if (m.kind === "manifest") {
        size += m.manifest.config.size + m.manifest.layers.reduce((a, l) => a + l.size, 0);
        if (!created) created = (await readConfig(store, m.manifest.config)).config.created;
      }
    } catch {
      // Platforms not present locally (partial pulls) are fine for a listing.
    }
  }
  return { ...base, id: parsed.digest, created, size, platforms };
}

function formatPlat(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join("/");
}

function platformOf(c: ParsedConfig): string {
  return formatPlat(c.config);
}

/** Every image in the store, in index order. */
export async function listImages(store: Store): Promise<ImageSummary[]> {
  const idx = await store.readIndex();
  const out: ImageSummary[] = [];
  for (const e of idx.manifests) out.push(await summarize(store, e));
  return out;
}

export interface ResolvedImage {
  /** The matching index.json entries (several when one image has several names). */
  entries: IndexEntry[];
  /** The entry used to read the image. */
  entry: IndexEntry;
  name: string | undefined;
}

const HEX = /^[a-f0-9]+$/;

/**
 * Find an image by name (`alpine`, `alpine:3`, `docker.io/library/alpine:3`), by `name@digest`, by digest
 * (`sha256:…`, manifest or config), or by an ID prefix of at least 4 hex digits, as docker does.
 */
export async function resolveImage(store: Store, input: string): Promise<ResolvedImage> {
  const idx = await store.readIndex();
  const entries = idx.manifests;
  const byDigest = async (digest: string) => {
    const hits: IndexEntry[] = [];
    for (const e of entries) {
      if (e.digest === digest || (await imageId(store, e)) === digest) hits.push(e);
    }
    return hits;
  };
  // 1. A full digest.
  if (/^sha(256|512):/.test(input)) {
    const hits = await byDigest(input);
    if (hits.length > 0) return resolved(hits);
    throw notFound(input);
  }
  // 2. A name.
  let ref: ImageReference | undefined;
  try {
    ref = parseReference(input);
  } catch (e) {
    if (!(HEX.test(input) && input.length >= 4)) throw e;
  }
  if (ref) {
    if (ref.digest) {
      const hits = entries.filter((e) => e.digest === ref.digest);
      if (hits.length > 0)
        return resolved(
          hits,
          hits.find((e) => entryName(e)?.startsWith(`${ref.name}:`)),
        );
    } else {
      const want = ref.toString();
      const hit = entries.find((e) => entryName(e) === want);
      if (hit) return resolved([hit], hit);
    }
  }
  // 3. An ID prefix.
  if (HEX.test(input) && input.length >= 4) {
    const ids = new Map<string, IndexEntry[]>();
    for (const e of entries) {
      const id = await imageId(store, e);
      if (id.slice(id.indexOf(":") + 1).startsWith(input)) ids.set(id, [...(ids.get(id) ?? []), e]);
    }
    if (ids.size > 1) {
      throw new OslessError("E_AMBIGUOUS", `image ID prefix "${input}" matches ${ids.size} images`, {
        hint: "give more characters of the ID, or the image name",
      });
    }
    const only = [...ids.values()][0];
    if (only) return resolved(only);
  }
  throw notFound(input);
}

function resolved(hits: IndexEntry[], preferred?: IndexEntry): ResolvedImage {
  const entry = preferred ?? hits[0]!;
  return { entries: hits, entry, name: entryName(entry) };
}

function notFound(input: string): OslessError {
  return new OslessError("E_NOT_FOUND", `no such image: ${input}`, {
    hint: "`osless images` lists the images in the store; `osless load` adds one from an archive",
  });
}

const idCache = new WeakMap<IndexEntry, string>();

/** Docker's image ID: the config digest for a manifest, the digest itself for an index or unknown type. */
export async function imageId(store: Store, e: IndexEntry): Promise<string> {
  const cached = idCache.get(e);
  if (cached) return cached;
  let id = e.digest;
  try {
    const parsed = await readManifestOrIndex(store, e);
    if (parsed.kind === "manifest") id = parsed.manifest.config.digest;
  } catch {
    // Unreadable entries keep their digest as ID; fsck reports them.
  }
  idCache.set(e, id);
  return id;
}

export interface OpenedImage {
  name: string | undefined;
  entry: IndexEntry;
  /** The index, when the entry is multi-platform. */
  index: ParsedIndex | undefined;
  manifest: ParsedManifest;
  config: ParsedConfig;
}

/** Resolve and read an image's manifest and config, choosing a platform from an index (default: the host's). */
export async function openImage(store: Store, input: string, platform?: Platform): Promise<OpenedImage> {
  const r = await resolveImage(store, input);
  return openEntry(store, r.entry, platform);
}

export async function openEntry(store: Store, entry: IndexEntry, platform?: Platform): Promise<OpenedImage> {
  const name = entryName(entry);
  let parsed = await readManifestOrIndex(store, entry, `${name ?? entry.digest} manifest`);
  let index: ParsedIndex | undefined;
  while (parsed.kind === "index") {
    index = parsed;
    const child = selectPlatform(platform ?? hostPlatform(), parsed.index.manifests);
    parsed = await readManifestOrIndex(store, child, `${name ?? entry.digest} manifest ${child.digest}`);
  }
  const config = await readConfig(store, parsed.manifest.config, `${name ?? entry.digest} config`);
  return { name, entry, index, manifest: parsed, config };
}

/** Give the image `source` the additional name `target` (replacing whatever `target` named before). */
export async function tagImage(
  store: Store,
  source: string,
  target: string,
): Promise<{ name: string; digest: string }> {
  const src = await resolveImage(store, source);
  const ref = parseReference(target);
  if (ref.digest) {
    throw new OslessError("E_REFERENCE_INVALID", `cannot tag with a digest reference "${target}"`, {
      hint: "a tag target is a name with an optional :tag",
    });
  }
  const name = ref.toString();
  const { annotations: _a, ...rest } = src.entry;
  const annotations = { ...(src.entry.annotations ?? {}), [REF_NAME]: name };
  await store.updateIndex((entries) => [
    // The new name replaces whatever it named before; an untagged entry of this image is absorbed (as docker).
    ...entries.filter(
      (e) => entryName(e) !== name && !(entryName(e) === undefined && e.digest === src.entry.digest),
    ),
    { ...rest, annotations },
  ]);
  return { name, digest: src.entry.digest };
}

export interface RemoveResult {
  untagged: string[];
  /** Index entries removed that had no name (untagged images removed by ID). */
  removedDigests: string[];
}

/**
 * Remove images: by name, untag that name; by ID or digest, remove every name of that image (refused without
 * `force` when it has more than one name, as docker does). Blobs are collected by `gc` afterwards.
 */
export async function removeImage(store: Store, input: string, force = false): Promise<RemoveResult> {
  const r = await resolveImage(store, input);
  let byName = false;
  try {
    const ref = parseReference(input);
    byName = !ref.digest && r.entries.length === 1 && entryName(r.entry) === ref.toString();
  } catch {
    byName = false;
  }
  const victims = byName ? [r.entry] : r.entries;
  const names = victims.map(entryName).filter((n): n is string => n !== undefined);
  if (!byName && names.length > 1 && !force) {
    throw new OslessError(
      "E_USAGE",
      `unable to delete ${input} (must be forced): the image is referenced by ${names.length} names: ${names.join(", ")}`,
      { hint: "remove it by name, or pass --force to remove every name" },
    );
  }
  const gone = new Set(victims);
  await store.updateIndex((entries) =>
    entries.filter((e) => !victims.some((v) => v.digest === e.digest && entryName(v) === entryName(e))),
  );
  return {
    untagged: names,
    removedDigests: [...gone].filter((e) => entryName(e) === undefined).map((e) => e.digest),
  };
}
