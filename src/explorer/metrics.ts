/**
 * The explorer's figures: dive's, computed exactly as dive computes them (defects included, so that a `.dive-ci`
 * gate gives the same verdict), and osless's exact ones (what squashing the image would reclaim, each hidden copy
 * attributed to a cause). Rules: ../../../shared/design/explorer-metrics.md.
 */
import type { RawEntry, SquashedView, ViewLayerInfo, ViewNode } from "../layer/view.ts";
import type { DiveMetrics, ExactMetrics, WasteCause, WasteItem } from "./types.ts";

// ---- dive --------------------------------------------------------------------------------------------------------

/** A node of dive's per-layer tree: size from the tar header, `isDir` only for explicit directory entries. */
interface DiveNode {
  name: string;
  size: number;
  isDir: boolean;
  children: Map<string, DiveNode> | undefined;
}

const WH = ".wh.";
const OPAQUE = ".wh..wh.";

function diveNode(name: string): DiveNode {
  return { name, size: 0, isDir: false, children: undefined };
}

/**
 * dive's tree of one layer: every entry at its cleaned path with its header size; missing parents made with
 * empty info (not directories); any path with a component starting ".wh..wh." dropped (opaque markers are
 * never applied by dive).
 */
function diveLayerTree(entries: RawEntry[]): DiveNode {
  const root = diveNode("");
  for (const e of entries) {
    if (e.path === ".") continue;
    const parts = e.path.split("/");
    if (parts.some((p) => p.startsWith(OPAQUE))) continue;
    let cur = root;
    for (const p of parts) {
      cur.children ??= new Map();
      let next = cur.children.get(p);
      if (next === undefined) {
        next = diveNode(p);
        cur.children.set(p, next);
      }
      cur = next;
    }
    cur.size = e.size;
    cur.isDir = e.type === "directory";
  }
  return root;
}

/** Byte order of names, as Go's sort.Strings. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function sortedChildren(n: DiveNode): DiveNode[] {
  return n.children === undefined ? [] : [...n.children.values()].sort((a, b) => byteOrder(a.name, b.name));
}

/** dive's Path(): "/" + the components, with every ".wh." removed. */
function divePath(parts: string[]): string {
  return `/${parts.join("/")}`.split(WH).join("");
}

/** Leaves of a layer tree, depth first, children in byte order: [path parts, node]. */
function* leaves(root: DiveNode): Generator<[string[], DiveNode]> {
  const stack: [string[], DiveNode][] = sortedChildren(root)
    .reverse()
    .map((c) => [[c.name], c]);
  while (stack.length > 0) {
    const [parts, n] = stack.pop()!;
    if (n.children === undefined || n.children.size === 0) {
      yield [parts, n];
      continue;
    }
    const kids = sortedChildren(n);
    for (let i = kids.length - 1; i >= 0; i--) stack.push([[...parts, kids[i]!.name], kids[i]!]);
  }
}

function get(root: DiveNode, path: string): DiveNode | undefined {
  let cur: DiveNode | undefined = root;
  for (const p of path.split("/")) {
    if (p === "") continue;
    cur = cur?.children?.get(p);
    if (cur === undefined) return undefined;
  }
  return cur;
}

function subtreeSize(n: DiveNode): number {
  let total = n.size;
  for (const c of n.children?.values() ?? []) total += subtreeSize(c);
  return total;
}

/** dive's Stack: the upper tree's whiteouts remove (their path, .wh. stripped), other nodes are added over. */
function stack(lower: DiveNode, upper: DiveNode): void {
  const visit = (n: DiveNode, parts: string[]) => {
    for (const c of sortedChildren(n)) {
      const cp = [...parts, c.name];
      if (c.name.startsWith(WH)) {
        const target = dividePath(divePath(cp));
        const parent = get(lower, target.slice(0, -1).join("/"));
        parent?.children?.delete(target.at(-1)!);
        continue;
      }
      let at = lower;
      for (const p of cp.slice(0, -1)) {
        at.children ??= new Map();
        let next = at.children.get(p);
        if (next === undefined) {
          next = diveNode(p);
          at.children.set(p, next);
        }
        at = next;
      }
      at.children ??= new Map();
      let node = at.children.get(c.name);
      if (node === undefined) {
        node = diveNode(c.name);
        at.children.set(c.name, node);
      }
      node.size = c.size;
      node.isDir = c.isDir;
      visit(c, cp);
    }
  };
  visit(upper, []);
}

function dividePath(p: string): string[] {
  return p.split("/").filter((x) => x !== "");
}

/**
 * dive's Efficiency() and its analysis figures over the layers' raw tar entries (base first). Reproduced as
 * dive computes them: every copy of a path seen in two layers or more counts as wasted (the kept one too), a
 * `.wh.` whiteout counts the size of the directory it removes (and a whiteout whose target is not in the layers
 * below ends that layer's walk), opaque whiteouts are ignored, the first layer is the "base image".
 */
export function diveMetrics(layers: { entries: RawEntry[]; size: number }[]): DiveMetrics {
  const byPath = new Map<string, { file: string; cumulative: number; min: number; count: number }>();
  const inefficient: { file: string; cumulative: number; min: number; count: number }[] = [];
  const below = diveNode("");
  for (const layer of layers) {
    const tree = diveLayerTree(layer.entries);
    for (const [parts, leaf] of leaves(tree)) {
      const p = divePath(parts);
      let size: number;
      if (leaf.name.startsWith(WH)) {
        const prev = get(below, p);
        if (prev === undefined) break; // dive's walk stops at the error: the rest of the layer is not counted
        size = prev.isDir ? subtreeSize(prev) : 0;
      } else size = leaf.size;
      let e = byPath.get(p);
      if (e === undefined) {
        e = { file: p, cumulative: 0, min: -1, count: 0 };
        byPath.set(p, e);
      }
      e.cumulative += size;
      e.min = e.min === -1 ? size : Math.min(e.min, size);
      e.count++;
      if (e.count === 2) inefficient.push(e);
    }
    stack(below, tree);
  }
  let minimum = 0;
  let discovered = 0;
  for (const e of byPath.values()) {
    minimum += e.min;
    discovered += e.cumulative;
  }
  const sizeBytes = layers.reduce((n, l) => n + l.size, 0);
  const userSizeBytes = layers.slice(1).reduce((n, l) => n + l.size, 0);
  const wastedBytes = inefficient.reduce((n, e) => n + e.cumulative, 0);
  // dive sorts by cumulative size with Go's unstable sort; ties are put in path order here, for a stable report.
  inefficient.sort((a, b) => b.cumulative - a.cumulative || byteOrder(a.file, b.file));
  return {
    efficiency: discovered === 0 ? 1 : minimum / discovered,
    sizeBytes,
    userSizeBytes,
    wastedBytes,
    userWastedPercent: wastedBytes / userSizeBytes,
    inefficient: inefficient.map((e) => ({ file: e.file, count: e.count, sizeBytes: e.cumulative })),
  };
}

// ---- exact -------------------------------------------------------------------------------------------------------

/** Bytes of the regular files among `nodes`, each inode once. */
export function visibleBytes(nodes: Iterable<ViewNode>): number {
  const seen = new Set<number>();
  let total = 0;
  for (const n of nodes) {
    if (n.content === undefined || seen.has(n.ino)) continue;
    seen.add(n.ino);
    total += n.size;
  }
  return total;
}

/**
 * osless's figures over a view built with `rawEntries` and `afterStates` (and `digests` to tell metadata-only
 * rewrites): every regular-file entry of every layer ships its bytes; those whose content is not visible at the
 * end are waste, attributed to the change that hid them: `deleted` (a whiteout, `rm -rf`, an opaque directory,
 * a type change), `overwritten` (a later entry for the path), `metadata-only` (the same content again with
 * another mode or owner). `baseFinalBytes`: the visible bytes after the base layers (see ViewOptions.afterLayer).
 */
export function exactMetrics(view: SquashedView, baseLayers: number, baseFinalBytes: number): ExactMetrics {
  const layers: ViewLayerInfo[] = view.layers;
  const base = Math.min(Math.max(0, baseLayers), layers.length);
  const totalBytes = layers.reduce((n, l) => n + l.bytes, 0);
  const visible = new Set<string>();
  let finalBytes = 0;
  const seenIno = new Set<number>();
  for (const n of view.walk()) {
    if (n.content === undefined) continue;
    visible.add(`${n.content.layer}:${n.content.offset}`);
    if (seenIno.has(n.ino)) continue;
    seenIno.add(n.ino);
    finalBytes += n.size;
  }
  const waste: WasteItem[] = [];
  const counted = new Set<string>();
  const add = (key: string, item: WasteItem) => {
    if (item.bytes === 0 || visible.has(key) || counted.has(key)) return;
    counted.add(key);
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
      add(`${b.content.layer}:${b.content.offset}`, {
        path: c.path,
        bytes: b.size,
        cause,
        layer: b.content.layer,
        by: i,
      });
    }
  }
  // What no change recorded: entries replaced within their own layer (a path written twice in one tar).
  for (const [i, l] of layers.entries()) {
    for (const r of l.rawEntries ?? []) {
      if (r.type !== "file" || r.offset === undefined) continue;
      add(`${i}:${r.offset}`, { path: r.path, bytes: r.size, cause: "overwritten", layer: i, by: i });
    }
  }
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
