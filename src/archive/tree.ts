/**
 * Read-only views of an image archive's files: a tar FILE (random access: headers are scanned once, members are
 * read by offset, so a 1 GB archive costs one pass over its headers) or a directory (an `oci:` layout).
 * Member names are normalised ("./x" and "/x" are "x"); symlinks and hardlinks between members (docker save
 * links duplicate layers to one layer.tar) are followed inside the archive only.
 */
import { createReadStream } from "node:fs";
import { lstat, open, readFile, realpath } from "node:fs/promises";
import { join, posix, relative, sep } from "node:path";
import { isErrno } from "../_internal/fs.ts";
import { OslessError } from "../errors.ts";
import { scanTarFile, type TarFileEntry } from "../tar/index.ts";

export interface FileTree {
  /** Where the files come from, for messages. */
  readonly label: string;
  has(path: string): boolean | Promise<boolean>;
  /** Size of a member, or undefined if absent. */
  size(path: string): Promise<number | undefined>;
  /** Whole member; refuses members over `max` bytes. */
  read(path: string, max: number, what: string): Promise<Buffer>;
  /** Stream a member. */
  open(path: string): AsyncIterable<Uint8Array>;
  /** Every regular file's name (normalised). */
  list(): string[] | Promise<string[]>;
}

export function normalizeMember(name: string): string {
  const n = posix.normalize(`/${name}`).slice(1);
  return n.endsWith("/") ? n.slice(0, -1) : n;
}

function tooBig(label: string, path: string, size: number, max: number, what: string): OslessError {
  return new OslessError(
    "E_SIZE_LIMIT",
    `${label}: ${what} "${path}" is ${size} bytes, over the ${max}-byte limit`,
    {
      hint: "the archive is malformed or hostile",
    },
  );
}

function missing(label: string, path: string, what: string): OslessError {
  return new OslessError("E_ARCHIVE_INVALID", `${label}: ${what} "${path}" is not in the archive`, {
    hint: "the archive is incomplete or was not written by an image tool; export it again",
  });
}

export class TarFileTree implements FileTree {
  readonly label: string;
  readonly path: string;
  #members = new Map<string, TarFileEntry>();

  private constructor(path: string, label: string) {
    this.path = path;
    this.label = label;
  }

  static async open(path: string, label = path): Promise<TarFileTree> {
    const t = new TarFileTree(path, label);
    let entries: TarFileEntry[];
    try {
      entries = await scanTarFile(path);
    } catch (e) {
      if (e instanceof OslessError) {
        throw new OslessError("E_ARCHIVE_INVALID", `${label}: not a readable tar archive: ${e.message}`, {
          hint: "the file is truncated or is not an image archive (docker save / podman save / skopeo copy output)",
          cause: e,
        });
      }
      throw e;
    }
    for (const e of entries) t.#members.set(normalizeMember(e.header.path), e);
    return t;
  }

  /** Follow symlinks/hardlinks inside the archive (bounded), returning a regular-file member. */
  #resolve(path: string): TarFileEntry | undefined {
    let p = normalizeMember(path);
    for (let hops = 0; hops < 40; hops++) {
      const e = this.#members.get(p);
      if (!e) return undefined;
      if (e.header.type === "file") return e;
      if (e.header.type === "symlink") {
        const target = e.header.linkpath;
        p = normalizeMember(target.startsWith("/") ? target : posix.join(posix.dirname(p), target));
      } else if (e.header.type === "hardlink") {
        p = normalizeMember(e.header.linkpath);
      } else {
        return undefined;
      }
    }
    return undefined;
  }

  has(path: string): boolean {
    return this.#resolve(path) !== undefined;
  }

  async size(path: string): Promise<number | undefined> {
    return this.#resolve(path)?.header.size;
  }

  async read(path: string, max: number, what: string): Promise<Buffer> {
    const e = this.#resolve(path);
    if (!e) throw missing(this.label, path, what);
    if (e.header.size > max) throw tooBig(this.label, path, e.header.size, max, what);
    const buf = Buffer.alloc(e.header.size);
    const fh = await open(this.path, "r");
    try {
      let off = 0;
      while (off < buf.length) {
        const { bytesRead } = await fh.read(buf, off, buf.length - off, e.dataOffset + off);
        if (bytesRead === 0) break;
        off += bytesRead;
      }
      if (off !== buf.length) throw missing(this.label, path, what);
    } finally {
      await fh.close();
    }
    return buf;
  }

  open(path: string): AsyncIterable<Uint8Array> {
    const e = this.#resolve(path);
    if (!e) throw missing(this.label, path, "member");
    if (e.header.size === 0) return (async function* () {})();
    return createReadStream(this.path, {
      start: e.dataOffset,
      end: e.dataOffset + e.header.size - 1,
      highWaterMark: 1 << 20,
    });
  }

  list(): string[] {
    return [...this.#members.entries()].filter(([, e]) => e.header.type === "file").map(([n]) => n);
  }
}

/** A directory, e.g. an OCI layout. Paths never leave it (symlinks resolving outside are refused). */
export class DirTree implements FileTree {
  readonly label: string;
  readonly root: string;

  constructor(root: string, label = root) {
    this.root = root;
    this.label = label;
  }

  async #real(path: string): Promise<string | undefined> {
    const p = join(this.root, normalizeMember(path));
    let real: string;
    try {
      real = await realpath(p);
    } catch (e) {
      if (isErrno(e, "ENOENT") || isErrno(e, "ENOTDIR")) return undefined;
      throw e;
    }
    const root = await realpath(this.root);
    const rel = relative(root, real);
    if (rel.startsWith(`..${sep}`) || rel === ".." || rel.startsWith(sep)) {
      throw new OslessError("E_ARCHIVE_INVALID", `${this.label}: "${path}" points outside the layout`, {
        hint: "the layout contains a symlink that escapes it",
      });
    }
    return (await lstat(real)).isFile() ? real : undefined;
  }

  async has(path: string): Promise<boolean> {
    return (await this.#real(path)) !== undefined;
  }

  async size(path: string): Promise<number | undefined> {
    const r = await this.#real(path);
    return r === undefined ? undefined : (await lstat(r)).size;
  }

  async read(path: string, max: number, what: string): Promise<Buffer> {
    const r = await this.#real(path);
    if (!r) throw missing(this.label, path, what);
    const size = (await lstat(r)).size;
    if (size > max) throw tooBig(this.label, path, size, max, what);
    return readFile(r);
  }

  open(path: string): AsyncIterable<Uint8Array> {
    const self = this;
    return (async function* () {
      const r = await self.#real(path);
      if (!r) throw missing(self.label, path, "member");
      yield* createReadStream(r, { highWaterMark: 1 << 20 }) as AsyncIterable<Uint8Array>;
    })();
  }

  list(): string[] {
    return [];
  }
}
