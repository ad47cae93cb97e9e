/**
 * Parser of strace's per-process output (`strace -ff -q -z -y -s 4096 -e trace=%file,fchdir -o DIR/trace`), for
 * `osless slim`: which files did each process of the container name?
 *
 * Each line is one successful call (`-z`): `name(args) = result`. With `-y` every descriptor is followed by
 * `<path>` (`AT_FDCWD</cwd>` too), so a path relative to a descriptor becomes absolute exactly; a path relative to
 * the working directory uses the last `AT_FDCWD<…>`, `chdir`, `fchdir` or `getcwd` seen. Strings are C-quoted;
 * they are decoded to bytes, and the bytes to a string when they are UTF-8 (else `\xNN` text, marked undecodable).
 *
 * Limits. `..` is collapsed without resolving symlinks (`a/link/..` becomes `a`), which is what a
 * trace can tell; the kernel's answer is in `resolved` for calls that return a descriptor. A process's working
 * directory before its first `chdir`/`fchdir` is the first `AT_FDCWD<…>`/`getcwd` it shows (the directory can only
 * change through those calls, which are traced), else `cwd` (per-pid files do not say which parent forked whom, so
 * a child's inherited directory is otherwise unknown). Threads sharing a directory (CLONE_FS) change it for each
 * other without it showing in each one's file; `chroot`/`pivot_root` are not followed. A call cut by an event
 * (`<unfinished ...>`) is joined with its `<... name resumed>` line; one never resumed is ignored.
 */
import { OslessError } from "../errors.ts";

export interface TracedPath {
  /** Absolute, lexically normalised path the process named (inside the container). */
  path: string;
  syscall: string;
  /** The path of the descriptor an open returned (symlinks resolved by the kernel). */
  resolved?: string;
  /** The bytes of `path` or `resolved` are not UTF-8: there non-ASCII bytes (and `\`) are written `\xNN`. */
  undecodable?: true;
}

export type TracedExit = { code: number } | { signal: string };

export interface TracedProcess {
  paths: TracedPath[];
  exit?: TracedExit;
  /** A successful execve/execveat was seen. */
  execed: boolean;
}

export interface ParseOptions {
  /** Count only the first successful exec and what follows (the container's first process: runc's own setup). */
  afterFirstExec?: boolean;
  /** Working directory when nothing in the trace tells it (default "/"). */
  cwd?: string;
}

/** /proc, /sys, /dev and below: the runtime provides them, an image's files do not. */
export function isRuntimePath(p: string): boolean {
  return /^\/(proc|sys|dev)(\/|$)/.test(p);
}

/**
 * Where each call names paths: `dirfd:path` argument indexes, `c` for the working directory. Those of `%file` that
 * name files of the container (mount, swapon and the like are left out).
 */
const WHERE: [string, string][] = [
  [
    "openat openat2 newfstatat fstatat64 statx faccessat faccessat2 readlinkat execveat fchmodat fchmodat2 fchownat " +
      "utimensat futimesat mkdirat mknodat unlinkat name_to_handle_at",
    "0:1",
  ],
  [
    "open creat stat stat64 lstat lstat64 oldstat oldlstat access readlink execve chdir chroot truncate truncate64 " +
      "statfs statfs64 getxattr lgetxattr listxattr llistxattr setxattr lsetxattr removexattr lremovexattr uselib " +
      "chmod chown chown32 lchown lchown32 mkdir rmdir unlink utime utimes mknod",
    "c:0",
  ],
  ["renameat renameat2 linkat", "0:1 2:3"],
  ["rename link", "c:0 c:1"],
  ["symlinkat", "1:2"],
  ["symlink inotify_add_watch", "c:1"],
  ["fanotify_mark", "3:4"],
];
const CALLS = new Map<string, { fd: number; path: number }[]>();
for (const [names, where] of WHERE) {
  const at = where.split(" ").map((w) => {
    const [fd, path] = w.split(":");
    return { fd: fd === "c" ? -1 : Number(fd), path: Number(path) };
  });
  for (const n of names.split(" ")) CALLS.set(n, at);
}
/** How many arguments of each call are needed. */
const ARG_COUNT = new Map(
  [...CALLS].map(([n, at]) => [n, Math.max(...at.map((w) => Math.max(w.fd, w.path))) + 1]),
);
/**
 * A successful call's result at the end of its line: a number, and a descriptor's `<path>` (which holds no raw
 * `<` or `>`); undefined for a failure (-1 ENOENT ...) or a call that never returned (?).
 */
function result(line: string): string | undefined {
  const end = line.endsWith("(deleted)") ? line.length - "(deleted)".length : line.length;
  const numEnd = line.charCodeAt(end - 1) === 0x3e /* > */ ? line.lastIndexOf("<", end) : end;
  let i = numEnd;
  while (i > 0 && /\w/.test(line[i - 1]!)) i--;
  if (i === numEnd || !/\d/.test(line[i]!) || !line.slice(0, i).endsWith(" = ")) return undefined;
  return line.slice(i, end);
}
const OPENS = new Set(["open", "openat", "openat2", "creat"]);

/** C-quoted text (without its quotes) to a "binary string": one char per byte (0–255). */
function unquote(s: string): string {
  if (!s.includes("\\") && ASCII.test(s)) return s;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== "\\") {
      out += c.charCodeAt(0) < 0x80 ? c : Buffer.from(c, "utf8").toString("latin1");
      continue;
    }
    const n = s[++i] ?? "";
    const simple = { n: "\n", t: "\t", r: "\r", v: "\v", f: "\f", a: "\x07", b: "\b", e: "\x1b" }[n];
    if (simple !== undefined) out += simple;
    else if (n === "x" && /^[0-9a-fA-F]{2}/.test(s.slice(i + 1, i + 3))) {
      out += String.fromCharCode(Number.parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (/[0-7]/.test(n)) {
      const m = /^[0-7]{1,3}/.exec(s.slice(i))![0];
      out += String.fromCharCode(Number.parseInt(m, 8) & 0xff);
      i += m.length - 1;
    } else out += n; // \" \\ and anything else stands for itself
  }
  return out;
}

const ASCII = /^[\x00-\x7f]*$/;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Binary string to text: UTF-8 when it is, else ASCII with other bytes (and `\`) as `\xNN`. */
function toText(bin: string): { text: string; undecodable: boolean } {
  if (ASCII.test(bin)) return { text: bin, undecodable: false };
  const bytes = Buffer.from(bin, "latin1");
  try {
    return { text: utf8.decode(bytes), undecodable: false };
  } catch {
    let text = "";
    for (const b of bytes)
      text +=
        b >= 0x20 && b < 0x7f && b !== 0x5c
          ? String.fromCharCode(b)
          : `\\x${b.toString(16).padStart(2, "0")}`;
    return { text, undecodable: true };
  }
}

/** `//`, `/.` or `/..` as a component, or a trailing `/`. */
const NOT_NORMAL = /\/\/|\/\.\.?(\/|$)|.\/$/;

/** `p` made absolute against `base` (unless absolute already), `//`, `.` and `..` collapsed lexically. */
function absolute(base: string, p: string): string {
  const joined = p.startsWith("/") ? p : base === "/" ? `/${p}` : `${base}/${p}`;
  if (!NOT_NORMAL.test(joined)) return joined;
  const parts: string[] = [];
  for (const seg of joined.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") parts.pop();
    else parts.push(seg);
  }
  return `/${parts.join("/")}`;
}

/**
 * The first `count` arguments of the call whose text starts at `from` (after its `(`), split at top-level commas:
 * strings, brackets, `<path>` annotations (after a descriptor) and comments are skipped over.
 */
function splitArgs(s: string, from: number, count: number): string[] {
  const args: string[] = [];
  let depth = 0;
  let start = from;
  for (let i = from; i < s.length && args.length < count; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < s.length && s.charCodeAt(i) !== 0x22; i++) if (s.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x3c /* < */ && /[0-9D]/.test(s[i - 1] ?? "")) {
      const close = s.indexOf(">", i);
      i = close < 0 ? s.length : close;
    } else if (c === 0x2f /* / */ && s.charCodeAt(i + 1) === 0x2a /* * */) {
      const close = s.indexOf("*/", i + 2);
      i = close < 0 ? s.length : close + 1;
    } else if (c === 0x28 || c === 0x5b || c === 0x7b /* ( [ { */) depth++;
    else if (depth > 0 && (c === 0x29 || c === 0x5d || c === 0x7d)) depth--;
    else if (c === 0x29 || (c === 0x2c && depth === 0) /* ) , */) {
      args.push(s.slice(start, i).trim());
      start = i + 1;
      if (c === 0x29) break;
    }
  }
  return args;
}

/** A quoted string argument as a binary string ("" for NULL), or undefined. */
function stringArg(a: string | undefined): string | undefined {
  if (a === "NULL") return "";
  const m = a === undefined ? null : /^"((?:[^"\\]|\\.)*)"(?:\.\.\.)?$/s.exec(a);
  return m ? unquote(m[1]!) : undefined;
}

/** The binary path of a descriptor argument or result's `<path>` annotation, when it is a path. */
function fdPath(a: string | undefined): string | undefined {
  const m = a === undefined ? null : /^(?:AT_FDCWD|-?\d+)<([^>]*)>/.exec(a);
  const p = m ? unquote(m[1]!) : undefined;
  return p?.startsWith("/") ? p : undefined;
}

interface Call {
  name: string;
  args: string[];
  ret: string;
}

function parseLines(text: string): { calls: Call[]; exit?: TracedExit } {
  const calls: Call[] = [];
  let exit: TracedExit | undefined;
  let pending: { name: string; head: string } | undefined;
  for (let line of text.split("\n")) {
    const ex = /^\+\+\+ (?:exited with (\d+)|killed by (SIG\w+))/.exec(line);
    if (ex) {
      exit = ex[1] !== undefined ? { code: Number(ex[1]) } : { signal: ex[2]! };
      continue;
    }
    const resumed = /^<\.\.\. (\w+) resumed>/.exec(line);
    if (resumed) {
      if (!pending || pending.name !== resumed[1]) continue;
      line = pending.head + line.slice(resumed[0].length);
      pending = undefined;
    }
    const head = /^(\w+)\(/.exec(line);
    if (!head) continue;
    if (line.endsWith(" <unfinished ...>")) {
      pending = { name: head[1]!, head: line.slice(0, -" <unfinished ...>".length) };
      continue;
    }
    const name = head[1]!;
    const count = name === "getcwd" || name === "fchdir" ? 1 : ARG_COUNT.get(name);
    const ret = count === undefined ? undefined : result(line);
    if (ret !== undefined) calls.push({ name, args: splitArgs(line, head[0].length, count!), ret });
  }
  return exit ? { calls, exit } : { calls };
}

/** Files named by one process's trace, its exit, and whether it executed a program. */
export function parseStraceFile(text: string, opts: ParseOptions = {}): TracedProcess {
  const { calls, exit } = parseLines(text);
  // The working directory at the start: the first one the trace shows before the process changes it.
  let cwd = Buffer.from(opts.cwd ?? "/", "utf8").toString("latin1");
  for (const c of calls) {
    if (c.name === "chdir" || c.name === "fchdir") break;
    const seen =
      c.name === "getcwd" ? stringArg(c.args[0]) : fdPath(c.args.find((a) => a.startsWith("AT_FDCWD<")));
    if (seen?.startsWith("/")) {
      cwd = seen;
      break;
    }
  }
  let counting = !opts.afterFirstExec;
  let execed = false;
  const paths: TracedPath[] = [];
  for (const c of calls) {
    const isExec = c.name === "execve" || c.name === "execveat";
    if (isExec) {
      execed = true;
      counting = true;
    }
    if (c.name === "getcwd" || c.name === "fchdir") {
      const p = c.name === "getcwd" ? stringArg(c.args[0]) : fdPath(c.args[0]);
      if (p?.startsWith("/")) cwd = absolute("/", p);
      continue;
    }
    for (const { fd: fdIndex, path: pathIndex } of CALLS.get(c.name) ?? []) {
      const named = stringArg(c.args[pathIndex]);
      if (named === undefined) continue;
      let base: string | undefined = cwd;
      if (fdIndex >= 0) {
        const fdArg = c.args[fdIndex] ?? "";
        base = fdPath(fdArg);
        if (fdArg.startsWith("AT_FDCWD")) base = base ?? cwd;
        else if (base === undefined && !named.startsWith("/")) continue; // a descriptor strace could not name
        if (fdArg.startsWith("AT_FDCWD<") && base !== undefined) cwd = absolute("/", base);
      }
      // An empty path (AT_EMPTY_PATH) or NULL (utimensat on a descriptor) names the descriptor itself.
      const bin = absolute(base ?? "/", named);
      if (c.name === "chdir") cwd = bin;
      if (!counting) continue;
      const { text: path, undecodable } = toText(bin);
      const entry: TracedPath = { path, syscall: c.name };
      const res = OPENS.has(c.name) ? fdPath(c.ret) : undefined;
      if (res !== undefined) {
        const r = toText(absolute("/", res));
        entry.resolved = r.text;
        if (r.undecodable) entry.undecodable = true;
      }
      if (undecodable) entry.undecodable = true;
      paths.push(entry);
    }
  }
  return exit ? { paths, exit, execed } : { paths, execed };
}

/**
 * All processes' files merged: `firstPid`'s (the container's first process) from its first exec on, the others'
 * whole (processes the container forked). `setupPids` are parsed like the first process: the runtime's other
 * threads that were traced before the exec (they never exec, so they add nothing). Paths keep their order,
 * first process first, then by pid; `exit` is the first process's.
 */
export function parseStraceDir(
  files: { pid: number; text: string }[],
  firstPid: number,
  opts: { cwd?: string; setupPids?: number[] } = {},
): { paths: TracedPath[]; exit?: TracedExit; processes: number } {
  const first = files.find((f) => f.pid === firstPid);
  if (!first)
    throw new OslessError(
      "E_SLIM",
      `strace wrote no trace of the container's first process (pid ${firstPid})`,
      {
        hint: "check that strace could attach (ptrace allowed for root: kernel.yama.ptrace_scope ≤ 2, no LSM denial)",
        details: { pids: files.map((f) => f.pid) },
      },
    );
  const setup = new Set(opts.setupPids ?? []);
  const cwd = opts.cwd ?? "/";
  const main = parseStraceFile(first.text, { afterFirstExec: true, cwd });
  const paths = [...main.paths];
  for (const f of [...files].sort((a, b) => a.pid - b.pid)) {
    if (f.pid === firstPid) continue;
    for (const p of parseStraceFile(f.text, { afterFirstExec: setup.has(f.pid), cwd }).paths) paths.push(p);
  }
  // The runtime's setup threads are not processes of the container.
  const processes = files.filter((f) => !setup.has(f.pid)).length;
  return main.exit ? { paths, exit: main.exit, processes } : { paths, processes };
}
