/**
 * Analysis of an image wherever it is (one streaming pass over its layers into a squashed view, keeping what
 * analysis reads: release files, package databases, passwd, loader configuration, the ELF readings of shared
 * libraries, the first bytes of executables), or of a root filesystem on the host (`dir:PATH`). A registry image
 * is streamed from the registry and never written to disk: each layer blob is checked against its digest and
 * DiffID as it goes by, and a file the pass did not keep is read again from its layer's blob.
 */
import type { LayerSource } from "../layer/source.ts";
import { buildView } from "../layer/view.ts";
import type { ImageConfig, Platform } from "../spec/schemas.ts";
import type { Store } from "../store/layout.ts";
import { type ImageInfo, imageInfo, type OpenSourceOptions, openImageSource } from "../transfer/open.ts";
import { type Analysis, analyzeFiles, wholeElf } from "./analyze.ts";
import { DirFiles } from "./dir-files.ts";
import { type EntrypointConfig, imagePath } from "./entrypoint.ts";
import { executableKind } from "./inventory.ts";
import { COPYRIGHT_CAP, copyrightLicense, dpkgListPaths } from "./packages/dpkg.ts";
import { type KeptFile, ViewFiles } from "./view-files.ts";

export interface AnalyzedImage extends Analysis {
  /** What was analysed. */
  image: ImageInfo;
}

/** Files whose whole content analysis reads (paths normalised, no leading "/"). */
const METADATA =
  /^(etc\/(os-release|[a-z]+-release|system-release(-cpe)?|debian_version|alpine-release|lsb-release|passwd|group|shells|ld\.so\.cache|ld\.so\.conf(\.d\/.*)?|ld-musl-[^/]+\.path|apk\/repositories|ssl\/certs\/ca-certificates\.crt|pki\/tls\/certs\/ca-bundle\.crt|ssl\/cert\.pem)|usr\/lib\/os-release|var\/lib\/dpkg\/(status|status\.d\/.*|info\/[^/]+\.list)|(usr\/)?lib\/apk\/db\/installed|(var\/lib|usr\/lib\/sysimage|usr\/share)\/rpm\/(Packages|Packages\.db|rpmdb\.sqlite(-wal)?)|usr\/share\/doc\/[^/]+\/copyright|var\/lib\/chisel\/manifest\.wall)$/;
/** Shared libraries and loaders: read whole during the pass and kept as their ELF reading. */
const LIBRARY = /(^|\/)(ld-[^/]*\.so[^/]*|lib[^/]*\.so(\.[0-9]+)*|busybox)$/;
/** ...but these are kept as bytes: the inventory reads glibc's and busybox's version strings from them. */
const KEEP_BYTES = /(^|\/)(libc\.so\.6|libc-2\.\d+\.so|busybox)$/;
const COPYRIGHT = /^usr\/share\/doc\/[^/]+\/copyright$/;
const DPKG_LIST = /^var\/lib\/dpkg\/info\/[^/]+\.list$/;
/** ELF files are read whole up to this size (their dynamic section often sits after the code). */
const ELF_MAX = 256 << 20;
const METADATA_MAX = 64 << 20;
/** What is kept of an executable otherwise: enough to tell an ELF program from a #! script. */
const HEAD = 256;

/**
 * What the single pass keeps of each file (ViewOptions.capture and .keep). Release files, package databases and
 * the other metadata: their bytes. Shared libraries and the entrypoint's candidates: read whole, kept as their
 * ELF reading (wholeElf) and first bytes, so that memory holds kilobytes per library, not megabytes, and the
 * closure needs no second pass; glibc and busybox: their bytes. dpkg copyright files: their licence. Every
 * other executable: its first bytes. Parsing as the bytes go by costs little: the main thread mostly waits for
 * decompression during the pass.
 */
export function analysisPass(entrypointHints: string[] = []): {
  capture: (path: string, mode: number, size: number) => number;
  keep: (path: string, bytes: Buffer, size: number, shared: boolean) => KeptFile;
} {
  const hints = new Set(entrypointHints.map((p) => p.replace(/^\/+/, "")));
  const parserOf = (path: string, size: number): ((bytes: Buffer) => unknown) | undefined => {
    if (hints.has(path) || (LIBRARY.test(path) && !KEEP_BYTES.test(path)))
      return size > HEAD ? wholeElf : undefined;
    if (COPYRIGHT.test(path) && size <= COPYRIGHT_CAP) return copyrightLicense;
    if (DPKG_LIST.test(path)) return dpkgListPaths;
    return undefined;
  };
  return {
    capture: (path, mode, size) => {
      if (METADATA.test(path)) return Math.min(size, METADATA_MAX);
      if (hints.has(path) || LIBRARY.test(path)) return size <= ELF_MAX ? size : HEAD;
      return (mode & 0o111) !== 0 ? Math.min(size, HEAD) : 0;
    },
    keep: (path, bytes, size, shared) => {
      const parse = bytes.length === size ? parserOf(path, size) : undefined;
      if (parse !== undefined) {
        return { parse, value: parse(bytes), head: Buffer.from(bytes.subarray(0, HEAD)) };
      }
      const kept = shared ? Buffer.from(bytes) : bytes;
      // Any other executable's first bytes: what it is, for the inventory, besides the bytes.
      if (bytes.length <= HEAD && !METADATA.test(path)) {
        return { parse: executableKind, value: executableKind(kept), head: kept };
      }
      return kept;
    },
  };
}

/**
 * Where the entrypoint's program may be, known before the pass: its path, or for a bare name every PATH
 * directory (normalised like entry names, no leading "/"), so that its bytes are kept and not read again.
 */
export function entrypointCandidates(config: EntrypointConfig): string[] {
  const argv0 = [...(config.entrypoint ?? []), ...(config.cmd ?? [])][0];
  if (!argv0) return [];
  const norm = (p: string) =>
    p
      .split("/")
      .filter((c) => c !== "" && c !== ".")
      .join("/");
  if (argv0.includes("/"))
    return [norm(argv0.startsWith("/") ? argv0 : `${config.workingDir || "/"}/${argv0}`)];
  return imagePath(config.env)
    .split(":")
    .filter((d) => d.startsWith("/"))
    .map((d) => norm(`${d}/${argv0}`));
}

export interface AnalyzeImageOptions {
  platform?: Platform | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * Analyse an image wherever it is (transfer/open.ts): a name in the store; `docker://REF`, streamed from the
 * registry into the view and never written to disk (each layer checked against its digest and DiffID as it goes
 * by; a file the pass did not keep is read again from the registry); `oci:`, `oci-archive:`, `docker-archive:`,
 * verified through a temporary store that is removed afterwards. The user's store is opened only for a name.
 */
export async function analyzeImage(input: string, opts: OpenSourceOptions): Promise<AnalyzedImage> {
  const src = await openImageSource(input, opts);
  try {
    const analysis = await analyzeLayers(src.layers, src.config, opts.signal);
    return {
      image: imageInfo(src),
      ...analysis,
    };
  } finally {
    await src.close();
  }
}

/** Analyse an image of the store (name, ID or digest). */
export function analyzeStoreImage(
  store: Store,
  input: string,
  opts: AnalyzeImageOptions = {},
): Promise<AnalyzedImage> {
  return analyzeImage(input, { store: async () => store, platform: opts.platform, signal: opts.signal });
}

/** One pass over `layers` (base first) into the squashed view, keeping what analysis reads; then the analysis. */
async function analyzeLayers(
  layers: LayerSource[],
  c: ImageConfig,
  signal: AbortSignal | undefined,
): Promise<Analysis> {
  const config: EntrypointConfig = {
    entrypoint: c.config?.Entrypoint ?? null,
    cmd: c.config?.Cmd ?? null,
    env: c.config?.Env ?? null,
    workingDir: c.config?.WorkingDir,
  };
  const view = await buildView(layers, { ...analysisPass(entrypointCandidates(config)), signal });
  return analyzeFiles(new ViewFiles(view, view.captured), config);
}

/** Analyse a root filesystem on the host; `config` says what would run (default: nothing). */
export async function analyzeDirectory(path: string, config: EntrypointConfig = {}): Promise<AnalyzedImage> {
  const { resolve } = await import("node:path");
  const { stat } = await import("node:fs/promises");
  const root = resolve(path);
  const st = await stat(root).catch(() => undefined);
  if (!st?.isDirectory()) {
    const { OslessError } = await import("../errors.ts");
    throw new OslessError("E_NOT_FOUND", `dir:${path}: no such directory`, {
      hint: "give the path of an unpacked root filesystem, e.g. dir:./rootfs (osless unpack IMAGE DIR makes one)",
    });
  }
  const analysis = await analyzeFiles(new DirFiles(root), config);
  return {
    image: { source: `dir:${path}`, name: null, digest: null, id: null, platform: null },
    ...analysis,
  };
}
