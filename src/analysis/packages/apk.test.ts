import assert from "node:assert/strict";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { tmpdir } from "../../../test/fixtures/tools.ts";
import { prng } from "../../tar/testkit.ts";
import { DirFiles } from "../dir-files.ts";
import { mutateText } from "../testkit.ts";
import { APK_DB_CAP, catalogApk, parseApkInstalled } from "./apk.ts";
import { FINDINGS_PER_KIND } from "./common.ts";
import { catalogPackages } from "./index.ts";
import type { CatalogResult, Package } from "./types.ts";

// Written by hand from apk-tools' writer (apk_pkg_write_index_header, then apk_db_fdb_write): index fields, the
// installed-only r/q/s/f, then per directory F (+M when not the default 0:0:755) and per file R (+a, Z).
const MUSL = `C:Q1rZ0Bx4m7BSpAb8YUF9T3fbCQ3aM=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:407278
I:663552
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Teräs <timo.teras@iki.fi>
t:1705402453
c:0e6b4c2fb0d3b0f0a4f5e2c1bd4aba1d9a2e3d4e
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1pl5+PCmjr3Y+2IBl0AHQkbkgGzg=
R:libc.musl-x86_64.so.1
a:0:0:777
Z:Q17yJ3JFNypA4mxhJJr0ou6CzsJVI=
`;

const BINSH = `C:Q1nP6wFx1Ed3w7B1kzYJ+iU5mc0iw=
P:busybox-binsh
V:1.36.1-r15
A:x86_64
S:1543
I:1
T:busybox ash /bin/sh
U:https://busybox.net/
L:GPL-2.0-only
o:busybox
m:Sören Tempel <soeren+alpine@soeren-tempel.net>
t:1700000000
c:3d4e0e6b4c2fb0d3b0f0a4f5e2c1bd4aba1d9a2e
k:100
D:busybox=1.36.1-r15
p:/bin/sh cmd:sh=1.36.1-r15
i:busybox=1.36.1-r15 alpine-base
r:busybox
q:10
s:edge
f:S
F:bin
R:sh
a:0:0:777
Z:Q1pcfTfDNEbNKQc2s1tia7da05M8Q=
F:etc
F:var/cache/misc
M:0:0:1777
`;

const DB = `${MUSL}\n${BINSH}\n`;

const WANT: Package[] = [
  {
    type: "apk",
    name: "musl",
    version: "1.2.4_git20230717-r4",
    arch: "x86_64",
    source: { name: "musl", version: null },
    license: "MIT",
    files: ["/lib", "/lib/ld-musl-x86_64.so.1", "/lib/libc.musl-x86_64.so.1"],
    location: "/lib/apk/db/installed",
  },
  {
    type: "apk",
    name: "busybox-binsh",
    version: "1.36.1-r15",
    arch: "x86_64",
    source: { name: "busybox", version: null },
    license: "GPL-2.0-only",
    files: ["/bin", "/bin/sh", "/etc", "/var/cache/misc"],
    location: "/lib/apk/db/installed",
  },
];

const codes = (r: CatalogResult) => r.findings.map((f) => f.code);

function assertWellFormed(r: CatalogResult, location: string, what: string): void {
  assert.ok(Array.isArray(r.packages) && Array.isArray(r.findings), what);
  const names = new Set<string>();
  for (const p of r.packages) {
    assert.equal(p.type, "apk", what);
    assert.ok(p.name.length > 0 && !/\s/.test(p.name), `${what}: name ${JSON.stringify(p.name)}`);
    assert.ok(p.version.length > 0, what);
    assert.ok(Array.isArray(p.files), what);
    for (const f of p.files!) assert.ok(f.startsWith("/") && f !== "/", `${what}: file ${JSON.stringify(f)}`);
    assert.equal(p.location, location, what);
    assert.ok(!names.has(p.name), `${what}: ${p.name} twice`);
    names.add(p.name);
  }
  const perKind = new Map<string, number>();
  for (const f of r.findings) {
    assert.match(f.code, /^APK_[A-Z_]+$/, what);
    assert.equal(f.path, location, what);
    perKind.set(f.code, (perKind.get(f.code) ?? 0) + 1);
  }
  for (const [code, n] of perKind) assert.ok(n <= FINDINGS_PER_KIND + 1, `${what}: ${n} ${code} findings`);
}

describe("parseApkInstalled", () => {
  test("two packages: name, version, arch, origin, licence and file lists", () => {
    const r = parseApkInstalled(DB, "/lib/apk/db/installed");
    assert.deepEqual(r, { packages: WANT, findings: [] });
  });

  test("CRLF, a missing final blank line or newline, extra blank lines: the same packages", () => {
    const variants = [
      DB.replace(/\n/g, "\r\n"),
      `${MUSL}\n${BINSH}`, // no final blank line (apk itself drops such a last record)
      `${MUSL}\n${BINSH}`.slice(0, -1), // nor a final newline
      `\n\n${MUSL}\n\n \n${BINSH}\n\n\n`,
      `${MUSL}\r\n${BINSH}`,
    ];
    for (const [i, v] of variants.entries()) {
      assert.deepEqual(
        parseApkInstalled(v, "/lib/apk/db/installed"),
        { packages: WANT, findings: [] },
        `variant ${i}`,
      );
    }
  });

  test("unknown keys, upper or lower case, anywhere in a record, are ignored", () => {
    const withUnknown = DB.replace("P:musl\n", "P:musl\ng:alpine:tag\nX:future field\n")
      .replace("R:sh\n", "R:sh\ny:whatever\n")
      .replace("F:etc\n", "F:etc\nW:1\n");
    assert.deepEqual(parseApkInstalled(withUnknown, "/lib/apk/db/installed"), {
      packages: WANT,
      findings: [],
    });
  });

  test("a database cut at every byte never throws; complete records survive, cut ones are findings", () => {
    const muslEnd = MUSL.length; // musl's last line ends here
    for (let cut = 0; cut <= DB.length; cut++) {
      const r = parseApkInstalled(DB.slice(0, cut), "db");
      assertWellFormed(r, "db", `cut at ${cut}`);
      if (cut >= muslEnd) assert.deepEqual(r.packages[0], { ...WANT[0], location: "db" }, `cut at ${cut}`);
      const binshV = MUSL.length + 1 + BINSH.indexOf("V:") + 2;
      if (cut > muslEnd + 1 && cut <= binshV) {
        // busybox-binsh's record has started but its V: is not there yet.
        const started = cut >= MUSL.length + 1 + BINSH.indexOf("P:") + 3;
        if (started) assert.ok(codes(r).includes("APK_NO_VERSION"), `cut at ${cut}`);
        assert.equal(r.packages.length, 1, `cut at ${cut}`);
      }
    }
    // Cut in the file list: the package stays, with the files listed so far.
    const cut = DB.indexOf("R:sh") + 4;
    const r = parseApkInstalled(DB.slice(0, cut), "db");
    assert.deepEqual(r.packages[1]?.files, ["/bin", "/bin/sh"]);
    assert.deepEqual(r.findings, []);
  });

  test("bad records: no name, no version, R: before F:, duplicates, a missing separator, stray lines", () => {
    const text = [
      "V:1.0\nA:x86_64\nF:usr\nR:orphan\n", // no P:
      "P:nover\nA:x86_64\n",
      "P:early\nV:1\nR:before-any-dir\nF:usr/bin\nR:tool\n",
      "P:dup\nV:1\nF:a\n",
      "P:dup\nV:2\nF:b\n",
      "P:first\nV:1\nF:x\nR:y\nP:second\nV:2\nF:z\n", // no blank line between two records
      "P:stray\nthis is not a field\nPX:too long a key\nV:3\nV:4\n",
      "P:white space\nV:1\n",
      "P:x\nV:1\nq\nP:after-short-line\nV:2\n", // a one-character line ends the record, as in apk
    ].join("\n");
    const r = parseApkInstalled(text, "db");
    assert.deepEqual(
      r.packages.map((p) => [p.name, p.version, p.files]),
      [
        ["early", "1", ["/usr/bin", "/usr/bin/tool"]],
        ["dup", "1", ["/a"]],
        ["first", "1", ["/x", "/x/y"]],
        ["second", "2", ["/z"]],
        ["stray", "3", []],
        ["x", "1", []],
        ["after-short-line", "2", []],
      ],
    );
    assert.deepEqual(codes(r).sort(), [
      "APK_BAD_NAME",
      "APK_DUPLICATE_FIELD",
      "APK_DUPLICATE_PACKAGE",
      "APK_FILE_WITHOUT_DIR",
      "APK_MALFORMED_LINE",
      "APK_MISSING_SEPARATOR",
      "APK_NO_NAME",
      "APK_NO_VERSION",
    ]);
    assert.match(r.findings.find((f) => f.code === "APK_MALFORMED_LINE")!.message, /^3 line\(s\)/);
    assert.match(r.findings.find((f) => f.code === "APK_NO_NAME")!.message, /line 1\b/);
  });

  test("a root-level directory (F: empty) and paths with odd slashes", () => {
    const r = parseApkInstalled("P:rootfiles\nV:1\nF:\nR:.dockerenv\nF:/usr//lib/\nR:libz.so.1\n", "db");
    assert.deepEqual(r.packages[0]!.files, ["/.dockerenv", "/usr/lib", "/usr/lib/libz.so.1"]);
    assert.deepEqual(r.packages[0]!.source, null, "no o: line");
    assert.equal(r.packages[0]!.license, null, "no L: line");
    assert.equal(r.packages[0]!.arch, null, "no A: line");
  });

  test("fuzz: mutated databases never throw and give well-formed results", () => {
    const bases = [DB, DB.replace(/\n/g, "\r\n")];
    const pieces = [
      "\n",
      "\n\n",
      "\r",
      ":",
      "P:",
      "V:",
      "F:",
      "R:",
      "o:",
      "L:",
      "\0",
      "\ufffd",
      "x",
      " ",
      "P:dup\nV:1\n",
    ];
    for (let seed = 1; seed <= 2000; seed++) {
      const s = mutateText(bases[seed % bases.length]!, prng(seed), pieces, { cut: 30, dup: 150 });
      assertWellFormed(parseApkInstalled(s, "fuzz"), "fuzz", `seed ${seed}`);
    }
  });
});

describe("catalogApk", () => {
  async function rootWith(files: Record<string, string | Buffer>): Promise<string> {
    const root = await tmpdir("apk-root");
    for (const [p, data] of Object.entries(files)) {
      await mkdir(join(root, p, ".."), { recursive: true });
      await writeFile(join(root, p), data);
    }
    return root;
  }

  test("/lib/apk/db/installed", async () => {
    const root = await rootWith({ "lib/apk/db/installed": DB });
    assert.deepEqual(await catalogApk(new DirFiles(root)), { packages: WANT, findings: [] });
  });

  test("/usr/lib/apk/db/installed (newer apk), and merged /usr where both paths are one file", async () => {
    const usr = await rootWith({ "usr/lib/apk/db/installed": DB });
    const r = await catalogApk(new DirFiles(usr));
    assert.deepEqual(
      r.packages,
      WANT.map((p) => ({ ...p, location: "/usr/lib/apk/db/installed" })),
    );
    assert.deepEqual(r.findings, []);
    await symlink("usr/lib", join(usr, "lib"));
    assert.deepEqual(await catalogApk(new DirFiles(usr)), { packages: WANT, findings: [] }, "read once");
  });

  test("two different databases: both read, a package in both kept once", async () => {
    const root = await rootWith({
      "lib/apk/db/installed": MUSL,
      "usr/lib/apk/db/installed": `${BINSH}\nP:musl\nV:9.9-r0\n`,
    });
    const r = await catalogApk(new DirFiles(root));
    assert.deepEqual(
      r.packages.map((p) => `${p.name} ${p.version} ${p.location}`),
      [
        "musl 1.2.4_git20230717-r4 /lib/apk/db/installed",
        "busybox-binsh 1.36.1-r15 /usr/lib/apk/db/installed",
      ],
    );
    assert.deepEqual(codes(r), ["APK_DUPLICATE_PACKAGE"]);
    assert.equal(r.findings[0]!.path, "/usr/lib/apk/db/installed");
  });

  test("no database, or a directory in its place: nothing and no findings", async () => {
    const none = await rootWith({ "etc/alpine-release": "3.19.1\n" });
    assert.deepEqual(await catalogApk(new DirFiles(none)), { packages: [], findings: [] });
    const dir = await rootWith({ "lib/apk/db/installed/x": "" });
    assert.deepEqual(await catalogApk(new DirFiles(dir)), { packages: [], findings: [] });
  });

  test("binary junk: a finding, the real records between the junk still read", async () => {
    const rand = prng(11);
    const junk = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
    const root = await rootWith({
      "lib/apk/db/installed": Buffer.concat([junk(200_000), Buffer.from(`\n\n${MUSL}\n`), junk(200_000)]),
    });
    const r = await catalogApk(new DirFiles(root));
    assert.ok(codes(r).includes("APK_DB_BINARY"));
    assert.ok(r.packages.some((p) => p.name === "musl" && p.files?.length === 3));
    assert.ok(r.findings.length < 200, `findings stay bounded (${r.findings.length})`);
  });

  test("a 50 MB database is read up to the cap, the cut record dropped, and reported", async () => {
    const rec = (i: number) =>
      `P:pkg-${String(i).padStart(7, "0")}\nV:1.0-r0\nA:x86_64\nT:${"x".repeat(400)}\nF:usr/share/p${String(i).padStart(7, "0")}\nR:f\n\n`;
    const len = rec(0).length;
    const count = Math.ceil((50 * 1000 * 1000) / len);
    const parts: string[] = [];
    for (let i = 0; i < count; i++) parts.push(rec(i));
    const root = await rootWith({ "lib/apk/db/installed": parts.join("") });
    const r = await catalogApk(new DirFiles(root));
    const kept = Math.floor(APK_DB_CAP / len);
    assert.equal(r.packages.length, kept);
    assert.equal(r.packages.at(-1)!.name, `pkg-${String(kept - 1).padStart(7, "0")}`);
    assert.deepEqual(codes(r), ["APK_DB_TRUNCATED"]);
    assert.match(r.findings[0]!.message, /only its first 32\.0 MiB were read/);
  });
});

test("catalogPackages: dpkg and apk databases of one image in one result", async () => {
  const root = await tmpdir("mixed-root");
  await mkdir(join(root, "lib/apk/db"), { recursive: true });
  await mkdir(join(root, "var/lib/dpkg/status.d"), { recursive: true });
  await writeFile(join(root, "lib/apk/db/installed"), DB);
  await writeFile(
    join(root, "var/lib/dpkg/status.d/tzdata"),
    "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n",
  );
  await writeFile(join(root, "var/lib/dpkg/status.d/broken"), "Version: 1\n");
  const r = await catalogPackages(new DirFiles(root));
  assert.deepEqual(
    r.packages.map((p) => `${p.type} ${p.name} ${p.version}`),
    ["deb tzdata 2024a-0+deb12u1", "apk musl 1.2.4_git20230717-r4", "apk busybox-binsh 1.36.1-r15"],
  );
  assert.deepEqual(codes(r), ["DPKG_NO_PACKAGE"]);
});
