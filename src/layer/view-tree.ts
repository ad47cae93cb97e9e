/**
 * The in-memory filesystem tree behind the squashed view (`view.ts`): layers applied entry by entry with the
 * unpacker's semantics (extraction-rules.md R3-R10, R17, whiteouts), but nothing is written anywhere and no file
 * data is kept, only where it is (layer + offset). Internal to src/layer; the public API is in view.ts.
 *
 * Model of umoci's extractor (oci/layer/tar_extract.go), which the rules name as the reference:
 * - Parent directories are resolved in-root through symlinks (securejoin semantics: absolute targets re-rooted,
 *   '..' clamped at the root, missing or non-directory components taken literally), the final component never.
 * - `upper` marks every node this layer created and every ancestor of one (umoci's `upperPaths`); whiteouts and
 *   opaque markers remove only unmarked nodes, walking down through marked directories. So a whiteout never
 *   hides a same-layer entry, whatever the order, and an opaque marker acts as if first.
 *
 * Decisions where the rules leave room (the unpacker must do the same; view-oracle.test.ts checks umoci 0.4.7):
 * - A lower directory that this layer writes into and that a same-layer whiteout or opaque marker then clears
 *   keeps its lower metadata (umoci); only its lower children go. Were the marker first in the tar, the
 *   directory would be removed and re-created implicitly (0755 root:root), so the metadata is order-dependent.
 * - R10: a non-directory met as a parent is replaced by a 0755 root:root directory, also through a symlink to a
 *   file (`S l -> /etc/passwd; F l/x` makes etc/passwd a directory). umoci 0.4.7 fails with ENOTDIR instead.
 * - Implicit directories have mtime 0 in the view (on disk: the unpack time). Directory times are never changed by
 *   what happens inside them (R14); umoci leaves the unpack time on a directory whose implicit child it created
 *   or whose children an opaque marker of its parent removed.
 * - Symlink resolution: 40 symlinks at most (ELOOP -> E_LAYER_INVALID, details.errno "ELOOP"). Empty symlink
 *   targets, device numbers >= 2^32 and names that are not UTF-8 are refused (view.ts), as apply.ts does.
 * - Hard links (as apply.ts): the target is resolved first and must exist and not be a directory or the root;
 *   a link to itself, or to something that making its parents (R10) or clearing its path (R6) removes, is
 *   refused. All E_LAYER_INVALID. umoci clears the path first and resolves the target after.
 * - Directory over directory adds the entry's xattrs to the existing ones (apply.ts, containerd, moby); umoci
 *   replaces the set.
 * - AUFS `.wh..wh.*` names are ignored (paths.ts); umoci would create them.
 */
import { loopError, MAX_SYMLINK_HOPS } from "../_internal/rootpath.ts";
import type { Digest } from "../digest/index.ts";
import { OslessError } from "../errors.ts";
import type { TarType } from "../tar/index.ts";
import { printable } from "./paths.ts";

/** Symlinks followed while resolving one path before ELOOP (Linux MAXSYMLINKS). */
export { MAX_SYMLINK_HOPS };

interface Rare {
  linkTarget: string | undefined;
  hardlinkTo: string | undefined;
  devmajor: number | undefined;
  devminor: number | undefined;
  xattrs: Map<string, Buffer> | undefined;
}

/** Per-node state. Public fields are what `ViewNode` exposes; `parent`, `children`, `upper` are internal. */
export class TreeNode {
  path: string;
  type: TarType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  /**
   * What few nodes have (a link target, device numbers, xattrs), in one object made when one of them is set: an
   * image holds a node per path, and five slots each for these cost ~6 MB per 200k paths. Read and written
   * through the accessors below.
   */
  #rare: Rare | undefined;
  layer: number;
  addedIn: number;
  /** Layer holding the data of a regular file (-1: none) and the data's offset in that layer's tar. */
  contentLayer: number;
  contentOffset: number;
  digest: Digest | undefined;
  /** Inode number within the view: hard links share it. */
  ino: number;
  parent: TreeNode | undefined;
  children: Map<string, TreeNode> | undefined;
  /** Index of the last layer that created this node or something below it (umoci's upperPaths). */
  upper: number;
  /** With after states: the change whose `after` is this node (until a later layer touches the path). */
  lastChange: LayerChange | undefined;

  constructor(path: string, type: TarType, layer: number, addedIn: number, ino: number) {
    this.path = path;
    this.type = type;
    this.mode = 0o755;
    this.uid = 0;
    this.gid = 0;
    this.size = 0;
    this.mtime = 0;
    this.#rare = undefined;
    this.layer = layer;
    this.addedIn = addedIn;
    this.contentLayer = -1;
    this.contentOffset = 0;
    this.digest = undefined;
    this.ino = ino;
    this.parent = undefined;
    this.children = type === "directory" ? new Map() : undefined;
    this.upper = -1;
    this.lastChange = undefined;
  }

  #set<K extends keyof Rare>(key: K, value: Rare[K]): void {
    if (value === undefined && this.#rare === undefined) return;
    this.#rare ??= {
      linkTarget: undefined,
      hardlinkTo: undefined,
      devmajor: undefined,
      devminor: undefined,
      xattrs: undefined,
    };
    this.#rare[key] = value;
  }

  get linkTarget(): string | undefined {
    return this.#rare?.linkTarget;
  }
  set linkTarget(v: string | undefined) {
    this.#set("linkTarget", v);
  }
  get hardlinkTo(): string | undefined {
    return this.#rare?.hardlinkTo;
  }
  set hardlinkTo(v: string | undefined) {
    this.#set("hardlinkTo", v);
  }
  get devmajor(): number | undefined {
    return this.#rare?.devmajor;
  }
  set devmajor(v: number | undefined) {
    this.#set("devmajor", v);
  }
  get devminor(): number | undefined {
    return this.#rare?.devminor;
  }
  set devminor(v: number | undefined) {
    this.#set("devminor", v);
  }
  get xattrs(): Map<string, Buffer> | undefined {
    return this.#rare?.xattrs;
  }
  set xattrs(v: Map<string, Buffer> | undefined) {
    this.#set("xattrs", v);
  }

  get content(): { layer: number; offset: number; size: number } | undefined {
    return this.contentLayer < 0
      ? undefined
      : { layer: this.contentLayer, offset: this.contentOffset, size: this.size };
  }

  /** The public fields only (no parent/children cycle); xattr values as base64. */
  toJSON(): Record<string, unknown> {
    const o: Record<string, unknown> = {
      path: this.path,
      type: this.type,
      mode: this.mode,
      uid: this.uid,
      gid: this.gid,
      size: this.size,
      mtime: this.mtime,
    };
    if (this.linkTarget !== undefined) o.linkTarget = this.linkTarget;
    if (this.hardlinkTo !== undefined) o.hardlinkTo = this.hardlinkTo;
    if (this.devmajor !== undefined) o.devmajor = this.devmajor;
    if (this.devminor !== undefined) o.devminor = this.devminor;
    if (this.xattrs !== undefined) {
      o.xattrs = Object.fromEntries([...this.xattrs].map(([k, v]) => [k, v.toString("base64")]));
    }
    o.layer = this.layer;
    o.addedIn = this.addedIn;
    o.ino = this.ino;
    if (this.contentLayer >= 0) o.content = this.content;
    if (this.digest !== undefined) o.digest = this.digest;
    return o;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): Record<string, unknown> {
    return this.toJSON();
  }

  /** The last path component ("." for the root). */
  get name(): string {
    return this.path.slice(this.path.lastIndexOf("/") + 1);
  }
}

/** What one entry sets on the node it creates (a TarHeader's fields, copied: headers are not kept). */
export interface EntryMeta {
  type: TarType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkpath: string;
  devmajor: number;
  devminor: number;
  xattrs: Map<string, Buffer> | undefined;
}

/**
 * State of a path at the start of the layer that touched it, recorded on first touch. A path that did not exist
 * then is recorded as a plain number, the bytes stored for it (no object for what most entries of a layer are).
 */
interface Touch {
  /** A snapshot: a merged directory is the same node, changed. */
  before: ChangeBefore | undefined;
  /** The node's addedIn then. */
  addedIn: number;
  /** Bytes this layer's entries store for the path. */
  bytes: number;
}

export type ChangeKind = "added" | "modified" | "removed";

export interface LayerChange {
  path: string;
  kind: ChangeKind;
  /** The type after the layer (before it, for "removed"). A hard link shows its target's type. */
  type: TarType;
  /** Bytes this layer stores for the path (regular-file data of its entries at that path). */
  size: number;
  /** For "modified" and "removed": the node as it was below this layer. */
  before?: ChangeBefore | undefined;
  /**
   * With `buildView(..., { afterStates: true })`, for "added" and "modified": the node as the layer left it — the
   * node itself (a ViewNode) while no later layer touched the path, else a snapshot (that layer's `before`).
   */
  after?: ChangeBefore | undefined;
}

/**
 * A node as it was before a layer changed it: enough to attribute waste (overwritten, deleted) and to tell a
 * metadata-only rewrite (same digest, other mode/owner) from a content change.
 */
export interface ChangeBefore {
  type: TarType;
  /** File size (0 for non-files). */
  size: number;
  /** The layer that defined it. */
  layer: number;
  mode: number;
  uid: number;
  gid: number;
  /** sha256 of a regular file, when known (built with `digests: true`). */
  digest?: Digest | undefined;
  /** Symlinks: the target, verbatim. Hard links: the path linked to. */
  linkTarget?: string | undefined;
  hardlinkTo?: string | undefined;
  /** Inode within the view (hard links share it). */
  ino: number;
  /** Regular files: where the bytes are (the layer and the data's offset in its uncompressed tar). */
  content?: { layer: number; offset: number } | undefined;
}

/** The state of a node, as LayerChange records it before and after a layer. */
function snapshot(n: TreeNode): ChangeBefore {
  const { type, size, layer, mode, uid, gid, digest, ino } = n;
  const s: ChangeBefore = { type, size, layer, mode, uid, gid, ino };
  if (digest !== undefined) s.digest = digest;
  if (n.linkTarget !== undefined) s.linkTarget = n.linkTarget;
  if (n.hardlinkTo !== undefined) s.hardlinkTo = n.hardlinkTo;
  if (n.contentLayer >= 0) s.content = { layer: n.contentLayer, offset: n.contentOffset };
  return s;
}

/** A UTF-16 code unit's rank in UTF-8 byte order: surrogates (code points past U+FFFF) sort after U+E000-U+FFFF. */
function utf8Rank(c: number): number {
  return c < 0xd800 ? c : c < 0xe000 ? c + 0x2000 : c - 0x800;
}

/** Byte order of UTF-8 (= code point order), which JS's UTF-16 `<` differs from only around surrogates. */
export function compareNames(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return utf8Rank(x) - utf8Rank(y);
  }
  return a.length - b.length;
}

/**
 * Paths in tree order (depth first, children in UTF-8 byte order), i.e. compared component by component: byte
 * order with "/" below every other byte. No allocation (callers sort every path of an image).
 */
export function comparePaths(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x === 0x2f) return -1;
    if (y === 0x2f) return 1;
    return utf8Rank(x) - utf8Rank(y);
  }
  return a.length - b.length;
}

export class Tree {
  readonly root: TreeNode;
  /** Nodes in the tree, the root included. */
  #count = 1;
  /**
   * The directory last looked up by path, and its path: entries come directory by directory, so most lookups
   * are this one. Paths are found through the children maps (no map of every path: two strings and a slot per
   * node, and its growth). Forgotten when anything is removed.
   */
  #lastDir: TreeNode | undefined;
  #lastDirPath: string | undefined;
  #ino = 1;
  /** Layer being applied and the paths it touched. */
  #layer = -1;
  #touched = new Map<string, Touch | number>();
  readonly #afterStates: boolean;

  /** `afterStates`: changes record the state each layer left a node in (LayerChange.after). */
  constructor(afterStates = false) {
    this.#afterStates = afterStates;
    // The root exists before any layer; it counts as the base layer's until an entry "." sets its metadata.
    this.root = new TreeNode(".", "directory", 0, 0, this.#ino++);
  }

  /** Number of nodes, the root included. */
  get size(): number {
    return this.#count;
  }

  /** The node at exactly `path` (normalised; "." is the root), symlinks not followed. */
  get(path: string): TreeNode | undefined {
    if (path === ".") return this.root;
    if (path === this.#lastDirPath) return this.#lastDir;
    const slash = path.lastIndexOf("/");
    if (slash < 0) return this.root.children!.get(path);
    const dir = path.slice(0, slash);
    const parent = dir === this.#lastDirPath ? this.#lastDir : this.#walk(dir);
    const n = parent?.children?.get(path.slice(slash + 1));
    if (n?.children !== undefined) {
      this.#lastDir = n;
      this.#lastDirPath = path;
    } else if (parent?.children !== undefined && parent !== this.#lastDir) {
      this.#lastDir = parent;
      this.#lastDirPath = dir;
    }
    return n;
  }

  /** The node at `path` (not "."), component by component from the root. */
  #walk(path: string): TreeNode | undefined {
    let n = this.root;
    let from = 0;
    for (;;) {
      const slash = path.indexOf("/", from);
      const next = n.children?.get(slash < 0 ? path.slice(from) : path.slice(from, slash));
      if (next === undefined) return undefined;
      if (slash < 0) return next;
      n = next;
      from = slash + 1;
    }
  }

  /** Every node, the root first, each directory before what is below it (children in map order). */
  *all(): IterableIterator<TreeNode> {
    const stack: TreeNode[] = [this.root];
    while (stack.length > 0) {
      const n = stack.pop()!;
      yield n;
      if (n.children !== undefined) for (const c of n.children.values()) stack.push(c);
    }
  }

  beginLayer(index: number): void {
    this.#layer = index;
    this.#touched = new Map();
  }

  /** The layer's changes, sorted by path; ends the layer. */
  endLayer(): LayerChange[] {
    const out: LayerChange[] = [];
    for (const [path, t] of this.#touched) {
      const after = this.get(path);
      const fresh = typeof t === "number";
      const b = fresh ? undefined : t.before;
      if (b === undefined && after === undefined) continue; // created and removed again within the layer
      const kind: ChangeKind = b === undefined ? "added" : after === undefined ? "removed" : "modified";
      const type = (after ?? b)!.type;
      const size = fresh ? t : t.bytes;
      // Each record is made with all its fields at once: a field added later would move them all to a second
      // object (a record per path of the image).
      let c: LayerChange;
      if (this.#afterStates && after !== undefined) {
        // The node itself stands for the state this layer left until a later layer touches the path: then
        // #touch puts its snapshot (that layer's `before`, the same object) here instead. No copy per node.
        c =
          b === undefined ? { path, kind, type, size, after } : { path, kind, type, size, before: b, after };
        after.lastChange = c;
      } else c = b === undefined ? { path, kind, type, size } : { path, kind, type, size, before: b };
      out.push(c);
    }
    this.#touched = new Map();
    return out.sort((x, y) => compareNames(x.path, y.path));
  }

  #touch(path: string, current: TreeNode | undefined): void {
    if (this.#touched.has(path)) return;
    if (current === undefined) {
      this.#touched.set(path, 0);
      return;
    }
    const before = snapshot(current);
    if (current.lastChange !== undefined) {
      current.lastChange.after = before;
      current.lastChange = undefined;
    }
    this.#touched.set(path, { before, addedIn: current.addedIn, bytes: 0 });
  }

  /** Count `bytes` stored by this layer for `path` (touched already). */
  #stored(path: string, bytes: number): void {
    const t = this.#touched.get(path)!;
    if (typeof t === "number") this.#touched.set(path, t + bytes);
    else t.bytes += bytes;
  }

  /** addedIn for a node created now at `path` (touched already): kept when the path existed before the layer. */
  #addedIn(path: string): number {
    const t = this.#touched.get(path);
    return t === undefined || typeof t === "number" ? this.#layer : t.addedIn;
  }

  /**
   * Resolve `path` (a normalised path, or a symlink target's continuation) in-root, following every symlink
   * met, including a final one. Returns the resolved components (missing and non-directory components are kept
   * literally, as securejoin does) and the node there if it exists. Throws ELOOP after 40 symlinks.
   */
  resolveAll(path: string, what: string = path): { parts: string[]; node: TreeNode | undefined } {
    const pending = path.split("/").reverse();
    const parts: string[] = [];
    const chain: (TreeNode | undefined)[] = [this.root];
    let hops = 0;
    while (pending.length > 0) {
      const c = pending.pop()!;
      if (c === "" || c === ".") continue;
      if (c === "..") {
        if (parts.length > 0) {
          parts.pop();
          chain.pop();
        }
        continue;
      }
      const at = chain[chain.length - 1];
      const next = at?.children?.get(c);
      if (next !== undefined && next.type === "symlink") {
        if (++hops > MAX_SYMLINK_HOPS) throw loopError(what);
        const target = next.linkTarget!;
        if (target.startsWith("/")) {
          parts.length = 0;
          chain.length = 1;
        }
        const more = target.split("/");
        for (let i = more.length - 1; i >= 0; i--) pending.push(more[i]!);
        continue;
      }
      parts.push(c);
      chain.push(next);
    }
    return { parts, node: chain[chain.length - 1] };
  }

  /** The in-root path of directory `dir` (normalised): the parent of an entry, whiteout or link target. */
  resolveDir(dir: string, what: string): string {
    const direct = this.get(dir);
    // A node exists only below real directories, so an existing directory at `dir` has no symlink above it.
    if (direct !== undefined && direct.type === "directory") return dir;
    const { parts } = this.resolveAll(dir, what);
    return parts.length === 0 ? "." : parts.join("/");
  }

  /** R10: create missing directories of `dir` (0755 root:root); replace a non-directory on the way by one. */
  #mkdirAll(dir: string): TreeNode {
    if (dir === ".") return this.root;
    const direct = this.get(dir);
    if (direct !== undefined && direct.type === "directory") return direct;
    let cur = this.root;
    let path = ".";
    for (const c of dir.split("/")) {
      path = path === "." ? c : `${path}/${c}`;
      let next = cur.children!.get(c);
      if (next !== undefined && next.type !== "directory") {
        this.#touch(path, next);
        this.#remove(next);
        next = undefined;
      }
      if (next === undefined) {
        this.#touch(path, undefined);
        next = new TreeNode(path, "directory", this.#layer, this.#addedIn(path), this.#ino++);
        this.#attach(cur, c, next);
      }
      cur = next;
    }
    return cur;
  }

  #attach(parent: TreeNode, name: string, node: TreeNode): void {
    node.parent = parent;
    parent.children!.set(name, node);
    this.#count++;
  }

  /** Remove `node` and everything below it (links as links), recording each removal. */
  #remove(node: TreeNode): void {
    this.#lastDir = undefined;
    this.#lastDirPath = undefined;
    const stack = [node];
    while (stack.length > 0) {
      const n = stack.pop()!;
      this.#touch(n.path, n);
      this.#count--;
      if (n.children !== undefined) for (const c of n.children.values()) stack.push(c);
    }
    node.parent?.children?.delete(node.name);
    node.parent = undefined;
  }

  /** Mark `node` and its ancestors as created by the current layer (umoci's upperPaths). */
  #markUpper(node: TreeNode): void {
    let n: TreeNode | undefined = node;
    while (n !== undefined && n.upper !== this.#layer) {
      n.upper = this.#layer;
      n = n.parent;
    }
  }

  /**
   * `.wh.<name>` (target = dir/name) or `.wh..wh..opq` (opaque, target = dir): remove what lower layers put
   * there. Nodes this layer created (or created something below) are kept and walked into; for an opaque marker
   * the directory itself is kept. Under a dangling or missing parent, or a missing target: nothing happens.
   */
  whiteout(dir: string, name: string | undefined, what: string): void {
    const rdir = this.resolveDir(dir, what);
    const path = name === undefined ? rdir : rdir === "." ? name : `${rdir}/${name}`;
    const top = this.get(path);
    if (top === undefined) return;
    const opaque = name === undefined;
    const L = this.#layer;
    const visit = (n: TreeNode, isTop: boolean): void => {
      if (n.upper !== L && !(opaque && isTop)) {
        this.#remove(n);
        return;
      }
      if (n.children !== undefined) for (const c of [...n.children.values()]) visit(c, false);
    };
    visit(top, true);
  }

  /** Apply an ordinary entry whose normalised name is `clean` (R3, R4, R6, R7, R8, R10). */
  apply(clean: string, meta: EntryMeta, content: { offset: number; digest: Digest | undefined }): void {
    if (clean === ".") {
      // R3: a directory entry for the root sets its metadata; anything else would replace the root.
      if (meta.type !== "directory") {
        throw new OslessError(
          "E_TAR_UNSAFE_PATH",
          `layer entry "${clean}" would replace the root with a ${meta.type}`,
          {
            hint: "the layer tries to replace the root directory (CVE-2021-29136 class); do not use this image",
            details: { path: clean, type: meta.type },
          },
        );
      }
      this.#touch(".", this.root);
      mergeMeta(this.root, meta);
      this.root.layer = this.#layer;
      return;
    }
    // R8: a hard link's target must exist (and not be a directory) before anything else happens.
    const target = meta.type === "hardlink" ? this.#linkTarget(meta.linkpath, clean) : undefined;
    const slash = clean.lastIndexOf("/");
    const name = slash < 0 ? clean : clean.slice(slash + 1);
    const parentPath = slash < 0 ? "." : clean.slice(0, slash);
    const dir = this.resolveDir(parentPath, clean);
    // The entry's own name when no symlink moved it: one string per path, shared with the entry's other readers
    // (the layer's raw entries, the explorer's path index), instead of a concatenation per node.
    const path = dir === parentPath ? clean : dir === "." ? name : `${dir}/${name}`;
    if (target !== undefined && target.path === path)
      throw linkError(clean, meta.linkpath, "is itself", "EEXIST");
    const parent = this.#mkdirAll(dir);
    const existing = parent.children!.get(name);
    this.#touch(path, existing);
    if (meta.type === "file" && meta.size > 0) this.#stored(path, meta.size);
    if (existing !== undefined && existing.type === "directory" && meta.type === "directory") {
      // R6: directory over directory keeps the children and takes the entry's metadata.
      mergeMeta(existing, meta);
      existing.layer = this.#layer;
      this.#markUpper(existing);
      return;
    }
    if (existing !== undefined) this.#remove(existing); // R6/R17: last wins
    let node: TreeNode;
    if (target !== undefined) {
      // Making the parents (R10) or clearing the path (R6) may have removed the target: link(2) fails then.
      if (this.get(target.path) !== target) {
        throw linkError(clean, meta.linkpath, "was removed by this very entry", "ENOENT");
      }
      node = this.#link(path, target);
    } else {
      node = new TreeNode(path, meta.type, this.#layer, this.#addedIn(path), this.#ino++);
      setMeta(node, meta);
      if (meta.type === "symlink") node.linkTarget = meta.linkpath;
      else if (meta.type === "file") {
        node.size = meta.size;
        node.contentLayer = this.#layer;
        node.contentOffset = content.offset;
        node.digest = content.digest;
      } else if (meta.type === "char" || meta.type === "block") {
        node.devmajor = meta.devmajor;
        node.devminor = meta.devminor;
      }
    }
    this.#attach(parent, name, node);
    this.#markUpper(node);
  }

  /**
   * R8: the node a hard link names (`target` normalised, root-relative): its parent is resolved in-root, its
   * last component is not (a link to a symlink links the symlink). Missing, a directory or the root: refused.
   */
  #linkTarget(target: string, what: string): TreeNode {
    if (target === ".") throw linkError(what, target, "is the root directory", "EPERM");
    const slash = target.lastIndexOf("/");
    const tname = slash < 0 ? target : target.slice(slash + 1);
    const tdir = this.resolveDir(slash < 0 ? "." : target.slice(0, slash), what);
    const t = this.get(tdir === "." ? tname : `${tdir}/${tname}`);
    if (t === undefined) throw linkError(what, target, "does not exist", "ENOENT");
    if (t.type === "directory") throw linkError(what, target, "is a directory", "EPERM");
    return t;
  }

  /** A node at `path` sharing the inode of `t` as it is now: type, metadata, content and digest. */
  #link(path: string, t: TreeNode): TreeNode {
    const n = new TreeNode(path, t.type, this.#layer, this.#addedIn(path), t.ino);
    n.mode = t.mode;
    n.uid = t.uid;
    n.gid = t.gid;
    n.size = t.size;
    n.mtime = t.mtime;
    n.linkTarget = t.linkTarget;
    n.hardlinkTo = t.path;
    n.devmajor = t.devmajor;
    n.devminor = t.devminor;
    n.xattrs = t.xattrs;
    n.contentLayer = t.contentLayer;
    n.contentOffset = t.contentOffset;
    n.digest = t.digest;
    return n;
  }

  /** Children maps in name order, so that listing and walking need no sorting. */
  sortChildren(): void {
    for (const n of this.all()) {
      const ch = n.children;
      if (ch === undefined || ch.size < 2) continue;
      let prev: string | undefined;
      let sorted = true;
      for (const k of ch.keys()) {
        if (prev !== undefined && compareNames(prev, k) > 0) {
          sorted = false;
          break;
        }
        prev = k;
      }
      if (sorted) continue;
      const entries = [...ch].sort((a, b) => compareNames(a[0], b[0]));
      ch.clear();
      for (const [k, v] of entries) ch.set(k, v);
    }
  }
}

function linkError(path: string, linkpath: string, why: string, errno: string): OslessError {
  return new OslessError(
    "E_LAYER_INVALID",
    `layer entry "${printable(path)}" is a hard link whose target "${printable(linkpath)}" ${why}`,
    {
      hint: "a hard link must name a non-directory that an earlier entry (or lower layer) created; the layer is corrupt or hostile",
      details: { path, linkpath, errno },
    },
  );
}

/**
 * Directory over directory (R6) and the root entry: mode, owner and times from the entry; xattrs are added to
 * the existing ones (a name in the entry replaces its value, the others stay), as apply.ts, containerd and moby
 * do (setxattr for each header record, nothing cleared). umoci clears them first.
 */
function mergeMeta(n: TreeNode, m: EntryMeta): void {
  const old = n.xattrs;
  setMeta(n, m);
  if (old !== undefined && m.xattrs !== undefined) n.xattrs = new Map([...old, ...m.xattrs]);
  else n.xattrs = m.xattrs ?? old;
}

function setMeta(n: TreeNode, m: EntryMeta): void {
  n.mode = m.mode;
  n.uid = m.uid;
  n.gid = m.gid;
  n.mtime = m.mtime;
  n.xattrs = m.xattrs;
}
