/**
 * `osless build`: docker build's flags mapped to `buildImage` (src/build/builder.ts). Step lines go to stderr
 * (stdout carries the image ID, or JSON), like buildah's with `-q` off.
 */
import { type Command, Option } from "@commander-js/extra-typings";
import { OslessError } from "../../errors.ts";
import { reportError } from "../output/report.ts";
import type { CommandContext } from "./registry.ts";

const collect = (v: string, prev: string[] = []) => [...prev, v];

interface BuildFlags {
  file?: string;
  tag?: string[];
  target?: string;
  buildArg?: string[];
  cache?: boolean;
  output?: string;
  printInstructions?: boolean;
  runtime?: string;
  quiet?: boolean;
  json?: boolean;
  pull?: string;
}

/** `type=oci|docker,dest=PATH` (docker buildx's --output), or a bare PATH for a docker archive. */
export function parseOutput(value: string): { format: "oci-archive" | "docker-archive"; dest: string } {
  if (!value.includes("=")) return { format: "docker-archive", dest: value };
  const fields = new Map<string, string>();
  for (const part of value.split(",")) {
    const i = part.indexOf("=");
    if (i <= 0) throw badOutput(value, `"${part}" is not key=value`);
    fields.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  const type = fields.get("type");
  const dest = fields.get("dest");
  if (type !== "oci" && type !== "docker")
    throw badOutput(value, `type must be oci or docker, not "${type ?? ""}"`);
  if (!dest) throw badOutput(value, "dest=PATH is missing");
  return { format: type === "oci" ? "oci-archive" : "docker-archive", dest };
}

function badOutput(value: string, why: string): OslessError {
  return new OslessError("E_USAGE", `--output "${value}": ${why}`, {
    hint: "write --output type=oci,dest=image.tar or --output type=docker,dest=image.tar",
  });
}

function buildArgs(values: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf("=");
    if (i === 0)
      throw new OslessError("E_USAGE", `--build-arg "${v}": no name`, {
        hint: "write --build-arg NAME=VALUE",
      });
    if (i < 0) {
      // docker's rule: NAME alone takes this shell's value, and nothing when it has none.
      const env = process.env[v];
      if (env !== undefined) out[v] = env;
    } else out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

export function registerBuildCommand(program: Command, ctx: CommandContext): void {
  const { io, act } = ctx;
  program
    .command("build")
    .description("Build an image from a Dockerfile, without a daemon")
    .argument("[context]", "the context directory", ".")
    .option("-f, --file <path>", "the Dockerfile (default: CONTEXT/Dockerfile; - for stdin)")
    .option("-t, --tag <name>", "name the image; repeatable", collect)
    .option("--target <stage>", "build up to this stage (default: the last)")
    .option(
      "--build-arg <name=value>",
      "set a build argument (NAME alone takes this shell's value); repeatable",
      collect,
    )
    .option("--no-cache", "do not use cached layers")
    .option(
      "--output <spec>",
      "also write the image: type=oci|docker,dest=PATH (or a bare PATH: a docker archive)",
    )
    .option("--print-instructions", "print the parsed Dockerfile as JSON and build nothing")
    .addOption(
      new Option(
        "--pull <policy>",
        "pull base images: missing (default: those not in the store) or never",
      ).choices(["missing", "never"]),
    )
    .option("--runtime <name>", "OCI runtime for RUN (runc)")
    .option("-q, --quiet", "print only the image ID")
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
Steps are printed as they run (RUN's output too), with CACHED for layers reused from an earlier build. With
SOURCE_DATE_EPOCH set (in the environment or as --build-arg), times in the image are that instant and file times
are clamped to it: the same context gives the same image digest on every run. A failing build tags nothing.

Examples:
  osless build -t hello .                              # FROM scratch + COPY hello / + CMD ["/hello"]
  osless build -f build/Dockerfile -t app:1 --build-arg VERSION=1.2 .
  osless build --target builder -t app-builder .
  SOURCE_DATE_EPOCH=0 osless build -t app:repro .      # reproducible: same digest every run
  osless build --output type=oci,dest=app.tar .
  osless build --print-instructions . | jq '.stages[].instructions[].kind'`,
    )
    .action(
      act(async (context: string, opts: BuildFlags) => {
        const { buildImage } = await import("../../build/builder.ts");
        const { parseReference } = await import("../../reference/index.ts");
        const { printJson } = await import("../output/report.ts");
        const { readFileSync } = await import("node:fs");
        const { join, resolve } = await import("node:path");
        const dockerfileText = opts.file === "-" ? readFileSync(0, "utf8") : undefined;
        if (opts.printInstructions) {
          const { parsedInstructions } = await import("../../build/builder.ts");
          const path =
            opts.file && opts.file !== "-" ? resolve(opts.file) : join(resolve(context), "Dockerfile");
          const text = dockerfileText ?? readFileSync(path, "utf8");
          printJson(
            io,
            parsedInstructions(
              text,
              dockerfileText !== undefined ? "Dockerfile" : path,
              buildArgs(opts.buildArg),
            ),
          );
          return 0;
        }
        const tags = (opts.tag ?? []).map((t) => parseReference(t).toString());
        const args = buildArgs(opts.buildArg);
        const epochText = args.SOURCE_DATE_EPOCH ?? process.env.SOURCE_DATE_EPOCH;
        let sourceDateEpoch: number | undefined;
        if (epochText !== undefined && epochText !== "") {
          if (!/^\d+$/.test(epochText)) {
            throw new OslessError(
              "E_USAGE",
              `SOURCE_DATE_EPOCH "${epochText}" is not a whole number of seconds`,
              {
                hint: "set it to a Unix time, e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)",
              },
            );
          }
          sourceDateEpoch = Number(epochText);
        }
        const output = opts.output !== undefined ? parseOutput(opts.output) : undefined;
        const s = await ctx.store();
        const quiet = Boolean(opts.quiet || opts.json);
        const { interruptible } = await import("./registry.ts");
        let result: Awaited<ReturnType<typeof buildImage>>;
        try {
          result = await interruptible("nothing was tagged", (signal) =>
            buildImage(s, {
              context,
              dockerfile: opts.file === "-" ? undefined : opts.file,
              dockerfileText,
              tags,
              target: opts.target,
              buildArgs: args,
              noCache: opts.cache === false,
              sourceDateEpoch,
              runtime: opts.runtime,
              pull:
                opts.pull === "never"
                  ? undefined
                  : async (ref) => {
                      const { pullImage } = await import("../../transfer/pull.ts");
                      await pullImage(s, ref, {});
                    },
              log: quiet ? undefined : (line) => io.stderr.write(`${line}\n`),
              // RUN's output goes with the step lines (stderr): stdout carries only the image ID.
              output: quiet ? undefined : (_stream, chunk) => io.stderr.write(chunk),
              signal,
            }),
          );
        } catch (e) {
          // docker build's convention: every failed build exits 1 (an interrupted one 130/143).
          if (e instanceof OslessError && e.code === "E_INTERRUPTED") throw e;
          reportError(io, e, Boolean(opts.json));
          return 1;
        }
        if (output) {
          const { saveImages } = await import("../../archive/save.ts");
          await saveImages(s, [tags[0] ?? result.digest], output.dest, { format: output.format });
          if (!quiet) io.stderr.write(`Wrote ${output.dest} (${output.format})\n`);
        }
        if (opts.json) printJson(io, result);
        else io.stdout.write(`${result.id}\n`);
        return 0;
      }),
    );
}
