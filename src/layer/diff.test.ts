// diffTrees: lower and upper trees on disk, mutated the ways a RUN step does; the produced layer stacked on a
// GNU-tar base layer of lower and unpacked by umoci (an independent applier that honours whiteouts) must give
// back upper exactly: paths, types, modes, owners, content, link targets, device numbers, xattrs, hardlinks.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { debianMinbaseTar } from "../../test/fixtures/rootfs.ts";
import { isOslessError } from "../errors.ts";
import { diffTrees } from "./diff.ts";
import { applyOverLower, describeTree, needTool, tempDir, treeDiff } from "./diff-testkit.ts";
import { type LayerEntry, writeLayer } from "./write.ts";

let dir = "";
before(async () => {
  for (const [cmd, pkg] of [
    ["umoci", "umoci"],
    ["tar", "tar"],
    ["gzip", "gzip"],
    ["setfattr", "attr"],
    ["cp", "coreutils"],
    ["python3", "python3"],
  ] as const) {
    needTool(cmd, pkg);
  }
  dir = await tempDir("layer-diff");
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let seq = 0;
function fresh(tag: string): string {
  const p = join(dir, `${tag}-${++seq}`);
  mkdirSync(p, { recursive: true });
  return p;
}
const sh = (script: string, cwd: string) => execFileSync("bash", ["-ec", script], { cwd, stdio: "pipe" });
const CAP = "0x0100000200200000000000000000000000000000";

/** Diff, write, stack on the GNU-tar base of lower, unpack with umoci, and compare with upper. */
async function roundTrip(work: string, lower: string, upper: string, entries?: LayerEntry[]): Promise<void> {
  const rootfs = await applyOverLower(entries ?? (await diffTrees(lower, upper)), lower, work);
  const diff = treeDiff(describeTree(upper), describeTree(rootfs));
  assert.deepEqual(diff, [], `lower + layer != upper:\n${diff.join("\n")}`);
}

const show = (es: LayerEntry[]) =>
  es.map((e) => `${e.type} ${e.path}${e.linkpath ? ` -> ${e.linkpath}` : ""}`);

/** A lower tree with old times (as if extracted from a base image), and upper as its `cp -a` copy. */
function lowerAndUpper(work: string): { lower: string; upper: string } {
  const lower = join(work, "lower");
  const upper = join(work, "upper");
  mkdirSync(lower);
  sh(
    `mkdir -p etc/app dir/sub/deep d2 usr/bin usr/lib keepdir var/empty
    echo hello > etc/a; echo keep > etc/keep; echo x > dir/sub/x; echo z > dir/sub/deep/z; echo y > d2/y
    echo f > filetodir; echo s > same-size; echo m > mode-only; echo o > owner-only; echo t > touched
    ln -s a etc/link; echo tool > usr/bin/tool; ln usr/bin/tool usr/bin/tool2
    echo lib > usr/lib/libx.so.1; ln usr/lib/libx.so.1 usr/lib/libx-hard
    mknod dev-null c 1 3; mkfifo fifo; setfattr -n user.k -v v etc/app
    find . -mindepth 1 -exec touch -h -d @1600000000 {} +`,
    lower,
  );
  sh(`cp -a ${lower} ${upper}`, work);
  return { lower, upper };
}

test("diffTrees: adds, edits, chmod, chown, deletes, type changes, links, xattrs -> upper after umoci applies it", async () => {
  const work = fresh("mutate");
  const { lower, upper } = lowerAndUpper(work);
  sh(
    `echo changed > etc/a                               # content
    chmod 600 mode-only; chown 1000:1000 owner-only     # metadata
    chown 7:7 etc                                       # a directory's owner
    rm -rf dir/sub                                      # a directory with children: one whiteout
    rm d2/y                                             # a file
    rm -rf d2; echo now > d2                            # dir -> file
    rm filetodir; mkdir filetodir; echo i > filetodir/i # file -> dir with a child
    ln -sfn keep etc/link                               # symlink retarget
    ln etc/keep etc/keep2                               # new link to an unchanged file
    echo more >> usr/bin/tool                           # edit through one of two links
    mkdir -p new/deep; echo n > new/deep/n              # new subtree
    mknod new/zero c 1 5; mkfifo new/fifo2              # devices, fifos
    setfattr -n security.capability -v ${CAP} usr/bin/tool
    setfattr -x user.k etc/app                          # an xattr removed
    touch -d @1700000000 touched                        # time only
    python3 -c "import socket; socket.socket(socket.AF_UNIX).bind('new/sock')"`,
    upper,
  );
  const entries = await diffTrees(lower, upper);
  assert.deepEqual(show(entries), [
    "file d2",
    "directory dir",
    "file dir/.wh.sub",
    "directory etc",
    "file etc/a",
    "directory etc/app",
    "file etc/keep",
    "hardlink etc/keep2 -> etc/keep",
    "symlink etc/link -> keep",
    "directory filetodir",
    "file filetodir/i",
    "file mode-only",
    "directory new",
    "directory new/deep",
    "file new/deep/n",
    "fifo new/fifo2",
    "char new/zero",
    "file owner-only",
    "file touched",
    "directory usr",
    "directory usr/bin",
    "file usr/bin/tool",
    "hardlink usr/bin/tool2 -> usr/bin/tool",
  ]);
  const tool = entries.find((e) => e.path === "usr/bin/tool")!;
  assert.equal(tool.xattrs?.get("security.capability")?.toString("hex"), CAP.slice(2));
  assert.equal(entries.find((e) => e.path === "etc")?.uid, 7);
  // The socket is skipped; everything else must come back. Sockets cannot be compared after apply: drop it.
  rmSync(join(upper, "new/sock"));
  await roundTrip(work, lower, upper, entries);
});

test("diffTrees: equal metadata but other bytes (touch -r, cp -p) is a change; equal trees give no entries", async () => {
  const work = fresh("content");
  const { lower, upper } = lowerAndUpper(work);
  assert.deepEqual(await diffTrees(lower, upper), []);
  // Same size, same mtime (to the nanosecond, restored), other content.
  sh("echo S > same-size && touch -d @1600000000 same-size", upper);
  // Directory time alone: not a change (it moves whenever an entry comes or goes).
  sh("touch -d @1700000000 keepdir", upper);
  assert.deepEqual(show(await diffTrees(lower, upper)), ["file same-size"]);
  await roundTrip(work, lower, upper);
});

test("diffTrees: the same inode in both trees is unchanged without reading it", async () => {
  const work = fresh("inode");
  const lower = join(work, "lower");
  const upper = join(work, "upper");
  mkdirSync(lower);
  sh("echo a > f && mkdir d && echo b > d/g", lower);
  sh(`cp -al ${lower} ${upper}`, work); // hardlink farm: same inodes
  assert.deepEqual(await diffTrees(lower, upper), []);
});

test("diffTrees: a hardlink group with one changed member is written whole, so the inode stays shared", async () => {
  const work = fresh("links");
  const { lower, upper } = lowerAndUpper(work);
  // New link to an unchanged file: the unchanged peer comes along as the data carrier.
  sh("ln usr/lib/libx.so.1 usr/lib/libx-new", upper);
  const es = await diffTrees(lower, upper);
  assert.deepEqual(show(es), [
    "directory usr",
    "directory usr/lib",
    "file usr/lib/libx-hard",
    "hardlink usr/lib/libx-new -> usr/lib/libx-hard",
    "hardlink usr/lib/libx.so.1 -> usr/lib/libx-hard",
  ]);
  await roundTrip(work, lower, upper, es);
  // A link broken in upper: only the replaced path is written; the other keeps the lower content.
  const work2 = fresh("links2");
  const t = lowerAndUpper(work2);
  sh("rm usr/bin/tool && echo new > usr/bin/tool", t.upper);
  assert.deepEqual(show(await diffTrees(t.lower, t.upper)), [
    "directory usr",
    "directory usr/bin",
    "file usr/bin/tool",
  ]);
  await roundTrip(work2, t.lower, t.upper);
});

test("diffTrees: exclude keeps paths out on both sides (no entry, no whiteout)", async () => {
  const work = fresh("exclude");
  const { lower, upper } = lowerAndUpper(work);
  sh("mkdir -p run/secrets && echo s > run/secrets/token && rm -rf var/empty && echo x > etc/a", upper);
  const es = await diffTrees(lower, upper, {
    exclude: (p) => p === "run/secrets" || p === "var/empty" || p === "etc/a",
  });
  assert.deepEqual(show(es), ["directory run"]);
});

test("diffTrees: names a layer cannot hold are refused; missing roots are clear errors", async () => {
  const work = fresh("names");
  const { lower, upper } = lowerAndUpper(work);
  writeFileSync(join(upper, ".wh.oops"), "x");
  await assert.rejects(
    diffTrees(lower, upper),
    (e) => isOslessError(e, "E_LAYER_INVALID") && /\.wh\./.test(e.message),
  );
  rmSync(join(upper, ".wh.oops"));
  writeFileSync(Buffer.from(`${upper}/caf\xe9`, "latin1"), "x");
  await assert.rejects(
    diffTrees(lower, upper),
    (e) => isOslessError(e, "E_LAYER_INVALID") && /UTF-8/.test(e.message),
  );
  await assert.rejects(diffTrees(join(work, "nope"), upper), (e) => isOslessError(e, "E_NOT_FOUND"));
  await assert.rejects(diffTrees(lower, join(upper, "etc/a")), (e) => isOslessError(e, "E_USAGE"));
});

test("diffTrees: same trees -> same layer digest, twice and from copies made in another order", async () => {
  const work = fresh("det");
  const { lower, upper } = lowerAndUpper(work);
  sh(
    "echo changed > etc/a && rm -rf dir && mkdir -p z/y && echo q > z/y/q && touch -d @1650000000 z/y/q",
    upper,
  );
  const a = await writeLayer(await diffTrees(lower, upper), join(work, "a.tgz"));
  const b = await writeLayer(await diffTrees(lower, upper), join(work, "b.tgz"));
  const upper2 = join(work, "upper2");
  sh(
    `mkdir ${upper2} && cd ${upper} && find . -mindepth 1 -maxdepth 1 | sort -r | xargs -I{} cp -a {} ${upper2}/`,
    work,
  );
  const c = await writeLayer(await diffTrees(lower, upper2), join(work, "c.tgz"));
  assert.deepEqual(b, a);
  assert.deepEqual(c, a);
});

test("diffTrees on a Debian rootfs: a RUN-like change set (useradd, rm -rf docs, sed -i, chmod) round-trips through umoci", async () => {
  const work = fresh("debian");
  const lower = join(work, "lower");
  const upper = join(work, "upper");
  mkdirSync(lower);
  mkdirSync(upper);
  const tar = await debianMinbaseTar();
  sh(`tar --numeric-owner --xattrs --xattrs-include='*' -xpf ${tar} -C ${lower}`, work);
  sh(`cp -a ${lower}/. ${upper}/`, work);
  sh(
    `chroot . /usr/sbin/useradd -m -u 1234 -s /bin/bash app
    rm -rf usr/share/doc usr/share/man/man1
    sed -i 's/^#force_color_prompt=yes/force_color_prompt=yes/' etc/skel/.bashrc
    chmod 750 root; echo 'Acquire::Retries "3";' > etc/apt/apt.conf.d/80retries
    mkdir -p opt/app/bin && cp -a usr/bin/dash opt/app/bin/sh && ln opt/app/bin/sh opt/app/bin/sh2
    ln -sfn /opt/app/bin/sh usr/local/bin/app
    rm -f var/log/*.log`,
    upper,
  );
  const t0 = Date.now();
  const entries = await diffTrees(lower, upper);
  const ms = Date.now() - t0;
  const paths = new Set(entries.map((e) => e.path));
  for (const p of ["etc/passwd", "etc/shadow", "home/app", "home/app/.bashrc", "usr/share/.wh.doc", "root"]) {
    assert.ok(paths.has(p), `${p} in the layer`);
  }
  assert.ok(![...paths].some((p) => p.startsWith("usr/share/doc/")), "nothing below a deleted directory");
  assert.ok(entries.length < 200, `${entries.length} entries for a small change set`);
  await roundTrip(work, lower, upper, entries);
  assert.ok(ms < 30_000, `diff of a Debian rootfs took ${ms} ms`);
});
