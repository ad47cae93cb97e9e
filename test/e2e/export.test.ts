// `osless export` with real runc containers of a three-layer image (busybox; a layer with hard links, xattrs,
// a FIFO, a device, a whiteout and an opaque directory; a layer that breaks a hard link), in which a script adds,
// modifies, chmods, chowns and deletes files (of the lower layers too), `rm -rf`s a directory, replaces a
// directory by a file and makes hard links. The exported tar, read by GNU tar, must equal: the kernel's overlay
// of the same layers (stopped container), the container's own view of itself (running container, through
// `osless exec`), the plain root directory (`--rootfs copy`).
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  type BigIntStats,
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
} from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { getXattr, listXattrs } from "../../src/_internal/xattr.ts";
import { type LayerEntry, opaqueEntry, whiteoutEntry, writeLayer } from "../../src/layer/write.ts";
import { cached } from "../fixtures/cache.ts";
import { IMAGES, type ImageSpec, ociLayout } from "../fixtures/images.ts";
import { busyboxRootfsPath } from "../fixtures/rootfs.ts";
import { FIXTURE_EPOCH, needTool, tmpdir } from "../fixtures/tools.ts";
import { osless, snapshot } from "./cli.ts";

needTool("runc", "runc");
const TAR = needTool("tar", "tar");

const MAIN = new URL("../../src/cli/main.ts", import.meta.url).pathname;
const LONG = `srv/${"a-rather-long-directory-name/".repeat(4)}${"and-a-long-file-name-".repeat(5)}.txt`;

/** The image's second layer, written by osless's own layer writer (hard links, xattrs, FIFO, device, markers). */
async function dataLayer(): Promise<string> {
  const recipe = { v: 2, LONG };
  const dir = await cached("export-e2e-layer", recipe, async (dir) => {
    const t = FIXTURE_EPOCH;
    const d = (path: string, mode = 0o755): LayerEntry => ({
      path,
      type: "directory",
      mode,
      uid: 0,
      gid: 0,
      mtime: t,
    });
    const f = (path: string, body: string, mode = 0o644): LayerEntry => ({
      path,
      type: "file",
      mode,
      uid: 0,
      gid: 0,
      mtime: t,
      body: Buffer.from(body),
    });
    const entries: LayerEntry[] = [
      d("srv"),
      f("srv/keep.txt", "kept, but chowned\n"),
      f("srv/modify.txt", "before\n"),
      f("srv/chmod.sh", "#!/bin/sh\necho chmod me\n"),
      f("srv/delete.txt", "deleted by the container\n"),
      d("srv/links"),
      f("srv/links/a", "three names of one file\n"),
      {
        path: "srv/links/b",
        type: "hardlink",
        linkpath: "srv/links/a",
        mode: 0o644,
        uid: 0,
        gid: 0,
        mtime: t,
      },
      {
        path: "srv/links/c",
        type: "hardlink",
        linkpath: "srv/links/a",
        mode: 0o644,
        uid: 0,
        gid: 0,
        mtime: t,
      },
      d("srv/links2"),
      f("srv/links2/x", "two names of one file, left alone\n"),
      {
        path: "srv/links2/y",
        type: "hardlink",
        linkpath: "srv/links2/x",
        mode: 0o644,
        uid: 0,
        gid: 0,
        mtime: t,
      },
      d("srv/tree"),
      d("srv/tree/sub"),
      f("srv/tree/sub/deep.txt", "rm -rf'd\n"),
      f("srv/tree/top.txt", "rm -rf'd\n"),
      d("srv/becomes-file"),
      f("srv/becomes-file/child.txt", "its directory becomes a file\n"),
      {
        ...f("srv/caps", "a file with a capability and a user xattr\n", 0o755),
        xattrs: new Map([
          ["security.capability", Buffer.from("0100000200200000000000000000000000000000", "hex")],
          ["user.origin", Buffer.from("layer 1")],
        ]),
      },
      { path: "srv/fifo", type: "fifo", mode: 0o600, uid: 0, gid: 0, mtime: t },
      { path: "srv/null", type: "char", mode: 0o666, uid: 0, gid: 0, mtime: t, devmajor: 1, devminor: 3 },
      f("srv/ünïcödé.txt", "a UTF-8 name\n"),
      ...LONG.split("/")
        .slice(1, -1)
        .map((_, i, parts) => d(`srv/${parts.slice(0, i + 1).join("/")}`)),
      f(LONG, "a path longer than ustar's 100 bytes\n"),
      { ...f("srv/owned", "owned by 1234:5678\n", 0o640), uid: 1234, gid: 5678 },
      f("etc/motd", "motd of layer 1\n"),
      d("usr"),
      d("usr/bin"),
      whiteoutEntry("usr/bin/wget"),
      d("usr/sbin"),
      opaqueEntry("usr/sbin"),
      f("usr/sbin/only-this", "the only file of the opaque usr/sbin\n"),
    ];
    await writeLayer(entries, join(dir, "layer.tar"), { compression: "none" });
  });
  return join(dir, "layer.tar");
}

/** What the container does to its filesystem; `touch /srv/ready` last. */
const SCRIPT = [
  "set -e",
  "echo after >> /srv/modify.txt",
  "chmod 755 /srv/chmod.sh",
  "chown 1000:1000 /srv/keep.txt",
  "rm /srv/delete.txt",
  "rm -rf /srv/tree",
  "rm -rf /srv/becomes-file",
  "echo now a file > /srv/becomes-file",
  "rm /bin/ls /etc/group",
  "echo new > /srv/new.txt",
  "mkdir -p /srv/newdir/a/b",
  "echo deep > /srv/newdir/a/b/f",
  "ln /srv/new.txt /srv/new-link",
  "ln /srv/links/a /srv/links/d",
  "mkfifo /srv/newfifo",
  "ln -s ../srv/new.txt /srv/newsym",
  "echo changed > /etc/motd",
  "mkdir /srv/tree",
  "echo again > /srv/tree/again",
  "rm /usr/sbin/only-this",
  "touch /srv/ready",
].join("; ");

let storeRoot: Promise<string> | undefined;
function store(): Promise<string> {
  storeRoot ??= (async () => {
    const root = join(await tmpdir("export-e2e-"), "store");
    const spec: ImageSpec = {
      layers: [
        { dir: busyboxRootfsPath() },
        { tar: await dataLayer() },
        { files: { "srv/links/c": "c replaced by layer 2\n", "srv/l2.txt": "from layer 2\n" } },
      ],
      cmd: ["sh"],
      env: IMAGES.busybox.env!,
    };
    const r = await osless(root, ["copy", "-q", `oci:${await ociLayout(spec)}:latest`, "exp"]);
    assert.equal(r.code, 0, r.stderr);
    return root;
  })();
  return storeRoot;
}

async function cli(args: string[]) {
  return osless(await store(), args);
}

const mounts: string[] = [];
const containers: string[] = [];
after(async () => {
  for (const m of mounts.reverse()) {
    try {
      execFileSync("umount", [m]);
    } catch {
      // already unmounted
    }
  }
  if (containers.length > 0) await cli(["rm", "-f", ...containers]);
});

function record(root: string, name: string): { id: string; rootfs: { kind: string; lower?: string[] } } {
  const dir = join(root, "containers");
  for (const id of readdirSync(dir).filter((n) => /^[0-9a-f]{64}$/.test(n))) {
    const r = JSON.parse(readFileSync(join(dir, id, "container.json"), "utf8"));
    if (r.name === name) return r;
  }
  throw new Error(`no container named ${name}`);
}

/** GNU tar extracts `archive` (owners, modes, xattrs as root) into a new directory. */
async function extract(archive: string): Promise<string> {
  const x = join(await tmpdir("export-x"), "root");
  mkdirSync(x);
  execFileSync(TAR, ["--xattrs", "--xattrs-include=*", "-xpf", archive, "-C", x]);
  return x;
}

function typeChar(st: BigIntStats): string {
  if (st.isFile()) return "f";
  if (st.isDirectory()) return "d";
  if (st.isSymbolicLink()) return "l";
  if (st.isCharacterDevice()) return "c";
  if (st.isBlockDevice()) return "b";
  if (st.isFIFO()) return "p";
  return "s";
}

/**
 * Everything a tar carries about each path under `root`: type, mode, owner, mtime (seconds), size and sha256 of
 * files, link targets, device numbers, xattrs (overlay's own left out) and, for a name sharing its inode with an
 * earlier one, which.
 */
function listing(root: string): string[] {
  const out: string[] = [];
  const first = new Map<string, string>();
  const walk = (rel: string) => {
    for (const n of readdirSync(rel ? join(root, rel) : root).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      const a = join(root, r);
      const st = lstatSync(a, { bigint: true });
      const t = typeChar(st);
      let extra = "";
      if (t === "f") extra = `${st.size} ${createHash("sha256").update(readFileSync(a)).digest("hex")}`;
      if (t === "l") extra = readlinkSync(a);
      if (t === "c" || t === "b") extra = String(st.rdev);
      const xa = listXattrs(a)
        .filter((x) => !x.startsWith("trusted.overlay."))
        .sort()
        .map((x) => `${x}=${getXattr(a, x)?.toString("hex")}`);
      let line = `${t} ${r} ${(st.mode & 0o7777n).toString(8)} ${st.uid}:${st.gid} ${st.mtimeNs / 1_000_000_000n} ${extra} [${xa.join(",")}]`;
      if (t !== "d" && st.nlink > 1n) {
        const key = `${st.dev}:${st.ino}`;
        const f = first.get(key);
        if (f === undefined) first.set(key, r);
        else line += ` =${f}`;
      }
      out.push(line);
      if (t === "d") walk(r);
    }
  };
  walk("");
  return out;
}

/** `osless export NAME > file`: stdout is the file itself (binary, no decoding). */
function exportToStdout(root: string, name: string, file: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const fd = openSync(file, "w");
    const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), MAIN, "export", name], {
      env: { ...process.env, OSLESS_ROOT: root, NO_COLOR: "1" },
      stdio: ["ignore", fd, "pipe"],
    });
    closeSync(fd);
    let stderr = "";
    child.stderr?.on("data", (c) => (stderr += c));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stderr }));
  });
}

/** The changes the script made, as GNU tar lists the archive (tar -tvf). */
function checkToc(toc: string, rootfs: "overlay" | "copy" = "overlay"): void {
  const names = toc
    .trim()
    .split("\n")
    .map((l) => l.replace(/ link to .*$/, "").replace(/ -> .*$/, ""));
  const has = (re: RegExp) => names.some((l) => re.test(l));
  assert.match(
    toc,
    /^hrw-r--r-- .* srv\/links\/d link to srv\/links\/a$/m,
    "a hard link made in the container",
  );
  // The first name in path order carries the data: "new-link" sorts before "new.txt".
  assert.match(toc, /^hrw-r--r-- .* srv\/new\.txt link to srv\/new-link$/m);
  // Overlay: b kept the lower file's inode, a was copied up when d was linked to it (overlayfs breaks the group);
  // a plain root keeps one group. c was replaced by layer 2; x and y are a group of the lower layer left alone.
  if (rootfs === "overlay") assert.match(toc, /^-rw-r--r-- .* srv\/links\/b$/m);
  else assert.match(toc, /^hrw-r--r-- .* srv\/links\/b link to srv\/links\/a$/m);
  assert.match(toc, /^hrw-r--r-- .* srv\/links2\/y link to srv\/links2\/x$/m);
  assert.match(toc, /^-rw-r--r-- .* srv\/links\/c$/m, "replaced by layer 2: not a link");
  assert.match(toc, /^-rw-r--r-- 1000\/1000 .* srv\/keep\.txt$/m);
  assert.match(toc, /^-rw-r----- 1234\/5678 .* srv\/owned$/m);
  assert.match(toc, /^-rwxr-xr-x .* srv\/chmod\.sh$/m);
  assert.match(toc, /^-rw-r--r-- .* srv\/becomes-file$/m);
  assert.match(toc, /^prw-r--r-- .* srv\/newfifo$/m);
  assert.match(toc, /^prw------- .* srv\/fifo$/m);
  assert.match(toc, /^crw-rw-rw- .* 1,3 .* srv\/null$/m);
  assert.match(toc, /^lrwxrwxrwx .* srv\/newsym -> \.\.\/srv\/new\.txt$/m);
  assert.match(toc, / srv\/ünïcödé\.txt$/m);
  assert.ok(toc.includes(` ${LONG}\n`), "the long path");
  assert.match(toc, / srv\/tree\/again$/m);
  assert.match(toc, /^drwxr-xr-x .* usr\/sbin\/$/m);
  for (const gone of [
    /srv\/delete\.txt$/,
    /srv\/tree\/(top\.txt|sub)/,
    /srv\/becomes-file\//,
    / bin\/ls$/,
    / etc\/group$/,
    / usr\/bin\/wget$/,
    / usr\/sbin\/./,
    /\.wh\./,
    / \.\//,
  ]) {
    assert.ok(!has(gone), `${gone} is not in the archive`);
  }
}

test("a stopped container: the archive equals the kernel's overlay of its layers, on stdout and with -o", async () => {
  needTool("mount", "mount");
  const root = await store();
  const run = await cli(["run", "--name", "exp-stopped", "exp", "sh", "-c", SCRIPT]);
  assert.equal(run.code, 0, run.stderr);
  containers.push("exp-stopped");
  const dir = await tmpdir("export-out");
  const file = join(dir, "stopped.tar");
  const r = await cli(["export", "-o", file, "exp-stopped"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr, "");
  assert.deepEqual(readdirSync(dir), ["stopped.tar"], "no temporary file left");
  checkToc(execFileSync(TAR, ["-tvf", file], { encoding: "utf8" }));

  // The kernel's view: the same layers mounted read-only, the container's upper dir as the top one.
  const rec = record(root, "exp-stopped");
  assert.equal(rec.rootfs.kind, "overlay");
  const mnt = join(dir, "mnt");
  mkdirSync(mnt);
  const upper = join(root, "containers", rec.id, "upper");
  execFileSync("mount", [
    "-t",
    "overlay",
    "overlay",
    "-o",
    `ro,lowerdir=${[upper, ...rec.rootfs.lower!].join(":")}`,
    mnt,
  ]);
  mounts.push(mnt);
  const x = await extract(file);
  const seen = listing(mnt);
  assert.ok(seen.some((l) => l.includes("security.capability=") && l.includes("user.origin=")));
  assert.deepEqual(listing(x), seen);
  assert.deepEqual(await snapshot(x), await snapshot(mnt));

  // On stdout: the same bytes (the writer is deterministic and the container does not change).
  const piped = join(dir, "piped.tar");
  const s = await exportToStdout(root, "exp-stopped", piped);
  assert.equal(s.code, 0, s.stderr);
  assert.ok(readFileSync(piped).equals(readFileSync(file)));
});

test("a running container: the archive equals what the container sees of itself (osless exec find -xdev)", async () => {
  const run = await cli([
    "run",
    "-d",
    "--name",
    "exp-running",
    "exp",
    "sh",
    "-c",
    `${SCRIPT}; exec sleep 600`,
  ]);
  assert.equal(run.code, 0, run.stderr);
  containers.push("exp-running");
  for (let i = 0; ; i++) {
    if ((await cli(["exec", "exp-running", "test", "-f", "/srv/ready"])).code === 0) break;
    assert.ok(i < 100, "the script did not finish");
    await new Promise((r) => setTimeout(r, 100));
  }
  const ps = await cli(["ps"]);
  assert.match(ps.stdout, /exp-running/, "still running while exported");
  const file = join(await tmpdir("export-running"), "running.tar");
  const r = await cli(["export", "-o", file, "exp-running"]);
  assert.equal(r.code, 0, r.stderr);
  checkToc(execFileSync(TAR, ["-tvf", file], { encoding: "utf8" }));
  const x = await extract(file);

  // Inside: every path of the root filesystem (-xdev: not the contents of /proc, /dev, /sys), with busybox stat's
  // raw mode, owner, size, mtime and inode, and the files' checksums. Mount points are compared by name only.
  const statFmt = "%n|%f|%u|%g|%s|%Y|%i";
  const inside = await cli([
    "exec",
    "exp-running",
    "sh",
    "-c",
    `find / -xdev ! -path / -exec stat -c '${statFmt}' {} +; echo ==; find / -xdev -type f -exec md5sum {} +; echo ==; cut -d' ' -f5 /proc/self/mountinfo`,
  ]);
  assert.equal(inside.code, 0, inside.stderr);
  const [statPart, sumPart, mountPart] = inside.stdout.split("==\n") as [string, string, string];
  const mountPoints = new Set(mountPart.trim().split("\n"));
  const view = (
    rows: {
      path: string;
      mode: string;
      uid: string;
      gid: string;
      size: string;
      mtime: string;
      ino: string;
    }[],
  ) => {
    // Hard links: names sharing an inode, as "path =first".
    const first = new Map<string, string>();
    return rows
      .map((row) => {
        if (mountPoints.has(row.path)) return `${row.path} (mount point)`;
        const isDir = (Number.parseInt(row.mode, 16) & 0o170000) === 0o040000;
        let line = `${row.path} ${row.mode} ${row.uid}:${row.gid} ${isDir ? "-" : row.size} ${row.mtime}`;
        if (!isDir) {
          const f = first.get(row.ino);
          if (f === undefined) first.set(row.ino, row.path);
          else line += ` =${f}`;
        }
        return line;
      })
      .sort();
  };
  const insideRows = statPart
    .trim()
    .split("\n")
    .map((l) => {
      const [path, mode, uid, gid, size, mtime, ino] = l.split("|") as [
        string,
        string,
        string,
        string,
        string,
        string,
        string,
      ];
      return { path, mode, uid, gid, size, mtime, ino };
    })
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const exportedRows: typeof insideRows = [];
  const walk = (rel: string) => {
    for (const n of readdirSync(join(x, rel)).sort()) {
      const r = `${rel}/${n}`;
      const st = lstatSync(join(x, r), { bigint: true });
      exportedRows.push({
        path: r,
        mode: st.mode.toString(16),
        uid: String(st.uid),
        gid: String(st.gid),
        size: String(st.size),
        mtime: String(st.mtimeNs / 1_000_000_000n),
        ino: String(st.ino),
      });
      if (st.isDirectory()) walk(r);
    }
  };
  walk("");
  exportedRows.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  assert.ok(insideRows.length > 250, `${insideRows.length} paths inside`);
  assert.deepEqual(view(exportedRows), view(insideRows));
  const sums = (text: string) =>
    text
      .trim()
      .split("\n")
      .map((l) => l.replace(/^(\w+)\s+/, "$1 "))
      .sort();
  const exportedSums = exportedRows
    .filter((row) => (Number.parseInt(row.mode, 16) & 0o170000) === 0o100000)
    .map(
      (row) =>
        `${createHash("md5")
          .update(readFileSync(join(x, row.path)))
          .digest("hex")} ${row.path}`,
    );
  assert.deepEqual(sums(exportedSums.join("\n")), sums(sumPart));
  assert.ok(existsSync(join(x, "srv/ready")));
});

test("a container writing all the time while it is exported: every export completes, GNU tar reads it", async () => {
  const churn =
    "i=0; while :; do i=$((i+1)); echo $i >> /log; head -c 9000000 /dev/zero > /big; rm -rf /d; mkdir -p /d/e; " +
    "echo $i > /d/e/f; rm -f /f; echo $i > /f; ln -f /f /g; rm -f /srv/links/a; echo $i > /srv/links/a; done";
  const run = await cli(["run", "-d", "--name", "exp-churn", "exp", "sh", "-c", churn]);
  assert.equal(run.code, 0, run.stderr);
  containers.push("exp-churn");
  for (let i = 0; ; i++) {
    if ((await cli(["exec", "exp-churn", "test", "-f", "/big"])).code === 0) break;
    assert.ok(i < 100, "the loop did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
  const dir = await tmpdir("export-churn");
  for (let i = 0; i < 3; i++) {
    const file = join(dir, `churn-${i}.tar`);
    const r = await cli(["export", "-o", file, "exp-churn"]);
    assert.equal(r.code, 0, r.stderr);
    const toc = execFileSync(TAR, ["-tvf", file], { encoding: "utf8" });
    assert.match(toc, / srv\/links2\/y link to srv\/links2\/x$/m);
    assert.match(toc, / log$/m);
  }
  assert.match((await cli(["ps"])).stdout, /exp-churn/, "it ran all the while");
  // Paused for each export and thawed after: its log grows again (no count is lost or repeated at a freeze).
  const count = async () =>
    Number((await cli(["exec", "exp-churn", "sh", "-c", "tail -n 1 /log"])).stdout.trim());
  const before = await count();
  for (let i = 0; i < 50 && (await count()) === before; i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok((await count()) > before, "the container runs again after the export");
});

test("--rootfs copy: the archive equals the container's plain root directory and the overlay container's", async () => {
  const root = await store();
  const run = await cli(["run", "--rootfs", "copy", "--name", "exp-copy", "exp", "sh", "-c", SCRIPT]);
  assert.equal(run.code, 0, run.stderr);
  containers.push("exp-copy");
  const rec = record(root, "exp-copy");
  assert.equal(rec.rootfs.kind, "copy");
  const file = join(await tmpdir("export-copy"), "copy.tar");
  const r = await cli(["export", "-o", file, "exp-copy"]);
  assert.equal(r.code, 0, r.stderr);
  checkToc(execFileSync(TAR, ["-tvf", file], { encoding: "utf8" }), "copy");
  const x = await extract(file);
  assert.deepEqual(listing(x), listing(join(root, "containers", rec.id, "bundle", "rootfs")));
  // The same script over the same image: the same files, modes and contents as the overlay container exports.
  const other = join(await tmpdir("export-copy"), "overlay.tar");
  if (!containers.includes("exp-stopped")) {
    assert.equal((await cli(["run", "--name", "exp-stopped", "exp", "sh", "-c", SCRIPT])).code, 0);
    containers.push("exp-stopped");
  }
  assert.equal((await cli(["export", "-o", other, "exp-stopped"])).code, 0);
  assert.deepEqual(await snapshot(x), await snapshot(await extract(other)));
});

test("errors: no such container (exit 3), an unwritable -o (exit 1, nothing written), a terminal on stdout", async () => {
  const missing = await cli(["export", "-o", join(await tmpdir("export-err"), "x.tar"), "no-such-container"]);
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /no such container: no-such-container/);
  if (!containers.includes("exp-stopped")) {
    assert.equal((await cli(["run", "--name", "exp-stopped", "exp", "true"])).code, 0);
    containers.push("exp-stopped");
  }
  const dir = await tmpdir("export-err");
  for (const [out, hint] of [
    [join(dir, "no/such/dir/x.tar"), /does not exist/],
    ["/proc/x.tar", /does not take new files/],
    [dir, /is a directory|give a file name/],
  ] as const) {
    const bad = await cli(["export", "-o", out, "exp-stopped"]);
    assert.equal(bad.code, 1, `${out}: ${bad.stderr}`);
    assert.match(bad.stderr, /cannot write the archive/);
    assert.match(bad.stderr, hint);
  }
  assert.deepEqual(readdirSync(dir), []);

  // docker's refusal, on a real terminal (util-linux's script gives the command a pseudo-terminal).
  const script = needTool("script", "bsdutils");
  const root = await store();
  const cmd = [process.execPath, "--import", import.meta.resolve("tsx"), MAIN, "export", "exp-stopped"];
  const tty = spawnSync(script, ["-qec", cmd.map((a) => `'${a}'`).join(" "), "/dev/null"], {
    env: { ...process.env, OSLESS_ROOT: root, NO_COLOR: "1" },
    encoding: "utf8",
  });
  assert.equal(tty.status, 2, tty.stdout + tty.stderr);
  assert.match(
    tty.stdout,
    /^Error: cowardly refusing to save to a terminal\. Use the -o flag or redirect\r?$/m,
  );
});
