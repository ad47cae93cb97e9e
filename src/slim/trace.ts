/**
 * File-access tracing of a container's run, for `osless slim`'s traced plan.
 *
 * The tracer is strace (Debian's `strace` package), attached with ptrace to the container's first process while
 * it waits, created but not started, for the runtime's start (runtime/ephemeral.ts `attach`); it follows every
 * process the container forks and records each successful call that names a file, with the paths as the
 * container sees them (`-y` annotates descriptors with their paths). Why strace and not fanotify: fanotify would
 * need a native helper (Node has no binding) and reports opened files only, not the symlinks, directories and
 * probes of existence (stat, access, readlink) a program's behaviour depends on, nor which process did what;
 * ptrace needs nothing in the image and nothing compiled, and root on the host may trace the container's
 * processes whatever their capabilities and seccomp filter. The cost is speed: a traced run is slower, and it is
 * run once.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { constants as osConstants } from "node:os";
import { join } from "node:path";
import { which } from "../_internal/which.ts";
import { OslessError } from "../errors.ts";
import { parseStraceDir, type TracedPath } from "./strace.ts";

/**
 * strace's flags (without what it traces): one output file per process (`PREFIX.<pid>`, no interleaved lines),
 * successful calls only, descriptors annotated with their paths, whole strings, the calls that name files.
 */
export function straceArgs(outPrefix: string): string[] {
  return ["-ff", "-q", "-z", "-y", "-s", "4096", "-e", "trace=%file,fchdir", "-o", outPrefix];
}

/** The most trace a probe run may leave (all processes' files together). */
const TRACE_MAX = 256 << 20;

/** How long attaching may take before the run is given up. */
const ATTACH_TIMEOUT_MS = 10_000;

/** The strace program on PATH (the usual directories when PATH is unset), or E_TOOL_MISSING naming the package. */
export function findStrace(env: NodeJS.ProcessEnv = process.env): string {
  const found = which("strace", { env });
  if (found) return found;
  throw new OslessError("E_TOOL_MISSING", "slim traces the image's run with strace, which is not installed", {
    hint: "install it (Debian/Ubuntu: apt-get install strace), or pass --no-trace for the static plan alone",
  });
}

export interface Trace {
  /** Every file the container's processes named, as they named it (absolute, inside the container). */
  paths: TracedPath[];
  /** The first process's exit status (128 + signal number when a signal ended it). */
  status: number;
  /** How many processes the container ran. */
  processes: number;
}

/** TracerPid of every thread of `pid`: true when all are traced by `tracer`. */
function allThreadsTraced(pid: number, tracer: number): boolean {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return false;
  }
  for (const t of tasks) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${t}/status`, "utf8");
      const m = /^TracerPid:\s*(\d+)$/m.exec(status);
      if (Number(m?.[1]) !== tracer) return false;
    } catch {
      // A thread that ended meanwhile.
    }
  }
  return true;
}

/**
 * Attach strace to `pid` (writing `dir/trace.<pid>` files), wait until every thread is traced, and give the
 * trace to come: it settles when the last traced process has ended.
 */
export async function attachStrace(
  strace: string,
  dir: string,
  pid: number,
  opts: { cwd?: string | undefined } = {},
): Promise<{ exited: Promise<number>; trace: Promise<Trace> }> {
  const child: ChildProcess = spawn(strace, [...straceArgs(join(dir, "trace")), "-p", `${pid}`], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const err: Buffer[] = [];
  child.stderr?.on("data", (b: Buffer) => err.push(b));
  const ended = new Promise<number>((resolve, reject) => {
    child.on("error", (e) =>
      reject(new OslessError("E_TOOL_MISSING", `cannot run ${strace}: ${e.message}`, { cause: e })),
    );
    child.on("close", (code) => resolve(code ?? 1));
  });
  let gone = false;
  void ended.then(
    () => {
      gone = true;
    },
    () => {
      gone = true;
    },
  );
  const deadline = Date.now() + ATTACH_TIMEOUT_MS;
  while (!allThreadsTraced(pid, child.pid ?? -1)) {
    if (gone || Date.now() > deadline) {
      child.kill("SIGKILL");
      await ended.catch(() => {});
      const why = Buffer.concat(err).toString("utf8").trim();
      throw new OslessError(
        "E_SLIM",
        `strace could not attach to the container's process ${pid}: ${why || "timed out"}`,
        {
          hint: "slim traces with ptrace as root on the host: kernel.yama.ptrace_scope 3, a seccomp filter or an LSM around osless can forbid it",
        },
      );
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  // The first process is the runtime's Go init: its other threads' setup calls are not the container's doing.
  let threads: number[] = [];
  try {
    threads = readdirSync(`/proc/${pid}/task`)
      .map(Number)
      .filter((t) => t !== pid);
  } catch {
    // Gone already: nothing of its setup threads to leave out.
  }
  const trace = ended.then(async (code) => {
    const files: { pid: number; text: string }[] = [];
    let bytes = 0;
    for (const name of await readdir(dir)) {
      const m = /^trace\.(\d+)$/.exec(name);
      if (!m) continue;
      // The container decides how much it does: a run that named files without end is refused, not read.
      bytes += (await stat(join(dir, name))).size;
      if (bytes > TRACE_MAX) {
        throw new OslessError(
          "E_SLIM",
          `the probe run's trace is over ${TRACE_MAX >> 20} MiB: too much to read`,
          {
            hint: "give a shorter --probe (or --no-trace and --include what the image needs)",
          },
        );
      }
      files.push({ pid: Number(m[1]), text: await readFile(join(dir, name), "utf8") });
    }
    const parsed = parseStraceDir(files, pid, { cwd: opts.cwd ?? "/", setupPids: threads });
    const exit = parsed.exit;
    if (exit === undefined) {
      const why = Buffer.concat(err).toString("utf8").trim();
      throw new OslessError(
        "E_SLIM",
        `strace lost the container's process ${pid} before it ended (strace exited ${code}${why ? `: ${why}` : ""})`,
        { hint: "run slim again; if it keeps failing, --no-trace plans without the trace" },
      );
    }
    const status =
      "code" in exit ? exit.code : 128 + ((osConstants.signals as Record<string, number>)[exit.signal] ?? 0);
    return { paths: parsed.paths, status, processes: parsed.processes };
  });
  // Both are awaited by someone (the runtime the status, slim the trace); a failure must not go unhandled twice.
  trace.catch(() => {});
  return { exited: trace.then((t) => t.status), trace };
}
