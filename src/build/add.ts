/**
 * ADD: COPY plus two things Docker does.
 * - A local source file that is a tar archive (plain, gzip, bzip2, xz or zstd, recognised by its contents, never
 *   by its name: the first block after decompression must be a valid tar header) is extracted into the
 *   destination directory, as `tar -x` would: the archive's entries become layer entries with their own modes,
 *   owners and times (times clamped to SOURCE_DATE_EPOCH; `--chown`/`--chmod` applied when given), later entries
 *   replacing earlier ones. Names that climb out, whiteouts and names that are not UTF-8 are refused. Sources of
 *   `--from` roots and URLs are copied as they are (`unpack: true` extracts a downloaded archive, as
 *   `ADD --unpack=true`).
 * - A http(s) URL is downloaded (node:http, redirects followed) into a scratch directory; `--checksum=sha256:...`
 *   is verified before anything uses the file; the file is mode 0600 with the mtime of the response's
 *   Last-Modified (else now); its name in a destination directory is the last component of the URL's path.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open } from "node:fs/promises";
import type http from "node:http";
import { pipeline } from "node:stream/promises";
import { type Compression, decompress, detectFileCompression } from "../compression/index.ts";
import { Hasher } from "../digest/index.ts";
import { OslessError } from "../errors.ts";
import { checkEntryUtf8, entryRole, normalizeEntryPath, printable } from "../layer/paths.ts";
import type { LayerEntry } from "../layer/write.ts";
import { readTar } from "../tar/index.ts";
import { DirTree, isUrl, type ResolvedSource, resolveSources, type SourceTree } from "./context.ts";
import { type CopyOptions, LayerPlan, placeSources } from "./copy.ts";

// --- archives --------------------------------------------------------------------------------------------------

/** True when `b` starts with a valid tar header block (checksum right, not the zero end-of-archive block). */
export function isTarHeader(b: Uint8Array): boolean {
  if (b.length < 512) return false;
  let zero = true;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const v = i >= 148 && i < 156 ? 0x20 : b[i]!;
    if (b[i] !== 0) zero = false;
    unsigned += v;
    signed += v > 127 ? v - 256 : v;
  }
  if (zero) return false;
  const field = Buffer.from(b.subarray(148, 156))
    .toString("latin1")
    .replace(/[\0 ]+$/, "")
    .trim();
  if (!/^[0-7]+$/.test(field)) return false;
  const sum = Number.parseInt(field, 8);
  return sum === unsigned || sum === signed;
}

/**
 * The compression of `path` when it is a tar archive (plain or compressed), undefined when it is not one (a
 * compressed non-tar, a corrupt stream, a short file: all copied as they are, as Docker does).
 */
export async function detectArchive(path: string): Promise<Compression | undefined> {
  let compression: Compression;
  try {
    compression = await detectFileCompression(path);
  } catch {
    return undefined;
  }
  const parts: Buffer[] = [];
  let have = 0;
  try {
    for await (const c of decompress(createReadStream(path), compression, { what: path })) {
      parts.push(Buffer.from(c));
      have += c.length;
      if (have >= 512) break;
    }
  } catch {
    return undefined;
  }
  return isTarHeader(Buffer.concat(parts)) ? compression : undefined;
}

/** Bodies up to this size stay in memory; larger ones go to a scratch file. */
const BODY_IN_MEMORY = 64 * 1024;

function archiveError(src: ResolvedSource, entry: string, why: string): OslessError {
  return new OslessError(
    "E_ARCHIVE_INVALID",
    `ADD "${src.src}": archive entry "${printable(entry)}" ${why}`,
    {
      hint: "fix the archive, or add it without extraction (ADD --unpack=false, or COPY)",
      details: { source: src.src, entry },
    },
  );
}

let scratchSeq = 0;

/** Extract the archive `src` into the plan's destination directory. */
async function extractArchive(
  plan: LayerPlan,
  src: ResolvedSource,
  scratch: string,
  opts: { maxArchiveSize?: number | undefined; signal?: AbortSignal | undefined },
): Promise<void> {
  const top = plan.resolveDir(plan.destRel);
  plan.ensureDir(top);
  const destRel = plan.destRel;
  const lexical = (p: string) => (destRel === "." ? p : p === "." ? destRel : `${destRel}/${p}`);
  const dir = `${scratch}/archive-${process.pid}-${++scratchSeq}`;
  await mkdir(dir, { recursive: true });
  let n = 0;
  const stream = decompress(createReadStream(src.node.host), src.archive ?? "none", {
    what: `ADD ${src.src}`,
    ...(opts.maxArchiveSize !== undefined ? { maxOutput: opts.maxArchiveSize } : {}),
  });
  for await (const t of readTar(stream)) {
    opts.signal?.throwIfAborted();
    const h = t.header;
    checkEntryUtf8(h);
    const clean = normalizeEntryPath(h.path);
    const role = entryRole(clean);
    if (role.kind !== "normal") {
      throw archiveError(src, h.path, "is a whiteout or overlay marker, which ADD does not apply");
    }
    const owner = plan.owner ?? { uid: h.uid, gid: h.gid };
    let mode = h.mode & 0o7777;
    if (plan.chmod && h.type !== "symlink") mode = plan.chmod(mode, h.type === "directory");
    const mtime = plan.mtime(h.mtime);
    if (clean === ".") {
      if (top !== ".") plan.put({ path: top, type: "directory", mode, ...owner, mtime });
      continue;
    }
    const lex = lexical(clean);
    const path = h.type === "directory" ? plan.resolveDir(lex) : plan.resolveLeaf(lex);
    const e: LayerEntry = { path, type: h.type, mode, uid: owner.uid, gid: owner.gid, mtime };
    if (h.xattrs.size > 0) e.xattrs = new Map(h.xattrs);
    switch (h.type) {
      case "file": {
        if (h.size <= BODY_IN_MEMORY) {
          const now = t.bodyNow();
          if (now !== undefined) e.body = Buffer.from(now);
          else {
            const chunks: Buffer[] = [];
            for await (const c of t.body()) chunks.push(Buffer.from(c));
            e.body = Buffer.concat(chunks);
          }
          e.size = e.body.length;
        } else {
          const file = `${dir}/${++n}`;
          await pipeline(t.body(), createWriteStream(file, { mode: 0o600 }));
          e.source = file;
          e.size = h.size;
        }
        break;
      }
      case "hardlink": {
        const target = normalizeEntryPath(h.linkpath);
        if (target === ".") throw archiveError(src, h.path, "is a hard link to the archive's root");
        const linked = plan.resolveLeaf(lexical(target));
        if (!plan.has(linked)) {
          throw archiveError(
            src,
            h.path,
            `is a hard link to "${printable(h.linkpath)}", which comes before it nowhere in the archive`,
          );
        }
        e.linkpath = linked;
        delete e.xattrs;
        break;
      }
      case "symlink":
        e.linkpath = h.linkpath;
        break;
      case "char":
      case "block":
        e.devmajor = h.devmajor;
        e.devminor = h.devminor;
        break;
      default:
        break;
    }
    plan.put(e);
  }
}

// --- URLs ------------------------------------------------------------------------------------------------------

export interface DownloadOptions {
  /** `--checksum`: "sha256:<hex>"; the download fails unless its bytes have this digest. */
  checksum?: string | undefined;
  /** Give up after this many bytes (default: no limit). */
  maxBytes?: number | undefined;
  /** Seconds: mtime when the response has no Last-Modified (default: now). */
  now?: number | undefined;
  signal?: AbortSignal | undefined;
  /** Redirects followed at most (default 10). */
  maxRedirects?: number | undefined;
}

export interface Downloaded {
  /** The file written (mode 0600). */
  file: string;
  /** The last component of the URL's path (after redirects: the URL as written names it, as BuildKit). */
  name: string;
  /** Seconds: from Last-Modified, else `now`. */
  mtime: number;
  digest: string;
  size: number;
}

/** Parse `--checksum`: only sha256 digests (64 lowercase hex digits) are accepted, as BuildKit. */
export function parseChecksum(checksum: string): string {
  const m = /^sha256:([0-9a-fA-F]{64})$/.exec(checksum);
  if (!m) {
    throw new OslessError("E_DIGEST_INVALID", `--checksum="${checksum}" is not a sha256 digest`, {
      hint: "write --checksum=sha256:<64 hex digits> (sha256 is the only algorithm ADD checks)",
      details: { checksum },
    });
  }
  return `sha256:${m[1]!.toLowerCase()}`;
}

/** The file name a URL gives: the last non-empty component of its path, percent-decoded. */
export function urlFileName(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return "";
  }
  const comps = u.pathname.split("/").filter((c) => c !== "");
  const last = comps.at(-1) ?? "";
  try {
    return decodeURIComponent(last).replace(/\//g, "_");
  } catch {
    return last;
  }
}

function netError(url: string, why: string, cause?: unknown): OslessError {
  return new OslessError("E_NETWORK", `ADD ${url}: ${why}`, {
    hint: "check the URL and that the server answers (ADD downloads without credentials)",
    cause,
    details: { url },
  });
}

async function get(url: URL, signal: AbortSignal | undefined): Promise<http.IncomingMessage> {
  // Loaded here, not at the top: node:http and node:https cost ~5 ms to load, and most builds never download.
  const mod = url.protocol === "https:" ? await import("node:https") : await import("node:http");
  return new Promise((resolve, reject) => {
    const req = mod.get(url, { signal, headers: { "user-agent": "osless-build", accept: "*/*" } }, resolve);
    req.on("error", reject);
  });
}

/** Download `url` into `file` (see the module comment). */
export async function download(url: string, file: string, opts: DownloadOptions = {}): Promise<Downloaded> {
  const expected = opts.checksum === undefined ? undefined : parseChecksum(opts.checksum);
  let u: URL;
  try {
    u = new URL(url);
  } catch (e) {
    throw new OslessError("E_USAGE", `ADD "${url}" is not a valid URL`, {
      hint: "write http(s)://host/path",
      cause: e,
    });
  }
  let res: http.IncomingMessage;
  for (let hops = 0; ; hops++) {
    try {
      res = await get(u, opts.signal);
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      throw netError(url, `cannot connect: ${(e as Error).message}`, e);
    }
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      if (hops >= (opts.maxRedirects ?? 10)) throw netError(url, "too many redirects");
      u = new URL(res.headers.location, u);
      if (u.protocol !== "http:" && u.protocol !== "https:") {
        throw netError(url, `redirected to a ${u.protocol} URL`);
      }
      continue;
    }
    if (status !== 200) {
      res.resume();
      throw netError(url, `the server answered ${status} ${res.statusMessage ?? ""}`.trim());
    }
    break;
  }
  const hasher = new Hasher();
  const max = opts.maxBytes ?? Number.POSITIVE_INFINITY;
  const fh = await open(file, "w", 0o600);
  try {
    for await (const c of res) {
      const b = c as Buffer;
      hasher.update(b);
      if (hasher.size > max) {
        res.destroy();
        throw new OslessError("E_SIZE_LIMIT", `ADD ${url}: the download exceeds ${max} bytes`, {
          hint: "raise the limit or download a smaller file",
          details: { url, limit: max },
        });
      }
      await fh.write(b);
    }
  } catch (e) {
    if (e instanceof OslessError || opts.signal?.aborted) throw e;
    throw netError(url, `the download broke off: ${(e as Error).message}`, e);
  } finally {
    await fh.close();
  }
  const length = res.headers["content-length"];
  if (length !== undefined && Number(length) !== hasher.size) {
    throw netError(url, `the server announced ${length} bytes and sent ${hasher.size}`);
  }
  const digest = hasher.digest();
  if (expected !== undefined && digest !== expected) {
    throw new OslessError(
      "E_DIGEST_MISMATCH",
      `ADD ${url}: checksum mismatch: expected ${expected}, got ${digest}`,
      {
        hint: "the file at the URL is not the one --checksum names: check the URL, or update the checksum if the change is expected",
        details: { url, expected, actual: digest },
      },
    );
  }
  const lm = res.headers["last-modified"];
  const parsed = lm === undefined ? Number.NaN : Date.parse(lm);
  const mtime = Number.isFinite(parsed)
    ? Math.floor(parsed / 1000)
    : Math.floor(opts.now ?? Date.now() / 1000);
  return { file, name: urlFileName(url), mtime, digest, size: hasher.size };
}

// --- ADD -------------------------------------------------------------------------------------------------------

export interface AddSourceOptions {
  /**
   * A directory for downloads (and, later, extracted files), which must exist and live until the layer is
   * written; the caller removes it.
   */
  scratchDir: string;
  /** `--checksum` (URL sources only). */
  checksum?: string | undefined;
  /** `--unpack`: undefined extracts local archives only (Docker's default); true also downloaded ones; false none. */
  unpack?: boolean | undefined;
  /** The sources come from a `--from` root: nothing is extracted unless `unpack` is true. */
  fromRoot?: boolean | undefined;
  /** Download limits and time: see DownloadOptions. */
  maxDownloadBytes?: number | undefined;
  now?: number | undefined;
  signal?: AbortSignal | undefined;
}

let downloadSeq = 0;

/**
 * Resolve ADD's sources: local paths as COPY's (resolveSources), URLs downloaded into `scratchDir`, and each
 * local file that is a tar archive marked for extraction (see the module comment).
 */
export async function resolveAddSources(
  tree: SourceTree,
  sources: readonly string[],
  opts: AddSourceOptions,
): Promise<ResolvedSource[]> {
  const urls = sources.filter(isUrl);
  if (opts.checksum !== undefined) {
    parseChecksum(opts.checksum);
    if (urls.length !== sources.length) {
      throw new OslessError("E_USAGE", "ADD --checksum works with URL sources only", {
        hint: "drop --checksum for local files (their content is part of the build cache already)",
      });
    }
  }
  const out: ResolvedSource[] = [];
  for (const src of sources) {
    if (isUrl(src)) {
      const dir = `${opts.scratchDir}/download-${process.pid}-${++downloadSeq}`;
      await mkdir(dir, { recursive: true });
      const d = await download(src, `${dir}/file`, {
        checksum: opts.checksum,
        maxBytes: opts.maxDownloadBytes,
        now: opts.now,
        signal: opts.signal,
      });
      const dtree = new DirTree(dir, { label: `the download of ${src}`, xattrs: false });
      const node = dtree.resolve("/file", false)!;
      const r: ResolvedSource = { src, tree: dtree, node, name: d.name, url: { url: src, mtime: d.mtime } };
      if (opts.unpack === true) r.archive = await detectArchive(d.file);
      out.push(r);
      continue;
    }
    for (const r of resolveSources(tree, [src], { instruction: "ADD" })) {
      const extract = opts.unpack ?? !opts.fromRoot;
      if (extract && r.node.kind === "file") r.archive = await detectArchive(r.node.host);
      out.push(r);
    }
  }
  return out;
}

export interface AddOptions extends CopyOptions {
  /** Where extracted file bodies are written (must live until the layer is written; the caller removes it). */
  scratchDir: string;
  /** Fail when an archive decompresses to more than this many bytes (default: no limit). */
  maxArchiveSize?: number | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * The layer entries of `ADD <sources> <dest>`: `sources` from resolveAddSources. Archives are extracted into the
 * destination (a directory whatever its spelling), everything else is placed as COPY places it, in source order.
 */
export async function addEntries(
  sources: readonly ResolvedSource[],
  opts: AddOptions,
): Promise<LayerEntry[]> {
  const plan = new LayerPlan({ ...opts, instruction: opts.instruction ?? "ADD" });
  const args = opts.sourceArgs ?? new Set(sources.map((s) => s.src)).size;
  for (const src of sources) {
    if (src.archive !== undefined) await extractArchive(plan, src, opts.scratchDir, opts);
    else placeSources(plan, [src], args, sources.length);
  }
  return plan.entries();
}
