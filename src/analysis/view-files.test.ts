import assert from "node:assert/strict";
import { readFileSync, realpathSync } from "node:fs";
import { test } from "node:test";
import { IMAGES, ociLayout } from "../../test/fixtures/images.ts";
import { layoutLayerSources } from "../../test/fixtures/layout.ts";
import { needFile, needTool } from "../../test/fixtures/tools.ts";
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

test("analysisPass: metadata whole; libraries and the entrypoint read whole and kept as their ELF reading; copyright files as their licence; executables' first bytes", async () => {
  const { analysisPass, entrypointCandidates } = await import("./image.ts");
  const { capture, keep } = analysisPass(
    entrypointCandidates({ cmd: ["server"], env: ["PATH=/usr/local/bin:/app"] }),
  );
  assert.equal(capture("etc/os-release", 0o644, 300), 300);
  assert.equal(capture("var/lib/dpkg/status", 0o644, 5_000_000), 5_000_000);
  assert.equal(capture("app/server", 0o755, 3_000_000), 3_000_000, "found through PATH");
  assert.equal(capture("app/server", 0o755, 300 << 20), 256, "past 256 MiB: read again when needed");
  assert.equal(capture("usr/bin/other", 0o755, 3_000_000), 256);
  assert.equal(capture("usr/share/doc/x/README", 0o644, 1000), 0);
  assert.equal(capture("usr/lib/libx.so.1", 0o644, 7_000_000), 7_000_000);
  assert.deepEqual(entrypointCandidates({ entrypoint: ["./run"], workingDir: "/app/" }), ["app/run"]);
  assert.deepEqual(entrypointCandidates({}), []);

  // A real shared library: kept as its ELF reading (what the closure needs) and 256 bytes.
  const { wholeElf } = await import("./analyze.ts");
  const { copyrightLicense } = await import("./packages/dpkg.ts");
  const lib = readFileSync(realpathSync(needFile("/usr/lib/x86_64-linux-gnu/libz.so.1", "zlib1g")));
  const kept = keep("usr/lib/x86_64-linux-gnu/libz.so.1", lib, lib.length, true);
  assert.ok(!Buffer.isBuffer(kept), "a summary, not the bytes");
  assert.equal(kept.parse, wholeElf);
  const elf = kept.value as ReturnType<typeof wholeElf>;
  assert.equal(elf?.soname, "libz.so.1");
  assert.deepEqual(elf?.needed, ["libc.so.6"]);
  assert.deepEqual(kept.head, lib.subarray(0, 256));
  // glibc and busybox keep their bytes (their version strings are read); a shared window is copied.
  const libc = keep("usr/lib/x86_64-linux-gnu/libc.so.6", lib, lib.length, true);
  assert.ok(Buffer.isBuffer(libc) && libc.equals(lib) && libc.buffer !== lib.buffer);
  // The entrypoint is read as ELF too; a script is no ELF, and its first bytes are kept.
  const server = keep("app/server", lib, lib.length, false);
  assert.ok(
    !Buffer.isBuffer(server) && (server.value as ReturnType<typeof wholeElf>)?.soname === "libz.so.1",
  );
  const script = Buffer.from(`#!/bin/sh\n${"echo hi\n".repeat(100)}`);
  const s = keep("app/server", script, script.length, false);
  assert.ok(!Buffer.isBuffer(s) && s.value === undefined && s.head.equals(script.subarray(0, 256)));
  // A prefix (a large file) is not read as ELF: its first bytes are kept, with what they say it is.
  const { executableKind } = await import("./inventory.ts");
  const head = lib.subarray(0, 256);
  const prefix = keep("usr/lib/libx.so.1", head, lib.length, false);
  assert.ok(!Buffer.isBuffer(prefix) && prefix.parse === executableKind && prefix.value === "elf");
  assert.equal(prefix.head, head);
  const sh = keep("usr/bin/tool", Buffer.from("#!/bin/sh\n"), 10, true);
  assert.ok(!Buffer.isBuffer(sh) && sh.value === "script");
  // A dpkg file list: its paths; with a NUL byte (a finding to report), its bytes.
  const { dpkgListPaths } = await import("./packages/dpkg.ts");
  const list = Buffer.from("/.\n/usr\n/usr/bin/tool\n");
  const parsed = keep("var/lib/dpkg/info/tool.list", list, list.length, true);
  assert.ok(!Buffer.isBuffer(parsed) && parsed.parse === dpkgListPaths);
  assert.deepEqual(parsed.value, ["/usr", "/usr/bin/tool"]);
  const nul = Buffer.from("/usr\n\0\n");
  assert.equal((keep("var/lib/dpkg/info/x.list", nul, nul.length, false) as { value: unknown }).value, null);
  // Metadata stays bytes.
  const status = Buffer.from("Package: x\n");
  assert.ok(Buffer.isBuffer(keep("var/lib/dpkg/status", status, status.length, false)));
  // A dpkg copyright file: its licence.
  const copyright = Buffer.from(
    "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: someone\nLicense: GPL-2+\n text\n",
  );
  assert.equal(capture("usr/share/doc/zlib1g/copyright", 0o644, copyright.length), copyright.length);
  const lic = keep("usr/share/doc/zlib1g/copyright", copyright, copyright.length, true);
  assert.ok(!Buffer.isBuffer(lic) && lic.parse === copyrightLicense && lic.value === "GPL-2+");
});

test("ViewFiles over an analysis pass: the closure's libraries come from their ELF readings, their bytes from their layer", async () => {
  const { analysisPass } = await import("./image.ts");
  const lib = readFileSync(realpathSync(needFile("/usr/lib/x86_64-linux-gnu/libz.so.1", "zlib1g")));
  const T = 1_700_000_000;
  const mem = await memLayers([
    [
      { entry: { path: "lib/libz.so.1", type: "file", mode: 0o644, mtime: T }, body: lib },
      { entry: { path: "lib/libz.so", type: "symlink", linkpath: "libz.so.1", mtime: T } },
    ],
  ]);
  const view = await buildView(mem.sources, analysisPass([]));
  const f = new ViewFiles(view, view.captured);
  const { wholeElf } = await import("./analyze.ts");
  assert.equal(f.parsed("/lib/libz.so", wholeElf)?.value?.soname, "libz.so.1", "through a symlink");
  assert.equal(f.parsed("/lib", wholeElf), undefined);
  assert.equal(
    f.parsed("/lib/libz.so.1", (b) => b.length),
    undefined,
    "only what that parser made",
  );
  assert.equal(mem.stats[0]?.opens, 1);
  assert.deepEqual(await f.read("/lib/libz.so.1", 4), lib.subarray(0, 4), "from the kept head");
  assert.equal(mem.stats[0]?.opens, 1);
  assert.deepEqual(await f.read("/lib/libz.so.1", 1 << 30), lib, "the whole file, from its layer");
  assert.equal(mem.stats[0]?.opens, 2);
});
