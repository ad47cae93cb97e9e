/**
 * The explorer's model as its views see it (terminal UI, browser, CI gate, JSON export): an image's layers with
 * what each did, dive's metrics and osless's exact ones, and the file tree as of any layer with dive's change
 * markers. No UI code here or in the model (src/explorer/model.ts builds it); views only read it.
 */
import type { Digest } from "../digest/index.ts";
import type { TarType } from "../tar/index.ts";
import type { ImageInfo } from "../transfer/open.ts";

/** What names the image explored (the same as any image read: transfer/open.ts). */
export type ExplorerImageInfo = ImageInfo;

export interface ExplorerLayer {
  index: number;
  /** Blob digest and media type as the manifest gives them. */
  digest: Digest;
  mediaType: string;
  /** Compressed (blob) size. */
  compressedSize: number;
  diffId: Digest;
  /** dive's layer size: the sum of the sizes of the layer's regular-file entries (uncompressed content bytes). */
  size: number;
  /** Tar entries, whiteouts included. */
  entries: number;
  /** dive's command: history `created_by` with a leading "/bin/sh -c " (and "#(nop) ") removed; "" when unknown. */
  command: string;
  /** The history entry of this layer (empty layers skipped when aligning): raw created_by, created, comment. */
  createdBy: string | null;
  created: string | null;
  comment: string | null;
  /** How many paths the layer added, modified and removed, as `ExplorerModel.changes` lists them. */
  added: number;
  modified: number;
  removed: number;
}

/** dive's change markers: what a node is in the compared trees. */
export type Marker = "added" | "modified" | "removed" | "unmodified";

/**
 * Compare modes, as dive's: "layer" shows what layer i did against layers 0..i-1; "aggregated" shows layers 1..i
 * against layer 0 (what the image added on top of its base). Layer 0 marks nothing in either mode.
 */
export type CompareMode = "layer" | "aggregated";

/** One node of the tree as of a layer. Removed nodes are kept in the tree (marked "removed"). */
export interface FileNode {
  name: string;
  /** In-root path without a leading "/" ("" is the root). */
  path: string;
  /** A hard link shows its target's type ("file"); `hardlinkTo` names the target. */
  type: TarType;
  /** Regular file: its size; directory: the sum of its children's sizes, removed children left out unless the
   * directory itself is removed (dive's rule); other types: 0. */
  size: number;
  /** Permission bits with setuid/setgid/sticky (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  linkTarget?: string | undefined;
  hardlinkTo?: string | undefined;
  marker: Marker;
  /** The layer whose entry defines the node as shown (for a removed node: the layer that removed it). */
  layer: number;
  /** Directories: children sorted by name (UTF-8 byte order). */
  children?: FileNode[] | undefined;
}

/** One path a layer changed: added, modified (type, content, mode or owner changed) or removed. */
export interface FileChange {
  /** In-root path, no leading "/". */
  path: string;
  change: "added" | "modified" | "removed";
  /** The type after the layer (before it, for a removal). */
  type: TarType;
  /** A regular file's size after the layer (before it, for a removal); 0 for other types. */
  size: number;
}

export interface FileTree {
  /** The root directory (path ""). */
  root: FileNode;
  /** The node at `path` (no leading "/"; "" or "." for the root), symlinks not followed. */
  get(path: string): FileNode | undefined;
  /** Number of nodes, the root excluded. */
  size: number;
}

/** dive's figures, computed exactly as dive does, defects included (../shared/design/explorer-metrics.md). */
export interface DiveMetrics {
  /** 1 when nothing is duplicated; NaN never (1 when the denominator is 0). */
  efficiency: number;
  /** Sum of layer sizes. */
  sizeBytes: number;
  /** Sum of the sizes of layers 1..n-1 (dive's "user" layers: all but the first). */
  userSizeBytes: number;
  /** Sum of the cumulative sizes of paths seen in two layers or more (every copy counted, the kept one too). */
  wastedBytes: number;
  /** wastedBytes / userSizeBytes: may be Infinity (x/0) or NaN (0/0), as in dive. */
  userWastedPercent: number;
  /** Paths seen in two layers or more, largest cumulative size first. */
  inefficient: { file: string; count: number; sizeBytes: number }[];
}

/** Why bytes an image ships are not in its final filesystem. */
export type WasteCause = "overwritten" | "deleted" | "metadata-only";

export interface WasteItem {
  /** In-root path, no leading "/". */
  path: string;
  bytes: number;
  cause: WasteCause;
  /** The layer that shipped the bytes, and the layer that hid them. */
  layer: number;
  by: number;
}

/** osless's corrected figures: what squashing the image would reclaim, attributed to causes. */
export interface ExactMetrics {
  /** finalBytes / totalBytes (1 when totalBytes is 0). */
  efficiency: number;
  /** Sum of layer sizes (as dive's sizeBytes). */
  totalBytes: number;
  /** Bytes of the regular files visible in the final filesystem, each inode once. */
  finalBytes: number;
  /** totalBytes - finalBytes. */
  wastedBytes: number;
  /** Layers counted as the base image (default 1, as dive). */
  baseLayers: number;
  /** Sum of the sizes of the layers above the base. */
  userBytes: number;
  /** wastedBytes minus what the base layers squashed alone waste. */
  userWastedBytes: number;
  /** userWastedBytes / userBytes; null when userBytes is 0. */
  userWastedPercent: number | null;
  /** Every hidden copy, largest first: files overwritten, deleted (one item per file), rewritten for metadata only. */
  waste: WasteItem[];
  /** Bytes per cause. */
  byCause: Record<WasteCause, number>;
}

export interface ImageMetrics {
  dive: DiveMetrics;
  exact: ExactMetrics;
}

export interface ExplorerModel {
  image: ExplorerImageInfo;
  /** Base first. */
  layers: ExplorerLayer[];
  metrics: ImageMetrics;
  /** The tree of layers 0..`layer` stacked, with markers for `mode` (cached; cheap to ask again). */
  tree(layer: number, mode: CompareMode): FileTree;
  /** The bytes of the regular file at `path` as of layer `layer` (default: the last); E_NOT_FOUND otherwise. */
  readFile(path: string, layer?: number): AsyncIterable<Buffer>;
  /** The largest regular files of the final filesystem, largest first. */
  largest(n: number): { path: string; size: number; layer: number }[];
  /**
   * The paths layer `layer` changed, sorted by path: what dive's layer compare marks (a rewrite that changes
   * nothing is left out; so is the base layer's entry for the root). Every path below a removed directory is listed.
   */
  changes(layer: number): FileChange[];
  /** dive's tar entries of a layer in tar order (for dive's JSON `fileList`). */
  rawEntries(layer: number): import("../layer/view.ts").RawEntry[];
}
