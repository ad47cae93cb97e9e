import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { isOslessError } from "../errors.ts";
import { DirTree, resolveSources, UnionTree, walkSource } from "./context.ts";
import { Ignore } from "./ignore.ts";
import { makeTree } from "./testkit.ts";

const tree = (spec: Record<string, string>) => makeTree(spec, "osless-context-");

const rels = (srcs: { node: { rel: string } }[]) => srcs.map((s) => s.node.rel);

describe("resolveSources", () => {
  it("resolves plain paths, leading / and ./, trailing /, and the context itself", async () => {
    const ctx = new DirTree(await tree({ "a.txt": "a", "dir/b.txt": "b" }));
    assert.deepEqual(rels(resolveSources(ctx, ["a.txt", "/a.txt", "./dir/", "dir/../a.txt", "."])), [
      "a.txt",
      "a.txt",
      "dir",
      "a.txt",
      ".",
    ]);
    const [d] = resolveSources(ctx, ["dir/b.txt"]);
    assert.equal(d!.name, "b.txt");
    assert.equal(d!.node.kind, "file");
  });

  it("refuses a source outside the context", async () => {
    const ctx = new DirTree(await tree({ "a.txt": "a" }));
    for (const src of ["../a.txt", "dir/../../a.txt", "/../etc/passwd"]) {
      assert.throws(
        () => resolveSources(ctx, [src]),
        (e) => isOslessError(e, "E_USAGE") && /COPY source outside the context/.test(e.message),
        src,
      );
    }
  });

  it("matches globs with Go's rules, in byte order, not into symlinked dirs", async () => {
    const ctx = new DirTree(
      await tree({
        "b.png": "",
        "a.png": "",
        "c.jpg": "",
        "img/x.png": "",
        "img/y.gif": "",
        "img/sub/z.png": "",
        "link/": "",
        lnk: "-> img",
        "index.js": "",
        "index.ts": "",
        "arr[0].txt": "",
      }),
    );
    assert.deepEqual(rels(resolveSources(ctx, ["*.png"])), ["a.png", "b.png"]);
    assert.deepEqual(rels(resolveSources(ctx, ["img/*.png"])), ["img/x.png"]);
    assert.deepEqual(rels(resolveSources(ctx, ["*/*.png"])), ["img/x.png"]);
    assert.deepEqual(rels(resolveSources(ctx, ["index.?s"])), ["index.js", "index.ts"]);
    assert.deepEqual(rels(resolveSources(ctx, ["arr[[]0].txt"])), ["arr[0].txt"]);
    // A directory that matches is one source; a symlink that matches is followed.
    assert.deepEqual(rels(resolveSources(ctx, ["im*"])), ["img"]);
    const [l] = resolveSources(ctx, ["ln?"]);
    assert.equal(l!.node.rel, "img");
    assert.equal(l!.name, "lnk");
    assert.throws(
      () => resolveSources(ctx, ["*.bmp"]),
      (e) => isOslessError(e, "E_NOT_FOUND") && /no source files were specified/.test(e.message),
    );
    assert.throws(
      () => resolveSources(ctx, ["a["]),
      (e) => isOslessError(e, "E_USAGE"),
    );
  });

  it("resolves symlinks inside the context, never outside it", async () => {
    const dir = await tree({
      "real/f.txt": "f",
      rel: "-> real",
      abs: "-> /real",
      up: "-> ../../../../real/f.txt",
      escape: "-> /etc/passwd",
    });
    const ctx = new DirTree(dir);
    assert.deepEqual(rels(resolveSources(ctx, ["rel/f.txt", "abs/f.txt", "up", "rel"])), [
      "real/f.txt",
      "real/f.txt",
      "real/f.txt",
      "real",
    ]);
    // /etc/passwd is looked up in the context, where it is not.
    assert.throws(
      () => resolveSources(ctx, ["escape"]),
      (e) => isOslessError(e, "E_NOT_FOUND") && /"escape" not found in the context/.test(e.message),
    );
  });

  it("never sees ignored files, and walks only what .dockerignore lets through", async () => {
    const dir = await tree({
      "keep.txt": "k",
      "secret.key": "s",
      "node_modules/x/index.js": "",
      "docs/a.md": "",
      "docs/README.md": "",
      "docs/img/p.png": "",
    });
    const ctx = new DirTree(dir, {
      ignore: new Ignore(["*.key", "node_modules", "docs", "!docs/README.md"]),
    });
    assert.throws(
      () => resolveSources(ctx, ["secret.key"]),
      (e) => isOslessError(e, "E_NOT_FOUND"),
    );
    assert.throws(
      () => resolveSources(ctx, ["node_modules"]),
      (e) => isOslessError(e, "E_NOT_FOUND"),
    );
    assert.deepEqual(rels(resolveSources(ctx, ["*"])), ["docs", "keep.txt"]);
    const [root] = resolveSources(ctx, ["."]);
    assert.deepEqual(
      [...walkSource(root!)].map((w) => w.sub),
      ["", "docs", "docs/README.md", "keep.txt"],
    );
  });

  it("errors: no sources, URLs for COPY, missing paths", async () => {
    const ctx = new DirTree(await tree({ a: "" }));
    assert.throws(() => resolveSources(ctx, []), /no source files were specified/);
    assert.throws(
      () => resolveSources(ctx, ["https://example.com/x"]),
      (e) => isOslessError(e, "E_USAGE") && /is a URL/.test(e.message) && /use ADD/.test(e.hint ?? ""),
    );
    assert.throws(
      () => resolveSources(ctx, ["missing/file"]),
      (e) => isOslessError(e, "E_NOT_FOUND") && /"missing\/file" not found/.test(e.message),
    );
  });

  it("reads a union of layer directories as overlayfs shows it", async () => {
    const lower = await tree({ "app/old.txt": "old", "app/gone.txt": "x", "bin/tool": "t" });
    const upper = await tree({ "app/new.txt": "new", "bin/": "" });
    const { execFileSync } = await import("node:child_process");
    // A whiteout is a 0:0 character device: needs root (mknod).
    execFileSync("mknod", [join(upper, "app/gone.txt"), "c", "0", "0"]);
    const u = new UnionTree([upper, lower], 'stage "build"');
    const [app] = resolveSources(u, ["/app"]);
    assert.deepEqual(
      [...walkSource(app!)].map((w) => w.sub),
      ["", "new.txt", "old.txt"],
    );
    assert.throws(() => resolveSources(u, ["/app/gone.txt"]), /not found in stage "build"/);
    assert.deepEqual(rels(resolveSources(u, ["/bin/*"])), ["bin/tool"]);
    assert.equal(u.keepOwners, true);
  });
});
