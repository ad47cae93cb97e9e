/**
 * Does this image have an operating system inside? The answer for one filesystem (ImageFiles) and its config:
 * the distribution, the packages, what the entrypoint is and what it needs (its loader and shared libraries,
 * resolved as the image's own loader would), the inventory of OS user-land, and a verdict with its evidence.
 *
 * Verdicts (docs/analyze.md):
 *   full         a user-land: a shell or a package manager of a distribution (not busybox's applets)
 *   busybox      a busybox multi-call binary is the user-land; no distribution package manager
 *   libc-only    shared libraries and OS data (a libc, os-release, a package database), no shell, no package manager
 *   none         nothing of an OS: the entrypoint stands alone (a static program, or one whose libraries are there)
 *   none-broken  nothing of an OS, and the entrypoint cannot start: its loader or a library is missing
 */

import { type ElfInfo, parseElf } from "./elf/index.ts";
import {
  type EntrypointConfig,
  type EntrypointResult,
  type ResolvedProgram,
  resolveEntrypoint,
} from "./entrypoint.ts";
import type { ImageFiles } from "./files.ts";
import { type Inventory, takeInventory } from "./inventory.ts";
import { type Closure, type LinkObject, resolveClosure } from "./ldso/resolve.ts";
import { identifyOs } from "./os/index.ts";
import { catalogPackages, type Package } from "./packages/index.ts";

export type Verdict = "full" | "busybox" | "libc-only" | "none" | "none-broken";

/** ELF files are read whole up to this size to find their dynamic section (it often sits after the code). */
export const ELF_READ = 256 << 20;

export interface EntrypointAnalysis {
  argv: string[];
  /** The file that runs (after PATH lookup and symlinks), or null. */
  path: string | null;
  linkage: "static" | "static-pie" | "dynamic" | "script" | "missing";
  /** PT_INTERP of the program (or of a script's interpreter). */
  interpreter: string | null;
  /** For a script: the interpreter chain, outermost first ("/bin/sh" → "/bin/dash"). */
  scriptInterpreters: string[];
  libraries: { name: string; path: string }[];
  missing: { name: string; neededBy: string }[];
  /** Go build info of the program, when it is a Go program. */
  go?: { version: string; path?: string | undefined; cgo?: boolean | undefined } | undefined;
  rust?: boolean | undefined;
}

export interface Analysis {
  verdict: Verdict;
  /** One sentence for people: the verdict and what the entrypoint needs and does not. */
  summary: string;
  os: {
    id: string | null;
    versionId: string | null;
    prettyName: string | null;
    source: string | null;
  } | null;
  distroless: boolean;
  packages: Pick<Package, "type" | "name" | "version" | "arch" | "source" | "license">[];
  entrypoint: EntrypointAnalysis;
  inventory: Inventory;
  /** What the entrypoint reaches (program, interpreters, loader, libraries) against everything in the image. */
  reachable: { files: number; bytes: number; totalFiles: number; totalBytes: number };
  findings: { code: string; path: string; message: string }[];
}

/** The ELF reading of a whole file (what analysisPass keeps of libraries and of the entrypoint). */
export function wholeElf(bytes: Buffer): ElfInfo | undefined {
  return parseElf(bytes);
}

interface Parsed {
  elf: ElfInfo | undefined;
}

/** Analyse one image filesystem with its config (entrypoint, cmd, env, working dir). */
export async function analyzeFiles(files: ImageFiles, config: EntrypointConfig): Promise<Analysis> {
  const findings: Analysis["findings"] = [];
  const elfCache = new Map<string, Parsed>();
  const loadElf = async (path: string): Promise<ElfInfo | undefined> => {
    const cached = elfCache.get(path);
    if (cached) return cached.elf;
    const known = files.parsed?.(path, wholeElf);
    if (known) {
      elfCache.set(path, { elf: known.value });
      return known.value;
    }
    const st = await files.stat(path);
    const bytes = st?.type === "file" ? await files.read(path, ELF_READ) : undefined;
    const elf = bytes && st ? parseElf(bytes, { fileSize: st.size }) : undefined;
    elfCache.set(path, { elf });
    return elf;
  };

  // The entrypoint's chain (program, loader, libraries) is followed alongside the rest: a file that was not kept
  // during the view's pass is read again from its layer (decompression on the thread pool) while the package
  // databases and the inventory are parsed here.
  const epFindings: Analysis["findings"] = [];
  const [osId, packages, inventory, [entry, ep]] = await Promise.all([
    identifyOs(files),
    catalogPackages(files),
    takeInventory(files),
    resolveEntrypoint(files, config).then(
      async (entry) => [entry, await analyzeEntrypoint(entry, files, config, loadElf, epFindings)] as const,
    ),
  ]);
  for (const f of osId.findings) findings.push(f);
  for (const f of packages.findings) findings.push({ code: f.code, path: f.path, message: f.message });
  for (const f of inventory.findings) findings.push(f);
  for (const f of entry.findings) findings.push(f);
  for (const f of epFindings) findings.push(f);
  const reachable = await reach(files, ep.analysis, inventory);
  const hasPm = inventory.packageManagers.some((p) => !p.busyboxApplet);
  const hasShell = inventory.shells.some((s) => s.target !== inventory.busybox?.path);
  const osData = inventory.libc.flavour !== "none" || osId.os !== null || packages.packages.length > 0;
  let verdict: Verdict;
  if (hasShell || hasPm) verdict = "full";
  else if (inventory.busybox !== null) verdict = "busybox";
  else if (osData) verdict = "libc-only";
  else verdict = ep.broken ? "none-broken" : "none";

  const os = osId.os
    ? { id: osId.os.id, versionId: osId.os.versionId, prettyName: osId.os.prettyName, source: osId.source }
    : null;
  const analysis: Analysis = {
    verdict,
    summary: "",
    os,
    distroless: osId.distroless,
    packages: packages.packages.map((p) => ({
      type: p.type,
      name: p.name,
      version: p.version,
      arch: p.arch,
      source: p.source,
      license: p.license,
    })),
    entrypoint: ep.analysis,
    inventory,
    reachable,
    findings,
  };
  analysis.summary = summarize(analysis, hasShell, hasPm);
  return analysis;
}

async function analyzeEntrypoint(
  entry: EntrypointResult,
  files: ImageFiles,
  config: EntrypointConfig,
  loadElf: (path: string) => Promise<ElfInfo | undefined>,
  findings: Analysis["findings"],
): Promise<{ analysis: EntrypointAnalysis; broken: boolean }> {
  const out: EntrypointAnalysis = {
    argv: entry.argv,
    path: entry.program?.path ?? null,
    linkage: "missing",
    interpreter: null,
    scriptInterpreters: [],
    libraries: [],
    missing: [],
  };
  // Follow scripts to the program that really runs (the last interpreter of the chain).
  let program: ResolvedProgram | null = entry.program;
  let script = false;
  while (program?.kind === "script") {
    script = true;
    const next = program.envProgram ?? program.shebang?.program;
    if (next === undefined) break;
    out.scriptInterpreters.push(next.foundAt ?? next.name);
    program = next;
  }
  if (program === null || program.kind !== "elf" || program.path === null) {
    out.linkage = script ? "script" : "missing";
    return { analysis: out, broken: true };
  }
  const elf = await loadElf(program.path);
  if (elf === undefined) return { analysis: out, broken: true };
  for (const f of elf.findings) findings.push({ code: f.code, path: program.path, message: f.message });
  if (elf.go) out.go = { version: elf.go.version, path: elf.go.path, cgo: elf.go.cgo };
  if (elf.rust) out.rust = true;
  out.interpreter = elf.interpreter ?? null;
  const linkage = elf.linkage === "static" || elf.linkage === "static-pie" ? elf.linkage : "dynamic";
  out.linkage = script ? "script" : linkage;
  const ldPath = config.env
    ?.findLast((e) => e.startsWith("LD_LIBRARY_PATH="))
    ?.slice("LD_LIBRARY_PATH=".length);
  const closure: Closure = await resolveClosure(program.path, elf as LinkObject, {
    files,
    loadElf: async (p) => (await loadElf(p)) as LinkObject | undefined,
    ldLibraryPath: ldPath ? ldPath.split(":").filter(Boolean) : undefined,
    cwd: config.workingDir || "/",
  });
  for (const f of closure.findings) findings.push(f);
  out.libraries = closure.libraries.map((l) => ({ name: l.name, path: l.path }));
  out.missing = closure.missing.map((m) => ({ name: m.name, neededBy: m.neededBy }));
  if (closure.interpreter && closure.interpreter.resolved !== null) {
    out.libraries.unshift({ name: closure.interpreter.path, path: closure.interpreter.resolved });
  }
  const broken =
    (closure.interpreter !== null && closure.interpreter.resolved === null) || closure.missing.length > 0;
  for (const m of closure.missing) {
    findings.push({
      code: "LIBRARY_MISSING",
      path: m.neededBy,
      message: `${m.name}, needed by ${m.neededBy}, is not in the image (looked in ${m.searched.length} places)`,
    });
  }
  return { analysis: out, broken };
}

/** Files and bytes the entrypoint needs: the program, its script interpreters, the loader and the libraries. */
async function reach(
  files: ImageFiles,
  ep: EntrypointAnalysis,
  inv: Inventory,
): Promise<Analysis["reachable"]> {
  const paths = new Set<string>();
  if (ep.path) paths.add(ep.path);
  for (const s of ep.scriptInterpreters) {
    const st = await files.stat(s);
    if (st?.type === "file") paths.add(`/${st.path}`);
  }
  for (const l of ep.libraries) paths.add(l.path);
  let bytes = 0;
  for (const p of paths) bytes += (await files.stat(p))?.size ?? 0;
  return { files: paths.size, bytes, totalFiles: inv.files, totalBytes: inv.bytes };
}

/** Bytes as people read them: "3.61 MB" (decimal units, 3 significant digits). */
export function human(bytes: number): string {
  const units = ["B", "kB", "MB", "GB"];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : Number(v.toPrecision(3))} ${units[i]}`;
}

/** 12,345: what toLocaleString("en-US") gives for integers, without loading ICU's locale data (~13 ms). */
export function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

function summarize(a: Analysis, hasShell: boolean, hasPm: boolean): string {
  const osName = a.os?.prettyName ?? a.os?.id ?? null;
  const head: Record<Verdict, string> = {
    full: `An operating system is inside${osName ? ` (${osName})` : ""}: ${[hasShell ? "a shell" : "", hasPm ? "a package manager" : ""].filter(Boolean).join(" and ")}.`,
    busybox: `A busybox user-land is inside${a.inventory.busybox?.version ? ` (BusyBox ${a.inventory.busybox.version})` : ""}, but no distribution.`,
    "libc-only": `No shell and no package manager, but OS files are inside${osName ? ` (${osName})` : ""}: ${a.inventory.libc.flavour !== "none" ? `the C library (${a.inventory.libc.flavour})` : "OS data"}.`,
    none: "No operating system is inside.",
    "none-broken": "No operating system is inside, and the entrypoint cannot run without one.",
  };
  const ep = a.entrypoint;
  let need: string;
  if (ep.path === null) {
    need =
      ep.argv.length === 0 ? "The image names no command." : `The command ${ep.argv[0]} is not in the image.`;
  } else if (
    ep.missing.length > 0 ||
    (ep.interpreter && !ep.libraries.some((l) => l.name === ep.interpreter))
  ) {
    const missing = [
      ...(ep.interpreter && !ep.libraries.some((l) => l.name === ep.interpreter) ? [ep.interpreter] : []),
      ...ep.missing.map((m) => m.name),
    ];
    need = `${ep.path} needs ${missing.join(", ")}, which ${missing.length === 1 ? "is" : "are"} missing.`;
  } else if (ep.linkage === "static" || ep.linkage === "static-pie") {
    need = `${ep.path} is ${ep.linkage === "static" ? "statically linked" : "a static PIE"}: it needs nothing else from the image.`;
  } else {
    need = `${ep.path} needs ${a.reachable.files} file${a.reachable.files === 1 ? "" : "s"} (${human(a.reachable.bytes)}) of the image's ${thousands(a.reachable.totalFiles)}.`;
  }
  const unused = a.reachable.totalBytes - a.reachable.bytes;
  const share = a.reachable.totalBytes > 0 ? (100 * unused) / a.reachable.totalBytes : 0;
  const tail =
    ep.path !== null && unused > 0
      ? ` ${share.toFixed(share >= 99.95 || share < 0.05 ? 2 : 1)} % of the image (${human(unused)}) is never used by it.`
      : "";
  return `${head[a.verdict]} ${need}${tail}`;
}
