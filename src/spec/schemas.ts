/**
 * Schemas (built with check.ts, not zod: see there why) and types for OCI image-spec v1.1 and Docker schema2
 * documents: descriptors, platforms, manifests, indexes / manifest lists and image configs. All objects are loose:
 * unknown fields are kept, never dropped, because osless never re-serialises a document it did not create (digests
 * are taken on the raw bytes, see parse.ts).
 *
 * The schemas follow the spec prose where it is stricter than the official JSON schemas (digest syntax per
 * registered algorithm, non-negative sizes everywhere, `diff_ids` are digests, `urls` are URIs) and where it is
 * more lenient (a manifest may have zero layers; config fields may be `null`). See schemas.test.ts for the list.
 */
import { type Digest, parseDigest } from "../digest/index.ts";
import {
  array,
  boolean,
  literal,
  looseObject,
  number,
  pattern,
  record,
  type Schema,
  string,
} from "./check.ts";
import { MEDIA_TYPE_PATTERN } from "./media-types.ts";

// ---------------------------------------------------------------------------------------------------------------
// Types (hand-written so that they read well and match the names other modules code against)

export interface Platform {
  architecture: string;
  os: string;
  "os.version"?: string;
  "os.features"?: string[];
  variant?: string;
  features?: string[];
  [k: string]: unknown;
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  /** Base64 of the content; only trusted after it was checked against digest and size (validateDescriptor). */
  data?: string;
  platform?: Platform;
  artifactType?: string;
  [k: string]: unknown;
}

export interface Manifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
  [k: string]: unknown;
}

export interface Index {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
  [k: string]: unknown;
}

export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
  [k: string]: unknown;
}

/** `config` of an image config (Docker calls it the container RunConfig). */
export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  ArgsEscaped?: boolean;
  Healthcheck?: HealthConfig;
  OnBuild?: string[];
  Shell?: string[];
  [k: string]: unknown;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
  [k: string]: unknown;
}

export interface RootFS {
  type: "layers";
  diff_ids: Digest[];
  [k: string]: unknown;
}

/**
 * OCI image config / Docker image JSON. Docker configs also carry `container_config`, `container`,
 * `docker_version`, `id`, `parent`, ...: kept as unknown fields.
 */
export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  "os.version"?: string;
  "os.features"?: string[];
  variant?: string;
  config?: ContainerConfig;
  rootfs: RootFS;
  history?: HistoryEntry[];
  [k: string]: unknown;
}

// ---------------------------------------------------------------------------------------------------------------
// Field schemas

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A digest with a supported algorithm and the registered encoding (lowercase hex of the right length). */
export const DigestSchema: Schema<Digest> = string((value) => {
  try {
    parseDigest(value, "digest");
    return undefined;
  } catch (e) {
    return (e as Error).message.replace(/^digest: /, "");
  }
}) as Schema<Digest>;

export const MediaTypeSchema = pattern(MEDIA_TYPE_PATTERN, "is not a media type (RFC 6838 type/subtype)");

export const SizeSchema = number({
  int: "must be an integer number of bytes",
  min: [0, "must not be negative"],
});

export const AnnotationsSchema = record(string());

const UrlSchema = string((u) => (URL.canParse(u) ? undefined : "is not a URI (RFC 3986)"));

export const PlatformSchema = looseObject<Platform>({
  architecture: string(),
  os: string(),
  "os.version": string().optional(),
  "os.features": array(string()).optional(),
  variant: string().optional(),
  features: array(string()).optional(),
});

export const DescriptorSchema = looseObject<Descriptor>({
  mediaType: MediaTypeSchema,
  digest: DigestSchema,
  size: SizeSchema,
  urls: array(UrlSchema).optional(),
  annotations: AnnotationsSchema.optional(),
  data: pattern(BASE64, "is not base64 (RFC 4648)").optional(),
  platform: PlatformSchema.optional(),
  artifactType: MediaTypeSchema.optional(),
});

const SchemaVersion2 = literal(2, "must be 2");

export const ManifestSchema = looseObject<Manifest>({
  schemaVersion: SchemaVersion2,
  mediaType: MediaTypeSchema.optional(),
  artifactType: MediaTypeSchema.optional(),
  config: DescriptorSchema,
  // The OCI JSON schema says minItems 1; the prose says "SHOULD have at least one entry" and Docker pushes
  // `FROM scratch` images with zero layers. We follow the prose.
  layers: array(DescriptorSchema),
  subject: DescriptorSchema.optional(),
  annotations: AnnotationsSchema.optional(),
});

export const IndexSchema = looseObject<Index>({
  schemaVersion: SchemaVersion2,
  mediaType: MediaTypeSchema.optional(),
  artifactType: MediaTypeSchema.optional(),
  manifests: array(DescriptorSchema),
  subject: DescriptorSchema.optional(),
  annotations: AnnotationsSchema.optional(),
});

const StringList = array(string());
const MapStringObject = record(looseObject({}));

export const HealthConfigSchema = looseObject<HealthConfig>({
  Test: StringList.optional(),
  Interval: number().optional(),
  Timeout: number().optional(),
  StartPeriod: number().optional(),
  StartInterval: number().optional(),
  Retries: number().optional(),
});

export const ContainerConfigSchema = looseObject<ContainerConfig>({
  User: string().optional(),
  ExposedPorts: MapStringObject.optional(),
  Env: StringList.optional(),
  Entrypoint: StringList.optional(),
  Cmd: StringList.optional(),
  Volumes: MapStringObject.optional(),
  WorkingDir: string().optional(),
  Labels: AnnotationsSchema.optional(),
  StopSignal: string().optional(),
  ArgsEscaped: boolean().optional(),
  Healthcheck: HealthConfigSchema.optional(),
  OnBuild: StringList.optional(),
  Shell: StringList.optional(),
});

export const HistoryEntrySchema = looseObject<HistoryEntry>({
  created: string().optional(),
  created_by: string().optional(),
  author: string().optional(),
  comment: string().optional(),
  empty_layer: boolean().optional(),
});

export const RootFSSchema = looseObject<RootFS>({
  type: literal("layers", 'must be "layers"'),
  diff_ids: array(DigestSchema),
});

export const ImageConfigSchema = looseObject<ImageConfig>({
  created: string().optional(),
  author: string().optional(),
  architecture: string(),
  os: string(),
  "os.version": string().optional(),
  "os.features": StringList.optional(),
  variant: string().optional(),
  config: ContainerConfigSchema.optional(),
  rootfs: RootFSSchema,
  history: array(HistoryEntrySchema).optional(),
});

/** Optional fields of the image config that may be `null` ("equivalent to being absent", config.md). */
export const NULLABLE_CONFIG_FIELDS = {
  top: ["created", "author", "os.version", "os.features", "variant", "config", "history"],
  config: [
    "User",
    "ExposedPorts",
    "Env",
    "Entrypoint",
    "Cmd",
    "Volumes",
    "WorkingDir",
    "Labels",
    "StopSignal",
    "ArgsEscaped",
    "Healthcheck",
    "OnBuild",
    "Shell",
  ],
  healthcheck: ["Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"],
  history: ["created", "created_by", "author", "comment", "empty_layer"],
} as const;
