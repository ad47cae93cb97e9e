import assert from "node:assert/strict";
import { test } from "node:test";
import { digestOf } from "../digest/index.ts";
import { type ErrorCode, isOslessError, type OslessError } from "../errors.ts";
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
import { jsonErrorOffset } from "./json.ts";
import {
  isConfigMediaType,
  isIndexMediaType,
  isLayerMediaType,
  isManifestMediaType,
  layerCompression,
  MediaType,
} from "./media-types.ts";
import {
  checkImageConsistency,
  MAX_CONFIG_SIZE,
  MAX_MANIFEST_SIZE,
  parseImageConfig,
  parseIndex,
  parseManifest,
  parseManifestOrIndex,
  validateDescriptor,
} from "./parse.ts";
import type { ImageConfig, Manifest } from "./schemas.ts";

function throwsCode(fn: () => unknown, code: ErrorCode, message?: RegExp): OslessError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(isOslessError(caught), `expected OslessError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

test("media type predicates and layer compression", () => {
  assert.ok(isManifestMediaType(MediaType.OCI_MANIFEST) && isManifestMediaType(MediaType.DOCKER_MANIFEST));
  assert.ok(isIndexMediaType(MediaType.OCI_INDEX) && isIndexMediaType(MediaType.DOCKER_MANIFEST_LIST));
  assert.ok(!isManifestMediaType(MediaType.OCI_INDEX) && !isIndexMediaType(MediaType.DOCKER_SCHEMA1));
  assert.ok(isConfigMediaType(MediaType.OCI_CONFIG) && isConfigMediaType(MediaType.DOCKER_CONFIG));
  assert.ok(!isConfigMediaType(MediaType.OCI_EMPTY));
  const table: [string, string | undefined][] = [
    [MediaType.OCI_LAYER, "none"],
    [MediaType.OCI_LAYER_GZIP, "gzip"],
    [MediaType.OCI_LAYER_ZSTD, "zstd"],
    [MediaType.OCI_LAYER_NONDIST, "none"],
    [MediaType.OCI_LAYER_NONDIST_GZIP, "gzip"],
    [MediaType.OCI_LAYER_NONDIST_ZSTD, "zstd"],
    [MediaType.DOCKER_LAYER_GZIP, "gzip"],
    [MediaType.DOCKER_LAYER_FOREIGN_GZIP, "gzip"],
    [MediaType.DOCKER_LAYER_ZSTD, "zstd"],
    ["application/vnd.example.data.v1.tar+lz4", undefined],
    [MediaType.OCI_CONFIG, undefined],
  ];
  for (const [mt, c] of table) {
    assert.equal(layerCompression(mt), c, mt);
    assert.equal(isLayerMediaType(mt), c !== undefined, mt);
  }
  assert.equal(MediaType.OCI_EMPTY, "application/vnd.oci.empty.v1+json");
  assert.equal(MediaType.DOCKER_SCHEMA1_SIGNED, "application/vnd.docker.distribution.manifest.v1+prettyjws");
});

test("raw bytes are kept as given and the digest is computed on them, not on re-serialised JSON", () => {
  const raw = Buffer.from(
    `  {"layers": [],\n\t"schemaVersion":2, "config": ${JSON.stringify(ociManifest().config)} }  `,
  );
  const p = parseManifest(raw);
  assert.equal(p.raw, raw);
  assert.equal(p.digest, digestOf(raw));
  assert.notEqual(p.digest, digestOf(JSON.stringify(JSON.parse(raw.toString()))));
  assert.equal(p.size, raw.length);
  assert.equal(p.mediaType, MediaType.OCI_MANIFEST, "no mediaType anywhere: classified by shape as OCI");
});

test("unknown fields survive at every level of manifests, indexes and configs", () => {
  const m = ociManifest() as Record<string, unknown> & ReturnType<typeof ociManifest>;
  m["x-top"] = { nested: [1] };
  (m.layers[0] as Record<string, unknown>)["x-layer"] = "kept";
  (m.config as Record<string, unknown>)["x-config"] = true;
  const pm = parseManifest(json(m));
  assert.deepEqual(pm.manifest["x-top"], { nested: [1] });
  assert.equal(pm.manifest.layers[0]?.["x-layer"], "kept");
  assert.equal(pm.manifest.config["x-config"], true);
  const idx = ociIndex() as Record<string, unknown> & ReturnType<typeof ociIndex>;
  (idx.manifests[0]!.platform as Record<string, unknown>)["x-plat"] = 1;
  const pi = parseIndex(json(idx));
  assert.equal(pi.index.manifests[0]?.platform?.["x-plat"], 1);
  const pc = parseImageConfig(json(dockerConfig()));
  assert.equal(pc.config.docker_version, "23.0.11");
  assert.deepEqual((pc.config.container_config as { Cmd: string[] }).Cmd[0], "/bin/sh");
  assert.equal(pc.config.config?.Hostname, "");
  assert.equal(pc.config.history?.[1]?.empty_layer, true);
});

test("JSON syntax errors -> E_JSON_INVALID naming where and the position", () => {
  const e = throwsCode(
    () => parseManifestOrIndex(Buffer.from('{"a":}'), { where: "docker.io/library/x:1 manifest" }),
    "E_JSON_INVALID",
    /^docker\.io\/library\/x:1 manifest: invalid JSON at position 5 \(line 1, column 6\)/,
  );
  assert.equal(e.details?.position, 5);
  throwsCode(
    () => parseManifestOrIndex(Buffer.from('{\n  "schemaVersion": 2,\n  "layers": [1 2]\n}')),
    "E_JSON_INVALID",
    /position 39 \(line 3, column 16\)/,
  );
  throwsCode(
    () => parseImageConfig(Buffer.from('{"os": "linux"'), { where: "cfg" }),
    "E_JSON_INVALID",
    /^cfg: .*position 14/,
  );
  throwsCode(() => parseManifestOrIndex(Buffer.from("")), "E_JSON_INVALID", /position 0/);
});

test("jsonErrorOffset finds the first bad byte, also in deeply nested input", () => {
  const cases: [string, number][] = [
    ['{"a":}', 5],
    ["[1,]", 3],
    ['{"a":1}x', 7],
    ['{"a" 1}', 5],
    ['"\\x"', 2],
    ["tru", 3],
    ["-", 0],
    ['{"a":[1,{"b":nul}]}', 16],
    [`${"[".repeat(100000)}1${"]".repeat(99999)}`, 200000],
  ];
  for (const [s, at] of cases) assert.equal(jsonErrorOffset(s), at, s.slice(0, 30));
});

test("manifests over 4 MiB -> E_MANIFEST_TOO_LARGE before JSON parsing; exactly 4 MiB is fine", () => {
  throwsCode(() => parseManifestOrIndex(Buffer.alloc(MAX_MANIFEST_SIZE + 1, 0x78)), "E_MANIFEST_TOO_LARGE");
  throwsCode(() => parseIndex(Buffer.alloc(MAX_MANIFEST_SIZE + 1, 0x20)), "E_MANIFEST_TOO_LARGE");
  const body = json(ociManifest());
  const padded = Buffer.concat([body, Buffer.alloc(MAX_MANIFEST_SIZE - body.length, 0x20)]);
  assert.equal(parseManifest(padded).size, MAX_MANIFEST_SIZE);
});

test("configs over 8 MiB -> E_SIZE_LIMIT before JSON parsing", () => {
  throwsCode(
    () => parseImageConfig(Buffer.alloc(MAX_CONFIG_SIZE + 1, 0x78)),
    "E_SIZE_LIMIT",
    /8388608-byte limit/,
  );
  const body = json(ociConfig());
  const padded = Buffer.concat([body, Buffer.alloc(MAX_CONFIG_SIZE - body.length, 0x20)]);
  assert.equal(parseImageConfig(padded).size, MAX_CONFIG_SIZE);
});

test("expected digest and size are verified on the raw bytes", () => {
  const raw = json(ociManifest(), 2);
  const ok = parseManifest(raw, { expected: { digest: digestOf(raw), size: raw.length } });
  assert.equal(ok.digest, digestOf(raw));
  const sha512 = parseManifest(raw, { expected: { digest: digestOf(raw, "sha512"), size: raw.length } });
  assert.equal(sha512.digest, digestOf(raw, "sha512"));
  throwsCode(
    () => parseManifest(raw, { expected: { digest: d("other"), size: raw.length } }),
    "E_DIGEST_MISMATCH",
  );
  throwsCode(
    () => parseManifest(raw, { expected: { digest: digestOf(raw), size: raw.length + 1 } }),
    "E_SIZE_MISMATCH",
  );
  const cfg = json(ociConfig());
  throwsCode(
    () => parseImageConfig(cfg, { expected: { digest: d("x"), size: cfg.length } }),
    "E_DIGEST_MISMATCH",
  );
  throwsCode(
    () => parseImageConfig(cfg, { expected: { digest: digestOf(cfg), size: 1 } }),
    "E_SIZE_MISMATCH",
  );
  assert.equal(
    parseImageConfig(cfg, { expected: { digest: digestOf(cfg), size: cfg.length } }).digest,
    digestOf(cfg),
  );
});

test("schema1 -> E_MANIFEST_SCHEMA1 with the re-push message (declared type, schemaVersion 1, fsLayers)", () => {
  const schema1 = {
    schemaVersion: 1,
    name: "library/x",
    tag: "1",
    architecture: "amd64",
    fsLayers: [{ blobSum: d("a") }],
  };
  const msg = /schema1 images are not supported; re-push the image as schema2 or OCI/;
  throwsCode(
    () => parseManifestOrIndex(json(schema1), { declaredMediaType: MediaType.DOCKER_SCHEMA1 }),
    "E_MANIFEST_SCHEMA1",
    msg,
  );
  throwsCode(
    () =>
      parseManifestOrIndex(Buffer.from("{not even json"), {
        declaredMediaType: `${MediaType.DOCKER_SCHEMA1_SIGNED}; charset=utf-8`,
      }),
    "E_MANIFEST_SCHEMA1",
    msg,
  );
  throwsCode(() => parseManifestOrIndex(json(schema1)), "E_MANIFEST_SCHEMA1", msg);
  throwsCode(
    () => parseManifestOrIndex(json({ ...schema1, schemaVersion: 2 })),
    "E_MANIFEST_SCHEMA1",
    /fsLayers/,
  );
  throwsCode(
    () => parseManifestOrIndex(json({ schemaVersion: 1 }), { declaredMediaType: MediaType.OCI_MANIFEST }),
    "E_MANIFEST_SCHEMA1",
  );
});

test("type confusion (CVE-2021-41190) -> E_MEDIA_TYPE_MISMATCH", () => {
  const index = ociIndex();
  const manifest = ociManifest();
  const { mediaType: _a, ...bareIndex } = index;
  const { mediaType: _b, ...bareManifest } = manifest;
  // a manifest type whose body has `manifests`
  throwsCode(
    () =>
      parseManifestOrIndex(json({ ...bareManifest, manifests: bareIndex.manifests }), {
        declaredMediaType: MediaType.OCI_MANIFEST,
      }),
    "E_MEDIA_TYPE_MISMATCH",
    /manifests/,
  );
  throwsCode(
    () => parseManifestOrIndex(json(bareIndex), { declaredMediaType: MediaType.DOCKER_MANIFEST }),
    "E_MEDIA_TYPE_MISMATCH",
  );
  // an index type whose body has `config` or `layers`
  throwsCode(
    () =>
      parseManifestOrIndex(json({ ...bareIndex, layers: manifest.layers }), {
        declaredMediaType: MediaType.OCI_INDEX,
      }),
    "E_MEDIA_TYPE_MISMATCH",
    /layers/,
  );
  throwsCode(
    () =>
      parseManifestOrIndex(json({ ...bareIndex, config: manifest.config }), {
        declaredMediaType: MediaType.DOCKER_MANIFEST_LIST,
      }),
    "E_MEDIA_TYPE_MISMATCH",
  );
  // body mediaType != declared
  throwsCode(
    () => parseManifestOrIndex(json(manifest), { declaredMediaType: MediaType.DOCKER_MANIFEST }),
    "E_MEDIA_TYPE_MISMATCH",
    /declared media type/,
  );
  throwsCode(
    () => parseManifestOrIndex(json(index), { declaredMediaType: MediaType.OCI_MANIFEST }),
    "E_MEDIA_TYPE_MISMATCH",
  );
  throwsCode(
    () => parseManifestOrIndex(json(dockerManifestList()), { declaredMediaType: MediaType.OCI_INDEX }),
    "E_MEDIA_TYPE_MISMATCH",
  );
  // no declared type: the body's mediaType must agree with its shape
  throwsCode(
    () => parseManifestOrIndex(json({ ...index, mediaType: MediaType.OCI_MANIFEST })),
    "E_MEDIA_TYPE_MISMATCH",
  );
  throwsCode(
    () => parseManifestOrIndex(json({ ...manifest, mediaType: MediaType.OCI_INDEX })),
    "E_MEDIA_TYPE_MISMATCH",
  );
  // no mediaType at all and both shapes
  throwsCode(() => parseManifestOrIndex(json({ ...bareManifest, manifests: [] })), "E_MEDIA_TYPE_MISMATCH");
  // Go's encoding/json matches keys case-insensitively: "Manifests" would be read as manifests there
  throwsCode(
    () =>
      parseManifestOrIndex(json({ ...bareManifest, Manifests: [] }), {
        declaredMediaType: MediaType.OCI_MANIFEST,
      }),
    "E_MEDIA_TYPE_MISMATCH",
  );
  throwsCode(
    () => parseManifestOrIndex(json({ ...bareManifest, MediaType: MediaType.OCI_INDEX })),
    "E_MANIFEST_INVALID",
    /only by case/,
  );
});

test("declared type matches the body: parameters ignored; without any type the shape decides", () => {
  const p = parseManifestOrIndex(json(ociManifest()), {
    declaredMediaType: `${MediaType.OCI_MANIFEST}; charset=utf-8`,
  });
  assert.equal(p.kind, "manifest");
  const { mediaType: _m, ...bareDocker } = dockerManifest();
  const dm = parseManifestOrIndex(json(bareDocker), { declaredMediaType: MediaType.DOCKER_MANIFEST });
  assert.equal(dm.kind, "manifest");
  assert.equal(dm.mediaType, MediaType.DOCKER_MANIFEST);
  const { mediaType: _i, ...bareIndex } = ociIndex();
  const pi = parseManifestOrIndex(json(bareIndex));
  assert.equal(pi.kind, "index");
  assert.equal(pi.mediaType, MediaType.OCI_INDEX);
  const list = parseManifestOrIndex(json(dockerManifestList()));
  assert.equal(list.kind, "index");
  assert.equal(list.mediaType, MediaType.DOCKER_MANIFEST_LIST);
  throwsCode(
    () => parseManifestOrIndex(json({ schemaVersion: 2 })),
    "E_MANIFEST_INVALID",
    /not a manifest or index/,
  );
  throwsCode(() => parseManifestOrIndex(json([1, 2])), "E_MANIFEST_INVALID", /JSON object/);
  throwsCode(() => parseManifest(json(ociIndex())), "E_MEDIA_TYPE_MISMATCH", /expected an image manifest/);
  throwsCode(() => parseIndex(json(ociManifest())), "E_MEDIA_TYPE_MISMATCH", /expected an index/);
});

test("unknown manifest media types -> E_MEDIA_TYPE_UNKNOWN with the supported types in the hint", () => {
  const e = throwsCode(
    () =>
      parseManifestOrIndex(json(ociManifest()), {
        declaredMediaType: "application/vnd.example.thing.v1+json",
      }),
    "E_MEDIA_TYPE_UNKNOWN",
  );
  for (const t of [
    MediaType.OCI_MANIFEST,
    MediaType.OCI_INDEX,
    MediaType.DOCKER_MANIFEST,
    MediaType.DOCKER_MANIFEST_LIST,
  ]) {
    assert.ok(e.hint?.includes(t), t);
  }
  throwsCode(
    () => parseManifestOrIndex(json({ ...ociManifest(), mediaType: MediaType.OCI_CONFIG })),
    "E_MEDIA_TYPE_UNKNOWN",
  );
});

test("unknown layer and config media types and artifactTypes are accepted by parsing", () => {
  const m = ociManifest();
  m.layers[1] = { mediaType: "application/vnd.example.data.v1.tar+lz4" as never, digest: d("lz4"), size: 10 };
  const withArtifact = {
    ...m,
    artifactType: "application/vnd.example.unknown",
    config: { ...m.config, mediaType: "application/vnd.example.config+json" },
  };
  const p = parseManifest(json(withArtifact));
  assert.equal(p.manifest.layers[1]?.mediaType, "application/vnd.example.data.v1.tar+lz4");
  assert.equal(p.manifest.artifactType, "application/vnd.example.unknown");
});

test("invalid fields -> E_MANIFEST_INVALID / E_CONFIG_INVALID with the JSON path of the bad field", () => {
  const m = ociManifest();
  m.layers[2] = { ...m.layers[2]!, digest: "sha256:1234" };
  const e = throwsCode(
    () => parseManifest(json(m), { where: "img" }),
    "E_MANIFEST_INVALID",
    /^img: layers\[2\]\.digest: .*64 lowercase hex/,
  );
  assert.equal(e.details?.path, "layers[2].digest");
  const { config: _c, ...noConfig } = ociManifest();
  throwsCode(
    () => parseManifest(json(noConfig)),
    "E_MANIFEST_INVALID",
    /: config: required field is missing/,
  );
  throwsCode(
    () => parseManifest(json({ ...ociManifest(), annotations: { "org.example.n": 3 } })),
    "E_MANIFEST_INVALID",
    /annotations\["org\.example\.n"\]/,
  );
  const idx = ociIndex();
  idx.manifests[1] = { ...idx.manifests[1]!, platform: { os: "linux" } as never };
  throwsCode(
    () => parseIndex(json(idx)),
    "E_MANIFEST_INVALID",
    /manifests\[1\]\.platform\.architecture: required field is missing/,
  );
  throwsCode(
    () => parseIndex(json({ ...ociIndex(), schemaVersion: "2" })),
    "E_MANIFEST_INVALID",
    /schemaVersion: must be 2/,
  );
  const cfg = ociConfig();
  cfg.rootfs.diff_ids[1] = "md5:abc" as never;
  throwsCode(
    () => parseImageConfig(json(cfg)),
    "E_CONFIG_INVALID",
    /rootfs\.diff_ids\[1\]: digest algorithm "md5" is not supported/,
  );
  throwsCode(
    () => parseImageConfig(json({ ...ociConfig(), os: undefined })),
    "E_CONFIG_INVALID",
    /: os: required field is missing/,
  );
  throwsCode(
    () => parseImageConfig(json({ ...ociConfig(), rootfs: { type: "layers+base", diff_ids: [] } })),
    "E_CONFIG_INVALID",
    /rootfs\.type: must be "layers"/,
  );
  throwsCode(
    () => parseImageConfig(json({ ...ociConfig(), config: { Cmd: "sh" } })),
    "E_CONFIG_INVALID",
    /config\.Cmd/,
  );
  throwsCode(() => parseImageConfig(json("str")), "E_CONFIG_INVALID", /JSON object/);
});

test("config: optional fields set to null count as absent; other nulls are still errors", () => {
  const p = parseImageConfig(
    json({
      ...ociConfig(),
      created: null,
      config: { ...ociConfig().config, Env: null, User: null },
      history: [{ created: null, empty_layer: null }],
    }),
  );
  assert.equal("created" in p.config, false);
  assert.equal(p.config.config?.Env, undefined);
  assert.equal(p.config.config?.WorkingDir, "/home/alice");
  assert.deepEqual(p.config.history, [{}]);
  throwsCode(
    () => parseImageConfig(json({ ...ociConfig(), architecture: null })),
    "E_CONFIG_INVALID",
    /architecture/,
  );
  throwsCode(
    () => parseImageConfig(json({ ...ociConfig(), rootfs: { type: "layers", diff_ids: null } })),
    "E_CONFIG_INVALID",
    /rootfs\.diff_ids/,
  );
});

test("validateDescriptor: syntax, size, embedded data against digest and size", () => {
  const data = Buffer.from('{"hello":"world"}');
  const good = {
    mediaType: MediaType.OCI_CONFIG,
    digest: digestOf(data),
    size: data.length,
    data: data.toString("base64"),
  };
  assert.deepEqual(validateDescriptor(good, "desc"), good);
  assert.equal(
    validateDescriptor({ mediaType: "application/x-empty", digest: digestOf(""), size: 0 }, "d").size,
    0,
  );
  throwsCode(
    () => validateDescriptor({ ...good, data: Buffer.from('{"hello":"World"}').toString("base64") }, "desc"),
    "E_DIGEST_MISMATCH",
    /desc: data: embedded data has digest/,
  );
  throwsCode(
    () => validateDescriptor({ ...good, size: good.size + 1 }, "desc"),
    "E_SIZE_MISMATCH",
    /embedded data is 17 bytes/,
  );
  throwsCode(
    () => validateDescriptor({ ...good, size: -1 }, "layer 3"),
    "E_MANIFEST_INVALID",
    /^layer 3: size: must not be negative/,
  );
  throwsCode(() => validateDescriptor({ ...good, size: 1.5 }, "x"), "E_MANIFEST_INVALID", /size/);
  throwsCode(
    () => validateDescriptor({ ...good, mediaType: "text" }, "x"),
    "E_MANIFEST_INVALID",
    /mediaType/,
  );
  throwsCode(
    () => validateDescriptor({ ...good, digest: "sha256:ABC" }, "x"),
    "E_MANIFEST_INVALID",
    /digest/,
  );
  throwsCode(() => validateDescriptor(null, "x"), "E_MANIFEST_INVALID");
  // embedded data inside a manifest is checked too, with its path
  const m = { ...ociManifest(), config: { ...good, data: Buffer.from("x").toString("base64") } };
  throwsCode(() => parseManifest(json(m)), "E_SIZE_MISMATCH", /config\.data/);
});

test("checkImageConsistency: layer count equals diff_ids count and the config is an image config", () => {
  const m = parseManifest(json(ociManifest())).manifest;
  const c = parseImageConfig(
    json({ ...ociConfig(), rootfs: { type: "layers", diff_ids: [d("1"), d("2"), d("3")] } }),
  ).config;
  checkImageConsistency(m, c);
  const two: ImageConfig = { ...c, rootfs: { type: "layers", diff_ids: [d("1"), d("2")] } };
  const e = throwsCode(
    () => checkImageConsistency(m, two, "alpine"),
    "E_CONFIG_INVALID",
    /alpine: the manifest has 3 layers but the config lists 2 rootfs\.diff_ids/,
  );
  assert.deepEqual(e.details, { where: "alpine", layers: 3, diffIds: 2 });
  const artifact: Manifest = { ...m, config: { ...m.config, mediaType: MediaType.OCI_EMPTY } };
  throwsCode(() => checkImageConsistency(artifact, c), "E_MEDIA_TYPE_UNKNOWN", /not an image config/);
  const docker = parseManifest(json(dockerManifest())).manifest;
  const dc = parseImageConfig(
    json({ ...dockerConfig(), rootfs: { type: "layers", diff_ids: [d("a"), d("b")] } }),
  ).config;
  checkImageConsistency(docker, dc);
});
