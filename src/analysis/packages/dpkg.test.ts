import assert from "node:assert/strict";
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { DEBS, debFixture } from "../../../test/fixtures/debs.ts";
import { needTool, run, tmpdir } from "../../../test/fixtures/tools.ts";
import { prng } from "../../tar/testkit.ts";
import { DirFiles } from "../dir-files.ts";
import { mutateText } from "../testkit.ts";
import { absPath, FINDINGS_PER_KIND } from "./common.ts";
import {
  catalogDpkg,
  DPKG_STATUS_CAP,
  licenseFromCopyright,
  parseDeb822,
  parseDpkgSource,
  parseDpkgStatus,
} from "./dpkg.ts";
import type { CatalogResult, Package } from "./types.ts";

const codes = (r: CatalogResult) => r.findings.map((f) => f.code);
const line = (p: Package) =>
  [
    p.name,
    p.version,
    p.arch ?? "",
    p.source ? `${p.source.name}${p.source.version ? ` (${p.source.version})` : ""}` : "",
  ].join("\t");

/** dpkg-query's view of a status file: every package with its state, read from a copy in its own admindir. */
async function dpkgQuery(
  statusText: string | Buffer,
): Promise<{ line: string; sourcePackage: string; sourceVersion: string; state: string }[]> {
  const dpkgQueryBin = needTool("dpkg-query", "dpkg");
  const admin = await tmpdir("dpkg-admin");
  await writeFile(join(admin, "status"), statusText);
  const { stdout } = await run(dpkgQueryBin, [
    `--admindir=${admin}`,
    "-W",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${Field} format, not a template
    "-f=${Package}\\t${Version}\\t${Architecture}\\t${Source}\\t${source:Package}\\t${source:Version}\\t${db:Status-Status}\\n",
  ]);
  return stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const f = l.split("\t");
      return {
        line: f.slice(0, 4).join("\t"),
        sourcePackage: f[4]!,
        sourceVersion: f[5]!,
        state: f[6]!,
      };
    });
}

/** Well-formed output whatever the input: what the fuzz checks. */
function assertWellFormed(r: CatalogResult, location: string, what: string): void {
  assert.ok(Array.isArray(r.packages) && Array.isArray(r.findings), what);
  const seen = new Set<string>();
  for (const p of r.packages) {
    assert.equal(p.type, "deb", what);
    assert.ok(p.name.length > 0 && !/\s/.test(p.name), `${what}: name ${JSON.stringify(p.name)}`);
    assert.ok(typeof p.version === "string" && p.version.length > 0, what);
    assert.equal(p.location, location, what);
    const key = `${p.name}:${p.arch}`;
    assert.ok(!seen.has(key), `${what}: ${key} twice`);
    seen.add(key);
  }
  const perKind = new Map<string, number>();
  for (const f of r.findings) {
    assert.match(f.code, /^DPKG_[A-Z_]+$/, what);
    assert.equal(f.path, location, what);
    assert.ok(f.message.length > 0, what);
    perKind.set(f.code, (perKind.get(f.code) ?? 0) + 1);
  }
  for (const [code, n] of perKind) assert.ok(n <= FINDINGS_PER_KIND + 1, `${what}: ${n} ${code} findings`);
}

test("the host's /var/lib/dpkg/status reads exactly as dpkg-query lists its installed packages", async () => {
  // A copy: other processes may be installing packages while the test runs.
  const text = await readFile("/var/lib/dpkg/status");
  const want = await dpkgQuery(text);
  const installed = want.filter((w) => w.state === "installed");
  assert.ok(installed.length > 100, `the host has a real number of packages (${installed.length})`);
  const r = parseDpkgStatus(text.toString("utf8"), "/var/lib/dpkg/status");
  assert.deepEqual(r.packages.map(line).sort(), installed.map((w) => w.line).sort());
  // dpkg-query's source:Package / source:Version default to the binary's own name and version.
  const byLine = new Map(r.packages.map((p) => [line(p), p]));
  for (const w of installed) {
    const p = byLine.get(w.line)!;
    assert.equal(p.source?.name ?? p.name, w.sourcePackage, p.name);
    assert.equal(p.source?.version ?? p.version, w.sourceVersion, p.name);
    assert.match(p.status ?? "", / installed$/, p.name);
    assert.equal(p.location, "/var/lib/dpkg/status");
  }
  // Only half-installed states are reported; none means no findings at all.
  const half = want.filter((w) => !["installed", "config-files", "not-installed"].includes(w.state));
  assert.equal(r.findings.filter((f) => f.code === "DPKG_NOT_INSTALLED").length, half.length);
  assert.deepEqual(
    r.findings.filter((f) => f.code !== "DPKG_NOT_INSTALLED"),
    [],
  );
  assert.ok(r.packages.some((p) => p.name === "libc6" && p.source?.name === "glibc"));
});

const STATES = `Package: a
Status: install ok installed
Version: 1:1.0-2
Architecture: amd64
Source: asrc (0.9)
Description: first line
 second line
 .
 fourth line

Package: b
Status: hold ok installed
Version: 2
Architecture: all

Package: c
Status: deinstall ok installed
Version: 3
Architecture: all
Source: csrc

Package: d
Status: install ok unpacked
Version: 4
Architecture: all

Package: e
Status: deinstall ok config-files
Version: 5
Architecture: all

Package: f
Status: install ok half-configured
Version: 6
Architecture: all

Package: g
Status: install ok triggers-pending
Triggers-Pending: foo
Version: 7
Architecture: all

Package: libx
Status: install ok installed
Multi-Arch: same
Version: 1
Architecture: i386

Package: libx
Status: install ok installed
Multi-Arch: same
Version: 1
Architecture: amd64

Package: h
Status: install reinstreq half-installed
Version: 8
Architecture: all

Package: p
Status: purge ok not-installed
Architecture: all
`;

describe("parseDpkgStatus", () => {
  test("keeps exactly the packages dpkg-query calls installed; half states are findings", async () => {
    const want = await dpkgQuery(STATES);
    const installed = want.filter((w) => w.state === "installed").map((w) => w.line);
    assert.deepEqual(installed.sort(), [
      "a\t1:1.0-2\tamd64\tasrc (0.9)",
      "b\t2\tall\t",
      "c\t3\tall\tcsrc",
      "libx\t1\tamd64\t",
      "libx\t1\ti386\t",
    ]);
    const r = parseDpkgStatus(STATES, "status");
    assert.deepEqual(r.packages.map(line).sort(), installed);
    assert.deepEqual(
      r.findings.map((f) => `${f.code} ${f.message.split(" ")[0]}`),
      ["DPKG_NOT_INSTALLED d", "DPKG_NOT_INSTALLED f", "DPKG_NOT_INSTALLED g", "DPKG_NOT_INSTALLED h"],
    );
    const a = r.packages[0]!;
    assert.deepEqual(a, {
      type: "deb",
      name: "a",
      version: "1:1.0-2",
      arch: "amd64",
      source: { name: "asrc", version: "0.9" },
      license: null,
      status: "install ok installed",
      location: "status",
    });
    assert.deepEqual(r.packages[2]!.source, { name: "csrc", version: null });
    assert.equal(r.packages[1]!.source, null);
  });

  test("CRLF line ends, whitespace-only separators, comments, any field-name case and no final newline", () => {
    const crlf = parseDpkgStatus(STATES.replace(/\n/g, "\r\n"), "status");
    const lf = parseDpkgStatus(STATES, "status");
    assert.deepEqual(crlf, lf);
    const odd = [
      "# a comment line",
      "PACKAGE: one",
      "status: install ok installed",
      "version:2.0",
      "ARCHITECTURE:   amd64   ",
      "Description: x",
      " continued: with a colon",
      "\t and a tab",
      " \t ",
      "Package: two",
      "Version: 3",
    ].join("\n");
    const r = parseDpkgStatus(odd, "s");
    assert.deepEqual(r.findings, []);
    assert.deepEqual(r.packages.map(line), ["one\t2.0\tamd64\t", "two\t3\t\t"]);
    assert.equal(r.packages[1]!.status, undefined, "no Status: a bare control stanza (status.d)");
    const d = parseDeb822(odd)[0]!.fields.get("description");
    assert.equal(d, "x\n continued: with a colon\n\t and a tab");
  });

  test("Source forms", () => {
    assert.deepEqual(parseDpkgSource("glibc (2.36-9+deb12u4)"), { name: "glibc", version: "2.36-9+deb12u4" });
    assert.deepEqual(parseDpkgSource("glibc"), { name: "glibc", version: null });
    assert.deepEqual(parseDpkgSource("  glibc   ( 2.36 ) "), { name: "glibc", version: "2.36" });
    assert.deepEqual(parseDpkgSource("glibc()"), { name: "glibc", version: null });
    assert.deepEqual(parseDpkgSource("odd name (1"), { name: "odd", version: null });
    assert.equal(parseDpkgSource("   "), null);
  });

  test("bad stanzas: no Package, no Version, duplicates, repeated fields, stray lines, odd Status", () => {
    const text = [
      "Version: 1.0\nArchitecture: amd64\nDescription: no Package field\n",
      "Package: nover\nStatus: install ok installed\n",
      "Package: dup\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n",
      "Package: dup\nStatus: install ok installed\nVersion: 2\nArchitecture: amd64\n",
      "Package: dup\nStatus: install ok installed\nVersion: 1\nArchitecture: arm64\n",
      "Package: twice\nVersion: 1\nVersion: 2\n more of the second\nStatus: install ok installed\n",
      "Package: stray\nthis line has no colon\n  nor does this continuation\n: empty name\nVersion: 9\n",
      "Package: weird\nStatus: install ok\nVersion: 1\n",
      "Package: weird2\nStatus: install ok frobnicated\nVersion: 1\n",
      "Package: has space\nVersion: 1\n",
      " orphan continuation\n",
    ].join("\n");
    const r = parseDpkgStatus(text, "status");
    assert.deepEqual(r.packages.map(line), [
      "dup\t1\tamd64\t",
      "dup\t1\tarm64\t",
      "twice\t1\t\t",
      "stray\t9\t\t",
      "weird\t1\t\t",
      "weird2\t1\t\t",
    ]);
    assert.deepEqual(codes(r).sort(), [
      "DPKG_BAD_NAME",
      "DPKG_BAD_STATUS",
      "DPKG_BAD_STATUS",
      "DPKG_DUPLICATE_FIELD",
      "DPKG_DUPLICATE_PACKAGE",
      "DPKG_MALFORMED_LINE",
      "DPKG_NO_PACKAGE",
      "DPKG_NO_VERSION",
    ]);
    const malformed = r.findings.find((f) => f.code === "DPKG_MALFORMED_LINE")!;
    assert.match(
      malformed.message,
      /^3 line\(s\)/,
      "the stray line, the empty name and the orphan continuation",
    );
    assert.match(
      r.findings.find((f) => f.code === "DPKG_DUPLICATE_PACKAGE")!.message,
      /dup:amd64 2 .*first 1/,
    );
    assert.match(r.findings.find((f) => f.code === "DPKG_NO_PACKAGE")!.message, /line 1\b/);
  });

  test("a flood of bad stanzas gives a bounded number of findings", () => {
    const text = "Version: 1\n\n".repeat(5000);
    const r = parseDpkgStatus(text, "status");
    assert.equal(r.packages.length, 0);
    assert.equal(r.findings.length, FINDINGS_PER_KIND + 1);
    assert.match(r.findings.at(-1)!.message, new RegExp(`^${5000 - FINDINGS_PER_KIND} more DPKG_NO_PACKAGE`));
  });

  test("fuzz: mutated status files never throw and give well-formed results", async () => {
    const host = (await readFile("/var/lib/dpkg/status", "utf8")).slice(0, 30000);
    const bases = [STATES, STATES.replace(/\n/g, "\r\n"), host];
    const pieces = [
      "\n",
      "\n\n",
      "\r\n",
      " ",
      "\t",
      ":",
      "#",
      "(",
      ")",
      "\0",
      "\ufffd",
      "é",
      "Package: ",
      "Package: x",
      "Status: ",
      "install ok installed",
      "Version: ",
      "Source: ",
      "Architecture: ",
      "\n ",
    ];
    for (let seed = 1; seed <= 1500; seed++) {
      const s = mutateText(bases[seed % bases.length]!, prng(seed), pieces, { cut: 40, dup: 200 });
      assertWellFormed(parseDpkgStatus(s, "fuzz"), "fuzz", `seed ${seed}`);
    }
  });
});

test("licenseFromCopyright reads DEP-5 License lines and nothing else", () => {
  const dep5 = [
    "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/",
    "Upstream-Name: demo",
    "",
    "Files: *",
    "Copyright: 2020 Someone",
    "License: GPL-2+",
    "",
    "Files: lib/*",
    "Copyright: 2021 Else",
    "License: MIT or Apache-2.0",
    "",
    "Files: debian/*",
    "License: GPL-2+",
    "",
    "License: GPL-2+",
    " This program is free software ...",
    "",
    "License: Unused-Licence-Text",
    " Stand-alone paragraph, not used by any Files: paragraph.",
    "",
  ].join("\n");
  assert.equal(licenseFromCopyright(dep5), "GPL-2+ AND (MIT or Apache-2.0)");
  assert.equal(licenseFromCopyright(dep5.replace(/\n/g, "\r\n")), "GPL-2+ AND (MIT or Apache-2.0)");
  assert.equal(
    licenseFromCopyright("Format: https://dep-team.pages.debian.net/deps/dep5\nLicense: public-domain\n"),
    "public-domain",
  );
  assert.equal(licenseFromCopyright("This is the Debian prepackaged version of X.\n\nLicense: GPL\n"), null);
  assert.equal(licenseFromCopyright("Format: x\n\nFiles: *\nCopyright: none\n"), null);
  assert.equal(licenseFromCopyright(""), null);
});

// ---------------------------------------------------------------------------------------------------------------
// Real Debian packages: a distroless-like root (dpkg-deb -x + status.d from their control files) and the same
// packages in the classic layout (status + info/*.list).

describe("catalogDpkg on real Debian packages", () => {
  test("a distroless root (status.d + md5sums, no status): every package, its files and licence", async () => {
    const fx = await debFixture();
    const root = join(fx.dir, "distroless");
    const files = new DirFiles(root);
    const r = await catalogDpkg(files);
    assert.deepEqual(r.findings, []);
    assert.deepEqual(r.packages.map((p) => p.name).sort(), [...DEBS].sort());
    const owner = new Map<string, string>();
    for (const p of r.packages) {
      const c = fx.control[p.name]!;
      assert.equal(p.version, c.version);
      assert.equal(p.arch, c.architecture);
      assert.deepEqual(p.source, c.source ? parseDpkgSource(c.source) : null);
      assert.equal(p.location, `/var/lib/dpkg/status.d/${p.name}`);
      assert.equal(p.status, undefined);
      const md5 = (await readFile(join(root, "var/lib/dpkg/status.d", `${p.name}.md5sums`), "utf8"))
        .split("\n")
        .filter(Boolean);
      assert.ok(p.files && p.files.length === md5.length && md5.length > 0, p.name);
      for (const f of p.files) {
        assert.equal((await files.lstat(f))?.type, "file", `${p.name} owns ${f}, a regular file of the root`);
        owner.set(f, p.name);
      }
    }
    const libcSource = fx.control.libc6!.source!;
    assert.equal(r.packages.find((p) => p.name === "libc6")!.source?.name, libcSource.split(" ")[0]);
    // Which package owns a path: the reason the file lists are kept.
    const libc = [...owner.keys()].find((f) => /\/libc\.so\.6$/.test(f));
    assert.ok(libc, "libc.so.6 is in libc6's md5sums");
    assert.equal(owner.get(libc), "libc6");
    assert.equal(owner.get("/usr/share/zoneinfo/Etc/UTC") ?? owner.get("/usr/share/zoneinfo/UTC"), "tzdata");
    assert.equal(owner.get("/usr/lib/os-release"), "base-files");
    // Licences: DEP-5 copyright files only (tzdata and ca-certificates are, glibc's and base-files' are not).
    const lic = Object.fromEntries(r.packages.map((p) => [p.name, p.license]));
    assert.equal(lic.tzdata, "public-domain");
    assert.match(lic["ca-certificates"] ?? "", /GPL-2\+/);
    assert.match(lic["ca-certificates"] ?? "", /MPL-2\.0/);
    assert.equal(lic.libc6, null);
    assert.equal(lic["base-files"], null);
    const noLic = await catalogDpkg(files, { licenses: false });
    assert.ok(noLic.packages.every((p) => p.license === null));
  });

  test("the classic layout (status + info/<pkg>[:arch].list): files as dpkg lists them", async () => {
    const fx = await debFixture();
    const admin = join(fx.dir, "classic/var/lib/dpkg");
    const r = await catalogDpkg(new DirFiles(join(fx.dir, "classic")));
    assert.deepEqual(r.findings, []);
    assert.deepEqual(r.packages.map((p) => p.name).sort(), [...DEBS].sort());
    for (const p of r.packages) {
      assert.equal(p.status, "install ok installed");
      assert.equal(p.location, "/var/lib/dpkg/status");
      assert.equal(p.license, null, "no /usr/share/doc in this root");
      const infoName = fx.control[p.name]!["multi-arch"] === "same" ? `${p.name}:${p.arch}` : p.name;
      const list = (await readFile(join(admin, "info", `${infoName}.list`), "utf8"))
        .split("\n")
        .filter(Boolean);
      assert.deepEqual(
        p.files,
        list.filter((l) => l !== "/."),
      );
    }
    assert.ok(r.packages.find((p) => p.name === "libc6")!.files!.includes("/usr/share/doc/libc6"));
  });
});

test("catalogDpkg on the host root: file lists equal `dpkg-query -L`", async () => {
  const dpkgQueryBin = needTool("dpkg-query", "dpkg");
  const r = await catalogDpkg(new DirFiles("/"));
  for (const name of ["libc6", "bash", "coreutils", "dpkg"]) {
    const p = r.packages.find((x) => x.name === name);
    assert.ok(p, `${name} is installed on the host`);
    const want = (await run(dpkgQueryBin, ["-L", `${name}:${p.arch}`])).stdout
      .split("\n")
      .filter((l) => l.startsWith("/") && l !== "/.");
    assert.deepEqual(p.files, want, name);
  }
  assert.match(r.packages.find((p) => p.name === "bash")!.license ?? "", /GPL-3\+/);
});

describe("catalogDpkg on broken databases", () => {
  async function rootWith(files: Record<string, string | Buffer>): Promise<string> {
    const root = await tmpdir("dpkg-root");
    for (const [p, data] of Object.entries(files)) {
      await mkdir(join(root, p, ".."), { recursive: true });
      await writeFile(join(root, p), data);
    }
    return root;
  }

  test("binary junk around a real stanza: a finding, the stanza still read", async () => {
    const rand = prng(7);
    const junk = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
    const body = Buffer.concat([
      junk(300_000),
      Buffer.from("\n\nPackage: real\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\n\n"),
      junk(300_000),
    ]);
    const root = await rootWith({ "var/lib/dpkg/status": body });
    const r = await catalogDpkg(new DirFiles(root));
    assert.ok(codes(r).includes("DPKG_DB_BINARY"));
    assert.ok(r.packages.some((p) => p.name === "real" && p.version === "1.0"));
    assert.ok(r.findings.length < 200, `findings stay bounded (${r.findings.length})`);
  });

  test("a 50 MB status is read up to the cap, the cut stanza dropped, and reported", async () => {
    const stanza = (i: number) =>
      `Package: pkg-${String(i).padStart(7, "0")}\nStatus: install ok installed\nVersion: 1.0\n` +
      `Architecture: amd64\nDescription: filler\n ${"x".repeat(900)}\n\n`;
    const len = stanza(0).length;
    const count = Math.ceil((50 * 1000 * 1000) / len);
    const parts: string[] = [];
    for (let i = 0; i < count; i++) parts.push(stanza(i));
    const root = await rootWith({ "var/lib/dpkg/status": parts.join("") });
    const t0 = performance.now();
    const r = await catalogDpkg(new DirFiles(root), { licenses: false });
    const ms = performance.now() - t0;
    const kept = Math.floor(DPKG_STATUS_CAP / len);
    assert.equal(r.packages.length, kept);
    assert.equal(r.packages.at(-1)!.name, `pkg-${String(kept - 1).padStart(7, "0")}`);
    assert.deepEqual(codes(r), ["DPKG_DB_TRUNCATED"]);
    assert.match(r.findings[0]!.message, /only its first 32\.0 MiB were read/);
    assert.ok(ms < 20_000, `read in ${ms.toFixed(0)} ms`);
  });

  test("status and status.d together, duplicates, stray entries, a status.d directory", async () => {
    const root = await rootWith({
      "var/lib/dpkg/status":
        "Package: both\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n\n" +
        "Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n",
      "var/lib/dpkg/info/both.list": "/.\n/usr\n/usr/bin\n/usr/bin/both\n",
      "var/lib/dpkg/status.d/both": "Package: both\nVersion: 2\nArchitecture: amd64\n",
      "var/lib/dpkg/status.d/lib": "Package: lib\nVersion: 3\nArchitecture: arm64\nSource: libsrc (2)\n",
      "var/lib/dpkg/status.d/lib.md5sums":
        "d41d8cd98f00b204e9800998ecf8427e  usr/lib/lib.so\nnot a sum line\n" +
        "0123456789abcdef0123456789abcdef  ./usr/share/doc/lib/with space\n",
      "var/lib/dpkg/status.d/orphan.md5sums": "d41d8cd98f00b204e9800998ecf8427e  usr/x\n",
      "var/lib/dpkg/status.d/empty": "",
      "var/lib/dpkg/status.d/nameless": "Version: 1\n",
      "var/lib/dpkg/status.d/subdir/x": "Package: nested\nVersion: 1\n",
    });
    await symlink("../../../../etc/hostname-nonexistent", join(root, "var/lib/dpkg/status.d/dangling"));
    const r = await catalogDpkg(new DirFiles(root));
    assert.deepEqual(
      r.packages.map((p) => [p.name, p.version, p.location, p.files]),
      [
        ["both", "1", "/var/lib/dpkg/status", ["/usr", "/usr/bin", "/usr/bin/both"]],
        ["lib", "3", "/var/lib/dpkg/status.d/lib", ["/usr/lib/lib.so", "/usr/share/doc/lib/with space"]],
      ],
    );
    assert.deepEqual(
      r.findings.map((f) => `${f.code} ${f.path}`),
      [
        "DPKG_DUPLICATE_PACKAGE /var/lib/dpkg/status.d/both",
        "DPKG_MALFORMED_LINE /var/lib/dpkg/status.d/lib.md5sums",
        "DPKG_NO_PACKAGE /var/lib/dpkg/status.d/nameless",
      ],
    );
    assert.match(r.findings[0]!.message, /first 1 in \/var\/lib\/dpkg\/status/);
  });

  test("no dpkg database at all: nothing, and no findings", async () => {
    const root = await rootWith({ "etc/os-release": "ID=alpine\n" });
    assert.deepEqual(await catalogDpkg(new DirFiles(root)), { packages: [], findings: [] });
    const asDir = await rootWith({ "var/lib/dpkg/status/oops": "a directory where the file should be" });
    assert.deepEqual(await catalogDpkg(new DirFiles(asDir)), { packages: [], findings: [] });
  });
});

test("absPath: normal paths come back as they are; any other path is cleaned like path.posix.resolve from /", async () => {
  const { posix } = await import("node:path");
  const rand = prng(7);
  const parts = ["", ".", "..", "usr", "lib", ".hidden", "a.b", "x..y", "...", "é"];
  for (let i = 0; i < 5000; i++) {
    const n = 1 + Math.floor(rand() * 6);
    let p = rand() < 0.7 ? "/" : "";
    for (let k = 0; k < n; k++) p += (k > 0 ? "/" : "") + parts[Math.floor(rand() * parts.length)];
    if (rand() < 0.2) p += "/";
    assert.equal(absPath(p), posix.resolve("/", p), JSON.stringify(p));
  }
  assert.equal(absPath("/usr/bin/bash"), "/usr/bin/bash");
  assert.equal(absPath("/."), "/");
});
