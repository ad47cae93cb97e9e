/**
 * `osless slim IMAGE -t NEW`: the OS-less image that still runs (src/slim/slim.ts). Progress goes to stderr, the
 * report to stdout (or `--json`), the new image's ID last, as `docker build` prints it.
 */
import type { Command } from "@commander-js/extra-typings";
import { OslessError } from "../../errors.ts";
import { parseInteger, parsePositiveNumber, splitCommandLine } from "../args.ts";
import type { CommandContext } from "./registry.ts";

const collect = (v: string, prev: string[] = []) => [...prev, v];

interface SlimFlags {
  tag?: string[];
  include?: string[];
  probe?: string;
  httpProbe?: string;
  keepShell?: boolean;
  trace?: boolean;
  timeout?: string;
  runtime?: string;
  verbose?: boolean;
  json?: boolean;
}

export function registerSlimCommand(program: Command, ctx: CommandContext): void {
  const { io, act } = ctx;
  program
    .command("slim")
    .description("Make the OS-less version of an image: keep what its entrypoint needs, prove it still runs")
    .argument("<image>", "the image: a name or ID in the store")
    .option("-t, --tag <name>", "name the slim image (required); repeatable", collect)
    .option("--include <path>", "keep this path too (a directory with all it holds); repeatable", collect)
    .option(
      "--probe <command>",
      'arguments that replace the image\'s CMD for the probe runs, e.g. "--version"',
    )
    .option("--http-probe <port>", "the image is a server: GET / on this port (host network) is the probe")
    .option("--keep-shell", "keep /bin/sh and what it needs")
    .option("--no-trace", "the static plan alone: do not trace the probe run with strace")
    .option("--timeout <seconds>", "how long a probe run may take", "60")
    .option("--runtime <name>", "the OCI runtime: runc (the probe runs need its overlay root)")
    .option("-v, --verbose", "list every kept path with the reasons")
    .option("--json", "print the report as JSON")
    .addHelpText(
      "after",
      `
What is kept, each path with its reasons: the entrypoint and the interpreters of a #! chain, the loader and the
shared libraries of each of those programs (resolved as the image's own loader would, every symlink on the way
kept), the USER's passwd and group entries, the CA bundle, the time zone, glibc's loader cache and name-service
files, --include paths, and every file the probe run named, traced with strace (Debian: apt-get install strace).

The probe: the image runs once with strace attached, as \`osless run IMAGE [PROBE...]\` would (network none), to
its end; it must exit 0. With --http-probe PORT it runs with the host's network until GET http://127.0.0.1:PORT/
answers, then is stopped. The slim image is one layer FROM scratch with the original config and the label
org.osless.slim.source; it runs with the same probe and is tagged only when its exit status and output (or
HTTP status and body) equal the original's. When every file is needed, nothing is written.

Examples:
  osless slim app:latest -t app:slim
  osless slim tool:1 -t tool:slim --probe "--version"
  osless slim web:1 -t web:slim --http-probe 8080 --include /srv/www
  osless slim app:latest -t app:slim --json | jq '.kept[] | select(.traced)'`,
    )
    .action(
      act(async (image: string, opts: SlimFlags) => {
        const { parseReference } = await import("../../reference/index.ts");
        const names = (opts.tag ?? []).map((t) => parseReference(t).toString());
        if (names.length === 0) {
          throw new OslessError("E_USAGE", "slim needs a name for the new image", {
            hint: `osless slim ${image} -t NAME:slim`,
          });
        }
        const probe = opts.probe !== undefined ? splitCommandLine(opts.probe, "--probe") : undefined;
        let httpProbe: number | undefined;
        if (opts.httpProbe !== undefined) {
          httpProbe = parseInteger(opts.httpProbe, "--http-probe");
          if (httpProbe < 1 || httpProbe > 65535) {
            throw new OslessError("E_USAGE", `--http-probe ${opts.httpProbe}: not a TCP port`, {
              hint: "give the port the image's server listens on, 1-65535",
            });
          }
        }
        const timeoutMs = parsePositiveNumber(opts.timeout ?? "60", "--timeout") * 1000;
        // As build: SOURCE_DATE_EPOCH makes the slim image's times, and so its digest, reproducible.
        const epoch = process.env.SOURCE_DATE_EPOCH;
        if (epoch !== undefined && epoch !== "" && !/^\d+$/.test(epoch)) {
          throw new OslessError("E_USAGE", `SOURCE_DATE_EPOCH "${epoch}" is not a whole number of seconds`, {
            hint: "set it to a Unix time, e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)",
          });
        }
        const sourceDateEpoch = epoch ? Number(epoch) : undefined;
        const { slimImage } = await import("../../slim/slim.ts");
        const { interruptible } = await import("./registry.ts");
        const s = await ctx.store();
        const report = await interruptible("nothing was tagged", (signal) =>
          slimImage(s, image, {
            names,
            include: opts.include,
            keepShell: opts.keepShell,
            probe,
            httpProbe,
            trace: opts.trace,
            timeoutMs,
            runtime: opts.runtime,
            sourceDateEpoch,
            onProgress: opts.json ? undefined : (m) => io.stderr.write(`${m}\n`),
            signal,
          }),
        );
        if (opts.json) {
          const { printJson } = await import("../output/report.ts");
          printJson(io, report);
          return 0;
        }
        const { formatSlimReport } = await import("../output/slim.ts");
        io.stdout.write(formatSlimReport(report, Boolean(opts.verbose)));
        return 0;
      }),
    );
}
