import assert from "node:assert/strict";
import { mkdir, mkdtemp, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { DirFiles } from "./dir-files.ts";

test("DirFiles reads inside the root: absolute and relative symlinks stay in it, loops lead nowhere", async () => {
  const root = await mkdtemp(join(tmpdir(), "osless-dirfiles-"));
  await mkdir(join(root, "usr/lib"), { recursive: true });
  await mkdir(join(root, "etc"));
  await writeFile(join(root, "usr/lib/os-release"), 'ID=debian\nVERSION_ID="12"\n');
  await symlink("../usr/lib/os-release", join(root, "etc/os-release"));
  await symlink("/usr/lib", join(root, "lib"));
  await symlink("/etc/passwd", join(root, "etc/hostpasswd")); // the host's /etc/passwd must not be reached
  await symlink("loop2", join(root, "loop1"));
  await symlink("loop1", join(root, "loop2"));
  const f = new DirFiles(root);
  assert.equal((await f.read("/etc/os-release", 1 << 20))?.toString(), 'ID=debian\nVERSION_ID="12"\n');
  assert.equal((await f.read("lib/os-release", 5))?.toString(), "ID=de");
  assert.equal(await f.read("/etc/hostpasswd", 1 << 20), undefined);
  assert.equal(await f.read("/loop1", 10), undefined);
  assert.equal(await f.stat("/loop1"), undefined);
  assert.equal((await f.lstat("/etc/os-release"))?.type, "symlink");
  assert.equal((await f.stat("/etc/os-release"))?.path, "usr/lib/os-release");
  assert.equal(await f.readlink("/lib"), "/usr/lib");
  assert.equal(await f.readlink("/usr"), undefined);
  assert.deepEqual(await f.list("/lib"), ["os-release"]);
  assert.deepEqual(await f.list("/etc/os-release"), []);
  assert.equal(await f.read("/usr", 10), undefined, "a directory is not a file");
  const walked: string[] = [];
  for await (const e of f.walk()) {
    const parent = e.path.includes("/") ? e.path.slice(0, e.path.lastIndexOf("/")) : undefined;
    assert.ok(parent === undefined || walked.includes(parent), `${e.path} before its parent`);
    walked.push(e.path);
    if (e.path === "lib") assert.deepEqual([e.type, e.linkTarget], ["symlink", "/usr/lib"]);
  }
  assert.deepEqual([...walked].sort(), [
    "etc",
    "etc/hostpasswd",
    "etc/os-release",
    "lib",
    "loop1",
    "loop2",
    "usr",
    "usr/lib",
    "usr/lib/os-release",
  ]);
});
