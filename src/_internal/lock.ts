/**
 * Cross-process exclusive lock. Node has no flock(2), so a lock is a file created with O_EXCL holding the owner's
 * PID. A lock whose owner is no longer alive is stale and is taken over. Waiters poll with backoff.
 */

import { open, readFile, stat, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { OslessError } from "../errors.ts";
import { isErrno } from "./fs.ts";

export interface LockOptions {
  /** Give up after this long (default 120 s). */
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
}

export type Release = () => Promise<void>;

const HOST = hostname();

function ownerAlive(content: string): boolean {
  const [pidText, host] = content.trim().split(" ");
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false; // half-written or garbage: treat as stale
  if (host !== undefined && host !== HOST) return true; // another machine on a shared filesystem: cannot tell
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return isErrno(e, "EPERM");
  }
}

/** An empty lock file older than this is stale (its owner writes its PID right after creating it). */
const EMPTY_LOCK_STALE_MS = 10_000;

async function emptyTooLong(path: string): Promise<boolean> {
  const st = await stat(path).catch(() => undefined);
  return st !== undefined && st.size === 0 && Date.now() - st.mtimeMs > EMPTY_LOCK_STALE_MS;
}

/** Acquire the lock file at `path` (its directory must exist). Resolves to a release function. */
export async function acquireLock(path: string, opts: LockOptions = {}): Promise<Release> {
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  let delay = 5;
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      const fh = await open(path, "wx", 0o644);
      await fh.writeFile(`${process.pid} ${HOST}\n`);
      await fh.close();
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        await unlink(path).catch(() => {});
      };
    } catch (e) {
      if (!isErrno(e, "EEXIST")) throw e;
    }
    let content: string;
    try {
      content = await readFile(path, "utf8");
    } catch (e) {
      if (isErrno(e, "ENOENT")) continue; // released meanwhile
      throw e;
    }
    // An empty file may be a lock being written right now; one that stays empty was left by a process killed
    // between creating and writing it.
    if (content === "" ? await emptyTooLong(path) : !ownerAlive(content)) {
      // Stale: remove it, but only if it still holds what we judged (narrow window; the owner is dead anyway).
      const again = await readFile(path, "utf8").catch(() => undefined);
      if (again === content) await unlink(path).catch(() => {});
      continue;
    }
    if (Date.now() > deadline) {
      throw new OslessError("E_LOCKED", `${path} is locked by process ${content.trim() || "(starting)"}`, {
        hint: "another osless command is using the store; wait for it to finish, or remove the lock file if that process is gone",
      });
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 200);
  }
}

/** True while a live process holds the lock at `path`. */
export async function lockHeld(path: string): Promise<boolean> {
  try {
    const content = await readFile(path, "utf8");
    return content === "" ? !(await emptyTooLong(path)) : ownerAlive(content);
  } catch (e) {
    if (isErrno(e, "ENOENT")) return false;
    throw e;
  }
}

/** Run `fn` while holding the lock at `path`. */
export async function withLock<T>(path: string, fn: () => Promise<T>, opts?: LockOptions): Promise<T> {
  const release = await acquireLock(path, opts);
  try {
    return await fn();
  } finally {
    await release();
  }
}
