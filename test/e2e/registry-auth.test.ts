// Authentication and the HTTP layer of the registry client against a real docker-registry (distribution 2.8):
// anonymous, htpasswd (Basic) and token (Bearer) auth, credentials from --creds and auth files, the CLI's
// login/logout, token caching, expiry, the OAuth2 refresh-token flow, bounded retries on refusals, credentials
// kept away from redirect targets, token realms that point into private networks, and unreachable registries.
import assert from "node:assert/strict";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import type { AuthOptions } from "../../src/auth/index.ts";
import { isOslessError, type OslessError } from "../../src/errors.ts";
import { RegistryClient } from "../../src/registry/client.ts";
import { listImages } from "../../src/store/images.ts";
import { Store } from "../../src/store/layout.ts";
import { fsck } from "../../src/store/maintenance.ts";
import { pullImage } from "../../src/transfer/pull.ts";
import { pushImage } from "../../src/transfer/push.ts";
import { type FaultProxy, type Recorder, startFaultProxy, startRecorder } from "../fixtures/fault-proxy.ts";
import { IMAGES, ociLayout, skopeoCopy } from "../fixtures/images.ts";
import { freePort, startRegistry, type TestRegistry } from "../fixtures/registry.ts";
import { startTokenServer, TOKEN_ISSUER, TOKEN_SERVICE, type TokenServer } from "../fixtures/token-server.ts";
import { tmpdir } from "../fixtures/tools.ts";
import { osless } from "./cli.ts";

const USER = "testuser";
const PASSWORD = "testpass";
const CREDS = { username: USER, password: PASSWORD };
const RETRY = { attempts: 2, baseDelayMs: 10 };
const REPO = "test/busybox";

interface Fixture {
  layout: string;
  /** The image manifest's digest (skopeo keeps the OCI manifest as it is, so the registry serves this one). */
  manifest: string;
  config: string;
  layer: { digest: string; size: number; bytes: Buffer };
}
let fx: Fixture;

const blobPath = (layout: string, digest: string) =>
  join(layout, "blobs", "sha256", digest.slice("sha256:".length));

before(async () => {
  const layout = await ociLayout(IMAGES.busybox);
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as {
    manifests: Array<{ digest: string }>;
  };
  const manifest = index.manifests[0]!.digest;
  const m = JSON.parse(readFileSync(blobPath(layout, manifest), "utf8")) as {
    config: { digest: string };
    layers: Array<{ digest: string; size: number }>;
  };
  assert.equal(m.layers.length, 1, "IMAGES.busybox has one layer");
  const l = m.layers[0]!;
  fx = {
    layout,
    manifest,
    config: m.config.digest,
    layer: { ...l, bytes: readFileSync(blobPath(layout, l.digest)) },
  };
});

/** `skopeo copy` of the busybox layout to `host/repo:tag`, plain http, with credentials when given. */
function seed(host: string, ref: string, creds?: string): Promise<void> {
  return skopeoCopy(`oci:${fx.layout}:latest`, `docker://${host}/${ref}`, [
    "--dest-tls-verify=false",
    ...(creds ? ["--dest-creds", creds] : []),
  ]);
}

async function newStore(): Promise<Store> {
  return Store.open(join(await tmpdir("auth-store"), "store"));
}

/** Auth options that find no credentials whatever the environment holds (a missing auth file, no helpers). */
async function noAuthFile(): Promise<AuthOptions> {
  return { authFile: join(await tmpdir("no-auth"), "absent.json"), env: {} };
}

/** A docker config.json with `auths[host]` = `entry`, in a fresh directory; returns the file. */
async function authFile(host: string, entry: Record<string, string>): Promise<string> {
  const dir = await tmpdir("docker-config");
  const file = join(dir, "config.json");
  writeFileSync(file, JSON.stringify({ auths: { [host]: entry } }), { mode: 0o600 });
  return file;
}

/** The token server's default grant: pull for anyone, pull and push for authenticated users. */
function defaultGrant(user: string | undefined, type: string, _name: string, actions: string[]): string[] {
  if (type !== "repository") return [];
  const allowed = user === undefined ? ["pull"] : ["pull", "push"];
  return actions.filter((a) => allowed.includes(a));
}

/** JWT claims for a hand-made token with pull access to `repo` (for checking the registry without osless). */
function adminClaims(repo: string): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: TOKEN_ISSUER,
    sub: "admin",
    aud: TOKEN_SERVICE,
    exp: now + 60,
    nbf: now - 1,
    iat: now,
    jti: `t${now}`,
    access: [{ type: "repository", name: repo, actions: ["pull"] }],
  };
}

const basic = (user: string, password: string) => Buffer.from(`${user}:${password}`).toString("base64");

/** Awaits `p`, which must reject with an OslessError of one of `codes`; returns it. */
async function failsWith(p: Promise<unknown>, ...codes: string[]): Promise<OslessError> {
  try {
    await p;
  } catch (e) {
    assert.ok(isOslessError(e), `expected an OslessError, got ${String(e)}\n${(e as Error)?.stack ?? ""}`);
    assert.ok(codes.includes(e.code), `expected ${codes.join(" or ")}, got ${e.code}: ${e.message}`);
    return e;
  }
  assert.fail(`expected ${codes.join(" or ")}, but it succeeded`);
}

function withLogs(regs: TestRegistry[]) {
  return (e: unknown): never => {
    if (e instanceof Error) {
      for (const r of regs)
        e.message += `\n--- registry ${r.host} log (tail) ---\n${r.logs().split("\n").slice(-20).join("\n")}`;
    }
    throw e;
  };
}

/** Checks a completed pull of the busybox image: the digest, the layer, the config (= ID), a clean store. */
async function assertPulled(
  store: Store,
  r: { digest: string; manifest: string; id: string; blobs: Array<{ digest: string }> },
) {
  assert.equal(r.digest, fx.manifest);
  assert.equal(r.manifest, fx.manifest);
  assert.equal(r.id, fx.config);
  assert.deepEqual(
    r.blobs.map((b) => b.digest),
    [fx.layer.digest],
  );
  const check = await fsck(store);
  assert.deepEqual(check.problems, []);
  assert.equal((await listImages(store)).length, 1);
}

/** A CLI environment where the default auth file is an empty, private one (never the user's own). */
async function cliEnv(): Promise<Record<string, string>> {
  const home = await tmpdir("cli-home");
  await mkdir(join(home, "docker"), { recursive: true });
  return { HOME: home, DOCKER_CONFIG: join(home, "docker"), REGISTRY_AUTH_FILE: "", XDG_RUNTIME_DIR: home };
}

// ---------------------------------------------------------------------------------------------------------------

describe("anonymous registry", () => {
  let reg: TestRegistry;
  let proxy: FaultProxy;

  before(async () => {
    reg = await startRegistry();
    proxy = await startFaultProxy(reg.url);
    await seed(reg.host, `${REPO}:latest`).catch(withLogs([reg]));
  });
  after(async () => {
    await proxy?.stop();
    await reg?.stop();
  });

  test("pull works with no credentials and no Authorization header is ever sent", async () => {
    proxy.reset();
    const store = await newStore();
    const r = await pullImage(store, `${proxy.host}/${REPO}:latest`, {
      auth: await noAuthFile(),
      retry: RETRY,
    }).catch(withLogs([reg]));
    await assertPulled(store, r);
    const urls = proxy.requests.map((q) => `${q.method} ${q.url}`);
    assert.ok(urls.includes("GET /v2/"), urls.join("\n"));
    assert.ok(urls.includes(`GET /v2/${REPO}/manifests/latest`), urls.join("\n"));
    assert.ok(urls.includes(`GET /v2/${REPO}/blobs/${fx.layer.digest}`), urls.join("\n"));
    for (const q of proxy.requests) assert.equal(q.headers.authorization, undefined, `${q.method} ${q.url}`);
  });

  test("credentials that are at hand are neither looked up nor volunteered when the registry asks for none", async () => {
    proxy.reset();
    let lookups = 0;
    const client = new RegistryClient(proxy.host, {
      credentials: async () => {
        lookups++;
        return { ...CREDS, source: "test" };
      },
      retry: RETRY,
    });
    try {
      const repo = client.repository(REPO);
      const m = await repo.getManifest("latest");
      assert.equal(m.digest, fx.manifest);
      const config = await repo.readBlob(
        { digest: fx.config, size: statSync(blobPath(fx.layout, fx.config)).size },
        1 << 20,
      );
      assert.ok(config.length > 0);
      assert.equal(await repo.blobExists(fx.layer), true);
    } finally {
      await client.close();
    }
    assert.equal(lookups, 0);
    assert.ok(proxy.requests.length >= 4);
    for (const q of proxy.requests) assert.equal(q.headers.authorization, undefined, `${q.method} ${q.url}`);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("htpasswd registry (Basic auth)", () => {
  let reg: TestRegistry;
  let proxy: FaultProxy;
  let recorder: Recorder;

  before(async () => {
    reg = await startRegistry({ auth: "htpasswd" });
    [proxy, recorder] = await Promise.all([
      startFaultProxy(reg.url),
      startRecorder({ body: fx.layer.bytes }),
    ]);
    await seed(reg.host, `${REPO}:latest`, `${USER}:${PASSWORD}`).catch(withLogs([reg]));
  });
  after(async () => {
    await proxy?.stop();
    await recorder?.stop();
    await reg?.stop();
  });

  test("no credentials: E_UNAUTHORIZED 'authentication required', the hint names `osless login <host>`", async () => {
    const store = await newStore();
    const e = await failsWith(
      pullImage(store, `${reg.host}/${REPO}:latest`, { auth: await noAuthFile(), retry: RETRY }),
      "E_UNAUTHORIZED",
    );
    assert.match(e.message, /authentication required/);
    assert.ok(e.message.includes(reg.host), e.message);
    assert.ok(e.hint?.includes(`osless login ${reg.host}`), e.hint);
    assert.deepEqual(await listImages(store), []);
  });

  test("wrong password via creds: E_UNAUTHORIZED 'authentication failed', nothing stored", async () => {
    const store = await newStore();
    const e = await failsWith(
      pullImage(store, `${reg.host}/${REPO}:latest`, {
        creds: { username: USER, password: "wrong" },
        auth: await noAuthFile(),
        retry: RETRY,
      }),
      "E_UNAUTHORIZED",
    );
    assert.match(e.message, /authentication failed/);
    assert.ok(e.hint?.includes("--creds"), e.hint);
    assert.ok(
      !e.message.includes("wrong") && !(e.hint ?? "").includes("wrong"),
      "the password must not be shown",
    );
    assert.deepEqual(await listImages(store), []);
  });

  test("unknown user: E_UNAUTHORIZED too", async () => {
    await failsWith(
      pullImage(await newStore(), `${reg.host}/${REPO}:latest`, {
        creds: { username: "nobody", password: PASSWORD },
        auth: await noAuthFile(),
        retry: RETRY,
      }),
      "E_UNAUTHORIZED",
    );
  });

  test("right credentials via creds: pull, then push to another repository, both work", async () => {
    const store = await newStore();
    const opts = { creds: CREDS, auth: await noAuthFile(), retry: RETRY };
    const pulled = await pullImage(store, `${reg.host}/${REPO}:latest`, opts).catch(withLogs([reg]));
    await assertPulled(store, pulled);
    const pushed = await pushImage(store, pulled.name, `${reg.host}/pushed/busybox:v1`, opts).catch(
      withLogs([reg]),
    );
    assert.equal(pushed.digest, fx.manifest);
    assert.deepEqual(pushed.blobs.map((b) => b.digest).sort(), [fx.config, fx.layer.digest].sort());
    // The registry itself (with our credentials, without osless) serves what was pushed.
    const res = await fetch(`${reg.url}/v2/pushed/busybox/manifests/v1`, {
      headers: {
        authorization: `Basic ${basic(USER, PASSWORD)}`,
        accept: "application/vnd.oci.image.manifest.v1+json",
      },
    });
    await res.arrayBuffer();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("docker-content-digest"), fx.manifest);
    const anon = await fetch(`${reg.url}/v2/pushed/busybox/manifests/v1`);
    await anon.arrayBuffer();
    assert.equal(anon.status, 401, "the registry really requires auth");
  });

  test("credentials from a docker config.json (auths[host].auth) given as auth.authFile", async () => {
    const file = await authFile(reg.host, { auth: basic(USER, PASSWORD) });
    const store = await newStore();
    const r = await pullImage(store, `${reg.host}/${REPO}:latest`, {
      auth: { authFile: file, env: {} },
      retry: RETRY,
    }).catch(withLogs([reg]));
    await assertPulled(store, r);
  });

  test("a wrong password in the auth file: 'authentication failed', the hint names the file", async () => {
    const file = await authFile(reg.host, { auth: basic(USER, "stale") });
    const e = await failsWith(
      pullImage(await newStore(), `${reg.host}/${REPO}:latest`, {
        auth: { authFile: file, env: {} },
        retry: RETRY,
      }),
      "E_UNAUTHORIZED",
    );
    assert.match(e.message, /authentication failed/);
    assert.ok(e.hint?.includes(file), e.hint);
    assert.ok(e.hint?.includes(`osless login ${reg.host}`), e.hint);
  });

  test("credentials go to the registry host only: a blob redirected to another host gets no Authorization", async () => {
    proxy.reset();
    proxy.rules.push({
      method: "GET",
      path: new RegExp(`/blobs/${fx.layer.digest}$`),
      fault: {
        kind: "redirect",
        location: `${recorder.url}/storage/${fx.layer.digest.slice(7)}?sig=x`,
        status: 307,
      },
    });
    recorder.requests.length = 0;
    const store = await newStore();
    const r = await pullImage(store, `${proxy.host}/${REPO}:latest`, {
      creds: CREDS,
      auth: await noAuthFile(),
      retry: RETRY,
    }).catch(withLogs([reg]));
    assert.equal(r.digest, fx.manifest);
    assert.equal(r.id, fx.config);
    assert.deepEqual(
      r.blobs.map((b) => [b.digest, b.status]),
      [[fx.layer.digest, "downloaded"]],
    );
    assert.deepEqual((await fsck(store)).problems, []);
    assert.equal(proxy.rules[0]?.hits, 1, "the layer was redirected");
    // The other host served the layer, without any credentials.
    assert.equal(recorder.requests.length, 1);
    assert.equal(recorder.requests[0]?.url, `/storage/${fx.layer.digest.slice(7)}?sig=x`);
    assert.equal(recorder.requests[0]?.headers.authorization, undefined);
    assert.equal(recorder.requests[0]?.headers.cookie, undefined);
    // The registry saw Basic credentials on its own requests (manifest, config, the layer before the redirect).
    const expected = `Basic ${basic(USER, PASSWORD)}`;
    const registryCalls = proxy.requests.filter((q) => q.url.startsWith(`/v2/${REPO}/`));
    assert.ok(registryCalls.length >= 3, registryCalls.map((q) => q.url).join("\n"));
    for (const q of registryCalls) assert.equal(q.headers.authorization, expected, `${q.method} ${q.url}`);
  });

  describe("CLI login and logout", () => {
    let env: Record<string, string>;
    let root: string;
    let file: string;
    let loggedIn: Buffer;

    before(async () => {
      env = await cliEnv();
      root = join(await tmpdir("cli-store"), "store");
      file = join(await tmpdir("authfile"), "sub", "auth.json");
    });

    test("login --password-stdin: 'Login Succeeded', auths[host].auth in the file, mode 0600", async () => {
      const r = await osless(root, ["login", reg.host, "-u", USER, "--password-stdin", "--authfile", file], {
        env,
        input: Buffer.from(`${PASSWORD}\n`),
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Login Succeeded/);
      assert.ok(!r.stdout.includes(PASSWORD) && !r.stderr.includes(PASSWORD));
      const doc = JSON.parse(await readFile(file, "utf8")) as { auths: Record<string, { auth?: string }> };
      assert.equal(doc.auths[reg.host]?.auth, basic(USER, PASSWORD));
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      loggedIn = await readFile(file);
    });

    test("pull --authfile with the stored login works", async () => {
      const r = await osless(root, ["pull", `${reg.host}/${REPO}:latest`, "--authfile", file], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.includes(`${reg.host}/${REPO}:latest`), r.stdout);
      assert.ok(r.stderr.includes(fx.manifest), r.stderr);
    });

    test("pull with DOCKER_CONFIG pointing at a config.json with the login works", async () => {
      const dir = join(await tmpdir("docker-config"), "d");
      await mkdir(dir);
      writeFileSync(join(dir, "config.json"), loggedIn, { mode: 0o600 });
      const r = await osless(root, ["pull", `${reg.host}/${REPO}:latest`], {
        env: { ...env, DOCKER_CONFIG: dir },
      });
      assert.equal(r.code, 0, r.stderr);
    });

    test("login with a wrong password: exit 1, the auth file unchanged", async () => {
      const r = await osless(root, ["login", reg.host, "-u", USER, "--password-stdin", "--authfile", file], {
        env,
        input: Buffer.from("not-the-password\n"),
      });
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /authentication failed|unauthorized/i);
      assert.doesNotMatch(r.stdout, /Login Succeeded/);
      assert.ok(!r.stderr.includes("not-the-password"));
      assert.ok((await readFile(file)).equals(loggedIn), "the auth file changed");
      assert.equal((await stat(file)).mode & 0o777, 0o600);
    });

    test("logout removes the entry", async () => {
      const r = await osless(root, ["logout", reg.host, "--authfile", file], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`Removed login credentials for ${reg.host.replace(/\./g, "\\.")}`));
      const doc = JSON.parse(await readFile(file, "utf8")) as { auths?: Record<string, unknown> };
      assert.equal(doc.auths?.[reg.host], undefined);
      const again = await osless(root, ["logout", reg.host, "--authfile", file], { env });
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /Not logged in/);
    });

    test("pull after logout: exit 1, the hint says `osless login <host>`", async () => {
      const r = await osless(root, ["pull", `${reg.host}/${REPO}:latest`, "--authfile", file], { env });
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /authentication required/);
      assert.ok(r.stderr.includes(`osless login ${reg.host}`), r.stderr);
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("token auth (Bearer)", () => {
  let ts: TokenServer;
  let reg: TestRegistry;
  let proxy: FaultProxy;
  /** A store holding the busybox image pulled from `test/busybox` (for pushes). */
  let source: Store;
  let sourceName: string;

  const since = (n: number) => ts.requests.slice(n);
  const trace = (n: number) =>
    since(n)
      .map((q) => `${q.method} ${q.status} ${q.query.getAll("scope").join(" ")}${q.form?.get("scope") ?? ""}`)
      .join("\n");
  const defaults = () =>
    ts.setOptions({
      tokenField: "token",
      expiresIn: 300,
      grant: defaultGrant,
      post: true,
      refreshTokens: { "identity-token-1": USER },
    });

  before(async () => {
    ts = await startTokenServer();
    defaults();
    reg = await startRegistry({ auth: { token: ts } });
    proxy = await startFaultProxy(reg.url);
    await seed(reg.host, `${REPO}:latest`, `${USER}:${PASSWORD}`).catch(withLogs([reg]));
    source = await newStore();
    const r = await pullImage(source, `${reg.host}/${REPO}:latest`, {
      creds: CREDS,
      auth: await noAuthFile(),
      retry: RETRY,
    }).catch(withLogs([reg]));
    sourceName = r.name;
  });
  afterEach(() => defaults());
  after(async () => {
    await proxy?.stop();
    await reg?.stop();
    await ts?.stop();
  });

  test("pull and push with credentials: Basic to the token server, tokens scoped pull and pull,push", async () => {
    const n = ts.requests.length;
    const store = await newStore();
    const opts = { creds: CREDS, auth: await noAuthFile(), retry: RETRY };
    const pulled = await pullImage(store, `${reg.host}/${REPO}:latest`, opts).catch(withLogs([reg]));
    await assertPulled(store, pulled);
    const pullReqs = since(n);
    assert.ok(pullReqs.length >= 1);
    for (const q of pullReqs) {
      assert.equal(q.method, "GET");
      assert.equal(q.authorization, `Basic ${basic(USER, PASSWORD)}`);
      assert.equal(q.query.get("service"), ts.service);
      assert.equal(q.status, 200);
    }
    assert.ok(pullReqs[0]?.query.getAll("scope").includes(`repository:${REPO}:pull`));

    const m = ts.requests.length;
    const pushed = await pushImage(store, pulled.name, `${reg.host}/tok/pushed:v1`, opts).catch(
      withLogs([reg]),
    );
    assert.equal(pushed.digest, fx.manifest);
    const pushReqs = since(m);
    assert.ok(
      pushReqs.some((q) =>
        q.access?.some(
          (a) => a.name === "tok/pushed" && a.actions.includes("push") && a.actions.includes("pull"),
        ),
      ),
      JSON.stringify(pushReqs.map((q) => q.access)),
    );
    // Pushed for real: an anonymous pull of it works (the token server grants pull to anyone).
    const again = await newStore();
    const r = await pullImage(again, `${reg.host}/tok/pushed:v1`, { auth: await noAuthFile(), retry: RETRY });
    assert.equal(r.digest, fx.manifest);
  });

  test("anonymous pull of a public repository: tokens fetched without credentials", async () => {
    const n = ts.requests.length;
    const store = await newStore();
    const r = await pullImage(store, `${reg.host}/${REPO}:latest`, {
      auth: await noAuthFile(),
      retry: RETRY,
    }).catch(withLogs([reg]));
    await assertPulled(store, r);
    const reqs = since(n);
    assert.ok(reqs.length >= 1);
    for (const q of reqs) {
      assert.equal(q.authorization, undefined);
      assert.equal(q.status, 200);
      assert.deepEqual(q.access, [{ type: "repository", name: REPO, actions: ["pull"] }]);
    }
  });

  test("anonymous push is refused: E_UNAUTHORIZED or E_DENIED, without a loop", {
    timeout: 30_000,
  }, async () => {
    const n = ts.requests.length;
    const start = Date.now();
    const e = await failsWith(
      pushImage(source, sourceName, `${reg.host}/tok/anon:v1`, { auth: await noAuthFile(), retry: RETRY }),
      "E_UNAUTHORIZED",
      "E_DENIED",
    );
    assert.ok(e.hint?.includes(`osless login ${reg.host}`), e.hint);
    // Bounded, not a loop: one pull token for the HEADs, then for each of the 2 blobs (config, layer) uploaded at
    // once at most a cross-repository mount and a plain upload, each refreshed once after its 401.
    assert.ok(since(n).length <= 9, `${since(n).length} token requests:\n${trace(n)}`);
    assert.ok(since(n).every((q) => q.authorization === undefined));
    assert.ok(Date.now() - start < 10_000);
    // Nothing was pushed.
    const res = await fetch(`${reg.url}/v2/tok/anon/tags/list`, {
      headers: { authorization: `Bearer ${ts.signToken(adminClaims("tok/anon"))}` },
    });
    await res.arrayBuffer();
    assert.equal(res.status, 404);
  });

  test("a token answered as access_token only is used", async () => {
    ts.setOptions({ tokenField: "access_token" });
    const n = ts.requests.length;
    const store = await newStore();
    const r = await pullImage(store, `${reg.host}/${REPO}:latest`, {
      creds: CREDS,
      auth: await noAuthFile(),
      retry: RETRY,
    }).catch(withLogs([reg]));
    await assertPulled(store, r);
    assert.ok(since(n).length >= 1, "a token was fetched");
    assert.ok(since(n).every((q) => q.status === 200));
  });

  test("tokens are cached: 30 blob requests on one client, one token request", async () => {
    const n = ts.requests.length;
    const client = new RegistryClient(reg.host, {
      credentials: async () => ({ ...CREDS, source: "test" }),
      retry: RETRY,
    });
    const start = Date.now();
    try {
      const repo = client.repository(REPO);
      assert.equal((await repo.getManifest("latest")).digest, fx.manifest);
      const configSize = statSync(blobPath(fx.layout, fx.config)).size;
      for (let i = 0; i < 10; i++) {
        assert.equal(await repo.blobExists(fx.layer), true);
        assert.equal(await repo.blobExists({ digest: fx.config, size: configSize }), true);
        const b = await repo.readBlob({ digest: fx.config, size: configSize }, 1 << 20);
        assert.equal(b.length, configSize);
      }
      assert.equal(since(n).length, 1, JSON.stringify(since(n).map((q) => q.query.toString())));
      // Concurrent requests after that share the cached token as well.
      await Promise.all(Array.from({ length: 8 }, () => repo.blobExists(fx.layer)));
      assert.equal(since(n).length, 1);
      // 39 requests on one keep-alive pool: quick unless answered connections are never given back.
      assert.ok(Date.now() - start < 10_000, `took ${Date.now() - start} ms`);
    } finally {
      await client.close();
    }
  });

  test("concurrent first requests share one token fetch", async () => {
    const n = ts.requests.length;
    const client = new RegistryClient(reg.host, {
      credentials: async () => ({ ...CREDS, source: "test" }),
      retry: RETRY,
    });
    try {
      const repo = client.repository(REPO);
      const found = await Promise.all(Array.from({ length: 12 }, () => repo.blobExists(fx.layer)));
      assert.deepEqual(found, Array(12).fill(true));
      assert.equal(since(n).length, 1, trace(n));
    } finally {
      await client.close();
    }
  });

  test("expires_in: 1: an operation after more than a second fetches a new token", async () => {
    ts.setOptions({ expiresIn: 1 });
    const client = new RegistryClient(reg.host, {
      credentials: async () => ({ ...CREDS, source: "test" }),
      retry: RETRY,
    });
    try {
      const repo = client.repository(REPO);
      const n = ts.requests.length;
      assert.equal((await repo.getManifest("latest")).digest, fx.manifest);
      const first = since(n).length;
      assert.ok(first >= 1);
      await new Promise((r) => setTimeout(r, 1300));
      assert.equal((await repo.getManifest("latest")).digest, fx.manifest);
      assert.ok(since(n).length > first, `${since(n).length} token requests, ${first} before the wait`);
      assert.ok(since(n).length <= first + 2);
    } finally {
      await client.close();
    }
  });

  test("identity token from the auth file: OAuth2 POST grant_type=refresh_token, then pull and push work", async () => {
    const file = await authFile(reg.host, { identitytoken: "identity-token-1" });
    const n = ts.requests.length;
    const store = await newStore();
    const opts = { auth: { authFile: file, env: {} }, retry: RETRY };
    const r = await pullImage(store, `${reg.host}/${REPO}:latest`, opts).catch(withLogs([reg]));
    await assertPulled(store, r);
    const reqs = since(n);
    assert.ok(reqs.length >= 1);
    for (const q of reqs) {
      assert.equal(q.method, "POST");
      assert.equal(q.status, 200);
      assert.equal(q.authorization, undefined, "an identity token is not sent as Basic");
      assert.equal(q.form?.get("grant_type"), "refresh_token");
      assert.equal(q.form?.get("refresh_token"), "identity-token-1");
      assert.equal(q.form?.get("service"), ts.service);
      assert.equal(q.form?.get("client_id"), "osless");
    }
    assert.ok(
      reqs[0]?.form?.get("scope")?.split(" ").includes(`repository:${REPO}:pull`),
      reqs[0]?.form?.toString(),
    );

    // The identity token's user may push.
    const m = ts.requests.length;
    const pushed = await pushImage(store, r.name, `${reg.host}/tok/by-identity:v1`, opts).catch(
      withLogs([reg]),
    );
    assert.equal(pushed.digest, fx.manifest);
    assert.ok(since(m).every((q) => q.method === "POST" && q.form?.get("grant_type") === "refresh_token"));
  });

  test("identity token against a token server without the POST flow (404): falls back to GET", async () => {
    ts.setOptions({ post: false });
    const n = ts.requests.length;
    const store = await newStore();
    const r = await pullImage(store, `${reg.host}/${REPO}:latest`, {
      auth: { authFile: await authFile(reg.host, { identitytoken: "identity-token-1" }), env: {} },
      retry: RETRY,
    }).catch(withLogs([reg]));
    await assertPulled(store, r);
    const reqs = since(n);
    const posts = reqs.filter((q) => q.method === "POST");
    const gets = reqs.filter((q) => q.method === "GET");
    assert.ok(
      posts.length >= 1 && posts.every((q) => q.status === 404),
      JSON.stringify(reqs.map((q) => [q.method, q.status])),
    );
    assert.ok(gets.length >= 1 && gets.every((q) => q.status === 200));
    assert.ok(gets[0]?.query.getAll("scope").includes(`repository:${REPO}:pull`));
    assert.ok(reqs.length <= 6, `${reqs.length} token requests`);
  });

  test("a token server that never grants push: the push fails (E_UNAUTHORIZED/E_DENIED) after a few token requests", {
    timeout: 30_000,
  }, async () => {
    ts.setOptions({
      grant: (_user, type, _name, actions) =>
        type === "repository" ? actions.filter((a) => a === "pull") : [],
    });
    const n = ts.requests.length;
    const start = Date.now();
    const e = await failsWith(
      pushImage(source, sourceName, `${reg.host}/tok/never:v1`, {
        creds: CREDS,
        auth: await noAuthFile(),
        retry: RETRY,
        concurrency: 1,
      }),
      "E_UNAUTHORIZED",
      "E_DENIED",
    );
    assert.ok(e.message.includes(reg.host), e.message);
    const count = since(n).length;
    assert.ok(count >= 1 && count <= 4, `${count} token requests:\n${trace(n)}`);
    assert.ok(Date.now() - start < 10_000, `took ${Date.now() - start} ms`);
  });

  test("a registry that keeps answering 401 insufficient_scope: E_UNAUTHORIZED quickly, the manifest asked at most twice", {
    timeout: 30_000,
  }, async () => {
    proxy.reset();
    proxy.rules.push({
      path: new RegExp(`^/v2/${REPO}/manifests/`),
      fault: {
        kind: "status",
        status: 401,
        headers: {
          "www-authenticate": `Bearer realm="${ts.realm}",service="${ts.service}",scope="repository:x:pull",error="insufficient_scope"`,
        },
        body: JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "insufficient scope" }] }),
      },
    });
    const n = ts.requests.length;
    const start = Date.now();
    const e = await failsWith(
      pullImage(await newStore(), `${proxy.host}/${REPO}:latest`, {
        creds: CREDS,
        auth: await noAuthFile(),
        retry: RETRY,
      }),
      "E_UNAUTHORIZED",
    );
    assert.match(e.message, /insufficient scope|UNAUTHORIZED/);
    const manifestGets = proxy.requests.filter((q) => q.url.startsWith(`/v2/${REPO}/manifests/`));
    assert.ok(
      manifestGets.length >= 1 && manifestGets.length <= 2,
      `${manifestGets.length} manifest requests`,
    );
    assert.ok(since(n).length <= 3, `${since(n).length} token requests`);
    // The scope the registry asked for was requested (merged in front).
    assert.ok(since(n).some((q) => q.query.getAll("scope").includes("repository:x:pull")));
    assert.ok(Date.now() - start < 5000, `took ${Date.now() - start} ms`);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("token realms that point into private networks are refused (SSRF)", () => {
  let proxy: FaultProxy;
  let recorder: Recorder;

  before(async () => {
    recorder = await startRecorder({ body: '{"token":"x"}' });
    // Every request is answered by a rule; the target is never contacted.
    proxy = await startFaultProxy(recorder.url);
  });
  after(async () => {
    await proxy?.stop();
    await recorder?.stop();
  });

  const challengeAll = (realm: string) => {
    proxy.reset();
    recorder.requests.length = 0;
    proxy.rules.push({
      path: /.*/,
      fault: {
        kind: "status",
        status: 401,
        headers: { "www-authenticate": `Bearer realm="${realm}",service="x"` },
        body: JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }),
      },
    });
  };

  for (const [realm, shown] of [
    ["http://169.254.169.254/token", "169.254.169.254"],
    ["https://10.0.0.1/token", "10.0.0.1"],
    ["http://192.168.1.1:8080/token", "192.168.1.1"],
    ["http://[::1]:5000/token", "[::1]"],
    ["http://localhost:5000/token", "localhost"],
  ] as const) {
    test(`realm ${realm}: E_UNAUTHORIZED naming it, nothing contacted but the registry`, async () => {
      challengeAll(realm);
      const start = Date.now();
      const e = await failsWith(
        pullImage(await newStore(), `${proxy.host}/${REPO}:latest`, {
          creds: CREDS,
          auth: await noAuthFile(),
          retry: RETRY,
        }),
        "E_UNAUTHORIZED",
      );
      assert.match(e.message, /refusing token realm/);
      assert.ok(e.message.includes(shown), e.message);
      assert.ok(Date.now() - start < 3000, `took ${Date.now() - start} ms`);
      assert.ok(proxy.requests.length >= 1);
      for (const q of proxy.requests) {
        assert.ok(q.url.startsWith("/v2/"), q.url);
        assert.equal(q.status, 401);
      }
      assert.equal(recorder.requests.length, 0);
    });
  }

  test("a realm on the registry's own loopback host (another port) is accepted: the token is fetched there", async () => {
    // The recorder plays the token server; the registry (proxy) keeps refusing, so the pull fails after it.
    challengeAll(`${recorder.url}/token`);
    await failsWith(
      pullImage(await newStore(), `${proxy.host}/${REPO}:latest`, { auth: await noAuthFile(), retry: RETRY }),
      "E_UNAUTHORIZED",
    );
    assert.ok(recorder.requests.length >= 1);
    assert.ok(
      recorder.requests.every((q) => q.url.startsWith("/token?")),
      recorder.requests.map((q) => q.url).join("\n"),
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("unreachable registry", () => {
  test("library: E_NETWORK naming host:port and ECONNREFUSED, quickly", async () => {
    const port = await freePort();
    const start = Date.now();
    const e = await failsWith(
      pullImage(await newStore(), `127.0.0.1:${port}/${REPO}:latest`, {
        auth: await noAuthFile(),
        retry: { attempts: 5, baseDelayMs: 1000 },
      }),
      "E_NETWORK",
    );
    assert.ok(e.message.includes(`127.0.0.1:${port}`), e.message);
    assert.match(e.message, /ECONNREFUSED/);
    assert.ok(Date.now() - start < 3000, `took ${Date.now() - start} ms`);
  });

  test("CLI: exit 1, stderr names the host, no minute of retries", async () => {
    const port = await freePort();
    const root = join(await tmpdir("cli-store"), "store");
    const start = Date.now();
    const r = await osless(root, ["pull", `127.0.0.1:${port}/${REPO}:latest`], { env: await cliEnv() });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.ok(r.stderr.includes(`127.0.0.1:${port}`), r.stderr);
    assert.match(r.stderr, /ECONNREFUSED/);
    assert.ok(Date.now() - start < 15_000, `took ${Date.now() - start} ms`);
  });
});
