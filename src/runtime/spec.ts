/**
 * The runtime spec (`config.json`) of a container: the image config and `osless run`'s flags turned into what
 * runc/crun execute, with Docker's defaults (../shared/design/runtime-defaults.md) and Docker's override rules.
 *
 * Everything the runtime would only discover after the container exists is checked here first, against the
 * container's root as the runtime will see it (`SpecContext.reader`): the user and groups, the working directory
 * (never under /proc: CVE-2024-21626), the command (found and executable), and the root's /proc, /sys and /dev
 * (never symlinks).
 *
 * The seccomp block is the caller's (src/runtime/seccomp.ts makes it): `SpecContext.seccomp` is that block, or a
 * function of the final bounding set (Docker's profile opens syscalls by capability), or undefined for none.
 */

import { existsSync, readFileSync, realpathSync } from "node:fs";
import { availableParallelism, hostname as osHostname } from "node:os";
import { posix } from "node:path";
import { OslessError } from "../errors.ts";
import type { ImageConfig } from "../spec/schemas.ts";
import { hostBoundingSet, tweakCapabilities } from "./capabilities.ts";
import { buildEnv, DEFAULT_PATH, envValue } from "./env.ts";
import { cleanAbsolute, parseUserMounts } from "./mounts.ts";
import {
  type LinuxSeccomp,
  type Mount,
  type Namespace,
  OCI_VERSION,
  type Resources,
  type Rlimit,
  type Spec,
} from "./oci.ts";
import { type CgroupMode, cgroupMode as hostCgroupMode } from "./runtime.ts";
import type { RootReader, RootStat, RunOptions } from "./types.ts";
import { resolveUser } from "./user.ts";

/** What buildSpec reads from the host; each field can be given in `SpecContext.host` (tests, other hosts). */
export interface HostFacts {
  /** Detected as the design says: cgroup.controllers at the top -> v2; /sys/fs/cgroup/unified -> hybrid; else v1. */
  cgroupMode: CgroupMode;
  /** CPUs usable (the upper bound of --cpus). */
  cpuCount: number;
  /** `/sys/devices/system/cpu/cpu<N>/thermal_throttle` of each possible CPU that has one (moby masks them). */
  thermalThrottlePaths: string[];
  /** The caller's hard RLIMIT_NOFILE (undefined: unlimited or unknown). */
  nofileHard: number | undefined;
  /** Whether the memory cgroup limits swap (memsw on v1; v2 memory.swap.max). */
  swapAccounting: boolean;
  /** The host's name (the container's with --network host, as Docker). */
  hostname: string;
  /** The capabilities osless itself may grant (its bounding set); undefined: unknown, no filtering. */
  bounding?: Set<string> | undefined;
}

export interface SpecContext {
  /** Container id (64 hex digits); the default hostname is its first 12. */
  id: string;
  /** root.path for the spec; `overlay` is the mount runc makes at "/" (placed first in `mounts`). */
  root: { path: string; readonly: boolean; overlay?: Mount | undefined };
  /** The container's root filesystem as it will be, read before the container exists. */
  reader: RootReader;
  /** linux.cgroupsPath, e.g. /osless/<id>. */
  cgroupsPath: string;
  /**
   * The seccomp block (resolved by the caller from --security-opt seccomp=FILE or the default profile), or a
   * function of the final bounding set, or undefined for none. Ignored with `--security-opt seccomp=unconfined`.
   */
  seccomp: LinuxSeccomp | undefined | ((caps: string[]) => LinuxSeccomp | undefined);
  /** Overrides HostFacts.cpuCount. */
  hostCpuCount?: number | undefined;
  /** Overrides of what is otherwise read from this host. */
  host?: Partial<HostFacts> | undefined;
}

export interface BuiltSpec {
  spec: Spec;
  /** Things the user should know that do not stop the run (options ignored, limits lowered). */
  warnings: string[];
}

/** Docker's /dev/shm size. */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;
/** Docker's smallest --memory. */
export const MIN_MEMORY = 6 * 1024 * 1024;
const CPU_PERIOD = 100_000;
const NOFILE = 1024;

/** moby's masked paths (thermal_throttle ones are added per CPU). */
export const MASKED_PATHS: readonly string[] = [
  "/proc/acpi",
  "/proc/asound",
  "/proc/interrupts",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/sys/devices/virtual/powercap",
  "/sys/firmware",
];

export const READONLY_PATHS: readonly string[] = [
  "/proc/bus",
  "/proc/fs",
  "/proc/irq",
  "/proc/sys",
  "/proc/sysrq-trigger",
];

// ---------------------------------------------------------------------------------------------------------------
// Host facts

/** `/sys/devices/system/cpu/possible` ("0-3,5") as CPU numbers. */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(",")) {
    if (part === "") continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let i = a; i <= b && i - a < 65536; i++) out.push(i);
  }
  return out;
}

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** The hard limit of "Max open files" in /proc/self/limits (undefined when unlimited or unreadable). */
export function parseNofileHard(limits: string): number | undefined {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  if (!m || m[2] === "unlimited") return undefined;
  const n = Number(m[2]);
  return Number.isSafeInteger(n) ? n : undefined;
}

function detectSwapAccounting(mode: CgroupMode): boolean {
  if (mode !== "v2") return existsSync("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes");
  const own = /^0::(\/.*)$/m.exec(readOr("/proc/self/cgroup") ?? "")?.[1];
  return own !== undefined && existsSync(posix.join("/sys/fs/cgroup", own, "memory.swap.max"));
}

let cachedFacts: HostFacts | undefined;

/** This host's facts (read once per process). */
export function hostFacts(): HostFacts {
  if (cachedFacts) return cachedFacts;
  const cgroupMode = hostCgroupMode();
  const thermal = parseCpuList(readOr("/sys/devices/system/cpu/possible") ?? "")
    .map((n) => `/sys/devices/system/cpu/cpu${n}/thermal_throttle`)
    .filter((p) => existsSync(p));
  cachedFacts = {
    cgroupMode,
    cpuCount: availableParallelism(),
    thermalThrottlePaths: thermal,
    nofileHard: parseNofileHard(readOr("/proc/self/limits") ?? ""),
    swapAccounting: detectSwapAccounting(cgroupMode),
    hostname: osHostname(),
  };
  return cachedFacts;
}

// ---------------------------------------------------------------------------------------------------------------
// --security-opt

export interface SecurityOpts {
  noNewPrivileges: boolean;
  /** "default": the caller's profile (default or FILE); "unconfined": no seccomp; or the file named. */
  seccomp: "default" | "unconfined" | { path: string };
  warnings: string[];
}

/** Go's strconv.ParseBool. */
function parseBool(v: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(v)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(v)) return false;
  return undefined;
}

/**
 * `--security-opt` values with Docker's syntaxes: `no-new-privileges`, `no-new-privileges=BOOL` or `:BOOL`,
 * `seccomp=unconfined|FILE` (or `seccomp:`), `apparmor=`/`label=` (accepted, ignored with a warning: osless does not
 * drive AppArmor or SELinux). Anything else is E_USAGE.
 */
export function parseSecurityOpts(values: readonly string[] = []): SecurityOpts {
  const out: SecurityOpts = { noNewPrivileges: false, seccomp: "default", warnings: [] };
  const bad = (opt: string, why: string) =>
    new OslessError("E_USAGE", `invalid --security-opt "${opt}": ${why}`, {
      hint: "use no-new-privileges[=true|false], seccomp=unconfined or seccomp=/path/to/profile.json",
      details: { securityOpt: opt },
    });
  for (const opt of values) {
    if (opt === "no-new-privileges") {
      out.noNewPrivileges = true;
      continue;
    }
    const eq = opt.indexOf("=");
    const colon = opt.indexOf(":");
    const at = eq >= 0 ? eq : colon;
    if (at < 0) throw bad(opt, "expected KEY=VALUE");
    const key = opt.slice(0, at);
    const value = opt.slice(at + 1);
    switch (key) {
      case "no-new-privileges": {
        const b = parseBool(value);
        if (b === undefined) throw bad(opt, `"${value}" is not a boolean`);
        out.noNewPrivileges = b;
        break;
      }
      case "seccomp":
        if (value === "") throw bad(opt, "no profile given");
        out.seccomp = value === "unconfined" ? "unconfined" : { path: value };
        break;
      case "apparmor":
      case "label":
        out.warnings.push(`--security-opt ${opt} ignored: osless does not manage AppArmor or SELinux`);
        break;
      default:
        throw bad(opt, `unknown option "${key}"`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Command, working directory, root checks

/** Entrypoint + Cmd with Docker's override rules (moby `merge` and `mergeAndVerifyConfig`). */
export function resolveArgs(config: ImageConfig, opts: Pick<RunOptions, "entrypoint" | "args">): string[] {
  const image = config.config ?? {};
  const userCmd = opts.args && opts.args.length > 0 ? opts.args : undefined;
  let entrypoint: string[];
  let cmd: string[];
  if (opts.entrypoint !== undefined) {
    // --entrypoint (even "") replaces the image's Entrypoint and discards its Cmd; "" then means no entrypoint.
    entrypoint = opts.entrypoint === "" ? [] : [opts.entrypoint];
    cmd = userCmd ?? [];
  } else {
    entrypoint = image.Entrypoint ?? [];
    cmd = userCmd ?? image.Cmd ?? [];
  }
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) {
    throw new OslessError("E_USAGE", "no command specified", {
      hint: 'the image has no Entrypoint or Cmd (or --entrypoint "" cleared them): give a command after the image name',
    });
  }
  return args;
}

/** A RootReader that can also read a symlink's target (DirRoot can; the RootReader contract does not require it). */
interface LinkReader extends RootReader {
  readlink(path: string): string | undefined;
}

function canReadlink(r: RootReader): r is LinkReader {
  return typeof (r as Partial<LinkReader>).readlink === "function";
}

/**
 * The path with every symlink resolved in-root, also when its last components do not exist (where runc's in-root
 * resolution lands when it creates a missing cwd): a symlink whose target is missing still leads somewhere.
 * `dangling` names a symlink that could not be followed (only with a reader that cannot read link targets).
 */
export function resolveLoose(reader: RootReader, path: string): { path: string; dangling?: string } {
  if (canReadlink(reader)) {
    const todo = path.split("/").reverse();
    const parts: string[] = [];
    // -1, or the number of leading parts that exist: nothing below them exists (filepath-securejoin then goes on
    // lexically, and a ".." back above them makes the walk look at the filesystem again).
    let existing = -1;
    let hops = 0;
    while (todo.length > 0) {
      const c = todo.pop()!;
      if (c === "" || c === ".") continue;
      if (c === "..") {
        parts.pop();
        if (existing >= 0 && parts.length <= existing) existing = -1;
        continue;
      }
      parts.push(c);
      if (existing >= 0) continue;
      const here = `/${parts.join("/")}`;
      const st = reader.stat(here);
      if (st === undefined || (st.type !== "dir" && st.type !== "symlink")) existing = parts.length - 1;
      else if (st.type === "symlink") {
        if (++hops > 40) return { path: here, dangling: here };
        const target = reader.readlink(here) ?? "";
        parts.pop();
        if (target.startsWith("/")) parts.length = 0;
        todo.push(...target.split("/").reverse());
      }
    }
    return { path: `/${parts.join("/")}` };
  }
  const parts = path.split("/").filter((p) => p !== "");
  for (let n = parts.length; n >= 0; n--) {
    const prefix = `/${parts.slice(0, n).join("/")}`;
    const r = reader.resolve(prefix);
    if (r !== undefined) return { path: posix.join(r, ...parts.slice(n)) };
    if (reader.stat(prefix)?.type === "symlink") return { path, dangling: prefix };
  }
  return { path };
}

function underProc(p: string): boolean {
  return p === "/proc" || p.startsWith("/proc/");
}

/** -w, else WorkingDir, else "/": absolute, cleaned, never under /proc (also through symlinks in the root). */
export function resolveWorkdir(
  config: ImageConfig,
  opts: Pick<RunOptions, "workdir">,
  reader: RootReader,
): string {
  const fromFlag = opts.workdir !== undefined && opts.workdir !== "";
  const raw = fromFlag ? opts.workdir! : config.config?.WorkingDir || "/";
  const where = fromFlag ? "-w" : "the image's WorkingDir";
  const cwd = cleanAbsolute(raw);
  if (cwd === undefined) {
    throw new OslessError(
      "E_USAGE",
      `the working directory '${raw}' (${where}) is invalid, it needs to be an absolute path`,
      {
        hint: "give an absolute path such as -w /app",
        details: { workdir: raw },
      },
    );
  }
  const procError = (via?: string) =>
    new OslessError(
      "E_USAGE",
      `the working directory ${cwd} (${where})${via ? ` resolves to ${via}, which` : ""} is under /proc: refused (CVE-2024-21626)`,
      {
        hint: "a working directory under /proc can leak host file descriptors into the container; use a directory of the image, e.g. -w /",
        details: { workdir: raw, resolved: via ?? cwd },
      },
    );
  if (underProc(cwd)) throw procError();
  const loose = resolveLoose(reader, cwd);
  if (loose.dangling !== undefined) {
    throw new OslessError(
      "E_USAGE",
      `the working directory ${cwd} (${where}) goes through ${loose.dangling}, a symlink whose target is missing: refused, its target cannot be checked against /proc (CVE-2024-21626)`,
      {
        hint: "use a working directory that exists in the image, or one that does not go through a dangling symlink",
        details: { workdir: raw, symlink: loose.dangling },
      },
    );
  }
  const resolved = loose.path;
  if (underProc(resolved)) throw procError(resolved);
  const st = reader.stat(resolved);
  if (st !== undefined && st.type !== "dir") {
    throw new OslessError(
      "E_USAGE",
      `the working directory ${cwd} (${where}) is not a directory in the image`,
      {
        hint: "give a directory with -w",
        details: { workdir: raw, resolved },
      },
    );
  }
  return cwd;
}

/** Refuse a root whose /proc, /sys or /dev is a symlink or not a directory (the runtime would mount over it). */
export function checkRootDirs(reader: RootReader): void {
  for (const d of ["/proc", "/sys", "/dev"]) {
    const st = reader.stat(d);
    if (st === undefined || st.type === "dir") continue;
    const what =
      st.type === "symlink" ? `a symlink (to ${reader.resolve(d) ?? "a missing path"})` : `a ${st.type}`;
    throw new OslessError(
      "E_LAYER_INVALID",
      `the image's ${d} is ${what}: it cannot be used as a container root`,
      {
        hint: `the runtime mounts ${d} itself and must not follow links out of it; rebuild the image with ${d} as an empty directory (or absent)`,
        details: { path: d, type: st.type },
      },
    );
  }
}

function executable(st: RootStat | undefined): boolean {
  return st !== undefined && st.type !== "dir" && (st.mode & 0o111) !== 0;
}

/**
 * Check that args[0] exists and can be executed in the root, as the runtime (Go's exec.LookPath in runc's init)
 * will look for it: a name with "/" is taken as is (relative to cwd), a bare name is searched in the container's
 * PATH; symlinks are followed in-root. Throws E_COMMAND_NOT_FOUND (exit 127) or E_COMMAND_NOT_EXECUTABLE (126);
 * when the root has no /bin/sh either the message says that the image has no OS inside. Returns the path found.
 */
export function checkCommand(
  args: readonly string[],
  env: readonly string[],
  cwd: string,
  reader: RootReader,
): string {
  const name = args[0] ?? "";
  const noOs = () => !executable(reader.stat("/bin/sh", { follow: true }));
  const suffix = () => (noOs() ? " — it has no OS inside" : "");
  const notExecutable = (path: string, st: RootStat) =>
    new OslessError(
      "E_COMMAND_NOT_EXECUTABLE",
      st.type === "dir"
        ? `${path}: is a directory, not a program`
        : `${path}: permission denied (mode ${st.mode.toString(8).padStart(4, "0")} has no execute bit)`,
      {
        hint: "give the path of an executable file of the image",
        details: { command: name, path, type: st.type, mode: st.mode },
      },
    );
  if (name.includes("/")) {
    const path = name.startsWith("/") ? posix.normalize(name) : posix.join(cwd, name);
    const st = reader.stat(path, { follow: true });
    if (st === undefined) {
      const link = reader.stat(path);
      const dangling = link?.type === "symlink" ? " (a symlink to a missing file)" : "";
      throw new OslessError("E_COMMAND_NOT_FOUND", `no ${path} in this image${dangling}${suffix()}`, {
        hint: noOs()
          ? "the image holds its program(s) and no shell or tools: run it without a command, or see what it holds with osless analyze"
          : "check the path; osless analyze IMAGE lists what the image holds",
        details: { command: name, path },
      });
    }
    if (!executable(st)) throw notExecutable(path, st);
    return path;
  }
  const pathEnv = envValue(env, "PATH") ?? "";
  let nonExec: { path: string; st: RootStat } | undefined;
  if (name !== "") {
    for (const dir of pathEnv.split(":")) {
      const path = posix.join(dir === "" ? cwd : dir.startsWith("/") ? dir : posix.join(cwd, dir), name);
      const st = reader.stat(path, { follow: true });
      if (st === undefined) continue;
      if (executable(st)) return path;
      nonExec ??= { path, st };
    }
  }
  if (nonExec) throw notExecutable(nonExec.path, nonExec.st);
  const shown = name === "" ? '""' : name;
  throw new OslessError(
    "E_COMMAND_NOT_FOUND",
    `${shown}: not found in PATH (${pathEnv === "" ? "empty" : pathEnv}) in this image${suffix()}`,
    {
      hint: noOs()
        ? "the image holds its program(s) and no shell or tools: run it without a command, or see what it holds with osless analyze"
        : pathEnv === ""
          ? `PATH is empty: give the command's absolute path, or set PATH with -e PATH=${DEFAULT_PATH}`
          : "give the command's absolute path, or check its name; osless analyze IMAGE lists what the image holds",
      details: { command: name, PATH: pathEnv },
    },
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Mounts, resources

/** Docker's default mounts (moby defaults.go), /dev/shm sized `shmSize` bytes. */
export function defaultMounts(shmSize: number = DEFAULT_SHM_SIZE): Mount[] {
  return [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    {
      destination: "/dev",
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
    },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
    },
    {
      destination: "/dev/shm",
      type: "tmpfs",
      source: "shm",
      options: ["nosuid", "noexec", "nodev", "mode=1777", `size=${shmSize}`],
    },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
    {
      destination: "/sys/fs/cgroup",
      type: "cgroup",
      source: "cgroup",
      options: ["ro", "nosuid", "noexec", "nodev"],
    },
  ];
}

/** The devices cgroup of moby's defaults: deny all, allow the standard nodes, deny /dev/fuse explicitly. */
export function defaultDeviceRules(): NonNullable<Resources["devices"]> {
  const allow = (major: number, minor: number) => ({
    allow: true,
    type: "c" as const,
    major,
    minor,
    access: "rwm",
  });
  return [
    { allow: false, access: "rwm" },
    allow(1, 3),
    allow(1, 5),
    allow(1, 8),
    allow(1, 9),
    allow(5, 0),
    allow(5, 1),
    { allow: false, type: "c", major: 10, minor: 229, access: "rwm" },
  ];
}

function usage(message: string, hint: string, details: Record<string, unknown>): OslessError {
  return new OslessError("E_USAGE", message, { hint, details });
}

function resources(opts: RunOptions, facts: HostFacts, warnings: string[]): Resources {
  const res: Resources = { devices: defaultDeviceRules() };
  if (opts.memory !== undefined && opts.memory !== 0) {
    const m = opts.memory;
    if (!Number.isSafeInteger(m) || m < MIN_MEMORY) {
      throw usage(`--memory ${m}: the minimum memory limit is 6MB`, "give at least --memory 6m", {
        memory: m,
      });
    }
    res.memory = { limit: m };
    // Docker: --memory without --memory-swap lets the container use as much swap as memory (memory+swap = 2x).
    if (facts.swapAccounting) res.memory.swap = 2 * m;
    else warnings.push("this kernel does not account swap in the memory cgroup: memory limited without swap");
  }
  if (opts.cpus !== undefined && opts.cpus !== 0) {
    const c = opts.cpus;
    if (!Number.isFinite(c) || c < 0.01 || c > facts.cpuCount) {
      throw usage(
        `--cpus ${c}: the range of CPUs is from 0.01 to ${facts.cpuCount}.00, as there are only ${facts.cpuCount} CPUs available`,
        `give --cpus between 0.01 and ${facts.cpuCount}`,
        { cpus: c },
      );
    }
    res.cpu = { period: CPU_PERIOD, quota: Math.round(c * CPU_PERIOD) };
  }
  if (opts.pidsLimit !== undefined && opts.pidsLimit > 0) {
    if (!Number.isSafeInteger(opts.pidsLimit)) {
      throw usage(
        `--pids-limit ${opts.pidsLimit} is not a whole number`,
        "give a whole number of processes",
        {
          pidsLimit: opts.pidsLimit,
        },
      );
    }
    res.pids = { limit: opts.pidsLimit };
  }
  return res;
}

/** Read-only binds of the host's /etc/resolv.conf and /etc/hosts (--network host), those that exist. */
function hostNetworkMounts(warnings: string[]): Mount[] {
  const out: Mount[] = [];
  for (const f of ["/etc/resolv.conf", "/etc/hosts"]) {
    let source: string;
    try {
      source = realpathSync(f);
    } catch {
      warnings.push(`--network host: the host has no ${f}; the container keeps the image's`);
      continue;
    }
    out.push({ destination: f, type: "bind", source, options: ["rbind", "ro", "rprivate"] });
  }
  return out;
}

function checkHostname(h: string): void {
  if (h === "" || Buffer.byteLength(h) > 64 || !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(h)) {
    throw usage(
      `invalid hostname "${h}"`,
      "a hostname is 1 to 64 letters, digits, '-' and '.', starting and ending with a letter or digit",
      { hostname: h },
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------

/** The runtime spec for `config` run with `opts`. Throws OslessError for anything Docker would refuse. */
export function buildSpec(config: ImageConfig, opts: RunOptions, ctx: SpecContext): BuiltSpec {
  const facts: HostFacts = { ...hostFacts(), ...ctx.host };
  if (ctx.hostCpuCount !== undefined) facts.cpuCount = ctx.hostCpuCount;
  const warnings: string[] = [];
  const reader = ctx.reader;
  const image = config.config ?? {};

  const args = resolveArgs(config, opts);
  checkRootDirs(reader);
  const security = parseSecurityOpts(opts.securityOpt);
  warnings.push(...security.warnings);

  const network = opts.network ?? "none";
  const hostname = opts.hostname ?? (network === "host" ? facts.hostname : ctx.id.slice(0, 12));
  checkHostname(hostname);

  const user = resolveUser(opts.user ?? image.User ?? "", reader);
  const env = buildEnv({
    image: image.Env,
    envFiles: opts.envFiles,
    env: opts.env,
    hostEnv: opts.hostEnv,
    hostname,
    tty: opts.tty,
    home: user.home,
  });
  const cwd = resolveWorkdir(config, opts, reader);
  checkCommand(args, env, cwd, reader);

  // A container cannot get a capability this process lacks (root without CAP_SYS_RESOURCE on some hosts):
  // those are left out with a warning rather than failing in the runtime.
  const bounding = ctx.host?.bounding ?? hostBoundingSet();
  const wanted = tweakCapabilities(opts.capAdd, opts.capDrop);
  const caps = bounding ? wanted.filter((c) => bounding.has(c)) : wanted;
  const missing = wanted.filter((c) => !caps.includes(c));
  if (missing.length > 0) {
    warnings.push(
      `${missing.join(", ")} left out: this host does not let osless grant ${missing.length === 1 ? "it" : "them"}`,
    );
  }
  let seccomp: LinuxSeccomp | undefined;
  if (security.seccomp !== "unconfined")
    seccomp = typeof ctx.seccomp === "function" ? ctx.seccomp(caps) : ctx.seccomp;

  let nofile = NOFILE;
  if (facts.nofileHard !== undefined && facts.nofileHard < NOFILE) {
    nofile = facts.nofileHard;
    warnings.push(
      `RLIMIT_NOFILE set to ${nofile}:${nofile}, the caller's hard limit (Docker's is 1024:1024)`,
    );
  }
  const rlimits: Rlimit[] = [{ type: "RLIMIT_NOFILE", soft: nofile, hard: nofile }];

  const shmSize = opts.shmSize ?? DEFAULT_SHM_SIZE;
  if (!Number.isSafeInteger(shmSize) || shmSize <= 0) {
    throw usage(
      `--shm-size ${shmSize} must be a positive number of bytes`,
      "give a size such as --shm-size 64m",
      {
        shmSize,
      },
    );
  }
  const userMounts = parseUserMounts(opts.volumes, opts.tmpfs);
  if (network === "host") {
    for (const m of hostNetworkMounts(warnings)) {
      if (!userMounts.some((u) => u.destination === m.destination)) userMounts.push(m);
    }
  }
  const taken = new Set(userMounts.map((m) => m.destination));
  const mounts: Mount[] = [
    ...(ctx.root.overlay ? [ctx.root.overlay] : []),
    ...defaultMounts(shmSize).filter((m) => !taken.has(m.destination)),
    ...userMounts,
  ];

  const namespaces: Namespace[] = [{ type: "pid" }];
  if (network !== "host") namespaces.push({ type: "network" });
  namespaces.push({ type: "ipc" }, { type: "uts" }, { type: "mount" });
  if (facts.cgroupMode === "v2") namespaces.push({ type: "cgroup" });

  const annotations: Record<string, string> = {};
  if (image.StopSignal) annotations["org.opencontainers.image.stopSignal"] = image.StopSignal;
  const ports = Object.keys(image.ExposedPorts ?? {});
  if (ports.length > 0) annotations["org.opencontainers.image.exposedPorts"] = ports.join(",");

  const spec: Spec = {
    ociVersion: OCI_VERSION,
    root: { path: ctx.root.path, readonly: ctx.root.readonly },
    mounts,
    process: {
      terminal: opts.tty === true,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      args,
      env,
      cwd,
      capabilities: {
        bounding: [...caps],
        effective: [...caps],
        permitted: [...caps],
        inheritable: [],
        ambient: [],
      },
      rlimits,
      noNewPrivileges: security.noNewPrivileges,
    },
    hostname,
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    linux: {
      namespaces,
      resources: resources(opts, facts, warnings),
      cgroupsPath: ctx.cgroupsPath,
      ...(seccomp ? { seccomp } : {}),
      maskedPaths: [...MASKED_PATHS, ...facts.thermalThrottlePaths],
      readonlyPaths: [...READONLY_PATHS],
    },
  };
  return { spec, warnings };
}
