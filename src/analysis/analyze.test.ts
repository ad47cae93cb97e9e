// The verdicts on real images: a static program FROM scratch, the same program dynamically linked FROM scratch,
// busybox, a distroless-like root of real Debian packages, and a debootstrap Debian.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { debFixture } from "../../test/fixtures/debs.ts";
import { busyboxRootfs, debianMinbaseTar } from "../../test/fixtures/rootfs.ts";
import { needTool, tmpdir } from "../../test/fixtures/tools.ts";
import { analyzeFiles } from "./analyze.ts";
import { DirFiles } from "./dir-files.ts";

const HELLO = `#include <stdio.h>\nint main(void){puts("Hello from a static binary");return 0;}\n`;

async function program(flags: string[]): Promise<string> {
  const dir = await tmpdir("analyze-prog-");
  writeFileSync(join(dir, "hello.c"), HELLO);
  execFileSync(needTool("gcc", "gcc"), [...flags, "-o", join(dir, "hello"), join(dir, "hello.c")]);
  return join(dir, "hello");
}

async function scratch(binary: string): Promise<string> {
  const root = await tmpdir("analyze-scratch-");
  cpSync(binary, join(root, "hello"));
  chmodSync(join(root, "hello"), 0o755);
  return root;
}

test("FROM scratch + a static program: none", async () => {
  const a = await analyzeFiles(new DirFiles(await scratch(await program(["-static"]))), { cmd: ["/hello"] });
  assert.equal(a.verdict, "none");
  assert.equal(a.os, null);
  assert.deepEqual(a.packages, []);
  assert.equal(a.entrypoint.path, "/hello");
  assert.equal(a.entrypoint.linkage, "static");
  assert.deepEqual(a.entrypoint.missing, []);
  assert.equal(a.reachable.files, 1);
  assert.equal(a.reachable.totalFiles, 1);
  assert.match(
    a.summary,
    /^No operating system is inside\. \/hello is statically linked: it needs nothing else/,
  );
});

test("FROM scratch + the same program linked dynamically: none-broken, naming the loader and libc", async () => {
  const a = await analyzeFiles(new DirFiles(await scratch(await program([]))), { entrypoint: ["/hello"] });
  assert.equal(a.verdict, "none-broken");
  assert.equal(a.entrypoint.linkage, "dynamic");
  assert.equal(a.entrypoint.interpreter, "/lib64/ld-linux-x86-64.so.2");
  assert.deepEqual(
    a.entrypoint.missing.map((m) => m.name),
    ["libc.so.6"],
  );
  assert.match(
    a.summary,
    /cannot run without one\. \/hello needs \/lib64\/ld-linux-x86-64\.so\.2, libc\.so\.6, which are missing/,
  );
  assert.ok(a.findings.some((f) => f.code === "INTERPRETER_MISSING"));
});

test("busybox: the busybox verdict, its shell is the entrypoint, no package manager of a distribution", async () => {
  const a = await analyzeFiles(new DirFiles(await busyboxRootfs()), {
    cmd: ["sh"],
    env: ["PATH=/bin:/usr/bin"],
  });
  assert.equal(a.verdict, "busybox");
  assert.equal(a.entrypoint.path, "/bin/busybox");
  assert.equal(a.entrypoint.linkage, "static");
  assert.match(a.summary, /^A busybox user-land is inside \(BusyBox 1\.\d+\.\d+\), but no distribution\./);
});

test("distroless-like (libc6, base-files, tzdata, ca-certificates via dpkg -x, status.d): libc-only, and a dynamic program runs", async () => {
  const fx = await debFixture();
  const root = await tmpdir("analyze-distroless-");
  cpSync(join(fx.dir, "distroless"), root, { recursive: true, verbatimSymlinks: true });
  mkdirSync(join(root, "app"));
  cpSync(await program([]), join(root, "app/hello"));
  const a = await analyzeFiles(new DirFiles(root), { entrypoint: ["/app/hello"] });
  assert.equal(a.verdict, "libc-only");
  assert.equal(a.os?.id, "debian");
  assert.equal(a.distroless, true, "status.d without status");
  assert.deepEqual(a.packages.map((p) => p.name).sort(), [
    "base-files",
    "ca-certificates",
    "libc6",
    "tzdata",
  ]);
  assert.deepEqual(a.entrypoint.missing, []);
  assert.deepEqual(
    a.entrypoint.libraries.map((l) => l.name),
    ["/lib64/ld-linux-x86-64.so.2", "libc.so.6"],
  );
  assert.equal(a.inventory.shells.length, 0);
  assert.ok(a.inventory.tzdata !== null);
  assert.equal(a.reachable.files, 3, "the program, the loader and libc");
  assert.match(
    a.summary,
    /^No shell and no package manager, but OS files are inside \(Debian GNU\/Linux 12 \(bookworm\)\): the C library \(glibc\)\. \/app\/hello needs 3 files/,
  );
});

test("Debian minbase: full, Debian 12 with its dpkg packages, bash's closure resolved", async () => {
  const root = await tmpdir("analyze-debian-");
  execFileSync(needTool("tar", "tar"), [
    "-xf",
    await debianMinbaseTar(),
    "-C",
    root,
    "--numeric-owner",
    "-p",
  ]);
  const a = await analyzeFiles(new DirFiles(root), {
    cmd: ["bash"],
    env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
  });
  assert.equal(a.verdict, "full");
  assert.equal(a.os?.id, "debian");
  assert.match(a.os?.versionId ?? "", /^12(\.\d+)?$/);
  const names = a.packages.map((p) => p.name);
  for (const p of ["bash", "dpkg", "apt", "libc6", "coreutils"]) assert.ok(names.includes(p), p);
  assert.equal(a.entrypoint.path, "/usr/bin/bash");
  assert.equal(a.entrypoint.linkage, "dynamic");
  assert.deepEqual(a.entrypoint.missing, []);
  assert.deepEqual(a.entrypoint.libraries.map((l) => l.name).sort(), [
    "/lib64/ld-linux-x86-64.so.2",
    "libc.so.6",
    "libtinfo.so.6",
  ]);
  assert.match(
    a.summary,
    /^An operating system is inside \(Debian GNU\/Linux 12 \(bookworm\)\): a shell and a package manager\./,
  );
  assert.ok(a.reachable.bytes < a.reachable.totalBytes / 10);
});
