/**
 * The explorer's model (level 6, no UI): one verified streaming pass over an image's layers into the squashed
 * view, keeping each layer's raw entries (dive's listings and figures) and what each layer did to every path with
 * the state it left (LayerChange.after). From that one persistent record, the tree as of any layer in either of
 * dive's compare modes is built on demand (and cached), instead of dive's 2×N stacked copies; file bytes of any
 * layer are read back from their layer. See src/explorer/types.ts for what views read.
 */
import { OslessError } from "../errors.ts";
import type { EventSink } from "../events/index.ts";
import type { LayerSource } from "../layer/source.ts";
import { buildView, type ChangeBefore, type SquashedView } from "../layer/view.ts";
import { compareNames } from "../layer/view-tree.ts";
import type { Descriptor, ImageConfig, Platform } from "../spec/schemas.ts";
import type { Store } from "../store/layout.ts";
import { type OpenSourceOptions, openImageSource } from "../transfer/open.ts";
import { diveMetrics, exactMetrics, visibleBytes } from "./metrics.ts";
import type {
  CompareMode,
  ExplorerImageInfo,
  ExplorerLayer,
  ExplorerModel,
  FileNode,
  FileTree,
  ImageMetrics,
  Marker,
} from "./types.ts";

export interface ExploreOptions {
  /** Layers counted as the base image by the exact metrics (default 1, as dive). */
  baseLayers?: number | undefined;
  signal?: AbortSignal | undefined;
  /** Per-layer progress of the pass. */
  events?: EventSink | undefined;
}

/** A path's states, one per layer that changed it, in layer order (null: removed by that layer). */
interface History {
  layers: number[];
  states: (ChangeBefore | null)[];
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
 * pass: blob digests and DiffIDs are verified as the layers stream by; file contents are hashed only when there
 * is more than one layer (to tell a rewrite from a change).
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
  const view = await buildView(layers, {
    rawEntries: true,
    afterStates: true,
    digests: layers.length > 1,
    signal: opts.signal,
    events: opts.events,
    afterLayer: (i, nodes) => {
      if (i === baseLayers - 1) baseFinalBytes = visibleBytes(nodes);
    },
  });
  const history = layerHistory(config, layers.length);
  const explorerLayers: ExplorerLayer[] = view.layers.map((l, i) => {
    const h = history[i];
    let added = 0;
    let modified = 0;
    let removed = 0;
    for (const c of l.changes) {
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
    dive: diveMetrics(view.layers.map((l) => ({ entries: l.rawEntries ?? [], size: l.bytes }))),
    exact: exactMetrics(view, baseLayers, baseLayers === 0 ? 0 : baseFinalBytes),
  };
  return new Model(image, explorerLayers, metrics, view);
}

/** Open `input` (store name, docker://, oci:, oci-archive:, docker-archive:) and build its model. */
export async function exploreImage(
  input: string,
  opts: ExploreOptions & Omit<OpenSourceOptions, "signal">,
): Promise<ExplorerModel & { close(): Promise<void> }> {
  const src = await openImageSource(input, opts);
  try {
    const model = await buildExplorerModel(
      { source: input, name: src.name, digest: src.digest, id: src.id, platform: src.platform },
      src.config,
      src.descriptors,
      src.layers,
      opts,
    );
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

const TREE_CACHE = 2;

class Model implements ExplorerModel {
  readonly image: ExplorerImageInfo;
  readonly layers: ExplorerLayer[];
  readonly metrics: ImageMetrics;
  readonly #view: SquashedView;
  readonly #history = new Map<string, History>();
  readonly #trees = new Map<string, FileTree>();

  constructor(image: ExplorerImageInfo, layers: ExplorerLayer[], metrics: ImageMetrics, view: SquashedView) {
    this.image = image;
    this.layers = layers;
    this.metrics = metrics;
    this.#view = view;
    for (const [i, l] of view.layers.entries()) {
      for (const c of l.changes) {
        let h = this.#history.get(c.path);
        if (h === undefined) {
          h = { layers: [], states: [] };
          this.#history.set(c.path, h);
        }
        h.layers.push(i);
        h.states.push(c.kind === "removed" ? null : (c.after ?? null));
      }
    }
  }

  rawEntries(layer: number): import("../layer/view.ts").RawEntry[] {
    return this.#view.layers[this.#layerIndex(layer)]?.rawEntries ?? [];
  }

  #layerIndex(layer: number): number {
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.layers.length) {
      throw new OslessError("E_USAGE", `layer ${layer} does not exist: the image has ${this.layers.length}`, {
        hint: `give a layer index from 0 to ${this.layers.length - 1}`,
      });
    }
    return layer;
  }

  /** The state of `h` as of layer `layer`: a state, null (removed) or undefined (never there yet). */
  static #at(h: History, layer: number): ChangeBefore | null | undefined {
    let out: ChangeBefore | null | undefined;
    for (let i = 0; i < h.layers.length && h.layers[i]! <= layer; i++) out = h.states[i];
    return out;
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
    while (this.#trees.size > TREE_CACHE) this.#trees.delete(this.#trees.keys().next().value as string);
    return tree;
  }

  #build(layer: number, mode: CompareMode): FileTree {
    const bottomLayer = layer === 0 ? -1 : mode === "layer" ? layer - 1 : 0;
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
    for (const [path, h] of this.#history) {
      const top = Model.#at(h, layer);
      const bottom = bottomLayer < 0 ? top : Model.#at(h, bottomLayer);
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
        at = layer;
        for (let i = 0; i < h.layers.length && h.layers[i]! <= layer; i++)
          if (h.states[i] === null) at = h.layers[i]!;
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
    const h = this.#history.get(clean);
    const state = h && Model.#at(h, layer);
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
