/**
 * The explorer's model (level 6, no UI): one verified streaming pass over an image's layers into the squashed
 * view, keeping what each layer did to every path with the state it left (LayerChange.after); dive's figures and
 * the within-layer waste are computed from each layer's raw entries as the layer ends (the entries are kept only
 * for dive's JSON export). From the change records, the tree as of any layer in either of dive's compare modes is
 * built on demand (and cached), instead of dive's 2×N stacked copies; file bytes of any layer are read back from
 * their layer. See src/explorer/types.ts for what views read.
 */
import { OslessError } from "../errors.ts";
import type { EventSink } from "../events/index.ts";
import type { LayerSource } from "../layer/source.ts";
import {
  buildView,
  type ChangeBefore,
  type LayerChange,
  type RawEntry,
  type SquashedView,
} from "../layer/view.ts";
import { compareNames, comparePaths } from "../layer/view-tree.ts";
import type { Descriptor, ImageConfig, Platform } from "../spec/schemas.ts";
import type { Store } from "../store/layout.ts";
import { imageInfo, type OpenSourceOptions, openImageSource } from "../transfer/open.ts";
import { DiveAccumulator, exactMetrics, InodeSet, isBelow, layerSelfWaste } from "./metrics.ts";
import type {
  CompareMode,
  ExplorerImageInfo,
  ExplorerLayer,
  ExplorerModel,
  FileChange,
  FileNode,
  FileTree,
  ImageMetrics,
  Marker,
  WasteItem,
} from "./types.ts";

export interface ExploreOptions {
  /** Layers counted as the base image by the exact metrics (default 1, as dive). */
  baseLayers?: number | undefined;
  /**
   * Keep every layer's raw tar entries for `rawEntries()` (dive's JSON export). Off by default: the figures are
   * computed layer by layer during the pass and the entries dropped, which saves a record per entry.
   */
  keepRawEntries?: boolean | undefined;
  signal?: AbortSignal | undefined;
  /** Per-layer progress of the pass. */
  events?: EventSink | undefined;
}

/** dive's command: created_by without a leading "/bin/sh -c " and "#(nop) ". */
export function diveCommand(createdBy: string | null | undefined): string {
  if (!createdBy) return "";
  let s = createdBy.trim();
  if (s.startsWith("/bin/sh -c ")) s = s.slice("/bin/sh -c ".length).trim();
  if (s.startsWith("#(nop) ")) s = s.slice("#(nop) ".length).trim();
  return s;
}

/** The history entries of the layers that exist (entries with `empty_layer` set are skipped), in order. */
export function layerHistory(
  config: ImageConfig,
  layers: number,
): ({ created_by?: string; created?: string; comment?: string } | undefined)[] {
  const out: ({ created_by?: string; created?: string; comment?: string } | undefined)[] = [];
  for (const h of config.history ?? []) {
    if (h.empty_layer === true) continue;
    out.push(h as { created_by?: string; created?: string; comment?: string });
  }
  return Array.from({ length: layers }, (_, i) => out[i]);
}

/**
 * Build the model of an image from its layers (base first), its config and the manifest's layer descriptors. One
 * pass: blob digests and DiffIDs are verified as the layers stream by; file contents are hashed afterwards only
 * where a rewrite of the same size must be told apart (hashRewrites).
 */
export async function buildExplorerModel(
  image: ExplorerImageInfo,
  config: ImageConfig,
  descriptors: Descriptor[],
  layers: LayerSource[],
  opts: ExploreOptions = {},
): Promise<ExplorerModel> {
  const baseLayers = Math.max(0, Math.floor(opts.baseLayers ?? 1));
  let baseFinalBytes = 0;
  const dive = new DiveAccumulator();
  const selfWaste: WasteItem[] = [];
  const view = await buildView(layers, {
    rawEntries: true,
    afterStates: true,
    // Contents are hashed after the pass, only where a rewrite must be told apart (see hashRewrites).
    signal: opts.signal,
    events: opts.events,
    afterLayer: (i, nodes, info) => {
      const entries = info.rawEntries ?? [];
      dive.add(entries, info.bytes);
      // A walk of every node, only when needed (an image of many layers would pay it per layer): the offsets of
      // this layer's bytes still shown, when the layer may have hidden some of its own files, and the base's
      // visible bytes after its last layer.
      const base = i === baseLayers - 1;
      const self = mayHideOwnFiles(entries);
      if (!base && !self) {
        if (!opts.keepRawEntries) info.rawEntries = undefined;
        return;
      }
      const shown = new Set<number>();
      const inodes = new InodeSet();
      for (const n of nodes) {
        if (n.contentLayer < 0) continue;
        if (n.contentLayer === i) shown.add(n.contentOffset);
        if (base && !inodes.has(n.ino)) {
          inodes.add(n.ino);
          baseFinalBytes += n.size;
        }
      }
      if (self) for (const w of layerSelfWaste(i, entries, shown)) selfWaste.push(w);
      if (!opts.keepRawEntries) info.rawEntries = undefined;
    },
  });
  await hashRewrites(view, opts.signal);
  const history = layerHistory(config, layers.length);
  const explorerLayers: ExplorerLayer[] = view.layers.map((l, i) => {
    const h = history[i];
    let added = 0;
    let modified = 0;
    let removed = 0;
    // Counted as layerChanges lists them, without making the list (a record per path of the image).
    for (const c of l.changes) {
      if (!isChange(c, i)) continue;
      if (c.kind === "added") added++;
      else if (c.kind === "modified") modified++;
      else removed++;
    }
    const d = descriptors[i];
    return {
      index: i,
      digest: l.digest,
      mediaType: d?.mediaType ?? "",
      compressedSize: d?.size ?? 0,
      diffId: l.diffId,
      size: l.bytes,
      entries: l.entries,
      command: diveCommand(h?.created_by),
      createdBy: h?.created_by ?? null,
      created: h?.created ?? null,
      comment: h?.comment ?? null,
      added,
      modified,
      removed,
    };
  });
  const metrics: ImageMetrics = {
    dive: dive.result(),
    exact: exactMetrics(view, baseLayers, baseLayers === 0 ? 0 : baseFinalBytes, selfWaste),
  };
  return new Model(image, explorerLayers, metrics, view);
}

/**
 * Whether a change record of layer `index` is a change for dive: the base layer's entry for the root sets it
 * up (the root exists before any layer), and a rewrite that changes nothing (same type, content, mode, owner)
 * is none.
 */
function isChange(c: LayerChange, index: number): boolean {
  if (index === 0 && c.path === ".") return false;
  return !(c.kind === "modified" && c.before && c.after && same(c.before, c.after));
}

/**
 * Whether a layer's entries may hide one of the layer's own files: a path written twice, or a non-directory
 * written at a path that is a directory of one of its files (the files below it go). Whiteouts never remove what
 * their own layer made. False for nearly every layer, which spares a walk of every node. Names are compared as
 * written: two names of one path through a symlink ("l/f" and "d/f") are not seen as one, so bytes a layer
 * hides that way are not itemised (they still count in `wastedBytes`, which comes from the totals).
 */
export function mayHideOwnFiles(entries: RawEntry[]): boolean {
  // The entries' indexes in tree order (a typed array, not a set of every path of the layer): a path written
  // twice is two neighbours, and what is below a path comes right after it.
  const n = entries.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => comparePaths(entries[a]!.path, entries[b]!.path));
  for (let k = 0; k < n; k++) {
    const e = entries[order[k]!]!;
    if (k + 1 < n && entries[order[k + 1]!]!.path === e.path) return true;
    if (e.type === "directory") continue;
    for (let m = k + 1; m < n; m++) {
      const below = entries[order[m]!]!;
      if (!isBelow(below.path, e.path)) break;
      if (below.type !== "directory") return true;
    }
  }
  return false;
}

/** What layer `index` changed, as `ExplorerModel.changes` says. */
function layerChanges(view: SquashedView, index: number): FileChange[] {
  const out: FileChange[] = [];
  for (const c of view.layers[index]!.changes) {
    if (!isChange(c, index)) continue;
    const state = c.kind === "removed" ? c.before : c.after;
    out.push({
      path: c.path,
      change: c.kind,
      type: c.type,
      size: state?.type === "file" ? state.size : 0,
    });
  }
  return out;
}

/**
 * Digests for the file states that only content can tell apart: two states of one path, both regular files of
 * the same size (a rewrite with the same bytes is unmodified for dive, metadata-only for the exact figures). Set
 * on those states (`digest`), read in one pass per layer involved; nothing to do for most images, whose
 * rewrites change sizes, and for every single-layer image. Hashing every file during the pass instead cost ~90
 * bytes per file and a hash object per entry.
 */
async function hashRewrites(view: SquashedView, signal: AbortSignal | undefined): Promise<void> {
  // Only a path some layer rewrote or removed as a file can have two file states.
  const rewritten = new Set<string>();
  for (const l of view.layers)
    for (const c of l.changes) if (c.before?.type === "file") rewritten.add(c.path);
  if (rewritten.size === 0) return;
  // Their recorded file states: the ones a change replaced (before) and the ones layers left (after).
  const byPath = new Map<string, ChangeBefore[]>();
  for (const l of view.layers) {
    for (const c of l.changes) {
      if (!rewritten.has(c.path) || (c.before?.type !== "file" && c.after?.type !== "file")) continue;
      let states = byPath.get(c.path);
      if (states === undefined) {
        states = [];
        byPath.set(c.path, states);
      }
      if (c.before?.type === "file" && !states.includes(c.before)) states.push(c.before);
      if (c.after?.type === "file" && !states.includes(c.after)) states.push(c.after);
    }
  }
  const need = new Map<number, Map<number, ChangeBefore[]>>(); // layer -> offset -> states with that content
  for (const states of byPath.values()) {
    if (states.length < 2) continue;
    for (const s of states) {
      if (s.content === undefined || s.digest !== undefined) continue;
      if (!states.some((o) => o !== s && o.size === s.size)) continue;
      let at = need.get(s.content.layer);
      if (at === undefined) {
        at = new Map();
        need.set(s.content.layer, at);
      }
      const list = at.get(s.content.offset);
      if (list === undefined) at.set(s.content.offset, [s]);
      else list.push(s);
    }
  }
  for (const [layer, at] of need) {
    const digests = await view.digestsAt(layer, at.keys(), { signal });
    for (const [offset, states] of at) {
      const d = digests.get(offset);
      if (d !== undefined) for (const s of states) s.digest = d;
    }
  }
}

/** Open `input` (store name, docker://, oci:, oci-archive:, docker-archive:) and build its model. */
export async function exploreImage(
  input: string,
  opts: ExploreOptions & Omit<OpenSourceOptions, "signal">,
): Promise<ExplorerModel & { close(): Promise<void> }> {
  const src = await openImageSource(input, opts);
  try {
    const model = await buildExplorerModel(imageInfo(src), src.config, src.descriptors, src.layers, opts);
    return Object.assign(model, { close: () => src.close() });
  } catch (e) {
    await src.close();
    throw e;
  }
}

/** The model of an image in the store (name, ID or digest). */
export async function exploreStoreImage(
  store: Store,
  input: string,
  opts: ExploreOptions & { platform?: Platform | undefined } = {},
): Promise<ExplorerModel> {
  const m = await exploreImage(input, { ...opts, store: async () => store });
  await m.close();
  return m;
}

/** Trees kept: up to 8, fewer when they are big (nodes summed over the cached trees). */
const TREE_CACHE = 8;
const TREE_CACHE_NODES = 400_000;

class Model implements ExplorerModel {
  readonly image: ExplorerImageInfo;
  readonly layers: ExplorerLayer[];
  readonly metrics: ImageMetrics;
  readonly #view: SquashedView;
  readonly #trees = new Map<string, FileTree>();

  constructor(image: ExplorerImageInfo, layers: ExplorerLayer[], metrics: ImageMetrics, view: SquashedView) {
    this.image = image;
    this.layers = layers;
    this.metrics = metrics;
    this.#view = view;
  }

  changes(layer: number): FileChange[] {
    return layerChanges(this.#view, this.#layerIndex(layer));
  }

  rawEntries(layer: number): import("../layer/view.ts").RawEntry[] {
    const entries = this.#view.layers[this.#layerIndex(layer)]?.rawEntries;
    if (entries === undefined) {
      throw new OslessError("E_USAGE", "the model was built without its layers' raw entries", {
        hint: "build it with keepRawEntries: true (dive's JSON export needs them)",
      });
    }
    return entries;
  }

  #layerIndex(layer: number): number {
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.layers.length) {
      throw new OslessError("E_USAGE", `layer ${layer} does not exist: the image has ${this.layers.length}`, {
        hint: `give a layer index from 0 to ${this.layers.length - 1}`,
      });
    }
    return layer;
  }

  /**
   * The state of `path` as of layer `layer`: a state, null (removed) or undefined (not there yet). Each layer's
   * changes are sorted by path, so this is a binary search per layer; no per-path history is kept (memory).
   */
  #stateAt(path: string, layer: number): ChangeBefore | null | undefined {
    for (let i = layer; i >= 0; i--) {
      const changes = this.#view.layers[i]!.changes;
      let lo = 0;
      let hi = changes.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        const c = compareNames(changes[mid]!.path, path);
        if (c === 0) {
          const ch = changes[mid]!;
          return ch.kind === "removed" ? null : (ch.after ?? null);
        }
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
      }
    }
    return undefined;
  }

  tree(layer: number, mode: CompareMode): FileTree {
    this.#layerIndex(layer);
    const key = `${layer}:${mode}`;
    const cached = this.#trees.get(key);
    if (cached !== undefined) {
      this.#trees.delete(key);
      this.#trees.set(key, cached);
      return cached;
    }
    const tree = this.#build(layer, mode);
    this.#trees.set(key, tree);
    let nodes = 0;
    for (const t of this.#trees.values()) nodes += t.size;
    while (this.#trees.size > 1 && (this.#trees.size > TREE_CACHE || nodes > TREE_CACHE_NODES)) {
      const oldest = this.#trees.keys().next().value as string;
      nodes -= this.#trees.get(oldest)!.size;
      this.#trees.delete(oldest);
    }
    return tree;
  }

  #build(layer: number, mode: CompareMode): FileTree {
    const bottomLayer = layer === 0 ? -1 : mode === "layer" ? layer - 1 : 0;
    // Every path's state below (as of bottomLayer) and on top (as of `layer`), from the layers' changes in order;
    // `removedBy`: the last layer up to `layer` that removed it.
    const states = new Map<
      string,
      { bottom: ChangeBefore | null; top: ChangeBefore | null; removedBy: number }
    >();
    for (let i = 0; i <= layer; i++) {
      for (const c of this.#view.layers[i]!.changes) {
        const state = c.kind === "removed" ? null : (c.after ?? null);
        let s = states.get(c.path);
        if (s === undefined) {
          s = { bottom: null, top: null, removedBy: -1 };
          states.set(c.path, s);
        }
        s.top = state;
        if (i <= bottomLayer) s.bottom = state;
        if (state === null) s.removedBy = i;
      }
    }
    const nodes = new Map<string, FileNode>();
    const root: FileNode = {
      name: "",
      path: "",
      type: "directory",
      size: 0,
      mode: 0o755,
      uid: 0,
      gid: 0,
      marker: "unmodified",
      layer: 0,
      children: [],
    };
    nodes.set("", root);
    for (const [path, { bottom: b, top, removedBy }] of states) {
      const bottom = bottomLayer < 0 ? top : b;
      let state: ChangeBefore;
      let marker: Marker;
      let at: number;
      if (top) {
        state = top;
        at = top.layer;
        marker =
          bottomLayer < 0 ? "unmodified" : !bottom ? "added" : same(bottom, top) ? "unmodified" : "modified";
      } else if (bottom) {
        state = bottom;
        marker = "removed";
        at = removedBy;
      } else continue;
      if (path === ".") {
        Object.assign(root, { mode: state.mode, uid: state.uid, gid: state.gid, marker, layer: at });
        continue;
      }
      const node: FileNode = {
        name: path.slice(path.lastIndexOf("/") + 1),
        path,
        type: state.type,
        size: state.type === "file" ? state.size : 0,
        mode: state.mode,
        uid: state.uid,
        gid: state.gid,
        marker,
        layer: at,
      };
      if (state.linkTarget !== undefined) node.linkTarget = state.linkTarget;
      if (state.hardlinkTo !== undefined) node.hardlinkTo = state.hardlinkTo;
      if (state.type === "directory") node.children = [];
      nodes.set(path, node);
    }
    states.clear();
    for (const [path, n] of nodes) {
      if (path === "") continue;
      const slash = path.lastIndexOf("/");
      const parent = nodes.get(slash < 0 ? "" : path.slice(0, slash));
      // A path whose parent is not a directory at this layer cannot be shown; the view never records one.
      parent?.children?.push(n);
    }
    finish(root);
    return {
      root,
      size: nodes.size - 1,
      get: (p: string) => nodes.get(p === "." ? "" : p.replace(/^\/+/, "").replace(/\/+$/, "")),
    };
  }

  readFile(path: string, layer?: number): AsyncIterable<Buffer> {
    if (layer === undefined || layer === this.layers.length - 1) return this.#view.readFile(path);
    this.#layerIndex(layer);
    const clean = path.replace(/^\/+/, "").replace(/\/+$/, "") || ".";
    const state = this.#stateAt(clean, layer);
    if (!state || state.content === undefined) {
      throw new OslessError(
        "E_NOT_FOUND",
        `"${path}" is not a regular file as of layer ${layer}${state ? ` (it is a ${state.type})` : ""}`,
        { hint: "pick a regular file present at that layer (symlinks are not followed in past layers)" },
      );
    }
    return this.#view.readContent({ ...state.content, size: state.size, digest: state.digest }, clean);
  }

  largest(n: number): { path: string; size: number; layer: number }[] {
    const files: { path: string; size: number; layer: number }[] = [];
    for (const node of this.#view.walk()) {
      if (node.content !== undefined) files.push({ path: node.path, size: node.size, layer: node.layer });
    }
    return files.sort((a, b) => b.size - a.size || compareNames(a.path, b.path)).slice(0, Math.max(0, n));
  }
}

/** dive's "unmodified": type, content, mode and owner equal (size and mtime follow the content). */
function same(a: ChangeBefore, b: ChangeBefore): boolean {
  if (a.type !== b.type || a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid) return false;
  if (a.linkTarget !== b.linkTarget || a.hardlinkTo !== b.hardlinkTo) return false;
  if (a.type !== "file") return true;
  if (a.size !== b.size) return false;
  if (a.content && b.content && a.content.layer === b.content.layer && a.content.offset === b.content.offset)
    return true;
  return a.digest !== undefined && a.digest === b.digest;
}

/**
 * Children sorted by name; directory sizes summed from children (removed children left out unless the directory
 * itself is removed); a directory with a changed child is "modified"; a removed directory's nodes are removed.
 */
function finish(root: FileNode): void {
  const post: FileNode[] = [];
  const stack: FileNode[] = [root];
  while (stack.length > 0) {
    const n = stack.pop()!;
    post.push(n);
    if (n.children === undefined) continue;
    n.children.sort((a, b) => compareNames(a.name, b.name));
    for (const c of n.children) {
      if (n.marker === "removed") c.marker = "removed";
      stack.push(c);
    }
  }
  for (let i = post.length - 1; i >= 0; i--) {
    const n = post[i]!;
    if (n.children === undefined) continue;
    let size = 0;
    let changed = false;
    for (const c of n.children) {
      if (c.marker !== "removed" || n.marker === "removed") size += c.size;
      if (c.marker !== "unmodified") changed = true;
    }
    n.size = size;
    if (changed && n.marker === "unmodified") n.marker = "modified";
  }
}
