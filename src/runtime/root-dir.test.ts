import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { isOslessError } from "../errors.ts";
import { DirRoot } from "./root-dir.ts";

const dir = mkdtempSync(join(tmpdir(), "osless-rootdir-"));
after(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, "usr/bin"), { recursive: true });
mkdirSync(join(dir, "etc"));
writeFileSync(join(dir, "usr/bin/tool"), "#!/bin/sh\n");
chmodSync(join(dir, "usr/bin/tool"), 0o4755);
writeFileSync(join(dir, "etc/big"), Buffer.alloc(100, 0x61));
symlinkSync("usr/bin", join(dir, "bin")); // relative
symlinkSync("/usr/bin/tool", join(dir, "usr/bin/abs")); // absolute: in-root
symlinkSync("../../../../../../..", join(dir, "up")); // climbs: stays at the root
symlinkSync("loop2", join(dir, "loop1"));
symlinkSync("loop1", join(dir, "loop2"));
symlinkSync("/missing/x", join(dir, "dangling"));
const root = new DirRoot(dir);

test("stat: the last component is not followed unless asked", () => {
  assert.equal(root.stat("/bin")?.type, "symlink");
  assert.equal(root.stat("/bin", { follow: true })?.type, "dir");
  const tool = root.stat("/bin/abs", { follow: true });
  assert.equal(tool?.type, "file");
  assert.equal(tool?.mode, 0o4755);
  assert.equal(root.stat("/nope"), undefined);
  assert.equal(root.stat("/etc/big/child"), undefined, "below a file nothing exists");
  assert.equal(root.stat("/dangling", { follow: true }), undefined);
  assert.equal(root.stat("/dangling")?.type, "symlink");
});

test("resolve: symlinks expanded inside the root, .. never above it", () => {
  assert.equal(root.resolve("/bin/abs"), "/usr/bin/tool");
  assert.equal(root.resolve("/up/etc"), "/etc");
  assert.equal(root.resolve("/../../etc/../bin"), "/usr/bin");
  assert.equal(root.resolve("/"), "/");
  assert.equal(root.resolve("/dangling"), undefined);
  assert.equal(root.resolve("/etc/nope"), undefined);
});

test("readlink: a symlink's target as stored, parents resolved in-root", () => {
  assert.equal(root.readlink("/bin"), "usr/bin");
  assert.equal(root.readlink("/bin/abs"), "/usr/bin/tool");
  assert.equal(root.readlink("/etc"), undefined);
  assert.equal(root.readlink("/nope"), undefined);
});

test("readFile: regular files only, through symlinks, with a size cap", () => {
  assert.equal(root.readFile("/bin/abs")?.toString(), "#!/bin/sh\n");
  assert.equal(root.readFile("/etc"), undefined);
  assert.equal(root.readFile("/nope"), undefined);
  assert.equal(root.readFile("/etc/big", 100)?.length, 100);
  assert.throws(
    () => root.readFile("/etc/big", 99),
    (e) => isOslessError(e, "E_SIZE_LIMIT"),
  );
});

test("a symlink loop is an error, not a hang", () => {
  assert.throws(
    () => root.stat("/loop1", { follow: true }),
    (e) => isOslessError(e, "E_LAYER_INVALID"),
  );
});
