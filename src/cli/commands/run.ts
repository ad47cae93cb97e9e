/**
 * Container commands: run, exec, ps, logs, stop, kill, rm (and the hidden `__monitor` of detached containers).
 * Flags are docker's. `run` and `exec` pass the container's exit status through and use docker's 125 (osless or
 * the runtime failed), 126 (the command cannot be executed) and 127 (the command does not exist) for their own.
 */
import { readFileSync } from "node:fs";
import { type Command, Option } from "@commander-js/extra-typings";
import { OslessError, runExitCodeFor } from "../../errors.ts";
import { parseInteger, parseMemory, parsePositiveNumber } from "../args.ts";
import { reportError } from "../output/report.ts";
import type { CommandContext } from "./registry.ts";

const collect = (v: string, prev: string[] = []) => [...prev, v];

interface RunFlags {
  name?: string;
  detach?: boolean;
  interactive?: boolean;
  tty?: boolean;
  rm?: boolean;
  entrypoint?: string;
  env?: string[];
  envFile?: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  volume?: string[];
  tmpfs?: string[];
  memory?: string;
  cpus?: string;
  pidsLimit?: string;
  capAdd?: string[];
  capDrop?: string[];
  securityOpt?: string[];
  readOnly?: boolean;
  network?: string;
  shmSize?: string;
  cgroupParent?: string;
  runtime?: string;
  rootfs?: string;
  pull?: string;
  json?: boolean;
}

/** Bad flags of run and exec exit 125 as docker's do (the container's own statuses keep 1, 2, ...). */
function dockerUsageExit(err: { exitCode: number }): never {
  process.exit(err.exitCode === 0 ? 0 : 125);
}

/** Run an action whose failures exit with docker run's 125/126/127 instead of osless's usual statuses. */
function actRun<A extends unknown[]>(ctx: CommandContext, fn: (...args: A) => Promise<number>) {
  return async (...args: A) => {
    try {
      process.exitCode = await fn(...args);
    } catch (e) {
      // The command's own options (the container's arguments may hold a --json of their own).
      const opts = args.find(
        (a): a is { json?: boolean } => typeof a === "object" && a !== null && !Array.isArray(a),
      );
      reportError(ctx.io, e, Boolean(opts?.json));
      process.exitCode = runExitCodeFor(e);
    }
  };
}

/** Forward the signals osless receives to the container until it exits; returns the cleanup. */
function forwardSignals(signal: (sig: NodeJS.Signals) => void, tty: boolean): () => void {
  // With a terminal the runtime shares our process group: the kernel already delivers SIGWINCH to it.
  const sigs: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];
  if (!tty) sigs.push("SIGWINCH");
  const handler = (sig: NodeJS.Signals) => signal(sig);
  for (const s of sigs) process.on(s, handler);
  return () => {
    for (const s of sigs) process.off(s, handler);
  };
}

/** The exit status of a process osless runs in the foreground, forwarding the signals osless gets meanwhile. */
async function exitStatus(
  running: { exited: Promise<number>; signal: (sig: NodeJS.Signals) => void },
  tty: boolean | undefined,
): Promise<number> {
  const stop = forwardSignals(running.signal, Boolean(tty));
  try {
    return await running.exited;
  } finally {
    stop();
  }
}

/** The argv that starts this osless again (for the monitor of a detached container). */
function selfArgv(root: string): string[] {
  return [process.execPath, ...process.execArgv, process.argv[1]!, "--root", root, "__monitor"];
}

export function registerRunCommands(program: Command, ctx: CommandContext): void {
  const { io, act } = ctx;

  program
    .command("run")
    .description("Run a command in a new container: an isolated, restricted process on this host's kernel")
    .exitOverride(dockerUsageExit)
    .argument("<image>", "image name, ID or digest in the store (pulled when missing, see --pull)")
    .argument("[command...]", "command and arguments (replace the image's CMD)")
    .passThroughOptions()
    .option("--name <name>", "name the container")
    .option("-d, --detach", "run in the background and print the container ID; output goes to `osless logs`")
    .option("-i, --interactive", "keep stdin open")
    .option("-t, --tty", "allocate a pseudo-terminal")
    .option("--rm", "remove the container when it exits")
    .option(
      "--entrypoint <cmd>",
      "override the image's ENTRYPOINT; as with docker, the image's CMD is dropped too (\"\" clears both)",
    )
    .option(
      "-e, --env <K=V>",
      "set an environment variable (K alone takes this shell's value); repeatable",
      collect,
    )
    .option("--env-file <file>", "read environment variables from a file (K=V lines); repeatable", collect)
    .option("-w, --workdir <dir>", "working directory inside the container")
    .option(
      "-u, --user <user[:group]>",
      "user and group, names (from the image's /etc/passwd, /etc/group) or IDs",
    )
    .option("-h, --hostname <name>", "the container's host name (default: the first 12 digits of its ID)")
    .option("-v, --volume <src:dst[:ro]>", "bind-mount a host directory or file; repeatable", collect)
    .option("--tmpfs <dst[:opts]>", "mount a tmpfs (e.g. /run:size=64m); repeatable", collect)
    .option("-m, --memory <bytes>", "memory limit (512m, 1g: binary units, as docker)")
    .option("--cpus <n>", "CPU limit in CPUs (1.5 = one and a half)")
    .option("--pids-limit <n>", "maximum number of processes (-1: unlimited)")
    .option("--cap-add <cap>", "add a Linux capability (e.g. NET_ADMIN, ALL); repeatable", collect)
    .option("--cap-drop <cap>", "drop a Linux capability (e.g. CHOWN, ALL); repeatable", collect)
    .option(
      "--security-opt <opt>",
      "seccomp=FILE|unconfined, no-new-privileges[:true|false]; repeatable",
      collect,
    )
    .option("--read-only", "mount the container's root filesystem read-only")
    .addOption(
      new Option(
        "--network <mode>",
        "none (default: osless has no container networking yet: only loopback) or host (the host's network)",
      ).choices(["none", "host"]),
    )
    .option("--shm-size <bytes>", "size of /dev/shm (default 64m)")
    .option("--cgroup-parent <path>", "cgroup under which the container's is made (default /osless)")
    .option("--runtime <name>", "OCI runtime: runc (default when installed) or crun")
    .addOption(
      new Option(
        "--rootfs <kind>",
        "how the root filesystem is made (default: overlay where supported)",
      ).choices(["overlay", "copy"]),
    )
    .addOption(
      new Option("--pull <policy>", "pull the image: missing (default), always, never").choices([
        "missing",
        "always",
        "never",
      ]),
    )
    .option("--json", "with -d: print the container as JSON; errors as JSON")
    .addHelpText(
      "after",
      `
The container is a process on this host's kernel: its own pid, mount, uts, ipc and network namespaces, a cgroup
(limits from --memory, --cpus, --pids-limit), Docker's 14 default capabilities and Docker's default seccomp profile.
Its root filesystem is the image's layers under an overlay (the layers are shared by every container; writes go
to the container's own upper directory and never reach the image store).

Networking: there is no container network yet. The default --network none gives the container only a loopback
interface; --network host shares the host's network.

Exit status: the container's own; 125 when osless or the runtime fails, 126 when the command cannot be executed,
127 when it does not exist in the image.

Examples:
  osless run --rm hello                               # the article's static hello: FROM scratch + one binary
  osless run --rm -it busybox sh                      # a shell with a terminal
  osless run --rm -e GREETING=hi -w /tmp -u nobody busybox sh -c 'echo $GREETING; pwd; id'
  osless run -d --name ticker busybox sh -c 'while :; do date; sleep 1; done'   # see osless logs -f ticker
  osless run --rm --memory 64m --pids-limit 32 --cap-drop ALL debian cat /etc/os-release
  osless run --rm -v /srv/data:/data:ro --read-only busybox ls /data`,
    )
    .action(
      actRun(ctx, async (image: string, command: string[], opts: RunFlags) => {
        const { createContainer, startForeground, startDetached } = await import(
          "../../runtime/lifecycle.ts"
        );
        const s = await ctx.store();
        if (opts.detach && (opts.tty || opts.interactive)) {
          throw new OslessError(
            "E_USAGE",
            `${opts.tty ? "-t" : "-i"} with -d: a detached container has no terminal or stdin to keep`,
            {
              hint: "osless has no attach: drop -t/-i and read the output with osless logs, or run in the foreground with -it",
            },
          );
        }
        if (opts.tty && !process.stdin.isTTY) {
          // The runtime makes the container's terminal from this one: there must be one.
          throw new OslessError("E_USAGE", "the input device is not a TTY", {
            hint: "drop -t when stdin is a pipe or file (keep -i to pass stdin through)",
          });
        }
        if (opts.pull !== "never") await ensureImage(ctx, image, opts.pull ?? "missing");
        const { parseSecurityOpts } = await import("../../runtime/spec.ts");
        const security = opts.securityOpt ?? [];
        const seccomp = parseSecurityOpts(security).seccomp;
        const seccompFile = typeof seccomp === "object" ? seccomp.path : undefined;
        const readText = (path: string, what: string) => {
          try {
            return readFileSync(path, "utf8");
          } catch (e) {
            throw new OslessError("E_USAGE", `cannot read ${what} ${path}: ${(e as Error).message}`, {
              hint: "check the path",
            });
          }
        };
        // First runs of an image unpack its layers: per-layer bars on a terminal (a script's stderr stays the
        // container's alone).
        const { createProgress } = await import("../output/progress.ts");
        const progress = createProgress(io.stderr, Boolean(io.stderr.isTTY) && !opts.json);
        const created = await createContainer(s, image, {
          events: progress.sink,
          name: opts.name,
          runtime: opts.runtime,
          rm: opts.rm,
          detach: opts.detach,
          rootfs: opts.rootfs as "overlay" | "copy" | undefined,
          entrypoint: opts.entrypoint,
          args: command.length > 0 ? command : undefined,
          env: opts.env,
          envFiles: opts.envFile?.map((path) => ({ path, text: readText(path, "env file") })),
          hostEnv: process.env,
          workdir: opts.workdir,
          user: opts.user,
          hostname: opts.hostname,
          volumes: opts.volume,
          tmpfs: opts.tmpfs,
          memory: opts.memory !== undefined ? parseMemory(opts.memory, "--memory") : undefined,
          cpus: opts.cpus !== undefined ? parsePositiveNumber(opts.cpus, "--cpus") : undefined,
          pidsLimit: opts.pidsLimit !== undefined ? parseInteger(opts.pidsLimit, "--pids-limit") : undefined,
          capAdd: opts.capAdd,
          capDrop: opts.capDrop,
          securityOpt: security,
          seccompProfile: seccompFile
            ? { path: seccompFile, text: readText(seccompFile, "seccomp profile") }
            : undefined,
          readOnly: opts.readOnly,
          network: opts.network as "none" | "host" | undefined,
          tty: opts.tty,
          shmSize: opts.shmSize !== undefined ? parseMemory(opts.shmSize, "--shm-size") : undefined,
          cgroupParent: opts.cgroupParent,
        }).finally(() => progress.stop());
        for (const w of created.warnings) io.stderr.write(`WARNING: ${w}\n`);
        if (opts.detach) {
          const r = await startDetached(s, created, selfArgv(s.root));
          if (opts.json) (await import("../output/report.ts")).printJson(io, r);
          else io.stdout.write(`${r.id}\n`);
          return 0;
        }
        const stdin = opts.interactive ? "inherit" : "ignore";
        // Without -t (and unless stdin is a terminal the container reads), the runtime runs in its own process
        // group, so a Ctrl-C is forwarded to the container once.
        const ownProcessGroup = !opts.tty && !(opts.interactive && process.stdin.isTTY);
        return exitStatus(
          await startForeground(s, created, [stdin, "inherit", "inherit"], { ownProcessGroup }),
          opts.tty,
        );
      }),
    );

  program
    .command("__monitor", { hidden: true })
    .argument("<id>")
    .action(
      act(async (id: string) => {
        const { monitorContainer } = await import("../../runtime/lifecycle.ts");
        // The monitor outlives the terminal it was started from: hang-ups and Ctrl-C are not for it.
        // (SIGTERM too: killing the monitor would close the container's output pipes under it.)
        for (const sig of ["SIGHUP", "SIGINT", "SIGTERM"] as const) process.on(sig, () => {});
        await monitorContainer(await ctx.store(), id);
        return 0;
      }),
    );

  program
    .command("exec")
    .description("Run a command in a running container")
    .exitOverride(dockerUsageExit)
    .argument("<container>", "name or ID (prefix)")
    .argument("<command...>", "command and arguments")
    .passThroughOptions()
    .option("-d, --detach", "run the command in the background")
    .option("-i, --interactive", "keep stdin open")
    .option("-t, --tty", "allocate a pseudo-terminal")
    .option("-e, --env <K=V>", "set an environment variable; repeatable", collect)
    .option("-w, --workdir <dir>", "working directory inside the container")
    .option("-u, --user <user[:group]>", "user and group, names (from the container's /etc/passwd) or IDs")
    .option("--json", "errors as JSON (the command's output is its own)")
    .addHelpText(
      "after",
      `
The command joins the container's namespaces and cgroup with the container's capabilities and seccomp profile.
Exit status: the command's own; 125/126/127 as for osless run.

Examples:
  osless exec web ps
  osless exec -it web sh
  osless exec -e DEBUG=1 -w /tmp -u nobody web sh -c 'id; pwd'`,
    )
    .action(
      actRun(
        ctx,
        async (
          container: string,
          command: string[],
          opts: {
            detach?: boolean;
            interactive?: boolean;
            tty?: boolean;
            env?: string[];
            workdir?: string;
            user?: string;
          },
        ) => {
          const { execInContainer } = await import("../../runtime/lifecycle.ts");
          const { resolveExecUser } = await import("../../runtime/inspect.ts");
          const s = await ctx.store();
          const user = opts.user !== undefined ? await resolveExecUser(s, container, opts.user) : undefined;
          const running = await execInContainer(
            s,
            container,
            {
              args: command,
              // docker's rule, as for run: `-e K` takes this shell's K, and sets nothing when it has none.
              env: opts.env
                ?.filter((e) => e.includes("=") || process.env[e] !== undefined)
                .map((e) => (e.includes("=") ? e : `${e}=${process.env[e]}`)),
              workdir: opts.workdir,
              user: user?.user,
              additionalGids: user?.additionalGids,
              tty: opts.tty,
              detach: opts.detach,
            },
            [opts.interactive ? "inherit" : "ignore", "inherit", "inherit"],
          );
          return exitStatus(running, opts.tty);
        },
      ),
    );

  program
    .command("ps")
    .description("List containers (running ones; -a for all)")
    .option("-a, --all", "show all containers, not only running ones")
    .option("-q, --quiet", "only IDs")
    .option("--no-trunc", "full IDs and commands")
    .option("--json", "print the containers as JSON")
    .addHelpText("after", "\nExamples:\n  osless ps\n  osless ps -a\n  osless ps -aq | xargs osless rm -f")
    .action(
      act(async (opts) => {
        const { listContainers } = await import("../../runtime/inspect.ts");
        const { table, humanAge, printJson } = await import("../output/report.ts");
        const s = await ctx.store();
        const all = (await listContainers(s)).filter((c) => opts.all || c.state.status === "running");
        if (opts.json) {
          printJson(io, all);
          return 0;
        }
        const trunc = opts.trunc !== false;
        if (opts.quiet) {
          for (const c of all) io.stdout.write(`${trunc ? c.id.slice(0, 12) : c.id}\n`);
          return 0;
        }
        const rows = all.map((c) => {
          const cmd = c.command.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(" ");
          return [
            trunc ? c.id.slice(0, 12) : c.id,
            c.image.ref,
            JSON.stringify(trunc && cmd.length > 20 ? `${cmd.slice(0, 19)}…` : cmd),
            humanAge(new Date(c.created)),
            statusText(c.state),
            c.name,
          ];
        });
        io.stdout.write(table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "NAMES"], rows));
        return 0;
      }),
    );

  program
    .command("logs")
    .description("Show a detached container's output")
    .argument("<container>", "name or ID (prefix)")
    .option("-f, --follow", "keep printing new output until the container stops")
    .option("-t, --timestamps", "show the time of each line")
    .option("-n, --tail <n>", "only the last N lines")
    .option("--json", "print each line as docker's json-file log entry: {log, stream, time}")
    .addHelpText("after", "\nExamples:\n  osless logs web\n  osless logs -f --tail 10 web")
    .action(
      act(
        async (
          container: string,
          opts: { follow?: boolean; timestamps?: boolean; tail?: string; json?: boolean },
        ) => {
          const { streamLogs } = await import("../../runtime/logs.ts");
          const s = await ctx.store();
          await streamLogs(s, container, {
            follow: Boolean(opts.follow),
            tail: opts.tail !== undefined ? parseInteger(opts.tail, "--tail") : undefined,
            write: (stream, line, time) => {
              if (opts.json) {
                io.stdout.write(`${JSON.stringify({ log: line, stream, time })}\n`);
                return;
              }
              const out = stream === "stderr" ? io.stderr : io.stdout;
              out.write(opts.timestamps ? `${time} ${line}` : line);
            },
          });
          return 0;
        },
      ),
    );

  program
    .command("stop")
    .description(
      "Stop running containers: the stop signal (SIGTERM or the image's), then SIGKILL after a grace time",
    )
    .argument("<container...>", "names or IDs")
    .option("-t, --time <seconds>", "seconds to wait before killing (default 10)")
    .option("--json", "print the results as JSON")
    .addHelpText("after", "\nExamples:\n  osless stop web\n  osless stop -t 0 web db")
    .action(
      act(async (names: string[], opts: { time?: string; json?: boolean }) => {
        const { stopContainer } = await import("../../runtime/lifecycle.ts");
        const s = await ctx.store();
        const t = opts.time !== undefined ? parseInteger(opts.time, "--time") : 10;
        return eachContainer(ctx, names, opts.json, (n) => stopContainer(s, n, Math.max(0, t)));
      }),
    );

  program
    .command("kill")
    .description("Send a signal to running containers (default SIGKILL)")
    .argument("<container...>", "names or IDs")
    .option("-s, --signal <sig>", "signal name or number (default KILL)")
    .option("--json", "print the results as JSON")
    .addHelpText("after", "\nExamples:\n  osless kill web\n  osless kill -s HUP web")
    .action(
      act(async (names: string[], opts: { signal?: string; json?: boolean }) => {
        const { killContainer } = await import("../../runtime/lifecycle.ts");
        const { parseSignal } = await import("../../runtime/runtime.ts");
        const s = await ctx.store();
        const sig = parseSignal(opts.signal ?? "KILL", "--signal");
        return eachContainer(ctx, names, opts.json, (n) => killContainer(s, n, sig));
      }),
    );

  program
    .command("rm")
    .description("Remove containers (their writable layer, state and cgroups)")
    .argument("<container...>", "names or IDs")
    .option("-f, --force", "kill running containers first")
    .option("--json", "print the results as JSON")
    .addHelpText("after", "\nExamples:\n  osless rm web\n  osless rm -f $(osless ps -aq)")
    .action(
      act(async (names: string[], opts: { force?: boolean; json?: boolean }) => {
        const { removeContainer } = await import("../../runtime/lifecycle.ts");
        const s = await ctx.store();
        return eachContainer(ctx, names, opts.json, (n) => removeContainer(s, n, Boolean(opts.force)));
      }),
    );
}

/**
 * Apply `fn` to each named container, printing each name done (or, with `json`, one JSON array of results);
 * errors are reported and make the exit status 1.
 */
async function eachContainer(
  ctx: CommandContext,
  names: string[],
  json: boolean | undefined,
  fn: (n: string) => Promise<{ id: string; name: string }>,
): Promise<number> {
  let failed = 0;
  const results: { container: string; id?: string; name?: string; error?: unknown }[] = [];
  for (const n of names) {
    try {
      const r = await fn(n);
      results.push({ container: n, id: r.id, name: r.name });
      if (!json) ctx.io.stdout.write(`${n}\n`);
    } catch (e) {
      failed = 1;
      if (json) results.push({ container: n, error: e instanceof OslessError ? e.toJSON() : String(e) });
      else reportError(ctx.io, e, false);
    }
  }
  if (json) ctx.io.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  return failed;
}

function statusText(state: {
  status: string;
  startedAt?: string | undefined;
  finishedAt?: string | undefined;
  exitCode?: number | undefined;
}): string {
  const since = (iso: string | undefined) => {
    if (!iso) return "";
    const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (s < 1) return "Less than a second";
    if (s < 60) return `${Math.floor(s)} second${Math.floor(s) === 1 ? "" : "s"}`;
    if (s < 3600) return `${Math.floor(s / 60)} minute${Math.floor(s / 60) === 1 ? "" : "s"}`;
    if (s < 86400) return `${Math.floor(s / 3600)} hour${Math.floor(s / 3600) === 1 ? "" : "s"}`;
    return `${Math.floor(s / 86400)} day${Math.floor(s / 86400) === 1 ? "" : "s"}`;
  };
  if (state.status === "running") return `Up ${since(state.startedAt)}`;
  if (state.status === "created") return "Created";
  return `Exited (${state.exitCode ?? -1}) ${since(state.finishedAt)} ago`.replace(/\s+ago$/, " ago");
}

async function ensureImage(ctx: CommandContext, image: string, policy: string): Promise<void> {
  const s = await ctx.store();
  const { resolveImage } = await import("../../store/images.ts");
  if (policy === "missing") {
    try {
      await resolveImage(s, image);
      return;
    } catch (e) {
      if (!(e instanceof OslessError && e.code === "E_NOT_FOUND")) throw e;
      // Only a reference can be pulled; an ID or digest that is not in the store stays "not found".
      if (/^(sha256:)?[0-9a-f]{12,64}$/.test(image)) throw e;
    }
  }
  const { pullImage } = await import("../../transfer/pull.ts");
  const { createProgress } = await import("../output/progress.ts");
  if (policy === "missing") ctx.io.stderr.write(`Unable to find image '${image}' locally\n`);
  const progress = createProgress(ctx.io.stderr, true);
  try {
    await pullImage(s, image, { events: progress.sink });
  } finally {
    progress.stop();
  }
}
