/**
 * A container's life: create (image -> shared layer snapshots -> bundle), run in the foreground or detached under
 * a monitor, exec, kill, stop, remove. Each step leaves either a consistent container or nothing: a create that
 * fails removes the container's directory; the overlay is mounted by the runtime inside the container's own mount
 * namespace, so no mount is ever left on the host; `rm` deletes the runtime's state and cgroups.
 *
 * The process model is podman's without conmon: a foreground `run` is the runtime's parent and passes its exit
 * status through; a detached container gets a monitor (`osless` itself, started detached) that holds the
 * runtime's pipes, writes the log and records the exit status.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { arch, hostname, release } from "node:os";
import { join, posix } from "node:path";
import { OslessError } from "../errors.ts";
import type { EventSink } from "../events/index.ts";
import { openImage } from "../store/images.ts";
import { imageLayers } from "../store/layers.ts";
import type { Store } from "../store/layout.ts";
import { type ContainerRecord, Containers, processStartTime, stillRunning } from "./containers.ts";
import type { Spec } from "./oci.ts";
import { DirRoot } from "./root-dir.ts";
import {
  copyRootfs,
  lowerDirs,
  overlayMount,
  overlaySupported,
  prepareSnapshots,
  type Snapshot,
  UnionRoot,
} from "./rootfs.ts";
import {
  findRuntime,
  parseSignal,
  type RuntimeInfo,
  runtimeArgv,
  runtimeCall,
  runtimeLogErrors,
  runtimeMessage,
  signalNumber,
} from "./runtime.ts";
import { DEFAULT_PROFILE, parseSeccompProfile, toOciSeccomp } from "./seccomp.ts";
import { buildSpec, parseSecurityOpts, resolveLoose } from "./spec.ts";
import type { RootReader, RunOptions } from "./types.ts";

export interface CreateOptions extends RunOptions {
  name?: string | undefined;
  /** `--runtime`: runc or crun (default runc if installed). */
  runtime?: string | undefined;
  /** `--rm`: remove the container when it exits. */
  rm?: boolean | undefined;
  detach?: boolean | undefined;
  /** How the root filesystem is made: overlay of shared snapshots (default where supported) or a full copy. */
  rootfs?: "overlay" | "copy" | undefined;
  events?: EventSink | undefined;
  signal?: AbortSignal | undefined;
}

export interface Created {
  record: ContainerRecord;
  runtime: RuntimeInfo;
  warnings: string[];
}

function seccompFor(opts: RunOptions): ((caps: string[]) => ReturnType<typeof toOciSeccomp>) | undefined {
  const wanted = parseSecurityOpts(opts.securityOpt).seccomp;
  if (wanted === "unconfined") return undefined;
  if (typeof wanted === "object" && opts.seccompProfile?.path !== wanted.path) {
    throw new OslessError("E_USAGE", `the seccomp profile ${wanted.path} was not read`, {
      hint: "pass its contents as seccompProfile (the CLI reads the file)",
    });
  }
  const template = opts.seccompProfile
    ? parseSeccompProfile(opts.seccompProfile.text, opts.seccompProfile.path)
    : DEFAULT_PROFILE;
  const ctx = { arch: arch(), kernel: release() };
  return (caps: string[]) => toOciSeccomp(template, { ...ctx, caps });
}

/** Create a container from a store image: snapshots, bundle and record. Nothing is left behind on failure. */
export async function createContainer(
  store: Store,
  imageRef: string,
  opts: CreateOptions = {},
): Promise<Created> {
  const rt = findRuntime(opts.runtime);
  const image = await openImage(store, imageRef);
  const layers = imageLayers(store, image);
  const containers = new Containers(store.root);
  const cfg = image.config.config;
  // An image without layers has nothing to stack: an empty copy does. crun (1.8) cannot mount an overlay as the
  // root itself (runc can: the mount then lives in the container's namespace only), so crun gets a copy.
  const snapshotsRoot = join(store.root, "snapshots");
  const overlayOk = layers.length > 0 && rt.name === "runc" && overlaySupported(snapshotsRoot);
  if (opts.rootfs === "overlay" && !overlayOk) {
    throw new OslessError(
      "E_RUNTIME",
      rt.name !== "runc"
        ? `${rt.name} cannot mount the overlay root osless uses; only runc can`
        : `overlayfs cannot be used for containers under ${store.root}`,
      {
        hint: "use --rootfs copy, or runc with a store on a filesystem overlayfs accepts as upper dir (ext4, xfs, tmpfs)",
      },
    );
  }
  let useOverlay = opts.rootfs !== "copy" && overlayOk;
  let snapshots: Snapshot[] = [];
  if (useOverlay) {
    try {
      const events = opts.events;
      snapshots = await prepareSnapshots(snapshotsRoot, layers, {
        signal: opts.signal,
        onProgress: events
          ? (i, state) => {
              const id = `snapshot-${i}`;
              const label = `layer ${i + 1}/${layers.length} ${layers[i]!.diffId.slice(7, 19)}`;
              if (state === "building") events({ type: "start", id, label });
              else if (state === "built") events({ type: "end", id, detail: "unpacked" });
            }
          : undefined,
      });
    } catch (e) {
      // A layer that cannot stand alone (a hard link to a file of a lower layer, which the OCI spec lets fail)
      // still unpacks onto the layers below it: the copy does that.
      if (!(e instanceof OslessError && e.code === "E_LAYER_INVALID") || opts.rootfs === "overlay") throw e;
      useOverlay = false;
    }
  }
  const seccomp = seccompFor(opts); // before create: a bad profile file must leave nothing behind
  const record = await containers.create(
    (id, name) => ({
      id,
      name,
      image: {
        ref: imageRef,
        name: image.name,
        id: image.manifest.manifest.config.digest,
        digest: image.entry.digest,
      },
      created: new Date().toISOString(),
      command: [],
      runtime: rt.name,
      runtimeRoot: rt.stateRoot,
      rootfs: {
        kind: useOverlay ? "overlay" : "copy",
        lower: useOverlay ? lowerDirs(snapshots) : undefined,
        chainIds: useOverlay ? snapshots.map((s) => s.chainId) : undefined,
        readOnly: opts.readOnly === true,
      },
      // Docker's default: the ID's first 12 digits, or the host's name when the container shares its network.
      hostname: opts.hostname ?? (opts.network === "host" ? hostname() : id.slice(0, 12)),
      tty: opts.tty === true,
      detached: opts.detach === true,
      autoRemove: opts.rm === true,
      stopSignal: stopSignalOf(cfg.config?.StopSignal),
      options: publicOptions(opts),
      state: { status: "created" },
    }),
    opts.name,
  );
  const id = record.id;
  try {
    const dir = containers.containerDir(id);
    const bundle = containers.bundleDir(id);
    const rootfsDir = join(bundle, "rootfs");
    await mkdir(rootfsDir, { recursive: true });
    let reader: RootReader;
    let overlay: ReturnType<typeof overlayMount> | undefined;
    if (useOverlay) {
      const upper = join(dir, "upper");
      const work = join(dir, "work");
      await mkdir(upper);
      await mkdir(work);
      const lower = record.rootfs.lower!;
      overlay = overlayMount(lower, upper, work);
      reader = new UnionRoot(lower, upper);
    } else {
      await copyRootfs(layers, rootfsDir, { signal: opts.signal });
      reader = new DirRoot(rootfsDir);
    }
    const { spec, warnings } = buildSpec(
      cfg,
      { ...opts, hostname: record.hostname },
      {
        id,
        root: { path: "rootfs", readonly: opts.readOnly === true, ...(overlay ? { overlay } : {}) },
        reader,
        cgroupsPath: `${cgroupParent(opts.cgroupParent)}/${id}`,
        seccomp,
      },
    );
    await writeFile(join(bundle, "config.json"), JSON.stringify(spec));
    const final = await containers.update(id, (r) => ({ ...r, command: spec.process?.args ?? [] }));
    return { record: final, runtime: rt, warnings };
  } catch (e) {
    await containers.remove(id).catch(() => {});
    throw e;
  }
}

/** `--cgroup-parent` checked: an absolute cgroup path without `.` or `..` components (default /osless). */
function cgroupParent(input: string | undefined): string {
  if (input === undefined) return "/osless";
  const parts = input.split("/").filter(Boolean);
  if (!input.startsWith("/") || parts.length === 0 || parts.some((p) => p === "." || p === "..")) {
    throw new OslessError("E_USAGE", `invalid --cgroup-parent "${input}"`, {
      hint: "give an absolute cgroup path such as /osless or /myapp/containers",
    });
  }
  return `/${parts.join("/")}`;
}

/** The image's StopSignal as the runtime takes it; one it cannot name (SIGRTMIN+3 and the like) is SIGTERM. */
function stopSignalOf(sig: string | undefined): string {
  if (sig === undefined || sig === "") return "SIGTERM";
  try {
    return parseSignal(sig, "StopSignal");
  } catch {
    return "SIGTERM";
  }
}

/** The runtime of an existing container, under the state directory it was created with. */
export function runtimeOf(record: ContainerRecord): RuntimeInfo {
  const rt = findRuntime(record.runtime);
  return record.runtimeRoot ? { ...rt, stateRoot: record.runtimeRoot } : rt;
}

/** The flags worth showing in inspect (file contents are replaced by their paths). */
function publicOptions(opts: CreateOptions): RunOptions {
  const { events: _e, signal: _s, hostEnv: _h, envFiles, seccompProfile, ...rest } = opts;
  return {
    ...rest,
    ...(envFiles ? { envFiles: envFiles.map((f) => ({ path: f.path, text: "" })) } : {}),
    ...(seccompProfile ? { seccompProfile: { path: seccompProfile.path, text: "" } } : {}),
  };
}

export interface Running {
  /** Resolves to the container's exit status (128 + signal when a signal ended it). */
  exited: Promise<number>;
  /** Forward a signal to the container's process (through the runtime). */
  signal(sig: NodeJS.Signals): void;
}

/**
 * Record that this process now supervises the container, and give the argv of `runtime run` for it (its PID into
 * the pid file, its errors into `log`).
 */
async function markRunning(
  containers: Containers,
  rt: RuntimeInfo,
  id: string,
  log: string,
): Promise<string[]> {
  await containers.update(id, (r) => ({
    ...r,
    state: { status: "running", startedAt: new Date().toISOString(), monitorPid: process.pid },
  }));
  return runtimeArgv(
    rt,
    "run",
    ["--bundle", containers.bundleDir(id), "--pid-file", pidFile(containers, id), id],
    {
      log,
    },
  );
}

function pidFile(containers: Containers, id: string): string {
  return join(containers.containerDir(id), "pid");
}

function runtimeLog(containers: Containers, id: string): string {
  return join(containers.containerDir(id), "runtime.log");
}

/**
 * Start a created container in the foreground with the given stdio (the caller's terminal for `-it`: the runtime
 * then makes the pseudo-terminal and copies it). The returned promise settles when the container exits; a runtime
 * that fails before the container's process runs rejects with E_RUNTIME and the runtime's message.
 */
export async function startForeground(
  store: Store,
  created: Created,
  stdio: "inherit" | ["ignore" | "inherit" | "pipe", "inherit" | "pipe", "inherit" | "pipe"] = "inherit",
  opts: { ownProcessGroup?: boolean } = {},
): Promise<Running & { child: ChildProcess }> {
  const containers = new Containers(store.root);
  const { record, runtime: rt } = created;
  const id = record.id;
  const log = runtimeLog(containers, id);
  const [cmd, ...args] = await markRunning(containers, rt, id, log);
  // Without a terminal the runtime gets a process group of its own: a Ctrl-C reaches osless alone, which
  // forwards it once (in osless's group the runtime would get it from the terminal too, and again from osless).
  const ownGroup = opts.ownProcessGroup === true;
  const child = spawn(cmd!, args, { stdio, detached: ownGroup });
  // The runtime's failure is recorded once; a failure of `finish` itself (the record removed meanwhile by
  // `rm -f`) is not finished a second time.
  const exited = waitRuntime(child, log, record).then(
    async (status) => {
      await finish(store, rt, record, status);
      return status;
    },
    async (e: unknown) => {
      await finish(store, rt, record, undefined, (e as Error).message).catch(() => {});
      throw e;
    },
  );
  return {
    child,
    exited,
    signal: (sig) => {
      // The runtime forwards the signals it receives to the container's first process.
      if (child.exitCode === null) child.kill(sig);
    },
  };
}

function waitRuntime(child: ChildProcess, log: string, record: ContainerRecord): Promise<number> {
  return new Promise((resolve, reject) => {
    child.on("error", (e) =>
      reject(new OslessError("E_RUNTIME", `cannot run ${record.runtime}: ${e.message}`, { cause: e })),
    );
    child.on("close", (code, sig) => {
      const status = code ?? 128 + (sig ? signalNumber(sig) : 0);
      const errors = runtimeLogErrors(log);
      if (errors.length > 0) {
        reject(runtimeFailure(record, errors));
        return;
      }
      resolve(status);
    });
  });
}

function runtimeFailure(record: ContainerRecord, errors: string[]): OslessError {
  const msg = errors[errors.length - 1]!;
  const notFound = /exec: "([^"]+)": (?:executable file not found|stat .*no such file)/.exec(msg);
  if (notFound) {
    return new OslessError("E_COMMAND_NOT_FOUND", `${notFound[1]}: not found in container ${record.name}`, {
      details: { runtime: msg },
    });
  }
  if (/permission denied/.test(msg) && /exec/.test(msg)) {
    return new OslessError(
      "E_COMMAND_NOT_EXECUTABLE",
      `cannot execute ${record.command[0]}: permission denied`,
      {
        details: { runtime: msg },
      },
    );
  }
  return new OslessError("E_RUNTIME", `${record.runtime} could not start container ${record.name}: ${msg}`, {
    hint: "the runtime's message says why; fix the flags or the image and run again",
    details: { runtime: msg },
  });
}

/** Record the end of a container, or remove it (`--rm`), and make sure the runtime holds nothing of it. */
async function finish(
  store: Store,
  rt: RuntimeInfo,
  record: ContainerRecord,
  exitCode: number | undefined,
  error?: string,
  /** Keep a container that failed to start (the detached start reads its error, then removes it). */
  keepFailed = false,
): Promise<void> {
  const containers = new Containers(store.root);
  // `runtime run` deletes its container when the process exits; after a failure some state may remain.
  if (error !== undefined || exitCode === undefined) await runtimeCall(rt, "delete", ["--force", record.id]);
  // A container whose process never ran is not kept: the error said why, and nothing is left behind.
  if (record.autoRemove || (error !== undefined && !keepFailed)) {
    await containers.remove(record.id);
    return;
  }
  await containers
    .update(record.id, (r) => ({
      ...r,
      state: {
        status: "exited",
        startedAt: r.state.startedAt,
        finishedAt: new Date().toISOString(),
        exitCode: exitCode ?? -1,
        ...(error !== undefined ? { error } : {}),
      },
    }))
    .catch(() => {}); // removed meanwhile by `rm -f`
}

/** The container's first process, from its record or the runtime's pid file. */
export function containerPid(store: Store, record: ContainerRecord): number | undefined {
  if (record.state.pid) return record.state.pid;
  try {
    const pid = Number(readFileSync(pidFile(new Containers(store.root), record.id), "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The container's state as it is now: a record that says running whose process (and supervisor) is gone is shown
 * as exited, without rewriting the record (a concurrent `run` may still be finishing it).
 */
export function currentState(store: Store, record: ContainerRecord): ContainerRecord["state"] {
  const s = record.state;
  if (s.status !== "running") return s;
  const pid = containerPid(store, record);
  if (pid !== undefined && stillRunning({ ...s, pid })) return { ...s, pid };
  if (pid === undefined && s.monitorPid !== undefined && processStartTime(s.monitorPid) !== undefined) {
    return s; // starting: the runtime has not written its pid file yet
  }
  return { status: "exited", startedAt: s.startedAt, exitCode: s.exitCode ?? -1 };
}

/**
 * Detached start: launch the monitor (`monitorArgv` + the container ID, started in its own session) and wait
 * until it reports the container running or failed.
 */
export async function startDetached(
  store: Store,
  created: Created,
  monitorArgv: string[],
): Promise<ContainerRecord> {
  const containers = new Containers(store.root);
  const id = created.record.id;
  const [cmd, ...args] = monitorArgv;
  const child = spawn(cmd!, [...args, id], { detached: true, stdio: "ignore" });
  child.unref();
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await containers.read(id);
    if (!r) throw new OslessError("E_RUNTIME", `container ${id.slice(0, 12)} disappeared while starting`);
    if (r.state.status === "running" && r.state.pid) return r;
    if (r.state.status === "exited") {
      if (r.state.error) {
        // Its process never ran: nothing of it is kept (the monitor has cleared the runtime's side).
        await containers.remove(id);
        throw new OslessError("E_RUNTIME", r.state.error, {
          hint: "the runtime's message says why; fix the flags or the image and run again",
        });
      }
      return r;
    }
    if ((child.exitCode !== null && r.state.status === "created") || Date.now() > deadline) {
      // Nothing of a container that could not start is kept: the runtime's state, then the record.
      const why =
        child.exitCode !== null
          ? `the monitor of container ${r.name} exited with status ${child.exitCode}`
          : `container ${r.name} did not start within 60 s`;
      if (child.exitCode === null) child.kill("SIGKILL");
      await runtimeCall(runtimeOf(r), "delete", ["--force", id]).catch(() => {});
      await containers.remove(id);
      throw new OslessError("E_RUNTIME", why, {
        hint: "run it in the foreground (without -d) to see the runtime's output",
      });
    }
    await new Promise((res) => setTimeout(res, 5));
  }
}

/**
 * The monitor of a detached container (run as `osless __monitor ID` in its own session): runs the runtime with
 * the container's output as JSON lines in its log (Docker's json-file format: `{"log","stream","time"}`), records
 * the PID once the runtime has written it, then the exit status, and removes the container if `--rm` was given.
 */
export async function monitorContainer(store: Store, id: string): Promise<number> {
  const containers = new Containers(store.root);
  const record = await containers.read(id);
  if (!record) throw new OslessError("E_NOT_FOUND", `no such container: ${id}`);
  const rt = runtimeOf(record);
  const log = runtimeLog(containers, id);
  const out = createWriteStream(containers.logPath(id), { flags: "a" });
  const pidPath = pidFile(containers, id);
  const [cmd, ...args] = await markRunning(containers, rt, id, log);
  const child = spawn(cmd!, args, { stdio: ["ignore", "pipe", "pipe"] });
  // Docker's json-file: one entry per line; a line longer than 16 KiB is cut into entries of that size, and the
  // last partial line is written when the stream ends.
  const MAX_LINE = 16 * 1024;
  const logStream = (stream: "stdout" | "stderr", from: NodeJS.ReadableStream) => {
    let partial = "";
    const entry = (log: string) =>
      out.write(`${JSON.stringify({ log, stream, time: new Date().toISOString() })}\n`);
    from.on("data", (b: Buffer) => {
      const lines = (partial + b.toString("utf8")).split("\n");
      partial = lines.pop()!;
      for (const l of lines) entry(`${l}\n`);
      while (partial.length >= MAX_LINE) {
        entry(partial.slice(0, MAX_LINE));
        partial = partial.slice(MAX_LINE);
      }
    });
    return new Promise<void>((resolve) =>
      from.on("end", () => {
        if (partial) entry(partial);
        resolve();
      }),
    );
  };
  const drained = Promise.all([logStream("stdout", child.stdout!), logStream("stderr", child.stderr!)]);
  // Record the PID as soon as the runtime has written it.
  const watch = (async () => {
    for (let i = 0; i < 6000 && child.exitCode === null; i++) {
      if (existsSync(pidPath)) {
        const pid = Number(readFileSync(pidPath, "utf8").trim());
        if (pid > 0) {
          await containers.update(id, (r) => ({
            ...r,
            state: { ...r.state, pid, pidStart: processStartTime(pid) },
          }));
          return;
        }
      }
      await new Promise((res) => setTimeout(res, 5));
    }
  })();
  let status: number | undefined;
  let error: string | undefined;
  try {
    status = await waitRuntime(child, log, record);
  } catch (e) {
    error = (e as Error).message;
  }
  await watch.catch(() => {});
  await drained;
  await new Promise<void>((res) => out.end(res));
  await finish(store, rt, record, status, error, true);
  return status ?? 125;
}

/** Send a signal to a running container's first process. */
export async function killContainer(store: Store, input: string, sig = "SIGKILL"): Promise<ContainerRecord> {
  const containers = new Containers(store.root);
  const record = await containers.lookup(input);
  const state = currentState(store, record);
  if (state.status !== "running") {
    throw new OslessError("E_CONFLICT", `container ${record.name} is not running`, {
      hint: "`osless ps -a` shows its state",
    });
  }
  const rt = runtimeOf(record);
  const r = await runtimeCall(rt, "kill", [record.id, sig.replace(/^SIG/, "")]);
  if (
    r.status !== 0 &&
    currentState(store, (await containers.read(record.id)) ?? record).status === "running"
  ) {
    throw new OslessError("E_RUNTIME", `cannot signal ${record.name}: ${runtimeMessage(r.stderr)}`);
  }
  return record;
}

async function waitExit(store: Store, id: string, ms: number): Promise<boolean> {
  const containers = new Containers(store.root);
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await containers.read(id);
    if (!r) return true;
    if (currentState(store, r).status !== "running") {
      // Let the supervisor record the status (it removes or updates the record right after the exit).
      if (r.state.status !== "running" || r.state.monitorPid === undefined) return true;
      if (processStartTime(r.state.monitorPid) === undefined) return true;
    }
    if (Date.now() > deadline) return false;
    await new Promise((res) => setTimeout(res, 10));
  }
}

/** `stop`: the stop signal, then SIGKILL after `timeoutSec` (Docker's default 10). */
export async function stopContainer(store: Store, input: string, timeoutSec = 10): Promise<ContainerRecord> {
  const containers = new Containers(store.root);
  const record = await containers.lookup(input);
  if (currentState(store, record).status !== "running") return record; // docker stop of a stopped container: fine
  await killContainer(store, record.id, record.stopSignal).catch((e) => {
    if (!(e instanceof OslessError && e.code === "E_CONFLICT")) throw e;
  });
  if (!(await waitExit(store, record.id, timeoutSec * 1000))) {
    await killContainer(store, record.id, "SIGKILL").catch(() => {});
    await waitExit(store, record.id, 30_000);
  }
  return record;
}

/** `rm [-f]`: remove a stopped container (or kill a running one first with `force`). */
export async function removeContainer(store: Store, input: string, force = false): Promise<ContainerRecord> {
  const containers = new Containers(store.root);
  const record = await containers.lookup(input);
  if (currentState(store, record).status === "running") {
    if (!force) {
      throw new OslessError("E_CONFLICT", `container ${record.name} is running`, {
        hint: `stop it first (osless stop ${record.name}) or use osless rm -f`,
      });
    }
    await killContainer(store, record.id, "SIGKILL").catch(() => {});
    await waitExit(store, record.id, 30_000);
  }
  const rt = runtimeOf(record);
  // Whatever the runtime still holds (a container killed with its supervisor): state and cgroups.
  await runtimeCall(rt, "delete", ["--force", record.id]);
  await containers.remove(record.id);
  return record;
}

/**
 * The working directory lands under /proc once `.`, `..` and the container's own symlinks are resolved (the
 * CVE-2024-21626 vector: /proc/self/fd/N); resolved in the container's root as it is now.
 */
function underProc(root: RootReader, workdir: string): boolean {
  const clean = posix.normalize(workdir);
  const resolved = resolveLoose(root, clean);
  // A symlink that cannot be followed is refused too: where it leads cannot be checked.
  return resolved.dangling !== undefined || [clean, resolved.path].some((p) => /^\/proc(\/|$)/.test(p));
}

/** The container's root as it is now (its own writes included), for reading /etc/passwd and the like. */
export function containerRootOf(store: Store, record: ContainerRecord): RootReader {
  const containers = new Containers(store.root);
  if (record.rootfs.kind === "overlay" && record.rootfs.lower) {
    return new UnionRoot(record.rootfs.lower, join(containers.containerDir(record.id), "upper"));
  }
  return new DirRoot(join(containers.bundleDir(record.id), "rootfs"));
}

export interface ExecOptions {
  args: string[];
  env?: string[] | undefined;
  workdir?: string | undefined;
  /** Numeric `uid[:gid]` already resolved by the caller, or undefined for the container's user. */
  user?: string | undefined;
  /** Supplementary groups with `user`. */
  additionalGids?: number[] | undefined;
  tty?: boolean | undefined;
  detach?: boolean | undefined;
}

/** `exec`: run another process in a running container (the runtime applies the container's restrictions). */
export async function execInContainer(
  store: Store,
  input: string,
  opts: ExecOptions,
  stdio: "inherit" | ["ignore" | "inherit" | "pipe", "inherit" | "pipe", "inherit" | "pipe"] = "inherit",
): Promise<Running & { child: ChildProcess }> {
  const containers = new Containers(store.root);
  const record = await containers.lookup(input);
  if (currentState(store, record).status !== "running") {
    throw new OslessError("E_CONFLICT", `container ${record.name} is not running`, {
      hint: `start a new one with osless run, or see osless ps -a`,
    });
  }
  if (opts.args.length === 0)
    throw new OslessError("E_USAGE", "exec needs a command to run in the container");
  if (opts.workdir !== undefined && !opts.workdir.startsWith("/")) {
    throw new OslessError("E_USAGE", `the working directory "${opts.workdir}" is not absolute`);
  }
  if (opts.workdir !== undefined && underProc(containerRootOf(store, record), opts.workdir)) {
    throw new OslessError("E_USAGE", `the working directory ${opts.workdir} is under /proc`, {
      hint: "a working directory under /proc can reach the host (CVE-2024-21626); choose another",
    });
  }
  const rt = runtimeOf(record);
  const dir = containers.containerDir(record.id);
  const log = join(dir, `exec-${process.pid}.log`);
  // The whole process is given to the runtime (--process): the container's own, with what exec changes. With
  // flags instead, runc keeps the container user's supplementary groups (root's 0) for `-u nobody`.
  const spec = JSON.parse(
    await readFile(join(containers.bundleDir(record.id), "config.json"), "utf8"),
  ) as Spec;
  const base = spec.process!;
  const env = [...(base.env ?? [])];
  for (const e of opts.env ?? []) {
    const key = e.slice(0, e.indexOf("=") + 1);
    const i = env.findIndex((x) => x.startsWith(key));
    if (i >= 0) env[i] = e;
    else env.push(e);
  }
  let user = base.user;
  if (opts.user !== undefined) {
    const [uid, gid = "0"] = opts.user.split(":");
    user = {
      uid: Number(uid),
      gid: Number(gid),
      additionalGids: [Number(gid), ...(opts.additionalGids ?? [])],
    };
  }
  const proc = {
    ...base,
    terminal: opts.tty === true,
    args: opts.args,
    env,
    cwd: opts.workdir ?? base.cwd,
    user,
  };
  const procFile = join(dir, `exec-${process.pid}.json`);
  await writeFile(procFile, JSON.stringify(proc));
  const args: string[] = ["--process", procFile];
  if (opts.detach) args.push("--detach");
  args.push(record.id);
  const [cmd, ...rest] = runtimeArgv(rt, "exec", args, { log });
  // A detached process would keep the caller's output open (and whoever reads it waiting) until it ends: it gets
  // none, as with docker exec -d; the runtime's own errors still reach its log.
  const child = spawn(cmd!, rest, { stdio: opts.detach ? "ignore" : stdio });
  const exited = waitRuntime(child, log, { ...record, command: opts.args }).finally(async () => {
    await rm(log, { force: true });
    await rm(procFile, { force: true });
  });
  return {
    child,
    exited,
    signal: (sig) => {
      if (child.exitCode === null) child.kill(sig);
    },
  };
}
