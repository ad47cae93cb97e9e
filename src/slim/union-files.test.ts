/**
 * UnionFiles over real layer directories made by hand with overlay's conventions (0:0 character-device whiteouts,
 * a whited-out directory, an opaque directory, a file over a directory, hard links, names that are not UTF-8),
 * checked against the same tree merged by hand into one directory: lookups, listings, the walk entry by entry,
 * and the whole analysis (analyzeFiles over UnionFiles equals analyzeFiles over DirFiles of the merged tree).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  cpSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { before, test } from "node:test";
import { HELLO_C, staticProgram } from "../../test/fixtures/programs.ts";
import { needTool, tmpdir } from "../../test/fixtures/tools.ts";
import { setXattr } from "../_internal/xattr.ts";
import { analyzeFiles } from "../analysis/analyze.ts";
import { DirFiles } from "../analysis/dir-files.ts";
import type { ImageWalkEntry } from "../analysis/files.ts";
import { UnionRoot } from "../runtime/rootfs.ts";
import { UnionFiles } from "./union-files.ts";

const MTIME = 1_600_000_000;

function file(root: string, rel: string, data: string | Buffer, mode = 0o644): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), data);
  chmodSync(join(root, rel), mode);
  utimesSync(join(root, rel), MTIME, MTIME);
}

function dir(root: string, rel: string, mode = 0o755): void {
  mkdirSync(join(root, rel), { recursive: true });
  chmodSync(join(root, rel), mode);
}

function link(root: string, rel: string, target: string): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  symlinkSync(target, join(root, rel));
}

function whiteout(root: string, rel: string): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  execFileSync(needTool("mknod", "coreutils"), [join(root, rel), "c", "0", "0"]);
}

function opaque(root: string, rel: string): void {
  setXattr(join(root, rel), "trusted.overlay.opaque", Buffer.from("y"));
}

const SHELL = "#!/bin/sh\necho a shell script standing in for a shell\n";
const NOT_UTF8 = Buffer.from([0x62, 0x61, 0x64, 0xff]); // "bad\xff"
const NOT_UTF8_DIR = Buffer.from([0x64, 0x69, 0x72, 0xfe]); // "dir\xfe"

interface Fixture {
  upper: string;
  l1: string;
  l2: string;
  merged: string;
  files: UnionFiles;
}

let fx: Fixture;

/**
 * Bottom layer l2, middle l1, top upper (the container's upper dir), and `merged`: what overlayfs shows of them,
 * written by hand.
 */
before(async () => {
  const hello = await staticProgram("hello", HELLO_C);
  const base = await tmpdir("union-files");
  const [l2, l1, upper, merged] = ["l2", "l1", "upper", "merged"].map((n) => join(base, n)) as [
    string,
    string,
    string,
    string,
  ];
  for (const d of [l2, l1, upper, merged]) dir(d, "");

  // l2: a small distribution.
  file(l2, "bin/sh", SHELL, 0o755);
  file(l2, "bin/true", SHELL, 0o755);
  file(l2, "etc/os-release", "ID=debian\nVERSION_ID=12\n");
  file(l2, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
  file(l2, "usr/bin/apt-get", SHELL, 0o755);
  file(l2, "usr/bin/dpkg", SHELL, 0o755);
  dir(l2, "usr/lib");
  link(l2, "lib", "usr/lib");
  file(l2, "var/lib/dpkg/status", "Package: base-files\nStatus: install ok installed\nVersion: 12\n\n");
  file(l2, "opt/tool/run", SHELL, 0o755);
  file(l2, "app/old", "old\n");
  file(l2, "app/kept", "kept from l2\n");
  link(l2, "loop1", "/loop2");

  // l1: the application, and what it removes of the distribution.
  whiteout(l1, "bin/sh");
  dir(l1, "usr/bin");
  opaque(l1, "usr/bin"); // hides apt-get and dpkg
  file(l1, "usr/bin/tool", "tool\n", 0o755);
  whiteout(l1, "var"); // a whited-out directory: everything below it goes
  file(l1, "opt", "a file over l2's directory\n"); // a non-directory hides the directory below
  file(l1, "usr/lib/libfoo.so.1", "libfoo from l1\n"); // reached through l2's /lib -> usr/lib
  file(l1, "etc/os-release", 'ID=slimos\nVERSION_ID="1"\n');
  cpSync(hello, join(l1, "app/hello"));
  chmodSync(join(l1, "app/hello"), 0o755);
  linkSync(join(l1, "app/hello"), join(l1, "app/hello-link")); // hard links share the host inode
  file(l1, "app/suid", "setuid\n");
  lchownSync(join(l1, "app/suid"), 1000, 1001);
  chmodSync(join(l1, "app/suid"), 0o4755); // after chown, which clears setuid
  link(l1, "loop2", "loop1");
  // Names that are not UTF-8: left out of list and walk, with what they hold.
  writeFileSync(Buffer.concat([Buffer.from(`${l1}/app/`), NOT_UTF8]), "x");
  mkdirSync(Buffer.concat([Buffer.from(`${l1}/`), NOT_UTF8_DIR]));
  writeFileSync(Buffer.concat([Buffer.from(`${l1}/`), NOT_UTF8_DIR, Buffer.from("/inside")]), "y");

  // upper: what the container wrote.
  whiteout(upper, "app/old");
  file(upper, "etc/os-release", 'ID=slimos\nVERSION_ID="2"\nPRETTY_NAME="Slim OS 2"\n');
  dir(upper, "var/new"); // a directory again over l1's whiteout: l2's var stays hidden
  link(upper, "usr/local/bin/hello", "../../../app/hello");
  link(upper, "etc/lib-alias", "/lib/libfoo.so.1");
  link(upper, "etc/hostpasswd", "/etc/passwd"); // the image's passwd, never the host's
  link(upper, "etc/escape", "../../../../../etc/passwd");

  // merged: the same union written as one directory.
  file(merged, "bin/true", SHELL, 0o755);
  file(merged, "etc/os-release", 'ID=slimos\nVERSION_ID="2"\nPRETTY_NAME="Slim OS 2"\n');
  file(merged, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
  link(merged, "etc/lib-alias", "/lib/libfoo.so.1");
  link(merged, "etc/hostpasswd", "/etc/passwd");
  link(merged, "etc/escape", "../../../../../etc/passwd");
  file(merged, "usr/bin/tool", "tool\n", 0o755);
  file(merged, "usr/lib/libfoo.so.1", "libfoo from l1\n");
  link(merged, "usr/local/bin/hello", "../../../app/hello");
  link(merged, "lib", "usr/lib");
  dir(merged, "var/new");
  file(merged, "opt", "a file over l2's directory\n");
  file(merged, "app/kept", "kept from l2\n");
  cpSync(hello, join(merged, "app/hello"));
  chmodSync(join(merged, "app/hello"), 0o755);
  linkSync(join(merged, "app/hello"), join(merged, "app/hello-link"));
  file(merged, "app/suid", "setuid\n");
  lchownSync(join(merged, "app/suid"), 1000, 1001);
  chmodSync(join(merged, "app/suid"), 0o4755); // after chown, which clears setuid
  link(merged, "loop1", "/loop2");
  link(merged, "loop2", "loop1");
  fx = { upper, l1, l2, merged, files: new UnionFiles(new UnionRoot([l1, l2], upper)) };
});

test("a file replaced in an upper layer reads the upper bytes; maxBytes cuts", async () => {
  const f = fx.files;
  const top = 'ID=slimos\nVERSION_ID="2"\nPRETTY_NAME="Slim OS 2"\n';
  assert.equal((await f.read("/etc/os-release", 1 << 20))?.toString(), top);
  assert.equal((await f.read("etc/os-release", 9))?.toString(), "ID=slimos");
  assert.equal((await f.read("/etc/os-release", 0))?.length, 0);
  assert.equal((await f.stat("/etc/os-release"))?.size, Buffer.byteLength(top));
  assert.equal(f.hostPath("/etc/os-release"), join(fx.upper, "etc/os-release"));
  assert.equal((await f.read("/app/kept", 100))?.toString(), "kept from l2\n");
  assert.equal(f.hostPath("/app/kept"), join(fx.l2, "app/kept"));
  assert.equal(await f.read("/etc", 10), undefined, "a directory is not a file");
});

test("whiteouts hide a file and a whole directory from stat, list, read and hostPath", async () => {
  const f = fx.files;
  assert.equal(await f.stat("/bin/sh"), undefined);
  assert.equal(await f.lstat("/bin/sh"), undefined);
  assert.equal(await f.read("/bin/sh", 100), undefined);
  assert.equal(f.hostPath("/bin/sh"), undefined);
  assert.deepEqual(await f.list("/bin"), ["true"]);
  assert.equal(await f.stat("/app/old"), undefined);
  assert.deepEqual(
    await f.list("/app"),
    ["hello", "hello-link", "kept", "suid"],
    "the non-UTF-8 name is left out",
  );
  // var was whited out in l1 and made again in the upper dir: l2's var/lib is gone.
  assert.deepEqual(await f.list("/var"), ["new"]);
  assert.equal(await f.stat("/var/lib/dpkg/status"), undefined);
  // A file over a directory hides the directory.
  assert.equal((await f.stat("/opt"))?.type, "file");
  assert.equal(await f.stat("/opt/tool/run"), undefined);
  assert.deepEqual(await f.list("/opt"), []);
});

test("an opaque directory hides what lower layers have in it", async () => {
  const f = fx.files;
  assert.deepEqual(await f.list("/usr/bin"), ["tool"]);
  assert.equal(await f.stat("/usr/bin/apt-get"), undefined);
  assert.equal(await f.read("/usr/bin/dpkg", 10), undefined);
  assert.equal((await f.read("/usr/bin/tool", 10))?.toString(), "tool\n");
});

test("symlinks resolve across layers, in-root; loops lead nowhere", async () => {
  const f = fx.files;
  // /lib -> usr/lib is in l2, the library in l1, /etc/lib-alias -> /lib/libfoo.so.1 in the upper dir.
  assert.equal((await f.read("/lib/libfoo.so.1", 100))?.toString(), "libfoo from l1\n");
  assert.equal((await f.read("/etc/lib-alias", 100))?.toString(), "libfoo from l1\n");
  assert.equal((await f.stat("/etc/lib-alias"))?.path, "usr/lib/libfoo.so.1");
  assert.equal((await f.lstat("/etc/lib-alias"))?.path, "etc/lib-alias");
  assert.equal((await f.lstat("/etc/lib-alias"))?.type, "symlink");
  assert.equal(await f.readlink("/etc/lib-alias"), "/lib/libfoo.so.1");
  assert.equal(await f.readlink("/lib/libfoo.so.1"), undefined);
  assert.equal(f.hostPath("/etc/lib-alias"), join(fx.l1, "usr/lib/libfoo.so.1"));
  assert.equal(f.hostPath("/etc/lib-alias", { follow: false }), join(fx.upper, "etc/lib-alias"));
  assert.equal(f.hostPath("/lib", { follow: false }), join(fx.l2, "lib"));
  assert.deepEqual(await f.list("/lib"), ["libfoo.so.1"]);
  // Absolute and escaping targets stay in the root: the image's passwd, not the host's.
  const passwd = "root:x:0:0:root:/root:/bin/sh\n";
  assert.equal((await f.read("/etc/hostpasswd", 100))?.toString(), passwd);
  assert.equal((await f.read("/etc/escape", 100))?.toString(), passwd);
  assert.equal(await f.stat("/loop1"), undefined);
  assert.equal(await f.read("/loop2", 10), undefined);
  assert.deepEqual(await f.list("/loop1"), []);
  assert.equal(f.hostPath("/loop1"), undefined);
  assert.equal((await f.lstat("/loop1"))?.type, "symlink");
  assert.equal((await f.stat("/"))?.path, ".");
  assert.equal((await f.stat("/"))?.type, "directory");
});

test("metadata: mode with setuid, owner, hard links share ino, host stats with mtime", async () => {
  const f = fx.files;
  const suid = await f.stat("/app/suid");
  assert.deepEqual(suid && [suid.type, suid.mode.toString(8), suid.uid, suid.gid, suid.size], [
    "file",
    "4755",
    1000,
    1001,
    7,
  ]);
  const a = await f.stat("/app/hello");
  const b = await f.stat("/app/hello-link");
  assert.ok(a && b);
  assert.equal(a.ino, b.ino);
  assert.notEqual(a.ino, suid?.ino);
  assert.equal((await f.stat("/usr/local/bin/hello"))?.path, "app/hello");
  const h = f.lstatHost("/app/suid");
  assert.equal(h?.host, join(fx.l1, "app/suid"));
  assert.equal(Math.floor((h?.stats.mtimeMs ?? 0) / 1000), MTIME);
  assert.equal(h?.stats.isFile(), true);
  assert.equal(f.lstatHost("/usr/local/bin/hello")?.stats.isSymbolicLink(), true);
  assert.equal(f.lstatHost("/usr/local/bin/hello", { follow: true })?.path, "app/hello");
  assert.equal(f.lstatHost("/")?.path, ".");
});

async function walked(files: UnionFiles | DirFiles): Promise<ImageWalkEntry[]> {
  const out: ImageWalkEntry[] = [];
  for await (const e of files.walk()) out.push(e);
  return out;
}

test("walk: every visible path once, depth first in byte order, nothing hidden, equal to the merged tree", async () => {
  const entries = await walked(fx.files);
  assert.deepEqual(
    entries.map((e) => e.path),
    [
      "app",
      "app/hello",
      "app/hello-link",
      "app/kept",
      "app/suid",
      "bin",
      "bin/true",
      "etc",
      "etc/escape",
      "etc/hostpasswd",
      "etc/lib-alias",
      "etc/os-release",
      "etc/passwd",
      "lib",
      "loop1",
      "loop2",
      "opt",
      "usr",
      "usr/bin",
      "usr/bin/tool",
      "usr/lib",
      "usr/lib/libfoo.so.1",
      "usr/local",
      "usr/local/bin",
      "usr/local/bin/hello",
      "var",
      "var/new",
    ],
  );
  const byPath = (e: ImageWalkEntry) => e.path;
  const view = (e: ImageWalkEntry) => ({ ...e, ino: 0 });
  const reference = (await walked(new DirFiles(fx.merged))).sort((x, y) => (byPath(x) < byPath(y) ? -1 : 1));
  // Directory modes and owners follow the topmost layer; mkdir made them all 0755 root:root in both trees.
  assert.deepEqual(entries.map(view), reference.map(view));
  const ino = new Map(entries.map((e) => [e.path, e.ino]));
  assert.equal(ino.get("app/hello"), ino.get("app/hello-link"));
  assert.equal(ino.get("app/hello"), lstatSync(join(fx.l1, "app/hello")).ino);
  assert.equal(entries.find((e) => e.path === "lib")?.linkTarget, "usr/lib");
  assert.equal(entries.find((e) => e.path === "usr/bin")?.linkTarget, undefined);
});

test("the analysis over the union equals the analysis over the merged directory", async () => {
  const config = { cmd: ["hello"], env: ["PATH=/usr/local/bin:/bin"] };
  const union = await analyzeFiles(fx.files, config);
  const flat = await analyzeFiles(new DirFiles(fx.merged), config);
  assert.deepEqual(union, flat);
  assert.equal(union.verdict, "libc-only", union.summary);
  assert.equal(union.entrypoint.path, "/app/hello");
  assert.equal(union.entrypoint.linkage, "static");
  assert.equal(union.inventory.files, 10);
  assert.equal(union.inventory.executables.elf, 2, "hello and its hard link");
  assert.equal(union.os?.prettyName, "Slim OS 2");
  assert.deepEqual(union.inventory.shells, [], "the whited-out /bin/sh is not a shell of the image");
  assert.deepEqual(union.inventory.packageManagers, [], "apt-get and dpkg are below an opaque directory");
  assert.deepEqual(
    union.inventory.setuid.map((s) => s.path),
    ["/app/suid"],
  );
  // What the layers hide matters: the bottom layer alone has a shell and a package manager.
  const bottom = await analyzeFiles(new DirFiles(fx.l2), config);
  assert.equal(bottom.verdict, "full");
  assert.notEqual(union.verdict, "full");
});
