/**
 * ImageFiles over a container root made of overlay layer directories on the host (the runtime's snapshots), so
 * `osless slim` analyses an image where `osless run` left it and then copies each file it keeps from the host.
 *
 * Lookups are `UnionRoot`'s (src/runtime/rootfs.ts): overlayfs's rules (0:0 character-device whiteouts, opaque
 * directories, a non-directory hiding what is below it) with chroot semantics (absolute symlinks restart at the
 * union's root, `..` stops there, a loop leads nowhere). Listings are `readUnionDir`'s (src/runtime/export.ts):
 * a merged readdir with whiteouts and what they hide left out. Each answer describes the topmost layer's entry,
 * so `ino` is that entry's host inode: two names of one file (hard links within a layer) share it.
 *
 * Names that are not UTF-8 cannot be named by an ImageFiles path (a string): `list` and `walk` leave them, and
 * everything below such a directory, out (no error). Symlink targets are decoded as UTF-8 (as DirFiles does).
 * A directory's host path is its topmost layer's directory only: its contents come from `list`/`walk`. Nothing
 * from the image is executed.
 */
import { isUtf8 } from "node:buffer";
import { constants, readlinkSync, type Stats } from "node:fs";
import { open, readlink } from "node:fs/promises";
import { isErrno, readHead } from "../_internal/fs.ts";
import {
  fileInfo,
  fileType,
  type ImageFileInfo,
  type ImageFiles,
  type ImageWalkEntry,
} from "../analysis/files.ts";
import { isOslessError } from "../errors.ts";
import { readUnionDir, type UnionDirEntry } from "../runtime/export.ts";
import type { UnionRoot } from "../runtime/rootfs.ts";

type Resolved = ReturnType<UnionRoot["resolveUnion"]>;

/** Where a path of the union is on the host: the topmost layer's entry. */
export interface UnionHostEntry {
  /** The in-root path the lookup ended at (symlinks resolved when followed), no leading "/", "." for the root. */
  path: string;
  /** The host path of the topmost layer's entry (for a directory: the top one of those it merges). */
  host: string;
  /** lstat of `host`: type, mode, uid, gid, size, mtime of the entry the container sees. */
  stats: Stats;
}

const SLASH = Buffer.from("/");

export class UnionFiles implements ImageFiles {
  readonly union: UnionRoot;

  constructor(union: UnionRoot) {
    this.union = union;
  }

  /** The lookup, or undefined when it loops (a symlink loop leads nowhere, as in DirFiles). */
  #resolve(path: string, followFinal: boolean): Resolved | undefined {
    try {
      return this.union.resolveUnion(path, followFinal);
    } catch (e) {
      if (isOslessError(e) && e.details?.errno === "ELOOP") return undefined;
      throw e;
    }
  }

  /**
   * The host entry `path` leads to: symlinks followed with `follow` (default false, like lstat), undefined when
   * it does not exist, dangles or loops.
   */
  lstatHost(path: string, opts: { follow?: boolean } = {}): UnionHostEntry | undefined {
    const r = this.#resolve(path, opts.follow === true);
    if (r?.entry === undefined) return undefined;
    return { path: r.parts.length === 0 ? "." : r.parts.join("/"), host: r.entry.host, stats: r.entry.st };
  }

  /**
   * The host path of the topmost entry `path` leads to (symlinks followed unless `follow` is false), to copy its
   * bytes from; undefined when it does not exist, dangles or loops.
   */
  hostPath(path: string, opts: { follow?: boolean } = {}): string | undefined {
    return this.lstatHost(path, { follow: opts.follow !== false })?.host;
  }

  async stat(path: string): Promise<ImageFileInfo | undefined> {
    const e = this.lstatHost(path, { follow: true });
    return e && fileInfo(e.path, e.stats);
  }

  async lstat(path: string): Promise<ImageFileInfo | undefined> {
    const e = this.lstatHost(path);
    return e && fileInfo(e.path, e.stats);
  }

  async readlink(path: string): Promise<string | undefined> {
    const e = this.lstatHost(path);
    if (!e?.stats.isSymbolicLink()) return undefined;
    return readlink(e.host);
  }

  async read(path: string, maxBytes: number): Promise<Buffer | undefined> {
    const e = this.lstatHost(path, { follow: true });
    if (!e?.stats.isFile()) return undefined;
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      // O_NOFOLLOW: the lookup ended on a regular file; never follow a symlink swapped in since.
      fh = await open(e.host, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      if (isErrno(err, "ENOENT") || isErrno(err, "ELOOP")) return undefined;
      throw err;
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) return undefined;
      return await readHead(fh, Math.max(0, Math.min(maxBytes, st.size)));
    } finally {
      await fh.close();
    }
  }

  async list(path: string): Promise<string[]> {
    const r = this.#resolve(path, true);
    if (r?.entry === undefined || !r.entry.st.isDirectory()) return [];
    const out: string[] = [];
    for (const e of readUnionDir(this.union.layers, Buffer.from(r.parts.join("/")), r.entry.merged)) {
      if (isUtf8(e.name)) out.push(e.name.toString("utf8"));
    }
    return out;
  }

  /** Depth first: each directory immediately followed by what it holds, names byte-sorted. */
  async *walk(): AsyncGenerator<ImageWalkEntry> {
    const layers = this.union.layers;
    const all = layers.map((_, i) => i);
    // A stack of directory listings still being walked; each frame's entries are consumed in order.
    const stack: { rel: Buffer; entries: UnionDirEntry[]; next: number }[] = [
      { rel: Buffer.alloc(0), entries: readUnionDir(layers, Buffer.alloc(0), all), next: 0 },
    ];
    while (stack.length > 0) {
      const top = stack.at(-1)!;
      const e = top.entries[top.next++];
      if (e === undefined) {
        stack.pop();
        continue;
      }
      if (!isUtf8(e.name)) continue; // not nameable by a string path: left out with what it holds
      const rel = top.rel.length === 0 ? e.name : Buffer.concat([top.rel, SLASH, e.name]);
      const st = e.st;
      const entry: ImageWalkEntry = {
        path: rel.toString("utf8"),
        type: fileType(st),
        mode: Number(st.mode) & 0o7777,
        uid: Number(st.uid),
        gid: Number(st.gid),
        size: st.isFile() ? Number(st.size) : 0,
        ino: Number(st.ino),
      };
      if (st.isSymbolicLink()) entry.linkTarget = readlinkSync(e.host, "utf8");
      yield entry;
      if (st.isDirectory()) stack.push({ rel, entries: readUnionDir(layers, rel, e.merged), next: 0 });
    }
  }
}
