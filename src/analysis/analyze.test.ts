// The verdicts on real images: a static program FROM scratch, the same program dynamically linked FROM scratch,
// busybox, a distroless-like root of real Debian packages, and a debootstrap Debian.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { cached } from "../../test/fixtures/cache.ts";
import { debFixture } from "../../test/fixtures/debs.ts";
import { busyboxRootfs, debianMinbaseRoot } from "../../test/fixtures/rootfs.ts";
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
  const root = await debianMinbaseRoot();
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

test("an Alpine-like root (musl loader, busybox, apk database): a musl program's closure, Alpine, apk packages; apk makes it full", async () => {
  const root = await tmpdir("analyze-alpine-");
  for (const d of ["bin", "sbin", "lib/apk/db", "etc", "usr/bin", "usr/lib"])
    mkdirSync(join(root, d), { recursive: true });
  cpSync(needTool("/bin/busybox", "busybox-static"), join(root, "bin/busybox"));
  chmodSync(join(root, "bin/busybox"), 0o755);
  symlinkSync("/bin/busybox", join(root, "bin/sh"));
  cpSync(realpathSync(needTool("/lib/ld-musl-x86_64.so.1", "musl")), join(root, "lib/ld-musl-x86_64.so.1"));
  writeFileSync(join(root, "etc/alpine-release"), "3.20.3\n");
  writeFileSync(
    join(root, "etc/os-release"),
    'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME="Alpine Linux v3.20"\n',
  );
  writeFileSync(
    join(root, "lib/apk/db/installed"),
    "C:Q1abc=\nP:musl\nV:1.2.5-r0\nA:x86_64\nL:MIT\no:musl\nF:lib\nR:ld-musl-x86_64.so.1\n\nC:Q1def=\nP:busybox\nV:1.36.1-r29\nA:x86_64\nL:GPL-2.0-only\no:busybox\nF:bin\nR:busybox\n\n",
  );
  const dir = await tmpdir("analyze-alpine-src-");
  writeFileSync(join(dir, "hello.c"), HELLO);
  execFileSync(needTool("musl-gcc", "musl-tools"), ["-o", join(root, "usr/bin/hello"), join(dir, "hello.c")]);
  const files = new DirFiles(root);
  const a = await analyzeFiles(files, { cmd: ["hello"], env: ["PATH=/usr/bin:/bin"] });
  assert.equal(a.verdict, "busybox", "busybox user-land, no apk program yet");
  assert.equal(a.os?.id, "alpine");
  assert.equal(a.os?.versionId, "3.20.3");
  assert.deepEqual(
    a.packages.map((p) => [p.type, p.name, p.version, p.license]),
    [
      ["apk", "musl", "1.2.5-r0", "MIT"],
      ["apk", "busybox", "1.36.1-r29", "GPL-2.0-only"],
    ],
  );
  assert.equal(a.entrypoint.path, "/usr/bin/hello");
  assert.equal(a.entrypoint.interpreter, "/lib/ld-musl-x86_64.so.1");
  assert.deepEqual(a.entrypoint.missing, [], "libc.so is the musl loader itself");
  assert.equal(a.inventory.libc.flavour, "musl");
  // An apk program makes it a distribution with a package manager.
  cpSync(join(root, "bin/busybox"), join(root, "sbin/apk-real"));
  writeFileSync(join(root, "sbin/apk"), '#!/bin/sh\nexec /sbin/apk-real "$@"\n');
  chmodSync(join(root, "sbin/apk"), 0o755);
  const full = await analyzeFiles(files, { cmd: ["hello"], env: ["PATH=/usr/bin:/bin"] });
  assert.equal(full.verdict, "full");
  assert.match(full.summary, /^An operating system is inside \(Alpine Linux v3\.20\): a package manager\./);
});

test("FROM scratch + a static Go program: none, with its Go version and module", async () => {
  const go = needTool("go", "golang-go");
  const version = execFileSync(go, ["version"], { encoding: "utf8" }).trim();
  const main = 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello from Go") }\n';
  const built = await cached("analyze-go-static", { main, version }, async (dir) => {
    const work = await tmpdir("analyze-go-");
    writeFileSync(join(work, "go.mod"), "module example.com/hello\n\ngo 1.19\n");
    writeFileSync(join(work, "main.go"), main);
    execFileSync(go, ["build", "-o", join(dir, "hello"), "."], {
      cwd: work,
      env: {
        ...process.env,
        CGO_ENABLED: "0",
        GOCACHE: join(work, ".cache"),
        GOPATH: join(work, ".gopath"),
        GOPROXY: "off",
        GOTOOLCHAIN: "local",
      },
    });
  });
  const a = await analyzeFiles(new DirFiles(await scratch(join(built, "hello"))), { entrypoint: ["/hello"] });
  assert.equal(a.verdict, "none");
  assert.equal(a.entrypoint.linkage, "static");
  assert.equal(a.entrypoint.go?.version, /go version (go\S+)/.exec(version)?.[1]);
  assert.equal(a.entrypoint.go?.path, "example.com/hello");
  assert.equal(a.entrypoint.go?.cgo, false);
});
