/**
 * `save`: write images from the store as a docker archive (the layout Docker 25+ writes: manifest.json +
 * uncompressed layer blobs + an OCI index, readable by docker, podman and skopeo), an OCI archive, or into an OCI
 * layout directory. Archives are written to a temporary file and renamed, so a failure leaves no partial file.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { decompress, detectFileCompression } from "../compression/index.ts";
import { type Digest, digestOf, Hasher, parseDigest } from "../digest/index.ts";
import { OslessError } from "../errors.ts";
import { type EventSink, noEvents, reportProgress } from "../events/index.ts";
import { parseReference } from "../reference/index.ts";
import { MediaType } from "../spec/media-types.ts";
import type { Descriptor } from "../spec/schemas.ts";
import { reachable } from "../store/graph.ts";
import { entryName, openEntry, resolveImage } from "../store/images.ts";
import { type IndexEntry, REF_NAME, Store } from "../store/layout.ts";
import { type TarWriteItem, writeTar } from "../tar/index.ts";
import { CONTAINERD_IMAGE_NAME } from "./load.ts";
import { parseLocation } from "./location.ts";

export type SaveFormat = "docker-archive" | "oci-archive" | "oci-dir";

export interface SaveOptions {
  format?: SaveFormat;
  events?: EventSink;
}

export interface SavedImage {
  input: string;
  name: string | undefined;
  digest: string;
}

export interface SaveResult {
  format: SaveFormat;
  path: string | undefined;
  images: SavedImage[];
}

interface Selected {
  input: string;
  entry: IndexEntry;
  /** The name to record: the one the user gave; none when the image was named by ID. */
  name: string | undefined;
}

async function select(store: Store, inputs: string[]): Promise<Selected[]> {
  const out: Selected[] = [];
  for (const input of inputs) {
    const r = await resolveImage(store, input);
    let name: string | undefined;
    try {
      const ref = parseReference(input);
      if (!ref.digest && entryName(r.entry) === ref.toString()) name = ref.toString();
    } catch {
      name = undefined;
    }
    out.push({ input, entry: r.entry, name });
  }
  return out;
}

/**
 * Save `inputs` (names, IDs, digests) to `dest`: a path (format from `opts.format`, default docker-archive),
 * `docker-archive:FILE`, `oci-archive:FILE[:ref]`, `oci:DIR[:ref]`, or a Writable (archive formats only).
 */
export async function saveImages(
  store: Store,
  inputs: string[],
  dest: string | Writable,
  opts: SaveOptions = {},
): Promise<SaveResult> {
  if (inputs.length === 0)
    throw new OslessError("E_USAGE", "no image to save", { hint: "name at least one image" });
  const events = opts.events ?? noEvents;
  const loc = typeof dest === "string" ? parseLocation(dest) : undefined;
  const format: SaveFormat =
    loc?.transport === "oci"
      ? "oci-dir"
      : ((loc?.transport as SaveFormat | undefined) ?? opts.format ?? "docker-archive");
  const selected = await select(store, inputs);
  const images = selected.map((s) => ({ input: s.input, name: s.name, digest: s.entry.digest }));
  if (format === "oci-dir") {
    if (!loc)
      throw new OslessError("E_USAGE", "an OCI layout directory needs a path", { hint: "write oci:DIR" });
    await saveToLayout(store, selected, loc.path, loc.ref, events);
    return { format, path: loc.path, images };
  }
  const tmp = await mkdtemp(join(tmpdir(), "osless-save-"));
  try {
    const items =
      format === "docker-archive"
        ? dockerArchive(store, selected, tmp, events)
        : ociArchive(store, selected, loc?.ref, events);
    if (typeof dest !== "string") {
      await pipeline(writeTar(items), dest, { end: false });
      return { format, path: undefined, images };
    }
    const path = loc!.path;
    const part = join(dirname(path), `.${Date.now()}-${process.pid}.osless-save.part`);
    try {
      await pipeline(writeTar(items), createWriteStream(part, { mode: 0o644 }));
      await rename(part, path);
    } catch (e) {
      await rm(part, { force: true });
      if ((e as NodeJS.ErrnoException).code === "ENOENT" || (e as NodeJS.ErrnoException).code === "EACCES") {
        throw new OslessError("E_IO", `cannot write ${path}: ${(e as Error).message}`, {
          hint: "check that the directory exists and is writable",
        });
      }
      throw e;
    }
    return { format, path, images };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

function blobName(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `blobs/${algorithm}/${hex}`;
}

const FILE = { type: "file" as const, mode: 0o644, mtime: 0 };
const DIR = { type: "directory" as const, mode: 0o755, mtime: 0 };

function fileItem(path: string, data: Buffer): TarWriteItem {
  return { entry: { ...FILE, path, size: data.length }, body: data };
}

function blobItem(store: Store, d: { digest: string; size: number }, events: EventSink): TarWriteItem {
  const id = d.digest;
  events({ type: "start", id, label: d.digest.slice(7, 19), total: d.size });
  const body = (async function* () {
    yield* reportProgress(store.openBlob(d), id, events);
    events({ type: "end", id });
  })();
  return { entry: { ...FILE, path: blobName(d.digest), size: d.size }, body };
}

function tagOf(name: string | undefined): string | undefined {
  if (!name) return undefined;
  try {
    return parseReference(name).tag;
  } catch {
    return undefined;
  }
}

/** The members every archive starts with: the OCI layout marker and the blob directories. */
function* layoutSkeleton(): Generator<TarWriteItem> {
  yield fileItem("oci-layout", Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
  yield { entry: { ...DIR, path: "blobs/" } };
  yield { entry: { ...DIR, path: "blobs/sha256/" } };
}

async function* ociArchive(
  store: Store,
  selected: Selected[],
  ref: string | undefined,
  events: EventSink,
): AsyncGenerator<TarWriteItem> {
  yield* layoutSkeleton();
  const written = new Set<string>();
  for (const s of selected) {
    const nodes = await reachable(store, [s.entry]);
    for (const n of nodes.values()) {
      if (written.has(n.descriptor.digest)) continue;
      if (!(await store.hasBlob(n.descriptor))) continue; // platforms or foreign layers not stored locally
      written.add(n.descriptor.digest);
      yield blobItem(store, n.descriptor, events);
    }
  }
  const manifests = selected.map((s) => indexEntryFor(s, selected.length === 1 ? ref : undefined));
  yield fileItem(
    "index.json",
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests })),
  );
}

/** The index.json entry of a saved image: ref.name is the tag (as Docker 25+ and skopeo expect), plus the full name. */
function indexEntryFor(s: Selected, ref: string | undefined): Descriptor {
  const annotations: Record<string, string> = {};
  if (s.name) annotations[CONTAINERD_IMAGE_NAME] = s.name;
  const refName = ref ?? tagOf(s.name);
  if (refName) annotations[REF_NAME] = refName;
  return {
    mediaType: s.entry.mediaType,
    digest: s.entry.digest as Digest,
    size: s.entry.size,
    ...(Object.keys(annotations).length ? { annotations } : {}),
  };
}

async function* dockerArchive(
  store: Store,
  selected: Selected[],
  tmp: string,
  events: EventSink,
): AsyncGenerator<TarWriteItem> {
  yield* layoutSkeleton();
  const written = new Set<string>();
  const uncompressedSize = new Map<string, number>();
  const manifestJson: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
  const index: Descriptor[] = [];
  for (const s of selected) {
    const img = await openEntry(store, s.entry);
    const m = img.manifest.manifest;
    const diffIds = img.config.config.rootfs.diff_ids;
    const layers: Descriptor[] = [];
    for (const [i, l] of m.layers.entries()) {
      const diffId = diffIds[i]!;
      const compression = await detectFileCompression(store.blobPath(l.digest));
      if (compression === "none") {
        if (l.digest !== diffId) {
          throw new OslessError(
            "E_DIGEST_MISMATCH",
            `${s.input}: layer ${i + 1} ${l.digest} does not match DiffID ${diffId}`,
            {
              hint: "run `osless fsck`; the stored image is inconsistent",
            },
          );
        }
        if (!written.has(l.digest)) {
          written.add(l.digest);
          yield blobItem(store, l, events);
        }
        layers.push({ mediaType: MediaType.OCI_LAYER, digest: l.digest, size: l.size });
        continue;
      }
      // Docker archives carry uncompressed layers named by DiffID: decompress to a temp file to know its size.
      const file = join(tmp, `${parseDigest(diffId).hex}.tar`);
      if (!written.has(diffId)) {
        events({ type: "start", id: diffId, label: `${diffId.slice(7, 19)} (decompress)`, total: l.size });
        const h = new Hasher(parseDigest(diffId).algorithm);
        await pipeline(
          decompress(reportProgress(store.openBlob(l), diffId, events), compression, {
            what: `layer ${l.digest}`,
          }),
          async function* (src: AsyncIterable<Uint8Array>) {
            for await (const c of src) {
              h.update(c);
              yield c;
            }
          },
          createWriteStream(file),
        );
        events({ type: "end", id: diffId });
        const actual = h.digest();
        if (actual !== diffId) {
          throw new OslessError(
            "E_DIGEST_MISMATCH",
            `${s.input}: layer ${i + 1} decompresses to ${actual}, not DiffID ${diffId}`,
            {
              hint: "the stored image is inconsistent; load or pull it again",
            },
          );
        }
        written.add(diffId);
        uncompressedSize.set(diffId, h.size);
        const size = h.size;
        yield {
          entry: { ...FILE, path: blobName(diffId), size },
          body: createReadStream(file, { highWaterMark: 1 << 20 }),
        };
      }
      layers.push({
        mediaType: MediaType.OCI_LAYER,
        digest: diffId as Digest,
        size: uncompressedSize.get(diffId)!,
      });
    }
    if (!written.has(img.config.digest)) {
      written.add(img.config.digest);
      yield fileItem(blobName(img.config.digest), img.config.raw);
    }
    // Reuse the stored manifest when it already describes uncompressed layers; else write one that does.
    const same =
      m.layers.every((l, i) => l.digest === layers[i]!.digest) &&
      img.manifest.mediaType === MediaType.OCI_MANIFEST;
    const raw = same
      ? img.manifest.raw
      : Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: MediaType.OCI_MANIFEST,
            config: { mediaType: MediaType.OCI_CONFIG, digest: img.config.digest, size: img.config.size },
            layers,
          }),
        );
    const digest = digestOf(raw);
    if (!written.has(digest)) {
      written.add(digest);
      yield fileItem(blobName(digest), raw);
    }
    index.push(
      indexEntryFor(
        { ...s, entry: { mediaType: MediaType.OCI_MANIFEST, digest, size: raw.length } },
        undefined,
      ),
    );
    manifestJson.push({
      Config: blobName(img.config.digest),
      RepoTags: s.name ? [parseReference(s.name).familiar()] : null,
      Layers: layers.map((l) => blobName(l.digest)),
    });
  }
  yield fileItem(
    "index.json",
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: index })),
  );
  yield fileItem("manifest.json", Buffer.from(JSON.stringify(manifestJson)));
}

/** Copy images into an OCI layout directory (created if needed), as another Store transaction. */
async function saveToLayout(
  store: Store,
  selected: Selected[],
  dir: string,
  ref: string | undefined,
  events: EventSink,
): Promise<void> {
  // A layout names images by ref.name (the tag): two images with the same one would silently replace each other.
  const byRef = new Map<string, Selected>();
  for (const s of selected) {
    const refName = indexEntryFor(s, selected.length === 1 ? ref : undefined).annotations?.[REF_NAME];
    const other = refName === undefined ? undefined : byRef.get(refName);
    if (other && (other.name !== s.name || other.entry.digest !== s.entry.digest)) {
      throw new OslessError(
        "E_USAGE",
        `${other.input} and ${s.input} would both be named "${refName}" in the OCI layout ${dir}`,
        { hint: "save them to separate layouts, or one at a time as oci:DIR:REF with different REFs" },
      );
    }
    if (refName !== undefined) byRef.set(refName, s);
  }
  const target = await Store.open(dir);
  await target.transaction(async (tx) => {
    for (const s of selected) {
      const nodes = await reachable(store, [s.entry]);
      for (const n of nodes.values()) {
        if (!(await store.hasBlob(n.descriptor))) continue;
        const d = n.descriptor;
        events({ type: "start", id: d.digest, label: d.digest.slice(7, 19), total: d.size });
        let skipped = true;
        await tx.put(() => {
          skipped = false;
          return reportProgress(store.openBlob(d), d.digest, events);
        }, d);
        events({ type: "end", id: d.digest, skipped });
      }
      const entry = indexEntryFor(s, selected.length === 1 ? ref : undefined);
      const refName = entry.annotations?.[REF_NAME];
      tx.updateIndex((entries) => [
        ...entries.filter((e) => !refName || e.annotations?.[REF_NAME] !== refName),
        entry as IndexEntry,
      ]);
    }
  });
}
