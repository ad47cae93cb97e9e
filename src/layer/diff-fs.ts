/**
 * Reading trees on disk for the layer producers in diff.ts: one lstat (never following the last component) per
 * path with nanosecond times, the path's own xattrs, names checked for what a layer can hold, hardlink groups
 * made canonical, and a byte-by-byte file comparison.
 */
import { isUtf8 } from "node:buffer";
import {
  type BigIntStats,
  closeSync,
  constants,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  type Stats,
} from "node:fs";
import { join } from "node:path";
import { setImmediate as tick } from "node:timers/promises";
import { listXattrs, getXattr as readXattr, XattrError, xattrSupport } from "../_internal/xattr.ts";
import { OslessError } from "../errors.ts";
import type { TarType } from "../tar/index.ts";
import { printable, WHITEOUT_PREFIX } from "./paths.ts";
import { type LayerEntry, layerSortKey } from "./write.ts";

export type Kind = TarType | "socket";

/** A path of a tree on disk as the layer producers see it. */
export interface DiskNode {
  /** Normalised path relative to the tree's root. */
  rel: string;
  /** Absolute host path. */
  abs: string;
  st: BigIntStats;
  kind: Kind;
  /** Symlink target, verbatim. */
  link?: string;
  /** Every xattr of the path itself, unfiltered (overlay's own ones included). */
  xattrs: Map<string, Buffer>;
}

/**
 * Whether an xattr read from disk goes into a layer. Dropped: `trusted.*` (root-only host namespace: overlayfs
 * bookkeeping lives there, and appliers refuse it, extraction rule R13), `user.overlay.*` (overlayfs bookkeeping
 * on userxattr mounts), `security.selinux` (a host label, relabelled by the runtime) and `system.*` (POSIX ACLs
 * and NFSv4 ACLs, which tar carries as SCHILY.acl.* if at all; Docker and containerd drop them too). Kept:
 * `security.capability` (file capabilities: ping, newuidmap) and the rest of `security.*` and `user.*`.
 */
export function keepXattr(name: string): boolean {
  return !(
    name.startsWith("trusted.") ||
    name.startsWith("user.overlay.") ||
    name === "security.selinux" ||
    name.startsWith("system.")
  );
}

export function layerXattrs(all: Map<string, Buffer>): Map<string, Buffer> | undefined {
  let out: Map<string, Buffer> | undefined;
  for (const [k, v] of all) {
    if (!keepXattr(k)) continue;
    out ??= new Map();
    out.set(k, v);
  }
  return out;
}

export function sameXattrs(a: Map<string, Buffer> | undefined, b: Map<string, Buffer> | undefined): boolean {
  const as = a?.size ?? 0;
  if (as !== (b?.size ?? 0)) return false;
  if (as === 0) return true;
  for (const [k, v] of a!) {
    const w = b!.get(k);
    if (!w?.equals(v)) return false;
  }
  return true;
}

export function needXattrs(what: string): void {
  if (!xattrSupport()) {
    throw new OslessError("E_IO", `${what}: extended attributes cannot be read on this system`, {
      hint:
        "install the optional package @napi-rs/xattr; without it file capabilities and overlayfs markers " +
        "would be lost silently",
    });
  }
}

/** Every extended attribute of a host path (not followed); an unexpected failure is E_IO. */
export function readXattrs(abs: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let names: string[];
  try {
    names = listXattrs(abs);
  } catch (e) {
    if (e instanceof XattrError && (e.code === "ENOTSUP" || e.code === "ENODATA")) return out;
    throw ioError(abs, "cannot list its extended attributes", e);
  }
  for (const name of names.sort()) {
    try {
      const v = readXattr(abs, name);
      if (v !== undefined) out.set(name, v);
    } catch (e) {
      // Vanished between list and get, or a namespace we may not read: not part of what we can copy.
      if (e instanceof XattrError && ["ENODATA", "ENOTSUP", "EPERM", "EACCES"].includes(e.code)) continue;
      throw ioError(abs, `cannot read its extended attribute ${name}`, e);
    }
  }
  return out;
}

export function ioError(abs: string, why: string, cause: unknown): OslessError {
  const code = (cause as NodeJS.ErrnoException)?.code;
  return new OslessError(
    code === "ENOENT" ? "E_NOT_FOUND" : "E_IO",
    `${abs}: ${why}${code ? ` (${code})` : ""}`,
    {
      hint:
        code === "ENOENT"
          ? "the tree changed while it was read; nothing may write to it meanwhile"
          : "check the path's permissions and the filesystem",
      cause,
      details: { path: abs },
    },
  );
}

/** What a path is, from its lstat. */
export function kindOf(st: Stats | BigIntStats): Kind {
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "directory";
  if (st.isSymbolicLink()) return "symlink";
  if (st.isCharacterDevice()) return "char";
  if (st.isBlockDevice()) return "block";
  if (st.isFIFO()) return "fifo";
  return "socket";
}

/** lstat + readlink + xattrs of one path; undefined when it does not exist. */
export function readNode(root: string, rel: string): DiskNode | undefined {
  const abs = rel === "." ? root : join(root, rel);
  let st: BigIntStats;
  try {
    st = lstatSync(abs, { bigint: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw ioError(abs, "cannot stat it", e);
  }
  const kind = kindOf(st);
  const node: DiskNode = { rel, abs, st, kind, xattrs: readXattrs(abs) };
  if (kind === "symlink") {
    let raw: Buffer;
    try {
      raw = readlinkSync(abs, "buffer");
    } catch (e) {
      throw ioError(abs, "cannot read the symlink", e);
    }
    if (!isUtf8(raw)) throw notUtf8(abs, "the symlink's target");
    node.link = raw.toString("utf8");
  }
  return node;
}

function notUtf8(abs: string, what: string): OslessError {
  return new OslessError("E_LAYER_INVALID", `${printable(abs)}: ${what} is not valid UTF-8`, {
    hint: "rename it: osless writes layer names as UTF-8",
    details: { path: abs },
  });
}

/** Names in a directory, byte-sorted, refusing names that are not UTF-8 (they would not survive as strings). */
export function readNames(abs: string): string[] {
  let raw: Buffer[];
  try {
    raw = readdirSync(abs, { encoding: "buffer" });
  } catch (e) {
    throw ioError(abs, "cannot list the directory", e);
  }
  const names: string[] = [];
  for (const b of raw) {
    if (!isUtf8(b)) throw notUtf8(join(abs, b.toString("latin1")), "the name");
    names.push(b.toString("utf8"));
  }
  return names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** A name on disk that a layer cannot carry as an ordinary entry: `.wh.*` means "delete" to every applier. */
export function refuseWhiteoutName(node: { rel: string; abs: string }, name: string): void {
  if (name.startsWith(WHITEOUT_PREFIX)) {
    throw new OslessError(
      "E_LAYER_INVALID",
      `${printable(node.abs)}: the name "${printable(name)}" begins with ".wh.", which OCI layers reserve for whiteouts`,
      {
        hint: "rename or exclude it: no layer can hold such a file (image-spec layer.md)",
        details: { path: node.rel },
      },
    );
  }
}

/** Linux dev_t split (glibc's gnu_dev_major/minor). */
export function devNumbers(rdev: bigint): { devmajor: number; devminor: number } {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return { devmajor: Number(major), devminor: Number(minor & 0xffffffffn) };
}

/** Whole seconds of a nanosecond time, floored (also for times before 1970). */
export function seconds(ns: bigint): number {
  const s = ns / 1_000_000_000n;
  return Number(ns < 0n && s * 1_000_000_000n !== ns ? s - 1n : s);
}

/** The layer entry for a node as it is on disk (sockets have none: the caller skips or refuses them). */
export function entryOf(node: DiskNode): LayerEntry {
  const { st, kind } = node;
  if (kind === "socket") throw new Error(`entryOf: ${node.abs} is a socket`);
  const e: LayerEntry = {
    path: node.rel,
    type: kind,
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    mtime: seconds(st.mtimeNs),
  };
  const x = layerXattrs(node.xattrs);
  if (x) e.xattrs = x;
  switch (kind) {
    case "file":
      e.size = Number(st.size);
      e.source = node.abs;
      break;
    case "symlink":
      e.linkpath = node.link!;
      break;
    case "char":
    case "block":
      Object.assign(e, devNumbers(st.rdev));
      break;
  }
  return e;
}

/**
 * Hardlinks among the paths of one tree: `inode key -> paths`. Only non-directories with more than one link
 * are recorded; callers leave out what must not be grouped (overlay whiteouts share one inode).
 */
export class LinkMap {
  readonly #groups = new Map<string, DiskNode[]>();

  add(node: DiskNode): void {
    if (node.kind === "directory" || node.st.nlink < 2n) return;
    const key = `${node.st.dev}:${node.st.ino}`;
    const g = this.#groups.get(key);
    if (g) g.push(node);
    else this.#groups.set(key, [node]);
  }

  /** Other paths of the same inode (empty when it has no other path in the tree). */
  peers(node: DiskNode): DiskNode[] {
    if (node.kind === "directory" || node.st.nlink < 2n) return [];
    return (this.#groups.get(`${node.st.dev}:${node.st.ino}`) ?? []).filter((n) => n.rel !== node.rel);
  }
}

/**
 * Make hardlink groups canonical in `entries` (a map path -> entry): of the emitted paths that share an inode,
 * the first in layer order keeps the data and the others become hardlink entries to it.
 */
export function linkGroups(entries: Map<string, LayerEntry>, nodes: Map<string, DiskNode>): void {
  const groups = new Map<string, string[]>();
  for (const [path, e] of entries) {
    const n = nodes.get(path);
    if (!n || e.type === "directory" || n.st.nlink < 2n) continue;
    const key = `${n.st.dev}:${n.st.ino}`;
    const g = groups.get(key);
    if (g) g.push(path);
    else groups.set(key, [path]);
  }
  for (const paths of groups.values()) {
    if (paths.length < 2) continue;
    paths.sort((a, b) => Buffer.compare(layerSortKey(a), layerSortKey(b)));
    const first = entries.get(paths[0]!)!;
    for (const p of paths.slice(1)) {
      const { mode, uid, gid, mtime } = first;
      entries.set(p, { path: p, type: "hardlink", linkpath: first.path, mode, uid, gid, mtime });
    }
  }
}

const CMP_CHUNK = 256 * 1024;

/**
 * Whether two regular files have the same bytes (sizes already known equal), stopping at the first difference.
 * Synchronous reads (see write.ts readExactly: promise reads cost a thread-pool hop each), yielding to the event
 * loop every 16 MiB.
 */
export async function sameContent(
  a: string,
  b: string,
  size: number,
  signal?: AbortSignal,
): Promise<boolean> {
  if (size === 0) return true;
  const fa = openSync(a, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const fb = openSync(b, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const ba = Buffer.allocUnsafe(Math.min(CMP_CHUNK, size));
      const bb = Buffer.allocUnsafe(ba.length);
      for (let pos = 0, i = 1; pos < size; i++) {
        const want = Math.min(ba.length, size - pos);
        const ra = readSync(fa, ba, 0, want, pos);
        const rb = readSync(fb, bb, 0, want, pos);
        if (ra !== rb) return false;
        if (ra === 0) return true;
        if (ba.compare(bb, 0, rb, 0, ra) !== 0) return false;
        pos += ra;
        if (i % 64 === 0) {
          signal?.throwIfAborted();
          await tick();
        }
      }
      return true;
    } finally {
      closeSync(fb);
    }
  } finally {
    closeSync(fa);
  }
}

/** Yields to the event loop every `every` calls (the walkers use sync fs calls for speed) and checks `signal`. */
export class Pacer {
  #n = 0;
  readonly #signal: AbortSignal | undefined;
  constructor(signal: AbortSignal | undefined) {
    this.#signal = signal;
  }
  async step(): Promise<void> {
    this.#signal?.throwIfAborted();
    if (++this.#n % 512 === 0) await tick();
  }
}
