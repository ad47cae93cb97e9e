/**
 * ImageFiles over a SquashedView (an image in the store, an archive, or a registry image streamed once). Lookups
 * use the view's in-memory tree; contents come from `preload` (bytes captured during the view's single pass) when
 * available, else the view re-streams the one layer holding the file, read up to `maxBytes` and then stopped.
 */
import type { SquashedView, ViewNode } from "../layer/view.ts";
import type { ImageFileInfo, ImageFiles, ImageWalkEntry } from "./files.ts";

/**
 * A file read whole during the pass but kept as what a parser made of it (an ELF reading, a licence) and its
 * first bytes (see analysisPass).
 */
export interface KeptParse {
  parse: (bytes: Buffer) => unknown;
  value: unknown;
  head: Buffer;
}

/** What the pass kept of a file: its leading bytes (all of them, or a prefix), or a KeptParse. */
export type KeptFile = Buffer | KeptParse;

function info(n: ViewNode): ImageFileInfo {
  return {
    path: n.path,
    // The view shows a hard link with its target's type and content.
    type: n.type === "hardlink" ? "file" : n.type,
    mode: n.mode,
    uid: n.uid,
    gid: n.gid,
    size: n.type === "file" || n.type === "hardlink" ? n.size : 0,
    ino: n.ino,
  };
}

export class ViewFiles implements ImageFiles {
  readonly view: SquashedView<unknown>;
  readonly #preload: ReadonlyMap<string, KeptFile>;

  /** `preload`: in-root paths (as ViewNode.path) to what was already read, e.g. captured while building the view. */
  constructor(view: SquashedView<unknown>, preload: ReadonlyMap<string, KeptFile> = new Map()) {
    this.view = view;
    this.#preload = preload;
  }

  async stat(path: string): Promise<ImageFileInfo | undefined> {
    const n = this.view.resolve(path);
    return n && info(n);
  }

  async lstat(path: string): Promise<ImageFileInfo | undefined> {
    const n = this.view.get(path);
    return n && info(n);
  }

  async readlink(path: string): Promise<string | undefined> {
    const n = this.view.get(path);
    return n?.type === "symlink" ? n.linkTarget : undefined;
  }

  async read(path: string, maxBytes: number): Promise<Buffer | undefined> {
    const n = this.view.resolve(path);
    if (n === undefined || n.content === undefined) return undefined;
    const kept = this.#preload.get(n.path);
    const pre = kept === undefined || Buffer.isBuffer(kept) ? kept : kept.head;
    if (pre !== undefined && (pre.length >= maxBytes || pre.length === n.size)) {
      return pre.subarray(0, Math.min(maxBytes, pre.length));
    }
    const want = Math.min(maxBytes, n.size);
    const parts: Buffer[] = [];
    let got = 0;
    if (want > 0) {
      // Stop streaming as soon as enough bytes are in (the generator's return ends the layer read).
      for await (const c of this.view.readFile(n.path)) {
        parts.push(c.length > want - got ? c.subarray(0, want - got) : c);
        got += Math.min(c.length, want - got);
        if (got >= want) break;
      }
    }
    return Buffer.concat(parts, got);
  }

  parsed<T>(path: string, parse: (bytes: Buffer) => T): { value: T } | undefined {
    const n = this.view.resolve(path);
    if (n === undefined || n.content === undefined) return undefined;
    const kept = this.#preload.get(n.path);
    if (kept === undefined || Buffer.isBuffer(kept) || kept.parse !== parse) return undefined;
    return { value: kept.value as T };
  }

  async list(path: string): Promise<string[]> {
    const n = this.view.resolve(path);
    if (n?.type !== "directory") return [];
    return this.view.list(n.path).map((c) => c.path.slice(c.path.lastIndexOf("/") + 1));
  }

  async *walk(): AsyncGenerator<ImageWalkEntry> {
    for (const n of this.view.walk()) {
      if (n.path === ".") continue;
      const e: ImageWalkEntry = info(n);
      if (n.type === "symlink") e.linkTarget = n.linkTarget;
      yield e;
    }
  }
}
