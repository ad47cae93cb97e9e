/**
 * The in-root resolver on real directories: the resolver tables of continuity (fs/path_test.go TestRootPath)
 * and filepath-securejoin (join_test.go: TestNoSymlink, TestSymlink scoped cases, TestNonLexical,
 * TestSymlinkLoop, TestEnotdir), re-expressed for resolveInRoot, plus the non-following of the final component
 * and makeParents (R10).
 */
import assert from "node:assert/strict";
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { isOslessError } from "../errors.ts";
import { loopError, MAX_SYMLINK_HOPS, makeParents, resolveInRoot } from "./rootpath.ts";

const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function tempRoot(): string {
  const d = realpathSync(mkdtempSync(join(tmpdir(), "osless-rootpath-")));
  made.push(d);
  return d;
}

/** `ln -s target <dir>/name`, making the link's parent directories. */
function symlink(dir: string, target: string, name: string): void {
  mkdirSync(dirname(join(dir, name)), { recursive: true });
  symlinkSync(target, join(dir, name));
}

function mkdirs(dir: string, name: string): void {
  mkdirSync(join(dir, name), { recursive: true });
}

function resolved(root: string, unsafe: string, followFinal = true): string {
  return resolveInRoot(root, unsafe, { followFinal }).host;
}

function assertLoop(root: string, unsafe: string): void {
  assert.throws(
    () => resolveInRoot(root, unsafe, { followFinal: true }),
    (e: unknown) => isOslessError(e, "E_LAYER_INVALID") && /ELOOP/.test(e.message),
    `${unsafe} should be ELOOP`,
  );
}

// continuity fs/path_test.go TestRootPath: RootPath(root, unresolved) follows every symlink, final one
// included, so these run with followFinal. `scope` narrows the root to a subdirectory.
describe("continuity TestRootPath", () => {
  type Setup = (dir: string) => void;
  const link =
    (target: string, name: string): Setup =>
    (d) =>
      symlink(d, target, name);
  const cases: {
    name: string;
    setup: Setup[];
    checks: [string, string, string?][];
    loop?: [string, string];
  }[] = [
    { name: "SymlinkAbsolute", setup: [link("/b", "fs/a/d")], checks: [["fs/a/d/c/data", "b/c/data"]] },
    { name: "SymlinkRelativePath", setup: [link("a", "fs/i")], checks: [["fs/i", "fs/a"]] },
    {
      name: "SymlinkSkipSymlinksOutsideScope",
      setup: [link("realdir", "linkdir")],
      checks: [["foo/bar", "foo/bar", "linkdir"]],
    },
    { name: "SymlinkLastLink", setup: [link("/b", "fs/a/d")], checks: [["fs/a/d", "b"]] },
    {
      name: "SymlinkRelativeLinkChangeScope",
      setup: [link("../b", "fs/a/e")],
      checks: [
        ["fs/a/e/c/data", "fs/b/c/data"],
        ["e", "b", "fs/a"],
      ],
    },
    {
      name: "SymlinkDeepRelativeLinkChangeScope",
      setup: [link("../../../../test", "fs/a/f")],
      checks: [
        ["fs/a/f", "test"],
        ["a/f", "test", "fs"],
      ],
    },
    {
      name: "SymlinkRelativeLinkChain",
      setup: [link("../g", "fs/b/h"), link("../../../../../../../../../../../../root", "fs/g")],
      checks: [["fs/b/h", "root"]],
    },
    { name: "SymlinkBreakoutPath", setup: [link("../i/a", "fs/j/k")], checks: [["k", "i/a", "fs/j"]] },
    { name: "SymlinkToRoot", setup: [link("/", "foo")], checks: [["foo", ""]] },
    { name: "SymlinkSlashDotdot", setup: [link("/../../", "foo")], checks: [["foo", ""]] },
    { name: "SymlinkDotdot", setup: [link("../../", "foo")], checks: [["foo", ""]] },
    {
      name: "SymlinkRelativePath2",
      setup: [link("baz/target", "bar/foo")],
      checks: [["bar/foo", "bar/baz/target"]],
    },
    {
      name: "SymlinkScopeLink",
      setup: [link("root2", "root"), link("../bar", "root2/foo")],
      checks: [["foo", "bar", "root"]],
    },
    { name: "SymlinkSelf", setup: [link("foo", "root/foo")], checks: [], loop: ["foo", "root"] },
    {
      name: "SymlinkCircular",
      setup: [link("foo", "bar"), link("bar", "foo")],
      checks: [],
      loop: ["foo", ""],
    },
    {
      name: "SymlinkCircularUnderRoot",
      setup: [link("baz", "root/bar"), link("../bak", "root/baz"), link("/bar", "root/bak")],
      checks: [],
      loop: ["bar", "root"],
    },
    {
      name: "SymlinkComplexChain",
      setup: [
        (d) => mkdirs(d, "root2"),
        link("root2", "root"),
        link("r/s", "root/a"),
        link("../root/t", "root/r"),
        link("/../u", "root/root/t/s/b"),
        link(".", "root/u/c"),
        link("../v", "root/u/x/y"),
        link("/../w", "root/u/v"),
      ],
      checks: [["a/b/c/x/y/z", "w/z", "root"]],
    },
    {
      name: "SymlinkBreakoutNonExistent",
      setup: [link("/", "root/slash"), link("/idontexist/../slash", "root/sym")],
      checks: [["sym/file", "file", "root"]],
    },
    {
      name: "SymlinkNoLexicalCleaning",
      setup: [link("/foo/bar", "root/sym"), link("/sym/../baz", "root/hello")],
      checks: [["hello", "foo/baz", "root"]],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const dir = tempRoot();
      for (const s of c.setup) s(dir);
      for (const [unresolved, expected, scope] of c.checks) {
        // As in continuity, the scope is joined, not resolved: a symlinked root is used as given.
        const root = scope === undefined ? dir : join(dir, scope);
        assert.equal(resolved(root, unresolved), expected === "" ? root : join(root, expected), unresolved);
      }
      if (c.loop) {
        const [unresolved, scope] = c.loop;
        assertLoop(scope === "" ? dir : join(dir, scope), unresolved);
      }
    });
  }

  test("SymlinkEmpty: the empty path is the root", () => {
    const root = tempRoot();
    assert.equal(resolved(root, ""), root);
    assert.equal(resolveInRoot(root, "").rel, ".");
  });
});

describe("securejoin join_test", () => {
  test("TestSymlink (scoped cases)", () => {
    const dir = tempRoot();
    symlinkSync("somepath", join(dir, "etc"));
    symlinkSync("../../../../../../../../../../../../../etc", join(dir, "etclink"));
    symlinkSync("/../../../../../../../../../../../../../etc/passwd", join(dir, "passwd"));
    const cases: [string, string][] = [
      ["passwd", "somepath/passwd"],
      ["etclink", "somepath"],
      ["etc", "somepath"],
      ["etc/test", "somepath/test"],
      ["etc/test/..", "somepath"],
    ];
    for (const [unsafe, expected] of cases) assert.equal(resolved(dir, unsafe), join(dir, expected), unsafe);
  });

  test("TestNoSymlink: without symlinks the result is Clean+Join", () => {
    const dir = tempRoot();
    const cases: [string, string][] = [
      ["somepath", "somepath"],
      ["even/more/path", "even/more/path"],
      ["/this/is/a/path", "this/is/a/path"],
      ["also/a/../path/././/with/some/./.././junk", "also/path/with/junk"],
      [
        "yetanother/../path/././/with/some/./.././junk../../../../../../../../../../../../etc/passwd",
        "etc/passwd",
      ],
      ["/../../../../../../../../../../../../../../../../etc/passwd", "etc/passwd"],
      ["../../../../../../../../../../../../../../../../somedir", "somedir"],
      ["../../../../../../../../../../../../../../../../", ""],
      ["./../../.././././../../../../../../../../../../../../../../../../etc passwd", "etc passwd"],
    ];
    for (const [unsafe, expected] of cases) {
      assert.equal(resolved(dir, unsafe), expected === "" ? dir : join(dir, expected), unsafe);
    }
  });

  test("TestNonLexical: subdir/link/../test goes through the link", () => {
    const dir = tempRoot();
    mkdirs(dir, "subdir");
    mkdirs(dir, "cousinparent/cousin");
    symlinkSync("../cousinparent/cousin", join(dir, "subdir/link"));
    symlinkSync("/../cousinparent/cousin", join(dir, "subdir/link2"));
    symlinkSync(
      "/../../../../../../../../../../../../../../../../cousinparent/cousin",
      join(dir, "subdir/link3"),
    );
    const cases: [string, string][] = [
      ["subdir", "subdir"],
      ["subdir/link/test", "cousinparent/cousin/test"],
      ["subdir/link2/test", "cousinparent/cousin/test"],
      ["subdir/link3/test", "cousinparent/cousin/test"],
      ["subdir/../test", "test"],
      ["subdir/link/../test", "cousinparent/test"],
      ["subdir/link2/../test", "cousinparent/test"],
      ["subdir/link3/../test", "cousinparent/test"],
    ];
    for (const [unsafe, expected] of cases) {
      // Also without following the final component: these finals are not symlinks.
      assert.equal(resolved(dir, unsafe), join(dir, expected), unsafe);
      assert.equal(resolved(dir, unsafe, false), join(dir, expected), `${unsafe} (final not followed)`);
    }
  });

  test("TestSymlinkLoop: loops are ELOOP", () => {
    const dir = tempRoot();
    mkdirs(dir, "subdir");
    symlinkSync("../../../../../../../../../../../../../../../../path", join(dir, "subdir/link"));
    symlinkSync("/subdir/link", join(dir, "path"));
    symlinkSync("/../../../../../../../../../../../../../../../../self", join(dir, "self"));
    for (const unsafe of [
      "subdir/link",
      "path",
      "../../path",
      "subdir/link/../..",
      "../../../../../../../../../../../../../../../../subdir/link/../../../../../../../../../../../../../../../..",
      "self",
      "self/..",
      "/../../../../../../../../../../../../../../../../self/..",
      "/self/././..",
    ]) {
      assertLoop(dir, unsafe);
    }
  });

  test("TestEnotdir: a file used as a directory is no error, it is reported missing", () => {
    const dir = tempRoot();
    mkdirs(dir, "subdir");
    writeFileSync(join(dir, "notdir"), "I am not a directory!");
    symlinkSync("/../../../notdir/somechild", join(dir, "subdir/link"));
    for (const unsafe of ["subdir/link", "notdir", "notdir/child"]) {
      assert.doesNotThrow(() => resolveInRoot(dir, unsafe, { followFinal: true }), unsafe);
    }
    const r = resolveInRoot(dir, "subdir/link", { followFinal: true });
    assert.equal(r.rel, "notdir/somechild");
    assert.equal(r.missingFrom, 0);
    assert.equal(r.stat, undefined);
  });
});

describe("resolveInRoot", () => {
  test("the final component is not followed unless asked", () => {
    const root = tempRoot();
    mkdirs(root, "etc");
    symlinkSync("/etc", join(root, "le"));
    const r = resolveInRoot(root, "le");
    assert.equal(r.rel, "le");
    assert.ok(r.stat?.isSymbolicLink());
    const f = resolveInRoot(root, "le", { followFinal: true });
    assert.equal(f.rel, "etc");
    assert.ok(f.stat?.isDirectory());
    // Parents are always followed.
    assert.equal(resolveInRoot(root, "le/passwd").rel, "etc/passwd");
  });

  test("a relative escape is clamped at ROOT; an absolute target is re-rooted", () => {
    const root = tempRoot();
    symlinkSync("../../../../etc", join(root, "rel"));
    symlinkSync("/dummy/../etc", join(root, "abs"));
    assert.equal(resolveInRoot(root, "rel/x").rel, "etc/x");
    assert.equal(resolveInRoot(root, "abs/x").rel, "etc/x");
  });

  test("missing parents are reported, with the number of existing leading components", () => {
    const root = tempRoot();
    mkdirs(root, "a");
    const r = resolveInRoot(root, "a/b/c/f");
    assert.deepEqual([r.rel, r.missingFrom, r.stat], ["a/b/c/f", 1, undefined]);
    // A dangling parent symlink resolves to its (missing) in-root target.
    symlinkSync("/dne", join(root, "l"));
    const d = resolveInRoot(root, "l/x");
    assert.deepEqual([d.rel, d.missingFrom], ["dne/x", 0]);
    // `..` back out of missing territory re-checks what exists.
    const back = resolveInRoot(root, "nope/../a");
    assert.deepEqual([back.rel, back.missingFrom], ["a", -1]);
    assert.ok(back.stat?.isDirectory());
  });

  test("exactly 40 expansions resolve, 41 are ELOOP", () => {
    const root = tempRoot();
    mkdirs(root, "end");
    // l0 -> l1 -> ... -> l{n-1} -> end
    const chain = (n: number, prefix: string) => {
      for (let i = 0; i < n; i++) {
        symlinkSync(i === n - 1 ? "end" : `${prefix}${i + 1}`, join(root, `${prefix}${i}`));
      }
    };
    chain(MAX_SYMLINK_HOPS, "ok");
    chain(MAX_SYMLINK_HOPS + 1, "ko");
    assert.equal(resolveInRoot(root, "ok0/x").rel, "end/x");
    assertLoop(root, "ko0/x");
  });

  test("loopError escapes control characters of the name it reports", () => {
    const e = loopError("a\nb/\u001b[31m");
    assert.equal(e.code, "E_LAYER_INVALID");
    assert.ok(e.message.startsWith('"a\\x0ab/\\x1b[31m": too many levels of symbolic links'), e.message);
  });

  test("nothing outside ROOT is touched: a link to the host's parent stays inside", () => {
    const outer = tempRoot();
    const root = join(outer, "root");
    mkdirSync(root);
    mkdirs(outer, "victim");
    symlinkSync("../victim", join(root, "v"));
    symlinkSync(join(outer, "victim"), join(root, "w"));
    assert.equal(resolveInRoot(root, "v/x").host, join(root, "victim/x"));
    assert.equal(resolveInRoot(root, "w/x").host, join(root, outer.slice(1), "victim/x"));
  });
});

describe("makeParents", () => {
  test("creates the missing parents 0755 whatever the umask, replacing a non-directory", () => {
    const root = tempRoot();
    writeFileSync(join(root, "n"), "file");
    const old = process.umask(0o077);
    try {
      const r = resolveInRoot(root, "n/a/b/f");
      assert.equal(r.missingFrom, 0);
      const seen: string[] = [];
      const after = makeParents(root, r, (m) => seen.push(`${m.rel}${m.replaced ? " (replaced)" : ""}`));
      assert.equal(after.missingFrom, -1);
      assert.deepEqual(seen, ["n (replaced)", "n/a", "n/a/b"]);
      for (const p of ["n", "n/a", "n/a/b"]) {
        const st = lstatSync(join(root, p));
        assert.ok(st.isDirectory(), p);
        assert.equal(st.mode & 0o7777, 0o755, p);
      }
      assert.deepEqual(readdirSync(join(root, "n/a/b")), []);
    } finally {
      process.umask(old);
    }
  });

  test("a resolution without missing parents is returned as is", () => {
    const root = tempRoot();
    const r = resolveInRoot(root, "f");
    assert.equal(makeParents(root, r), r);
    chmodSync(root, 0o700);
  });
});
