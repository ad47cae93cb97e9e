/**
 * Contracts between the runtime's modules: what a container's root filesystem looks like to code that must read
 * it before the runtime starts (user and working-directory resolution, the entrypoint check), and the options of
 * `osless run` as the library takes them.
 */

/** What a path in a container's root filesystem is, without following its last component. */
export interface RootStat {
  type: "file" | "dir" | "symlink" | "char" | "block" | "fifo" | "socket";
  /** Permission bits and setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
}

/**
 * A container's root filesystem read from the host before the container exists: a plain directory (the copy
 * fallback) or the union of overlay lower directories (top first) that the runtime will mount. Paths are
 * absolute inside the container and resolved with chroot semantics: `..` never leaves the root and every symlink
 * but the last component's is followed inside it (`follow: true` follows the last one as well).
 */
export interface RootReader {
  /** What the path is, or undefined when it does not exist (or a parent is not a directory). */
  stat(path: string, opts?: { follow?: boolean }): RootStat | undefined;
  /** The path's contents (symlinks followed), or undefined when it is missing or not a regular file. */
  readFile(path: string, maxBytes?: number): Buffer | undefined;
  /** The path with every symlink resolved inside the root, or undefined when some component is missing. */
  resolve(path: string): string | undefined;
}

/** `osless run` flags as the library takes them (strings still unparsed where Docker's syntax is rich). */
export interface RunOptions {
  /** `--entrypoint`: replaces the image's Entrypoint; "" clears it (then Cmd/args alone run). */
  entrypoint?: string | undefined;
  /** The arguments after the image: replace the image's Cmd. */
  args?: string[] | undefined;
  /** `-e K=V` or `-e K` (taken from `hostEnv`), in order; later wins. */
  env?: string[] | undefined;
  /** Contents of each `--env-file`, in order, applied before `env`. */
  envFiles?: { path: string; text: string }[] | undefined;
  /** The environment `-e K` reads from (default: none). */
  hostEnv?: Record<string, string | undefined> | undefined;
  /** `-w`: the working directory (absolute). */
  workdir?: string | undefined;
  /** `-u user[:group]`, names or numbers. */
  user?: string | undefined;
  hostname?: string | undefined;
  /** `-v SRC:DST[:OPTS]` specs, unparsed. */
  volumes?: string[] | undefined;
  /** `--tmpfs DST[:OPTS]` specs, unparsed. */
  tmpfs?: string[] | undefined;
  /** `--memory` in bytes. */
  memory?: number | undefined;
  /** `--cpus` (fractional CPUs). */
  cpus?: number | undefined;
  /** `--pids-limit` (-1 or 0: unlimited, as Docker). */
  pidsLimit?: number | undefined;
  capAdd?: string[] | undefined;
  capDrop?: string[] | undefined;
  /** `--security-opt` values: `seccomp=FILE|unconfined`, `no-new-privileges[:true|false]`. */
  securityOpt?: string[] | undefined;
  /** The contents of the seccomp profile file named by `--security-opt seccomp=FILE` (read by the caller). */
  seccompProfile?: { path: string; text: string } | undefined;
  readOnly?: boolean | undefined;
  /** Default "none": there is no container networking yet. */
  network?: "none" | "host" | undefined;
  /** `-t`: a terminal. */
  tty?: boolean | undefined;
  /** `--cgroup-parent`: the cgroup under which the container's own is made (default /osless). */
  cgroupParent?: string | undefined;
  /** `--shm-size` in bytes (default 64 MiB). */
  shmSize?: number | undefined;
}
