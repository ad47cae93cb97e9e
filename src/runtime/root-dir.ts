/**
 * A container root that is a plain directory on the host (the copy fallback, or any unpacked tree), read with
 * chroot semantics through `resolveInRoot`: `..` never leaves it and symlinks are expanded inside it.
 */
import { closeSync, constants, fstatSync, openSync, readlinkSync, readSync, type Stats } from "node:fs";
import { fsError, resolveInRoot } from "../_internal/rootpath.ts";
import { OslessError } from "../errors.ts";
import type { RootReader, RootStat } from "./types.ts";

/** readFile's default cap: enough for any passwd/group file, small enough to never exhaust memory. */
export const DEFAULT_MAX_READ = 16 * 1024 * 1024;

function typeOf(st: Stats): RootStat["type"] {
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "dir";
  if (st.isSymbolicLink()) return "symlink";
  if (st.isCharacterDevice()) return "char";
  if (st.isBlockDevice()) return "block";
  if (st.isFIFO()) return "fifo";
  return "socket";
}

export function rootStatOf(st: Stats): RootStat {
  return { type: typeOf(st), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: st.size };
}

export class DirRoot implements RootReader {
  /** @param dir absolute path of the directory that is "/" for the container */
  constructor(readonly dir: string) {}

  stat(path: string, opts: { follow?: boolean } = {}): RootStat | undefined {
    const r = resolveInRoot(this.dir, path, { followFinal: opts.follow === true });
    return r.stat === undefined ? undefined : rootStatOf(r.stat);
  }

  /**
   * The file's bytes (symlinks followed in-root), undefined when it is missing or not a regular file. A file larger
   * than `maxBytes` is an error (E_SIZE_LIMIT), never silently cut.
   */
  readFile(path: string, maxBytes = DEFAULT_MAX_READ): Buffer | undefined {
    const r = resolveInRoot(this.dir, path, { followFinal: true });
    if (r.stat === undefined || !r.stat.isFile()) return undefined;
    let fd: number;
    try {
      // O_NOFOLLOW: the resolution ended on a regular file; never follow a symlink swapped in since.
      fd = openSync(r.host, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (e) {
      throw fsError(e, r.host, "open");
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
      throw fsError(e, r.host, "read");
    } finally {
      closeSync(fd);
    }
  }

  /** The target of the symlink at `path` (its parents resolved in-root), undefined when it is not a symlink. */
  readlink(path: string): string | undefined {
    const r = resolveInRoot(this.dir, path);
    if (r.stat === undefined || !r.stat.isSymbolicLink()) return undefined;
    try {
      return readlinkSync(r.host);
    } catch (e) {
      throw fsError(e, r.host, "readlink");
    }
  }

  resolve(path: string): string | undefined {
    const r = resolveInRoot(this.dir, path, { followFinal: true });
    if (r.missingFrom >= 0 || r.stat === undefined) return undefined;
    return r.rel === "." ? "/" : `/${r.rel}`;
  }
}
