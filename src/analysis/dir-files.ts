/**
 * ImageFiles over a root filesystem on the host (`osless analyze dir:PATH`): every lookup is resolved inside the
 * root with chroot semantics (src/_internal/rootpath.ts), so an absolute symlink in the tree never reaches the
 * host's own files. Files are only read, never executed.
 */
import { lstat, open, readdir, readlink } from "node:fs/promises";
import { readHead } from "../_internal/fs.ts";
import { type InRootPath, resolveInRoot } from "../_internal/rootpath.ts";
import { isOslessError } from "../errors.ts";
import { fileInfo, type ImageFileInfo, type ImageFiles, type ImageWalkEntry } from "./files.ts";

function info(r: InRootPath): ImageFileInfo | undefined {
  const st = r.stat;
  if (st === undefined || r.missingFrom >= 0) return undefined;
  return fileInfo(r.rel, st);
}

export class DirFiles implements ImageFiles {
  readonly root: string;

  /** `root`: an absolute path of an existing directory. */
  constructor(root: string) {
    this.root = root;
  }

  #resolve(path: string, followFinal: boolean): InRootPath | undefined {
    try {
      return resolveInRoot(this.root, path, { followFinal });
    } catch (e) {
      // A symlink loop leads nowhere.
      if (isOslessError(e) && e.details?.errno === "ELOOP") return undefined;
      throw e;
    }
  }

  async stat(path: string): Promise<ImageFileInfo | undefined> {
    const r = this.#resolve(path, true);
    return r && info(r);
  }

  async lstat(path: string): Promise<ImageFileInfo | undefined> {
    const r = this.#resolve(path, false);
    return r && info(r);
  }

  async readlink(path: string): Promise<string | undefined> {
    const r = this.#resolve(path, false);
    if (!r?.stat?.isSymbolicLink()) return undefined;
    return readlink(r.host);
  }

  async read(path: string, maxBytes: number): Promise<Buffer | undefined> {
    const r = this.#resolve(path, true);
    if (!r?.stat?.isFile() || r.missingFrom >= 0) return undefined;
    const fh = await open(r.host, "r");
    try {
      return await readHead(fh, Math.min(maxBytes, r.stat.size));
    } finally {
      await fh.close();
    }
  }

  async list(path: string): Promise<string[]> {
    const r = this.#resolve(path, true);
    if (!r?.stat?.isDirectory() || r.missingFrom >= 0) return [];
    return (await readdir(r.host)).sort();
  }

  async *walk(): AsyncGenerator<ImageWalkEntry> {
    const stack: string[] = [""];
    while (stack.length > 0) {
      const rel = stack.pop() as string;
      const names = (await readdir(rel === "" ? this.root : `${this.root}/${rel}`)).sort();
      const dirs: string[] = [];
      for (const name of names) {
        const path = rel === "" ? name : `${rel}/${name}`;
        const host = `${this.root}/${path}`;
        const st = await lstat(host);
        const entry: ImageWalkEntry = fileInfo(path, st);
        if (st.isSymbolicLink()) entry.linkTarget = await readlink(host);
        yield entry;
        if (st.isDirectory()) dirs.push(path);
      }
      // Depth-first, names in order: push in reverse so the first directory is walked first.
      for (let i = dirs.length - 1; i >= 0; i--) stack.push(dirs[i] as string);
    }
  }
}
