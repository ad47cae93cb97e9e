/**
 * Containers as osless keeps them: one directory per container under `<store root>/containers/<id>/` holding
 * `container.json` (what it is and its last known state), the OCI bundle (`bundle/config.json`, `bundle/rootfs`),
 * the overlay's `upper` and `work` directories and, for detached containers, the output log.
 *
 * Concurrency: names are allocated under one lock (`containers/.names.lock`), so two `run --name x` never both
 * win; a container's record changes under its own lock (`<id>/lock`) and is replaced by rename, so a reader sees
 * the old record or the new one. State is not fsynced: after a crash the runtime's view (`runc state`, the
 * process table) is what `ps` reconciles against.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isErrno } from "../_internal/fs.ts";
import { acquireLock, withLock } from "../_internal/lock.ts";
import { OslessError } from "../errors.ts";
import type { RunOptions } from "./types.ts";

export type ContainerStatus = "created" | "running" | "exited";

export interface ContainerState {
  status: ContainerStatus;
  /** Host PID of the container's first process while it runs. */
  pid?: number | undefined;
  /** That process's start time (field 22 of /proc/PID/stat), so a recycled PID is not mistaken for it. */
  pidStart?: string | undefined;
  startedAt?: string | undefined;
  finishedAt?: string | undefined;
  exitCode?: number | undefined;
  /** Why the container could not start, when it could not. */
  error?: string | undefined;
  /** PID of the osless process watching a detached container. */
  monitorPid?: number | undefined;
}

export interface ContainerRecord {
  /** 64 hex digits. */
  id: string;
  name: string;
  image: {
    /** What the user typed. */
    ref: string;
    /** The image's name in the store, if it has one. */
    name?: string | undefined;
    /** The image ID (config digest). */
    id: string;
    /** The manifest digest. */
    digest: string;
  };
  created: string;
  /** process.args as the runtime runs them. */
  command: string[];
  runtime: string;
  /** The runtime's state directory (`--root`) the container was created under. */
  runtimeRoot?: string | undefined;
  rootfs: {
    kind: "overlay" | "copy";
    /** Snapshot directories used as overlay lower dirs, top first. */
    lower?: string[] | undefined;
    /** ChainIDs of those snapshots (kept so prune leaves them alone). */
    chainIds?: string[] | undefined;
    readOnly: boolean;
  };
  hostname: string;
  tty: boolean;
  detached: boolean;
  autoRemove: boolean;
  stopSignal: string;
  /** The flags it was created with (for inspect). */
  options: RunOptions;
  state: ContainerState;
}

const ID_RE = /^[0-9a-f]{64}$/;
/** docker's container name pattern: two characters at least. */
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

const ADJECTIVES = [
  "brave",
  "calm",
  "clever",
  "eager",
  "fervent",
  "gallant",
  "happy",
  "jolly",
  "keen",
  "lucid",
  "nimble",
  "quiet",
  "serene",
  "sharp",
  "stoic",
  "tender",
  "vivid",
  "witty",
  "zealous",
  "bold",
];
const NOUNS = [
  "babbage",
  "curie",
  "dijkstra",
  "euler",
  "fermat",
  "gauss",
  "hopper",
  "kepler",
  "knuth",
  "lovelace",
  "noether",
  "pascal",
  "ritchie",
  "shannon",
  "thompson",
  "turing",
  "wozniak",
  "lamport",
  "hamilton",
  "torvalds",
];

export class Containers {
  readonly dir: string;

  constructor(storeRoot: string) {
    this.dir = join(storeRoot, "containers");
  }

  containerDir(id: string): string {
    return join(this.dir, id);
  }
  bundleDir(id: string): string {
    return join(this.dir, id, "bundle");
  }
  recordPath(id: string): string {
    return join(this.dir, id, "container.json");
  }
  logPath(id: string): string {
    return join(this.dir, id, "container.log");
  }
  lockPath(id: string): string {
    return join(this.dir, id, "lock");
  }

  /** Every container's record (directories without a readable record are half-created ones and skipped). */
  async list(): Promise<ContainerRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if (isErrno(e, "ENOENT")) return [];
      throw e;
    }
    const out: ContainerRecord[] = [];
    for (const n of names) {
      if (!ID_RE.test(n)) continue;
      const r = await this.read(n);
      if (r) out.push(r);
    }
    return out.sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));
  }

  async read(id: string): Promise<ContainerRecord | undefined> {
    try {
      return JSON.parse(await readFile(this.recordPath(id), "utf8")) as ContainerRecord;
    } catch (e) {
      if (isErrno(e, "ENOENT")) return undefined;
      if (e instanceof SyntaxError) return undefined;
      throw e;
    }
  }

  /** A container by exact name, full ID or unique ID prefix, as docker finds them. */
  async lookup(input: string): Promise<ContainerRecord> {
    const all = await this.list();
    const byName = all.find((c) => c.name === input || c.name === input.replace(/^\//, ""));
    if (byName) return byName;
    if (/^[0-9a-f]+$/.test(input)) {
      const hits = all.filter((c) => c.id.startsWith(input));
      if (hits.length === 1) return hits[0]!;
      if (hits.length > 1) {
        throw new OslessError(
          "E_AMBIGUOUS",
          `container ID prefix "${input}" matches ${hits.length} containers`,
          {
            hint: "use more digits of the ID, or the name",
          },
        );
      }
    }
    throw new OslessError("E_NOT_FOUND", `no such container: ${input}`, {
      hint: "`osless ps -a` lists the containers",
    });
  }

  /**
   * Allocate an ID and a name (given or generated) and write the first record. Throws E_CONFLICT when the name
   * is taken. The returned record's directory exists.
   */
  async create(
    make: (id: string, name: string) => ContainerRecord,
    wantedName?: string,
  ): Promise<ContainerRecord> {
    if (wantedName !== undefined && !NAME_RE.test(wantedName)) {
      throw new OslessError("E_USAGE", `invalid container name "${wantedName}"`, {
        hint: "names have two characters or more, start with a letter or digit and contain only [a-zA-Z0-9_.-]",
      });
    }
    await mkdir(this.dir, { recursive: true });
    return withLock(join(this.dir, ".names.lock"), async () => {
      const existing = await this.list();
      const taken = new Set(existing.map((c) => c.name));
      let name = wantedName;
      if (name !== undefined && taken.has(name)) {
        const other = existing.find((c) => c.name === name)!;
        throw new OslessError(
          "E_CONFLICT",
          `the container name "${name}" is already in use by container ${other.id.slice(0, 12)}`,
          { hint: `remove that container (osless rm ${name}) or choose another --name` },
        );
      }
      if (name === undefined) {
        for (let i = 0; ; i++) {
          const a = ADJECTIVES[randomBytes(1)[0]! % ADJECTIVES.length]!;
          const n = NOUNS[randomBytes(1)[0]! % NOUNS.length]!;
          name = i < 10 ? `${a}_${n}` : `${a}_${n}${i}`;
          if (!taken.has(name)) break;
        }
      }
      const id = randomBytes(32).toString("hex");
      const record = make(id, name);
      await mkdir(this.containerDir(id), { mode: 0o700 });
      await this.write(record);
      return record;
    });
  }

  private async write(r: ContainerRecord): Promise<void> {
    const p = this.recordPath(r.id);
    const tmp = `${p}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(r, null, 2)}\n`);
    await rename(tmp, p);
  }

  /** Change a container's record under its lock; `fn` returns the new record (or undefined for no change). */
  async update(
    id: string,
    fn: (r: ContainerRecord) => ContainerRecord | undefined | Promise<ContainerRecord | undefined>,
  ): Promise<ContainerRecord> {
    return withLock(this.lockPath(id), async () => {
      const r = await this.read(id);
      if (!r) throw new OslessError("E_NOT_FOUND", `no such container: ${id.slice(0, 12)}`);
      const next = await fn(r);
      if (next) await this.write(next);
      return next ?? r;
    });
  }

  /** Hold a container's lock while `fn` runs (for state changes that span runtime calls). */
  async locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const release = await acquireLock(this.lockPath(id), { timeoutMs: 60_000 });
    try {
      return await fn();
    } finally {
      await release();
    }
  }

  /** Remove a container's directory (its record first, so a half-removed one is no longer listed). */
  async remove(id: string): Promise<void> {
    if (!ID_RE.test(id)) throw new Error(`bad container id ${id}`);
    await rm(this.recordPath(id), { force: true });
    await rm(this.containerDir(id), { recursive: true, force: true });
  }
}

/** A process's state letter (field 3) and start time (field 22) from /proc/PID/stat; undefined when it is gone. */
function procStat(pid: number): { state: string; start: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses: fields after it follow the last ")".
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: rest[0]!, start: rest[19]! };
  } catch {
    return undefined;
  }
}

/** Field 22 (starttime) of /proc/PID/stat, or undefined when the process is gone. */
export function processStartTime(pid: number): string | undefined {
  return procStat(pid)?.start;
}

/** True while the process that was the container's first process still runs (same PID, same start time). */
export function stillRunning(state: ContainerState): boolean {
  if (state.status !== "running" || !state.pid) return false;
  const st = procStat(state.pid);
  if (st === undefined) return false;
  if (state.pidStart !== undefined && st.start !== state.pidStart) return false;
  // A zombie has exited; its parent (the runtime) has not reaped it yet.
  return st.state !== "Z";
}
