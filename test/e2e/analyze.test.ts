// `osless analyze` through the CLI on images in the store and on a root directory: the verdict comes first, --json
// carries the documented fields, and bad input exits with the usual codes.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { type OracleRow, rpmFixture } from "../../src/analysis/packages/rpm/testkit.ts";
import { type FileSpec, IMAGES, type ImageSpec, ociLayout } from "../fixtures/images.ts";
import { busyboxRootfs } from "../fixtures/rootfs.ts";
import { needTool, tmpdir } from "../fixtures/tools.ts";
import { osless } from "./cli.ts";

async function storeWith(spec: ImageSpec, name: string, tag = "latest"): Promise<string> {
  const root = join(await tmpdir("analyze-e2e-"), "store");
  const r = await osless(root, ["copy", "-q", `oci:${await ociLayout(spec, tag)}:${tag}`, name]);
  assert.equal(r.code, 0, r.stderr);
  return root;
}

interface Json {
  verdict: string;
  summary: string;
  os: { id: string | null } | null;
  packages: { type: string; name: string; version: string; arch: string | null }[];
  entrypoint: {
    path: string | null;
    linkage: string;
    interpreter: string | null;
    libraries: unknown[];
    missing: unknown[];
  };
  inventory: { busybox: { applets: string[] } | null };
  image: { name: string | null; id: string | null };
}

test("analyze hello (FROM scratch + a static program): none, and the sentence says so first", async () => {
  const root = await storeWith(IMAGES.hello, "hello:1");
  const text = await osless(root, ["analyze", "hello:1"]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(
    text.stdout.split("\n")[0] as string,
    /^No operating system is inside\. \/hello is statically linked/,
  );
  const json = await osless(root, ["analyze", "--json", "hello:1"]);
  const a = JSON.parse(json.stdout) as Json;
  assert.equal(a.verdict, "none");
  assert.equal(a.os, null);
  assert.deepEqual(a.packages, []);
  assert.equal(a.entrypoint.path, "/hello");
  assert.equal(a.entrypoint.linkage, "static");
  assert.equal(a.image.name, "docker.io/library/hello:1");
  assert.match(a.image.id ?? "", /^sha256:[0-9a-f]{64}$/);
});

test("analyze busybox (store) and the same tree as dir:PATH: busybox both ways", async () => {
  const root = await storeWith(IMAGES.busybox, "bb:1");
  const fromStore = JSON.parse((await osless(root, ["analyze", "--json", "bb:1"])).stdout) as Json;
  assert.equal(fromStore.verdict, "busybox");
  assert.equal(fromStore.entrypoint.path, "/bin/busybox");
  const dir = JSON.parse(
    (await osless(root, ["analyze", "--json", `dir:${await busyboxRootfs()}`, "--cmd", "sh"])).stdout,
  ) as Json;
  assert.equal(dir.verdict, "busybox");
  assert.deepEqual(dir.inventory.busybox?.applets, fromStore.inventory.busybox?.applets);
});

// Registries, archives and layouts: analyze-sources.test.ts.
test("analyze errors: an image not in the store exits 3, an unsupported transport exits 2, --cmd without dir: exits 2", async () => {
  const root = join(await tmpdir("analyze-e2e-"), "store");
  const missing = await osless(root, ["analyze", "nosuch:1"]);
  assert.equal(missing.code, 3, missing.stderr);
  const transport = await osless(root, ["analyze", "containers-storage:x:1"]);
  assert.equal(transport.code, 2, transport.stderr);
  assert.match(transport.stderr, /transport "containers-storage:" is not supported/);
  const cmd = await osless(root, ["analyze", "--cmd", "x", "hello:1"]);
  assert.equal(cmd.code, 2);
  const nodir = await osless(root, ["analyze", "dir:/nonexistent/rootfs"]);
  assert.equal(nodir.code, 3);
});

test("analyze --format cyclonedx writes a CycloneDX 1.6 SBOM; --json with another --format is a usage error", async () => {
  const root = await storeWith(IMAGES.busybox, "bb:2");
  const r = await osless(root, ["analyze", "--format", "cyclonedx", "bb:2"]);
  assert.equal(r.code, 0, r.stderr);
  const bom = JSON.parse(r.stdout) as {
    bomFormat: string;
    specVersion: string;
    metadata: { component: { type: string; name: string; properties?: { name: string; value: string }[] } };
  };
  assert.equal(bom.bomFormat, "CycloneDX");
  assert.equal(bom.specVersion, "1.6");
  assert.equal(bom.metadata.component.type, "container");
  assert.equal(bom.metadata.component.name, "docker.io/library/bb:2");
  assert.ok(
    bom.metadata.component.properties?.some((p) => p.name === "osless:verdict" && p.value === "busybox"),
  );
  const both = await osless(root, ["analyze", "--json", "--format", "cyclonedx", "bb:2"]);
  assert.equal(both.code, 2);
  const bad = await osless(root, ["analyze", "--format", "xml", "bb:2"]);
  assert.equal(bad.code, 2);
});

test("analyze rpm-based images (databases written by Debian's rpm): Fedora's SQLite, CentOS 7's Berkeley DB, openSUSE's NDB; each full, named, its packages listed", async () => {
  const fx = await rpmFixture();
  const exe = (path: string, pkg: string) => ({ data: readFileSync(needTool(path, pkg)), mode: 0o755 });
  const userland = { "bin/bash": exe("/bin/bash", "bash"), "usr/bin/rpm": exe("rpm", "rpm") };
  const cases: {
    name: string;
    files: Record<string, FileSpec>;
    os: [string, string];
    oracle: OracleRow[];
  }[] = [
    {
      name: "fedora",
      files: {
        "usr/lib/os-release":
          'NAME="Fedora Linux"\nVERSION="40 (Container Image)"\nID=fedora\nVERSION_ID=40\nPRETTY_NAME="Fedora Linux 40 (Container Image)"\n',
        "etc/os-release": { symlink: "../usr/lib/os-release" },
        "etc/system-release-cpe": "cpe:/o:fedoraproject:fedora:40\n",
        "usr/lib/sysimage/rpm/rpmdb.sqlite": readFileSync(fx.sqlite),
        "var/lib/rpm": { symlink: "../../usr/lib/sysimage/rpm" },
      },
      os: ["fedora", "40"],
      oracle: fx.oracle.sqlite,
    },
    {
      // No os-release: the Red Hat family's release file names it.
      name: "centos",
      files: {
        "etc/centos-release": "CentOS Linux release 7.9.2009 (Core)\n",
        "etc/redhat-release": { symlink: "centos-release" },
        "var/lib/rpm/Packages": readFileSync(fx.bdbLe4096),
      },
      os: ["centos", "7.9.2009"],
      oracle: fx.oracle.bdbLe4096,
    },
    {
      name: "opensuse",
      files: {
        "usr/lib/os-release":
          'NAME="openSUSE Leap"\nVERSION="15.5"\nID="opensuse-leap"\nVERSION_ID="15.5"\nPRETTY_NAME="openSUSE Leap 15.5"\n',
        "etc/os-release": { symlink: "../usr/lib/os-release" },
        "usr/lib/sysimage/rpm/Packages.db": readFileSync(fx.ndb),
      },
      os: ["opensuse-leap", "15.5"],
      oracle: fx.oracle.sqlite,
    },
  ];
  for (const c of cases) {
    const root = await storeWith(
      { layers: [{ files: { ...userland, ...c.files } }], cmd: ["/bin/bash"] },
      c.name,
    );
    const r = await osless(root, ["analyze", "--json", c.name]);
    assert.equal(r.code, 0, r.stderr);
    const a = JSON.parse(r.stdout) as Json & { os: { id: string; versionId: string } | null };
    assert.equal(a.verdict, "full", c.name);
    assert.deepEqual([a.os?.id, a.os?.versionId], c.os, c.name);
    assert.ok(a.packages.length > 0 && a.packages.every((p) => p.type === "rpm"), c.name);
    assert.deepEqual(
      a.packages.map((p) => [p.name, p.version]).sort(),
      c.oracle.map((o) => [o.name, o.evr]).sort(),
      `${c.name}: the packages rpm itself lists`,
    );
    assert.match(a.summary, /^An operating system is inside .*: a shell and a package manager\./, c.name);
  }
});

test("analyze Debian minbase from the store (one pass, parsed as the layer streams by) gives the analysis of its unpacked tree", async () => {
  const { debianMinbaseRoot } = await import("../fixtures/rootfs.ts");
  const root = await storeWith(IMAGES.debian, "debian:minbase", "minbase");
  const image = await osless(root, ["analyze", "--json", "debian:minbase"]);
  assert.equal(image.code, 0, image.stderr);
  const dir = await osless(root, ["analyze", "--json", `dir:${await debianMinbaseRoot()}`, "--cmd", "bash"]);
  assert.equal(dir.code, 0, dir.stderr);
  const a = JSON.parse(image.stdout);
  const b = JSON.parse(dir.stdout);
  for (const x of [a, b]) delete x.image;
  assert.equal(a.verdict, "full");
  assert.ok(a.packages.length > 80 && a.packages.every((p: { license: unknown }) => "license" in p));
  assert.deepEqual(a, b);
});
