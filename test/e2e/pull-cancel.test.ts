// One layer failing cancels the other downloads of the pull (as docker does): a corrupt small layer ends the pull
// while a slow big layer is still streaming, and that one is not read to its end.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { isOslessError } from "../../src/errors.ts";
import { RegistryClient } from "../../src/registry/client.ts";
import { Store } from "../../src/store/layout.ts";
import { fsck } from "../../src/store/maintenance.ts";
import { pullImage } from "../../src/transfer/pull.ts";
import { type FaultProxy, startFaultProxy } from "../fixtures/fault-proxy.ts";
import { IMAGES, ociLayout } from "../fixtures/images.ts";
import { startRegistry, type TestRegistry } from "../fixtures/registry.ts";
import { needTool, run, tmpdir } from "../fixtures/tools.ts";

let reg: TestRegistry;
let proxy: FaultProxy;

before(async () => {
  reg = await startRegistry({ logLevel: "error" });
  proxy = await startFaultProxy(reg.url);
  await run(needTool("skopeo", "skopeo"), [
    "--insecure-policy",
    "copy",
    "-q",
    "--dest-tls-verify=false",
    `oci:${await ociLayout(IMAGES.twoLayers)}:latest`,
    `docker://${reg.host}/cancel/two:1`,
  ]);
});

after(async () => {
  await proxy?.stop();
  await reg?.stop();
});

test("a corrupt layer cancels the slow download of the other one", async () => {
  const client = new RegistryClient(reg.host);
  const m = await client.repository("cancel/two").getManifest("1");
  await client.close();
  assert.equal(m.kind, "manifest");
  const [big, small] = [...(m.kind === "manifest" ? m.manifest.layers : [])].sort((a, b) => b.size - a.size);
  assert.ok(big && small && big.size > 200_000, "the busybox layer is the big one");
  proxy.rules.push(
    {
      method: "GET",
      path: new RegExp(`/blobs/${big.digest}`),
      fault: { kind: "throttle", bytesPerSecond: 100_000 },
    },
    { method: "GET", path: new RegExp(`/blobs/${small.digest}`), fault: { kind: "corrupt", atByte: 10 } },
  );
  const store = await Store.open(await tmpdir("cancel-"));
  const err = await pullImage(store, `${proxy.host}/cancel/two:1`, {
    retry: { attempts: 2, baseDelayMs: 10 },
  }).catch((e: unknown) => e);
  assert.ok(
    isOslessError(err, "E_DIGEST_MISMATCH"),
    `the corrupt layer's error is reported, got ${String(err)}`,
  );
  const served = proxy.requests
    .filter((r) => r.url.includes(big.digest))
    .reduce((n, r) => n + (r.bytes ?? 0), 0);
  assert.ok(served < big.size / 2, `the slow layer was read on: ${served} of ${big.size} bytes`);
  assert.deepEqual((await fsck(store)).problems, []);
  assert.equal((await store.readIndex()).manifests.length, 0);
});
