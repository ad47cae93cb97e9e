/**
 * `osless diff`: what differs between two images' final filesystems (their squashed views), path by path, as
 * `docker diff` reports a container against its image: paths added (only in B), removed (only in A) and changed
 * (in both, with what changed). Layers do not matter, only what unpacking each image would produce: a file
 * added and deleted again, or rewritten with the same bytes, is no difference.
 *
 * What is compared at a path present in both:
 * - `type`: a hard link counts as the file it shows (its target's type, metadata and content), so replacing a
 *   copy by a hard link to identical bytes is no change;
 * - regular files: `content` (sha256; both views must be built with `digests: true`) and `size`;
 * - `mode` (permission bits with setuid/setgid/sticky; not when either side is a symlink, which Linux gives no
 *   mode), `owner` (uid or gid), `xattrs` (the ones unpacking applies);
 * - symlinks: `linkTarget` (verbatim); char and block devices: `device` (major:minor).
 * When the type differs, the type-specific fields (content, size, target, device) are not listed: the type
 * change says it. Modification times are not compared: rebuilding an image changes them everywhere while the
 * bytes stay the same. A directory whose children differ but whose own metadata does not is not changed: its
 * children are listed themselves.
 *
 * Paths are absolute ("/etc/passwd", "/" for the root) and every list is sorted by path in UTF-8 byte order.
 * Level 6: reads views (src/layer) and, for `diffStoreImages`, the store (src/store).
 */
import type { Digest } from "../digest/index.ts";
import { OslessError } from "../errors.ts";
import type { LayerSource } from "../layer/source.ts";
import { buildView, type SquashedView, type ViewNode } from "../layer/view.ts";
import { compareNames } from "../layer/view-tree.ts";
import { formatPlatform } from "../spec/platform.ts";
import type { Platform } from "../spec/schemas.ts";
import { type OpenedImage, openImage } from "../store/images.ts";
import { imageLayers } from "../store/layers.ts";
import type { Store } from "../store/layout.ts";
import type { TarType } from "../tar/index.ts";
import type { ExplorerImageInfo } from "./types.ts";

/** What changed at a path present in both images, in this order in `DiffChanged.changes`. */
export type DiffChangeKind =
  | "type"
  | "content"
  | "size"
  | "mode"
  | "owner"
  | "linkTarget"
  | "device"
  | "xattrs";

export const DIFF_CHANGE_KINDS: readonly DiffChangeKind[] = [
  "type",
  "content",
  "size",
  "mode",
  "owner",
  "linkTarget",
  "device",
  "xattrs",
];

/** A path as one image has it. */
export interface DiffFile {
  /** A hard link shows its target's type ("file"), with `hardlinkTo` set. */
  type: TarType;
  /** Data bytes of a regular file; 0 for every other type. */
  size: number;
  /** Permission bits incl. setuid/setgid/sticky (0o7777), as a number. */
  mode: number;
  uid: number;
  gid: number;
  /** Regular files: sha256 of the content. */
  digest?: Digest;
  /** Symlinks: the target, verbatim. */
  linkTarget?: string;
  /** Char and block devices. */
  devmajor?: number;
  devminor?: number;
  /** Hard links: the absolute path the link was made to (informational; not compared). */
  hardlinkTo?: string;
  /** Extended attributes unpacking applies, values base64. */
  xattrs?: Record<string, string>;
  /** Index of the image's layer (base 0) whose entry defines the path (informational; not compared). */
  layer: number;
}

export interface DiffEntry extends DiffFile {
  path: string;
}

export interface DiffChanged {
  path: string;
  /** At least one; in DIFF_CHANGE_KINDS order. */
  changes: DiffChangeKind[];
  before: DiffFile;
  after: DiffFile;
}

export interface DiffSummary {
  /** Paths only in B, only in A, in both but different, in both and the same. */
  added: number;
  removed: number;
  changed: number;
  unchanged: number;
  /**
   * Bytes of the regular files at added paths, each inode once, leaving out inodes B also has at a path that
   * is not added (a hard link added to a file that was there adds no bytes).
   */
  addedBytes: number;
  /** Bytes of the regular files at removed paths, each inode once, leaving out inodes A keeps at another path. */
  removedBytes: number;
  /**
   * Size delta of the changed paths: bytes of their regular files in B minus those in A (each inode once per
   * side); negative when they shrank.
   */
  changedBytes: number;
  /** Bytes of the regular files of each whole filesystem, each inode once. */
  totalBytes: { a: number; b: number };
}

export interface ImageDiff {
  /** Only in B, sorted by path (UTF-8 byte order). */
  added: DiffEntry[];
  /** Only in A, sorted by path. */
  removed: DiffEntry[];
  /** In both, different, sorted by path. */
  changed: DiffChanged[];
  summary: DiffSummary;
}

/** Two images and their difference: what `osless diff --json` prints. */
export interface ImagesDiff extends ImageDiff {
  a: ExplorerImageInfo;
  b: ExplorerImageInfo;
}

const SLASH = 0x2f;

/**
 * Depth-first order of the views' walks (children by name in UTF-8 byte order): component by component, so a
 * path comes before everything under it and "a/b" before "a-b". Paths are the views' relative paths, not ".".
 */
function treeOrder(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // The component that ends first is a prefix of the other one.
    if (x === SLASH) return -1;
    if (y === SLASH) return 1;
    if (x >= 0xd800) x = x < 0xe000 ? x + 0x2000 : x - 0x800;
    if (y >= 0xd800) y = y < 0xe000 ? y + 0x2000 : y - 0x800;
    return x - y;
  }
  return a.length - b.length;
}

function absolute(path: string): string {
  return path === "." ? "/" : `/${path}`;
}

function sameXattrs(a: Map<string, Buffer> | undefined, b: Map<string, Buffer> | undefined): boolean {
  const n = a?.size ?? 0;
  if (n !== (b?.size ?? 0)) return false;
  if (n === 0) return true;
  for (const [k, v] of a!) {
    const w = b!.get(k);
    if (w === undefined || !v.equals(w)) return false;
  }
  return true;
}

function needDigest(n: ViewNode, side: "A" | "B"): Digest {
  if (n.digest !== undefined) return n.digest;
  throw new OslessError(
    "E_USAGE",
    `diffViews: image ${side}'s view has no content digest for "${absolute(n.path)}"`,
    {
      hint: "build both views with buildView(layers, { digests: true })",
      details: { path: absolute(n.path), side },
    },
  );
}

/** What differs between two nodes at one path ([] when nothing that counts does). */
function changesOf(x: ViewNode, y: ViewNode): DiffChangeKind[] {
  const out: DiffChangeKind[] = [];
  const sameType = x.type === y.type;
  if (!sameType) out.push("type");
  else if (x.type === "file") {
    if (needDigest(x, "A") !== needDigest(y, "B")) out.push("content");
    if (x.size !== y.size) out.push("size");
  }
  if (x.mode !== y.mode && x.type !== "symlink" && y.type !== "symlink") out.push("mode");
  if (x.uid !== y.uid || x.gid !== y.gid) out.push("owner");
  if (sameType && x.type === "symlink" && x.linkTarget !== y.linkTarget) out.push("linkTarget");
  if (sameType && (x.type === "char" || x.type === "block")) {
    if (x.devmajor !== y.devmajor || x.devminor !== y.devminor) out.push("device");
  }
  if (!sameXattrs(x.xattrs, y.xattrs)) out.push("xattrs");
  return out;
}

function fileOf(n: ViewNode): DiffFile {
  const device = n.type === "char" || n.type === "block";
  return {
    type: n.type,
    size: n.size,
    mode: n.mode,
    uid: n.uid,
    gid: n.gid,
    ...(n.digest !== undefined ? { digest: n.digest } : {}),
    ...(n.linkTarget !== undefined ? { linkTarget: n.linkTarget } : {}),
    ...(device ? { devmajor: n.devmajor ?? 0, devminor: n.devminor ?? 0 } : {}),
    ...(n.hardlinkTo !== undefined ? { hardlinkTo: absolute(n.hardlinkTo) } : {}),
    ...(n.xattrs !== undefined && n.xattrs.size > 0
      ? {
          xattrs: Object.fromEntries(
            [...n.xattrs].sort(([p], [q]) => compareNames(p, q)).map(([k, v]) => [k, v.toString("base64")]),
          ),
        }
      : {}),
    layer: n.layer,
  };
}

function entryOf(n: ViewNode): DiffEntry {
  return { path: absolute(n.path), ...fileOf(n) };
}

/** Per view: regular-file inodes, their size, and whether a path that is not added/removed holds them. */
class InodeTally {
  readonly #size = new Map<number, number>();
  /** Inodes held at some path the diff lists (added or removed, depending on the side). */
  readonly #listed = new Set<number>();
  /** Inodes held at some other path. */
  readonly #kept = new Set<number>();
  /** Inodes of changed paths. */
  readonly #changed = new Set<number>();

  see(n: ViewNode, role: "listed" | "changed" | "same"): void {
    if (n.type !== "file") return;
    this.#size.set(n.ino, n.size);
    if (role === "listed") this.#listed.add(n.ino);
    else this.#kept.add(n.ino);
    if (role === "changed") this.#changed.add(n.ino);
  }

  total(): number {
    let t = 0;
    for (const s of this.#size.values()) t += s;
    return t;
  }

  listedBytes(): number {
    let t = 0;
    for (const ino of this.#listed) if (!this.#kept.has(ino)) t += this.#size.get(ino)!;
    return t;
  }

  changedBytes(): number {
    let t = 0;
    for (const ino of this.#changed) t += this.#size.get(ino)!;
    return t;
  }
}

/**
 * Compare two squashed views (A the old, B the new), both built with `digests: true` (E_USAGE otherwise, at
 * the first pair of regular files to compare). One merged walk over both, in the views' depth-first order.
 */
export function diffViews(a: SquashedView<unknown>, b: SquashedView<unknown>): ImageDiff {
  const added: DiffEntry[] = [];
  const removed: DiffEntry[] = [];
  const changed: DiffChanged[] = [];
  let unchanged = 0;
  const ta = new InodeTally();
  const tb = new InodeTally();
  const wa = a.walk();
  const wb = b.walk();
  // Both walks start with the root.
  let x: ViewNode | undefined = wa.next().value;
  let y: ViewNode | undefined = wb.next().value;
  while (x !== undefined || y !== undefined) {
    const order =
      x === undefined
        ? 1
        : y === undefined
          ? -1
          : x.path === y.path
            ? 0
            : x.path === "."
              ? -1
              : y.path === "."
                ? 1
                : treeOrder(x.path, y.path);
    if (order < 0) {
      removed.push(entryOf(x!));
      ta.see(x!, "listed");
      x = wa.next().value;
    } else if (order > 0) {
      added.push(entryOf(y!));
      tb.see(y!, "listed");
      y = wb.next().value;
    } else {
      const changes = changesOf(x!, y!);
      if (changes.length === 0) {
        unchanged++;
        ta.see(x!, "same");
        tb.see(y!, "same");
      } else {
        changed.push({ path: absolute(x!.path), changes, before: fileOf(x!), after: fileOf(y!) });
        ta.see(x!, "changed");
        tb.see(y!, "changed");
      }
      x = wa.next().value;
      y = wb.next().value;
    }
  }
  const byPath = (p: { path: string }, q: { path: string }) => compareNames(p.path, q.path);
  added.sort(byPath);
  removed.sort(byPath);
  changed.sort(byPath);
  return {
    added,
    removed,
    changed,
    summary: {
      added: added.length,
      removed: removed.length,
      changed: changed.length,
      unchanged,
      addedBytes: tb.listedBytes(),
      removedBytes: ta.listedBytes(),
      changedBytes: tb.changedBytes() - ta.changedBytes(),
      totalBytes: { a: ta.total(), b: tb.total() },
    },
  };
}

export interface DiffImagesOptions {
  /** Platform to pick from a multi-platform image (default: the host's), for both images. */
  platform?: Platform | undefined;
  signal?: AbortSignal | undefined;
}

/** One image to diff, wherever it was opened from: what names it and its layers (base first). */
export interface DiffSide {
  info: ExplorerImageInfo;
  layers: LayerSource[];
}

/**
 * Diff two images given by their layers: both views are built side by side (`digests: true`, every layer
 * verified against its DiffID), and when one build fails the other is stopped and the first failure thrown.
 * The same layer chain on both sides (same DiffIDs) is read once. Source-independent: the store, a registry or
 * an archive opener hands in the layers (and keeps them readable until this returns).
 */
export async function diffImages(
  a: DiffSide,
  b: DiffSide,
  opts: { signal?: AbortSignal | undefined } = {},
): Promise<ImagesDiff> {
  const { signal } = opts;
  signal?.throwIfAborted();
  const ac = new AbortController();
  const stop = () => ac.abort(signal?.reason);
  signal?.addEventListener("abort", stop, { once: true });
  try {
    const same =
      a.layers.length === b.layers.length && a.layers.every((l, i) => l.diffId === b.layers[i]!.diffId);
    // The first failure is the one reported; it stops the other build, which then fails with it.
    let failed: { error: unknown } | undefined;
    const build = async (layers: LayerSource[]) => {
      try {
        return await buildView(layers, { digests: true, signal: ac.signal });
      } catch (e) {
        failed ??= { error: e };
        ac.abort(e);
        throw e;
      }
    };
    const va = build(a.layers);
    const vb = same ? va : build(b.layers);
    // allSettled, so that a failure never leaves the other build running unobserved.
    const [ra, rb] = await Promise.allSettled([va, vb]);
    if (ra.status === "rejected" || rb.status === "rejected") throw failed!.error;
    return { a: a.info, b: b.info, ...diffViews(ra.value, rb.value) };
  } finally {
    signal?.removeEventListener("abort", stop);
  }
}

function storeSide(store: Store, input: string, img: OpenedImage): DiffSide {
  return {
    info: {
      source: input,
      name: img.name ?? null,
      digest: img.manifest.digest,
      id: img.config.digest,
      platform: formatPlatform(img.config.config),
    },
    layers: imageLayers(store, img),
  };
}

/**
 * Diff two images of the store (name, ID or digest each): both are resolved first (E_NOT_FOUND before any
 * layer is read), then compared with `diffImages`.
 */
export async function diffStoreImages(
  store: Store,
  a: string,
  b: string,
  opts: DiffImagesOptions = {},
): Promise<ImagesDiff> {
  const ia = storeSide(store, a, await openImage(store, a, opts.platform));
  const ib = storeSide(store, b, await openImage(store, b, opts.platform));
  return diffImages(ia, ib, { signal: opts.signal });
}
