/**
 * dpkg's database: `/var/lib/dpkg/status` (Debian, Ubuntu) and the distroless layout, one control stanza per file
 * in `/var/lib/dpkg/status.d/` with `<name>.md5sums` beside it and no `status`.
 *
 * What is kept: a stanza whose Status has the state `installed` (its third word, whatever the selection: `install
 * ok installed`, `hold ok installed`, `deinstall ok installed` all have their files on disk and configured), and a
 * stanza with no Status at all (status.d: distroless writes bare control files). Not kept: `not-installed` and
 * `config-files` (nothing but conffiles left), silently; the half states (`unpacked`, `half-installed`,
 * `half-configured`, `triggers-awaited`, `triggers-pending`) with a DPKG_NOT_INSTALLED finding each, since their
 * files may be on disk. A Status that is not three words or names an unknown state is kept with DPKG_BAD_STATUS.
 *
 * Files: `info/<name>:<arch>.list` or `info/<name>.list` (every path dpkg recorded, directories included, "/."
 * left out), else the `md5sums` beside the stanza (regular files only: dpkg leaves conffiles out of them).
 * Licence: only from a machine-readable `/usr/share/doc/<name>/copyright` (DEP-5: a `Format:` header), as the
 * distinct first lines of its `License:` fields in order, joined with " AND " (multi-word ones parenthesised);
 * these are Debian's short names, not SPDX ids. Other copyright files give null.
 */
import type { ImageFiles } from "../files.ts";
import { absPath, FindingList, readDbText } from "./common.ts";
import type { CatalogResult, Package } from "./types.ts";

export const DPKG_STATUS = "/var/lib/dpkg/status";
export const DPKG_STATUS_D = "/var/lib/dpkg/status.d";
export const DPKG_INFO = "/var/lib/dpkg/info";

const MIB = 1024 * 1024;
/** `status` read cap: a desktop system with thousands of packages has a status of a few MiB. */
export const DPKG_STATUS_CAP = 32 * MIB;
/** One status.d file: a single control stanza. */
const CONTROL_CAP = 1 * MIB;
/** A `.list` or `.md5sums` file (the largest Debian packages list some 100k paths). */
const LIST_CAP = 16 * MIB;
/** A copyright file (the `License:` lines are read from what fits). */
export const COPYRIGHT_CAP = 1 * MIB;

/** One deb822 paragraph: lower-cased field names to values (continuation lines joined with "\n"). */
export interface Deb822Stanza {
  fields: Map<string, string>;
  /** 1-based line number where the stanza starts. */
  line: number;
}

export type Deb822Problem =
  | { kind: "malformed-line"; line: number; text: string }
  | { kind: "duplicate-field"; line: number; field: string };

const FIELD_NAME = /^[^\s:#-][^\s:]*$/;

/**
 * Splits deb822 text (RFC 822-like stanzas separated by blank lines) into stanzas. A line starting with a space or
 * tab continues the previous field; `#` lines are comments; a trailing "\r" is dropped (CRLF files). Lines that
 * are none of these, and repeated fields (the first value is kept), are handed to `problem`.
 */
export function parseDeb822(text: string, problem: (p: Deb822Problem) => void = () => {}): Deb822Stanza[] {
  const out: Deb822Stanza[] = [];
  let cur: Deb822Stanza | undefined;
  // The field continuation lines extend, and its lines so far (joined once the field ends: licence texts run to
  // thousands of lines, and a Map update per line was most of the parse).
  let last: string | undefined;
  let parts: string[] = [];
  const endField = () => {
    if (cur && last !== undefined && parts.length > 1) cur.fields.set(last, parts.join("\n"));
    last = undefined;
    parts = [];
  };
  let skipContinuation = false; // continuation lines of a duplicate or malformed field
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (line.endsWith("\r")) line = line.slice(0, -1);
    const lineNo = i + 1;
    const c = line.charCodeAt(0);
    if (c === 0x20 || c === 0x09 || line === "") {
      if (/^[ \t]*$/.test(line)) {
        // Blank (or whitespace-only) line: ends the stanza.
        endField();
        if (cur) out.push(cur);
        cur = undefined;
        skipContinuation = false;
      } else if (cur && last !== undefined) {
        parts.push(line.trimEnd());
      } else if (!skipContinuation) {
        problem({ kind: "malformed-line", line: lineNo, text: line });
      }
      continue;
    }
    if (c === 0x23 /* # */) continue;
    endField();
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    if (!FIELD_NAME.test(name)) {
      problem({ kind: "malformed-line", line: lineNo, text: line });
      skipContinuation = true;
      continue;
    }
    cur ??= { fields: new Map(), line: lineNo };
    const key = name.toLowerCase();
    if (cur.fields.has(key)) {
      problem({ kind: "duplicate-field", line: lineNo, field: name });
      skipContinuation = true;
      continue;
    }
    const value = line.slice(colon + 1).trim();
    cur.fields.set(key, value);
    last = key;
    parts = [value];
    skipContinuation = false;
  }
  endField();
  if (cur) out.push(cur);
  return out;
}

/** `Source: name (version)` → { name, version }, version null when the field has none; null for an empty field. */
export function parseDpkgSource(value: string): { name: string; version: string | null } | null {
  const s = value.trim();
  if (s === "") return null;
  const m = /^([^\s(]+)\s*(?:\(([^()]*)\))?$/.exec(s);
  if (m) return { name: m[1]!, version: m[2]?.trim() || null };
  // Not the usual form: the first word is the best guess at the name.
  return { name: s.split(/[\s(]/)[0] || s, version: null };
}

const GONE_STATES = new Set(["not-installed", "config-files"]);
const HALF_STATES = new Set([
  "unpacked",
  "half-installed",
  "half-configured",
  "triggers-awaited",
  "triggers-pending",
]);
const BAD_NAME = /[\s/\u0000-\u001f\u007f\ufffd]/;

function short(s: string, max = 80): string {
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);
}

/** Packages of deb822 `text` (a status file, or one status.d file), findings added to `findings`. */
function packagesOf(text: string, location: string, findings: FindingList): Package[] {
  let malformed = 0;
  let firstMalformed: { line: number; text: string } | undefined;
  const stanzas = parseDeb822(text, (p) => {
    if (p.kind === "malformed-line") {
      malformed++;
      firstMalformed ??= p;
    } else {
      findings.add(
        "DPKG_DUPLICATE_FIELD",
        location,
        `line ${p.line}: field ${p.field} appears twice in one stanza; the first value is kept`,
      );
    }
  });
  if (firstMalformed) {
    findings.add(
      "DPKG_MALFORMED_LINE",
      location,
      `${malformed} line(s) are neither "Field: value" nor a continuation (first at line ${firstMalformed.line}: ${short(firstMalformed.text)}); they were skipped`,
    );
  }
  const out: Package[] = [];
  for (const st of stanzas) {
    const f = st.fields;
    const name = f.get("package");
    if (!name) {
      findings.add(
        "DPKG_NO_PACKAGE",
        location,
        `the stanza at line ${st.line} has no Package field; skipped`,
      );
      continue;
    }
    if (BAD_NAME.test(name)) {
      findings.add(
        "DPKG_BAD_NAME",
        location,
        `line ${st.line}: Package ${short(name)} is not a package name; skipped`,
      );
      continue;
    }
    const status = f.get("status");
    if (status !== undefined) {
      const words = status.split(/\s+/);
      const state = words[2];
      if (words.length === 3 && state !== undefined && GONE_STATES.has(state)) continue;
      if (words.length === 3 && state !== undefined && HALF_STATES.has(state)) {
        findings.add(
          "DPKG_NOT_INSTALLED",
          location,
          `${name} is ${state} (Status: ${status}): its files may be on disk, but it is not counted as installed`,
        );
        continue;
      }
      if (words.length !== 3 || state !== "installed") {
        findings.add(
          "DPKG_BAD_STATUS",
          location,
          `${name}: Status ${short(status)} is not "<want> <flag> <state>" with a known state; kept as installed`,
        );
      }
    }
    const version = f.get("version");
    if (!version) {
      findings.add("DPKG_NO_VERSION", location, `${name} (line ${st.line}) has no Version; skipped`);
      continue;
    }
    const pkg: Package = {
      type: "deb",
      name,
      version,
      arch: f.get("architecture") || null,
      source: parseDpkgSource(f.get("source") ?? ""),
      license: null,
      location,
    };
    if (status !== undefined) pkg.status = status;
    out.push(pkg);
  }
  return out;
}

/** Adds `pkgs` to `into` unless a package of the same name and architecture is there already (DPKG_DUPLICATE_PACKAGE). */
function addUnique(
  into: Package[],
  seen: Map<string, Package>,
  pkgs: Package[],
  findings: FindingList,
): Package[] {
  const added: Package[] = [];
  for (const p of pkgs) {
    const key = `${p.name}:${p.arch ?? ""}`;
    const first = seen.get(key);
    if (first) {
      const where = first.location === p.location ? "earlier in this file" : `in ${first.location}`;
      findings.add(
        "DPKG_DUPLICATE_PACKAGE",
        p.location,
        `${p.name}${p.arch ? `:${p.arch}` : ""} ${p.version} is listed again (first ${first.version} ${where}); the first entry is kept`,
      );
      continue;
    }
    seen.set(key, p);
    into.push(p);
    added.push(p);
  }
  return added;
}

/**
 * The installed packages of a dpkg status file's text (or of one status.d file). `location` names the file in
 * the packages and findings. Never throws; see the module comment for what is kept.
 */
export function parseDpkgStatus(text: string, location: string): CatalogResult {
  const findings = new FindingList();
  const packages: Package[] = [];
  addUnique(packages, new Map(), packagesOf(text, location, findings), findings);
  return { packages, findings: findings.done() };
}

/** Paths of a dpkg `.list` file: absolute, "/." left out. */
export function parseDpkgList(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line === "" || line === "/.") continue;
    out.push(absPath(line));
  }
  return out;
}

/** Paths of an `md5sums` file (`<32 hex>  <path>` lines), absolute; `bad` counts the other non-empty lines. */
export function parseMd5sums(text: string): { files: string[]; bad: number } {
  const files: string[] = [];
  let bad = 0;
  for (const raw of text.split("\n")) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line === "") continue;
    const m = /^[0-9a-fA-F]{32} [ *]?(.+)$/.exec(line);
    if (!m) {
      bad++;
      continue;
    }
    files.push(absPath(m[1]!));
  }
  return { files, bad };
}

/**
 * The licence of a machine-readable (DEP-5) copyright file: the distinct first lines of its `License:` fields
 * (header and `Files:` paragraphs; stand-alone licence texts are left out), joined with " AND ". Null when the
 * file is not machine-readable or names no licence.
 */
export function licenseFromCopyright(text: string): string | null {
  const stanzas = parseDeb822(text);
  const header = stanzas[0];
  if (!header || !(header.fields.has("format") || header.fields.has("format-specification"))) return null;
  const names: string[] = [];
  for (const [i, st] of stanzas.entries()) {
    if (i > 0 && !st.fields.has("files")) continue;
    const lic = st.fields.get("license");
    if (lic === undefined) continue;
    const nl = lic.indexOf("\n");
    const first = (nl < 0 ? lic : lic.slice(0, nl)).trim();
    if (first !== "" && !names.includes(first)) names.push(first);
  }
  if (names.length === 0) return null;
  if (names.length === 1) return names[0]!;
  return names.map((n) => (/\s/.test(n) ? `(${n})` : n)).join(" AND ");
}

/** The licence of a copyright file's bytes (what analysisPass keeps of copyright files). */
export function copyrightLicense(bytes: Buffer): string | null {
  return licenseFromCopyright(bytes.toString("utf8"));
}

export interface CatalogDpkgOptions {
  /** Read licences from /usr/share/doc/<name>/copyright (default true). */
  licenses?: boolean;
}

async function listDir(files: ImageFiles, path: string, findings: FindingList): Promise<string[]> {
  try {
    return await files.list(path);
  } catch (e) {
    findings.add("DPKG_DB_UNREADABLE", path, `cannot list ${path}: ${(e as Error).message}`);
    return [];
  }
}

/**
 * The paths of a dpkg `.list` file's bytes, or null when reading it raises a finding (NUL bytes, over the cap):
 * what analysisPass keeps of `.list` files, so that the common case is parsed while the layer streams by.
 */
export function dpkgListPaths(bytes: Buffer): string[] | null {
  if (bytes.length > LIST_CAP || bytes.includes(0)) return null;
  return parseDpkgList(bytes.toString("utf8"));
}

async function readFileList(
  files: ImageFiles,
  path: string,
  kind: "list" | "md5sums",
  findings: FindingList,
): Promise<string[] | undefined> {
  if (kind === "list") {
    const known = files.parsed?.(path, dpkgListPaths);
    if (known?.value) return known.value;
  }
  const r = await readDbText(files, path, LIST_CAP, "DPKG", findings, false);
  if (!r) return undefined;
  if (kind === "list") return parseDpkgList(r.text);
  const { files: paths, bad } = parseMd5sums(r.text);
  if (bad > 0) {
    findings.add("DPKG_MALFORMED_LINE", path, `${bad} line(s) are not "<md5>  <path>"; they were skipped`);
  }
  return paths;
}

/**
 * The installed dpkg packages of an image: `/var/lib/dpkg/status` and every file of `/var/lib/dpkg/status.d/`
 * (`*.md5sums` are file lists, not packages), with their files and (unless `licenses: false`) licences. A
 * package found twice (same name and architecture) is kept once, the status entry first. Never throws on bad
 * input: see the module comment and the findings.
 */
export async function catalogDpkg(files: ImageFiles, opts: CatalogDpkgOptions = {}): Promise<CatalogResult> {
  const findings = new FindingList();
  const packages: Package[] = [];
  const seen = new Map<string, Package>();

  const status = await readDbText(files, DPKG_STATUS, DPKG_STATUS_CAP, "DPKG", findings);
  if (status) {
    const fromStatus = addUnique(packages, seen, packagesOf(status.text, DPKG_STATUS, findings), findings);
    const info = new Set(await listDir(files, DPKG_INFO, findings));
    for (const p of fromStatus) {
      const candidates: [string, "list" | "md5sums"][] = [];
      if (p.arch) candidates.push([`${p.name}:${p.arch}.list`, "list"]);
      candidates.push([`${p.name}.list`, "list"]);
      if (p.arch) candidates.push([`${p.name}:${p.arch}.md5sums`, "md5sums"]);
      candidates.push([`${p.name}.md5sums`, "md5sums"]);
      for (const [name, kind] of candidates) {
        if (!info.has(name)) continue;
        const list = await readFileList(files, `${DPKG_INFO}/${name}`, kind, findings);
        if (list) {
          p.files = list;
          break;
        }
      }
    }
  }

  const entries = await listDir(files, DPKG_STATUS_D, findings);
  const present = new Set(entries);
  for (const entry of entries) {
    if (entry.endsWith(".md5sums")) continue;
    const location = `${DPKG_STATUS_D}/${entry}`;
    const r = await readDbText(files, location, CONTROL_CAP, "DPKG", findings);
    if (!r) continue;
    const parsed = packagesOf(r.text, location, findings);
    const single = parsed.length === 1;
    for (const p of addUnique(packages, seen, parsed, findings)) {
      const candidates = [
        ...(single ? [`${entry}.md5sums`] : []),
        `${p.name}.md5sums`,
        ...(p.arch ? [`${p.name}:${p.arch}.md5sums`] : []),
      ];
      for (const name of candidates) {
        if (!present.has(name)) continue;
        const list = await readFileList(files, `${DPKG_STATUS_D}/${name}`, "md5sums", findings);
        if (list) {
          p.files = list;
          break;
        }
      }
    }
  }

  if (opts.licenses !== false) {
    const byName = new Map<string, string | null>();
    for (const p of packages) {
      let lic = byName.get(p.name);
      if (lic === undefined) {
        const path = `/usr/share/doc/${p.name}/copyright`;
        const known = files.parsed?.(path, copyrightLicense);
        if (known) lic = known.value;
        else {
          let buf: Buffer | undefined;
          try {
            buf = await files.read(path, COPYRIGHT_CAP);
          } catch {
            buf = undefined; // An unreadable copyright file only means no licence.
          }
          lic = buf ? copyrightLicense(buf) : null;
        }
        byName.set(p.name, lic);
      }
      p.license = lic;
    }
  }

  return { packages, findings: findings.done() };
}
