/**
 * `load`: bring images from docker archives (`docker save`: manifest.json + config + layer tars, legacy layer
 * directories, or the OCI layout Docker 25+ writes), OCI archives and OCI layout directories into the store.
 *
 * Everything is staged and verified (digests, sizes, DiffIDs of uncompressed layers, manifest/config
 * consistency) before anything is committed, so a bad archive leaves the store exactly as it was.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  type Compression,
  decompress,
  detectCompression,
  detectFileCompression,
  sniff,
} from "../compression/index.ts";
import { type Digest, digestOf, Hasher, parseDigest } from "../digest/index.ts";
import { OslessError } from "../errors.ts";
import { type EventSink, noEvents, reportProgress } from "../events/index.ts";
import { parseReference } from "../reference/index.ts";
import { parseJson } from "../spec/json.ts";
import { isConfigMediaType, isIndexMediaType, isManifestMediaType, MediaType } from "../spec/media-types.ts";
import {
  checkImageConsistency,
  MAX_CONFIG_SIZE,
  MAX_MANIFEST_SIZE,
  type ParsedConfig,
  parseImageConfig,
  parseIndex,
  parseManifestOrIndex,
} from "../spec/parse.ts";
import type { Descriptor } from "../spec/schemas.ts";
import { entryName } from "../store/images.ts";
import { type IndexEntry, REF_NAME, type Store, type Transaction } from "../store/layout.ts";
import { parseLocation } from "./location.ts";
import { DirTree, type FileTree, TarFileTree } from "./tree.ts";

/** Annotation Docker 25+ and containerd use for the full image name in an OCI index. */
export const CONTAINERD_IMAGE_NAME = "io.containerd.image.name";

export interface LoadOptions {
  events?: EventSink;
  signal?: AbortSignal;
}

export interface LoadedImage {
  /** Canonical names given to the image (empty: untagged). */
  names: string[];
  /** Manifest (or index) digest. */
  digest: string;
  /** Image ID: config digest (index digest for multi-platform images). */
  id: string;
  mediaType: string;
  /** An OCI ref.name that is not a full image name (e.g. "latest"); the image is then loaded untagged. */
  refName?: string | undefined;
}

export interface LoadResult {
  format: "docker-archive" | "oci-archive" | "oci-dir";
  images: LoadedImage[];
}

/**
 * Load from `input`: a file path (docker or OCI archive, optionally gzip/zstd-compressed), a directory (OCI
 * layout), `docker-archive:FILE`, `oci-archive:FILE[:ref]`, `oci:DIR[:ref]`, or a byte stream (stdin).
 */
export async function loadImages(
  store: Store,
  input: string | Readable,
  opts: LoadOptions = {},
): Promise<LoadResult> {
  const events = opts.events ?? noEvents;
  const cleanup: string[] = [];
  try {
    let tree: FileTree;
    let ref: string | undefined;
    if (typeof input !== "string") {
      const spooled = await spool(input, "stdin", cleanup);
      tree = await TarFileTree.open(spooled, "stdin");
    } else {
      const loc = parseLocation(input);
      ref = loc.ref;
      const st = await stat(loc.path).catch((e) => {
        throw new OslessError("E_NOT_FOUND", `cannot read ${loc.path}: ${(e as Error).message}`, {
          hint: "give the path of an archive written by docker save, podman save or skopeo copy, or an OCI layout dir",
        });
      });
      if (st.isDirectory()) {
        if (loc.transport === "docker-archive" || loc.transport === "oci-archive") {
          throw new OslessError("E_USAGE", `${loc.path} is a directory, not a ${loc.transport} file`, {
            hint: `use oci:${loc.path} for an OCI layout directory`,
          });
        }
        tree = new DirTree(loc.path);
      } else {
        const head = await detectFileCompression(loc.path);
        const file = head === "none" ? loc.path : await spool(createReadStream(loc.path), loc.path, cleanup);
        tree = await TarFileTree.open(file, loc.path);
      }
    }
    const isOci = (await tree.has("index.json")) && (await tree.has("oci-layout"));
    const isDocker = await tree.has("manifest.json");
    const format: LoadResult["format"] =
      tree instanceof DirTree ? "oci-dir" : isDocker ? "docker-archive" : "oci-archive";
    if (!isOci && !isDocker) {
      throw new OslessError(
        "E_ARCHIVE_INVALID",
        `${tree.label}: neither manifest.json nor an OCI layout (oci-layout + index.json) found`,
        {
          hint:
            tree instanceof DirTree
              ? "the directory is not an OCI image layout"
              : "the file is not an image archive; archives from docker/podman save and skopeo copy are supported",
        },
      );
    }
    const images = await store.transaction(async (tx) => {
      const importer = new Importer(tree, tx, events);
      return isOci ? importer.oci(ref) : importer.docker();
    });
    return { format, images };
  } finally {
    for (const c of cleanup) await rm(c, { recursive: true, force: true });
  }
}

/** Copy a stream (possibly compressed) to a temporary tar file so that it can be read by offset. */
async function spool(input: AsyncIterable<Uint8Array>, label: string, cleanup: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "osless-load-"));
  cleanup.push(dir);
  const file = join(dir, "archive.tar");
  const { compression, source } = await sniff(input);
  await pipeline(decompress(source, compression, { what: label }), createWriteStream(file));
  return file;
}

function blobPath(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `blobs/${algorithm}/${hex}`;
}

function namesFrom(values: (string | undefined)[], where: string): string[] {
  const out: string[] = [];
  for (const v of values) {
    if (!v) continue;
    try {
      out.push(parseReference(v).toString());
    } catch (e) {
      throw new OslessError(
        "E_ARCHIVE_INVALID",
        `${where}: image name "${v}" is invalid: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }
  return [...new Set(out)];
}

/** A full image name in an OCI ref.name (has a repository path), not just a tag like "latest". */
function refNameAsImageName(v: string | undefined): string | undefined {
  if (!v?.includes("/")) return undefined;
  try {
    return parseReference(v).toString();
  } catch {
    return undefined;
  }
}

class Importer {
  readonly tree: FileTree;
  readonly tx: Transaction;
  readonly events: EventSink;
  #configs = new Map<string, ParsedConfig>();
  /** Compression of each blob streamed in by this load (a blob staged earlier in it is not in blobs/ yet). */
  #compressions = new Map<string, Compression>();

  constructor(tree: FileTree, tx: Transaction, events: EventSink) {
    this.tree = tree;
    this.tx = tx;
    this.events = events;
  }

  // --- OCI layouts (also Docker 25+ archives, which carry both formats) ---------------------------------------

  async oci(ref: string | undefined): Promise<LoadedImage[]> {
    const raw = await this.tree.read("index.json", MAX_MANIFEST_SIZE, "index.json");
    const index = parseIndex(raw, { where: `${this.tree.label}: index.json` });
    let entries = index.index.manifests;
    if (ref !== undefined) {
      entries = entries.filter(
        (e) => e.annotations?.[REF_NAME] === ref || e.annotations?.[CONTAINERD_IMAGE_NAME] === ref,
      );
      if (entries.length === 0) {
        const refs = index.index.manifests.map((e) => e.annotations?.[REF_NAME]).filter(Boolean);
        throw new OslessError("E_NOT_FOUND", `${this.tree.label}: no image named "${ref}" in index.json`, {
          hint: refs.length
            ? `names in this layout: ${refs.join(", ")}`
            : "this layout has no named images; omit the name",
        });
      }
    }
    // Docker archives name images in manifest.json (RepoTags), keyed by config path.
    const dockerNames = new Map<string, string[]>();
    if (await this.tree.has("manifest.json")) {
      for (const item of await this.dockerManifest()) {
        const cfg = item.Config.match(/([a-f0-9]{64})(?:\.json)?$/)?.[1];
        if (cfg)
          dockerNames.set(
            `sha256:${cfg}`,
            namesFrom(item.RepoTags ?? [], `${this.tree.label}: manifest.json`),
          );
      }
    }
    const out: LoadedImage[] = [];
    for (const [i, e] of entries.entries()) {
      const where = `${this.tree.label}: index.json manifests[${i}]`;
      const id = await this.stageNode(e, where);
      const refName = e.annotations?.[REF_NAME];
      const names = new Set(
        namesFrom([e.annotations?.[CONTAINERD_IMAGE_NAME], refNameAsImageName(refName)], where),
      );
      for (const n of dockerNames.get(id) ?? []) names.add(n);
      const info: LoadedImage = { names: [...names], digest: e.digest, id, mediaType: e.mediaType };
      if (names.size === 0 && refName) info.refName = refName;
      this.record(info, e);
      out.push(info);
    }
    return out;
  }

  /** Stage a manifest or index and everything below it; returns the image ID. */
  async stageNode(d: Descriptor, where: string): Promise<string> {
    const raw = await this.tree.read(blobPath(d.digest), MAX_MANIFEST_SIZE, `${where} (${d.digest})`);
    const parsed = parseManifestOrIndex(raw, {
      declaredMediaType: d.mediaType,
      expected: d,
      where: `${where} (${d.digest})`,
    });
    if (parsed.kind === "index") {
      for (const [j, child] of parsed.index.manifests.entries()) {
        const cw = `${where} → manifests[${j}]`;
        if (isManifestMediaType(child.mediaType) || isIndexMediaType(child.mediaType)) {
          if (!(await this.tree.has(blobPath(child.digest)))) {
            // Docker and skopeo export only some platforms of a multi-platform image.
            this.events({
              type: "note",
              level: "info",
              text: `${cw}: platform manifest ${child.digest} is not in the archive (skipped)`,
            });
            continue;
          }
          await this.stageNode(child, cw);
        } else if (await this.tree.has(blobPath(child.digest))) {
          await this.stageBlob(child, cw);
        }
      }
      await this.tx.put(raw, d, where);
      return parsed.digest;
    }
    const m = parsed.manifest;
    if (!isConfigMediaType(m.config.mediaType)) {
      // Not a container image (a buildx attestation, a signature): its blobs are copied, never parsed.
      for (const d of [m.config, ...m.layers]) {
        if (await this.tree.has(blobPath(d.digest))) await this.stageBlob(d, `${where} blob ${d.digest}`);
      }
      await this.tx.put(raw, d, where);
      return parsed.digest;
    }
    const config = await this.stageConfig(m.config, `${where} config`);
    checkImageConsistency(m, config.config, where);
    for (const [i, layer] of m.layers.entries()) {
      const lw = `${where} layer ${i + 1}/${m.layers.length}`;
      if (!(await this.tree.has(blobPath(layer.digest))) && layer.urls?.length) continue; // foreign layer
      const compression = await this.stageBlob(layer, lw);
      // An uncompressed layer's digest is its DiffID: check it against the config here and now.
      const diffId = config.config.rootfs.diff_ids[i];
      if (compression === "none" && diffId !== layer.digest) {
        throw new OslessError(
          "E_DIGEST_MISMATCH",
          `${lw}: uncompressed layer ${layer.digest} does not match DiffID ${diffId} in the config`,
          {
            hint: "the archive's manifest and config disagree; export the image again",
          },
        );
      }
    }
    await this.tx.put(raw, d, where);
    return config.digest;
  }

  async stageConfig(d: { digest: string; size: number }, where: string): Promise<ParsedConfig> {
    const cached = this.#configs.get(d.digest);
    if (cached) return cached;
    const raw = await this.tree.read(blobPath(d.digest), MAX_CONFIG_SIZE, where);
    const parsed = parseImageConfig(raw, { expected: d, where });
    await this.tx.put(raw, d, where);
    this.#configs.set(d.digest, parsed);
    return parsed;
  }

  /** Stage a blob from `blobs/<alg>/<hex>`, verifying size and digest; returns the compression it really has. */
  async stageBlob(d: { digest: string; size: number }, where: string): Promise<Compression> {
    const path = blobPath(d.digest);
    const size = await this.tree.size(path);
    if (size === undefined) {
      throw new OslessError("E_BLOB_MISSING", `${where}: blob ${d.digest} is not in ${this.tree.label}`, {
        hint: "the archive is incomplete; export the image again",
      });
    }
    if (size !== d.size) {
      throw new OslessError(
        "E_SIZE_MISMATCH",
        `${where}: blob ${d.digest} is ${size} bytes, the descriptor says ${d.size}`,
        {
          hint: "the archive is corrupt; export the image again",
        },
      );
    }
    return this.stream(path, d, where);
  }

  async stream(
    path: string,
    expected: { digest: string; size: number } | undefined,
    where: string,
  ): Promise<Compression> {
    let compression: Compression = "none";
    const id = expected?.digest ?? path;
    const total = await this.tree.size(path);
    this.events({ type: "start", id, label: labelFor(expected?.digest, path), total });
    let skipped = true;
    const tree = this.tree;
    const events = this.events;
    await this.tx.put(
      async () => {
        skipped = false;
        const s = await sniff(tree.open(path));
        compression = s.compression;
        return reportProgress(s.source, id, events);
      },
      expected,
      where,
    );
    if (skipped && expected) {
      // Staged earlier in this load (shared by two images), else already in the store.
      compression =
        this.#compressions.get(expected.digest) ??
        (await detectFileCompression(this.tx.store.blobPath(expected.digest)));
    }
    if (expected) this.#compressions.set(expected.digest, compression);
    this.events({ type: "end", id, skipped });
    return compression;
  }

  // --- docker-archive (manifest.json) ---------------------------------------------------------------------------

  async dockerManifest(): Promise<DockerArchiveItem[]> {
    const where = `${this.tree.label}: manifest.json`;
    const raw = await this.tree.read("manifest.json", MAX_MANIFEST_SIZE, "manifest.json");
    const doc = parseJson(raw.toString("utf8"), where);
    if (!Array.isArray(doc) || doc.length === 0) {
      throw new OslessError("E_ARCHIVE_INVALID", `${where}: expected a non-empty array of images`, {
        hint: "the archive is not a docker save archive",
      });
    }
    return doc.map((item, i) => {
      const it = item as Partial<DockerArchiveItem>;
      const bad = (field: string) =>
        new OslessError("E_ARCHIVE_INVALID", `${where}: [${i}].${field} is missing or not valid`, {
          hint: "the archive is not a docker save archive",
        });
      if (typeof it.Config !== "string") throw bad("Config");
      if (!Array.isArray(it.Layers) || !it.Layers.every((l) => typeof l === "string")) throw bad("Layers");
      if (
        it.RepoTags != null &&
        (!Array.isArray(it.RepoTags) || !it.RepoTags.every((t) => typeof t === "string"))
      ) {
        throw bad("RepoTags");
      }
      return { Config: it.Config, Layers: it.Layers, RepoTags: it.RepoTags ?? null };
    });
  }

  async docker(): Promise<LoadedImage[]> {
    const items = await this.dockerManifest();
    const out: LoadedImage[] = [];
    for (const [i, item] of items.entries()) {
      const where = `${this.tree.label}: manifest.json[${i}]`;
      const cfgRaw = await this.tree.read(item.Config, MAX_CONFIG_SIZE, `${where} config`);
      const named = item.Config.match(/([a-f0-9]{64})(?:\.json)?$/)?.[1];
      const config = parseImageConfig(cfgRaw, {
        where: `${where} config ${item.Config}`,
        ...(named ? { expected: { digest: `sha256:${named}`, size: cfgRaw.length } } : {}),
      });
      const diffIds = config.config.rootfs.diff_ids;
      if (diffIds.length !== item.Layers.length) {
        throw new OslessError(
          "E_ARCHIVE_INVALID",
          `${where}: ${item.Layers.length} layers listed but the config has ${diffIds.length} DiffIDs`,
          { hint: "the archive is inconsistent; export the image again" },
        );
      }
      await this.tx.put(cfgRaw, { digest: config.digest, size: config.size }, `${where} config`);
      const layers: Descriptor[] = [];
      for (const [j, path] of item.Layers.entries()) {
        const lw = `${where} layer ${j + 1}/${item.Layers.length} (${path})`;
        const diffId = diffIds[j]!;
        const size = await this.tree.size(path);
        if (size === undefined) {
          throw new OslessError("E_BLOB_MISSING", `${lw}: not in the archive`, {
            hint: "the archive is incomplete; export it again",
          });
        }
        layers.push(await this.dockerLayer(path, size, diffId, lw));
      }
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.OCI_MANIFEST,
          config: { mediaType: MediaType.OCI_CONFIG, digest: config.digest, size: config.size },
          layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
        }),
      );
      const digest = digestOf(manifest);
      await this.tx.put(manifest, { digest, size: manifest.length }, `${where} manifest`);
      const info: LoadedImage = {
        names: namesFrom(item.RepoTags ?? [], where),
        digest,
        id: config.digest,
        mediaType: MediaType.OCI_MANIFEST,
      };
      this.record(info, {
        mediaType: MediaType.OCI_MANIFEST,
        digest: digest as Digest,
        size: manifest.length,
      });
      out.push(info);
    }
    return out;
  }

  /** A docker-archive layer: usually an uncompressed tar whose digest must equal the DiffID. */
  async dockerLayer(path: string, size: number, diffId: string, where: string): Promise<Descriptor> {
    // Sniff first so an uncompressed layer is verified against its DiffID while it is copied.
    let head: Compression = "none";
    for await (const c of this.tree.open(path)) {
      head = detectCompression(c);
      break;
    }
    if (head === "none") {
      await this.stream(path, { digest: diffId, size }, where);
      return { mediaType: MediaType.OCI_LAYER, digest: diffId as Digest, size };
    }
    // Compressed layer: store as is, and check the DiffID over the decompressed bytes.
    const hasher = new Hasher(parseDigest(diffId).algorithm);
    for await (const c of decompress(this.tree.open(path), head, { what: where })) hasher.update(c);
    const actual = hasher.digest();
    if (actual !== diffId) {
      throw new OslessError(
        "E_DIGEST_MISMATCH",
        `${where}: decompressed content ${actual} does not match DiffID ${diffId}`,
        {
          hint: "the archive is corrupt; export the image again",
        },
      );
    }
    const digest = await this.hashMember(path);
    await this.stream(path, { digest, size }, where);
    const mediaType =
      head === "gzip" ? MediaType.OCI_LAYER_GZIP : head === "zstd" ? MediaType.OCI_LAYER_ZSTD : "";
    if (!mediaType) {
      throw new OslessError("E_COMPRESSION", `${where}: ${head}-compressed layers are not supported`, {
        hint: "recompress the layer with gzip or zstd",
      });
    }
    return { mediaType, digest: digest as Digest, size };
  }

  async hashMember(path: string): Promise<string> {
    const h = new Hasher();
    for await (const c of this.tree.open(path)) h.update(c);
    return h.digest();
  }

  /** Queue the index.json change for this image: its names move to it; an untagged image is kept once. */
  record(info: LoadedImage, d: { mediaType: string; digest: string; size: number }): void {
    this.tx.updateIndex((entries: IndexEntry[]) => {
      const base = { mediaType: d.mediaType, digest: d.digest, size: d.size };
      if (info.names.length === 0) {
        if (entries.some((e) => e.digest === d.digest)) return entries;
        return [...entries, base];
      }
      const kept = entries.filter((e) => {
        const n = entryName(e);
        return n === undefined ? e.digest !== d.digest : !info.names.includes(n);
      });
      return [...kept, ...info.names.map((n) => ({ ...base, annotations: { [REF_NAME]: n } }))];
    });
  }
}

interface DockerArchiveItem {
  Config: string;
  Layers: string[];
  RepoTags: string[] | null;
}

function labelFor(digest: string | undefined, path: string): string {
  if (digest) return digest.slice(digest.indexOf(":") + 1, digest.indexOf(":") + 13);
  return path;
}
