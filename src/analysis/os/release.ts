/**
 * Parsers of the files that name a Linux distribution (os-detection.md "Parsers"): os-release(5), the one-line
 * `*-release` files of the Red Hat family and Amazon, `system-release-cpe`, Ubuntu's `lsb-release`,
 * `alpine-release`, `debian_version` and the version string inside a BusyBox binary. Pure functions of text:
 * they never throw on any input and return null when the text names no release.
 */

export interface OsRelease {
  id: string | null;
  versionId: string | null;
  version: string | null;
  prettyName: string | null;
  name: string | null;
  idLike: string[];
  versionCodename: string | null;
  buildId: string | null;
  cpeName: string | null;
  variantId: string | null;
  /**
   * Every key of the file as parsed (os-release(5) keys kept verbatim; `DISTRIB_*` for lsb-release; empty for
   * the one-line files, which have no keys). A null-prototype object: keys such as `__proto__` are plain data.
   */
  fields: Record<string, string>;
}

/** The os-release(5) keys that make a release: a file with none of them set names nothing. */
const RELEASE_KEYS = [
  "ID",
  "NAME",
  "PRETTY_NAME",
  "VERSION_ID",
  "VERSION",
  "ID_LIKE",
  "VERSION_CODENAME",
  "BUILD_ID",
  "CPE_NAME",
  "VARIANT_ID",
  "VARIANT",
  "IMAGE_ID",
  "IMAGE_VERSION",
] as const;

function emptyRelease(): OsRelease {
  return {
    id: null,
    versionId: null,
    version: null,
    prettyName: null,
    name: null,
    idLike: [],
    versionCodename: null,
    buildId: null,
    cpeName: null,
    variantId: null,
    fields: Object.create(null) as Record<string, string>,
  };
}

/** Strips a UTF-8 byte order mark, which some hand-edited files carry. */
function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Lines without their `\r` before `\n` (CRLF files); a missing final newline is fine. */
function lines(text: string): string[] {
  return stripBom(text)
    .split("\n")
    .map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
}

/** The shell escapes os-release(5) allows inside double quotes: `\"`, `\$`, `\\`, `` \` ``. */
function unescapeShell(v: string): string {
  return v.includes("\\") ? v.replace(/\\([\\"$`])/g, "$1") : v;
}

/**
 * One value: trimmed (so a space after a closing quote goes too), one pair of matching `"` or `'` stripped.
 * Double-quoted and bare values are unescaped; single-quoted ones are verbatim, as in the shell.
 */
function value(raw: string): string {
  const v = raw.trim();
  if (v.length >= 2) {
    const q = v[0];
    if ((q === '"' || q === "'") && v[v.length - 1] === q) {
      const inner = v.slice(1, -1);
      return q === '"' ? unescapeShell(inner) : inner;
    }
  }
  return unescapeShell(v);
}

/**
 * `KEY=value` lines as os-release(5) writes them: empty and `#` lines skipped, split at the first `=`, key and
 * value trimmed, quotes and escapes handled by value(). The last assignment of a key wins (as sourcing does).
 */
export function parseKeyValues(text: string): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const line of lines(text)) {
    const t = line.trim();
    if (t === "" || t.startsWith("#")) continue;
    const eq = t.indexOf("=");
    if (eq <= 0) continue;
    const key = t.slice(0, eq).trim();
    if (key === "") continue;
    out[key] = value(t.slice(eq + 1));
  }
  return out;
}

const orNull = (v: string | undefined): string | null => (v === undefined || v === "" ? null : v);

/** os-release(5) (`/etc/os-release`, `/usr/lib/os-release`); null when no release key has a value. */
export function parseOsRelease(text: string): OsRelease | null {
  const f = parseKeyValues(text);
  if (!RELEASE_KEYS.some((k) => orNull(f[k]) !== null)) return null;
  return {
    id: orNull(f.ID),
    versionId: orNull(f.VERSION_ID),
    version: orNull(f.VERSION),
    prettyName: orNull(f.PRETTY_NAME),
    name: orNull(f.NAME),
    idLike: (f.ID_LIKE ?? "").split(/\s+/).filter((s) => s !== ""),
    versionCodename: orNull(f.VERSION_CODENAME),
    buildId: orNull(f.BUILD_ID),
    cpeName: orNull(f.CPE_NAME),
    variantId: orNull(f.VARIANT_ID),
    fields: f,
  };
}

/** The first line that is not blank, trimmed ("" when none). */
export function firstLine(text: string): string {
  for (const l of lines(text)) {
    const t = l.trim();
    if (t !== "") return t;
  }
  return "";
}

/** Name prefixes (lower case) of `<name> release <version>` lines and the os-release ID they stand for. */
const REDHAT_NAMES: readonly [string, string][] = [
  ["red hat enterprise linux", "rhel"],
  ["rocky linux", "rocky"],
  ["scientific linux", "scientific"],
  ["almalinux", "almalinux"],
  ["centos", "centos"],
  ["fedora", "fedora"],
  ["oracle linux", "ol"],
  ["amazon linux", "amzn"],
];

/** A release line longer than this is not a release line (a binary or a junk file). */
const MAX_LINE = 512;

/**
 * `/etc/redhat-release` and its family (`centos-release`, `rocky-release`, `almalinux-release`, `oracle-release`,
 * `fedora-release`, Amazon's `system-release`): `<name> release <version>[ (<codename>)]`, first non-blank line.
 * The name decides the ID (REDHAT_NAMES; otherwise its first word in lower case); ID_LIKE is [ID, "rhel"];
 * VERSION_ID is the dotted number, VERSION the rest of the line after "release " (CentOS: the number alone);
 * PRETTY_NAME is the whole line.
 */
export function parseRedhatRelease(line: string): OsRelease | null {
  const l = firstLine(line);
  if (l.length > MAX_LINE) return null;
  const m = /^(.*?)\s+release\s+((\d+(?:\.\d+)*).*)$/i.exec(l);
  if (!m) return null;
  const name = m[1]!.trim();
  if (name === "") return null;
  const lower = name.toLowerCase();
  const known = REDHAT_NAMES.find(([prefix]) => lower.startsWith(prefix));
  const id = known ? known[1] : (lower.split(/\s+/)[0] ?? "").replace(/[^a-z0-9._-]/g, "");
  if (id === "") return null;
  const r = emptyRelease();
  r.id = id;
  r.name = name;
  r.versionId = m[3]!;
  r.version = id === "centos" ? m[3]! : m[2]!.trim();
  r.prettyName = l;
  r.idLike = id === "rhel" ? ["rhel"] : [id, "rhel"];
  return r;
}

/** CPE vendors of `system-release-cpe` and the os-release IDs the same systems use. */
const CPE_VENDOR_IDS: Record<string, string> = {
  redhat: "rhel",
  amazon: "amzn",
  oracle: "ol",
  fedoraproject: "fedora",
};

/** CPE 2.2 URI escapes (`%xx`) undone. */
function cpeUnescape(s: string): string {
  return s.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
}

/**
 * `/etc/system-release-cpe`: an operating-system CPE, 2.2 URI (`cpe:/o:centos:centos:7`,
 * `cpe:/o:redhat:enterprise_linux:8::baseos`) or 2.3 (`cpe:2.3:o:amazon:amazon_linux:2`). ID is the vendor
 * (mapped to the os-release ID where they differ: redhat rhel, amazon amzn, oracle ol, fedoraproject fedora),
 * NAME the product, VERSION_ID the version, CPE_NAME the CPE.
 */
export function parseSystemReleaseCpe(text: string): OsRelease | null {
  const l = firstLine(text);
  if (l.length > MAX_LINE) return null;
  let parts: string[];
  if (/^cpe:\/o:/i.test(l)) {
    parts = l.slice("cpe:/o:".length).split(":").map(cpeUnescape);
  } else if (/^cpe:2\.3:o:/i.test(l)) {
    // Split at colons not escaped with a backslash, then drop the escapes.
    parts = l
      .slice("cpe:2.3:o:".length)
      .split(/(?<!\\):/)
      .map((p) => p.replace(/\\(.)/g, "$1"));
  } else {
    return null;
  }
  const any = (v: string | undefined) => (v === undefined || v === "" || v === "*" || v === "-" ? null : v);
  const vendor = any(parts[0]?.toLowerCase());
  if (vendor === null) return null;
  const r = emptyRelease();
  r.id = CPE_VENDOR_IDS[vendor] ?? vendor;
  r.name = any(parts[1]);
  r.versionId = any(parts[2]);
  r.version = r.versionId;
  r.cpeName = l;
  return r;
}

/**
 * `/etc/lsb-release` (Ubuntu): `DISTRIB_ID`, `DISTRIB_RELEASE`, `DISTRIB_CODENAME`, `DISTRIB_DESCRIPTION` as
 * ID (lower case), VERSION_ID, VERSION_CODENAME and PRETTY_NAME; NAME is DISTRIB_ID as written. Null without a
 * DISTRIB_ID.
 */
export function parseLsbRelease(text: string): OsRelease | null {
  const f = parseKeyValues(text);
  const distrib = orNull(f.DISTRIB_ID);
  if (distrib === null) return null;
  const r = emptyRelease();
  r.id = distrib.toLowerCase();
  r.name = distrib;
  r.versionId = orNull(f.DISTRIB_RELEASE);
  r.versionCodename = orNull(f.DISTRIB_CODENAME);
  r.prettyName = orNull(f.DISTRIB_DESCRIPTION);
  r.fields = f;
  return r;
}

/** `/etc/alpine-release`: its first line is the version (`3.20.3`, `3.21_alpha20240807`). */
export function parseAlpineRelease(text: string): OsRelease | null {
  const l = firstLine(text);
  if (!/^\d[\w.+~-]{0,63}$/.test(l)) return null;
  const r = emptyRelease();
  r.id = "alpine";
  r.name = "Alpine Linux";
  r.versionId = l;
  r.version = l;
  return r;
}

/** A Debian point release in `/etc/debian_version` (`12.7`, `12`); `trixie/sid` is not one. */
export const DEBIAN_POINT_RELEASE = /^\d+(\.\d+)?$/;

/**
 * `/etc/debian_version` alone: ID debian; VERSION_ID when the first line is a point release (`12.7`), else only
 * VERSION (`trixie/sid`).
 */
export function parseDebianVersion(text: string): OsRelease | null {
  const l = firstLine(text);
  if (!/^[\w.+~/-]{1,64}$/.test(l)) return null;
  const r = emptyRelease();
  r.id = "debian";
  r.name = "Debian GNU/Linux";
  r.version = l;
  if (DEBIAN_POINT_RELEASE.test(l)) r.versionId = l;
  return r;
}

/**
 * A BusyBox binary: the `BusyBox v1.36.1` string its applets print. ID busybox, VERSION_ID the version,
 * PRETTY_NAME the matched string. `bytes` is the binary (or its first part).
 */
export function parseBusyBox(bytes: Uint8Array): OsRelease | null {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  const m = /BusyBox v(\d+(?:\.\d+)+)/.exec(text);
  if (!m) return null;
  const r = emptyRelease();
  r.id = "busybox";
  r.name = "BusyBox";
  r.versionId = m[1]!;
  r.version = m[1]!;
  r.prettyName = m[0];
  return r;
}

/**
 * The release the Alpine repositories in `/etc/apk/repositories` point at (`…/alpine/v3.20/main` -> `3.20`,
 * `…/alpine/edge/main` -> `edge`), each once, in file order. Comment lines are skipped.
 */
export function apkRepositoryVersions(text: string): string[] {
  const out: string[] = [];
  for (const l of lines(text)) {
    const t = l.trim();
    if (t === "" || t.startsWith("#")) continue;
    const m = /https?:\/\/\S*?\/alpine\/(?:v([^/\s]+)|(edge))\/[^/\s]+/.exec(t);
    const v = m?.[1] ?? m?.[2];
    if (v !== undefined && !out.includes(v)) out.push(v);
  }
  return out;
}
