import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { tmpdir } from "../../../../test/fixtures/tools.ts";
import { DirFiles } from "../../dir-files.ts";
import { catalogRpm } from "./index.ts";
import { rowsOf, rpmFixture } from "./testkit.ts";

/** A root directory holding `files` (image path -> host file to copy, or bytes) and `links` (path -> target). */
async function root(
  files: Record<string, string | Buffer>,
  links: Record<string, string> = {},
): Promise<string> {
  const dir = await tmpdir("rpm-catalog");
  for (const [path, src] of Object.entries(files)) {
    const to = join(dir, path);
    mkdirSync(dirname(to), { recursive: true });
    if (typeof src === "string") copyFileSync(src, to);
    else writeFileSync(to, src);
  }
  for (const [path, target] of Object.entries(links)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    symlinkSync(target, join(dir, path));
  }
  return dir;
}

describe("catalogRpm", () => {
  it("reads a Fedora-like image once through its /var/lib/rpm symlink, WAL included", async () => {
    const fx = await rpmFixture();
    const dir = await root(
      {
        "usr/lib/sysimage/rpm/rpmdb.sqlite": fx.walDb,
        "usr/lib/sysimage/rpm/rpmdb.sqlite-wal": `${fx.walDb}-wal`,
        "usr/lib/sysimage/rpm/rpmdb.sqlite-shm": Buffer.alloc(0),
      },
      { "var/lib/rpm": "../../usr/lib/sysimage/rpm" },
    );
    const r = await catalogRpm(new DirFiles(dir));
    assert.deepEqual(r.findings, []);
    assert.deepEqual(rowsOf(r.packages), fx.oracle.wal);
    assert.ok(r.packages.every((p) => p.location === "/usr/lib/sysimage/rpm/rpmdb.sqlite"));
  });

  it("reads a CentOS-7-like Berkeley DB and a SUSE-like NDB where each distribution keeps it", async () => {
    const fx = await rpmFixture();
    const centos = await catalogRpm(new DirFiles(await root({ "var/lib/rpm/Packages": fx.bdbLe4096 })));
    assert.deepEqual(centos.findings, []);
    assert.deepEqual(rowsOf(centos.packages), fx.oracle.bdbLe4096);
    assert.equal(centos.packages[0]?.location, "/var/lib/rpm/Packages");
    const suse = await catalogRpm(new DirFiles(await root({ "usr/lib/sysimage/rpm/Packages.db": fx.ndb })));
    assert.deepEqual(suse.findings, []);
    assert.deepEqual(rowsOf(suse.packages), fx.oracle.sqlite);
    assert.equal(suse.packages[0]?.location, "/usr/lib/sysimage/rpm/Packages.db");
  });

  it("uses the first backend in rpm's order when a directory holds several, and says which it left", async () => {
    const fx = await rpmFixture();
    const dir = await root({
      "var/lib/rpm/Packages": fx.bdbBe512,
      "var/lib/rpm/rpmdb.sqlite": fx.sqlite,
    });
    const r = await catalogRpm(new DirFiles(dir));
    assert.deepEqual(rowsOf(r.packages), fx.oracle.sqlite);
    assert.ok(r.packages.every((p) => p.location === "/var/lib/rpm/rpmdb.sqlite"));
    assert.deepEqual(
      r.findings.map((f) => [f.code, f.path]),
      [["RPM_DB_IGNORED", "/var/lib/rpm/Packages"]],
    );
  });

  it("reads two distinct database directories separately", async () => {
    const fx = await rpmFixture();
    const dir = await root({
      "var/lib/rpm/Packages": fx.bdbLe4096,
      "usr/share/rpm/Packages.db": fx.ndb,
    });
    const r = await catalogRpm(new DirFiles(dir));
    assert.deepEqual(r.findings, []);
    assert.equal(r.packages.length, 2 * fx.blobs.length);
    assert.deepEqual([...new Set(r.packages.map((p) => p.location))].sort(), [
      "/usr/share/rpm/Packages.db",
      "/var/lib/rpm/Packages",
    ]);
  });

  it("finds nothing in an image without rpm, and reports junk and empty databases without throwing", async () => {
    const none = await catalogRpm(new DirFiles(await root({ "etc/os-release": Buffer.from("ID=debian\n") })));
    assert.deepEqual(none, { packages: [], findings: [] });
    const junk = await catalogRpm(
      new DirFiles(
        await root({
          "var/lib/rpm/Packages": Buffer.from("Package: bash\nStatus: install ok installed\n"),
          "usr/lib/sysimage/rpm/rpmdb.sqlite": Buffer.alloc(0),
        }),
      ),
    );
    assert.deepEqual(junk.packages, []);
    assert.deepEqual(
      junk.findings.map((f) => [f.code, f.path]),
      [
        ["RPM_DB_CORRUPT", "/usr/lib/sysimage/rpm/rpmdb.sqlite"],
        ["RPM_DB_CORRUPT", "/var/lib/rpm/Packages"],
      ],
    );
    // A directory named like a database is not one.
    const dirNamed = await root({ "var/lib/rpm/Packages/x": Buffer.from("x") });
    assert.deepEqual(await catalogRpm(new DirFiles(dirNamed)), { packages: [], findings: [] });
  });
});
