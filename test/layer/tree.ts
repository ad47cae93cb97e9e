// A directory tree as comparable text: for tests that check two trees (an applied layer stack and the kernel's
// overlay of the same layers, a copy and a mount) show the same paths with the same metadata and contents.
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { digestOf } from "../../src/digest/index.ts";

/**
 * Every path below `root` (lstat, nothing followed) mapped to its type (a device with its number), mode, owner,
 * symlink target and the sha256 of a file's contents. Times are left out: the trees compared are made at
 * different moments. The root itself is listed as "/" with `withRoot`.
 */
export function treeListing(root: string, opts: { withRoot?: boolean } = {}): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    const host = rel === "" ? root : join(root, rel);
    const st = lstatSync(host);
    const type = st.isDirectory()
      ? "dir"
      : st.isSymbolicLink()
        ? "symlink"
        : st.isFile()
          ? "file"
          : st.isCharacterDevice()
            ? `char ${st.rdev}`
            : st.isFIFO()
              ? "fifo"
              : "other";
    let what = `${type} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
    if (st.isSymbolicLink()) what += ` -> ${readlinkSync(host)}`;
    if (st.isFile()) what += ` ${digestOf(readFileSync(host))}`;
    if (rel !== "") out.set(rel, what);
    else if (opts.withRoot) out.set("/", what);
    if (st.isDirectory()) for (const n of readdirSync(host).sort()) walk(rel === "" ? n : `${rel}/${n}`);
  };
  walk("");
  return out;
}
