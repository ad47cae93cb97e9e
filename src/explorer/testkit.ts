/**
 * An in-memory `ExplorerModel` for the explorer's view tests (terminal UI, web server, web page in a browser):
 * `fakeModel(layers, opts)` from what each layer writes, `bigModel(n)` for the terminal UI's work-per-key tests.
 *
 * Independent of src/explorer/model.ts on purpose, imports included: the stacking, dive's markers and the
 * directory sizes of the trees, and the figures, are worked out again here from plain path maps, the plainest
 * way (a whole map per layer, one recursive pass over a tree). The views are then tested against dive's rules
 * as written below, not against what model.ts happens to compute; test/e2e/explore-web.test.ts runs one scenario
 * on this double and on the real model, a cross-check only because the two share no tree code; and a broken
 * model.ts cannot take the views' tests down with it (that e2e test imports it only where it needs it). What is
 * plumbing comes from elsewhere: the UTF-8 name order (`compareNames`), the error type.
 *
 * Rules:
 * - Layers stack in order. A layer maps paths (no leading "/") to what it writes there; `null` removes the path
 *   and everything below it (a whiteout), and a non-directory written over a directory removes what was below.
 *   Missing parents are made as 0755 root:root directories.
 * - A regular file is given by its bytes, or by its size alone (it reads back as that many "a"s), so that a
 *   200k-file model stays small. A hard link has size 0 and reads its target's bytes.
 * - Trees: layer 0 marks nothing; "layer" compares with the stack below the layer, "aggregated" with layer 0.
 *   Unmodified iff type, content (bytes, link target), mode, uid and gid are equal; a directory with a changed
 *   child is modified; below a removed directory everything is removed; a directory's size is the sum of its
 *   children's, the removed ones left out unless it is removed itself; a removed node's layer is the last layer
 *   that removed it. `treeBuilds` counts the trees built (each (layer, mode) once).
 * - A layer's figures: size is its regular files' bytes, entries its paths (whiteouts included); added and
 *   modified count its paths (not the parents it made) new or changed against the stack below; removed counts
 *   every path it removed. `command` is the history's created_by (so `createdBy`), cleaned as dive cleans it.
 * - dive's figures from the regular files written, by path (every copy counted); the exact ones from the final
 *   stack, each hidden copy a waste item (deleted, overwritten, or metadata-only when the bytes are the same).
 */
import { createHash } from "node:crypto";
import { OslessError } from "../errors.ts";
import { compareNames } from "../layer/view-tree.ts";
import type { TarType } from "../tar/index.ts";
import type {
  CompareMode,
  DiveMetrics,
  ExactMetrics,
  ExplorerLayer,
  ExplorerModel,
  FileChange,
  FileNode,
  FileTree,
  Marker,
  WasteCause,
  WasteItem,
} from "./types.ts";

export type FakeFile =
  | string
  | Buffer
  | { data?: string | Buffer; size?: number; mode?: number; uid?: number; gid?: number }
  | { symlink: string }
  | { hardlink: string }
  | { dir: true; mode?: number; uid?: number; gid?: number };

export interface FakeLayer {
  /** The history's created_by ("/bin/sh -c " and "#(nop) " are taken off for `command`). */
  command?: string;
  /** Path (no leading "/") to what the layer writes there; `null` removes it (a whiteout). */
  files: Record<string, FakeFile | null> | Map<string, FakeFile | null>;
}

export interface FakeModelOptions {
  /** The image's name (and source); none by default. */
  name?: string;
  /** Replace computed figures (tests of the Image Details pane). */
  dive?: Partial<DiveMetrics>;
  exact?: Partial<ExactMetrics>;
}

export interface FakeModel extends ExplorerModel {
  treeBuilds: number;
}

interface Item {
  type: TarType;
  /** Regular files: the content's size (0 for a hard link). */
  size: number;
  /** Equal strings, equal content: a digest of the bytes, the size for content given by size, the link. */
  content: string;
  data: Buffer | null;
  mode: number;
  uid: number;
  gid: number;
  linkTarget?: string;
  hardlinkTo?: string;
  layer: number;
}

type Stack = Map<string, Item>;

const CHUNK = 65536;

function digestOf(s: string | Buffer): `sha256:${string}` {
  return `sha256:${createHash("sha256").update(s).digest("hex")}`;
}

function directory(layer: number, mode = 0o755, uid = 0, gid = 0): Item {
  return { type: "directory", size: 0, content: "", data: null, mode, uid, gid, layer };
}

function toItem(f: FakeFile, layer: number): Item {
  const plain = { data: null, mode: 0o644, uid: 0, gid: 0, layer };
  if (typeof f === "string" || Buffer.isBuffer(f)) return toItem({ data: f }, layer);
  if ("symlink" in f)
    return {
      ...plain,
      type: "symlink",
      size: 0,
      content: `-> ${f.symlink}`,
      mode: 0o777,
      linkTarget: f.symlink,
    };
  if ("hardlink" in f)
    return { ...plain, type: "file", size: 0, content: `= ${f.hardlink}`, hardlinkTo: f.hardlink };
  if ("dir" in f) return directory(layer, f.mode, f.uid, f.gid);
  const data = f.data === undefined ? null : Buffer.from(f.data);
  const size = data?.length ?? f.size ?? 0;
  return {
    ...plain,
    type: "file",
    size,
    content: data ? digestOf(data) : `${size} bytes`,
    data,
    mode: f.mode ?? 0o644,
    uid: f.uid ?? 0,
    gid: f.gid ?? 0,
  };
}

function same(a: Item, b: Item): boolean {
  return (
    a.type === b.type && a.content === b.content && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid
  );
}

function parentOf(path: string): string {
  return path.slice(0, Math.max(0, path.lastIndexOf("/")));
}

/** dive's command: created_by without a leading "/bin/sh -c " and "#(nop) ". */
function cleanCommand(createdBy: string | undefined): string {
  return (createdBy ?? "")
    .trim()
    .replace(/^\/bin\/sh -c /, "")
    .trim()
    .replace(/^#\(nop\) /, "")
    .trim();
}

/** An `ExplorerModel` over `layers` (base first). */
export function fakeModel(layers: FakeLayer[], opts: FakeModelOptions = {}): FakeModel {
  const stacks: Stack[] = [];
  /** As of each layer: the last layer that removed each path. */
  const removedBy: Map<string, number>[] = [];
  const infos: ExplorerLayer[] = [];
  const changesByLayer: FileChange[][] = [];
  const copies = new Map<string, { cumulative: number; min: number; count: number }>();
  const waste: WasteItem[] = [];
  let cur: Stack = new Map();
  let removed = new Map<string, number>();
  for (const [i, layer] of layers.entries()) {
    const below = cur;
    cur = new Map(cur);
    removed = new Map(removed);
    const counts = { added: 0, modified: 0, removed: 0 };
    const changed: FileChange[] = [];
    changesByLayer.push(changed);
    let size = 0;
    const hidden = (path: string, it: Item, cause: WasteCause) => {
      if (it.type === "file" && it.size > 0)
        waste.push({ path, bytes: it.size, cause, layer: it.layer, by: i });
    };
    const remove = (path: string, self: boolean) => {
      for (const [k, it] of cur)
        if ((self && k === path) || k.startsWith(`${path}/`)) {
          cur.delete(k);
          removed.set(k, i);
          counts.removed++;
          changed.push({ path: k, change: "removed", type: it.type, size: it.type === "file" ? it.size : 0 });
          hidden(k, it, "deleted");
        }
    };
    const files = layer.files instanceof Map ? layer.files : new Map(Object.entries(layer.files));
    for (const [path, f] of files) {
      if (f === null) {
        remove(path, true);
        continue;
      }
      const item = toItem(f, i);
      size += item.size;
      if (item.type === "file" && item.hardlinkTo === undefined) {
        const c = copies.get(path) ?? { cumulative: 0, min: item.size, count: 0 };
        c.cumulative += item.size;
        c.min = Math.min(c.min, item.size);
        c.count++;
        copies.set(path, c);
      }
      for (let p = parentOf(path); p !== "" && cur.get(p)?.type !== "directory"; p = parentOf(p))
        cur.set(p, directory(i));
      const old = cur.get(path);
      if (old?.type === "directory" && item.type !== "directory") remove(path, false);
      if (old) hidden(path, old, old.content === item.content ? "metadata-only" : "overwritten");
      const was = below.get(path);
      const fc = { path, type: item.type, size: item.type === "file" ? item.size : 0 };
      if (!was) {
        counts.added++;
        changed.push({ ...fc, change: "added" });
      } else if (!same(was, item)) {
        counts.modified++;
        changed.push({ ...fc, change: "modified" });
      }
      cur.set(path, item);
      removed.delete(path);
    }
    stacks.push(cur);
    removedBy.push(removed);
    const diffId = digestOf(`${i}:${JSON.stringify([...files.keys()])}`);
    infos.push({
      index: i,
      digest: digestOf(`blob ${diffId}`),
      mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
      compressedSize: Math.round(size / 3),
      diffId,
      size,
      entries: files.size,
      command: cleanCommand(layer.command),
      createdBy: layer.command ?? null,
      created: "2024-01-01T00:00:00Z",
      comment: null,
      ...counts,
    });
  }
  const final = stacks[stacks.length - 1] ?? new Map<string, Item>();

  let sumMin = 0;
  let sumCumulative = 0;
  const inefficient: DiveMetrics["inefficient"] = [];
  for (const [path, c] of copies) {
    sumMin += c.min;
    sumCumulative += c.cumulative;
    if (c.count >= 2) inefficient.push({ file: `/${path}`, count: c.count, sizeBytes: c.cumulative });
  }
  inefficient.sort((a, b) => b.sizeBytes - a.sizeBytes);
  const sizeBytes = infos.reduce((s, l) => s + l.size, 0);
  const userSizeBytes = sizeBytes - (infos[0]?.size ?? 0);
  const diveWasted = inefficient.reduce((s, e) => s + e.sizeBytes, 0);
  let finalBytes = 0;
  for (const it of final.values()) if (it.type === "file") finalBytes += it.size;
  const wastedBytes = sizeBytes - finalBytes;
  waste.sort((a, b) => b.bytes - a.bytes);
  const byCause: Record<WasteCause, number> = { overwritten: 0, deleted: 0, "metadata-only": 0 };
  for (const w of waste) byCause[w.cause] += w.bytes;

  const stackAt = (layer: number): Stack => {
    const s = Number.isInteger(layer) ? stacks[layer] : undefined;
    if (s === undefined)
      throw new OslessError("E_NOT_FOUND", `no layer ${layer}: the image has ${stacks.length}`);
    return s;
  };
  const cache = new Map<string, FileTree>();
  const model: FakeModel = {
    treeBuilds: 0,
    image: {
      source: opts.name ?? "fake",
      name: opts.name ?? null,
      digest: null,
      id: digestOf(JSON.stringify(infos.map((l) => l.diffId))),
      platform: "linux/amd64",
    },
    layers: infos,
    metrics: {
      dive: {
        efficiency: sumCumulative === 0 ? 1 : sumMin / sumCumulative,
        sizeBytes,
        userSizeBytes,
        wastedBytes: diveWasted,
        userWastedPercent: diveWasted / userSizeBytes,
        inefficient,
        ...opts.dive,
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
        ...opts.exact,
      },
    },
    tree(layer: number, mode: CompareMode): FileTree {
      const top = stackAt(layer);
      const key = `${layer}:${mode}`;
      let t = cache.get(key);
      if (!t) {
        model.treeBuilds++;
        const bottom = layer === 0 ? null : stacks[mode === "layer" ? layer - 1 : 0]!;
        t = compare(top, bottom, removedBy[layer]!);
        cache.set(key, t);
      }
      return t;
    },
    readFile(path: string, layer = stacks.length - 1): AsyncIterable<Buffer> {
      const stack = stackAt(layer);
      const clean = path.replace(/^\/+/, "");
      const it = stack.get(clean);
      if (it?.type !== "file")
        throw new OslessError("E_NOT_FOUND", `no regular file /${clean} at layer ${layer}`);
      const target = it.hardlinkTo === undefined ? it : stack.get(it.hardlinkTo);
      return bytesOf(target?.data ?? null, target?.size ?? 0);
    },
    largest(n: number) {
      const files: { path: string; size: number; layer: number }[] = [];
      for (const [path, it] of final)
        if (it.type === "file") files.push({ path, size: it.size, layer: it.layer });
      files.sort((a, b) => b.size - a.size || compareNames(a.path, b.path));
      return files.slice(0, n);
    },
    rawEntries: () => [],
    changes(layer: number) {
      stackAt(layer);
      return [...changesByLayer[layer]!].sort((a, b) => compareNames(a.path, b.path));
    },
  };
  return model;
}

/** A file's bytes in chunks; content given by size alone is that many "a"s. */
async function* bytesOf(data: Buffer | null, size: number): AsyncGenerator<Buffer> {
  if (data) {
    for (let o = 0; o < data.length; o += CHUNK) yield data.subarray(o, o + CHUNK);
    return;
  }
  for (let left = size; left > 0; left -= CHUNK) yield Buffer.alloc(Math.min(left, CHUNK), 0x61);
}

/** The tree of `top` with dive's markers against `bottom` (null: layer 0, nothing marked). */
function compare(top: Stack, bottom: Stack | null, removedBy: Map<string, number>): FileTree {
  const nodes = new Map<string, FileNode>();
  const place = (path: string, it: Item, marker: Marker, layer: number) => {
    const { type, mode, uid, gid } = it;
    const name = path.slice(path.lastIndexOf("/") + 1);
    const n: FileNode = {
      name,
      path,
      type,
      size: type === "file" ? it.size : 0,
      mode,
      uid,
      gid,
      marker,
      layer,
    };
    if (it.linkTarget !== undefined) n.linkTarget = it.linkTarget;
    if (it.hardlinkTo !== undefined) n.hardlinkTo = it.hardlinkTo;
    if (it.type === "directory") n.children = [];
    nodes.set(path, n);
  };
  place("", directory(0), "unmodified", 0);
  for (const [path, it] of top) {
    const b = bottom?.get(path);
    const marker = !bottom ? "unmodified" : !b ? "added" : same(b, it) ? "unmodified" : "modified";
    place(path, it, marker, it.layer);
  }
  for (const [path, it] of bottom ?? [])
    if (!top.has(path)) place(path, it, "removed", removedBy.get(path) ?? it.layer);
  // A removed path whose parent is a non-directory now has no place in the tree.
  for (const [path, n] of nodes) if (path !== "") nodes.get(parentOf(path))?.children?.push(n);
  const root = nodes.get("")!;
  settle(root);
  return {
    root,
    get: (path) => nodes.get(path === "." ? "" : path.replace(/^\/+/, "").replace(/\/+$/, "")),
    size: nodes.size - 1,
  };
}

/** dive's rules on `n` and below, children first: removal reaches down, change and size go up. */
function settle(n: FileNode): void {
  if (!n.children) return;
  n.children.sort((a, b) => compareNames(a.name, b.name));
  const gone = n.marker === "removed";
  n.size = 0;
  for (const c of n.children) {
    if (gone) c.marker = "removed";
    settle(c);
    if (gone || c.marker !== "removed") n.size += c.size;
    if (c.marker !== "unmodified" && n.marker === "unmodified") n.marker = "modified";
  }
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
