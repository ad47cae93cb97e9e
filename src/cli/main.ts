#!/usr/bin/env node
/**
 * The osless command line: a thin map from flags to library calls. Each command lazy-imports its library
 * modules so `--help` stays fast.
 */
import { Option } from "@commander-js/extra-typings";
import { registerAnalyzeCommand } from "./commands/analyze.ts";
import { registerBuildCommand } from "./commands/build.ts";
import { registerContainerViewCommands } from "./commands/container-view.ts";
import { registerDiffCommand } from "./commands/diff.ts";
import { registerExploreCommand } from "./commands/explore.ts";
import { registerExportCommand } from "./commands/export.ts";
import { registerRegistryCommands } from "./commands/registry.ts";
import { registerRunCommands } from "./commands/run.ts";
import { registerSlimCommand } from "./commands/slim.ts";
import { registerTourCommand } from "./commands/tour.ts";
import { reportError } from "./output/report.ts";
import { createProgram } from "./program.ts";

const { program, io, store, act, parse } = createProgram();

program
  .command("load")
  .description("Load images from a docker or OCI archive (or an OCI layout directory) into the store")
  .option(
    "-i, --input <path>",
    "archive to read: FILE, docker-archive:FILE, oci-archive:FILE[:ref], oci:DIR[:ref] (default: stdin)",
  )
  .option("-q, --quiet", "print only the loaded image names/IDs")
  .option("--json", "print the result as JSON")
  .addHelpText(
    "after",
    `
Examples:
  osless load -i hello.tar                 # docker save / podman save / skopeo docker-archive output
  osless load -i oci-archive:app.tar       # an OCI archive
  osless load -i oci:./layout:v1           # the image named v1 in an OCI layout directory
  docker save alpine | osless load         # from stdin (gzip/zstd-compressed archives are fine)`,
  )
  .action(
    act(async (opts) => {
      const { loadImages } = await import("../archive/load.ts");
      const { createProgress } = await import("./output/progress.ts");
      const s = await store();
      if (!opts.input && process.stdin.isTTY) {
        const { OslessError } = await import("../errors.ts");
        throw new OslessError("E_USAGE", "no input: stdin is a terminal", {
          hint: "pass -i FILE or pipe an archive into osless load",
        });
      }
      const progress = createProgress(io.stderr, !opts.quiet && !opts.json);
      let result: Awaited<ReturnType<typeof loadImages>>;
      try {
        result = await loadImages(s, opts.input ?? process.stdin, { events: progress.sink });
      } finally {
        progress.stop();
      }
      if (opts.json) {
        const { printJson } = await import("./output/report.ts");
        printJson(io, result);
        return 0;
      }
      const { parseReference } = await import("../reference/index.ts");
      for (const img of result.images) {
        if (img.names.length === 0) {
          io.stdout.write(`Loaded image ID: ${img.id}\n`);
          if (img.refName && !opts.quiet) {
            io.stderr.write(
              `  (its OCI ref.name "${img.refName}" is not an image name; name it with: osless tag ${img.id.slice(7, 19)} NAME)\n`,
            );
          }
        }
        for (const n of img.names) io.stdout.write(`Loaded image: ${parseReference(n).familiar()}\n`);
      }
      return 0;
    }),
  );

program
  .command("save")
  .description("Save images from the store to a docker archive, an OCI archive or an OCI layout directory")
  .argument("<image...>", "images to save (names, IDs or digests)")
  .option(
    "-o, --output <path>",
    "where to write: FILE, docker-archive:FILE, oci-archive:FILE[:ref], oci:DIR[:ref] (default: stdout)",
  )
  .addOption(
    new Option("--format <format>", "format when --output is a plain path")
      .choices(["docker-archive", "oci-archive", "oci-dir"])
      .default("docker-archive"),
  )
  .option("-q, --quiet", "no progress output")
  .option("--json", "print the result as JSON")
  .addHelpText(
    "after",
    `
Examples:
  osless save -o hello.tar hello                    # docker archive: docker load, podman load, skopeo read it
  osless save --format oci-archive -o app.tar app:1 # OCI archive
  osless save -o oci:./layout app:1                 # into an OCI layout directory (umoci, skopeo oci:)
  osless save hello | gzip > hello.tar.gz`,
  )
  .action(
    act(async (images, opts) => {
      const { saveImages } = await import("../archive/save.ts");
      const { createProgress } = await import("./output/progress.ts");
      const s = await store();
      if (!opts.output && process.stdout.isTTY) {
        const { OslessError } = await import("../errors.ts");
        throw new OslessError("E_USAGE", "refusing to write an archive to a terminal", {
          hint: "pass -o FILE or redirect stdout",
        });
      }
      const progress = createProgress(io.stderr, !opts.quiet && !opts.json && Boolean(opts.output));
      let result: Awaited<ReturnType<typeof saveImages>>;
      try {
        result = await saveImages(s, images, opts.output ?? process.stdout, {
          format: opts.format as "docker-archive" | "oci-archive" | "oci-dir",
          events: progress.sink,
        });
      } finally {
        progress.stop();
      }
      if (opts.json && opts.output) {
        const { printJson } = await import("./output/report.ts");
        printJson(io, result);
      }
      return 0;
    }),
  );

program
  .command("images")
  .alias("ls")
  .description("List the images in the store")
  .argument("[reference]", "only images whose name matches (repository or repository:tag)")
  .option("-q, --quiet", "only image IDs")
  .option("--digests", "show manifest digests")
  .option("--no-trunc", "do not truncate IDs")
  .option("--json", "print JSON")
  .addHelpText(
    "after",
    `\nExamples:\n  osless images\n  osless images alpine --digests\n  osless images --json`,
  )
  .action(
    act(async (filter, opts) => {
      const { familiarRepository, listImages } = await import("../store/images.ts");
      const { table, humanAge, humanSize, printJson } = await import("./output/report.ts");
      const s = await store();
      let images = await listImages(s);
      if (filter) {
        const { parseReference } = await import("../reference/index.ts");
        const ref = parseReference(filter, { defaultTag: false });
        images = images.filter(
          (i) => i.reference?.name === ref.name && (!ref.tag || i.reference.tag === ref.tag),
        );
      }
      if (opts.json) {
        printJson(
          io,
          images.map((i) => ({
            name: i.name ?? null,
            repository: i.reference ? familiarRepository(i.reference) : null,
            tag: i.reference?.tag ?? null,
            id: i.id,
            digest: i.digest,
            mediaType: i.mediaType,
            created: i.created ?? null,
            size: i.size,
            platforms: i.platforms,
          })),
        );
        return 0;
      }
      const short = (id: string) =>
        opts.trunc === false ? id : id.slice(id.indexOf(":") + 1, id.indexOf(":") + 13);
      if (opts.quiet) {
        for (const id of new Set(images.map((i) => short(i.id)))) io.stdout.write(`${id}\n`);
        return 0;
      }
      const header = [
        "REPOSITORY",
        "TAG",
        ...(opts.digests ? ["DIGEST"] : []),
        "IMAGE ID",
        "CREATED",
        "SIZE",
      ];
      const rows = images.map((i) => {
        return [
          i.reference ? familiarRepository(i.reference) : "<none>",
          i.reference?.tag ?? "<none>",
          ...(opts.digests ? [i.digest] : []),
          short(i.id),
          humanAge(i.created ? new Date(i.created) : undefined),
          humanSize(i.size),
        ];
      });
      io.stdout.write(table(header, rows));
      return 0;
    }),
  );

program
  .command("tag")
  .description("Give an image another name")
  .argument("<source>", "image name, ID or digest")
  .argument("<target>", "new name[:tag]")
  .option("--json", "print JSON")
  .addHelpText("after", `\nExample:\n  osless tag hello:latest registry.example.com/team/hello:1.0`)
  .action(
    act(async (source, target, opts) => {
      const { tagImage } = await import("../store/images.ts");
      const r = await tagImage(await store(), source, target);
      if (opts.json) (await import("./output/report.ts")).printJson(io, r);
      return 0;
    }),
  );

program
  .command("rmi")
  .description("Remove images (untag names; remove the content no image uses any more)")
  .argument("<image...>", "names, IDs or digests")
  .option("-f, --force", "remove an image named by ID even if it has several names, or one a container uses")
  .option("--json", "print JSON")
  .action(
    act(async (images, opts) => {
      const { removeImage } = await import("../store/images.ts");
      const { prune } = await import("../store/maintenance.ts");
      const s = await store();
      const { parseReference } = await import("../reference/index.ts");
      const results = [];
      let failed = 0;
      const { resolveImage } = await import("../store/images.ts");
      const { containersUsing, namesOf } = await import("../runtime/prune.ts");
      const { OslessError } = await import("../errors.ts");
      for (const img of images) {
        try {
          if (!opts.force) {
            // docker's rule: the last name of an image a container was created from goes only with --force.
            const { entry } = await resolveImage(s, img);
            const users = await containersUsing(s, entry.digest);
            if (users.length > 0 && (await namesOf(s, entry.digest)).length <= 1) {
              throw new OslessError(
                "E_CONFLICT",
                `unable to remove ${img} (must force): container ${users[0]!.name} (${users[0]!.id.slice(0, 12)}) uses it`,
                { hint: `remove the container first (osless rm ${users[0]!.name}), or pass --force` },
              );
            }
          }
          const r = await removeImage(s, img, Boolean(opts.force));
          results.push({ image: img, ...r });
          if (!opts.json) {
            for (const n of r.untagged) io.stdout.write(`Untagged: ${parseReference(n).familiar()}\n`);
            for (const d of r.removedDigests) io.stdout.write(`Deleted: ${d}\n`);
          }
        } catch (e) {
          failed = reportError(io, e, Boolean(opts.json));
        }
      }
      const gc = await prune(s, { dangling: false });
      if (opts.json)
        (await import("./output/report.ts")).printJson(io, {
          images: results,
          deletedBlobs: gc.removedBlobs,
        });
      else for (const d of gc.removedBlobs) io.stdout.write(`Deleted: ${d}\n`);
      return failed;
    }),
  );

program
  .command("prune")
  .description(
    "Remove untagged images, every blob no image uses, layer snapshots no image or container uses (and leftovers of interrupted writes)",
  )
  .option("--json", "print JSON")
  .action(
    act(async (opts) => {
      const { prune } = await import("../store/maintenance.ts");
      const { pruneSnapshots } = await import("../runtime/prune.ts");
      const { humanSize, printJson } = await import("./output/report.ts");
      const s = await store();
      const r = await prune(s);
      const removedSnapshots = await pruneSnapshots(s);
      if (opts.json) printJson(io, { ...r, removedSnapshots });
      else {
        for (const d of r.removedImages) io.stdout.write(`Deleted image: ${d}\n`);
        for (const d of r.removedBlobs) io.stdout.write(`Deleted blob: ${d}\n`);
        for (const d of removedSnapshots) io.stdout.write(`Deleted layer snapshot: ${d}\n`);
        io.stdout.write(`Total reclaimed space: ${humanSize(r.reclaimedBytes)}\n`);
      }
      return 0;
    }),
  );

program
  .command("fsck")
  .description("Verify the store: re-hash every blob, check every image is complete; exit 4 on problems")
  .option("--repair", "delete corrupt blobs and leftovers, drop incomplete images")
  .option("--json", "print JSON")
  .action(
    act(async (opts) => {
      const { fsck } = await import("../store/maintenance.ts");
      const { humanSize, printJson } = await import("./output/report.ts");
      const r = await fsck(await store(), { repair: Boolean(opts.repair) });
      if (opts.json) printJson(io, r);
      else {
        io.stdout.write(
          `checked ${r.blobsChecked} blobs (${humanSize(r.bytesChecked)}) and ${r.images} images\n`,
        );
        for (const p of r.problems) io.stdout.write(`problem: ${p.message}\n`);
        if (!opts.repair) {
          for (const p of r.leftovers)
            io.stdout.write(`leftover of an interrupted write: ${p} (prune removes it)\n`);
        }
        for (const p of r.partial) io.stdout.write(`partial download kept for the next pull: ${p}\n`);
        for (const p of r.repaired) io.stdout.write(`repaired: ${p}\n`);
        if (r.problems.length === 0) io.stdout.write("no problems found\n");
      }
      return r.problems.length > 0 && !opts.repair ? 4 : 0;
    }),
  );

program
  .command("info")
  .description(
    "What this host offers containers: runtimes (and fixes their versions lack), cgroups, overlayfs",
  )
  .option("--json", "print JSON")
  .addHelpText("after", "\nExamples:\n  osless info\n  osless info --json | jq .runtimes")
  .action(
    act(async (opts) => {
      const { hostInfo } = await import("../runtime/info.ts");
      const info = await hostInfo(await store());
      if (opts.json) {
        (await import("./output/report.ts")).printJson(io, info);
        return 0;
      }
      const lines = [
        `Store: ${info.storeRoot}`,
        `Containers: ${info.containers.total} (${info.containers.running} running)`,
        `Kernel: ${info.kernel} (${info.arch})`,
        `Cgroups: ${info.cgroupMode === "hybrid" ? "v1 hybrid (v2 mounted at /sys/fs/cgroup/unified)" : info.cgroupMode}`,
        `Container roots: ${info.overlay ? "overlayfs over shared layer snapshots" : "full copies (overlayfs unavailable here)"}`,
        "Runtimes:",
        ...info.runtimes.flatMap((r, i) => [
          `  ${r.name} ${r.version}${r.commit ? ` (${r.commit})` : ""} ${r.path}${i === 0 ? " [default]" : ""}`,
          ...r.warnings.map((w) => `    warning: ${w}`),
        ]),
        ...(info.runtimeError ? [`  error: ${info.runtimeError}`] : []),
      ];
      io.stdout.write(`${lines.join("\n")}\n`);
      return 0;
    }),
  );

program
  .command("inspect")
  .description("Show containers' or images' details as JSON (a container of that name first, then an image)")
  .argument("<name...>", "container names or IDs, image names, IDs or digests")
  .addOption(
    new Option("--type <type>", "look only for containers or only for images").choices([
      "container",
      "image",
    ]),
  )
  .option("--raw", "print the raw manifest (or index) bytes of an image")
  .option("--config", "print the raw config bytes of an image")
  .option("--platform <os/arch[/variant]>", "platform to pick from a multi-platform image")
  .option("--json", "JSON output (the default format; accepted for symmetry)")
  .addHelpText(
    "after",
    `\nExamples:\n  osless inspect hello\n  osless inspect --raw hello | jq .layers\n  osless inspect --config hello | jq .config.Entrypoint\n  osless inspect web | jq '.[0].host.processes'   # a container (osless container inspect, osless top)`,
  )
  .action(
    act(async (names, opts) => {
      const { inspectImage } = await import("../store/inspect.ts");
      const { inspectContainerJson } = await import("../runtime/inspect.ts");
      const { parsePlatform } = await import("../spec/platform.ts");
      const { OslessError } = await import("../errors.ts");
      const imageOnly = Boolean(opts.raw || opts.config || opts.platform);
      if (opts.type === "container" && imageOnly) {
        throw new OslessError(
          "E_USAGE",
          "--raw, --config and --platform are for images, not --type container",
        );
      }
      const s = await store();
      const platform = opts.platform ? parsePlatform(opts.platform) : undefined;
      // docker's order: a container of that name first, then an image (the image-only flags mean images).
      const containers = opts.type !== "image" && !imageOnly;
      const out = [];
      for (const name of names) {
        if (containers) {
          try {
            out.push(await inspectContainerJson(s, name));
            continue;
          } catch (e) {
            if (!(e instanceof OslessError && e.code === "E_NOT_FOUND") || opts.type === "container") throw e;
          }
        }
        const r = await inspectImage(s, name, platform);
        if (opts.raw || opts.config) {
          io.stdout.write(opts.raw ? r.rawManifest : r.rawConfig);
          if (!opts.raw || names.length > 1) io.stdout.write("\n");
          continue;
        }
        out.push(r.inspect);
      }
      if (!opts.raw && !opts.config) (await import("./output/report.ts")).printJson(io, out);
      return 0;
    }),
  );

program
  .command("unpack")
  .description("Unpack an image's filesystem (all layers applied, whiteouts honoured) into a new directory")
  .argument("<image>", "name, ID or digest of an image in the store")
  .argument("<dir>", "target directory; must not exist (or be empty)")
  .option("--platform <os/arch[/variant]>", "platform to pick from a multi-platform image")
  .option(
    "--max-layer-size <size>",
    "refuse a layer larger than this uncompressed (default: 10 × compressed + 1 GiB)",
  )
  .option("--max-image-size <size>", "refuse an image larger than this uncompressed (default: 64 GiB)")
  .option("-q, --quiet", "no progress output")
  .option("--json", "print the result as JSON")
  .addHelpText(
    "after",
    `
Every layer is verified (blob digest and DiffID) and applied in order into a private temporary directory
beside DIR, which is renamed to DIR only when all layers are in. Paths in the layers can never reach outside
DIR. As root, ownership, device nodes and file capabilities are restored; otherwise they are skipped with a
warning.

Examples:
  osless unpack debian:bookworm ./rootfs
  osless unpack --platform linux/arm64 alpine ./alpine-arm64
  osless unpack --json hello /tmp/hello | jq .entries`,
  )
  .action(
    act(async (image, dir, opts) => {
      const { openImage, imageLayers } = await import("../store/index.ts");
      const { unpackLayers } = await import("../layer/unpack.ts");
      const { parsePlatform } = await import("../spec/platform.ts");
      const { parseSize } = await import("./args.ts");
      const { createProgress } = await import("./output/progress.ts");
      const limits = {
        maxLayerBytes: opts.maxLayerSize ? parseSize(opts.maxLayerSize, "--max-layer-size") : undefined,
        maxImageBytes: opts.maxImageSize ? parseSize(opts.maxImageSize, "--max-image-size") : undefined,
      };
      const s = await store();
      const img = await openImage(s, image, opts.platform ? parsePlatform(opts.platform) : undefined);
      const layers = imageLayers(s, img);
      const progress = createProgress(io.stderr, !opts.quiet && !opts.json);
      const warnings: { code: string; path: string; message: string }[] = [];
      // Ctrl-C or a kill stops the unpack between entries, so that it removes its working directory; a second
      // signal has the default effect (the listeners are `once`).
      const ac = new AbortController();
      let interrupted: NodeJS.Signals | undefined;
      const onSignal = (sig: NodeJS.Signals) => {
        interrupted = sig;
        ac.abort();
      };
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      let r: Awaited<ReturnType<typeof unpackLayers>> | undefined;
      try {
        r = await unpackLayers(layers, dir, {
          limits,
          events: progress.sink,
          onWarning: (w) => warnings.push(w),
          signal: ac.signal,
        });
      } catch (e) {
        if (interrupted === undefined) throw e;
      } finally {
        progress.stop();
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
      if (r === undefined) {
        const { OslessError } = await import("../errors.ts");
        throw new OslessError(
          "E_INTERRUPTED",
          `interrupted (${interrupted}): the partial unpack was removed and ${dir} left as it was`,
          { details: { signal: interrupted } },
        );
      }
      const { resolve } = await import("node:path");
      if (opts.quiet && !opts.json) {
        const { warningText } = await import("../layer/apply.ts");
        for (const w of warnings) io.stderr.write(`warning: ${warningText(w)}\n`);
      }
      if (opts.json) {
        (await import("./output/report.ts")).printJson(io, {
          image: img.name ?? image,
          manifest: img.manifest.digest,
          dir: resolve(dir),
          ...r,
          warnings,
        });
      } else if (!opts.quiet) {
        const { humanSize } = await import("./output/report.ts");
        io.stdout.write(
          `unpacked ${img.name ?? image}: ${r.layers} layer${r.layers === 1 ? "" : "s"}, ${r.entries} entries, ${humanSize(r.bytes)} into ${resolve(dir)}\n`,
        );
      }
      return 0;
    }),
  );

registerRegistryCommands(program, { io, store, act });
registerAnalyzeCommand(program, { io, store, act });
registerDiffCommand(program, { io, store, act });
registerExploreCommand(program, { io, store, act });
registerRunCommands(program, { io, store, act });
registerContainerViewCommands(program, { io, store, act });
registerBuildCommand(program, { io, store, act });
registerExportCommand(program, { io, store, act });
registerSlimCommand(program, { io, store, act });
registerTourCommand(program, { io, store, act });

void parse();
