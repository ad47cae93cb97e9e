/**
 * `-v SRC:DST[:OPTS]` and `--tmpfs DST[:OPTS]` as `docker run` takes them, turned into runtime-spec mounts.
 *
 * -v: only bind mounts of an absolute host path that exists (Docker would create a missing one; osless refuses, so a
 * typo does not leave a new directory on the host). Named and anonymous volumes need a volume store, which osless
 * does not have: they are refused with a message that says so. OPTS is a comma list of at most one of `ro`/`rw`,
 * at most one propagation mode (`private`, `rprivate`, `shared`, `rshared`, `slave`, `rslave`; default rprivate),
 * and `z`/`Z` (SELinux relabelling: accepted and ignored, as Docker does on hosts without SELinux).
 *
 * --tmpfs: DST absolute; OPTS are mount(8) tmpfs options merged over Docker's defaults `noexec,nosuid,nodev`
 * (a later option replaces an earlier one of the same kind: `exec` replaces `noexec`, `size=` replaces `size=`).
 */
import { existsSync } from "node:fs";
import { posix } from "node:path";
import { OslessError } from "../errors.ts";
import type { Mount } from "./oci.ts";

const VOLUME_SYNTAX =
  "-v /absolute/host/path:/absolute/container/path[:ro|rw][,z|Z][,rprivate|private|rshared|shared|rslave|slave]";
const TMPFS_SYNTAX =
  "--tmpfs /absolute/container/path[:opt,opt=value,...] (e.g. --tmpfs /run:rw,size=64m,mode=1777)";

const PROPAGATION = new Set(["private", "rprivate", "shared", "rshared", "slave", "rslave"]);

function volumeError(spec: string, why: string, hint?: string): OslessError {
  return new OslessError("E_USAGE", `invalid volume specification "${spec}": ${why}`, {
    hint: hint ?? `the syntax is ${VOLUME_SYNTAX}`,
    details: { volume: spec },
  });
}

function tmpfsError(spec: string, why: string): OslessError {
  return new OslessError("E_USAGE", `invalid --tmpfs specification "${spec}": ${why}`, {
    hint: `the syntax is ${TMPFS_SYNTAX}`,
    details: { tmpfs: spec },
  });
}

/** A container path, cleaned (Go's path.Clean); undefined when not absolute. */
export function cleanAbsolute(p: string): string | undefined {
  if (!p.startsWith("/")) return undefined;
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
}

export interface ParseVolumeOptions {
  /** Check that SRC exists (default true; tests of syntax alone turn it off). */
  checkSource?: boolean;
}

/** One `-v` spec as a bind mount. */
export function parseVolume(spec: string, opts: ParseVolumeOptions = {}): Mount {
  if (spec === "") throw volumeError(spec, "it is empty");
  const parts = spec.split(":");
  if (parts.length === 1) {
    throw volumeError(
      spec,
      "anonymous volumes are not supported",
      `osless has no volume store: bind a host directory instead (${VOLUME_SYNTAX}), or use --tmpfs ${spec} for scratch space`,
    );
  }
  if (parts.length > 3) throw volumeError(spec, "too many colon-separated fields");
  const [src, dst, mode = ""] = parts as [string, string, string?];
  if (src === "") throw volumeError(spec, "the host path is empty");
  if (!src.startsWith("/")) {
    throw volumeError(
      spec,
      `"${src}" is a named volume, which osless does not support`,
      `osless has no volume store: give an absolute host path to bind (${VOLUME_SYNTAX})`,
    );
  }
  const destination = cleanAbsolute(dst);
  if (dst === "" || destination === undefined) {
    throw volumeError(spec, `the container path "${dst}" is not absolute`);
  }
  if (destination === "/") throw volumeError(spec, 'the container path cannot be "/"');
  let access: string | undefined;
  let propagation: string | undefined;
  if (parts.length === 3) {
    if (mode === "") throw volumeError(spec, "the mode after the second colon is empty");
    for (const m of mode.split(",")) {
      if (m === "ro" || m === "rw") {
        if (access !== undefined)
          throw volumeError(spec, `invalid mode "${mode}": more than one of ro and rw`);
        access = m;
      } else if (PROPAGATION.has(m)) {
        if (propagation !== undefined)
          throw volumeError(spec, `invalid mode "${mode}": more than one propagation mode`);
        propagation = m;
      } else if (m === "z" || m === "Z") {
        // SELinux relabelling: nothing to do without SELinux, as Docker on such hosts.
      } else {
        throw volumeError(spec, `invalid mode "${m}"`);
      }
    }
  }
  const source = posix.normalize(src);
  if (opts.checkSource !== false && !existsSync(source)) {
    throw new OslessError("E_NOT_FOUND", `bind mount source path does not exist: ${source} (-v ${spec})`, {
      hint: "create the host directory first (osless does not create it, unlike docker run -v)",
      details: { volume: spec, path: source },
    });
  }
  const options = ["rbind"];
  if (access === "ro") options.push("ro");
  options.push(propagation ?? "rprivate");
  return { destination, type: "bind", source, options };
}

/** The flags tmpfs accepts, with the option each one cancels. */
const FLAG_PAIRS: Record<string, string> = {
  ro: "rw",
  rw: "ro",
  exec: "noexec",
  noexec: "exec",
  suid: "nosuid",
  nosuid: "suid",
  dev: "nodev",
  nodev: "dev",
  atime: "noatime",
  noatime: "atime",
  diratime: "nodiratime",
  nodiratime: "diratime",
  relatime: "norelatime",
  norelatime: "relatime",
  strictatime: "nostrictatime",
  nostrictatime: "strictatime",
  sync: "async",
  async: "sync",
  dirsync: "",
  mand: "nomand",
  nomand: "mand",
};
const TMPFS_KEYS = new Set([
  "size",
  "mode",
  "uid",
  "gid",
  "nr_inodes",
  "nr_blocks",
  "mpol",
  "huge",
  "tmpcopyup",
]);

/** Docker's defaults for --tmpfs, then the user's options; a later option replaces an earlier one of its kind. */
export function mergeTmpfsOptions(spec: string, user: readonly string[]): string[] {
  const out: string[] = [];
  const add = (o: string) => {
    const eq = o.indexOf("=");
    if (eq >= 0) {
      const k = o.slice(0, eq);
      if (!TMPFS_KEYS.has(k)) throw tmpfsError(spec, `unknown option "${o}"`);
      if (o.length === eq + 1) throw tmpfsError(spec, `option "${k}" has no value`);
      const i = out.findIndex((x) => x.startsWith(`${k}=`));
      if (i >= 0) out.splice(i, 1);
    } else if (PROPAGATION.has(o)) {
      const i = out.findIndex((x) => PROPAGATION.has(x));
      if (i >= 0) out.splice(i, 1);
    } else if (o in FLAG_PAIRS) {
      const opposite = FLAG_PAIRS[o];
      for (const x of [o, opposite]) {
        const i = out.indexOf(x!);
        if (i >= 0) out.splice(i, 1);
      }
    } else {
      throw tmpfsError(spec, `unknown option "${o}"`);
    }
    out.push(o);
  };
  for (const o of ["noexec", "nosuid", "nodev", "rprivate"]) add(o);
  for (const o of user) add(o);
  return out;
}

/** One `--tmpfs` spec as a tmpfs mount. */
export function parseTmpfs(spec: string): Mount {
  const colon = spec.indexOf(":");
  const dst = colon < 0 ? spec : spec.slice(0, colon);
  const opts = colon < 0 ? "" : spec.slice(colon + 1);
  const destination = cleanAbsolute(dst);
  if (dst === "" || destination === undefined)
    throw tmpfsError(spec, `the container path "${dst}" is not absolute`);
  if (destination === "/") throw tmpfsError(spec, 'the container path cannot be "/"');
  if (colon >= 0 && opts === "") throw tmpfsError(spec, "the options after the colon are empty");
  const user = opts === "" ? [] : opts.split(",");
  if (user.some((o) => o === "")) throw tmpfsError(spec, "an option is empty (two commas in a row?)");
  return { destination, type: "tmpfs", source: "tmpfs", options: mergeTmpfsOptions(spec, user) };
}

/**
 * Every -v and --tmpfs of a run, sorted as moby sorts them (fewer path components first, so a parent is mounted
 * before what is mounted inside it). Two mounts on one destination are E_USAGE ("Duplicate mount point", as Docker).
 */
export function parseUserMounts(
  volumes: readonly string[] = [],
  tmpfs: readonly string[] = [],
  opts: ParseVolumeOptions = {},
): Mount[] {
  const mounts = [...volumes.map((v) => parseVolume(v, opts)), ...tmpfs.map(parseTmpfs)];
  const seen = new Set<string>();
  for (const m of mounts) {
    if (seen.has(m.destination)) {
      throw new OslessError("E_USAGE", `Duplicate mount point: ${m.destination}`, {
        hint: "give each container path once across -v and --tmpfs",
        details: { destination: m.destination },
      });
    }
    seen.add(m.destination);
  }
  const depth = (p: string) => (p === "/" ? 0 : p.split("/").length - 1);
  return mounts
    .map((m, i) => ({ m, i }))
    .sort((a, b) => depth(a.m.destination) - depth(b.m.destination) || a.i - b.i)
    .map((x) => x.m);
}
