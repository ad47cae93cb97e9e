import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { isOslessError } from "../errors.ts";
import { cleanAbsolute, mergeTmpfsOptions, parseTmpfs, parseUserMounts, parseVolume } from "./mounts.ts";

const host = mkdtempSync(join(tmpdir(), "osless-mounts-"));
after(() => rmSync(host, { recursive: true, force: true }));

test("cleanAbsolute is Go's path.Clean for absolute paths", () => {
  assert.equal(cleanAbsolute("/a//b/./c/../d/"), "/a/b/d");
  assert.equal(cleanAbsolute("/../.."), "/");
  assert.equal(cleanAbsolute("a/b"), undefined);
});

test("-v SRC:DST binds the host path read-write, rprivate", () => {
  assert.deepEqual(parseVolume(`${host}:/data`), {
    destination: "/data",
    type: "bind",
    source: host,
    options: ["rbind", "rprivate"],
  });
});

test("-v modes: ro, propagation, z/Z accepted", () => {
  assert.deepEqual(parseVolume(`${host}:/data/./x/:ro`).options, ["rbind", "ro", "rprivate"]);
  assert.equal(parseVolume(`${host}:/data:ro`).destination, "/data");
  assert.deepEqual(parseVolume(`${host}:/data:rw,rshared`).options, ["rbind", "rshared"]);
  assert.deepEqual(parseVolume(`${host}:/data:Z,ro,slave`).options, ["rbind", "ro", "slave"]);
});

// Each bad spec must be a usage error that quotes the spec and shows the syntax.
const bad: { spec: string; why: RegExp }[] = [
  { spec: "", why: /empty/ },
  { spec: "/data", why: /anonymous volumes are not supported/ },
  { spec: "myvolume:/data", why: /"myvolume" is a named volume, which osless does not support/ },
  { spec: "./rel:/data", why: /named volume/ },
  { spec: ":/data", why: /host path is empty/ },
  { spec: "/x:data", why: /container path "data" is not absolute/ },
  { spec: "/x:", why: /is not absolute/ },
  { spec: "/x:/", why: /cannot be "\/"/ },
  { spec: "/x:/a/..", why: /cannot be "\/"/ },
  { spec: "/x:/data:rx", why: /invalid mode "rx"/ },
  { spec: "/x:/data:ro,rw", why: /more than one of ro and rw/ },
  { spec: "/x:/data:shared,slave", why: /more than one propagation mode/ },
  { spec: "/x:/data:", why: /mode after the second colon is empty/ },
  { spec: "/x:/data:ro:extra", why: /too many colon-separated fields/ },
];
for (const row of bad) {
  test(`-v "${row.spec}" is refused`, () => {
    assert.throws(
      () => parseVolume(row.spec),
      (e) =>
        isOslessError(e, "E_USAGE") &&
        e.message.includes(`"${row.spec}"`) &&
        row.why.test(e.message) &&
        /-v \/absolute\/host\/path:\/absolute\/container\/path|volume store/.test(e.hint ?? ""),
    );
  });
}

test("-v with a host path that does not exist is refused (osless never creates it)", () => {
  const missing = join(host, "nope");
  assert.throws(
    () => parseVolume(`${missing}:/data`),
    (e) => isOslessError(e, "E_NOT_FOUND") && e.message.includes(missing),
  );
  assert.equal(parseVolume(`${missing}:/data`, { checkSource: false }).source, missing);
});

test("--tmpfs DST gets Docker's defaults; options merge, later wins", () => {
  assert.deepEqual(parseTmpfs("/run"), {
    destination: "/run",
    type: "tmpfs",
    source: "tmpfs",
    options: ["noexec", "nosuid", "nodev", "rprivate"],
  });
  assert.deepEqual(parseTmpfs("/run:exec,size=64m,mode=1777,size=1g").options, [
    "nosuid",
    "nodev",
    "rprivate",
    "exec",
    "mode=1777",
    "size=1g",
  ]);
  assert.deepEqual(mergeTmpfsOptions("x", ["ro", "rw", "shared"]), [
    "noexec",
    "nosuid",
    "nodev",
    "rw",
    "shared",
  ]);
});

const badTmpfs: { spec: string; why: RegExp }[] = [
  { spec: "", why: /not absolute/ },
  { spec: "run", why: /container path "run" is not absolute/ },
  { spec: "/", why: /cannot be "\/"/ },
  { spec: "/run:", why: /options after the colon are empty/ },
  { spec: "/run:size", why: /unknown option "size"/ },
  { spec: "/run:size=", why: /option "size" has no value/ },
  { spec: "/run:bogus=1", why: /unknown option "bogus=1"/ },
  { spec: "/run:ro,,rw", why: /an option is empty/ },
];
for (const row of badTmpfs) {
  test(`--tmpfs "${row.spec}" is refused`, () => {
    assert.throws(
      () => parseTmpfs(row.spec),
      (e) =>
        isOslessError(e, "E_USAGE") &&
        e.message.includes(`"${row.spec}"`) &&
        row.why.test(e.message) &&
        (e.hint ?? "").includes("--tmpfs /absolute/container/path"),
    );
  });
}

test("user mounts: sorted parents first, duplicates refused", () => {
  const ms = parseUserMounts([`${host}:/a/b/c`, `${host}:/a`], ["/a/b"]);
  assert.deepEqual(
    ms.map((m) => m.destination),
    ["/a", "/a/b", "/a/b/c"],
  );
  assert.throws(
    () => parseUserMounts([`${host}:/data`], ["/data/"]),
    (e) => isOslessError(e, "E_USAGE") && /Duplicate mount point: \/data/.test(e.message),
  );
});
