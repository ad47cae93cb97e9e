// `osless explore` without its terminal UI: the CI gate (dive's rules, a .dive-ci file as is, flags over the
// file, exact or dive figures), the JSON exports, and bad input. The figures are worked out below from the
// image's layers (GNU tar layers: explicit directory entries), by dive's rules and by osless's.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, test } from "node:test";
import { type ImageSpec, ociLayout } from "../fixtures/images.ts";
import { tmpdir } from "../fixtures/tools.ts";
import { type CliResult, osless } from "./cli.ts";

const bytes = (n: number, fill = "a") => Buffer.alloc(n, fill);

/**
 * Layer 0 adds etc/a (1000 B), etc/b (500), var/x (300), keep (100); layer 1 writes etc/a again with the same
 * bytes and mode 0600, deletes etc/b, removes var (rm -rf) and rewrites keep (120); layer 2 adds etc/new (70).
 */
const SPEC: ImageSpec = {
  layers: [
    { files: { "etc/a": bytes(1000), "etc/b": bytes(500), "var/x": bytes(300), keep: bytes(100) } },
    {
      files: {
        "etc/a": { data: bytes(1000), mode: 0o600 },
        "etc/.wh.b": "",
        ".wh.var": "",
        keep: bytes(120, "b"),
      },
    },
    { files: { "etc/new": bytes(70) } },
  ],
  cmd: ["/keep"],
};
// osless: 3090 bytes shipped, 1190 left (etc/a, keep, etc/new); 1000 metadata-only, 800 deleted, 100 overwritten.
const EXACT = {
  totalBytes: 3090,
  finalBytes: 1190,
  wastedBytes: 1900,
  userBytes: 1190,
  userWastedBytes: 1900,
};
// dive: /etc/a 1000+1000, /etc/b 500+0, /keep 100+120 are "inefficient" (2720 B); /var's whiteout counts its
// subtree (300); minimum sizes 1000+0+100+300(/var)+300(/var/x)+70 over cumulative 2000+500+220+300+300+70.
const DIVE = { wastedBytes: 2720, efficiency: 1770 / 3390, userWastedPercent: 2720 / 1190 };

let root: string;
before(async () => {
  root = join(await tmpdir("explore-e2e-"), "store");
  const r = await osless(root, ["copy", "-q", `oci:${await ociLayout(SPEC)}:latest`, "waste:1"]);
  assert.equal(r.code, 0, r.stderr);
});

function explain(r: CliResult): string {
  return `exit ${r.code}\n--- stderr ---\n${r.stderr}\n--- stdout ---\n${r.stdout}`;
}

test("explore --json: both metric sets, worked out from the layers", async () => {
  const r = await osless(root, ["explore", "--json", "waste:1"]);
  assert.equal(r.code, 0, explain(r));
  const j = JSON.parse(r.stdout);
  const e = j.metrics.exact;
  assert.deepEqual(Object.fromEntries(Object.keys(EXACT).map((k) => [k, e[k]])), EXACT);
  assert.deepEqual(e.byCause, { overwritten: 100, deleted: 800, "metadata-only": 1000 });
  assert.equal(j.metrics.dive.wastedBytes, DIVE.wastedBytes);
  assert.ok(Math.abs(j.metrics.dive.efficiency - DIVE.efficiency) < 1e-12);
  assert.ok(Math.abs(j.metrics.dive.userWastedPercent - DIVE.userWastedPercent) < 1e-12);
  assert.equal(j.layers.length, 3);
  // Layer 0's "./" entry sets the root up; it is not a change. (GNU tar layers: 4 files, etc/ and var/.)
  assert.deepEqual([j.layers[0].added, j.layers[0].modified, j.layers[0].removed], [6, 0, 0]);
  // Each file's change: etc/a only changed mode, still a modification; etc/ itself did not change.
  assert.deepEqual(
    j.layers[1].changes.map((c: { path: string; change: string }) => `${c.change} ${c.path}`),
    ["modified etc/a", "removed etc/b", "modified keep", "removed var", "removed var/x"],
  );
  assert.deepEqual(
    j.layers.map((l: { command: string }) => l.command),
    ["osless test fixture layer 0", "osless test fixture layer 1", "osless test fixture layer 2"],
  );
});

test("explore --json --json-format dive: dive's fields, in dive's order", async () => {
  const r = await osless(root, ["explore", "--json", "--json-format", "dive", "waste:1"]);
  assert.equal(r.code, 0, explain(r));
  const j = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(j), ["layer", "image"]);
  assert.deepEqual(Object.keys(j.layer[0]), ["index", "id", "digestId", "sizeBytes", "command", "fileList"]);
  assert.deepEqual(Object.keys(j.image), [
    "sizeBytes",
    "inefficientBytes",
    "efficiencyScore",
    "fileReference",
  ]);
  assert.equal(j.image.sizeBytes, 3090);
  assert.equal(j.image.inefficientBytes, DIVE.wastedBytes);
  assert.deepEqual(j.image.fileReference, [
    { count: 2, sizeBytes: 2000, file: "/etc/a" },
    { count: 2, sizeBytes: 500, file: "/etc/b" },
    { count: 2, sizeBytes: 220, file: "/keep" },
  ]);
  assert.ok(j.layer[1].fileList.some((f: { path: string }) => f.path === ".wh.var"));
});

test("explore --ci: dive's defaults fail this image; flags, --metrics dive and a .dive-ci file decide", async () => {
  const env = { CI: "" };
  const fail = await osless(root, ["explore", "--ci", "waste:1"], { env });
  assert.equal(fail.code, 1, explain(fail));
  assert.match(
    fail.stdout,
    /^Analysis:\n {2}efficiency: {8}38\.51 %\n {2}wastedBytes: {7}1900 bytes \(1\.9 kB\)\n/,
  );
  assert.match(fail.stdout, /metrics: {11}exact/);
  assert.match(fail.stdout, /FAIL {2}lowestEfficiency/);
  assert.match(fail.stdout, /\nFAIL \[fail:2 skip:1\]\n$/);
  assert.match(
    fail.stderr,
    /^Loading image\nAnalyzing image \[layers:3 files:\d+ size:3\.1 kB\]\nEvaluating image \[rules: 3\]\n$/,
  );
  // Exact efficiency 1190/3090 = 0.385, dive's 0.522; user-wasted (1.6 and 2.29) fails any ratio, so it is off.
  const off = ["--highestUserWastedPercent", "disabled"];
  const pass = await osless(root, ["explore", "--ci", "--lowestEfficiency", "0.3", ...off, "waste:1"], {
    env,
  });
  assert.equal(pass.code, 0, explain(pass));
  assert.match(pass.stdout, /SKIP {2}highestUserWastedPercent \(disabled\)/);
  assert.match(pass.stdout, /\nPASS \[pass:1 skip:2\]\n$/);
  const exact = await osless(root, ["explore", "--ci", "--lowestEfficiency", "0.45", ...off, "waste:1"], {
    env,
  });
  assert.equal(exact.code, 1, explain(exact));
  assert.match(exact.stdout, /FAIL {2}lowestEfficiency/);
  const dive = await osless(
    root,
    ["explore", "--ci", "--metrics", "dive", "--lowestEfficiency", "0.45", ...off, "waste:1"],
    { env },
  );
  assert.equal(dive.code, 0, explain(dive));
  assert.match(dive.stdout, /efficiency: {8}52\.21 %/);
  assert.match(dive.stdout, /metrics: {11}dive/);
  // CI=true in the environment is CI mode; a .dive-ci in the current directory is read; a flag beats it.
  const dir = await tmpdir("explore-ci-");
  writeFileSync(
    join(dir, ".dive-ci"),
    "rules:\n  lowestEfficiency: 0.3\n  highestWastedBytes: 2KB\n  highestUserWastedPercent: off\n",
  );
  const file = await osless(root, ["explore", "waste:1"], { env: { CI: "true" }, cwd: dir });
  assert.equal(file.code, 0, explain(file));
  assert.match(file.stdout, /PASS {2}highestWastedBytes \(2KB\)/);
  const over = await osless(root, ["explore", "--highestWastedBytes", "1kB", "waste:1"], {
    env: { CI: "1" },
    cwd: dir,
  });
  assert.equal(over.code, 1, explain(over));
  assert.match(over.stdout, /FAIL {2}highestWastedBytes/);
});

test("explore reads other sources: an OCI layout gives the figures the store gives", async () => {
  const r = await osless(root, ["explore", "--json", `oci:${await ociLayout(SPEC)}:latest`]);
  assert.equal(r.code, 0, explain(r));
  assert.equal(JSON.parse(r.stdout).metrics.exact.wastedBytes, EXACT.wastedBytes);
});

test("explore bad input: no terminal, unknown flags' values, a bad rules file, a missing image", async () => {
  const env = { CI: "" };
  const noTty = await osless(root, ["explore", "waste:1"], { env });
  assert.equal(noTty.code, 2, explain(noTty));
  assert.match(noTty.stderr, /terminal UI needs a terminal/);
  assert.match(noTty.stderr, /--json, --ci or --web/);
  for (const args of [
    ["--metrics", "best"],
    ["--json", "--json-format", "xml"],
    ["--json-format", "dive"],
    ["--port", "80"],
    ["--json", "--web"],
    ["--ci", "--lowestEfficiency", "1.5"],
    ["--base-layers", "-1", "--json"],
  ]) {
    const r = await osless(root, ["explore", ...args, "waste:1"], { env });
    assert.equal(r.code, 2, `${args.join(" ")}: ${explain(r)}`);
  }
  const dir = await tmpdir("explore-bad-ci-");
  writeFileSync(join(dir, "rules.yaml"), "rules:\n  lowestEfficiency: [1, 2\n");
  const bad = await osless(root, ["explore", "--ci", "--ci-config", join(dir, "rules.yaml"), "waste:1"], {
    env,
  });
  assert.equal(bad.code, 2, explain(bad));
  assert.match(bad.stderr, /rules\.yaml/);
  const missing = await osless(root, ["explore", "--ci", "--ci-config", join(dir, "nope"), "waste:1"], {
    env,
  });
  assert.equal(missing.code, 2, explain(missing));
  const none = await osless(root, ["explore", "--json", "nothing:here"], { env });
  assert.equal(none.code, 3, explain(none));
});
