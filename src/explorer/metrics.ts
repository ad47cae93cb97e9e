/**
 * The explorer's figures: dive's, computed exactly as dive computes them (defects included, so that a `.dive-ci`
 * gate gives the same verdict), and osless's exact ones (what squashing the image would reclaim, each hidden copy
 * attributed to a cause). Rules: ../../../shared/design/explorer-metrics.md.
 */
import type { RawEntry, SquashedView, ViewLayerInfo } from "../layer/view.ts";
import { compareNames, comparePaths } from "../layer/view-tree.ts";
import type { DiveMetrics, ExactMetrics, WasteCause, WasteItem } from "./types.ts";

// ---- dive --------------------------------------------------------------------------------------------------------

const WH = ".wh.";
const OPAQUE = ".wh..wh.";

/** Byte order of names (UTF-8, as Go's sort.Strings), without allocating. */
const byteOrder = compareNames;

/** dive's tree order: depth first, children in byte order. */
const treeOrder = comparePaths;

/**
 * dive's Path() without its leading "/": the components with every ".wh." removed. The entry's own string when
 * there is none (no copy: these are the keys of maps holding every path of the image).
 */
function divePath(path: string): string {
  return path.includes(WH) ? path.split(WH).join("") : path;
}

/** Whether dive drops the entry: the root, and paths with a component starting ".wh..wh." (dive never applies opaque markers). */
function diveSkips(path: string): boolean {
  return path === "." || path.startsWith(OPAQUE) || path.includes(`/${OPAQUE}`);
}

/** Whether `p` is strictly below `dir` (no string made). */
export function isBelow(p: string, dir: string): boolean {
  return p.length > dir.length && p.charCodeAt(dir.length) === 0x2f && p.startsWith(dir);
}

/** Whether the last component of `path` is a whiteout (".wh." prefix). */
function isWhiteout(path: string): boolean {
  return path.startsWith(WH, path.lastIndexOf("/") + 1);
}

/** Growable columns of numbers, one row per path of the image (typed arrays: no object per path). */
class Columns {
  size = 0;
  cumulative = new Float64Array(1024);
  min = new Float64Array(1024);
  count = new Uint32Array(1024);
  /** The stacked tree of the layers below: present, size, explicit directory, paths directly below. */
  present = new Uint8Array(1024);
  stSize = new Float64Array(1024);
  isDir = new Uint8Array(1024);
  kids = new Uint32Array(1024);

  add(): number {
    if (this.size === this.count.length) {
      const grow = <T extends Float64Array | Uint32Array | Uint8Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.cumulative = grow(this.cumulative);
      this.min = grow(this.min);
      this.count = grow(this.count);
      this.present = grow(this.present);
      this.stSize = grow(this.stSize);
      this.isDir = grow(this.isDir);
      this.kids = grow(this.kids);
    }
    const i = this.size++;
    this.min[i] = -1;
    return i;
  }
}

/**
 * dive's Efficiency() and its analysis figures over the layers' raw tar entries, fed one layer at a time (base
 * first) so that a caller need not keep every layer's entries. Reproduced as dive computes them: every copy of a
 * path seen in two layers or more counts as wasted (the kept one too), a `.wh.` whiteout counts the size of the
 * directory it removes (and a whiteout whose target is not in the layers below ends that layer's walk), opaque
 * whiteouts are ignored, the first layer is the "base image".
 *
 * One index of paths (dive's, without the leading "/"; "" is the root) serves both what dive keeps per path and
 * dive's stacked tree of the layers below (for whiteout lookups; implicit parents have empty info, not
 * directories, as in dive's trees), with the numbers in typed columns: an image's every path is in it.
 */
export class DiveAccumulator {
  readonly #index = new Map<string, number>();
  readonly #paths: string[] = [];
  readonly #c = new Columns();
  readonly #inefficient: number[] = [];
  readonly #sizes: number[] = [];

  constructor() {
    const root = this.#row("");
    this.#c.present[root] = 1;
    this.#c.isDir[root] = 1;
  }

  #row(path: string): number {
    let i = this.#index.get(path);
    if (i === undefined) {
      i = this.#c.add();
      this.#index.set(path, i);
      this.#paths.push(path);
    }
    return i;
  }

  static #parent(path: string): string {
    const i = path.lastIndexOf("/");
    return i < 0 ? "" : path.slice(0, i);
  }

  /** Rows of the stacked tree strictly below `path`. */
  *#below(path: string): Generator<number> {
    const prefix = `${path}/`;
    const c = this.#c;
    for (const [p, i] of this.#index) if (c.present[i] === 1 && p.startsWith(prefix)) yield i;
  }

  /** dive's AddPath: the node (and missing parents) created or given this info; children kept. */
  #stackAdd(path: string, size: number, isDir: boolean): void {
    const c = this.#c;
    const i = this.#row(path);
    c.stSize[i] = size;
    c.isDir[i] = isDir ? 1 : 0;
    if (c.present[i] === 1) return;
    c.present[i] = 1;
    c.kids[i] = 0;
    for (let child = path; ; ) {
      const parent = DiveAccumulator.#parent(child);
      const p = this.#row(parent);
      if (c.present[p] === 1) {
        c.kids[p]!++;
        return;
      }
      c.present[p] = 1;
      c.stSize[p] = 0;
      c.isDir[p] = 0;
      c.kids[p] = 1;
      child = parent;
    }
  }

  /** dive's RemovePath: the node and everything below it. */
  #stackRemove(path: string): void {
    const c = this.#c;
    const i = this.#index.get(path);
    if (i === undefined || c.present[i] !== 1 || path === "") return;
    if (c.kids[i]! > 0) for (const k of [...this.#below(path)]) c.present[k] = 0;
    c.present[i] = 0;
    const parent = this.#index.get(DiveAccumulator.#parent(path));
    if (parent !== undefined && c.present[parent] === 1) c.kids[parent]!--;
  }

  /**
   * One layer's entries. dive's tree of the layer is every entry at its cleaned path (a later entry for the same
   * path wins; paths diveSkips drops left out) and their parents; its leaves (paths nothing else is below) are
   * walked depth first, children in byte order, for the per-path figures, then every node is stacked children
   * first. Both orders come from one sorted list of the layer's paths, with entry indexes, not objects, per path.
   */
  add(entries: RawEntry[], size: number): void {
    this.#sizes.push(size);
    const c = this.#c;
    // Path -> index of its last entry, or -1 for a parent no entry names (empty info, not a directory, as dive).
    const layer = new Map<string, number>();
    for (let j = 0; j < entries.length; j++) {
      const path = entries[j]!.path;
      if (!diveSkips(path)) layer.set(path, j);
    }
    for (const path of layer.keys()) {
      for (let i = path.lastIndexOf("/"); i > 0; i = path.lastIndexOf("/", i - 1)) {
        const parent = path.slice(0, i);
        if (layer.has(parent)) break;
        layer.set(parent, -1);
      }
    }
    const order = [...layer.keys()].sort(treeOrder);
    // The leaves, in tree order: an entry's path that the next path is not below (every path below another is
    // right after it, and a parent with no entry has an entry below it).
    for (let k = 0; k < order.length; k++) {
      const path = order[k]!;
      const j = layer.get(path)!;
      if (j < 0 || (k + 1 < order.length && isBelow(order[k + 1]!, path))) continue;
      const p = divePath(path);
      let bytes: number;
      if (isWhiteout(path)) {
        const prev = this.#index.get(p);
        if (prev === undefined || c.present[prev] !== 1) break; // dive's walk stops at the error: the rest of the layer is not counted
        bytes = c.stSize[prev]!;
        if (c.isDir[prev] === 1) for (const k of this.#below(p)) bytes += c.stSize[k]!;
        else bytes = 0;
      } else bytes = entries[j]!.size;
      const e = this.#row(p);
      c.cumulative[e]! += bytes;
      c.min[e] = c.min[e] === -1 ? bytes : Math.min(c.min[e]!, bytes);
      c.count[e]!++;
      if (c.count[e] === 2) this.#inefficient.push(e);
    }
    // dive's Stack: every node of the layer's tree, children before their parent (post order, from the tree
    // order with a stack of the open directories): a whiteout removes its target, any other node is added or
    // overwritten with its info; the layer's implicit parents are nodes too, with empty info, so they overwrite
    // a directory below with "not a directory" (as dive does).
    const open: string[] = [];
    const stack = (path: string) => {
      const j = layer.get(path)!;
      if (isWhiteout(path)) this.#stackRemove(divePath(path));
      else if (j < 0) this.#stackAdd(path, 0, false);
      else this.#stackAdd(path, entries[j]!.size, entries[j]!.type === "directory");
    };
    for (const path of order) {
      while (open.length > 0 && !isBelow(path, open[open.length - 1]!)) stack(open.pop()!);
      open.push(path);
    }
    while (open.length > 0) stack(open.pop()!);
  }

  result(): DiveMetrics {
    const c = this.#c;
    let minimum = 0;
    let discovered = 0;
    for (let i = 0; i < c.size; i++) {
      if (c.count[i] === 0) continue;
      minimum += c.min[i]!;
      discovered += c.cumulative[i]!;
    }
    const sizeBytes = this.#sizes.reduce((n, x) => n + x, 0);
    const userSizeBytes = this.#sizes.slice(1).reduce((n, x) => n + x, 0);
    let wastedBytes = 0;
    for (const i of this.#inefficient) wastedBytes += c.cumulative[i]!;
    // dive sorts by cumulative size with Go's unstable sort; ties are put in path order here, for a stable report.
    const inefficient = [...this.#inefficient].sort(
      (a, b) => c.cumulative[b]! - c.cumulative[a]! || byteOrder(this.#paths[a]!, this.#paths[b]!),
    );
    return {
      efficiency: discovered === 0 ? 1 : minimum / discovered,
      sizeBytes,
      userSizeBytes,
      wastedBytes,
      userWastedPercent: wastedBytes / userSizeBytes,
      inefficient: inefficient.map((i) => ({
        file: `/${this.#paths[i]}`,
        count: c.count[i]!,
        sizeBytes: c.cumulative[i]!,
      })),
    };
  }
}

// ---- exact ----

/**
 * A set of inode numbers (ViewNode.ino: small integers from 1, one per node made at most) as one bit each: sets
 * of every file of an image, without a hash table and its growth.
 */
export class InodeSet {
  #bits = new Uint8Array(1 << 12);

  has(ino: number): boolean {
    const byte = ino >>> 3;
    return byte < this.#bits.length && (this.#bits[byte]! & (1 << (ino & 7))) !== 0;
  }

  add(ino: number): void {
    const byte = ino >>> 3;
    if (byte >= this.#bits.length) {
      let size = this.#bits.length * 2;
      while (size <= byte) size *= 2;
      const bigger = new Uint8Array(size);
      bigger.set(this.#bits);
      this.#bits = bigger;
    }
    this.#bits[byte]! |= 1 << (ino & 7);
  }
}

/**
 * The regular-file entries of layer `index` whose bytes no node shows right after that layer (`shown`: the data
 * offsets in that layer of the nodes then): a path written twice in one tar. Their bytes can never be visible
 * later. For `afterLayer`.
 */
export function layerSelfWaste(index: number, entries: RawEntry[], shown: ReadonlySet<number>): WasteItem[] {
  const out: WasteItem[] = [];
  for (const r of entries) {
    if (r.type !== "file" || r.offset === undefined || r.size === 0 || shown.has(r.offset)) continue;
    out.push({ path: r.path, bytes: r.size, cause: "overwritten", layer: index, by: index });
  }
  return out;
}

/**
 * osless's figures over a view built with `afterStates` (and `digests` to tell metadata-only rewrites): every
 * regular-file entry of every layer ships its bytes; those whose content is not visible at the end are waste,
 * attributed to the change that hid them: `deleted` (a whiteout, `rm -rf`, an opaque directory, a type change),
 * `overwritten` (a later entry for the path), `metadata-only` (the same content again with another mode or
 * owner). `baseFinalBytes`: the visible bytes after the base layers; `withinLayers`: the entries replaced in
 * their own layer (layerSelfWaste, from ViewOptions.afterLayer).
 */
export function exactMetrics(
  view: SquashedView,
  baseLayers: number,
  baseFinalBytes: number,
  withinLayers: WasteItem[],
): ExactMetrics {
  const layers: ViewLayerInfo[] = view.layers;
  const base = Math.min(Math.max(0, baseLayers), layers.length);
  const totalBytes = layers.reduce((n, l) => n + l.bytes, 0);
  // A regular file's bytes are one inode's (a file entry makes a new inode; hard links share it), so what is
  // visible at the end is a set of inode numbers (small integers: no boxed keys, no content objects).
  const visible = new InodeSet();
  let finalBytes = 0;
  for (const n of view.walk()) {
    if (n.type !== "file" || visible.has(n.ino)) continue;
    visible.add(n.ino);
    finalBytes += n.size;
  }
  const waste: WasteItem[] = [];
  const counted = new InodeSet();
  const add = (ino: number, item: WasteItem) => {
    if (item.bytes === 0 || visible.has(ino) || counted.has(ino)) return;
    counted.add(ino);
    waste.push(item);
  };
  for (const [i, l] of layers.entries()) {
    for (const c of l.changes) {
      const b = c.before;
      if (b?.content === undefined) continue;
      let cause: WasteCause = "deleted";
      if (c.kind === "modified") {
        const a = c.after;
        if (a === undefined || a.type === "file") {
          const sameContent = a !== undefined && b.digest !== undefined && a.digest === b.digest;
          const sameMeta = a !== undefined && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid;
          cause = sameContent && !sameMeta ? "metadata-only" : "overwritten";
        }
      }
      add(b.ino, {
        path: c.path,
        bytes: b.size,
        cause,
        layer: b.content.layer,
        by: i,
      });
    }
  }
  // What no change recorded: entries replaced within their own layer (a path written twice in one tar).
  for (const w of withinLayers) if (w.bytes > 0) waste.push(w);
  waste.sort((a, b) => b.bytes - a.bytes || byteOrder(a.path, b.path) || a.layer - b.layer);
  const byCause: Record<WasteCause, number> = { overwritten: 0, deleted: 0, "metadata-only": 0 };
  for (const w of waste) byCause[w.cause] += w.bytes;
  const wastedBytes = totalBytes - finalBytes;
  const baseTotal = layers.slice(0, base).reduce((n, l) => n + l.bytes, 0);
  const userBytes = totalBytes - baseTotal;
  const userWastedBytes = wastedBytes - (baseTotal - baseFinalBytes);
  return {
    efficiency: totalBytes === 0 ? 1 : finalBytes / totalBytes,
    totalBytes,
    finalBytes,
    wastedBytes,
    baseLayers: base,
    userBytes,
    userWastedBytes,
    userWastedPercent: userBytes === 0 ? null : userWastedBytes / userBytes,
    waste,
    byCause,
  };
}
