/**
 * The shared-library closure of a program, found the way the image's own dynamic loader would find it, without
 * running anything (rules: ../shared/design/os-detection.md "ELF reading"):
 *
 * - glibc (elf/dl-load.c): a name with "/" is a path; an object already loaded (by name or SONAME) is reused;
 *   then DT_RPATH of the object, its loaders and the executable (only when the object has no DT_RUNPATH),
 *   LD_LIBRARY_PATH, DT_RUNPATH of the object alone, /etc/ld.so.cache, then the default directories (unless
 *   DF_1_NODEFLIB). Candidates of another ELF class or machine are skipped, as ld.so skips them.
 * - musl (ldso/dynlink.c): the libc family names are the loader itself; LD_LIBRARY_PATH first, then RPATH/RUNPATH
 *   (only $ORIGIN expanded; an entry with another `$` is dropped), then the `etc/ld-musl-<arch>.path` file next to
 *   the loader's prefix (default /lib:/usr/local/lib:/usr/lib); the first file that exists wins.
 *
 * Breadth-first from the program, each library resolved once; unresolved names are reported with where they
 * were looked for.
 */
import type { ImageFiles } from "../files.ts";
import { cacheArchFor, type LdCache, lookupCache, parseLdCache } from "./cache.ts";

/** What resolution needs from an ELF object (src/analysis/elf gives it). */
export interface LinkObject {
  class: 32 | 64;
  /** e_machine. */
  machineCode: number;
  interpreter?: string | undefined;
  needed: string[];
  soname?: string | undefined;
  rpath: string[];
  runpath: string[];
  /** DF_1_NODEFLIB: no cache, no default directories. */
  nodeflib?: boolean | undefined;
}

export interface ResolveContext {
  files: ImageFiles;
  /** The ELF object at an in-root path (symlinks already resolved), or undefined when it is not one. */
  loadElf(path: string): Promise<LinkObject | undefined>;
  /** LD_LIBRARY_PATH from the image's environment, split on ":". */
  ldLibraryPath?: string[] | undefined;
  /** The container's working directory (for relative paths). Default "/". */
  cwd?: string | undefined;
}

export interface ResolvedLibrary {
  /** The name asked for (DT_NEEDED). */
  name: string;
  /** In-root path of the file, symlinks resolved ("/lib/x86_64-linux-gnu/libc.so.6"). */
  path: string;
  /** The path it was found at, before symlinks (what ld.so opened). */
  foundAt: string;
  /** Which rule found it. */
  via: "path" | "rpath" | "ld_library_path" | "runpath" | "cache" | "default" | "musl-path" | "loader";
  neededBy: string;
}

export interface MissingLibrary {
  name: string;
  neededBy: string;
  /** Every path tried, in order. */
  searched: string[];
}

export interface Closure {
  flavour: "glibc" | "musl" | "static";
  interpreter: { path: string; resolved: string | null } | null;
  libraries: ResolvedLibrary[];
  missing: MissingLibrary[];
  findings: { code: string; path: string; message: string }[];
}

/** The loader names musl maps to itself (ldso/dynlink.c `load_library`). */
const MUSL_BUILTIN = new Set(["libc", "libpthread", "librt", "libm", "libdl", "libutil", "libxnet"]);

/** Debian's multiarch triplets by ELF class and machine. */
function triplet(cls: 32 | 64, machine: number): string | undefined {
  if (cls === 64) {
    return (
      {
        62: "x86_64-linux-gnu",
        183: "aarch64-linux-gnu",
        21: "powerpc64le-linux-gnu",
        22: "s390x-linux-gnu",
        243: "riscv64-linux-gnu",
      } as Record<number, string>
    )[machine];
  }
  return ({ 3: "i386-linux-gnu", 40: "arm-linux-gnueabihf" } as Record<number, string>)[machine];
}

/** musl's architecture name in ld-musl-<arch>.so.1 and ld-musl-<arch>.path. */
function muslArch(loader: string): string | undefined {
  return /ld-musl-([^/]+)\.so\.1$/.exec(loader)?.[1];
}

function dirname(p: string): string {
  const i = p.lastIndexOf("/");
  return i <= 0 ? "/" : p.slice(0, i);
}

function join(dir: string, name: string): string {
  return `${dir.endsWith("/") ? dir.slice(0, -1) : dir}/${name}`;
}

function abs(p: string): string {
  return p.startsWith("/") ? p : `/${p}`;
}

interface Loaded {
  path: string;
  obj: LinkObject;
  /** The chain of objects that loaded this one, nearest first, ending at the executable. */
  loaders: Loaded[];
}

/**
 * The closure of the program at `exe` (an in-root path) whose ELF is `elf`. Libraries are loaded through
 * `ctx.loadElf`; the ld.so.cache and ld.so.conf of the image are read through `ctx.files`.
 */
export async function resolveClosure(exe: string, elf: LinkObject, ctx: ResolveContext): Promise<Closure> {
  const findings: Closure["findings"] = [];
  if (elf.interpreter === undefined && elf.needed.length === 0) {
    return { flavour: "static", interpreter: null, libraries: [], missing: [], findings };
  }
  const musl = elf.interpreter !== undefined && muslArch(elf.interpreter) !== undefined;
  let interpreter: Closure["interpreter"] = null;
  if (elf.interpreter !== undefined) {
    const st = await ctx.files.stat(elf.interpreter);
    interpreter = { path: elf.interpreter, resolved: st?.type === "file" ? abs(st.path) : null };
    if (interpreter.resolved === null) {
      findings.push({
        code: "INTERPRETER_MISSING",
        path: elf.interpreter,
        message: `the program loader ${elf.interpreter} is not in the image: the program cannot start`,
      });
    }
  }
  const search = musl ? await muslSearch(elf, ctx) : await glibcSearch(elf, ctx);
  const libraries: ResolvedLibrary[] = [];
  const missing: MissingLibrary[] = [];
  const byName = new Map<string, string>(); // name or SONAME -> resolved path
  // The loader is already in memory: a NEEDED of its name or SONAME (libc.so.6 needs ld-linux-x86-64.so.2) is it.
  if (interpreter?.resolved) {
    byName.set(elf.interpreter!.slice(elf.interpreter!.lastIndexOf("/") + 1), interpreter.resolved);
    const ld = await ctx.loadElf(interpreter.resolved);
    if (ld?.soname) byName.set(ld.soname, interpreter.resolved);
  }
  const root: Loaded = { path: exe, obj: elf, loaders: [] };
  const queue: Loaded[] = [root];
  const seenPaths = new Set<string>([exe]);
  while (queue.length > 0) {
    const cur = queue.shift() as Loaded;
    for (const name of cur.obj.needed) {
      if (byName.has(name)) continue;
      const r = await search(name, cur);
      if (r === undefined) continue; // a musl built-in: the loader itself
      if ("searched" in r) {
        missing.push({ name, neededBy: cur.path, searched: r.searched });
        byName.set(name, "");
        continue;
      }
      byName.set(name, r.path);
      libraries.push({ name, path: r.path, foundAt: r.foundAt, via: r.via, neededBy: cur.path });
      if (r.obj?.soname) byName.set(r.obj.soname, r.path);
      if (!seenPaths.has(r.path) && r.obj) {
        seenPaths.add(r.path);
        queue.push({ path: r.path, obj: r.obj, loaders: [cur, ...cur.loaders] });
      }
    }
  }
  return { flavour: musl ? "musl" : "glibc", interpreter, libraries, missing, findings };
}

type Found = { path: string; foundAt: string; via: ResolvedLibrary["via"]; obj: LinkObject | undefined };
type Search = (name: string, from: Loaded) => Promise<Found | { searched: string[] } | undefined>;

/** Expand $ORIGIN (and, for glibc, $LIB and $PLATFORM) in a search-path entry; undefined drops the entry. */
function expand(
  entry: string,
  origin: string,
  glibc: boolean,
  cls: 32 | 64,
  machine: number,
): string | undefined {
  let out = entry.replace(/\$(\{ORIGIN\}|ORIGIN)(?=\/|$)/g, origin);
  if (glibc) {
    const trip = triplet(cls, machine);
    out = out.replace(/\$(\{LIB\}|LIB)(?=\/|$)/g, trip ? `lib/${trip}` : cls === 64 ? "lib64" : "lib");
    out = out.replace(
      /\$(\{PLATFORM\}|PLATFORM)(?=\/|$)/g,
      machine === 62 ? "x86_64" : machine === 183 ? "aarch64" : "",
    );
  }
  if (out.includes("$")) return undefined;
  // An empty entry is the working directory.
  return out === "" ? "." : out;
}

async function glibcSearch(exe: LinkObject, ctx: ResolveContext): Promise<Search> {
  const files = ctx.files;
  const cwd = ctx.cwd ?? "/";
  let cache: LdCache | undefined;
  const cacheBytes = await files.read("/etc/ld.so.cache", 64 << 20);
  if (cacheBytes !== undefined) cache = parseLdCache(cacheBytes);
  // No cache: ld.so.conf, as lddtree reads it.
  const confDirs = cache === undefined ? await readLdSoConf(files) : [];
  const trip = triplet(exe.class, exe.machineCode);
  const defaults = [
    ...(trip ? [`/lib/${trip}`, `/usr/lib/${trip}`] : []),
    ...(exe.class === 64 ? ["/lib64", "/usr/lib64"] : []),
    "/lib",
    "/usr/lib",
  ];
  const arch = cacheArchFor(exe.class, exe.machineCode);

  const tryPath = async (
    candidate: string,
  ): Promise<{ path: string; obj: LinkObject } | "wrong-abi" | undefined> => {
    const p = candidate.startsWith("/") ? candidate : join(cwd, candidate);
    const st = await files.stat(p);
    if (st?.type !== "file") return undefined;
    const obj = await ctx.loadElf(abs(st.path));
    if (obj === undefined) return undefined;
    if (obj.class !== exe.class || obj.machineCode !== exe.machineCode) return "wrong-abi";
    return { path: abs(st.path), obj };
  };

  return async (name, from) => {
    const searched: string[] = [];
    if (name.includes("/")) {
      searched.push(name);
      const r = await tryPath(name);
      return typeof r === "object" ? { ...r, foundAt: name, via: "path" } : { searched };
    }
    const dirsFrom = (entries: string[], obj: Loaded) =>
      entries.flatMap((e) => {
        const x = expand(e, dirname(obj.path), true, exe.class, exe.machineCode);
        return x === undefined ? [] : [x];
      });
    const groups: [Found["via"], string[]][] = [];
    if (from.obj.runpath.length === 0) {
      for (const o of [from, ...from.loaders]) groups.push(["rpath", dirsFrom(o.obj.rpath, o)]);
    }
    groups.push(["ld_library_path", ctx.ldLibraryPath ?? []]);
    groups.push(["runpath", dirsFrom(from.obj.runpath, from)]);
    for (const [via, dirs] of groups) {
      for (const d of dirs) {
        const candidate = join(d, name);
        searched.push(candidate);
        const r = await tryPath(candidate);
        if (typeof r === "object") return { ...r, foundAt: candidate, via };
      }
    }
    if (!from.obj.nodeflib) {
      if (cache !== undefined) {
        for (const p of lookupCache(cache, name, arch)) {
          searched.push(`${p} (ld.so.cache)`);
          const r = await tryPath(p);
          if (typeof r === "object") return { ...r, foundAt: p, via: "cache" };
        }
      }
      for (const d of [...confDirs, ...defaults]) {
        const candidate = join(d, name);
        searched.push(candidate);
        const r = await tryPath(candidate);
        if (typeof r === "object") return { ...r, foundAt: candidate, via: "default" };
      }
    }
    return { searched };
  };
}

async function muslSearch(exe: LinkObject, ctx: ResolveContext): Promise<Search> {
  const files = ctx.files;
  const loader = exe.interpreter as string;
  const arch = muslArch(loader) as string;
  // The path file lives under the loader's prefix: /lib/ld-musl-x86_64.so.1 -> /etc/ld-musl-x86_64.path.
  const prefix = dirname(dirname(loader));
  const pathFile = join(prefix === "/" ? "" : prefix, `etc/ld-musl-${arch}.path`);
  let sysDirs: string[];
  const text = await files.read(pathFile, 64 * 1024);
  if (text === undefined) sysDirs = ["/lib", "/usr/local/lib", "/usr/lib"];
  else
    sysDirs = text
      .toString("utf8")
      .split(/[:\n]/)
      .map((s) => s.trim())
      .filter(Boolean);
  const loaderBase = loader.slice(loader.lastIndexOf("/") + 1);
  return async (name, from) => {
    const stem = name.replace(/\.so(\..*)?$/, "");
    if (MUSL_BUILTIN.has(stem) || name === loaderBase) return undefined;
    const searched: string[] = [];
    const found = async (candidate: string, via: Found["via"]): Promise<Found | undefined> => {
      searched.push(candidate);
      const st = await files.stat(candidate);
      if (st?.type !== "file") return undefined;
      // musl opens the first file that exists, whatever it is.
      return { path: abs(st.path), foundAt: candidate, via, obj: await ctx.loadElf(abs(st.path)) };
    };
    if (name.includes("/")) return (await found(name, "path")) ?? { searched };
    const originDirs = (o: Loaded) => {
      // RUNPATH overrides RPATH; both walk the loader chain.
      const entries = o.obj.runpath.length > 0 ? o.obj.runpath : o.obj.rpath;
      return entries.flatMap((e) => {
        const x = expand(e, dirname(o.path), false, exe.class, exe.machineCode);
        return x === undefined ? [] : [x];
      });
    };
    const groups: [Found["via"], string[]][] = [
      ["ld_library_path", ctx.ldLibraryPath ?? []],
      ["rpath", [from, ...from.loaders].flatMap(originDirs)],
      ["musl-path", sysDirs],
    ];
    for (const [via, dirs] of groups) {
      for (const d of dirs) {
        const r = await found(join(d, name), via);
        if (r) return r;
      }
    }
    return { searched };
  };
}

/** Directories from /etc/ld.so.conf and its `include` globs (sorted, as ldconfig reads them). */
export async function readLdSoConf(
  files: ImageFiles,
  path = "/etc/ld.so.conf",
  depth = 0,
): Promise<string[]> {
  if (depth > 8) return [];
  const text = await files.read(path, 1 << 20);
  if (text === undefined) return [];
  const out: string[] = [];
  for (const raw of text.toString("utf8").split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (line === "") continue;
    const inc = /^include\s+(.+)$/.exec(line);
    if (inc) {
      for (const pattern of (inc[1] as string).split(/\s+/)) {
        const p = pattern.startsWith("/") ? pattern : join(dirname(path), pattern);
        for (const f of await glob(files, p)) out.push(...(await readLdSoConf(files, f, depth + 1)));
      }
      continue;
    }
    if (line.startsWith("hwcap ")) continue;
    for (const d of line.split(/[:\s,]+/)) if (d.startsWith("/")) out.push(d);
  }
  return out;
}

/** A `dir/*.conf`-style glob: `*` and `?` in the last component only (what ld.so.conf files use). */
async function glob(files: ImageFiles, pattern: string): Promise<string[]> {
  const dir = dirname(pattern);
  const base = pattern.slice(pattern.lastIndexOf("/") + 1);
  if (!/[*?]/.test(base)) return [pattern];
  const re = new RegExp(
    `^${base
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
  );
  return (await files.list(dir)).filter((n) => re.test(n)).map((n) => join(dir, n));
}
