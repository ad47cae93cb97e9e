/**
 * Zod schemas and types for OCI image-spec v1.1 and Docker schema2 documents: descriptors, platforms, manifests,
 * indexes / manifest lists and image configs. All objects are loose: unknown fields are kept, never dropped, because
 * osless never re-serialises a document it did not create (digests are taken on the raw bytes, see parse.ts).
 *
 * The schemas follow the spec prose where it is stricter than the official JSON schemas (digest syntax per
 * registered algorithm, non-negative sizes everywhere, `diff_ids` are digests, `urls` are URIs) and where it is
 * more lenient (a manifest may have zero layers; config fields may be `null`). See schemas.test.ts for the list.
 */
import { z } from "zod";
import { type Digest, parseDigest } from "../digest/index.ts";
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
export const DigestSchema = z.string().superRefine((value, ctx) => {
  try {
    parseDigest(value, "digest");
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message.replace(/^digest: /, "") });
  }
});

export const MediaTypeSchema = z
  .string()
  .regex(MEDIA_TYPE_PATTERN, { message: "is not a media type (RFC 6838 type/subtype)" });

export const SizeSchema = z
  .number()
  .int({ message: "must be an integer number of bytes" })
  .min(0, { message: "must not be negative" });

export const AnnotationsSchema = z.record(z.string(), z.string());

const UrlSchema = z.string().refine((u) => URL.canParse(u), { message: "is not a URI (RFC 3986)" });

export const PlatformSchema = z.looseObject({
  architecture: z.string(),
  os: z.string(),
  "os.version": z.string().optional(),
  "os.features": z.array(z.string()).optional(),
  variant: z.string().optional(),
  features: z.array(z.string()).optional(),
});

export const DescriptorSchema = z.looseObject({
  mediaType: MediaTypeSchema,
  digest: DigestSchema,
  size: SizeSchema,
  urls: z.array(UrlSchema).optional(),
  annotations: AnnotationsSchema.optional(),
  data: z.string().regex(BASE64, { message: "is not base64 (RFC 4648)" }).optional(),
  platform: PlatformSchema.optional(),
  artifactType: MediaTypeSchema.optional(),
});

const SchemaVersion2 = z.literal(2, { message: "must be 2" });

export const ManifestSchema = z.looseObject({
  schemaVersion: SchemaVersion2,
  mediaType: MediaTypeSchema.optional(),
  artifactType: MediaTypeSchema.optional(),
  config: DescriptorSchema,
  // The OCI JSON schema says minItems 1; the prose says "SHOULD have at least one entry" and Docker pushes
  // `FROM scratch` images with zero layers. We follow the prose.
  layers: z.array(DescriptorSchema),
  subject: DescriptorSchema.optional(),
  annotations: AnnotationsSchema.optional(),
});

export const IndexSchema = z.looseObject({
  schemaVersion: SchemaVersion2,
  mediaType: MediaTypeSchema.optional(),
  artifactType: MediaTypeSchema.optional(),
  manifests: z.array(DescriptorSchema),
  subject: DescriptorSchema.optional(),
  annotations: AnnotationsSchema.optional(),
});

const StringList = z.array(z.string());
const MapStringObject = z.record(z.string(), z.looseObject({}));

export const HealthConfigSchema = z.looseObject({
  Test: StringList.optional(),
  Interval: z.number().optional(),
  Timeout: z.number().optional(),
  StartPeriod: z.number().optional(),
  StartInterval: z.number().optional(),
  Retries: z.number().optional(),
});

export const ContainerConfigSchema = z.looseObject({
  User: z.string().optional(),
  ExposedPorts: MapStringObject.optional(),
  Env: StringList.optional(),
  Entrypoint: StringList.optional(),
  Cmd: StringList.optional(),
  Volumes: MapStringObject.optional(),
  WorkingDir: z.string().optional(),
  Labels: AnnotationsSchema.optional(),
  StopSignal: z.string().optional(),
  ArgsEscaped: z.boolean().optional(),
  Healthcheck: HealthConfigSchema.optional(),
  OnBuild: StringList.optional(),
  Shell: StringList.optional(),
});

export const HistoryEntrySchema = z.looseObject({
  created: z.string().optional(),
  created_by: z.string().optional(),
  author: z.string().optional(),
  comment: z.string().optional(),
  empty_layer: z.boolean().optional(),
});

export const RootFSSchema = z.looseObject({
  type: z.literal("layers", { message: 'must be "layers"' }),
  diff_ids: z.array(DigestSchema),
});

export const ImageConfigSchema = z.looseObject({
  created: z.string().optional(),
  author: z.string().optional(),
  architecture: z.string(),
  os: z.string(),
  "os.version": z.string().optional(),
  "os.features": StringList.optional(),
  variant: z.string().optional(),
  config: ContainerConfigSchema.optional(),
  rootfs: RootFSSchema,
  history: z.array(HistoryEntrySchema).optional(),
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
