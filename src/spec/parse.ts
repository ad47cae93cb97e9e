/**
 * Parsing of manifests, indexes and image configs from their raw bytes (registry-rules.md "Manifests",
 * "Verification while streaming"). The raw buffer is kept and the digest is computed on it: osless never
 * re-serialises what it did not create. Checks run cheapest first: size cap, expected size/digest, JSON, schema1,
 * media type (CVE-2021-41190 type confusion), structure, embedded data.
 */
import { type Digest, type DigestAlgorithm, digestOf, parseDigest, verifyBytes } from "../digest/index.ts";
import { type ErrorCode, OslessError } from "../errors.ts";
import { parseJson } from "./json.ts";
import {
  baseMediaType,
  isConfigMediaType,
  isIndexMediaType,
  isManifestMediaType,
  isSchema1MediaType,
  MediaType,
  SUPPORTED_MANIFEST_TYPES,
} from "./media-types.ts";
import {
  type Descriptor,
  DescriptorSchema,
  type ImageConfig,
  ImageConfigSchema,
  type Index,
  IndexSchema,
  type Manifest,
  ManifestSchema,
  NULLABLE_CONFIG_FIELDS,
} from "./schemas.ts";

/** Manifests and indexes larger than this are refused before parsing (registries accept at least 4 MB). */
export const MAX_MANIFEST_SIZE = 4 * 1024 * 1024;
/** Image configs are read into memory; larger ones are refused. */
export const MAX_CONFIG_SIZE = 8 * 1024 * 1024;

export const SCHEMA1_MESSAGE = "schema1 images are not supported; re-push the image as schema2 or OCI";

export interface ExpectedContent {
  digest: string;
  size: number;
}

export interface ParseOptions {
  /** The type from the referring descriptor or the `Content-Type` header (parameters are ignored). */
  declaredMediaType?: string | undefined;
  /** Verify the raw bytes against this size and digest. */
  expected?: ExpectedContent | undefined;
  /** Names the document in errors, e.g. `docker.io/library/alpine:3.20 manifest`. */
  where?: string | undefined;
}

export interface ParsedManifest {
  kind: "manifest";
  /** Declared, else the body's `mediaType`, else OCI (classified by shape). */
  mediaType: string;
  raw: Buffer;
  digest: Digest;
  size: number;
  manifest: Manifest;
}

export interface ParsedIndex {
  kind: "index";
  mediaType: string;
  raw: Buffer;
  digest: Digest;
  size: number;
  index: Index;
}

export interface ParsedConfig {
  raw: Buffer;
  digest: Digest;
  size: number;
  config: ImageConfig;
}

// ---------------------------------------------------------------------------------------------------------------
// helpers

type Path = readonly PropertyKey[];

/** `layers[2].digest`, `annotations["org.opencontainers.image.title"]`. */
export function formatPath(path: Path): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else {
      const key = String(seg);
      if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) out += out === "" ? key : `.${key}`;
      else out += `[${JSON.stringify(key)}]`;
    }
  }
  return out === "" ? "(document)" : out;
}

function valueAt(root: unknown, path: Path): unknown {
  let cur: unknown = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg as string];
  }
  return cur;
}

interface ZodIssueLike {
  path: PropertyKey[];
  message: string;
  code?: string;
}

function schemaError(
  code: ErrorCode,
  where: string,
  root: unknown,
  issues: readonly ZodIssueLike[],
  prefix: Path = [],
): OslessError {
  const first = issues[0];
  const path = [...prefix, ...(first?.path ?? [])];
  const at = formatPath(path);
  const value = valueAt(root, first?.path ?? []);
  const what =
    value === undefined && first?.code === "invalid_type" ? "required field is missing" : first?.message;
  const more =
    issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? "s" : ""})` : "";
  return new OslessError(code, `${where}: ${at}: ${what}${more}`, {
    hint:
      code === "E_CONFIG_INVALID"
        ? "the image config does not follow the OCI/Docker image spec; rebuild or re-push the image"
        : "the document does not follow the OCI/Docker image spec; rebuild or re-push the image",
    details: {
      where,
      path: at,
      issues: issues
        .slice(0, 10)
        .map((i) => ({ path: formatPath([...prefix, ...i.path]), message: i.message })),
    },
  });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Keys of `obj` equal to `name` ignoring case: Go's encoding/json matches them (parser differential). */
function hasKeyFolded(obj: Record<string, unknown>, name: string): boolean {
  const lower = name.toLowerCase();
  return Object.keys(obj).some((k) => k.toLowerCase() === lower);
}

const TOP_LEVEL_KEYS = [
  "schemaVersion",
  "mediaType",
  "artifactType",
  "config",
  "layers",
  "manifests",
  "subject",
];

function rejectCaseVariants(body: Record<string, unknown>, where: string): void {
  for (const key of Object.keys(body)) {
    const known = TOP_LEVEL_KEYS.find((k) => k.toLowerCase() === key.toLowerCase());
    if (known !== undefined && known !== key) {
      throw new OslessError(
        "E_MANIFEST_INVALID",
        `${where}: field "${key}" differs from "${known}" only by case`,
        {
          hint: "Go-based tools read such fields as the real one; the document is ambiguous and refused",
          details: { where, field: key },
        },
      );
    }
  }
}

function algorithmOf(expected: ExpectedContent | undefined, where: string): DigestAlgorithm {
  return expected ? parseDigest(expected.digest, `${where} expected digest`).algorithm : "sha256";
}

function checkBytes(raw: Buffer, expected: ExpectedContent | undefined, where: string): Digest {
  if (expected) {
    verifyBytes(raw, expected, where);
    return expected.digest as Digest;
  }
  return digestOf(raw, algorithmOf(expected, where));
}

function schema1Error(where: string, why: string): OslessError {
  return new OslessError("E_MANIFEST_SCHEMA1", `${where}: ${SCHEMA1_MESSAGE} (${why})`, {
    hint: "pull and push it with a current Docker or skopeo to convert it to schema2/OCI",
    details: { where },
  });
}

function mismatch(where: string, message: string, details: Record<string, unknown>): OslessError {
  return new OslessError("E_MEDIA_TYPE_MISMATCH", `${where}: ${message}`, {
    hint: "the document's type and content disagree (possible type confusion, CVE-2021-41190); it is refused",
    details: { where, ...details },
  });
}

/** Decode and check embedded `data` of every descriptor in a parsed document. */
function checkEmbeddedData(d: Descriptor, where: string, path: Path): void {
  if (d.data === undefined) return;
  const bytes = Buffer.from(d.data, "base64");
  const at = formatPath([...path, "data"]);
  if (bytes.length !== d.size) {
    throw new OslessError(
      "E_SIZE_MISMATCH",
      `${where}: ${at}: embedded data is ${bytes.length} bytes but the descriptor says ${d.size}`,
      {
        hint: "the embedded data does not match its descriptor; the document is corrupt",
        details: { where, path: at, expected: d.size, actual: bytes.length },
      },
    );
  }
  const actual = digestOf(bytes, parseDigest(d.digest).algorithm);
  if (actual !== d.digest) {
    throw new OslessError(
      "E_DIGEST_MISMATCH",
      `${where}: ${at}: embedded data has digest ${actual}, not ${d.digest}`,
      {
        hint: "the embedded data does not match its descriptor; the document is corrupt",
        details: { where, path: at, expected: d.digest, actual },
      },
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// descriptors

/**
 * Validate a descriptor: media type syntax, supported digest, integer size >= 0, and embedded `data` (if present)
 * matching digest and size. Throws E_MANIFEST_INVALID naming `where` and the bad field.
 */
export function validateDescriptor(d: unknown, where: string): Descriptor {
  const r = DescriptorSchema.safeParse(d);
  if (!r.success) throw schemaError("E_MANIFEST_INVALID", where, d, r.error.issues);
  const desc = r.data as Descriptor;
  checkEmbeddedData(desc, where, []);
  return desc;
}

// ---------------------------------------------------------------------------------------------------------------
// manifests and indexes

type Kind = "manifest" | "index";

function unknownType(where: string, mt: string): OslessError {
  return new OslessError("E_MEDIA_TYPE_UNKNOWN", `${where}: media type ${mt} is not a manifest or index`, {
    hint: `supported: ${SUPPORTED_MANIFEST_TYPES.join(", ")}`,
    details: { where, mediaType: mt },
  });
}

function classify(
  body: Record<string, unknown>,
  declared: string | undefined,
  where: string,
): [Kind, string] {
  const bodyType = body.mediaType;
  if (bodyType !== undefined && typeof bodyType !== "string") {
    throw new OslessError("E_MANIFEST_INVALID", `${where}: mediaType: must be a string`, {
      hint: "the document does not follow the OCI/Docker image spec",
      details: { where, path: "mediaType" },
    });
  }
  if (typeof bodyType === "string" && isSchema1MediaType(bodyType)) throw schema1Error(where, bodyType);
  if (declared !== undefined && !isManifestMediaType(declared) && !isIndexMediaType(declared)) {
    throw unknownType(where, declared);
  }
  if (declared !== undefined && bodyType !== undefined && bodyType !== declared) {
    throw mismatch(where, `declared media type ${declared} but the document says ${bodyType}`, {
      declared,
      body: bodyType,
    });
  }
  const hasManifests = hasKeyFolded(body, "manifests");
  const hasConfigOrLayers = hasKeyFolded(body, "config") || hasKeyFolded(body, "layers");
  const mt = declared ?? bodyType;
  let kind: Kind;
  if (mt !== undefined) {
    if (isManifestMediaType(mt)) kind = "manifest";
    else if (isIndexMediaType(mt)) kind = "index";
    else throw unknownType(where, mt);
  } else if (hasManifests && hasConfigOrLayers) {
    throw mismatch(where, "document has no mediaType and both `manifests` and `config`/`layers`", {});
  } else if (hasManifests) kind = "index";
  else if (hasConfigOrLayers) kind = "manifest";
  else {
    throw new OslessError(
      "E_MANIFEST_INVALID",
      `${where}: document has no mediaType, no \`manifests\` and no \`config\`: not a manifest or index`,
      { hint: "check that the reference names an image", details: { where } },
    );
  }
  if (kind === "manifest" && hasManifests) {
    throw mismatch(where, `${mt ?? "manifest"} document has a \`manifests\` field (an index's)`, {
      mediaType: mt,
    });
  }
  if (kind === "index" && hasConfigOrLayers) {
    throw mismatch(where, `${mt ?? "index"} document has \`config\`/\`layers\` fields (a manifest's)`, {
      mediaType: mt,
    });
  }
  return [kind, mt ?? (kind === "manifest" ? MediaType.OCI_MANIFEST : MediaType.OCI_INDEX)];
}

/**
 * Parse a manifest or index from its raw bytes. `declaredMediaType` (descriptor or `Content-Type`) decides the kind
 * and must agree with the body; without any media type the kind is taken from the shape.
 */
export function parseManifestOrIndex(raw: Buffer, opts: ParseOptions = {}): ParsedManifest | ParsedIndex {
  const where = opts.where ?? "manifest";
  if (raw.length > MAX_MANIFEST_SIZE) {
    throw new OslessError(
      "E_MANIFEST_TOO_LARGE",
      `${where}: ${raw.length} bytes is over the ${MAX_MANIFEST_SIZE}-byte limit for manifests and indexes`,
      {
        hint: "registries only promise to accept manifests up to 4 MiB; this one is refused",
        details: { where },
      },
    );
  }
  const digest = checkBytes(raw, opts.expected, where);
  const declared =
    opts.declaredMediaType !== undefined && opts.declaredMediaType !== ""
      ? baseMediaType(opts.declaredMediaType)
      : undefined;
  if (declared !== undefined && isSchema1MediaType(declared)) throw schema1Error(where, declared);

  const body = parseJson(raw.toString("utf8"), where);
  if (!isPlainObject(body)) {
    throw new OslessError("E_MANIFEST_INVALID", `${where}: (document): must be a JSON object`, {
      hint: "the document does not follow the OCI/Docker image spec",
      details: { where, path: "(document)" },
    });
  }
  if (body.schemaVersion === 1 || hasKeyFolded(body, "fsLayers")) {
    throw schema1Error(where, body.schemaVersion === 1 ? "schemaVersion 1" : "fsLayers");
  }
  const [kind, mediaType] = classify(body, declared, where);
  rejectCaseVariants(body, where);
  const size = raw.length;

  if (kind === "manifest") {
    const r = ManifestSchema.safeParse(body);
    if (!r.success) throw schemaError("E_MANIFEST_INVALID", where, body, r.error.issues);
    const manifest = r.data as Manifest;
    checkEmbeddedData(manifest.config, where, ["config"]);
    for (const [i, l] of manifest.layers.entries()) checkEmbeddedData(l, where, ["layers", i]);
    if (manifest.subject) checkEmbeddedData(manifest.subject, where, ["subject"]);
    return { kind, mediaType, raw, digest, size, manifest };
  }
  const r = IndexSchema.safeParse(body);
  if (!r.success) throw schemaError("E_MANIFEST_INVALID", where, body, r.error.issues);
  const index = r.data as Index;
  for (const [i, m] of index.manifests.entries()) checkEmbeddedData(m, where, ["manifests", i]);
  if (index.subject) checkEmbeddedData(index.subject, where, ["subject"]);
  return { kind, mediaType, raw, digest, size, index };
}

/** Parse a single-image manifest; an index is refused with E_MEDIA_TYPE_MISMATCH. */
export function parseManifest(raw: Buffer, opts: ParseOptions = {}): ParsedManifest {
  const p = parseManifestOrIndex(raw, opts);
  if (p.kind !== "manifest") {
    const where = opts.where ?? "manifest";
    throw new OslessError(
      "E_MEDIA_TYPE_MISMATCH",
      `${where}: expected an image manifest but got an index (${p.mediaType})`,
      {
        hint: "select a platform from the index first",
        details: { where, mediaType: p.mediaType },
      },
    );
  }
  return p;
}

/** Parse an index / manifest list; a single-image manifest is refused with E_MEDIA_TYPE_MISMATCH. */
export function parseIndex(raw: Buffer, opts: ParseOptions = {}): ParsedIndex {
  const p = parseManifestOrIndex(raw, opts);
  if (p.kind !== "index") {
    const where = opts.where ?? "index";
    throw new OslessError(
      "E_MEDIA_TYPE_MISMATCH",
      `${where}: expected an index but got an image manifest (${p.mediaType})`,
      {
        hint: "the reference names a single-platform image",
        details: { where, mediaType: p.mediaType },
      },
    );
  }
  return p;
}

// ---------------------------------------------------------------------------------------------------------------
// image configs

function dropNulls(obj: unknown, keys: readonly string[]): void {
  if (!isPlainObject(obj)) return;
  for (const k of keys) if (obj[k] === null) delete obj[k];
}

/** Parse an OCI image config or Docker image JSON. Optional fields set to `null` count as absent (config.md). */
export function parseImageConfig(
  raw: Buffer,
  opts: { expected?: ExpectedContent | undefined; where?: string | undefined } = {},
): ParsedConfig {
  const where = opts.where ?? "image config";
  if (raw.length > MAX_CONFIG_SIZE) {
    throw new OslessError(
      "E_SIZE_LIMIT",
      `${where}: ${raw.length} bytes is over the ${MAX_CONFIG_SIZE}-byte limit for image configs`,
      {
        hint: "image configs are read into memory; this one is refused",
        details: { where, limit: MAX_CONFIG_SIZE },
      },
    );
  }
  const digest = checkBytes(raw, opts.expected, where);
  const body = parseJson(raw.toString("utf8"), where);
  if (!isPlainObject(body)) {
    throw new OslessError("E_CONFIG_INVALID", `${where}: (document): must be a JSON object`, {
      hint: "the image config does not follow the OCI/Docker image spec",
      details: { where, path: "(document)" },
    });
  }
  dropNulls(body, NULLABLE_CONFIG_FIELDS.top);
  dropNulls(body.config, NULLABLE_CONFIG_FIELDS.config);
  if (isPlainObject(body.config)) dropNulls(body.config.Healthcheck, NULLABLE_CONFIG_FIELDS.healthcheck);
  if (Array.isArray(body.history)) for (const h of body.history) dropNulls(h, NULLABLE_CONFIG_FIELDS.history);
  const r = ImageConfigSchema.safeParse(body);
  if (!r.success) throw schemaError("E_CONFIG_INVALID", where, body, r.error.issues);
  return { raw, digest, size: raw.length, config: r.data as ImageConfig };
}

/**
 * Checks that a manifest and its config describe one runnable image: the config media type is an image config
 * (not an artifact) and there is one `rootfs.diff_ids` entry per layer.
 */
export function checkImageConsistency(m: Manifest, c: ImageConfig, where = "image"): void {
  if (!isConfigMediaType(m.config.mediaType)) {
    throw new OslessError(
      "E_MEDIA_TYPE_UNKNOWN",
      `${where}: config media type ${m.config.mediaType} is not an image config`,
      {
        hint: `this is an artifact, not a container image (image configs are ${MediaType.OCI_CONFIG} or ${MediaType.DOCKER_CONFIG})`,
        details: { where, mediaType: m.config.mediaType },
      },
    );
  }
  if (c.rootfs.type !== "layers") {
    throw new OslessError(
      "E_CONFIG_INVALID",
      `${where}: rootfs.type: must be "layers", not "${c.rootfs.type}"`,
      {
        hint: "the image config does not follow the OCI/Docker image spec",
        details: { where },
      },
    );
  }
  const layers = m.layers.length;
  const diffIds = c.rootfs.diff_ids.length;
  if (layers !== diffIds) {
    throw new OslessError(
      "E_CONFIG_INVALID",
      `${where}: the manifest has ${layers} layer${layers === 1 ? "" : "s"} but the config lists ${diffIds} rootfs.diff_ids`,
      {
        hint: "manifest and config do not belong together; the image is corrupt, rebuild or re-push it",
        details: { where, layers, diffIds },
      },
    );
  }
}
