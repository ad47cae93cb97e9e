/**
 * The explorer's JSON exports: dive's `--json` document, field for field (`diveJson`), and osless's own, richer
 * schema (`oslessJson`). Both are pure functions of the model; writing the file is the caller's job.
 */
import type { RawEntry } from "../layer/view.ts";
import type { ExplorerModel } from "./types.ts";

// ---------------------------------------------------------------------------------------------------------------
// dive's export

/**
 * dive's `--json` export (cmd/dive/cli/internal/command/export), with dive's field names in dive's declaration
 * order, indented by two spaces like Go's `json.MarshalIndent(v, "", "  ")`, no trailing newline:
 *
 * ```
 * { "layer": [ { "index", "id", "digestId", "sizeBytes", "command",
 *                "fileList": [ { "path", "typeFlag", "linkName", "size", "fileMode", "uid", "gid", "isDir" } ] } ],
 *   "image": { "sizeBytes", "inefficientBytes", "efficiencyScore", "fileReference": [ { "count", "sizeBytes", "file" } ] } }
 * ```
 *
 * - `id`: the layer's blob digest, hex only. dive uses the layer's tar member name up to the first "/" (the literal
 *   `blobs` for OCI archives, dive issue #620); osless reads layers from a store, not from an archive, so it has no
 *   member name, and the blob digest is what such names are made of in docker-save archives.
 * - `digestId`: the DiffID; `sizeBytes`: dive's layer size (sum of the entries' sizes); `command`: the model's
 *   (created_by without "/bin/sh -c " and "#(nop) "; dive keeps "#(nop) ").
 * - `fileList`: dive's layer tree, built from the layer's tar entries (`model.rawEntries`) as dive builds it and
 *   listed as dive walks it: children before their parent, names in byte order, the root left out. Each entry sits
 *   at its cleaned name (no leading "/"; "." skipped); a name repeated in the layer keeps its last entry; a parent
 *   directory the layer does not contain is listed with dive's empty record (path "", everything 0/false); a name
 *   with a `.wh..wh..` component (opaque whiteout) is dropped, as dive drops it, while `.wh.<name>` whiteouts stay.
 *   `typeFlag` is the tar typeflag byte ("0" = 48 file, "1" = 49 hard link, "2" = 50 symlink, "3" = 51 char device,
 *   "4" = 52 block device, "5" = 53 directory, "6" = 54 FIFO; the old "\0" flag reads as 48, as Go's tar reader
 *   makes it, and so does the rare "7", contiguous file, where dive would show 55); `linkName` the link target; `size` the header size; `fileMode` Go's
 *   `os.FileMode` of the header (`goFileMode`); `isDir` that mode's directory bit.
 * - `image`: dive's figures from `model.metrics.dive`: `inefficientBytes` = wastedBytes, `efficiencyScore` =
 *   efficiency, `fileReference` = the inefficient paths, largest first, with dive's leading "/".
 * - Not a number: JSON has no NaN or Infinity; dive's Go encoder fails on them ("json: unsupported value: NaN") and
 *   writes nothing. osless writes `null` instead (only `efficiencyScore` is a float, and the model keeps it finite).
 * - Strings are escaped as Go's encoder does: "<", ">", "&", U+2028 and U+2029 as \u003c, \u003e, \u0026, \u2028,
 *   \u2029 (so `apt-get update && ...` reads `\u0026\u0026`, as in dive's file).
 */
export function diveJson(model: ExplorerModel): string {
  const d = model.metrics.dive;
  const doc = {
    layer: model.layers.map((l) => ({
      index: l.index,
      id: digestHex(l.digest),
      digestId: l.diffId,
      sizeBytes: l.size,
      command: l.command,
      fileList: diveFileList(model.rawEntries(l.index)),
    })),
    image: {
      sizeBytes: d.sizeBytes,
      inefficientBytes: d.wastedBytes,
      efficiencyScore: finite(d.efficiency),
      fileReference: d.inefficient.map((x) => ({
        count: x.count,
        sizeBytes: x.sizeBytes,
        file: rooted(x.file),
      })),
    },
  };
  return goJsonEscape(JSON.stringify(doc, null, 2));
}

/** One record of dive's `fileList` (dive's `filetree.FileInfo`). */
export interface DiveFileInfo {
  path: string;
  typeFlag: number;
  linkName: string;
  size: number;
  fileMode: number;
  uid: number;
  gid: number;
  isDir: boolean;
}

const TYPE_FLAG: Record<RawEntry["type"], number> = {
  file: 0x30,
  hardlink: 0x31,
  symlink: 0x32,
  char: 0x33,
  block: 0x34,
  directory: 0x35,
  fifo: 0x36,
};

/** Go's io/fs FileMode bits (the type bits are the high bits of a uint32). */
export const GO_MODE = {
  dir: 2 ** 31,
  symlink: 2 ** 27,
  device: 2 ** 26,
  namedPipe: 2 ** 25,
  setuid: 2 ** 23,
  setgid: 2 ** 22,
  charDevice: 2 ** 21,
  sticky: 2 ** 20,
} as const;

/**
 * Go's `tar.Header.FileInfo().Mode()` for an entry: the permission bits (0o777), setuid/setgid/sticky as Go's
 * ModeSetuid (1<<23), ModeSetgid (1<<22) and ModeSticky (1<<20), and the type from the typeflag: directory ModeDir
 * (1<<31), symlink ModeSymlink (1<<27), block device ModeDevice (1<<26), char device ModeDevice|ModeCharDevice
 * (1<<26 | 1<<21), FIFO ModeNamedPipe (1<<25); regular files and hard links carry no type bit. (Go also reads type
 * bits from the header's mode field above 0o7777; the tar reader keeps only 0o7777, and real layers set the
 * typeflag anyway.)
 */
export function goFileMode(type: RawEntry["type"], mode: number): number {
  let m = mode & 0o777;
  if (mode & 0o4000) m += GO_MODE.setuid;
  if (mode & 0o2000) m += GO_MODE.setgid;
  if (mode & 0o1000) m += GO_MODE.sticky;
  switch (type) {
    case "directory":
      return m + GO_MODE.dir;
    case "symlink":
      return m + GO_MODE.symlink;
    case "block":
      return m + GO_MODE.device;
    case "char":
      return m + GO_MODE.device + GO_MODE.charDevice;
    case "fifo":
      return m + GO_MODE.namedPipe;
    default:
      return m;
  }
}

/** dive's FileInfo of one tar entry. */
export function diveFileInfo(e: RawEntry): DiveFileInfo {
  const fileMode = goFileMode(e.type, e.mode);
  return {
    path: e.path,
    typeFlag: TYPE_FLAG[e.type],
    linkName: e.linkpath ?? "",
    size: e.size,
    fileMode,
    uid: e.uid,
    gid: e.gid,
    isDir: fileMode >= GO_MODE.dir,
  };
}

/** dive's empty FileInfo, the payload of a parent directory that the layer does not contain. */
const EMPTY_INFO: DiveFileInfo = {
  path: "",
  typeFlag: 0,
  linkName: "",
  size: 0,
  fileMode: 0,
  uid: 0,
  gid: 0,
  isDir: false,
};

interface TreeNode {
  info: DiveFileInfo;
  children: Map<string, TreeNode>;
}

/** dive's layer tree of the entries (`FileTree.AddPath` for each), walked children first with names in byte order. */
export function diveFileList(entries: readonly RawEntry[]): DiveFileInfo[] {
  const root: TreeNode = { info: EMPTY_INFO, children: new Map() };
  for (const e of entries) {
    if (e.path === "." || e.path === "") continue;
    const names = e.path.split("/").filter((n) => n !== "");
    let node = root;
    let dropped = false;
    for (const name of names) {
      let child = node.children.get(name);
      if (child === undefined) {
        // dive never creates a node for an opaque-whiteout name: the rest of the path is dropped.
        if (name.startsWith(".wh..wh..")) {
          dropped = true;
          break;
        }
        child = { info: EMPTY_INFO, children: new Map() };
        node.children.set(name, child);
      }
      node = child;
    }
    if (!dropped && node !== root) node.info = diveFileInfo(e);
  }
  const out: DiveFileInfo[] = [];
  const visit = (node: TreeNode): void => {
    const names = [...node.children.keys()].sort(compareUtf8);
    for (const name of names) {
      const child = node.children.get(name)!;
      visit(child);
      out.push(child.info);
    }
  };
  visit(root);
  return out;
}

/** Go's string order (bytes of the UTF-8 encoding), which differs from JavaScript's for characters above U+FFFF. */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function digestHex(digest: string): string {
  const i = digest.indexOf(":");
  return i < 0 ? digest : digest.slice(i + 1);
}

function rooted(p: string): string {
  return p.startsWith("/") ? p : `/${p}`;
}

function finite(x: number | null): number | null {
  return x !== null && Number.isFinite(x) ? x : null;
}

/** Go's encoding/json escapes these in strings (HTML safety); JSON.stringify does not. */
function goJsonEscape(json: string): string {
  return json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

// ---------------------------------------------------------------------------------------------------------------
// osless's export

/**
 * osless's own export (`osless explore IMAGE --json`), schema `osless.explore/v1`, two-space indent, fields in this
 * order, no trailing newline. New fields may be added in later versions; existing ones keep their name and meaning.
 *
 * ```
 * {
 *   "schema": "osless.explore/v1",
 *   "image": {
 *     "source": string,            what was opened, as the user wrote it
 *     "name": string | null,       the image's name in the store, or the reference
 *     "digest": string | null,     manifest digest
 *     "id": string | null,         image ID (config digest)
 *     "platform": string | null    e.g. "linux/amd64"
 *   },
 *   "layers": [                    base first
 *     {
 *       "index": number,
 *       "digest": string,          blob digest, as the manifest gives it
 *       "mediaType": string,       the blob's media type (its compression: tar, tar+gzip, tar+zstd)
 *       "compressedSize": number,  blob bytes
 *       "diffId": string,          digest of the uncompressed tar
 *       "size": number,            dive's layer size: the sum of the entries' sizes (uncompressed content bytes)
 *       "entries": number,         tar entries, whiteouts included
 *       "command": string,         dive's command: created_by without "/bin/sh -c " and "#(nop) "; "" when unknown
 *       "createdBy": string | null, the history entry's raw created_by
 *       "created": string | null,  its timestamp
 *       "comment": string | null,  its comment
 *       "added": number,           paths the layer added,
 *       "modified": number,        modified,
 *       "removed": number,         and removed (every path below a removed directory counted)
 *       "changes": [               the paths it changed, sorted by path (a rewrite that changes nothing is left out)
 *         { "path": string, "change": "added" | "modified" | "removed", "type": string, "size": number }
 *       ]
 *     }
 *   ],
 *   "metrics": {
 *     "dive": {                    dive's figures, computed as dive does, its accounting defects included
 *       "efficiency": number | null,        1 when nothing is duplicated
 *       "sizeBytes": number,                sum of the layer sizes
 *       "userSizeBytes": number,            sum of the sizes of all layers but the first
 *       "wastedBytes": number,              cumulative size of every path seen in 2 layers or more (every copy)
 *       "userWastedPercent": number | null, wastedBytes / userSizeBytes, a ratio (0.25 = 25 %) that may exceed 1;
 *                                           null where dive's value is not a number (userSizeBytes 0: x/0, 0/0)
 *       "inefficient": [ { "file": string, "count": number, "sizeBytes": number } ]   largest first
 *     },
 *     "exact": {                   osless's corrected figures: what squashing the image would reclaim
 *       "efficiency": number | null,        finalBytes / totalBytes (1 when totalBytes is 0)
 *       "totalBytes": number,               sum of the layer sizes
 *       "finalBytes": number,               bytes of the regular files of the final filesystem, each inode once
 *       "wastedBytes": number,              totalBytes - finalBytes
 *       "baseLayers": number,               layers counted as the base image
 *       "userBytes": number,                sum of the sizes of the layers above the base
 *       "userWastedBytes": number,          wastedBytes minus what the base layers waste on their own
 *       "userWastedPercent": number | null, userWastedBytes / userBytes; null when userBytes is 0
 *       "byCause": { "overwritten": number, "deleted": number, "metadata-only": number },   bytes per cause
 *       "waste": [                          every hidden copy, largest first
 *         { "path": string, "bytes": number,
 *           "cause": "overwritten" | "deleted" | "metadata-only",
 *           "layer": number,                the layer that shipped the bytes
 *           "by": number }                  the layer that hid them
 *       ]
 *     }
 *   }
 * }
 * ```
 *
 * Paths are in-root without a leading "/" (dive's `inefficient` paths included). Numbers that are not finite are
 * written as null (JSON has no NaN or Infinity). Strings are escaped as JSON.stringify does.
 */
export function oslessJson(model: ExplorerModel): string {
  const { image, metrics } = model;
  const d = metrics.dive;
  const x = metrics.exact;
  const doc = {
    schema: "osless.explore/v1",
    image: {
      source: image.source,
      name: image.name,
      digest: image.digest,
      id: image.id,
      platform: image.platform,
    },
    layers: model.layers.map((l) => ({
      index: l.index,
      digest: l.digest,
      mediaType: l.mediaType,
      compressedSize: l.compressedSize,
      diffId: l.diffId,
      size: l.size,
      entries: l.entries,
      command: l.command,
      createdBy: l.createdBy,
      created: l.created,
      comment: l.comment,
      added: l.added,
      modified: l.modified,
      removed: l.removed,
      changes: model.changes(l.index),
    })),
    metrics: {
      dive: {
        efficiency: finite(d.efficiency),
        sizeBytes: d.sizeBytes,
        userSizeBytes: d.userSizeBytes,
        wastedBytes: d.wastedBytes,
        userWastedPercent: finite(d.userWastedPercent),
        inefficient: d.inefficient.map((i) => ({
          file: unrooted(i.file),
          count: i.count,
          sizeBytes: i.sizeBytes,
        })),
      },
      exact: {
        efficiency: finite(x.efficiency),
        totalBytes: x.totalBytes,
        finalBytes: x.finalBytes,
        wastedBytes: x.wastedBytes,
        baseLayers: x.baseLayers,
        userBytes: x.userBytes,
        userWastedBytes: x.userWastedBytes,
        userWastedPercent: finite(x.userWastedPercent),
        byCause: {
          overwritten: x.byCause.overwritten,
          deleted: x.byCause.deleted,
          "metadata-only": x.byCause["metadata-only"],
        },
        waste: x.waste.map((w) => ({
          path: unrooted(w.path),
          bytes: w.bytes,
          cause: w.cause,
          layer: w.layer,
          by: w.by,
        })),
      },
    },
  };
  return JSON.stringify(doc, null, 2);
}

function unrooted(p: string): string {
  return p.replace(/^\/+/, "");
}
