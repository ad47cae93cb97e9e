// Transaction.adopt: a file written (and hashed) by this process is staged without a copy.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { OslessError } from "../errors.ts";
import { Store } from "./layout.ts";
import { fsck } from "./maintenance.ts";

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function newStore(): Promise<Store> {
  const d = await mkdtemp(join(tmpdir(), "osless-adopt-"));
  dirs.push(d);
  const s = await Store.open(join(d, "store"));
  await s.init();
  return s;
}

const refOf = (b: Buffer) => ({
  digest: `sha256:${createHash("sha256").update(b).digest("hex")}` as const,
  size: b.length,
});

test("an adopted file becomes the blob on commit, moved (same inode), and nothing is left in ingest/", async () => {
  const store = await newStore();
  const body = Buffer.from("a layer written by this process");
  const file = join(store.ingestDir, "written-here");
  await writeFile(file, body);
  const ino = (await stat(file)).ino;
  const tx = await store.begin();
  try {
    const ref = await tx.adopt(file, refOf(body));
    assert.deepEqual(ref, refOf(body));
    await assert.rejects(stat(store.blobPath(ref.digest)), { code: "ENOENT" }, "not visible before commit");
    await tx.commit();
    assert.equal((await stat(store.blobPath(ref.digest))).ino, ino, "moved, not copied");
    assert.deepEqual(await readFile(store.blobPath(ref.digest)), body);
  } finally {
    await tx.dispose();
  }
  assert.deepEqual(await readdir(store.ingestDir), []);
  assert.deepEqual((await fsck(store)).problems, []);
});

test("a file whose size is not the one written is refused and removed; the store is unchanged", async () => {
  const store = await newStore();
  const body = Buffer.from("short");
  const file = join(store.ingestDir, "written-here");
  await writeFile(file, body);
  const tx = await store.begin();
  try {
    await assert.rejects(
      tx.adopt(file, { ...refOf(body), size: body.length + 1 }),
      (e) => e instanceof OslessError && e.code === "E_IO" && /5 bytes, not the 6/.test(e.message),
    );
  } finally {
    await tx.dispose();
  }
  assert.deepEqual(await readdir(store.ingestDir), []);
  await assert.rejects(stat(store.blobPath(refOf(body).digest)), { code: "ENOENT" });
});

test("adopting a blob the store already has removes the file and stages the present blob", async () => {
  const store = await newStore();
  const body = Buffer.from("already here");
  await store.transaction(async (tx) => tx.put(body));
  const file = join(store.ingestDir, "again");
  await writeFile(file, body);
  const tx = await store.begin();
  try {
    assert.deepEqual(await tx.adopt(file, refOf(body)), refOf(body));
    assert.deepEqual(tx.staged, [refOf(body)]);
    await tx.commit();
  } finally {
    await tx.dispose();
  }
  assert.deepEqual(await readdir(store.ingestDir), []);
});
