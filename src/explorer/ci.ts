/**
 * The CI gate of `osless explore --ci`: dive's rules, read and evaluated as dive does
 * (../../../shared/design/explorer-metrics.md, "CI mode"), and dive's report text.
 *
 * - Rules: `lowestEfficiency` (ratio 0..1, default "0.9"), `highestWastedBytes` (a byte size, default "disabled"),
 *   `highestUserWastedPercent` (ratio 0..1, default "0.1"). "", "disabled", "off" and "false" (any case, spaces
 *   around ignored) disable a rule: it is reported SKIP.
 * - Rules file (dive's `.dive-ci`): YAML, the rules under `rules:` with dive's camelCase keys; the kebab-case keys of
 *   dive's application config (`lowest-efficiency`, ...) are accepted too, camelCase winning when a file has both
 *   (dive's own precedence in its app config). Unknown keys and other top-level keys are ignored. A value is kept as
 *   written (`0.20` stays "0.20", as Go's yaml.v3 does when it decodes a number into dive's string fields): dive
 *   prints it for a passing rule. A null value (`lowestEfficiency:` or `~`) leaves the default, as in dive.
 * - Precedence: flag > file > default. (dive HEAD lets an existing `.dive-ci` replace the flags' values; osless
 *   lets an explicit flag win, which is what a flag is for.)
 * - Comparisons are strict, as dive's: FAIL if threshold > efficiency, FAIL if wastedBytes > threshold, FAIL if
 *   userWastedPercent > threshold. Equality passes; NaN (dive's 0/0) and null (osless's "no user layers") compare
 *   false and pass.
 * - Byte sizes parse as go-humanize `ParseBytes` (`parseHumanBytes`) and print as go-humanize `Bytes`
 *   (`humanBytes`), the two functions dive uses. Numbers print as Go's fmt verbs dive uses (`%.2f`, `%v`).
 *
 * Errors are E_USAGE (exit 2): they name the file (or flag), the key and the value, and say how to write it.
 */
import { createRequire } from "node:module";
import type { Scalar } from "yaml";
import { OslessError } from "../errors.ts";

/**
 * The YAML parser (the `yaml` package), loaded when a rules file is read: it is a quarter of a megabyte that no
 * other command needs, and the CLI bundle leaves it out (scripts/bundle.mjs) so that every command starts faster.
 */
let yamlModule: typeof import("yaml") | undefined;
function yaml(): typeof import("yaml") {
  yamlModule ??= createRequire(import.meta.url)("yaml") as typeof import("yaml");
  return yamlModule;
}

import type { ImageMetrics } from "./types.ts";

export type CiRuleName = "lowestEfficiency" | "highestWastedBytes" | "highestUserWastedPercent";

/** The rules in dive's declaration order. */
export const CI_RULE_NAMES: readonly CiRuleName[] = [
  "lowestEfficiency",
  "highestWastedBytes",
  "highestUserWastedPercent",
];

/** dive's built-in values, used for a rule that neither a flag nor the file sets. */
export const CI_RULE_DEFAULTS: Readonly<Record<CiRuleName, string>> = {
  lowestEfficiency: "0.9",
  highestWastedBytes: "disabled",
  highestUserWastedPercent: "0.1",
};

/** The kebab-case key of dive's application config for each rule (`rules.lowest-efficiency`, ...). */
const KEBAB: Readonly<Record<CiRuleName, string>> = {
  lowestEfficiency: "lowest-efficiency",
  highestWastedBytes: "highest-wasted-bytes",
  highestUserWastedPercent: "highest-user-wasted-percent",
};

/** What a rules file sets: each rule it names, its value as written (already validated), and where it came from. */
export interface CiRuleConfig {
  /** The file, as the caller named it (for messages). */
  source: string;
  lowestEfficiency?: string | undefined;
  highestWastedBytes?: string | undefined;
  highestUserWastedPercent?: string | undefined;
}

export interface CiRule {
  name: CiRuleName;
  /** The value as written, "disabled" for a disabled rule (dive prints this for a passing or skipped rule). */
  config: string;
  /** The parsed threshold (a ratio, or bytes for highestWastedBytes); null when the rule is disabled. */
  threshold: number | null;
  /** Where the value came from. */
  from: "default" | "file" | "flag";
}

export type CiRules = Record<CiRuleName, CiRule>;

export type CiStatus = "PASS" | "FAIL" | "SKIP";

export interface CiRuleResult {
  name: CiRuleName;
  status: CiStatus;
  /** dive's text in the parentheses: the failure, the configured value (PASS) or "disabled" (SKIP). */
  message: string;
  rule: CiRule;
}

export interface CiEvaluation {
  /** No rule failed. */
  passed: boolean;
  /** One per rule, sorted by rule name (dive's report order). */
  results: CiRuleResult[];
  tally: { pass: number; fail: number; skip: number };
}

/** The figures the rules read, from the metric set the user chose. */
export interface CiFigures {
  efficiency: number;
  wastedBytes: number;
  /** A ratio (not a percentage, despite dive's name); may be NaN or Infinity (dive), or null (exact, no user layers). */
  userWastedPercent: number | null;
}

/** What the report shows besides the rules: the figures and the paths that waste bytes, largest first. */
export interface CiReportInput extends CiFigures {
  inefficient: { file: string; count: number; sizeBytes: number }[];
}

// ---------------------------------------------------------------------------------------------------------------
// Rules: reading and resolving

/**
 * Read a `.dive-ci` rules file. `where` names it in errors. An empty file, or one without `rules:`, sets nothing
 * (every rule takes its default). Keys must be unique (as yaml.v3 requires); only the first YAML document is read.
 */
export function parseCiConfig(text: string, where: string): CiRuleConfig {
  // Only the first document counts, as with Go's yaml.Unmarshal (dive's own sample file starts with "---").
  const { isAlias, isMap, isScalar, parseAllDocuments } = yaml();
  const doc = parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true })[0];
  const config: CiRuleConfig = { source: where };
  if (doc === undefined) return config;
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    throw new OslessError(
      "E_USAGE",
      `CI rules file ${where}: not valid YAML: ${first.message.split("\n")[0]!.replace(/:$/, "")}`,
      {
        hint: "fix the YAML syntax: the rules go under a `rules:` mapping, one `name: value` per line",
        details: {
          file: where,
          ...(first.linePos ? { line: first.linePos[0].line, col: first.linePos[0].col } : {}),
        },
      },
    );
  }
  const top = doc.contents;
  if (top === null || (isScalar(top) && top.value === null)) return config;
  if (!isMap(top)) {
    throw new OslessError("E_USAGE", `CI rules file ${where}: the document is not a mapping`, {
      hint: "write the rules under a `rules:` key, e.g. `rules:` then `  lowestEfficiency: 0.9` on the next line",
      details: { file: where },
    });
  }
  let rules = top.get("rules", true) as unknown;
  if (isAlias(rules)) rules = rules.resolve(doc);
  if (rules === undefined || (isScalar(rules) && rules.value === null)) return config;
  if (!isMap(rules)) {
    throw new OslessError("E_USAGE", `CI rules file ${where}: "rules" is not a mapping`, {
      hint: "write one `name: value` per line under `rules:`, e.g. `  lowestEfficiency: 0.9`",
      details: { file: where, key: "rules" },
    });
  }
  const found: Partial<Record<string, string>> = {};
  for (const item of rules.items) {
    const key = isScalar(item.key) ? String(item.key.value) : String(item.key);
    const name = ruleOfKey(key);
    if (name === undefined) continue;
    let node = item.value as unknown;
    if (isAlias(node)) node = node.resolve(doc);
    if (node === null || node === undefined) continue;
    if (!isScalar(node)) {
      throw new OslessError("E_USAGE", `CI rules file ${where}: rules.${key} is not a single value`, {
        hint: `write a number or a string, e.g. \`${key}: ${exampleOf(name)}\`, or \`${key}: disabled\``,
        details: { file: where, key },
      });
    }
    const text = scalarText(node);
    if (text === null) continue; // null leaves the default, as yaml.v3 does for dive's string fields
    // camelCase (dive's .dive-ci spelling) wins over kebab-case when a file has both.
    if (key === name || found[name] === undefined) {
      parseRule(name, text, "file", `CI rules file ${where}: rules.${key}`, { file: where, key });
      found[name] = text;
    }
  }
  for (const name of CI_RULE_NAMES) if (found[name] !== undefined) config[name] = found[name];
  return config;
}

/**
 * The rules in force: each from its flag if given, else from the file if it sets it, else dive's default. Flag
 * values are validated here (E_USAGE naming the flag); file values were validated by `parseCiConfig`.
 */
export function resolveCiRules(input: {
  file?: CiRuleConfig | undefined;
  flags: Partial<Record<CiRuleName, string | undefined>>;
}): CiRules {
  const out = {} as CiRules;
  for (const name of CI_RULE_NAMES) {
    const flag = input.flags[name];
    const fromFile = input.file?.[name];
    if (flag !== undefined) {
      out[name] = parseRule(name, flag, "flag", `--${name}`, { flag: `--${name}` });
    } else if (fromFile !== undefined && input.file !== undefined) {
      const source = input.file.source;
      out[name] = parseRule(name, fromFile, "file", `CI rules file ${source}: rules.${name}`, {
        file: source,
        key: name,
      });
    } else {
      out[name] = parseRule(name, CI_RULE_DEFAULTS[name], "default", `default ${name}`, {});
    }
  }
  return out;
}

function ruleOfKey(key: string): CiRuleName | undefined {
  for (const name of CI_RULE_NAMES) if (key === name || key === KEBAB[name]) return name;
  return undefined;
}

function exampleOf(name: CiRuleName): string {
  return name === "highestWastedBytes" ? "20MB" : CI_RULE_DEFAULTS[name];
}

/** A scalar as a string: strings as they are, other values (numbers, booleans) as written in the file. */
function scalarText(node: Scalar): string | null {
  const v = node.value;
  if (v === null || v === undefined) return null;
  if (typeof v === "string") return v;
  return typeof node.source === "string" && node.source !== "" ? node.source : String(v);
}

/** True for dive's spellings of "off": "", "disabled", "off", "false" (case and surrounding spaces ignored). */
export function isRuleDisabled(value: string): boolean {
  const v = goTrimSpace(value).toLowerCase();
  return v === "" || v === "disabled" || v === "off" || v === "false";
}

// Go's strconv.ParseFloat decimal syntax (what dive's ratios use). Go's other forms (hex floats, "1_0", "inf",
// "nan") are refused: none is a sensible ratio. Spaces around a value are ignored (Go refuses them in a flag).
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function parseRule(
  name: CiRuleName,
  value: string,
  from: CiRule["from"],
  label: string,
  details: Record<string, unknown>,
): CiRule {
  if (isRuleDisabled(value)) return { name, config: "disabled", threshold: null, from };
  const v = goTrimSpace(value);
  if (name === "highestWastedBytes") {
    const bytes = parseHumanBytes(v);
    if (bytes === null) {
      throw new OslessError("E_USAGE", `${label}: ${JSON.stringify(value)} is not a byte size`, {
        hint: 'write a size such as 20MB, 500kB, 1.5GB or 20MiB, a plain number of bytes, or "disabled"',
        details: { ...details, value },
      });
    }
    return { name, config: value, threshold: bytes, from };
  }
  if (!DECIMAL.test(v)) {
    throw new OslessError("E_USAGE", `${label}: ${JSON.stringify(value)} is not a number`, {
      hint: `write a ratio between 0 and 1 such as ${CI_RULE_DEFAULTS[name]} (not a percentage), or "disabled"`,
      details: { ...details, value },
    });
  }
  const ratio = Number(v);
  if (!(ratio >= 0 && ratio <= 1)) {
    throw new OslessError("E_USAGE", `${label}: ${JSON.stringify(value)} is outside the allowed range 0..1`, {
      hint: `write a ratio between 0 and 1 such as ${CI_RULE_DEFAULTS[name]} (${name === "lowestEfficiency" ? "0.9 means 90 %" : "0.1 means 10 %"}), or "disabled"`,
      details: { ...details, value },
    });
  }
  return { name, config: value, threshold: ratio, from };
}

// ---------------------------------------------------------------------------------------------------------------
// Evaluation

/** Evaluate the rules on the figures, dive's way (strict comparisons; NaN and null pass). */
export function evaluateCi(figures: CiFigures, rules: CiRules): CiEvaluation {
  const results: CiRuleResult[] = [];
  // dive sorts its results by rule name for the report.
  for (const name of [...CI_RULE_NAMES].sort()) {
    const rule = rules[name];
    const t = rule.threshold;
    if (t === null) {
      results.push({ name, status: "SKIP", message: "disabled", rule });
      continue;
    }
    let failure: string | undefined;
    if (name === "lowestEfficiency") {
      if (t > figures.efficiency) {
        failure = `image efficiency is too low (efficiency=${goFixed(figures.efficiency, 2)} < threshold=${goFloatV(t)})`;
      }
    } else if (name === "highestWastedBytes") {
      if (figures.wastedBytes > t) {
        failure = `too many bytes wasted (wasted-bytes=${goUint(figures.wastedBytes)} > threshold=${goUint(t)})`;
      }
    } else {
      const pct = figures.userWastedPercent;
      if (pct !== null && pct > t) {
        failure =
          "too many bytes wasted, relative to the user bytes added " +
          `(%-user-wasted-bytes=${goFixed(pct, 2)} > threshold=${goFloatV(t)})`;
      }
    }
    results.push(
      failure === undefined
        ? { name, status: "PASS", message: rule.config, rule }
        : { name, status: "FAIL", message: failure, rule },
    );
  }
  const tally = { pass: 0, fail: 0, skip: 0 };
  for (const r of results) {
    if (r.status === "PASS") tally.pass++;
    else if (r.status === "FAIL") tally.fail++;
    else tally.skip++;
  }
  return { passed: tally.fail === 0, results, tally };
}

/**
 * The figures and waste list of one metric set, for `evaluateCi` and `formatCiReport`. For "exact", the list is
 * the exact waste grouped by path: count = hidden copies of the path, sizeBytes = their bytes, largest first.
 */
export function ciReportInput(metrics: ImageMetrics, which: "dive" | "exact"): CiReportInput {
  if (which === "dive") {
    const d = metrics.dive;
    return {
      efficiency: d.efficiency,
      wastedBytes: d.wastedBytes,
      userWastedPercent: d.userWastedPercent,
      inefficient: d.inefficient.map((x) => ({ file: x.file, count: x.count, sizeBytes: x.sizeBytes })),
    };
  }
  const e = metrics.exact;
  const byPath = new Map<string, { file: string; count: number; sizeBytes: number }>();
  for (const w of e.waste) {
    const item = byPath.get(w.path);
    if (item === undefined) byPath.set(w.path, { file: w.path, count: 1, sizeBytes: w.bytes });
    else {
      item.count++;
      item.sizeBytes += w.bytes;
    }
  }
  const inefficient = [...byPath.values()].sort(
    (a, b) => b.sizeBytes - a.sizeBytes || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0),
  );
  return {
    efficiency: e.efficiency,
    wastedBytes: e.wastedBytes,
    userWastedPercent: e.userWastedPercent,
    inefficient,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Report

/**
 * dive HEAD's CI report, plain text (no colours), ending with a newline:
 *
 * ```
 * Analysis:
 *   efficiency:        98.44 %
 *   wastedBytes:       32025 bytes (32 kB)
 *   userWastedPercent: 48.36 %
 *   metrics:           dive
 *
 * Inefficient Files:
 *   Count  Wasted Space  File Path
 *   2      13 kB         /root/saved.txt
 *
 * Evaluation:
 *   FAIL  highestUserWastedPercent (too many bytes wasted, relative to the user bytes added (%-user-wasted-bytes=0.48 > threshold=0.1))
 *   SKIP  highestWastedBytes (disabled)
 *   PASS  lowestEfficiency (0.9)
 *
 * FAIL [pass:1 fail:1 skip:1]
 * ```
 *
 * As dive: labels padded to 18 columns; with no wasted bytes the wasted line is "0 bytes " (dive's trailing space)
 * and the user-wasted line "0 %"; "Inefficient Files: (None)" when the list is empty; paths shown with a leading
 * "/"; tally items that are 0 left out. osless adds the `metrics:` row (which metric set the figures come from) and
 * shows "n/a" for a null user-wasted ratio (exact metrics, no layer above the base).
 */
export function formatCiReport(
  input: CiReportInput,
  evaluation: CiEvaluation,
  opts: { metrics: "dive" | "exact" },
): string {
  let wasted = `${goUint(input.wastedBytes)} bytes `;
  let userWasted = "0 %";
  if (input.wastedBytes > 0) {
    wasted += `(${humanBytes(input.wastedBytes)})`;
    userWasted = input.userWastedPercent === null ? "n/a" : `${goFixed(input.userWastedPercent * 100, 2)} %`;
  }
  const analysis = [
    "Analysis:",
    row("efficiency", `${goFixed(input.efficiency * 100, 2)} %`),
    row("wastedBytes", wasted),
    row("userWastedPercent", userWasted),
    row("metrics", opts.metrics),
  ].join("\n");

  let files: string;
  if (input.inefficient.length === 0) files = "Inefficient Files: (None)";
  else {
    const lines = ["Inefficient Files:", `  ${padEnd("Count", 5)}  ${padEnd("Wasted Space", 12)}  File Path`];
    for (const f of input.inefficient) {
      lines.push(
        `  ${padEnd(String(f.count), 5)}  ${padEnd(humanBytes(f.sizeBytes), 12)}  ${rootedPath(f.file)}`,
      );
    }
    files = lines.join("\n");
  }

  const rules = evaluation.results.map((r) => `  ${r.status}  ${r.name} (${r.message})`);
  const t = evaluation.tally;
  const parts: string[] = [];
  if (t.pass > 0) parts.push(`pass:${t.pass}`);
  if (t.fail > 0) parts.push(`fail:${t.fail}`);
  if (t.skip > 0) parts.push(`skip:${t.skip}`);
  const summary = `${t.fail > 0 ? "FAIL" : "PASS"} [${parts.join(" ")}]`;
  const evaluationText = `Evaluation:\n${rules.join("\n")}\n\n${summary}`;

  return `${[analysis, files, evaluationText].join("\n\n")}\n`;
}

function row(key: string, value: string): string {
  return `  ${padEnd(`${key}:`, 18)} ${value}`;
}

/** Go's `%-Ns`: pad with spaces to N characters (runes), never cut. */
function padEnd(s: string, width: number): string {
  const n = [...s].length;
  return n >= width ? s : s + " ".repeat(width - n);
}

/** dive's paths start with "/"; the model's may not. */
function rootedPath(p: string): string {
  return p.startsWith("/") ? p : `/${p}`;
}

// ---------------------------------------------------------------------------------------------------------------
// go-humanize and Go fmt, as dive prints and parses

const SIZE_UNITS: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  ki: 2 ** 10,
  kib: 2 ** 10,
  m: 1e6,
  mb: 1e6,
  mi: 2 ** 20,
  mib: 2 ** 20,
  g: 1e9,
  gb: 1e9,
  gi: 2 ** 30,
  gib: 2 ** 30,
  t: 1e12,
  tb: 1e12,
  ti: 2 ** 40,
  tib: 2 ** 40,
  p: 1e15,
  pb: 1e15,
  pi: 2 ** 50,
  pib: 2 ** 50,
  e: 1e18,
  eb: 1e18,
  ei: 2 ** 60,
  eib: 2 ** 60,
};

/**
 * go-humanize `ParseBytes`: a number (digits, ".", "," as thousands separators ignored; no sign, no exponent, no
 * leading space) then an optional unit, spaces between allowed and case ignored: "b"; SI "k"/"kb", "m"/"mb", ... up
 * to "e"/"eb" (powers of 1000; so "20Mb" is 20 MB, not megabits); IEC "ki"/"kib" ... "ei"/"eib" (powers of 1024).
 * The result is truncated to an integer ("1.5" is 1 byte). Returns null where ParseBytes fails (no number, unknown
 * unit, 2^64 or more).
 */
export function parseHumanBytes(s: string): number | null {
  let end = 0;
  while (end < s.length && /[0-9.,]/.test(s[end]!)) end++;
  // Go counts any Unicode digit here; such a number then fails strconv.ParseFloat, as it fails here.
  if (end < s.length && /^\p{Nd}/u.test(s.slice(end))) return null;
  const num = s.slice(0, end).replaceAll(",", "");
  if (!/^(?:\d+(?:\.\d*)?|\.\d+)$/.test(num)) return null;
  const unit = SIZE_UNITS[goTrimSpace(s.slice(end)).toLowerCase()];
  if (unit === undefined) return null;
  const value = Number(num) * unit;
  if (!(value < 2 ** 64)) return null;
  return Math.trunc(value);
}

// Go's unicode.IsSpace (strings.TrimSpace): unlike String.prototype.trim, U+0085 is a space and U+FEFF is not.
const GO_SPACE = "[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const GO_TRIM = new RegExp(`^${GO_SPACE}+|${GO_SPACE}+$`, "g");

function goTrimSpace(s: string): string {
  return s.replace(GO_TRIM, "");
}

const SI_SUFFIXES = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];

/**
 * go-humanize `Bytes` (v1.0.1, dive's): SI units, one decimal below 10 and none from 10 on: 0 -> "0 B",
 * 1024 -> "1.0 kB", 9999 -> "10 kB", 999999 -> "1000 kB", 82854982 -> "83 MB". The unit is chosen with floating-point
 * logarithms as go-humanize does (so its rounding at the boundaries is reproduced), the value rounded half up to one
 * decimal, then printed as Go's %.1f/%.0f (ties to even). `n` is taken as a non-negative integer.
 */
export function humanBytes(n: number): string {
  const s = Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
  if (s < 10) return `${s} B`;
  const e = Math.floor(Math.log(s) / Math.log(1000));
  const val = Math.floor((s / 1000 ** e) * 10 + 0.5) / 10;
  return `${goFixed(val, val < 10 ? 1 : 0)} ${SI_SUFFIXES[e]}`;
}

/**
 * Go's `%.Nf`: the exact binary value rounded to N decimals, ties to even (JavaScript's toFixed breaks ties
 * upwards); "NaN", "+Inf", "-Inf" for the non-finite.
 */
export function goFixed(x: number, decimals: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Number.POSITIVE_INFINITY) return "+Inf";
  if (x === Number.NEGATIVE_INFINITY) return "-Inf";
  const neg = x < 0 || Object.is(x, -0);
  const a = Math.abs(x);
  // The exact decimal expansion (toFixed is exact up to 100 decimals; doubles of 1e21 and more are integers).
  const exact = a >= 1e21 ? BigInt(a).toString() : a.toFixed(100);
  const [intPart, frac = ""] = exact.split(".");
  let digits = intPart! + frac.slice(0, decimals).padEnd(decimals, "0");
  const next = frac.charCodeAt(decimals) - 48;
  const rest = frac.slice(decimals + 1);
  const odd = (digits.charCodeAt(digits.length - 1) - 48) % 2 === 1;
  if (next > 5 || (next === 5 && (/[1-9]/.test(rest) || odd))) digits = incrementDecimal(digits);
  const whole = digits.slice(0, digits.length - decimals).replace(/^0+(?=\d)/, "") || "0";
  const out = decimals > 0 ? `${whole}.${digits.slice(digits.length - decimals)}` : whole;
  return neg ? `-${out}` : out;
}

function incrementDecimal(digits: string): string {
  const d = digits.split("");
  let i = d.length - 1;
  while (i >= 0 && d[i] === "9") d[i--] = "0";
  if (i < 0) d.unshift("1");
  else d[i] = String.fromCharCode(d[i]!.charCodeAt(0) + 1);
  return d.join("");
}

/**
 * Go's `%v` of a float64 (strconv 'g' with the shortest precision): the shortest digits that read back, in %e form
 * with an exponent of two digits at least when the decimal exponent is below -4 or 6 and above.
 * 0.9 -> "0.9", 1 -> "1", 0.0001 -> "0.0001", 1e-05 -> "1e-05", 123456 -> "123456", 1e6 -> "1e+06".
 */
export function goFloatV(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Number.POSITIVE_INFINITY) return "+Inf";
  if (x === Number.NEGATIVE_INFINITY) return "-Inf";
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  const [mant, expText] = x.toExponential().split("e") as [string, string];
  const exp = Number(expText);
  if (exp < -4 || exp >= 6) {
    const sign = exp < 0 ? "-" : "+";
    const abs = String(Math.abs(exp)).padStart(2, "0");
    return `${mant}e${sign}${abs}`;
  }
  const neg = mant.startsWith("-");
  const digits = mant.replace("-", "").replace(".", "");
  let out: string;
  if (exp >= 0) {
    out =
      digits.length <= exp + 1
        ? digits + "0".repeat(exp + 1 - digits.length)
        : `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  } else out = `0.${"0".repeat(-exp - 1)}${digits}`;
  return neg ? `-${out}` : out;
}

/** Go's `%d`/`%v` of a uint64: the integer in decimal, never in exponent form. */
function goUint(n: number): string {
  return Number.isFinite(n) ? BigInt(Math.trunc(n)).toString() : String(n);
}
