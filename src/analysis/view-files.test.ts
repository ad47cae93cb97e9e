import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { IMAGES, ociLayout } from "../../test/fixtures/images.ts";
import { layoutLayerSources } from "../../test/fixtures/layout.ts";
import { needTool } from "../../test/fixtures/tools.ts";
import { buildView } from "../layer/view.ts";
import { memLayers } from "../layer/view-testkit.ts";
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

test("ViewFiles serves a hard link from the bytes captured for its target: no second pass over the layer", async () => {
  const elf = readFileSync(needTool("true", "coreutils"));
  const T = 1_700_000_000;
  const mem = await memLayers([
    [
      { entry: { path: "usr/bin/perl", type: "file", mode: 0o755, mtime: T }, body: elf },
      { entry: { path: "usr/bin/perl5.36.0", type: "hardlink", linkpath: "usr/bin/perl", mtime: T } },
      { entry: { path: "etc/motd", type: "file", mode: 0o644, mtime: T }, body: Buffer.from("not kept\n") },
    ],
  ]);
  const view = await buildView(mem.sources, { capture: (p, _m, size) => (p === "usr/bin/perl" ? size : 0) });
  assert.equal(mem.stats[0]?.opens, 1, "the view's own pass");
  const f = new ViewFiles(view, view.captured);
  assert.deepEqual(await f.read("/usr/bin/perl5.36.0", 256 << 20), elf, "whole, through the hard link");
  assert.deepEqual(await f.read("/usr/bin/perl5.36.0", 4), elf.subarray(0, 4));
  assert.equal(mem.stats[0]?.opens, 1, "served from the capture");
  assert.equal((await f.read("/etc/motd", 100))?.toString(), "not kept\n");
  assert.equal(mem.stats[0]?.opens, 2, "a file not kept is read again from its layer");
});

test("analysisCapture: metadata whole, the entrypoint whole, libraries whole within a budget, executables' first bytes", async () => {
  const { analysisCapture, entrypointCandidates } = await import("./image.ts");
  const keep = analysisCapture(entrypointCandidates({ cmd: ["server"], env: ["PATH=/usr/local/bin:/app"] }));
  assert.equal(keep("etc/os-release", 0o644, 300), 300);
  assert.equal(keep("var/lib/dpkg/status", 0o644, 5_000_000), 5_000_000);
  assert.equal(keep("app/server", 0o755, 3_000_000), 3_000_000, "found through PATH");
  assert.equal(keep("usr/bin/other", 0o755, 3_000_000), 256);
  assert.equal(keep("usr/share/doc/x/README", 0o644, 1000), 0);
  let kept = 0;
  for (let i = 0; i < 20; i++) kept += keep(`usr/lib/libx${i}.so.1`, 0o644, 7_000_000);
  assert.ok(kept <= 64 * 1024 * 1024 && kept >= 56_000_000, `libraries kept: ${kept}`);
  assert.deepEqual(entrypointCandidates({ entrypoint: ["./run"], workingDir: "/app/" }), ["app/run"]);
  assert.deepEqual(entrypointCandidates({}), []);
});
