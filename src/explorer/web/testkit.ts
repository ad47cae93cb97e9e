/**
 * Small in-memory `ExplorerModel`s for the web view's tests, built from file lists per layer. Not the real model
 * (src/explorer/model.ts): it stacks plain path maps (a `null` entry removes a path and everything below it),
 * with dive's marker rules (a directory whose children changed is modified, removal propagates, directory size is
 * the sum of its children without the removed ones unless it is removed itself). Good enough to drive every view
 * of the page; the e2e test also runs the page on the real model.
 */
import { OslessError } from "../../errors.ts";
import { compareNames } from "../../layer/view-tree.ts";
import type { TarType } from "../../tar/index.ts";
import type {
  CompareMode,
  DiveMetrics,
  ExactMetrics,
  ExplorerImageInfo,
  ExplorerLayer,
  ExplorerModel,
  FileNode,
  FileTree,
  Marker,
  WasteItem,
} from "../types.ts";

export type FakeEntry =
  | string
  | Buffer
  | { data: string | Buffer; mode?: number; uid?: number; gid?: number }
  | { symlink: string }
  | { dir: true; mode?: number; uid?: number; gid?: number };

export interface FakeLayer {
  command?: string;
  /** Path (no leading "/") to what the layer writes there; `null` removes it (a whiteout). */
  files: Record<string, FakeEntry | null>;
}

interface Item {
  type: TarType;
  data: Buffer;
  mode: number;
  uid: number;
  gid: number;
  linkTarget?: string;
  layer: number;
}

type Stack = Map<string, Item>;

function toItem(e: FakeEntry, layer: number): Item {
  if (typeof e === "string" || Buffer.isBuffer(e))
    return { type: "file", data: Buffer.from(e), mode: 0o644, uid: 0, gid: 0, layer };
  if ("symlink" in e)
    return {
      type: "symlink",
      data: Buffer.alloc(0),
      mode: 0o777,
      uid: 0,
      gid: 0,
      linkTarget: e.symlink,
      layer,
    };
  if ("dir" in e)
    return {
      type: "directory",
      data: Buffer.alloc(0),
      mode: e.mode ?? 0o755,
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      layer,
    };
  return {
    type: "file",
    data: Buffer.from(e.data),
    mode: e.mode ?? 0o644,
    uid: e.uid ?? 0,
    gid: e.gid ?? 0,
    layer,
  };
}

function parentsOf(path: string): string[] {
  const parts = path.split("/");
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join("/"));
  return out;
}

function same(a: Item, b: Item): boolean {
  return (
    a.type === b.type &&
    a.mode === b.mode &&
    a.uid === b.uid &&
    a.gid === b.gid &&
    a.linkTarget === b.linkTarget &&
    a.data.equals(b.data)
  );
}

/** The stacks after each layer, and which layer removed a path (last removal). */
function stacks(layers: FakeLayer[]): { stacks: Stack[]; removedBy: Map<string, number>[] } {
  const out: Stack[] = [];
  const removedBy: Map<string, number>[] = [];
  let cur: Stack = new Map();
  let rem = new Map<string, number>();
  for (const [i, l] of layers.entries()) {
    cur = new Map(cur);
    rem = new Map(rem);
    for (const [p, e] of Object.entries(l.files)) {
      if (e === null) {
        for (const k of [...cur.keys()])
          if (k === p || k.startsWith(`${p}/`)) {
            cur.delete(k);
            rem.set(k, i);
          }
        continue;
      }
      for (const d of parentsOf(p))
        if (cur.get(d)?.type !== "directory")
          cur.set(d, { type: "directory", data: Buffer.alloc(0), mode: 0o755, uid: 0, gid: 0, layer: i });
      cur.set(p, toItem(e, i));
    }
    out.push(cur);
    removedBy.push(rem);
  }
  return { stacks: out, removedBy };
}

function buildTree(top: Stack, bottom: Stack | null, removedBy: Map<string, number>): FileTree {
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
  const add = (path: string, it: Item, marker: Marker) => {
    const node: FileNode = {
      name: path.slice(path.lastIndexOf("/") + 1),
      path,
      type: it.type,
      size: it.type === "file" ? it.data.length : 0,
      mode: it.mode,
      uid: it.uid,
      gid: it.gid,
      linkTarget: it.linkTarget,
      marker,
      layer: marker === "removed" ? (removedBy.get(path) ?? it.layer) : it.layer,
      ...(it.type === "directory" ? { children: [] } : {}),
    };
    nodes.set(path, node);
  };
  for (const [p, it] of top) {
    const b = bottom?.get(p);
    add(
      p,
      it,
      bottom === null ? "unmodified" : b === undefined ? "added" : same(b, it) ? "unmodified" : "modified",
    );
  }
  if (bottom) for (const [p, it] of bottom) if (!top.has(p)) add(p, it, "removed");
  const paths = [...nodes.keys()].filter((p) => p !== "").sort(compareNames);
  for (const p of paths) {
    const parent = nodes.get(p.includes("/") ? p.slice(0, p.lastIndexOf("/")) : "")!;
    parent.children!.push(nodes.get(p)!);
  }
  for (const n of nodes.values()) n.children?.sort((a, b) => compareNames(a.name, b.name));
  const finish = (n: FileNode): void => {
    if (!n.children) return;
    let size = 0;
    let changed = false;
    for (const c of n.children) {
      if (n.marker === "removed") c.marker = "removed";
      finish(c);
      if (c.marker !== "removed" || n.marker === "removed") size += c.size;
      if (c.marker !== "unmodified") changed = true;
    }
    n.size = size;
    if (changed && n.marker === "unmodified") n.marker = "modified";
  };
  finish(root);
  return {
    root,
    get: (path) => nodes.get(path === "." ? "" : path.replace(/^\/+/, "")),
    size: nodes.size - 1,
  };
}

function countMarkers(tree: FileTree): { added: number; modified: number; removed: number } {
  const c = { added: 0, modified: 0, removed: 0 };
  const walk = (n: FileNode) => {
    for (const ch of n.children ?? []) {
      if (ch.marker !== "unmodified") c[ch.marker]++;
      walk(ch);
    }
  };
  walk(tree.root);
  return c;
}

function metrics(
  layers: FakeLayer[],
  sizes: number[],
  final: Stack,
): { dive: DiveMetrics; exact: ExactMetrics } {
  const byPath = new Map<string, { cumulative: number; min: number; count: number }>();
  for (const l of layers)
    for (const [p, e] of Object.entries(l.files)) {
      if (e === null) continue;
      const size = toItem(e, 0).data.length;
      const cur = byPath.get(p) ?? { cumulative: 0, min: -1, count: 0 };
      cur.cumulative += size;
      cur.min = cur.min === -1 ? size : Math.min(cur.min, size);
      cur.count++;
      byPath.set(p, cur);
    }
  let sumMin = 0;
  let sumCum = 0;
  const inefficient: DiveMetrics["inefficient"] = [];
  for (const [file, e] of byPath) {
    sumMin += e.min;
    sumCum += e.cumulative;
    if (e.count >= 2) inefficient.push({ file, count: e.count, sizeBytes: e.cumulative });
  }
  inefficient.sort((a, b) => b.sizeBytes - a.sizeBytes);
  const sizeBytes = sizes.reduce((a, b) => a + b, 0);
  const userSizeBytes = sizeBytes - (sizes[0] ?? 0);
  const diveWasted = inefficient.reduce((a, b) => a + b.sizeBytes, 0);
  let finalBytes = 0;
  for (const it of final.values()) if (it.type === "file") finalBytes += it.data.length;
  const waste: WasteItem[] = [];
  const seen = new Map<string, Item>();
  for (const [i, l] of layers.entries())
    for (const [p, e] of Object.entries(l.files)) {
      const prev = seen.get(p);
      if (prev && prev.type === "file" && prev.data.length > 0) {
        const cause =
          e === null
            ? "deleted"
            : same({ ...toItem(e, 0), mode: prev.mode }, prev)
              ? "metadata-only"
              : "overwritten";
        waste.push({ path: p, bytes: prev.data.length, cause, layer: prev.layer, by: i });
      }
      if (e === null) seen.delete(p);
      else seen.set(p, toItem(e, i));
    }
  waste.sort((a, b) => b.bytes - a.bytes);
  const byCause = { overwritten: 0, deleted: 0, "metadata-only": 0 };
  for (const w of waste) byCause[w.cause] += w.bytes;
  const wastedBytes = sizeBytes - finalBytes;
  return {
    dive: {
      efficiency: sumCum === 0 ? 1 : sumMin / sumCum,
      sizeBytes,
      userSizeBytes,
      wastedBytes: diveWasted,
      userWastedPercent: diveWasted / userSizeBytes,
      inefficient,
    },
    exact: {
      efficiency: sizeBytes === 0 ? 1 : finalBytes / sizeBytes,
      totalBytes: sizeBytes,
      finalBytes,
      wastedBytes,
      baseLayers: 1,
      userBytes: userSizeBytes,
      userWastedBytes: wastedBytes,
      userWastedPercent: userSizeBytes === 0 ? null : wastedBytes / userSizeBytes,
      waste,
      byCause,
    },
  };
}

/** An `ExplorerModel` over `layers` (base first). */
export function fakeModel(layers: FakeLayer[], image: Partial<ExplorerImageInfo> = {}): ExplorerModel {
  const { stacks: st, removedBy } = stacks(layers);
  const cache = new Map<string, FileTree>();
  const tree = (layer: number, mode: CompareMode): FileTree => {
    if (!Number.isInteger(layer) || layer < 0 || layer >= st.length)
      throw new OslessError("E_NOT_FOUND", `no layer ${layer}: the image has ${st.length}`);
    const key = `${layer}/${mode}`;
    let t = cache.get(key);
    if (!t) {
      const bottom = layer === 0 ? null : mode === "layer" ? st[layer - 1]! : st[0]!;
      t = buildTree(st[layer]!, bottom, removedBy[layer]!);
      cache.set(key, t);
    }
    return t;
  };
  const sizes = layers.map((l) =>
    Object.values(l.files).reduce<number>((a, e) => a + (e === null ? 0 : toItem(e, 0).data.length), 0),
  );
  const infos: ExplorerLayer[] = layers.map((l, i) => {
    const hex = i.toString(16).padStart(64, "0");
    return {
      index: i,
      digest: `sha256:${hex}`,
      mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
      compressedSize: Math.ceil(sizes[i]! / 2) + 100,
      diffId: `sha256:${"f".repeat(63)}${i.toString(16)}`,
      size: sizes[i]!,
      entries: Object.keys(l.files).length,
      command: l.command ?? "",
      createdBy: l.command === undefined ? null : `/bin/sh -c ${l.command}`,
      created: "2024-01-01T00:00:00Z",
      comment: null,
      ...(i === 0
        ? { added: tree(0, "layer").size, modified: 0, removed: 0 }
        : countMarkers(tree(i, "layer"))),
    };
  });
  const final = st[st.length - 1] ?? new Map<string, Item>();
  return {
    image: {
      source: image.source ?? "fake:latest",
      name: image.name ?? "fake:latest",
      digest: image.digest ?? `sha256:${"a".repeat(64)}`,
      id: image.id ?? `sha256:${"b".repeat(64)}`,
      platform: image.platform ?? "linux/amd64",
    },
    layers: infos,
    metrics: metrics(layers, sizes, final),
    tree,
    readFile(path: string, layer = st.length - 1): AsyncIterable<Buffer> {
      const it = st[layer]?.get(path.replace(/^\/+/, ""));
      if (it?.type !== "file")
        throw new OslessError("E_NOT_FOUND", `no regular file /${path} at layer ${layer}`);
      return (async function* () {
        for (let o = 0; o < it.data.length; o += 65536) yield it.data.subarray(o, o + 65536);
      })();
    },
    largest(n: number) {
      return [...final.entries()]
        .filter(([, it]) => it.type === "file")
        .map(([path, it]) => ({ path, size: it.data.length, layer: it.layer }))
        .sort((a, b) => b.size - a.size)
        .slice(0, n);
    },
    rawEntries: () => [],
  };
}
