/**
 * unpackLayers' own contract (R20): the private working directory beside dest, the rename, the target checks,
 * cleanup on failure. The rules themselves are exercised row by row in test/e2e/layer-corpus.test.ts.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { lstatSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { asDigest } from "../digest/index.ts";
import { isOslessError } from "../errors.ts";
import type { ProgressEvent } from "../events/index.ts";
import { tarBytes } from "../tar/testkit.ts";
import type { TarWriteItem } from "../tar/writer.ts";
import type { LayerSource } from "./source.ts";
import { unpackLayers } from "./unpack.ts";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function fresh(): string {
  const d = mkdtempSync(join(tmpdir(), "osless-unpack-"));
  dirs.push(d);
  return d;
}

const digest = (b: Buffer) => asDigest(`sha256:${createHash("sha256").update(b).digest("hex")}`);

async function layer(index: number, items: TarWriteItem[], diffId?: string): Promise<LayerSource> {
  const tar = await tarBytes(items);
  return {
    index,
    descriptor: {
      mediaType: "application/vnd.oci.image.layer.v1.tar",
      digest: digest(tar),
      size: tar.length,
    },
    diffId: diffId === undefined ? digest(tar) : asDigest(diffId),
    open: async function* () {
      yield tar;
    },
  };
}

const F = (path: string, data = "", mode = 0o644): TarWriteItem => ({
  entry: { path, type: "file", mode },
  body: Buffer.from(data),
});

test("layers go into a 0700 directory beside dest, holding a 0755 rootfs, renamed into place", async () => {
  const parent = fresh();
  const dest = join(parent, "rootfs-out");
  const seen: { mode: number; rootfs: number }[] = [];
  const events = (e: ProgressEvent) => {
    if (e.type !== "start") return;
    const work = readdirSync(parent).filter((n) => n.startsWith(".rootfs-out.osless-unpack-"));
    assert.equal(work.length, 1);
    const w = join(parent, work[0]!);
    seen.push({ mode: lstatSync(w).mode & 0o777, rootfs: lstatSync(join(w, "rootfs")).mode & 0o777 });
  };
  const r = await unpackLayers([await layer(0, [F("a", "1")]), await layer(1, [F("b", "22")])], dest, {
    events,
  });
  assert.deepEqual(seen, [
    { mode: 0o700, rootfs: 0o755 },
    { mode: 0o700, rootfs: 0o755 },
  ]);
  assert.deepEqual(r, { layers: 2, entries: 2, bytes: 3, warnings: 0 });
  assert.deepEqual(readdirSync(parent), ["rootfs-out"]);
  assert.deepEqual(readdirSync(dest).sort(), ["a", "b"]);
  assert.equal(lstatSync(dest).mode & 0o7777, 0o755);
});

test("no layers: an empty 0755 directory", async () => {
  const dest = join(fresh(), "empty");
  assert.deepEqual(await unpackLayers([], dest), { layers: 0, entries: 0, bytes: 0, warnings: 0 });
  assert.deepEqual(readdirSync(dest), []);
  assert.equal(lstatSync(dest).mode & 0o7777, 0o755);
});

test("a failing layer leaves no working directory (even with 0000 directories in it) and no dest", async () => {
  const parent = fresh();
  const dest = join(parent, "out");
  const locked: TarWriteItem = { entry: { path: "locked", type: "directory", mode: 0 } };
  const ls = [
    await layer(0, [locked, F("locked/f", "x")]),
    await layer(1, [F("b")], `sha256:${"0".repeat(64)}`),
  ];
  await assert.rejects(unpackLayers(ls, dest, { privileged: false }), (e: unknown) =>
    isOslessError(e, "E_DIGEST_MISMATCH"),
  );
  assert.deepEqual(readdirSync(parent), []);
});

test("dest: a file is E_TARGET_EXISTS; a missing parent is E_IO naming it", async () => {
  const parent = fresh();
  const file = join(parent, "file");
  writeFileSync(file, "mine");
  await assert.rejects(
    unpackLayers([await layer(0, [F("a")])], file),
    (e: unknown) => isOslessError(e, "E_TARGET_EXISTS") && /not a directory/.test(e.message) && !!e.hint,
  );
  await assert.rejects(
    unpackLayers([await layer(0, [F("a")])], join(parent, "no/such/dir")),
    (e: unknown) => isOslessError(e, "E_IO") && e.hint?.includes(join(parent, "no/such")) === true,
  );
  assert.deepEqual(readdirSync(parent), ["file"]);
});

test("warnings reach onWarning and the events as notes", async () => {
  const dest = join(fresh(), "out");
  const dev: TarWriteItem = { entry: { path: "null", type: "char", devmajor: 1, devminor: 3 } };
  const warnings: string[] = [];
  const notes: string[] = [];
  const r = await unpackLayers([await layer(0, [dev])], dest, {
    privileged: false,
    onWarning: (w) => warnings.push(w.code),
    events: (e) => {
      if (e.type === "note" && e.level === "warn") notes.push(e.text);
    },
  });
  assert.equal(r.warnings, 1);
  assert.deepEqual(warnings, ["W_DEVICE_SKIPPED"]);
  assert.equal(notes.length, 1);
  assert.match(notes[0]!, /^layer 1\/1: null: /);
});

test("an error while applying a layer names the layer (label, details.layer and details.digest)", async () => {
  const parent = fresh();
  const ls = [await layer(0, [F("a")]), await layer(1, [F("../escape", "x")])];
  await assert.rejects(
    unpackLayers(ls, join(parent, "out")),
    (e: unknown) =>
      isOslessError(e, "E_TAR_UNSAFE_PATH") &&
      e.message.startsWith(`layer 2 (${ls[1]!.descriptor.digest}): `) &&
      /\.\.\/escape/.test(e.message) &&
      e.details?.layer === 1 &&
      e.details?.digest === ls[1]!.descriptor.digest,
  );
  assert.deepEqual(readdirSync(parent), []);
});
