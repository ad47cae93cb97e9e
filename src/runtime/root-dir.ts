/**
 * A container root that is a plain directory on the host (the copy fallback, or any unpacked tree), read with
 * chroot semantics through `resolveInRoot`: `..` never leaves it and symlinks are expanded inside it.
 */
import { readlinkSync } from "node:fs";
import { fsError, resolveInRoot } from "../_internal/rootpath.ts";
import { readHostFile, rootStatFromStats, UNION_MAX_READ } from "./rootfs.ts";
import type { RootReader, RootStat } from "./types.ts";

export class DirRoot implements RootReader {
  /** @param dir absolute path of the directory that is "/" for the container */
  constructor(readonly dir: string) {}

  stat(path: string, opts: { follow?: boolean } = {}): RootStat | undefined {
    const r = resolveInRoot(this.dir, path, { followFinal: opts.follow === true });
    return r.stat === undefined ? undefined : rootStatFromStats(r.stat);
  }

  /**
   * The file's bytes (symlinks followed in-root), undefined when it is missing or not a regular file. A file larger
   * than `maxBytes` is an error (E_SIZE_LIMIT), never silently cut.
   */
  readFile(path: string, maxBytes = UNION_MAX_READ): Buffer | undefined {
    const r = resolveInRoot(this.dir, path, { followFinal: true });
    if (r.stat === undefined || !r.stat.isFile()) return undefined;
    // O_NOFOLLOW there: the resolution ended on a regular file; never follow a symlink swapped in since.
    return readHostFile(r.host, path, maxBytes);
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
