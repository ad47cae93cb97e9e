/**
 * The official OCI JSON schemas (draft-04, loaded with ajv-draft-04) as an oracle: for every fixture our verdict must
 * equal ajv's, except the documented cases where we follow the spec prose (or a deliberate osless rule) instead:
 *
 * prose stricter than the schema (ajv accepts, we reject):
 *   - digest encoding: sha256/sha512 MUST be lowercase hex of 64/128 chars; the schema only checks the grammar.
 *   - embedded `data` MUST decode to the referenced content (digest and size) and MUST be base64; the schema only
 *     says "string".
 *   - `manifests[].size` MUST NOT be negative; the index schema uses int64 for it.
 *   - `urls` MUST be RFC 3986 URIs; the schema says format "uri", which ajv does not check without ajv-formats.
 *   - `rootfs.diff_ids` are DiffIDs (digests); the schema only says "string".
 * prose more lenient than the schema (ajv rejects, we accept):
 *   - `layers` "SHOULD have at least one entry"; the schema says minItems 1 (Docker pushes FROM-scratch images
 *     with zero layers).
 *   - config: "Any OPTIONAL field MAY also be set to null, which is equivalent to being absent"; the schema allows
 *     null only for Entrypoint, Cmd, Volumes and Labels.
 * osless rules (neither schema nor prose):
 *   - digests with unregistered algorithms (prose: SHOULD pass validation) are refused: osless cannot verify them.
 *   - sizes above Number.MAX_SAFE_INTEGER are refused (cannot be represented exactly).
 * Formats (`date-time`, `uri`) are not validated by the oracle (no ajv-formats); we do not check `created` either.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { AnySchema, ValidateFunction } from "ajv";
import AjvDraft04 from "ajv-draft-04";
import { digestOf } from "../digest/index.ts";
import { isOslessError } from "../errors.ts";
import {
  d,
  dockerConfig,
  dockerManifest,
  dockerManifestList,
  json,
  ociConfig,
  ociIndex,
  ociManifest,
} from "./fixtures.test.ts";
import { MediaType } from "./media-types.ts";
import { parseImageConfig, parseManifestOrIndex, validateDescriptor } from "./parse.ts";

const SCHEMA_DIR = "/work/shared/specs/oci-image/schema";

/**
 * Load every schema file. Files with an `id` are registered under it; `$ref`s to sibling files resolve against the
 * referring schema's id (e.g. `https://opencontainers.org/schema/image/defs-descriptor.json`), so a missing ref is
 * registered on demand under exactly that URL (the file named by its last path segment, without its own `id`).
 */
function loadOracle(): Record<"manifest" | "index" | "config" | "descriptor", ValidateFunction> {
  // ajv-draft-04 is CommonJS: under nodenext its default import is `module.exports`, whose `.default` is the class.
  const Ajv04 = AjvDraft04.default;
  const ajv = new Ajv04({ allErrors: true, strict: false, validateFormats: false });
  const files = new Map<string, Record<string, unknown>>();
  for (const f of readdirSync(SCHEMA_DIR).filter((n) => n.endsWith(".json"))) {
    const schema = JSON.parse(readFileSync(join(SCHEMA_DIR, f), "utf8")) as Record<string, unknown>;
    files.set(f, schema);
    if (typeof schema.id === "string") ajv.addSchema(schema as AnySchema);
  }
  const get = (id: string): ValidateFunction => {
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        const v = ajv.getSchema(id);
        assert.ok(v, `schema ${id} not loaded`);
        return v;
      } catch (e) {
        const missing = (e as { missingSchema?: string }).missingSchema;
        if (!missing) throw e;
        const file = missing.slice(missing.lastIndexOf("/") + 1);
        const schema = files.get(file);
        assert.ok(schema, `unresolvable $ref ${missing}`);
        const { id: _id, ...copy } = schema;
        ajv.addSchema(copy as AnySchema, missing);
      }
    }
    throw new Error(`could not resolve the refs of ${id}`);
  };
  return {
    manifest: get("https://opencontainers.org/schema/image/manifest"),
    index: get("https://opencontainers.org/schema/image/index"),
    config: get("https://opencontainers.org/schema/image/config"),
    descriptor: get("https://opencontainers.org/schema/descriptor"),
  };
}

type Kind = "manifest" | "index" | "config" | "descriptor";
interface Case {
  name: string;
  kind: Kind;
  doc: unknown;
  /** Our verdict. */
  valid: boolean;
  /** Set when ajv's verdict differs from ours, with the reason (see the file comment). */
  differs?: string;
  declared?: string;
}

const REJECT_CODES = new Set([
  "E_MANIFEST_INVALID",
  "E_CONFIG_INVALID",
  "E_DIGEST_MISMATCH",
  "E_SIZE_MISMATCH",
]);

/** Our verdict; a rejection must be one of the validation codes (not a crash, not a media-type refusal). */
function ours(c: Case): boolean {
  try {
    if (c.kind === "config") parseImageConfig(json(c.doc));
    else if (c.kind === "descriptor") validateDescriptor(c.doc, "descriptor");
    else
      parseManifestOrIndex(json(c.doc), {
        declaredMediaType:
          c.declared ?? (c.kind === "manifest" ? MediaType.OCI_MANIFEST : MediaType.OCI_INDEX),
      });
    return true;
  } catch (e) {
    if (!isOslessError(e)) throw e;
    assert.ok(REJECT_CODES.has(e.code), `${c.name}: unexpected ${e.code}: ${e.message}`);
    return false;
  }
}

const withLayer = (patch: Record<string, unknown>, i = 2) => {
  const m = ociManifest();
  m.layers[i] = { ...m.layers[i]!, ...patch };
  return m;
};
const EMPTY_JSON = Buffer.from("{}");
const emptyConfig = {
  mediaType: MediaType.OCI_EMPTY,
  digest: digestOf(EMPTY_JSON),
  size: 2,
  data: EMPTY_JSON.toString("base64"),
};

const manifestCases: Case[] = [
  { name: "spec example manifest", kind: "manifest", doc: ociManifest(), valid: true },
  {
    name: "artifact with empty config, artifactType, subject",
    kind: "manifest",
    valid: true,
    doc: {
      schemaVersion: 2,
      mediaType: MediaType.OCI_MANIFEST,
      artifactType: "application/vnd.example.sbom.v1",
      config: emptyConfig,
      layers: [{ mediaType: "application/vnd.example.sbom.v1+json", digest: d("sbom"), size: 1234 }],
      subject: { mediaType: MediaType.OCI_MANIFEST, digest: d("subject"), size: 7682 },
    },
  },
  {
    name: "unknown layer type and unknown fields",
    kind: "manifest",
    valid: true,
    doc: {
      ...withLayer({ mediaType: "application/vnd.example.data.v1.tar+lz4", "x-extra": 1 }),
      "x-custom": true,
    },
  },
  {
    name: "zstd and non-distributable layers with urls",
    kind: "manifest",
    valid: true,
    doc: withLayer(
      { mediaType: MediaType.OCI_LAYER_NONDIST_GZIP, urls: ["https://example.com/layer.tar.gz"] },
      1,
    ),
  },
  {
    name: "docker schema2 manifest",
    kind: "manifest",
    doc: dockerManifest(),
    valid: true,
    declared: MediaType.DOCKER_MANIFEST,
  },
  {
    name: "missing config",
    kind: "manifest",
    valid: false,
    doc: { schemaVersion: 2, layers: ociManifest().layers },
  },
  {
    name: "missing schemaVersion",
    kind: "manifest",
    valid: false,
    doc: { ...ociManifest(), schemaVersion: undefined },
  },
  { name: "schemaVersion 3", kind: "manifest", valid: false, doc: { ...ociManifest(), schemaVersion: 3 } },
  { name: "negative layer size", kind: "manifest", valid: false, doc: withLayer({ size: -1 }) },
  { name: "string layer size", kind: "manifest", valid: false, doc: withLayer({ size: "123" }) },
  { name: "fractional layer size", kind: "manifest", valid: false, doc: withLayer({ size: 1.5 }) },
  {
    name: "config mediaType not RFC 6838",
    kind: "manifest",
    valid: false,
    doc: { ...ociManifest(), config: { ...ociManifest().config, mediaType: "not a media type" } },
  },
  {
    name: "annotation value not a string",
    kind: "manifest",
    valid: false,
    doc: { ...ociManifest(), annotations: { a: 1 } },
  },
  { name: "layers not an array", kind: "manifest", valid: false, doc: { ...ociManifest(), layers: {} } },
  {
    name: "uppercase sha256 digest",
    kind: "manifest",
    valid: false,
    differs: "prose: sha256 encoded portion MUST be lowercase hex",
    doc: withLayer({ digest: d("x").toUpperCase().replace("SHA256", "sha256") }),
  },
  {
    name: "truncated sha256 digest",
    kind: "manifest",
    valid: false,
    differs: "prose: sha256 encoded portion MUST be 64 hex chars",
    doc: withLayer({ digest: "sha256:abc" }),
  },
  {
    name: "unregistered digest algorithm",
    kind: "manifest",
    valid: false,
    differs: "osless refuses digests it cannot verify",
    doc: withLayer({ digest: "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8" }),
  },
  {
    name: "zero layers",
    kind: "manifest",
    valid: true,
    differs: "schema minItems 1; prose: layers SHOULD have at least one entry",
    doc: { ...ociManifest(), layers: [] },
  },
  {
    name: "embedded data matching digest and size",
    kind: "manifest",
    valid: true,
    doc: { ...ociManifest(), config: emptyConfig },
  },
  {
    name: "embedded data not matching the digest",
    kind: "manifest",
    valid: false,
    differs: "prose: decoded data MUST be identical to the referenced content",
    doc: { ...ociManifest(), config: { ...emptyConfig, data: Buffer.from("[]").toString("base64") } },
  },
  {
    name: "embedded data not base64",
    kind: "manifest",
    valid: false,
    differs: "prose: data MUST be base64 (RFC 4648)",
    doc: { ...ociManifest(), config: { ...emptyConfig, data: "!!not base64!!" } },
  },
  {
    name: "layer urls not URIs",
    kind: "manifest",
    valid: false,
    differs: "prose: urls MUST conform to RFC 3986 (schema format not asserted)",
    doc: withLayer({ urls: ["not a uri"] }),
  },
];

const indexCases: Case[] = [
  { name: "spec example index", kind: "index", doc: ociIndex(), valid: true },
  { name: "empty manifests", kind: "index", doc: { schemaVersion: 2, manifests: [] }, valid: true },
  {
    name: "nested index without platform, unknown fields",
    kind: "index",
    valid: true,
    doc: {
      ...ociIndex(),
      "x-top": { a: 1 },
      manifests: [{ mediaType: MediaType.OCI_INDEX, size: 1, digest: d("nested"), "x-child": "kept" }],
    },
  },
  {
    name: "buildx index with attestation manifests",
    kind: "index",
    valid: true,
    doc: {
      schemaVersion: 2,
      mediaType: MediaType.OCI_INDEX,
      manifests: [
        {
          mediaType: MediaType.OCI_MANIFEST,
          digest: d("bx-amd64"),
          size: 1050,
          platform: { architecture: "amd64", os: "linux" },
        },
        {
          mediaType: MediaType.OCI_MANIFEST,
          digest: d("bx-att"),
          size: 840,
          annotations: {
            "vnd.docker.reference.digest": d("bx-amd64"),
            "vnd.docker.reference.type": "attestation-manifest",
          },
          platform: { architecture: "unknown", os: "unknown" },
        },
      ],
    },
  },
  {
    name: "docker manifest list",
    kind: "index",
    doc: dockerManifestList(),
    valid: true,
    declared: MediaType.DOCKER_MANIFEST_LIST,
  },
  {
    name: "missing manifests",
    kind: "index",
    valid: false,
    doc: { schemaVersion: 2, mediaType: MediaType.OCI_INDEX },
  },
  {
    name: "platform without os",
    kind: "index",
    valid: false,
    doc: {
      schemaVersion: 2,
      manifests: [{ ...ociIndex().manifests[0], platform: { architecture: "amd64" } }],
    },
  },
  {
    name: "os.features not an array",
    kind: "index",
    valid: false,
    doc: {
      schemaVersion: 2,
      manifests: [
        {
          ...ociIndex().manifests[0],
          platform: { architecture: "amd64", os: "windows", "os.features": "win32k" },
        },
      ],
    },
  },
  {
    name: "negative manifest size",
    kind: "index",
    valid: false,
    differs: "prose: size MUST NOT be negative; the index schema uses int64",
    doc: { schemaVersion: 2, manifests: [{ ...ociIndex().manifests[0], size: -1 }] },
  },
];

const configCases: Case[] = [
  { name: "spec example config", kind: "config", doc: ociConfig(), valid: true },
  {
    name: "docker config with container_config and unknown fields",
    kind: "config",
    valid: true,
    doc: dockerConfig(),
  },
  {
    name: "null Cmd, Entrypoint, Volumes, Labels",
    kind: "config",
    valid: true,
    doc: { ...ociConfig(), config: { Cmd: null, Entrypoint: null, Volumes: null, Labels: null } },
  },
  {
    name: "null config and author",
    kind: "config",
    valid: true,
    differs: "prose: any OPTIONAL field MAY be null; the schema rejects null config/author",
    doc: { ...ociConfig(), config: null, author: null },
  },
  { name: "missing rootfs", kind: "config", valid: false, doc: { ...ociConfig(), rootfs: undefined } },
  {
    name: "rootfs type layers+base",
    kind: "config",
    valid: false,
    doc: { ...ociConfig(), rootfs: { type: "layers+base", diff_ids: [] } },
  },
  {
    name: "missing architecture",
    kind: "config",
    valid: false,
    doc: { ...ociConfig(), architecture: undefined },
  },
  {
    name: "diff_id not a digest",
    kind: "config",
    valid: false,
    differs: "prose: diff_ids are DiffIDs (digests); the schema says string",
    doc: { ...ociConfig(), rootfs: { type: "layers", diff_ids: [d("a"), "not-a-digest"] } },
  },
  {
    name: "history empty_layer not boolean",
    kind: "config",
    valid: false,
    doc: { ...ociConfig(), history: [{ created_by: "x" }, { empty_layer: "yes" }] },
  },
  {
    name: "ExposedPorts value not an object",
    kind: "config",
    valid: false,
    doc: { ...ociConfig(), config: { ExposedPorts: { "80/tcp": "yes" } } },
  },
  { name: "Env is a string", kind: "config", valid: false, doc: { ...ociConfig(), config: { Env: "A=b" } } },
];

const descriptorCases: Case[] = [
  {
    name: "spec example descriptor with artifactType",
    kind: "descriptor",
    valid: true,
    doc: {
      mediaType: MediaType.OCI_MANIFEST,
      size: 123,
      digest: d("x"),
      artifactType: "application/vnd.example.sbom.v1",
    },
  },
  {
    name: "descriptor with urls, annotations, platform, unknown field",
    kind: "descriptor",
    valid: true,
    doc: {
      mediaType: MediaType.OCI_MANIFEST,
      size: 7682,
      digest: d("y"),
      urls: ["https://example.com/example-manifest"],
      annotations: { "org.opencontainers.image.ref.name": "v1" },
      platform: { architecture: "arm64", os: "linux" },
      "x-unknown": [1, 2],
    },
  },
  {
    name: "size 0",
    kind: "descriptor",
    valid: true,
    doc: { mediaType: "application/octet-stream", size: 0, digest: d("") },
  },
  {
    name: "missing digest",
    kind: "descriptor",
    valid: false,
    doc: { mediaType: MediaType.OCI_MANIFEST, size: 1 },
  },
  {
    name: "mediaType without subtype",
    kind: "descriptor",
    valid: false,
    doc: { mediaType: "foo", size: 1, digest: d("z") },
  },
  {
    name: "size above 2^53",
    kind: "descriptor",
    valid: false,
    differs: "osless: sizes must be exact JavaScript integers",
    doc: { mediaType: MediaType.OCI_LAYER, size: 2 ** 60, digest: d("big") },
  },
];

const CASES = [...manifestCases, ...indexCases, ...configCases, ...descriptorCases];

const oracle = loadOracle();

test("the oracle corpus is large enough and covers all four document kinds", () => {
  assert.ok(CASES.length >= 25, `${CASES.length} cases`);
  for (const k of ["manifest", "index", "config", "descriptor"] as const) {
    assert.ok(CASES.some((c) => c.kind === k && c.valid));
    assert.ok(CASES.some((c) => c.kind === k && !c.valid));
  }
});

for (const c of CASES) {
  test(`oracle: ${c.kind}: ${c.name}`, () => {
    const doc = JSON.parse(JSON.stringify(c.doc));
    const ajvValid = oracle[c.kind](doc) as boolean;
    const mine = ours(c);
    assert.equal(mine, c.valid, `our verdict for ${c.name}`);
    if (c.differs) assert.equal(ajvValid, !mine, `documented disagreement no longer holds: ${c.differs}`);
    else assert.equal(ajvValid, mine, `ajv says ${ajvValid}: ${JSON.stringify(oracle[c.kind].errors)}`);
  });
}
