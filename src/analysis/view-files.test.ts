import assert from "node:assert/strict";
import { test } from "node:test";
import { IMAGES, ociLayout } from "../../test/fixtures/images.ts";
import { layoutLayerSources } from "../../test/fixtures/layout.ts";
import { buildView } from "../layer/view.ts";
import { ViewFiles } from "./view-files.ts";

test("ViewFiles reads a squashed image: upper layers win, whiteouts hide, symlinks resolve in-root, reads stop at maxBytes", async () => {
  const layout = await ociLayout(IMAGES.twoLayers);
  const view = await buildView(layoutLayerSources(layout));
  const f = new ViewFiles(view);
  assert.equal((await f.read("/etc/motd", 1 << 20))?.toString(), "Hello from the second layer\n");
  assert.match((await f.read("etc/passwd", 1 << 20))?.toString() ?? "", /^app:x:1000:1000:/m);
  assert.equal(await f.read("/usr/bin/wget", 100), undefined, "whited out");
  assert.equal(await f.stat("/usr/bin/wget"), undefined);
  const sh = await f.lstat("/bin/sh");
  assert.equal(sh?.type, "symlink");
  assert.ok((await f.readlink("/bin/sh"))?.endsWith("busybox"));
  const target = await f.stat("/bin/sh");
  assert.equal(target?.type, "file");
  assert.equal(target?.path, "bin/busybox");
  const head = await f.read("/bin/sh", 4);
  assert.deepEqual(head, Buffer.from([0x7f, 0x45, 0x4c, 0x46]), "the ELF magic of busybox, 4 bytes only");
  const etc = await f.list("/etc");
  assert.ok(etc.includes("motd") && etc.includes("passwd"));
  assert.deepEqual(etc, [...etc].sort());
  assert.deepEqual(await f.list("/etc/motd"), []);
  assert.equal(await f.read("/etc", 10), undefined, "a directory has no content");
  const walked = new Map<string, string | undefined>();
  for await (const e of f.walk()) walked.set(e.path, e.linkTarget);
  assert.ok(walked.has("etc/motd") && !walked.has("usr/bin/wget") && !walked.has("."));
  assert.ok(walked.get("bin/sh")?.endsWith("busybox"));
  assert.equal(walked.size, view.size - 1, "every node but the root");
  const preloaded = new ViewFiles(view, new Map([["etc/motd", Buffer.from("captured\n")]]));
  assert.equal(
    (await preloaded.read("/etc/motd", 100))?.toString(),
    "Hello from the second layer\n",
    "a short capture is not trusted for more bytes than it has",
  );
  assert.equal((await preloaded.read("/etc/motd", 4))?.toString(), "capt");
});
