/**
 * The squashed view of an image: the filesystem that unpacking all its layers would produce, built in memory
 * from one streaming pass over the layers (each read to EOF, so blob digests and DiffIDs are verified) without
 * writing anything. Nodes record where a file's bytes are (layer + offset in its uncompressed tar); `readFile`
 * re-streams only that layer, up to the data. For analysis (os-release, package databases, ELF files) and the
 * explorer (per-layer added / modified / removed).
 *
 * Semantics are the unpacker's (../../../shared/design/extraction-rules.md; umoci's extractor as reference): see
 * view-tree.ts. Memory is bounded by the number of entries: file data is streamed and dropped (hashed on the way
 * with `digests: true`), headers are not kept.
 */
import { createHash } from "node:crypto";
import type { Digest } from "../digest/index.ts";
import { OslessError } from "../errors.ts";
import { type EventSink, reportProgress } from "../events/index.ts";
import { readTar, type TarHeader, type TarType } from "../tar/index.ts";
import { checkEntryUtf8, entryRole, invalidEntry, normalizeEntryPath, printable } from "./paths.ts";
import {
  type ImageBudget,
  inLayer,
  type LayerLimits,
  type LayerSource,
  layerLabel,
  layerTar,
} from "./source.ts";
import { type EntryMeta, type LayerChange, Tree, type TreeNode } from "./view-tree.ts";

export type { ChangeBefore, ChangeKind, LayerChange } from "./view-tree.ts";
export { MAX_SYMLINK_HOPS } from "./view-tree.ts";

export interface ViewNode {
  /** Normalised, in-root, symlink-free path; "." is the root. */
  readonly path: string;
  /** A hard link shows its target's type, metadata and content, with `hardlinkTo` set. */
  readonly type: TarType;
  /** Permission bits incl. setuid/setgid/sticky (0o7777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Data bytes of a regular file; 0 for every other type. */
  readonly size: number;
  /** Seconds since the epoch, as in the header (fractional with PAX); 0 for directories created implicitly. */
  readonly mtime: number;
  /** Symlinks: the target, verbatim. */
  readonly linkTarget?: string | undefined;
  /** Hard links: the in-root path of the node it was linked to, at the time (parent resolved, name not). */
  readonly hardlinkTo?: string | undefined;
  readonly devmajor?: number | undefined;
  readonly devminor?: number | undefined;
  /** As the unpacker sets them: `trusted.*`, `security.selinux` and `system.nfs4_acl` are never applied (R13). */
  readonly xattrs?: Map<string, Buffer> | undefined;
  /** Index of the layer whose entry defines the node now (for an implicit directory: the layer that made it). */
  readonly layer: number;
  /** The layer where the path appeared, after its last removal by an earlier layer. */
  readonly addedIn: number;
  /** Inode within this view: nodes with the same `ino` are hard links of one another. */
  readonly ino: number;
  /** Where the bytes are: layer index + offset of the data in its uncompressed tar (regular files only). */
  readonly content?: { layer: number; offset: number; size: number } | undefined;
  /** The same as plain numbers, without making an object: the layer (-1 for no content) and the offset. */
  readonly contentLayer: number;
  readonly contentOffset: number;
  /** sha256 of the content, with `buildView(..., { digests: true })` or once `digest()` computed it. */
  readonly digest?: Digest | undefined;
}

export interface ViewLayerInfo {
  index: number;
  digest: Digest;
  diffId: Digest;
  /** Tar entries (whiteouts included). */
  entries: number;
  /** Sum of the sizes of the regular-file entries of the tar (dive's layer size). */
  bytes: number;
  /** What the layer did to the view below it, one record per path, sorted by path (UTF-8 byte order). */
  changes: LayerChange[];
  /** With `rawEntries: true`: every tar entry of the layer, in tar order. */
  rawEntries?: RawEntry[] | undefined;
}

/**
 * A tar entry as the layer states it (dive's per-layer tree, the `--json` fileList): the normalised name with
 * `.wh.` names kept and symlinked parents not resolved, the raw type ("hardlink" kept) and header values.
 */
export interface RawEntry {
  path: string;
  type: TarType;
  /** The header's size (data bytes of a regular file). */
  size: number;
  mode: number;
  uid: number;
  gid: number;
  /** Symlink target or hard-link name, verbatim. */
  linkpath?: string | undefined;
  /** sha256 of a regular file's data, with `digests: true` (not computed for whiteout markers). */
  digest?: Digest | undefined;
  /** Regular files: the offset of the data in the layer's uncompressed tar (where `readContent` finds it). */
  offset?: number | undefined;
}

export interface ViewOptions<K = Buffer> {
  limits?: LayerLimits | undefined;
  /** Compute each regular file's sha256 during the pass (default false: `digest()` computes on demand). */
  digests?: boolean | undefined;
  signal?: AbortSignal | undefined;
  /** Keep every layer's raw entries (`ViewLayerInfo.rawEntries`), for dive-compatible listings. Default false. */
  rawEntries?: boolean | undefined;
  /** Changes record the state each layer left a node in (`LayerChange.after`), for the explorer. Default false. */
  afterStates?: boolean | undefined;
  /**
   * Called after each layer is applied with every node of the view as it is then (the root first; a node may
   * change afterwards, so read what is needed during the call) and the layer's record, which the hook may trim
   * (setting `rawEntries` to undefined once it has used them keeps memory to one layer's entries).
   */
  afterLayer?: ((index: number, nodes: IterableIterator<ViewNode>, layer: ViewLayerInfo) => void) | undefined;
  /** start / progress (compressed bytes) / end per layer, and warnings. */
  events?: EventSink | undefined;
  /**
   * Keep the first bytes of regular files during the pass, so that readers (analysis) need no second pass:
   * called for every regular-file entry with its normalised path, mode and size, it returns how many leading
   * bytes to keep (0: none). What was kept shows in `SquashedView.captured` under the path of every node whose
   * content it is, hard links included; a later layer's entry for the same path replaces (or drops) it.
   */
  capture?: ((path: string, mode: number, size: number) => number) | undefined;
  /**
   * With `capture`: what the view keeps for a file's captured bytes, called once they are in, with the file's
   * size (default: the bytes themselves). It lets a reader keep a summary instead of the bytes (analysis keeps
   * the ELF reading of a shared library, not its megabytes). When `shared` is true, `bytes` is a window on the
   * layer's decompressed stream: valid during the call only, so copy what is kept.
   */
  keep?: ((path: string, bytes: Buffer, size: number, shared: boolean) => K) | undefined;
}

export interface ReadOptions {
  signal?: AbortSignal | undefined;
}

const EMPTY_SHA256: Digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/** R13: never applied by the unpacker. */
const DROPPED_XATTRS = new Set(["security.selinux", "system.nfs4_acl"]);

function notFound(path: string, why: string): OslessError {
  return new OslessError("E_NOT_FOUND", `"${printable(path)}" ${why} in the image`, {
    hint: "list the directory to see what the image holds",
    details: { path },
  });
}

/** Lexical cleaning of a path given to a lookup: leading "/" ignored, ".." clamped at the root. */
function lexicalClean(path: string): string {
  const out: string[] = [];
  for (const c of path.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") out.pop();
    else out.push(c);
  }
  return out.length === 0 ? "." : out.join("/");
}

export class SquashedView<K = Buffer> {
  readonly layers: ViewLayerInfo[];
  /**
   * With `capture`: the leading bytes kept (or what `keep` made of them), by node path (ViewNode.path): those of
   * the content each node shows now, so a hard link of a kept file has them too (the same value) and a path whose
   * entry was replaced, removed or whited out by a later layer has none.
   */
  readonly captured: Map<string, K> = new Map();
  readonly #tree: Tree;
  readonly #sources: LayerSource[];
  readonly #limits: LayerLimits | undefined;

  /** Use `buildView`. */
  constructor(tree: Tree, layers: ViewLayerInfo[], sources: LayerSource[], limits: LayerLimits | undefined) {
    this.#tree = tree;
    this.layers = layers;
    this.#sources = sources;
    this.#limits = limits;
  }

  /** Number of nodes, the root included. */
  get size(): number {
    return this.#tree.size;
  }

  /** The node at exactly `path` (cleaned lexically; a leading "/" is fine); symlinks are not followed. */
  get(path: string): ViewNode | undefined {
    return this.#tree.get(lexicalClean(path));
  }

  /**
   * The node `path` leads to inside the image, following symlinks (the last component's too) with chroot
   * semantics: absolute targets start at the image root, ".." stops there, 40 links at most. Undefined when it
   * leads nowhere (missing, dangling, a loop, or through a non-directory).
   */
  resolve(path: string): ViewNode | undefined {
    return this.#resolve(path).node;
  }

  #resolve(path: string): { node: TreeNode | undefined; loop: boolean } {
    try {
      return { node: this.#tree.resolveAll(path).node, loop: false };
    } catch (e) {
      if (e instanceof OslessError && e.details?.errno === "ELOOP") return { node: undefined, loop: true };
      throw e;
    }
  }

  /** Direct children of the directory at exactly `dir`, sorted by name (UTF-8 byte order); [] for non-directories. */
  list(dir: string): ViewNode[] {
    const n = this.#tree.get(lexicalClean(dir));
    return n?.children === undefined ? [] : [...n.children.values()];
  }

  /** Every node, the root first, depth-first with children in name order. */
  *walk(): IterableIterator<ViewNode> {
    const stack: Iterator<TreeNode>[] = [];
    yield this.#tree.root;
    stack.push(this.#tree.root.children!.values());
    while (stack.length > 0) {
      const r = stack[stack.length - 1]!.next();
      if (r.done) {
        stack.pop();
        continue;
      }
      yield r.value;
      if (r.value.children !== undefined) stack.push(r.value.children.values());
    }
  }

  #file(path: string): TreeNode {
    const { node, loop } = this.#resolve(path);
    if (node === undefined) throw notFound(path, loop ? "leads into a symlink loop" : "does not exist");
    if (node.contentLayer < 0) {
      throw new OslessError(
        "E_USAGE",
        `"${printable(path)}" is a ${node.type === "directory" ? "directory" : `${node.type} (not a regular file)`}`,
        {
          hint: "only regular files have contents to read",
          details: { path, resolved: node.path, type: node.type },
        },
      );
    }
    return node;
  }

  /**
   * The bytes of the regular file `path` leads to (resolve() semantics). Re-streams only the layer holding the
   * data, up to the end of that data: the layer's digests are not re-verified (buildView did), but when the
   * file's digest is known the bytes are checked against it (E_DIGEST_MISMATCH after the last chunk).
   */
  readFile(path: string, opts: ReadOptions = {}): AsyncIterable<Buffer> {
    const node = this.#file(path);
    return this.#read(node, opts);
  }

  /**
   * The bytes stored at `content` (a layer and the offset of a regular file's data in its tar, as
   * LayerChange states record them): a file's content as of an earlier layer, even if later layers replaced it.
   * `path` names it in errors; with `digest` the bytes are checked as readFile checks them.
   */
  readContent(
    content: { layer: number; offset: number; size: number; digest?: Digest | undefined },
    path: string,
    opts: ReadOptions = {},
  ): AsyncIterable<Buffer> {
    if (!Number.isInteger(content.layer) || this.#sources[content.layer] === undefined) {
      throw new OslessError("E_USAGE", `readContent: there is no layer ${content.layer} in this view`, {
        hint: "pass a content location recorded by this view",
      });
    }
    return this.#read(
      {
        path,
        contentLayer: content.layer,
        contentOffset: content.offset,
        size: content.size,
        digest: content.digest,
      },
      opts,
    );
  }

  /**
   * sha256 of the regular-file data at each of `offsets` in layer `layer` (offsets as content locations record
   * them), in one pass over the layer that stops after the last of them: for a reader that needs a few digests
   * (rewrites to tell apart) without hashing every file during the build. An offset with no file data there is
   * left out of the result.
   */
  async digestsAt(
    layer: number,
    offsets: Iterable<number>,
    opts: ReadOptions = {},
  ): Promise<Map<number, Digest>> {
    const source = this.#sources[layer];
    if (source === undefined) {
      throw new OslessError("E_USAGE", `digestsAt: there is no layer ${layer} in this view`, {
        hint: "pass a layer index of this view",
      });
    }
    const wanted = new Set(offsets);
    const out = new Map<number, Digest>();
    if (wanted.size === 0) return out;
    const last = Math.max(...wanted);
    const tar = layerTar(source, { limits: this.#limits, signal: opts.signal });
    const entries = readTar(tar, { drain: false, maxEntries: this.#limits?.maxEntries });
    try {
      for await (const e of entries) {
        if (e.dataOffset > last) break;
        if (e.header.type !== "file" || !wanted.has(e.dataOffset)) continue;
        const h = createHash("sha256");
        const whole = e.bodyNow();
        if (whole !== undefined) h.update(whole);
        else for await (const c of e.body()) h.update(c);
        out.set(e.dataOffset, `sha256:${h.digest("hex")}`);
      }
    } finally {
      await entries.return(undefined);
    }
    return out;
  }

  async *#read(
    node: Pick<TreeNode, "path" | "contentLayer" | "contentOffset" | "size" | "digest">,
    opts: ReadOptions,
  ): AsyncGenerator<Buffer> {
    const source = this.#sources[node.contentLayer]!;
    const what = `${layerLabel(source)}, "${printable(node.path)}"`;
    const offset = node.contentOffset;
    const hash = node.digest !== undefined ? createHash("sha256") : undefined;
    const tar = layerTar(source, { limits: this.#limits, signal: opts.signal });
    const entries = readTar(tar, {
      drain: false,
      maxEntries: this.#limits?.maxEntries,
    });
    try {
      for await (const e of entries) {
        if (e.dataOffset < offset) continue;
        if (e.dataOffset > offset || e.header.type !== "file" || e.header.size !== node.size) break;
        let got = 0;
        for await (const c of e.body()) {
          opts.signal?.throwIfAborted();
          got += c.length;
          hash?.update(c);
          yield c;
        }
        if (got !== node.size) break;
        if (hash !== undefined) {
          const actual: Digest = `sha256:${hash.digest("hex")}`;
          if (actual !== node.digest) {
            throw new OslessError(
              "E_DIGEST_MISMATCH",
              `${what}: content digest ${actual} does not match ${node.digest}`,
              {
                hint: "the layer blob changed since the view was built; rebuild the view (and run fsck on the store)",
                details: { path: node.path, expected: node.digest, actual },
              },
            );
          }
        }
        return;
      }
    } finally {
      await entries.return(undefined);
    }
    throw new OslessError("E_LAYER_INVALID", `${what}: no file data at offset ${offset} of the layer`, {
      hint: "the layer blob changed since the view was built; rebuild the view (and run fsck on the store)",
      details: { path: node.path, layer: node.contentLayer, offset },
    });
  }

  /** The whole file (readFile semantics); E_SIZE_LIMIT before reading when it is larger than `maxBytes`. */
  async readFileBuffer(path: string, maxBytes: number, opts: ReadOptions = {}): Promise<Buffer> {
    const node = this.#file(path);
    if (node.size > maxBytes) {
      throw new OslessError(
        "E_SIZE_LIMIT",
        `"${printable(path)}" is ${node.size} bytes, more than the ${maxBytes} bytes allowed here`,
        { hint: "stream it with readFile instead", details: { path, size: node.size, limit: maxBytes } },
      );
    }
    const parts: Buffer[] = [];
    for await (const c of this.#read(node, opts)) parts.push(c);
    return Buffer.concat(parts, node.size);
  }

  /** sha256 of the regular file `path` leads to: from the build pass, or computed once via readFile. */
  async digest(path: string, opts: ReadOptions = {}): Promise<Digest> {
    const node = this.#file(path);
    if (node.digest !== undefined) return node.digest;
    const h = createHash("sha256");
    for await (const c of this.#read(node, opts)) h.update(c);
    node.digest = `sha256:${h.digest("hex")}`;
    return node.digest;
  }
}

/**
 * Build the squashed view of `layers` (base first) in one streaming pass. Every layer is read to its end, so
 * a corrupt blob or wrong DiffID fails the build (E_DIGEST_MISMATCH / E_SIZE_MISMATCH). Entries the unpacker
 * refuses are refused with its codes: names escaping the root or replacing it (E_TAR_UNSAFE_PATH), invalid
 * whiteouts (E_TAR_UNSAFE_PATH), hard links to nothing or to a directory and symlink loops (E_LAYER_INVALID),
 * limits (E_TAR_LIMIT, E_SIZE_LIMIT).
 */
export async function buildView<K = Buffer>(
  layers: LayerSource[],
  opts: ViewOptions<K> = {},
): Promise<SquashedView<K>> {
  const tree = new Tree(opts.afterStates ?? false);
  const infos: ViewLayerInfo[] = [];
  const budget: ImageBudget = { used: 0 };
  const { limits, signal, events } = opts;
  const digests = opts.digests ?? false;
  const maxDepth = limits?.maxDepth;
  // Kept bytes by where they are (layer, data offset): nodes, hard links included, find them by their content.
  const kept: Map<number, K>[] = [];
  // The location kept for an entry path, so that a later entry for the path frees the older bytes.
  const keptAt = new Map<string, [number, number]>();
  let warnedXattr = false;
  for (const [i, source] of layers.entries()) {
    if (source.index !== i) {
      throw new OslessError("E_USAGE", `buildView: layer at position ${i} says it is layer ${source.index}`, {
        hint: "pass the image's layers in order, base first",
      });
    }
    signal?.throwIfAborted();
    const id = source.descriptor.digest;
    const opened: LayerSource =
      events === undefined ? source : { ...source, open: () => reportProgress(source.open(), id, events) };
    events?.({ type: "start", id, label: `view ${layerLabel(source)}`, total: source.descriptor.size });
    tree.beginLayer(i);
    const keptHere = new Map<number, K>();
    kept.push(keptHere);
    let entries = 0;
    let bytes = 0;
    const raw: RawEntry[] | undefined = opts.rawEntries ? [] : undefined;
    const tar = layerTar(opened, { limits, budget, signal });
    // A layer that ends right after its last entry's data (umoci 0.4.7) is read as complete by readTar itself.
    for await (const e of readTar(tar, { maxEntries: limits?.maxEntries })) {
      const h = e.header;
      entries++;
      if (h.type === "file") bytes += h.size;
      try {
        checkEntryUtf8(h);
        const clean = normalizeEntryPath(h.path, maxDepth);
        const role = entryRole(clean);
        let digest: Digest | undefined;
        let keep = 0;
        if (h.type === "file" && role.kind === "normal" && opts.capture) {
          keep = Math.min(h.size, Math.max(0, Math.floor(opts.capture(clean, h.mode, h.size))));
          const before = keptAt.get(clean);
          if (before !== undefined) {
            kept[before[0]]!.delete(before[1]);
            keptAt.delete(clean);
          }
        }
        if ((digests || keep > 0) && h.type === "file" && role.kind === "normal") {
          const hash = digests ? createHash("sha256") : undefined;
          // Kept bytes are copied into a buffer of the kept size (`c` may be a slice of a large decompressed
          // chunk), unless a `keep` hook takes them at once from the first chunk that holds them all.
          let out: Buffer | undefined;
          let window: Buffer | undefined;
          let keptBytes = 0;
          // Data already buffered is taken at once; only a file spanning chunks is iterated.
          const whole = h.size > 0 ? e.bodyNow() : undefined;
          if (whole !== undefined) {
            hash?.update(whole);
            if (keep > 0) {
              if (opts.keep !== undefined) window = whole.subarray(0, keep);
              else {
                out = Buffer.allocUnsafe(keep);
                whole.copy(out, 0, 0, keep);
              }
              keptBytes = keep;
            }
          } else if (h.size > 0) {
            for await (const c of e.body()) {
              hash?.update(c);
              if (keptBytes < keep) {
                if (keptBytes === 0 && c.length >= keep && opts.keep !== undefined) {
                  window = c.subarray(0, keep);
                  keptBytes = keep;
                } else {
                  out ??= Buffer.allocUnsafe(keep);
                  keptBytes += c.copy(out, keptBytes, 0, keep - keptBytes);
                }
              }
              if (keptBytes >= keep && hash === undefined) break;
            }
          }
          if (keep > 0) {
            const bytes = window ?? (out === undefined ? Buffer.alloc(0) : out.subarray(0, keptBytes));
            const value = opts.keep ? opts.keep(clean, bytes, h.size, window !== undefined) : (bytes as K);
            keptHere.set(e.dataOffset, value);
            keptAt.set(clean, [i, e.dataOffset]);
          }
          if (digests)
            digest =
              h.size === 0 ? EMPTY_SHA256 : `sha256:${(hash as ReturnType<typeof createHash>).digest("hex")}`;
        }
        if (raw !== undefined) raw.push(rawEntry(clean, h, e.dataOffset, digest));
        if (role.kind === "ignored") continue;
        if (role.kind === "whiteout") {
          tree.whiteout(role.dir, role.target.slice(role.target.lastIndexOf("/") + 1), clean);
          continue;
        }
        if (role.kind === "opaque") {
          tree.whiteout(role.dir, undefined, clean);
          continue;
        }
        const meta = entryMeta(h, maxDepth);
        if (h.xattrs.size !== (meta.xattrs?.size ?? 0)) warnedXattr = true;
        tree.apply(clean, meta, { offset: e.dataOffset, digest });
      } catch (err) {
        throw inLayer(err, source, h.path);
      }
    }
    const changes = tree.endLayer();
    const info: ViewLayerInfo = {
      index: i,
      digest: id as Digest,
      diffId: source.diffId,
      entries,
      bytes,
      changes,
    };
    if (raw !== undefined) info.rawEntries = raw;
    opts.afterLayer?.(i, tree.all(), info);
    infos.push(info);
    events?.({ type: "end", id });
  }
  if (warnedXattr) {
    events?.({
      type: "note",
      level: "warn",
      text: "some entries carry trusted.*, security.selinux or system.nfs4_acl xattrs, which unpacking never applies",
    });
  }
  tree.sortChildren();
  const view = new SquashedView<K>(tree, infos, layers, limits);
  if (keptAt.size > 0) {
    for (const n of tree.all()) {
      if (n.contentLayer < 0) continue;
      const b = kept[n.contentLayer]!.get(n.contentOffset);
      if (b !== undefined) view.captured.set(n.path, b);
    }
  }
  return view;
}

/**
 * A layer's record of an entry, made with all its fields at once (a field added afterwards would move them all
 * to a second object, for every entry of the layer).
 */
function rawEntry(path: string, h: TarHeader, offset: number, digest: Digest | undefined): RawEntry {
  const { type, size, mode, uid, gid } = h;
  if (type === "file") {
    return digest === undefined
      ? { path, type, size, mode, uid, gid, offset }
      : { path, type, size, mode, uid, gid, offset, digest };
  }
  if (type === "symlink" || type === "hardlink")
    return { path, type, size, mode, uid, gid, linkpath: h.linkpath };
  return { path, type, size, mode, uid, gid };
}

/** The fields of a header the tree needs, copied (headers and their buffers are not kept). */
function entryMeta(h: TarHeader, maxDepth: number | undefined): EntryMeta {
  if ((h.type === "char" || h.type === "block") && (h.devmajor >= 2 ** 32 || h.devminor >= 2 ** 32)) {
    throw invalidEntry(h, `has device numbers ${h.devmajor}:${h.devminor} outside [0, 2^32)`);
  }
  if (h.type === "symlink" && h.linkpath === "") throw invalidEntry(h, "is a symlink with an empty target");
  let xattrs: Map<string, Buffer> | undefined;
  for (const [k, v] of h.xattrs) {
    if (k.startsWith("trusted.") || DROPPED_XATTRS.has(k)) continue;
    xattrs ??= new Map();
    xattrs.set(k, Buffer.from(v)); // a copy: the value may be a slice of a large decompressed chunk
  }
  return {
    type: h.type,
    mode: h.mode,
    uid: h.uid,
    gid: h.gid,
    size: h.size,
    mtime: h.mtime,
    linkpath: h.type === "hardlink" ? normalizeEntryPath(h.linkpath, maxDepth) : h.linkpath,
    devmajor: h.devmajor,
    devminor: h.devminor,
    xattrs,
  };
}
