/**
 * Media types of OCI image-spec v1.1 and Docker image manifest v2 schema 2 (media-types.md, registry-rules.md
 * "Manifests"), with predicates used to classify manifests, configs and layers.
 */

export const MediaType = {
  OCI_MANIFEST: "application/vnd.oci.image.manifest.v1+json",
  OCI_INDEX: "application/vnd.oci.image.index.v1+json",
  OCI_CONFIG: "application/vnd.oci.image.config.v1+json",
  OCI_LAYER: "application/vnd.oci.image.layer.v1.tar",
  OCI_LAYER_GZIP: "application/vnd.oci.image.layer.v1.tar+gzip",
  OCI_LAYER_ZSTD: "application/vnd.oci.image.layer.v1.tar+zstd",
  OCI_LAYER_NONDIST: "application/vnd.oci.image.layer.nondistributable.v1.tar",
  OCI_LAYER_NONDIST_GZIP: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  OCI_LAYER_NONDIST_ZSTD: "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
  OCI_EMPTY: "application/vnd.oci.empty.v1+json",
  OCI_DESCRIPTOR: "application/vnd.oci.descriptor.v1+json",
  OCI_LAYOUT_HEADER: "application/vnd.oci.layout.header.v1+json",
  DOCKER_MANIFEST: "application/vnd.docker.distribution.manifest.v2+json",
  DOCKER_MANIFEST_LIST: "application/vnd.docker.distribution.manifest.list.v2+json",
  DOCKER_CONFIG: "application/vnd.docker.container.image.v1+json",
  DOCKER_LAYER_GZIP: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  DOCKER_LAYER_FOREIGN_GZIP: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  DOCKER_LAYER_ZSTD: "application/vnd.docker.image.rootfs.diff.tar.zstd",
  DOCKER_SCHEMA1: "application/vnd.docker.distribution.manifest.v1+json",
  DOCKER_SCHEMA1_SIGNED: "application/vnd.docker.distribution.manifest.v1+prettyjws",
} as const;

export type KnownMediaType = (typeof MediaType)[keyof typeof MediaType];

/** Compression of a layer blob as declared by its media type. */
export type Compression = "none" | "gzip" | "zstd";

/** RFC 6838 type/subtype syntax, as in the OCI schema (defs-descriptor.json#/definitions/mediaType). */
export const MEDIA_TYPE_PATTERN =
  /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

export function isValidMediaType(mt: unknown): mt is string {
  return typeof mt === "string" && MEDIA_TYPE_PATTERN.test(mt);
}

/**
 * The bare type of a `Content-Type` value: parameters dropped, whitespace trimmed, lowercased
 * (`application/vnd.oci.image.manifest.v1+json; charset=utf-8` -> the manifest type).
 */
export function baseMediaType(contentType: string): string {
  const semi = contentType.indexOf(";");
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

const MANIFEST_TYPES: ReadonlySet<string> = new Set([MediaType.OCI_MANIFEST, MediaType.DOCKER_MANIFEST]);
const INDEX_TYPES: ReadonlySet<string> = new Set([MediaType.OCI_INDEX, MediaType.DOCKER_MANIFEST_LIST]);
const CONFIG_TYPES: ReadonlySet<string> = new Set([MediaType.OCI_CONFIG, MediaType.DOCKER_CONFIG]);
const SCHEMA1_TYPES: ReadonlySet<string> = new Set([
  MediaType.DOCKER_SCHEMA1,
  MediaType.DOCKER_SCHEMA1_SIGNED,
]);

const LAYER_COMPRESSION: ReadonlyMap<string, Compression> = new Map<string, Compression>([
  [MediaType.OCI_LAYER, "none"],
  [MediaType.OCI_LAYER_GZIP, "gzip"],
  [MediaType.OCI_LAYER_ZSTD, "zstd"],
  [MediaType.OCI_LAYER_NONDIST, "none"],
  [MediaType.OCI_LAYER_NONDIST_GZIP, "gzip"],
  [MediaType.OCI_LAYER_NONDIST_ZSTD, "zstd"],
  [MediaType.DOCKER_LAYER_GZIP, "gzip"],
  [MediaType.DOCKER_LAYER_FOREIGN_GZIP, "gzip"],
  [MediaType.DOCKER_LAYER_ZSTD, "zstd"],
]);

/** A single-image manifest: OCI image manifest or Docker schema2 manifest. */
export function isManifestMediaType(mt: string): boolean {
  return MANIFEST_TYPES.has(mt);
}

/** A multi-platform index: OCI image index or Docker manifest list. */
export function isIndexMediaType(mt: string): boolean {
  return INDEX_TYPES.has(mt);
}

/** An image config osless can parse (OCI or Docker). Artifact configs (e.g. the empty descriptor) are not. */
export function isConfigMediaType(mt: string): boolean {
  return CONFIG_TYPES.has(mt);
}

/** A filesystem layer osless can unpack. Unknown layer types are stored and copied but never unpacked. */
export function isLayerMediaType(mt: string): boolean {
  return LAYER_COMPRESSION.has(mt);
}

/** Docker schema1 (unsigned or signed), which osless refuses. */
export function isSchema1MediaType(mt: string): boolean {
  return SCHEMA1_TYPES.has(mt);
}

/** Foreign / non-distributable layer types (which may carry `urls`). */
export function isNondistributableMediaType(mt: string): boolean {
  return (
    mt === MediaType.DOCKER_LAYER_FOREIGN_GZIP ||
    mt === MediaType.OCI_LAYER_NONDIST ||
    mt === MediaType.OCI_LAYER_NONDIST_GZIP ||
    mt === MediaType.OCI_LAYER_NONDIST_ZSTD
  );
}

/**
 * The compression a layer type declares; `undefined` if `mt` is not a known layer type. Declared compression is a
 * hint only: readers sniff magic bytes (docker-archive exports label uncompressed tars as gzip).
 */
export function layerCompression(mt: string): Compression | undefined {
  return LAYER_COMPRESSION.get(mt);
}

/** The manifest and index types osless accepts, for error hints. */
export const SUPPORTED_MANIFEST_TYPES: readonly string[] = [
  MediaType.OCI_INDEX,
  MediaType.OCI_MANIFEST,
  MediaType.DOCKER_MANIFEST_LIST,
  MediaType.DOCKER_MANIFEST,
];
