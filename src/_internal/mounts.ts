/**
 * Mounts under a directory, and taking them away before the directory is removed: a recursive removal crosses
 * mount points, and a root filesystem being built (debootstrap binds the host's /dev and mounts /proc in it) must
 * never lead it into the host's own files.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, realpathSync } from "node:fs";
import { OslessError } from "../errors.ts";
import { systemTool } from "./which.ts";

/**
 * Mount points at or under `dir` (deepest first), as /proc/self/mountinfo lists them (octal escapes decoded).
 * `dir` is resolved first (mountinfo names real paths: a symlinked TMPDIR would otherwise hide every mount), and
 * an unreadable mountinfo is an error, never "no mounts".
 */
export function mountsUnder(dir: string): string[] {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  let info: string;
  try {
    info = readFileSync("/proc/self/mountinfo", "utf8");
  } catch (e) {
    throw new OslessError("E_IO", `cannot read /proc/self/mountinfo to find the mounts under ${dir}`, {
      hint: "mount /proc; nothing under the directory is removed without knowing its mounts",
      cause: e,
    });
  }
  dir = real;
  return info
    .split("\n")
    .map((l) =>
      l.split(" ")[4]?.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8))),
    )
    .filter((m): m is string => !!m && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
}

/** Detach every mount under `dir` (umount -l, deepest first); E_IO when one stays. */
export function unmountUnder(dir: string): void {
  let failure: unknown;
  for (const m of mountsUnder(dir)) {
    try {
      execFileSync(systemTool("umount"), ["-l", m], { stdio: ["ignore", "ignore", "pipe"] });
    } catch (e) {
      failure ??= e; // checked below
    }
  }
  const left = mountsUnder(dir);
  if (left.length > 0) {
    throw new OslessError("E_IO", `${left[0]} is still mounted: ${dir} is not removed`, {
      hint: `unmount it (umount -l ${left[0]}), then remove ${dir}`,
      cause: failure,
      details: { mounts: left },
    });
  }
}
