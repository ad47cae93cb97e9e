/**
 * The `osless` program without its commands: the global options, how actions report errors and exit, and how
 * they open the store. `main.ts` adds every command; `run-main.ts` only the container commands, bundled on
 * their own (dist/osless-run.cjs) so that `osless run` loads a fraction of the CLI.
 */
import { Command, Option } from "@commander-js/extra-typings";
import type { Store } from "../store/layout.ts";
import type { CommandContext } from "./commands/registry.ts";
import { processIo, reportError } from "./output/report.ts";

export function createProgram() {
  const io = processIo;
  let jsonErrors = process.argv.includes("--json");
  // The reader of our output went away (`osless explore --json IMG | head`): end quietly, as a process killed by
  // SIGPIPE does (128 + 13, what the shell and docker report), not with a stack trace.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(141);
    throw e;
  });

  async function store(): Promise<Store> {
    const { Store, defaultStoreRoot } = await import("../store/layout.ts");
    return Store.open(program.opts().root ?? defaultStoreRoot());
  }

  function act<A extends unknown[]>(fn: (...args: A) => Promise<number | undefined>) {
    return async (...args: A) => {
      try {
        const code = await fn(...args);
        process.exitCode = code ?? 0;
      } catch (e) {
        process.exitCode = reportError(io, e, jsonErrors);
      }
    };
  }

  const program = new Command()
    .name("osless")
    .description("Container images and containers without a daemon. Does an image have an OS inside?")
    .version("0.1.0")
    .addOption(
      new Option(
        "--root <dir>",
        "store directory, an OCI image layout (default: /var/lib/osless for root, else ~/.local/share/osless)",
      ).env("OSLESS_ROOT"),
    )
    // `run IMAGE CMD --flag` passes --flag to CMD, as docker does: global options go before the command.
    .enablePositionalOptions()
    .showHelpAfterError()
    .configureOutput({ outputError: (s, write) => write(s) })
    .exitOverride((err) => {
      // commander's own usage errors exit 2 (bad flags), help/version exit 0.
      process.exit(err.exitCode === 0 ? 0 : 2);
    });

  const ctx: CommandContext = { io, store, act };

  /** Parse the process's arguments and run the chosen command; never rejects (errors set the exit status). */
  async function parse(): Promise<void> {
    program.hook("preAction", (_this, action) => {
      jsonErrors = Boolean((action.opts() as { json?: boolean }).json);
    });
    try {
      await program.parseAsync(process.argv);
    } catch (e) {
      process.exitCode = reportError(io, e, jsonErrors);
    }
  }

  return { program, io, store, act, ctx, parse };
}

/** The commands `run-main.ts` carries (bin/osless.js picks that bundle for them). */
export const CONTAINER_COMMANDS: readonly string[] = [
  "run",
  "exec",
  "ps",
  "logs",
  "stop",
  "kill",
  "rm",
  "export",
  "__monitor",
];
