/**
 * The OCI runtime driver: which runtime runs containers (runc by default, crun with `--runtime crun`), how it is
 * called, and the host facts that decide how (cgroup mode). The runtime is the one external program osless runs
 * by design; everything else (bundle, rootfs, state) is osless's own work.
 *
 * Safety (runtime-defaults.md, "Runtime CVEs"): the runtime binary must be root-owned and not writable by group or
 * others (CVE-2019-5736 replaced it through /proc/self/exe); it is called with only stdio open (Node opens every
 * file O_CLOEXEC and osless passes no extra stdio), and its state lives under /run, not in the store.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { constants } from "node:os";
import { join } from "node:path";
import { SYSTEM_DIRS, which } from "../_internal/which.ts";
import { OslessError } from "../errors.ts";

export type RuntimeName = "runc" | "crun";
export type CgroupMode = "v1" | "v2" | "hybrid";

export interface RuntimeInfo {
  name: RuntimeName;
  /** Absolute path of the binary. */
  path: string;
  /**
   * The argv prefix that runs it: `[path]`, or for crun on a hybrid host `unshare` into a private mount namespace
   * whose cgroup v2 mount is gone (crun refuses hybrid hosts otherwise).
   */
  command: string[];
  /** Its state directory (`--root`). */
  stateRoot: string;
}

const PACKAGE: Record<RuntimeName, string> = { runc: "runc", crun: "crun" };

/** cgroup v2 when /sys/fs/cgroup is cgroup2; hybrid when a v1 tmpfs holds a v2 mount at `unified`; else v1. */
export function cgroupMode(): CgroupMode {
  if (existsSync("/sys/fs/cgroup/cgroup.controllers")) return "v2";
  if (existsSync("/sys/fs/cgroup/unified/cgroup.controllers")) return "hybrid";
  return "v1";
}

/** Where runtimes are looked for after PATH: root's PATH may lack sbin (`su` without `-`), where Debian puts runc. */
const SBIN = ["/usr/sbin", "/sbin"];

/** The runtime state directory: under /run (cleared at boot, as the runtime's own state is). */
export function defaultStateRoot(name: RuntimeName): string {
  return process.getuid?.() === 0
    ? `/run/osless/${name}`
    : join(process.env.XDG_RUNTIME_DIR || `/tmp/osless-${process.getuid?.()}`, "osless", name);
}

/**
 * Find the runtime: `name` (runc or crun) or the default (runc when installed, else crun). Throws
 * E_RUNTIME_MISSING naming the Debian package, and E_RUNTIME when the binary is unsafe (writable by others).
 */
export function findRuntime(
  name?: string,
  opts: { env?: NodeJS.ProcessEnv; fallbackDirs?: string[] } = {},
): RuntimeInfo {
  const env = opts.env ?? process.env;
  const look = (cmd: string) => which(cmd, { env, extra: opts.fallbackDirs ?? SBIN });
  let chosen: RuntimeName;
  let path: string | undefined;
  if (name === undefined || name === "") {
    path = look("runc");
    chosen = "runc";
    if (!path) {
      path = look("crun");
      if (path) chosen = "crun";
    }
    if (!path) {
      throw new OslessError("E_RUNTIME_MISSING", "no OCI runtime found: neither runc nor crun is installed", {
        hint: "install one: apt-get install runc (or crun)",
      });
    }
  } else {
    if (name !== "runc" && name !== "crun") {
      throw new OslessError("E_USAGE", `unknown runtime "${name}": osless supports runc and crun`, {
        hint: "use --runtime runc or --runtime crun",
      });
    }
    chosen = name;
    path = look(name);
    if (!path) {
      throw new OslessError("E_RUNTIME_MISSING", `the OCI runtime ${name} is not installed`, {
        hint: `install it: apt-get install ${PACKAGE[name]}`,
      });
    }
  }
  checkBinary(path);
  let command = [path];
  if (chosen === "crun" && cgroupMode() === "hybrid") {
    // crun 1.8 refuses hybrid hosts ("cgroups in hybrid mode not supported"). In a private mount namespace
    // without the v2 mount it sees a plain v1 host; the namespace dies with the command.
    // System tools, wherever PATH points.
    const unshare = which("unshare", { env, extra: SYSTEM_DIRS });
    const sh = which("sh", { env, extra: SYSTEM_DIRS });
    if (!unshare || !sh) {
      throw new OslessError(
        "E_RUNTIME_MISSING",
        "crun on this cgroup v1 hybrid host needs unshare(1) and sh",
        {
          hint: "install util-linux, or use --runtime runc",
        },
      );
    }
    command = [
      unshare,
      "--mount",
      "--propagation",
      "private",
      sh,
      "-c",
      'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$0" "$@"',
      path,
    ];
  }
  return { name: chosen, path, command, stateRoot: env.OSLESS_RUNTIME_ROOT || defaultStateRoot(chosen) };
}

function checkBinary(path: string): void {
  const st = statSync(path);
  if (st.uid !== 0 || st.mode & 0o022) {
    throw new OslessError(
      "E_RUNTIME",
      `refusing to run ${path}: it is ${st.uid !== 0 ? "not owned by root" : "writable by group or others"}`,
      {
        hint: `a container could replace a writable runtime binary (CVE-2019-5736): chown root ${path} && chmod go-w ${path}`,
      },
    );
  }
}

export interface RuntimeVersion {
  version: string;
  commit?: string | undefined;
  warnings: string[];
}

/** `runtime --version`, with warnings for versions that lack later security fixes (osless info shows them). */
export function runtimeVersion(rt: RuntimeInfo): RuntimeVersion {
  const out = spawnSync(rt.path, ["--version"], { encoding: "utf8", timeout: 10_000 });
  const text = `${out.stdout ?? ""}`;
  const version = /version\s+(\S+)/.exec(text)?.[1] ?? "unknown";
  const commit = /commit:\s*(\S+)/.exec(text)?.[1];
  const warnings: string[] = [];
  if (rt.name === "runc") {
    const [maj = 0, min = 0, patch = 0] = version.split(/[.+~-]/).map((x) => Number.parseInt(x, 10) || 0);
    const num = maj * 10_000 + min * 100 + patch;
    // Debian bookworm backports CVE-2024-21626 into 1.1.5 (+deb12u1); upstream fixed it in 1.1.12.
    const backported = /deb12u[1-9]/.test(commit ?? "");
    if (maj < 1 || (num < 10_000 && !/^1\.0\.0-rc([7-9]|\d\d)/.test(version))) {
      warnings.push(
        `runc ${version} lacks the fix for CVE-2019-5736 (runc binary overwritten from a container)`,
      );
    }
    if (num < 10_112 && !backported) {
      warnings.push(
        `runc ${version} lacks the fix for CVE-2024-21626 (leaked cgroup fd): upgrade to 1.1.12 or later`,
      );
    }
    // Fixed in 1.2.8 and 1.3.3 (and the 1.4 releases): each series has its own floor.
    const lacks2025 =
      min < 2 ||
      (min === 2 && num < 10_208) ||
      (min === 3 && num < 10_303) ||
      (min === 4 && /rc/.test(version));
    if (maj === 1 && lacks2025) {
      warnings.push(
        `runc ${version} predates the fixes for CVE-2025-31133, CVE-2025-52565 and CVE-2025-52881 (1.2.8 / 1.3.3)`,
      );
    }
  }
  return { version, commit, warnings };
}

/** The argv to run `runtime [global flags] SUB ARGS...`. */
export function runtimeArgv(
  rt: RuntimeInfo,
  sub: string,
  args: string[],
  opts: { log?: string } = {},
): string[] {
  const global = ["--root", rt.stateRoot];
  if (opts.log) global.push("--log", opts.log, "--log-format", "json");
  return [...rt.command, ...global, sub, ...args];
}

export interface RuntimeResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Run a short runtime subcommand (state, kill, delete, ps) to completion, capturing its output. */
export function runtimeCall(rt: RuntimeInfo, sub: string, args: string[]): Promise<RuntimeResult> {
  const [cmd, ...rest] = runtimeArgv(rt, sub, args);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, rest, { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) =>
      reject(new OslessError("E_RUNTIME", `cannot run ${rt.name}: ${e.message}`, { cause: e })),
    );
    child.on("close", (code, signal) =>
      resolve({
        status: code ?? 128 + (signal ? signalNumber(signal) : 0),
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      }),
    );
  });
}

/** The runtime's own error text from its stderr or a JSON log: the last error-level message. */
export function runtimeMessage(text: string): string {
  let last: string | undefined;
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (!t) continue;
    if (t.startsWith("{")) {
      try {
        const j = JSON.parse(t) as { level?: string; msg?: string };
        if ((j.level === "error" || j.level === "fatal") && j.msg) last = j.msg;
        continue;
      } catch {}
    }
    const m = /level=error msg="((?:[^"\\]|\\.)*)"/.exec(t);
    last = m ? m[1]!.replace(/\\"/g, '"') : t.replace(/^ERRO\[\d+\]\s*/, "");
  }
  return last ?? "(no message)";
}

/** The error-level messages in a runtime JSON log file (empty when the file is missing). */
export function runtimeLogErrors(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return [];
  }
  const errors: string[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const j = JSON.parse(line) as { level?: string; msg?: string };
      if ((j.level === "error" || j.level === "fatal") && j.msg) errors.push(j.msg);
    } catch {}
  }
  return errors;
}

/** The host's signals by name (Node's table: SIGABRT before its alias SIGIOT, SIGIO before SIGPOLL). */
const SIGNALS: Readonly<Record<string, number>> = constants.signals;

export function signalNumber(sig: string): number {
  return SIGNALS[sig] ?? 0;
}

/**
 * A signal as Docker's `--signal`/`StopSignal` accept it: `TERM`, `SIGTERM`, `sigterm` or `15`. Returns the
 * canonical `SIGNAME`; throws E_USAGE otherwise.
 */
export function parseSignal(input: string, what = "signal"): string {
  const s = input.trim().toUpperCase();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    const name = Object.keys(SIGNALS).find((k) => SIGNALS[k] === n);
    if (name) return name;
    if (n >= 34 && n <= 64) return String(n); // real-time signals: the runtime takes the number
  } else {
    const name = s.startsWith("SIG") ? s : `SIG${s}`;
    if (Object.hasOwn(SIGNALS, name)) return name;
  }
  throw new OslessError("E_USAGE", `invalid ${what} "${input}"`, {
    hint: "use a name such as TERM, SIGKILL or HUP, or a number from 1 to 64",
  });
}
