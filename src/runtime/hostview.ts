/**
 * A container as the host sees it: a process tree in the host's process table, namespaces beside the host's, a
 * cgroup with limits, capabilities and a seccomp filter, and a root filesystem made of shared overlay lower
 * directories. Everything is read from /proc and the cgroup filesystem at the moment of the call (nothing is
 * cached): `osless top` prints it, `osless inspect` carries it as JSON.
 *
 * Which processes belong to the container: those in its cgroup (`cgroup.procs`), the runtime's own bookkeeping.
 * The cgroup's directory is found from the first process's /proc/PID/cgroup and the cgroup mounts of this
 * process's mountinfo (v1, v2 and hybrid hosts alike). A stopped container has no host facts: its view carries
 * the record, the state and the limits its bundle asks for, with `running: false`.
 */
import { readFileSync, readlinkSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, posix } from "node:path";
import type { Store } from "../store/layout.ts";
import { ALL_CAPABILITIES } from "./capabilities.ts";
import { type ContainerRecord, type ContainerState, Containers } from "./containers.ts";
import { currentState } from "./lifecycle.ts";
import type { Spec } from "./oci.ts";
import { cgroupMode, defaultStateRoot, type RuntimeName } from "./runtime.ts";

// ---------------------------------------------------------------------------------------------------------------
// Types

/** One process as /proc shows it. */
export interface HostProcess {
  /** Its PID on the host. */
  pid: number;
  /** Its PID in the container's pid namespace (the last NSpid field), or undefined for a process of the host's. */
  containerPid?: number | undefined;
  /** Every PID it has, outermost namespace first (NSpid). */
  nsPids: number[];
  /** Parent's host PID (0 for PID 1). */
  ppid: number;
  /** Effective user and group IDs (as the host sees them). */
  uid: number;
  gid: number;
  /** The process's name (comm). */
  name: string;
  /** Its command line; empty for kernel threads and zombies. */
  args: string[];
  /** R, S, D, Z, T... */
  state: string;
  /** Depth in the tree it is listed in (0: a root of that list). */
  depth: number;
}

export type NamespaceKind = "pid" | "mnt" | "uts" | "ipc" | "net" | "cgroup" | "user" | "time";

export const NAMESPACE_KINDS: readonly NamespaceKind[] = [
  "pid",
  "mnt",
  "uts",
  "ipc",
  "net",
  "cgroup",
  "user",
  "time",
];

/** The OCI spec's name of each namespace (what config.json's linux.namespaces lists). */
const OCI_NAMESPACE: Record<NamespaceKind, string> = {
  pid: "pid",
  mnt: "mount",
  uts: "uts",
  ipc: "ipc",
  net: "network",
  cgroup: "cgroup",
  user: "user",
  time: "time",
};

export interface NamespaceView {
  type: NamespaceKind;
  /** readlink /proc/PID/ns/TYPE of the container's first process, e.g. "pid:[4026532399]" (null: unreadable). */
  container: string | null;
  /** The same for the host's reference process (null: unreadable). */
  host: string | null;
  /** True when the container shares the host's namespace; null when either side could not be read. */
  shared: boolean | null;
  /** Whether the bundle asked the runtime for a new namespace of this type. */
  requested: boolean;
}

export interface CgroupHierarchy {
  /** The line's hierarchy ID (0 for cgroup v2). */
  hierarchyId: number;
  /** Its controllers ("cpu", "cpuacct"; "name=systemd"; none for v2). */
  controllers: string[];
  /** The cgroup's path in that hierarchy, e.g. /osless/<id>. */
  path: string;
  /** Its directory on the host, when the hierarchy is mounted here. */
  dir?: string | undefined;
}

export interface CgroupLimits {
  memory?: {
    /** Bytes; null: unlimited. */
    limit: number | null;
    /** Bytes in use now. */
    usage?: number | undefined;
    /** Memory plus swap, as docker's --memory-swap (v1 memsw; v2 memory.max + memory.swap.max); null: unlimited. */
    memoryAndSwapLimit?: number | null | undefined;
    /** The files read. */
    files: string[];
  };
  pids?: {
    /** null: unlimited ("max"). */
    max: number | null;
    current?: number | undefined;
    files: string[];
  };
  cpu?: {
    /** Microseconds of CPU time per period; null: unlimited. */
    quota: number | null;
    /** Microseconds. */
    period: number;
    /** quota / period (CPUs); null: unlimited. */
    cpus: number | null;
    files: string[];
  };
}

export interface CgroupView {
  /** The host's cgroup layout. */
  mode: "v1" | "v2" | "hybrid";
  /** The lines of /proc/PID/cgroup of the container's first process. */
  lines: string[];
  hierarchies: CgroupHierarchy[];
  /** The cgroup.procs file the container's processes were read from. */
  procsFile: string;
  limits: CgroupLimits;
}

export interface CapabilitySet {
  /** 16 hex digits, as /proc/PID/status shows them. */
  hex: string;
  /** The names of the set bits (CAP_CHOWN...); bits this osless does not know are CAP_<n>. */
  names: string[];
}

export interface IdMapEntry {
  inside: number;
  outside: number;
  count: number;
}

export interface SecurityView {
  capabilities: {
    effective: CapabilitySet;
    permitted: CapabilitySet;
    bounding: CapabilitySet;
    inheritable: CapabilitySet;
    ambient: CapabilitySet;
  };
  seccomp: {
    /** 0, 1 or 2 (Seccomp in /proc/PID/status). */
    mode: number;
    /** "disabled", "strict" or "filter". */
    description: string;
    /** How many filters are attached (Seccomp_filters), when the kernel says. */
    filters?: number | undefined;
  };
  noNewPrivs: boolean;
  /** Real, effective, saved and filesystem user IDs. */
  uids: number[];
  gids: number[];
  groups: number[];
  uidMap: IdMapEntry[];
  gidMap: IdMapEntry[];
}

export interface RootfsView {
  kind: "overlay" | "copy";
  readOnly: boolean;
  /** Overlay lower directories, top first, each with the number of containers whose root uses it. */
  lower?: { dir: string; containers: number }[] | undefined;
  /** ChainIDs of the image's layer snapshots. */
  chainIds?: string[] | undefined;
  /** The container's own writes (overlay). */
  upper?: string | undefined;
  work?: string | undefined;
  /** The container's copy of the image's files (copy). */
  copy?: string | undefined;
  /** The "/" mount as the kernel shows it in the container's mount namespace (running containers). */
  mounted?: { type: string; source: string; options: string[] } | undefined;
}

/** What the bundle asks the runtime for (config.json), for running and stopped containers alike. */
export interface ConfiguredView {
  cgroupsPath?: string | undefined;
  namespaces: string[];
  memory?: { limit?: number | undefined; swap?: number | undefined } | undefined;
  cpu?: { quota?: number | undefined; period?: number | undefined; cpus?: number | undefined } | undefined;
  pids?: { limit: number } | undefined;
}

export interface HostView {
  container: {
    id: string;
    name: string;
    image: ContainerRecord["image"];
    command: string[];
    state: ContainerState;
    created: string;
    hostname: string;
  };
  runtime: { name: string; stateDir: string };
  running: boolean;
  bundle: string;
  configured: ConfiguredView;
  rootfs: RootfsView;
  /** The container's processes (its cgroup's), in tree order: each after its parent, depth from the roots. */
  processes?: HostProcess[] | undefined;
  /** The first process's host ancestors, PID 1 first (depth 0) down to its parent (the runtime). */
  ancestors?: HostProcess[] | undefined;
  /**
   * What `ps axf` shows of it: the host's processes from PID 1 down to the container's, in tree order (the
   * container's processes, those with a `containerPid`, below the runtime; exec'd ones below their own runtime).
   */
  hostTree?: HostProcess[] | undefined;
  /** The process whose namespaces are the host's: PID 1, or osless itself when PID 1's cannot be read. */
  hostReference?: { pid: number; note?: string | undefined } | undefined;
  namespaces?: NamespaceView[] | undefined;
  cgroup?: CgroupView | undefined;
  security?: SecurityView | undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// /proc parsing (pure: text in, values out)

/** /proc/PID/status as a map of its "Key:\tvalue" lines. */
export function parseProcStatus(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const i = line.indexOf(":");
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return out;
}

function numbers(v: string | undefined): number[] {
  if (!v) return [];
  return v
    .split(/\s+/)
    .filter(Boolean)
    .map((x) => Number(x));
}

/** A capability mask (hex, as /proc shows it) as names, lowest bit first. */
export function capabilityNames(hex: string): string[] {
  let mask = BigInt(`0x${hex || "0"}`);
  const names: string[] = [];
  for (let bit = 0; mask > 0n; bit++, mask >>= 1n) {
    if (mask & 1n) names.push(ALL_CAPABILITIES[bit] ?? `CAP_${bit}`);
  }
  return names;
}

/** /proc/PID/uid_map or gid_map. */
export function parseIdMap(text: string): IdMapEntry[] {
  return text
    .split("\n")
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter((f) => f.length === 3 && f.every((n) => Number.isFinite(n)))
    .map(([inside, outside, count]) => ({ inside: inside!, outside: outside!, count: count! }));
}

const SECCOMP_MODES = ["disabled", "strict", "filter"];

/** The security-relevant fields of /proc/PID/status. */
export function securityFromStatus(
  status: Map<string, string>,
  maps: { uid: string; gid: string },
): SecurityView {
  const cap = (key: string): CapabilitySet => {
    const hex = status.get(key) ?? "0000000000000000";
    return { hex, names: capabilityNames(hex) };
  };
  const mode = Number(status.get("Seccomp") ?? 0);
  const filters = status.get("Seccomp_filters");
  return {
    capabilities: {
      effective: cap("CapEff"),
      permitted: cap("CapPrm"),
      bounding: cap("CapBnd"),
      inheritable: cap("CapInh"),
      ambient: cap("CapAmb"),
    },
    seccomp: {
      mode,
      description: SECCOMP_MODES[mode] ?? `mode ${mode}`,
      ...(filters !== undefined ? { filters: Number(filters) } : {}),
    },
    noNewPrivs: status.get("NoNewPrivs") === "1",
    uids: numbers(status.get("Uid")),
    gids: numbers(status.get("Gid")),
    groups: numbers(status.get("Groups")),
    uidMap: parseIdMap(maps.uid),
    gidMap: parseIdMap(maps.gid),
  };
}

/** /proc/PID/cgroup lines ("ID:controllers:path") as hierarchies (without their host directories). */
export function parseCgroupFile(text: string): CgroupHierarchy[] {
  const out: CgroupHierarchy[] = [];
  for (const line of text.split("\n")) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    out.push({
      hierarchyId: Number(m[1]),
      controllers: m[2] ? m[2].split(",") : [],
      path: m[3]!,
    });
  }
  return out;
}

/** A cgroup filesystem mounted on this host (from mountinfo). */
export interface CgroupMount {
  version: 1 | 2;
  /** Where it is mounted. */
  mountPoint: string;
  /** The cgroup the mount shows as its root (/ unless a sub-tree is bind-mounted). */
  root: string;
  /** Its controllers (v1; "name=systemd" for named hierarchies). */
  controllers: string[];
}

/** Undo mountinfo's octal escapes (\040 for a space). */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** Super options of a v1 cgroup mount that are not controllers. */
const NOT_CONTROLLERS = new Set(["rw", "ro", "noprefix", "clone_children", "xattr", "cpuset_v2_mode"]);

/** The cgroup mounts listed in a mountinfo file. */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of mountinfo.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(" ");
    const [fstype, , superOpts = ""] = line.slice(sep + 3).split(" ");
    if (fstype !== "cgroup" && fstype !== "cgroup2") continue;
    out.push({
      version: fstype === "cgroup2" ? 2 : 1,
      root: unescapeMount(left[3] ?? "/"),
      mountPoint: unescapeMount(left[4] ?? ""),
      controllers:
        fstype === "cgroup2"
          ? []
          : superOpts.split(",").filter((o) => !NOT_CONTROLLERS.has(o) && !o.startsWith("release_agent=")),
    });
  }
  return out;
}

/**
 * The host directory of each hierarchy: under the mount of the same controllers (v1) or the cgroup2 mount (v2),
 * the path relative to the mount's root. Without such a mount, /sys/fs/cgroup's usual layout is assumed.
 */
export function cgroupDirs(hierarchies: CgroupHierarchy[], mounts: CgroupMount[]): CgroupHierarchy[] {
  const same = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));
  return hierarchies.map((h) => {
    const mount =
      h.hierarchyId === 0
        ? mounts.find((m) => m.version === 2)
        : mounts.find((m) => m.version === 1 && same(m.controllers, h.controllers));
    let dir: string | undefined;
    if (mount) {
      const rel = posix.relative(mount.root, h.path);
      if (!rel.startsWith("..")) dir = posix.join(mount.mountPoint, rel);
    } else if (h.hierarchyId === 0 && mounts.length === 0) {
      dir = posix.join("/sys/fs/cgroup", h.path);
    } else if (h.hierarchyId !== 0 && mounts.length === 0 && h.controllers.length > 0) {
      dir = posix.join("/sys/fs/cgroup", h.controllers.join(","), h.path);
    }
    return { ...h, dir };
  });
}

/** A cgroup file's number: null for "max" or v1's "unlimited" (a page-rounded LONG_MAX), undefined if absent. */
export function cgroupNumber(text: string | undefined): number | null | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (t === "max" || t === "") return null;
  if (!/^-?\d+$/.test(t)) return undefined;
  const n = Number(t);
  // v1's memory "no limit" is 9223372036854771712 (LONG_MAX rounded down to a page); -1 is cpu's "no quota".
  if (n < 0 || n >= 2 ** 62) return null;
  return n;
}

/** Read the limits from the hierarchies' directories (v1 and v2 file names). */
export function readLimits(hierarchies: CgroupHierarchy[]): CgroupLimits {
  const v2 = hierarchies.find((h) => h.hierarchyId === 0 && h.dir);
  const v1 = (ctl: string) =>
    hierarchies.find((h) => h.hierarchyId !== 0 && h.controllers.includes(ctl))?.dir;
  const read = (dir: string | undefined, file: string): string | undefined => {
    if (!dir) return undefined;
    try {
      return readFileSync(join(dir, file), "utf8");
    } catch {
      return undefined;
    }
  };
  const limits: CgroupLimits = {};
  // Each controller from v1 when its hierarchy exists there (hybrid hosts mount v2 without controllers).
  const mem = v1("memory");
  if (mem !== undefined && read(mem, "memory.limit_in_bytes") !== undefined) {
    const memsw = read(mem, "memory.memsw.limit_in_bytes");
    limits.memory = {
      limit: cgroupNumber(read(mem, "memory.limit_in_bytes")) ?? null,
      usage: cgroupNumber(read(mem, "memory.usage_in_bytes")) ?? undefined,
      ...(memsw !== undefined ? { memoryAndSwapLimit: cgroupNumber(memsw) ?? null } : {}),
      files: [join(mem, "memory.limit_in_bytes"), join(mem, "memory.usage_in_bytes")],
    };
  } else if (v2 && read(v2.dir, "memory.max") !== undefined) {
    const limit = cgroupNumber(read(v2.dir, "memory.max")) ?? null;
    const swap = cgroupNumber(read(v2.dir, "memory.swap.max"));
    limits.memory = {
      limit,
      usage: cgroupNumber(read(v2.dir, "memory.current")) ?? undefined,
      ...(swap !== undefined
        ? { memoryAndSwapLimit: limit === null || swap === null ? null : limit + swap }
        : {}),
      files: [join(v2.dir!, "memory.max"), join(v2.dir!, "memory.current")],
    };
  }
  const pids = v1("pids") ?? (read(v2?.dir, "pids.max") !== undefined ? v2?.dir : undefined);
  if (pids !== undefined && read(pids, "pids.max") !== undefined) {
    limits.pids = {
      max: cgroupNumber(read(pids, "pids.max")) ?? null,
      current: cgroupNumber(read(pids, "pids.current")) ?? undefined,
      files: [join(pids, "pids.max"), join(pids, "pids.current")],
    };
  }
  const cpu = v1("cpu");
  if (cpu !== undefined && read(cpu, "cpu.cfs_quota_us") !== undefined) {
    const quota = cgroupNumber(read(cpu, "cpu.cfs_quota_us")) ?? null;
    const period = cgroupNumber(read(cpu, "cpu.cfs_period_us")) ?? 100_000;
    limits.cpu = {
      quota,
      period,
      cpus: quota === null ? null : quota / period,
      files: [join(cpu, "cpu.cfs_quota_us"), join(cpu, "cpu.cfs_period_us")],
    };
  } else if (v2 && read(v2.dir, "cpu.max") !== undefined) {
    const [q, p] = read(v2.dir, "cpu.max")!.trim().split(/\s+/);
    const quota = cgroupNumber(q) ?? null;
    const period = cgroupNumber(p) ?? 100_000;
    limits.cpu = {
      quota,
      period,
      cpus: quota === null ? null : quota / period,
      files: [join(v2.dir!, "cpu.max")],
    };
  }
  return limits;
}

/** The "/" mount of a mountinfo file (the last one: later mounts over / hide earlier ones). */
export function rootMount(
  mountinfo: string,
): { type: string; source: string; options: string[] } | undefined {
  let found: { type: string; source: string; options: string[] } | undefined;
  for (const line of mountinfo.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(" ");
    if (unescapeMount(left[4] ?? "") !== "/") continue;
    const [type = "", source = "", superOpts = ""] = line.slice(sep + 3).split(" ");
    found = { type, source: unescapeMount(source), options: superOpts.split(",").map(unescapeMount) };
  }
  return found;
}

/**
 * Order processes as a tree: roots (those whose parent is not in the list) by PID, each followed by its
 * children (by PID), depth set from the roots.
 */
export function processTree(procs: Omit<HostProcess, "depth">[]): HostProcess[] {
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const children = new Map<number, Omit<HostProcess, "depth">[]>();
  const roots: Omit<HostProcess, "depth">[] = [];
  for (const p of procs) {
    if (p.ppid !== p.pid && byPid.has(p.ppid)) {
      const list = children.get(p.ppid) ?? [];
      list.push(p);
      children.set(p.ppid, list);
    } else roots.push(p);
  }
  const out: HostProcess[] = [];
  const seen = new Set<number>();
  const walk = (p: Omit<HostProcess, "depth">, depth: number) => {
    if (seen.has(p.pid)) return;
    seen.add(p.pid);
    out.push({ ...p, depth });
    for (const c of (children.get(p.pid) ?? []).sort((a, b) => a.pid - b.pid)) walk(c, depth + 1);
  };
  for (const r of roots.sort((a, b) => a.pid - b.pid)) walk(r, 0);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// /proc reading

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** A process as /proc shows it now, or undefined when it is gone (or unreadable). */
export function readProcess(pid: number): Omit<HostProcess, "depth"> | undefined {
  const text = readText(`/proc/${pid}/status`);
  if (text === undefined) return undefined;
  const st = parseProcStatus(text);
  const cmdline = readText(`/proc/${pid}/cmdline`) ?? "";
  const args = cmdline.split("\0");
  if (args.at(-1) === "") args.pop();
  const nsPids = numbers(st.get("NSpid") ?? String(pid));
  return {
    pid,
    nsPids,
    ...(nsPids.length > 1 ? { containerPid: nsPids.at(-1) } : {}),
    ppid: Number(st.get("PPid") ?? 0),
    uid: numbers(st.get("Uid"))[1] ?? 0,
    gid: numbers(st.get("Gid"))[1] ?? 0,
    name: st.get("Name") ?? "",
    args,
    state: (st.get("State") ?? "?").slice(0, 1),
  };
}

/** The process's ancestors from PID 1 down to its parent (depth 0 for the first). */
export function ancestorsOf(pid: number): HostProcess[] {
  const chain: Omit<HostProcess, "depth">[] = [];
  const seen = new Set<number>([pid]);
  let ppid = readProcess(pid)?.ppid ?? 0;
  while (ppid > 0 && !seen.has(ppid)) {
    seen.add(ppid);
    const p = readProcess(ppid);
    if (!p) break;
    chain.push(p);
    ppid = p.ppid;
  }
  return chain.reverse().map((p, depth) => ({ ...p, depth }));
}

/** readlink /proc/PID/ns/TYPE, or null when it cannot be read. */
export function namespaceOf(pid: number | "self", kind: NamespaceKind): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/${kind}`);
  } catch {
    return null;
  }
}

/**
 * Which process stands for the host: PID 1, unless its namespaces cannot be read (a sandbox's init that is not
 * dumpable, or osless without privileges), then osless itself.
 */
export function hostReference(): { pid: number; note?: string } {
  if (namespaceOf(1, "pid") !== null) return { pid: 1 };
  return {
    pid: process.pid,
    note: "the namespaces of PID 1 cannot be read here; those of osless itself stand for the host's",
  };
}

/** The PIDs listed in a cgroup.procs file, in its order. */
export function readCgroupProcs(file: string): number[] {
  const text = readText(file);
  if (text === undefined) return [];
  return text
    .split("\n")
    .filter(Boolean)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
}

// ---------------------------------------------------------------------------------------------------------------
// The view

function configuredOf(spec: Spec | undefined, record: ContainerRecord): ConfiguredView {
  const res = spec?.linux?.resources;
  const cpu = res?.cpu;
  const o = record.options;
  return {
    cgroupsPath: spec?.linux?.cgroupsPath,
    namespaces: (spec?.linux?.namespaces ?? []).map((n) => n.type),
    memory: res?.memory
      ? { limit: res.memory.limit, swap: res.memory.swap }
      : o.memory !== undefined
        ? { limit: o.memory }
        : undefined,
    cpu:
      cpu && (cpu.quota !== undefined || cpu.period !== undefined)
        ? {
            quota: cpu.quota,
            period: cpu.period,
            cpus: cpu.quota !== undefined && cpu.period ? cpu.quota / cpu.period : undefined,
          }
        : o.cpus !== undefined
          ? { cpus: o.cpus }
          : undefined,
    pids: res?.pids ? { limit: res.pids.limit } : undefined,
  };
}

async function readSpec(bundle: string): Promise<Spec | undefined> {
  try {
    return JSON.parse(await readFile(join(bundle, "config.json"), "utf8")) as Spec;
  } catch {
    return undefined;
  }
}

/** How many containers' roots use each of these lower directories. */
async function lowerUse(containers: Containers, lower: string[]): Promise<Map<string, number>> {
  const count = new Map(lower.map((d) => [d, 0]));
  for (const c of await containers.list()) {
    for (const d of c.rootfs.lower ?? []) if (count.has(d)) count.set(d, count.get(d)! + 1);
  }
  return count;
}

/** The host's view of a container (by name, ID or unique ID prefix). */
export async function hostView(store: Store, nameOrId: string): Promise<HostView> {
  const containers = new Containers(store.root);
  const record = await containers.lookup(nameOrId);
  return hostViewOf(store, record);
}

/** The host's view of a container whose record the caller holds. */
export async function hostViewOf(store: Store, record: ContainerRecord): Promise<HostView> {
  const containers = new Containers(store.root);
  const id = record.id;
  const bundle = containers.bundleDir(id);
  const spec = await readSpec(bundle);
  const state = currentState(store, record);
  const dir = containers.containerDir(id);
  const lower = record.rootfs.kind === "overlay" ? (record.rootfs.lower ?? []) : [];
  const use = await lowerUse(containers, lower);
  const rootfs: RootfsView = {
    kind: record.rootfs.kind,
    readOnly: record.rootfs.readOnly,
    ...(record.rootfs.kind === "overlay"
      ? {
          lower: lower.map((d) => ({ dir: d, containers: use.get(d) ?? 0 })),
          chainIds: record.rootfs.chainIds,
          upper: join(dir, "upper"),
          work: join(dir, "work"),
        }
      : { copy: join(bundle, "rootfs") }),
  };
  const stateRoot =
    record.runtimeRoot ??
    (process.env.OSLESS_RUNTIME_ROOT || defaultStateRoot((record.runtime as RuntimeName) ?? "runc"));
  const view: HostView = {
    container: {
      id,
      name: record.name,
      image: record.image,
      command: record.command,
      state,
      created: record.created,
      hostname: record.hostname,
    },
    runtime: { name: record.runtime, stateDir: join(stateRoot, id) },
    running: false,
    bundle,
    configured: configuredOf(spec, record),
    rootfs,
  };
  const pid = state.status === "running" ? state.pid : undefined;
  if (pid === undefined) return view;
  const cgroupText = readText(`/proc/${pid}/cgroup`);
  if (cgroupText === undefined) return view; // exited between the state check and now

  // cgroup: the first process's lines, the hierarchies' directories, the limits, the member processes.
  const mounts = parseCgroupMounts(readText("/proc/self/mountinfo") ?? "");
  const hierarchies = cgroupDirs(parseCgroupFile(cgroupText), mounts);
  const procsDir =
    hierarchies.find((h) => h.hierarchyId !== 0 && h.controllers.includes("pids") && h.dir)?.dir ??
    hierarchies.find((h) => h.hierarchyId === 0 && h.dir)?.dir ??
    hierarchies.find((h) => h.dir)?.dir;
  const procsFile = procsDir ? join(procsDir, "cgroup.procs") : "";
  const memberPids = procsFile ? readCgroupProcs(procsFile) : [pid];
  const procs = memberPids.map(readProcess).filter((p): p is Omit<HostProcess, "depth"> => p !== undefined);

  const ref = hostReference();
  const requested = new Set(spec?.linux?.namespaces?.map((n) => n.type as string) ?? []);
  const namespaces = NAMESPACE_KINDS.map((kind): NamespaceView => {
    const container = namespaceOf(pid, kind);
    const host = namespaceOf(ref.pid, kind);
    return {
      type: kind,
      container,
      host,
      shared: container === null || host === null ? null : container === host,
      requested: requested.has(OCI_NAMESPACE[kind]),
    };
  });

  const status = parseProcStatus(readText(`/proc/${pid}/status`) ?? "");
  const security = securityFromStatus(status, {
    uid: readText(`/proc/${pid}/uid_map`) ?? "",
    gid: readText(`/proc/${pid}/gid_map`) ?? "",
  });
  const mounted = rootMount(readText(`/proc/${pid}/mountinfo`) ?? "");

  // ps axf's picture: every container process with its host ancestors, as one tree from PID 1.
  const ancestors = ancestorsOf(pid);
  const inTree = new Map<number, Omit<HostProcess, "depth">>(ancestors.map((p) => [p.pid, p]));
  const members = new Set(procs.map((p) => p.pid));
  for (const p of procs) {
    inTree.set(p.pid, p);
    if (p.pid !== pid && !members.has(p.ppid) && !inTree.has(p.ppid)) {
      for (const a of ancestorsOf(p.pid)) if (!inTree.has(a.pid)) inTree.set(a.pid, a);
    }
  }

  return {
    ...view,
    running: true,
    rootfs: { ...rootfs, ...(mounted ? { mounted } : {}) },
    processes: processTree(procs),
    ancestors,
    hostTree: processTree([...inTree.values()]),
    hostReference: ref,
    namespaces,
    cgroup: {
      mode: cgroupMode(),
      lines: cgroupText.split("\n").filter(Boolean),
      hierarchies,
      procsFile,
      limits: readLimits(hierarchies),
    },
    security,
  };
}
