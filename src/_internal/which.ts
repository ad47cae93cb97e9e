/** Finding a program the way a shell does (PATH), plus directories a caller names for system tools. */
import { statSync } from "node:fs";
import { delimiter, join } from "node:path";

/** Where Debian puts system tools: searched after PATH for the ones osless runs itself (sync, mknod, unshare). */
export const SYSTEM_DIRS: readonly string[] = [
  "/usr/local/sbin",
  "/usr/local/bin",
  "/usr/sbin",
  "/usr/bin",
  "/sbin",
  "/bin",
];

/**
 * The executable file `cmd` in PATH (the usual directories when PATH is unset or empty), then in `extra`; undefined
 * when there is none.
 */
export function which(
  cmd: string,
  opts: { env?: NodeJS.ProcessEnv | undefined; extra?: readonly string[] | undefined } = {},
): string | undefined {
  const path = (opts.env ?? process.env).PATH || SYSTEM_DIRS.join(delimiter);
  for (const d of [...path.split(delimiter), ...(opts.extra ?? [])]) {
    if (!d) continue;
    const p = join(d, cmd);
    try {
      const st = statSync(p);
      if (st.isFile() && st.mode & 0o111) return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A system tool osless runs itself: PATH, then SYSTEM_DIRS; the bare name when it is nowhere (the error says so). */
export function systemTool(cmd: string): string {
  return which(cmd, { extra: SYSTEM_DIRS }) ?? cmd;
}
