/**
 * Test helpers for the layer writer and producers: stack layers into an OCI image layout and unpack it with
 * umoci (an independent applier that honours whiteouts), and describe trees on disk so two can be compared.
 * Not used by library code.
 */
import { createHash } from "node:crypto";
import { type BigIntStats, lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { putBlob, writeOciLayout } from "../../test/fixtures/layout.ts";
import { LAYER_TAR_FLAGS, needTool, run, tmpdir } from "../../test/fixtures/tools.ts";
import { listXattrs, getXattr as readXattr } from "../_internal/xattr.ts";
import { keepXattr } from "./diff-fs.ts";
import { type LayerEntry, type WrittenLayer, writeLayer } from "./write.ts";

export { needTool, run, tmpdir };

export interface BlobFile {
  file: string;
  written: WrittenLayer;
}

function sha256File(file: string): string {
  return `sha256:${createHash("sha256").update(readFileSync(file)).digest("hex")}`;
}

/**
 * The base layer of `dir`, made by GNU tar + gzip (independent of osless), as a blob with its digests. Times are
 * kept as they are (the fixtures' clamp is left out) so unchanged files keep theirs through the round trip.
 */
export async function gnuTarLayer(dir: string, work: string): Promise<BlobFile> {
  const tar = join(work, `base-${Math.random().toString(36).slice(2)}.tar`);
  const flags = LAYER_TAR_FLAGS.filter((f) => !f.startsWith("--mtime") && f !== "--clamp-mtime");
  await run(needTool("tar", "tar"), ["--create", `--file=${tar}`, ...flags, "-C", dir, "."]);
  const diffId = sha256File(tar);
  const uncompressedSize = lstatSync(tar).size;
  await run(needTool("gzip", "gzip"), ["-n", tar]);
  const file = `${tar}.gz`;
  return {
    file,
    written: {
      descriptor: {
        mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
        digest: sha256File(file) as `sha256:${string}`,
        size: lstatSync(file).size,
      },
      diffId: diffId as `sha256:${string}`,
      entries: 0,
      uncompressedSize,
    },
  };
}

/** `entries` written by osless's layer writer (gzip) to `<work>/<name>`, as a blob with its digests. */
export async function oslessLayer(
  entries: LayerEntry[],
  work: string,
  name = "layer.tgz",
): Promise<BlobFile> {
  const file = join(work, name);
  return { file, written: await writeLayer(entries, file) };
}

/** An OCI layout `<work>/oci` holding one image (tag "t") whose layers are `layers`, base first. */
export async function ociLayout(layers: BlobFile[], work: string): Promise<string> {
  const layout = join(work, "oci");
  await rm(layout, { recursive: true, force: true });
  for (const l of layers) {
    const d = await putBlob(layout, readFileSync(l.file));
    if (d.digest !== l.written.descriptor.digest || d.size !== l.written.descriptor.size) {
      throw new Error(`${l.file}: descriptor says ${l.written.descriptor.digest}, file is ${d.digest}`);
    }
  }
  return writeOciLayout(
    layout,
    layers.map((l) => l.written),
    { tag: "t" },
  );
}

/** `umoci unpack` of the layout's image "t" (as root: owners, devices and xattrs applied); the rootfs path. */
export async function umociUnpack(layout: string, work: string): Promise<string> {
  const bundle = join(work, `bundle-${Math.random().toString(36).slice(2)}`);
  await run(needTool("umoci", "umoci"), ["unpack", "--image", `${layout}:t`, bundle]);
  return join(bundle, "rootfs");
}

/** Stack `layers` and unpack them with umoci: the resulting rootfs. */
export async function applyWithUmoci(layers: BlobFile[], work: string): Promise<string> {
  return umociUnpack(await ociLayout(layers, work), work);
}

/** The layer of `entries` (osless's writer) stacked on the GNU-tar layer of `lower`, unpacked by umoci: the rootfs. */
export async function applyOverLower(entries: LayerEntry[], lower: string, work: string): Promise<string> {
  const base = await gnuTarLayer(lower, work);
  return applyWithUmoci([base, await oslessLayer(entries, work)], work);
}

export interface Described {
  type: string;
  mode: string;
  owner: string;
  /** Regular files: size and sha256; symlinks: target; devices: major,minor. */
  data?: string;
  /** Whole seconds, non-directories only (directory times change as entries come and go). */
  mtime?: number;
  xattrs?: Record<string, string>;
  /** Other paths of the same inode in the tree (hardlinks), sorted. */
  links?: string[];
}

function typeOf(st: BigIntStats): string {
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "dir";
  if (st.isSymbolicLink()) return "symlink";
  if (st.isCharacterDevice()) return "char";
  if (st.isBlockDevice()) return "block";
  if (st.isFIFO()) return "fifo";
  return "socket";
}

/**
 * Every path under `root` (not the root itself) with what a layer must preserve: type, permission bits, owner,
 * content, link target, device numbers, mtime seconds (non-directories), kept xattrs and hardlink peers.
 */
export function describeTree(root: string, opts: { mtimes?: boolean; skip?: (rel: string) => boolean } = {}) {
  const out = new Map<string, Described>();
  const inodes = new Map<string, string[]>();
  const walk = (rel: string) => {
    const abs = rel === "" ? root : join(root, rel);
    for (const name of readdirSync(abs).sort()) {
      const r = rel === "" ? name : `${rel}/${name}`;
      if (opts.skip?.(r)) continue;
      const p = join(root, r);
      const st = lstatSync(p, { bigint: true });
      const d: Described = {
        type: typeOf(st),
        mode: (st.mode & 0o7777n).toString(8),
        owner: `${st.uid}:${st.gid}`,
      };
      if (st.isFile()) d.data = `${st.size} ${createHash("sha256").update(readFileSync(p)).digest("hex")}`;
      if (st.isSymbolicLink()) d.data = readlinkSync(p);
      if (st.isCharacterDevice() || st.isBlockDevice()) d.data = String(st.rdev);
      if (opts.mtimes !== false && !st.isDirectory()) d.mtime = Number(st.mtimeMs / 1000n);
      const x: Record<string, string> = {};
      for (const n of listXattrs(p).sort()) {
        if (keepXattr(n)) x[n] = readXattr(p, n)?.toString("hex") ?? "";
      }
      if (Object.keys(x).length > 0) d.xattrs = x;
      if (!st.isDirectory() && st.nlink > 1n) {
        const k = `${st.dev}:${st.ino}`;
        inodes.set(k, [...(inodes.get(k) ?? []), r]);
        d.links = [k];
      }
      out.set(r, d);
      if (st.isDirectory()) walk(r);
    }
  };
  walk("");
  for (const d of out.values()) {
    if (!d.links) continue;
    const group = inodes.get(d.links[0]!)!;
    if (group.length < 2) delete d.links;
    else d.links = group;
  }
  return out;
}

/** Differences between two described trees, one line each (empty when equal). */
export function treeDiff(want: Map<string, Described>, got: Map<string, Described>): string[] {
  const lines: string[] = [];
  for (const [p, w] of want) {
    const g = got.get(p);
    if (!g) lines.push(`missing: ${p} ${JSON.stringify(w)}`);
    else if (JSON.stringify(w) !== JSON.stringify(g))
      lines.push(`differs: ${p}\n  want ${JSON.stringify(w)}\n  got  ${JSON.stringify(g)}`);
  }
  for (const p of got.keys()) if (!want.has(p)) lines.push(`extra: ${p} ${JSON.stringify(got.get(p))}`);
  return lines;
}

export { tmpdir as tempDir };
