/**
 * The host's view of containers: `osless top CONTAINER` (docker top's table, then the container's processes in the
 * host's process tree as `ps axf` draws it, its namespaces beside the host's, its cgroup and limits, capabilities,
 * seccomp and root filesystem) and `osless container inspect` (the container as JSON, like docker's). `top` is the
 * human view; inspect is JSON.
 */
import type { Command } from "@commander-js/extra-typings";
import type { HostProcess, HostView } from "../../runtime/hostview.ts";
import type { CommandContext } from "./registry.ts";

const TOP_HELP = `
A container is a process on this host. The table lists the container's processes (those in its cgroup) with
their host PIDs and the PIDs they have inside the container's pid namespace; then the host's process tree from
PID 1 down to them (what \`ps axf\` shows), the container's namespaces beside the host's (what \`lsns\` shows), its
cgroup with the limits the kernel enforces (what \`systemctl status\` shows), its capabilities and seccomp mode
(from /proc/PID/status) and its root filesystem.

Examples:
  osless top web
  osless top --json web | jq '.processes[] | {pid, containerPid, args}'
  osless top --no-trunc web`;

export function registerContainerViewCommands(program: Command, ctx: CommandContext): void {
  const top = (cmd: Command) =>
    cmd
      .description(
        "Show a running container's processes and how the host sees it (namespaces, cgroup, limits)",
      )
      .argument("<container>", "name or ID (prefix)")
      .option("--json", "print the host view as JSON")
      .option("--no-trunc", "do not cut the host's command lines to the terminal's width")
      .addHelpText("after", TOP_HELP)
      .action(
        ctx.act(async (container: string, opts: { json?: boolean; trunc?: boolean }) => {
          const { hostView } = await import("../../runtime/hostview.ts");
          const { OslessError } = await import("../../errors.ts");
          const view = await hostView(await ctx.store(), container);
          if (!view.running) {
            throw new OslessError("E_CONFLICT", `container ${view.container.name} is not running`, {
              hint: `osless inspect ${view.container.name} shows its record and configured limits`,
            });
          }
          if (opts.json) {
            (await import("../output/report.ts")).printJson(ctx.io, view);
            return 0;
          }
          const stdout = ctx.io.stdout as typeof ctx.io.stdout & { columns?: number };
          const width = opts.trunc !== false && stdout.isTTY ? (stdout.columns ?? 0) : 0;
          ctx.io.stdout.write(await renderTop(view, width));
          return 0;
        }),
      );

  top(program.command("top"));

  const container = program
    .command("container")
    .description("Container commands in docker's `docker container` form (inspect, top)");
  top(container.command("top"));
  container
    .command("inspect")
    .description("Show containers' details as JSON: record, bundle configuration and the host's view")
    .argument("<container...>", "names or IDs (prefix)")
    .option("--json", "JSON output (the default format; accepted for symmetry)")
    .addHelpText(
      "after",
      `
Prints a JSON array, one object per container: its record (image, command, options, state), a summary of the
OCI bundle's config.json (process, mounts, namespaces, resources, seccomp), and \`host\`, the view \`osless top\`
prints (processes with host and container PIDs, namespaces, cgroup and limits, capabilities, seccomp). A stopped
container has \`host.running: false\` and no host facts. \`osless inspect NAME\` finds containers first, then images.

Examples:
  osless container inspect web
  osless inspect web | jq '.[0].host.processes[].pid'
  osless inspect web | jq '.[0].host.namespaces[] | select(.shared)'`,
    )
    .action(
      ctx.act(async (names: string[]) => {
        const { inspectContainerJson } = await import("../../runtime/inspect.ts");
        const { printJson, reportError } = await import("../output/report.ts");
        const s = await ctx.store();
        const out = [];
        let failed = 0;
        for (const n of names) {
          try {
            out.push(await inspectContainerJson(s, n));
          } catch (e) {
            failed = reportError(ctx.io, e, process.argv.includes("--json"));
          }
        }
        printJson(ctx.io, out);
        return failed;
      }),
    );
}

/** A command line as a shell would show it (arguments with spaces quoted); kernel threads as [name]. */
function commandText(p: HostProcess): string {
  if (p.args.length === 0) return `[${p.name}]`;
  return p.args.map((a) => (a === "" || /[\s"'\\$`]/.test(a) ? JSON.stringify(a) : a)).join(" ");
}

/** Bytes in binary units, as --memory takes them (64m is 64 MiB). */
function bytes(n: number | null | undefined): string {
  if (n === null) return "unlimited";
  if (n === undefined) return "?";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number(v.toFixed(i === 0 ? 0 : 1))} ${units[i]}`;
}

/** `osless top`'s text: the table, the host's tree, namespaces, cgroup, security and root filesystem. */
export async function renderTop(view: HostView, width = 0): Promise<string> {
  const { table } = await import("../output/report.ts");
  const procs = view.processes ?? [];
  const cut = (line: string) => (width > 0 && line.length > width ? line.slice(0, width) : line);
  let out = table(
    ["UID", "PID (HOST)", "PID (CONTAINER)", "PPID", "CMD"],
    procs.map((p) => [
      String(p.uid),
      String(p.pid),
      p.containerPid !== undefined ? String(p.containerPid) : "-",
      String(p.ppid),
      commandText(p),
    ]),
  );

  // The host's process tree, ps axf style: from PID 1 down to the container's processes (below their runtime).
  out += `\nOn the host (ps axf): the container is these processes, below the runtime that started it\n`;
  const ancestors = view.ancestors ?? [];
  const first = view.container.state.pid ?? procs[0]?.pid;
  const members = new Set(procs.map((p) => p.pid));
  const rows = (view.hostTree ?? []).map((p) => {
    let mark = "";
    if (members.has(p.pid)) {
      const exec = p.pid !== first && !members.has(p.ppid) ? ", exec'd" : "";
      mark = `   [container pid ${p.containerPid ?? "?"}${exec}]`;
    }
    return { p, depth: p.depth, mark };
  });
  const pidWidth = Math.max(5, ...rows.map((r) => String(r.p.pid).length));
  out += `${"PID".padStart(pidWidth)}  COMMAND\n`;
  for (const r of rows) {
    const indent = r.depth === 0 ? "" : `${"    ".repeat(r.depth - 1)} \\_ `;
    const line = `${String(r.p.pid).padStart(pidWidth)}  ${indent}${commandText(r.p)}`;
    const mark = r.mark;
    out += `${cut(line + mark)}\n`;
  }
  if (first !== undefined && ancestors.length > 0) {
    const rt = ancestors[ancestors.length - 1]!;
    out += `(${rt.pid} ${rt.name} is the runtime's process: ${view.runtime.name}, state in ${view.runtime.stateDir})\n`;
  }

  // Namespaces: the container's beside the host's.
  const ref = view.hostReference;
  out += `\nNamespaces (the host's: those of PID ${ref?.pid ?? 1}${ref?.note ? `; ${ref.note}` : ""})\n`;
  out += table(
    ["TYPE", "CONTAINER", "HOST", ""],
    (view.namespaces ?? []).map((n) => [
      n.type,
      n.container ?? "?",
      n.host ?? "?",
      n.shared === null ? "unknown" : n.shared ? "shared with the host" : "its own",
    ]),
  );

  // cgroup and limits.
  const cg = view.cgroup;
  if (cg) {
    const paths = [...new Set(cg.hierarchies.map((h) => h.path))];
    out += `\nCgroup ${paths.join(", ")} (cgroup ${cg.mode}; members from ${cg.procsFile})\n`;
    const l = cg.limits;
    if (l.memory) {
      out += `  memory: ${bytes(l.memory.usage)} used of ${bytes(l.memory.limit)}`;
      if (l.memory.memoryAndSwapLimit !== undefined) {
        out += `; memory+swap ${bytes(l.memory.memoryAndSwapLimit)}`;
      }
      out += "\n";
    }
    if (l.pids) {
      out += `  pids:   ${l.pids.current ?? "?"} of ${l.pids.max === null ? "unlimited" : l.pids.max}\n`;
    }
    if (l.cpu) {
      out +=
        l.cpu.quota === null
          ? `  cpu:    unlimited (period ${l.cpu.period} µs)\n`
          : `  cpu:    ${l.cpu.cpus} CPUs (${l.cpu.quota} µs every ${l.cpu.period} µs)\n`;
    }
  }

  // Security, from the first process's /proc/PID/status.
  const sec = view.security;
  if (sec) {
    const caps = sec.capabilities;
    const short = (names: string[]) =>
      names.length ? names.map((n) => n.replace(/^CAP_/, "")).join(" ") : "none";
    out += `\nSecurity (PID ${first ?? "?"})\n`;
    out += `  CapEff ${caps.effective.hex}: ${short(caps.effective.names)}\n`;
    for (const [label, set] of [
      ["CapPrm", caps.permitted],
      ["CapBnd", caps.bounding],
      ["CapInh", caps.inheritable],
      ["CapAmb", caps.ambient],
    ] as const) {
      out += `  ${label} ${set.hex}${set.hex === caps.effective.hex ? " (same)" : `: ${short(set.names)}`}\n`;
    }
    out += `  seccomp: ${sec.seccomp.mode} (${sec.seccomp.description})${
      sec.seccomp.filters !== undefined
        ? `, ${sec.seccomp.filters} filter${sec.seccomp.filters === 1 ? "" : "s"}`
        : ""
    }; no_new_privs: ${sec.noNewPrivs ? 1 : 0}\n`;
    const map = (m: { inside: number; outside: number; count: number }[]) =>
      m.map((e) => `${e.inside} ${e.outside} ${e.count}`).join(", ") || "none";
    out += `  uid map: ${map(sec.uidMap)}; gid map: ${map(sec.gidMap)}\n`;
  }

  // Root filesystem.
  const fs = view.rootfs;
  out += `\nRoot filesystem (${fs.kind}${fs.readOnly ? ", read-only" : ""}); bundle ${view.bundle}\n`;
  if (fs.kind === "overlay") {
    for (const d of fs.lower ?? []) {
      out += `  lower: ${d.dir} (image layer, used by ${d.containers} container${d.containers === 1 ? "" : "s"})\n`;
    }
    out += `  upper: ${fs.upper} (this container's writes)\n`;
  } else out += `  copy:  ${fs.copy}\n`;
  if (fs.mounted) out += `  mounted as / in the container: ${fs.mounted.type} (${fs.mounted.source})\n`;
  return out;
}
