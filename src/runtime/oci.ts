/**
 * The subset of the OCI runtime spec's `config.json` (runtime-spec 1.0.2, config.md and config-linux.md) that osless
 * writes for runc and crun. Field names are the spec's; optional fields are left out rather than set to null.
 * `linux.seccomp` is the seccomp module's type (src/runtime/seccomp.ts makes those blocks).
 */
import type { LinuxSeccomp } from "./seccomp.ts";

export type { LinuxSeccomp };

/** The version written into `ociVersion` (runc 1.1 and crun 1.8 accept 1.0.x). */
export const OCI_VERSION = "1.0.2";

export interface Spec {
  ociVersion: string;
  root: Root;
  mounts: Mount[];
  process: Process;
  hostname?: string;
  annotations?: Record<string, string>;
  linux: Linux;
}

export interface Root {
  /** Relative to the bundle or absolute. */
  path: string;
  readonly?: boolean;
}

export interface Mount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface User {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
}

export interface Capabilities {
  bounding: string[];
  effective: string[];
  inheritable: string[];
  permitted: string[];
  ambient: string[];
}

export interface Rlimit {
  /** RLIMIT_NOFILE and the like. */
  type: string;
  soft: number;
  hard: number;
}

export interface Process {
  terminal?: boolean;
  user: User;
  args: string[];
  env: string[];
  cwd: string;
  capabilities: Capabilities;
  rlimits?: Rlimit[];
  noNewPrivileges?: boolean;
}

export type NamespaceType = "pid" | "network" | "mount" | "ipc" | "uts" | "user" | "cgroup";

export interface Namespace {
  type: NamespaceType;
  path?: string;
}

export interface DeviceCgroup {
  allow: boolean;
  type?: "a" | "b" | "c";
  major?: number;
  minor?: number;
  access?: string;
}

export interface Resources {
  devices?: DeviceCgroup[];
  memory?: { limit?: number; reservation?: number; swap?: number };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string };
  pids?: { limit: number };
}

export interface Linux {
  namespaces: Namespace[];
  resources?: Resources;
  cgroupsPath?: string;
  seccomp?: LinuxSeccomp;
  maskedPaths?: string[];
  readonlyPaths?: string[];
}
