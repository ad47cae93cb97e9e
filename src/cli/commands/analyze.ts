/** `osless analyze IMAGE`: does the image have an OS inside? The verdict first, then the evidence. */
import type { Command } from "@commander-js/extra-typings";
import { OslessError } from "../../errors.ts";
import { type CommandContext, interruptible, remoteFlags, remoteOptions } from "./registry.ts";

interface AnalyzeFlags {
  platform?: string | undefined;
  cmd?: string | undefined;
  json?: boolean | undefined;
  format?: string | undefined;
  tlsVerify?: string | undefined;
  creds?: string | undefined;
  authfile?: string | undefined;
}

export function registerAnalyzeCommand(program: Command, ctx: CommandContext): void {
  const { io, act } = ctx;
  remoteFlags(
    program
      .command("analyze")
      .description(
        "Does the image have an operating system inside? The verdict, the distribution, packages, what the entrypoint needs",
      )
      .argument(
        "<image>",
        "an image in the store (name, ID or digest), docker://REF, oci:DIR[:ref], oci-archive:FILE[:ref], docker-archive:FILE[:name], or dir:PATH for an unpacked root filesystem",
      )
      .option(
        "--platform <os/arch[/variant]>",
        "platform to pick from a multi-platform image (default: this host's)",
      )
      .option(
        "--cmd <command>",
        'for dir:PATH: the command a container would run (e.g. "/app/server --port 80")',
      )
      .option("--json", "print the analysis as JSON (schema in docs/analyze.md)")
      .option("--format <format>", "output: text (default), json, or cyclonedx (a CycloneDX 1.6 JSON SBOM)"),
  )
    .addHelpText(
      "after",
      `
Verdicts: full (a shell or a package manager), busybox (busybox is the user-land), libc-only (shared libraries
and OS files, no shell, no package manager: distroless), none (nothing of an OS; the entrypoint stands alone),
none-broken (nothing of an OS, and the entrypoint's loader or libraries are missing). Nothing from the image is
ever run.

An image from a registry (docker://) is streamed once and never written to disk, each layer checked against its
digest; the store is not touched. Archives and OCI layouts are verified through a temporary store, removed
afterwards. --tls-verify, --creds and --authfile are for docker:// only.

Examples:
  osless analyze hello
  osless analyze --json debian:bookworm | jq .entrypoint
  osless analyze --format cyclonedx debian:bookworm > sbom.cdx.json
  osless analyze docker://127.0.0.1:5000/app:1
  osless analyze --platform linux/arm64 docker://alpine
  osless analyze oci-archive:app.tar
  osless unpack app ./rootfs && osless analyze dir:./rootfs --cmd /app/server`,
    )
    .action(
      act(async (image: string, opts: AnalyzeFlags) => {
        if (opts.json && opts.format !== undefined && opts.format !== "json") {
          throw new OslessError("E_USAGE", `--json and --format ${opts.format} ask for two outputs`, {
            hint: "give one of them (--json is --format json)",
          });
        }
        const format = opts.format ?? (opts.json ? "json" : "text");
        if (format !== "text" && format !== "json" && format !== "cyclonedx") {
          throw new OslessError("E_USAGE", `--format ${format}: not an output format`, {
            hint: "give --format text, json or cyclonedx",
          });
        }
        const { printJson } = await import("../output/report.ts");
        const { parsePlatform } = await import("../../spec/platform.ts");
        let result: import("../../analysis/image.ts").AnalyzedImage;
        if (image.startsWith("dir:")) {
          const { analyzeDirectory } = await import("../../analysis/image.ts");
          const argv = opts.cmd?.trim() ? opts.cmd.trim().split(/\s+/) : undefined;
          result = await analyzeDirectory(image.slice(4), argv ? { cmd: argv } : {});
        } else {
          if (opts.cmd !== undefined) {
            throw new OslessError(
              "E_USAGE",
              "--cmd is for dir:PATH; an image's command comes from its config",
            );
          }
          const platform = opts.platform ? parsePlatform(opts.platform) : undefined;
          const { analyzeImage } = await import("../../analysis/image.ts");
          const remote = image.startsWith("docker://") ? await remoteOptions(opts) : undefined;
          result = await interruptible("nothing was written", (signal) =>
            analyzeImage(image, {
              store: ctx.store,
              remote: remote && { ...remote, signal },
              platform,
              signal,
            }),
          );
        }
        if (format === "cyclonedx") {
          const { toCycloneDx } = await import("../../analysis/sbom/index.ts");
          io.stdout.write(`${await toCycloneDx(result, { toolVersion: program.version() ?? "" })}\n`);
        } else if (format === "json") printJson(io, result);
        else io.stdout.write(render(await import("../../analysis/analyze.ts"), result));
        return 0;
      }),
    );
}

type AnalyzedImage = import("../../analysis/image.ts").AnalyzedImage;

function list(items: string[], max = 8): string {
  if (items.length === 0) return "none";
  return items.length <= max
    ? items.join(", ")
    : `${items.slice(0, max).join(", ")} and ${items.length - max} more`;
}

function render(fmt: typeof import("../../analysis/analyze.ts"), a: AnalyzedImage): string {
  const inv = a.inventory;
  const ep = a.entrypoint;
  const lines: string[] = [a.summary, ""];
  const row = (k: string, v: string) => lines.push(`${`${k}:`.padEnd(18)}${v}`);
  row("Image", a.image.name ?? a.image.source);
  if (a.image.id) row("ID", a.image.id);
  row("Verdict", a.verdict);
  row(
    "OS",
    a.os
      ? `${a.os.prettyName ?? a.os.id ?? "?"}${a.os.source ? ` (from ${a.os.source})` : ""}`
      : "none found",
  );
  const byType = new Map<string, number>();
  for (const p of a.packages) byType.set(p.type, (byType.get(p.type) ?? 0) + 1);
  row("Packages", byType.size === 0 ? "none" : [...byType].map(([t, n]) => `${n} ${t}`).join(", "));
  row("Entrypoint", ep.argv.length === 0 ? "none" : ep.argv.join(" "));
  if (ep.path) {
    row(
      "  runs",
      `${ep.path} (${ep.linkage}${ep.interpreter ? `, loader ${ep.interpreter}` : ""}${ep.go ? `, Go ${ep.go.version}` : ""}${ep.rust ? ", Rust" : ""})`,
    );
    for (const s of ep.scriptInterpreters) row("  interpreter", s);
    for (const l of ep.libraries) row("  needs", `${l.name} -> ${l.path}`);
    for (const m of ep.missing) row("  MISSING", `${m.name} (needed by ${m.neededBy})`);
  }
  row("Shells", list(inv.shells.map((s) => (s.target === s.path ? s.path : `${s.path} -> ${s.target}`))));
  row(
    "Package managers",
    list(inv.packageManagers.map((p) => (p.busyboxApplet ? `${p.name} (busybox applet)` : p.name))),
  );
  row("Interpreters", list(inv.interpreters.map((i) => i.name)));
  row(
    "C library",
    inv.libc.flavour === "none"
      ? "none"
      : `${inv.libc.flavour}${inv.libc.version ? ` ${inv.libc.version}` : ""}`,
  );
  row(
    "busybox",
    inv.busybox
      ? `${inv.busybox.path} ${inv.busybox.version ?? ""} (${inv.busybox.applets.length} applets)`
      : "no",
  );
  row(
    "CA bundle",
    inv.caBundle ? `${inv.caBundle.path} (${inv.caBundle.certificates} certificates)` : "none",
  );
  row("Time zones", inv.tzdata ? `${inv.tzdata.zones} in ${inv.tzdata.path}` : "none");
  row(
    "Users",
    list(
      inv.users.map((u) => `${u.name}${u.login ? " (login)" : ""}`),
      6,
    ),
  );
  row(
    "setuid/setgid",
    list(
      inv.setuid.map((s) => `${s.path} ${s.mode}`),
      4,
    ),
  );
  row(
    "World-writable",
    list(
      inv.worldWritable.map((w) => `${w.path}${w.sticky ? " (sticky)" : ""}`),
      4,
    ),
  );
  row(
    "Executables",
    `${inv.executables.count} (${inv.executables.elf} ELF, ${inv.executables.scripts} scripts)`,
  );
  row(
    "Files",
    `${fmt.thousands(inv.files)} files, ${fmt.human(inv.bytes)}; the entrypoint reaches ${a.reachable.files} (${fmt.human(a.reachable.bytes)})`,
  );
  if (a.findings.length > 0) {
    lines.push("", "Findings:");
    for (const f of a.findings.slice(0, 20)) lines.push(`  ${f.code}: ${f.message}`);
    if (a.findings.length > 20) lines.push(`  … and ${a.findings.length - 20} more (--json lists them all)`);
  }
  return `${lines.join("\n")}\n`;
}
