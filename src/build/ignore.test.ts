import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { tmpdir } from "../../test/fixtures/tools.ts";
import { isOslessError } from "../errors.ts";
import { cleanPath, goMatch, hasWildcards } from "./glob.ts";
import { Ignore, loadIgnore, parseIgnoreFile } from "./ignore.ts";

describe("goMatch (Go filepath.Match)", () => {
  const table: [string, string, boolean][] = [
    ["*.go", "main.go", true],
    ["*.go", "dir/main.go", false],
    ["*", "a/b", false],
    ["a/*", "a/b", true],
    ["a/*", "a/b/c", false],
    ["index.?s", "index.js", true],
    ["index.?s", "index.ts", true],
    ["index.?s", "index.tsx", false],
    ["?", "/", false],
    ["arr[[]0].txt", "arr[0].txt", true],
    ["arr[[]0].txt", "arr0.txt", false],
    ["[a-c]x", "bx", true],
    ["[a-c]x", "dx", false],
    ["[^a-c]x", "dx", true],
    ["[^a-c]x", "ax", false],
    ["a\\*b", "a*b", true],
    ["a\\*b", "axb", false],
    ["*.txt", ".txt", true],
    ["a.b", "axb", false],
    ["(x)+", "(x)+", true],
  ];
  for (const [p, s, want] of table) {
    it(`${p} vs ${s} -> ${want}`, () => assert.equal(goMatch(p, s), want));
  }
  for (const bad of ["[", "[]", "a[", "\\", "[a-]", "[z-a]"]) {
    it(`"${bad}" is malformed`, () => {
      assert.throws(
        () => goMatch(bad, "x"),
        (e) => isOslessError(e, "E_USAGE"),
      );
    });
  }
  it("finds wildcards, not escaped ones", () => {
    assert.equal(hasWildcards("a*"), true);
    assert.equal(hasWildcards("a\\*"), false);
    assert.equal(hasWildcards("[x]"), true);
    assert.equal(hasWildcards("plain.txt"), false);
  });
  it("cleans paths as Go's path.Clean", () => {
    assert.equal(cleanPath("./a/"), "a");
    assert.equal(cleanPath("a//b/../c"), "a/c");
    assert.equal(cleanPath("/../x"), "/x");
    assert.equal(cleanPath("../x"), "../x");
    assert.equal(cleanPath(""), ".");
  });
});

describe(".dockerignore files", () => {
  it("reads lines as the Docker CLI does", () => {
    const text =
      "\uFEFF# comment\n\n  node_modules/  \n/abs\n./rel/x/\n!keep.md\n! spaced\n #not a comment\n*.log\n";
    assert.deepEqual(parseIgnoreFile(text), [
      "node_modules",
      "abs",
      "rel/x",
      "!keep.md",
      "!spaced",
      "#not a comment",
      "*.log",
    ]);
  });

  // [patterns, path, ignored]
  const table: [string[], string, boolean][] = [
    [["foo"], "foo", true],
    [["foo"], "foo/bar", true],
    [["foo"], "foobar", false],
    [["foo"], "x/foo", false],
    [["*.md"], "README.md", true],
    [["*.md"], "docs/a.md", false],
    [["*/*.md"], "docs/a.md", true],
    [["**/*.md"], "docs/a.md", true],
    [["**/*.md"], "a.md", true],
    [["**/*.md"], "a/b/c/d.md", true],
    [["**/*.md"], "a/b/c/d.mdx", false],
    [["**/foo"], "foo", true],
    [["**/foo"], "a/b/foo", true],
    [["**/foo"], "a/b/foo/c", true],
    [["**/foo"], "a/bfoo", false],
    [["a/**"], "a/b/c", true],
    [["a/**"], "a", false],
    [["a/**/b"], "a/b", true],
    [["a/**/b"], "a/x/y/b", true],
    [["a/**/b"], "a/x/y/c", false],
    [["**"], "anything/at/all", true],
    [["temp?"], "temp1", true],
    [["temp?"], "temp12", false],
    [["*", "!keep"], "keep", false],
    [["*", "!keep"], "other", true],
    [["*.md", "!README.md"], "README.md", false],
    [["*.md", "!README.md", "README*"], "README.md", true],
    [["dir", "!dir/keep"], "dir/keep", false],
    [["dir", "!dir/keep"], "dir/keep/deep", false],
    [["dir", "!dir/keep"], "dir/other", true],
    [["dir/*", "!dir/keep"], "dir", false],
    [["/abs"], "abs", true],
    [["./rel/"], "rel/file", true],
    [["a\\*b"], "a*b", true],
    [["a\\*b"], "axb", false],
    [["[ab]c"], "bc", true],
    [["[ab]c"], "dc", false],
    [["x.y"], "xzy", false],
  ];
  for (const [patterns, path, want] of table) {
    it(`${JSON.stringify(patterns)}: ${path} -> ${want ? "ignored" : "kept"}`, () => {
      assert.equal(new Ignore(patterns).isIgnored(path), want);
    });
  }

  it("refuses a lone ! and malformed patterns", () => {
    assert.throws(
      () => new Ignore(["!"]),
      (e) => isOslessError(e, "E_USAGE"),
    );
    assert.throws(
      () => new Ignore(["a["]),
      (e) => isOslessError(e, "E_USAGE") && /a\[/.test(e.message),
    );
  });

  it("knows when a hidden directory must be walked", () => {
    assert.equal(new Ignore(["dir"]).mayHoldIncluded("dir"), false);
    assert.equal(new Ignore(["dir", "!dir/x"]).mayHoldIncluded("dir"), true);
  });

  it("loads <Dockerfile>.dockerignore before .dockerignore", async () => {
    const ctx = await tmpdir("osless-ignore-");
    mkdirSync(join(ctx, "build"));
    writeFileSync(join(ctx, ".dockerignore"), "from-root\n");
    writeFileSync(join(ctx, "build/app.Dockerfile.dockerignore"), "from-dockerfile\n");
    const specific = loadIgnore(ctx, "build/app.Dockerfile");
    assert.equal(specific.file, join(ctx, "build/app.Dockerfile.dockerignore"));
    assert.equal(specific.ignore.isIgnored("from-dockerfile"), true);
    assert.equal(specific.ignore.isIgnored("from-root"), false);
    const general = loadIgnore(ctx, "Dockerfile");
    assert.equal(general.file, join(ctx, ".dockerignore"));
    assert.equal(general.ignore.isIgnored("from-root"), true);
    const abs = loadIgnore(ctx, join(ctx, "build/app.Dockerfile"));
    assert.equal(abs.ignore.isIgnored("from-dockerfile"), true);
    const none = loadIgnore(join(ctx, "build"));
    assert.equal(none.file, undefined);
    assert.equal(none.ignore.isIgnored("anything"), false);
  });
});
