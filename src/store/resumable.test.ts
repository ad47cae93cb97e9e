// Transaction.putResumable against the rest of the store: concurrent prune, stale per-digest locks.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { OslessError } from "../errors.ts";
import { ingestLockPath, Store } from "./layout.ts";
import { fsck, prune } from "./maintenance.ts";

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function newStore(): Promise<Store> {
  const d = await mkdtemp(join(tmpdir(), "osless-resumable-"));
  dirs.push(d);
  const s = await Store.open(join(d, "store"));
  await s.init();
  return s;
}

const digestOf = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

async function* bytes(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

test("a prune during a long pull cannot leave the new name pointing at a layer it removed", async () => {
  const store = await newStore();
  const layer = Buffer.from("layer bytes of a pull that takes a while");
  const layerDesc = { digest: digestOf(layer), size: layer.length };
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, layers: [layerDesc] }));
  const mDesc = { digest: digestOf(manifest), size: manifest.length };
  const tx = await store.begin();
  try {
    // The layer is verified and moved into blobs/ at once; the rest of the pull goes on for 20 minutes.
    await tx.putResumable(layerDesc, () => bytes(layer));
    const old = new Date(Date.now() - 20 * 60_000);
    await utimes(store.blobPath(layerDesc.digest), old, old);
    // A prune meanwhile: the layer is unreferenced and older than the grace period.
    await prune(store);
    await tx.put(manifest, mDesc, "manifest");
    tx.updateIndex((entries) => [
      ...entries,
      {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        ...mDesc,
        annotations: { "org.opencontainers.image.ref.name": "example.com/app:1" },
      },
    ]);
    await assert.rejects(tx.commit(), (e) => e instanceof OslessError && e.code === "E_BLOB_MISSING");
  } finally {
    await tx.dispose();
  }
  const names = (await store.readIndex()).manifests;
  assert.deepEqual(names, [], "the image must not be named without its layer");
  assert.deepEqual((await fsck(store)).problems, []);
});

test("an empty per-digest lock left by a process killed while creating it does not block the next pull", async () => {
  const store = await newStore();
  const layer = Buffer.from("a layer whose lock file was left empty");
  const d = { digest: digestOf(layer), size: layer.length };
  const lock = ingestLockPath(store, `sha256-${d.digest.slice(7)}`);
  await writeFile(lock, "");
  const old = new Date(Date.now() - 60_000);
  await utimes(lock, old, old);
  const tx = await store.begin();
  try {
    const r = await tx.putResumable(d, () => bytes(layer), "layer", { signal: AbortSignal.timeout(5000) });
    assert.equal(r.status, "written");
  } finally {
    await tx.dispose();
  }
  assert.equal(await store.hasBlob(d), true);
});

test("prune removes a partial download whose lock was left empty long ago", async () => {
  const store = await newStore();
  const name = `sha256-${"ab".repeat(32)}`;
  await writeFile(join(store.ingestDir, name), "partial");
  const lock = ingestLockPath(store, name);
  await writeFile(lock, "");
  const old = new Date(Date.now() - 60_000);
  await utimes(lock, old, old);
  assert.equal((await prune(store)).removedIngests, 1);
  assert.deepEqual((await fsck(store)).partial, []);
});
