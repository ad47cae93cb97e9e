/**
 * Linux capabilities the way `docker run` sets them (moby `caps.TweakCapabilities`): Docker's 14 defaults,
 * `--cap-add` / `--cap-drop` with or without the `CAP_` prefix, any case, and `ALL`. The result is the bounding,
 * permitted and effective set alike; inheritable and ambient stay empty (GHSA-2mm7-x5h6-5pvq).
 */
import { readFileSync } from "node:fs";
import { OslessError } from "../errors.ts";

/** Every capability Linux defines, by number (include/uapi/linux/capability.h, up to Linux 6.x). */
export const ALL_CAPABILITIES: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
];

/** Docker's (and containerd's) default set, in moby's order. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

/** The capability's bit number, or undefined for an unknown name. */
export function capabilityNumber(name: string): number | undefined {
  const i = ALL_CAPABILITIES.indexOf(name);
  return i < 0 ? undefined : i;
}

/** The mask `/proc/PID/status` shows for a set (CapEff etc.), as 16 hex digits. */
export function capabilityMask(names: Iterable<string>): string {
  let mask = 0n;
  for (const n of names) {
    const bit = capabilityNumber(n);
    if (bit === undefined) throw new OslessError("E_USAGE", `unknown capability: "${n}"`);
    mask |= 1n << BigInt(bit);
  }
  return mask.toString(16).padStart(16, "0");
}

/** The highest capability the running kernel knows (/proc/sys/kernel/cap_last_cap), or the last one we know. */
export function hostLastCap(): number {
  try {
    const n = Number.parseInt(readFileSync("/proc/sys/kernel/cap_last_cap", "utf8").trim(), 10);
    if (Number.isInteger(n) && n >= 0) return Math.min(n, ALL_CAPABILITIES.length - 1);
  } catch {
    // not Linux, or /proc not mounted: assume every capability we know
  }
  return ALL_CAPABILITIES.length - 1;
}

/** `chown`, `cap_chown`, `CAP_CHOWN` -> `CAP_CHOWN`; `all` -> `ALL`. Unknown names are E_USAGE. */
export function normalizeCapability(name: string, flag: string): string {
  const up = name.trim().toUpperCase();
  if (up === "ALL") return "ALL";
  const full = up.startsWith("CAP_") ? up : `CAP_${up}`;
  if (capabilityNumber(full) === undefined) {
    throw new OslessError("E_USAGE", `unknown capability: "${full}" (${flag} ${name})`, {
      hint: "capabilities are named as in capabilities(7), with or without CAP_ (NET_ADMIN, cap_sys_ptrace), or ALL",
      details: { capability: name },
    });
  }
  return full;
}

/**
 * The container's capability set from Docker's defaults and `--cap-add` / `--cap-drop` (moby's rules: `--cap-add
 * ALL` gives every capability the kernel knows except the dropped ones; `--cap-drop ALL` keeps only the added ones;
 * otherwise the defaults minus the drops plus the adds). Sorted by capability number, no repeats.
 */
export function tweakCapabilities(
  add: readonly string[] = [],
  drop: readonly string[] = [],
  lastCap: number = hostLastCap(),
): string[] {
  const adds = add.map((c) => normalizeCapability(c, "--cap-add"));
  const drops = drop.map((c) => normalizeCapability(c, "--cap-drop"));
  let caps: string[];
  if (adds.includes("ALL")) {
    caps = ALL_CAPABILITIES.slice(0, lastCap + 1).filter((c) => !drops.includes(c));
  } else if (drops.includes("ALL")) {
    caps = adds;
  } else {
    caps = [...DEFAULT_CAPABILITIES.filter((c) => !drops.includes(c)), ...adds];
  }
  return [...new Set(caps)].sort((a, b) => capabilityNumber(a)! - capabilityNumber(b)!);
}

/**
 * The capabilities this process may give away (its bounding set, from /proc/self/status): a container cannot get
 * more. Undefined when it cannot be read.
 */
export function hostBoundingSet(): Set<string> | undefined {
  let text: string;
  try {
    text = readFileSync("/proc/self/status", "utf8");
  } catch {
    return undefined;
  }
  const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(text)?.[1];
  if (hex === undefined) return undefined;
  const mask = BigInt(`0x${hex}`);
  return new Set(ALL_CAPABILITIES.filter((_, bit) => (mask >> BigInt(bit)) & 1n));
}
