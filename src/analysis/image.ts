/**
 * Analysis of an image in the store or in a registry (one streaming pass over its layers into a squashed view,
 * keeping the bytes analysis reads: release files, package databases, passwd, loader configuration, shared
 * libraries, the first bytes of executables), or of a root filesystem on the host (`dir:PATH`). A registry image
 * is streamed from the registry and never written to disk: each layer blob is checked against its digest and
 * DiffID as it goes by, and a file the pass did not keep is read again from its layer's blob.
 */
import { asDigest } from "../digest/index.ts";
import { OslessError } from "../errors.ts";
import type { LayerSource } from "../layer/source.ts";
import { buildView } from "../layer/view.ts";
import type { ImageReference } from "../reference/index.ts";
import type { Repository } from "../registry/client.ts";
import { isConfigMediaType, MediaType } from "../spec/media-types.ts";
import {
  checkImageConsistency,
  MAX_CONFIG_SIZE,
  type ParsedManifest,
  parseImageConfig,
} from "../spec/parse.ts";
import { formatPlatform, hostPlatform } from "../spec/platform.ts";
import type { ImageConfig, Platform } from "../spec/schemas.ts";
import { openImage } from "../store/images.ts";
import { imageLayers } from "../store/layers.ts";
import type { Store } from "../store/layout.ts";
import { type Analysis, analyzeFiles, wholeElf } from "./analyze.ts";
import { DirFiles } from "./dir-files.ts";
import { type EntrypointConfig, imagePath } from "./entrypoint.ts";
import { COPYRIGHT_CAP, copyrightLicense } from "./packages/dpkg.ts";
import { type KeptFile, ViewFiles } from "./view-files.ts";

export interface AnalyzedImage extends Analysis {
  image: {
    /** What was analysed: the image's name, or "dir:PATH". */
    source: string;
    name: string | null;
    /** Manifest digest and image ID (config digest); null for a directory. */
    digest: string | null;
    id: string | null;
    platform: string | null;
  };
}

/** Files whose whole content analysis reads (paths normalised, no leading "/"). */
const METADATA =
  /^(etc\/(os-release|[a-z]+-release|system-release(-cpe)?|debian_version|alpine-release|lsb-release|passwd|group|shells|ld\.so\.cache|ld\.so\.conf(\.d\/.*)?|ld-musl-[^/]+\.path|apk\/repositories|ssl\/certs\/ca-certificates\.crt|pki\/tls\/certs\/ca-bundle\.crt|ssl\/cert\.pem)|usr\/lib\/os-release|var\/lib\/dpkg\/(status|status\.d\/.*|info\/[^/]+\.list)|(usr\/)?lib\/apk\/db\/installed|(var\/lib|usr\/lib\/sysimage|usr\/share)\/rpm\/(Packages|Packages\.db|rpmdb\.sqlite(-wal)?)|usr\/share\/doc\/[^/]+\/copyright|var\/lib\/chisel\/manifest\.wall)$/;
/** Shared libraries and loaders: read whole during the pass and kept as their ELF reading. */
const LIBRARY = /(^|\/)(ld-[^/]*\.so[^/]*|lib[^/]*\.so(\.[0-9]+)*|busybox)$/;
/** ...but these are kept as bytes: the inventory reads glibc's and busybox's version strings from them. */
const KEEP_BYTES = /(^|\/)(libc\.so\.6|libc-2\.\d+\.so|busybox)$/;
const COPYRIGHT = /^usr\/share\/doc\/[^/]+\/copyright$/;
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
      return shared ? Buffer.from(bytes) : bytes;
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

/** Analyse an image of the store (name, ID or digest). */
export async function analyzeStoreImage(
  store: Store,
  input: string,
  opts: AnalyzeImageOptions = {},
): Promise<AnalyzedImage> {
  const img = await openImage(store, input, opts.platform);
  const c = img.config.config;
  const analysis = await analyzeLayers(imageLayers(store, img), c, opts.signal);
  return {
    image: {
      source: input,
      name: img.name ?? null,
      digest: img.manifest.digest,
      id: img.config.digest,
      platform: formatPlatform(c),
    },
    ...analysis,
  };
}

/**
 * Analyse an image in a registry without writing anything to disk. The reference is resolved as `pull` does (an
 * index: the platform asked for, else the host's), the config read into memory (size-capped, digest-checked), and
 * the layers streamed from the registry into the squashed view: `layerTar` checks each blob's size and digest
 * and its DiffID, so a registry serving wrong bytes fails with E_DIGEST_MISMATCH. The repository's client must
 * stay open until this returns (the view may read a file again from its layer).
 */
export async function analyzeRegistryImage(
  repo: Repository,
  ref: ImageReference,
  opts: AnalyzeImageOptions & { source?: string | undefined } = {},
): Promise<AnalyzedImage> {
  const label = ref.toString();
  const top = await repo.getManifest(ref.digest ?? (ref.tag as string));
  const m: ParsedManifest =
    top.kind === "index" ? await repo.platformManifest(top, opts.platform ?? hostPlatform(), label) : top;
  const cfgDesc = m.manifest.config;
  if (!isConfigMediaType(cfgDesc.mediaType)) {
    throw new OslessError(
      "E_MEDIA_TYPE_UNKNOWN",
      `${label}: config media type ${cfgDesc.mediaType} is not an image config`,
      {
        hint: `this is an artifact, not a container image (image configs are ${MediaType.OCI_CONFIG} or ${MediaType.DOCKER_CONFIG})`,
        details: { mediaType: cfgDesc.mediaType },
      },
    );
  }
  const config = parseImageConfig(await repo.readBlob(cfgDesc, MAX_CONFIG_SIZE, "config"), {
    expected: cfgDesc,
    where: `${label} config`,
  });
  const c = config.config;
  checkImageConsistency(m.manifest, c, label);
  const layers: LayerSource[] = m.manifest.layers.map((descriptor, index) => ({
    index,
    descriptor,
    diffId: asDigest(c.rootfs.diff_ids[index]!, `${label} diff_ids[${index}]`),
    // Not verified here: layerTar hashes the blob and the uncompressed tar while the view reads them.
    open: () => repo.blob(descriptor, { verify: false }, `layer ${index + 1}`),
  }));
  const analysis = await analyzeLayers(layers, c, opts.signal);
  return {
    image: {
      source: opts.source ?? `docker://${label}`,
      name: label,
      digest: m.digest,
      id: config.digest,
      platform: formatPlatform(c),
    },
    ...analysis,
  };
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
