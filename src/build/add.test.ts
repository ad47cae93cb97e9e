import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { needTool, tmpdir } from "../../test/fixtures/tools.ts";
import { isOslessError } from "../errors.ts";
import type { LayerEntry } from "../layer/write.ts";
import { DirRoot } from "../runtime/root-dir.ts";
import { addEntries, detectArchive, resolveAddSources, urlFileName } from "./add.ts";
import { DirTree } from "./context.ts";
import { sourcesDigest } from "./copy.ts";
import { entrySummary } from "./testkit.ts";

const summary = entrySummary;

function content(e: LayerEntry | undefined): string {
  assert.ok(e, "entry missing");
  return (e.body ?? readFileSync(e.source!)).toString("utf8");
}

/** A small root filesystem made with GNU tar (owners, modes, a symlink, a hard link, a big file). */
async function makeRootfs(): Promise<{ dir: string; tarFile: string }> {
  const tar = needTool("tar", "tar");
  const dir = await tmpdir("osless-add-");
  const src = join(dir, "rootfs");
  mkdirSync(join(src, "etc"), { recursive: true });
  mkdirSync(join(src, "usr/bin"), { recursive: true });
  writeFileSync(join(src, "etc/os-release"), "ID=test\n");
  writeFileSync(join(src, "etc/shadow"), "root:*:1::::::\n");
  chmodSync(join(src, "etc/shadow"), 0o640);
  writeFileSync(join(src, "usr/bin/tool"), Buffer.alloc(200_000, 7));
  chmodSync(join(src, "usr/bin/tool"), 0o755);
  symlinkSync("usr/bin", join(src, "bin"));
  execFileSync("ln", [join(src, "usr/bin/tool"), join(src, "usr/bin/tool2")]);
  const tarFile = join(dir, "rootfs.tar");
  execFileSync(tar, [
    "-cf",
    tarFile,
    "-C",
    src,
    "--owner=0",
    "--group=0",
    "--numeric-owner",
    "--mtime=@1700000000",
    "--sort=name",
    ".",
  ]);
  // /etc/shadow owned by root:shadow (gid 42), as in Debian.
  execFileSync(tar, ["--delete", "-f", tarFile, "./etc/shadow"]);
  execFileSync(tar, [
    "-rf",
    tarFile,
    "-C",
    src,
    "--owner=0",
    "--group=42",
    "--numeric-owner",
    "--mtime=@1700000000",
    "./etc/shadow",
  ]);
  return { dir, tarFile };
}

const COMPRESSORS: [string, string, string][] = [
  ["gzip", "gzip", "gz"],
  ["bzip2", "bzip2", "bz2"],
  ["xz", "xz-utils", "xz"],
  ["zstd", "zstd", "zst"],
];

describe("ADD local archives", () => {
  let rootfs: { dir: string; tarFile: string };
  before(async () => {
    rootfs = await makeRootfs();
    for (const [cmd, pkg, ext] of COMPRESSORS) {
      const bin = needTool(cmd, pkg);
      const out = execFileSync(bin, ["-c", rootfs.tarFile], { maxBuffer: 1 << 28 });
      writeFileSync(join(rootfs.dir, `rootfs.tar.${ext}`), out);
    }
  });

  const expected = {
    bin: "symlink 777 0:0 usr/bin",
    etc: "directory 755 0:0",
    "etc/os-release": "file 644 0:0",
    "etc/shadow": "file 640 0:42",
    usr: "directory 755 0:0",
    "usr/bin": "directory 755 0:0",
    "usr/bin/tool": "file 755 0:0",
    "usr/bin/tool2": "hardlink 755 0:0 usr/bin/tool",
  };

  for (const name of ["rootfs.tar", "rootfs.tar.gz", "rootfs.tar.bz2", "rootfs.tar.xz", "rootfs.tar.zst"]) {
    it(`extracts ${name} into / (FROM scratch + ADD, as debian:*-slim is made)`, async () => {
      const ctx = new DirTree(rootfs.dir);
      const scratchDir = await tmpdir("osless-add-scratch-");
      const sources = await resolveAddSources(ctx, [name], { scratchDir });
      assert.notEqual(sources[0]!.archive, undefined);
      const entries = await addEntries(sources, { dest: "/", scratchDir, sourceDateEpoch: 1_600_000_000 });
      assert.deepEqual(summary(entries), expected);
      const byPath = new Map(entries.map((e) => [e.path, e]));
      assert.equal(content(byPath.get("etc/os-release")), "ID=test\n");
      assert.equal(content(byPath.get("usr/bin/tool")), Buffer.alloc(200_000, 7).toString("utf8"));
      // Times clamped to SOURCE_DATE_EPOCH.
      assert.ok(entries.every((e) => e.mtime === 1_600_000_000));
    });
  }

  it("extracts into a directory destination, with --chown applied, onto an image's symlinks", async () => {
    const ctx = new DirTree(rootfs.dir);
    const scratchDir = await tmpdir("osless-add-scratch-");
    const base = await tmpdir("osless-add-base-");
    mkdirSync(join(base, "srv/real"), { recursive: true });
    symlinkSync("real", join(base, "srv/data"));
    const sources = await resolveAddSources(ctx, ["rootfs.tar.gz"], { scratchDir });
    const entries = await addEntries(sources, {
      dest: "/srv/data",
      scratchDir,
      chown: "5:6",
      destRoot: new DirRoot(base),
    });
    const s = summary(entries);
    assert.equal(s["srv/real/etc/shadow"], "file 640 5:6");
    assert.equal(s["srv/real/usr/bin/tool2"], "hardlink 755 5:6 srv/real/usr/bin/tool");
    // The archive's "./" entry gives the (existing, symlinked) destination its metadata, as tar -x does.
    assert.equal(s["srv/real"], "directory 755 5:6");
    assert.equal(s["srv/data"], undefined, "the image's symlink is followed, not replaced");
    assert.equal(s.srv, undefined, "existing parents are not rewritten");
  });

  it("copies what is not a tar: a gzip of a non-tar, a plain file; and --from or --unpack=false sources", async () => {
    const dir = await tmpdir("osless-add-plain-");
    writeFileSync(join(dir, "notes.txt.gz"), gzipSync(Buffer.from("just text\n")));
    writeFileSync(join(dir, "fake.tar.gz"), "");
    writeFileSync(join(dir, "zeros.tar"), Buffer.alloc(1024));
    assert.equal(await detectArchive(join(dir, "notes.txt.gz")), undefined);
    assert.equal(await detectArchive(join(dir, "fake.tar.gz")), undefined);
    assert.equal(await detectArchive(join(dir, "zeros.tar")), undefined);
    const scratchDir = await tmpdir("osless-add-scratch-");
    const ctx = new DirTree(dir);
    const sources = await resolveAddSources(ctx, ["notes.txt.gz", "fake.tar.gz"], { scratchDir });
    assert.deepEqual(summary(await addEntries(sources, { dest: "/d/", scratchDir })), {
      d: "directory 755 0:0",
      "d/fake.tar.gz": "file 644 0:0",
      "d/notes.txt.gz": "file 644 0:0",
    });
    const rctx = new DirTree(rootfs.dir);
    const kept = await resolveAddSources(rctx, ["rootfs.tar.xz"], { scratchDir, unpack: false });
    assert.equal(kept[0]!.archive, undefined);
    const from = await resolveAddSources(rctx, ["rootfs.tar.xz"], { scratchDir, fromRoot: true });
    assert.equal(from[0]!.archive, undefined);
  });

  it("refuses whiteouts and names that climb out", async () => {
    const tar = needTool("tar", "tar");
    const dir = await tmpdir("osless-add-bad-");
    mkdirSync(join(dir, "t"));
    writeFileSync(join(dir, "t/.wh.gone"), "");
    execFileSync(tar, ["-cf", join(dir, "wh.tar"), "-C", join(dir, "t"), ".wh.gone"]);
    writeFileSync(join(dir, "x"), "x");
    execFileSync(tar, ["-cf", join(dir, "up.tar"), "-P", "--transform=s,^,../../,", "-C", dir, "x"]);
    const scratchDir = await tmpdir("osless-add-scratch-");
    const ctx = new DirTree(dir);
    await assert.rejects(
      addEntries(await resolveAddSources(ctx, ["wh.tar"], { scratchDir }), { dest: "/", scratchDir }),
      (e) => isOslessError(e, "E_ARCHIVE_INVALID") && /whiteout/.test(e.message),
    );
    await assert.rejects(
      addEntries(await resolveAddSources(ctx, ["up.tar"], { scratchDir }), { dest: "/", scratchDir }),
      (e) => isOslessError(e, "E_TAR_UNSAFE_PATH"),
    );
  });
});

describe("ADD URLs", () => {
  let server: Server;
  let base: string;
  const body = Buffer.from("downloaded bytes\n");
  const good = `sha256:${createHash("sha256").update(body).digest("hex")}`;
  before(async () => {
    server = createServer((req, res) => {
      if (req.url === "/files/tool-1.0.bin") {
        res.writeHead(200, {
          "last-modified": "Tue, 14 Nov 2023 22:13:20 GMT",
          "content-length": body.length,
        });
        res.end(body);
      } else if (req.url === "/moved") {
        res.writeHead(302, { location: "/files/tool-1.0.bin" });
        res.end();
      } else if (req.url === "/nodate/x") {
        res.end(body);
      } else {
        res.writeHead(404);
        res.end("no");
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it("downloads to a directory destination under the URL's file name, mode 0600, Last-Modified mtime", async () => {
    const scratchDir = await tmpdir("osless-add-url-");
    const ctx = new DirTree(scratchDir);
    const sources = await resolveAddSources(ctx, [`${base}/files/tool-1.0.bin`], {
      scratchDir,
      checksum: good,
    });
    const entries = await addEntries(sources, { dest: "/opt/", scratchDir, chown: "7" });
    assert.deepEqual(summary(entries), { opt: "directory 755 0:0", "opt/tool-1.0.bin": "file 600 7:7" });
    const file = entries.find((e) => e.path === "opt/tool-1.0.bin")!;
    assert.equal(file.mtime, 1700000000);
    assert.equal(content(file), body.toString());
    // To a file path; through a redirect; no Last-Modified: now.
    const moved = await resolveAddSources(ctx, [`${base}/moved`], { scratchDir, now: 1234 });
    assert.deepEqual(summary(await addEntries(moved, { dest: "/bin/tool", scratchDir })), {
      bin: "directory 755 0:0",
      "bin/tool": "file 600 0:0",
    });
    const nodate = await resolveAddSources(ctx, [`${base}/nodate/x`], { scratchDir, now: 1234 });
    assert.equal((await addEntries(nodate, { dest: "/x", scratchDir, now: 1 }))[0]!.mtime, 1234);
    // The digest is the content's: the same bytes from another URL name differ only by the URL.
    const d1 = await sourcesDigest(sources);
    assert.equal(await sourcesDigest(sources), d1);
  });

  it("refuses a download whose checksum differs, bad checksums, and server errors", async () => {
    const scratchDir = await tmpdir("osless-add-url-");
    const ctx = new DirTree(scratchDir);
    const wrong = `sha256:${"0".repeat(64)}`;
    await assert.rejects(
      resolveAddSources(ctx, [`${base}/files/tool-1.0.bin`], { scratchDir, checksum: wrong }),
      (e) => isOslessError(e, "E_DIGEST_MISMATCH") && e.message.includes(wrong) && e.message.includes(good),
    );
    await assert.rejects(
      resolveAddSources(ctx, [`${base}/files/tool-1.0.bin`], { scratchDir, checksum: "md5:abc" }),
      (e) => isOslessError(e, "E_DIGEST_INVALID"),
    );
    writeFileSync(join(scratchDir, "local"), "x");
    await assert.rejects(
      resolveAddSources(ctx, ["local"], { scratchDir, checksum: good }),
      (e) => isOslessError(e, "E_USAGE") && /URL sources only/.test(e.message),
    );
    await assert.rejects(
      resolveAddSources(ctx, [`${base}/missing`], { scratchDir }),
      (e) => isOslessError(e, "E_NETWORK") && /404/.test(e.message),
    );
    // A URL without a file name cannot go into a directory.
    const noname = await resolveAddSources(ctx, [`${base}/nodate/x`], { scratchDir });
    noname[0]!.name = "";
    await assert.rejects(addEntries(noname, { dest: "/d/", scratchDir }), /cannot tell a file name/);
  });

  it("names files from URL paths", () => {
    assert.equal(urlFileName("https://example.com/a/b/linux-0.01.tar.gz"), "linux-0.01.tar.gz");
    assert.equal(urlFileName("https://example.com/a/b/"), "b");
    assert.equal(urlFileName("https://example.com/my%20file?x=1"), "my file");
    assert.equal(urlFileName("https://example.com"), "");
  });
});
