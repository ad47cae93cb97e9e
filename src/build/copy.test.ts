import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, linkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { needTool, tmpdir } from "../../test/fixtures/tools.ts";
import { isOslessError } from "../errors.ts";
import type { LayerEntry } from "../layer/write.ts";
import { writeLayer } from "../layer/write.ts";
import { DirRoot } from "../runtime/root-dir.ts";
import { DirTree, resolveSources, type SourceTree } from "./context.ts";
import { copyEntries, parseChmod, resolveChown, sourcesDigest } from "./copy.ts";
import { Ignore } from "./ignore.ts";
import { entrySummary, makeTree } from "./testkit.ts";

const tree = (spec: Record<string, string>) => makeTree(spec, "osless-copy-");

const summary = entrySummary;

function copy(
  ctx: SourceTree,
  srcs: string[],
  dest: string,
  opts: Partial<Parameters<typeof copyEntries>[1]> = {},
): LayerEntry[] {
  return copyEntries(resolveSources(ctx, srcs), { dest, now: 1000, ...opts });
}

const ROOT_FILES = {
  "etc/passwd":
    "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:App:/home/app:/bin/sh\nbin:x:2:2::/bin:/usr/sbin/nologin\n",
  "etc/group": "root:x:0:\nstaff:x:50:app\napps:x:1001:\n",
};

describe("copyEntries: destinations", () => {
  it("a file to a path, into a directory (trailing /), relative to the workdir", async () => {
    const dir = await tree({ "app.bin": "x" });
    chmodSync(join(dir, "app.bin"), 0o750);
    const ctx = new DirTree(dir);
    assert.deepEqual(summary(copy(ctx, ["app.bin"], "/usr/bin/app")), {
      usr: "directory 755 0:0",
      "usr/bin": "directory 755 0:0",
      "usr/bin/app": "file 750 0:0",
    });
    assert.deepEqual(summary(copy(ctx, ["app.bin"], "/opt/")), {
      opt: "directory 755 0:0",
      "opt/app.bin": "file 750 0:0",
    });
    assert.deepEqual(summary(copy(ctx, ["app.bin"], "rel/", { workdir: "/srv/app" })), {
      srv: "directory 755 0:0",
      "srv/app": "directory 755 0:0",
      "srv/app/rel": "directory 755 0:0",
      "srv/app/rel/app.bin": "file 750 0:0",
    });
    assert.deepEqual(summary(copy(ctx, ["app.bin"], ".", { workdir: "/w" })), {
      w: "directory 755 0:0",
      "w/app.bin": "file 750 0:0",
    });
    assert.deepEqual(summary(copy(ctx, ["app.bin"], "/")), { "app.bin": "file 750 0:0" });
  });

  it("copies a directory's contents, not the directory, keeping symlinks and hard links", async () => {
    const dir = await tree({ "src/a.txt": "a", "src/sub/b.txt": "b", "src/link": "-> a.txt" });
    linkSync(join(dir, "src/a.txt"), join(dir, "src/hard"));
    chmodSync(join(dir, "src/sub"), 0o700);
    chmodSync(join(dir, "src"), 0o750);
    const entries = copy(new DirTree(dir), ["src"], "/dst");
    assert.deepEqual(summary(entries), {
      dst: "directory 750 0:0",
      "dst/a.txt": "file 644 0:0",
      "dst/hard": "hardlink 644 0:0 dst/a.txt",
      "dst/link": "symlink 777 0:0 a.txt",
      "dst/sub": "directory 700 0:0",
      "dst/sub/b.txt": "file 644 0:0",
    });
    // The same with a trailing / and into the root.
    assert.deepEqual(Object.keys(summary(copy(new DirTree(dir), ["src/"], "/"))), [
      "a.txt",
      "hard",
      "link",
      "sub",
      "sub/b.txt",
    ]);
  });

  it("several sources make the destination a directory; several arguments need a trailing /", async () => {
    const ctx = new DirTree(await tree({ "a.png": "", "b.png": "", "c.txt": "" }));
    assert.deepEqual(Object.keys(summary(copy(ctx, ["*.png"], "/img"))), ["img", "img/a.png", "img/b.png"]);
    assert.throws(
      () => copy(ctx, ["a.png", "c.txt"], "/img"),
      (e) => isOslessError(e, "E_USAGE") && /must be a directory and end with a \//.test(e.message),
    );
    assert.deepEqual(Object.keys(summary(copy(ctx, ["a.png", "c.txt"], "/img/"))), [
      "img",
      "img/a.png",
      "img/c.txt",
    ]);
  });

  it("resolves the destination in the image: existing directories, symlinks, conflicts", async () => {
    const root = await tree({
      ...ROOT_FILES,
      "usr/bin/": "",
      bin: "-> usr/bin",
      "opt/": "",
      "data/file": "x",
      "dst/name/": "",
    });
    const destRoot = new DirRoot(root);
    const ctx = new DirTree(await tree({ tool: "t", name: "n", "tree/bin/x": "x", "tree/etc/y": "y" }));
    // An existing directory takes the file inside it, even without a trailing /.
    assert.deepEqual(summary(copy(ctx, ["tool"], "/opt", { destRoot })), { "opt/tool": "file 644 0:0" });
    // A symlinked directory is followed (merged /usr), and existing parents are not in the layer.
    assert.deepEqual(summary(copy(ctx, ["tool"], "/bin/", { destRoot })), { "usr/bin/tool": "file 644 0:0" });
    assert.deepEqual(summary(copy(ctx, ["tree"], "/", { destRoot })), {
      "usr/bin": "directory 755 0:0",
      "usr/bin/x": "file 644 0:0",
      etc: "directory 755 0:0",
      "etc/y": "file 644 0:0",
    });
    assert.throws(
      () => copy(ctx, ["tool"], "/data/file/", { destRoot }),
      (e) => isOslessError(e, "E_CONFLICT") && /is a file in the image/.test(e.message),
    );
    assert.throws(
      () => copy(ctx, ["name"], "/dst/", { destRoot }),
      (e) => isOslessError(e, "E_CONFLICT") && /a directory of that name exists/.test(e.message),
    );
  });
});

describe("copyEntries: metadata", () => {
  it("--chown with names from the image's passwd and group, and numeric ids", async () => {
    const destRoot = new DirRoot(await tree(ROOT_FILES));
    assert.deepEqual(resolveChown("app", destRoot), { uid: 1000, gid: 1001 });
    assert.deepEqual(resolveChown("app:staff", destRoot), { uid: 1000, gid: 50 });
    assert.deepEqual(resolveChown("bin:apps", destRoot), { uid: 2, gid: 1001 });
    assert.deepEqual(resolveChown("55", destRoot), { uid: 55, gid: 55 });
    assert.deepEqual(resolveChown("55:staff", destRoot), { uid: 55, gid: 50 });
    assert.deepEqual(resolveChown("10:11", undefined), { uid: 10, gid: 11 });
    assert.throws(() => resolveChown("nobody", destRoot), /unable to find user nobody/);
    assert.throws(() => resolveChown("app:nogroup", destRoot), /unable to find group nogroup/);
    assert.throws(() => resolveChown("app", undefined), /the image has no \/etc\/passwd/);
    const ctx = new DirTree(await tree({ "d/f": "f" }));
    // The files are the user's; the parents this step makes stay root's.
    assert.deepEqual(summary(copy(ctx, ["d"], "/srv/app/", { destRoot, chown: "app:staff" })), {
      srv: "directory 755 0:0",
      "srv/app": "directory 755 1000:50",
      "srv/app/f": "file 644 1000:50",
    });
  });

  it("--chmod octal and symbolic", async () => {
    const x = parseChmod("u=rwX,go=rX");
    assert.equal(x(0o600, true), 0o755);
    assert.equal(x(0o600, false), 0o644);
    assert.equal(x(0o700, false), 0o755);
    assert.equal(parseChmod("+x")(0o644, false), 0o755);
    assert.equal(parseChmod("g=u")(0o640, false), 0o660);
    assert.equal(parseChmod("go-w,u+s")(0o666, false), 0o4644);
    assert.equal(parseChmod("0755")(0o600, false), 0o755);
    assert.equal(parseChmod("4755")(0o600, false), 0o4755);
    assert.throws(
      () => parseChmod("77777"),
      (e) => isOslessError(e, "E_USAGE"),
    );
    assert.throws(
      () => parseChmod("u+q"),
      (e) => isOslessError(e, "E_USAGE"),
    );
    const ctx = new DirTree(await tree({ "d/f": "f", "d/s/g": "g" }));
    assert.deepEqual(summary(copy(ctx, ["d"], "/x", { chmod: "640" })), {
      x: "directory 640 0:0",
      "x/f": "file 640 0:0",
      "x/s": "directory 640 0:0",
      "x/s/g": "file 640 0:0",
    });
  });

  it("keeps mtimes, clamped to SOURCE_DATE_EPOCH; made directories get the step's time", async () => {
    const dir = await tree({ old: "o", "new": "n" });
    utimesSync(join(dir, "old"), 100, 100);
    utimesSync(join(dir, "new"), 5_000_000, 5_000_000);
    const ctx = new DirTree(dir);
    const times = (es: LayerEntry[]) => Object.fromEntries(es.map((e) => [e.path, e.mtime]));
    assert.deepEqual(times(copy(ctx, ["old", "new"], "/d/", { now: 7_000_000 })), {
      d: 7_000_000,
      "d/old": 100,
      "d/new": 5_000_000,
    });
    assert.deepEqual(
      times(copy(ctx, ["old", "new"], "/d/", { now: 7_000_000, sourceDateEpoch: 1_000_000 })),
      { d: 1_000_000, "d/old": 100, "d/new": 1_000_000 },
    );
  });

  it("owners are 0:0 from the context and kept from a --from root", async () => {
    const dir = await tree({ "home/app/f": "f" });
    execFileSync("chown", ["-R", "1000:1000", join(dir, "home/app")]);
    assert.deepEqual(summary(copy(new DirTree(dir), ["home/app/f"], "/f")), { f: "file 644 0:0" });
    const stage = new DirTree(dir, { keepOwners: true, label: 'stage "build"' });
    assert.deepEqual(summary(copy(stage, ["/home/app"], "/app")), {
      app: "directory 755 1000:1000",
      "app/f": "file 644 1000:1000",
    });
  });

  it("a layer written from the entries holds the files (read back with GNU tar)", async () => {
    const tar = needTool("tar", "tar");
    const dir = await tree({ "bin/hello": "#!/bin/sh\necho hi\n", "conf/a.conf": "a=1\n" });
    chmodSync(join(dir, "bin/hello"), 0o755);
    const entries = copy(new DirTree(dir), ["bin/hello", "conf"], "/app/", { chown: "1:2" });
    const out = await tmpdir("osless-copy-layer-");
    await writeLayer(entries, join(out, "layer.tar"), { compression: "none" });
    const list = execFileSync(tar, ["-tvf", join(out, "layer.tar"), "--numeric-owner"], { encoding: "utf8" });
    assert.match(list, /^drwxr-xr-x 0\/0 .* app\/$/m);
    assert.match(list, /^-rwxr-xr-x 1\/2 +18 .* app\/hello$/m);
    assert.match(list, /^-rw-r--r-- 1\/2 +4 .* app\/a\.conf$/m);
    const body = execFileSync(tar, ["-xOf", join(out, "layer.tar"), "app/hello"], { encoding: "utf8" });
    assert.equal(body, "#!/bin/sh\necho hi\n");
  });
});

describe("sourcesDigest", () => {
  it("is stable, ignores mtimes without SOURCE_DATE_EPOCH, and changes with content, modes and names", async () => {
    const dir = await tree({ "app/a.txt": "a", "app/b/c.txt": "c", "other.txt": "o", "skip.log": "" });
    const ctx = new DirTree(dir, { ignore: new Ignore(["*.log"]) });
    const digest = (srcs = ["app", "other.txt"], epoch?: number) =>
      sourcesDigest(resolveSources(ctx, srcs), { sourceDateEpoch: epoch });
    const d1 = await digest();
    assert.match(d1, /^sha256:[0-9a-f]{64}$/);
    assert.equal(await digest(), d1);
    // A second tree with the same files has the same digest (host paths are not in it).
    const twin = await tree({ "app/a.txt": "a", "app/b/c.txt": "c", "other.txt": "o" });
    assert.equal(await sourcesDigest(resolveSources(new DirTree(twin), ["app", "other.txt"])), d1);
    // Ignored files do not count.
    writeFileSync(join(dir, "skip.log"), "changed");
    assert.equal(await digest(), d1);
    // mtimes count only with SOURCE_DATE_EPOCH (and only as clamped).
    utimesSync(join(dir, "app/a.txt"), 500, 500);
    assert.equal(await digest(), d1);
    const e1 = await digest(undefined, 1000);
    utimesSync(join(dir, "app/a.txt"), 600, 600);
    assert.notEqual(await digest(undefined, 1000), e1);
    utimesSync(join(dir, "app/a.txt"), 2000, 2000);
    const clamped = await digest(undefined, 1000);
    utimesSync(join(dir, "app/a.txt"), 3000, 3000);
    assert.equal(await digest(undefined, 1000), clamped);
    // Content, mode and new files change it.
    writeFileSync(join(dir, "app/b/c.txt"), "C");
    const d2 = await digest();
    assert.notEqual(d2, d1);
    chmodSync(join(dir, "app/b/c.txt"), 0o600);
    const d3 = await digest();
    assert.notEqual(d3, d2);
    writeFileSync(join(dir, "app/new.txt"), "");
    const d4 = await digest();
    assert.notEqual(d4, d3);
    // The order and spelling of sources count (they decide names in the layer).
    assert.notEqual(await digest(["other.txt", "app"]), d4);
  });
});
