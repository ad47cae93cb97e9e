/**
 * Apply one layer's uncompressed tar onto a directory, following every rule of extraction-rules.md: nothing
 * outside ROOT is created, modified, chmod'ed, chown'ed, re-timed or deleted, whatever the archive holds.
 *
 * How the rules map to this file:
 * - Names (R1-R3, R21): `normalizeEntryPath` (lexical clean, refuse `..` escapes, limits) and `entryRole`
 *   (whiteouts). Names that are not valid UTF-8 are refused (E_TAR_UNSUPPORTED): Node's string paths cannot
 *   carry them, and carrying Buffer paths through every step for names no real image uses is not worth the
 *   risk of a second code path; the refusal is explicit rather than a silent U+FFFD rename.
 * - Every entry is resolved afresh under ROOT with `resolveInRoot` (R4, R5): parents followed with chroot
 *   semantics, the final component never. Missing parents become 0755 directories, a non-directory parent is
 *   replaced (R10). The final component is created first (files O_CREAT|O_EXCL|O_NOFOLLOW, mkdir, symlink, link,
 *   mknod: none follows a symlink there); only when that fails with EEXIST does R6 remove what is there (a
 *   directory over a directory is merged instead) and the creation runs again.
 * - Whiteouts (R9) never hide this layer's own entries: `upper` holds the resolved paths this layer created
 *   (and their ancestors), and removal walks skip them, so `.wh.x` and opaque markers act as if they came first
 *   in the tar, wherever they sit (as umoci does).
 * - `whiteouts: "overlay"` (one layer unpacked alone into an empty directory that becomes an overlayfs lower
 *   dir) stores whiteouts the way overlayfs reads them instead of applying them: `.wh.x` becomes a 0:0 character
 *   device at x, an opaque marker the xattr `trusted.overlay.opaque=y` on its directory (see `overlayWhiteout`).
 * - Metadata: lchown, then chmod (R12; chown clears setuid), then xattrs (R13; chown also clears
 *   security.capability), then times (R14). Directory modes and times are set at the end of the layer, deepest
 *   first, after all their children (a 0555 directory can still receive its children); directories this layer
 *   only touched (created or removed something in) get their previous times back.
 *
 * The filesystem calls are synchronous on purpose: an entry costs a few cheap syscalls, and the async API
 * would add a thread-pool round trip to each. `breathe()` gives the event loop a turn about every millisecond
 * of that work, so that the read-ahead's decompressor keeps going. Node has no mknod/mkfifo: device nodes and
 * FIFOs are made by coreutils `mknod`, one process each (rare in images).
 */
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmdirSync,
  type Stats,
  symlinkSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { fsError, type InRootPath, makeParents, resolveInRoot } from "../_internal/rootpath.ts";
import { systemTool } from "../_internal/which.ts";
import { setXattr, XattrError, xattrSupport } from "../_internal/xattr.ts";
import { OslessError } from "../errors.ts";
import type { TarEntry, TarHeader } from "../tar/index.ts";
import { readTar } from "../tar/index.ts";
import {
  checkEntryUtf8,
  entryRole,
  invalidEntry,
  joinClean,
  normalizeEntryPath,
  parentOf,
  printable,
} from "./paths.ts";
import type { LayerLimits } from "./source.ts";

export interface ApplyWarning {
  /**
   * Stable code: W_DEVICE_SKIPPED, W_XATTR_REFUSED, W_XATTR_UNSUPPORTED, W_XATTR_SKIPPED, W_FIFO_SKIPPED, W_TIMES,
   * W_DEVICE_IS_WHITEOUT (overlay whiteouts: the layer's own 0:0 character device reads as a whiteout).
   */
  code: string;
  /** The entry's name in the layer. */
  path: string;
  message: string;
}

/** A warning as one line: "<path>: <message>" (the message alone when it already starts with the path). */
export function warningText(w: ApplyWarning): string {
  const path = printable(w.path);
  return w.message.startsWith(path) ? w.message : `${path}: ${w.message}`;
}

export interface ApplyOptions {
  /** maxEntries (passed to the tar reader), maxDepth (components per name). */
  limits?: LayerLimits | undefined;
  /**
   * Act as real root: chown, device nodes, security.capability. Default: process.getuid?.() === 0 and not
   * inside a user namespace (check /proc/self/uid_map).
   */
  privileged?: boolean | undefined;
  onWarning?: ((w: ApplyWarning) => void) | undefined;
  signal?: AbortSignal | undefined;
  /**
   * What whiteouts do. "apply" (default): remove what they name from the tree below (the layers are applied one
   * over the other into one directory). "overlay": the layer is unpacked alone into an empty directory that
   * becomes an overlayfs lower dir, and its whiteouts are stored as overlayfs reads them: `.wh.NAME` makes NAME a
   * 0:0 character device (mode 0), `.wh..wh..opq` sets `trusted.overlay.opaque=y` on its directory (made if
   * missing). Needs privilege (root outside a user namespace, and `privileged` not false): E_DENIED otherwise.
   */
  whiteouts?: "apply" | "overlay" | undefined;
}

export interface ApplyResult {
  /** Tar entries read (whiteout markers and ignored AUFS entries included). */
  entries: number;
  /** Regular-file data bytes written. */
  bytes: number;
  /** Whiteout and opaque markers applied. */
  whiteouts: number;
  warnings: number;
}

/** Real root outside a user namespace: uid 0 and /proc/self/uid_map maps the whole range identically. */
export function isPrivileged(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    const map = readFileSync("/proc/self/uid_map", "utf8").trim().split(/\s+/);
    return map.length === 3 && map[0] === "0" && map[1] === "0" && map[2] === "4294967295";
  } catch {
    // No /proc: nothing says we are in a user namespace.
    return true;
  }
}

// libuv adds O_CLOEXEC itself.
const OPEN_NEW_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const DEV_LIMIT = 2 ** 32;
/** xattrs that are never applied, whatever the privilege (R13). */
const NEVER_XATTRS = new Set(["security.selinux", "system.nfs4_acl"]);

interface DirMeta {
  mode: number;
  atime: number;
  mtime: number;
}

interface Times {
  atime: number;
  mtime: number;
}

/**
 * Apply one layer's uncompressed tar stream onto `root` (a directory osless created), following every rule of
 * extraction-rules.md. Reads the stream to its end. On an error the tree is left half-applied (directory modes
 * and times not yet set): `unpackLayers` discards it, other callers must too.
 */
export async function applyLayer(
  tar: AsyncIterable<Uint8Array>,
  root: string,
  opts: ApplyOptions = {},
): Promise<ApplyResult> {
  const applier = new Applier(root, opts);
  const maxEntries = opts.limits?.maxEntries;
  // A layer that ends right after its last entry's data (umoci 0.4.7) is read as complete by readTar itself.
  for await (const entry of readTar(readAhead(tar), { maxEntries })) {
    opts.signal?.throwIfAborted();
    await applier.entry(entry);
    await applier.breathe();
  }
  applier.finish();
  return applier.result;
}

/** Bytes of the tar stream read ahead of the applier. */
const READ_AHEAD_BYTES = 16 * 1024 * 1024;

/**
 * Keep pulling `source` while the consumer works, up to `maxBytes` ahead. The decompressor runs on the thread
 * pool but only starts its next block from an event-loop callback; with the applier's synchronous filesystem
 * calls in between (and `breathe`), the two run side by side instead of taking turns. Errors of the source
 * surface at the position they happened.
 */
export async function* readAhead(
  source: AsyncIterable<Uint8Array>,
  maxBytes = READ_AHEAD_BYTES,
): AsyncGenerator<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  const queue: Uint8Array[] = [];
  let queued = 0;
  /** The pump has stopped (source ended, failed, or the consumer stopped). */
  let done = false;
  /** The source reported its end. */
  let ended = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  let space: (() => void) | undefined;
  let stopped = false;
  const pump = (async () => {
    try {
      while (!stopped) {
        if (queued >= maxBytes) {
          await new Promise<void>((r) => {
            space = r;
          });
          continue;
        }
        const r = await it.next();
        if (r.done) {
          ended = true;
          break;
        }
        queue.push(r.value);
        queued += r.value.length;
        wake?.();
      }
    } catch (e) {
      failure = { error: e };
    } finally {
      done = true;
      wake?.();
    }
  })();
  try {
    for (;;) {
      if (queue.length === 0) {
        if (failure) throw failure.error;
        if (done) return;
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
        continue;
      }
      const c = queue.shift()!;
      queued -= c.length;
      space?.();
      space = undefined;
      yield c;
    }
  } finally {
    // Here the consumer is done (read to the end, failed, or stopped early). Stop the pump: it finishes the pull
    // in flight, if any. A source that neither ended nor failed is then closed (its resources released).
    stopped = true;
    space?.();
    await pump;
    if (!ended && failure === undefined) await it.return?.();
  }
}

class Applier {
  readonly root: string;
  readonly privileged: boolean;
  readonly maxDepth: number | undefined;
  readonly onWarning: ((w: ApplyWarning) => void) | undefined;
  readonly result: ApplyResult = { entries: 0, bytes: 0, whiteouts: 0, warnings: 0 };
  /**
   * Resolved paths this layer created or merged, and all their ancestors: never hidden by its whiteouts.
   * Built on the first whiteout from `created` (most layers have none, and a Set of every path costs).
   */
  #upper: Set<string> | undefined;
  readonly #created: string[] = [];
  /** Directories of this layer: mode and times, applied at the end. */
  readonly dirMeta = new Map<string, DirMeta>();
  /** Directories made as missing parents in this layer (their times are "now"; nothing to restore). */
  readonly madeDirs = new Set<string>();
  /** Lower directories this layer changed the contents of: their times before, restored at the end. */
  readonly lowerTimes = new Map<string, Times>();
  /** Lower directories made writable for an unprivileged extraction: their modes, restored at the end. */
  readonly lowerModes = new Map<string, number>();
  #enotsupWarned = false;
  #noAddonWarned = false;
  /** Overlay whiteouts: store them for overlayfs instead of applying them. */
  readonly overlay: boolean;
  /**
   * Overlay whiteouts: resolved paths this layer whited out or marked opaque. Each one that is a directory at the
   * end of the layer gets `trusted.overlay.opaque=y` (see `overlayWhiteout`).
   */
  readonly opaqueIfDir = new Set<string>();

  constructor(root: string, opts: ApplyOptions) {
    let real: string;
    try {
      real = realpathSync(root);
    } catch (e) {
      throw fsError(e, root, "open the extraction directory");
    }
    if (!lstatSync(real).isDirectory()) {
      throw new OslessError("E_IO", `${root} is not a directory`, { details: { path: root } });
    }
    this.root = real;
    this.privileged = opts.privileged ?? isPrivileged();
    this.maxDepth = opts.limits?.maxDepth;
    this.onWarning = opts.onWarning;
    this.overlay = opts.whiteouts === "overlay";
    if (this.overlay && !(this.privileged && isPrivileged())) {
      throw new OslessError(
        "E_DENIED",
        `cannot unpack a layer with overlay whiteouts into ${root}: whiteout device nodes and trusted.* xattrs need real root outside a user namespace`,
        {
          hint: "run as root (not in a user namespace), or unpack the image's layers into one directory instead (the copy fallback)",
          details: { path: root },
        },
      );
    }
    if (this.overlay && !xattrSupport()) {
      throw new OslessError(
        "E_IO",
        `cannot unpack a layer with overlay whiteouts into ${root}: opaque directories need extended attributes, and the optional package @napi-rs/xattr is not installed`,
        {
          hint: "install osless's optional dependency @napi-rs/xattr (npm install)",
          details: { path: root },
        },
      );
    }
  }

  #lastTurn = performance.now();

  /**
   * Give the event loop a turn about every millisecond of synchronous work, so that the read-ahead's
   * decompressor (thread pool) can hand over its block and start the next one while we keep writing.
   */
  async breathe(): Promise<void> {
    const now = performance.now();
    if (now - this.#lastTurn < 1) return;
    await new Promise<void>((r) => setImmediate(r));
    this.#lastTurn = performance.now();
  }

  warn(code: string, path: string, message: string): void {
    this.result.warnings++;
    this.onWarning?.({ code, path, message });
  }

  async entry(e: TarEntry): Promise<void> {
    const h = e.header;
    this.result.entries++;
    checkEntryUtf8(h);
    const clean = normalizeEntryPath(h.path, this.maxDepth);
    const role = entryRole(clean);
    switch (role.kind) {
      case "ignored":
        return;
      case "whiteout":
        this.result.whiteouts++;
        if (this.overlay) this.overlayWhiteout(role.target);
        else this.whiteout(role.target);
        return;
      case "opaque":
        this.result.whiteouts++;
        if (this.overlay) this.overlayOpaque(role.dir);
        else this.opaque(role.dir);
        return;
      case "normal":
        break;
    }
    if (clean === ".") {
      this.rootEntry(h);
      return;
    }
    await this.create(clean, h, e);
  }

  // --- whiteouts (R9) ----------------------------------------------------------------------------------------

  /** `.wh.<name>`: remove `target` (resolved in-root, final not followed) unless this layer made it. */
  whiteout(target: string): void {
    const r = resolveInRoot(this.root, target);
    if (r.missingFrom >= 0 || r.stat === undefined) return; // dangling parent or missing target: no-op
    this.touchDir(parentOf(r.rel));
    this.removeLower(r.rel, r.host, r.stat);
  }

  /** `.wh..wh..opq` in `dir`: remove every lower child of `dir` (resolved in-root, followed); keep `dir`. */
  opaque(dir: string): void {
    const r = resolveInRoot(this.root, dir, { followFinal: true });
    if (r.missingFrom >= 0 || !r.stat?.isDirectory()) return;
    this.touchDir(r.rel);
    for (const name of this.readDir(r.host, r.rel)) {
      const rel = joinClean(r.rel, name);
      const host = `${r.host}/${name}`;
      const st = lstatMaybe(host);
      if (st) this.removeLower(rel, host, st);
    }
  }

  // --- overlay whiteouts --------------------------------------------------------------------------------------
  //
  // The layer is alone in a fresh directory; overlayfs later stacks it over the lower layers' directories. What
  // the merged view must show is what "apply" mode gives for the same layers, where a whiteout never hides the
  // layer's own entries (they act as if they came first in the tar). So, for `.wh.x`:
  // - x is not this layer's (nor an ancestor of one of its entries): x becomes a 0:0 character device, which
  //   hides every lower x. Something made there earlier only for this layer's markers (a parent made for `x/.wh.y`)
  //   is removed first.
  // - x is this layer's own entry, or an entry comes at x later: the entry stays (it wins, as in "apply" mode).
  //   A non-directory hides everything below it by itself. A directory would be MERGED by overlayfs with the lower
  //   x's (where "apply" mode removed the lower x before creating this layer's), so it is marked opaque: the lower
  //   x's children stay hidden. Same when x is only an ancestor of this layer's entries (`.wh.x` with `x/y`):
  //   x then holds exactly this layer's entries below it, as in "apply" mode.
  // That last step is done at the end of the layer (`opaqueIfDir`), whatever order the entries came in.
  // - an opaque marker at the layer's root marks the root directory too, but overlayfs ignores the xattr on a
  //   lower dir's root: whoever stacks the layers must leave out the ones below (src/runtime/rootfs.ts reads it).
  // - a parent of x is a non-directory here (the layer's own file, or a whiteout device): nothing to do, it hides
  //   everything below it already; a missing parent is made (0755 root, like a missing parent of an entry), so
  //   that the device can sit where overlayfs looks for it.
  // Known limits, inherent to unpacking a layer without the ones below it (overlay-based snapshotters have them
  // too): a parent the layer does not list is made 0755 root:root here and hides the lower directory's own mode
  // and owner in the merged view, and a parent that is a symlink in a lower layer is not followed (the layer's
  // entries land in a directory of that name, which hides the lower symlink). Image builders list the parents
  // of what they change, and never write through a symlinked parent, so real images do not meet either.

  /** Overlay `.wh.<name>`: a 0:0 character device at `target`, unless this layer has an entry there. */
  overlayWhiteout(target: string): void {
    let r = resolveInRoot(this.root, target);
    if (r.missingFrom >= 0) {
      if (lstatMaybe(`${this.root}/${r.parts.slice(0, r.missingFrom + 1).join("/")}`) !== undefined) return;
      r = this.makeMarkerParents(r);
    }
    this.opaqueIfDir.add(r.rel);
    if (r.stat !== undefined) {
      if (this.upper.has(r.rel)) return; // this layer's own entry (or an ancestor of one) wins
      this.touchDir(parentOf(r.rel));
      this.removeAny(r.rel, r.host, r.stat);
    }
    this.touchDir(parentOf(r.rel));
    this.inParent(r, "create whiteout device", () => mknod(["-m", "0", "--", r.host, "c", "0", "0"]));
  }

  /** Overlay `.wh..wh..opq` in `dir` (resolved in-root, followed): `dir` made if missing, marked at the end. */
  overlayOpaque(dir: string): void {
    let r = resolveInRoot(this.root, dir, { followFinal: true });
    if (r.missingFrom >= 0) {
      if (lstatMaybe(`${this.root}/${r.parts.slice(0, r.missingFrom + 1).join("/")}`) !== undefined) return;
      r = this.makeMarkerParents(r);
    }
    if (r.stat === undefined) {
      this.touchDir(parentOf(r.rel));
      this.inParent(r, "create directory", () => mkdirSync(r.host, 0o755));
      try {
        chmodSync(r.host, 0o755);
      } catch (e) {
        throw fsError(e, r.host, "chmod");
      }
      this.madeDirs.add(r.rel);
    } else if (!r.stat.isDirectory()) {
      return; // this layer's own non-directory (or a whiteout device): it hides everything below already
    }
    this.opaqueIfDir.add(r.rel);
  }

  /** Missing parents of a whiteout marker's target, as 0755 root directories (not this layer's entries). */
  makeMarkerParents(r: InRootPath): InRootPath {
    return makeParents(this.root, r, (m) => {
      this.madeDirs.add(m.rel);
      try {
        lchownSync(m.host, 0, 0);
      } catch (e) {
        throw fsError(e, m.host, "chown to 0:0");
      }
    });
  }

  /** End of an overlay layer: every whited-out or opaque path that is a directory now is marked opaque. */
  markOpaque(): void {
    for (const rel of this.opaqueIfDir) {
      const r = resolveInRoot(this.root, rel);
      if (r.rel !== rel || !r.stat?.isDirectory()) continue;
      try {
        setXattr(r.host, "trusted.overlay.opaque", Buffer.from("y"));
      } catch (e) {
        throw new OslessError(
          "E_IO",
          `${r.host}: cannot set xattr trusted.overlay.opaque: ${(e as Error).message}`,
          {
            hint: "overlay lower directories need a filesystem with trusted.* extended attributes (ext4, xfs, btrfs)",
            cause: e,
            details: { path: r.host },
          },
        );
      }
    }
  }

  /** Remove `rel` and everything below it, except what this layer created (and the directories holding it). */
  removeLower(rel: string, host: string, st: Stats, upper = this.upper): void {
    if (!upper.has(rel)) {
      this.removeAny(rel, host, st);
      return;
    }
    if (!st.isDirectory()) return;
    this.touchDir(rel);
    for (const name of this.readDir(host, rel)) {
      const childHost = `${host}/${name}`;
      const child = lstatMaybe(childHost);
      if (child) this.removeLower(joinClean(rel, name), childHost, child, upper);
    }
  }

  /**
   * R6 removal of `rel`: links and files unlinked as such, directories recursively without following
   * anything. Without privileges, a parent that is not writable (a lower 0555 directory) is opened up first.
   */
  removeAny(rel: string, host: string, st: Stats): void {
    try {
      removeTree(host, st, this.privileged);
    } catch (e) {
      if (this.privileged || !(isCode(e, "EACCES") || isCode(e, "EPERM"))) throw fsError(e, host, "remove");
      const parent = parentOf(rel);
      this.makeWritable(parent === "." ? this.root : `${this.root}/${parent}`, parent);
      try {
        removeTree(host, st, this.privileged);
      } catch (e2) {
        throw fsError(e2, host, "remove");
      }
    }
  }

  readDir(host: string, rel: string): string[] {
    try {
      return readdirSync(host);
    } catch (e) {
      if (!this.privileged && isCode(e, "EACCES")) {
        this.makeWritable(host, rel);
        try {
          return readdirSync(host);
        } catch (e2) {
          throw fsError(e2, host, "read directory");
        }
      }
      throw fsError(e, host, "read directory");
    }
  }

  // --- entries -----------------------------------------------------------------------------------------------

  /** R3: "." applies a directory's metadata to ROOT; anything else is refused. ROOT is never replaced. */
  rootEntry(h: TarHeader): void {
    if (h.type !== "directory") {
      throw new OslessError(
        "E_TAR_UNSAFE_PATH",
        `layer entry "${printable(h.path)}" is a ${h.type} at the root of the layer: only a directory may name the root`,
        {
          hint: "the layer tries to replace the extraction directory itself (umoci CVE-2021-29136); do not use this image",
          details: { path: h.path, type: h.type },
        },
      );
    }
    this.addUpper(".");
    if (this.privileged) this.chown(this.root, h);
    this.applyXattrs(this.root, h);
    this.dirMeta.set(".", { mode: h.mode, atime: h.atime ?? h.mtime, mtime: h.mtime });
  }

  async create(clean: string, h: TarHeader, e: TarEntry): Promise<void> {
    // Checks that need no filesystem come first: a refused entry changes nothing.
    let target: InRootPath | undefined;
    switch (h.type) {
      case "hardlink":
        target = this.linkTarget(clean, h);
        break;
      case "symlink":
        if (h.linkpath === "") throw invalidEntry(h, "is a symlink with an empty target");
        break;
      case "char":
      case "block":
        if (!(h.devmajor < DEV_LIMIT && h.devminor < DEV_LIMIT && h.devmajor >= 0 && h.devminor >= 0)) {
          throw invalidEntry(h, `has device numbers ${h.devmajor}:${h.devminor} outside [0, 2^32)`);
        }
        if (this.overlay && h.type === "char" && h.devmajor === 0 && h.devminor === 0) {
          this.warn(
            "W_DEVICE_IS_WHITEOUT",
            h.path,
            "character device 0:0 is how overlayfs marks a whiteout: in an overlay root this path reads as absent",
          );
        }
        if (!this.privileged) {
          this.warn(
            "W_DEVICE_SKIPPED",
            h.path,
            `${h.type} device ${h.devmajor}:${h.devminor} skipped: device nodes need real root outside a user namespace`,
          );
          return;
        }
        break;
    }
    // The final component is not looked at here: creating it fails with EEXIST when something is there
    // (none of the calls follows a symlink there), and only then R6 applies (`createAt`).
    let r = resolveInRoot(this.root, clean, { statFinal: false });
    if (target !== undefined && r.missingFrom >= 0) {
      // R10 would replace the first missing parent (a non-directory, if it exists) by a directory: when that is
      // the link's target, link(2) would fail (EPERM on the new directory). Refused before anything changes.
      const replaced = r.parts.slice(0, r.missingFrom + 1).join("/");
      if (target.rel === replaced || target.rel.startsWith(`${replaced}/`)) throw linkRemoved(h);
    }
    if (r.missingFrom >= 0) {
      r = makeParents(this.root, r, (m) => {
        this.madeDirs.add(m.rel);
        if (this.privileged) {
          try {
            lchownSync(m.host, 0, 0);
          } catch (e) {
            throw fsError(e, m.host, "chown to 0:0");
          }
        }
      });
    }
    if (target !== undefined && target.rel === r.rel) throw invalidEntry(h, "is a hard link to itself");
    this.touchDir(parentOf(r.rel));
    this.addUpper(r.rel);
    switch (h.type) {
      case "directory":
        this.makeDir(r, h);
        return;
      case "file":
        await this.writeFile(r, h, e);
        return;
      case "symlink":
        this.makeSymlink(r, h);
        return;
      case "hardlink":
        this.makeHardlink(r, h, target!);
        return;
      case "fifo":
      case "char":
      case "block":
        this.makeNode(r, h);
        return;
    }
  }

  /** R8: the link target, root-relative (a leading "/" is allowed), resolved in-root, final not followed. */
  linkTarget(clean: string, h: TarHeader): InRootPath {
    let name: string;
    try {
      name = normalizeEntryPath(h.linkpath, this.maxDepth);
    } catch (e) {
      if (!(e instanceof OslessError)) throw e;
      throw new OslessError(
        e.code,
        `layer entry "${printable(h.path)}" is a hard link to ${e.message.replace(/^layer entry /, "")}`,
        {
          hint: e.hint,
          details: { ...e.details, path: h.path, linkpath: h.linkpath },
        },
      );
    }
    if (name === ".") throw invalidEntry(h, `is a hard link to the root directory`);
    const t = resolveInRoot(this.root, name);
    if (t.missingFrom >= 0 || t.stat === undefined) {
      throw invalidEntry(h, `is a hard link to "${printable(h.linkpath)}", which does not exist`);
    }
    if (t.stat.isDirectory())
      throw invalidEntry(h, `is a hard link to the directory "${printable(h.linkpath)}"`);
    if (name === clean) throw invalidEntry(h, "is a hard link to itself");
    return t;
  }

  /** R6: a directory over a directory merges metadata; anything else is removed and created anew. */
  makeDir(r: InRootPath, h: TarHeader): void {
    this.createAt(r, h, "create directory", () => mkdirSync(r.host, 0o700));
    if (this.privileged) this.chown(r.host, h);
    this.applyXattrs(r.host, h);
    // Mode and times at the end of the layer: the directory still has to receive its children.
    this.dirMeta.set(r.rel, { mode: h.mode, atime: h.atime ?? h.mtime, mtime: h.mtime });
  }

  async writeFile(r: InRootPath, h: TarHeader, e: TarEntry): Promise<void> {
    const fd = this.createAt(r, h, "create file", () => openSync(r.host, OPEN_NEW_FILE, 0o600)) as number;
    try {
      let written = 0;
      for await (const chunk of e.body()) {
        let off = 0;
        while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
        written += chunk.length;
        await this.breathe();
      }
      this.result.bytes += written;
      if (this.privileged) fchownSync(fd, h.uid, h.gid);
      fchmodSync(fd, h.mode);
      this.applyXattrs(r.host, h);
      this.setTimes(h, () => futimesSync(fd, h.atime ?? h.mtime, h.mtime));
    } catch (err) {
      try {
        closeSync(fd);
      } catch {
        // The first error is the one to report.
      }
      // Only filesystem calls' errors are "cannot write": the tar's (OslessError) or an abort pass as they are.
      if ((err as NodeJS.ErrnoException)?.syscall === undefined) throw err;
      throw fsError(err, r.host, "write file");
    }
    try {
      closeSync(fd);
    } catch (err) {
      throw fsError(err, r.host, "close file");
    }
  }

  makeSymlink(r: InRootPath, h: TarHeader): void {
    // R7: the target is stored verbatim and never dereferenced.
    this.createAt(r, h, "create symlink", () => symlinkSync(h.linkpath, r.host));
    if (this.privileged) this.chown(r.host, h);
    this.applyXattrs(r.host, h);
    this.setTimes(h, () => lutimesSync(r.host, h.atime ?? h.mtime, h.mtime));
  }

  makeHardlink(r: InRootPath, h: TarHeader, target: InRootPath): void {
    // link(2) does not follow a symlink target: a link to a symlink links the symlink's inode. The header's
    // owner, mode and times are not applied: they would change the shared inode (CVE-2021-32760).
    try {
      this.createAt(r, h, "create hard link", () => linkSync(target.host, r.host));
    } catch (e) {
      if (e instanceof OslessError && e.details?.errno === "ENOENT") throw linkRemoved(h);
      throw e;
    }
  }

  makeNode(r: InRootPath, h: TarHeader): void {
    const args =
      h.type === "fifo"
        ? ["-m", "0600", "--", r.host, "p"]
        : ["-m", "0600", "--", r.host, h.type === "char" ? "c" : "b", String(h.devmajor), String(h.devminor)];
    try {
      // Through createAt like every other creator: R6 on EEXIST, a lower 0555 parent opened up on EACCES.
      this.createAt(r, h, `create ${h.type === "fifo" ? "FIFO" : "device node"}`, () => mknod(args));
    } catch (e) {
      if (h.type === "fifo" && e instanceof OslessError && e.details?.errno === "EPERM") {
        this.warn("W_FIFO_SKIPPED", h.path, `FIFO skipped: the filesystem refused it (EPERM)`);
        return;
      }
      throw e;
    }
    if (this.privileged) this.chown(r.host, h);
    // A FIFO or device node is not a symlink (just made): chmod does not follow anything here.
    try {
      chmodSync(r.host, h.mode);
    } catch (e) {
      throw fsError(e, r.host, "chmod");
    }
    this.applyXattrs(r.host, h);
    this.setTimes(h, () => lutimesSync(r.host, h.atime ?? h.mtime, h.mtime));
  }

  // --- metadata ----------------------------------------------------------------------------------------------

  chown(host: string, h: TarHeader): void {
    try {
      lchownSync(host, h.uid, h.gid);
    } catch (e) {
      throw fsError(e, host, `chown to ${h.uid}:${h.gid}`);
    }
  }

  setTimes(h: TarHeader, set: () => void): void {
    try {
      set();
    } catch (e) {
      this.warn("W_TIMES", h.path, `times not set: ${(e as Error).message}`);
    }
  }

  /** R13. */
  applyXattrs(host: string, h: TarHeader): void {
    if (h.xattrs.size === 0) return;
    for (const [name, value] of h.xattrs) {
      if (name.startsWith("trusted.")) {
        this.warn("W_XATTR_REFUSED", h.path, `xattr ${name} refused: trusted.* attributes are never applied`);
        continue;
      }
      if (NEVER_XATTRS.has(name)) {
        this.warn(
          "W_XATTR_REFUSED",
          h.path,
          `xattr ${name} not applied: it describes the host, not the image`,
        );
        continue;
      }
      if (name === "security.capability" && !this.privileged) {
        this.warn("W_XATTR_SKIPPED", h.path, `file capabilities (${name}) need real root; not applied`);
        continue;
      }
      if (!xattrSupport()) {
        if (!this.#noAddonWarned) {
          this.#noAddonWarned = true;
          this.warn(
            "W_XATTR_UNSUPPORTED",
            h.path,
            "extended attributes are not applied: the optional package @napi-rs/xattr is not installed",
          );
        }
        continue;
      }
      try {
        setXattr(host, name, value);
      } catch (e) {
        const code = e instanceof XattrError ? e.code : "";
        if (code === "ENOTSUP") {
          if (!this.#enotsupWarned) {
            this.#enotsupWarned = true;
            this.warn("W_XATTR_UNSUPPORTED", h.path, `the target filesystem does not support xattr ${name}`);
          }
          continue;
        }
        if (code === "EPERM" && name.startsWith("user.") && h.type !== "file" && h.type !== "directory") {
          continue; // user.* is not allowed on symlinks and device nodes (R13: ignore)
        }
        if (code === "EPERM" && !this.privileged) {
          this.warn("W_XATTR_SKIPPED", h.path, `xattr ${name} not permitted without root; not applied`);
          continue;
        }
        throw new OslessError("E_IO", `${host}: cannot set xattr ${name}: ${(e as Error).message}`, {
          hint: "check the target filesystem's xattr support",
          cause: e,
          details: { path: host, xattr: name },
        });
      }
    }
  }

  // --- bookkeeping -------------------------------------------------------------------------------------------

  addUpper(rel: string): void {
    if (this.#upper === undefined) this.#created.push(rel);
    else addWithAncestors(this.#upper, rel);
  }

  get upper(): Set<string> {
    if (this.#upper === undefined) {
      const set = new Set<string>();
      for (const rel of this.#created) addWithAncestors(set, rel);
      this.#created.length = 0;
      this.#upper = set;
    }
    return this.#upper;
  }

  /** This layer is about to change the contents of directory `rel`: remember its times to restore them. */
  touchDir(rel: string): void {
    if (this.dirMeta.has(rel) || this.madeDirs.has(rel) || this.lowerTimes.has(rel)) return;
    const st = lstatMaybe(rel === "." ? this.root : `${this.root}/${rel}`);
    if (st?.isDirectory()) this.lowerTimes.set(rel, { atime: st.atimeMs / 1000, mtime: st.mtimeMs / 1000 });
  }

  /**
   * Run `op` (which creates something in r's parent); without privileges, a parent that is not writable (a
   * lower 0555 directory) is made writable for the rest of the layer and its mode restored at the end.
   */
  inParent<T>(r: InRootPath, what: string, op: () => T): T {
    try {
      return op();
    } catch (e) {
      if (!this.privileged && isCode(e, "EACCES")) {
        const parent = parentOf(r.rel);
        this.makeWritable(parent === "." ? this.root : `${this.root}/${parent}`, parent);
        try {
          return op();
        } catch (e2) {
          throw fsError(e2, r.host, what);
        }
      }
      throw fsError(e, r.host, what);
    }
  }

  /**
   * Create r's final component with `op`. If something is there already (EEXIST), R6: a directory entry over
   * a directory keeps it (its metadata is merged by the caller; returns "merged"); anything else is removed
   * (links as links, directories recursively) and `op` runs again.
   */
  createAt<T>(r: InRootPath, h: TarHeader, what: string, op: () => T): T | "merged" {
    try {
      return this.inParent(r, what, op);
    } catch (e) {
      if (!(e instanceof OslessError && e.details?.errno === "EEXIST")) throw e;
    }
    const st = lstatMaybe(r.host);
    if (st !== undefined) {
      if (h.type === "directory" && st.isDirectory()) return "merged";
      this.removeAny(r.rel, r.host, st);
    }
    return this.inParent(r, what, op);
  }

  makeWritable(host: string, rel: string): void {
    const st = lstatMaybe(host);
    if (!st?.isDirectory()) return;
    if (!this.lowerModes.has(rel) && !this.dirMeta.has(rel)) this.lowerModes.set(rel, st.mode & 0o7777);
    try {
      chmodSync(host, (st.mode & 0o7777) | 0o700);
    } catch (e) {
      throw fsError(e, host, "make the directory writable (chmod)");
    }
  }

  /**
   * End of the layer: directory modes and times (deepest first, so a parent's times are set after its
   * children's), and the times of lower directories this layer changed. Each directory is re-resolved; one
   * that is no longer a directory at that path is skipped.
   */
  finish(): void {
    if (this.overlay) this.markOpaque();
    const rels = new Set([...this.dirMeta.keys(), ...this.lowerTimes.keys(), ...this.lowerModes.keys()]);
    const ordered = [...rels].sort((a, b) => depth(b) - depth(a));
    for (const rel of ordered) {
      const r = resolveInRoot(this.root, rel);
      if (r.rel !== rel || !r.stat?.isDirectory()) continue;
      const meta = this.dirMeta.get(rel);
      try {
        const mode = meta?.mode ?? this.lowerModes.get(rel);
        if (mode !== undefined) chmodSync(r.host, mode);
      } catch (e) {
        throw fsError(e, r.host, "chmod");
      }
      const times = meta ?? this.lowerTimes.get(rel);
      if (times) {
        try {
          lutimesSync(r.host, times.atime, times.mtime);
        } catch (e) {
          this.warn("W_TIMES", rel, `times not set: ${(e as Error).message}`);
        }
      }
    }
  }
}

/** mknod(1)'s messages in the C locale, as the errno they stand for. */
const MKNOD_ERRNO: [RegExp, string][] = [
  [/: File exists$/m, "EEXIST"],
  [/: Permission denied$/m, "EACCES"],
  [/: Operation not permitted$/m, "EPERM"],
];

/**
 * Run coreutils `mknod` (Node has no mknod/mkfifo) in the C locale; a failure is thrown as an error whose
 * `code` is the errno its message stands for (so that createAt and inParent can act on it), or an OslessError
 * when mknod itself cannot be run.
 */
function mknod(args: string[]): void {
  try {
    execFileSync(systemTool("mknod"), args, {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, LC_ALL: "C" },
    });
  } catch (e) {
    const stderr = String((e as { stderr?: Buffer }).stderr ?? "").trim();
    if (stderr === "") {
      throw new OslessError("E_IO", `cannot run mknod: ${(e as Error).message}`, {
        hint: "device nodes and FIFOs are made with coreutils mknod; check that it is installed",
        cause: e,
        details: { errno: (e as NodeJS.ErrnoException).code },
      });
    }
    const err: NodeJS.ErrnoException = new Error(stderr);
    const code = MKNOD_ERRNO.find(([re]) => re.test(stderr))?.[1];
    if (code !== undefined) err.code = code;
    throw err;
  }
}

/** Remove `host` (lstat `st`) and everything below it; symlinks are unlinked, never followed. */
function removeTree(host: string, st: Stats, privileged: boolean): void {
  if (!st.isDirectory()) {
    unlinkSync(host);
    return;
  }
  // Without privileges a directory needs rwx for its owner to be emptied (we own everything we extracted).
  if (!privileged && (st.mode & 0o700) !== 0o700) chmodSync(host, (st.mode & 0o7777) | 0o700);
  for (const name of readdirSync(host)) {
    const child = `${host}/${name}`;
    const cst = lstatMaybe(child);
    if (cst) removeTree(child, cst, privileged);
  }
  rmdirSync(host);
}

function addWithAncestors(set: Set<string>, rel: string): void {
  let p = rel;
  while (!set.has(p)) {
    set.add(p);
    if (p === ".") return;
    p = parentOf(p);
  }
}

function depth(rel: string): number {
  if (rel === ".") return 0;
  let n = 1;
  for (let i = 0; i < rel.length; i++) if (rel.charCodeAt(i) === 0x2f) n++;
  return n;
}

function lstatMaybe(host: string): Stats | undefined {
  try {
    return lstatSync(host, { throwIfNoEntry: false });
  } catch (e) {
    if (isCode(e, "ENOENT") || isCode(e, "ENOTDIR")) return undefined;
    throw fsError(e, host, "lstat");
  }
}

function isCode(e: unknown, code: string): boolean {
  return (e as NodeJS.ErrnoException | undefined)?.code === code;
}

/** The hard link's target was removed by making room for the link itself (R6, R10); as the view says it. */
function linkRemoved(h: TarHeader): OslessError {
  return invalidEntry(
    h,
    `is a hard link whose target "${printable(h.linkpath)}" was removed by this very entry`,
  );
}
