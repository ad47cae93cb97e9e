// CycloneDX documents and package URLs: purls for deb, apk and rpm (epochs, `+`, `~`) read back with
// packageurl-js; licences sorted into SPDX ids, expressions and names; the CycloneDX 1.6 documents of a debootstrap
// Debian and of a static program FROM scratch, validated with the CycloneDX library's own JSON-schema validator.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fixupSpdxId } from "@cyclonedx/cyclonedx-library/SPDX";
import { Version } from "@cyclonedx/cyclonedx-library/Spec";
import { JsonStrictValidator } from "@cyclonedx/cyclonedx-library/Validation";
import { PackageURL } from "packageurl-js";
import { debianMinbaseRoot } from "../../../test/fixtures/rootfs.ts";
import { needTool, tmpdir } from "../../../test/fixtures/tools.ts";
import { type Analysis, analyzeFiles } from "../analyze.ts";
import { DirFiles } from "../dir-files.ts";
import type { AnalyzedImage } from "../image.ts";
import {
  CYCLONEDX_SPEC_VERSION,
  licenseChoices,
  type PurlOs,
  type PurlPackage,
  packagePurl,
  spdxExpression,
  toCycloneDx,
} from "./index.ts";

const SERIAL = "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79";
const WHEN = new Date("2024-01-01T00:00:00Z");

/** The fields a purl must give back: parsed with packageurl-js, not by string comparison alone. */
function readBack(purl: string) {
  const u = PackageURL.fromString(purl);
  return {
    type: u.type,
    namespace: u.namespace,
    name: u.name,
    version: u.version,
    qualifiers: { ...(u.qualifiers ?? {}) },
  };
}

const debian: PurlOs = { id: "debian", versionId: "12.7" };

test("deb purls: the epoch stays in the version, + and ~ survive, upstream names the source and its version", () => {
  const login: PurlPackage = {
    type: "deb",
    name: "login",
    version: "1:4.13+dfsg1-1+deb12u2",
    arch: "amd64",
    source: { name: "shadow", version: "1:4.13+dfsg1-1" },
  };
  const purl = packagePurl(login, debian);
  assert.equal(
    purl,
    "pkg:deb/debian/login@1:4.13+dfsg1-1+deb12u2?arch=amd64&distro=debian-12.7&upstream=shadow%401%3A4.13%2Bdfsg1-1",
  );
  assert.deepEqual(readBack(purl), {
    type: "deb",
    namespace: "debian",
    name: "login",
    version: "1:4.13+dfsg1-1+deb12u2",
    qualifiers: { arch: "amd64", distro: "debian-12.7", upstream: "shadow@1:4.13+dfsg1-1" },
  });

  const tilde: PurlPackage = {
    type: "deb",
    name: "libsystemd0",
    version: "252.39-1~deb12u2",
    arch: "amd64",
    source: { name: "systemd", version: null },
  };
  const t = packagePurl(tilde, { id: "Ubuntu", versionId: "22.04" });
  assert.equal(
    t,
    "pkg:deb/ubuntu/libsystemd0@252.39-1~deb12u2?arch=amd64&distro=ubuntu-22.04&upstream=systemd",
  );
  assert.equal(readBack(t).version, "252.39-1~deb12u2");

  // Its own source (no Source field), no architecture, no distribution known: no namespace, no guess.
  const bare = packagePurl(
    { type: "deb", name: "tzdata", version: "2024a-0+deb12u1", arch: null, source: null },
    null,
  );
  assert.equal(bare, "pkg:deb/tzdata@2024a-0+deb12u1");
  assert.deepEqual(readBack(bare), {
    type: "deb",
    namespace: undefined,
    name: "tzdata",
    version: "2024a-0+deb12u1",
    qualifiers: {},
  });
});

test("apk purls: origin as upstream, _git/-r versions, a rolling distribution without VERSION_ID", () => {
  const musl: PurlPackage = {
    type: "apk",
    name: "musl",
    version: "1.2.4_git20230717-r4",
    arch: "x86_64",
    source: { name: "musl", version: null },
  };
  const purl = packagePurl(musl, { id: "alpine", versionId: "3.18.4" });
  assert.equal(
    purl,
    "pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.18.4&upstream=musl",
  );
  assert.deepEqual(readBack(purl).qualifiers, { arch: "x86_64", distro: "alpine-3.18.4", upstream: "musl" });

  const wolfi = packagePurl(
    {
      type: "apk",
      name: "libstdc++",
      version: "13.2.0-r5",
      arch: "aarch64",
      source: { name: "gcc", version: null },
    },
    { id: "wolfi", versionId: null },
  );
  assert.equal(wolfi, "pkg:apk/wolfi/libstdc%2B%2B@13.2.0-r5?arch=aarch64&distro=wolfi&upstream=gcc");
  assert.equal(readBack(wolfi).name, "libstdc++");
});

test("rpm purls: the epoch is a qualifier, upstream is the source rpm's file name, vendor namespaces", () => {
  const ssl: PurlPackage = {
    type: "rpm",
    name: "openssl-libs",
    version: "1:3.0.7-24.el9",
    arch: "x86_64",
    source: { name: "openssl", version: "1:3.0.7-24.el9" },
  };
  const purl = packagePurl(ssl, { id: "rhel", versionId: "9.3" });
  assert.equal(
    purl,
    "pkg:rpm/redhat/openssl-libs@3.0.7-24.el9?arch=x86_64&distro=rhel-9.3&epoch=1&upstream=openssl-3.0.7-24.el9.src.rpm",
  );
  assert.deepEqual(readBack(purl), {
    type: "rpm",
    namespace: "redhat",
    name: "openssl-libs",
    version: "3.0.7-24.el9",
    qualifiers: { arch: "x86_64", distro: "rhel-9.3", epoch: "1", upstream: "openssl-3.0.7-24.el9.src.rpm" },
  });

  // Epoch 0 written by the spec is kept (as rpm's %{EVR} keeps it); `~` and `+` in version and name; case kept.
  const tilde = packagePurl(
    {
      type: "rpm",
      name: "NetworkManager-libstdc++",
      version: "0:2.0~rc1+git5-1.fc39",
      arch: "noarch",
      source: { name: "NetworkManager", version: "0:2.0~rc1+git5-1.fc39" },
    },
    { id: "fedora", versionId: "39" },
  );
  const back = readBack(tilde);
  assert.equal(back.namespace, "fedora");
  assert.equal(back.name, "NetworkManager-libstdc++");
  assert.equal(back.version, "2.0~rc1+git5-1.fc39");
  assert.deepEqual(back.qualifiers, {
    arch: "noarch",
    distro: "fedora-39",
    epoch: "0",
    upstream: "NetworkManager-2.0~rc1+git5-1.fc39.src.rpm",
  });

  // No epoch: no qualifier. Vendor namespaces of os-detection.md; `distro` keeps the os-release ID.
  const ns = (id: string, versionId: string) =>
    readBack(
      packagePurl(
        { type: "rpm", name: "bash", version: "5.1.8-6.el9", arch: "x86_64", source: null },
        { id, versionId },
      ),
    );
  assert.deepEqual(ns("opensuse-tumbleweed", "20240101"), {
    type: "rpm",
    namespace: "opensuse",
    name: "bash",
    version: "5.1.8-6.el9",
    qualifiers: { arch: "x86_64", distro: "opensuse-tumbleweed-20240101" },
  });
  assert.equal(ns("ol", "9.3").namespace, "oracle");
  assert.equal(ns("almalinux", "9.3").namespace, "alma");
  assert.equal(ns("mariner", "2.0").namespace, "cbl-mariner");
  assert.equal(ns("rocky", "9.3").namespace, "rocky");
  assert.equal(ns("amzn", "2023").qualifiers.distro, "amzn-2023");
  // A source rpm whose file name did not parse: its name, as the database gave it.
  const odd = packagePurl(
    { type: "rpm", name: "x", version: "1-1", arch: null, source: { name: "weird.src.rpm", version: null } },
    null,
  );
  assert.equal(readBack(odd).qualifiers.upstream, "weird.src.rpm");
});

test("licences: SPDX ids (case-insensitively, as the library matches them), expressions, names for the rest", () => {
  const choices = (t: string | null) => licenseChoices(t, fixupSpdxId);
  assert.deepEqual(choices("GPL-2.0-only"), [{ kind: "id", id: "GPL-2.0-only" }]);
  assert.deepEqual(choices("bsd-3-clause"), [{ kind: "id", id: "BSD-3-Clause" }]);
  assert.deepEqual(choices("MIT AND (Apache-2.0 OR bsd-3-clause)"), [
    { kind: "expression", expression: "MIT AND (Apache-2.0 OR BSD-3-Clause)" },
  ]);
  assert.deepEqual(choices("GPL-2.0-or-later WITH Classpath-exception-2.0"), [
    { kind: "expression", expression: "GPL-2.0-or-later WITH Classpath-exception-2.0" },
  ]);
  assert.deepEqual(choices("GPL-2.0+ AND GPL-3.0"), [
    { kind: "expression", expression: "GPL-2.0+ AND GPL-3.0" },
  ]);
  assert.deepEqual(choices("LicenseRef-Proprietary"), [
    { kind: "expression", expression: "LicenseRef-Proprietary" },
  ]);
  // Debian's DEP-5 names as the dpkg reader joins them: split at the top-level ANDs, SPDX where it matches.
  assert.deepEqual(choices("GPL-2+ AND (GPL-3+ with Bison exception) AND BSD-3-clause AND GPL-2+"), [
    { kind: "name", name: "GPL-2+" },
    { kind: "name", name: "GPL-3+ with Bison exception" },
    { kind: "id", id: "BSD-3-Clause" },
  ]);
  // Old rpm spellings, lower-case operators, broken expressions: one name, verbatim.
  assert.deepEqual(choices("GPLv2+ and LGPLv2+"), [{ kind: "name", name: "GPLv2+ and LGPLv2+" }]);
  assert.deepEqual(choices("MIT OR"), [{ kind: "name", name: "MIT OR" }]);
  assert.deepEqual(choices("(MIT"), [{ kind: "name", name: "(MIT" }]);
  assert.deepEqual(choices("MIT WITH Nonsense-2.0"), [{ kind: "name", name: "MIT WITH Nonsense-2.0" }]);
  assert.deepEqual(choices(null), []);
  assert.deepEqual(choices("  "), []);
  assert.equal(
    spdxExpression("Apache-2.0", fixupSpdxId),
    undefined,
    "a single id is an id, not an expression",
  );
  assert.equal(spdxExpression("((MIT) OR (ISC))", fixupSpdxId), "((MIT) OR (ISC))");
});

async function validate(text: string): Promise<unknown> {
  return new JsonStrictValidator(Version.v1dot6).validate(text);
}

interface Doc {
  specVersion: string;
  serialNumber: string;
  metadata: {
    timestamp: string;
    tools: { components: { type: string; name: string; version?: string }[] };
    component: Component;
  };
  components: Component[];
  dependencies?: unknown;
}
interface Component {
  type: string;
  name: string;
  version?: string;
  "bom-ref"?: string;
  description?: string;
  purl?: string;
  licenses?: ({ license: { id?: string; name?: string } } | { expression: string })[];
  properties?: { name: string; value: string }[];
}

const props = (c: Component, name: string) =>
  (c.properties ?? []).filter((p) => p.name === name).map((p) => p.value);

test("the validator is a real oracle: a licence id outside SPDX's list and a bad component type fail", async () => {
  const ok = JSON.parse(
    await toCycloneDx(await scratchAnalysis(["-static"]), { serialNumber: SERIAL, timestamp: WHEN }),
  ) as Doc;
  assert.equal(await validate(JSON.stringify(ok)), null);
  const badLicense = structuredClone(ok);
  badLicense.components.push({
    type: "library",
    name: "x",
    "bom-ref": "x",
    licenses: [{ license: { id: "GPL-2+" } }],
  });
  assert.notEqual(await validate(JSON.stringify(badLicense)), null);
  const badType = structuredClone(ok);
  badType.metadata.component.type = "image";
  assert.notEqual(await validate(JSON.stringify(badType)), null);
});

test("Debian minbase: a valid CycloneDX 1.6 document, the image, one OS component, every package with its purl", async () => {
  const root = await debianMinbaseRoot();
  const a = await analyzeFiles(new DirFiles(root), {
    cmd: ["bash"],
    env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
  });
  assert.ok(a.packages.length > 50, `${a.packages.length} packages`);
  const image: AnalyzedImage = {
    ...a,
    image: {
      source: "debian-minbase",
      name: "localhost/debian:minbase",
      digest: "sha256:0000000000000000000000000000000000000000000000000000000000000001",
      id: "sha256:0000000000000000000000000000000000000000000000000000000000000002",
      platform: "linux/amd64",
    },
  };
  const text = await toCycloneDx(image, { serialNumber: SERIAL, timestamp: WHEN, toolVersion: "0.1.0" });
  assert.equal(await validate(text), null, "valid against the CycloneDX 1.6 JSON schema");
  const doc = JSON.parse(text) as Doc;
  assert.equal(doc.specVersion, CYCLONEDX_SPEC_VERSION);
  assert.equal(doc.specVersion, "1.6");
  assert.equal(doc.serialNumber, SERIAL);
  assert.equal(doc.metadata.timestamp, "2024-01-01T00:00:00.000Z");
  assert.deepEqual(doc.metadata.tools.components, [
    { type: "application", name: "osless", version: "0.1.0" },
  ]);
  assert.equal(doc.dependencies, undefined, "no graph: package relations are not read");

  // The image, with osless's answer.
  const img = doc.metadata.component;
  assert.equal(img.type, "container");
  assert.equal(img.name, "localhost/debian:minbase");
  assert.equal(img.version, image.image.digest);
  assert.equal(img["bom-ref"], `image:${image.image.digest}`);
  assert.deepEqual(props(img, "osless:verdict"), ["full"]);
  assert.deepEqual(props(img, "osless:entrypoint:path"), ["/usr/bin/bash"]);
  assert.deepEqual(props(img, "osless:entrypoint:linkage"), ["dynamic"]);
  assert.deepEqual(props(img, "osless:entrypoint:interpreter"), ["/lib64/ld-linux-x86-64.so.2"]);
  assert.deepEqual(
    props(img, "osless:entrypoint:library").map((v) => v.split(" -> ")[0]),
    a.entrypoint.libraries.map((l) => l.name),
  );
  assert.deepEqual(props(img, "osless:entrypoint:missing"), []);
  assert.deepEqual(props(img, "osless:image:id"), [image.image.id]);
  assert.deepEqual(props(img, "osless:libc"), [`glibc ${a.inventory.libc.version}`]);
  assert.ok(props(img, "osless:packageManager").includes("/usr/bin/dpkg"));

  // One operating system.
  const osComponents = doc.components.filter((c) => c.type === "operating-system");
  assert.equal(osComponents.length, 1);
  const os = osComponents[0]!;
  assert.equal(os.name, "debian");
  assert.equal(os.version, a.os?.versionId);
  assert.match(os.version ?? "", /^12(\.\d+)?$/);
  assert.equal(os["bom-ref"], `os:debian@${a.os?.versionId}`);
  assert.equal(os.description, "Debian GNU/Linux 12 (bookworm)");

  // Every package, once, its purl read back to the database's fields.
  const libs = doc.components.filter((c) => c.type === "library");
  assert.equal(libs.length, a.packages.length);
  assert.equal(doc.components.length, a.packages.length + 1);
  const byPurl = new Map(libs.map((c) => [c.purl, c]));
  const distro = `debian-${a.os?.versionId}`;
  let epochs = 0;
  let tildes = 0;
  for (const p of a.packages) {
    const purl = packagePurl(p, { id: "debian", versionId: a.os?.versionId ?? null });
    const c = byPurl.get(purl);
    assert.ok(c, `${p.name} ${p.version} has a component`);
    assert.equal(c.name, p.name);
    assert.equal(c.version, p.version);
    assert.equal(c["bom-ref"], purl);
    const u = readBack(purl);
    assert.equal(u.type, "deb");
    assert.equal(u.namespace, "debian");
    assert.equal(u.name, p.name);
    assert.equal(u.version, p.version);
    assert.equal(u.qualifiers.arch, p.arch);
    assert.equal(u.qualifiers.distro, distro);
    const upstream = p.source
      ? p.source.version
        ? `${p.source.name}@${p.source.version}`
        : p.source.name
      : undefined;
    assert.equal(u.qualifiers.upstream, upstream);
    if (p.version.includes(":")) epochs++;
    if (p.version.includes("~")) tildes++;
    // Licences: present exactly when the copyright file gave one; SPDX ids only where SPDX has them.
    assert.equal((c.licenses?.length ?? 0) > 0, p.license !== null, `${p.name} licences`);
  }
  assert.ok(epochs > 0 && tildes > 0, `real epochs (${epochs}) and tildes (${tildes}) in the versions`);
  const zlib = libs.find((c) => c.name === "zlib1g");
  assert.deepEqual(zlib?.licenses, [{ license: { id: "Zlib" } }]);
  const bash = libs.find((c) => c.name === "bash");
  assert.ok(bash?.licenses?.some((l) => "license" in l && l.license.name === "GPL-3+"));

  // Sorted by bom-ref, by code points; the same text again, whatever order the packages came in.
  const refs = doc.components.map((c) => c["bom-ref"] ?? "");
  assert.deepEqual(
    refs,
    [...refs].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)),
  );
  const shuffled: AnalyzedImage = { ...image, packages: [...image.packages].reverse() };
  assert.equal(
    await toCycloneDx(shuffled, { serialNumber: SERIAL, timestamp: WHEN, toolVersion: "0.1.0" }),
    text,
  );
});

const HELLO = `#include <stdio.h>\nint main(void){puts("Hello from a static binary");return 0;}\n`;

/** A hello program built with gcc `flags`, alone in a root directory (FROM scratch), analysed. */
async function scratchAnalysis(flags: string[]): Promise<Analysis> {
  const dir = await tmpdir("sbom-scratch-");
  writeFileSync(join(dir, "hello.c"), HELLO);
  execFileSync(needTool("gcc", "gcc"), [...flags, "-o", join(dir, "root-hello"), join(dir, "hello.c")]);
  const root = await tmpdir("sbom-scratch-root-");
  execFileSync("cp", [join(dir, "root-hello"), join(root, "hello")]);
  chmodSync(join(root, "hello"), 0o755);
  return analyzeFiles(new DirFiles(root), { cmd: ["/hello"] });
}

test("FROM scratch + a static hello: a valid document with no OS component and no packages", async () => {
  const a = await scratchAnalysis(["-static"]);
  assert.equal(a.verdict, "none");
  const text = await toCycloneDx(a, { serialNumber: SERIAL, timestamp: WHEN });
  assert.equal(await validate(text), null);
  const doc = JSON.parse(text) as Doc;
  assert.deepEqual(doc.components, []);
  const img = doc.metadata.component;
  assert.equal(img.type, "container");
  assert.equal(img.version, undefined, "no digest for a directory");
  assert.deepEqual(props(img, "osless:verdict"), ["none"]);
  assert.deepEqual(props(img, "osless:entrypoint:path"), ["/hello"]);
  assert.deepEqual(props(img, "osless:entrypoint:linkage"), ["static"]);
  assert.deepEqual(props(img, "osless:entrypoint:library"), []);
  assert.deepEqual(props(img, "osless:libc"), ["none"]);
  assert.equal(await toCycloneDx(a, { serialNumber: SERIAL, timestamp: WHEN }), text, "deterministic");
  // Without a serial number and a timestamp: a fresh UUID and now.
  const fresh = JSON.parse(await toCycloneDx(a)) as Doc;
  assert.match(fresh.serialNumber, /^urn:uuid:[0-9a-f-]{36}$/);
  assert.notEqual(fresh.serialNumber, SERIAL);
  assert.ok(Math.abs(Date.parse(fresh.metadata.timestamp) - Date.now()) < 60_000);
});

test("FROM scratch + the same program linked dynamically: none-broken, the missing loader and libc as properties", async () => {
  const a = await scratchAnalysis([]);
  assert.equal(a.verdict, "none-broken");
  const text = await toCycloneDx(a, { serialNumber: SERIAL, timestamp: WHEN });
  assert.equal(await validate(text), null);
  const img = (JSON.parse(text) as Doc).metadata.component;
  assert.deepEqual(props(img, "osless:verdict"), ["none-broken"]);
  assert.deepEqual(props(img, "osless:entrypoint:interpreter"), ["/lib64/ld-linux-x86-64.so.2"]);
  assert.deepEqual(props(img, "osless:entrypoint:missing"), ["libc.so.6 (needed by /hello)"]);
});

test("a serial number that is not a urn:uuid is a usage error, not silently dropped", async () => {
  const a = await scratchAnalysis(["-static"]);
  await assert.rejects(toCycloneDx(a, { serialNumber: "urn:uuid:NOT-A-UUID" }), { code: "E_USAGE" });
});

test("importing the module loads neither library; packagePurl loads packageurl-js, toCycloneDx the CycloneDX library", () => {
  const script = `
    import { createRequire } from "node:module";
    const require = createRequire(import.meta.url);
    const loaded = () => [...new Set(Object.keys(require("node:module")._cache)
      .filter((k) => /[\\\\/](@cyclonedx[\\\\/]cyclonedx-library|packageurl-js)[\\\\/]/.test(k))
      .map((k) => (k.includes("packageurl-js") ? "packageurl-js" : "cyclonedx")))].sort();
    const sbom = await import("./src/analysis/sbom/index.ts");
    const steps = [loaded()];
    sbom.packagePurl({ type: "deb", name: "x", version: "1", arch: null, source: null }, null);
    steps.push(loaded());
    await sbom.toCycloneDx(JSON.parse(process.env.ANALYSIS));
    steps.push(loaded());
    console.log(JSON.stringify(steps));
  `;
  const minimal = {
    verdict: "none",
    summary: "",
    os: null,
    distroless: false,
    packages: [],
    entrypoint: {
      argv: [],
      path: null,
      linkage: "missing",
      interpreter: null,
      scriptInterpreters: [],
      libraries: [],
      missing: [],
    },
    inventory: {
      libc: { flavour: "none", version: null, paths: [] },
      busybox: null,
      shells: [],
      packageManagers: [],
    },
    reachable: { files: 0, bytes: 0, totalFiles: 0, totalBytes: 0 },
    findings: [],
  };
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    cwd: new URL("../../..", import.meta.url).pathname,
    env: { ...process.env, ANALYSIS: JSON.stringify(minimal) },
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim().split("\n").pop()!), [
    [],
    ["packageurl-js"],
    ["cyclonedx", "packageurl-js"],
  ]);
});
