import assert from "node:assert/strict";
import { test } from "node:test";
import { isOslessError } from "../errors.ts";
import { parseImageLocation } from "./copy.ts";
import { mapLimit, registryClient, shortId } from "./remote.ts";

test("Docker Hub references reach registry-1.docker.io; other domains are contacted as written", async () => {
  for (const [domain, host] of [
    ["docker.io", "registry-1.docker.io"],
    ["index.docker.io", "registry-1.docker.io"],
    ["ghcr.io", "ghcr.io"],
    ["127.0.0.1:5000", "127.0.0.1:5000"],
  ] as const) {
    const c = registryClient(domain, {});
    assert.equal(c.transport.host, host, domain);
    await c.close();
  }
});

test("plain http only for loopback registries, --tls-verify=false, and registries marked insecure", async () => {
  const cases: [string, Parameters<typeof registryClient>[1], boolean][] = [
    ["docker.io", {}, false],
    ["ghcr.io", {}, false],
    ["registry.lan:5000", {}, false],
    ["127.0.0.1:5000", {}, true],
    ["127.1.2.3:5000", {}, true],
    ["localhost:5000", {}, true],
    ["[::1]:5000", {}, true],
    ["registry.lan:5000", { tlsVerify: false }, true],
    ["registry.lan:5000", { insecureRegistries: ["registry.lan:5000"] }, true],
    ["other.lan:5000", { insecureRegistries: ["registry.lan:5000"] }, false],
  ];
  for (const [domain, opts, insecure] of cases) {
    const c = registryClient(domain, opts);
    assert.equal(c.transport.insecure, insecure, `${domain} ${JSON.stringify(opts)}`);
    await c.close();
  }
});

test("mapLimit keeps at most `limit` calls in flight, keeps order, and stops on the first failure", async () => {
  let inFlight = 0;
  let peak = 0;
  const out = await mapLimit([5, 1, 4, 2, 3, 0], 3, async (ms, i) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((r) => setTimeout(r, ms * 5));
    inFlight--;
    return i * 10;
  });
  assert.deepEqual(out, [0, 10, 20, 30, 40, 50]);
  assert.equal(peak, 3);
  const started: number[] = [];
  await assert.rejects(
    mapLimit([0, 1, 2, 3, 4, 5], 2, async (x) => {
      started.push(x);
      if (x === 1) throw new Error("boom");
      await new Promise((r) => setTimeout(r, 20));
    }),
    /boom/,
  );
  assert.ok(started.length < 6, `work went on after the failure: ${started}`);
});

test("shortId is Docker's 12-hex blob id", () => {
  assert.equal(shortId(`sha256:${"ab".repeat(32)}`), "abababababab");
});

test("copy endpoints use skopeo's transport names; a bare name is the store", () => {
  assert.deepEqual(parseImageLocation("docker://alpine"), {
    kind: "registry",
    ref: "docker.io/library/alpine:latest",
  });
  assert.deepEqual(parseImageLocation("oci:/tmp/l:v1"), {
    kind: "layout",
    spec: "oci:/tmp/l:v1",
    transport: "oci",
    ref: "v1",
  });
  assert.deepEqual(parseImageLocation("docker-archive:/tmp/a.tar:localhost:5000/x:1"), {
    kind: "layout",
    spec: "docker-archive:/tmp/a.tar",
    transport: "docker-archive",
    ref: "localhost:5000/x:1",
  });
  assert.deepEqual(parseImageLocation("myapp:1"), { kind: "store", ref: "myapp:1" });
  for (const bad of ["docker://", "docker-daemon:alpine", "containers-storage:x", "docker-archive:"]) {
    assert.throws(
      () => parseImageLocation(bad),
      (e) => isOslessError(e) && /USAGE|REFERENCE/.test(e.code),
      bad,
    );
  }
});

test("mapLimit throws the first failure in time and calls onFailure once, so the caller can cancel the rest", async () => {
  const ac = new AbortController();
  let calls = 0;
  const err = await mapLimit(
    [50, 5, 50],
    3,
    async (ms, i) => {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => (i === 1 ? reject(new Error("real failure")) : resolve()), ms);
        ac.signal.addEventListener("abort", () => {
          clearTimeout(t);
          reject(new Error("aborted"));
        });
      });
    },
    () => {
      calls++;
      ac.abort();
    },
  ).catch((e: Error) => e);
  assert.equal((err as Error).message, "real failure");
  assert.equal(calls, 1);
});
