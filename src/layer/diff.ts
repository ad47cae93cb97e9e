/**
 * Layer contents from trees on disk, for `writeLayer`:
 * (a) `diffTrees`: what changed from one directory tree to another (a RUN step's rootfs copy);
 * (b) `overlayUpperEntries`: an overlayfs upper directory, its whiteouts and opaque dirs turned into OCI ones;
 * (c) `fileListEntries`: an explicit list of paths of a tree (what `slim` keeps).
 * All three return entries in layer order (`compareLayerPaths`), parents included, hardlink groups canonical
 * (first path in layer order has the data, the others link to it), xattrs filtered by `keepXattr`, times as whole
 * seconds. Sockets cannot be put in a tar: (a) and (b) skip them, (c) refuses them. Names that are not UTF-8 or
 * that begin with `.wh.` are refused (a layer cannot carry them).
 */
import { statSync } from "node:fs";
import { OslessError } from "../errors.ts";
import {
  type DiskNode,
  entryOf,
  ioError,
  LinkMap,
  layerXattrs,
  linkGroups,
  needXattrs,
  Pacer,
  readNames,
  readNode,
  refuseWhiteoutName,
  sameContent,
  sameXattrs,
} from "./diff-fs.ts";
import { baseOf, joinClean, normalizeEntryPath, parentOf, printable } from "./paths.ts";
import { type LayerEntry, opaqueEntry, sortLayerEntries, whiteoutEntry } from "./write.ts";

export interface DiffOptions {
  /** Paths (normalised, relative) never included, e.g. build mounts; an excluded directory's subtree neither. */
  exclude?: (path: string) => boolean;
  signal?: AbortSignal;
}

function rootDir(dir: string, what: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (e) {
    throw ioError(dir, `the ${what} tree does not exist or cannot be read`, e);
  }
  if (!isDir) {
    throw new OslessError("E_USAGE", `${dir}: the ${what} tree is not a directory`, {
      hint: "pass the root directory of the tree",
      details: { path: dir },
    });
  }
}

/** Output under construction: entries by path plus the disk nodes they came from (for hardlink groups). */
class Collector {
  readonly entries = new Map<string, LayerEntry>();
  readonly nodes = new Map<string, DiskNode>();

  emit(n: DiskNode): void {
    refuseWhiteoutName(n, baseOf(n.rel));
    this.entries.set(n.rel, entryOf(n));
    this.nodes.set(n.rel, n);
  }

  whiteout(rel: string, abs: string): void {
    refuseWhiteoutName({ rel, abs }, baseOf(rel));
    const w = whiteoutEntry(rel);
    this.entries.set(w.path, w);
  }

  finish(): LayerEntry[] {
    linkGroups(this.entries, this.nodes);
    return sortLayerEntries(this.entries.values());
  }
}

// --- (a) two trees ---------------------------------------------------------------------------------------------

/**
 * Metadata equality of two paths of the same kind, as a layer records it: permission bits, owner, xattrs (the
 * ones a layer keeps) and, except for directories, size, mtime to the nanosecond, device numbers and symlink
 * target. A directory's mtime and size are left out: they change whenever an entry is added or removed, and
 * that change is recorded by the entries themselves (Docker and containerd compare directories the same way).
 */
function sameMeta(l: DiskNode, u: DiskNode): boolean {
  const a = l.st;
  const b = u.st;
  if (a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid) return false;
  if (!sameXattrs(layerXattrs(l.xattrs), layerXattrs(u.xattrs))) return false;
  if (u.kind === "directory") return true;
  if (a.size !== b.size || a.mtimeNs !== b.mtimeNs) return false;
  if ((u.kind === "char" || u.kind === "block") && a.rdev !== b.rdev) return false;
  if (u.kind === "symlink" && l.link !== u.link) return false;
  return true;
}

/**
 * Whether a non-directory is unchanged. Rule: the same inode is unchanged; any metadata difference (sameMeta) is
 * a change; equal metadata on a regular file is confirmed by comparing the bytes. Comparing bytes whenever the
 * metadata matches closes the hole of a rewrite that restores size and mtime (`touch -r`, `cp -p`, rsync, tar
 * extraction); it costs no more than containerd's rule in the usual case, because a lower tree extracted from tar
 * has whole-second mtimes, for which containerd compares the bytes too.
 */
async function sameNonDir(l: DiskNode, u: DiskNode, signal: AbortSignal | undefined): Promise<boolean> {
  if (l.st.dev === u.st.dev && l.st.ino === u.st.ino) return true;
  if (!sameMeta(l, u)) return false;
  if (u.kind !== "file") return true;
  try {
    return await sameContent(l.abs, u.abs, Number(u.st.size), signal);
  } catch (e) {
    if (e instanceof Error && e.name === "AbortError") throw e;
    throw ioError(u.abs, `cannot compare it with ${l.abs}`, e);
  }
}

/**
 * (a) What changed from `lower` to `upper` (two directory trees): added and modified entries with their upper
 * metadata (content read from upper when the layer is written); deleted paths as `.wh.<name>` whiteouts (a
 * deleted directory: one whiteout, nothing for its children); a path whose type changed is written whole (a new
 * directory with its subtree; an applier removes what was there, image-spec "Changeset over existing files").
 * Parents of every entry are included with their upper metadata, so the layer applies onto `lower` with the
 * right parent modes and owners. The root directory's own metadata is not recorded (layers never carry "./").
 * A hardlink group of upper with one changed member is written whole, so the links survive application.
 */
export async function diffTrees(lower: string, upper: string, opts: DiffOptions = {}): Promise<LayerEntry[]> {
  needXattrs(`diff of ${upper} against ${lower}`);
  rootDir(lower, "lower");
  rootDir(upper, "upper");
  const { signal } = opts;
  const excluded = (rel: string) => opts.exclude?.(rel) === true;
  const out = new Collector();
  const dirs = new Map<string, DiskNode>();
  const links = new LinkMap();
  const pacer = new Pacer(signal);

  const node = (root: string, rel: string): DiskNode => {
    const n = readNode(root, rel);
    if (!n) throw ioError(joinClean(root, rel), "vanished while the tree was read", { code: "ENOENT" });
    return n;
  };

  /** `u` exists only in upper, or replaces a path of another type: it and its whole subtree are new. */
  async function addTree(u: DiskNode): Promise<void> {
    await pacer.step();
    if (u.kind === "socket") return;
    out.emit(u);
    links.add(u);
    if (u.kind !== "directory") return;
    dirs.set(u.rel, u);
    for (const name of readNames(u.abs)) {
      const rel = joinClean(u.rel, name);
      if (!excluded(rel)) await addTree(node(upper, rel));
    }
  }

  /** Compare the children of `rel`, a directory in both trees. */
  async function walk(rel: string): Promise<void> {
    const upperNames = readNames(rel === "." ? upper : joinClean(upper, rel));
    const lowerNames = readNames(rel === "." ? lower : joinClean(lower, rel));
    const inUpper = new Set(upperNames);
    const inLower = new Set(lowerNames);
    for (const name of lowerNames) {
      const child = joinClean(rel, name);
      if (!inUpper.has(name) && !excluded(child)) out.whiteout(child, joinClean(lower, child));
    }
    for (const name of upperNames) {
      const child = joinClean(rel, name);
      if (excluded(child)) continue;
      await pacer.step();
      const u = node(upper, child);
      if (u.kind === "socket") continue;
      const l = inLower.has(name) ? node(lower, child) : undefined;
      if (!l || l.kind === "socket") {
        await addTree(u);
        continue;
      }
      if (l.kind !== u.kind) {
        if (u.kind === "directory") await addTree(u);
        else {
          out.emit(u);
          links.add(u);
        }
        continue;
      }
      if (u.kind === "directory") {
        dirs.set(child, u);
        if (!sameMeta(l, u)) out.emit(u);
        await walk(child);
        continue;
      }
      links.add(u);
      if (!(await sameNonDir(l, u, signal))) out.emit(u);
    }
  }

  await walk(".");
  // Hardlink groups: a changed member brings its unchanged peers, or the applied layer would split the inode.
  for (const n of [...out.nodes.values()]) {
    for (const peer of links.peers(n)) if (!out.entries.has(peer.rel)) out.emit(peer);
  }
  // Parents, with their upper metadata.
  for (const path of [...out.entries.keys()]) {
    for (let p = parentOf(path); p !== "." && !out.entries.has(p); p = parentOf(p)) out.emit(dirs.get(p)!);
  }
  return out.finish();
}

// --- (b) overlayfs upper dir -----------------------------------------------------------------------------------

const OVERLAY_NS = ["trusted.overlay.", "user.overlay."];

function overlayXattr(n: DiskNode, name: string): Buffer | undefined {
  for (const ns of OVERLAY_NS) {
    const v = n.xattrs.get(ns + name);
    if (v !== undefined) return v;
  }
  return undefined;
}

function refuseOverlayFeature(n: DiskNode): void {
  for (const [feature, option] of [
    ["redirect", "redirect_dir=off"],
    ["metacopy", "metacopy=off"],
  ] as const) {
    if (overlayXattr(n, feature) === undefined) continue;
    throw new OslessError(
      "E_LAYER_INVALID",
      `${printable(n.abs)}: overlayfs ${feature} entry (xattr overlay.${feature}); its data or name lives in a ` +
        "lower directory, so the upper directory alone is not a layer",
      {
        hint: `mount the overlay with ${option} (osless never enables ${feature}), or diff the merged tree against the lower one with diffTrees`,
        details: { path: n.rel, feature },
      },
    );
  }
}

/** Char device 0/0 (the kernel's whiteout), or an "xwhiteout" (empty file with the overlay.whiteout xattr). */
function isOverlayWhiteout(n: DiskNode): boolean {
  if (n.kind === "char") return n.st.rdev === 0n;
  return n.kind === "file" && n.st.size === 0n && overlayXattr(n, "whiteout") !== undefined;
}

function isOpaque(n: DiskNode): boolean {
  return n.kind === "directory" && overlayXattr(n, "opaque")?.toString("latin1") === "y";
}

/**
 * (b) The layer of an overlayfs upper directory (after unmounting, or with the merged view quiet): a whiteout
 * (char device 0/0, or an empty file with the `overlay.whiteout` xattr) becomes `.wh.<name>`; a directory with
 * `overlay.opaque=y` (trusted.* or, on userxattr mounts, user.*) becomes the directory entry plus
 * `.wh..wh..opq`; every other entry is written as it is in upper (so parents are there with their metadata).
 * overlay.* xattrs are never written. An entry with `overlay.redirect` or `overlay.metacopy` is refused: its
 * name or data is in a lower directory, which the upper alone cannot express.
 */
export async function overlayUpperEntries(upper: string, opts: DiffOptions = {}): Promise<LayerEntry[]> {
  needXattrs(`overlay upper ${upper}`);
  rootDir(upper, "overlay upper");
  const excluded = (rel: string) => opts.exclude?.(rel) === true;
  const out = new Collector();
  const pacer = new Pacer(opts.signal);

  async function visit(dir: DiskNode): Promise<void> {
    refuseOverlayFeature(dir);
    if (isOpaque(dir)) {
      const o = opaqueEntry(dir.rel);
      out.entries.set(o.path, o);
    }
    for (const name of readNames(dir.abs)) {
      const rel = joinClean(dir.rel, name);
      if (excluded(rel)) continue;
      await pacer.step();
      const n = readNode(upper, rel);
      if (!n) throw ioError(dir.abs, `"${name}" vanished while the upper dir was read`, { code: "ENOENT" });
      refuseOverlayFeature(n);
      if (isOverlayWhiteout(n)) {
        out.whiteout(rel, n.abs);
        continue;
      }
      if (n.kind === "socket") continue;
      out.emit(n);
      if (n.kind === "directory") await visit(n);
    }
  }

  const root = readNode(upper, ".")!;
  await visit(root);
  return out.finish();
}

// --- (c) explicit list -----------------------------------------------------------------------------------------

/**
 * (c) The paths `paths` of the tree `root`, each with all its parent directories, metadata from `root`. Items
 * are read lexically in-root: leading "/" and "."/".." components are cleaned, an item climbing out of the root
 * is refused. No symlink is followed: a listed symlink is written as a symlink, and an item whose parent is a
 * symlink is refused (list the resolved path instead). A listed directory contributes itself, not its contents.
 * Duplicates collapse; an excluded item, or one under an excluded directory, is left out. A missing path is
 * E_NOT_FOUND.
 */
export async function fileListEntries(
  root: string,
  paths: string[],
  opts: DiffOptions = {},
): Promise<LayerEntry[]> {
  needXattrs(`file list of ${root}`);
  rootDir(root, "root");
  const excluded = (rel: string) => opts.exclude?.(rel) === true;
  const out = new Collector();
  const pacer = new Pacer(opts.signal);

  for (const item of paths) {
    await pacer.step();
    let rel: string;
    try {
      rel = normalizeEntryPath(item);
    } catch (e) {
      throw new OslessError(
        "E_USAGE",
        `file list item "${printable(item)}": ${(e as Error).message.replace(/^layer entry "[^"]*": /, "")}`,
        { hint: `list paths inside ${root} (relative, or absolute as seen from the image root)`, cause: e },
      );
    }
    if (rel === ".") {
      throw new OslessError("E_USAGE", `file list item "${printable(item)}" names the root itself`, {
        hint: "list the paths inside the root; parents are added by themselves",
      });
    }
    if (out.entries.has(rel)) continue;
    const parts = rel.split("/");
    let cur = ".";
    let skip = false;
    for (const c of parts) {
      cur = joinClean(cur, c);
      if (excluded(cur)) {
        skip = true;
        break;
      }
    }
    if (skip) continue;
    cur = ".";
    for (const [i, c] of parts.entries()) {
      cur = joinClean(cur, c);
      const last = i === parts.length - 1;
      if (!last && out.entries.get(cur)?.type === "directory") continue; // an ancestor already checked as a directory
      const n = readNode(root, cur);
      if (!n) {
        throw new OslessError(
          "E_NOT_FOUND",
          `file list item "${printable(item)}": ${cur === rel ? "it does" : `its parent "${printable(cur)}" does`} not exist under ${root}`,
          { hint: "list only paths that exist in the tree", details: { item, missing: cur } },
        );
      }
      if (!last && n.kind === "symlink") throw symlinkParent(item, cur, n.link!, parts.slice(i + 1));
      if (!last && n.kind !== "directory") {
        throw new OslessError(
          "E_NOT_FOUND",
          `file list item "${printable(item)}": its parent "${printable(cur)}" is a ${n.kind}, not a directory`,
          { hint: "list only paths that exist in the tree", details: { item, parent: cur } },
        );
      }
      if (n.kind === "socket") {
        throw new OslessError("E_LAYER_INVALID", `file list item "${printable(item)}" is a socket`, {
          hint: "a tar layer cannot hold sockets; the program that uses it creates it at run time",
          details: { item },
        });
      }
      out.emit(n);
    }
  }
  return out.finish();
}

function symlinkParent(item: string, at: string, target: string, rest: string[]): OslessError {
  let resolved: string | undefined;
  try {
    const base = target.startsWith("/") ? target : `${parentOf(at)}/${target}`;
    resolved = normalizeEntryPath([base, ...rest].join("/"));
  } catch {
    resolved = undefined;
  }
  return new OslessError(
    "E_USAGE",
    `file list item "${printable(item)}": its parent "${printable(at)}" is a symlink (-> ${printable(target)}), ` +
      "and parent symlinks are not followed",
    {
      hint:
        resolved && resolved !== "."
          ? `list the resolved path "${printable(resolved)}" (and "${printable(at)}" too, to keep the link)`
          : `list the path the symlink "${printable(at)}" resolves to`,
      details: { item, symlink: at, target, ...(resolved ? { resolved } : {}) },
    },
  );
}
