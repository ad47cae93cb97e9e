/**
 * Extended attributes. Node 20 has no xattr API, so osless uses the optional native addon @napi-rs/xattr
 * (prebuilt N-API binaries, no compiler needed at install, maintained, and it calls the l*xattr variants, so
 * a symlink's own attributes are read and written, never its target's). Spawning setfattr per file would cost
 * a process per entry and still need an escaping scheme for binary values. When the addon cannot be loaded,
 * `xattrSupport()` is false and callers record and warn instead of applying.
 */
import { createRequire } from "node:module";

interface XattrAddon {
  getAttributeSync(path: string, name: string): Buffer | null;
  setAttributeSync(path: string, name: string, value: Uint8Array | string): void;
  listAttributesSync(path: string): string[];
}

let addon: XattrAddon | null | undefined;

/**
 * The package's own loader probes the C library (it reads /usr/bin/ldd) before it picks its prebuilt binary: ~5 ms
 * on every command that reads an attribute. On glibc Linux the binary's package is tried by name first; anything
 * else (musl, another OS, a binary that does not load) goes through the package's loader.
 */
function loadAddon(): XattrAddon {
  const require = createRequire(import.meta.url);
  if (process.platform === "linux") {
    try {
      return require(`@napi-rs/xattr-linux-${process.arch}-gnu`) as XattrAddon;
    } catch {
      // Not installed here, or not a glibc system: the package decides.
    }
  }
  return require("@napi-rs/xattr") as XattrAddon;
}

function load(): XattrAddon | null {
  if (addon === undefined) {
    try {
      addon = loadAddon();
    } catch {
      addon = null;
    }
  }
  return addon;
}

export function xattrSupport(): boolean {
  return load() !== null;
}

/** An error from the addon, with the errno code (ENOTSUP, EPERM, ...) recovered from its message. */
export class XattrError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

const ERRNO: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  13: "EACCES",
  22: "EINVAL",
  28: "ENOSPC",
  61: "ENODATA",
  95: "ENOTSUP",
  7: "E2BIG",
  34: "ERANGE",
};

function wrap(e: unknown, op: string, path: string, name?: string): XattrError {
  const msg = e instanceof Error ? e.message : String(e);
  const m = /os error (\d+)/.exec(msg);
  const code = m ? (ERRNO[Number(m[1])] ?? `errno ${m[1]}`) : "EIO";
  return new XattrError(code, `${op} ${name ?? ""} on ${path}: ${msg}`);
}

function need(): XattrAddon {
  const a = load();
  if (!a) throw new XattrError("ENOSYS", "extended attributes need the optional package @napi-rs/xattr");
  return a;
}

/** Set `name` on `path` itself (a symlink is not followed). */
export function setXattr(path: string, name: string, value: Uint8Array): void {
  const a = need();
  try {
    a.setAttributeSync(path, name, value);
  } catch (e) {
    throw wrap(e, "setxattr", path, name);
  }
}

/** The value of `name` on `path` itself, or undefined when absent. */
export function getXattr(path: string, name: string): Buffer | undefined {
  const a = need();
  try {
    return a.getAttributeSync(path, name) ?? undefined;
  } catch (e) {
    throw wrap(e, "getxattr", path, name);
  }
}

/** Names of the attributes of `path` itself. */
export function listXattrs(path: string): string[] {
  const a = need();
  try {
    return a.listAttributesSync(path);
  } catch (e) {
    throw wrap(e, "listxattr", path);
  }
}
