/**
 * `osless explore IMAGE`: dive's explorer without a daemon. A terminal UI by default; `--ci` evaluates dive's
 * rules (a `.dive-ci` file works as is) and exits 1 when one fails; `--json` exports (osless's schema, or dive's
 * with `--json-format dive`); `--web` serves a page on 127.0.0.1.
 */
import type { Command } from "@commander-js/extra-typings";
import { OslessError } from "../../errors.ts";
import { type CommandContext, interruptible, remoteFlags, remoteOptions } from "./registry.ts";

interface ExploreFlags {
  ci?: boolean | undefined;
  ciConfig?: string | undefined;
  lowestEfficiency?: string | undefined;
  highestWastedBytes?: string | undefined;
  highestUserWastedPercent?: string | undefined;
  metrics?: string | undefined;
  json?: boolean | undefined;
  jsonFormat?: string | undefined;
  web?: boolean | undefined;
  port?: string | undefined;
  baseLayers?: string | undefined;
  platform?: string | undefined;
  quiet?: boolean | undefined;
  tlsVerify?: string | undefined;
  creds?: string | undefined;
  authfile?: string | undefined;
}

/** dive: CI mode also when the environment says CI is true, 1 or yes. */
function ciFromEnv(env: NodeJS.ProcessEnv): boolean {
  return ["true", "1", "yes"].includes((env.CI ?? "").trim().toLowerCase());
}

function intFlag(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new OslessError("E_USAGE", `${flag} ${value}: not a whole number from ${min} to ${max}`, {
      hint: `write ${flag} ${min === 0 ? 1 : min}`,
    });
  }
  return n;
}

export function registerExploreCommand(program: Command, ctx: CommandContext): void {
  const { io, act } = ctx;
  remoteFlags(
    program
      .command("explore")
      .description(
        "Explore an image's layers (dive-compatible): what each layer added, changed and removed, wasted space; a terminal UI, a CI gate, JSON, or a browser view",
      )
      .argument(
        "<image>",
        "an image in the store (name, ID or digest), docker://REF, oci:DIR[:ref], oci-archive:FILE[:ref] or docker-archive:FILE[:name]",
      )
      .option("--ci", "evaluate the CI rules and exit 1 if one fails (also when the environment has CI=true)")
      .option(
        "--ci-config <file>",
        "rules file, dive's format (default: .dive-ci in the current directory, if any)",
      )
      .option(
        "--lowestEfficiency <ratio>",
        "CI rule: fail below this efficiency (default 0.9; 'disabled' turns it off)",
      )
      .option(
        "--highestWastedBytes <size>",
        "CI rule: fail above this many wasted bytes, e.g. 20MB (default disabled)",
      )
      .option(
        "--highestUserWastedPercent <ratio>",
        "CI rule: fail above this ratio of wasted to user bytes (default 0.1)",
      )
      .option(
        "--metrics <set>",
        "which figures the CI rules read: exact (osless's, default) or dive (dive's, as dive computes them)",
      )
      .option("--json", "print the analysis as JSON instead of opening the UI (no rules are evaluated)")
      .option(
        "--json-format <format>",
        "osless (default: both metric sets, changes per layer) or dive (dive's --json)",
      )
      .option("--web", "serve the explorer as a page on 127.0.0.1 instead of the terminal UI")
      .option("--port <n>", "port for --web (default: a free one)")
      .option(
        "--base-layers <n>",
        "layers that make the base image, for the user-wasted figures (default 1, as dive)",
      )
      .option(
        "--platform <os/arch[/variant]>",
        "platform to pick from a multi-platform image (default: this host's)",
      )
      .option("-q, --quiet", "no progress output"),
  )
    .addHelpText(
      "after",
      `
The image is read once, each layer verified against its digest and DiffID; nothing is unpacked to disk (from a
registry, nothing is written at all). Two sets of figures: dive's, computed as dive computes them (every copy of
a duplicated file counts as wasted, rm -rf counts nothing), and osless's exact ones (what squashing would
reclaim: overwritten, deleted and metadata-only copies). CI rules use dive's names, defaults and strict
comparisons; --metrics dive makes them read dive's figures. Exit 1 when a rule fails.

Terminal UI keys (dive's): tab switch pane, arrows or hjkl move, space collapse, ctrl+l / ctrl+a layer or
aggregated compare, ctrl+a/r/m/u hide added/removed/modified/unmodified, ctrl+o sort by size, ctrl+f filter,
ctrl+b attributes, ctrl+e extract the file, ctrl+g largest files, ? help, q quit.

Examples:
  osless explore app:1
  osless explore --ci app:1
  osless explore --ci --ci-config .dive-ci --metrics dive app:1
  CI=true osless explore --lowestEfficiency 0.95 --highestWastedBytes 20MB app:1
  osless explore --json app:1 | jq .metrics.exact
  osless explore --json --json-format dive app:1 > dive.json
  osless explore --web --port 8080 docker://127.0.0.1:5000/app:1
  osless explore oci-archive:app.tar`,
    )
    .action(
      act(async (image: string, opts: ExploreFlags) => {
        const jsonFormat = opts.jsonFormat ?? "osless";
        if (jsonFormat !== "osless" && jsonFormat !== "dive") {
          throw new OslessError("E_USAGE", `--json-format ${jsonFormat}: not a JSON format`, {
            hint: "give --json-format osless or --json-format dive",
          });
        }
        if (opts.jsonFormat !== undefined && !opts.json) {
          throw new OslessError("E_USAGE", "--json-format needs --json", { hint: "add --json" });
        }
        const metrics = opts.metrics ?? "exact";
        if (metrics !== "exact" && metrics !== "dive") {
          throw new OslessError("E_USAGE", `--metrics ${metrics}: not a metric set`, {
            hint: "give --metrics exact or --metrics dive",
          });
        }
        if (opts.json && opts.web) {
          throw new OslessError("E_USAGE", "--json and --web ask for two outputs", {
            hint: "give one of them",
          });
        }
        if (opts.port !== undefined && !opts.web) {
          throw new OslessError("E_USAGE", "--port is for --web", { hint: "add --web" });
        }
        const port = intFlag(opts.port, "--port", 0, 65535);
        const baseLayers = intFlag(opts.baseLayers, "--base-layers", 0, 1_000_000);
        // dive: --json exports without evaluating rules; the UI and the page are not CI.
        const ci = !opts.json && !opts.web && (opts.ci === true || ciFromEnv(process.env));
        const ui = !ci && !opts.json && !opts.web;
        if (ui && !(process.stdin.isTTY && process.stdout.isTTY)) {
          throw new OslessError("E_USAGE", "the explorer's terminal UI needs a terminal", {
            hint: "run it in a terminal, or use --json, --ci or --web",
          });
        }
        // Rules are read before the image, so that a bad rules file fails fast.
        let rules: import("../../explorer/ci.ts").CiRules | undefined;
        if (ci) {
          const { parseCiConfig, resolveCiRules } = await import("../../explorer/ci.ts");
          const { readFile } = await import("node:fs/promises");
          let file: import("../../explorer/ci.ts").CiRuleConfig | undefined;
          const path = opts.ciConfig ?? ".dive-ci";
          const text = await readFile(path, "utf8").catch((e: NodeJS.ErrnoException) => {
            if (e.code === "ENOENT" && opts.ciConfig === undefined) return undefined;
            throw new OslessError("E_USAGE", `cannot read the CI rules file ${path}: ${e.message}`, {
              hint: "give --ci-config an existing file, or leave it out to use the defaults",
            });
          });
          if (text !== undefined) file = parseCiConfig(text, path);
          rules = resolveCiRules({
            file,
            flags: {
              lowestEfficiency: opts.lowestEfficiency,
              highestWastedBytes: opts.highestWastedBytes,
              highestUserWastedPercent: opts.highestUserWastedPercent,
            },
          });
        }
        const { parsePlatform } = await import("../../spec/platform.ts");
        const platform = opts.platform ? parsePlatform(opts.platform) : undefined;
        const remote = image.startsWith("docker://") ? await remoteOptions(opts) : undefined;
        const quiet = opts.quiet === true || opts.json === true;
        const say = (line: string) => {
          if (!quiet) io.stderr.write(`${line}\n`);
        };
        const { createProgress } = await import("../output/progress.ts");
        const progress = createProgress(io.stderr, !quiet && !ci);
        const { exploreImage } = await import("../../explorer/model.ts");
        if (ci) say("Loading image");
        const model = await interruptible("nothing was written", (signal) =>
          exploreImage(image, {
            store: ctx.store,
            remote: remote && { ...remote, signal },
            platform,
            signal,
            baseLayers,
            keepRawEntries: opts.json === true && jsonFormat === "dive",
            events: progress.sink,
          }).finally(() => progress.stop()),
        );
        try {
          if (opts.json) {
            const { diveJson, oslessJson } = await import("../../explorer/export.ts");
            io.stdout.write(`${jsonFormat === "dive" ? diveJson(model) : oslessJson(model)}\n`);
            return 0;
          }
          if (ci && rules) {
            const { ciReportInput, evaluateCi, formatCiReport, humanBytes } = await import(
              "../../explorer/ci.ts"
            );
            const files = model.layers.reduce((n, l) => n + l.entries, 0);
            say(
              `Analyzing image [layers:${model.layers.length} files:${files} size:${humanBytes(model.metrics.dive.sizeBytes)}]`,
            );
            say(`Evaluating image [rules: ${Object.keys(rules).length}]`);
            const input = ciReportInput(model.metrics, metrics);
            const evaluation = evaluateCi(input, rules);
            io.stdout.write(formatCiReport(input, evaluation, { metrics }));
            return evaluation.passed ? 0 : 1;
          }
          if (opts.web) {
            const { startWebServer } = await import("../../explorer/web/index.ts");
            const server = await startWebServer(model, { port });
            io.stdout.write(`Serving ${model.image.name ?? image} at ${server.url} (ctrl+c stops)\n`);
            await new Promise<void>((resolve) => {
              const stop = () => {
                process.off("SIGINT", stop);
                process.off("SIGTERM", stop);
                resolve();
              };
              process.once("SIGINT", stop);
              process.once("SIGTERM", stop);
            });
            await server.close();
            return 0;
          }
          const { runTui } = await import("../../explorer/tui/index.ts");
          await runTui(model, { input: process.stdin, output: process.stdout });
          return 0;
        } finally {
          await model.close();
        }
      }),
    );
}
