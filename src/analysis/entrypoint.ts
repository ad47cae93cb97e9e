/**
 * What a container of the image would execute: ENTRYPOINT + CMD as Docker joins them, the program looked up the
 * way runc looks it up (a name with "/" is a path, relative ones from the working directory; a bare name is
 * searched in the image's PATH, else Docker's default PATH; the file must be a regular file with an execute
 * bit), then what the kernel would do with it: an ELF runs, a `#!` script runs its interpreter (an absolute path,
 * up to 4 levels, `/usr/bin/env NAME` looked up in PATH), anything else fails. `sh -c "…"` forms also resolve
 * the first word of the command string. Nothing is executed; every failure is a finding.
 */
import type { ImageFileInfo, ImageFiles } from "./files.ts";

/** Docker's PATH for containers whose image sets none. */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** The kernel reads this much of a file to find `#!` (BINPRM_BUF_SIZE). */
const SHEBANG_BYTES = 256;
/** The kernel follows at most this many nested interpreters. */
const MAX_INTERPRETER_DEPTH = 4;
const SHELLS = new Set(["sh", "bash", "ash", "dash", "zsh", "ksh", "mksh"]);
/** POSIX special and regular built-ins (and common extras): the shell runs them without a program file. */
const BUILTINS = new Set(
  ". : [ alias bg break cd command continue echo eval exec exit export false fc fg getopts hash jobs kill local printf pwd read readonly return set shift source test times trap true type ulimit umask unalias unset wait".split(
    " ",
  ),
);

export interface EntrypointConfig {
  entrypoint?: string[] | null | undefined;
  cmd?: string[] | null | undefined;
  env?: string[] | null | undefined;
  workingDir?: string | undefined;
}

export interface Finding {
  code: string;
  path: string;
  message: string;
}

export interface ResolvedProgram {
  /** The name as written (argv[0], a shebang interpreter, or the first word of `sh -c`). */
  name: string;
  /** In-root path of the file that would run (symlinks resolved), or null. */
  path: string | null;
  /** The path it was found at before symlinks ("/bin/sh" for a busybox link). */
  foundAt: string | null;
  kind: "elf" | "script" | "missing" | "not-executable" | "not-a-file" | "unknown-format";
  /** For a script: its interpreter line and what that resolves to. */
  shebang?: { interpreter: string; arg: string | undefined; program: ResolvedProgram } | undefined;
  /** `#!/usr/bin/env NAME`: NAME looked up in PATH, as env would. */
  envProgram?: ResolvedProgram | undefined;
}

export interface EntrypointResult {
  /** ENTRYPOINT followed by CMD. */
  argv: string[];
  program: ResolvedProgram | null;
  /** `sh -c STRING`: the string, and the program its first word names (when it is a plain word). */
  shellCommand?: { command: string; program: ResolvedProgram | null } | undefined;
  /** The PATH used for lookups. */
  path: string;
  findings: Finding[];
}

/** The last PATH in the config's Env, else Docker's default. */
export function imagePath(env: string[] | null | undefined): string {
  let path: string | undefined;
  for (const e of env ?? []) if (e.startsWith("PATH=")) path = e.slice(5);
  return path ?? DEFAULT_PATH;
}

function isExecutable(st: ImageFileInfo): boolean {
  return (st.mode & 0o111) !== 0;
}

function joinPath(dir: string, name: string): string {
  if (name.startsWith("/")) return name;
  const base = dir === "" || dir === "/" ? "" : dir.replace(/\/+$/, "");
  return `${base}/${name}`;
}

class Resolver {
  readonly findings: Finding[] = [];
  constructor(
    readonly files: ImageFiles,
    readonly path: string,
    readonly cwd: string,
  ) {}

  /** Find `name` as runc does: a path when it has "/", else the first PATH entry holding an executable file. */
  async lookup(name: string): Promise<ResolvedProgram> {
    if (name.includes("/")) return this.at(name, joinPath(this.cwd, name));
    let nonExecutable: string | undefined;
    for (const dir of this.path.split(":")) {
      const candidate = joinPath(dir === "" ? this.cwd : dir, name);
      const st = await this.files.stat(candidate);
      if (st?.type !== "file") continue;
      if (isExecutable(st)) return this.at(name, candidate);
      nonExecutable ??= candidate;
    }
    if (nonExecutable !== undefined) return this.at(name, nonExecutable);
    this.findings.push({
      code: "PROGRAM_NOT_FOUND",
      path: name,
      message: `"${name}" is not in any directory of PATH (${this.path})`,
    });
    return { name, path: null, foundAt: null, kind: "missing" };
  }

  async at(name: string, candidate: string, depth = 0): Promise<ResolvedProgram> {
    const st = await this.files.stat(candidate);
    if (st === undefined) {
      this.findings.push({
        code: "PROGRAM_NOT_FOUND",
        path: candidate,
        message: `${candidate} does not exist in the image (or is a dangling or looping symlink)`,
      });
      return { name, path: null, foundAt: candidate, kind: "missing" };
    }
    const path = `/${st.path === "." ? "" : st.path}`;
    if (st.type !== "file") {
      this.findings.push({
        code: "PROGRAM_NOT_A_FILE",
        path: candidate,
        message: `${candidate} is a ${st.type}, not a program`,
      });
      return { name, path, foundAt: candidate, kind: "not-a-file" };
    }
    if (!isExecutable(st)) {
      this.findings.push({
        code: "PROGRAM_NOT_EXECUTABLE",
        path: candidate,
        message: `${candidate} has no execute permission (mode ${st.mode.toString(8).padStart(4, "0")}): the container would fail with "permission denied"`,
      });
      return { name, path, foundAt: candidate, kind: "not-executable" };
    }
    const head = (await this.files.read(candidate, SHEBANG_BYTES)) ?? Buffer.alloc(0);
    if (head.length >= 4 && head[0] === 0x7f && head.toString("latin1", 1, 4) === "ELF") {
      return { name, path, foundAt: candidate, kind: "elf" };
    }
    if (head.length >= 2 && head[0] === 0x23 && head[1] === 0x21) {
      return this.script(name, path, candidate, head, depth);
    }
    this.findings.push({
      code: "PROGRAM_UNKNOWN_FORMAT",
      path: candidate,
      message: `${candidate} is neither an ELF program nor a #! script: the kernel cannot run it ("exec format error")`,
    });
    return { name, path, foundAt: candidate, kind: "unknown-format" };
  }

  async script(
    name: string,
    path: string,
    foundAt: string,
    head: Buffer,
    depth: number,
  ): Promise<ResolvedProgram> {
    const nl = head.indexOf(0x0a);
    // The kernel takes the line up to the newline (or the buffer's end), splits off the interpreter at the first
    // blank, and passes the rest, trimmed, as one argument.
    const line = head
      .toString("utf8", 2, nl < 0 ? head.length : nl)
      .replace(/\r$/, "")
      .trim();
    const m = /^(\S+)(?:[ \t]+(.*))?$/.exec(line);
    const self: ResolvedProgram = { name, path, foundAt, kind: "script" };
    if (!m) {
      this.findings.push({
        code: "SHEBANG_EMPTY",
        path: foundAt,
        message: `${foundAt} starts with "#!" but names no interpreter`,
      });
      return self;
    }
    const interpreter = m[1] as string;
    const arg = m[2]?.trim() || undefined;
    if (depth + 1 > MAX_INTERPRETER_DEPTH) {
      this.findings.push({
        code: "SHEBANG_TOO_DEEP",
        path: foundAt,
        message: `more than ${MAX_INTERPRETER_DEPTH} nested interpreters: the kernel refuses (ELOOP)`,
      });
      return self;
    }
    // The kernel does not search PATH: a relative interpreter is relative to the working directory.
    const program = await this.at(interpreter, joinPath(this.cwd, interpreter), depth + 1);
    self.shebang = { interpreter, arg, program };
    if (/(^|\/)env$/.test(interpreter) && arg !== undefined) {
      // `#!/usr/bin/env [-S] NAME …`: env looks NAME up in PATH.
      const words = arg.split(/\s+/).filter((w) => w !== "-S" && !w.startsWith("-") && !w.includes("="));
      if (words[0] !== undefined) self.envProgram = await this.lookup(words[0]);
    }
    return self;
  }
}

/** The first command word of a shell command string, when it is a plain word (no expansion, no quotes). */
export function firstCommandWord(command: string): string | undefined {
  const words = command.trim().split(/\s+/);
  let i = 0;
  // Leading assignments (`A=1 B=2 prog`) and `exec` do not name the program.
  while (i < words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i] as string)) i++;
  if (words[i] === "exec") i++;
  const w = words[i];
  if (w === undefined || w === "" || /[$`'"\\;&|<>(){}*?[\]~]/.test(w)) return undefined;
  return w;
}

/** Resolve what a container of this config would run. */
export async function resolveEntrypoint(
  files: ImageFiles,
  config: EntrypointConfig,
): Promise<EntrypointResult> {
  const argv = [...(config.entrypoint ?? []), ...(config.cmd ?? [])];
  const path = imagePath(config.env);
  const r = new Resolver(files, path, config.workingDir || "/");
  if (argv.length === 0 || argv[0] === "") {
    r.findings.push({
      code: "NO_COMMAND",
      path: "",
      message:
        "the image has no ENTRYPOINT and no CMD: a container needs a command given on the command line",
    });
    return { argv, program: null, path, findings: r.findings };
  }
  const program = await r.lookup(argv[0] as string);
  let shellCommand: EntrypointResult["shellCommand"];
  const base = (argv[0] as string).slice((argv[0] as string).lastIndexOf("/") + 1);
  const flag = argv[1];
  if (SHELLS.has(base) && flag !== undefined && /^-[a-z]*c[a-z]*$/.test(flag) && argv[2] !== undefined) {
    const word = firstCommandWord(argv[2]);
    const external = word !== undefined && !BUILTINS.has(word);
    shellCommand = { command: argv[2], program: external ? await r.lookup(word) : null };
  }
  return { argv, program, shellCommand, path, findings: r.findings };
}
