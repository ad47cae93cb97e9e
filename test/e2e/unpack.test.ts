/** `osless unpack`: a real two-layer image through the CLI, its errors, Ctrl-C, and the host left as it was. */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { lstat, mkdir, readdir, readFile, readlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { tarBytes } from "../../src/tar/testkit.ts";
import { IMAGES, ociLayout } from "../fixtures/images.ts";
import { BUSYBOX_PASSWD } from "../fixtures/rootfs.ts";
import { tmpdir } from "../fixtures/tools.ts";
import { osless, snapshot } from "./cli.ts";

async function loaded(): Promise<{ root: string; work: string; id: string }> {
  const work = await tmpdir("osless-unpack-");
  const root = join(work, "store");
  const layout = await ociLayout(IMAGES.twoLayers);
  const r = await osless(root, ["load", "--json", "-i", `oci:${layout}:latest`]);
  assert.equal(r.code, 0, r.stderr);
  const id = JSON.parse(r.stdout).images[0].id as string;
  const t = await osless(root, ["tag", id, "two:1"]);
  assert.equal(t.code, 0, t.stderr);
  return { root, work, id };
}

test("unpack applies both layers: added and changed files, the whiteout, busybox's applet symlinks", async () => {
  const { root, work } = await loaded();
  const dest = join(work, "rootfs");
  const r = await osless(root, ["unpack", "two:1", dest]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /unpacked docker\.io\/library\/two:1: 2 layers, \d+ entries/);
  assert.equal(await readFile(join(dest, "etc/motd"), "utf8"), "Hello from the second layer\n");
  assert.equal(
    await readFile(join(dest, "etc/passwd"), "utf8"),
    `${BUSYBOX_PASSWD}app:x:1000:1000:app:/home/app:/bin/sh\n`,
  );
  await assert.rejects(lstat(join(dest, "usr/bin/wget")), { code: "ENOENT" });
  await assert.rejects(lstat(join(dest, "usr/bin/.wh.wget")), { code: "ENOENT" });
  const sh = await lstat(join(dest, "bin/sh"));
  assert.ok(sh.isSymbolicLink());
  assert.equal(await readlink(join(dest, "bin/sh")), "/bin/busybox");
  // The static busybox really runs from the unpacked tree.
  const out = execFileSync(join(dest, "bin/busybox"), ["echo", "ok"], { encoding: "utf8" });
  assert.equal(out, "ok\n");
  // Nothing but the rootfs and the store was created next to it (no temp dir left behind).
  assert.deepEqual((await readdir(work)).sort(), ["rootfs", "store"]);
});

test("unpack --json reports layers, entries and bytes; an empty existing directory is accepted", async () => {
  const { root, work, id } = await loaded();
  const dest = join(work, "empty");
  await mkdir(dest);
  const r = await osless(root, ["unpack", "--json", id, dest]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.layers, 2);
  assert.equal(j.dir, dest);
  assert.ok(j.entries > 100 && j.bytes > 1_000_000, r.stdout);
  assert.deepEqual(j.warnings, []);
  assert.equal(r.stderr, "");
});

test("unpack refuses a non-empty target, an unknown image and bad flags, and changes nothing", async () => {
  const { root, work } = await loaded();
  const dest = join(work, "busy");
  await mkdir(dest);
  await writeFile(join(dest, "keep"), "mine");
  const before = await snapshot(work);
  const busy = await osless(root, ["unpack", "two:1", dest]);
  assert.equal(busy.code, 1);
  assert.match(busy.stderr, /exists and is not empty/);
  const missing = await osless(root, ["unpack", "nope:1", join(work, "x")]);
  assert.equal(missing.code, 3, missing.stderr);
  const badSize = await osless(root, ["unpack", "--max-layer-size", "lots", "two:1", join(work, "y")]);
  assert.equal(badSize.code, 2, badSize.stderr);
  assert.match(badSize.stderr, /--max-layer-size/);
  assert.deepEqual(await snapshot(work), before);
});

test("unpack of a corrupt layer blob or over --max-layer-size fails and leaves no target and no temp dir", async () => {
  const { root, work, id } = await loaded();
  const inspect = await osless(root, ["inspect", "--raw", id]);
  const manifest = JSON.parse(inspect.stdout);
  const before = await snapshot(work);
  const big = await osless(root, [
    "unpack",
    "--json",
    "--max-layer-size",
    "100KB",
    "two:1",
    join(work, "big"),
  ]);
  assert.equal(big.code, 1);
  assert.equal(JSON.parse(big.stderr).error.code, "E_SIZE_LIMIT");
  assert.deepEqual(await snapshot(work), before);
  // Flip one byte in the middle of the second layer's stored blob.
  const digest: string = manifest.layers[1].digest;
  const blob = join(root, "blobs/sha256", digest.slice(7));
  const data = await readFile(blob);
  data[data.length >> 1]! ^= 0xff;
  await writeFile(blob, data);
  const snap = await snapshot(work);
  const r = await osless(root, ["unpack", "two:1", join(work, "rootfs")]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /layer 2/);
  assert.match(r.stderr, /E_DIGEST_MISMATCH|E_COMPRESSION|corrupt|does not match/);
  assert.deepEqual(await snapshot(work), snap);
});

test("Ctrl-C during unpack stops it: exit 130, 'interrupted', no target and no working directory left", async () => {
  const work = await tmpdir("osless-unpack-int-");
  const root = join(work, "store");
  const layout = await ociLayout(IMAGES.debian);
  const l = await osless(root, ["load", "--json", "-i", `oci:${layout}:latest`]);
  assert.equal(l.code, 0, l.stderr);
  const id = JSON.parse(l.stdout).images[0].id as string;
  const dest = join(work, "rootfs");
  const main = new URL("../../src/cli/main.ts", import.meta.url).pathname;
  const child = spawn(process.execPath, ["--import", "tsx", main, "unpack", "-q", id, dest], {
    env: { ...process.env, OSLESS_ROOT: root, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (c) => (stderr += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal })),
  );
  // Interrupt once the working directory exists (the unpack is under way), or after 10 s at the latest.
  const started = Date.now();
  let sawWork = false;
  while (child.exitCode === null && Date.now() - started < 10_000) {
    if ((await readdir(work)).some((n) => n.startsWith(".rootfs.osless-unpack-"))) {
      sawWork = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(sawWork, `the unpack never started: ${stderr}`);
  await new Promise((r) => setTimeout(r, 100));
  child.kill("SIGINT");
  const { code, signal } = await exited;
  assert.equal(signal, null, `killed by ${signal}: ${stderr}`);
  assert.equal(code, 130, stderr);
  assert.match(stderr, /interrupted \(SIGINT\)/);
  assert.deepEqual(await readdir(work), ["store"]);
});

test("unpack warnings name the entry, with -q and in the progress notes", async () => {
  const work = await tmpdir("osless-unpack-warn-");
  const root = join(work, "store");
  const tar = join(work, "layer.tar");
  await writeFile(
    tar,
    await tarBytes([
      {
        entry: {
          path: "etc/x",
          type: "file",
          mode: 0o644,
          mtime: 1_700_000_000,
          xattrs: new Map([["trusted.overlay.opaque", Buffer.from("y")]]),
        },
        body: Buffer.from("x"),
      },
    ]),
  );
  await utimes(tar, 1_700_000_000, 1_700_000_000); // the fixture cache keys on it
  const layout = await ociLayout({ layers: [{ tar }] });
  const l = await osless(root, ["load", "--json", "-i", `oci:${layout}:latest`]);
  assert.equal(l.code, 0, l.stderr);
  const id = JSON.parse(l.stdout).images[0].id as string;
  const quiet = await osless(root, ["unpack", "-q", id, join(work, "q")]);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.equal(
    quiet.stderr,
    "warning: etc/x: xattr trusted.overlay.opaque refused: trusted.* attributes are never applied\n",
  );
  const loud = await osless(root, ["unpack", id, join(work, "l")]);
  assert.equal(loud.code, 0, loud.stderr);
  assert.match(loud.stderr, /^warning: layer 1\/1: etc\/x: xattr trusted\.overlay\.opaque refused/m);
});
