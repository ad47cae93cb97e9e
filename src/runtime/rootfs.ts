/**
 * A container's root filesystem: per-layer snapshots shared by every container (overlayfs lower dirs), the
 * overlay mount runc makes at "/", a reader of the union before the container exists, and the copy fallback.
 *
 * Snapshots. Each layer is unpacked ALONE (its whiteouts stored as overlayfs reads them: `applyLayer` with
 * `whiteouts: "overlay"`) into `<root>/<name>/fs`, where `<name>` is a short prefix of the layer's ChainID (OCI
 * image spec: the layer and everything below it), so a layer shared by two images is one snapshot only when it
 * sits on the same base, which is what overlay needs (a layer's whiteouts mean something only over its base).
 * Beside `fs`, `chainid` holds the full ChainID: a prefix taken by another chain (a collision) is skipped for a
 * longer one. Names are short because runc hands the lower dirs to mount(2) as one string, which the kernel
 * reads from one page (4096 bytes): with `/var/lib/osless/snapshots` about 90 layers fit (`overlayMount` says
 * so when they do not; the copy fallback has no such limit).
 *
 * Crash safety: a snapshot is built in `<root>/.<name>.tmp-XXXXXX` (0700), synced (syncfs) and renamed into
 * place, so a `<root>/<name>` that exists is complete; the build runs under the lock `<root>/<name>.lock`
 * (src/_internal/lock.ts: a killed holder's lock is stale and taken over), which also makes concurrent callers,
 * in any process, build it once; the lock holder removes the temp dirs a killed build left. The layer is read
 * through `layerTar`, which checks its DiffID at the end of the stream: a corrupt blob fails the build before
 * the rename, and leaves nothing. An existing snapshot is reused without opening the blob.
 *
 * The union reader (`UnionRoot`) answers, from the host and before the container runs, what the overlay will
 * show: which user /etc/passwd names, whether the entrypoint exists. It must agree with the kernel, so it
 * follows overlayfs's lookup rules (documented on the class) and resolves symlinks with chroot semantics.
 */
import { execFileSync } from "node:child_process";
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  lstatSync,
  openSync,
  readFileSync,
  readlinkSync,
  readSync,
  type Stats,
  statfsSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { release } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { fsyncDir, isErrno } from "../_internal/fs.ts";
import { acquireLock, lockHeld } from "../_internal/lock.ts";
import { fsError, loopError, MAX_SYMLINK_HOPS, shortPath } from "../_internal/rootpath.ts";
import { systemTool } from "../_internal/which.ts";
import { getXattr, setXattr, XattrError, xattrSupport } from "../_internal/xattr.ts";
import { digestOf } from "../digest/index.ts";
import { OslessError } from "../errors.ts";
import { type ApplyWarning, applyLayer, isPrivileged } from "../layer/apply.ts";
import { inLayer, type LayerLimits, type LayerSource, layerTar } from "../layer/source.ts";
import { type UnpackOptions, type UnpackResult, unpackLayers } from "../layer/unpack.ts";
import type { RootReader, RootStat } from "./types.ts";

// --- ChainIDs ----------------------------------------------------------------------------------------------------

/**
 * ChainIDs of a stack of layers given by their DiffIDs, base first (OCI image spec, config.md "Layer ChainID"):
 * ChainID(L0) = DiffID(L0), ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)).
 */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    const prev = out.at(-1);
    if (prev === undefined) out.push(d);
    else out.push(digestOf(`${prev} ${d}`));
  }
  return out;
}

// --- snapshots ---------------------------------------------------------------------------------------------------

export interface Snapshot {
  /** The ChainID of the layer (the layer over everything below it). */
  chainId: string;
  /** The unpacked layer, an overlayfs lower dir: `<root>/<short id>/fs`. */
  dir: string;
  /**
   * The layer has an opaque marker at its root (`.wh..wh..opq` at the top): it hides every layer below it. The
   * kernel ignores the opaque xattr on a lower dir's root, so the layers below must be left out of the mount:
   * `lowerDirs` does that.
   */
  opaqueRoot: boolean;
}

/** How one layer's snapshot was had: found complete, or built now (`building` before, `built` after). */
export type SnapshotState = "reused" | "building" | "built";

export interface SnapshotOptions {
  signal?: AbortSignal | undefined;
  /** Called for each layer (0-based index): "reused", or "building" then "built". */
  onProgress?: ((layerIndex: number, state: SnapshotState) => void) | undefined;
  /** Layer limits for the builds (see LayerLimits; the image-wide budget does not apply per layer). */
  limits?: LayerLimits | undefined;
  onWarning?: ((layerIndex: number, w: ApplyWarning) => void) | undefined;
  /** Snapshots built at the same time (default 3: decompression and writing of different layers overlap). */
  concurrency?: number | undefined;
  /** How long to wait for another process building the same snapshot (default 30 minutes). */
  lockTimeoutMs?: number | undefined;
}

/** The empty directory beside the snapshots (a read-only overlay of one layer needs a second lower dir). */
export function emptyLowerDir(root: string): string {
  return join(root, "empty");
}

const CHAINID_FILE = "chainid";
const FS_DIR = "fs";
/** Prefix lengths (hex digits) tried in turn; the last is the whole digest. */
const NAME_LENGTHS = [12, 16, 24, 32, 128];

/** Candidate directory names of `chainId` under the snapshots root, shortest first. */
function snapshotNames(chainId: string): string[] {
  const hex = chainId.slice(chainId.indexOf(":") + 1);
  if (!/^[0-9a-f]{32,}$/.test(hex)) {
    throw new OslessError("E_DIGEST_INVALID", `layer chain ID ${chainId} is not a hex digest`, {
      details: { chainId },
    });
  }
  const names = NAME_LENGTHS.map((n) => hex.slice(0, n));
  return [...new Set(names)];
}

/** In-process builds under way, by "<root>\0<chainId>": concurrent callers of one process share one build. */
const building = new Map<string, Promise<Snapshot>>();

/**
 * The snapshot of every layer (base first, aligned with `layers`), each built once under `root` and reused
 * afterwards. `root` (made 0700 if missing) is the store's `snapshots` directory. Needs privilege (whiteout
 * device nodes, trusted.* xattrs): E_DENIED otherwise. On failure or abort, snapshots finished so far stay
 * (they are complete and shared), nothing half-built is visible.
 */
export async function prepareSnapshots(
  root: string,
  layers: LayerSource[],
  opts: SnapshotOptions = {},
): Promise<Snapshot[]> {
  if (!isAbsolute(root)) {
    throw new OslessError("E_USAGE", `the snapshots directory ${root} is not an absolute path`, {
      details: { path: root },
    });
  }
  if (!isPrivileged()) {
    throw new OslessError(
      "E_DENIED",
      "overlay snapshots need real root outside a user namespace (whiteout device nodes, trusted.* xattrs)",
      { hint: "run as root, or use the copy fallback (--rootfs copy)", details: { path: root } },
    );
  }
  opts.signal?.throwIfAborted();
  await ensureDir(root, 0o700);
  await ensureDir(emptyLowerDir(root), 0o755);
  const ids = chainIds(layers.map((l) => l.diffId));
  const results: Snapshot[] = new Array(layers.length);
  // A private controller: the first failure stops the other builds.
  const stop = new AbortController();
  const onAbort = () => stop.abort(opts.signal?.reason);
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < layers.length) {
      const i = next++;
      try {
        results[i] = await snapshotOf(root, layers[i]!, ids[i]!, { ...opts, signal: stop.signal });
      } catch (e) {
        if (failure === undefined) failure = { error: e };
        stop.abort();
      }
    }
  };
  try {
    const n = Math.max(1, Math.min(opts.concurrency ?? 3, layers.length));
    await Promise.all(Array.from({ length: n }, worker));
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
  }
  if (failure !== undefined) {
    // An abort from the caller is reported as such, not as whatever it interrupted.
    opts.signal?.throwIfAborted();
    throw failure.error;
  }
  return results;
}

/**
 * The lower dirs of an overlay over `snapshots` (base first, as `prepareSnapshots` returns them), top first as
 * `overlayMount` and `UnionRoot` take them; the layers below a layer with an opaque root are left out.
 */
export function lowerDirs(snapshots: readonly Snapshot[]): string[] {
  const out: string[] = [];
  for (let i = snapshots.length - 1; i >= 0; i--) {
    out.push(snapshots[i]!.dir);
    if (snapshots[i]!.opaqueRoot) break;
  }
  return out;
}

async function snapshotOf(
  root: string,
  layer: LayerSource,
  chainId: string,
  opts: SnapshotOptions,
): Promise<Snapshot> {
  const found = await findSnapshot(root, chainId);
  if (found !== undefined) {
    opts.onProgress?.(layer.index, "reused");
    return found;
  }
  const key = `${root}\0${chainId}`;
  for (;;) {
    const shared = building.get(key);
    if (shared === undefined) {
      const p = buildLocked(root, layer, chainId, opts).finally(() => building.delete(key));
      building.set(key, p);
      return p;
    }
    // Another caller of this process builds it: wait for it. If that build fails (its caller may have been
    // aborted, or stopped by a failure of another layer), look again: build it ourselves, and fail as ourselves.
    opts.onProgress?.(layer.index, "building");
    try {
      const s = await shared;
      opts.onProgress?.(layer.index, "built");
      return s;
    } catch {
      opts.signal?.throwIfAborted();
    }
  }
}

type Slot = { kind: "found"; snapshot: Snapshot } | { kind: "free"; name: string };

/** Where `chainId` is (a complete snapshot) or may go (the first free name), looking at every candidate name. */
async function lookupSlot(root: string, chainId: string): Promise<Slot | undefined> {
  let free: string | undefined;
  for (const name of snapshotNames(chainId)) {
    const dir = join(root, name);
    let stored: string;
    try {
      stored = (await readFile(join(dir, CHAINID_FILE), "utf8")).trim();
    } catch (e) {
      if (isErrno(e, "ENOENT") || isErrno(e, "ENOTDIR")) {
        // Absent: the first such name is where it would go. (A directory without its chainid file cannot be
        // made by us: builds rename complete directories into place. Such a name is skipped.)
        if (free === undefined && !existsSync(dir)) free = name;
        continue;
      }
      throw fsError(e, join(dir, CHAINID_FILE), "read");
    }
    if (stored === chainId) return { kind: "found", snapshot: await snapshotAt(dir, chainId) };
  }
  return free === undefined ? undefined : { kind: "free", name: free };
}

async function findSnapshot(root: string, chainId: string): Promise<Snapshot | undefined> {
  const slot = await lookupSlot(root, chainId);
  return slot?.kind === "found" ? slot.snapshot : undefined;
}

/** Written beside `fs` when the layer's root is opaque, so reusing a snapshot reads no xattr (no addon load). */
const OPAQUE_ROOT_FILE = "opaque-root";

async function snapshotAt(dir: string, chainId: string): Promise<Snapshot> {
  return { chainId, dir: join(dir, FS_DIR), opaqueRoot: existsSync(join(dir, OPAQUE_ROOT_FILE)) };
}

function readOpaque(host: string): boolean {
  try {
    return getXattr(host, "trusted.overlay.opaque")?.toString() === "y";
  } catch (e) {
    if (e instanceof XattrError && (e.code === "ENODATA" || e.code === "ENOTSUP")) return false;
    throw new OslessError(
      "E_IO",
      `${host}: cannot read xattr trusted.overlay.opaque: ${(e as Error).message}`,
      {
        cause: e,
        details: { path: host },
      },
    );
  }
}

/** Build the snapshot of `layer` under its lock (or find that another process built it meanwhile). */
async function buildLocked(
  root: string,
  layer: LayerSource,
  chainId: string,
  opts: SnapshotOptions,
): Promise<Snapshot> {
  for (;;) {
    const slot = await lookupSlot(root, chainId);
    if (slot === undefined) {
      throw new OslessError(
        "E_STORE_CORRUPT",
        `no free snapshot name for layer chain ${chainId} under ${root}`,
        {
          hint: "remove the snapshots directory's leftovers (osless prune)",
          details: { chainId, path: root },
        },
      );
    }
    if (slot.kind === "found") {
      opts.onProgress?.(layer.index, "reused");
      return slot.snapshot;
    }
    const name = slot.name;
    const release = await acquireLock(join(root, `${name}.lock`), {
      signal: opts.signal,
      timeoutMs: opts.lockTimeoutMs ?? 30 * 60_000,
    });
    try {
      // Under the lock: built by someone else meanwhile? (Or the name taken by another chain: look again.)
      if (existsSync(join(root, name))) continue;
      await removeLeftovers(root, name);
      opts.onProgress?.(layer.index, "building");
      const s = await build(root, name, layer, chainId, opts);
      opts.onProgress?.(layer.index, "built");
      return s;
    } finally {
      await release();
    }
  }
}

/** Temp dirs of builds of `name` that were killed (the caller holds the name's lock, so none is running). */
async function removeLeftovers(root: string, name: string): Promise<void> {
  for (const entry of await readdir(root)) {
    if (entry.startsWith(`.${name}.tmp-`) || entry.startsWith(`.${name}.del-`)) {
      await rm(join(root, entry), { recursive: true, force: true });
    }
  }
}

async function build(
  root: string,
  name: string,
  layer: LayerSource,
  chainId: string,
  opts: SnapshotOptions,
): Promise<Snapshot> {
  const tmp = await mkdtemp(join(root, `.${name}.tmp-`));
  try {
    await chmod(tmp, 0o700);
    const fs = join(tmp, FS_DIR);
    await mkdir(fs);
    await chmod(fs, 0o755);
    try {
      await applyLayer(layerTar(layer, { limits: opts.limits, signal: opts.signal }), fs, {
        whiteouts: "overlay",
        limits: opts.limits,
        signal: opts.signal,
        onWarning: opts.onWarning && ((w) => opts.onWarning!(layer.index, w)),
      });
    } catch (e) {
      throw inLayer(e, layer);
    }
    opts.signal?.throwIfAborted();
    if (readOpaque(fs)) await writeFile(join(tmp, OPAQUE_ROOT_FILE), "", { mode: 0o644 });
    await writeFile(join(tmp, CHAINID_FILE), `${chainId}\n`, { mode: 0o644 });
    // The rename must not become visible before the tree it names: flush the filesystem's dirty data first
    // (syncfs through coreutils `sync -f`; fsyncing each of a layer's files would cost one call per file).
    syncFs(tmp);
    const dir = join(root, name);
    try {
      await rename(tmp, dir);
    } catch (e) {
      throw fsError(e, dir, "move the built snapshot into place");
    }
    await fsyncDir(root);
    return await snapshotAt(dir, chainId);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
    throw e;
  }
}

function syncFs(path: string): void {
  try {
    execFileSync(systemTool("sync"), ["-f", path], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (e) {
    throw new OslessError("E_IO", `cannot sync the filesystem of ${path}: ${(e as Error).message}`, {
      hint: "coreutils sync flushes a built snapshot before it is used; check that it is installed",
      cause: e,
      details: { path },
    });
  }
}

async function ensureDir(path: string, mode: number): Promise<void> {
  try {
    await mkdir(path, { recursive: true, mode });
  } catch (e) {
    throw fsError(e, path, "create directory");
  }
  const st = await lstat(path);
  if (!st.isDirectory()) {
    throw new OslessError("E_IO", `${path} is not a directory`, { details: { path } });
  }
}

/**
 * Remove every snapshot under `root` whose ChainID is not in `keep`, and what killed builds left (temp dirs of
 * names no process is building). Returns the ChainIDs removed (an entry without a readable chainid file: its
 * directory path). A snapshot being built now is skipped. The caller makes sure no container still uses what it
 * does not keep.
 */
export async function removeSnapshots(root: string, keep: Set<string>): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(root);
  } catch (e) {
    if (isErrno(e, "ENOENT")) return [];
    throw fsError(e, root, "read directory");
  }
  const removed: string[] = [];
  for (const entry of entries) {
    const leftover = /^\.([0-9a-f]+)\.(tmp|del)-/.exec(entry);
    if (leftover) {
      if (!(await lockHeld(join(root, `${leftover[1]}.lock`)))) {
        await rm(join(root, entry), { recursive: true, force: true });
      }
      continue;
    }
    if (!/^[0-9a-f]+$/.test(entry)) continue; // "empty", lock files
    const dir = join(root, entry);
    let chainId: string | undefined;
    try {
      chainId = (await readFile(join(dir, CHAINID_FILE), "utf8")).trim();
    } catch (e) {
      if (!isErrno(e, "ENOENT") && !isErrno(e, "ENOTDIR")) throw fsError(e, join(dir, CHAINID_FILE), "read");
    }
    if (chainId !== undefined && keep.has(chainId)) continue;
    const lock = join(root, `${entry}.lock`);
    if (await lockHeld(lock)) continue;
    const release = await acquireLock(lock, { timeoutMs: 0 }).catch(() => undefined);
    if (release === undefined) continue;
    try {
      // Out of sight first (one rename), then removed: a kill in between leaves a `.del-` leftover, not a
      // half-removed snapshot that looks complete.
      const gone = await mkdtemp(join(root, `.${entry}.del-`));
      await rename(dir, join(gone, "s"));
      await rm(gone, { recursive: true, force: true });
      removed.push(chainId ?? dir);
    } finally {
      await release();
    }
  }
  return removed;
}

// --- the overlay mount -------------------------------------------------------------------------------------------

/** What the kernel copies of mount(2)'s data: one page. */
export const MOUNT_DATA_MAX = 4096;

/**
 * Options every overlay root gets: rename redirects and metadata-only copy-ups off, so an upper dir holds only
 * what UnionRoot and the export read (whiteouts, opaque dirs, whole copies), whatever the kernel's defaults.
 */
export const OVERLAY_FIXED_OPTIONS: readonly string[] = ["redirect_dir=off", "metacopy=off"];

export interface OverlayMount {
  destination: "/";
  type: "overlay";
  source: "overlay";
  options: string[];
}

/**
 * The OCI mount entry runc turns into the container's overlay root: `lower` top first, `upper` and `work` the
 * container's own (same filesystem; `work` empty). Without `upper` the overlay is read-only (lowerdir only);
 * overlayfs then needs two lower dirs at least, so a single one gets `emptyDir` below it (default: the empty dir
 * beside the snapshot, `emptyLowerDir(<snapshots root>)`, which `prepareSnapshots` makes). Throws E_RUNTIME when
 * the options do not fit in the page the kernel reads, E_USAGE for a path overlayfs cannot take.
 */
export function overlayMount(
  lower: readonly string[],
  upper?: string,
  work?: string,
  opts: { emptyDir?: string } = {},
): OverlayMount {
  if (lower.length === 0) {
    throw new OslessError(
      "E_USAGE",
      "an overlay root needs at least one lower dir (the image has no layers)",
      {
        hint: "use the copy fallback for an image without layers",
      },
    );
  }
  if ((upper === undefined) !== (work === undefined)) {
    throw new OslessError(
      "E_USAGE",
      "an overlay root takes an upper dir and a work dir together, or neither",
    );
  }
  let lowers = [...lower];
  if (upper === undefined && lowers.length === 1) {
    const empty = opts.emptyDir ?? emptyLowerDir(dirname(dirname(lowers[0]!)));
    if (!existsSync(empty)) {
      throw new OslessError("E_RUNTIME", `the empty lower dir ${empty} does not exist`, {
        hint: "a read-only overlay of one layer needs an empty second lower dir: prepareSnapshots makes it, or pass emptyDir",
        details: { path: empty },
      });
    }
    lowers = [...lowers, empty];
  }
  for (const p of lowers) checkOverlayPath(p, true);
  const options = [`lowerdir=${lowers.join(":")}`];
  if (upper !== undefined && work !== undefined) {
    checkOverlayPath(upper, false);
    checkOverlayPath(work, false);
    options.push(`upperdir=${upper}`, `workdir=${work}`);
  }
  options.push(...OVERLAY_FIXED_OPTIONS);
  // mount(2) data: the options joined by commas, NUL-terminated, within one page.
  const bytes = Buffer.byteLength(options.join(",")) + 1;
  if (bytes > MOUNT_DATA_MAX) {
    throw new OslessError(
      "E_RUNTIME",
      `the overlay root of ${lower.length} layers needs ${bytes} bytes of mount options, more than the ${MOUNT_DATA_MAX} the kernel accepts`,
      {
        hint: "use the copy fallback (--rootfs copy), which has no layer limit, or squash the image into fewer layers; a store at a shorter path ($OSLESS_ROOT) also helps",
        details: { layers: lower.length, bytes, limit: MOUNT_DATA_MAX },
      },
    );
  }
  return { destination: "/", type: "overlay", source: "overlay", options };
}

function checkOverlayPath(p: string, isLower: boolean): void {
  const bad = isLower ? /[,:\\\n]/ : /[,\\\n]/;
  if (!isAbsolute(p) || bad.test(p)) {
    throw new OslessError(
      "E_USAGE",
      `${shortPath(p)} cannot be an overlay ${isLower ? "lower" : "upper or work"} dir: overlay mount options need absolute paths without ',', ':' or '\\'`,
      {
        hint: "use a store directory ($OSLESS_ROOT) whose path has none of these characters",
        details: { path: p },
      },
    );
  }
}

/** statfs magic numbers (linux/magic.h). */
const OVERLAYFS_MAGIC = 0x794c7630;
/**
 * Filesystems that fill d_type and take trusted.* xattrs, so overlayfs accepts them as upper dir: ext2/3/4,
 * xfs (ftype=1: the default, and mandatory on v5 filesystems, since 2015), btrfs, tmpfs, f2fs.
 */
const UPPER_OK_MAGICS = new Set([0xef53, 0x58465342, 0x9123683e, 0x01021994, 0xf2f52010]);

const supportCache = new Map<string, boolean>();

/**
 * Can containers under `dir` have an overlay root: overlay in /proc/filesystems, `dir`'s filesystem (or its
 * nearest existing ancestor's) one overlayfs takes as upper dir (not overlay itself, d_type, trusted.* xattrs,
 * which also needs real root). Cheap: a statfs and one xattr probe; cached per dir for the process.
 */
export function overlaySupported(dir: string): boolean {
  const cached = supportCache.get(dir);
  if (cached !== undefined) return cached;
  const ok = probeOverlay(dir);
  supportCache.set(dir, ok);
  return ok;
}

let kernelHasOverlay: boolean | undefined;

function probeOverlay(dir: string): boolean {
  if (kernelHasOverlay === undefined) {
    try {
      kernelHasOverlay = /\toverlay$/m.test(readFileSync("/proc/filesystems", "utf8"));
    } catch {
      kernelHasOverlay = false;
    }
  }
  // A module not loaded yet is not listed: `mount -t overlay` would load it, but only root may, and then the
  // probe below fails anyway without root.
  if (!kernelHasOverlay || !isPrivileged()) return false;
  let at = dir;
  while (!existsSync(at)) {
    const up = dirname(at);
    if (up === at) return false;
    at = up;
  }
  let type: number;
  try {
    type = statfsSync(at).type;
  } catch {
    return false;
  }
  if (type === OVERLAYFS_MAGIC || !UPPER_OK_MAGICS.has(type)) return false;
  // A probe that succeeded before in this very directory on this kernel is not repeated: loading the xattr addon
  // and probing costs ~8 ms of every `osless run`.
  const marker = join(at, ".overlay-ok");
  const stamp = `${release()} ${type}\n`;
  try {
    if (at === dir && readFileSync(marker, "utf8") === stamp) return true;
  } catch {}
  if (!xattrSupport()) return false;
  // trusted.* xattrs: set one on a probe file of our own.
  const probe = join(at, `.osless-overlay-probe-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    closeSync(openSync(probe, "wx", 0o600));
  } catch {
    return false;
  }
  try {
    setXattr(probe, "trusted.osless.probe", Buffer.from("y"));
    if (at === dir) {
      try {
        writeFileSync(marker, stamp);
      } catch {
        // Probing again next time is all this costs.
      }
    }
    return true;
  } catch {
    return false;
  } finally {
    try {
      unlinkSync(probe);
    } catch {
      // A stray empty probe file is harmless.
    }
  }
}

// --- the union reader ------------------------------------------------------------------------------------------

/** readFile's default cap: enough for any passwd/group file, small enough to never exhaust memory. */
export const UNION_MAX_READ = 16 * 1024 * 1024;

/** A host `Stats` as the RootReader contract has it (shared with DirRoot's needs). */
export function rootStatFromStats(st: Stats): RootStat {
  const type: RootStat["type"] = st.isFile()
    ? "file"
    : st.isDirectory()
      ? "dir"
      : st.isSymbolicLink()
        ? "symlink"
        : st.isCharacterDevice()
          ? "char"
          : st.isBlockDevice()
            ? "block"
            : st.isFIFO()
              ? "fifo"
              : "socket";
  return { type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: st.size };
}

/**
 * Read the regular file at `host` (already resolved; a symlink swapped in since is not followed) whole, or
 * undefined when it is not a regular file (any more). Larger than `maxBytes`: E_SIZE_LIMIT naming `path`, the
 * path in the container.
 */
export function readHostFile(host: string, path: string, maxBytes: number): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(host, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    if (isErrno(e, "ELOOP") || isErrno(e, "ENOENT")) return undefined;
    throw fsError(e, host, "open");
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return undefined;
    if (st.size > maxBytes) {
      throw new OslessError(
        "E_SIZE_LIMIT",
        `${path} in the container's root is ${st.size} bytes, more than ${maxBytes}`,
        {
          hint: "the image's file is unusually large; check the image",
          details: { path, size: st.size, limit: maxBytes },
        },
      );
    }
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return off === buf.length ? buf : buf.subarray(0, off);
  } catch (e) {
    throw fsError(e, host, "read");
  } finally {
    closeSync(fd);
  }
}

/** One name looked up in the union: the topmost layer's entry, and for a directory the layers it merges. */
interface UnionEntry {
  host: string;
  st: Stats;
  /** For a directory: indexes of the layers (into UnionRoot's `layers`) whose directory at this path is merged. */
  merged: number[];
}

interface UnionResolved {
  /** Components of the resolved path (symlinks expanded, no "." or ".."). */
  parts: string[];
  /** The final component's entry; undefined when it does not exist or a parent is missing / not a directory. */
  entry: UnionEntry | undefined;
}

/**
 * The container's root as overlayfs will show it: `upper` (if any) over `lower` (top first), read from the host.
 *
 * Lookup of a name in a directory goes down the layers that directory merges, top first, as overlayfs does:
 * - a 0:0 character device is a whiteout: the name does not exist (nothing below counts);
 * - a non-directory is the answer, and hides everything below it;
 * - a directory is the answer (its metadata is the topmost one's), and merges the directories of that name below
 *   it, down to (not past) a whiteout or a non-directory, and not past a directory with
 *   `trusted.overlay.opaque=y`, which ends the merge after itself. The root merges every layer (the kernel
 *   ignores opaque on a layer's root; `lowerDirs` cuts the layers instead).
 * Not modelled, because osless never makes them: redirect_dir, metacopy and xattr whiteouts (overlay inside
 * overlay). The upper dir is read before the container runs, when it holds nothing of those.
 *
 * Paths resolve with chroot semantics: every symlink is followed inside the root (absolute targets restart at
 * its top, `..` stops there), at most 40 expansions (then E_LAYER_INVALID, ELOOP, as the kernel); `..` goes to
 * the parent of the resolved directory; a non-directory or missing parent means the path does not exist
 * (ENOTDIR/ENOENT), `file/..` and `file/` included (a trailing slash follows a final symlink, as the kernel).
 */
export class UnionRoot implements RootReader {
  /** Layer dirs top first: the upper dir (if any), then the lower dirs. */
  readonly layers: readonly string[];

  /**
   * @param lower the lower dirs, top first (as overlayMount takes them)
   * @param upper the container's upper dir, on top of them
   */
  constructor(lower: readonly string[], upper?: string) {
    this.layers = upper === undefined ? [...lower] : [upper, ...lower];
    if (this.layers.length === 0)
      throw new OslessError("E_USAGE", "a union root needs at least one directory");
  }

  stat(path: string, opts: { follow?: boolean } = {}): RootStat | undefined {
    const e = this.resolveUnion(path, opts.follow === true).entry;
    return e === undefined ? undefined : rootStatFromStats(e.st);
  }

  readFile(path: string, maxBytes = UNION_MAX_READ): Buffer | undefined {
    const e = this.resolveUnion(path, true).entry;
    if (e === undefined || !e.st.isFile()) return undefined;
    return readHostFile(e.host, path, maxBytes);
  }

  resolve(path: string): string | undefined {
    const r = this.resolveUnion(path, true);
    if (r.entry === undefined) return undefined;
    return `/${r.parts.join("/")}`;
  }

  /** Where `path` is in the union: the resolved components and the final entry (see the class comment). */
  resolveUnion(path: string, followFinal: boolean): UnionResolved {
    const todo = path.split("/").reverse(); // a stack: the next component is at the end
    const parts: string[] = [];
    // entries[k] is the directory parts[0..k) resolves to; the root merges every layer.
    const rootEntry = this.rootEntry();
    const entries: UnionEntry[] = [rootEntry];
    let hops = 0;
    while (todo.length > 0) {
      const c = todo.pop()!;
      if (c === "" || c === ".") continue;
      if (c === "..") {
        if (parts.length > 0) {
          parts.pop();
          entries.pop();
        }
        continue;
      }
      const last = onlyDots(todo);
      // "name/" (or "name/."): the name must be a directory, a symlink to one is followed (as the kernel does).
      const mustBeDir = !last || todo.length > 0;
      const dir = entries.at(-1)!;
      const e = this.lookup(dir, parts, c);
      if (e === undefined) return { parts: [...parts, c], entry: undefined };
      if (e.st.isSymbolicLink() && (mustBeDir || followFinal)) {
        if (++hops > MAX_SYMLINK_HOPS) throw loopError(path);
        let target: string;
        try {
          target = readlinkSync(e.host);
        } catch (err) {
          throw fsError(err, e.host, "readlink");
        }
        if (target.startsWith("/")) {
          parts.length = 0;
          entries.length = 1;
        }
        const comps = target.split("/");
        for (let i = comps.length - 1; i >= 0; i--) todo.push(comps[i]!);
        continue;
      }
      parts.push(c);
      entries.push(e);
      if (mustBeDir && !e.st.isDirectory()) return { parts, entry: undefined };
    }
    return { parts, entry: entries.at(-1) };
  }

  private rootEntry(): UnionEntry {
    const merged: number[] = [];
    let top: Stats | undefined;
    for (let i = 0; i < this.layers.length; i++) {
      const st = lstatMaybe(this.layers[i]!);
      if (st === undefined || !st.isDirectory()) {
        throw new OslessError("E_IO", `${this.layers[i]}: an overlay layer directory is missing`, {
          hint: "the container's snapshots were removed; recreate the container",
          details: { path: this.layers[i] },
        });
      }
      top ??= st;
      merged.push(i);
    }
    return { host: this.layers[0]!, st: top!, merged };
  }

  /** `name` in the directory `dir` (at `parts`), overlayfs's way. */
  private lookup(dir: UnionEntry, parts: readonly string[], name: string): UnionEntry | undefined {
    const rel = parts.length === 0 ? name : `${parts.join("/")}/${name}`;
    let found: UnionEntry | undefined;
    for (const i of dir.merged) {
      const host = `${this.layers[i]}/${rel}`;
      const st = lstatMaybe(host);
      if (st === undefined) continue;
      if (isWhiteout(st)) break;
      if (!st.isDirectory()) {
        if (found === undefined) return { host, st, merged: [] };
        break; // a non-directory below a directory ends the merge
      }
      if (found === undefined) found = { host, st, merged: [i] };
      else found.merged.push(i);
      // Opaque hides the layers below: the bottom layer has none (and not reading its xattr keeps the addon
      // unloaded for one-layer images).
      if (i < this.layers.length - 1 && readOpaque(host)) break;
    }
    return found;
  }
}

function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

function lstatMaybe(host: string): Stats | undefined {
  try {
    return lstatSync(host, { throwIfNoEntry: false });
  } catch (e) {
    if (isErrno(e, "ENOTDIR")) return undefined;
    throw fsError(e, host, "lstat");
  }
}

/** True when the remaining components are all "." or "" (so the current one is the last name). */
function onlyDots(todo: readonly string[]): boolean {
  for (let i = todo.length - 1; i >= 0; i--) {
    const c = todo[i];
    if (c !== "." && c !== "") return false;
  }
  return true;
}

// --- the copy fallback -----------------------------------------------------------------------------------------

/**
 * The fallback where overlay cannot be used: every layer applied in order into `dest` (which must not exist, or
 * be an empty directory), verified, renamed into place when complete (`unpackLayers`).
 */
export function copyRootfs(
  layers: LayerSource[],
  dest: string,
  opts: UnpackOptions = {},
): Promise<UnpackResult> {
  return unpackLayers(layers, dest, opts);
}
