/**
 * How analysis reads an image's files: the squashed view of a stored or remote image, or a root filesystem on
 * the host (`dir:PATH`). Paths are image paths ("/etc/os-release" or "etc/os-release"); symlinks are followed
 * inside the image root with chroot semantics (absolute targets start at the image root, ".." stops there,
 * loops end the lookup). Nothing from the image is ever executed.
 */

import { kindOf } from "../layer/diff-fs.ts";

export interface ImageFileInfo {
  /** The path the lookup ended at, in-root, symlinks resolved, without a leading "/" ("." is the root). */
  path: string;
  type: "file" | "directory" | "symlink" | "hardlink" | "char" | "block" | "fifo" | "other";
  /** Permission bits, setuid/setgid/sticky included (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of a regular file, 0 otherwise. */
  size: number;
  /** Files with the same `ino` are hard links of one another. */
  ino: number;
}

/** An entry of `walk()`: lstat-style (symlinks not followed), with the link target of a symlink. */
export interface ImageWalkEntry extends ImageFileInfo {
  linkTarget?: string | undefined;
}

export interface ImageFiles {
  /**
   * The regular file `path` leads to (symlinks followed): its first `maxBytes` bytes (all of it when smaller),
   * or undefined when the path does not exist, dangles, loops, or is not a regular file.
   */
  read(path: string, maxBytes: number): Promise<Buffer | undefined>;
  /** What `path` leads to (symlinks followed), or undefined. */
  stat(path: string): Promise<ImageFileInfo | undefined>;
  /** What is at exactly `path` (the last component not followed), or undefined. */
  lstat(path: string): Promise<ImageFileInfo | undefined>;
  /** The target of the symlink at exactly `path`, verbatim, or undefined when it is not a symlink. */
  readlink(path: string): Promise<string | undefined>;
  /** Names in the directory `path` leads to, sorted; [] when it is not a directory. */
  list(path: string): Promise<string[]>;
  /** Every path of the image except the root, each directory before what it holds; symlinks not followed. */
  walk(): AsyncIterable<ImageWalkEntry>;
  /**
   * What `parse` made of the whole regular file `path` leads to, when it ran while the image was read in one
   * pass (see analysisPass); undefined when it did not: read the file and parse it then.
   */
  parsed?<T>(path: string, parse: (bytes: Buffer) => T): { value: T } | undefined;
}

/** The type of an lstat result, as ImageFileInfo names it (layer/diff-fs.ts kindOf; a socket is "other"). */
export function fileType(st: import("node:fs").Stats | import("node:fs").BigIntStats): ImageFileInfo["type"] {
  const k = kindOf(st);
  return k === "socket" ? "other" : k;
}

/** ImageFileInfo from a host lstat of what `path` (in-root, no leading "/") is. */
export function fileInfo(path: string, st: import("node:fs").Stats): ImageFileInfo {
  return {
    path,
    type: fileType(st),
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    size: st.isFile() ? st.size : 0,
    ino: st.ino,
  };
}
