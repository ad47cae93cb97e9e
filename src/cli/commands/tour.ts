/**
 * `osless tour`: the article's walk with real images and containers (src/cli/tour.ts). It prints as it goes; with
 * `--json`, the transcript (every command, its exit status and output) at the end instead.
 */
import type { Command } from "@commander-js/extra-typings";
import type { CommandContext } from "./registry.ts";

export function registerTourCommand(program: Command, ctx: CommandContext): void {
  const { io, act } = ctx;
  program
    .command("tour")
    .description("Walk the article: build and run images with and without an OS, see the process on the host")
    .option("--no-debian", "skip the Debian image (no debootstrap: the tour then takes seconds)")
    .option(
      "--real-images",
      "also pull nginx, debian and alpine and analyze them side by side (needs internet)",
    )
    .option("--registry <host>", "where --real-images pulls from", "docker.io")
    .option("--json", "print the transcript as JSON at the end")
    .addHelpText(
      "after",
      `
The tour builds tour/hello (a static C program FROM scratch: the host's gcc, else busybox-static), runs it, shows
its process from the host (osless top), builds tour/debian from a debootstrap root filesystem (about 2 minutes,
as root; an earlier tour's is reused), runs a shell and exec in it, shows \`run tour/hello bash\` failing, lists
both images' layers and puts \`osless analyze\` of both side by side. Every step prints the command it runs: type
it again to see the same. The images stay in the store.

Needs: runc; gcc and libc6-dev (or busybox-static); debootstrap for the Debian part (bash scripts/setup.sh
installs them all).

Examples:
  osless tour
  osless tour --no-debian
  osless tour --real-images`,
    )
    .action(
      act(async (opts: { debian?: boolean; realImages?: boolean; registry?: string; json?: boolean }) => {
        const { runTour } = await import("../tour.ts");
        const { interruptible } = await import("./registry.ts");
        const s = await ctx.store();
        const report = await interruptible(
          "the tour stopped and removed its containers and scratch directory",
          (signal) =>
            runTour({
              storeRoot: s.root,
              debian: opts.debian !== false,
              realImages: Boolean(opts.realImages),
              registry: opts.registry ?? "docker.io",
              out: io.stdout,
              json: Boolean(opts.json),
              signal,
            }),
        );
        if (opts.json) {
          const { printJson } = await import("../output/report.ts");
          printJson(io, report);
        }
        return 0;
      }),
    );
}
