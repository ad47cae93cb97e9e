/**
 * glibc's /etc/ld.so.cache, read as ld.so reads it (glibc elf/dl-cache.c, sysdeps/generic/dl-cache.h): the new
 * format `glibc-ld.so.cache1.1` (alone, as glibc >= 2.32 writes it, or after an old `ld.so-1.7.0` table), whose
 * entries map a library name (the SONAME ldconfig saw) to a path, tagged with the ABI it is built for. Never
 * throws on a hostile file: what cannot be read is a finding.
 */

const NEW_MAGIC = "glibc-ld.so.cache1.1";
const OLD_MAGIC = "ld.so-1.7.0";
const NEW_HEADER = 48;
const NEW_ENTRY = 24;
const OLD_HEADER = 16;
const OLD_ENTRY = 12;

/** The ABI bits of an entry's flags (dl-cache.h): low byte the type, next byte the architecture. */
export const CacheFlags = {
  TYPE_MASK: 0x00ff,
  ELF_LIBC6: 0x0003,
  ARCH_MASK: 0xff00,
  SPARC_LIB64: 0x0100,
  IA64_LIB64: 0x0200,
  X8664_LIB64: 0x0300,
  S390_LIB64: 0x0400,
  POWERPC_LIB64: 0x0500,
  MIPS64_LIBN32: 0x0600,
  MIPS64_LIBN64: 0x0700,
  X8664_LIBX32: 0x0800,
  ARM_LIBHF: 0x0900,
  AARCH64_LIB64: 0x0a00,
  ARM_LIBSF: 0x0b00,
  MIPS_LIB32_NAN2008: 0x0c00,
  MIPS64_LIBN32_NAN2008: 0x0d00,
  MIPS64_LIBN64_NAN2008: 0x0e00,
  RISCV_FLOAT_ABI_SOFT: 0x0f00,
  RISCV_FLOAT_ABI_DOUBLE: 0x1000,
  LARCH_FLOAT_ABI_SOFT: 0x1100,
  LARCH_FLOAT_ABI_DOUBLE: 0x1200,
} as const;

export interface CacheEntry {
  /** The library name ld.so looks up (a SONAME, e.g. "libc.so.6"). */
  name: string;
  /** Where it is, e.g. "/lib/x86_64-linux-gnu/libc.so.6". */
  path: string;
  flags: number;
  hwcap: bigint;
}

export interface LdCache {
  format: "new" | "old";
  entries: CacheEntry[];
  findings: { code: string; message: string }[];
}

function cstring(buf: Buffer, at: number): string | undefined {
  if (at < 0 || at >= buf.length) return undefined;
  const end = buf.indexOf(0, at);
  if (end < 0) return undefined;
  return buf.toString("utf8", at, end);
}

/** Parse an ld.so.cache file; undefined when it is neither format. */
export function parseLdCache(buf: Buffer): LdCache | undefined {
  const findings: LdCache["findings"] = [];
  let newAt = -1;
  let oldEntries: CacheEntry[] = [];
  if (buf.length >= NEW_MAGIC.length && buf.toString("latin1", 0, NEW_MAGIC.length) === NEW_MAGIC) {
    newAt = 0;
  } else if (buf.length >= OLD_HEADER && buf.toString("latin1", 0, OLD_MAGIC.length) === OLD_MAGIC) {
    const n = buf.readUInt32LE(12);
    const end = OLD_HEADER + n * OLD_ENTRY;
    if (end > buf.length) {
      findings.push({
        code: "LDCACHE_TRUNCATED",
        message: `old-format table of ${n} entries runs past the end of the file`,
      });
      return { format: "old", entries: [], findings };
    }
    // The new table, if any, follows at the next 8-byte boundary; old string offsets are from its start (or the
    // end of the old table when there is none).
    const aligned = (end + 7) & ~7;
    if (
      aligned + NEW_MAGIC.length <= buf.length &&
      buf.toString("latin1", aligned, aligned + NEW_MAGIC.length) === NEW_MAGIC
    ) {
      newAt = aligned;
    } else {
      const strings = end;
      for (let i = 0; i < n; i++) {
        const at = OLD_HEADER + i * OLD_ENTRY;
        const name = cstring(buf, strings + buf.readUInt32LE(at + 4));
        const path = cstring(buf, strings + buf.readUInt32LE(at + 8));
        if (name === undefined || path === undefined) continue;
        oldEntries.push({ name, path, flags: buf.readInt32LE(at), hwcap: 0n });
      }
      return { format: "old", entries: oldEntries, findings };
    }
    oldEntries = [];
  } else {
    return undefined;
  }
  if (newAt + NEW_HEADER > buf.length) {
    findings.push({ code: "LDCACHE_TRUNCATED", message: "the cache header is cut short" });
    return { format: "new", entries: [], findings };
  }
  const n = buf.readUInt32LE(newAt + 20);
  const tableEnd = newAt + NEW_HEADER + n * NEW_ENTRY;
  if (n > (buf.length - newAt) / NEW_ENTRY || tableEnd > buf.length) {
    findings.push({
      code: "LDCACHE_TRUNCATED",
      message: `the table of ${n} entries runs past the end of the file`,
    });
    return { format: "new", entries: [], findings };
  }
  const entries: CacheEntry[] = [];
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const at = newAt + NEW_HEADER + i * NEW_ENTRY;
    // String offsets count from the start of the new-format header.
    const name = cstring(buf, newAt + buf.readUInt32LE(at + 4));
    const path = cstring(buf, newAt + buf.readUInt32LE(at + 8));
    if (name === undefined || path === undefined) {
      bad++;
      continue;
    }
    entries.push({ name, path, flags: buf.readInt32LE(at), hwcap: buf.readBigUInt64LE(at + 16) });
  }
  if (bad > 0) findings.push({ code: "LDCACHE_BAD_ENTRY", message: `${bad} entries point outside the file` });
  return { format: "new", entries, findings };
}

/** The cache architecture flag that matches an ELF object's class and e_machine (0: plain 32-bit libc6). */
export function cacheArchFor(
  elfClass: 32 | 64,
  machine: number,
  opts: { armHardFloat?: boolean } = {},
): number {
  if (elfClass === 64) {
    switch (machine) {
      case 62:
        return CacheFlags.X8664_LIB64;
      case 183:
        return CacheFlags.AARCH64_LIB64;
      case 21:
        return CacheFlags.POWERPC_LIB64;
      case 22:
        return CacheFlags.S390_LIB64;
      case 243:
        return CacheFlags.RISCV_FLOAT_ABI_DOUBLE;
      case 258:
        return CacheFlags.LARCH_FLOAT_ABI_DOUBLE;
      case 2:
      case 43:
        return CacheFlags.SPARC_LIB64;
      default:
        return -1;
    }
  }
  if (machine === 62) return CacheFlags.X8664_LIBX32;
  if (machine === 40) return opts.armHardFloat === false ? CacheFlags.ARM_LIBSF : CacheFlags.ARM_LIBHF;
  return 0;
}

/** The paths the cache gives for `name` for objects of that ABI, in cache order (ld.so takes the first). */
export function lookupCache(cache: LdCache, name: string, arch: number): string[] {
  return cache.entries
    .filter(
      (e) =>
        e.name === name &&
        (e.flags & CacheFlags.TYPE_MASK) === CacheFlags.ELF_LIBC6 &&
        (arch < 0 || (e.flags & CacheFlags.ARCH_MASK) === arch),
    )
    .map((e) => e.path);
}
