/**
 * Test helpers for the squashed-view tests (never used by library code): layers built from tar items in memory
 * (counting opens and bytes pulled), OCI image layouts on disk for umoci (read back as LayerSources with
 * test/fixtures/layout.ts), `umoci unpack`, and comparable dumps of an unpacked rootfs (Python, lstat-based)
 * and of a view.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { putBlob, writeOciLayout } from "../../test/fixtures/layout.ts";
import { digestOf } from "../digest/index.ts";
import { type TarWriteItem, writeTar } from "../tar/index.ts";
import type { LayerSource } from "./source.ts";
import type { SquashedView } from "./view.ts";

export async function tarOf(items: TarWriteItem[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of writeTar(items)) parts.push(c);
  return Buffer.concat(parts);
}

export interface MemLayers {
  sources: LayerSource[];
  /** Per layer: how often open() was called and how many blob bytes were pulled from it. */
  stats: { opens: number; pulled: number }[];
  tars: Buffer[];
  blobs: Buffer[];
}

/** Layers from tar items, gzip-compressed unless `gzip: false`; blobs are served in 64 KiB chunks. */
export async function memLayers(layers: TarWriteItem[][], opts: { gzip?: boolean } = {}): Promise<MemLayers> {
  const tars: Buffer[] = [];
  for (const items of layers) tars.push(await tarOf(items));
  return memLayersFromTars(tars, opts);
}

/** Layers from uncompressed tar bytes as given (gzip-compressed unless `gzip: false`). */
export function memLayersFromTars(tars: Buffer[], opts: { gzip?: boolean } = {}): MemLayers {
  const out: MemLayers = { sources: [], stats: [], tars: [], blobs: [] };
  for (const [index, tar] of tars.entries()) {
    const blob = opts.gzip === false ? tar : gzipSync(tar);
    const stats = { opens: 0, pulled: 0 };
    out.tars.push(tar);
    out.blobs.push(blob);
    out.stats.push(stats);
    out.sources.push({
      index,
      descriptor: {
        mediaType: `application/vnd.oci.image.layer.v1.tar${opts.gzip === false ? "" : "+gzip"}`,
        digest: digestOf(blob),
        size: blob.length,
      },
      diffId: digestOf(tar),
      open: async function* () {
        stats.opens++;
        for (let i = 0; i < blob.length; i += 65536) {
          const c = blob.subarray(i, i + 65536);
          stats.pulled += c.length;
          yield c;
        }
      },
    });
  }
  return out;
}

/** A fresh OCI image layout directory holding one image (tag `tag`) whose layers are `layers` (gzip). */
export async function writeLayout(layers: TarWriteItem[][], tag = "latest"): Promise<string> {
  const layout = join(await mkdtemp(join(tmpdir(), "osless-view-")), "oci");
  const written = [];
  for (const items of layers) {
    const tar = await tarOf(items);
    const blob = await putBlob(layout, gzipSync(tar));
    written.push({
      descriptor: { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...blob },
      diffId: digestOf(tar),
    });
  }
  return writeOciLayout(layout, written, {
    tag,
    config: { history: layers.map(() => ({ created_by: "osless view test" })) },
  });
}

/** Fail (never skip) when a tool is missing. */
export function requireTool(cmd: string, debianPackage: string): void {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "pipe" });
  } catch {
    throw new Error(
      `${cmd} is missing: install the Debian package ${debianPackage} (apt-get install -y ${debianPackage})`,
    );
  }
}

/** `umoci unpack` (as root, umask 022) of `layout:tag`; returns the rootfs directory. */
export async function umociUnpack(layout: string, tag = "latest"): Promise<string> {
  requireTool("umoci", "umoci");
  if (process.getuid?.() !== 0)
    throw new Error("the umoci oracle needs root (umoci keeps ownership only as root)");
  const bundle = join(await mkdtemp(join(tmpdir(), "osless-view-umoci-")), "bundle");
  execFileSync(
    "sh",
    ["-c", 'umask 022 && exec umoci unpack --image "$1:$2" "$3"', "sh", layout, tag, bundle],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  return join(bundle, "rootfs");
}

/** What both sides can say about one path. */
export interface Rec {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  link?: string;
  sha256?: string;
  dev?: [number, number];
  xattrs?: Record<string, string>;
  mtime?: number;
  /** Sorted paths sharing this node's inode (hard links), itself included, when there are several. */
  group?: string[];
}

const PY_DUMP = `
import hashlib, json, os, stat, sys
root = sys.argv[1]
def name(b): return b.decode('utf-8', 'replace')
TYPES = [(stat.S_ISREG, 'file'), (stat.S_ISDIR, 'directory'), (stat.S_ISLNK, 'symlink'), (stat.S_ISCHR, 'char'),
         (stat.S_ISBLK, 'block'), (stat.S_ISFIFO, 'fifo')]
out = {}
def add(p, rel):
    st = os.lstat(p)
    t = next((n for f, n in TYPES if f(st.st_mode)), 'other')
    r = {'type': t, 'mode': stat.S_IMODE(st.st_mode), 'uid': st.st_uid, 'gid': st.st_gid, 'ino': st.st_ino,
         'mtime': st.st_mtime}
    if t == 'file':
        h = hashlib.sha256()
        with open(p, 'rb') as f:
            for chunk in iter(lambda: f.read(1 << 20), b''): h.update(chunk)
        r['size'] = st.st_size
        r['sha256'] = h.hexdigest()
    if t == 'symlink': r['link'] = name(os.readlink(p))
    if t in ('char', 'block'): r['dev'] = [os.major(st.st_rdev), os.minor(st.st_rdev)]
    xs = os.listxattr(p, follow_symlinks=False)
    if xs: r['xattrs'] = {x: os.getxattr(p, x, follow_symlinks=False).hex() for x in sorted(xs)}
    out[name(rel)] = r
broot = os.fsencode(root)
add(broot, b'.')
for d, dirs, files in os.walk(broot):
    for n in dirs + files:
        p = os.path.join(d, n)
        add(p, os.path.relpath(p, broot))
json.dump(out, sys.stdout)
`;

function withGroups(recs: Map<string, Rec & { ino?: number }>): Map<string, Rec> {
  const byIno = new Map<number, string[]>();
  for (const [p, r] of recs) {
    if (r.type === "directory") continue;
    const g = byIno.get(r.ino!) ?? [];
    g.push(p);
    byIno.set(r.ino!, g);
  }
  for (const r of recs.values()) {
    const g = r.type === "directory" ? undefined : byIno.get(r.ino!);
    if (g !== undefined && g.length > 1) r.group = [...g].sort();
    delete r.ino;
  }
  return recs;
}

/** lstat-level dump of an unpacked rootfs (Python, so no code of ours is on the oracle side). */
export function dumpRootfs(rootfs: string): Map<string, Rec> {
  requireTool("python3", "python3");
  const raw = JSON.parse(
    execFileSync("python3", ["-c", PY_DUMP, rootfs], { maxBuffer: 1 << 30 }).toString("utf8"),
  ) as Record<string, Rec & { ino: number }>;
  return withGroups(new Map(Object.entries(raw)));
}

/** The same dump of a view (built with `digests: true` for sha256). */
export function dumpView(view: SquashedView): Map<string, Rec> {
  const out = new Map<string, Rec & { ino?: number }>();
  for (const n of view.walk()) {
    const r: Rec & { ino?: number } = {
      type: n.type,
      mode: n.mode,
      uid: n.uid,
      gid: n.gid,
      ino: n.ino,
      mtime: n.mtime,
    };
    if (n.type === "file") {
      r.size = n.size;
      r.sha256 = n.digest?.slice(7) ?? "(no digest)";
    }
    if (n.type === "symlink") r.link = n.linkTarget!;
    if (n.type === "char" || n.type === "block") r.dev = [n.devmajor!, n.devminor!];
    if (n.xattrs !== undefined && n.xattrs.size > 0) {
      r.xattrs = Object.fromEntries(
        [...n.xattrs].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, v.toString("hex")]),
      );
    }
    out.set(n.path, r);
  }
  return withGroups(out);
}

/**
 * Differences between an oracle dump and ours, as readable lines (empty when they agree). Symlink modes are not
 * compared (Linux has none); mtimes are compared for non-directories, and with `dirTimes` for directories that
 * an entry defined.
 */
export function diffDumps(
  oracle: Map<string, Rec>,
  ours: Map<string, Rec>,
  opts: { dirTimes?: boolean; times?: boolean; ignoreTimes?: string[] } = {},
): string[] {
  const lines: string[] = [];
  for (const p of oracle.keys())
    if (!ours.has(p)) lines.push(`only in oracle: ${p} ${JSON.stringify(oracle.get(p))}`);
  for (const p of ours.keys())
    if (!oracle.has(p)) lines.push(`only in view: ${p} ${JSON.stringify(ours.get(p))}`);
  for (const [p, a] of oracle) {
    const b = ours.get(p);
    if (b === undefined) continue;
    const fields: (keyof Rec)[] = ["type", "uid", "gid", "size", "link", "sha256", "dev", "xattrs", "group"];
    if (a.type !== "symlink") fields.push("mode");
    // Directories made implicitly (mtime 0 in the view) get the unpack time on disk.
    const implicit = b.type === "directory" && b.mtime === 0;
    const times = (opts.times ?? true) && !opts.ignoreTimes?.includes(p);
    if (times && (a.type !== "directory" || (opts.dirTimes && !implicit))) fields.push("mtime");
    for (const f of fields) {
      const x = JSON.stringify(a[f]);
      const y = JSON.stringify(b[f]);
      if (x !== y) lines.push(`${p}: ${f} oracle=${x} view=${y}`);
    }
  }
  return lines;
}
