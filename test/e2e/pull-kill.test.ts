// kill -9 during `osless pull` (registry-rules.md "Testing kill -9 during pull"): the CLI is killed at random points
// of a throttled download and at every fault point of the store's write path; after each kill `fsck` finds
// nothing wrong (partial downloads are kept for resume, never visible as blobs), and the next pull continues the
// partial layer with a Range request instead of starting over.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { gzipSync } from "node:zlib";
import { digestOf } from "../../src/digest/index.ts";
import { Store } from "../../src/store/layout.ts";
import { fsck } from "../../src/store/maintenance.ts";
import { writeTar } from "../../src/tar/index.ts";
import { type FaultProxy, startFaultProxy } from "../fixtures/fault-proxy.ts";
import { putBlob, writeOciLayout } from "../fixtures/layout.ts";
import { startRegistry, type TestRegistry } from "../fixtures/registry.ts";
import { needTool, run, tmpdir } from "../fixtures/tools.ts";
import { osless } from "./cli.ts";

const MAIN = new URL("../../src/cli/main.ts", import.meta.url).pathname;
const LAYER_FILE = 6 * 1024 * 1024;
const RATE = 6 * 1024 * 1024; // bytes per second: the layer takes about a second to download

let reg: TestRegistry;
let proxy: FaultProxy;
let ref: string;
let layerDigest: string;
let layerSize: number;

before(async () => {
  reg = await startRegistry({ logLevel: "error" });
  proxy = await startFaultProxy(reg.url);
  // One layer of incompressible data, so its gzip blob is about LAYER_FILE bytes.
  const chunks: Buffer[] = [];
  for await (const c of writeTar([
    {
      entry: { path: "data.bin", type: "file", mode: 0o644, mtime: 0, size: LAYER_FILE },
      body: randomBytes(LAYER_FILE),
    },
  ])) {
    chunks.push(Buffer.from(c));
  }
  const tar = Buffer.concat(chunks);
  const layout = await tmpdir("osless-kill-layout-");
  const blob = await putBlob(layout, gzipSync(tar, { level: 1 }));
  await writeOciLayout(layout, [
    {
      descriptor: { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...blob },
      diffId: digestOf(tar),
    },
  ]);
  layerDigest = blob.digest;
  layerSize = blob.size;
  await run(needTool("skopeo", "skopeo"), [
    "--insecure-policy",
    "copy",
    "-q",
    "--dest-tls-verify=false",
    `oci:${layout}:latest`,
    `docker://${reg.host}/kill/img:1`,
  ]);
  ref = `${proxy.host}/kill/img:1`;
  proxy.rules.push({
    method: "GET",
    path: /\/blobs\/sha256:/,
    fault: { kind: "throttle", bytesPerSecond: RATE },
  });
});

after(async () => {
  await proxy?.stop();
  await reg?.stop();
});

/** Start a pull; resolve when it exits or is killed. `killAt` = layer bytes served in this attempt. */
function pullUntil(root: string, killAt: number | undefined, env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve, reject) => {
      const served0 = layerBytesServed();
      const child = spawn(process.execPath, ["--import", "tsx", MAIN, "pull", "-q", ref], {
        env: { ...process.env, OSLESS_ROOT: root, NO_COLOR: "1", ...env },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (c) => (stderr += c));
      let timer: NodeJS.Timeout | undefined;
      if (killAt !== undefined) {
        timer = setInterval(() => {
          if (layerBytesServed() - served0 >= killAt) child.kill("SIGKILL");
        }, 5);
      }
      child.on("error", reject);
      child.on("close", (code, signal) => {
        if (timer) clearInterval(timer);
        resolve({ code, signal, stderr });
      });
    },
  );
}

function layerBytesServed(): number {
  return proxy.requests
    .filter((r) => r.method === "GET" && r.url.includes(layerDigest))
    .reduce((n, r) => n + (r.bytes ?? 0), 0);
}

async function assertConsistent(root: string, what: string): Promise<{ complete: boolean; partial: number }> {
  const store = await Store.open(root);
  const r = await fsck(store);
  assert.deepEqual(
    r.problems.map((p) => p.message),
    [],
    `${what}: fsck found problems`,
  );
  // A named image has every blob (fsck walked it); the layer is either a whole verified blob or a partial ingest.
  const complete = (await store.readIndex()).manifests.length > 0;
  const blobs = await readdir(join(root, "blobs", "sha256")).catch(() => [] as string[]);
  assert.ok(
    !(blobs.includes(layerDigest.slice(7)) && r.partial.length > 0),
    `${what}: both a blob and a partial`,
  );
  return { complete, partial: r.partial.length };
}

test("pull killed with SIGKILL at 20 random points leaves the store consistent, and the next pull resumes", async () => {
  const root = await tmpdir("osless-kill-");
  let killedMidLayer = 0;
  for (let i = 0; i < 20; i++) {
    // A random point of what is left of the layer (a partial download from the last kill is resumed, not fetched).
    const have = await stat(join(root, "ingest", `sha256-${layerDigest.slice(7)}`)).then(
      (s) => s.size,
      () => 0,
    );
    const killAt = Math.floor(Math.random() * 0.9 * (layerSize - have));
    const r = await pullUntil(root, killAt);
    const state = await assertConsistent(root, `kill ${i + 1} at ${killAt} bytes`);
    if (r.signal === "SIGKILL" && state.partial > 0) killedMidLayer++;
    if (state.complete) {
      // The pull won the race: start over so that later kills hit a download again.
      assert.equal((await osless(root, ["rmi", ref])).code, 0);
      assert.equal((await osless(root, ["prune"])).code, 0);
    }
  }
  assert.ok(killedMidLayer >= 15, `only ${killedMidLayer} of 20 kills landed in the layer download`);
  // The final round starts from nothing and is killed a quarter of the way in, so that there is a partial layer.
  if ((await Store.open(root).then((s) => s.readIndex())).manifests.length > 0) {
    assert.equal((await osless(root, ["rmi", ref])).code, 0);
  }
  assert.equal((await osless(root, ["prune"])).code, 0);
  const locks = (await readdir(join(root, "locks"))).filter((n) => n.startsWith("ingest-"));
  assert.deepEqual(locks, [], "prune removes the download locks killed pulls left");
  await pullUntil(root, Math.floor(layerSize / 4));
  const partialBefore = (await fsck(await Store.open(root))).partial.length;
  assert.equal(partialBefore, 1, "a partial layer is kept for the next pull");
  const served0 = layerBytesServed();
  const rangesBefore = proxy.requests.filter((r) => r.headers.range !== undefined).length;
  const final = await osless(root, ["pull", "--json", ref]);
  assert.equal(final.code, 0, final.stderr);
  const result = JSON.parse(final.stdout) as { blobs: { digest: string; status: string }[] };
  assert.equal(result.blobs.find((b) => b.digest === layerDigest)?.status, "resumed");
  const servedNow = layerBytesServed() - served0;
  assert.ok(
    servedNow < layerSize,
    `the final pull fetched ${servedNow} of ${layerSize} bytes: it did not resume`,
  );
  assert.ok(
    proxy.requests.filter((r) => r.headers.range !== undefined).length > rangesBefore,
    "a Range request",
  );
  const end = await fsck(await Store.open(root));
  assert.deepEqual(end.problems, []);
  assert.equal(end.partial.length, 0);
});

test("a pull killed at each fault point of the store's write path leaves the store consistent", async () => {
  for (const point of [
    "after-write",
    "before-fsync",
    "after-rename",
    "after-rename-before-index",
    "during-index-write",
  ]) {
    const root = await tmpdir("osless-fault-");
    const r = await pullUntil(root, undefined, { OSLESS_FAULT: point });
    assert.equal(r.signal, "SIGKILL", `${point}: the process did not reach the fault point (${r.stderr})`);
    const state = await assertConsistent(root, point);
    assert.equal(state.complete, false, `${point}: the image must not be named`);
    const again = await osless(root, ["pull", "-q", ref]);
    assert.equal(again.code, 0, `${point}: the next pull fails: ${again.stderr}`);
    const done = await assertConsistent(root, `${point} then pull`);
    assert.equal(done.complete, true);
    assert.equal(done.partial, 0);
  }
});
