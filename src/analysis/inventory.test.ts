import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { busyboxRootfs, debianMinbaseRoot } from "../../test/fixtures/rootfs.ts";
import { needTool } from "../../test/fixtures/tools.ts";
import { DirFiles } from "./dir-files.ts";
import { takeInventory } from "./inventory.ts";

function find(root: string, args: string[]): string[] {
  return execFileSync(needTool("find", "findutils"), [root, ...args], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean)
    .map((p) => p.slice(root.length))
    .sort();
}

test("busybox: the multi-call binary, its applets (dpkg and rpm among them, marked), a shell, no libc", async () => {
  const root = await busyboxRootfs();
  const inv = await takeInventory(new DirFiles(root));
  assert.equal(inv.busybox?.path, "/bin/busybox");
  assert.match(inv.busybox?.version ?? "", /^1\.\d+\.\d+$/);
  const applets = execFileSync(join(root, "bin/busybox"), ["--list"], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean);
  for (const a of ["sh", "ls", "wget", "cat"])
    assert.ok(applets.includes(a) && inv.busybox?.applets.includes(a), a);
  assert.ok(inv.shells.some((s) => s.path === "/bin/sh" && s.target === "/bin/busybox"));
  // busybox's own dpkg and rpm applets are marked as such: no real package manager here.
  assert.ok(inv.packageManagers.length > 0);
  assert.ok(
    inv.packageManagers.every((p) => p.busyboxApplet === true),
    JSON.stringify(inv.packageManagers),
  );
  assert.equal(inv.libc.flavour, "none");
  assert.equal(inv.executables.elf, 1, "one ELF file: the applets are links");
  assert.ok(inv.users.some((u) => u.name === "root" && u.uid === 0));
});

test("Debian minbase: dpkg and apt, dash and bash, glibc and its version, setuid files and world-writable dirs as find sees them", async () => {
  const root = await debianMinbaseRoot();
  const inv = await takeInventory(new DirFiles(root));
  assert.deepEqual(
    inv.setuid.map((s) => s.path),
    find(root, ["-type", "f", "-perm", "/6000"]),
  );
  assert.ok(inv.setuid.some((s) => s.path === "/usr/bin/passwd" && s.mode === "4755" && s.uid === 0));
  assert.deepEqual(inv.worldWritable.map((w) => w.path).sort(), find(root, ["-type", "d", "-perm", "-0002"]));
  assert.ok(inv.worldWritable.some((w) => w.path === "/tmp" && w.sticky));
  assert.deepEqual(inv.packageManagers.map((p) => p.name).sort(), ["apt", "apt-get", "dpkg"]);
  assert.ok(inv.shells.some((s) => s.path === "/bin/sh" && s.target.endsWith("/dash")));
  assert.ok(inv.shells.some((s) => s.path === "/bin/bash"));
  assert.ok(inv.interpreters.some((i) => i.name === "perl"));
  assert.equal(inv.libc.flavour, "glibc");
  const hostVersion = /(\d+\.\d+)/.exec(execFileSync("ldd", ["--version"], { encoding: "utf8" }))?.[1];
  assert.equal(inv.libc.version, hostVersion, "bookworm's glibc, like the host's");
  assert.equal(inv.busybox, null);
  assert.ok(inv.users.some((u) => u.name === "nobody" && !u.login));
  assert.ok(inv.users.some((u) => u.name === "root" && u.login));
  const elfCount = find(root, ["-type", "f", "-perm", "/111"]).length;
  assert.ok(
    inv.executables.count > 100 && inv.executables.count <= elfCount,
    `${inv.executables.count} of ${elfCount}`,
  );
  assert.equal(inv.files, find(root, ["-type", "f"]).length);
  assert.equal(inv.symlinks, find(root, ["-type", "l"]).length);
});
