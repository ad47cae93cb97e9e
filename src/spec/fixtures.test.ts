/** Shared fixtures for the spec tests: exports only, no tests (named *.test.ts so the build leaves it out). */
import { digestOf } from "../digest/index.ts";
import { MediaType } from "./media-types.ts";

/** Deterministic valid sha256 digests. */
export const d = (seed: string) => digestOf(seed);

export function json(doc: unknown, space?: number): Buffer {
  return Buffer.from(JSON.stringify(doc, null, space));
}

export const ociManifest = () => ({
  schemaVersion: 2,
  mediaType: MediaType.OCI_MANIFEST,
  config: { mediaType: MediaType.OCI_CONFIG, digest: d("config"), size: 7023 },
  layers: [
    { mediaType: MediaType.OCI_LAYER_GZIP, digest: d("l0"), size: 32654 },
    { mediaType: MediaType.OCI_LAYER_GZIP, digest: d("l1"), size: 16724 },
    { mediaType: MediaType.OCI_LAYER_GZIP, digest: d("l2"), size: 73109 },
  ],
  annotations: { "com.example.key1": "value1", "com.example.key2": "value2" },
});

/** Shaped like `docker manifest inspect` of a Hub image built by classic `docker build`. */
export const dockerManifest = () => ({
  schemaVersion: 2,
  mediaType: MediaType.DOCKER_MANIFEST,
  config: { mediaType: MediaType.DOCKER_CONFIG, size: 1472, digest: d("docker-config") },
  layers: [
    { mediaType: MediaType.DOCKER_LAYER_GZIP, size: 3408729, digest: d("docker-l0") },
    { mediaType: MediaType.DOCKER_LAYER_GZIP, size: 626, digest: d("docker-l1") },
  ],
});

/** Shaped like a Hub manifest list (e.g. library/alpine). */
export const dockerManifestList = () => ({
  manifests: [
    {
      digest: d("ml-amd64"),
      mediaType: MediaType.DOCKER_MANIFEST,
      platform: { architecture: "amd64", os: "linux" },
      size: 528,
    },
    {
      digest: d("ml-armv6"),
      mediaType: MediaType.DOCKER_MANIFEST,
      platform: { architecture: "arm", os: "linux", variant: "v6" },
      size: 528,
    },
    {
      digest: d("ml-arm64"),
      mediaType: MediaType.DOCKER_MANIFEST,
      platform: { architecture: "arm64", os: "linux", variant: "v8" },
      size: 528,
    },
    {
      digest: d("ml-win"),
      mediaType: MediaType.DOCKER_MANIFEST,
      platform: {
        architecture: "amd64",
        os: "windows",
        "os.version": "10.0.17763.5830",
        "os.features": ["win32k"],
      },
      size: 1161,
    },
  ],
  mediaType: MediaType.DOCKER_MANIFEST_LIST,
  schemaVersion: 2,
});

export const ociIndex = () => ({
  schemaVersion: 2,
  mediaType: MediaType.OCI_INDEX,
  manifests: [
    {
      mediaType: MediaType.OCI_MANIFEST,
      size: 7143,
      digest: d("idx-ppc"),
      platform: { architecture: "ppc64le", os: "linux" },
    },
    {
      mediaType: MediaType.OCI_MANIFEST,
      size: 7682,
      digest: d("idx-amd64"),
      platform: { architecture: "amd64", os: "linux" },
    },
  ],
  annotations: { "com.example.key1": "value1" },
});

/** Shaped like a Docker-built config (classic builder), with Docker-only fields. */
export const dockerConfig = () => ({
  architecture: "amd64",
  config: {
    Hostname: "",
    Domainname: "",
    User: "",
    AttachStdin: false,
    Tty: false,
    Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    Cmd: ["/bin/sh"],
    Image: d("parent-image"),
    Volumes: null,
    WorkingDir: "",
    Entrypoint: null,
    OnBuild: null,
    Labels: null,
  },
  container: "a4a9c4d1b1c2",
  container_config: { Hostname: "a4a9c4d1b1c2", Cmd: ["/bin/sh", "-c", '#(nop) CMD ["/bin/sh"]'] },
  created: "2024-06-20T20:16:57.811784356Z",
  docker_version: "23.0.11",
  history: [
    { created: "2024-06-20T20:16:57.6Z", created_by: "/bin/sh -c #(nop) ADD file:33ebe56b967747a9 in / " },
    {
      created: "2024-06-20T20:16:57.8Z",
      created_by: '/bin/sh -c #(nop)  CMD ["/bin/sh"]',
      empty_layer: true,
    },
  ],
  os: "linux",
  rootfs: { type: "layers", diff_ids: [d("diff0")] },
});

export const ociConfig = () => ({
  created: "2015-10-31T22:22:56.015925234Z",
  author: "Alyssa P. Hacker <alyspdev@example.com>",
  architecture: "amd64",
  os: "linux",
  config: {
    User: "alice",
    ExposedPorts: { "8080/tcp": {} },
    Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "FOO=oci_is_a"],
    Entrypoint: ["/bin/my-app-binary"],
    Cmd: ["--foreground", "--config", "/etc/my-app.d/default.cfg"],
    Volumes: { "/var/job-result-data": {}, "/var/log/my-app-logs": {} },
    WorkingDir: "/home/alice",
    Labels: { "com.example.project.git.url": "https://example.com/project.git" },
    StopSignal: "SIGTERM",
    Healthcheck: { Test: ["CMD-SHELL", "true"], Interval: 30000000000, Retries: 3 },
  },
  rootfs: { diff_ids: [d("diff0"), d("diff1")], type: "layers" },
  history: [
    { created: "2015-10-31T22:22:54.690851953Z", created_by: "/bin/sh -c #(nop) ADD file:a3bc in /" },
    {
      created: "2015-10-31T22:22:55.613815829Z",
      created_by: '/bin/sh -c #(nop) CMD ["sh"]',
      empty_layer: true,
    },
    { created: "2015-10-31T22:22:56.329850019Z", created_by: "/bin/sh -c apk add curl" },
  ],
});
