/**
 * apk's installed database (Alpine, Wolfi, Chainguard): `/lib/apk/db/installed`, or `/usr/lib/apk/db/installed`
 * where newer apk keeps it (both are read; one file reached by both paths through a symlink is read once).
 *
 * Format (apk-tools `apk_db_fdb_write`/`apk_db_fdb_read`, `apk_pkg_write_index_header`): records separated by a
 * line shorter than two characters (a blank line); every other line is `X:value` with a one-character key.
 * Package info: `C` identity checksum (`Q1` + base64 SHA-1), `P` name, `V` version, `A` arch, `S` size, `I`
 * installed size, `T` description, `U` url, `L` licence, `o` origin (the source package), `m` maintainer, `t`
 * build time, `c` commit, `k` provider priority, `D` depends, `p` provides, `i` install-if. Installed-only:
 * `r` replaces, `q` replaces priority, `s` repository tag, `f` broken flags, then per directory `F` (path without
 * a leading "/") with an optional `M` (uid:gid:octal mode[:xattr hash]), and in it per file `R` (name), `a`
 * (uid:gid:mode) and `Z` (content checksum). Unknown keys are ignored.
 *
 * Kept: every record with a name and a version. Files: each `F` directory and each `R` file in it, as absolute
 * paths (always set: a package with no files has []). Tolerated beyond what apk accepts: CRLF line ends, a
 * missing final blank line (apk itself drops that last record), a second `P:` without a blank line before it
 * (a new record, APK_MISSING_SEPARATOR), `R:` before any `F:` (skipped, APK_FILE_WITHOUT_DIR).
 */
import type { ImageFiles } from "../files.ts";
import { absPath, FindingList, readDbText } from "./common.ts";
import type { CatalogResult, Package } from "./types.ts";

/** Where apk keeps its installed database, in the order read. */
export const APK_INSTALLED = ["/lib/apk/db/installed", "/usr/lib/apk/db/installed"] as const;

/** Read cap of one installed database (with file lists, a large Alpine image has a few MiB). */
export const APK_DB_CAP = 32 * 1024 * 1024;

/** The single-valued keys the reader keeps. */
const KEPT = new Set(["P", "V", "A", "o", "L", "C"]);
const BAD_NAME = /[\s/\u0000-\u001f\u007f\ufffd]/;

interface ApkRecord {
  line: number;
  fields: Map<string, string>;
  files: string[];
  dir: string | undefined;
}

function short(s: string, max = 80): string {
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);
}

function packagesOf(text: string, location: string, findings: FindingList): Package[] {
  const out: Package[] = [];
  const seen = new Map<string, Package>();
  let rec: ApkRecord | undefined;
  let malformed = 0;
  let firstMalformed: { line: number; text: string } | undefined;

  const flush = () => {
    const r = rec;
    rec = undefined;
    if (!r) return;
    const name = r.fields.get("P");
    const version = r.fields.get("V");
    if (!name) {
      findings.add("APK_NO_NAME", location, `the record at line ${r.line} has no P: (name); skipped`);
      return;
    }
    if (BAD_NAME.test(name)) {
      findings.add(
        "APK_BAD_NAME",
        location,
        `line ${r.line}: P:${short(name)} is not a package name; skipped`,
      );
      return;
    }
    if (!version) {
      findings.add("APK_NO_VERSION", location, `${name} (line ${r.line}) has no V: (version); skipped`);
      return;
    }
    const first = seen.get(name);
    if (first) {
      findings.add(
        "APK_DUPLICATE_PACKAGE",
        location,
        `${name} ${version} (line ${r.line}) is listed again (first ${first.version}); the first record is kept`,
      );
      return;
    }
    const origin = r.fields.get("o");
    const pkg: Package = {
      type: "apk",
      name,
      version,
      arch: r.fields.get("A") || null,
      source: origin ? { name: origin, version: null } : null,
      license: r.fields.get("L") || null,
      files: r.files,
      location,
    };
    seen.set(name, pkg);
    out.push(pkg);
  };

  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (line.endsWith("\r")) line = line.slice(0, -1);
    const lineNo = i + 1;
    if (line.length < 2) {
      // apk ends a record at any line shorter than "X:"; a lone non-blank character is corrupt as well.
      if (line.trim() !== "") {
        malformed++;
        firstMalformed ??= { line: lineNo, text: line };
      }
      flush();
      continue;
    }
    if (line.charCodeAt(1) !== 0x3a /* : */) {
      malformed++;
      firstMalformed ??= { line: lineNo, text: line };
      continue;
    }
    const key = line[0]!;
    const value = line.slice(2);
    if (key === "P" && rec?.fields.has("P")) {
      findings.add(
        "APK_MISSING_SEPARATOR",
        location,
        `line ${lineNo}: P:${short(value)} starts a new record without a blank line before it`,
      );
      flush();
    }
    rec ??= { line: lineNo, fields: new Map(), files: [], dir: undefined };
    if (KEPT.has(key)) {
      if (rec.fields.has(key)) {
        findings.add(
          "APK_DUPLICATE_FIELD",
          location,
          `line ${lineNo}: ${key}: appears twice in one record; the first value is kept`,
        );
      } else {
        rec.fields.set(key, value.trim());
      }
    } else if (key === "F") {
      const dir = absPath(value);
      rec.dir = dir;
      if (dir !== "/") rec.files.push(dir);
    } else if (key === "R") {
      if (rec.dir === undefined) {
        findings.add(
          "APK_FILE_WITHOUT_DIR",
          location,
          `line ${lineNo}: R:${short(value)} comes before any F: (directory); skipped`,
        );
      } else {
        rec.files.push(absPath(`${rec.dir}/${value}`));
      }
    }
    // Other keys (sizes, dependencies, ownership, checksums, new ones) say nothing the catalog keeps.
  }
  flush();
  if (firstMalformed) {
    findings.add(
      "APK_MALFORMED_LINE",
      location,
      `${malformed} line(s) are not "X:value" (first at line ${firstMalformed.line}: ${short(firstMalformed.text)}); they were skipped`,
    );
  }
  return out;
}

/**
 * The packages of an apk installed database's text. `location` names the file in the packages and findings.
 * Never throws; see the module comment for the format and what is tolerated.
 */
export function parseApkInstalled(text: string, location: string): CatalogResult {
  const findings = new FindingList();
  const packages = packagesOf(text, location, findings);
  return { packages, findings: findings.done() };
}

/** The installed apk packages of an image (both database locations; see APK_INSTALLED). Never throws on bad input. */
export async function catalogApk(files: ImageFiles): Promise<CatalogResult> {
  const findings = new FindingList();
  const packages: Package[] = [];
  const seen = new Map<string, Package>();
  const readPaths = new Set<string>();
  for (const path of APK_INSTALLED) {
    let resolved: string | undefined;
    try {
      const st = await files.stat(path);
      if (st?.type !== "file") continue;
      resolved = st.path;
    } catch (e) {
      findings.add("APK_DB_UNREADABLE", path, `cannot stat ${path}: ${(e as Error).message}`);
      continue;
    }
    if (readPaths.has(resolved)) continue; // the same file through a symlink (merged /usr)
    readPaths.add(resolved);
    const r = await readDbText(files, path, APK_DB_CAP, "APK", findings);
    if (!r) continue;
    for (const p of packagesOf(r.text, path, findings)) {
      const first = seen.get(p.name);
      if (first) {
        findings.add(
          "APK_DUPLICATE_PACKAGE",
          path,
          `${p.name} ${p.version} is also in ${first.location} (${first.version}); that one is kept`,
        );
        continue;
      }
      seen.set(p.name, p);
      packages.push(p);
    }
  }
  return { packages, findings: findings.done() };
}
