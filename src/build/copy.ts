/**
 * COPY (and the copying half of ADD) as layer entries, with Docker's (BuildKit's) semantics:
 * - the destination is absolute or relative to the working directory; it is a directory when it ends in `/` (or
 *   is `.`), when several sources resolve, or when it already is a directory in the image; otherwise a single
 *   file source is written at that path;
 * - a directory source copies its contents (not itself) into the destination, merging with what is there; the
 *   destination takes the source directory's metadata when this step creates it, and keeps its own otherwise;
 * - the destination path is resolved in the image (a symlinked directory such as merged-usr's /bin -> usr/bin is
 *   followed, so entries land where the image's filesystem puts them); a file onto an existing directory, or a
 *   directory where the image has a file, is an error;
 * - missing parents are created 0755 root:root;
 * - metadata: modes from the source (or `--chmod`, octal or symbolic), owners 0:0 for the context and as they are
 *   for `--from` roots (or `--chown`, names resolved through the image's /etc/passwd and /etc/group), mtimes from
 *   the source, clamped to SOURCE_DATE_EPOCH when given; hard links within one copy stay hard links; sockets are
 *   left out.
 * Later sources win over earlier ones at the same path (BuildKit overwrites silently).
 */
import { createReadStream } from "node:fs";
import { type Digest, Hasher } from "../digest/index.ts";
import { OslessError } from "../errors.ts";
import { devNumbers, seconds } from "../layer/diff-fs.ts";
import { baseOf, parentOf } from "../layer/paths.ts";
import type { LayerEntry } from "../layer/write.ts";
import type { RootReader } from "../runtime/types.ts";
import { parseGroup, parsePasswd } from "../runtime/user.ts";
import { type ResolvedSource, type TreeNode, walkSource } from "./context.ts";
import { cleanPath } from "./glob.ts";

// --- --chown ---------------------------------------------------------------------------------------------------

export interface Owner {
  uid: number;
  gid: number;
}

const MAX_ID = 2 ** 32 - 2;

function parseId(s: string): number | undefined {
  if (!/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * `--chown=user[:group]` as BuildKit resolves it: numbers are ids (a user alone also gives the group: the same
 * number); names are looked up in `root`'s /etc/passwd and /etc/group (a user name alone gives its passwd group).
 * An unknown name, or a name with no such file: E_USAGE.
 */
export function resolveChown(spec: string, root: RootReader | undefined): Owner {
  const colon = spec.indexOf(":");
  const user = colon < 0 ? spec : spec.slice(0, colon);
  const group = colon < 0 ? undefined : spec.slice(colon + 1);
  if (user === "" || group === "") {
    throw new OslessError("E_USAGE", `--chown="${spec}": a user (and optional group) is required`, {
      hint: "write --chown=USER, --chown=USER:GROUP, or numeric ids such as --chown=1000:1000",
      details: { chown: spec },
    });
  }
  let uid: number;
  let gid: number;
  const uidNum = parseId(user);
  if (uidNum !== undefined) {
    uid = uidNum;
    gid = uidNum;
  } else {
    const text = root?.readFile("/etc/passwd")?.toString("utf8");
    const entry = text === undefined ? undefined : parsePasswd(text).find((u) => u.name === user);
    if (!entry) {
      throw new OslessError(
        "E_USAGE",
        `--chown="${spec}": unable to find user ${user}${text === undefined ? ": the image has no /etc/passwd" : " in the image's /etc/passwd"}`,
        {
          hint: "use a user the image defines, or numeric ids (--chown=1000:1000)",
          details: { chown: spec, user },
        },
      );
    }
    uid = entry.uid;
    gid = entry.gid;
  }
  if (group !== undefined) {
    const gidNum = parseId(group);
    if (gidNum !== undefined) gid = gidNum;
    else {
      const text = root?.readFile("/etc/group")?.toString("utf8");
      const entry = text === undefined ? undefined : parseGroup(text).find((g) => g.name === group);
      if (!entry) {
        throw new OslessError(
          "E_USAGE",
          `--chown="${spec}": unable to find group ${group}${text === undefined ? ": the image has no /etc/group" : " in the image's /etc/group"}`,
          {
            hint: "use a group the image defines, or a numeric gid (--chown=USER:1000)",
            details: { chown: spec, group },
          },
        );
      }
      gid = entry.gid;
    }
  }
  for (const [what, n] of [
    ["uid", uid],
    ["gid", gid],
  ] as const) {
    if (n > MAX_ID) {
      throw new OslessError("E_USAGE", `--chown="${spec}": ${what} ${n} is out of range`, {
        hint: `ids go from 0 to ${MAX_ID}`,
        details: { chown: spec },
      });
    }
  }
  return { uid, gid };
}

// --- --chmod ---------------------------------------------------------------------------------------------------

/** A `--chmod` as a function of an entry's current mode and whether it is a directory. */
export type ChmodFn = (mode: number, isDir: boolean) => number;

function badChmod(spec: string, why: string): OslessError {
  return new OslessError("E_USAGE", `--chmod="${spec}": ${why}`, {
    hint: "use octal (--chmod=755, --chmod=0644) or chmod(1) symbolic modes (--chmod=u=rwX,go=rX, --chmod=+x)",
    details: { chmod: spec },
  });
}

/**
 * Parse `--chmod`: octal (at most 0o7777) sets the mode outright; symbolic (`[ugoa]*[+-=]perms`, clauses joined
 * by `,`, perms from `rwxXst` or one of `u`, `g`, `o` to copy) changes it as chmod(1) does with a umask of 0
 * (`X`: execute only for directories and files that are executable by someone already).
 */
export function parseChmod(spec: string): ChmodFn {
  if (/^[0-7]+$/.test(spec)) {
    const mode = Number.parseInt(spec, 8);
    if (mode > 0o7777) throw badChmod(spec, "more than 4 octal digits of permission bits");
    return () => mode;
  }
  type Op = { op: "+" | "-" | "="; perms: string };
  const clauses: { who: string; ops: Op[] }[] = [];
  for (const clause of spec.split(",")) {
    const m = /^([ugoa]*)((?:[-+=](?:[ugo]|[rwxXst]*))+)$/.exec(clause);
    if (!m) throw badChmod(spec, `"${clause}" is neither octal nor a chmod(1) symbolic mode`);
    const ops: Op[] = [];
    for (const o of m[2]!.matchAll(/([-+=])([ugo]|[rwxXst]*)/g)) {
      ops.push({ op: o[1] as Op["op"], perms: o[2]! });
    }
    clauses.push({ who: m[1]!, ops });
  }
  return (mode: number, isDir: boolean) => {
    let cur = mode & 0o7777;
    for (const { who, ops } of clauses) {
      const all = who === "" || who.includes("a");
      const u = all || who.includes("u");
      const g = all || who.includes("g");
      const o = all || who.includes("o");
      const mask = (u ? 0o4700 : 0) | (g ? 0o2070 : 0) | (o ? 0o0007 : 0) | (all || o ? 0o1000 : 0);
      for (const { op, perms } of ops) {
        let bits = 0;
        if (perms === "u" || perms === "g" || perms === "o") {
          const shift = perms === "u" ? 6 : perms === "g" ? 3 : 0;
          bits = ((cur >> shift) & 7) * 0o111;
        } else {
          for (const p of perms) {
            if (p === "r") bits |= 0o444;
            else if (p === "w") bits |= 0o222;
            else if (p === "x") bits |= 0o111;
            else if (p === "X") {
              if (isDir || (cur & 0o111) !== 0) bits |= 0o111;
            } else if (p === "s") bits |= 0o6000;
            else if (p === "t") bits |= 0o1000;
          }
        }
        const b = bits & mask;
        if (op === "+") cur |= b;
        else if (op === "-") cur &= ~b;
        else cur = (cur & ~mask) | b;
      }
    }
    return cur & 0o7777;
  };
}

// --- the plan: entries placed in the image -----------------------------------------------------------------

export interface PlanOptions {
  /** The destination as written (after variable expansion). */
  dest: string;
  /** The stage's working directory, for a relative destination (default "/"). */
  workdir?: string | undefined;
  /**
   * The stage's filesystem before this step, to resolve the destination in (symlinks, existing directories).
   * Undefined: an empty root (FROM scratch, or `--link`, which never reads the lower state).
   */
  destRoot?: RootReader | undefined;
  /** `--chown` as written; names resolved in `destRoot`. */
  chown?: string | undefined;
  /** `--chmod` as written. */
  chmod?: string | undefined;
  /** SOURCE_DATE_EPOCH: later mtimes are clamped to it. */
  sourceDateEpoch?: number | undefined;
  /** The time (seconds) given to directories this step creates (default: now, clamped to sourceDateEpoch). */
  now?: number | undefined;
  /** "COPY" (default) or "ADD", for messages. */
  instruction?: string | undefined;
}

/** True when the destination as written names a directory (`/` at the end, `.`, or empty). */
export function destIsDirectory(dest: string): boolean {
  return dest === "" || dest === "." || dest.endsWith("/") || dest.endsWith("/.");
}

function conflict(instr: string, what: string): OslessError {
  return new OslessError("E_CONFLICT", `${instr}: ${what}`, {
    hint: "change the destination, or remove what is in the way in an earlier step",
  });
}

/**
 * Entries of one COPY/ADD being placed in the image: paths resolved in the stage's filesystem, missing parents
 * made, later entries replacing earlier ones. Shared by COPY and ADD's archive extraction.
 */
export class LayerPlan {
  readonly instr: string;
  readonly owner: Owner | undefined;
  readonly chmod: ChmodFn | undefined;
  readonly epoch: number | undefined;
  readonly now: number;
  /** The destination, absolute and cleaned lexically ("/" for the root). */
  readonly destAbs: string;
  readonly #root: RootReader | undefined;
  readonly #entries = new Map<string, LayerEntry>();
  /** Lexical directory path -> where it is in the image (resolved through the image's symlinks). */
  readonly #dirs = new Map<string, string>();
  /** Resolved paths known to be directories in the image before this step. */
  readonly #baseDirs = new Map<string, boolean>();

  constructor(readonly opts: PlanOptions) {
    this.instr = opts.instruction ?? "COPY";
    this.#root = opts.destRoot;
    this.owner = opts.chown ? resolveChown(opts.chown, opts.destRoot) : undefined;
    this.chmod = opts.chmod ? parseChmod(opts.chmod) : undefined;
    this.epoch = opts.sourceDateEpoch;
    const now = Math.floor(opts.now ?? Date.now() / 1000);
    this.now = this.epoch !== undefined && now > this.epoch ? this.epoch : now;
    const workdir = opts.workdir && opts.workdir !== "" ? opts.workdir : "/";
    const raw = opts.dest.startsWith("/") ? opts.dest : `${workdir.replace(/\/+$/, "")}/${opts.dest}`;
    this.destAbs = cleanPath(raw.startsWith("/") ? raw : `/${raw}`);
  }

  /** The destination relative to the root ("." for the root). */
  get destRel(): string {
    return this.destAbs === "/" ? "." : this.destAbs.slice(1);
  }

  /** mtime for an entry: whole seconds, clamped to SOURCE_DATE_EPOCH. */
  mtime(sec: number): number {
    const s = Math.floor(sec);
    return this.epoch !== undefined && s > this.epoch ? this.epoch : s;
  }

  #baseStat(resolved: string, follow = false) {
    if (!this.#root) return undefined;
    return this.#root.stat(resolved === "." ? "/" : `/${resolved}`, { follow });
  }

  /** True when `resolved` (a resolved path) is a directory in the image before this step. */
  #isBaseDir(resolved: string): boolean {
    if (resolved === ".") return true;
    let v = this.#baseDirs.get(resolved);
    if (v === undefined) {
      v = this.#baseStat(resolved)?.type === "dir";
      this.#baseDirs.set(resolved, v);
    }
    return v;
  }

  /**
   * Where the lexical directory path `dir` is in the image: each component that is a symlink in the image is
   * followed (in-root) when it leads to a directory. A component that is a file in the image is a conflict.
   */
  resolveDir(dir: string): string {
    if (dir === ".") return ".";
    const known = this.#dirs.get(dir);
    if (known !== undefined) return known;
    const parent = this.resolveDir(parentOf(dir));
    const candidate = parent === "." ? baseOf(dir) : `${parent}/${baseOf(dir)}`;
    let out = candidate;
    const mine = this.#entries.get(candidate);
    if (mine) {
      if (mine.type !== "directory") {
        throw conflict(this.instr, `cannot copy into "/${dir}": this step writes a ${mine.type} there`);
      }
    } else if (this.#root) {
      const st = this.#baseStat(candidate);
      if (st?.type === "symlink") {
        const target = this.#root.resolve(`/${candidate}`);
        if (target !== undefined && this.#root.stat(target)?.type === "dir") {
          out = target === "/" ? "." : target.slice(1);
        }
      } else if (st !== undefined && st.type !== "dir") {
        throw conflict(
          this.instr,
          `cannot copy into "/${dir}": "/${candidate}" is a ${st.type === "file" ? "file" : st.type} in the image`,
        );
      }
    }
    this.#dirs.set(dir, out);
    return out;
  }

  /** Where a non-directory at the lexical path `p` goes: its parent resolved, its own name kept. */
  resolveLeaf(p: string): string {
    const parent = this.resolveDir(parentOf(p));
    return parent === "." ? baseOf(p) : `${parent}/${baseOf(p)}`;
  }

  /** True when the lexical path is a directory in the image, or one this step makes. */
  isDirectory(p: string): boolean {
    const r = this.resolveDir(p);
    return this.#entries.get(r)?.type === "directory" || this.#isBaseDir(r);
  }

  /** Make the missing parents of `resolved` (0755, 0:0, this step's time). */
  #parents(resolved: string): void {
    const missing: string[] = [];
    for (let d = parentOf(resolved); d !== "."; d = parentOf(d)) {
      const e = this.#entries.get(d);
      if (e) {
        if (e.type !== "directory") {
          throw conflict(this.instr, `"/${resolved}": its parent "/${d}" is a ${e.type} of this step`);
        }
        break;
      }
      if (this.#isBaseDir(d)) break;
      missing.push(d);
    }
    for (const d of missing.reverse()) {
      this.#entries.set(d, { path: d, type: "directory", mode: 0o755, uid: 0, gid: 0, mtime: this.now });
    }
  }

  /**
   * Put an entry at the resolved path `e.path` (made with resolveDir/resolveLeaf): replaces what this step put
   * there before (a non-directory replacing a directory drops what was below it).
   */
  put(e: LayerEntry, opts: { keepExistingDir?: boolean } = {}): void {
    if (e.path === ".") return;
    this.#parents(e.path);
    const prev = this.#entries.get(e.path);
    if (prev?.type === "directory" && e.type === "directory" && opts.keepExistingDir) return;
    if (prev?.type === "directory" && e.type !== "directory") {
      const prefix = `${e.path}/`;
      for (const k of [...this.#entries.keys()]) if (k.startsWith(prefix)) this.#entries.delete(k);
      for (const k of [...this.#dirs.keys()]) if (this.#dirs.get(k)!.startsWith(prefix)) this.#dirs.delete(k);
    }
    this.#entries.set(e.path, e);
  }

  /** A directory the step needs (the destination itself): made 0755 0:0 unless it exists. */
  ensureDir(resolved: string): void {
    if (resolved === "." || this.#entries.has(resolved) || this.#isBaseDir(resolved)) return;
    this.put({ path: resolved, type: "directory", mode: 0o755, uid: 0, gid: 0, mtime: this.now });
  }

  /** True when the resolved path is a directory in the image before this step. */
  existsAsBaseDir(resolved: string): boolean {
    return this.#isBaseDir(resolved);
  }

  /** True when the resolved path exists in the image before this step (any type). */
  existsInBase(resolved: string): boolean {
    return this.#baseStat(resolved) !== undefined;
  }

  has(resolved: string): boolean {
    return this.#entries.has(resolved);
  }

  /** The entries (layer order is the writer's business). */
  entries(): LayerEntry[] {
    return [...this.#entries.values()];
  }
}

// --- COPY ------------------------------------------------------------------------------------------------------

/** Options of copyEntries (see PlanOptions). */
export interface CopyOptions extends PlanOptions {
  /** How many source arguments the instruction had (default: the distinct `src` of the resolved sources). */
  sourceArgs?: number | undefined;
}

/** The layer entry a source node becomes at `path` (resolved), with the plan's metadata rules. */
function entryFor(
  plan: LayerPlan,
  src: ResolvedSource,
  w: { node: TreeNode },
  path: string,
  links: Map<string, string>,
): LayerEntry | undefined {
  const { node } = w;
  const st = node.st;
  const kind = node.kind;
  if (kind === "socket") return undefined;
  const isDir = kind === "directory";
  let mode = Number(st.mode & 0o7777n);
  let mtime = plan.mtime(seconds(st.mtimeNs));
  if (src.url) {
    mode = 0o600;
    mtime = plan.mtime(src.url.mtime);
  }
  if (plan.chmod && kind !== "symlink") mode = plan.chmod(mode, isDir);
  const owner =
    plan.owner ?? (src.tree.keepOwners ? { uid: Number(st.uid), gid: Number(st.gid) } : { uid: 0, gid: 0 });
  const e: LayerEntry = { path, type: kind, mode, uid: owner.uid, gid: owner.gid, mtime };
  if (kind === "file") {
    if (st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`;
      const first = links.get(key);
      if (first !== undefined && first !== path) {
        e.type = "hardlink";
        e.linkpath = first;
        return e;
      }
      links.set(key, path);
    }
    e.source = node.host;
    e.size = Number(st.size);
  } else if (kind === "symlink") {
    e.linkpath = src.tree.readlink(node);
  } else if (kind === "char" || kind === "block") {
    Object.assign(e, devNumbers(st.rdev));
  }
  if (kind !== "symlink") {
    const x = src.tree.xattrs(node);
    if (x) e.xattrs = x;
  }
  return e;
}

/**
 * Place resolved sources into `plan` (see the module comment). ADD's archives are not handled here: add.ts
 * extracts them into the same plan.
 */
export function placeSources(
  plan: LayerPlan,
  sources: readonly ResolvedSource[],
  sourceArgs: number,
  resolvedCount = sources.length,
): void {
  const destRaw = plan.opts.dest;
  const several = sourceArgs > 1 || resolvedCount > 1;
  if (sourceArgs > 1 && !destIsDirectory(destRaw)) {
    throw new OslessError(
      "E_USAGE",
      `When using ${plan.instr} with more than one source file, the destination must be a directory and end with a /`,
      { hint: `write the destination as "${destRaw}/"`, details: { dest: destRaw } },
    );
  }
  const destRel = plan.destRel;
  const links = new Map<string, string>();
  for (const src of sources) {
    if (src.archive !== undefined) continue;
    if (src.node.kind === "directory") {
      // The contents go into the destination; it takes the source directory's metadata if this step makes it.
      const top = plan.resolveDir(destRel);
      const existed = top === "." || plan.existsAsBaseDir(top) || plan.has(top);
      for (const w of walkSource(src)) {
        if (w.sub === "") {
          if (!existed) {
            const e = entryFor(plan, src, w, top, links);
            if (e) plan.put(e);
          }
          continue;
        }
        const lexical = destRel === "." ? w.sub : `${destRel}/${w.sub}`;
        const path = w.node.kind === "directory" ? plan.resolveDir(lexical) : plan.resolveLeaf(lexical);
        const e = entryFor(plan, src, w, path, links);
        if (e) plan.put(e);
      }
      continue;
    }
    let target: string;
    if (several || destIsDirectory(destRaw) || (destRel !== "." && plan.isDirectory(destRel))) {
      const dir = plan.resolveDir(destRel);
      if (src.name === "" || src.name === "." || src.name === "..") {
        throw new OslessError(
          "E_USAGE",
          `${plan.instr}: cannot tell a file name for "${src.src}" in the directory "${destRaw}"`,
          {
            hint: "name the destination file (a destination without a trailing /), or use a URL with a file name in its path",
            details: { source: src.src, dest: destRaw },
          },
        );
      }
      plan.ensureDir(dir);
      target = dir === "." ? src.name : `${dir}/${src.name}`;
    } else {
      target = destRel === "." ? src.name : plan.resolveLeaf(destRel);
    }
    if (plan.existsAsBaseDir(target)) {
      throw conflict(
        plan.instr,
        `cannot copy the file "${src.src}" to "/${target}": a directory of that name exists in the image`,
      );
    }
    const e = entryFor(plan, src, { node: src.node }, target, links);
    if (e) plan.put(e);
  }
}

/**
 * The layer entries of `COPY <sources> <dest>`: `sources` from resolveSources (the context, or a `--from` root),
 * placed as Docker places them (module comment). File bytes are read from their host paths when the layer is
 * written (LayerEntry.source): the tree must not change until then.
 */
export function copyEntries(sources: readonly ResolvedSource[], opts: CopyOptions): LayerEntry[] {
  const plan = new LayerPlan(opts);
  placeSources(plan, sources, opts.sourceArgs ?? new Set(sources.map((s) => s.src)).size);
  return plan.entries();
}

// --- the cache key ---------------------------------------------------------------------------------------------

export interface DigestOptions {
  /**
   * SOURCE_DATE_EPOCH. With it, mtimes (clamped as the layer gets them) are part of the digest: they end up in
   * the layer, which must then change when they do. Without it, mtimes are left out (Docker's rule: touching a
   * file does not invalidate the cache).
   */
  sourceDateEpoch?: number | undefined;
}

async function hashFile(path: string): Promise<string> {
  const h = new Hasher();
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest();
}

/**
 * A stable sha256 over what the sources put in a layer: for each source, in order, how it was written and the
 * name it takes; then each path below it with its type, mode, owner (only for roots whose owners are copied),
 * size, content digest, link target, device numbers and xattrs (and mtimes: see DigestOptions). Unchanged
 * sources give the same digest on every run and on every machine (host paths and inode numbers are not in it).
 */
export async function sourcesDigest(
  sources: readonly ResolvedSource[],
  opts: DigestOptions = {},
): Promise<Digest> {
  const h = new Hasher();
  const epoch = opts.sourceDateEpoch;
  const field = (...parts: (string | number)[]) => h.update(Buffer.from(`${parts.join("\u0000")}\u0001`));
  field("osless-build-sources-v1", sources.length);
  const links = new Map<string, string>();
  for (const [i, src] of sources.entries()) {
    field("source", src.src, src.name, src.archive ?? "", src.url?.url ?? "", src.tree.keepOwners ? 1 : 0);
    for (const w of walkSource(src)) {
      const { node } = w;
      const st = node.st;
      if (node.kind === "socket") continue;
      const owner = src.tree.keepOwners ? `${st.uid}:${st.gid}` : "";
      let mtime = "";
      if (epoch !== undefined) {
        let s = src.url ? Math.floor(src.url.mtime) : seconds(st.mtimeNs);
        if (s > epoch) s = epoch;
        mtime = String(s);
      }
      const mode = src.url ? 0o600 : Number(st.mode & 0o7777n);
      let extra = "";
      if (node.kind === "file") {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1n ? links.get(key) : undefined;
        if (first !== undefined) extra = `link:${first}`;
        else {
          if (st.nlink > 1n) links.set(key, `${i}/${w.sub}`);
          extra = `${st.size}:${await hashFile(node.host)}`;
        }
      } else if (node.kind === "symlink") extra = src.tree.readlink(node);
      else if (node.kind === "char" || node.kind === "block") {
        const d = devNumbers(st.rdev);
        extra = `${d.devmajor},${d.devminor}`;
      }
      const x = node.kind === "symlink" ? undefined : src.tree.xattrs(node);
      const xs = x ? [...x].map(([k, v]) => `${k}=${v.toString("base64")}`).join(",") : "";
      field("node", w.sub, node.kind, mode.toString(8), owner, mtime, extra, xs);
    }
  }
  return h.digest();
}
