/**
 * Docker credential helpers (the docker-credential-helpers protocol): the program `docker-credential-<name>` is run
 * with one argument, `get`, `store` or `erase`, and the request on stdin:
 *
 *   get    stdin: server URL                              stdout: {"ServerURL","Username","Secret"}
 *   store  stdin: {"ServerURL","Username","Secret"}       stdout: nothing
 *   erase  stdin: server URL                              stdout: nothing
 *
 * A helper reports a missing entry by exiting non-zero with "credentials not found in native keychain" (on stdout,
 * where helpers write their errors). Secrets only travel on stdin and stdout; they never reach an error message.
 */
import { spawn } from "node:child_process";
import { OslessError } from "../errors.ts";

export type HelperAction = "get" | "store" | "erase";

export interface HelperRunOptions {
  env: NodeJS.ProcessEnv;
  /** Kill the helper after this long (default 30 s). */
  timeoutMs?: number | undefined;
  /** Where the helper was named, for messages ("credsStore in /root/.docker/config.json"). */
  origin?: string | undefined;
}

export interface HelperResult {
  /** Exit status; null when the helper was ended by a signal. */
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export const HELPER_TIMEOUT_MS = 30_000;
/** A helper's answer is a few hundred bytes; anything past this is not a helper talking. */
const MAX_OUTPUT = 1024 * 1024;
/** How much of a failing helper's output goes into an error message. */
const MAX_MESSAGE_OUTPUT = 1000;
const PREFIX = "docker-credential-";

/** The program that implements helper `name` ("pass" -> "docker-credential-pass"). */
export function helperProgram(name: string): string {
  return PREFIX + name;
}

/**
 * A helper name becomes part of a program name looked up on PATH: it must not be a path (a "/" would run a file
 * relative to the working directory) nor contain control characters.
 */
export function checkHelperName(name: string, origin: string): void {
  if (name === "" || name === "." || name === ".." || name.includes("/") || /[\x00-\x20\x7f]/.test(name)) {
    throw new OslessError(
      "E_JSON_INVALID",
      `credential helper name ${JSON.stringify(name)} in ${origin} is not valid`,
      {
        hint: 'a helper is named without the "docker-credential-" prefix and without a path, e.g. "pass" or "secretservice"',
      },
    );
  }
}

/** True when a helper's output says it has no entry for the server (docker-credential-helpers' message). */
export function isCredentialsNotFound(output: string): boolean {
  return output.toLowerCase().includes("credentials not found");
}

/**
 * Run `docker-credential-<name> <action>` without a shell, looking the program up on `opts.env.PATH`, with `input`
 * on stdin. Resolves with the exit status and output whatever the status; rejects when the program is missing
 * (E_NOT_FOUND), cannot be run, talks too much, or outlives the timeout (E_IO).
 */
export function runCredentialHelper(
  name: string,
  action: HelperAction,
  input: string,
  opts: HelperRunOptions,
): Promise<HelperResult> {
  const program = helperProgram(name);
  const origin = opts.origin ?? "the docker config";
  const timeoutMs = opts.timeoutMs ?? HELPER_TIMEOUT_MS;
  return new Promise<HelperResult>((resolve, reject) => {
    const child = spawn(program, [action], { env: opts.env, stdio: ["pipe", "pipe", "pipe"], shell: false });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (err: OslessError | undefined, result?: HelperResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err !== undefined) {
        // Do not wait for the pipes: a grandchild (gpg-agent, a `sleep` under a shell) may hold them open.
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
        child.stdout?.destroy();
        child.stderr?.destroy();
        child.stdin?.destroy();
        reject(err);
      } else resolve(result as HelperResult);
    };
    const timer = setTimeout(() => {
      finish(
        new OslessError(
          "E_IO",
          `credential helper ${program} ${action} did not answer within ${timeoutMs / 1000} s`,
          {
            hint: `check that ${program} works on its own (a locked keyring or a pinentry prompt can make it wait); it is named by ${origin}`,
          },
        ),
      );
    }, timeoutMs);
    timer.unref?.();
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_OUTPUT) {
        finish(
          new OslessError(
            "E_IO",
            `credential helper ${program} ${action} wrote more than ${MAX_OUTPUT} bytes`,
            {
              hint: `check that ${program} is a docker credential helper; it is named by ${origin}`,
            },
          ),
        );
        return;
      }
      into.push(chunk);
    };
    child.stdout.on("data", collect(stdout));
    child.stderr.on("data", collect(stderr));
    child.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") {
        finish(
          new OslessError(
            "E_NOT_FOUND",
            `credential helper ${program} is not installed (named by ${origin})`,
            {
              hint: `install ${program} somewhere on PATH, or remove the helper from ${origin}`,
              details: { program },
              cause: e,
            },
          ),
        );
      } else {
        finish(
          new OslessError("E_IO", `cannot run credential helper ${program}: ${e.code ?? e.message}`, {
            hint: `check that ${program} on PATH is an executable file; it is named by ${origin}`,
            details: { program },
            cause: e,
          }),
        );
      }
    });
    child.on("close", (status, signal) => {
      finish(undefined, {
        status,
        signal,
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8"),
      });
    });
    // A helper may exit without reading its input (e.g. a usage error): that EPIPE is not our failure.
    child.stdin.on("error", () => {});
    child.stdin.end(input);
  });
}

/**
 * The error for a helper that exited unsuccessfully. Only call it with output that cannot hold a secret: a failed
 * helper writes its error message, never credentials.
 */
export function helperFailure(
  name: string,
  action: HelperAction,
  result: HelperResult,
  origin: string,
): OslessError {
  const program = helperProgram(name);
  const how =
    result.signal !== null ? `was killed by ${result.signal}` : `exited with status ${result.status}`;
  const said = printable(
    [result.stderr, result.stdout]
      .map((s) => s.trim())
      .filter((s) => s !== "")
      .join("; "),
  );
  return new OslessError(
    "E_IO",
    `credential helper ${program} ${action} ${how}${said === "" ? "" : `: ${said}`}`,
    {
      hint: `check that ${program} works on its own (its keyring or agent may be locked); it is named by ${origin}`,
      details: { program, action, status: result.status },
    },
  );
}

function printable(s: string): string {
  const clipped = s.length > MAX_MESSAGE_OUTPUT ? `${s.slice(0, MAX_MESSAGE_OUTPUT)}…` : s;
  return clipped.replace(/[\x00-\x1f\x7f]/g, (c) =>
    c === "\n" ? " " : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}
