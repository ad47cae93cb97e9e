/**
 * applyLayer on its own (the corpus in test/e2e/layer-corpus.test.ts covers the rules row by row through
 * unpackLayers): counts, whiteout bookkeeping across many entries, directory times, the read-ahead, the
 * unterminated-layer tolerance, and the unprivileged path run for real as `nobody`.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { needTool } from "../../test/fixtures/tools.ts";
import { treeListing } from "../../test/layer/tree.ts";
import { getXattr } from "../_internal/xattr.ts";
import { isOslessError } from "../errors.ts";
import { tarBytes } from "../tar/testkit.ts";
import type { TarWriteItem } from "../tar/writer.ts";
import { type ApplyWarning, applyLayer, isPrivileged, readAhead } from "./apply.ts";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function fresh(): string {
  const d = mkdtempSync(join(tmpdir(), "osless-apply-"));
  dirs.push(d);
  return d;
}

const T = 1_700_000_000;
const F = (path: string, data = "", extra: Partial<TarWriteItem["entry"]> = {}): TarWriteItem => ({
  entry: { path, type: "file", mode: 0o644, mtime: T, ...extra },
  body: Buffer.from(data),
});
const D = (path: string, extra: Partial<TarWriteItem["entry"]> = {}): TarWriteItem => ({
  entry: { path, type: "directory", mode: 0o755, mtime: T, ...extra },
});

async function* once(b: Buffer, chunk = 4096): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; i += chunk) yield b.subarray(i, i + chunk);
}

async function apply(root: string, items: TarWriteItem[], opts = {}) {
  return applyLayer(once(await tarBytes(items)), root, opts);
}

describe("applyLayer", () => {
  test("counts entries (markers and ignored ones too), file bytes and whiteouts", async () => {
    const root = fresh();
    await apply(root, [F("gone", "x"), F("stay", "y")]);
    const r = await apply(root, [
      F("a", "12345"),
      D("d"),
      F(".wh.gone"),
      F(".wh..wh.aufs"),
      F("d/.wh..wh..opq"),
    ]);
    assert.deepEqual(r, { entries: 5, bytes: 5, whiteouts: 2, warnings: 0 });
    assert.deepEqual(readdirSync(root).sort(), ["a", "d", "stay"]);
  });

  test("a whiteout after thousands of entries still spares every entry of its own layer", async () => {
    const root = fresh();
    await apply(root, [D("d"), F("d/lower-0", "l"), F("d/lower-1", "l")]);
    const items = Array.from({ length: 3000 }, (_, i) => F(`d/new-${i}`, "n"));
    await apply(root, [...items, F("d/.wh..wh..opq"), F("d/.wh.new-7"), F(".wh.d")]);
    const names = readdirSync(join(root, "d"));
    assert.equal(names.length, 3000);
    assert.ok(!names.includes("lower-0") && names.includes("new-7"));
  });

  test("directories get their mode and times after their children, and a lower one its times back", async () => {
    const root = fresh();
    await apply(root, [D("ro", { mode: 0o555, mtime: 1000 }), F("ro/f", "f"), D("lower", { mtime: 2000 })]);
    const ro = lstatSync(join(root, "ro"));
    assert.deepEqual([ro.mode & 0o7777, ro.mtimeMs], [0o555, 1_000_000]);
    await apply(root, [F("lower/new", "n"), F("ro/.wh.f")]);
    assert.equal(lstatSync(join(root, "lower")).mtimeMs, 2_000_000);
    assert.equal(lstatSync(join(root, "ro")).mtimeMs, 1_000_000);
    assert.deepEqual(readdirSync(join(root, "ro")), []);
  });

  test("an entry whose stream ends right after its data (umoci 0.4.7) is applied; a partial padding is not", async () => {
    const t = await tarBytes([F("a", "abc")]);
    const root = fresh();
    const r = await applyLayer(once(t.subarray(0, 512 + 3)), root);
    assert.equal(r.entries, 1);
    assert.equal(readFileSync(join(root, "a"), "utf8"), "abc");
    await assert.rejects(applyLayer(once(t.subarray(0, 512 + 4)), fresh()), (e: unknown) =>
      isOslessError(e, "E_TAR_TRUNCATED"),
    );
    await assert.rejects(applyLayer(once(t.subarray(0, 512 + 2)), fresh()), (e: unknown) =>
      isOslessError(e, "E_TAR_TRUNCATED"),
    );
  });

  test("an aborted signal stops at the next entry", async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(
      apply(fresh(), [F("a")], { signal: ac.signal }),
      (e: unknown) => (e as Error).name === "AbortError",
    );
  });

  test("a root that is not a directory is refused", async () => {
    const file = join(fresh(), "file");
    writeFileSync(file, "");
    await assert.rejects(apply(file, [F("a")]), (e: unknown) => isOslessError(e, "E_IO"));
  });

  test("isPrivileged: root outside a user namespace here", () => {
    const full =
      readFileSync("/proc/self/uid_map", "utf8").trim().split(/\s+/).join(" ") === "0 0 4294967295";
    assert.equal(isPrivileged(), process.getuid?.() === 0 && full);
  });
});

describe("readAhead", () => {
  test("passes every chunk through, in order", async () => {
    const parts = Array.from({ length: 50 }, (_, i) => Buffer.from([i]));
    const chunks: Buffer[] = [];
    for await (const c of readAhead(
      (async function* () {
        yield* parts;
      })(),
    ))
      chunks.push(Buffer.from(c));
    assert.deepEqual(chunks, parts);
  });

  test("reads at most maxBytes ahead of a stalled consumer", async () => {
    let pulled = 0;
    const src = (async function* () {
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield Buffer.alloc(1024);
      }
    })();
    const it = readAhead(src, 16 * 1024)[Symbol.asyncIterator]();
    await it.next();
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(pulled <= 16 + 2, `pulled ${pulled} chunks of 1 KiB`);
    await it.return?.(undefined);
  });

  test("a source error surfaces after the chunks before it", async () => {
    const src = (async function* () {
      yield Buffer.from("a");
      yield Buffer.from("b");
      throw new Error("boom");
    })();
    const got: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const c of readAhead(src)) got.push(Buffer.from(c).toString());
      })(),
      /boom/,
    );
    assert.deepEqual(got, ["a", "b"]);
  });

  test("stopping early closes the source", async () => {
    let closed = false;
    const src = (async function* () {
      try {
        for (;;) yield Buffer.alloc(10);
      } finally {
        closed = true;
      }
    })();
    for await (const _ of readAhead(src)) break;
    assert.ok(closed);
  });

  /** A source of `n` chunks (each after `delay` ms) that counts the calls of its iterator's `return`. */
  function spySource(n: number, delay = 0) {
    const spy = { returns: 0, pulled: 0 };
    const iterable: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => ({
        next: async () => {
          if (delay > 0) await new Promise((r) => setTimeout(r, delay));
          if (spy.pulled >= n) return { done: true, value: undefined };
          spy.pulled++;
          return { done: false, value: Buffer.alloc(1024) };
        },
        return: async () => {
          spy.returns++;
          return { done: true, value: undefined };
        },
      }),
    };
    return { spy, iterable };
  }

  test("a consumer that stops early closes an unfinished source, wherever the read-ahead is; a finished one is not", async () => {
    // The read-ahead is full (waiting for room) when the consumer stops.
    const full = spySource(1000);
    const it = readAhead(full.iterable, 4 * 1024)[Symbol.asyncIterator]();
    await it.next();
    await new Promise((r) => setTimeout(r, 20));
    await it.return(undefined);
    assert.equal(full.spy.returns, 1);
    // A pull is in flight (slow source) when the consumer stops.
    const slow = spySource(1000, 20);
    for await (const _ of readAhead(slow.iterable)) break;
    assert.equal(slow.spy.returns, 1);
    // The source ended: nothing to close, even if the consumer stops before the last chunk.
    const ended = spySource(3);
    const it2 = readAhead(ended.iterable)[Symbol.asyncIterator]();
    await it2.next();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(ended.spy.pulled, 3);
    await it2.return(undefined);
    assert.equal(ended.spy.returns, 0);
  });
});

describe("unprivileged, for real (as nobody)", () => {
  test("layers over 0555 directories: children added and whiteouts applied, modes restored, no chown", async () => {
    const setpriv = "/usr/bin/setpriv";
    assert.ok(lstatSync(setpriv).isFile(), "setpriv is missing: install the Debian package util-linux");
    const work = fresh();
    chmodSync(work, 0o755);
    const root = join(work, "root");
    mkdirSync(root);
    chownSync(root, 65534, 65534);
    const l1 = join(work, "l1.tar");
    const l2 = join(work, "l2.tar");
    const l3 = join(work, "l3.tar");
    writeFileSync(
      l1,
      await tarBytes([
        D("usr", { mode: 0o555 }),
        F("usr/old", "o"),
        D("usr/bin", { mode: 0o555 }),
        F("usr/bin/x", "x", { uid: 0 }),
        D("usr/lib", { mode: 0o500 }),
        F("usr/lib/a", "a"),
        D("usr/lib/sub", { mode: 0o500 }),
        F("usr/lib/sub/b", "b"),
      ]),
    );
    writeFileSync(
      l2,
      await tarBytes([
        // FIFOs (made by mknod) in lower 0555 directories, first thing in them; one over a lower file (R6).
        { entry: { path: "usr/bin/p", type: "fifo", mode: 0o640 } },
        { entry: { path: "usr/old", type: "fifo", mode: 0o600 } },
        F("usr/new", "n"),
        F("usr/bin/.wh.x"),
        F("usr/bin/y", "y", { uid: 1234 }),
        F("usr/old", "o2"),
      ]),
    );
    writeFileSync(l3, await tarBytes([F("usr/lib/z", "z"), F("usr/lib/.wh..wh..opq")]));
    // The child runs as nobody, who may not be able to read the checkout (a clone under a 0700 directory):
    // compile the library into the world-readable work dir and run plain JavaScript from there.
    const repo = new URL("../..", import.meta.url).pathname;
    const dist = join(work, "dist");
    execFileSync(process.execPath, [
      join(repo, "node_modules/typescript/bin/tsc"),
      "-p",
      join(repo, "tsconfig.build.json"),
      "--outDir",
      dist,
      "--declaration",
      "false",
      "--sourceMap",
      "false",
    ]);
    writeFileSync(join(dist, "package.json"), '{"type":"module"}');
    const script = join(work, "child.mjs");
    writeFileSync(
      script,
      `import { readFileSync } from "node:fs";
import { applyLayer } from ${JSON.stringify(join(dist, "layer/apply.js"))};
async function* read(p) { yield readFileSync(p); }
const warnings = [];
for (const l of ${JSON.stringify([l1, l2, l3])}) await applyLayer(read(l), ${JSON.stringify(root)}, { onWarning: (w) => warnings.push(w) });
console.log(JSON.stringify({ uid: process.getuid(), warnings }));
`,
    );
    execFileSync("chmod", ["-R", "a+rX", dist, script]);
    const out = execFileSync(
      setpriv,
      ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, script],
      { cwd: work, env: { ...process.env, HOME: work } },
    ).toString();
    const child = JSON.parse(out.trim().split("\n").at(-1)!) as { uid: number; warnings: ApplyWarning[] };
    assert.equal(child.uid, 65534);
    assert.deepEqual(child.warnings, []);
    assert.deepEqual(readdirSync(join(root, "usr")).sort(), ["bin", "lib", "new", "old"]);
    assert.deepEqual(readdirSync(join(root, "usr/bin")).sort(), ["p", "y"]);
    const fifo = lstatSync(join(root, "usr/bin/p"));
    assert.ok(fifo.isFIFO());
    assert.equal(fifo.mode & 0o7777, 0o640);
    assert.equal(readFileSync(join(root, "usr/old"), "utf8"), "o2");
    for (const d of ["usr", "usr/bin"]) assert.equal(lstatSync(join(root, d)).mode & 0o7777, 0o555, d);
    assert.equal(lstatSync(join(root, "usr/lib")).mode & 0o7777, 0o500);
    chmodSync(join(root, "usr/lib"), 0o700);
    assert.deepEqual(readdirSync(join(root, "usr/lib")), ["z"]);
    assert.equal(lstatSync(join(root, "usr/bin/y")).uid, 65534);
  });
});

describe("many files", () => {
  test("many small files keep their data, owner, setuid mode and times; hard links to them share the inode", async () => {
    const root = fresh();
    const items: TarWriteItem[] = [];
    for (let i = 0; i < 300; i++) {
      items.push(
        F(`d${i % 7}/f${i}`, `data ${i} `.repeat(i), {
          uid: 1000 + i,
          gid: 2000,
          mode: i % 2 ? 0o4755 : 0o600,
        }),
      );
    }
    items.push({ entry: { path: "d0/link", type: "hardlink", linkpath: "d0/f7", mtime: T } });
    await apply(root, items, { privileged: true });
    for (let i = 0; i < 300; i++) {
      const p = join(root, `d${i % 7}/f${i}`);
      const st = lstatSync(p);
      assert.equal(readFileSync(p, "utf8"), `data ${i} `.repeat(i));
      assert.equal(st.uid, 1000 + i);
      assert.equal(st.mode & 0o7777, i % 2 ? 0o4755 : 0o600, `mode of f${i}`);
      assert.equal(Math.floor(st.mtimeMs / 1000), T);
    }
    assert.equal(lstatSync(join(root, "d0/link")).ino, lstatSync(join(root, "d0/f7")).ino);
  });

  test("a write that fails (ENOSPC on a tiny tmpfs) fails the layer with E_IO naming the cause", async () => {
    const mnt = fresh();
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k", "osless-test", mnt]);
    try {
      const items = Array.from({ length: 200 }, (_, i) => F(`f${i}`, "x".repeat(8192)));
      await assert.rejects(
        apply(mnt, items, { privileged: true }),
        (e) => isOslessError(e, "E_IO") && /ENOSPC|no space/i.test(e.message),
      );
    } finally {
      execFileSync("umount", [mnt]);
    }
  });
});

describe('whiteouts: "overlay" (one layer alone, as an overlayfs lower dir)', () => {
  const S = (path: string, target: string): TarWriteItem => ({
    entry: { path, type: "symlink", linkpath: target, mtime: T },
  });
  const overlay = { whiteouts: "overlay" as const };

  function isWhiteoutDevice(p: string): boolean {
    const st = lstatSync(p);
    return st.isCharacterDevice() && st.rdev === 0 && (st.mode & 0o7777) === 0;
  }
  function opaque(p: string): string | undefined {
    return getXattr(p, "trusted.overlay.opaque")?.toString();
  }

  test("a file whiteout and a directory whiteout become 0:0 character devices, an opaque marker the xattr", async () => {
    const root = fresh();
    const r = await apply(
      root,
      [D("etc"), F("etc/.wh.gone"), F(".wh.olddir"), D("var"), F("var/.wh..wh..opq"), F("var/kept", "k")],
      overlay,
    );
    assert.equal(r.whiteouts, 3);
    assert.ok(isWhiteoutDevice(join(root, "etc/gone")));
    assert.ok(isWhiteoutDevice(join(root, "olddir")));
    assert.equal(opaque(join(root, "var")), "y");
    assert.equal(opaque(join(root, "etc")), undefined);
    assert.equal(readFileSync(join(root, "var/kept"), "utf8"), "k");
    assert.deepEqual(readdirSync(root).sort(), ["etc", "olddir", "var"]);
  });

  test("the layer's own entry wins over its whiteout, in either order; a directory it keeps turns opaque", async () => {
    const root = fresh();
    await apply(
      root,
      [
        F(".wh.f1"),
        F("f1", "mine"), // whiteout first, then the file
        F("f2", "mine"),
        F(".wh.f2"), // the file first
        F(".wh.d1"),
        D("d1"),
        F("d1/a", "a"), // a directory replacing the lower one
        D("d2"),
        F("d2/a", "a"),
        F(".wh.d2"),
        F(".wh.d3"),
        D("d3/sub", {}), // only a descendant: d3 is made as its parent
        // a marker-made parent is not the layer's: a later whiteout replaces it
        F("d4/.wh.x"),
        F(".wh.d4"),
        // below this layer's own file or whiteout, markers change nothing
        F("f1/.wh.y"),
        F("d4/.wh..wh..opq"),
      ],
      overlay,
    );
    assert.equal(readFileSync(join(root, "f1"), "utf8"), "mine");
    assert.equal(readFileSync(join(root, "f2"), "utf8"), "mine");
    for (const d of ["d1", "d2", "d3"]) {
      assert.ok(lstatSync(join(root, d)).isDirectory(), d);
      assert.equal(opaque(join(root, d)), "y", d);
    }
    assert.deepEqual(readdirSync(join(root, "d1")), ["a"]);
    assert.deepEqual(readdirSync(join(root, "d3")), ["sub"]);
    assert.equal(opaque(join(root, "d3/sub")), undefined);
    assert.ok(isWhiteoutDevice(join(root, "d4")));
  });

  test("an opaque marker for a directory the layer does not list makes it (0755 root) and marks it", async () => {
    const root = fresh();
    await apply(root, [F("a/b/.wh..wh..opq")], overlay);
    const st = lstatSync(join(root, "a/b"));
    assert.deepEqual([st.isDirectory(), st.mode & 0o7777, st.uid], [true, 0o755, 0]);
    assert.equal(opaque(join(root, "a/b")), "y");
    assert.equal(opaque(join(root, "a")), undefined);
  });

  test("without privilege it is refused before anything is written (E_DENIED)", async () => {
    const root = fresh();
    await assert.rejects(
      apply(root, [F("a", "a"), F(".wh.b")], { ...overlay, privileged: false }),
      (e: unknown) => isOslessError(e, "E_DENIED") && /overlay whiteouts/.test((e as Error).message),
    );
    assert.deepEqual(readdirSync(root), []);
  });

  test("the layer's own 0:0 character device is warned about (overlayfs reads it as a whiteout)", async () => {
    const warnings: string[] = [];
    await apply(
      fresh(),
      [{ entry: { path: "null0", type: "char", mode: 0o600, devmajor: 0, devminor: 0 } }],
      { ...overlay, onWarning: (w: ApplyWarning) => warnings.push(w.code) },
    );
    assert.deepEqual(warnings, ["W_DEVICE_IS_WHITEOUT"]);
  });

  test("overlayfs over such lower dirs shows exactly what applying the same layers in one directory gives", async () => {
    needTool("mount", "mount");
    const layers: TarWriteItem[][] = [
      [
        D("etc"),
        F("etc/passwd", "root:x:0:0::/root:/bin/sh\n"),
        F("etc/group", "root:x:0:\n"),
        F("etc/hosts", "h"),
        D("usr", { mode: 0o755 }),
        D("usr/bin"),
        F("usr/bin/sh", "#!", { mode: 0o755 }),
        F("usr/bin/tool", "t", { mode: 0o4755 }),
        S("bin", "usr/bin"),
        D("var"),
        D("var/cache", { mode: 0o700, uid: 7, gid: 8 }),
        F("var/cache/a", "a"),
        D("var/cache/sub"),
        F("var/cache/sub/b", "b"),
        D("opt"),
        D("opt/app"),
        F("opt/app/old", "old"),
        D("home", { mode: 0o755 }),
        D("home/u", { uid: 1000, gid: 1000 }),
        F("home/u/.profile", "p", { uid: 1000, gid: 1000 }),
        D("srv"),
        F("srv/f", "f"),
        D("mnt"),
        F("mnt/m", "m"),
        { entry: { path: "run", type: "fifo", mode: 0o600, mtime: T } },
      ],
      [
        D("etc"),
        F("etc/.wh.hosts"), // a file removed
        F("etc/motd", "hello"),
        D("usr"),
        D("usr/bin"),
        F("usr/bin/.wh.tool"),
        F(".wh.srv"), // a directory removed
        D("var"),
        D("var/cache", { mode: 0o755 }),
        F("var/cache/.wh..wh..opq"), // emptied, one new child
        F("var/cache/new", "n"),
        D("opt"),
        F("opt/.wh.app"), // a directory replaced by this layer's own
        D("opt/app", { mode: 0o750 }),
        F("opt/app/new", "new"),
        D("home"),
        D("home/u", { uid: 1000, gid: 1000 }),
        F("home/u/.profile", "p2", { uid: 1000, gid: 1000 }),
        F("home/u/.wh..profile"), // its own entry wins
        F(".wh.run"),
        D("run"), // a FIFO replaced by a directory
        F("run/pid", "1"),
      ],
      [
        D("etc"),
        F("etc/.wh.motd"),
        F("etc/hosts", "back"), // a file whited out below comes back
        D("srv"),
        F("srv/g", "g"), // a directory whited out below comes back, without the old child
        S("mnt", "usr"), // a directory replaced by a symlink
        D("var"),
        D("var/cache", { mode: 0o755 }),
        F("var/cache/.wh.new"),
        F("var/cache/newer", "n2"),
      ],
    ];
    const applied = fresh();
    for (const l of layers) await apply(applied, l);
    const lowers: string[] = [];
    for (const l of layers) {
      const dir = fresh();
      await apply(dir, l, overlay);
      lowers.unshift(dir);
    }
    const merged = fresh();
    execFileSync("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${lowers.join(":")}`, merged]);
    try {
      const want = treeListing(applied, { withRoot: true });
      const got = treeListing(merged, { withRoot: true });
      // The root directory's own mode is the mount's; everything below must match entry for entry.
      want.delete("/");
      got.delete("/");
      assert.deepEqual([...got], [...want]);
      assert.ok(want.size > 15, `compared ${want.size} paths`);
    } finally {
      execFileSync("umount", [merged]);
    }
  });
});
