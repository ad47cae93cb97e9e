/**
 * Analysis of an image in the store (one streaming pass over its layers into a squashed view, keeping the bytes
 * analysis reads: release files, package databases, passwd, loader configuration, shared libraries, the first
 * bytes of executables), or of a root filesystem on the host (`dir:PATH`).
 */
import type { LayerSource } from "../layer/source.ts";
import { buildView } from "../layer/view.ts";
import { formatPlatform } from "../spec/platform.ts";
import type { Platform } from "../spec/schemas.ts";
import { openImage } from "../store/images.ts";
import { imageLayers } from "../store/layers.ts";
import type { Store } from "../store/layout.ts";
import { type Analysis, analyzeFiles } from "./analyze.ts";
import { DirFiles } from "./dir-files.ts";
import type { EntrypointConfig } from "./entrypoint.ts";
import { ViewFiles } from "./view-files.ts";

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
/** Shared libraries and loaders: kept whole when small enough, so the closure needs no second pass. */
const LIBRARY = /(^|\/)(ld-[^/]*\.so[^/]*|lib[^/]*\.so(\.[0-9]+)*|busybox)$/;
const LIBRARY_MAX = 8 << 20;
const METADATA_MAX = 64 << 20;

/** What to keep of each regular file during the pass (see ViewOptions.capture). */
export function analysisCapture(
  entrypointHints: string[] = [],
): (path: string, mode: number, size: number) => number {
  const hints = new Set(entrypointHints.map((p) => p.replace(/^\/+/, "")));
  return (path, mode, size) => {
    if (METADATA.test(path)) return Math.min(size, METADATA_MAX);
    if (hints.has(path) || (LIBRARY.test(path) && size <= LIBRARY_MAX)) return size <= LIBRARY_MAX ? size : 0;
    // Executables: enough to tell an ELF program from a #! script.
    return (mode & 0o111) !== 0 ? Math.min(size, 256) : 0;
  };
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
  const layers: LayerSource[] = imageLayers(store, img);
  const c = img.config.config;
  const config: EntrypointConfig = {
    entrypoint: c.config?.Entrypoint ?? null,
    cmd: c.config?.Cmd ?? null,
    env: c.config?.Env ?? null,
    workingDir: c.config?.WorkingDir,
  };
  const argv0 = [...(config.entrypoint ?? []), ...(config.cmd ?? [])][0];
  const view = await buildView(layers, {
    capture: analysisCapture(argv0?.startsWith("/") ? [argv0] : []),
    signal: opts.signal,
  });
  const analysis = await analyzeFiles(new ViewFiles(view, view.captured), config);
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
