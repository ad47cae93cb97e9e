/**
 * `osless export [-o FILE] CONTAINER`: the container's filesystem as a tar archive, on stdout or into FILE, as
 * `docker export` (same flags; like it, refuses to write the archive to a terminal). There is no `--json`: the
 * output is the archive; errors still print as JSON when `--json` is in the arguments (the program's error path).
 */
import type { Command } from "@commander-js/extra-typings";
import { OslessError } from "../../errors.ts";
import { type CommandContext, interruptible } from "./registry.ts";

export function registerExportCommand(program: Command, ctx: CommandContext): void {
  const { io, act } = ctx;
  program
    .command("export")
    .description("Export a container's filesystem as a tar archive")
    .argument("<container>", "the container: name, ID or unique ID prefix")
    .option("-o, --output <file>", "write to a file, instead of STDOUT")
    .option("--json", "errors as JSON (the archive itself is the output)")
    .addHelpText(
      "after",
      `
The archive holds what the container sees at "/": the image's files with the container's changes (added,
changed and deleted files), without the contents of its mounts (/proc, /sys, /dev, volumes). Owners, modes,
times (whole seconds), symlinks, hard links, devices, FIFOs and extended attributes are kept; sockets cannot be
and are skipped with a warning. A running container is paused while it is read (its processes frozen, then
thawed), so the archive is one instant. With -o, the file appears only when the archive is complete.

Examples:
  osless export -o web.tar web
  osless export web | tar -tvf -
  osless export web | gzip > web.tar.gz`,
    )
    .action(
      act(async (container: string, opts: { output?: string | undefined }) => {
        if (opts.output === undefined && io.stdout.isTTY) {
          throw new OslessError(
            "E_USAGE",
            "cowardly refusing to save to a terminal. Use the -o flag or redirect",
            { hint: "osless export -o FILE CONTAINER, or osless export CONTAINER > FILE" },
          );
        }
        const { exportContainer } = await import("../../runtime/export.ts");
        const s = await ctx.store();
        const what = opts.output
          ? `${opts.output} was not written`
          : "the archive written to stdout is incomplete";
        try {
          await interruptible(what, (signal) =>
            exportContainer(s, container, opts.output ?? io.stdout, {
              signal,
              onWarning: (w) => io.stderr.write(`warning: ${w.message}\n`),
            }),
          );
        } catch (e) {
          // The reader of stdout went away (`osless export c | head`): end as a process killed by SIGPIPE does,
          // quietly with 128 + 13, as tar and docker export do in a pipeline.
          if (opts.output === undefined && (e as NodeJS.ErrnoException).code === "EPIPE") return 141;
          throw e;
        }
        return 0;
      }),
    );
}
