/**
 * `osless export`: a container's filesystem as one tar, as `docker export` writes it, read from the host without
 * mounting anything.
 *
 * What is exported is what the container sees at "/" (its own mounts aside: /proc, /sys, /dev's tmpfs, volumes
 * and bind mounts are not part of its root, only their mount points are): for an overlay root, the union of its
 * upper dir over the image's layer snapshots read with overlayfs's rules, for a `--rootfs copy` root, the plain
 * directory. The union is walked here (`readUnionDir`, a merged readdir over the layer dirs) with the same lookup
 * rules as `UnionRoot` (rootfs.ts): a 0:0 character device is a whiteout and hides the name below it, a
 * non-directory hides everything below it, a directory merges the directories of that name below it down to a
 * whiteout, a non-directory or a directory marked `trusted.overlay.opaque=y` (included). Whiteouts and overlay
 * xattrs (`trusted.overlay.*`) are never written.
 *
 * The tar: osless's deterministic writer (src/tar), entries in path order (component by component, bytes
 * compared: a directory is followed by its contents), names relative without "./" and without an entry for the
 * root itself (as docker export), directories ending in "/", ustar headers with PAX records only where ustar cannot
 * hold a value (long or non-ASCII names, large ids and sizes, xattrs as SCHILY.xattr.*), whole-second mtimes,
 * empty user and group names. Regular files, directories, symlinks, hard links (two names of one inode within the
 * export: the first in path order carries the data, the others link to it), character and block devices and
 * FIFOs are written; sockets cannot be put in a tar and are skipped with a warning. Every xattr is kept except
 * overlayfs's own.
 *
 * A running container's writable layer may change while it is read: the export is then a snapshot taken file by
 * file, not at one instant (as docker export of a running container). Each of its files is read exactly once,
 * up to the size it had when opened, and its size in the tar is what was read (files up to 8 MiB in memory,
 * larger ones through a temporary copy beside the container's upper dir); a file or directory that vanishes
 * meanwhile is left out. The image's layer snapshots never change, and neither does a stopped container's layer:
 * a file of those that changes size while it is read is an error (E_SIZE_MISMATCH).
 */
import { isUtf8 } from "node:buffer";
import {
  type BigIntStats,
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { mkdtemp, open, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { listXattrs, getXattr as readXattr, XattrError, xattrSupport } from "../_internal/xattr.ts";
import { OslessError } from "../errors.ts";
import { devNumbers, kindOf, seconds } from "../layer/diff-fs.ts";
import { printable } from "../layer/paths.ts";
import type { Store } from "../store/layout.ts";
import { type TarWriteEntry, type TarWriteItem, writeTar } from "../tar/index.ts";
import { type ContainerRecord, Containers } from "./containers.ts";
import { currentState, runtimeOf } from "./lifecycle.ts";
import { runtimeCall } from "./runtime.ts";

/** A tree to export: overlay layer dirs, top first, or one plain directory. */
export interface ExportTree {
  /** Host directories, top first: a container's upper dir then its lower dirs; or the one plain root. */
  layers: readonly string[];
  /** Read the layers with overlayfs's rules (whiteouts, opaque dirs); false: `layers` is one plain directory. */
  overlay: boolean;
  /** The top layer may change while it is read (a running container's): read each of its files once. */
  mutableTop: boolean;
  /** Where a large file of the mutable layer is copied while it is exported (default: beside the top layer). */
  spoolDir?: string | undefined;
}

export interface ExportWarning {
  code: "socket-skipped" | "xattrs-unreadable";
  /** The path in the container ("/run/app.sock"). */
  path: string;
  message: string;
}

export interface ExportOptions {
  signal?: AbortSignal | undefined;
  /** Called for what could not be exported as it is (sockets; xattrs of a file whose name is not UTF-8). */
  onWarning?: ((w: ExportWarning) => void) | undefined;
}

export interface ExportResult {
  /** The container exported (exportContainer only). */
  container?: { id: string; name: string } | undefined;
  /** Whether it ran during the export (then the archive is a file-by-file snapshot). */
  running?: boolean | undefined;
  /** The file written, or undefined for a stream. */
  path: string | undefined;
  /** Tar entries written. */
  entries: number;
  /** Bytes of the tar. */
  bytes: number;
}

/** One name of a merged directory as overlayfs shows it. */
export interface UnionDirEntry {
  /** The name (bytes: names need not be UTF-8). */
  name: Buffer;
  /** The host path of the topmost entry of that name: the one the container sees. */
  host: Buffer;
  st: BigIntStats;
  /** Index (into the layers) of the layer holding `host`. */
  layer: number;
  /** For a directory: the layers whose directory of that name it merges, top first (`layer` first). */
  merged: number[];
}

/** Files of a mutable layer up to this size are read into memory; larger ones are copied to a spool file. */
const MEMORY_READ_MAX = 8 << 20;
const READ_CHUNK = 1 << 20;
/** Output is written in batches of about this size (headers are 512 bytes: one write each would be slow). */
const WRITE_BATCH = 1 << 20;
const SLASH = Buffer.from("/");
const OVERLAY_XATTR_PREFIX = "trusted.overlay.";

// --- the merged readdir ------------------------------------------------------------------------------------------

function hostOf(layer: Buffer, rel: Buffer): Buffer {
  return rel.length === 0 ? layer : Buffer.concat([layer, SLASH, rel]);
}

function shown(p: Buffer): string {
  return printable(p.toString("utf8"));
}

function ioError(host: Buffer, what: string, cause: unknown): OslessError {
  const code = (cause as NodeJS.ErrnoException)?.code;
  return new OslessError("E_IO", `${shown(host)}: cannot ${what}${code ? ` (${code})` : ""}`, {
    hint:
      code === "ENOENT"
        ? "the container's files were removed while they were read (osless rm?); export it again"
        : "check the path's permissions and the filesystem (export reads as root)",
    cause,
    details: { path: shown(host) },
  });
}

function lstatMaybe(host: Buffer): BigIntStats | undefined {
  try {
    return lstatSync(host, { bigint: true, throwIfNoEntry: false });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOTDIR") return undefined;
    throw ioError(host, "lstat it", e);
  }
}

function isWhiteout(st: BigIntStats): boolean {
  return st.isCharacterDevice() && st.rdev === 0n;
}

/**
 * Run `fn` with a path string by which the xattr addon (which takes UTF-8 strings and never follows the last
 * component) reaches `host`: the path itself, or, when it is not UTF-8, through /proc/self/fd of its parent (or of
 * itself, for a directory). Undefined when no such path exists (a non-directory whose own name is not UTF-8).
 */
function withXattrPath<T>(host: Buffer, isDir: boolean, fn: (p: string) => T): T | undefined {
  if (isUtf8(host)) return fn(host.toString("utf8"));
  const cut = host.lastIndexOf(0x2f);
  const base = host.subarray(cut + 1);
  let fd: number;
  let path: string;
  try {
    if (isUtf8(base) && cut > 0) {
      fd = openSync(host.subarray(0, cut), constants.O_RDONLY | constants.O_DIRECTORY);
      path = `/proc/self/fd/${fd}/${base.toString("utf8")}`;
    } else if (isDir) {
      fd = openSync(host, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
      path = `/proc/self/fd/${fd}/.`;
    } else return undefined;
  } catch (e) {
    throw ioError(host, "open it to read its xattrs", e);
  }
  try {
    return fn(path);
  } finally {
    closeSync(fd);
  }
}

function readOpaque(host: Buffer): boolean {
  try {
    return (
      withXattrPath(host, true, (p) => readXattr(p, "trusted.overlay.opaque")?.toString() === "y") ?? false
    );
  } catch (e) {
    if (e instanceof XattrError && (e.code === "ENODATA" || e.code === "ENOTSUP")) return false;
    // Removed since it was listed (a running container's): it will list as empty.
    if (e instanceof XattrError && e.code === "ENOENT") return false;
    if (e instanceof OslessError && vanished(e)) return false;
    if (e instanceof OslessError) throw e;
    throw ioError(host, "read its xattr trusted.overlay.opaque", e);
  }
}

/** `name` in the merged directory `rel` (merging `merged`), overlayfs's way; undefined when it is hidden. */
function lookup(
  layers: readonly Buffer[],
  overlay: boolean,
  rel: Buffer,
  name: Buffer,
  merged: readonly number[],
): UnionDirEntry | undefined {
  const childRel = rel.length === 0 ? name : Buffer.concat([rel, SLASH, name]);
  let found: UnionDirEntry | undefined;
  for (const i of merged) {
    const host = hostOf(layers[i]!, childRel);
    const st = lstatMaybe(host);
    if (st === undefined) continue;
    if (!overlay) return { name, host, st, layer: i, merged: st.isDirectory() ? [i] : [] };
    if (isWhiteout(st)) break;
    if (!st.isDirectory()) {
      if (found === undefined) return { name, host, st, layer: i, merged: [] };
      break; // a non-directory below a directory ends the merge
    }
    if (found === undefined) found = { name, host, st, layer: i, merged: [i] };
    else found.merged.push(i);
    // An opaque directory hides the layers below it (the bottom layer has none below to hide).
    if (i < layers.length - 1 && readOpaque(host)) break;
  }
  return found;
}

/**
 * The entries of the merged directory `rel` (relative to the layers' roots, "" for the root; bytes) of the layers
 * `merged` (indexes into `layers`, top first: for the root, every layer), as overlayfs lists them: whiteouts and
 * what they hide left out, each name once with its topmost entry, byte-sorted. With `overlay` false, `layers` is
 * one plain directory read as it is. A directory that is missing (removed meanwhile) lists as empty.
 */
export function readUnionDir(
  layers: readonly string[] | readonly Buffer[],
  rel: Buffer,
  merged: readonly number[],
  overlay = true,
): UnionDirEntry[] {
  const bufs = layers.map((l) => (typeof l === "string" ? Buffer.from(l) : l));
  const names = new Map<string, Buffer>();
  for (const i of merged) {
    const dir = hostOf(bufs[i]!, rel);
    let list: Buffer[];
    try {
      list = readdirSync(dir, { encoding: "buffer" });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") continue;
      throw ioError(dir, "list the directory", e);
    }
    for (const n of list) names.set(n.toString("latin1"), n);
  }
  const sorted = [...names.values()].sort(Buffer.compare);
  const out: UnionDirEntry[] = [];
  for (const n of sorted) {
    const e = lookup(bufs, overlay, rel, n, merged);
    if (e !== undefined) out.push(e);
  }
  return out;
}

// --- tar entries ---------------------------------------------------------------------------------------------

/** The entry's xattrs without overlayfs's own, sorted by name; undefined when it has none. */
function exportXattrs(
  host: Buffer,
  isDir: boolean,
  path: string,
  warn: (w: ExportWarning) => void,
): Map<string, Buffer> | undefined {
  let out: Map<string, Buffer> | undefined;
  const read = (p: string) => {
    let names: string[];
    try {
      names = listXattrs(p);
    } catch (e) {
      if (e instanceof XattrError && (e.code === "ENOTSUP" || e.code === "ENOENT")) return;
      throw ioError(host, "list its xattrs", e);
    }
    for (const name of names.sort()) {
      if (name.startsWith(OVERLAY_XATTR_PREFIX)) continue;
      let v: Buffer | undefined;
      try {
        v = readXattr(p, name);
      } catch (e) {
        if (e instanceof XattrError && (e.code === "ENODATA" || e.code === "ENOENT")) continue;
        throw ioError(host, `read its xattr ${name}`, e);
      }
      if (v === undefined) continue;
      out ??= new Map();
      out.set(name, v);
    }
  };
  const done = withXattrPath(host, isDir, (p) => {
    read(p);
    return true;
  });
  if (done === undefined) {
    warn({
      code: "xattrs-unreadable",
      path,
      message: `${path}: its name is not UTF-8, so its extended attributes cannot be read; exported without them`,
    });
  }
  return out;
}

function sizeChanged(host: Buffer, size: number, how: string): OslessError {
  return new OslessError(
    "E_SIZE_MISMATCH",
    `${shown(host)} ${how} while it was exported (it had ${size} bytes)`,
    {
      hint: "the image's layer snapshots and a stopped container's files must not change; find what writes to them, then export again",
      details: { path: shown(host), size },
    },
  );
}

/** Exactly `size` bytes of `fd` (an immutable file), refusing a file that grows or shrinks meanwhile. */
async function* readExactly(
  fd: number,
  size: number,
  host: Buffer,
  signal: AbortSignal | undefined,
): AsyncGenerator<Buffer> {
  let pos = 0;
  while (pos < size) {
    signal?.throwIfAborted();
    const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, size - pos));
    const n = readSync(fd, buf, 0, buf.length, pos);
    if (n === 0) throw sizeChanged(host, size, "shrank");
    pos += n;
    yield n === buf.length ? buf : buf.subarray(0, n);
  }
  if (readSync(fd, Buffer.allocUnsafe(1), 0, 1, pos) > 0) throw sizeChanged(host, size, "grew");
}

/**
 * At most `max` bytes of `fd` from the start, fewer when it ends first: a file that is appended to all the time
 * (a log) is still read to an end.
 */
async function* readUpTo(fd: number, max: number, signal: AbortSignal | undefined): AsyncGenerator<Buffer> {
  let pos = 0;
  while (pos < max) {
    signal?.throwIfAborted();
    const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, max - pos));
    const n = readSync(fd, buf, 0, buf.length, pos);
    if (n === 0) return;
    pos += n;
    yield n === buf.length ? buf : buf.subarray(0, n);
  }
}

/** Concatenate small chunks into writes of about WRITE_BATCH bytes. */
async function* batched(src: AsyncIterable<Buffer>, count: (n: number) => void): AsyncGenerator<Buffer> {
  let batch: Buffer[] = [];
  let n = 0;
  for await (const c of src) {
    batch.push(c);
    n += c.length;
    if (n >= WRITE_BATCH) {
      count(n);
      yield Buffer.concat(batch, n);
      batch = [];
      n = 0;
    }
  }
  if (n > 0) {
    count(n);
    yield Buffer.concat(batch, n);
  }
}

interface Frame {
  /** The directory's path relative to the root ("" for the root). */
  rel: Buffer;
  entries: UnionDirEntry[];
  next: number;
}

/**
 * The tar items of `tree`, in path order (see the module comment). File bodies are read as the items are
 * consumed: take each item's body before asking for the next one (writeTar does).
 */
export async function* exportItems(
  tree: ExportTree,
  opts: ExportOptions & { counted?: { entries: number } } = {},
): AsyncGenerator<TarWriteItem> {
  const { signal } = opts;
  const warn = opts.onWarning ?? (() => {});
  if (tree.layers.length === 0) {
    throw new OslessError("E_USAGE", "nothing to export: no layer directory given");
  }
  if (!tree.overlay && tree.layers.length !== 1) {
    throw new OslessError("E_USAGE", "a plain (non-overlay) export reads exactly one directory");
  }
  if (!xattrSupport()) {
    throw new OslessError("E_IO", "export: extended attributes cannot be read on this system", {
      hint: "install the optional package @napi-rs/xattr: without it overlayfs's opaque directories, file capabilities and other xattrs would be lost silently",
    });
  }
  const layers = tree.layers.map((l) => Buffer.from(l));
  for (const l of layers) {
    const st = lstatMaybe(l);
    if (st === undefined || !st.isDirectory()) {
      throw new OslessError("E_IO", `${shown(l)}: a layer directory of the container is missing`, {
        hint: "its image snapshots or its own files were removed; recreate the container",
        details: { path: shown(l) },
      });
    }
  }
  const all = layers.map((_, i) => i);
  const links = new Map<string, Buffer>();
  const openFds = new Set<number>();
  let spoolDir: string | undefined;
  const closeFd = (fd: number) => {
    if (openFds.delete(fd)) closeSync(fd);
  };
  const stack: Frame[] = [
    { rel: Buffer.alloc(0), entries: readUnionDir(layers, Buffer.alloc(0), all, tree.overlay), next: 0 },
  ];
  try {
    while (stack.length > 0) {
      signal?.throwIfAborted();
      const frame = stack.at(-1)!;
      const e = frame.entries[frame.next++];
      if (e === undefined) {
        stack.pop();
        continue;
      }
      const rel = frame.rel.length === 0 ? e.name : Buffer.concat([frame.rel, SLASH, e.name]);
      const path = `/${shown(rel)}`;
      const mutable = tree.mutableTop && e.layer === 0;
      const kind = kindOf(e.st);
      if (kind === "socket") {
        warn({
          code: "socket-skipped",
          path,
          message: `${path} is a socket, which a tar cannot hold: skipped`,
        });
        continue;
      }
      const st = e.st;
      const entry: TarWriteEntry = {
        path: kind === "directory" ? Buffer.concat([rel, SLASH]) : rel,
        type: kind,
        mode: Number(st.mode & 0o7777n),
        uid: Number(st.uid),
        gid: Number(st.gid),
        mtime: seconds(st.mtimeNs),
        uname: "",
        gname: "",
      };
      const linkKey = kind !== "directory" && st.nlink > 1n ? `${st.dev}:${st.ino}` : undefined;
      const first = linkKey === undefined ? undefined : links.get(linkKey);
      if (first !== undefined) {
        // A second name of an inode already in the archive: a link header, metadata of the linked file.
        if (opts.counted) opts.counted.entries++;
        yield { entry: { ...entry, type: "hardlink", linkpath: first } };
        continue;
      }
      let xattrs: Map<string, Buffer> | undefined;
      try {
        xattrs = exportXattrs(e.host, kind === "directory", path, warn);
      } catch (err) {
        if (mutable && vanished(err)) continue;
        throw err;
      }
      if (xattrs) entry.xattrs = xattrs;
      let body: TarWriteItem["body"];
      switch (kind) {
        case "directory": {
          const entries = readUnionDir(layers, rel, e.merged, tree.overlay);
          stack.push({ rel, entries, next: 0 });
          break;
        }
        case "symlink":
          try {
            entry.linkpath = readlinkSync(e.host, { encoding: "buffer" });
          } catch (err) {
            if (mutable && vanished(err)) continue;
            throw ioError(e.host, "read the symlink", err);
          }
          break;
        case "char":
        case "block":
          Object.assign(entry, devNumbers(st.rdev));
          break;
        case "file": {
          let fd: number;
          try {
            // O_NOFOLLOW: a file swapped for a symlink since it was listed is never followed (its target would be
            // read on the host). O_NONBLOCK: one swapped for a FIFO does not hang the open.
            fd = openSync(e.host, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
          } catch (err) {
            if (mutable && vanished(err)) continue;
            throw ioError(e.host, "open it", err);
          }
          openFds.add(fd);
          const fst = fstatSync(fd, { bigint: true });
          if (!fst.isFile()) {
            closeFd(fd);
            if (mutable) continue; // replaced meanwhile by something else: it is exported as it was listed, or not
            throw ioError(e.host, "read it: it is no longer a regular file", undefined);
          }
          if (!mutable) {
            const size = Number(fst.size);
            if (size !== Number(st.size))
              throw sizeChanged(e.host, Number(st.size), `changed size (${size})`);
            entry.size = size;
            body = readExactly(fd, size, e.host, signal);
            break;
          }
          // Read once, up to the size it had when opened (bytes appended since are left out) or its end if it
          // shrank meanwhile; the size written is what was read.
          const chunks: Buffer[] = [];
          let size = 0;
          let spool: { fd: number; path: string } | undefined;
          for await (const c of readUpTo(fd, Number(fst.size), signal)) {
            if (spool === undefined && size + c.length <= MEMORY_READ_MAX) {
              chunks.push(c);
            } else {
              if (spool === undefined) {
                spoolDir ??= await mkdtemp(join(tree.spoolDir ?? dirname(tree.layers[0]!), ".export-"));
                const p = join(spoolDir, "file");
                const sfd = openSync(p, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
                openFds.add(sfd);
                unlinkSync(p); // only the descriptor is needed
                spool = { fd: sfd, path: p };
                for (const b of chunks) writeAllSync(sfd, b);
                chunks.length = 0;
              }
              writeAllSync(spool.fd, c);
            }
            size += c.length;
          }
          closeFd(fd);
          entry.size = size;
          if (spool === undefined) body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
          else body = readExactly(spool.fd, size, Buffer.from(spool.path), signal);
          break;
        }
        case "fifo":
          break;
      }
      if (opts.counted) opts.counted.entries++;
      yield body === undefined ? { entry } : { entry, body };
      // The body has been consumed: the next item is asked for only after it.
      for (const fd of [...openFds]) closeFd(fd);
      if (linkKey !== undefined) links.set(linkKey, rel);
    }
  } finally {
    for (const fd of [...openFds]) closeFd(fd);
    if (spoolDir !== undefined) await rm(spoolDir, { recursive: true, force: true });
  }
}

function vanished(err: unknown): boolean {
  const cause = err instanceof OslessError ? err.cause : err;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}

function writeAllSync(fd: number, b: Buffer): void {
  let off = 0;
  while (off < b.length) off += writeSync(fd, b, off, b.length - off);
}

/**
 * Write `tree` as a tar to `out`: a stream (not ended: the caller owns it) or a file path (written to a temporary
 * file beside it and renamed into place when complete, so a failed export leaves no partial file).
 */
export async function exportTree(
  tree: ExportTree,
  out: NodeJS.WritableStream | string,
  opts: ExportOptions = {},
): Promise<ExportResult> {
  const counted = { entries: 0 };
  let bytes = 0;
  const tar = () =>
    batched(writeTar(exportItems(tree, { ...opts, counted })), (n) => {
      bytes += n;
    });
  const signalOpt = opts.signal ? { signal: opts.signal } : {};
  if (typeof out !== "string") {
    await pipeline(tar(), out, { end: false, ...signalOpt });
    return { path: undefined, entries: counted.entries, bytes };
  }
  const dest = await stat(out).catch(() => undefined);
  if (dest?.isDirectory()) {
    throw new OslessError("E_IO", `cannot write the archive to ${out}: it is a directory`, {
      hint: "give a file name, e.g. -o container.tar",
      details: { path: out },
    });
  }
  const part = join(dirname(out), `.${basename(out)}.${process.pid}.osless-export.part`);
  const fh = await open(part, "wx", 0o644).catch(async (e: NodeJS.ErrnoException) => {
    const parent = await stat(dirname(out)).catch(() => undefined);
    throw new OslessError("E_IO", `cannot write the archive to ${out}: ${e.code ?? e.message}`, {
      hint:
        parent === undefined
          ? `the directory ${dirname(out)} does not exist; create it or choose another path`
          : !parent.isDirectory()
            ? `${dirname(out)} is not a directory; choose another path`
            : `${dirname(out)} does not take new files (permissions, a read-only or special filesystem); choose another path`,
      cause: e,
      details: { path: out },
    });
  });
  try {
    await pipeline(tar(), fh.createWriteStream(), signalOpt);
    await rename(part, out);
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(part, { force: true });
    throw e;
  }
  return { path: out, entries: counted.entries, bytes };
}

/** What a container's root is, as an export reads it (`running`: its top layer may change). */
export function containerTree(store: Store, record: ContainerRecord, running: boolean): ExportTree {
  const containers = new Containers(store.root);
  const dir = containers.containerDir(record.id);
  if (record.rootfs.kind === "overlay" && record.rootfs.lower && record.rootfs.lower.length > 0) {
    return {
      layers: [join(dir, "upper"), ...record.rootfs.lower],
      overlay: true,
      mutableTop: running,
      spoolDir: dir,
    };
  }
  return {
    layers: [join(containers.bundleDir(record.id), "rootfs")],
    overlay: false,
    mutableTop: running,
    spoolDir: dir,
  };
}

/**
 * `osless export`: the filesystem of the container `nameOrId` (name, ID or unique ID prefix) as one tar written
 * to `out` (a stream, not ended; or a file path, replaced only when the archive is complete). Works for a
 * stopped or running container without mounting anything; a running one is paused meanwhile (or, where it
 * cannot be, read file by file: see the module comment). E_NOT_FOUND when there is no such container.
 */
export async function exportContainer(
  store: Store,
  nameOrId: string,
  out: NodeJS.WritableStream | string,
  opts: ExportOptions = {},
): Promise<ExportResult> {
  const record = await new Containers(store.root).lookup(nameOrId);
  const running = currentState(store, record).status !== "exited";
  // A running container is frozen while its files are read (the runtime's pause, as docker commit does): it
  // cannot then swap a directory of its writable layer for a symlink to the host's / between our lstat and our
  // open (the CVE-2018-15664 pattern), and the archive is one instant. Where it cannot be frozen, the walk reads
  // each file once and takes what it read (see the module comment).
  const rt = running ? runtimeOf(record) : undefined;
  const paused = rt !== undefined && (await runtimeCall(rt, "pause", [record.id])).status === 0;
  try {
    const result = await exportTree(containerTree(store, record, running && !paused), out, opts);
    return { ...result, container: { id: record.id, name: record.name }, running };
  } finally {
    if (paused) await runtimeCall(rt!, "resume", [record.id]);
  }
}
