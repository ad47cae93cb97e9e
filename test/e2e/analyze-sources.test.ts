// `osless analyze` on every source besides the store and dir:PATH: a real registry (docker://, streamed, nothing
// written: no store, no temporary files), an OCI layout, an OCI archive and a docker archive (through a temporary
// store that is removed). Each gives the analysis the same image gives from the store; a registry serving a wrong
// layer byte fails with E_DIGEST_MISMATCH, an unreachable one names its host, credentials go as for pull.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { AnalyzedImage } from "../../src/analysis/image.ts";
import { type FaultProxy, startFaultProxy } from "../fixtures/fault-proxy.ts";
import {
  dockerArchive,
  IMAGES,
  type ImageSpec,
  ociArchive,
  ociLayout,
  skopeoCopy,
} from "../fixtures/images.ts";
import { freePort, startRegistry, type TestRegistry } from "../fixtures/registry.ts";
import { tmpdir } from "../fixtures/tools.ts";
import { type CliResult, osless } from "./cli.ts";

/** What `osless analyze --json` prints: the library's result, as JSON. */
type Analysis = AnalyzedImage;

/** Everything but `image` (which says where the image came from). */
function evidence(a: Analysis): Omit<Analysis, "image"> {
  const { image: _image, ...rest } = a;
  return rest;
}

/** A HOME with an empty docker config, so that the host's credentials never play a part. */
async function cliEnv(extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const home = await tmpdir("analyze-home");
  await mkdir(join(home, "docker"), { recursive: true });
  return {
    HOME: home,
    DOCKER_CONFIG: join(home, "docker"),
    REGISTRY_AUTH_FILE: "",
    XDG_RUNTIME_DIR: home,
    ...extra,
  };
}

function explain(args: string[], r: CliResult): string {
  return `osless ${args.join(" ")} exited ${r.code}\n--- stderr ---\n${r.stderr}\n--- stdout ---\n${r.stdout.slice(0, 2000)}`;
}

/**
 * `osless analyze --json ARGS` with an unused store path and a fresh TMPDIR; exits 0. Returns the analysis and
 * whether anything was left in the store path or TMPDIR.
 */
async function analyze(args: string[], env: Record<string, string> = {}) {
  const root = join(await tmpdir("analyze-src-store"), "store");
  const tmp = await tmpdir("analyze-src-tmp");
  const argv = ["analyze", "--json", ...args];
  const r = await osless(root, argv, { env: await cliEnv({ TMPDIR: tmp, ...env }) });
  assert.equal(r.code, 0, explain(argv, r));
  return { a: JSON.parse(r.stdout) as Analysis, storeExists: existsSync(root), tmpLeft: leftIn(tmp) };
}

/** What osless left in a TMPDIR (tsx, which runs the CLI from source, keeps its cache there). */
function leftIn(tmp: string): string[] {
  return readdirSync(tmp).filter((n) => !n.startsWith("tsx-"));
}

/** The analysis of `spec` from the store (copied in from its OCI layout). */
async function fromStore(spec: ImageSpec, name: string): Promise<Analysis> {
  const root = join(await tmpdir("analyze-src-ref"), "store");
  const copy = await osless(root, ["copy", "-q", `oci:${await ociLayout(spec)}:latest`, name]);
  assert.equal(copy.code, 0, copy.stderr);
  const r = await osless(root, ["analyze", "--json", name]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Analysis;
}

/** The layout's image manifest for "latest" (the fixtures hold one image each). */
function layoutManifest(layout: string): {
  digest: string;
  size: number;
  mediaType: string;
  layers: { digest: string; size: number; mediaType: string }[];
} {
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as {
    manifests: { digest: string; size: number; mediaType: string }[];
  };
  const d = index.manifests[0]!;
  const m = JSON.parse(readFileSync(join(layout, "blobs", ...d.digest.split(":")), "utf8")) as {
    layers: { digest: string; size: number; mediaType: string }[];
  };
  return { ...d, layers: m.layers };
}

function skopeoPush(layout: string, dest: string, extra: string[] = []): Promise<void> {
  return skopeoCopy(`oci:${layout}:latest`, `docker://${dest}`, ["--dest-tls-verify=false", ...extra]);
}

let reg: TestRegistry;
let proxy: FaultProxy;
let bbLayout: string;
let helloLayout: string;
const ref: Partial<Record<"busybox" | "hello", Analysis>> = {};

before(async () => {
  [bbLayout, helloLayout] = await Promise.all([ociLayout(IMAGES.busybox), ociLayout(IMAGES.hello)]);
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.url);
  await Promise.all([
    skopeoPush(bbLayout, `${reg.host}/bb:1`),
    skopeoPush(helloLayout, `${reg.host}/hello:1`),
  ]);
  [ref.busybox, ref.hello] = await Promise.all([
    fromStore(IMAGES.busybox, "bb:1"),
    fromStore(IMAGES.hello, "hello:1"),
  ]);
});

after(async () => {
  await proxy?.stop();
  await reg?.stop();
});

describe("docker://: streamed from the registry, nothing written", () => {
  for (const [image, repo] of [
    ["busybox", "bb"],
    ["hello", "hello"],
  ] as const) {
    test(`${image}: the store's analysis, each layer fetched once, no store and no temporary file`, async () => {
      const want = ref[image]!;
      proxy.reset();
      const { a, storeExists, tmpLeft } = await analyze([`docker://${proxy.host}/${repo}:1`]);
      assert.deepEqual(evidence(a), evidence(want));
      assert.equal(a.verdict, image === "busybox" ? "busybox" : "none");
      assert.equal(a.image.id, want.image.id);
      assert.equal(a.image.digest, want.image.digest);
      assert.equal(a.image.name, `${proxy.host}/${repo}:1`);
      assert.equal(a.image.source, `docker://${proxy.host}/${repo}:1`);
      assert.equal(a.image.platform, want.image.platform);
      assert.equal(storeExists, false, "the store was created");
      assert.deepEqual(tmpLeft, []);
      // One streaming pass: every layer blob was asked for exactly once and served whole.
      const layers = layoutManifest(image === "busybox" ? bbLayout : helloLayout).layers;
      for (const l of layers) {
        const gets = proxy.requests.filter((q) => q.method === "GET" && q.url.endsWith(`/blobs/${l.digest}`));
        assert.equal(gets.length, 1, proxy.requests.map((q) => `${q.method} ${q.url}`).join("\n"));
        assert.equal(gets[0]!.bytes, l.size);
      }
    });
  }

  test("a file the pass did not keep is read again from the registry: the same analysis", async () => {
    // The entrypoint is a script whose interpreter is the static hello: the pass keeps the script (the command's
    // path is known before it) but only the first 256 bytes of other executables, so the ELF reader's reads of
    // /hello go back to its layer, streamed from the registry again.
    const spec: ImageSpec = {
      layers: [...IMAGES.hello.layers, { files: { run: { data: "#!/hello\n", mode: 0o755 } } }],
      cmd: ["/run"],
    };
    const layout = await ociLayout(spec);
    await skopeoPush(layout, `${reg.host}/hello-path:1`);
    const want = await fromStore(spec, "hello-path:1");
    assert.equal(want.entrypoint.path, "/run");
    assert.equal(want.entrypoint.linkage, "script");
    assert.deepEqual(want.entrypoint.scriptInterpreters, ["/hello"]);
    proxy.reset();
    const { a, storeExists, tmpLeft } = await analyze([`docker://${proxy.host}/hello-path:1`]);
    assert.deepEqual(evidence(a), evidence(want));
    assert.equal(storeExists, false);
    assert.deepEqual(tmpLeft, []);
    const layer = layoutManifest(layout).layers[0]!;
    const gets = proxy.requests.filter((q) => q.method === "GET" && q.url.endsWith(`/blobs/${layer.digest}`));
    assert.ok(gets.length >= 2, `the layer was fetched ${gets.length} time(s)`);
    assert.equal(gets[0]!.bytes, layer.size);
  });

  test("human output: the verdict sentence first, the registry name as the image", async () => {
    const root = join(await tmpdir("analyze-src-store"), "store");
    const r = await osless(root, ["analyze", `docker://${reg.host}/hello:1`], { env: await cliEnv() });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.split("\n")[0]!, /^No operating system is inside\. \/hello is statically linked/);
    assert.match(r.stdout, new RegExp(`Image: +${reg.host.replace(/\./g, "\\.")}/hello:1\n`));
    assert.equal(existsSync(root), false);
  });

  test("a multi-platform index: --platform picks the manifest, a platform it lacks exits 1", async () => {
    // An index naming busybox as linux/amd64 and hello as linux/arm64, in one repository.
    await Promise.all([
      skopeoPush(bbLayout, `${reg.host}/multi:amd64`),
      skopeoPush(helloLayout, `${reg.host}/multi:arm64`),
    ]);
    const bb = layoutManifest(bbLayout);
    const hello = layoutManifest(helloLayout);
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        {
          mediaType: bb.mediaType,
          digest: bb.digest,
          size: bb.size,
          platform: { os: "linux", architecture: "amd64" },
        },
        {
          mediaType: hello.mediaType,
          digest: hello.digest,
          size: hello.size,
          platform: { os: "linux", architecture: "arm64" },
        },
      ],
    });
    const put = await fetch(`${reg.url}/v2/multi/manifests/all`, {
      method: "PUT",
      headers: { "content-type": "application/vnd.oci.image.index.v1+json" },
      body: index,
    });
    assert.equal(put.status, 201, await put.text());
    const amd = await analyze(["--platform", "linux/amd64", `docker://${reg.host}/multi:all`]);
    assert.equal(amd.a.verdict, "busybox");
    assert.equal(amd.a.image.digest, bb.digest);
    assert.deepEqual(evidence(amd.a), evidence(ref.busybox!));
    const arm = await analyze(["--platform", "linux/arm64", `docker://${reg.host}/multi:all`]);
    assert.equal(arm.a.image.digest, hello.digest);
    assert.deepEqual(evidence(arm.a), evidence(ref.hello!));
    const root = join(await tmpdir("analyze-src-store"), "store");
    const none = await osless(
      root,
      ["analyze", "--json", "--platform", "linux/s390x", `docker://${reg.host}/multi:all`],
      {
        env: await cliEnv(),
      },
    );
    assert.equal(none.code, 1, none.stderr);
    assert.equal((JSON.parse(none.stderr) as { error: { code: string } }).error.code, "E_PLATFORM_NOT_FOUND");
  });

  test("a registry serving a wrong layer byte: E_DIGEST_MISMATCH, exit 1, nothing written", async () => {
    const layer = layoutManifest(helloLayout).layers[0]!;
    assert.match(layer.mediaType, /gzip/);
    proxy.reset();
    // Byte 4 is the gzip header's MTIME: the layer still decompresses to the right tar (its DiffID holds), only
    // the blob digest tells.
    proxy.rules.push({
      method: "GET",
      path: new RegExp(`/blobs/${layer.digest}$`),
      fault: { kind: "corrupt", atByte: 4 },
    });
    const root = join(await tmpdir("analyze-src-store"), "store");
    const tmp = await tmpdir("analyze-src-tmp");
    const r = await osless(root, ["analyze", "--json", `docker://${proxy.host}/hello:1`], {
      env: await cliEnv({ TMPDIR: tmp }),
    });
    assert.equal(r.code, 1, explain(["analyze", "--json"], r));
    const e = (JSON.parse(r.stderr) as { error: { code: string; message: string } }).error;
    assert.equal(e.code, "E_DIGEST_MISMATCH");
    assert.ok(e.message.includes(layer.digest), e.message);
    assert.equal(r.stdout, "");
    assert.ok((proxy.rules[0]!.hits ?? 0) >= 1);
    assert.equal(existsSync(root), false);
    assert.deepEqual(leftIn(tmp), []);
  });

  test("an unreachable registry: exit 1 naming the host, quickly", async () => {
    const port = await freePort();
    const root = join(await tmpdir("analyze-src-store"), "store");
    const start = Date.now();
    const r = await osless(root, ["analyze", `docker://127.0.0.1:${port}/x:1`], { env: await cliEnv() });
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.stderr.includes(`127.0.0.1:${port}`), r.stderr);
    assert.match(r.stderr, /ECONNREFUSED/);
    assert.ok(Date.now() - start < 15_000, `took ${Date.now() - start} ms`);
    assert.equal(existsSync(root), false);
  });

  test("a registry with htpasswd: refused without credentials, analysed with --creds", async () => {
    const secure = await startRegistry({ auth: "htpasswd" });
    try {
      await skopeoPush(helloLayout, `${secure.host}/hello:1`, ["--dest-creds", "testuser:testpass"]);
      const root = join(await tmpdir("analyze-src-store"), "store");
      const denied = await osless(root, ["analyze", "--json", `docker://${secure.host}/hello:1`], {
        env: await cliEnv(),
      });
      assert.equal(denied.code, 1, denied.stderr);
      assert.equal((JSON.parse(denied.stderr) as { error: { code: string } }).error.code, "E_UNAUTHORIZED");
      const { a, storeExists } = await analyze([
        "--creds",
        "testuser:testpass",
        "--tls-verify=false",
        `docker://${secure.host}/hello:1`,
      ]);
      assert.deepEqual(evidence(a), evidence(ref.hello!));
      assert.equal(storeExists, false);
    } finally {
      await secure.stop();
    }
  });
});

describe("archives and layouts: through a temporary store, removed afterwards", () => {
  test("oci:DIR and oci:DIR:ref give the store's analysis", async () => {
    for (const src of [`oci:${bbLayout}`, `oci:${bbLayout}:latest`]) {
      const { a, storeExists, tmpLeft } = await analyze([src]);
      assert.deepEqual(evidence(a), evidence(ref.busybox!));
      assert.equal(a.image.source, src);
      assert.equal(a.image.id, ref.busybox!.image.id);
      assert.equal(storeExists, false);
      assert.deepEqual(tmpLeft, []);
    }
  });

  test("oci-archive:FILE[:ref] gives the store's analysis", async () => {
    const file = await ociArchive(IMAGES.hello);
    for (const src of [`oci-archive:${file}`, `oci-archive:${file}:latest`]) {
      const { a, storeExists, tmpLeft } = await analyze([src]);
      assert.deepEqual(evidence(a), evidence(ref.hello!));
      assert.equal(a.image.source, src);
      assert.equal(storeExists, false);
      assert.deepEqual(tmpLeft, []);
    }
  });

  test("docker-archive:FILE[:name] gives the store's analysis, under the archive's name", async () => {
    const file = await dockerArchive(IMAGES.busybox, "example.com/tools/bb:2");
    for (const src of [`docker-archive:${file}`, `docker-archive:${file}:example.com/tools/bb:2`]) {
      const { a, storeExists, tmpLeft } = await analyze([src]);
      assert.deepEqual(evidence(a), evidence(ref.busybox!));
      assert.equal(a.image.name, "example.com/tools/bb:2");
      assert.equal(a.image.source, src);
      assert.equal(storeExists, false);
      assert.deepEqual(tmpLeft, []);
    }
    const root = join(await tmpdir("analyze-src-store"), "store");
    const wrong = await osless(root, ["analyze", `docker-archive:${file}:other:1`], { env: await cliEnv() });
    assert.equal(wrong.code, 3, wrong.stderr);
    assert.match(wrong.stderr, /names in this archive: example\.com\/tools\/bb:2/);
  });
});
