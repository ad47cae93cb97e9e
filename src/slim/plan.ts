/**
 * What a slim image keeps, and why. The static plan follows what the analysis can see: the entrypoint (and a
 * `sh -c` command's program, and every interpreter of a `#!` chain, `/usr/bin/env` included), the loader and
 * library closure of each of those programs (resolved as the image's own loader would), and what such programs
 * need besides: the USER's passwd and group entries, the CA bundle, the time zone, the loader's cache and glibc's
 * name-service files. The traced plan adds every file the probe run named. Each path is kept with every symlink
 * met on the way to it (a library found at /lib/x86_64-linux-gnu/libc.so.6 needs the /lib symlink of a merged
 * /usr), and the directories above it come along when the layer is written.
 */
import { ELF_READ } from "../analysis/analyze.ts";
import { parseElf } from "../analysis/elf/index.ts";
import { type ResolvedProgram, resolveEntrypoint } from "../analysis/entrypoint.ts";
import type { ImageFiles } from "../analysis/files.ts";
import { CA_BUNDLES } from "../analysis/inventory.ts";
import { type LinkObject, resolveClosure } from "../analysis/ldso/resolve.ts";
import type { ContainerConfig } from "../spec/schemas.ts";
import { isRuntimePath, type TracedPath } from "./strace.ts";

/** The reason of every path the traced run named (slim.ts tells traced-only paths by it). */
export const TRACED = "named by the probe run";
/** The kernel's limit on symlinks followed in one lookup. */
const MAX_HOPS = 40;
/** glibc's name service reads these (getaddrinfo, getpwnam); the modules are loaded with dlopen. */
const NSS_FILES = ["/etc/nsswitch.conf", "/etc/hosts", "/etc/host.conf", "/etc/gai.conf"];
const NSS_MODULES = ["libnss_files.so.2", "libnss_dns.so.2"];

export interface KeptPath {
  /** Absolute path in the image. */
  path: string;
  reasons: string[];
  /** Only the trace found it: no reason of the static plan. */
  tracedOnly: boolean;
  /** Contents written instead of the image's (passwd and group cut down to the entries needed). */
  body?: Buffer | undefined;
}

export interface PlanOptions {
  /** --include: kept whole (a directory with everything under it). */
  include?: string[] | undefined;
  /** --keep-shell: /bin/sh and what it needs. */
  keepShell?: boolean | undefined;
  /** --probe: arguments that replace CMD in the probe runs; their program is kept too. */
  probe?: string[] | undefined;
  /** The trace of the probe run (the traced plan); absent for the static plan alone. */
  traced?: TracedPath[] | undefined;
}

export interface Plan {
  kept: Map<string, KeptPath>;
  /** The programs that run (entrypoint, interpreters), as found. */
  programs: string[];
  findings: { code: string; path: string; message: string }[];
}

class Planner {
  readonly kept = new Map<string, KeptPath>();
  readonly findings: Plan["findings"] = [];
  readonly programs: string[] = [];
  #elfDone = new Set<string>();

  constructor(
    readonly files: ImageFiles,
    readonly config: ContainerConfig,
  ) {}

  /** While the traced paths are kept: the calls that named the current one (they become its one traced reason). */
  tracing: Set<string> | undefined;
  readonly #calls = new Map<string, Set<string>>();

  add(path: string, reason: string, body?: Buffer): void {
    let k = this.kept.get(path);
    if (k === undefined) {
      k = { path, reasons: [], tracedOnly: true };
      this.kept.set(path, k);
    }
    if (this.tracing) {
      const calls = this.#calls.get(path) ?? new Set<string>();
      for (const c of this.tracing) calls.add(c);
      this.#calls.set(path, calls);
    } else {
      k.tracedOnly = false;
      if (!k.reasons.includes(reason)) k.reasons.push(reason);
    }
    if (body) k.body = body;
  }

  /** The traced reasons, one per path with every call that named it: "named by the probe run (openat, stat)". */
  finishTraced(): void {
    for (const [path, calls] of this.#calls) {
      this.kept.get(path)?.reasons.push(`${TRACED} (${[...calls].join(", ")})`);
    }
  }

  /**
   * Keep `path` and every symlink met resolving it; the in-root path it leads to, or undefined when it does not
   * exist in the image. Components are resolved one by one from the root (a resolved prefix has no symlinks), so
   * each symlink on the way is seen.
   */
  async keep(path: string, reason: string): Promise<string | undefined> {
    const asked = `/${path
      .split("/")
      .filter((c) => c !== "" && c !== ".")
      .join("/")}`;
    const todo = path.split("/").reverse();
    let cur: string[] = [];
    let hops = 0;
    while (todo.length > 0) {
      const c = todo.pop()!;
      if (c === "" || c === ".") continue;
      if (c === "..") {
        cur.pop();
        continue;
      }
      const p = `/${[...cur, c].join("/")}`;
      const st = await this.files.lstat(p);
      if (st === undefined) return undefined;
      if (st.type === "symlink") {
        if (++hops > MAX_HOPS) return undefined;
        // The path asked for may itself be the symlink (/etc/localtime): then it is kept for the reason itself.
        this.add(p, p === asked ? reason : `symlink on the way to ${path} (${reason})`);
        const target = (await this.files.readlink(p)) ?? "";
        if (target.startsWith("/")) cur = [];
        const comps = target.split("/");
        for (let i = comps.length - 1; i >= 0; i--) todo.push(comps[i]!);
        continue;
      }
      cur.push(c);
      if (st.type !== "directory" && todo.some((t) => t !== "" && t !== ".")) return undefined;
    }
    const final = `/${cur.join("/")}`;
    if (final !== "/") this.add(final, reason);
    return final;
  }

  /** Keep a directory with everything under it (--include). */
  async keepTree(path: string, reason: string): Promise<boolean> {
    const at = await this.keep(path, reason);
    if (at === undefined) return false;
    const st = await this.files.lstat(at);
    if (st?.type !== "directory") return true;
    const walk = async (dir: string): Promise<void> => {
      for (const name of await this.files.list(dir)) {
        const p = dir === "/" ? `/${name}` : `${dir}/${name}`;
        const s = await this.files.lstat(p);
        if (s === undefined) continue;
        this.add(p, reason);
        if (s.type === "directory") await walk(p);
      }
    };
    await walk(at);
    return true;
  }

  /** A program as the lookup found it, its script interpreters, and each ELF's loader and libraries. */
  async keepProgram(p: ResolvedProgram | null, reason: string): Promise<void> {
    if (p === null || p.foundAt === null) return;
    const at = await this.keep(p.foundAt, reason);
    if (at === undefined) return;
    this.programs.push(p.foundAt);
    if (p.kind === "elf") await this.keepClosure(at, p.foundAt);
    if (p.shebang) await this.keepProgram(p.shebang.program, `interpreter of ${p.foundAt}`);
    if (p.envProgram)
      await this.keepProgram(p.envProgram, `run by ${p.shebang?.interpreter ?? "env"} for ${p.foundAt}`);
  }

  /** What a command line runs: its program and, for `sh -c "…"`, the program the command starts. */
  async keepCommand(e: Awaited<ReturnType<typeof resolveEntrypoint>>, reason: string): Promise<void> {
    await this.keepProgram(e.program, reason);
    if (e.shellCommand?.program) {
      await this.keepProgram(e.shellCommand.program, `run by "${e.shellCommand.command}" (${reason})`);
    }
  }

  async loadElf(path: string): Promise<(LinkObject & { interpreter?: string | undefined }) | undefined> {
    const st = await this.files.stat(path);
    if (st?.type !== "file") return undefined;
    const bytes = await this.files.read(path, ELF_READ);
    return bytes ? (parseElf(bytes, { fileSize: st.size }) as LinkObject | undefined) : undefined;
  }

  glibc = false;

  async keepClosure(path: string, shown: string): Promise<void> {
    if (this.#elfDone.has(path)) return;
    this.#elfDone.add(path);
    const elf = await this.loadElf(path);
    if (elf === undefined) return;
    const ld = this.config.Env?.findLast((e) => e.startsWith("LD_LIBRARY_PATH="))?.slice(16);
    const closure = await resolveClosure(path, elf, {
      files: this.files,
      loadElf: (p) => this.loadElf(p),
      ldLibraryPath: ld ? ld.split(":").filter(Boolean) : undefined,
      cwd: this.config.WorkingDir || "/",
    });
    if (closure.flavour === "glibc") this.glibc = true;
    if (closure.interpreter !== null) {
      if (closure.interpreter.resolved === null) {
        this.findings.push({
          code: "LOADER_MISSING",
          path: shown,
          message: `${shown} needs the loader ${closure.interpreter.path}, which is not in the image`,
        });
      } else await this.keep(closure.interpreter.path, `loader of ${shown}`);
    }
    for (const lib of closure.libraries) {
      await this.keep(lib.foundAt, `library ${lib.name}, needed by ${lib.neededBy}`);
    }
    for (const m of closure.missing) {
      this.findings.push({
        code: "LIBRARY_MISSING",
        path: m.neededBy,
        message: `${m.name}, needed by ${m.neededBy}, is not in the image`,
      });
    }
  }

  /** passwd and group cut down to root and the USER (its primary group and the groups that list it). */
  async keepUser(user: string): Promise<void> {
    const [name, group] = user.split(":") as [string, string | undefined];
    const passwd = (await this.files.read("/etc/passwd", 1 << 20))?.toString("utf8");
    const groupText = (await this.files.read("/etc/group", 1 << 20))?.toString("utf8");
    if (passwd === undefined) return;
    const lines = passwd.split("\n").filter((l) => l.includes(":"));
    const user0 = lines.find((l) => {
      const f = l.split(":");
      return f[0] === name || f[2] === name;
    });
    const keepPw = lines.filter((l) => l.split(":")[2] === "0" || l === user0);
    const gid = user0?.split(":")[3];
    const uname = user0?.split(":")[0];
    const pw = await this.keep("/etc/passwd", `USER ${user}`);
    if (pw) this.add(pw, `cut to root and ${uname ?? name}`, Buffer.from(`${keepPw.join("\n")}\n`));
    if (groupText !== undefined) {
      const keepGr = groupText
        .split("\n")
        .filter((l) => l.includes(":"))
        .filter((l) => {
          const f = l.split(":");
          const members = (f[3] ?? "").split(",");
          return (
            f[2] === "0" ||
            f[2] === gid ||
            f[0] === group ||
            f[2] === group ||
            (uname !== undefined && members.includes(uname))
          );
        });
      const gr = await this.keep("/etc/group", `USER ${user}`);
      if (gr)
        this.add(gr, `cut to root's and ${uname ?? name}'s groups`, Buffer.from(`${keepGr.join("\n")}\n`));
    }
  }
}

/** The plan for an image (its files and its run config). */
export async function planSlim(
  files: ImageFiles,
  config: ContainerConfig,
  opts: PlanOptions = {},
): Promise<Plan> {
  const p = new Planner(files, config);
  const entry = await resolveEntrypoint(files, {
    entrypoint: config.Entrypoint ?? null,
    cmd: config.Cmd ?? null,
    env: config.Env ?? null,
    workingDir: config.WorkingDir,
  });
  for (const f of entry.findings) p.findings.push(f);
  await p.keepCommand(entry, "entrypoint");
  if (opts.probe) {
    const probe = await resolveEntrypoint(files, {
      entrypoint: config.Entrypoint ?? null,
      cmd: opts.probe,
      env: config.Env ?? null,
      workingDir: config.WorkingDir,
    });
    await p.keepCommand(probe, "the probe's command");
  }
  // A HEALTHCHECK runs in the container too: ["CMD", prog, args…] or ["CMD-SHELL", "command"] (through /bin/sh).
  const test = config.Healthcheck?.Test;
  if (test && (test[0] === "CMD" || test[0] === "CMD-SHELL") && test.length > 1) {
    const argv = test[0] === "CMD" ? test.slice(1) : ["/bin/sh", "-c", test[1]!];
    const hc = await resolveEntrypoint(files, {
      entrypoint: argv,
      env: config.Env ?? null,
      workingDir: config.WorkingDir,
    });
    await p.keepCommand(hc, "HEALTHCHECK");
  }
  if (opts.keepShell) {
    const sh = await resolveEntrypoint(files, { entrypoint: ["/bin/sh"], env: config.Env ?? null });
    await p.keepProgram(sh.program, "--keep-shell");
  }
  if (config.WorkingDir) await p.keep(config.WorkingDir, "WORKDIR");
  if (config.User) await p.keepUser(config.User);
  for (const ca of CA_BUNDLES) if (await files.stat(ca)) await p.keep(ca, "CA bundle (TLS clients read it)");
  if (await files.lstat("/etc/localtime")) await p.keep("/etc/localtime", "time zone (/etc/localtime)");
  const tz = config.Env?.findLast((e) => e.startsWith("TZ="))
    ?.slice(3)
    .replace(/^:/, "");
  if (tz) await p.keep(tz.startsWith("/") ? tz : `/usr/share/zoneinfo/${tz}`, `time zone (TZ=${tz})`);
  if (p.glibc) {
    if (await files.stat("/etc/ld.so.cache"))
      await p.keep("/etc/ld.so.cache", "the loader's library index (glibc)");
    for (const f of NSS_FILES) if (await files.stat(f)) await p.keep(f, "name service configuration (glibc)");
    for (const lib of p.kept.keys()) {
      const dir = lib.slice(0, lib.lastIndexOf("/"));
      if (!/\/libc\.so\.6$/.test(lib)) continue;
      for (const m of NSS_MODULES) {
        if (await files.stat(`${dir}/${m}`))
          await p.keep(`${dir}/${m}`, "name service module (glibc loads it)");
      }
    }
  }
  for (const inc of opts.include ?? []) {
    if (!(await p.keepTree(inc, "--include"))) {
      p.findings.push({ code: "INCLUDE_MISSING", path: inc, message: `--include ${inc}: not in the image` });
    }
  }
  // Each path once, with the calls that named it: "named by the probe run (openat, newfstatat)".
  const traced = new Map<string, { calls: Set<string>; resolved: Set<string> }>();
  let undecodable = 0;
  for (const t of opts.traced ?? []) {
    if (t.undecodable) {
      undecodable++;
      continue;
    }
    if (isRuntimePath(t.path)) continue;
    const e = traced.get(t.path) ?? { calls: new Set<string>(), resolved: new Set<string>() };
    e.calls.add(t.syscall);
    if (t.resolved && !isRuntimePath(t.resolved)) e.resolved.add(t.resolved);
    traced.set(t.path, e);
  }
  if (undecodable > 0) {
    p.findings.push({
      code: "TRACED_NAME_NOT_UTF8",
      path: "",
      message: `the probe run named ${undecodable} path(s) that are not UTF-8: slim cannot keep them (--include their directory)`,
    });
  }
  for (const [path, e] of traced) {
    p.tracing = e.calls;
    const at = await p.keep(path, TRACED);
    if (at !== undefined) {
      // A file the run read whole is kept whole (passwd and group are otherwise cut down to USER's entries).
      const k = p.kept.get(at);
      if (k?.body && (e.calls.has("openat") || e.calls.has("open"))) delete k.body;
      for (const r of e.resolved) await p.keep(r, TRACED);
    }
  }
  p.tracing = undefined;
  p.finishTraced();
  return { kept: p.kept, programs: p.programs, findings: p.findings };
}
