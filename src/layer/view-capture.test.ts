import assert from "node:assert/strict";
import { test } from "node:test";
import { IMAGES, ociLayout } from "../../test/fixtures/images.ts";
import { layoutLayerSources } from "../../test/fixtures/layout.ts";
import type { TarWriteItem } from "../tar/index.ts";
import { buildView } from "./view.ts";
import { memLayers } from "./view-testkit.ts";

test("capture keeps the leading bytes of chosen files during the single pass; the top layer's version wins", async () => {
  const layout = await ociLayout(IMAGES.twoLayers);
  const seen: string[] = [];
  const view = await buildView(layoutLayerSources(layout), {
    digests: true,
    capture: (path, mode, size) => {
      seen.push(path);
      if (path === "etc/passwd") return 1 << 20;
      if (path === "bin/busybox") return 4;
      return (mode & 0o111) !== 0 && size > 0 ? 16 : 0;
    },
  });
  assert.ok(
    seen.includes("etc/motd") && seen.filter((p) => p === "etc/passwd").length === 2,
    "called per regular file entry",
  );
  const passwd = view.captured.get("etc/passwd");
  const whole = await view.readFileBuffer("etc/passwd", 1 << 20);
  assert.deepEqual(passwd, whole, "the second layer's passwd, whole");
  assert.match(passwd?.toString() ?? "", /^app:x:1000/m);
  assert.deepEqual(view.captured.get("bin/busybox"), Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  assert.equal(view.captured.has("etc/motd"), false);
  // Capturing does not change the digests computed in the same pass.
  const plain = await buildView(layoutLayerSources(layout), { digests: true });
  assert.equal(view.get("bin/busybox")?.digest, plain.get("bin/busybox")?.digest);
  assert.equal(view.get("etc/passwd")?.digest, plain.get("etc/passwd")?.digest);
  // Without digests, capture reads only what it keeps and the view is still whole.
  const light = await buildView(layoutLayerSources(layout), {
    capture: (p) => (p === "bin/busybox" ? 4 : 0),
  });
  assert.equal(light.captured.size, 1);
  assert.equal(light.size, plain.size);
});

test("captured bytes follow the content: hard links share them, a symlinked parent moves them, later layers drop stale ones", async () => {
  const T = 1_700_000_000;
  const F = (path: string, data: string): TarWriteItem => ({
    entry: { path, type: "file", mode: 0o755, mtime: T },
    body: Buffer.from(data),
  });
  const D = (path: string): TarWriteItem => ({ entry: { path, type: "directory", mode: 0o755, mtime: T } });
  const S = (path: string, linkpath: string): TarWriteItem => ({
    entry: { path, type: "symlink", linkpath, mtime: T },
  });
  const H = (path: string, linkpath: string): TarWriteItem => ({
    entry: { path, type: "hardlink", linkpath, mtime: T },
  });
  const mem = await memLayers([
    [
      D("usr"),
      D("usr/bin"),
      F("usr/bin/perl", "#!perl\n"),
      H("usr/bin/perl5.36.0", "usr/bin/perl"),
      S("bin", "usr/bin"),
      D("etc"),
      F("etc/gone", "whited out\n"),
      F("etc/typed", "replaced by a symlink\n"),
      F("etc/old", "replaced by a hard link\n"),
      F("etc/same", "first version\n"),
    ],
    [
      F("etc/.wh.gone", ""),
      S("etc/typed", "../usr/bin/perl"),
      H("etc/old", "usr/bin/perl"),
      F("bin/tool", "through the symlinked parent\n"),
      F("etc/same", "second version\n"),
    ],
  ]);
  const seen: string[] = [];
  const view = await buildView(mem.sources, {
    capture: (path, _mode, size) => {
      seen.push(path);
      return size;
    },
  });
  assert.ok(seen.includes("bin/tool"), "the callback sees the entry's own name");
  const perl = view.captured.get("usr/bin/perl");
  assert.equal(perl?.toString(), "#!perl\n");
  assert.equal(view.captured.get("usr/bin/perl5.36.0"), perl, "a hard link shares the kept bytes");
  assert.equal(
    view.captured.get("etc/old"),
    perl,
    "a later hard link shows its target's bytes, not the old file's",
  );
  assert.equal(view.captured.has("etc/gone"), false, "whited out");
  assert.equal(view.captured.has("etc/typed"), false, "now a symlink");
  assert.equal(view.captured.has("bin/tool"), false, "no node has that path");
  assert.equal(view.captured.get("usr/bin/tool")?.toString(), "through the symlinked parent\n");
  assert.equal(view.captured.get("etc/same")?.toString(), "second version\n");
  // Every kept buffer is the content of the node at its path, as reading the layer again gives it.
  for (const [path, bytes] of view.captured) {
    assert.deepEqual(bytes, await view.readFileBuffer(path, 1 << 20), path);
  }
  assert.deepEqual([...view.captured.keys()].sort(), [
    "etc/old",
    "etc/same",
    "usr/bin/perl",
    "usr/bin/perl5.36.0",
    "usr/bin/tool",
  ]);
});

test("keep turns captured bytes into what the view keeps: called once per kept entry, windows flagged shared, hard links share the result", async () => {
  const T = 1_700_000_000;
  const big = Buffer.alloc(3 << 20);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
  const mem = await memLayers(
    [
      [
        { entry: { path: "small", type: "file", mode: 0o644, mtime: T }, body: Buffer.from("tiny\n") },
        { entry: { path: "big", type: "file", mode: 0o644, mtime: T }, body: big },
        { entry: { path: "big-link", type: "hardlink", linkpath: "big", mtime: T } },
        { entry: { path: "skipped", type: "file", mode: 0o644, mtime: T }, body: Buffer.from("no\n") },
      ],
    ],
    { gzip: true },
  );
  const calls: { path: string; length: number; size: number; shared: boolean; sum: number }[] = [];
  const view = await buildView(mem.sources, {
    capture: (p, _m, size) => (p === "skipped" ? 0 : size),
    keep: (path, bytes, size, shared) => {
      let sum = 0;
      for (const b of bytes) sum = (sum + b) % 65521;
      calls.push({ path, length: bytes.length, size, shared, sum });
      return { path, sum };
    },
  });
  let expected = 0;
  for (const b of big) expected = (expected + b) % 65521;
  assert.deepEqual(
    calls.map((c) => [c.path, c.length, c.size]),
    [
      ["small", 5, 5],
      ["big", big.length, big.length],
    ],
  );
  assert.equal(calls[1]?.sum, expected, "the whole of a file that spans decompressed chunks");
  assert.equal(calls[1]?.shared, false, "a file spanning chunks is handed over as a copy");
  assert.equal(calls[0]?.shared, true, "a file inside one chunk is handed over as a window on it");
  assert.deepEqual(view.captured.get("big"), { path: "big", sum: expected });
  assert.equal(view.captured.get("big-link"), view.captured.get("big"), "hard links share what was kept");
  assert.equal(view.captured.has("skipped"), false);
});
