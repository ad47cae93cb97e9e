/**
 * Layer writer: a list of entries -> an OCI layer blob (tar, gzip or not), with its DiffID, in one pass.
 *
 * Same entries + same content -> same bytes:
 * - order is ours, never the caller's: entries are sorted by `compareLayerPaths` (component by component, bytes
 *   compared, parents before children, whiteouts before their siblings);
 * - times are whole seconds (ustar holds seconds; a fraction would cost a PAX header per entry), floored so a time
 *   never moves forward; with `sourceDateEpoch` later times are clamped to it;
 * - uname/gname are empty, no atime/ctime, PAX only when ustar cannot hold a value (the tar writer's rules);
 * - gzip through node:zlib: its header is fixed (mtime 0, no name, XFL from the level, OS byte 3 = Unix), and the
 *   deflate stream depends only on the input bytes, the level and the zlib build (see `WriteLayerOptions.level`).
 */
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { open, rm } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { type Digest, Hasher } from "../digest/index.ts";
import { OslessError } from "../errors.ts";
import { MediaType } from "../spec/media-types.ts";
import type { Descriptor } from "../spec/schemas.ts";
import { type TarType, type TarWriteEntry, type TarWriteItem, writeTar } from "../tar/index.ts";
import {
  entryRole,
  normalizeEntryPath,
  parentOf,
  printable,
  WHITEOUT_OPAQUE,
  WHITEOUT_PREFIX,
} from "./paths.ts";

export interface LayerEntry {
  /** Normalised relative path ("etc/passwd"; no leading "/" or "./", no "." or ".." components, not the root). */
  path: string;
  type: TarType;
  /** Permission bits (0o7777 at most). */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch; a fraction is dropped (floored) when written. */
  mtime: number;
  /** Data size of a regular file (defaults to the body's length or the source file's size). */
  size?: number;
  /** Symlink: the target, verbatim. Hardlink: the path of another entry of this layer. */
  linkpath?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Map<string, Buffer>;
  /** Absolute host path the regular file's bytes are read from when the layer is written. */
  source?: string;
  /** Or the bytes themselves. */
  body?: Buffer;
}

export interface WriteLayerOptions {
  /** Default "gzip" (media type ...tar+gzip); "none" writes the plain tar (...tar, digest == DiffID). */
  compression?: "gzip" | "none";
  /**
   * gzip level 0-9, default 6: zlib's and Go's default, so our blobs are about the size Docker and BuildKit
   * produce. Level 1 is 2-3x faster and 10-15% larger; 9 is several times slower for about 1% less. The level is
   * part of the output: same level + same zlib build -> same blob (node's bundled zlib may pick a CPU-specific
   * match hash, so the blob digest is stable per node build and CPU family; the DiffID is stable everywhere).
   */
  level?: number;
  /**
   * SOURCE_DATE_EPOCH (seconds). When set, every mtime later than it is clamped to it and earlier times are kept:
   * BuildKit's `rewrite-timestamp=true` semantics, so files that come unchanged from a base keep their times. The
   * library never reads process.env: callers pass it.
   */
  sourceDateEpoch?: number;
  signal?: AbortSignal;
}

export interface WrittenLayer {
  /** mediaType, digest and size of the blob file as written. */
  descriptor: Descriptor;
  /** Digest of the uncompressed tar (config.rootfs.diff_ids). */
  diffId: Digest;
  /** Number of tar entries. */
  entries: number;
  /** Bytes of the uncompressed tar. */
  uncompressedSize: number;
}

/** Default gzip level; see WriteLayerOptions.level. */
export const DEFAULT_GZIP_LEVEL = 6;

const READ_CHUNK = 1 << 20;
const WRITE_BATCH = 1 << 20;

function invalid(
  path: string,
  why: string,
  hint: string,
  details: Record<string, unknown> = {},
): OslessError {
  return new OslessError("E_LAYER_INVALID", `layer entry "${printable(path)}": ${why}`, {
    hint,
    details: { path, ...details },
  });
}

// --- order ----------------------------------------------------------------------------------------------------

/**
 * Sort key of a normalised path: each component as [rank][bytes], components joined by 0x00. Byte order of the
 * keys is component-wise order (a directory's entries directly follow it, "a/b" before "a-b"), with, inside one
 * directory, the opaque marker first, then `.wh.*` whiteouts, then the other names (image-spec layer.md: whiteouts
 * SHOULD come before their sibling entries, so a streaming applier deletes before it creates).
 */
export function layerSortKey(path: string): Buffer {
  const parts: Buffer[] = [];
  for (const c of path.split("/")) {
    if (parts.length > 0) parts.push(SEP);
    const rank =
      c === WHITEOUT_OPAQUE ? RANK_OPAQUE : c.startsWith(WHITEOUT_PREFIX) ? RANK_WHITEOUT : RANK_NAME;
    parts.push(rank, Buffer.from(c, "utf8"));
  }
  return Buffer.concat(parts);
}
const SEP = Buffer.from([0]);
const RANK_OPAQUE = Buffer.from([1]);
const RANK_WHITEOUT = Buffer.from([2]);
const RANK_NAME = Buffer.from([3]);

/** The order entries take in a layer written by `writeLayer` (see layerSortKey). */
export function compareLayerPaths(a: string, b: string): number {
  return Buffer.compare(layerSortKey(a), layerSortKey(b));
}

/** `entries` sorted in layer order (a new array). */
export function sortLayerEntries<T extends { path: string }>(entries: Iterable<T>): T[] {
  const keyed = [...entries].map((e) => ({ e, k: layerSortKey(e.path) }));
  keyed.sort((x, y) => Buffer.compare(x.k, y.k));
  return keyed.map((x) => x.e);
}

// --- whiteouts -------------------------------------------------------------------------------------------------

/**
 * The whiteout entry deleting `target` (a normalised path) from lower layers: an empty regular file `.wh.<name>`,
 * mode 0, owner 0:0, mtime 0. Fixed metadata (not the time of the deletion, as containerd does without
 * SOURCE_DATE_EPOCH) so the same deletion always gives the same bytes; appliers never materialise it.
 */
export function whiteoutEntry(target: string): LayerEntry {
  const dir = parentOf(target);
  const name = target.slice(dir === "." ? 0 : dir.length + 1);
  return markerEntry(dir === "." ? `${WHITEOUT_PREFIX}${name}` : `${dir}/${WHITEOUT_PREFIX}${name}`);
}

/** The opaque marker `<dir>/.wh..wh..opq` (hides every lower child of `dir`), with the whiteout metadata. */
export function opaqueEntry(dir: string): LayerEntry {
  return markerEntry(dir === "." ? WHITEOUT_OPAQUE : `${dir}/${WHITEOUT_OPAQUE}`);
}

function markerEntry(path: string): LayerEntry {
  return { path, type: "file", mode: 0, uid: 0, gid: 0, mtime: 0, size: 0 };
}

// --- validation ------------------------------------------------------------------------------------------------

interface Prepared {
  entry: LayerEntry;
  key: Buffer;
}

/** Check every entry, sort, and give each hardlink group one carrier (the first member in layer order). */
function prepare(input: LayerEntry[]): LayerEntry[] {
  const byPath = new Map<string, LayerEntry>();
  for (const e of input) {
    checkEntry(e);
    if (byPath.has(e.path)) {
      throw invalid(
        e.path,
        "listed twice",
        "a layer holds each path once (image-spec layer.md); merge the two",
      );
    }
    byPath.set(e.path, e);
  }
  // Parents inside the layer must be directories; whiteouts must not name a path this layer creates.
  const ancestors = new Set<string>();
  for (const e of byPath.values()) {
    for (let p = parentOf(e.path); p !== "."; p = parentOf(p)) {
      if (ancestors.has(p)) break;
      ancestors.add(p);
    }
  }
  for (const e of byPath.values()) {
    const parent = parentOf(e.path);
    const pe = parent === "." ? undefined : byPath.get(parent);
    if (pe && pe.type !== "directory") {
      throw invalid(
        e.path,
        `its parent "${printable(parent)}" is a ${pe.type} in this layer`,
        "entries can only live under directories of the same layer",
      );
    }
    const role = entryRole(e.path);
    if (role.kind === "whiteout" && (byPath.has(role.target) || ancestors.has(role.target))) {
      throw invalid(
        e.path,
        `whites out "${printable(role.target)}", which this layer also creates`,
        "a whiteout only hides lower layers; to replace a path just write the new entry",
      );
    }
  }
  // Hardlinks: resolve each to the entry holding the data; the first member of a group in layer order carries it.
  const groups = new Map<string, string[]>();
  for (const e of byPath.values()) {
    if (e.type !== "hardlink") continue;
    const root = resolveLink(e, byPath);
    const g = groups.get(root.path);
    if (g) g.push(e.path);
    else groups.set(root.path, [root.path, e.path]);
  }
  const prepared: Prepared[] = [...byPath.values()].map((entry) => ({
    entry,
    key: layerSortKey(entry.path),
  }));
  if (groups.size > 0) {
    const keyOf = new Map(prepared.map((p) => [p.entry.path, p.key]));
    const rewritten = new Map<string, LayerEntry>();
    for (const [rootPath, members] of groups) {
      members.sort((a, b) => Buffer.compare(keyOf.get(a)!, keyOf.get(b)!));
      const root = byPath.get(rootPath)!;
      const carrier = members[0]!;
      rewritten.set(carrier, { ...root, path: carrier });
      for (const m of members.slice(1)) {
        // A link header carries the linked file's metadata (they share one inode); appliers ignore it (R8).
        const { mode, uid, gid, mtime } = root;
        rewritten.set(m, { path: m, type: "hardlink", linkpath: carrier, mode, uid, gid, mtime });
      }
    }
    for (const p of prepared) p.entry = rewritten.get(p.entry.path) ?? p.entry;
  }
  prepared.sort((a, b) => Buffer.compare(a.key, b.key));
  return prepared.map((p) => p.entry);
}

function resolveLink(e: LayerEntry, byPath: Map<string, LayerEntry>): LayerEntry {
  let cur = e;
  const seen = new Set<string>();
  while (cur.type === "hardlink") {
    if (seen.has(cur.path)) {
      throw invalid(e.path, "its hardlinks form a cycle", "a hardlink must end at a file of the layer");
    }
    seen.add(cur.path);
    const next = byPath.get(cur.linkpath ?? "");
    if (!next) {
      throw invalid(
        cur.path,
        `hardlink to "${printable(cur.linkpath ?? "")}", which is not an entry of this layer`,
        "list the link target in the same layer, or write the file itself instead of a link",
      );
    }
    cur = next;
  }
  if (cur.type === "directory") {
    throw invalid(
      e.path,
      `hardlink to the directory "${printable(cur.path)}"`,
      "directories cannot be hardlinked",
    );
  }
  if (entryRole(cur.path).kind !== "normal") {
    throw invalid(e.path, `hardlink to the whiteout "${printable(cur.path)}"`, "link to an ordinary file");
  }
  return cur;
}

function checkEntry(e: LayerEntry): void {
  const p = e.path;
  if (typeof p !== "string" || p === "") {
    throw invalid(String(p), "empty path", "give each entry a relative path such as etc/passwd");
  }
  const clean = normalizeEntryPath(p);
  if (clean === ".") {
    throw invalid(p, "the root directory itself is not a layer entry", "list the paths inside the root");
  }
  if (clean !== p) {
    throw invalid(p, `the path is not normalised (expected "${printable(clean)}")`, "pass normalised paths");
  }
  const role = entryRole(p);
  if (role.kind === "ignored") {
    throw invalid(p, "AUFS metadata names (.wh..wh.*) are not written", "drop the entry");
  }
  if (role.kind !== "normal") {
    const empty = e.type === "file" && (e.size ?? 0) === 0 && (e.body?.length ?? 0) === 0 && !e.source;
    if (!empty) {
      throw invalid(
        p,
        "a whiteout must be an empty regular file",
        "make it with whiteoutEntry() or opaqueEntry()",
      );
    }
  }
  if (!Number.isInteger(e.mode) || e.mode < 0 || e.mode > 0o7777) {
    throw invalid(p, `mode ${String(e.mode)} is not permission bits (0-0o7777)`, "pass st_mode & 0o7777");
  }
  for (const [k, v] of [
    ["uid", e.uid],
    ["gid", e.gid],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0)
      throw invalid(p, `${k} ${String(v)} is invalid`, "pass a numeric id");
  }
  if (typeof e.mtime !== "number" || !Number.isFinite(e.mtime)) {
    throw invalid(p, `mtime ${String(e.mtime)} is not a number`, "pass seconds since the epoch");
  }
  switch (e.type) {
    case "file": {
      if (e.source !== undefined && e.body !== undefined) {
        throw invalid(p, "has both a source file and a body", "give one of them");
      }
      if (e.body !== undefined && e.size !== undefined && e.size !== e.body.length) {
        throw invalid(p, `size ${e.size} but the body has ${e.body.length} bytes`, "pass the body's length");
      }
      if (e.source === undefined && e.body === undefined && (e.size ?? 0) !== 0) {
        throw invalid(
          p,
          `size ${e.size} but no body or source`,
          "give the bytes or the file to read them from",
        );
      }
      if (e.source !== undefined && !e.source.startsWith("/")) {
        throw invalid(
          p,
          `source "${printable(e.source)}" is not an absolute path`,
          "pass an absolute host path",
        );
      }
      break;
    }
    case "symlink":
    case "hardlink":
      if (!e.linkpath) throw invalid(p, `a ${e.type} needs a linkpath`, "give the link target");
      break;
    case "char":
    case "block":
      for (const v of [e.devmajor ?? 0, e.devminor ?? 0]) {
        if (!Number.isSafeInteger(v) || v < 0 || v >= 2 ** 32) {
          throw invalid(p, `device number ${v} is out of range`, "pass major and minor numbers");
        }
      }
      break;
    case "directory":
    case "fifo":
      break;
    default:
      throw invalid(p, `unknown type ${String(e.type)}`, "use a tar entry type");
  }
  if (e.type !== "file" && (e.source !== undefined || (e.body?.length ?? 0) > 0)) {
    throw invalid(p, `a ${e.type} cannot have data`, "only regular files have a body or source");
  }
}

// --- writing ---------------------------------------------------------------------------------------------------

function tarEntry(e: LayerEntry, size: number, epoch: number | undefined): TarWriteEntry {
  let mtime = Math.floor(e.mtime);
  if (epoch !== undefined && mtime > epoch) mtime = epoch;
  const t: TarWriteEntry = {
    // Directories end in "/" as GNU tar, Docker and containerd write them (old readers go by the slash).
    path: e.type === "directory" ? `${e.path}/` : e.path,
    type: e.type,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    mtime,
    uname: "",
    gname: "",
  };
  if (e.type === "file") t.size = size;
  if (e.linkpath !== undefined && (e.type === "symlink" || e.type === "hardlink")) t.linkpath = e.linkpath;
  if (e.type === "char" || e.type === "block") {
    t.devmajor = e.devmajor ?? 0;
    t.devminor = e.devminor ?? 0;
  }
  if (e.xattrs && e.xattrs.size > 0 && e.type !== "hardlink") {
    t.xattrs = new Map([...e.xattrs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
  return t;
}

/**
 * Exactly `size` bytes of an open regular file, refusing one that grew or shrank meanwhile. Synchronous reads of
 * at most 1 MiB: a promise-based read costs a thread-pool round trip per call, which made small files 15x slower,
 * and the pipeline's awaits between chunks still give the event loop its turns.
 */
function* readExactly(
  fd: number,
  size: number,
  what: string,
  signal: AbortSignal | undefined,
): Generator<Buffer> {
  let pos = 0;
  while (pos < size) {
    signal?.throwIfAborted();
    const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, size - pos));
    const n = readSync(fd, buf, 0, buf.length, pos);
    if (n === 0) break; // shrank: the tar writer reports the short body
    pos += n;
    yield n === buf.length ? buf : buf.subarray(0, n);
  }
  if (pos === size && readSync(fd, Buffer.allocUnsafe(1), 0, 1, pos) > 0) throw changed(what, size, "grew");
}

function changed(what: string, size: number, how: string): OslessError {
  return new OslessError("E_SIZE_MISMATCH", `layer source ${what} ${how} while the layer was written`, {
    hint: "nothing may write to the tree a layer is made from; stop the writer and make the layer again",
    details: { path: what, size },
  });
}

async function* tarItems(
  entries: LayerEntry[],
  epoch: number | undefined,
  signal: AbortSignal | undefined,
): AsyncGenerator<TarWriteItem> {
  for (const e of entries) {
    signal?.throwIfAborted();
    if (e.type !== "file") {
      yield { entry: tarEntry(e, 0, epoch) };
      continue;
    }
    if (e.source === undefined) {
      const size = e.body?.length ?? 0;
      yield e.body && size > 0
        ? { entry: tarEntry(e, size, epoch), body: e.body }
        : { entry: tarEntry(e, 0, epoch) };
      continue;
    }
    // O_NOFOLLOW: a source swapped for a symlink after it was listed is refused, never followed. O_NONBLOCK: a
    // source swapped for a FIFO does not hang the open (fstat then refuses it).
    let fd: number;
    try {
      fd = openSync(e.source, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new OslessError(
        code === "ENOENT" ? "E_NOT_FOUND" : "E_IO",
        `layer entry "${printable(e.path)}": cannot open its source ${e.source}: ${code ?? String(err)}`,
        { hint: "the file changed or vanished after it was listed; make the layer again", cause: err },
      );
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) {
        throw invalid(
          e.path,
          `its source ${e.source} is not a regular file`,
          "the tree changed; list it again",
        );
      }
      if (e.size !== undefined && st.size !== e.size)
        throw changed(e.source, e.size, `changed size (${st.size})`);
      yield { entry: tarEntry(e, st.size, epoch), body: toAsync(readExactly(fd, st.size, e.source, signal)) };
    } finally {
      closeSync(fd);
    }
  }
}

async function* toAsync<T>(it: Iterable<T>): AsyncGenerator<T> {
  yield* it;
}

/**
 * Write `entries` as an OCI layer blob into `file` (created or truncated; deleted again on error). Entries are
 * checked (normalised unique paths, no root entry, whiteouts empty files not colliding with entries of the layer,
 * parents in the layer are directories, hardlinks name entries of the layer) and sorted here: callers' order
 * does not matter. A hardlink group's data goes with its first member in layer order, the others link to it.
 * Uncompressed tar (DiffID) and blob are hashed in the same pass; file bodies are streamed, never buffered.
 */
export async function writeLayer(
  entries: Iterable<LayerEntry> | AsyncIterable<LayerEntry>,
  file: string,
  opts: WriteLayerOptions = {},
): Promise<WrittenLayer> {
  const { signal } = opts;
  const compression = opts.compression ?? "gzip";
  if (compression !== "gzip" && compression !== "none") {
    throw new OslessError("E_USAGE", `layer compression "${String(compression)}" is not supported`, {
      hint: 'use "gzip" or "none"',
    });
  }
  const level = opts.level ?? DEFAULT_GZIP_LEVEL;
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new OslessError("E_USAGE", `gzip level ${String(level)} is not 0-9`, {
      hint: "pass 0 to 9 (default 6)",
    });
  }
  const epoch = opts.sourceDateEpoch;
  if (epoch !== undefined && !Number.isSafeInteger(epoch)) {
    throw new OslessError(
      "E_USAGE",
      `SOURCE_DATE_EPOCH ${String(epoch)} is not an integer number of seconds`,
      {
        hint: "pass whole seconds since 1970-01-01 UTC, as SOURCE_DATE_EPOCH is defined",
      },
    );
  }
  const list: LayerEntry[] = [];
  for await (const e of entries) {
    signal?.throwIfAborted();
    list.push(e);
  }
  const sorted = prepare(list);

  const diff = new Hasher();
  const blob = compression === "gzip" ? new Hasher() : diff;
  const hashTar = async function* (src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const c of src) {
      diff.update(c);
      yield c;
    }
  };
  const hashBlob = async function* (src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const c of src) {
      blob.update(c);
      yield c;
    }
  };
  const out = await open(file, "w", 0o644).catch((err: NodeJS.ErrnoException) => {
    throw new OslessError("E_IO", `cannot create the layer file ${file}: ${err.code ?? err.message}`, {
      hint: "check that its directory exists and is writable",
      cause: err,
      details: { path: file },
    });
  });
  try {
    const sink = async (src: AsyncIterable<Buffer>): Promise<void> => {
      // Batched writes: zlib emits 16 KiB chunks, one write(2) per MiB is enough.
      let batch: Buffer[] = [];
      let n = 0;
      for await (const c of src) {
        batch.push(c);
        n += c.length;
        if (n >= WRITE_BATCH) {
          await out.write(Buffer.concat(batch, n));
          batch = [];
          n = 0;
        }
      }
      if (n > 0) await out.write(Buffer.concat(batch, n));
    };
    const tar = writeTar(tarItems(sorted, epoch, signal));
    if (compression === "gzip") {
      await pipeline(tar, hashTar, createGzip({ level }), hashBlob, sink, signal ? { signal } : {});
    } else {
      await pipeline(tar, hashTar, sink, signal ? { signal } : {});
    }
  } catch (e) {
    await out.close().catch(() => {});
    await rm(file, { force: true });
    throw e;
  }
  await out.close();
  const uncompressedSize = diff.size;
  const diffId = diff.digest();
  const digest = compression === "gzip" ? blob.digest() : diffId;
  return {
    descriptor: {
      mediaType: compression === "gzip" ? MediaType.OCI_LAYER_GZIP : MediaType.OCI_LAYER,
      digest,
      size: blob.size,
    },
    diffId,
    entries: sorted.length,
    uncompressedSize,
  };
}
