/**
 * The extraction corpus (shared/design/extraction-rules.md, "Test corpus"): every row, each sub-case its own
 * test named after the row, built here from hostile or tricky tars and unpacked with `unpackLayers` from
 * in-memory LayerSources with real digests. Every test also checks the invariant: nothing outside ROOT was
 * created, modified, chmod'ed, chown'ed, re-timed or deleted (test/layer/victim.ts). R rows: refused with the
 * stated error code, no temporary directory left, ROOT not created. C rows: the stated result.
 *
 * Absolute symlink targets that the table writes as /etc, /run, ... point at the arena's canary instead, so a
 * broken extractor would damage the canary (and fail the test), never the host. Runs as root (ownership,
 * devices, security.capability); unprivileged behaviour is asked for with `privileged: false`.
 *
 * Then the real world: IMAGES.debian unpacked by osless and by umoci (the oracle) must give the same tree, and
 * a layer written by `umoci insert` (no padding, no end-of-archive) applies.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { getXattr, xattrSupport } from "../../src/_internal/xattr.ts";
import { type ErrorCode, isOslessError, type OslessError } from "../../src/errors.ts";
import type { ProgressEvent } from "../../src/events/index.ts";
import type { ApplyWarning } from "../../src/layer/apply.ts";
import type { LayerSource } from "../../src/layer/source.ts";
import { type UnpackOptions, type UnpackResult, unpackLayers } from "../../src/layer/unpack.ts";
import { buildView } from "../../src/layer/view.ts";
import { imageLayers } from "../../src/store/layers.ts";
import { IMAGES, ociLayout } from "../fixtures/images.ts";
import { layoutBlobPath, layoutLayerSources } from "../fixtures/layout.ts";
import { needTool, run, tmpdir } from "../fixtures/tools.ts";
import {
  BLK,
  base256,
  CHR,
  D,
  EOA,
  F,
  FIFO,
  gnuLong,
  gzipBomb,
  H,
  type Item,
  layers,
  paxHeader,
  rawEntry,
  rawHeader,
  S,
  sha256,
  source,
  streamingSource,
  tarOf,
  zstdBomb,
} from "../layer/corpus.ts";
import { type Arena, assertOutsideUntouched, makeArena, tree } from "../layer/victim.ts";

if (process.getuid?.() !== 0)
  throw new Error("the layer corpus runs as root (ownership, devices, capabilities)");

// --- harness ---------------------------------------------------------------------------------------------------

/** Unpack and expect a refusal with `code`; ROOT must not exist and nothing outside it changed. */
async function refused(
  a: Arena,
  ls: LayerSource[],
  code: ErrorCode,
  opts: UnpackOptions = {},
  message?: RegExp,
): Promise<Error> {
  let caught: unknown;
  await assert.rejects(unpackLayers(ls, a.dest, opts), (e: unknown) => {
    caught = e;
    return true;
  });
  assert.ok(
    isOslessError(caught, code),
    `expected ${code}, got ${String((caught as Error)?.stack ?? caught)}`,
  );
  if (message) assert.match((caught as Error).message, message);
  assert.equal(existsSync(a.dest) || isLink(a.dest), false, "ROOT must not be created by a refused unpack");
  assertOutsideUntouched(a);
  return caught as Error;
}

/** Unpack and expect success; nothing outside ROOT changed. */
async function contained(a: Arena, ls: LayerSource[], opts: UnpackOptions = {}): Promise<UnpackResult> {
  const r = await unpackLayers(ls, a.dest, opts);
  assertOutsideUntouched(a);
  assert.ok(lstatSync(a.dest).isDirectory());
  return r;
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

const read = (p: string) => readFileSync(p, "utf8");
const ino = (p: string) => lstatSync(p).ino;

/** One layer per list of items. */
const L = (...items: Item[][]) => layers(...items);

/** A single raw-tar layer. */
const rawLayer = (...parts: Buffer[]) => [source(0, Buffer.concat([...parts, EOA]))];

// --- R2/R3 names -----------------------------------------------------------------------------------------------

describe("names", () => {
  for (const name of ["../victim/x", "/../victim/x", "a/../../x", "./../x", ".."]) {
    test(`dotdot-names: F ${name} is refused`, async () => {
      const a = makeArena();
      await refused(a, L([F("ok", "fine"), F(name, "evil")]), "E_TAR_UNSAFE_PATH");
    });
  }

  test("multi-slash: F ////etc/x lands in ROOT/etc/x", async () => {
    const a = makeArena();
    await contained(a, L([F("////etc/x", "x")]));
    assert.deepEqual(tree(a.dest), { etc: "dir", "etc/x": "= x" });
  });

  test("literal-names: ..\\x and ..gitme are ordinary names; D ./ sets ROOT's metadata", async () => {
    const a = makeArena();
    await contained(
      a,
      L([
        F("..\\x", "1"),
        F("..gitme", "2"),
        D("./", { mode: 0o750, uid: 4242, gid: 4343, mtime: 1_234_567_890 }),
      ]),
    );
    assert.deepEqual(tree(a.dest), { "..\\x": "= 1", "..gitme": "= 2" });
    const st = lstatSync(a.dest);
    assert.equal(st.mode & 0o7777, 0o750);
    assert.deepEqual([st.uid, st.gid, st.mtimeMs], [4242, 4343, 1_234_567_890_000]);
  });

  test("pax-path: ustar 'ok' with PAX path=../../evil is refused", async () => {
    const a = makeArena();
    await refused(
      a,
      rawLayer(
        paxHeader({ path: "../../evil" }),
        rawEntry({ name: "ok", typeflag: "0", size: 4 }, Buffer.from("evil")),
      ),
      "E_TAR_UNSAFE_PATH",
    );
  });

  test("gnu-longname: GNU L ../evil is refused", async () => {
    const a = makeArena();
    await refused(
      a,
      rawLayer(gnuLong("L", "../evil"), rawEntry({ name: "ok", typeflag: "0", magic: "gnu" })),
      "E_TAR_UNSAFE_PATH",
    );
  });

  test("gnu-longname: a legit 208-character GNU L name is extracted", async () => {
    const a = makeArena();
    const name = `${"a".repeat(50)}/${"b".repeat(157)}`;
    assert.equal(name.length, 208);
    await contained(
      a,
      rawLayer(
        gnuLong("L", name),
        rawEntry({ name: "trunc", typeflag: "0", size: 3, magic: "gnu" }, Buffer.from("208")),
      ),
    );
    assert.equal(read(join(a.dest, name)), "208");
  });

  test("ustar-prefix: prefix ../.. + name evil is refused", async () => {
    const a = makeArena();
    await refused(
      a,
      rawLayer(rawEntry({ prefix: "../..", name: "evil", typeflag: "0" })),
      "E_TAR_UNSAFE_PATH",
    );
  });

  test("ustar-prefix: a legit 95-character prefix + foo is extracted", async () => {
    const a = makeArena();
    await contained(
      a,
      rawLayer(rawEntry({ prefix: "a".repeat(95), name: "foo", typeflag: "0", size: 2 }, Buffer.from("ok"))),
    );
    assert.equal(read(join(a.dest, "a".repeat(95), "foo")), "ok");
  });

  test("bad-name: a PAX path with a NUL byte is refused", async () => {
    const a = makeArena();
    await refused(
      a,
      rawLayer(paxHeader({ path: Buffer.from("a\0b") }), rawEntry({ name: "x", typeflag: "0" })),
      "E_TAR_INVALID",
    );
  });

  test("bad-name: an empty name is refused", async () => {
    const a = makeArena();
    await refused(a, rawLayer(rawEntry({ name: "", typeflag: "0" })), "E_TAR_INVALID");
  });

  test("bad-name: a 300-byte component is refused", async () => {
    const a = makeArena();
    await refused(a, L([F("x".repeat(300), "long")]), "E_TAR_LIMIT");
  });

  test("bad-name: a 5,000-deep path is refused without a crash", async () => {
    const a = makeArena();
    await refused(a, L([F(`${"a/".repeat(5000)}f`, "deep")]), "E_TAR_LIMIT");
  });

  test("name-max (extra): a 255-byte component is extracted, 256 bytes are refused", async () => {
    const a = makeArena();
    await contained(a, L([F("n".repeat(255), "255")]));
    assert.equal(read(join(a.dest, "n".repeat(255))), "255");
    const b = makeArena();
    await refused(b, L([F("n".repeat(256), "256")]), "E_TAR_LIMIT");
  });

  test("path-max (extra): a long path that fits is extracted; one over PATH_MAX is a clean limit error", async () => {
    const a = makeArena();
    const comp = "p".repeat(200);
    // Fits: ROOT (inside the unpacker's temp dir) + 15 x 201 bytes stays under 4096.
    const fits = `${Array(15).fill(comp).join("/")}/f`;
    await contained(a, L([F(fits, "fits")]));
    assert.equal(read(join(a.dest, fits)), "fits");
    const b = makeArena();
    const over = `${Array(21).fill(comp).join("/")}/f`; // 4223 bytes: over PATH_MAX by itself
    await refused(b, L([F(over, "over")]), "E_TAR_LIMIT");
    const c = makeArena();
    const nearly = `${Array(20).fill(comp).join("/")}/f`; // 4021 bytes: fits the name rules, not ROOT + name
    await refused(c, L([F(nearly, "host path too long")]), "E_TAR_LIMIT", {}, /ENAMETOOLONG/);
  });

  test("non-utf8 (extra): a name that is not UTF-8 is refused with E_TAR_UNSUPPORTED", async () => {
    const a = makeArena();
    await refused(a, L([F(Buffer.from([0x66, 0xff, 0x67]), "latin1")]), "E_TAR_UNSUPPORTED", {}, /UTF-8/);
  });
});

// --- R4/R7 symlinks in parents ---------------------------------------------------------------------------------

describe("symlinked parents", () => {
  test("sym-abs-parent: D etc; S le -> /etc; F le/x lands in ROOT/etc/x", async () => {
    const a = makeArena();
    await contained(a, L([D(a.etcIn), S("le", a.etc), F("le/x", "x")]));
    assert.equal(read(join(a.dest, a.etcIn, "x")), "x");
  });

  test("sym-chain: S le -> /dummy/../etc; F le/x lands in ROOT/etc/x", async () => {
    const a = makeArena();
    await contained(a, L([S("le", `/dummy/..${a.etc}`), F("le/x", "x")]));
    assert.equal(read(join(a.dest, a.etcIn, "x")), "x");
    assert.equal(existsSync(join(a.dest, "dummy")), false);
  });

  test("sym-chain: S d/etc -> /etc; S le -> ./d/etc; F le/x lands in ROOT/etc/x", async () => {
    const a = makeArena();
    await contained(a, L([S("d/etc", a.etc), S("le", "./d/etc"), F("le/x", "x")]));
    assert.equal(read(join(a.dest, a.etcIn, "x")), "x");
  });

  test("sym-rel-escape: S le -> ../../etc; F le/passwd lands in ROOT/etc/passwd", async () => {
    const a = makeArena();
    await contained(a, L([S("le", "../../etc"), F("le/passwd", "pw")]));
    assert.equal(read(join(a.dest, "etc/passwd")), "pw");
  });

  test("two-hop: S in/up -> ..; S in/up/esc -> ../victim; F in/up/esc/new lands in ROOT/victim/new", async () => {
    const a = makeArena();
    await contained(a, L([S("in/up", ".."), S("in/up/esc", "../victim"), F("in/up/esc/new", "new")]));
    assert.equal(read(join(a.dest, "victim/new")), "new");
    assert.equal(readlinkSync(join(a.dest, "esc")), "../victim");
    assert.equal(existsSync(join(a.victim, "new")), false);
  });

  test("dir-then-sym: D x; S x -> <canary>; F x/passwd lands in ROOT/<canary>/passwd", async () => {
    const a = makeArena();
    await contained(a, L([D("x"), S("x", a.canary), F("x/passwd", "pw")]));
    assert.equal(read(join(a.dest, a.canary.slice(1), "passwd")), "pw");
    assert.ok(isLink(join(a.dest, "x")));
  });

  test("multi-layer-sym: L1 S x -> ../../../../home/u/.ssh; L2 F x/authorized_keys stays under ROOT/home/u/.ssh", async () => {
    const a = makeArena();
    await contained(a, L([S("x", "../../../../home/u/.ssh")], [F("x/authorized_keys", "ssh-ed25519 AAAA")]));
    assert.equal(read(join(a.dest, "home/u/.ssh/authorized_keys")), "ssh-ed25519 AAAA");
  });

  test("abs-sym-lower: pre S var/run -> /run; F var/run/a/b/f lands in ROOT/run/a/b/f", async () => {
    const a = makeArena();
    const run = `${a.canary}/run`;
    await contained(a, L([S("var/run", run)], [F("var/run/a/b/f", "f")]));
    assert.equal(read(join(a.dest, run.slice(1), "a/b/f")), "f");
  });

  test("escape-then-abs: pre D target, S esc -> .., S abs -> /target; F esc/abs/f lands in ROOT/target/f", async () => {
    const a = makeArena();
    const target = `${a.canary}/target`;
    await contained(a, L([D(target.slice(1)), S("esc", ".."), S("abs", target)], [F("esc/abs/f", "f")]));
    assert.equal(read(join(a.dest, target.slice(1), "f")), "f");
  });

  test("override-path: F foo/t/f=1; S foo -> <canary>; F foo/t/f=2; D foo; F foo/t/f=3 ends with 3", async () => {
    const a = makeArena();
    await contained(
      a,
      L([F("foo/t/f", "1"), S("foo", a.canary), F("foo/t/f", "2"), D("foo"), F("foo/t/f", "3")]),
    );
    assert.equal(read(join(a.dest, "foo/t/f")), "3");
    assert.ok(lstatSync(join(a.dest, "foo")).isDirectory());
    assert.equal(read(join(a.dest, a.canary.slice(1), "t/f")), "2");
  });

  test("sym-loop: S a -> b; S b -> a; F a/x is refused (ELOOP)", async () => {
    const a = makeArena();
    const ls = L([S("a", "b"), S("b", "a"), F("a/x", "x")]);
    const unpacked = (await refused(a, ls, "E_LAYER_INVALID", {}, /ELOOP/)) as OslessError;
    // The view says it the same way (one loopError for both).
    let viewed: unknown;
    await assert.rejects(buildView(ls), (e) => {
      viewed = e;
      return true;
    });
    assert.ok(isOslessError(viewed, "E_LAYER_INVALID"), String(viewed));
    assert.equal(viewed.hint, unpacked.hint);
    assert.equal(viewed.message, unpacked.message);
  });

  test("dangling-parent: S l -> /dne; F l/x lands in ROOT/dne/x", async () => {
    const a = makeArena();
    const dne = `${a.canary}/dne`;
    await contained(a, L([S("l", dne), F("l/x", "x")]));
    assert.equal(read(join(a.dest, dne.slice(1), "x")), "x");
    assert.equal(statSync(join(a.dest, dne.slice(1))).mode & 0o7777, 0o755);
  });

  test("sym-verbatim: symlink targets are stored exactly", async () => {
    const a = makeArena();
    await contained(a, L([S("a", "../../../breakout"), S("b", "/etc/passwd"), S("c", "x//y/./z/")]));
    assert.equal(readlinkSync(join(a.dest, "a")), "../../../breakout");
    assert.equal(readlinkSync(join(a.dest, "b")), "/etc/passwd");
    assert.equal(readlinkSync(join(a.dest, "c")), "x//y/./z/");
  });

  for (const name of [".", "/", "./"]) {
    test(`root-replace: S ${JSON.stringify(name)} -> /etc is refused`, async () => {
      const a = makeArena();
      await refused(a, L([F("keep", "k"), S(name, a.etc)]), "E_TAR_UNSAFE_PATH");
    });
  }

  test("root-replace: F . is refused", async () => {
    const a = makeArena();
    await refused(a, L([F(".", "not a root")]), "E_TAR_UNSAFE_PATH");
  });
});

// --- R8 hard links ---------------------------------------------------------------------------------------------

describe("hard links", () => {
  test("hl-abs: F usr/bin/a; H usr/bin/b => /usr/bin/a share an inode", async () => {
    const a = makeArena();
    await contained(a, L([F("usr/bin/a", "a"), H("usr/bin/b", "/usr/bin/a")]));
    assert.equal(ino(join(a.dest, "usr/bin/b")), ino(join(a.dest, "usr/bin/a")));
  });

  for (const target of ["../victim/hello", "/../victim/hello", "../dest-evil/s"]) {
    test(`hl-escape: H x => ${target} is refused`, async () => {
      const a = makeArena();
      await refused(a, L([H("x", target)]), "E_TAR_UNSAFE_PATH");
    });
  }

  test("hl-via-sym: S le -> /etc; H p => le/passwd links ROOT/etc/passwd", async () => {
    const a = makeArena();
    await contained(a, L([F(`${a.etcIn}/passwd`, "in-root pw")], [S("le", a.etc), H("p", "le/passwd")]));
    assert.equal(ino(join(a.dest, "p")), ino(join(a.dest, a.etcIn, "passwd")));
  });

  test("hl-via-sym: S le -> ../../etc; H p => le/passwd links ROOT/etc/passwd", async () => {
    const a = makeArena();
    await contained(a, L([F("etc/passwd", "in-root pw")], [S("le", "../../etc"), H("p", "le/passwd")]));
    assert.equal(ino(join(a.dest, "p")), ino(join(a.dest, "etc/passwd")));
  });

  test("hl-to-sym: S pl -> /etc/passwd; H lp => pl links the symlink itself, target created later", async () => {
    const a = makeArena();
    await contained(a, L([S("pl", a.canaryFile), H("lp", "pl"), F(`${a.etcIn}/passwd`, "later")]));
    const lp = lstatSync(join(a.dest, "lp"));
    assert.ok(lp.isSymbolicLink());
    assert.equal(lp.ino, ino(join(a.dest, "pl")));
    assert.equal(readlinkSync(join(a.dest, "lp")), a.canaryFile);
    assert.equal(read(join(a.dest, a.etcIn, "passwd")), "later");
  });

  test("hl-bad-target: H a => missing is refused", async () => {
    const a = makeArena();
    await refused(a, L([H("a", "missing")]), "E_LAYER_INVALID", {}, /does not exist/);
  });

  test("hl-bad-target: H a => a directory is refused", async () => {
    const a = makeArena();
    await refused(a, L([D("dir"), H("a", "dir")]), "E_LAYER_INVALID", {}, /directory/);
  });

  test("hl-bad-target: H a => a is refused (absent, and present in a lower layer)", async () => {
    const a = makeArena();
    await refused(a, L([H("a", "a")]), "E_LAYER_INVALID");
    const b = makeArena();
    await refused(b, L([F("a", "lower")], [H("a", "a")]), "E_LAYER_INVALID", {}, /itself/);
  });

  for (const [label, items] of [
    ["F a; H a/b => a (R10)", [F("a", "x"), H("a/b", "a")]],
    ["D x; F x/y; H x => x/y (R6)", [D("x"), F("x/y", "y"), H("x", "x/y")]],
  ] as const) {
    test(`hl-removed (extra): ${label} is refused by unpack and by the view alike`, async () => {
      const a = makeArena();
      const ls = L([...items]);
      await refused(a, ls, "E_LAYER_INVALID", {}, /removed by this very entry/);
      await assert.rejects(
        buildView(ls),
        (e: unknown) =>
          isOslessError(e, "E_LAYER_INVALID") && /removed by this very entry/.test((e as Error).message),
      );
    });
  }

  test("hl-chmod-through: S e -> <canary file 0400>; H h => e mode 0777 leaves the canary 0400", async () => {
    const a = makeArena();
    await contained(a, L([S("e", a.canaryFile), H("h", "e", { mode: 0o777, uid: 1234 })]));
    assert.ok(lstatSync(join(a.dest, "h")).isSymbolicLink());
    assert.equal(statSync(a.canaryFile).mode & 0o7777, 0o400);
  });

  test("hl-owner: H h => r with another uid leaves the inode's owner unchanged", async () => {
    const a = makeArena();
    await contained(
      a,
      L([
        F("r", "r", { uid: 7, gid: 8, mode: 0o640 }),
        H("h", "r", { uid: 7 + 1337, gid: 9, mode: 0o777, mtime: 5 }),
      ]),
    );
    const st = lstatSync(join(a.dest, "r"));
    assert.deepEqual([st.uid, st.gid, st.mode & 0o7777, st.nlink], [7, 8, 0o640, 2]);
    assert.equal(st.mtimeMs, 1_700_000_000_000);
  });

  for (const [label, next] of [
    ["F lv/f", F("lv/f", "evil")],
    ["S lv/s", S("lv/s", "/x")],
    ["F lv", F("lv", "evil")],
  ] as const) {
    test(`loophole: H lv => ../victim, then ${label}, is refused at the first entry`, async () => {
      const a = makeArena();
      await refused(a, L([H("lv", "../victim"), next]), "E_TAR_UNSAFE_PATH", {}, /lv/);
    });
  }

  test("hardlink-chain (extra): a chain of links shares one inode; a later layer replacing one keeps the others", async () => {
    const a = makeArena();
    await contained(a, L([F("a", "v1"), H("b", "a"), H("c", "b"), H("d", "/c")], [F("a", "v2")]));
    const [b, c, d] = ["b", "c", "d"].map((n) => lstatSync(join(a.dest, n)));
    assert.equal(b!.ino, c!.ino);
    assert.equal(c!.ino, d!.ino);
    assert.equal(b!.nlink, 3);
    assert.notEqual(ino(join(a.dest, "a")), b!.ino);
    assert.deepEqual([read(join(a.dest, "a")), read(join(a.dest, "d"))], ["v2", "v1"]);
  });
});

// --- R9 whiteouts ----------------------------------------------------------------------------------------------

describe("whiteouts", () => {
  for (const name of [".wh.", "a/.wh.", ".wh..", "etc/.wh..", ".wh...", "etc/.wh..."]) {
    test(`wh-invalid: ${name} is refused`, async () => {
      const a = makeArena();
      await refused(a, L([F("etc/x", "x"), F(name)]), "E_TAR_UNSAFE_PATH");
    });
  }

  test("wh-symlink: pre S le -> /etc, etc/passwd; .wh.le removes the link, not the target", async () => {
    const a = makeArena();
    const r = await contained(a, L([S("le", a.etc), F(`${a.etcIn}/passwd`, "pw")], [F(".wh.le")]));
    assert.equal(existsSync(join(a.dest, "le")) || isLink(join(a.dest, "le")), false);
    assert.equal(read(join(a.dest, a.etcIn, "passwd")), "pw");
    assert.equal(r.entries, 3);
  });

  test("wh-through-sym: pre S le -> /etc, etc/w; le/.wh.w removes ROOT/etc/w", async () => {
    const a = makeArena();
    await contained(
      a,
      L([S("le", a.etc), F(`${a.etcIn}/w`, "w"), F(`${a.etcIn}/keep`, "k")], [F("le/.wh.w")]),
    );
    assert.equal(existsSync(join(a.dest, a.etcIn, "w")), false);
    assert.equal(read(join(a.dest, a.etcIn, "keep")), "k");
  });

  test("wh-dead-parent: pre S l -> /dne; l/.wh.etc is a no-op", async () => {
    const a = makeArena();
    await contained(a, L([S("l", `${a.canary}/dne`), F("etc/x", "x")], [F("l/.wh.etc")]));
    assert.deepEqual(tree(a.dest), { etc: "dir", "etc/x": "= x", l: `-> ${a.canary}/dne` });
  });

  test("wh-names: .wh.etc/f is an ordinary file; dne/../.wh.etc removes ROOT/etc", async () => {
    const a = makeArena();
    await contained(a, L([F("etc/passwd", "pw")], [F(".wh.etc/f", "x"), F("dne/../.wh.etc")]));
    assert.deepEqual(tree(a.dest), { ".wh.etc": "dir", ".wh.etc/f": "= x" });
  });

  test("wh-same-layer: .wh.b, a, b, .wh.a, .wh.c over lower b, c keeps a and b, removes c", async () => {
    const a = makeArena();
    const r = await contained(
      a,
      L([F("b", "old b"), F("c", "c")], [F(".wh.b"), F("a", "a"), F("b", "new b"), F(".wh.a"), F(".wh.c")]),
    );
    assert.deepEqual(tree(a.dest), { a: "= a", b: "= new b" });
    assert.equal(r.entries, 7);
  });

  test("opq-late: D d; F d/new; F d/.wh..wh..opq over lower d/old, d/sub/x leaves only d/new", async () => {
    const a = makeArena();
    await contained(
      a,
      L([D("d"), F("d/old", "o"), F("d/sub/x", "x")], [D("d"), F("d/new", "n"), F("d/.wh..wh..opq")]),
    );
    assert.deepEqual(tree(a.dest), { d: "dir", "d/new": "= n" });
  });

  test("opq-links: opaque d removes lower links (d/l -> .., d/bad -> ../../etc/shadow) and a FIFO as links", async () => {
    const a = makeArena();
    await contained(
      a,
      L(
        [
          F("etc/shadow", "in-root shadow"),
          D("d"),
          S("d/l", ".."),
          S("d/bad", "../../etc/shadow"),
          FIFO("d/fifo"),
        ],
        [F("d/.wh..wh..opq")],
      ),
    );
    assert.deepEqual(tree(a.dest), { d: "dir", etc: "dir", "etc/shadow": "= in-root shadow" });
  });

  test("wh-odd: .wh..wh.plnk/1.2 and .wh..wh.aufs are ignored", async () => {
    const a = makeArena();
    await contained(a, L([F("x", "x")], [F(".wh..wh.plnk/1.2", "aufs"), D(".wh..wh.aufs"), F("y", "y")]));
    assert.deepEqual(tree(a.dest), { x: "= x", y: "= y" });
  });

  test("wh-odd: .wh.x typed directory or symlink is a whiteout of x", async () => {
    const a = makeArena();
    const r = await contained(a, L([F("x", "x"), D("y"), F("y/z")], [D(".wh.x"), S(".wh.y", "whatever")]));
    assert.deepEqual(tree(a.dest), {});
    assert.equal(r.entries, 5);
  });

  test("opaque-whiteout-3-layers (extra): opaque and whiteouts across three layers", async () => {
    const a = makeArena();
    await contained(
      a,
      L(
        [D("d"), F("d/a", "a1"), F("d/b", "b1"), F("d/sub/c", "c1"), F("x", "x1")],
        [D("d"), F("d/n", "n2"), F("d/a", "a2"), F("d/.wh..wh..opq"), F(".wh.x")],
        [F("d/.wh.a"), F("d/a", "a3"), F("d/.wh.n"), F("d/sub/new", "s3"), F(".wh.nothing")],
      ),
    );
    assert.deepEqual(tree(a.dest), { d: "dir", "d/a": "= a3", "d/sub": "dir", "d/sub/new": "= s3" });
  });

  test("wh-times (extra): a whiteout restores its parent's times; directories get their times after their children", async () => {
    const a = makeArena();
    await contained(
      a,
      L(
        [D("d", { mtime: 1_111_111_111 }), F("d/a", "a", { mtime: 5 }), F("d/b", "b")],
        [F("d/.wh.a"), F("d/c/new", "c")],
      ),
    );
    assert.equal(lstatSync(join(a.dest, "d")).mtimeMs, 1_111_111_111_000);
    assert.deepEqual(tree(a.dest), { d: "dir", "d/b": "= b", "d/c": "dir", "d/c/new": "= c" });
  });
});

// --- R6/R10/R17 replacement ------------------------------------------------------------------------------------

describe("replacement", () => {
  test("dir-over-sym: pre S le -> /etc; D le; H le/p => etc/passwd gives a real dir with the link inside", async () => {
    const a = makeArena();
    await contained(
      a,
      L(
        [S("le", a.etc), F("etc/passwd", "pw"), F(`${a.etcIn}/passwd`, "other")],
        [D("le"), H("le/p", "etc/passwd")],
      ),
    );
    assert.ok(lstatSync(join(a.dest, "le")).isDirectory());
    assert.equal(ino(join(a.dest, "le/p")), ino(join(a.dest, "etc/passwd")));
  });

  test("sym-over-dir: pre D le; S le -> /etc; H le/p => etc/passwd lands in ROOT/etc", async () => {
    const a = makeArena();
    await contained(
      a,
      L(
        [D("le"), F("le/old", "o"), F(`${a.etcIn}/passwd`, "pw")],
        [S("le", a.etc), H("le/p", `${a.etc}/passwd`)],
      ),
    );
    assert.ok(isLink(join(a.dest, "le")));
    assert.equal(ino(join(a.dest, a.etcIn, "p")), ino(join(a.dest, a.etcIn, "passwd")));
  });

  test("file-over-sym: pre S x -> <canary file>; F x=data replaces the link, canary intact", async () => {
    const a = makeArena();
    await contained(a, L([S("x", a.canaryFile)], [F("x", "data", { mode: 0o600 })]));
    const st = lstatSync(join(a.dest, "x"));
    assert.ok(st.isFile());
    assert.equal(read(join(a.dest, "x")), "data");
  });

  test('empty-through-sym: pre etc/e=full; S le -> /etc; F le/e="" empties ROOT/etc/e', async () => {
    const a = makeArena();
    await contained(a, L([F(`${a.etcIn}/e`, "full")], [S("le", a.etc), F("le/e", "")]));
    assert.equal(read(join(a.dest, a.etcIn, "e")), "");
  });

  const dups: [string, Item[], Record<string, string>][] = [
    ["F->F", [F("x", "1"), F("x", "2")], { x: "= 2" }],
    ["F->D", [F("x", "1"), D("x")], { x: "dir" }],
    ["D->F", [D("x"), F("x/child", "c"), F("x", "f")], { x: "= f" }],
    ["S->D", [S("x", "y"), D("x")], { x: "dir" }],
    ["D->S", [D("x"), F("x/c"), S("x", "y")], { x: "-> y" }],
    ["H->F", [F("t", "t"), H("x", "t"), F("x", "own")], { t: "= t", x: "= own" }],
  ];
  for (const [label, items, want] of dups) {
    test(`duplicates: ${label}, the last wins`, async () => {
      const a = makeArena();
      await contained(a, L(items));
      assert.deepEqual(tree(a.dest), want);
    });
  }

  test("nondir-parent: F n; F n/a/b makes n a directory", async () => {
    const a = makeArena();
    await contained(a, L([F("n", "file")], [F("n/a/b", "b")]));
    assert.deepEqual(tree(a.dest), { n: "dir", "n/a": "dir", "n/a/b": "= b" });
    for (const d of ["n", "n/a"]) {
      const st = lstatSync(join(a.dest, d));
      assert.deepEqual([st.mode & 0o7777, st.uid, st.gid], [0o755, 0, 0], d);
    }
  });

  test("root-mode (extra): ROOT is 0755 unless a layer's . entry says otherwise", async () => {
    const a = makeArena();
    await contained(a, L([F("f", "f")]));
    assert.equal(lstatSync(a.dest).mode & 0o7777, 0o755);
  });
});

// --- R11-R14 metadata ------------------------------------------------------------------------------------------

describe("metadata", () => {
  test("setuid: F bin/su uid 0 mode 04755 keeps 04755 after chown (and 06755 for uid 1000)", async () => {
    const a = makeArena();
    await contained(
      a,
      L([F("bin/su", "su", { mode: 0o4755 }), F("bin/app", "app", { mode: 0o6755, uid: 1000, gid: 1000 })]),
    );
    const su = lstatSync(join(a.dest, "bin/su"));
    assert.deepEqual([su.mode & 0o7777, su.uid], [0o4755, 0]);
    const app = lstatSync(join(a.dest, "bin/app"));
    assert.deepEqual([app.mode & 0o7777, app.uid, app.gid], [0o6755, 1000, 1000]);
  });

  test("dev-range: a char device with major 2^32 is refused", async () => {
    const a = makeArena();
    await refused(a, L([CHR("dev/big", 2 ** 32, 0)]), "E_LAYER_INVALID", {}, /2\^32/);
  });

  test("dev-range: a char device with minor -1 is refused", async () => {
    const a = makeArena();
    await refused(
      a,
      rawLayer(rawEntry({ name: "dev/neg", typeflag: "3", devmajor: 1, devminor: base256(-1n, 8) })),
      "E_TAR_INVALID",
    );
  });

  test("dev-unpriv: block and char devices are skipped with a warning without privileges", async () => {
    const a = makeArena();
    const warnings: ApplyWarning[] = [];
    const r = await contained(a, L([CHR("dev/null", 1, 3), BLK("dev/loop0", 7, 0), F("dev/ok", "ok")]), {
      privileged: false,
      onWarning: (w) => warnings.push(w),
    });
    assert.deepEqual(tree(a.dest), { dev: "dir", "dev/ok": "= ok" });
    assert.deepEqual(
      warnings.map((w) => [w.code, w.path]),
      [
        ["W_DEVICE_SKIPPED", "dev/null"],
        ["W_DEVICE_SKIPPED", "dev/loop0"],
      ],
    );
    assert.equal(r.warnings, 2);
  });

  test("dev-priv (extra): as real root, devices are made with their numbers, mode and owner", async () => {
    const a = makeArena();
    await contained(
      a,
      L([CHR("dev/null", 1, 3, { mode: 0o666 }), BLK("dev/loop0", 7, 0, { uid: 6, gid: 6, mode: 0o660 })]),
    );
    const c = lstatSync(join(a.dest, "dev/null"));
    assert.ok(c.isCharacterDevice());
    assert.deepEqual([c.rdev, c.mode & 0o7777], [(1 << 8) | 3, 0o666]);
    const b = lstatSync(join(a.dest, "dev/loop0"));
    assert.ok(b.isBlockDevice());
    assert.deepEqual([b.rdev, b.uid, b.mode & 0o7777], [7 << 8, 6, 0o660]);
  });

  test("fifo (extra): a FIFO is made with its mode and times", async () => {
    const a = makeArena();
    await contained(a, L([FIFO("run/fifo", { mode: 0o620, mtime: 42 })]));
    const st = lstatSync(join(a.dest, "run/fifo"));
    assert.ok(st.isFIFO());
    assert.deepEqual([st.mode & 0o7777, st.mtimeMs], [0o620, 42_000]);
  });

  // VFS_CAP_REVISION_2 with the effective bit: cap_net_bind_service+ep.
  const capability = Buffer.alloc(20);
  capability.writeUInt32LE(0x02000001, 0);
  capability.writeUInt32LE(1 << 10, 4);
  const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const xattrs = new Map<string, Buffer>([
    ["security.capability", capability],
    ["trusted.overlay.opaque", Buffer.from("y")],
    ["security.selinux", Buffer.from("system_u:object_r:bin_t:s0\0")],
    ["user.binary", binary],
  ]);

  test("xattrs: security.capability applied as root, trusted.* and security.selinux refused, binary values kept", async () => {
    assert.ok(xattrSupport(), "the optional package @napi-rs/xattr must be installed for this test (npm ci)");
    const a = makeArena();
    const warnings: ApplyWarning[] = [];
    await contained(
      a,
      L([
        F("bin/ping", "ping", { mode: 0o755, xattrs }),
        D("d", { xattrs: new Map([["user.dir", Buffer.from("d")]]) }),
      ]),
      {
        onWarning: (w) => warnings.push(w),
      },
    );
    const f = join(a.dest, "bin/ping");
    assert.deepEqual(getXattr(f, "security.capability"), capability);
    assert.deepEqual(getXattr(f, "user.binary"), binary);
    assert.equal(getXattr(f, "trusted.overlay.opaque"), undefined);
    assert.notDeepEqual(getXattr(f, "security.selinux"), xattrs.get("security.selinux"));
    assert.deepEqual(getXattr(join(a.dest, "d"), "user.dir"), Buffer.from("d"));
    assert.deepEqual(warnings.map((w) => w.code).sort(), ["W_XATTR_REFUSED", "W_XATTR_REFUSED"]);
  });

  test("xattrs: without privileges security.capability is skipped with a warning", async () => {
    const a = makeArena();
    const warnings: ApplyWarning[] = [];
    await contained(a, L([F("bin/ping", "ping", { xattrs })]), {
      privileged: false,
      onWarning: (w) => warnings.push(w),
    });
    const f = join(a.dest, "bin/ping");
    assert.equal(getXattr(f, "security.capability"), undefined);
    assert.deepEqual(getXattr(f, "user.binary"), binary);
    assert.ok(warnings.some((w) => w.code === "W_XATTR_SKIPPED" && /security.capability/.test(w.message)));
  });

  test("data-on-link: data on S, D and H entries is skipped", async () => {
    const a = makeArena();
    const junk = (n: number) => Buffer.alloc(n, 0x41);
    await contained(
      a,
      rawLayer(
        rawEntry({ name: "f", typeflag: "0", size: 3 }, Buffer.from("fff")),
        rawEntry({ name: "s", typeflag: "2", linkname: "f", size: 700 }, junk(700)),
        rawEntry({ name: "d/", typeflag: "5", mode: 0o755, size: 10 }, junk(10)),
        rawEntry({ name: "h", typeflag: "1", linkname: "f", size: 513 }, junk(513)),
        rawEntry({ name: "g", typeflag: "0", size: 3 }, Buffer.from("ggg")),
      ),
    );
    assert.deepEqual(tree(a.dest), { d: "dir", f: "= fff", g: "= ggg", h: "= fff", s: "-> f" });
  });

  test("numbers: base-256 uid 3000000000 is kept", async () => {
    const a = makeArena();
    await contained(
      a,
      rawLayer(
        rawEntry({ name: "big", typeflag: "0", uid: base256(3_000_000_000n, 8), size: 1 }, Buffer.from("b")),
      ),
    );
    assert.equal(lstatSync(join(a.dest, "big")).uid, 3_000_000_000);
  });

  test("numbers: a negative size is refused", async () => {
    const a = makeArena();
    await refused(
      a,
      rawLayer(rawEntry({ name: "neg", typeflag: "0", size: base256(-512n, 12) })),
      "E_TAR_INVALID",
    );
  });

  test("numbers: a non-octal field is refused", async () => {
    const a = makeArena();
    await refused(
      a,
      rawLayer(rawEntry({ name: "junk", typeflag: "0", mode: Buffer.from("0006z4\0") })),
      "E_TAR_INVALID",
    );
  });
});

// --- R15-R19 tar structure -------------------------------------------------------------------------------------

describe("tar structure", () => {
  test("pax-global: a leading g header is ignored and creates nothing", async () => {
    const a = makeArena();
    await contained(
      a,
      rawLayer(
        paxHeader({ path: "gdir/", comment: "global" }, "g"),
        rawEntry({ name: "a", typeflag: "0", size: 1 }, Buffer.from("a")),
      ),
    );
    assert.deepEqual(tree(a.dest), { a: "= a" });
  });

  test("pax-huge: a 2 MiB PAX record is refused", async () => {
    const a = makeArena();
    await refused(
      a,
      rawLayer(paxHeader({ comment: "x".repeat(2 << 20) }), rawEntry({ name: "a", typeflag: "0" })),
      "E_TAR_LIMIT",
    );
  });

  test("pax-huge: a PAX size that disagrees with the header is refused", async () => {
    const a = makeArena();
    await refused(
      a,
      rawLayer(
        paxHeader({ size: "10" }),
        rawEntry({ name: "a", typeflag: "0", size: 5 }, Buffer.from("aaaaa")),
      ),
      "E_TAR_INVALID",
    );
  });

  test("truncated: EOF inside file data is refused", async () => {
    const a = makeArena();
    const t = tarOf([F("a", "a"), F("big", Buffer.alloc(2000, 0x62))], { eoa: false });
    await refused(a, [source(0, t.subarray(0, 512 * 3 + 700))], "E_TAR_TRUNCATED");
  });

  test("truncated (extra): EOF inside the padding after the data is refused", async () => {
    const a = makeArena();
    const t = tarOf([F("a", "abc")], { eoa: false }); // 512 header + 3 data + 509 padding
    await refused(a, [source(0, t.subarray(0, 512 + 3 + 100))], "E_TAR_TRUNCATED");
  });

  test("no-eoa: EOF at a header boundary is accepted", async () => {
    const a = makeArena();
    await contained(a, [source(0, tarOf([F("a", "a"), D("d"), F("d/b", "b")], { eoa: false }))]);
    assert.deepEqual(tree(a.dest), { a: "= a", d: "dir", "d/b": "= b" });
  });

  test("no-eoa (extra): EOF right after the last entry's data (no padding, umoci 0.4.7) is accepted", async () => {
    const a = makeArena();
    const t = tarOf([F("a", "a"), F("b", "bbb")], { eoa: false });
    await contained(a, [source(0, t.subarray(0, t.length - 509))]);
    assert.deepEqual(tree(a.dest), { a: "= a", b: "= bbb" });
  });

  test("trailing-zeros: MBs of zeros after end-of-archive are drained with bounded memory and hashed", async () => {
    const a = makeArena();
    const t = Buffer.concat([tarOf([F("a", "a")]), Buffer.alloc(16 << 20)]);
    const rss = process.memoryUsage().rss;
    await contained(a, [source(0, t, { compression: "gzip" })]);
    assert.deepEqual(tree(a.dest), { a: "= a" });
    assert.ok(process.memoryUsage().rss - rss < 256 << 20, "RSS grew by more than 256 MiB");
  });

  test("gzip-tails: two gzip members are one layer", async () => {
    const a = makeArena();
    const t = tarOf([F("a", "a"), F("b", "b")]);
    const blob = Buffer.concat([gzipSync(t.subarray(0, 700)), gzipSync(t.subarray(700))]);
    await contained(a, [source(0, t, { compression: "gzip", blob })]);
    assert.deepEqual(tree(a.dest), { a: "= a", b: "= b" });
  });

  test("gzip-tails: NULs after the gzip member are accepted", async () => {
    const a = makeArena();
    const t = tarOf([F("a", "a")]);
    await contained(a, [
      source(0, t, { compression: "gzip", blob: Buffer.concat([gzipSync(t), Buffer.alloc(4096)]) }),
    ]);
    assert.deepEqual(tree(a.dest), { a: "= a" });
  });

  test("gzip-tails: garbage after the gzip member is refused", async () => {
    const a = makeArena();
    const t = tarOf([F("a", "a")]);
    await refused(
      a,
      [source(0, t, { compression: "gzip", blob: Buffer.concat([gzipSync(t), Buffer.from("garbage!")]) })],
      "E_COMPRESSION",
    );
  });

  test("diffid: a wrong diff_ids[i] is refused and nothing is renamed", async () => {
    const a = makeArena();
    const good = tarOf([F("a", "a")]);
    const second = tarOf([F("b", "b")]);
    await refused(
      a,
      [source(0, good), source(1, second, { compression: "gzip", diffId: sha256(good) })],
      "E_DIGEST_MISMATCH",
      {},
      /DiffID/,
    );
  });

  test("diffid: a mismatch caused only by bytes after end-of-archive is refused", async () => {
    const a = makeArena();
    const t = tarOf([F("a", "a")]);
    const withTail = Buffer.concat([t, Buffer.alloc(512)]);
    // The DiffID covers the tar up to its end-of-archive; the stream carries 512 more bytes.
    await refused(
      a,
      [source(0, withTail, { compression: "gzip", diffId: sha256(t) })],
      "E_DIGEST_MISMATCH",
      {},
      /DiffID/,
    );
  });

  test("diffid: a blob digest mismatch is refused", async () => {
    const a = makeArena();
    const ls = L([F("a", "a")]);
    const layer = { ...ls[0]!, descriptor: { ...ls[0]!.descriptor, digest: sha256(Buffer.from("not it")) } };
    await refused(a, [layer], "E_DIGEST_MISMATCH");
  });

  test("diffid: a diff_ids count that differs from the layer count is refused before anything is written", async () => {
    const a = makeArena();
    const t = tarOf([F("a", "a")]);
    const image = {
      name: "corpus",
      manifest: {
        manifest: {
          schemaVersion: 2,
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          config: {
            mediaType: "application/vnd.oci.image.config.v1+json",
            digest: sha256(Buffer.from("{}")),
            size: 2,
          },
          layers: [source(0, t).descriptor, source(1, t).descriptor],
        },
      },
      config: { config: { rootfs: { type: "layers", diff_ids: [sha256(t)] } } },
    };
    assert.throws(
      () => imageLayers({} as never, image as never),
      (e: unknown) =>
        isOslessError(e, "E_CONFIG_INVALID") && /2 layers but the config lists 1/.test(e.message),
    );
    assertOutsideUntouched(a);
    assert.equal(existsSync(a.dest), false);
  });

  test("types: typeflag S (sparse) is refused", async () => {
    const a = makeArena();
    await refused(
      a,
      rawLayer(rawEntry({ name: "sparse", typeflag: "S", size: 0, magic: "gnu" })),
      "E_TAR_UNSUPPORTED",
    );
  });

  test("types: an unknown typeflag Z is refused", async () => {
    const a = makeArena();
    await refused(
      a,
      rawLayer(rawEntry({ name: "a", typeflag: "0" }), rawEntry({ name: "z", typeflag: "Z" })),
      "E_TAR_UNSUPPORTED",
    );
  });
});

// --- limits ----------------------------------------------------------------------------------------------------

describe("limits", () => {
  const GiB = 2 ** 30;
  const limits = { maxLayerBytes: 16 << 20 };

  test("bomb-gzip: 1 GiB of zeros (~1 MB of gzip) above the cap is refused fast with bounded RSS", async () => {
    const blob = gzipBomb(GiB);
    assert.ok(blob.length < 2 << 20, `bomb is ${blob.length} bytes`);
    const a = makeArena();
    const rss = process.memoryUsage().rss;
    const t0 = performance.now();
    const chunk = 64 * 1024;
    const layer = streamingSource(0, "gzip", blob.length, async function* () {
      for (let i = 0; i < blob.length; i += chunk) yield blob.subarray(i, i + chunk);
    });
    await refused(a, [layer], "E_SIZE_LIMIT", { limits });
    assert.ok(performance.now() - t0 < 10_000, "took more than 10 s");
    assert.ok(process.memoryUsage().rss - rss < 256 << 20, "RSS grew by more than 256 MiB");
  });

  test("bomb-zstd: 1 GiB of zeros (~33 KB of zstd) above the cap is refused fast with bounded RSS", async () => {
    const blob = zstdBomb(GiB);
    assert.ok(blob.length < 100_000, `bomb is ${blob.length} bytes`);
    const a = makeArena();
    const rss = process.memoryUsage().rss;
    const t0 = performance.now();
    const chunk = 64 * 1024; // as a file read stream delivers it
    const layer = streamingSource(0, "zstd", blob.length, async function* () {
      for (let i = 0; i < blob.length; i += chunk) yield blob.subarray(i, i + chunk);
    });
    await refused(a, [layer], "E_SIZE_LIMIT", { limits });
    assert.ok(performance.now() - t0 < 10_000, "took more than 10 s");
    assert.ok(
      process.memoryUsage().rss - rss < 256 << 20,
      `RSS grew by ${((process.memoryUsage().rss - rss) / 2 ** 20).toFixed(0)} MiB`,
    );
  });

  test("bomb-zstd: a frame declaring a window over 128 MiB is refused before decoding", async () => {
    const a = makeArena();
    // Magic, frame header descriptor 0 (no single segment), window descriptor exponent 18 (256 MiB), then one
    // raw last block of 512 bytes.
    const frame = Buffer.concat([
      Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 18 << 3]),
      Buffer.from([0x01 | (512 << 3), (512 << 3) >> 8, 0]),
      rawHeader({ name: "never", typeflag: "0" }),
    ]);
    await refused(
      a,
      [
        streamingSource(0, "zstd", frame.length, async function* () {
          yield frame;
        }),
      ],
      "E_SIZE_LIMIT",
      {},
      /window/,
    );
  });

  test("bomb-entries: 1,000,000 empty entries stop at the entry cap", async () => {
    const a = makeArena();
    const total = 1_000_000;
    let produced = 0;
    const layer = streamingSource(0, "none", total * 512, async function* () {
      const perChunk = 128;
      for (let i = 0; i < total; i += perChunk) {
        const blocks: Buffer[] = [];
        for (let j = i; j < Math.min(total, i + perChunk); j++)
          blocks.push(rawHeader({ name: `e/${j}`, typeflag: "0" }));
        produced += blocks.length;
        yield Buffer.concat(blocks);
      }
    });
    await refused(a, [layer], "E_TAR_LIMIT", { limits: { maxEntries: 5000 } }, /5000 entries/);
    // Read: the cap, plus what the 16 MiB read-ahead had buffered (32,768 headers), not the million.
    assert.ok(produced < 5000 + 32_768 + 1024, `read ${produced} entries before stopping`);
  });
});

// --- unpack behaviour ------------------------------------------------------------------------------------------

describe("unpack", () => {
  test("target-exists (extra): a non-empty dest or a symlink is refused; an empty dest is replaced", async () => {
    const a = makeArena();
    mkdirSync(a.dest);
    writeFileSync(join(a.dest, "mine"), "keep me");
    await assert.rejects(
      unpackLayers(L([F("a", "a")]), a.dest),
      (e: unknown) => isOslessError(e, "E_TARGET_EXISTS") && e.hint !== undefined,
    );
    assert.deepEqual(readdirSync(a.dest), ["mine"]);
    const b = makeArena();
    symlinkSync(b.victim, b.dest);
    await assert.rejects(unpackLayers(L([F("a", "a")]), b.dest), (e: unknown) =>
      isOslessError(e, "E_TARGET_EXISTS"),
    );
    assert.ok(isLink(b.dest));
    const c = makeArena();
    mkdirSync(c.dest);
    await unpackLayers(L([F("a", "a")]), c.dest);
    assert.deepEqual(tree(c.dest), { a: "= a" });
  });

  test("abort (extra): an aborted unpack removes its temp dir and leaves dest absent", async () => {
    const a = makeArena();
    const ac = new AbortController();
    const big = tarOf(Array.from({ length: 200 }, (_, i) => F(`f${i}`, Buffer.alloc(64 * 1024, i))));
    const events: ProgressEvent[] = [];
    const p = unpackLayers(sources2(big, big), a.dest, {
      signal: ac.signal,
      events: (e) => {
        events.push(e);
        if (e.type === "end") ac.abort();
      },
    });
    await assert.rejects(p, (e: unknown) => (e as Error).name === "AbortError");
    assert.equal(existsSync(a.dest), false);
    assertOutsideUntouched(a);
  });

  test("events (extra): start, progress of compressed bytes and end per layer; warnings as notes", async () => {
    const a = makeArena();
    const ls = [
      source(0, tarOf([F("a", Buffer.alloc(300_000, 1))]), { compression: "gzip" }),
      source(1, tarOf([CHR("dev/null", 1, 3)])),
    ];
    const events: ProgressEvent[] = [];
    const r = await contained(a, ls, { privileged: false, events: (e) => events.push(e) });
    assert.deepEqual(r, { layers: 2, entries: 2, bytes: 300_000, warnings: 1 });
    const starts = events.filter((e) => e.type === "start");
    assert.deepEqual(
      starts.map((e) => [e.id, e.label, e.total]),
      ls.map((l, i) => [l.descriptor.digest, `layer ${i + 1}/2`, l.descriptor.size]),
    );
    for (const l of ls) {
      const last = events.filter((e) => e.type === "progress" && e.id === l.descriptor.digest).at(-1);
      assert.equal(last?.type === "progress" && last.done, l.descriptor.size);
    }
    assert.equal(events.filter((e) => e.type === "end").length, 2);
    const notes = events.filter((e) => e.type === "note");
    assert.equal(notes.length, 1);
    assert.match(notes[0]!.type === "note" ? notes[0]!.text : "", /layer 2\/2: dev\/null: .*device/);
  });
});

function sources2(t1: Buffer, t2: Buffer): LayerSource[] {
  return [source(0, t1), source(1, t2)];
}

// --- the real world --------------------------------------------------------------------------------------------

interface Node {
  kind: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  link?: string;
  sha?: string;
  ino: number;
  nlink: number;
}

function walk(root: string): Map<string, Node> {
  const out = new Map<string, Node>();
  const visit = (rel: string) => {
    const p = rel === "." ? root : join(root, rel);
    const st = lstatSync(p);
    const kind = st.isDirectory()
      ? "dir"
      : st.isSymbolicLink()
        ? "symlink"
        : st.isFile()
          ? "file"
          : st.isFIFO()
            ? "fifo"
            : "dev";
    const n: Node = {
      kind,
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      size: st.isDirectory() ? 0 : st.size,
      mtime: Math.floor(st.mtimeMs / 1000),
      ino: st.ino,
      nlink: st.nlink,
    };
    if (st.isSymbolicLink()) n.link = readlinkSync(p);
    if (st.isFile()) n.sha = createHash("sha256").update(readFileSync(p)).digest("hex");
    out.set(rel, n);
    if (st.isDirectory()) for (const c of readdirSync(p).sort()) visit(rel === "." ? c : `${rel}/${c}`);
  };
  visit(".");
  return out;
}

/** Paths grouped by inode, for files with more than one link: sorted groups of sorted paths. */
function linkGroups(t: Map<string, Node>): string[][] {
  const byIno = new Map<number, string[]>();
  for (const [p, n] of t)
    if (n.kind !== "dir" && n.nlink > 1) byIno.set(n.ino, [...(byIno.get(n.ino) ?? []), p]);
  return [...byIno.values()].map((g) => g.sort()).sort((x, y) => x[0]!.localeCompare(y[0]!));
}

describe("real world", () => {
  test("debian: osless unpacks IMAGES.debian to the same tree as umoci unpack (the oracle)", async () => {
    const umoci = needTool("umoci", "umoci");
    const layout = await ociLayout(IMAGES.debian);
    const work = await tmpdir("layer-oracle");
    await run(umoci, ["unpack", "--image", `${layout}:latest`, join(work, "bundle")]);
    const ours = join(work, "ours");
    const t0 = performance.now();
    const r = await unpackLayers(layoutLayerSources(layout), ours);
    const ms = performance.now() - t0;
    const theirs = walk(join(work, "bundle/rootfs"));
    const mine = walk(ours);
    assert.ok(r.entries > 5000 && mine.size > 5000, `unpacked ${r.entries} entries`);
    assert.deepEqual([...mine.keys()].sort(), [...theirs.keys()].sort(), "the same set of paths");
    const strip = ({ ino: _i, nlink: _n, ...rest }: Node) => rest;
    const diffs: string[] = [];
    for (const [p, n] of theirs) {
      const m = mine.get(p)!;
      if (JSON.stringify(strip(m)) !== JSON.stringify(strip(n)))
        diffs.push(`${p}: ours ${JSON.stringify(strip(m))} umoci ${JSON.stringify(strip(n))}`);
    }
    assert.deepEqual(diffs.slice(0, 20), [], `${diffs.length} paths differ`);
    assert.deepEqual(linkGroups(mine), linkGroups(theirs), "the same hard link groups");
    assert.ok(linkGroups(mine).length > 0, "the image has hard links");
    // For the record (the benchmark proper compares against tar -xzf): ms for ~120 MB.
    assert.ok(ms < 60_000);
  });

  test("umoci-insert: a layer written by umoci insert (no padding, no end-of-archive) applies", async () => {
    const umoci = needTool("umoci", "umoci");
    const work = await tmpdir("layer-umoci-insert");
    const layout = join(work, "oci");
    execFileSync(needTool("cp", "coreutils"), ["-a", await ociLayout(IMAGES.hello), layout]);
    writeFileSync(join(work, "file"), "inserted by umoci\n");
    await run(umoci, ["insert", "--image", `${layout}:latest`, join(work, "file"), "/opt/inserted.txt"]);
    const ls = layoutLayerSources(layout);
    assert.equal(ls.length, 2);
    // The inserted layer really is unterminated (so this test covers what it claims).
    const blob = readFileSync(layoutBlobPath(layout, ls[1]!.descriptor.digest));
    const tar = (await import("node:zlib")).gunzipSync(blob);
    assert.notEqual(tar.length % 512, 0, "umoci insert's layer ends inside a block");
    const dest = join(work, "rootfs");
    await unpackLayers(ls, dest);
    assert.equal(read(join(dest, "opt/inserted.txt")), "inserted by umoci\n");
    assert.ok(lstatSync(join(dest, "hello")).isFile());
  });
});
