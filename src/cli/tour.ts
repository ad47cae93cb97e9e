/**
 * `osless tour`: the article's walk, with real images and real containers, each step a command a newcomer can type
 * again. The tour runs osless itself (this same program, in a child process per command) so the output shown is
 * exactly what the user will see; it prints the command before its output.
 *
 *  1. hello, FROM scratch: a static C program compiled with the host's gcc (else busybox-static's binary);
 *  2. run it; 3. run it again, waiting, and look at its process from the host (pid, namespaces, cgroup);
 *  4. a Debian image from a debootstrap root filesystem (or the one a previous tour left in the store);
 *  5. a shell in it, and exec; 6. `run hello bash` fails, and says why; 7. both images' layers;
 *  8. `analyze` of both side by side; 9. with internet access, the real nginx, debian and alpine images.
 *
 * Inputs are made with the host's own tools (gcc, debootstrap), never with osless's peers; the Debian root
 * filesystem becomes `rootfs.tar.gz` through osless's layer writer, and `ADD rootfs.tar.gz /` builds the image, as
 * `debian:bookworm-slim` is built.
 */
import { spawn, spawnSync } from "node:child_process";
import { lookup } from "node:dns/promises";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { constants as osConstants, tmpdir } from "node:os";
import { join } from "node:path";
import { debianMirror } from "../_internal/apt-sources.ts";
import { unmountUnder } from "../_internal/mounts.ts";
import { which } from "../_internal/which.ts";
import { parseElf } from "../analysis/elf/index.ts";
import { OslessError } from "../errors.ts";

export interface TourOptions {
  /** The store the tour's images go to (and stay in). */
  storeRoot: string;
  /** false: no Debian image (--no-debian). */
  debian: boolean;
  /** Pull nginx, debian and alpine and put them side by side (needs a registry that has them). */
  realImages: boolean;
  /** Where the real images come from (default docker.io). */
  registry: string;
  /** Where the tour prints (its transcript); nothing with `json`. */
  out: NodeJS.WritableStream;
  json: boolean;
  /** Ends the tour: the running command is stopped, the tour's containers and scratch directory removed. */
  signal?: AbortSignal | undefined;
  /** The command that runs osless (this process's own: node, its flags, the script). */
  self?: string[] | undefined;
}

export interface TourCommand {
  command: string;
  status: number;
  output: string;
}

export interface TourStep {
  title: string;
  commands: TourCommand[];
  notes: string[];
}

export interface TourReport {
  steps: TourStep[];
  images: Record<string, { verdict: string; summary: string }>;
  seconds: number;
}

const HELLO_C = `#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  puts("Hello from a static binary: no shell, no libc, no OS around me.");
  if (argc > 1 && strcmp(argv[1], "--wait") == 0) {
    fflush(stdout);
    sleep(600);
  }
  return 0;
}
`;

class Tour {
  readonly steps: TourStep[] = [];
  readonly images: TourReport["images"] = {};
  #self: string[];

  constructor(readonly o: TourOptions) {
    this.#self = o.self ?? [process.execPath, ...process.execArgv, process.argv[1] ?? "osless"];
  }

  print(text: string): void {
    if (!this.o.json) this.o.out.write(text);
  }

  step(title: string, ...paragraphs: string[]): void {
    this.steps.push({ title, commands: [], notes: [] });
    this.print(`\n== ${title}\n`);
    for (const p of paragraphs) this.note(p);
  }

  note(text: string): void {
    this.steps.at(-1)?.notes.push(text);
    this.print(`${text}\n`);
  }

  /** Run a program, show `$ shown` and its output; a status other than `expect` ends the tour. */
  async exec(
    argv: string[],
    shown: string,
    opts: { stdin?: string; expect?: number; quiet?: boolean; env?: Record<string, string> } = {},
  ): Promise<TourCommand> {
    this.print(`\n$ ${shown}\n`);
    this.o.signal?.throwIfAborted();
    const child = spawn(argv[0]!, argv.slice(1), {
      env: { ...process.env, OSLESS_ROOT: this.o.storeRoot, NO_COLOR: "1", ...opts.env },
      stdio: [opts.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      // Interrupted: the command gets SIGTERM, as from a terminal's Ctrl-C it would get SIGINT.
      ...(this.o.signal ? { signal: this.o.signal } : {}),
    });
    if (opts.stdin !== undefined) child.stdin?.end(opts.stdin);
    let output = "";
    let stdout = "";
    const take = (b: Buffer, out: boolean) => {
      const s = b.toString("utf8");
      output += s;
      if (out) stdout += s;
      if (!opts.quiet) this.print(s);
    };
    child.stdout?.on("data", (b: Buffer) => take(b, true));
    child.stderr?.on("data", (b: Buffer) => take(b, false));
    const status = await new Promise<number>((resolve, reject) => {
      child.on("error", (e) => {
        if (this.o.signal?.aborted) return; // `close` follows
        reject(new OslessError("E_TOUR", `cannot run ${argv[0]}: ${e.message}`, { cause: e }));
      });
      child.on("close", (code, sig) => resolve(code ?? 128 + (sig ? (osConstants.signals[sig] ?? 0) : 0)));
    });
    this.o.signal?.throwIfAborted();
    this.lastStdout = stdout;
    const cmd = { command: shown, status, output };
    this.steps.at(-1)?.commands.push(cmd);
    if (status !== (opts.expect ?? 0)) {
      if (opts.quiet) this.print(output.split("\n").slice(-20).join("\n"));
      const last = output
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean)
        .find((l) => /^Error:|error/i.test(l));
      throw new OslessError(
        "E_TOUR",
        `the tour's step "${this.steps.at(-1)?.title}" failed: ${shown} exited ${status}${last ? `: ${last}` : ""}`,
        {
          hint: "its output is above; `bash scripts/setup.sh` installs what the tour needs (runc, gcc, debootstrap)",
          details: { command: shown, status, output: output.slice(-4000) },
        },
      );
    }
    return cmd;
  }

  osless(
    args: string[],
    opts: { stdin?: string; expect?: number; quiet?: boolean } = {},
  ): Promise<TourCommand> {
    const shown = [
      "osless",
      ...args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)),
    ];
    return this.exec([...this.#self, ...args], shown.join(" "), opts);
  }

  /** Run osless without showing it (a check, or removing what an interrupted tour left); its exit status. */
  async silent(args: string[]): Promise<number | null> {
    const child = spawn(this.#self[0]!, [...this.#self.slice(1), ...args], {
      env: { ...process.env, OSLESS_ROOT: this.o.storeRoot },
      stdio: "ignore",
    });
    return new Promise<number | null>((r) => {
      child.on("error", () => r(null));
      child.on("close", r);
    });
  }

  /** stdout alone of the last command (what --json commands print: their warnings go to stderr). */
  lastStdout = "";

  async has(image: string): Promise<boolean> {
    return (await this.silent(["inspect", image])) === 0;
  }

  async json<T>(args: string[]): Promise<T> {
    await this.osless([...args, "--json"], { quiet: true });
    return JSON.parse(this.lastStdout) as T;
  }
}

/** The hello image's build context: the program (gcc -static, or busybox-static's binary) and a Dockerfile. */
async function helloContext(t: Tour, dir: string): Promise<{ wait: string[] }> {
  const gcc = which("gcc");
  // gcc names the static C library's path when it has one (libc6-dev), else just repeats "libc.a".
  const libcA = gcc ? spawnSync(gcc, ["-print-file-name=libc.a"], { encoding: "utf8" }).stdout.trim() : "";
  if (gcc && libcA.startsWith("/") && existsSync(libcA)) {
    await writeFile(join(dir, "hello.c"), HELLO_C);
    t.note("The host's gcc compiles a C program into one static binary: everything it needs is inside it.");
    await t.exec(
      [gcc, "-static", "-O2", "-s", "-o", join(dir, "hello"), join(dir, "hello.c")],
      `gcc -static -O2 -s -o hello hello.c`,
    );
    await writeFile(join(dir, "Dockerfile"), 'FROM scratch\nCOPY hello /\nCMD ["/hello"]\n');
    return { wait: ["/hello", "--wait"] };
  }
  const busybox = which("busybox");
  if (busybox && parseElf(readFileSync(busybox))?.linkage === "static") {
    t.note("No gcc with a static C library here: busybox-static's binary is the static program instead.");
    const { copyFile } = await import("node:fs/promises");
    await copyFile(busybox, join(dir, "busybox"));
    await writeFile(
      join(dir, "Dockerfile"),
      'FROM scratch\nCOPY busybox /\nCMD ["/busybox", "echo", "Hello from busybox: one static binary, FROM scratch."]\n',
    );
    return { wait: ["/busybox", "sleep", "600"] };
  }
  throw new OslessError(
    "E_TOUR",
    "the tour needs a static program: neither gcc with libc6-dev nor busybox-static is installed",
    {
      hint: "apt-get install gcc libc6-dev (or busybox-static), or run bash scripts/setup.sh",
    },
  );
}

/** `debootstrap --variant=minbase bookworm` into `root`, then trimmed as image builders trim it. */
async function debootstrap(t: Tour, root: string): Promise<void> {
  const tool = which("debootstrap");
  if (!tool || process.getuid?.() !== 0) {
    throw new OslessError("E_TOUR", "making a Debian root filesystem needs debootstrap, run as root", {
      hint: "apt-get install debootstrap and run the tour as root, or skip this part with --no-debian",
    });
  }
  const mirror = debianMirror("bookworm");
  const args = [
    "--variant=minbase",
    ...(mirror.keyring ? [`--keyring=${mirror.keyring}`] : []),
    "bookworm",
    root,
    mirror.uri,
  ];
  t.note(
    "debootstrap downloads and unpacks Debian's essential packages from the mirror in apt's sources (MIRROR " +
      "below), in about 1-2 minutes; its own output is summed up.",
  );
  // MIRROR stands for the mirror apt's sources name (this machine's choice, not the tour's).
  let r: TourCommand;
  try {
    r = await t.exec([tool, ...args], "debootstrap --variant=minbase bookworm rootfs MIRROR", {
      quiet: true,
    });
  } finally {
    // debootstrap mounts /proc (and may bind the host's /dev) in the tree: nothing below is removed through them.
    unmountUnder(root);
  }
  t.print(`${r.output.trimEnd().split("\n").at(-1)}\n`);
  // What image builders drop: downloaded .debs, apt's lists, the host's resolv.conf and hostname, /dev's nodes.
  const clear = async (d: string, keep: string[] = []) => {
    const p = join(root, d);
    if (!existsSync(p)) return;
    for (const n of readdirSync(p))
      if (!keep.includes(n)) await rm(join(p, n), { recursive: true, force: true });
  };
  await clear("var/cache/apt/archives", ["partial", "lock"]);
  await clear("var/lib/apt/lists", ["partial", "lock"]);
  await clear("dev");
  for (const f of ["etc/hostname", "etc/resolv.conf", "var/log/bootstrap.log"])
    await rm(join(root, f), { force: true });
}

/** The root filesystem as rootfs.tar.gz, written by osless's own layer writer (owners, modes, links kept). */
async function rootfsTarball(root: string, dest: string): Promise<void> {
  const { diffTrees } = await import("../layer/diff.ts");
  const { writeLayer } = await import("../layer/write.ts");
  const empty = await mkdtemp(join(tmpdir(), "osless-tour-empty-"));
  try {
    await writeLayer(await diffTrees(empty, root), dest);
  } finally {
    await rm(empty, { recursive: true, force: true });
  }
}

interface AnalysisJson {
  verdict: string;
  summary: string;
  os: { prettyName: string | null } | null;
  packages: unknown[];
  entrypoint: { argv: string[]; linkage: string; libraries: unknown[] };
  inventory: {
    files: number;
    bytes: number;
    shells: unknown[];
    packageManagers: { name: string }[];
    libc: { flavour: string; version: string | null };
    setuid: unknown[];
  };
}

function mb(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(0)} kB`;
}

/** `analyze` of several images, side by side. */
async function sideBySide(t: Tour, names: string[]): Promise<void> {
  const rows: [string, (a: AnalysisJson) => string][] = [
    ["verdict", (a) => a.verdict],
    ["OS", (a) => a.os?.prettyName ?? "none"],
    ["packages", (a) => `${a.packages.length}`],
    ["shells", (a) => `${a.inventory.shells.length}`],
    ["package managers", (a) => a.inventory.packageManagers.map((p) => p.name).join(", ") || "none"],
    [
      "C library",
      (a) =>
        a.inventory.libc.flavour === "none"
          ? "none"
          : `${a.inventory.libc.flavour} ${a.inventory.libc.version ?? ""}`.trim(),
    ],
    ["entrypoint", (a) => `${a.entrypoint.argv.join(" ") || "(none)"} (${a.entrypoint.linkage})`],
    ["libraries it needs", (a) => `${a.entrypoint.libraries.length}`],
    ["setuid files", (a) => `${a.inventory.setuid.length}`],
    ["files", (a) => `${a.inventory.files}`],
    ["size", (a) => mb(a.inventory.bytes)],
  ];
  const all: AnalysisJson[] = [];
  for (const n of names) {
    const a = await t.json<AnalysisJson>(["analyze", n]);
    all.push(a);
    t.images[n] = { verdict: a.verdict, summary: a.summary };
  }
  const w = Math.max(34, ...names.map((n) => n.length + 2));
  const cell = (v: string) => (v.length > w - 2 ? `${v.slice(0, w - 3)}…` : v).padEnd(w);
  let table = `\n${"".padEnd(20)}${names.map((n) => n.padEnd(w)).join("")}\n`;
  for (const [label, f] of rows) table += `${label.padEnd(20)}${all.map((a) => cell(f(a))).join("")}\n`;
  t.print(table);
  for (let i = 0; i < names.length; i++) t.note(`${names[i]}: ${all[i]!.summary}`);
}

interface ExploreJson {
  layers: {
    index: number;
    command: string;
    size: number;
    added: number;
    modified: number;
    removed: number;
  }[];
}

async function layers(t: Tour, name: string): Promise<void> {
  const e = await t.json<ExploreJson>(["explore", name]);
  for (const l of e.layers) {
    t.print(
      `  layer ${l.index + 1}: ${l.command.replace(/ # buildkit$/, "")} — ${mb(l.size)}, ${l.added} added, ${l.modified} changed, ${l.removed} removed\n`,
    );
  }
}

async function online(host: string): Promise<boolean> {
  const timeout = new Promise<false>((r) => setTimeout(() => r(false), 2000).unref());
  return Promise.race([
    lookup(host).then(
      () => true as const,
      () => false as const,
    ),
    timeout,
  ]);
}

/** Walk the article (see the module comment). */
export async function runTour(o: TourOptions): Promise<TourReport> {
  const started = Date.now();
  const t = new Tour(o);
  const work = await mkdtemp(join(tmpdir(), "osless-tour-"));
  let report: TourReport;
  let cleanup: unknown;
  try {
    t.print(
      `A tour of osless: does a container image have an operating system inside?\nStore: ${o.storeRoot}\n`,
    );

    t.step("1. An image is files plus a config: the smallest one is a single static program, FROM scratch");
    const hello = join(work, "hello");
    await mkdir(hello);
    const { wait } = await helloContext(t, hello);
    t.print(`\n${readFileSync(join(hello, "Dockerfile"), "utf8")}`);
    await t.osless(["build", "-q", "-t", "tour/hello", hello]);

    t.step("2. Run it: the container is that one program, and it says hello");
    await t.osless(["run", "--rm", "tour/hello"]);

    t.step(
      "3. A container is a process on the host's kernel, in namespaces and a cgroup",
      "The same image, kept waiting; `osless top` shows its process as the host sees it: host PID, namespaces, cgroup.",
    );
    await t.silent(["rm", "-f", "tour-hello"]);
    try {
      await t.osless([
        "run",
        "-d",
        "--name",
        "tour-hello",
        "--entrypoint",
        wait[0]!,
        "tour/hello",
        ...wait.slice(1),
      ]);
      await t.osless(["top", "tour-hello"]);
      await t.osless(["rm", "-f", "tour-hello"]);
    } finally {
      await t.silent(["rm", "-f", "tour-hello"]);
    }

    let debian = false;
    if (o.debian) {
      t.step(
        "4. An image with an OS inside: Debian, from a debootstrap root filesystem",
        "`FROM scratch` + `ADD rootfs.tar.gz /` is how Debian's own images are built.",
      );
      if (await t.has("tour/debian")) {
        t.note(
          "tour/debian is in the store from an earlier tour: reused (osless rmi tour/debian to make it again).",
        );
      } else {
        const ctx = join(work, "debian");
        await mkdir(ctx);
        await debootstrap(t, join(work, "rootfs"));
        await rootfsTarball(join(work, "rootfs"), join(ctx, "rootfs.tar.gz"));
        await rm(join(work, "rootfs"), { recursive: true, force: true });
        await writeFile(join(ctx, "Dockerfile"), 'FROM scratch\nADD rootfs.tar.gz /\nCMD ["bash"]\n');
        t.print(`\n${readFileSync(join(ctx, "Dockerfile"), "utf8")}`);
        await t.osless(["build", "-q", "-t", "tour/debian", ctx]);
      }
      debian = true;

      t.step(
        "5. A shell in it, and a second process beside it",
        "`osless run -it --rm tour/debian bash` gives you the shell; here the tour types two commands into it.",
      );
      await t.osless(["run", "-i", "--rm", "tour/debian", "bash"], {
        stdin: 'echo "bash $BASH_VERSION on Debian $(cat /etc/debian_version)"\nls /\n',
      });
      await t.silent(["rm", "-f", "tour-debian"]);
      try {
        await t.osless(["run", "-d", "--name", "tour-debian", "tour/debian", "sleep", "600"]);
        await t.osless(["exec", "tour-debian", "cat", "/etc/os-release"]);
        await t.osless(["rm", "-f", "tour-debian"]);
      } finally {
        await t.silent(["rm", "-f", "tour-debian"]);
      }
    }

    t.step(
      "6. hello has no bash to run",
      "The command fails, as `docker run hello bash` does; osless says why.",
    );
    await t.osless(["run", "--rm", "tour/hello", "bash"], { expect: 127 });

    const images = debian ? ["tour/hello", "tour/debian"] : ["tour/hello"];
    t.step(
      "7. The layers: what each step of the build added",
      "`osless explore IMAGE` opens them file by file (dive's keys); `--web` in the browser.",
    );
    for (const n of images) {
      t.print(`\n${n}:\n`);
      await layers(t, n);
    }

    t.step("8. Is there an OS inside? `osless analyze`, side by side");
    await sideBySide(t, images);

    t.step("9. Real images");
    const registry = o.registry;
    if (o.realImages) {
      const refs = ["nginx", "debian", "alpine"].map((n) =>
        registry === "docker.io" ? n : `${registry}/library/${n}`,
      );
      for (const r of refs) await t.osless(["pull", "-q", r]);
      await sideBySide(t, refs);
    } else if (
      await online(registry === "docker.io" ? "registry-1.docker.io" : registry.replace(/:\d+$/, ""))
    ) {
      t.note(
        "This machine reaches Docker Hub: `osless tour --real-images` pulls nginx, debian and alpine and puts them side by side.",
      );
    } else {
      t.note(
        "No internet here: with it, `osless tour --real-images` pulls nginx, debian and alpine and puts them side by side.",
      );
    }

    const seconds = Math.round((Date.now() - started) / 1000);
    t.print(
      `\nThe tour took ${Math.floor(seconds / 60)} min ${seconds % 60} s. Its images stay in the store: \`osless images\`; ` +
        `\`osless slim tour/debian …\` makes OS-less images; \`osless rmi ${images.join(" ")}\` removes them.\n`,
    );
    report = { steps: t.steps, images: t.images, seconds };
  } finally {
    try {
      unmountUnder(work);
      await rm(work, { recursive: true, force: true });
    } catch (e) {
      // Said here too: an interruption's message would otherwise hide that the scratch directory stayed.
      t.print(`warning: ${(e as Error).message}\n`);
      cleanup = e;
    }
  }
  if (cleanup !== undefined) throw cleanup;
  return report;
}
