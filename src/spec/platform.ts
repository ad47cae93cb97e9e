/**
 * Platforms: parse / normalise / format (containerd `platforms` semantics), the host default, matching and selection
 * from an index with containerd's fallback order (registry-rules.md "Platform selection").
 */
import { OslessError } from "../errors.ts";
import { isIndexMediaType, isManifestMediaType } from "./media-types.ts";
import type { Descriptor, Platform } from "./schemas.ts";

const COMPONENT = /^[A-Za-z0-9_.-]+$/;
const KNOWN_OS = new Set([
  "aix",
  "android",
  "darwin",
  "dragonfly",
  "freebsd",
  "hurd",
  "illumos",
  "ios",
  "js",
  "linux",
  "nacl",
  "netbsd",
  "openbsd",
  "plan9",
  "solaris",
  "wasip1",
  "windows",
  "zos",
]);

function usage(s: string, why: string): OslessError {
  return new OslessError("E_USAGE", `platform "${s}" is invalid: ${why}`, {
    hint: 'a platform looks like "linux/amd64", "linux/arm64/v8", "linux/arm/v7" or "arm64"',
  });
}

/**
 * Parse `os[(os.version)]/arch[/variant]`, `arch` (os linux) or a bare known OS (host architecture), normalised:
 * `linux/aarch64` -> linux/arm64, `armhf` -> linux/arm/v7.
 */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().split("/");
  if (parts.length > 3) throw usage(s, "too many components (at most os/arch/variant)");
  let osVersion: string | undefined;
  const first = parts[0] ?? "";
  const m = /^([^()]*)\(([^()]*)\)$/.exec(first);
  if (m) {
    parts[0] = m[1] ?? "";
    osVersion = m[2];
  }
  for (const p of parts) {
    if (!COMPONENT.test(p)) throw usage(s, p === "" ? "empty component" : `"${p}" has invalid characters`);
  }
  let p: Platform;
  if (parts.length === 1) {
    const only = parts[0]!.toLowerCase();
    if (KNOWN_OS.has(only)) {
      const host = hostPlatform();
      p = { os: only, architecture: host.architecture, ...(host.variant ? { variant: host.variant } : {}) };
    } else p = { os: "linux", architecture: parts[0]! };
  } else {
    p = { os: parts[0]!, architecture: parts[1]! };
    if (parts[2] !== undefined) p.variant = parts[2];
  }
  if (osVersion !== undefined && osVersion !== "") p["os.version"] = osVersion;
  return normalizePlatform(p);
}

function normalizeArch(arch: string, variant: string): [string, string] {
  const a = arch.toLowerCase();
  let v = variant.toLowerCase();
  switch (a) {
    case "i386":
    case "386":
      return ["386", ""];
    case "x86_64":
    case "x86-64":
    case "amd64":
      return ["amd64", v === "v1" ? "" : v];
    case "aarch64":
    case "arm64":
      if (v === "8" || v === "v8" || v === "v8.0") v = "";
      else if (v === "9" || v === "9.0" || v === "v9.0") v = "v9";
      else if (/^[0-9]/.test(v)) v = `v${v}`;
      return ["arm64", v];
    case "armhf":
      return ["arm", "v7"];
    case "armel":
      return ["arm", "v6"];
    case "arm":
      if (v === "" || v === "7") v = "v7";
      else if (/^[0-9]+$/.test(v)) v = `v${v}`;
      return ["arm", v];
    default:
      return [a, v];
  }
}

/** containerd's Normalize: canonical architecture/variant names, lowercase OS. Other fields are kept. */
export function normalizePlatform(p: Platform): Platform {
  const [architecture, variant] = normalizeArch(p.architecture, p.variant ?? "");
  let os = p.os.toLowerCase();
  if (os === "macos") os = "darwin";
  const out: Platform = { ...p, architecture, os };
  if (variant === "") delete out.variant;
  else out.variant = variant;
  return out;
}

/** `linux/arm64/v8`, `windows(10.0.17763.1)/amd64`. */
export function formatPlatform(p: Platform): string {
  const os = p["os.version"] ? `${p.os}(${p["os.version"]})` : p.os;
  return p.variant ? `${os}/${p.architecture}/${p.variant}` : `${os}/${p.architecture}`;
}

const NODE_ARCH: Record<string, string> = {
  x64: "amd64",
  arm64: "arm64",
  arm: "arm",
  ia32: "386",
  ppc64: "ppc64le",
  s390x: "s390x",
  riscv64: "riscv64",
  loong64: "loong64",
  mips: "mips",
  mipsel: "mipsle",
};

/**
 * The default platform: architecture from `process.arch` (arm variant from Node's build config); OS `linux`
 * (container images are Linux images) except on Windows hosts.
 */
export function hostPlatform(): Platform {
  const architecture = NODE_ARCH[process.arch] ?? process.arch;
  const os = process.platform === "win32" ? "windows" : "linux";
  const p: Platform = { os, architecture };
  if (architecture === "arm") {
    const v = (process.config.variables as Record<string, unknown>).arm_version;
    if (v !== undefined && v !== null && String(v) !== "" && String(v) !== "default")
      p.variant = `v${String(v)}`;
  }
  return normalizePlatform(p);
}

/**
 * Does `have` (an index entry's platform) satisfy `want`? OS and architecture equal; variant and `os.version`
 * equal when `want` has them (after normalisation `arm` means arm/v7, `amd64` and `arm64` ask for no variant); `want`'s `os.features` a subset of `have`'s. Both sides are normalised first.
 */
export function platformMatches(want: Platform, have: Platform): boolean {
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  if (w.os !== h.os || w.architecture !== h.architecture) return false;
  if (w.variant !== undefined && w.variant !== (h.variant ?? "")) return false;
  if (w["os.version"] !== undefined && w["os.version"] !== h["os.version"]) return false;
  const features = w["os.features"] ?? [];
  const haveFeatures = new Set(h["os.features"] ?? []);
  return features.every((f) => haveFeatures.has(f));
}

/** `want` itself, then the platforms it can also run, best first (containerd platform vectors). */
export function platformFallbacks(want: Platform): Platform[] {
  const w = normalizePlatform(want);
  const base: Platform = { ...w };
  delete base.variant;
  const at = (architecture: string, variant: string): Platform => {
    const p: Platform = { ...base, architecture };
    if (variant !== "") p.variant = variant;
    return p;
  };
  const out: Platform[] = [];
  const variant = w.variant ?? "";
  switch (w.architecture) {
    case "amd64": {
      const n = /^v([0-9]+)$/.exec(variant);
      if (n) for (let i = Number(n[1]); i >= 2; i--) out.push(at("amd64", `v${i}`));
      else if (variant !== "") out.push(at("amd64", variant));
      out.push(at("amd64", ""), at("386", ""));
      break;
    }
    case "arm": {
      const n = /^v([0-9]+)$/.exec(variant);
      if (n) for (let i = Number(n[1]); i >= 5; i--) out.push(at("arm", `v${i}`));
      else out.push(at("arm", variant));
      break;
    }
    case "arm64": {
      const n = /^v([0-9]+)(?:\.([0-9]+))?$/.exec(variant);
      if (!n) {
        out.push(at("arm64", variant));
        if (variant !== "") out.push(at("arm64", ""));
        break;
      }
      const major = Number(n[1]);
      const minor = Number(n[2] ?? 0);
      if (major === 9) {
        for (let i = minor; i >= 1; i--) out.push(at("arm64", `v9.${i}`));
        out.push(at("arm64", "v9"));
        // arm64 v9.x implements v8.(x+5).
        for (let i = Math.min(minor + 5, 9); i >= 1; i--) out.push(at("arm64", `v8.${i}`));
      } else if (major === 8) {
        for (let i = minor; i >= 1; i--) out.push(at("arm64", `v8.${i}`));
      } else out.push(at("arm64", variant));
      out.push(at("arm64", ""));
      break;
    }
    default:
      out.push(w);
  }
  return out;
}

const DEFAULT_CHILD_PLATFORM: Platform = { os: "linux", architecture: "amd64" };

function samePlatform(a: Platform, b: Platform): boolean {
  return a.os === b.os && a.architecture === b.architecture && (a.variant ?? "") === (b.variant ?? "");
}

/**
 * Pick the best index entry for `want`: exact match first, then containerd's fallbacks (amd64/v3 -> v2 -> v1 -> 386,
 * arm/v7 -> v6 -> v5, arm64/v9.x -> ... -> v8), ties broken by index order. An entry whose variant `want` did not ask
 * for (linux/amd64 vs an amd64/v2 entry) ranks after the same architecture's fallbacks and before other
 * architectures. Entries without `platform` count as linux/amd64; entries of unknown media types are skipped.
 * No match -> E_PLATFORM_NOT_FOUND listing what is available.
 */
export function selectPlatform(want: Platform, candidates: Descriptor[]): Descriptor {
  const w = normalizePlatform(want);
  const vector = platformFallbacks(w);
  const sameArch = vector.filter((p) => p.architecture === w.architecture).length;
  let best: { rank: number; d: Descriptor } | undefined;
  for (const d of candidates) {
    if (!isManifestMediaType(d.mediaType) && !isIndexMediaType(d.mediaType)) continue;
    const have = normalizePlatform(d.platform ?? DEFAULT_CHILD_PLATFORM);
    let rank = vector.findIndex((p) => samePlatform(p, have) && platformMatches(p, have));
    if (rank === -1 && platformMatches(want, have)) rank = sameArch - 0.5;
    if (rank === -1) continue;
    if (best === undefined || rank < best.rank) best = { rank, d };
  }
  if (best) return best.d;
  const available = [
    ...new Set(
      candidates.map(
        (d) =>
          `${formatPlatform(d.platform ?? DEFAULT_CHILD_PLATFORM)}${d.platform ? "" : " (no platform: assumed)"}`,
      ),
    ),
  ];
  throw new OslessError(
    "E_PLATFORM_NOT_FOUND",
    `no image for platform ${formatPlatform(w)}; available: ${available.length ? available.join(", ") : "none"}`,
    {
      hint: "choose one of the available platforms with --platform",
      details: { wanted: formatPlatform(w), available },
    },
  );
}
