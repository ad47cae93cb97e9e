// mountsUnder/unmountUnder with real mounts (root): a tmpfs under a directory reached through a symlink, as a
// symlinked TMPDIR would have it, is found and detached; nothing is found under a missing directory.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, symlinkSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { mountsUnder, unmountUnder } from "./mounts.ts";

test("mounts under a symlinked directory are found (deepest first) and detached", async () => {
  assert.equal(process.getuid?.(), 0, "mounting a tmpfs needs root");
  const base = await mkdtemp(join(tmpdir(), "osless-mounts-"));
  try {
    mkdirSync(join(base, "real/a/b"), { recursive: true });
    symlinkSync("real", join(base, "link"));
    execFileSync("mount", ["-t", "tmpfs", "tmpfs", join(base, "real/a")]);
    mkdirSync(join(base, "real/a/b"));
    execFileSync("mount", ["-t", "tmpfs", "tmpfs", join(base, "real/a/b")]);
    assert.deepEqual(mountsUnder(join(base, "link")), [join(base, "real/a/b"), join(base, "real/a")]);
    unmountUnder(join(base, "link"));
    assert.deepEqual(mountsUnder(join(base, "link")), []);
    assert.deepEqual(mountsUnder(join(base, "missing")), []);
  } finally {
    for (const m of mountsUnder(base)) execFileSync("umount", ["-l", m]);
    await rm(base, { recursive: true, force: true });
  }
});
