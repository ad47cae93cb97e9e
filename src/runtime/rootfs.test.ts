/**
 * Snapshots, the overlay mount entry, the union reader and the copy fallback, against the real kernel: snapshots
 * are mounted with `mount -t overlay` and what the mount shows is the oracle (for UnionRoot, read inside a chroot
 * by Python, so that absolute symlinks resolve as in the container).
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import {
  createReadStream,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { IMAGES, ociLayout } from "../../test/fixtures/images.ts";
import { layoutLayerSources } from "../../test/fixtures/layout.ts";
import { needTool } from "../../test/fixtures/tools.ts";
import { treeListing } from "../../test/layer/tree.ts";
import { acquireLock } from "../_internal/lock.ts";
import { setXattr } from "../_internal/xattr.ts";
import { asDigest, digestOf } from "../digest/index.ts";
import { isOslessError, OslessError } from "../errors.ts";
import type { LayerSource } from "../layer/source.ts";
import { type LayerEntry, opaqueEntry, whiteoutEntry, writeLayer } from "../layer/write.ts";
import {
  chainIds,
  copyRootfs,
  emptyLowerDir,
  lowerDirs,
  MOUNT_DATA_MAX,
  OVERLAY_FIXED_OPTIONS,
  overlayMount,
  overlaySupported,
  prepareSnapshots,
  removeSnapshots,
  type Snapshot,
  type SnapshotState,
  UnionRoot,
} from "./rootfs.ts";

const REPO = new URL("../..", import.meta.url).pathname;
const work = await mkdtemp(join(tmpdir(), "osless-rootfs-"));
const mounts: string[] = [];
after(async () => {
  for (const m of mounts.reverse()) {
    try {
      execFileSync("umount", [m]);
    } catch {
      // already unmounted by its test
    }
  }
  await rm(work, { recursive: true, force: true });
});

let seq = 0;
async function fresh(tag = "d"): Promise<string> {
  const d = join(work, `${tag}-${++seq}`);
  await mkdir(d, { recursive: true });
  return d;
}

// --- layers ------------------------------------------------------------------------------------------------------

const T = 1_700_000_000;
const D = (path: string, extra: Partial<LayerEntry> = {}): LayerEntry => ({
  path,
  type: "directory",
  mode: 0o755,
  uid: 0,
  gid: 0,
  mtime: T,
  ...extra,
});
const F = (path: string, data = "", extra: Partial<LayerEntry> = {}): LayerEntry => ({
  path,
  type: "file",
  mode: 0o644,
  uid: 0,
  gid: 0,
  mtime: T,
  body: Buffer.from(data),
  ...extra,
});
const S = (path: string, target: string): LayerEntry => ({
  path,
  type: "symlink",
  mode: 0o777,
  uid: 0,
  gid: 0,
  mtime: T,
  linkpath: target,
});

interface BlobLayer {
  file: string;
  mediaType: string;
  digest: string;
  size: number;
  diffId: string;
}

/** A gzip layer blob written by osless's layer writer. */
async function blob(entries: LayerEntry[]): Promise<BlobLayer> {
  const file = join(await fresh("blob"), "layer.tar.gz");
  const w = await writeLayer(entries, file);
  return {
    file,
    mediaType: w.descriptor.mediaType,
    digest: w.descriptor.digest,
    size: w.descriptor.size,
    diffId: w.diffId,
  };
}

/** LayerSources over blob files, counting how often each blob is opened. */
function sources(blobs: BlobLayer[], counter = { opens: 0 }): LayerSource[] {
  return blobs.map((b, index) => ({
    index,
    descriptor: { mediaType: b.mediaType, digest: asDigest(b.digest), size: b.size },
    diffId: asDigest(b.diffId),
    open: () => {
      counter.opens++;
      return createReadStream(b.file);
    },
  }));
}

function counted(layers: LayerSource[], counter: { opens: number }): LayerSource[] {
  return layers.map((l) => ({
    ...l,
    open: () => {
      counter.opens++;
      return l.open();
    },
  }));
}

const BASE: LayerEntry[] = [
  D("etc"),
  F("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"),
  F("etc/group", "root:x:0:\n"),
  F("etc/hosts", "127.0.0.1 localhost\n"),
  D("usr"),
  D("usr/bin"),
  F("usr/bin/sh", "#!sh", { mode: 0o755 }),
  F("usr/bin/env", "#!env", { mode: 0o755 }),
  F("usr/bin/wget", "#!wget", { mode: 0o4755 }),
  S("bin", "usr/bin"),
  S("abs-passwd", "/etc/passwd"),
  S("escape", "../../../../etc/passwd"),
  D("usr/lib"),
  D("usr/lib/app", { mode: 0o750, uid: 1000, gid: 1000 }),
  F("usr/lib/app/a.so", "a", { uid: 1000, gid: 1000 }),
  D("usr/lib/app/sub"),
  F("usr/lib/app/sub/b", "b"),
  S("usr/lib/app/up", "../../bin/sh"),
  D("var"),
  D("var/old"),
  F("var/old/log", "log"),
  S("loop1", "loop2"),
  S("loop2", "/loop1"),
  S("self", "./self"),
  S("dangling", "/nope/x"),
  S("lib", "/usr/lib"),
  S("dotdot", ".."),
  D("home"),
  D("home/app", { uid: 1000, gid: 1000, mode: 0o700 }),
  D("stack"),
  F("stack/deep", "deep"),
];
// Symlink chains: 40 expansions resolve, 41 are a loop (ELOOP), as the kernel counts.
for (let i = 0; i < 41; i++) BASE.push(S(`c41-${i}`, i === 40 ? "etc/hosts" : `c41-${i + 1}`));
for (let i = 0; i < 40; i++) BASE.push(S(`c40-${i}`, i === 39 ? "etc/hosts" : `c40-${i + 1}`));

const MIDDLE: LayerEntry[] = [
  D("etc"),
  F("etc/motd", "hi\n"),
  whiteoutEntry("etc/hosts"),
  D("usr"),
  D("usr/bin"),
  whiteoutEntry("usr/bin/wget"),
  D("usr/lib"),
  D("usr/lib/app", { mode: 0o755, uid: 1000, gid: 1000 }),
  opaqueEntry("usr/lib/app"),
  F("usr/lib/app/c.so", "c"),
  whiteoutEntry("var/old"),
  D("var"),
  S("var/run", "/run"),
  D("run"),
  F("run/pid", "1"),
  S("old-link", "/var/old/log"),
  F("stack", "a file over the directory"),
];

const TOP: LayerEntry[] = [
  D("etc"),
  F("etc/hosts", "10.0.0.1 again\n"),
  D("var"),
  D("var/old", { mode: 0o711 }),
  F("var/old/new", "new"),
  S("loop2", "loop1"),
  D("usr"),
  D("usr/bin"),
  S("usr/bin/wget", "env"),
  D("stack"), // a directory over the file over a directory: the file ends the merge
  F("stack/top", "top"),
];

// --- tree comparison -------------------------------------------------------------------------------------------

function mountOverlay(options: string[], at: string): void {
  needTool("mount", "mount");
  execFileSync("mount", ["-t", "overlay", "overlay", "-o", options.join(","), at]);
  mounts.push(at);
}

function unmount(at: string): void {
  execFileSync("umount", [at]);
  mounts.splice(mounts.indexOf(at), 1);
}

// --- tests -------------------------------------------------------------------------------------------------------

describe("chainIds", () => {
  test("the OCI image spec's definition: DiffID first, then sha256 of the previous ChainID, a space, the DiffID", () => {
    const d = [digestOf("a"), digestOf("b"), digestOf("c")];
    const c1 = digestOf(`${d[0]} ${d[1]}`);
    assert.deepEqual(chainIds(d), [d[0], c1, digestOf(`${c1} ${d[2]}`)]);
    assert.deepEqual(chainIds([]), []);
  });
});

describe("prepareSnapshots", () => {
  test("a real image (busybox + a layer with a whiteout): built once, then reused without reading a blob", async () => {
    const layout = await ociLayout(IMAGES.twoLayers);
    const counter = { opens: 0 };
    const layers = counted(layoutLayerSources(layout), counter);
    const root = join(await fresh(), "snapshots");
    const states: [number, SnapshotState][] = [];
    const snaps = await prepareSnapshots(root, layers, { onProgress: (i, s) => states.push([i, s]) });
    assert.equal(counter.opens, 2);
    assert.deepEqual(
      snaps.map((s) => s.chainId),
      chainIds(layers.map((l) => l.diffId)),
    );
    for (const s of snaps) {
      assert.equal(readFileSync(join(s.dir, "../chainid"), "utf8"), `${s.chainId}\n`);
      assert.match(s.dir, /\/snapshots\/[0-9a-f]{12}\/fs$/);
      assert.equal(s.opaqueRoot, false);
    }
    assert.deepEqual(
      states
        .filter(([, s]) => s === "built")
        .map(([i]) => i)
        .sort(),
      [0, 1],
    );
    // The whiteout of layer 2 is a 0:0 device in its snapshot; busybox's files are in layer 1's.
    const wget = lstatSync(join(snaps[1]!.dir, "usr/bin/wget"));
    assert.ok(wget.isCharacterDevice() && wget.rdev === 0);
    assert.ok(lstatSync(join(snaps[0]!.dir, "bin/busybox")).isFile());
    assert.deepEqual(
      readdirSync(root).sort(),
      [...snaps.map((s) => s.dir.split("/").at(-2)!), "empty"].sort(),
    );

    const again: [number, SnapshotState][] = [];
    const snaps2 = await prepareSnapshots(root, layers, { onProgress: (i, s) => again.push([i, s]) });
    assert.equal(counter.opens, 2, "reused snapshots do not open their blobs");
    assert.deepEqual(snaps2, snaps);
    assert.deepEqual(again.sort(), [
      [0, "reused"],
      [1, "reused"],
    ]);

    // The overlay of the snapshots shows what the copy fallback unpacks.
    const copy = join(await fresh(), "rootfs");
    await copyRootfs(layoutLayerSources(layout), copy);
    const merged = await fresh("merged");
    mountOverlay(overlayMount(lowerDirs(snaps)).options, merged);
    try {
      const want = treeListing(copy);
      assert.ok(want.size > 50);
      assert.deepEqual([...treeListing(merged)], [...want]);
    } finally {
      unmount(merged);
    }
  });

  test("concurrent callers in one process build each snapshot once", async () => {
    const blobs = [await blob(BASE), await blob(MIDDLE)];
    const counter = { opens: 0 };
    const root = join(await fresh(), "snapshots");
    const all = await Promise.all([1, 2, 3].map(() => prepareSnapshots(root, sources(blobs, counter))));
    assert.equal(counter.opens, 2);
    assert.deepEqual(all[1], all[0]);
    assert.deepEqual(all[2], all[0]);
  });

  /** A child process preparing snapshots of `blobs` under `root`; `mode` "hang" stops in the middle of the blob. */
  function child(root: string, blobs: BlobLayer[], log: string, mode: "slow" | "hang") {
    const script = join(REPO, "test/runtime/rootfs-test-child.ts");
    return spawn(process.execPath, ["--import", "tsx", script, root, JSON.stringify(blobs), log, mode], {
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
    });
  }

  function exited(
    p: ReturnType<typeof spawn>,
  ): Promise<{ code: number | null; signal: string | null; err: string }> {
    let err = "";
    p.stderr?.on("data", (d) => {
      err += d;
    });
    return new Promise((resolve) => p.on("close", (code, signal) => resolve({ code, signal, err })));
  }

  test("concurrent processes build each snapshot once (the lock), and all get the same snapshots", async () => {
    const blobs = [await blob(BASE), await blob(MIDDLE), await blob(TOP)];
    const root = join(await fresh(), "snapshots");
    const log = join(await fresh(), "opens.log");
    writeFileSync(log, "");
    const kids = [1, 2, 3].map(() => child(root, blobs, log, "slow"));
    const results = await Promise.all(kids.map(exited));
    for (const r of results) assert.equal(r.code, 0, r.err);
    const opens = readFileSync(log, "utf8").trim().split("\n");
    assert.equal(opens.length, 3, `blobs opened: ${opens.join(", ")}`);
    assert.deepEqual(opens.sort(), ["0", "1", "2"]);
    const outs = readFileSync(`${log}.out`, "utf8").trim().split("\n");
    assert.equal(new Set(outs).size, 1, "every process got the same snapshots");
  });

  test("a build killed half-way leaves nothing visible; the next call cleans up and builds it", async () => {
    const blobs = [await blob(BASE)];
    const root = join(await fresh(), "snapshots");
    const log = join(await fresh(), "opens.log");
    writeFileSync(log, "");
    const p = child(root, blobs, log, "hang");
    const done = exited(p);
    await new Promise<void>((resolve, reject) => {
      p.stdout?.on("data", (d) => {
        if (String(d).includes("HALFWAY")) resolve();
      });
      p.on("close", () => reject(new Error("the child ended before reaching the middle of the blob")));
    });
    p.kill("SIGKILL");
    assert.equal((await done).signal, "SIGKILL");
    const [chain] = chainIds([blobs[0]!.diffId]);
    const name = chain!.slice(7, 19);
    const left = readdirSync(root);
    assert.ok(!left.includes(name), `no snapshot ${name} in ${left.join(", ")}`);
    assert.ok(
      left.some((n) => n.startsWith(`.${name}.tmp-`)),
      `the killed build's temp dir: ${left.join(", ")}`,
    );

    const counter = { opens: 0 };
    const [snap] = await prepareSnapshots(root, sources(blobs, counter));
    assert.equal(counter.opens, 1);
    assert.equal(
      readFileSync(join(snap!.dir, "etc/passwd"), "utf8").split("\n")[0],
      "root:x:0:0:root:/root:/bin/sh",
    );
    assert.deepEqual(readdirSync(root).sort(), [name, "empty"]);
  });

  test("a corrupt blob (wrong DiffID) fails its layer and leaves no snapshot of it", async () => {
    const good = await blob(BASE);
    const other = await blob(MIDDLE);
    const layers = sources([good, { ...other, diffId: digestOf("not this layer") }]);
    const root = join(await fresh(), "snapshots");
    await assert.rejects(
      prepareSnapshots(root, layers),
      (e: unknown) => isOslessError(e, "E_DIGEST_MISMATCH") && /layer 2/.test((e as Error).message),
    );
    const names = readdirSync(root).sort();
    const goodName = chainIds([good.diffId])[0]!.slice(7, 19);
    // The good layer's snapshot may be complete (it is shared and correct) or not started; nothing else exists.
    assert.ok(
      names.every((n) => n === "empty" || n === goodName),
      names.join(", "),
    );
  });

  test("an abort stops the build and leaves nothing half-built", async () => {
    const blobs = [await blob(BASE)];
    const root = join(await fresh(), "snapshots");
    const ac = new AbortController();
    const layers = sources(blobs).map((l) => ({
      ...l,
      open: async function* () {
        let n = 0;
        for await (const c of createReadStream(blobs[0]!.file, { highWaterMark: 256 })) {
          if (++n === 3) ac.abort(new OslessError("E_INTERRUPTED", "interrupted"));
          yield c as Buffer;
        }
      },
    }));
    await assert.rejects(prepareSnapshots(root, layers, { signal: ac.signal }), (e: unknown) =>
      isOslessError(e, "E_INTERRUPTED"),
    );
    assert.deepEqual(readdirSync(root), ["empty"]);
  });

  test("a ChainID prefix taken by another chain: the snapshot goes to a longer name", async () => {
    const blobs = [await blob(BASE)];
    const [chain] = chainIds([blobs[0]!.diffId]);
    const root = join(await fresh(), "snapshots");
    const short = chain!.slice(7, 19);
    mkdirSync(join(root, short, "fs"), { recursive: true });
    writeFileSync(join(root, short, "chainid"), `sha256:${short}${"0".repeat(52)}\n`);
    const [snap] = await prepareSnapshots(root, sources(blobs));
    assert.equal(snap!.dir, join(root, chain!.slice(7, 23), "fs"));
    const counter = { opens: 0 };
    assert.deepEqual(await prepareSnapshots(root, sources(blobs, counter)), [snap]);
    assert.equal(counter.opens, 0);
  });

  test("a layer whose root is opaque hides the layers below it: lowerDirs leaves them out", async () => {
    const blobs = [await blob(BASE), await blob([opaqueEntry("."), D("etc"), F("etc/only", "x")])];
    const root = join(await fresh(), "snapshots");
    const snaps = await prepareSnapshots(root, sources(blobs));
    assert.deepEqual(
      snaps.map((s) => s.opaqueRoot),
      [false, true],
    );
    assert.deepEqual(lowerDirs(snaps), [snaps[1]!.dir]);
    const copy = join(await fresh(), "rootfs");
    await copyRootfs(sources(blobs), copy);
    const merged = await fresh("merged");
    mountOverlay(overlayMount(lowerDirs(snaps)).options, merged);
    try {
      assert.deepEqual([...treeListing(merged)], [...treeListing(copy)]);
      assert.deepEqual(readdirSync(merged), ["etc"]);
    } finally {
      unmount(merged);
    }
  });
});

describe("removeSnapshots", () => {
  test("removes what is not kept and the leftovers of killed builds, not what a live build holds", async () => {
    const a = [await blob(BASE), await blob(MIDDLE)];
    const b = [await blob(TOP)];
    const root = join(await fresh(), "snapshots");
    const sa = await prepareSnapshots(root, sources(a));
    const sb = await prepareSnapshots(root, sources(b));
    mkdirSync(join(root, ".0123456789ab.tmp-XXXXXX/fs"), { recursive: true }); // a killed build
    mkdirSync(join(root, ".ba9876543210.tmp-YYYYYY/fs"), { recursive: true }); // a live one
    const release = await acquireLock(join(root, "ba9876543210.lock"));
    try {
      const removed = await removeSnapshots(root, new Set(sa.map((s) => s.chainId)));
      assert.deepEqual(removed, [sb[0]!.chainId]);
      for (const s of sa) assert.ok(existsSync(s.dir));
      assert.ok(!existsSync(sb[0]!.dir));
      const names = readdirSync(root);
      assert.ok(!names.includes(".0123456789ab.tmp-XXXXXX"));
      assert.ok(names.includes(".ba9876543210.tmp-YYYYYY"));
      assert.ok(names.includes("empty"));
    } finally {
      await release();
    }
    assert.deepEqual((await removeSnapshots(root, new Set())).sort(), sa.map((s) => s.chainId).sort());
  });
});

describe("overlayMount", () => {
  test("lower top first, then upper and work; read-only with one lower dir adds the empty dir", () => {
    assert.deepEqual(overlayMount(["/s/b/fs", "/s/a/fs"], "/c/upper", "/c/work"), {
      destination: "/",
      type: "overlay",
      source: "overlay",
      options: ["lowerdir=/s/b/fs:/s/a/fs", "upperdir=/c/upper", "workdir=/c/work", ...OVERLAY_FIXED_OPTIONS],
    });
    assert.deepEqual(overlayMount(["/s/b/fs", "/s/a/fs"]).options, [
      "lowerdir=/s/b/fs:/s/a/fs",
      ...OVERLAY_FIXED_OPTIONS,
    ]);
    const root = join(work, "ro-one");
    mkdirSync(emptyLowerDir(root), { recursive: true });
    assert.deepEqual(overlayMount([join(root, "abc/fs")]).options, [
      `lowerdir=${join(root, "abc/fs")}:${emptyLowerDir(root)}`,
      ...OVERLAY_FIXED_OPTIONS,
    ]);
    assert.throws(
      () => overlayMount(["/nowhere/abc/fs"]),
      (e: unknown) => isOslessError(e, "E_RUNTIME"),
    );
  });

  test("more option bytes than the page the kernel reads: an error naming the layers and the copy fallback", () => {
    const extra = OVERLAY_FIXED_OPTIONS.join(",").length + 1;
    const fixed = "upperdir=/u,workdir=/w".length + 1 + "lowerdir=".length + 1 + extra; // separators and the NUL
    // n lower dirs of `len` bytes joined by ':' fill exactly MOUNT_DATA_MAX bytes.
    const n = 100;
    const budget = MOUNT_DATA_MAX - fixed - (n - 1);
    const paths = (total: number) =>
      Array.from({ length: n }, (_, i) => {
        const len = Math.floor(total / n) + (i < total % n ? 1 : 0);
        return `/${"x".repeat(len - 1 - String(i).length)}${i}`;
      });
    const fits = overlayMount(paths(budget), "/u", "/w");
    assert.equal(Buffer.byteLength(fits.options.join(",")) + 1, MOUNT_DATA_MAX);
    assert.throws(
      () => overlayMount(paths(budget + 1), "/u", "/w"),
      (e: unknown) =>
        isOslessError(e, "E_RUNTIME") &&
        /100 layers/.test((e as Error).message) &&
        /copy fallback/.test((e as OslessError).hint ?? ""),
    );
  });

  test("the limit is the kernel's: options of exactly one page mount, one byte more do not", async () => {
    const base = await fresh("limit");
    /** 30 lower dirs whose options (`lowerdir=` and the fixed ones) are `total` bytes with their NUL. */
    const dirs = (total: number) => {
      const n = 30;
      const extra = OVERLAY_FIXED_OPTIONS.join(",").length + 1;
      const budget = total - "lowerdir=".length - 1 - (n - 1) - extra;
      return Array.from({ length: n }, (_, i) => {
        const len = Math.floor(budget / n) + (i < budget % n ? 1 : 0);
        const d = `${base}/${i}-`.padEnd(len, "x");
        mkdirSync(d, { recursive: true });
        return d;
      });
    };
    const merged = await fresh("merged");
    const atLimit = overlayMount(dirs(MOUNT_DATA_MAX));
    assert.equal(Buffer.byteLength(atLimit.options.join(",")) + 1, MOUNT_DATA_MAX);
    mountOverlay(atLimit.options, merged);
    unmount(merged);
    const over = dirs(MOUNT_DATA_MAX + 1);
    assert.throws(
      () => overlayMount(over),
      (e: unknown) => isOslessError(e, "E_RUNTIME"),
    );
    // What the kernel does with it: it reads one page, so the last lower dir's name is cut and the mount fails.
    assert.throws(() =>
      execFileSync(
        "mount",
        [
          "-t",
          "overlay",
          "overlay",
          "-o",
          [`lowerdir=${over.join(":")}`, ...OVERLAY_FIXED_OPTIONS].join(","),
          merged,
        ],
        {
          stdio: "pipe",
        },
      ),
    );
  });

  test("paths overlayfs cannot take are refused", () => {
    for (const bad of [
      ["/a:b", "/c"],
      ["/a,b", "/c"],
      ["rel", "/c"],
    ]) {
      assert.throws(
        () => overlayMount(bad, "/u", "/w"),
        (e: unknown) => isOslessError(e, "E_USAGE"),
        bad.join(),
      );
    }
    assert.throws(
      () => overlayMount(["/a", "/b"], "/u,x", "/w"),
      (e: unknown) => isOslessError(e, "E_USAGE"),
    );
    assert.throws(
      () => overlayMount([], "/u", "/w"),
      (e: unknown) => isOslessError(e, "E_USAGE"),
    );
  });
});

describe("overlaySupported", () => {
  test("true on ext4 and tmpfs (also for a dir not made yet), false inside an overlay mount", async () => {
    const d = await fresh();
    assert.equal(overlaySupported(d), true);
    // The probe's success is remembered in the directory, for this kernel and filesystem type.
    assert.match(readFileSync(join(d, ".overlay-ok"), "utf8"), /^\S+ \d+\n$/);
    assert.equal(overlaySupported(join(d, "not/yet")), true);
    const tmpfs = await fresh("tmpfs");
    execFileSync("mount", ["-t", "tmpfs", "osless-test", tmpfs]);
    mounts.push(tmpfs);
    try {
      assert.equal(overlaySupported(tmpfs), true);
    } finally {
      unmount(tmpfs);
    }
    const [l1, l2, m] = [await fresh(), await fresh(), await fresh("merged")];
    mountOverlay([`lowerdir=${l1}:${l2}`], m);
    try {
      assert.equal(overlaySupported(m), false);
      assert.equal(overlaySupported(m), false);
    } finally {
      unmount(m);
    }
  });
});

describe("UnionRoot", () => {
  /**
   * What the kernel says about `paths` in the mounted root `merged`, from Python chrooted into it (so absolute
   * symlinks resolve inside): lstat, stat, contents of regular files, errno names.
   */
  function kernelView(merged: string, paths: string[]): Record<string, KernelAnswer> {
    const py = needTool("python3", "python3");
    const script = `
import errno, json, os, stat, sys, base64
paths = json.load(sys.stdin)
os.chroot(sys.argv[1]); os.chdir("/")
def kind(m):
    for t, f in (("file", stat.S_ISREG), ("dir", stat.S_ISDIR), ("symlink", stat.S_ISLNK), ("char", stat.S_ISCHR), ("block", stat.S_ISBLK), ("fifo", stat.S_ISFIFO)):
        if f(m): return t
    return "socket"
def info(fn, p):
    try:
        st = fn(p)
    except OSError as e:
        return {"errno": errno.errorcode[e.errno]}
    return {"type": kind(st.st_mode), "mode": st.st_mode & 0o7777, "uid": st.st_uid, "gid": st.st_gid, "size": st.st_size, "dev": st.st_dev, "ino": st.st_ino}
out = {}
for p in paths:
    a = {"lstat": info(os.lstat, p), "stat": info(os.stat, p)}
    if a["stat"].get("type") == "file":
        with open(p, "rb") as f: a["data"] = base64.b64encode(f.read()).decode()
    out[p] = a
json.dump(out, sys.stdout)
`;
    return JSON.parse(execFileSync(py, ["-c", script, merged], { input: JSON.stringify(paths) }).toString());
  }

  interface KernelStat {
    errno?: string;
    type?: string;
    mode?: number;
    uid?: number;
    gid?: number;
    size?: number;
    dev?: number;
    ino?: number;
  }
  interface KernelAnswer {
    lstat: KernelStat;
    stat: KernelStat;
    data?: string;
  }

  function allPaths(merged: string): string[] {
    const out = ["/"];
    const walk = (rel: string) => {
      for (const n of readdirSync(join(merged, rel))) {
        const r = rel === "" ? n : `${rel}/${n}`;
        out.push(`/${r}`);
        if (lstatSync(join(merged, r)).isDirectory()) walk(r);
      }
    };
    walk("");
    return out;
  }

  const TRICKY = [
    "/abs-passwd",
    "/escape",
    "/bin/sh",
    "/bin/../etc/passwd", // `..` after a symlinked directory: usr/bin/.. is usr
    "/bin/../../etc/group",
    "/lib/app/up",
    "/lib/app/c.so",
    "/lib/app/a.so", // below an opaque directory
    "/usr/lib/app/sub/b",
    "/usr/bin/wget", // whited out in the middle, a symlink again on top
    "/etc/hosts", // whited out in the middle, back on top
    "/var/old/log", // a whited-out directory's old child
    "/var/old/new",
    "/old-link",
    "/var/run/pid", // a symlinked directory from a middle layer
    "/loop1",
    "/loop2",
    "/self",
    "/dangling",
    "/dotdot/dotdot/etc/passwd",
    "/c41-0",
    "/c40-0",
    "/etc/passwd/..", // ENOTDIR
    "/etc/passwd/",
    "/etc/",
    "/bin/",
    "/nope/..",
    "/var/old/log/..",
    "//etc///passwd",
    "/./etc/./passwd",
    "/../../etc/passwd",
    "etc/passwd",
    "/up-file",
    "/up-dir/x",
    "/etc/motd", // whited out in the upper dir
    "/home/app/profile", // below an opaque directory of the upper dir
    "/home/app",
    "/run/pid",
    "/stack/deep",
    "/stack/top",
    "/",
  ];

  test("answers what the kernel's overlay mount shows, for every path and tricky symlinks", async () => {
    const blobs = [await blob(BASE), await blob(MIDDLE), await blob(TOP)];
    const root = join(await fresh(), "snapshots");
    const snaps: Snapshot[] = await prepareSnapshots(root, sources(blobs));
    // An upper dir with what a container may have written: a file, a whiteout, an opaque directory.
    const [upper, wk, merged] = [await fresh("upper"), await fresh("work"), await fresh("merged")];
    writeFileSync(join(upper, "up-file"), "up");
    mkdirSync(join(upper, "up-dir"));
    writeFileSync(join(upper, "up-dir/x"), "x");
    mkdirSync(join(upper, "etc"));
    execFileSync("mknod", ["-m", "0", join(upper, "etc/motd"), "c", "0", "0"]);
    mkdirSync(join(upper, "home/app"), { recursive: true });
    setXattr(join(upper, "home/app"), "trusted.overlay.opaque", Buffer.from("y"));
    writeFileSync(join(upper, "home/app/profile"), "p");
    const lower = lowerDirs(snaps);
    mountOverlay(overlayMount(lower, upper, wk).options, merged);
    try {
      const paths = [...new Set([...allPaths(merged), ...TRICKY])];
      const kernel = kernelView(merged, paths);
      const union = new UnionRoot(lower, upper);
      let checked = 0;
      for (const p of paths) {
        const k = kernel[p]!;
        for (const follow of [false, true]) {
          const ks = follow ? k.stat : k.lstat;
          let ours: ReturnType<UnionRoot["stat"]>;
          try {
            ours = union.stat(p, { follow });
          } catch (e) {
            assert.ok(isOslessError(e, "E_LAYER_INVALID"), `${p}: ${(e as Error).message}`);
            assert.equal(
              ks.errno,
              "ELOOP",
              `${p} (follow ${follow}): we say ELOOP, the kernel ${JSON.stringify(ks)}`,
            );
            continue;
          }
          if (ks.errno !== undefined) {
            assert.equal(ours, undefined, `${p} (follow ${follow}): the kernel says ${ks.errno}`);
            assert.ok(["ENOENT", "ENOTDIR"].includes(ks.errno), `${p}: ${ks.errno}`);
          } else {
            const { type, mode, uid, gid, size } = ks;
            assert.deepEqual(ours, { type, mode, uid, gid, size }, `${p} (follow ${follow})`);
          }
          checked++;
        }
        if (k.stat.errno === "ELOOP") {
          assert.throws(
            () => union.resolve(p),
            (e: unknown) => isOslessError(e, "E_LAYER_INVALID"),
            p,
          );
          assert.throws(
            () => union.readFile(p),
            (e: unknown) => isOslessError(e, "E_LAYER_INVALID"),
            p,
          );
          continue;
        }
        const data = union.readFile(p);
        assert.equal(data?.toString("base64"), k.data, `${p}: contents`);
        const resolved = union.resolve(p);
        if (k.stat.errno !== undefined) {
          assert.equal(resolved, undefined, p);
        } else {
          // The resolved path names the very object the kernel found.
          assert.ok(resolved !== undefined, p);
          const st = lstatSync(join(merged, resolved));
          assert.deepEqual([st.dev, st.ino], [k.stat.dev, k.stat.ino], `${p} resolved to ${resolved}`);
        }
      }
      assert.ok(checked > 250, `checked ${checked}`);
      // A few answers spelled out, so that a kernel and a reader wrong the same way would still be caught.
      assert.equal(union.readFile("/escape")?.toString().split("\n")[0], "root:x:0:0:root:/root:/bin/sh");
      assert.equal(union.resolve("/bin/../etc/passwd"), undefined); // /usr/etc/passwd does not exist
      assert.equal(union.resolve("/bin/sh"), "/usr/bin/sh");
      assert.equal(union.resolve("/usr/bin/wget"), "/usr/bin/env");
      assert.equal(union.stat("/lib/app/a.so"), undefined);
      assert.equal(union.stat("/var/old/log"), undefined);
      assert.equal(union.stat("/etc/motd"), undefined);
      assert.equal(union.readFile("/etc/hosts")?.toString(), "10.0.0.1 again\n");
      assert.equal(union.stat("/home/app")?.mode, 0o755);
      assert.equal(union.stat("/usr/bin/wget")?.type, "symlink");
    } finally {
      unmount(merged);
    }
  });

  test("the snapshots' overlay shows what the copy fallback gives for the same layers", async () => {
    const blobs = [await blob(BASE), await blob(MIDDLE), await blob(TOP)];
    const snaps = await prepareSnapshots(join(await fresh(), "snapshots"), sources(blobs));
    const copy = join(await fresh(), "rootfs");
    await copyRootfs(sources(blobs), copy);
    const merged = await fresh("merged");
    mountOverlay(overlayMount(lowerDirs(snaps)).options, merged);
    try {
      const want = treeListing(copy);
      assert.deepEqual([...treeListing(merged)], [...want]);
      assert.equal(want.get("stack/deep"), undefined);
      assert.ok(want.get("stack/top")?.startsWith("file"));
    } finally {
      unmount(merged);
    }
  });

  test("a missing layer directory is an error, not an empty root", () => {
    assert.throws(
      () => new UnionRoot(["/nonexistent/osless/fs"]).stat("/etc"),
      (e: unknown) => isOslessError(e, "E_IO"),
    );
  });
});
