import assert from "node:assert/strict";
import { test } from "node:test";
import { isOslessError } from "../errors.ts";
import { d } from "./fixtures.test.ts";
import { MediaType } from "./media-types.ts";
import {
  formatPlatform,
  hostPlatform,
  normalizePlatform,
  parsePlatform,
  platformFallbacks,
  platformMatches,
  selectPlatform,
} from "./platform.ts";
import type { Descriptor, Platform } from "./schemas.ts";

const P = (s: string): Platform => {
  const [os, architecture, variant] = s.split("/");
  const p: Platform = { os: os!, architecture: architecture! };
  if (variant !== undefined) p.variant = variant;
  return p;
};

test("normalizePlatform table (containerd semantics)", () => {
  const rows: [string, string][] = [
    ["linux/x86_64", "linux/amd64"],
    ["linux/x86-64", "linux/amd64"],
    ["linux/x86_64/v1", "linux/amd64"],
    ["linux/amd64/v1", "linux/amd64"],
    ["linux/amd64/v3", "linux/amd64/v3"],
    ["linux/aarch64", "linux/arm64"],
    ["linux/aarch64/v8", "linux/arm64"],
    ["linux/arm64/8", "linux/arm64"],
    ["linux/arm64/v8.0", "linux/arm64"],
    ["linux/arm64/9", "linux/arm64/v9"],
    ["linux/arm64/v9.0", "linux/arm64/v9"],
    ["linux/arm64/v8.2", "linux/arm64/v8.2"],
    ["linux/armhf", "linux/arm/v7"],
    ["linux/armel", "linux/arm/v6"],
    ["linux/arm", "linux/arm/v7"],
    ["linux/arm/7", "linux/arm/v7"],
    ["linux/arm/6", "linux/arm/v6"],
    ["linux/arm/v5", "linux/arm/v5"],
    ["linux/i386", "linux/386"],
    ["Linux/AMD64", "linux/amd64"],
    ["WINDOWS/amd64", "windows/amd64"],
    ["linux/ppc64le", "linux/ppc64le"],
    ["linux/s390x", "linux/s390x"],
    ["linux/riscv64", "linux/riscv64"],
  ];
  for (const [input, want] of rows) assert.equal(formatPlatform(normalizePlatform(P(input))), want, input);
  const kept = normalizePlatform({
    os: "Windows",
    architecture: "x86_64",
    "os.version": "10.0.17763.1",
    "os.features": ["win32k"],
  });
  assert.deepEqual(kept, {
    os: "windows",
    architecture: "amd64",
    "os.version": "10.0.17763.1",
    "os.features": ["win32k"],
  });
});

test("parsePlatform and formatPlatform", () => {
  assert.deepEqual(parsePlatform("linux/arm64/v8"), { os: "linux", architecture: "arm64" });
  assert.deepEqual(parsePlatform("linux/amd64"), { os: "linux", architecture: "amd64" });
  assert.deepEqual(parsePlatform("arm64"), { os: "linux", architecture: "arm64" });
  assert.deepEqual(parsePlatform("armhf"), { os: "linux", architecture: "arm", variant: "v7" });
  assert.deepEqual(parsePlatform("linux/arm/v6"), { os: "linux", architecture: "arm", variant: "v6" });
  assert.deepEqual(parsePlatform("windows(10.0.17763.1)/amd64"), {
    os: "windows",
    architecture: "amd64",
    "os.version": "10.0.17763.1",
  });
  const host = hostPlatform();
  assert.equal(parsePlatform("linux").architecture, host.architecture);
  for (const bad of ["", "linux/", "/amd64", "linux/amd64/v8/x", "linux/am d64", "linux/amd64/"]) {
    assert.throws(
      () => parsePlatform(bad),
      (e) => isOslessError(e, "E_USAGE") && e.message.includes(`"${bad}"`),
      bad,
    );
  }
  assert.equal(formatPlatform({ os: "linux", architecture: "arm64", variant: "v8" }), "linux/arm64/v8");
  assert.equal(formatPlatform(parsePlatform("windows(10.0.17763.1)/amd64")), "windows(10.0.17763.1)/amd64");
});

test("hostPlatform maps process.arch to GOARCH names", () => {
  const h = hostPlatform();
  const expected: Record<string, string> = {
    x64: "amd64",
    arm64: "arm64",
    arm: "arm",
    ia32: "386",
    ppc64: "ppc64le",
  };
  assert.equal(h.architecture, expected[process.arch] ?? process.arch);
  assert.equal(h.os, process.platform === "win32" ? "windows" : "linux");
  if (h.architecture === "arm") assert.match(h.variant ?? "", /^v[5-8]$/);
});

test("platformMatches table", () => {
  const rows: [Platform, Platform, boolean][] = [
    [P("linux/amd64"), P("linux/amd64"), true],
    [P("linux/amd64"), P("linux/x86_64"), true],
    [P("linux/amd64"), P("linux/amd64/v2"), true], // variant not requested
    [P("linux/amd64/v2"), P("linux/amd64"), false],
    [P("linux/amd64"), P("windows/amd64"), false],
    [P("linux/arm64"), P("linux/aarch64/v8"), true],
    [P("linux/arm64/v8"), P("linux/arm64"), true],
    [P("linux/arm/v7"), P("linux/armhf"), true],
    [P("linux/arm"), P("linux/arm/v7"), true], // arm means arm/v7
    [P("linux/arm"), P("linux/arm/v6"), false],
    [P("linux/arm/v6"), P("linux/arm/v7"), false],
    [P("LINUX/amd64"), P("linux/amd64"), true],
    [P("linux/386"), P("linux/i386"), true],
    [P("linux/amd64"), P("linux/386"), false],
    [{ ...P("windows/amd64"), "os.version": "10.0.17763.1" }, P("windows/amd64"), false],
    [
      { ...P("windows/amd64"), "os.version": "10.0.17763.1" },
      { ...P("windows/amd64"), "os.version": "10.0.17763.1" },
      true,
    ],
    [P("windows/amd64"), { ...P("windows/amd64"), "os.version": "10.0.20348.1" }, true],
    [{ ...P("windows/amd64"), "os.features": ["win32k"] }, P("windows/amd64"), false],
    [
      { ...P("windows/amd64"), "os.features": ["win32k"] },
      { ...P("windows/amd64"), "os.features": ["win32k", "x"] },
      true,
    ],
    [P("windows/amd64"), { ...P("windows/amd64"), "os.features": ["win32k"] }, true],
  ];
  for (const [want, have, ok] of rows) {
    assert.equal(platformMatches(want, have), ok, `${JSON.stringify(want)} vs ${JSON.stringify(have)}`);
  }
});

test("platformFallbacks follow containerd's order", () => {
  const f = (s: string) => platformFallbacks(parsePlatform(s)).map(formatPlatform);
  assert.deepEqual(f("linux/amd64/v3"), ["linux/amd64/v3", "linux/amd64/v2", "linux/amd64", "linux/386"]);
  assert.deepEqual(f("linux/amd64"), ["linux/amd64", "linux/386"]);
  assert.deepEqual(f("linux/arm/v7"), ["linux/arm/v7", "linux/arm/v6", "linux/arm/v5"]);
  assert.deepEqual(f("linux/arm64/v9"), [
    "linux/arm64/v9",
    "linux/arm64/v8.5",
    "linux/arm64/v8.4",
    "linux/arm64/v8.3",
    "linux/arm64/v8.2",
    "linux/arm64/v8.1",
    "linux/arm64",
  ]);
  assert.deepEqual(f("linux/arm64/v8.2"), ["linux/arm64/v8.2", "linux/arm64/v8.1", "linux/arm64"]);
  assert.deepEqual(f("linux/riscv64"), ["linux/riscv64"]);
});

/** A manifest descriptor for `platform` ("none": without a platform field). */
const desc = (platform: string, mediaType: string = MediaType.OCI_MANIFEST): Descriptor => {
  const out: Descriptor = { mediaType, digest: d(`${platform}-${mediaType}`), size: 100 };
  if (platform !== "none") {
    const [osPart, architecture, variant] = platform.split("/");
    const m = /^(.*)\((.*)\)$/.exec(osPart!);
    out.platform = { os: m ? m[1]! : osPart!, architecture: architecture! };
    if (m) out.platform["os.version"] = m[2]!;
    if (variant) out.platform.variant = variant;
  }
  return out;
};

test("selectPlatform table: preference order, fallbacks, defaults", () => {
  const rows: [string, string[], string | undefined][] = [
    // want, candidate platforms ("none" = no platform field), expected winner (undefined = no match)
    ["linux/amd64", ["linux/arm64", "linux/amd64"], "linux/amd64"],
    ["linux/x86_64", ["linux/arm64", "linux/amd64"], "linux/amd64"],
    ["linux/arm64", ["linux/amd64", "linux/arm64/v8"], "linux/arm64/v8"],
    ["linux/arm64/v8", ["linux/arm64"], "linux/arm64"],
    ["linux/amd64/v3", ["linux/amd64", "linux/amd64/v2", "linux/386"], "linux/amd64/v2"],
    ["linux/amd64/v3", ["linux/386", "linux/amd64"], "linux/amd64"],
    ["linux/amd64/v3", ["linux/386", "linux/arm64"], "linux/386"],
    ["linux/amd64", ["linux/amd64/v2", "linux/386"], "linux/amd64/v2"], // same arch, unrequested variant beats 386
    ["linux/amd64", ["linux/amd64/v2", "linux/amd64"], "linux/amd64"],
    ["linux/arm/v7", ["linux/arm/v5", "linux/arm/v6"], "linux/arm/v6"],
    ["linux/arm/v7", ["linux/arm/v6", "linux/arm/v7"], "linux/arm/v7"],
    ["linux/arm", ["linux/arm/v6"], "linux/arm/v6"],
    ["linux/arm/v6", ["linux/arm/v7"], undefined],
    ["linux/arm64/v9", ["linux/arm64/v8", "linux/arm64/v9"], "linux/arm64/v9"],
    ["linux/arm64/v9", ["linux/arm64/v8"], "linux/arm64/v8"],
    ["linux/arm64", ["linux/arm/v7"], undefined],
    ["linux/amd64", ["none"], "none"], // no platform: assumed linux/amd64
    ["linux/arm64", ["none"], undefined],
    ["linux/amd64", ["windows/amd64", "linux/amd64"], "linux/amd64"],
    [
      "windows(10.0.17763.1)/amd64",
      ["windows(10.0.20348.1)/amd64", "windows(10.0.17763.1)/amd64"],
      "windows(10.0.17763.1)/amd64",
    ],
    ["linux/s390x", ["linux/amd64", "linux/arm64"], undefined],
    ["linux/amd64", ["unknown/unknown", "linux/amd64"], "linux/amd64"],
  ];
  for (const [want, platforms, winner] of rows) {
    const candidates = platforms.map((p) => desc(p));
    const label = `${want} from [${platforms.join(", ")}]`;
    if (winner === undefined) {
      assert.throws(
        () => selectPlatform(parsePlatform(want), candidates),
        (e) => isOslessError(e, "E_PLATFORM_NOT_FOUND"),
        label,
      );
      continue;
    }
    const got = selectPlatform(parsePlatform(want), candidates);
    const expected = candidates[platforms.indexOf(winner)];
    assert.equal(got, expected, label);
  }
});

test("selectPlatform: first match wins on ties; unknown media types are skipped; nested indexes count", () => {
  const a = desc("linux/amd64");
  const b = { ...desc("linux/amd64"), digest: d("second") };
  assert.equal(selectPlatform(P("linux/amd64"), [a, b]), a);
  const artifact = desc("linux/amd64", "application/vnd.example.sbom+json");
  const docker = desc("linux/amd64", MediaType.DOCKER_MANIFEST);
  assert.equal(selectPlatform(P("linux/amd64"), [artifact, docker]), docker);
  const nested = desc("linux/arm64", MediaType.OCI_INDEX);
  assert.equal(selectPlatform(P("linux/arm64"), [a, nested]), nested);
});

test("selectPlatform: no match -> E_PLATFORM_NOT_FOUND listing the available platforms", () => {
  const candidates = [
    desc("linux/amd64"),
    desc("linux/arm/v7"),
    desc("none"),
    desc("windows(10.0.17763.1)/amd64"),
  ];
  try {
    selectPlatform(parsePlatform("linux/ppc64le"), candidates);
    assert.fail("expected an error");
  } catch (e) {
    assert.ok(isOslessError(e, "E_PLATFORM_NOT_FOUND"));
    assert.match(e.message, /no image for platform linux\/ppc64le/);
    for (const p of [
      "linux/amd64",
      "linux/arm/v7",
      "windows(10.0.17763.1)/amd64",
      "(no platform: assumed)",
    ]) {
      assert.ok(e.message.includes(p), p);
    }
    assert.ok(e.hint);
  }
  assert.throws(() => selectPlatform(P("linux/amd64"), []), /available: none/);
});
