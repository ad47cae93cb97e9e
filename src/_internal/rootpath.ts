/**
 * In-root path resolution with chroot semantics (extraction-rules.md R4, R8, R9, R22): a path inside ROOT is
 * walked one component at a time with `lstat`; a symlink met on the way is expanded as if ROOT were `/`
 * (absolute targets restart at ROOT, `..` never climbs above ROOT), at most 40 expansions (ELOOP, as Linux).
 * The final component is not followed unless asked. Containment holds by construction: the result is ROOT
 * joined with components that were each checked to be real directories (or do not exist yet), never a string
 * prefix test.
 *
 * Everything here is synchronous: one resolution is a handful of `lstat`s that hit the dentry cache, and the
 * async API would cost a thread-pool round trip per component. Nothing is cached between calls (R5): every
 * call walks the filesystem as it is now.
 *
 * TOCTOU (R22): Node has no openat2(RESOLVE_IN_ROOT), so a concurrent writer could swap a checked directory for a
 * symlink between the check and the use. Callers only resolve inside directories they just created (0700
 * parents), where nothing else writes.
 */
import { chmodSync, lstatSync, mkdirSync, readlinkSync, type Stats, unlinkSync } from "node:fs";
import { OslessError } from "../errors.ts";

/** Linux's limit on symlink expansions in one path resolution (MAXSYMLINKS). */
export const MAX_SYMLINK_HOPS = 40;

export interface ResolveOptions {
  /** Follow a symlink in the final component too (default false: the final component is never followed). */
  followFinal?: boolean;
  /**
   * lstat the final component (default true). With false (and the final component not followed), `stat` is
   * left undefined: for callers that create it with O_EXCL-like calls and look only when it exists (EEXIST).
   */
  statFinal?: boolean;
}

export interface InRootPath {
  /** The resolved path relative to ROOT, without "." or ".." components; "." is ROOT itself. */
  rel: string;
  /** ROOT joined with `rel`. */
  host: string;
  /**
   * `lstat` of `host` when all its parents exist as directories and it exists; undefined when it does not
   * exist (or a parent is missing, or `statFinal` was false).
   */
  stat: Stats | undefined;
  /**
   * When some parent of the final component does not exist, or exists but is not a directory: the number of
   * leading components of `rel` that do exist as directories (the components after them are joined
   * lexically and none of them exists). -1 when every parent is a directory.
   */
  missingFrom: number;
  /** The components of `rel` (empty for ROOT). */
  parts: string[];
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    // No exception for ENOENT (the common "not there yet" case): throwing costs more than the syscall.
    return lstatSync(path, { throwIfNoEntry: false });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOTDIR") return undefined;
    throw fsError(e, path, "lstat");
  }
}

/** A path for messages: long ones keep their start and end. */
export function shortPath(p: string): string {
  return p.length <= 240 ? p : `${p.slice(0, 100)}…(${p.length - 200} bytes)…${p.slice(-100)}`;
}

/**
 * A filesystem error as an OslessError: ENAMETOOLONG is a limit (R21: Linux allows 255-byte names and
 * 4096-byte paths), ELOOP a broken layer, anything else E_IO. OslessErrors pass through.
 */
export function fsError(e: unknown, path: string, what: string): OslessError {
  if (e instanceof OslessError) return e;
  const err = e as NodeJS.ErrnoException;
  const details = { path, errno: err.code };
  const where = shortPath(path);
  if (err.code === "ENAMETOOLONG") {
    return new OslessError("E_TAR_LIMIT", `${where}: cannot ${what}: the path is too long (ENAMETOOLONG)`, {
      hint: "Linux limits a name to 255 bytes and a path to 4096 (the target directory's path included)",
      cause: e,
      details,
    });
  }
  if (err.code === "ELOOP") {
    return new OslessError("E_LAYER_INVALID", `${where}: cannot ${what}: too many symbolic links (ELOOP)`, {
      hint: "the layer contains a symlink loop",
      cause: e,
      details,
    });
  }
  return new OslessError("E_IO", `${where}: cannot ${what}: ${err.message.replace(path, where)}`, {
    hint: "check the permissions and free space of the target filesystem",
    cause: e,
    details,
  });
}

function hostOf(root: string, parts: readonly string[], n: number): string {
  if (n === 0) return root;
  let s = root === "/" ? "" : root;
  for (let i = 0; i < n; i++) s += `/${parts[i]}`;
  return s;
}

/**
 * ELOOP after MAX_SYMLINK_HOPS expansions, for the unpacker and the squashed view alike (the path's control
 * characters escaped: it comes from a layer).
 */
export function loopError(path: string): OslessError {
  const shown = shortPath(path).replace(
    /[\u0000-\u001f\u007f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
  return new OslessError(
    "E_LAYER_INVALID",
    `"${shown}": too many levels of symbolic links (more than ${MAX_SYMLINK_HOPS} expansions, ELOOP)`,
    {
      hint: "the layer contains a symlink loop; the image is broken or hostile",
      details: { path, errno: "ELOOP" },
    },
  );
}

/**
 * Resolve `path` (relative to ROOT; a leading "/" is ROOT; may contain "." and ".." components, which are
 * applied to the resolved path, not lexically) under `root` (an absolute path of an existing directory).
 * Throws E_LAYER_INVALID (ELOOP) after 40 symlink expansions; E_IO when an lstat/readlink fails otherwise.
 */
export function resolveInRoot(root: string, path: string, opts: ResolveOptions = {}): InRootPath {
  const followFinal = opts.followFinal ?? false;
  const base = root === "/" ? "" : root;
  const todo = path.split("/").reverse(); // a stack: the next component is at the end
  const parts: string[] = [];
  // -1, or the number of leading `parts` that exist as directories; the parts after them do not exist.
  let missingFrom = -1;
  let hops = 0;
  // The lstat of the last part, when the loop already made it (`known`).
  let stat: Stats | undefined;
  let known = false;
  while (todo.length > 0) {
    const c = todo.pop()!;
    if (c === "." || c === "") continue;
    if (c === "..") {
      // `..` applies to the resolved path (every part is a real directory or missing): never above ROOT.
      parts.pop();
      if (missingFrom >= 0 && parts.length <= missingFrom) missingFrom = -1;
      known = false;
      continue;
    }
    parts.push(c);
    const last = onlyDots(todo);
    if (missingFrom >= 0) {
      // Below a missing (or non-directory) component nothing exists: no lstat needed.
      stat = undefined;
      known = true;
      continue;
    }
    if (last && !followFinal) {
      known = false;
      break;
    }
    const host = base + "/" + parts.join("/");
    const st = lstatOrUndefined(host);
    if (st === undefined) {
      if (!last) missingFrom = parts.length - 1;
      stat = undefined;
      known = true;
      continue;
    }
    if (st.isSymbolicLink()) {
      if (++hops > MAX_SYMLINK_HOPS) throw loopError(path);
      let target: string;
      try {
        target = readlinkSync(host);
      } catch (e) {
        throw fsError(e, host, "readlink");
      }
      parts.pop();
      if (target.startsWith("/")) parts.length = 0; // re-rooted
      const comps = target.split("/");
      for (let i = comps.length - 1; i >= 0; i--) todo.push(comps[i]!);
      known = false;
      continue;
    }
    if (!last && !st.isDirectory()) {
      // A non-directory used as a directory: nothing exists below it (R10 may replace it).
      missingFrom = parts.length - 1;
      stat = undefined;
      known = true;
      continue;
    }
    stat = st;
    known = true;
  }
  const rel = parts.length === 0 ? "." : parts.join("/");
  const host = parts.length === 0 ? root : base + "/" + rel;
  if (!known) stat = missingFrom >= 0 || opts.statFinal === false ? undefined : lstatOrUndefined(host);
  return { rel, host, stat, missingFrom, parts };
}

/** True when the remaining components are all "." or "" (so the current one is the last name). */
function onlyDots(todo: string[]): boolean {
  for (let i = todo.length - 1; i >= 0; i--) {
    const c = todo[i];
    if (c !== "." && c !== "") return false;
  }
  return true;
}

/** What `makeParents` did to one component. */
export interface MadeDir {
  /** Root-relative path of the directory made. */
  rel: string;
  host: string;
  /** The non-directory that was there and was unlinked (R10), if any. */
  replaced: Stats | undefined;
}

/**
 * Make the missing parents of a resolution (`missingFrom >= 0`) directories, ROOT-relative, mode 0755
 * (umask-free, R10). A parent that exists but is not a directory is unlinked first (R10, as umoci). Every
 * component is re-checked with lstat just before it is made, so the walk never goes through a symlink.
 * `onMade` is called for each directory made (to chown it, record it). Returns the resolution with
 * `missingFrom` -1 and `stat` undefined (the final component cannot exist in a directory just made).
 */
export function makeParents(root: string, r: InRootPath, onMade?: (made: MadeDir) => void): InRootPath {
  if (r.missingFrom < 0) return r;
  const parents = r.parts.length - 1;
  for (let i = r.missingFrom; i < parents; i++) {
    const host = hostOf(root, r.parts, i + 1);
    const st = lstatOrUndefined(host);
    if (st?.isDirectory()) continue;
    if (st?.isSymbolicLink()) {
      // Cannot happen single-threaded (the resolution saw no symlink here); refuse rather than follow.
      throw new OslessError("E_LAYER_INVALID", `${host}: became a symlink during extraction`, {
        hint: "something else is writing into the extraction directory; extract into a fresh directory",
        details: { path: host },
      });
    }
    try {
      if (st !== undefined) unlinkSync(host);
      mkdirSync(host, 0o755);
      // mkdir applies the umask; R10 wants exactly 0755.
      chmodSync(host, 0o755);
    } catch (e) {
      throw fsError(e, host, "create directory");
    }
    onMade?.({ rel: r.parts.slice(0, i + 1).join("/"), host, replaced: st });
  }
  return { ...r, missingFrom: -1, stat: undefined };
}
