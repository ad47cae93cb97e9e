/**
 * One process on a stack of layers that is not an image yet (a build's RUN): the layers become shared snapshots,
 * the process runs on an overlay of them with an upper dir of its own, and what it changed is left in that upper
 * dir for the caller to turn into a layer. No container record is kept: the run lives and dies with the caller.
 * The restrictions are a container's (namespaces, cgroup, capabilities, seccomp), as `docker build` has them.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { arch, release } from "node:os";
import { join } from "node:path";
import { OslessError } from "../errors.ts";
import type { LayerSource } from "../layer/source.ts";
import type { ImageConfig } from "../spec/schemas.ts";
import type { Store } from "../store/layout.ts";
import {
  emptyLowerDir,
  lowerDirs,
  overlayMount,
  overlaySupported,
  prepareSnapshots,
  UnionRoot,
} from "./rootfs.ts";
import {
  findRuntime,
  type RuntimeInfo,
  runtimeArgv,
  runtimeCall,
  runtimeLogErrors,
  runtimeMessage,
  signalNumber,
} from "./runtime.ts";
import { DEFAULT_PROFILE, toOciSeccomp } from "./seccomp.ts";
import { buildSpec } from "./spec.ts";
import type { RunOptions } from "./types.ts";

export interface EphemeralOptions {
  /** The layers below, base first. */
  layers: LayerSource[];
  /** The image config so far (Env, User, WorkingDir apply unless `run` overrides them). */
  config: ImageConfig;
  /** The process: `args` (the full argv), env, workdir, user, network. */
  run: RunOptions;
  runtime?: string | undefined;
  /** What the run is for, in errors ("RUN", "slim's traced run"). */
  purpose?: string | undefined;
  /** Where the process's output goes (default: osless's own). */
  stdio?: ["ignore" | "inherit", "inherit" | "pipe", "inherit" | "pipe"] | undefined;
  /** Called with each chunk of output when stdio pipes it. */
  onOutput?: ((stream: "stdout" | "stderr", chunk: Buffer) => void) | undefined;
  signal?: AbortSignal | undefined;
  /**
   * A tracer for the container's first process: called with its host PID after the runtime created the container
   * and before the process runs the command (the runtime then runs `create` and `start`, not `run`). It returns
   * once attached, with the process's exit status to come: the runtime cannot report it, as it is not the
   * process's parent then. `osless slim` attaches strace here.
   */
  attach?: ((pid: number) => Promise<{ exited: Promise<number> }>) | undefined;
  /**
   * Called once the process runs (a server, probed over the network meanwhile), with a signal that aborts when
   * the process ends on its own; when it settles the process is stopped (SIGTERM, then SIGKILL after
   * `stopTimeoutMs`, default 5 s). The run's result waits for it.
   */
  whileRunning?: ((ended: AbortSignal) => Promise<void>) | undefined;
  stopTimeoutMs?: number | undefined;
}

export interface EphemeralResult {
  /** The process's exit status (128 + signal when one ended it). */
  status: number;
  /** The overlay's upper dir: everything the process created, changed (copied up) or deleted (whiteouts). */
  upper: string;
  /** Mount points the runtime created in the upper dir that were not in the layers (not the process's doing). */
  mountPoints: string[];
  /** Remove the upper dir and everything else of the run. */
  cleanup(): Promise<void>;
}

/** Run one process on `layers` (see the module comment). The caller must call `cleanup()`. */
export async function runOnLayers(store: Store, opts: EphemeralOptions): Promise<EphemeralResult> {
  const rt = findRuntime(opts.runtime);
  const snapshotsRoot = join(store.root, "snapshots");
  if (rt.name !== "runc" || !overlaySupported(snapshotsRoot)) {
    throw new OslessError(
      "E_RUNTIME",
      `${opts.purpose ?? "RUN"} needs an overlay root: only runc mounts one, on a filesystem overlayfs accepts${rt.name !== "runc" ? ` (not ${rt.name})` : ""}`,
      {
        hint: "use runc (the default) with a store on ext4, xfs, btrfs or tmpfs",
      },
    );
  }
  const snapshots = await prepareSnapshots(snapshotsRoot, opts.layers, { signal: opts.signal });
  let lower = lowerDirs(snapshots);
  if (lower.length === 0) {
    await mkdir(emptyLowerDir(snapshotsRoot), { recursive: true });
    lower = [emptyLowerDir(snapshotsRoot)];
  }
  const runs = join(store.root, "runs");
  await mkdir(runs, { recursive: true, mode: 0o700 });
  // Named by this process: prune removes the run directories of processes that are gone.
  const dir = await mkdtemp(join(runs, `${process.pid}-run-`));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    const id = randomBytes(32).toString("hex");
    const upper = join(dir, "upper");
    const work = join(dir, "work");
    const bundle = join(dir, "bundle");
    await mkdir(upper);
    await mkdir(work);
    await mkdir(join(bundle, "rootfs"), { recursive: true });
    const reader = new UnionRoot(lower, upper);
    const ctx = { arch: arch(), kernel: release() };
    const { spec } = buildSpec(opts.config, opts.run, {
      id,
      root: { path: "rootfs", readonly: false, overlay: overlayMount(lower, upper, work) },
      reader,
      cgroupsPath: `/osless-build/${id}`,
      seccomp: (caps: string[]) => toOciSeccomp(DEFAULT_PROFILE, { ...ctx, caps }),
    });
    // Mount points that the image lacks are made by the runtime in the upper dir: not part of the step's changes.
    // (Those inside another mount, such as /dev/pts in /dev's tmpfs, are made there, not in the upper dir.)
    const dests = (spec.mounts ?? []).map((m) => m.destination).filter((d) => d !== "/");
    const made = new Set<string>();
    for (const d of dests) {
      if (reader.stat(d) !== undefined || dests.some((o) => o !== d && d.startsWith(`${o}/`))) continue;
      // The mount point and the parents the runtime makes for it (/etc for /etc/resolv.conf in an image without /etc).
      for (let p = d; p !== "/" && reader.stat(p) === undefined; p = p.slice(0, p.lastIndexOf("/")) || "/")
        made.add(p);
    }
    const mountPoints = [...made].sort();
    await writeFile(join(bundle, "config.json"), JSON.stringify(spec));
    const log = join(dir, "runtime.log");
    const stdio = opts.stdio ?? ["ignore", "inherit", "inherit"];
    let status: number;
    try {
      status = opts.attach
        ? await createAttachStart(rt, { bundle, id, log, dir, stdio }, opts, opts.attach)
        : await runWhole(rt, { bundle, id, log, stdio }, opts);
    } catch (e) {
      // Stopped on purpose: the abort is the error, not what it made fail (a tracer losing the process...).
      opts.signal?.throwIfAborted();
      throw e;
    }
    const errors = runtimeLogErrors(log);
    if (errors.length > 0 || opts.signal?.aborted) {
      await runtimeCall(rt, "delete", ["--force", id]);
      opts.signal?.throwIfAborted();
      throw new OslessError(
        "E_RUNTIME",
        `${rt.name} could not run ${JSON.stringify(spec.process?.args ?? [])}: ${errors.at(-1)}`,
        {
          hint: "the runtime's message says why",
          details: { runtime: errors.at(-1) },
        },
      );
    }
    return { status, upper, mountPoints, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

interface Launch {
  bundle: string;
  id: string;
  log: string;
  stdio: NonNullable<EphemeralOptions["stdio"]>;
}

function wireOutput(child: ChildProcess, opts: EphemeralOptions): void {
  if (opts.onOutput) {
    child.stdout?.on("data", (b: Buffer) => opts.onOutput!("stdout", b));
    child.stderr?.on("data", (b: Buffer) => opts.onOutput!("stderr", b));
  }
}

/**
 * Runs `whileRunning` (its signal aborts when the process ends on its own), then stops the process if it still
 * runs: SIGTERM, SIGKILL after the timeout. Settles when `whileRunning` has; its failure is the caller's to record.
 */
function stopAfter(
  opts: EphemeralOptions,
  ended: Promise<unknown>,
  kill: (sig: "TERM" | "KILL") => void,
): Promise<void> {
  if (!opts.whileRunning) return Promise.resolve();
  const over = new AbortController();
  const done = () => over.abort();
  ended.then(done, done);
  return opts
    .whileRunning(over.signal)
    .catch(() => {})
    .then(() => {
      if (over.signal.aborted) return;
      kill("TERM");
      const t = setTimeout(() => kill("KILL"), opts.stopTimeoutMs ?? 5000);
      const clear = () => clearTimeout(t);
      ended.then(clear, clear);
    });
}

/** `runtime run`: the runtime is the process's parent and reports its exit status. */
async function runWhole(rt: RuntimeInfo, l: Launch, opts: EphemeralOptions): Promise<number> {
  opts.signal?.throwIfAborted();
  const [cmd, ...args] = runtimeArgv(rt, "run", ["--bundle", l.bundle, l.id], { log: l.log });
  const child = spawn(cmd!, args, { stdio: l.stdio });
  wireOutput(child, opts);
  // Signals go to the container through the runtime: killing the runtime's own process would orphan it. While
  // the runtime is still creating the container, `kill` finds none: it is tried again until the runtime ends.
  let gone = false;
  child.on("close", () => {
    gone = true;
  });
  child.on("error", () => {
    gone = true;
  });
  const kill = (sig: "TERM" | "KILL") => {
    const attempt = async () => {
      const r = await runtimeCall(rt, "kill", [l.id, sig]).catch(() => undefined);
      if (r?.status !== 0 && !gone) setTimeout(attempt, 50);
    };
    void attempt();
  };
  const onAbort = () => kill("KILL");
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  const ended = new Promise<number>((resolve, reject) => {
    child.on("error", (e) => reject(new OslessError("E_RUNTIME", `cannot run ${rt.name}: ${e.message}`)));
    child.on("close", (code, sig) => resolve(code ?? 128 + (sig ? signalNumber(sig) : 0)));
  });
  const probing = stopAfter(opts, ended, kill);
  try {
    const status = await ended;
    await probing;
    return status;
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * `runtime create`, the tracer attached to the waiting process, `runtime start`. The process inherits create's
 * stdio, so its output is read from create's pipes until the process (the last holder) closes them. Once created,
 * the container is deleted whatever happens next.
 */
async function createAttachStart(
  rt: RuntimeInfo,
  l: Launch & { dir: string },
  opts: EphemeralOptions,
  attach: NonNullable<EphemeralOptions["attach"]>,
): Promise<number> {
  const pidFile = join(l.dir, "pid");
  const [cmd, ...args] = runtimeArgv(rt, "create", ["--bundle", l.bundle, "--pid-file", pidFile, l.id], {
    log: l.log,
  });
  const child = spawn(cmd!, args, { stdio: l.stdio });
  wireOutput(child, opts);
  const closed = new Promise<void>((resolve) => child.on("close", () => resolve()));
  const created = await new Promise<number>((resolve, reject) => {
    child.on("error", (e) => reject(new OslessError("E_RUNTIME", `cannot run ${rt.name}: ${e.message}`)));
    child.on("exit", (code, sig) => resolve(code ?? 128 + (sig ? signalNumber(sig) : 0)));
  });
  if (created !== 0) return created; // the caller reads the runtime's log
  const kill = (sig: "TERM" | "KILL") => void runtimeCall(rt, "kill", [l.id, sig]).catch(() => {});
  const onAbort = () => kill("KILL");
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    // An abort that came while the runtime was creating found no listener yet.
    opts.signal?.throwIfAborted();
    const pid = Number((await readFile(pidFile, "utf8")).trim());
    const tracer = await attach(pid);
    // Awaited below, unless the start fails first: then its rejection (the tracer lost the process) is moot.
    tracer.exited.catch(() => {});
    const started = await runtimeCall(rt, "start", [l.id]);
    if (started.status !== 0) {
      throw new OslessError(
        "E_RUNTIME",
        `${rt.name} could not start the process: ${runtimeMessage(started.stderr)}`,
        {
          hint: "the runtime's message says why",
        },
      );
    }
    const probing = stopAfter(opts, tracer.exited, kill);
    const status = await tracer.exited;
    await probing;
    await closed;
    return status;
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    await runtimeCall(rt, "delete", ["--force", l.id]).catch(() => {});
  }
}
