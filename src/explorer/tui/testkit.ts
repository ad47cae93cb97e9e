/**
 * In-memory `ExplorerModel`s for the terminal UI's tests, built from what each layer writes. Not the real model
 * (src/explorer/model.ts): layers are path maps stacked in order (a `null` entry removes the path and everything
 * below it), trees follow dive's marker rules (unmodified iff type, content, mode, uid and gid are equal; a
 * directory whose children changed is modified; removal propagates; a directory's size is the sum of its
 * children's, the removed ones left out unless it is removed itself). Content may be given by size alone, so that
 * a 200k-file model stays small in memory. `treeBuilds` counts the trees built (each (layer, mode) once).
 */
import { createHash } from "node:crypto";
import { OslessError } from "../../errors.ts";
import { compareNames } from "../../layer/view-tree.ts";
import type { TarType } from "../../tar/index.ts";
import type {
  CompareMode,
  DiveMetrics,
  ExactMetrics,
  ExplorerLayer,
  ExplorerModel,
  FileNode,
  FileTree,
  Marker,
} from "../types.ts";

export type FakeFile =
  | string
  | Buffer
  | { data?: string | Buffer; size?: number; mode?: number; uid?: number; gid?: number }
  | { symlink: string }
  | { hardlink: string }
  | { dir: true; mode?: number; uid?: number; gid?: number };

export interface FakeLayerSpec {
  command?: string;
  /** Path (no leading "/") to what the layer writes there; `null` removes it (a whiteout). */
  files: Record<string, FakeFile | null> | Map<string, FakeFile | null>;
}

interface Item {
  type: TarType;
  size: number;
  /** Content identity: equal strings mean equal bytes. */
  content: string;
  data: Buffer | null;
  mode: number;
  uid: number;
  gid: number;
  linkTarget?: string;
  hardlinkTo?: string;
  layer: number;
}

const DIR_CONTENT = "";

function toItem(f: FakeFile, layer: number): Item {
  if (typeof f === "string" || Buffer.isBuffer(f)) {
    const data = Buffer.from(f);
    return {
      type: "file",
      size: data.length,
      content: data.toString("hex"),
      data,
      mode: 0o644,
      uid: 0,
      gid: 0,
      layer,
    };
  }
  if ("symlink" in f)
    return {
      type: "symlink",
      size: 0,
      content: f.symlink,
      data: null,
      mode: 0o777,
      uid: 0,
      gid: 0,
      linkTarget: f.symlink,
      layer,
    };
  if ("hardlink" in f)
    return {
      type: "file",
      size: 0,
      content: `hardlink:${f.hardlink}`,
      data: null,
      mode: 0o644,
      uid: 0,
      gid: 0,
      hardlinkTo: f.hardlink,
      layer,
    };
  if ("dir" in f)
    return {
      type: "directory",
      size: 0,
      content: DIR_CONTENT,
      data: null,
      mode: f.mode ?? 0o755,
      uid: f.uid ?? 0,
      gid: f.gid ?? 0,
      layer,
    };
  const data = f.data === undefined ? null : Buffer.from(f.data);
  const size = data ? data.length : (f.size ?? 0);
  return {
    type: "file",
    size,
    content: data ? data.toString("hex") : `size:${size}`,
    data,
    mode: f.mode ?? 0o644,
    uid: f.uid ?? 0,
    gid: f.gid ?? 0,
    layer,
  };
}

function same(a: Item, b: Item): boolean {
  return (
    a.type === b.type && a.content === b.content && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid
  );
}

/** dive's command: created_by without a leading "/bin/sh -c " and "#(nop) ". */
function diveCommand(createdBy: string | undefined): string {
  let s = (createdBy ?? "").trim();
  if (s.startsWith("/bin/sh -c ")) s = s.slice(11).trim();
  if (s.startsWith("#(nop) ")) s = s.slice(7).trim();
  return s;
}

function parentOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "" : path.slice(0, i);
}

type Stack = Map<string, Item>;

export interface FakeModel extends ExplorerModel {
  treeBuilds: number;
}

export interface FakeModelOptions {
  name?: string;
  /** Replaces the computed metrics (tests of the Image Details pane). */
  dive?: Partial<DiveMetrics>;
  exact?: Partial<ExactMetrics>;
}

function digestOf(s: string): `sha256:${string}` {
  return `sha256:${createHash("sha256").update(s).digest("hex")}`;
}

export function fakeModel(specs: FakeLayerSpec[], opts: FakeModelOptions = {}): FakeModel {
  const stacks: Stack[] = [];
  const removedAt: Map<string, number>[] = [];
  const layers: ExplorerLayer[] = [];
  const diveByPath = new Map<string, { cumulative: number; min: number; count: number }>();
  let cur: Stack = new Map();
  let removed = new Map<string, number>();
  for (const [i, spec] of specs.entries()) {
    const before = cur;
    cur = new Map(cur);
    removed = new Map(removed);
    let size = 0;
    let entries = 0;
    let added = 0;
    let modified = 0;
    let removedCount = 0;
    const files = spec.files instanceof Map ? spec.files : new Map(Object.entries(spec.files));
    for (const [path, f] of files) {
      entries++;
      if (f === null) {
        for (const k of [...cur.keys()])
          if (k === path || k.startsWith(`${path}/`)) {
            cur.delete(k);
            removed.set(k, i);
            removedCount++;
          }
        continue;
      }
      const item = toItem(f, i);
      size += item.size;
      if (item.type === "file") {
        const d = diveByPath.get(path) ?? { cumulative: 0, min: -1, count: 0 };
        d.cumulative += item.size;
        d.min = d.min === -1 ? item.size : Math.min(d.min, item.size);
        d.count++;
        diveByPath.set(path, d);
      }
      for (let p = parentOf(path); p !== ""; p = parentOf(p)) {
        const e = cur.get(p);
        if (e?.type === "directory") break;
        cur.set(p, {
          type: "directory",
          size: 0,
          content: DIR_CONTENT,
          data: null,
          mode: 0o755,
          uid: 0,
          gid: 0,
          layer: i,
        });
      }
      const old = before.get(path);
      if (!old) added++;
      else if (!same(old, item)) modified++;
      cur.set(path, item);
      removed.delete(path);
    }
    stacks.push(cur);
    removedAt.push(removed);
    const id = digestOf(`${i}:${JSON.stringify([...files.keys()])}`);
    layers.push({
      index: i,
      digest: digestOf(`blob ${id}`),
      mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
      compressedSize: Math.round(size / 3),
      diffId: id,
      size,
      entries,
      command: diveCommand(spec.command),
      createdBy: spec.command ?? null,
      created: "2024-01-01T00:00:00Z",
      comment: null,
      added,
      modified,
      removed: removedCount,
    });
  }
  const final = stacks[stacks.length - 1] ?? new Map<string, Item>();

  let sumMin = 0;
  let sumCum = 0;
  const inefficient: DiveMetrics["inefficient"] = [];
  for (const [file, d] of diveByPath) {
    sumMin += d.min;
    sumCum += d.cumulative;
    if (d.count >= 2) inefficient.push({ file: `/${file}`, count: d.count, sizeBytes: d.cumulative });
  }
  inefficient.sort((a, b) => b.sizeBytes - a.sizeBytes);
  const sizeBytes = layers.reduce((s, l) => s + l.size, 0);
  const userSizeBytes = layers.slice(1).reduce((s, l) => s + l.size, 0);
  const wastedBytes = inefficient.reduce((s, e) => s + e.sizeBytes, 0);
  let finalBytes = 0;
  for (const it of final.values()) if (it.type === "file") finalBytes += it.size;
  const dive: DiveMetrics = {
    efficiency: sumCum === 0 ? 1 : sumMin / sumCum,
    sizeBytes,
    userSizeBytes,
    wastedBytes,
    userWastedPercent: wastedBytes / userSizeBytes,
    inefficient,
    ...opts.dive,
  };
  const exact: ExactMetrics = {
    efficiency: sizeBytes === 0 ? 1 : finalBytes / sizeBytes,
    totalBytes: sizeBytes,
    finalBytes,
    wastedBytes: sizeBytes - finalBytes,
    baseLayers: 1,
    userBytes: userSizeBytes,
    userWastedBytes: sizeBytes - finalBytes,
    userWastedPercent: userSizeBytes === 0 ? null : (sizeBytes - finalBytes) / userSizeBytes,
    waste: [],
    byCause: { overwritten: 0, deleted: 0, "metadata-only": 0 },
    ...opts.exact,
  };

  const cache = new Map<string, FileTree>();
  const model: FakeModel = {
    treeBuilds: 0,
    image: {
      source: opts.name ?? "fake",
      name: opts.name ?? null,
      digest: null,
      id: digestOf(JSON.stringify(layers.map((l) => l.diffId))),
      platform: "linux/amd64",
    },
    layers,
    metrics: { dive, exact },
    tree(layer: number, mode: CompareMode): FileTree {
      const key = `${layer}:${mode}`;
      let t = cache.get(key);
      if (!t) {
        model.treeBuilds++;
        const top = stacks[layer];
        if (!top) throw new OslessError("E_NOT_FOUND", `no layer ${layer}`);
        const bottom = layer === 0 ? null : mode === "layer" ? stacks[layer - 1]! : stacks[0]!;
        t = buildTree(top, bottom, removedAt[layer]!);
        cache.set(key, t);
      }
      return t;
    },
    async *readFile(path: string, layer = stacks.length - 1): AsyncIterable<Buffer> {
      const it = stacks[layer]?.get(path.replace(/^\/+/, ""));
      if (it?.type !== "file")
        throw new OslessError("E_NOT_FOUND", `no regular file /${path} in layer ${layer}`);
      const target = it.hardlinkTo ? stacks[layer]!.get(it.hardlinkTo) : it;
      if (target?.data) {
        yield target.data;
        return;
      }
      let left = target?.size ?? 0;
      while (left > 0) {
        const n = Math.min(left, 65536);
        yield Buffer.alloc(n, 0x61);
        left -= n;
      }
    },
    largest(n: number) {
      const files: { path: string; size: number; layer: number }[] = [];
      for (const [path, it] of final)
        if (it.type === "file") files.push({ path, size: it.size, layer: it.layer });
      files.sort((a, b) => b.size - a.size || compareNames(a.path, b.path));
      return files.slice(0, n);
    },
    rawEntries: () => [],
  };
  return model;
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
      size: it.type === "file" && !it.hardlinkTo ? it.size : 0,
      mode: it.mode,
      uid: it.uid,
      gid: it.gid,
      marker,
      layer: marker === "removed" ? (removedBy.get(path) ?? it.layer) : it.layer,
    };
    if (it.linkTarget !== undefined) node.linkTarget = it.linkTarget;
    if (it.hardlinkTo !== undefined) node.hardlinkTo = it.hardlinkTo;
    if (it.type === "directory") node.children = [];
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
  for (const [p, n] of nodes) {
    if (p === "") continue;
    nodes.get(parentOf(p))!.children!.push(n);
  }
  const finish = (n: FileNode): void => {
    const children = n.children;
    if (!children) return;
    children.sort((a, b) => compareNames(a.name, b.name));
    let size = 0;
    let changed = false;
    for (const c of children) {
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

/**
 * A model of `files` regular files (default 200,000) in three layers: a base of `usr/share/dNNN/sN/fNN` files
 * (100 files per directory), a layer that modifies 1,000 files and adds 1,000, a layer that removes one
 * directory of 1,000 files and changes the mode of 100.
 */
export function bigModel(files = 200_000): FakeModel {
  const base = new Map<string, FakeFile | null>();
  const dirs = Math.ceil(files / 1000);
  let n = 0;
  for (let d = 0; d < dirs && n < files; d++)
    for (let s = 0; s < 10 && n < files; s++)
      for (let f = 0; f < 100 && n < files; f++, n++)
        base.set(`usr/share/d${String(d).padStart(3, "0")}/s${s}/f${String(f).padStart(2, "0")}`, {
          size: 100 + ((n * 7919) % 100_000),
        });
  const second = new Map<string, FakeFile | null>();
  for (let i = 0; i < 1000; i++) {
    const d = String(i % dirs).padStart(3, "0");
    second.set(`usr/share/d${d}/s${(i >> 3) % 10}/f${String(i % 100).padStart(2, "0")}`, { size: 5 + i });
    second.set(`opt/app/m${String(i % 10)}/n${String(i).padStart(4, "0")}`, { size: 1000 + i });
  }
  const third = new Map<string, FakeFile | null>();
  third.set("usr/share/d001", null);
  for (let i = 0; i < 100; i++)
    third.set(`usr/share/d002/s0/f${String(i).padStart(2, "0")}`, {
      size: 100 + (((2000 + i) * 7919) % 100_000),
      mode: 0o755,
    });
  return fakeModel(
    [
      { command: "ADD rootfs.tar /", files: base },
      { command: "RUN make install", files: second },
      { command: "RUN rm -rf /usr/share/d001 && chmod +x /usr/share/d002/s0/*", files: third },
    ],
    { name: "big:latest" },
  );
}
