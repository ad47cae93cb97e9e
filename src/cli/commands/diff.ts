/**
 * `osless diff IMAGE_A IMAGE_B`: the paths added, removed and changed between two images' final filesystems,
 * as `docker diff` lists them (`A`, `D`, `C`), each C saying what changed, then a summary line. Exit 0 whether
 * or not they differ; errors exit with their code's status (3 for an image not in the store).
 *
 * `--json` prints the library's `ImagesDiff` (src/explorer/diff.ts):
 *
 *   {
 *     "a": { "source", "name", "digest", "id", "platform" },   // IMAGE_A as given, its name, manifest
 *     "b": { ... },                                             //   digest, ID (config digest), os/arch
 *     "added":   [ { "path", ...file } ],                        // only in B, sorted by path (UTF-8 bytes)
 *     "removed": [ { "path", ...file } ],                        // only in A
 *     "changed": [ { "path", "changes": [kind...], "before": file, "after": file } ],
 *     "summary": { "added", "removed", "changed", "unchanged",  // path counts
 *                  "addedBytes", "removedBytes",                 // regular-file bytes, each inode once
 *                  "changedBytes",                               // B minus A over the changed paths
 *                  "totalBytes": { "a", "b" } }                  // each whole filesystem
 *   }
 *
 * where a path is absolute ("/" the root), a `file` is
 * `{ type, size, mode, uid, gid, digest?, linkTarget?, devmajor?, devminor?, hardlinkTo?, xattrs?, layer }`
 * (type: file, directory, symlink, char, block, fifo, a hard link showing its target's; mode a number; digest
 * the sha256 of a regular file; xattrs values base64; layer the index, base 0, of the image layer defining it)
 * and a change kind is one of type, content, size, mode, owner, linkTarget, device, xattrs.
 */
import type { Command } from "@commander-js/extra-typings";
import type { DiffChanged, DiffFile, ImagesDiff } from "../../explorer/diff.ts";
import { type CommandContext, interruptible, remoteFlags, remoteOptions } from "./registry.ts";

interface DiffFlags {
  platform?: string | undefined;
  json?: boolean | undefined;
  tlsVerify?: string | undefined;
  creds?: string | undefined;
  authfile?: string | undefined;
}

export function registerDiffCommand(program: Command, ctx: CommandContext): void {
  const { io, act } = ctx;
  remoteFlags(
    program
      .command("diff")
      .description("What differs between two images' filesystems: files added, removed and changed")
      .argument(
        "<image-a>",
        "the old image: a name, ID or digest in the store, docker://REF, oci:DIR[:ref], oci-archive:FILE[:ref] or docker-archive:FILE[:name]",
      )
      .argument("<image-b>", "the new image, compared with the old one (same forms)")
      .option(
        "--platform <os/arch[/variant]>",
        "platform to pick from multi-platform images, for both (default: this host's)",
      )
      .option("--json", "print the differences as JSON"),
  )
    .addHelpText(
      "after",
      `
Each line is a path that differs, as docker diff marks them: A added (only in IMAGE_B), D deleted (only in
IMAGE_A), C changed, with what changed: type, content (sha256), size, mode, owner (uid:gid), target (symlinks),
device (major:minor), xattrs. A hard link counts as the file it shows; modification times are not compared; a
directory is changed only when its own metadata is (its children are listed themselves). Then one summary line.
Only the final filesystems count, not how the layers got there. Exit status 0 whether they differ or not.

Examples:
  osless diff debian:bookworm app:1
  osless diff app:1 app:2 | grep '^C'
  osless diff --json app:1 app:2 | jq -r '.changed[] | "\\(.path) \\(.changes)"'
  osless diff --platform linux/arm64 alpine:3.19 alpine:3.20
  osless diff docker://127.0.0.1:5000/app:1 oci-archive:app-2.tar`,
    )
    .action(
      act(async (imageA: string, imageB: string, opts: DiffFlags) => {
        const { diffImages } = await import("../../explorer/diff.ts");
        const { imageInfo, openImageSource } = await import("../../transfer/open.ts");
        const { parsePlatform } = await import("../../spec/platform.ts");
        const platform = opts.platform ? parsePlatform(opts.platform) : undefined;
        const remote = [imageA, imageB].some((i) => i.startsWith("docker://"))
          ? await remoteOptions(opts)
          : undefined;
        const result = await interruptible("nothing was written", async (signal) => {
          const open = (input: string) =>
            openImageSource(input, {
              store: ctx.store,
              remote: remote && { ...remote, signal },
              platform,
              signal,
            });
          const a = await open(imageA);
          try {
            const b = await open(imageB);
            try {
              const side = (s: typeof a) => ({ info: imageInfo(s), layers: s.layers });
              return await diffImages(side(a), side(b), { signal });
            } finally {
              await b.close();
            }
          } finally {
            await a.close();
          }
        });
        if (opts.json) (await import("../output/report.ts")).printJson(io, result);
        else {
          const { printable } = await import("../../layer/paths.ts");
          const { compareNames } = await import("../../layer/view-tree.ts");
          io.stdout.write(render(result, { printable, compareNames }));
        }
        return 0;
      }),
    );
}

/** Bytes as people read them, with a space and an optional sign: "12 B", "+1.5 kB", "-3.61 MB". */
function bytes(n: number, signed = false): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = Math.abs(n);
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  const sign = n < 0 ? "-" : signed && n > 0 ? "+" : "";
  return `${sign}${i === 0 ? v : Number(v.toPrecision(3))} ${units[i]}`;
}

const octal = (mode: number) => mode.toString(8).padStart(4, "0");

/** What changed at a path, as the text after a C line's path: "content, size +12 B". */
function describeChange(c: DiffChanged): string {
  const { before: a, after: b } = c;
  const out: string[] = [];
  for (const k of c.changes) {
    if (k === "type") out.push(`type ${a.type} -> ${b.type}`);
    else if (k === "content") out.push("content");
    else if (k === "size") out.push(`size ${bytes(b.size - a.size, true)}`);
    else if (k === "mode") out.push(`mode ${octal(a.mode)} -> ${octal(b.mode)}`);
    else if (k === "owner") out.push(`owner ${a.uid}:${a.gid} -> ${b.uid}:${b.gid}`);
    else if (k === "linkTarget") out.push(`target ${a.linkTarget} -> ${b.linkTarget}`);
    else if (k === "device") out.push(`device ${device(a)} -> ${device(b)}`);
    else out.push("xattrs");
  }
  return out.join(", ");
}

function device(f: DiffFile): string {
  return `${f.devmajor}:${f.devminor}`;
}

function plural(n: number, one: string, many: string): string {
  return `${thousands(n)} ${n === 1 ? one : many}`;
}

function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

interface RenderDeps {
  /** Control characters escaped (src/layer/paths.ts), so that a name never breaks a line. */
  printable: (s: string) => string;
  /** UTF-8 byte order (src/layer/view-tree.ts), the order of the lists. */
  compareNames: (a: string, b: string) => number;
}

/**
 * The text report: one line per path (sorted by path), then the summary line. The library functions it needs
 * are handed in, so that this module, loaded at every start for its registration, imports nothing but types.
 */
function render(d: ImagesDiff, { printable, compareNames }: RenderDeps): string {
  const lines: [string, string][] = [];
  for (const e of d.added) lines.push([e.path, `A ${printable(e.path)}`]);
  for (const e of d.removed) lines.push([e.path, `D ${printable(e.path)}`]);
  for (const c of d.changed) {
    const what = printable(describeChange(c));
    lines.push([c.path, `C ${printable(c.path)} (${what})`]);
  }
  lines.sort((x, y) => compareNames(x[0], y[0]));
  const s = d.summary;
  const differ = s.added + s.removed + s.changed;
  const summary =
    differ === 0
      ? `no differences: ${plural(s.unchanged, "path is", "paths are")} the same`
      : `${plural(differ, "path differs", "paths differ")}: ${thousands(s.added)} added (${bytes(s.addedBytes, true)}), ` +
        `${thousands(s.removed)} removed (${bytes(-s.removedBytes, true)}), ` +
        `${thousands(s.changed)} changed (${bytes(s.changedBytes, true)}); ` +
        `files ${bytes(s.totalBytes.a)} -> ${bytes(s.totalBytes.b)}`;
  return `${lines.map((l) => `${l[1]}\n`).join("")}${summary}\n`;
}
