/**
 * Where COPY and ADD read their sources: the build context (a host directory seen through its .dockerignore) or
 * another stage's or image's root (`COPY --from`: a plain directory, or overlay layer directories read with
 * overlayfs's rules). Both are `SourceTree`s, read with chroot semantics: `..` never leaves the root and symlinks
 * are expanded inside it.
 *
 * `resolveSources` turns the sources of one instruction into tree nodes as BuildKit does:
 * - a source is cleaned lexically; a leading `/` means the root; a trailing `/` is dropped; one that climbs above
 *   the root with `..` is refused ("COPY source outside the context");
 * - the path up to its first component with a wildcard is resolved in-root, symlinks followed (the last one too);
 *   the rest is matched with Go's filepath.Match component by component, in byte order, without descending into
 *   symlinked directories (BuildKit's filepath.Walk); a directory that matches is one source (not walked into);
 * - ignored context files do not exist (BuildKit never receives them): a hidden file is "not found", a directory
 *   copies only what the .dockerignore lets through;
 * - a wildcard that matches nothing: "no source files were specified"; a missing path: "... not found".
 */

import { isUtf8 } from "node:buffer";
import { type BigIntStats, lstatSync, readdirSync, readlinkSync } from "node:fs";
import { resolveInRoot } from "../_internal/rootpath.ts";
import { getXattr, listXattrs, XattrError, xattrSupport } from "../_internal/xattr.ts";
import { OslessError } from "../errors.ts";
import { type Kind, kindOf } from "../layer/diff-fs.ts";
import { printable } from "../layer/paths.ts";
import { readUnionDir } from "../runtime/export.ts";
import { UnionRoot } from "../runtime/rootfs.ts";
import { goMatch, goPattern, hasWildcards } from "./glob.ts";
import { type Ignore, NO_IGNORE } from "./ignore.ts";

/** A path of a source tree. */
export interface TreeNode {
  /** Relative to the tree's root, "/" separated, no "." or ".." components; "." is the root. */
  rel: string;
  /** Where its bytes are on the host (the topmost layer's entry for a union). */
  host: string;
  st: BigIntStats;
  kind: Kind;
  /** Union trees: the layers this directory merges (top first). */
  merged?: number[];
}

/** A root COPY/ADD read from. */
export interface SourceTree {
  /** For messages: "the context", `stage "build"`. */
  readonly label: string;
  /** True for stage/image roots: their owners are copied; context files are owned by 0:0 (BuildKit's rule). */
  readonly keepOwners: boolean;
  /** The path in-root (symlinks expanded, the last one too with `follow`); undefined when missing or hidden. */
  resolve(path: string, follow: boolean): TreeNode | undefined;
  /** A directory's visible children, byte-ordered by name. */
  list(dir: TreeNode): TreeNode[];
  /** A symlink's target, verbatim. */
  readlink(node: TreeNode): string;
  /** Extended attributes worth copying (overlayfs's own left out), undefined when none. */
  xattrs(node: TreeNode): Map<string, Buffer> | undefined;
}

function lstatBig(host: string): BigIntStats | undefined {
  try {
    return lstatSync(host, { bigint: true, throwIfNoEntry: false });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOTDIR") return undefined;
    throw ioError(host, "lstat", e);
  }
}

function ioError(host: string, what: string, cause: unknown): OslessError {
  const code = (cause as NodeJS.ErrnoException)?.code;
  return new OslessError("E_IO", `${host}: cannot ${what}${code ? ` (${code})` : ""}`, {
    hint: "check that the build's files are readable and not changing during the build",
    cause,
    details: { path: host },
  });
}

function join(rel: string, name: string): string {
  return rel === "." ? name : `${rel}/${name}`;
}

const OVERLAY_XATTR_PREFIX = "trusted.overlay.";

function readXattrs(host: string): Map<string, Buffer> | undefined {
  if (!xattrSupport() || !isUtf8(Buffer.from(host))) return undefined;
  let names: string[];
  try {
    names = listXattrs(host);
  } catch (e) {
    if (e instanceof XattrError) return undefined;
    throw e;
  }
  let out: Map<string, Buffer> | undefined;
  for (const name of names.sort()) {
    if (name.startsWith(OVERLAY_XATTR_PREFIX)) continue;
    let v: Buffer | undefined;
    try {
      v = getXattr(host, name);
    } catch (e) {
      if (e instanceof XattrError) continue;
      throw e;
    }
    if (v === undefined) continue;
    out ??= new Map();
    out.set(name, v);
  }
  return out;
}

/** A symlink's target, read from the host. */
function readlinkHost(node: TreeNode): string {
  try {
    return readlinkSync(node.host);
  } catch (e) {
    throw ioError(node.host, "readlink", e);
  }
}

/** A plain host directory as a source tree, optionally filtered by a .dockerignore (the build context). */
export class DirTree implements SourceTree {
  readonly #visible = new Map<string, boolean>();

  /**
   * @param dir absolute path of the tree's root
   * @param opts ignore: the context's patterns; keepOwners: copy the files' owners (a stage's root), default
   *   false (the context: 0:0); label for messages (default "the context")
   */
  constructor(
    readonly dir: string,
    readonly opts: { ignore?: Ignore; keepOwners?: boolean; label?: string; xattrs?: boolean } = {},
  ) {}

  get label(): string {
    return this.opts.label ?? "the context";
  }

  get keepOwners(): boolean {
    return this.opts.keepOwners ?? false;
  }

  get ignore(): Ignore {
    return this.opts.ignore ?? NO_IGNORE;
  }

  resolve(path: string, follow: boolean): TreeNode | undefined {
    const r = resolveInRoot(this.dir, path, { followFinal: follow });
    if (r.missingFrom >= 0 || r.stat === undefined) return undefined;
    const st = lstatBig(r.host);
    if (st === undefined) return undefined;
    const node: TreeNode = { rel: r.rel, host: r.host, st, kind: kindOf(st) };
    return this.#isVisible(node) ? node : undefined;
  }

  list(dir: TreeNode): TreeNode[] {
    let names: string[];
    try {
      names = readdirSync(dir.host);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return [];
      throw ioError(dir.host, "list the directory", e);
    }
    names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const out: TreeNode[] = [];
    for (const name of names) {
      const host = `${dir.host}/${name}`;
      const st = lstatBig(host);
      if (st === undefined) continue;
      const node: TreeNode = { rel: join(dir.rel, name), host, st, kind: kindOf(st) };
      if (this.#isVisible(node)) out.push(node);
    }
    return out;
  }

  readlink(node: TreeNode): string {
    return readlinkHost(node);
  }

  xattrs(node: TreeNode): Map<string, Buffer> | undefined {
    if (this.opts.xattrs === false) return undefined;
    return readXattrs(node.host);
  }

  /**
   * Not ignored, or a directory an exception brings something back from (then it is there as that thing's
   * parent, as BuildKit's walker sends it).
   */
  #isVisible(node: TreeNode): boolean {
    const ig = this.ignore;
    if (node.rel === "." || ig.empty) return true;
    const known = this.#visible.get(node.rel);
    if (known !== undefined) return known;
    let v = !ig.isIgnored(node.rel, node.kind === "directory");
    if (!v && node.kind === "directory" && ig.mayHoldIncluded(node.rel)) {
      v = this.list(node).length > 0;
    }
    this.#visible.set(node.rel, v);
    return v;
  }
}

/**
 * A root made of overlay layer directories (top first: a stage's upper dir, then its lower snapshots), read as
 * overlayfs shows it (whiteouts, opaque directories): a stage or image `COPY --from` reads. Owners are kept.
 */
export class UnionTree implements SourceTree {
  readonly #root: UnionRoot;

  constructor(
    readonly layers: readonly string[],
    readonly label: string = "the stage",
  ) {
    this.#root = new UnionRoot(layers);
  }

  get keepOwners(): boolean {
    return true;
  }

  resolve(path: string, follow: boolean): TreeNode | undefined {
    const r = this.#root.resolveUnion(path, follow);
    if (r.entry === undefined) return undefined;
    const st = lstatBig(r.entry.host);
    if (st === undefined) return undefined;
    const rel = r.parts.length === 0 ? "." : r.parts.join("/");
    return { rel, host: r.entry.host, st, kind: kindOf(st), merged: r.entry.merged };
  }

  list(dir: TreeNode): TreeNode[] {
    const merged = dir.merged ?? [];
    const rel = Buffer.from(dir.rel === "." ? "" : dir.rel);
    const out: TreeNode[] = [];
    for (const e of readUnionDir(this.layers, rel, merged)) {
      if (!isUtf8(e.name) || !isUtf8(e.host)) {
        throw new OslessError(
          "E_TAR_UNSUPPORTED",
          `${this.label}: "${printable(e.host.toString("utf8"))}" has a name that is not UTF-8`,
          { hint: "rename it in the stage (osless handles UTF-8 names only)" },
        );
      }
      out.push({
        rel: join(dir.rel, e.name.toString("utf8")),
        host: e.host.toString("utf8"),
        st: e.st,
        kind: kindOf(e.st),
        merged: e.merged,
      });
    }
    return out;
  }

  readlink(node: TreeNode): string {
    return readlinkHost(node);
  }

  xattrs(node: TreeNode): Map<string, Buffer> | undefined {
    return readXattrs(node.host);
  }
}

// --- resolution ------------------------------------------------------------------------------------------------

/** One source of a COPY/ADD, resolved. */
export interface ResolvedSource {
  /** The source as written in the Dockerfile. */
  src: string;
  tree: SourceTree;
  /** What is copied (symlinks in its path, and a final one, followed). */
  node: TreeNode;
  /** The name it takes in a destination directory: the last component of the path as matched (a symlink's own name). */
  name: string;
  /** ADD only: a local tar archive (with its compression) that is extracted rather than copied. */
  archive?: "none" | "gzip" | "zstd" | "xz" | "bzip2" | undefined;
  /** ADD only: a file downloaded from this URL (mode 0600, mtime from Last-Modified). */
  url?: { url: string; mtime: number } | undefined;
}

export interface ResolveOptions {
  /** "COPY" (default) or "ADD", for messages. */
  instruction?: string;
}

export function isUrl(src: string): boolean {
  return /^https?:\/\//i.test(src);
}

/**
 * Lexical cleaning of a source: components of the root-relative path, without "." or "". Undefined when `..`
 * climbs above the root.
 */
function sourceParts(src: string): string[] | undefined {
  const out: string[] = [];
  for (const c of src.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") {
      if (out.length === 0) return undefined;
      out.pop();
      continue;
    }
    out.push(c);
  }
  return out;
}

function outside(instr: string, tree: SourceTree, src: string): OslessError {
  const where = tree.label === "the context" ? "the context" : `the root of ${tree.label}`;
  return new OslessError("E_USAGE", `${instr} source outside the context: "${src}" climbs above ${where}`, {
    hint: `sources are paths inside ${where}: remove the leading "../" (a leading "/" is ${where} itself)`,
    details: { source: src },
  });
}

function notFound(instr: string, tree: SourceTree, src: string, shown: string): OslessError {
  return new OslessError("E_NOT_FOUND", `${instr} source "${shown}" not found in ${tree.label}`, {
    hint:
      tree.label === "the context"
        ? "check the path (relative to the context directory) and that .dockerignore does not exclude it"
        : "check the path (absolute in the stage or image) and that the stage creates it",
    details: { source: src },
  });
}

/**
 * Resolve the sources of one COPY/ADD inside `tree` (see the module comment). Order: sources as given, each
 * wildcard's matches in byte order. URLs are refused here (ADD downloads them: see add.ts).
 */
export function resolveSources(
  tree: SourceTree,
  sources: readonly string[],
  opts: ResolveOptions = {},
): ResolvedSource[] {
  const instr = opts.instruction ?? "COPY";
  if (sources.length === 0) {
    throw new OslessError("E_USAGE", `${instr}: no source files were specified`, {
      hint: `write ${instr} <src>... <dest>`,
    });
  }
  const out: ResolvedSource[] = [];
  for (const src of sources) {
    if (isUrl(src)) {
      throw new OslessError("E_USAGE", `${instr} source "${src}" is a URL`, {
        hint:
          instr === "COPY" ? "COPY takes local paths only; use ADD to download a URL" : "pass URLs to ADD",
        details: { source: src },
      });
    }
    if (src === "") {
      throw new OslessError("E_USAGE", `${instr}: an empty source path`, {
        hint: "name a file or directory",
      });
    }
    const parts = sourceParts(src);
    if (parts === undefined) throw outside(instr, tree, src);
    const wild = parts.findIndex((p) => hasWildcards(p));
    if (wild < 0) {
      const node = tree.resolve(`/${parts.join("/")}`, true);
      if (!node) throw notFound(instr, tree, src, src);
      out.push({ src, tree, node, name: parts.at(-1) ?? "." });
      continue;
    }
    for (const p of parts.slice(wild)) goPattern(p); // a malformed pattern fails even when nothing is listed
    const base = tree.resolve(`/${parts.slice(0, wild).join("/")}`, true);
    const matches: { node: TreeNode; name: string }[] = [];
    if (base && base.kind === "directory") matchLevel(tree, base, parts.slice(wild), matches);
    if (matches.length === 0) {
      throw new OslessError(
        "E_NOT_FOUND",
        `${instr} source "${src}": no source files were specified (the pattern matches nothing in ${tree.label})`,
        {
          hint:
            tree.label === "the context"
              ? "check the pattern and that .dockerignore does not exclude the files"
              : "check the pattern against the stage's files",
          details: { source: src },
        },
      );
    }
    for (const m of matches) {
      // A match is followed if it is a symlink (BuildKit resolves every source it copies).
      const node = m.node.kind === "symlink" ? tree.resolve(`/${m.node.rel}`, true) : m.node;
      if (!node) throw notFound(instr, tree, src, `/${m.node.rel}`);
      out.push({ src, tree, node, name: m.name });
    }
  }
  return out;
}

function matchLevel(
  tree: SourceTree,
  dir: TreeNode,
  rest: string[],
  out: { node: TreeNode; name: string }[],
): void {
  const [pattern, ...more] = rest;
  for (const child of tree.list(dir)) {
    const name = child.rel.slice(child.rel.lastIndexOf("/") + 1);
    if (!goMatch(pattern!, name)) continue;
    if (more.length === 0) out.push({ node: child, name });
    else if (child.kind === "directory") matchLevel(tree, child, more, out);
  }
}

// --- walking ---------------------------------------------------------------------------------------------------

/** A node with its path below the source's top ("" for the top itself). */
export interface WalkedNode {
  sub: string;
  node: TreeNode;
}

/** The source's top node then, for a directory, everything below it in pre-order (children byte-ordered). */
export function* walkSource(src: ResolvedSource): Generator<WalkedNode> {
  yield { sub: "", node: src.node };
  if (src.node.kind !== "directory") return;
  const stack: WalkedNode[] = [];
  const push = (parent: WalkedNode) => {
    const kids = src.tree.list(parent.node);
    for (let i = kids.length - 1; i >= 0; i--) {
      const k = kids[i]!;
      const name = k.rel.slice(k.rel.lastIndexOf("/") + 1);
      stack.push({ sub: parent.sub === "" ? name : `${parent.sub}/${name}`, node: k });
    }
  };
  push({ sub: "", node: src.node });
  while (stack.length > 0) {
    const w = stack.pop()!;
    yield w;
    if (w.node.kind === "directory") push(w);
  }
}
