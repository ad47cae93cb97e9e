/**
 * Which distribution an image holds (os-detection.md "Release identification"): the release files are tried in
 * a fixed order and the first one that exists and names a release wins; `/bin/busybox` comes last because many
 * distributions ship it. Beside the answer: every file checked and what it gave (the report's evidence), hints
 * that do not name an OS alone (a chisel manifest, the Alpine release the apk repositories point at, distroless
 * markers) and findings for broken input (symlink loops, oversized or unparsable release files, a corrupt chisel
 * manifest). Bad input is never a crash. Nothing from the image is executed.
 */
import { posix } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { decompress, detectCompression } from "../../compression/index.ts";
import { isOslessError } from "../../errors.ts";
import type { ImageFileInfo, ImageFiles } from "../files.ts";
import {
  apkRepositoryVersions,
  DEBIAN_POINT_RELEASE,
  firstLine,
  type OsRelease,
  parseAlpineRelease,
  parseBusyBox,
  parseDebianVersion,
  parseLsbRelease,
  parseOsRelease,
  parseRedhatRelease,
  parseSystemReleaseCpe,
} from "./release.ts";

export interface OsEvidence {
  path: string;
  /** The path led to a regular file that was read. */
  found: boolean;
  note?: string;
}

export interface OsHint {
  /** `chisel-manifest` (value: its path), `chisel-packages` (count), `chisel-base-files` (version),
   * `apk-repositories-version` (`3.20`, `edge`), `distroless` (what marked it). */
  kind: string;
  value: string;
}

export interface OsFinding {
  /** `release-link-loop`, `release-link-dangling`, `release-not-file`, `release-truncated`,
   * `release-unparsable`, `release-read-error`, `chisel-manifest-corrupt`. */
  code: string;
  path: string;
  message: string;
}

export interface OsIdentification {
  os: OsRelease | null;
  /** which file decided it ("/etc/os-release", "/usr/lib/os-release", "/etc/redhat-release", "/bin/busybox", …) */
  source: string | null;
  /** every file checked and what it gave (for the report's evidence) */
  evidence: OsEvidence[];
  /** hints that do not identify an OS alone: chisel manifest, apk repositories version, distroless marker */
  hints: OsHint[];
  distroless: boolean;
  findings: OsFinding[];
}

/** Release files (and the BusyBox binary) are read up to this many bytes. */
export const RELEASE_READ_LIMIT = 5 * 1024 * 1024;
/** Ubuntu chiselled images' manifest (zstd-compressed jsonwall) from the base-files_chisel slice. */
export const CHISEL_MANIFEST = "/var/lib/chisel/manifest.wall";
/** The chisel manifest is decompressed up to this many bytes (it lists every path of the image). */
export const CHISEL_MAX_OUTPUT = 64 * 1024 * 1024;
/** Longest jsonwall line looked at; longer ones are skipped. */
const CHISEL_MAX_LINE = 1024 * 1024;

type Parser = (text: string) => OsRelease | null;

/** Step 4: the Red Hat family, generic first; a generic `rhel` answer yields to a more specific file. */
const REDHAT_FAMILY = [
  "/etc/redhat-release",
  "/etc/centos-release",
  "/etc/rocky-release",
  "/etc/almalinux-release",
  "/etc/oracle-release",
  "/etc/fedora-release",
  "/etc/system-release",
];

const MiB = (n: number) => `${(n / (1024 * 1024)).toFixed(n % (1024 * 1024) === 0 ? 0 : 1)} MiB`;

/** Errors reading the image (I/O, a broken layer) become findings; anything else is a bug and is thrown. */
function isInputError(e: unknown): boolean {
  return isOslessError(e) || (e instanceof Error && typeof (e as NodeJS.ErrnoException).code === "string");
}

/** True when nothing but blank and `#` lines is in `text`. */
function blank(text: string): boolean {
  return text.split("\n").every((l) => {
    const t = l.trim();
    return t === "" || t.startsWith("#");
  });
}

function describe(os: OsRelease): string {
  return [os.id ?? os.name ?? "?", os.versionId ?? os.buildId ?? os.version].filter(Boolean).join(" ");
}

interface ReadResult {
  bytes: Buffer;
  notes: string[];
}

class Identifier {
  readonly evidence: OsEvidence[] = [];
  readonly hints: OsHint[] = [];
  readonly findings: OsFinding[] = [];
  readonly #files: ImageFiles;

  constructor(files: ImageFiles) {
    this.#files = files;
  }

  record(path: string, found: boolean, notes: string[]): void {
    const e: OsEvidence = { path, found };
    if (notes.length > 0) e.note = notes.join("; ");
    this.evidence.push(e);
  }

  finding(code: string, path: string, message: string): void {
    this.findings.push({ code, path, message });
  }

  /** Runs an image read; an input error becomes a `release-read-error` finding and `undefined`. */
  async #guard<T>(path: string, f: () => Promise<T>): Promise<T | undefined> {
    try {
      return await f();
    } catch (e) {
      if (!isInputError(e)) throw e;
      this.finding("release-read-error", path, `${path}: cannot be read: ${(e as Error).message}`);
      return undefined;
    }
  }

  /**
   * Why the symlink at `path` leads nowhere: walks the chain with lstat/readlink (each hop's parents resolved by
   * the ImageFiles), a link met twice or more than 40 hops is a loop, a missing target dangles.
   */
  async #brokenLink(path: string): Promise<"loop" | "dangling"> {
    const seen = new Set<string>();
    let cur = path;
    for (let hop = 0; hop <= 40; hop++) {
      const l = await this.#files.lstat(cur);
      if (l === undefined || l.type !== "symlink") return "dangling";
      if (seen.has(l.path)) return "loop";
      seen.add(l.path);
      const target = await this.#files.readlink(cur);
      if (target === undefined || target === "") return "dangling";
      // Relative targets start in the directory holding the link (its real path, parents resolved).
      cur = target.startsWith("/") ? target : `${posix.dirname(`/${l.path}`)}/${target}`;
    }
    return "loop";
  }

  /**
   * The first `max` bytes of the regular file `path` leads to, with notes on the way there (a symlink, a
   * truncation). Records the evidence (and findings) itself when there is nothing to read.
   */
  async read(
    path: string,
    max: number,
    opts: { truncationFinding: boolean },
  ): Promise<ReadResult | undefined> {
    const notes: string[] = [];
    const got = await this.#guard(path, async (): Promise<ReadResult | "recorded"> => {
      const l = await this.#files.lstat(path);
      if (l === undefined) {
        this.record(path, false, []);
        return "recorded";
      }
      let st: ImageFileInfo | undefined = l;
      if (l.type === "symlink") {
        const target = (await this.#files.readlink(path)) ?? "?";
        st = await this.#files.stat(path);
        if (st === undefined) {
          const why = await this.#brokenLink(path);
          if (why === "loop") {
            notes.push(`symlink loop (-> ${target})`);
            this.finding(
              "release-link-loop",
              path,
              `${path} is a symlink loop (-> ${target}): too many levels of symbolic links`,
            );
          } else {
            notes.push(`dangling symlink (-> ${target})`);
            this.finding(
              "release-link-dangling",
              path,
              `${path} is a symlink to ${target}, which does not exist in the image`,
            );
          }
          this.record(path, false, notes);
          return "recorded";
        }
        notes.push(`symlink -> ${target} (/${st.path})`);
      }
      if (st.type !== "file" && st.type !== "hardlink") {
        notes.push(`not a regular file (${st.type})`);
        this.finding("release-not-file", path, `${path} is a ${st.type}, not a regular file`);
        this.record(path, false, notes);
        return "recorded";
      }
      const bytes = await this.#files.read(path, max);
      if (bytes === undefined) {
        notes.push("unreadable");
        this.record(path, false, notes);
        return "recorded";
      }
      if (st.size > max) {
        notes.push(`read the first ${MiB(max)} of ${st.size} bytes`);
        if (opts.truncationFinding) {
          this.finding(
            "release-truncated",
            path,
            `${path} is ${st.size} bytes, more than a release file holds; only its first ${MiB(max)} were read`,
          );
        }
      }
      return { bytes, notes };
    });
    if (got === undefined) {
      this.record(path, false, notes.length > 0 ? notes : ["read error"]);
      return undefined;
    }
    return got === "recorded" ? undefined : got;
  }

  /** Reads and parses one release file; records what it gave. */
  async tryText(path: string, parse: Parser): Promise<OsRelease | null> {
    const r = await this.read(path, RELEASE_READ_LIMIT, { truncationFinding: true });
    if (r === undefined) return null;
    const text = r.bytes.toString("utf8");
    const os = parse(text);
    if (os === null) {
      if (r.bytes.length === 0) r.notes.push("empty");
      else if (blank(text)) r.notes.push("no content (blank or comment lines only)");
      else {
        r.notes.push("names no release");
        const shown = JSON.stringify(firstLine(text).slice(0, 80));
        this.finding("release-unparsable", path, `${path} names no release (first line ${shown})`);
      }
    }
    this.record(path, true, r.notes);
    return os;
  }

  /** Marks the last evidence entry of `path` with a note. */
  annotate(path: string, note: string): void {
    for (let i = this.evidence.length - 1; i >= 0; i--) {
      const e = this.evidence[i]!;
      if (e.path !== path) continue;
      e.note = e.note ? `${e.note}; ${note}` : note;
      return;
    }
  }

  async statOnly(path: string): Promise<ImageFileInfo | undefined> {
    const st = await this.#guard(path, () => this.#files.stat(path));
    return st;
  }
}

/** The Debian point release (`/etc/debian_version`, e.g. `12.7`) completes an os-release with `ID=debian`. */
async function debianPointRelease(id: Identifier, os: OsRelease): Promise<void> {
  const path = "/etc/debian_version";
  const r = await id.read(path, RELEASE_READ_LIMIT, { truncationFinding: true });
  if (r === undefined) return;
  const v = firstLine(r.bytes.toString("utf8"));
  if (DEBIAN_POINT_RELEASE.test(v)) {
    os.versionId = v;
    if (os.version === null) os.version = v;
    r.notes.push(`point release ${v} -> VERSION_ID`);
  } else {
    r.notes.push(`${JSON.stringify(v.slice(0, 64))} is not a point release: ignored`);
  }
  id.record(path, true, r.notes);
}

/** The chisel manifest: its presence, and from its jsonwall lines the package count and base-files version. */
async function chiselHints(id: Identifier): Promise<void> {
  const path = CHISEL_MANIFEST;
  const r = await id.read(path, RELEASE_READ_LIMIT, { truncationFinding: false });
  if (r === undefined) return;
  id.hints.push({ kind: "chisel-manifest", value: path });
  const corrupt = (why: string) => {
    r.notes.push(`unreadable manifest: ${why}`);
    id.finding("chisel-manifest-corrupt", path, `${path}: ${why}`);
  };
  if (detectCompression(r.bytes) !== "zstd") {
    corrupt("not zstd-compressed");
    id.record(path, true, r.notes);
    return;
  }
  let packages = 0;
  let baseFiles: string | undefined;
  let header = false;
  let lineNo = 0;
  let badLines = 0;
  const onLine = (line: string) => {
    lineNo++;
    if (line.trim() === "") return;
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch {
      badLines++;
      return;
    }
    if (o === null || typeof o !== "object") {
      badLines++;
      return;
    }
    const rec = o as Record<string, unknown>;
    if (lineNo === 1) {
      header = typeof rec.jsonwall === "string";
      return;
    }
    if (rec.kind !== "package") return;
    packages++;
    if (rec.name === "base-files" && typeof rec.version === "string") baseFiles = rec.version;
  };
  try {
    const utf8 = new StringDecoder("utf8");
    let pending = "";
    let skipping = false;
    const source = (async function* () {
      yield r.bytes;
    })();
    for await (const chunk of decompress(source, "zstd", { maxOutput: CHISEL_MAX_OUTPUT, what: path })) {
      const text = pending + utf8.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      let start = 0;
      for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", start)) {
        if (skipping) skipping = false;
        else onLine(text.slice(start, nl));
        start = nl + 1;
      }
      pending = text.slice(start);
      if (pending.length > CHISEL_MAX_LINE) {
        // An absurd line: skip to its end without keeping it.
        if (!skipping) {
          badLines++;
          lineNo++;
        }
        skipping = true;
        pending = "";
      }
    }
    pending += utf8.end();
    if (!skipping && pending !== "") onLine(pending);
  } catch (e) {
    if (!isOslessError(e)) throw e;
    corrupt(e.message.startsWith(`${path}: `) ? e.message.slice(path.length + 2) : e.message);
    id.record(path, true, r.notes);
    return;
  }
  if (!header) corrupt("no jsonwall header on the first line");
  else if (badLines > 0) corrupt(`${badLines} line(s) are not JSON objects`);
  id.hints.push({ kind: "chisel-packages", value: String(packages) });
  if (baseFiles !== undefined) id.hints.push({ kind: "chisel-base-files", value: baseFiles });
  r.notes.push(`${packages} package(s)${baseFiles ? `, base-files ${baseFiles}` : ""}`);
  id.record(path, true, r.notes);
}

async function apkHints(id: Identifier): Promise<void> {
  const path = "/etc/apk/repositories";
  const r = await id.read(path, RELEASE_READ_LIMIT, { truncationFinding: true });
  if (r === undefined) return;
  const versions = apkRepositoryVersions(r.bytes.toString("utf8"));
  for (const v of versions) id.hints.push({ kind: "apk-repositories-version", value: v });
  r.notes.push(versions.length > 0 ? `alpine ${versions.join(", ")}` : "no Alpine release in the URLs");
  id.record(path, true, r.notes);
}

/** Distroless: PRETTY_NAME "Distroless", or dpkg's `status.d/` without a `status` file. */
async function distrolessMarkers(id: Identifier, os: OsRelease | null): Promise<boolean> {
  let marked = false;
  if (os?.prettyName && /\bdistroless\b/i.test(os.prettyName)) {
    id.hints.push({ kind: "distroless", value: `PRETTY_NAME=${os.prettyName}` });
    marked = true;
  }
  const statusD = await id.statOnly("/var/lib/dpkg/status.d");
  if (statusD?.type === "directory") {
    const status = await id.statOnly("/var/lib/dpkg/status");
    id.record("/var/lib/dpkg/status.d", true, ["directory"]);
    id.record("/var/lib/dpkg/status", status !== undefined, status ? [status.type] : []);
    if (status === undefined) {
      id.hints.push({ kind: "distroless", value: "/var/lib/dpkg/status.d without /var/lib/dpkg/status" });
      marked = true;
    }
  }
  return marked;
}

/**
 * Identifies the distribution in `files` (os-detection.md): `/etc/os-release`, `/usr/lib/os-release`,
 * `/etc/system-release-cpe`, the Red Hat family's release files, `/etc/lsb-release`, `/etc/alpine-release`,
 * `/etc/debian_version` alone, and last the version string in `/bin/busybox`; the first that names a release
 * wins and is `source`. An os-release with `ID=debian` takes its point release from `/etc/debian_version`.
 */
export async function identifyOs(files: ImageFiles): Promise<OsIdentification> {
  const id = new Identifier(files);
  let os: OsRelease | null = null;
  let source: string | null = null;
  const take = (r: OsRelease | null, path: string): boolean => {
    if (r === null) return false;
    os = r;
    source = path;
    id.annotate(path, `identified ${describe(r)}`);
    return true;
  };

  const first: [string, Parser][] = [
    ["/etc/os-release", parseOsRelease],
    ["/usr/lib/os-release", parseOsRelease],
    ["/etc/system-release-cpe", parseSystemReleaseCpe],
  ];
  for (const [path, parse] of first) {
    if (take(await id.tryText(path, parse), path)) break;
  }

  if (os === null) {
    let generic: [OsRelease, string] | undefined;
    for (const path of REDHAT_FAMILY) {
      const r = await id.tryText(path, parseRedhatRelease);
      if (r === null) continue;
      if (r.id === "rhel") {
        id.annotate(path, "generic rhel: a more specific release file wins");
        generic ??= [r, path];
        continue;
      }
      take(r, path);
      break;
    }
    if (os === null && generic) take(generic[0], generic[1]);
  }

  if (os === null) {
    const rest: [string, Parser][] = [
      ["/etc/lsb-release", parseLsbRelease],
      ["/etc/alpine-release", parseAlpineRelease],
      ["/etc/debian_version", parseDebianVersion],
    ];
    for (const [path, parse] of rest) {
      if (take(await id.tryText(path, parse), path)) break;
    }
  }

  if (os === null) {
    // Last: many distributions ship BusyBox, so it names the OS only when nothing else does.
    const path = "/bin/busybox";
    const r = await id.read(path, RELEASE_READ_LIMIT, { truncationFinding: false });
    if (r !== undefined) {
      const bb = parseBusyBox(r.bytes);
      if (bb === null) r.notes.push("no BusyBox version string");
      id.record(path, true, r.notes);
      take(bb, path);
    }
  }

  const found = os as OsRelease | null;
  if (found !== null && found.id?.toLowerCase() === "debian" && source !== "/etc/debian_version") {
    await debianPointRelease(id, found);
  }

  const distroless = await distrolessMarkers(id, found);
  await apkHints(id);
  await chiselHints(id);

  return {
    os: found,
    source,
    evidence: id.evidence,
    hints: id.hints,
    distroless,
    findings: id.findings,
  };
}
