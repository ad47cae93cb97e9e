/**
 * The JSON API of `osless explore --web`, as pure functions of the model and the query string (server.ts maps
 * URLs to them and writes the answers). Everything is read-only and GET-only.
 *
 * Common query parameters: `layer` (0-based index, default the last layer), `mode` (`layer` | `aggregated`,
 * dive's compare modes, default `layer`), `path` (in-root path; a leading or trailing "/" is ignored; "" or "/" is
 * the root). A bad parameter answers 400, a path that is not there 404; errors are
 * `{ "error": { "status", "message", "hint"? } }`. Non-finite numbers (dive's user-wasted ratio can be NaN or
 * Infinity) are sent as the strings "NaN", "Infinity", "-Infinity".
 *
 * - `GET /api/image`: `{ image, layers, metrics: { dive, exact }, largest }`. `layers` are the model's
 *   `ExplorerLayer`s (size, command, history, added/modified/removed counts); `metrics.dive` is dive's figures
 *   (defects included) with `inefficient` cut to the first 100 entries and `inefficientCount` the full count;
 *   `metrics.exact` osless's corrected figures with `waste` cut to 100 and `wasteCount`; `largest` the 20 largest
 *   files of the final filesystem.
 * - `GET /api/tree?layer&mode&path&offset&limit`: one directory's children, sorted by name, as of `layer` with
 *   the markers of `mode`: `{ layer, mode, node, children, offset, total }`. `limit` defaults to 1000 (at most
 *   5000): a directory with more children is read page by page (`offset`), so that no answer holds a whole
 *   200k-file tree. Each entry: `{ name, path, type, size, mode, uid, gid, marker, layer, linkTarget?,
 *   hardlinkTo?, childCount? }` (`childCount` for directories).
 * - `GET /api/search?q&regex&layer&mode&limit`: paths of the tree as of `layer` (removed ones included, with
 *   their marker) whose full path, written with a leading "/" as dive shows it, contains `q` (case-insensitive) or,
 *   with `regex=1`, matches `q` as an unanchored JavaScript regular expression (case-sensitive). In tree order,
 *   at most `limit` (default 200, at most 1000): `{ query, regex, layer, mode, matches, truncated }`. An empty
 *   query, or a pattern that does not compile (the message says why), answers 400.
 * - `GET /api/treemap?layer&mode&path&depth&limit`: the sizes below `path` as of `layer`, removed and empty
 *   entries left out: `{ layer, mode, path, root }` where a node is `{ name, path, type, size, marker,
 *   children?, rest? }`. `depth` levels below `path` (default 2, 1..4), each directory's `limit` largest entries
 *   (default 40, 1..200), the others summed in `rest: { count, size }`; at most 5000 nodes in all (directories
 *   past that bound come without `children`).
 * - `GET /api/file?layer&path`: the bytes of the regular file at `path` as of `layer`, as an attachment
 *   (server.ts streams them from `model.readFile`). Anything but a regular file there (directory, link, device,
 *   removed, absent) answers 404 with a message.
 */
import type { CompareMode, ExplorerModel, FileNode } from "../types.ts";

export class HttpError extends Error {
  readonly status: number;
  readonly hint: string | undefined;
  constructor(status: number, message: string, hint?: string) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.hint = hint;
  }
}

export interface Entry {
  name: string;
  path: string;
  type: FileNode["type"];
  size: number;
  mode: number;
  uid: number;
  gid: number;
  marker: FileNode["marker"];
  layer: number;
  linkTarget?: string;
  hardlinkTo?: string;
  childCount?: number;
}

export interface TreemapNode {
  name: string;
  path: string;
  type: FileNode["type"];
  size: number;
  marker: FileNode["marker"];
  children?: TreemapNode[];
  rest?: { count: number; size: number };
}

export const LIMITS = {
  treePage: 1000,
  treePageMax: 5000,
  search: 200,
  searchMax: 1000,
  patternMax: 1000,
  treemapDepth: 2,
  treemapDepthMax: 4,
  treemapCount: 40,
  treemapCountMax: 200,
  treemapNodes: 5000,
  listed: 100,
  largest: 20,
} as const;

function intParam(q: URLSearchParams, name: string, def: number, min: number, max: number): number {
  const raw = q.get(name);
  if (raw === null || raw === "") return def;
  if (!/^\d+$/.test(raw)) throw new HttpError(400, `${name}=${raw} is not a whole number`);
  const n = Number(raw);
  if (n < min || n > max) throw new HttpError(400, `${name}=${raw} is out of range: ${min} to ${max}`);
  return n;
}

export function layerParam(model: ExplorerModel, q: URLSearchParams): number {
  const last = model.layers.length - 1;
  if (last < 0) throw new HttpError(404, "the image has no layers");
  const raw = q.get("layer");
  if (raw === null || raw === "") return last;
  if (!/^\d+$/.test(raw) || Number(raw) > last)
    throw new HttpError(400, `layer=${raw} is not a layer of this image`, `layers are numbered 0 to ${last}`);
  return Number(raw);
}

export function modeParam(q: URLSearchParams): CompareMode {
  const raw = q.get("mode");
  if (raw === null || raw === "" || raw === "layer") return "layer";
  if (raw === "aggregated") return "aggregated";
  throw new HttpError(400, `mode=${raw} is not a compare mode`, "use mode=layer or mode=aggregated");
}

/** In-root path without leading or trailing "/"; "" is the root. */
export function pathParam(q: URLSearchParams, name = "path"): string {
  const raw = q.get(name) ?? "";
  if (raw.includes("\0")) throw new HttpError(400, `${name} holds a NUL byte`);
  return raw.replace(/^\/+/, "").replace(/\/+$/, "");
}

function entry(n: FileNode): Entry {
  const e: Entry = {
    name: n.name,
    path: n.path,
    type: n.type,
    size: n.size,
    mode: n.mode,
    uid: n.uid,
    gid: n.gid,
    marker: n.marker,
    layer: n.layer,
  };
  if (n.linkTarget !== undefined) e.linkTarget = n.linkTarget;
  if (n.hardlinkTo !== undefined) e.hardlinkTo = n.hardlinkTo;
  if (n.type === "directory") e.childCount = n.children?.length ?? 0;
  return e;
}

function show(path: string): string {
  return `/${path}`;
}

export function imageInfo(model: ExplorerModel): unknown {
  const { dive, exact } = model.metrics;
  return {
    image: model.image,
    layers: model.layers,
    metrics: {
      dive: {
        ...dive,
        inefficient: dive.inefficient.slice(0, LIMITS.listed),
        inefficientCount: dive.inefficient.length,
      },
      exact: { ...exact, waste: exact.waste.slice(0, LIMITS.listed), wasteCount: exact.waste.length },
    },
    largest: model.largest(LIMITS.largest),
  };
}

export function treeChildren(model: ExplorerModel, q: URLSearchParams): unknown {
  const layer = layerParam(model, q);
  const mode = modeParam(q);
  const path = pathParam(q);
  const offset = intParam(q, "offset", 0, 0, Number.MAX_SAFE_INTEGER);
  const limit = intParam(q, "limit", LIMITS.treePage, 1, LIMITS.treePageMax);
  const node = model.tree(layer, mode).get(path);
  if (!node) throw new HttpError(404, `${show(path)} is not in the image as of layer ${layer}`);
  if (node.type !== "directory") throw new HttpError(404, `${show(path)} is not a directory`);
  const all = node.children ?? [];
  return {
    layer,
    mode,
    node: entry(node),
    children: all.slice(offset, offset + limit).map(entry),
    offset,
    total: all.length,
  };
}

export function search(model: ExplorerModel, q: URLSearchParams): unknown {
  const layer = layerParam(model, q);
  const mode = modeParam(q);
  const query = q.get("q") ?? "";
  const regex = q.get("regex") === "1" || q.get("regex") === "true";
  const limit = intParam(q, "limit", LIMITS.search, 1, LIMITS.searchMax);
  if (query === "") throw new HttpError(400, "the search is empty", "give q=<text> or q=<pattern>&regex=1");
  if (query.length > LIMITS.patternMax)
    throw new HttpError(400, `the search is ${query.length} characters long; at most ${LIMITS.patternMax}`);
  let test: (p: string) => boolean;
  if (regex) {
    let re: RegExp;
    try {
      re = new RegExp(query);
    } catch (e) {
      throw new HttpError(
        400,
        `bad regular expression: ${(e as Error).message}`,
        "fix the pattern, or search for plain text",
      );
    }
    test = (p) => re.test(p);
  } else {
    const needle = query.toLowerCase();
    test = (p) => p.toLowerCase().includes(needle);
  }
  const matches: Omit<Entry, "childCount" | "mode" | "uid" | "gid">[] = [];
  let truncated = false;
  // Depth-first, children in name order: the order of the tree on the page. An explicit stack, not recursion:
  // a path can be thousands of components deep.
  const stack: FileNode[] = [...(model.tree(layer, mode).root.children ?? [])].reverse();
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (test(show(n.path))) {
      if (matches.length === limit) {
        truncated = true;
        break;
      }
      matches.push({
        name: n.name,
        path: n.path,
        type: n.type,
        size: n.size,
        marker: n.marker,
        layer: n.layer,
      });
    }
    const ch = n.children;
    if (ch) for (let i = ch.length - 1; i >= 0; i--) stack.push(ch[i]!);
  }
  return { query, regex, layer, mode, matches, truncated };
}

export function treemap(model: ExplorerModel, q: URLSearchParams): unknown {
  const layer = layerParam(model, q);
  const mode = modeParam(q);
  const path = pathParam(q);
  const depth = intParam(q, "depth", LIMITS.treemapDepth, 1, LIMITS.treemapDepthMax);
  const limit = intParam(q, "limit", LIMITS.treemapCount, 1, LIMITS.treemapCountMax);
  const start = model.tree(layer, mode).get(path);
  if (!start || start.marker === "removed")
    throw new HttpError(404, `${show(path)} is not in the image as of layer ${layer}`);
  let budget = LIMITS.treemapNodes;
  const make = (n: FileNode): TreemapNode => ({
    name: n.name,
    path: n.path,
    type: n.type,
    size: n.size,
    marker: n.marker,
  });
  const root = make(start);
  // Breadth-first, so that the node budget is spent on the upper levels first.
  let level: [FileNode, TreemapNode][] = [[start, root]];
  for (let d = 0; d < depth && level.length > 0 && budget > 0; d++) {
    const next: [FileNode, TreemapNode][] = [];
    for (const [n, t] of level) {
      if (!n.children) continue;
      if (budget <= 0) break;
      const live = n.children
        .filter((c) => c.marker !== "removed" && c.size > 0)
        .sort((a, b) => b.size - a.size);
      const take = Math.min(live.length, limit, budget);
      budget -= take;
      t.children = live.slice(0, take).map((c) => {
        const tc = make(c);
        next.push([c, tc]);
        return tc;
      });
      if (live.length > take) {
        let size = 0;
        for (let i = take; i < live.length; i++) size += live[i]!.size;
        t.rest = { count: live.length - take, size };
      }
    }
    level = next;
  }
  return { layer, mode, path, root };
}

/** The regular file a download names: 404 unless it is a regular file present at `layer`. */
export function downloadTarget(
  model: ExplorerModel,
  q: URLSearchParams,
): { path: string; name: string; layer: number; size: number } {
  const layer = layerParam(model, q);
  const path = pathParam(q);
  if (path === "") throw new HttpError(404, "/ is a directory, not a file");
  const node = model.tree(layer, "layer").get(path);
  if (!node || node.marker === "removed")
    throw new HttpError(404, `${show(path)} is not in the image as of layer ${layer}`);
  if (node.type !== "file") {
    const what =
      node.type === "directory"
        ? "a directory"
        : node.type === "symlink"
          ? "a symbolic link"
          : `a ${node.type}`;
    throw new HttpError(
      404,
      `${show(path)} is ${what}, not a regular file: only regular files can be downloaded`,
    );
  }
  return { path, name: node.name, layer, size: node.size };
}

/** JSON with non-finite numbers as strings (JSON.stringify would make them null). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v));
}
