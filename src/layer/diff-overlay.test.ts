// overlayUpperEntries against a REAL overlayfs (root only): changes made through the merged mount, the upper dir
// turned into a layer, stacked on a GNU-tar layer of lower and unpacked by umoci, must equal the merged view.
// Also pins down what this kernel writes: whiteout = char device 0/0, opaque = overlay.opaque "y" (trusted.*, or
// user.* with -o userxattr), and that redirect_dir / metacopy entries are refused.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { lstatSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { getXattr, listXattrs } from "../_internal/xattr.ts";
import { isOslessError } from "../errors.ts";
import { overlayUpperEntries } from "./diff.ts";
import { devNumbers } from "./diff-fs.ts";
import { applyOverLower, describeTree, needTool, tempDir, treeDiff } from "./diff-testkit.ts";

let dir = "";
before(async () => {
  if (process.getuid?.() !== 0)
    throw new Error("the overlayfs tests mount overlayfs and tmpfs: run them as root");
  for (const [cmd, pkg] of [
    ["mount", "mount"],
    ["umoci", "umoci"],
    ["tar", "tar"],
    ["setfattr", "attr"],
    ["python3", "python3"],
  ] as const) {
    needTool(cmd, pkg);
  }
  dir = await tempDir("layer-overlay");
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let seq = 0;
const sh = (script: string, cwd: string) => execFileSync("bash", ["-ec", script], { cwd, stdio: "pipe" });
const CAP = "0x0100000200200000000000000000000000000000";

interface Overlay {
  work: string;
  lower: string;
  upper: string;
  merged: string;
}

/** A lower tree with old times (as if unpacked from an image). */
function makeLower(lower: string): void {
  mkdirSync(lower, { recursive: true });
  sh(
    `mkdir -p etc/conf.d gone/sub reborn/old keep/inner moveme usr/bin
    echo hello > etc/hostname; echo a > etc/conf.d/a; echo b > etc/conf.d/b; echo x > gone/sub/x
    echo old > reborn/old/o; echo r > reborn/r; echo i > keep/inner/i; echo k > keep/k; echo m > moveme/m
    echo tool > usr/bin/tool; echo p > usr/bin/ping; chmod 755 usr/bin/ping; ln -s hostname etc/hn
    echo del > delete-me; echo ren > rename-me; echo lnk > link-me
    find . -mindepth 1 -exec touch -h -d @1600000000 {} +`,
    lower,
  );
}

/** The overlay dirs under `work`, with the lower tree made (upper, merged and the overlay work dir come at mount). */
function overlayIn(work: string): Overlay {
  const o = { work, lower: join(work, "lower"), upper: join(work, "upper"), merged: join(work, "merged") };
  makeLower(o.lower);
  return o;
}

/** Mount lower+upper at merged, run `fn` on the merged dir, always unmount. */
async function withOverlay<T>(
  o: Overlay,
  options: string,
  fn: (merged: string) => T | Promise<T>,
): Promise<T> {
  const ow = join(o.work, "ovl-work");
  mkdirSync(o.upper, { recursive: true });
  mkdirSync(ow, { recursive: true });
  mkdirSync(o.merged, { recursive: true });
  const opts = [`lowerdir=${o.lower}`, `upperdir=${o.upper}`, `workdir=${ow}`, options]
    .filter(Boolean)
    .join(",");
  execFileSync("mount", ["-t", "overlay", "overlay", "-o", opts, o.merged], { stdio: "pipe" });
  try {
    return await fn(o.merged);
  } finally {
    execFileSync("umount", [o.merged], { stdio: "pipe" });
  }
}

/** A fresh work dir, on tmpfs when asked (mounted here; unmounted in `cleanup`). */
function workDir(backing: "disk" | "tmpfs"): { work: string; cleanup: () => void } {
  const work = join(dir, `w-${++seq}`);
  mkdirSync(work, { recursive: true });
  if (backing === "disk") return { work, cleanup: () => {} };
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=256m,mode=0755", "tmpfs", work], { stdio: "pipe" });
  return { work, cleanup: () => execFileSync("umount", ["-l", work], { stdio: "pipe" }) };
}

/** The changes a build step makes, all through the merged mount. */
const CHANGES = `
  echo new > new-file; mkdir -p new-dir/deep; echo n > new-dir/deep/n  # create
  echo changed > etc/hostname                                           # modify (copy-up)
  chmod 600 etc/conf.d/a; chown 5:6 keep/k                              # metadata only (full copy-up)
  rm delete-me                                                          # delete a file -> whiteout
  rm etc/conf.d/b                                                       # delete inside a kept dir
  rm -rf gone                                                           # delete a dir -> one whiteout
  rm -rf reborn; mkdir reborn; echo fresh > reborn/fresh                # opaque dir
  mv rename-me renamed                                                  # file rename
  mv moveme moved                                                       # dir rename: EXDEV, mv copies
  ln link-me link-me2                                                   # hardlink of a lower file
  ln -sfn /etc/hostname etc/hn; mkfifo fifo; mknod null c 1 3          # symlink retarget, fifo, device
  setfattr -n security.capability -v ${CAP} usr/bin/ping                # file capability
  echo tmp > scratch; rm scratch                                        # leaves no trace
`;

async function roundTrip(o: Overlay, wantMerged: ReturnType<typeof describeTree>): Promise<void> {
  const entries = await overlayUpperEntries(o.upper);
  for (const e of entries) {
    for (const k of e.xattrs?.keys() ?? []) assert.ok(!k.includes("overlay."), `${e.path} carries ${k}`);
  }
  const rootfs = await applyOverLower(entries, o.lower, o.work);
  const diff = treeDiff(wantMerged, describeTree(rootfs));
  assert.deepEqual(diff, [], `lower + layer(upper) != merged:\n${diff.join("\n")}`);
}

for (const [backing, options, ns] of [
  ["disk", "redirect_dir=off,metacopy=off", "trusted"],
  ["tmpfs", "redirect_dir=off,metacopy=off", "trusted"],
  ["disk", "userxattr", "user"],
] as const) {
  test(`overlayfs on ${backing}${options.includes("userxattr") ? " (userxattr)" : ""}: upper dir -> layer == merged view`, async () => {
    const { work, cleanup } = workDir(backing);
    try {
      const o = overlayIn(work);
      const merged = await withOverlay(o, options, (m) => {
        sh(CHANGES, m);
        return describeTree(m);
      });
      // What the kernel wrote: whiteouts are char 0/0 (sharing one inode), the re-made dir is opaque.
      for (const w of ["delete-me", "gone", "rename-me", "moveme", "etc/conf.d/b"]) {
        const st = lstatSync(join(o.upper, w), { bigint: true });
        assert.ok(st.isCharacterDevice(), `${w} is a whiteout device`);
        assert.deepEqual(devNumbers(st.rdev), { devmajor: 0, devminor: 0 });
      }
      assert.equal(getXattr(join(o.upper, "reborn"), `${ns}.overlay.opaque`)?.toString(), "y");
      assert.ok(!listXattrs(join(o.upper, "etc")).some((x) => x.endsWith("overlay.opaque")));
      // The upper has no trace of the scratch file and holds the hardlinked pair.
      assert.equal(lstatSync(join(o.upper, "link-me")).ino, lstatSync(join(o.upper, "link-me2")).ino);

      const entries = await overlayUpperEntries(o.upper);
      const byPath = new Map(entries.map((e) => [e.path, e]));
      for (const p of [".wh.delete-me", ".wh.gone", ".wh.rename-me", ".wh.moveme", "etc/conf.d/.wh.b"]) {
        assert.deepEqual(
          { ...byPath.get(p) },
          { path: p, type: "file", mode: 0, uid: 0, gid: 0, mtime: 0, size: 0 },
          p,
        );
      }
      assert.equal(byPath.get("reborn")?.type, "directory");
      assert.ok(byPath.has("reborn/.wh..wh..opq"));
      assert.ok(!byPath.has("reborn/old") && !byPath.has("reborn/.wh.old"));
      assert.ok(!byPath.has("etc/conf.d/.wh..wh..opq"));
      assert.equal(byPath.get("link-me2")?.type, "hardlink");
      assert.equal(byPath.get("link-me2")?.linkpath, "link-me");
      assert.ok(!byPath.has("scratch") && !byPath.has(".wh.scratch"));
      assert.equal(
        byPath.get("usr/bin/ping")?.xattrs?.get("security.capability")?.toString("hex"),
        CAP.slice(2),
      );
      assert.ok(!byPath.has("keep/inner"), "untouched lower content is not in the upper");

      await roundTrip(o, merged);
    } finally {
      cleanup();
    }
  });
}

// Renames and metadata-only copy-ups leave overlay xattrs a layer cannot express: refused, naming the option.
for (const c of [
  {
    title: "redirect_dir=on: a renamed lower dir carries overlay.redirect",
    options: "redirect_dir=on",
    change: "mv moveme moved",
    marked: "moved",
    xattr: "trusted.overlay.redirect",
    message: /redirect/,
    hint: /redirect_dir=off/,
  },
  {
    title: "metacopy=on: a chmod copies up metadata only",
    options: "redirect_dir=on,metacopy=on",
    change: "chmod 600 usr/bin/tool",
    marked: "usr/bin/tool",
    xattr: "trusted.overlay.metacopy",
    message: /metacopy/,
    hint: /metacopy=off/,
  },
]) {
  test(`overlayfs ${c.title} -> refused with the mount option to use`, async () => {
    const o = overlayIn(workDir("disk").work);
    await withOverlay(o, c.options, (m) => sh(c.change, m));
    assert.ok(getXattr(join(o.upper, c.marked), c.xattr) !== undefined, `kernel wrote ${c.xattr}`);
    await assert.rejects(
      overlayUpperEntries(o.upper),
      (e) => isOslessError(e, "E_LAYER_INVALID") && c.message.test(e.message) && c.hint.test(e.hint ?? ""),
    );
  });
}

test("overlayUpperEntries: exclude, sockets skipped, '.wh.' names refused, not a directory", async () => {
  const o = overlayIn(workDir("disk").work);
  await withOverlay(o, "", (m) =>
    sh(
      `mkdir -p run/secrets && echo s > run/secrets/t && rm delete-me && echo x > x
      python3 -c "import socket; socket.socket(socket.AF_UNIX).bind('sock')"`,
      m,
    ),
  );
  const es = await overlayUpperEntries(o.upper, { exclude: (p) => p === "run/secrets" || p === "delete-me" });
  assert.deepEqual(
    es.map((e) => e.path),
    ["run", "x"],
  );
  sh("echo bad > .wh.bad", o.upper);
  await assert.rejects(overlayUpperEntries(o.upper), (e) => isOslessError(e, "E_LAYER_INVALID"));
  await assert.rejects(overlayUpperEntries(join(o.upper, "x")), (e) => isOslessError(e, "E_USAGE"));
});
