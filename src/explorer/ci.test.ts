import assert from "node:assert/strict";
import { test } from "node:test";
import { isOslessError, type OslessError } from "../errors.ts";
import {
  type CiEvaluation,
  type CiReportInput,
  type CiRules,
  ciReportInput,
  evaluateCi,
  formatCiReport,
  goFixed,
  goFloatV,
  humanBytes,
  isRuleDisabled,
  parseCiConfig,
  parseHumanBytes,
  resolveCiRules,
} from "./ci.ts";
import type { ImageMetrics } from "./types.ts";

// The three rules of dive's README CI section, in a file of our own wording: a ratio, a byte size in dive's
// "20MB" notation and a ratio written with a trailing zero (dive prints a passing rule's value as written).
const README_EQUIVALENT = `rules:
  # fail when less than 95 % of the image's bytes are efficiently used
  lowestEfficiency: 0.95
  # fail when more than 20 megabytes (decimal) are wasted
  highestWastedBytes: 20MB
  # fail when wasted bytes exceed a fifth of the bytes the user layers add
  highestUserWastedPercent: 0.20
`;

/** Run `fn`, expect an OslessError, return it. */
function errorOf(fn: () => unknown): OslessError {
  try {
    fn();
  } catch (e) {
    assert.ok(isOslessError(e), `expected an OslessError, got ${String(e)}`);
    return e;
  }
  assert.fail("expected an error");
}

const defaults = (): CiRules => resolveCiRules({ flags: {} });

// ---------------------------------------------------------------------------------------------------------------
// Rules

test("defaults: lowestEfficiency 0.9, highestWastedBytes disabled, highestUserWastedPercent 0.1", () => {
  const r = defaults();
  assert.deepEqual(r.lowestEfficiency, {
    name: "lowestEfficiency",
    config: "0.9",
    threshold: 0.9,
    from: "default",
  });
  assert.deepEqual(r.highestWastedBytes, {
    name: "highestWastedBytes",
    config: "disabled",
    threshold: null,
    from: "default",
  });
  assert.deepEqual(r.highestUserWastedPercent, {
    name: "highestUserWastedPercent",
    config: "0.1",
    threshold: 0.1,
    from: "default",
  });
});

test("a .dive-ci like dive's README sets all three rules, values kept as written", () => {
  const file = parseCiConfig(README_EQUIVALENT, ".dive-ci");
  assert.deepEqual(file, {
    source: ".dive-ci",
    lowestEfficiency: "0.95",
    highestWastedBytes: "20MB",
    highestUserWastedPercent: "0.20",
  });
  const r = resolveCiRules({ file, flags: {} });
  assert.equal(r.lowestEfficiency.threshold, 0.95);
  assert.equal(r.highestWastedBytes.threshold, 20_000_000);
  assert.equal(r.highestUserWastedPercent.threshold, 0.2);
  assert.equal(r.highestUserWastedPercent.config, "0.20");
  for (const rule of Object.values(r)) assert.equal(rule.from, "file");
});

test("a missing key takes the default; other keys, top-level and under rules:, are ignored", () => {
  const file = parseCiConfig(
    "---\nplugins:\n  - some-plugin\nci: true\nrules:\n  lowestEfficiency: 0.8\n  some-plugin/rule: error\n  unknownRule: 3\n",
    "ci.yaml",
  );
  assert.deepEqual(file, { source: "ci.yaml", lowestEfficiency: "0.8" });
  const r = resolveCiRules({ file, flags: {} });
  assert.equal(r.lowestEfficiency.threshold, 0.8);
  assert.equal(r.lowestEfficiency.from, "file");
  assert.equal(r.highestWastedBytes.threshold, null);
  assert.equal(r.highestWastedBytes.from, "default");
  assert.equal(r.highestUserWastedPercent.threshold, 0.1);
  assert.equal(r.highestUserWastedPercent.from, "default");
});

test("an empty file, a comment-only file, no rules: key or a null rules: set nothing", () => {
  for (const text of ["", "# nothing here\n", "ci: true\n", "rules:\n", "rules: ~\n", "~\n"]) {
    assert.deepEqual(parseCiConfig(text, "f"), { source: "f" }, JSON.stringify(text));
  }
});

test("a null value leaves the default (as yaml.v3 leaves dive's string field)", () => {
  const file = parseCiConfig("rules:\n  lowestEfficiency:\n  highestUserWastedPercent: ~\n", "f");
  assert.deepEqual(file, { source: "f" });
  assert.equal(resolveCiRules({ file, flags: {} }).lowestEfficiency.config, "0.9");
});

test("dive's app-config kebab-case keys are accepted; camelCase wins when both are given", () => {
  const kebab = parseCiConfig(
    'rules:\n  lowest-efficiency: "0.96"\n  highest-wasted-bytes: 19Mb\n  highest-user-wasted-percent: 0.6\n',
    "f",
  );
  assert.deepEqual(kebab, {
    source: "f",
    lowestEfficiency: "0.96",
    highestWastedBytes: "19Mb",
    highestUserWastedPercent: "0.6",
  });
  assert.equal(resolveCiRules({ file: kebab, flags: {} }).highestWastedBytes.threshold, 19_000_000);
  const camelFirst = parseCiConfig("rules:\n  lowestEfficiency: 0.5\n  lowest-efficiency: 0.7\n", "f");
  const camelLast = parseCiConfig("rules:\n  lowest-efficiency: 0.7\n  lowestEfficiency: 0.5\n", "f");
  assert.equal(camelFirst.lowestEfficiency, "0.5");
  assert.equal(camelLast.lowestEfficiency, "0.5");
});

test("values may be numbers or strings, aliases resolved", () => {
  const file = parseCiConfig(
    "x: &eff 0.75\nrules:\n  lowestEfficiency: *eff\n  highestWastedBytes: 1000000\n  highestUserWastedPercent: '0.3'\n",
    "f",
  );
  const r = resolveCiRules({ file, flags: {} });
  assert.equal(r.lowestEfficiency.threshold, 0.75);
  assert.equal(r.highestWastedBytes.threshold, 1_000_000);
  assert.equal(r.highestWastedBytes.config, "1000000");
  assert.equal(r.highestUserWastedPercent.threshold, 0.3);
});

test("flags override the file, rule by rule", () => {
  const file = parseCiConfig(README_EQUIVALENT, ".dive-ci");
  const r = resolveCiRules({ file, flags: { lowestEfficiency: "0.5", highestWastedBytes: "1.5 GB" } });
  assert.deepEqual(r.lowestEfficiency, {
    name: "lowestEfficiency",
    config: "0.5",
    threshold: 0.5,
    from: "flag",
  });
  assert.equal(r.highestWastedBytes.threshold, 1_500_000_000);
  assert.equal(r.highestWastedBytes.from, "flag");
  assert.equal(r.highestUserWastedPercent.config, "0.20");
  assert.equal(r.highestUserWastedPercent.from, "file");
  // A flag can disable what the file sets, and a flag without a file works too.
  const off = resolveCiRules({ file, flags: { highestUserWastedPercent: "off" } });
  assert.equal(off.highestUserWastedPercent.threshold, null);
  assert.equal(
    resolveCiRules({ flags: { highestUserWastedPercent: "0.25" } }).highestUserWastedPercent.threshold,
    0.25,
  );
});

test('"", disabled, off, false (any case, spaces around) disable a rule', () => {
  for (const v of ["", "disabled", "off", "false", "OFF", " Disabled ", "False", "\t"]) {
    assert.ok(isRuleDisabled(v), JSON.stringify(v));
    const r = resolveCiRules({
      flags: { lowestEfficiency: v, highestWastedBytes: v, highestUserWastedPercent: v },
    });
    for (const rule of Object.values(r)) {
      assert.equal(rule.threshold, null);
      assert.equal(rule.config, "disabled");
    }
  }
  for (const v of ["0", "no", "none", "disable"]) assert.equal(isRuleDisabled(v), false, v);
  // In a file: a plain false (a YAML boolean), a quoted "", off and disabled.
  const file = parseCiConfig(
    'rules:\n  lowestEfficiency: false\n  highestWastedBytes: ""\n  highestUserWastedPercent: off\n',
    "f",
  );
  const r = resolveCiRules({ file, flags: {} });
  assert.deepEqual(
    Object.values(r).map((x) => [x.threshold, x.config, x.from]),
    [
      [null, "disabled", "file"],
      [null, "disabled", "file"],
      [null, "disabled", "file"],
    ],
  );
});

test("ratios: 0 and 1 are allowed, Go's decimal syntax is read", () => {
  const at = (v: string) => resolveCiRules({ flags: { lowestEfficiency: v } }).lowestEfficiency.threshold;
  assert.equal(at("0"), 0);
  assert.equal(at("1"), 1);
  assert.equal(at("1.0"), 1);
  assert.equal(at(".5"), 0.5);
  assert.equal(at("5e-1"), 0.5);
  assert.equal(at("+0.25"), 0.25);
  assert.equal(at(" 0.9 "), 0.9);
});

test("a bad ratio is E_USAGE naming the file, the key and the value, with a hint", () => {
  const cases: [string, RegExp][] = [
    ["1.5", /outside the allowed range 0\.\.1/],
    ["-0.1", /outside the allowed range 0\.\.1/],
    ["95", /outside the allowed range 0\.\.1/],
    ["abc", /is not a number/],
    ["90%", /is not a number/],
    ["nan", /is not a number/],
    [".inf", /is not a number/],
    ["0x1p-1", /is not a number/],
  ];
  for (const [value, why] of cases) {
    const e = errorOf(() => parseCiConfig(`rules:\n  highestUserWastedPercent: ${value}\n`, "ci/.dive-ci"));
    assert.equal(e.code, "E_USAGE");
    assert.match(e.message, /^CI rules file ci\/\.dive-ci: rules\.highestUserWastedPercent: /);
    assert.ok(e.message.includes(JSON.stringify(value)), e.message);
    assert.match(e.message, why);
    assert.match(e.hint ?? "", /between 0 and 1/);
    assert.deepEqual(e.details, { file: "ci/.dive-ci", key: "highestUserWastedPercent", value });
  }
  // The kebab key is named as written.
  const k = errorOf(() => parseCiConfig("rules:\n  lowest-efficiency: 2\n", "f"));
  assert.match(k.message, /rules\.lowest-efficiency: "2" is outside/);
});

test("a bad byte size is E_USAGE; flags are named as flags", () => {
  const e = errorOf(() => parseCiConfig("rules:\n  highestWastedBytes: 20 XB\n", ".dive-ci"));
  assert.equal(e.code, "E_USAGE");
  assert.equal(e.message, 'CI rules file .dive-ci: rules.highestWastedBytes: "20 XB" is not a byte size');
  assert.match(e.hint ?? "", /20MB/);
  const f = errorOf(() => resolveCiRules({ flags: { highestWastedBytes: "-5MB" } }));
  assert.equal(f.code, "E_USAGE");
  assert.equal(f.message, '--highestWastedBytes: "-5MB" is not a byte size');
  assert.deepEqual(f.details, { flag: "--highestWastedBytes", value: "-5MB" });
  const g = errorOf(() => resolveCiRules({ flags: { lowestEfficiency: "high" } }));
  assert.equal(g.message, '--lowestEfficiency: "high" is not a number');
});

test("bad YAML, a non-mapping document, a non-mapping rules: or a structured value are E_USAGE", () => {
  const dup = errorOf(() =>
    parseCiConfig("rules:\n  lowestEfficiency: 0.9\n  lowestEfficiency: 0.8\n", ".dive-ci"),
  );
  assert.equal(dup.code, "E_USAGE");
  assert.match(dup.message, /^CI rules file \.dive-ci: not valid YAML: Map keys must be unique/);
  assert.equal(dup.details?.line, 3);
  const syntax = errorOf(() => parseCiConfig("rules: [\n", ".dive-ci"));
  assert.equal(syntax.code, "E_USAGE");
  assert.match(syntax.message, /not valid YAML/);
  assert.ok(!syntax.message.includes("\n"), "one line");

  const top = errorOf(() => parseCiConfig("- lowestEfficiency: 0.9\n", "x.yml"));
  assert.equal(top.message, "CI rules file x.yml: the document is not a mapping");
  for (const rules of ["rules: [0.9]\n", "rules: 0.9\n", "rules:\n  - lowestEfficiency: 0.9\n"]) {
    const e = errorOf(() => parseCiConfig(rules, "x.yml"));
    assert.equal(e.code, "E_USAGE");
    assert.equal(e.message, 'CI rules file x.yml: "rules" is not a mapping');
    assert.ok(e.hint);
  }
  const nested = errorOf(() => parseCiConfig("rules:\n  lowestEfficiency:\n    value: 0.9\n", "x.yml"));
  assert.equal(nested.message, "CI rules file x.yml: rules.lowestEfficiency is not a single value");
  assert.match(nested.hint ?? "", /lowestEfficiency: 0\.9/);
});

// ---------------------------------------------------------------------------------------------------------------
// Evaluation

const FIGURES = { efficiency: 0.95, wastedBytes: 1000, userWastedPercent: 0.2 };

function rules(flags: Partial<Record<keyof CiRules, string>>): CiRules {
  return resolveCiRules({
    flags: { lowestEfficiency: "off", highestWastedBytes: "off", highestUserWastedPercent: "off", ...flags },
  });
}

function statusOf(ev: CiEvaluation, name: keyof CiRules): string {
  return ev.results.find((r) => r.name === name)!.status;
}

test("comparisons are strict: a figure equal to its threshold passes", () => {
  const ev = evaluateCi(
    FIGURES,
    rules({ lowestEfficiency: "0.95", highestWastedBytes: "1kB", highestUserWastedPercent: "0.2" }),
  );
  assert.deepEqual(
    ev.results.map((r) => [r.name, r.status, r.message]),
    [
      ["highestUserWastedPercent", "PASS", "0.2"],
      ["highestWastedBytes", "PASS", "1kB"],
      ["lowestEfficiency", "PASS", "0.95"],
    ],
  );
  assert.equal(ev.passed, true);
  assert.deepEqual(ev.tally, { pass: 3, fail: 0, skip: 0 });
});

test("crossing a threshold fails, with dive's messages", () => {
  const eff = evaluateCi({ ...FIGURES, efficiency: 0.9499 }, rules({ lowestEfficiency: "0.95" }));
  assert.equal(statusOf(eff, "lowestEfficiency"), "FAIL");
  assert.equal(eff.results[2]!.message, "image efficiency is too low (efficiency=0.95 < threshold=0.95)");
  assert.equal(eff.passed, false);

  const bytes = evaluateCi({ ...FIGURES, wastedBytes: 1001 }, rules({ highestWastedBytes: "1kB" }));
  assert.equal(statusOf(bytes, "highestWastedBytes"), "FAIL");
  assert.equal(bytes.results[1]!.message, "too many bytes wasted (wasted-bytes=1001 > threshold=1000)");

  const user = evaluateCi(
    { ...FIGURES, userWastedPercent: 0.2001 },
    rules({ highestUserWastedPercent: "0.2" }),
  );
  assert.equal(statusOf(user, "highestUserWastedPercent"), "FAIL");
  assert.equal(
    user.results[0]!.message,
    "too many bytes wasted, relative to the user bytes added (%-user-wasted-bytes=0.20 > threshold=0.2)",
  );
  assert.deepEqual(user.tally, { pass: 0, fail: 1, skip: 2 });
});

test("NaN and null user-wasted ratios compare false and pass; Infinity fails", () => {
  const all = { lowestEfficiency: "0", highestWastedBytes: "0", highestUserWastedPercent: "0" };
  const nan = evaluateCi(
    { efficiency: Number.NaN, wastedBytes: 0, userWastedPercent: Number.NaN },
    rules(all),
  );
  assert.equal(nan.passed, true);
  assert.deepEqual(nan.tally, { pass: 3, fail: 0, skip: 0 });
  const nul = evaluateCi({ efficiency: 1, wastedBytes: 0, userWastedPercent: null }, rules(all));
  assert.equal(statusOf(nul, "highestUserWastedPercent"), "PASS");
  const inf = evaluateCi(
    { efficiency: 1, wastedBytes: 5, userWastedPercent: Number.POSITIVE_INFINITY },
    rules(all),
  );
  assert.equal(statusOf(inf, "highestUserWastedPercent"), "FAIL");
  assert.match(inf.results[0]!.message, /%-user-wasted-bytes=\+Inf > threshold=0\)$/);
  assert.equal(statusOf(inf, "highestWastedBytes"), "FAIL");
});

test("disabled rules are skipped whatever the figures; all skipped passes", () => {
  const ev = evaluateCi({ efficiency: 0, wastedBytes: 1e12, userWastedPercent: 50 }, rules({}));
  assert.deepEqual(
    ev.results.map((r) => [r.status, r.message]),
    [
      ["SKIP", "disabled"],
      ["SKIP", "disabled"],
      ["SKIP", "disabled"],
    ],
  );
  assert.equal(ev.passed, true);
});

test("byte thresholds beyond 2^53 and huge waste print as integers", () => {
  const ev = evaluateCi(
    { efficiency: 1, wastedBytes: 2e19, userWastedPercent: 0 },
    rules({ highestWastedBytes: "15 EB" }),
  );
  assert.equal(
    ev.results[1]!.message,
    "too many bytes wasted (wasted-bytes=20000000000000000000 > threshold=15000000000000000000)",
  );
});

// ---------------------------------------------------------------------------------------------------------------
// go-humanize and Go fmt

test("parseHumanBytes reads go-humanize's documented examples", () => {
  const MiB = 1024 * 1024;
  const cases: [string, number][] = [
    ["42", 42],
    ["42MB", 42_000_000],
    ["42MiB", 42 * MiB],
    ["42mb", 42_000_000],
    ["42mib", 42 * MiB],
    ["42MIB", 42 * MiB],
    ["42 MB", 42_000_000],
    ["42 mib", 42 * MiB],
    ["42.5MB", 42_500_000],
    ["42.5 MiB", 42.5 * MiB],
    ["42M", 42_000_000],
    ["42Mi", 42 * MiB],
    ["42 mi", 42 * MiB],
    ["1,005.03 MB", 1_005_030_000],
    ["12.5 EB", 12.5e18],
    ["12.5 E", 12.5e18],
    ["12.5 EiB", 12.5 * 2 ** 60],
    // dive's notations: "20Mb" is 20 MB (not megabits), kB and KB alike, IEC binary.
    ["20Mb", 20_000_000],
    ["20MB", 20_000_000],
    ["500kB", 500_000],
    ["500KB", 500_000],
    ["1.5 GB", 1_500_000_000],
    ["20MiB", 20 * MiB],
    ["1KiB", 1024],
    ["7b", 7],
    ["3 TB", 3e12],
    ["2 P", 2e15],
    ["1.5", 1],
    ["5.", 5],
    [".5k", 500],
    ["0", 0],
    ["42 MB ", 42_000_000],
  ];
  for (const [s, n] of cases) assert.equal(parseHumanBytes(s), n, s);
});

test("parseHumanBytes refuses what go-humanize refuses", () => {
  for (const s of [
    "84 JB",
    "",
    "16 EiB",
    " 42",
    "-1",
    "1e3",
    "1.2.3",
    ".",
    "MB",
    "\u0664\u0662",
    "4\u0662",
    "42 M B",
    "0x10",
  ]) {
    assert.equal(parseHumanBytes(s), null, JSON.stringify(s));
  }
});

test("humanBytes matches go-humanize's documented Bytes examples", () => {
  const KB = 1e3;
  const MB = 1e6;
  const GB = 1e9;
  const TB = 1e12;
  const PB = 1e15;
  const EB = 1e18;
  const cases: [number, string][] = [
    [0, "0 B"],
    [1, "1 B"],
    [803, "803 B"],
    [999, "999 B"],
    [1024, "1.0 kB"],
    [9999, "10 kB"],
    [MB - 1, "1000 kB"],
    [1024 * 1024, "1.0 MB"],
    [GB - KB, "1000 MB"],
    [GB, "1.0 GB"],
    [TB - MB, "1000 GB"],
    [9999 * 1000, "10 MB"],
    [TB, "1.0 TB"],
    [PB - TB, "999 TB"],
    [PB, "1.0 PB"],
    [EB - PB, "999 PB"],
    [EB, "1.0 EB"],
    [5.5 * GB, "5.5 GB"],
    [82854982, "83 MB"],
  ];
  for (const [n, s] of cases) assert.equal(humanBytes(n), s, String(n));
});

test("humanBytes rounds as Go does (values checked against Go 1.19's math and fmt)", () => {
  // %.0f rounds exact ties to even; the unit comes from float logarithms, so 1e15-1 is "1.0 PB", not "1000 TB".
  assert.equal(humanBytes(82_500_000), "82 MB");
  assert.equal(humanBytes(83_500_000), "84 MB");
  assert.equal(humanBytes(999_999_999_999_999), "1.0 PB");
  assert.equal(humanBytes(999_999_999_999), "1000 GB");
  assert.equal(humanBytes(6405), "6.4 kB");
  assert.equal(humanBytes(9949), "9.9 kB");
  assert.equal(humanBytes(9950), "10 kB");
  assert.equal(humanBytes(1_250_000), "1.3 MB");
  assert.equal(humanBytes(10), "10 B");
});

test("goFixed is Go's %.Nf (ties to even on the exact binary value) and goFloatV Go's %v", () => {
  assert.equal(goFixed(12.125, 2), "12.12");
  assert.equal(goFixed(12.375, 2), "12.38");
  assert.equal(goFixed(0.005, 2), "0.01"); // the double is a little above 0.005
  assert.equal(goFixed(1.005, 2), "1.00"); // and this one a little below 1.005
  assert.equal(goFixed(99.995, 2), "100.00");
  assert.equal(goFixed(82.5, 0), "82");
  assert.equal(goFixed(0.7198, 2), "0.72");
  assert.equal(goFixed(Number.POSITIVE_INFINITY, 2), "+Inf");
  assert.equal(goFixed(Number.NaN, 2), "NaN");
  assert.equal(goFixed(-1.5, 0), "-2");
  assert.equal(goFixed(1e21, 1), "1000000000000000000000.0");
  assert.equal(goFloatV(0.9), "0.9");
  assert.equal(goFloatV(1), "1");
  assert.equal(goFloatV(0), "0");
  assert.equal(goFloatV(0.0001), "0.0001");
  assert.equal(goFloatV(0.00001), "1e-05");
  assert.equal(goFloatV(123456), "123456");
  assert.equal(goFloatV(1e6), "1e+06");
  assert.equal(goFloatV(1234567), "1.234567e+06");
  assert.equal(goFloatV(1.5e-7), "1.5e-07");
});

// ---------------------------------------------------------------------------------------------------------------
// Report

/** The documented layout: key labels padded to 18 columns after two spaces, then one space and the value. */
const kv = (key: string, value: string) => `  ${`${key}:`.padEnd(18)} ${value}`;
/** The inefficient-files table: "  %-5s  %-12s  %s". */
const fileRow = (count: string, size: string, path: string) =>
  `  ${count.padEnd(5)}  ${size.padEnd(12)}  ${path}`;

test("the report of a failing image, dive's layout with the metrics line", () => {
  const input: CiReportInput = {
    efficiency: 0.8412,
    wastedBytes: 32025,
    userWastedPercent: 0.4836,
    inefficient: [
      { file: "/root/saved.txt", count: 2, sizeBytes: 12810 },
      { file: "root/example/a.txt", count: 3, sizeBytes: 6405 },
      { file: "/etc", count: 10, sizeBytes: 0 },
    ],
  };
  const ev = evaluateCi(input, defaults());
  const expected = [
    "Analysis:",
    kv("efficiency", "84.12 %"),
    kv("wastedBytes", "32025 bytes (32 kB)"),
    kv("userWastedPercent", "48.36 %"),
    kv("metrics", "dive"),
    "",
    "Inefficient Files:",
    fileRow("Count", "Wasted Space", "File Path"),
    fileRow("2", "13 kB", "/root/saved.txt"),
    fileRow("3", "6.4 kB", "/root/example/a.txt"),
    fileRow("10", "0 B", "/etc"),
    "",
    "Evaluation:",
    "  FAIL  highestUserWastedPercent (too many bytes wasted, relative to the user bytes added (%-user-wasted-bytes=0.48 > threshold=0.1))",
    "  SKIP  highestWastedBytes (disabled)",
    "  FAIL  lowestEfficiency (image efficiency is too low (efficiency=0.84 < threshold=0.9))",
    "",
    "FAIL [fail:2 skip:1]",
    "",
  ].join("\n");
  assert.equal(formatCiReport(input, ev, { metrics: "dive" }), expected);
  // The literal layout, once, so that a change of the helpers above cannot hide a change of format.
  assert.ok(expected.includes("\n  efficiency:        84.12 %\n"));
  assert.ok(
    expected.includes("\n  Count  Wasted Space  File Path\n  2      13 kB         /root/saved.txt\n"),
  );
});

test("the report of a passing image without waste: dive's '0 bytes ', '0 %' and '(None)'", () => {
  const file = parseCiConfig(README_EQUIVALENT, ".dive-ci");
  const input: CiReportInput = { efficiency: 1, wastedBytes: 0, userWastedPercent: null, inefficient: [] };
  const ev = evaluateCi(input, resolveCiRules({ file, flags: {} }));
  const expected = [
    "Analysis:",
    kv("efficiency", "100.00 %"),
    kv("wastedBytes", "0 bytes "),
    kv("userWastedPercent", "0 %"),
    kv("metrics", "exact"),
    "",
    "Inefficient Files: (None)",
    "",
    "Evaluation:",
    "  PASS  highestUserWastedPercent (0.20)",
    "  PASS  highestWastedBytes (20MB)",
    "  PASS  lowestEfficiency (0.95)",
    "",
    "PASS [pass:3]",
    "",
  ].join("\n");
  assert.equal(formatCiReport(input, ev, { metrics: "exact" }), expected);
});

test("the report shows n/a for a null ratio and +Inf for dive's x/0", () => {
  const input: CiReportInput = {
    efficiency: 0.5,
    wastedBytes: 2_000_000,
    userWastedPercent: null,
    inefficient: [{ file: "a", count: 2, sizeBytes: 2_000_000 }],
  };
  const ev = evaluateCi(input, defaults());
  const text = formatCiReport(input, ev, { metrics: "exact" });
  assert.ok(text.includes(`\n${kv("wastedBytes", "2000000 bytes (2.0 MB)")}\n`), text);
  assert.ok(text.includes(`\n${kv("userWastedPercent", "n/a")}\n`), text);
  assert.ok(text.endsWith("\nFAIL [pass:1 fail:1 skip:1]\n"), text);
  const inf = { ...input, userWastedPercent: Number.POSITIVE_INFINITY };
  assert.ok(
    formatCiReport(inf, evaluateCi(inf, defaults()), { metrics: "dive" }).includes(
      kv("userWastedPercent", "+Inf %"),
    ),
  );
});

test("ciReportInput takes dive's figures as they are, and groups the exact waste by path", () => {
  const metrics: ImageMetrics = {
    dive: {
      efficiency: 0.9,
      sizeBytes: 100,
      userSizeBytes: 0,
      wastedBytes: 20,
      userWastedPercent: Number.POSITIVE_INFINITY,
      inefficient: [{ file: "/a", count: 2, sizeBytes: 20 }],
    },
    exact: {
      efficiency: 0.85,
      totalBytes: 100,
      finalBytes: 85,
      wastedBytes: 15,
      baseLayers: 1,
      userBytes: 0,
      userWastedBytes: 0,
      userWastedPercent: null,
      waste: [
        { path: "b", bytes: 6, cause: "overwritten", layer: 0, by: 1 },
        { path: "a", bytes: 5, cause: "overwritten", layer: 0, by: 1 },
        { path: "c", bytes: 3, cause: "deleted", layer: 1, by: 2 },
        { path: "a", bytes: 1, cause: "metadata-only", layer: 1, by: 2 },
      ],
      byCause: { overwritten: 11, deleted: 3, "metadata-only": 1 },
    },
  };
  assert.deepEqual(ciReportInput(metrics, "dive"), {
    efficiency: 0.9,
    wastedBytes: 20,
    userWastedPercent: Number.POSITIVE_INFINITY,
    inefficient: [{ file: "/a", count: 2, sizeBytes: 20 }],
  });
  assert.deepEqual(ciReportInput(metrics, "exact"), {
    efficiency: 0.85,
    wastedBytes: 15,
    userWastedPercent: null,
    inefficient: [
      { file: "a", count: 2, sizeBytes: 6 },
      { file: "b", count: 1, sizeBytes: 6 },
      { file: "c", count: 1, sizeBytes: 3 },
    ],
  });
});
