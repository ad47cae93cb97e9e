/**
 * Our own ELF reader: what analysis needs to know about a program or library without running it — class,
 * byte order, machine, type, the program loader (PT_INTERP), the dynamic section (DT_NEEDED in order, DT_SONAME,
 * DT_RPATH / DT_RUNPATH, DT_FLAGS_1), the linkage word file(1) would print, Go build information and Rust markers.
 *
 * Why our own: npm's `elfy` (the usual pick) decodes the ELF header, program headers and sections but not the
 * dynamic section, so DT_NEEDED, RUNPATH, SONAME and the PIE flag would still be ours to decode; the rest is a few
 * fixed-layout tables. No dependency is needed, and a reader written for hostile input is easier to keep total
 * (every offset checked, nothing thrown) than one written for trusted files.
 *
 * Rules (os-detection.md "ELF reading"): program headers, not sections, carry what the kernel and ld.so use
 * (sections can be stripped); DT_STRTAB is a virtual address, mapped to a file offset through the PT_LOAD
 * segment that contains it (the `.dynstr` section is the fallback when no segment maps it); dynamic entries are
 * read up to DT_NULL, as ld.so reads them. Sections are only used for Go build info and Rust markers.
 *
 * Linkage, libmagic's rule (file/file src/readelf.c `dophn_exec`, for ET_EXEC and ET_DYN only):
 *   - no PT_DYNAMIC program header → "statically linked" → `static`;
 *   - PT_DYNAMIC, DF_1_PIE set in DT_FLAGS_1, and `need` = (number of PT_INTERP headers + number of DT_NEEDED
 *     entries) is 0 → "static-pie linked" → `static-pie`;
 *   - otherwise "dynamically linked" → `dynamic`, except that an ET_DYN object without DF_1_PIE is what file(1)
 *     calls a "shared object" (its type word comes from the same flag: `${x?pie executable:shared object}` after
 *     dophn_exec set the mode bits from DF_1_PIE) → `shared-library`.
 *   libc.so.6 (ET_DYN, PT_INTERP, no DF_1_PIE) is therefore a shared library, as file(1) says, and so is a PIE
 *   made by a linker too old to set DF_1_PIE (its `interpreter` is still reported). A PIE with PT_INTERP but no
 *   DT_NEEDED (Go's internal-linker PIE) is dynamic. Relocatable objects and core files get no linkage.
 *   Two differences with libmagic, both only for hand-made files: libmagic reads on past DT_NULL (we stop there,
 *   as ld.so does) and reads only the first 8 KiB of PT_DYNAMIC (file 5.44; 2024 bytes in later versions).
 *
 * Rust markers (the first one found is reported in `rustMarker`):
 *   1. a section named `.rustc` (crate metadata of Rust dylibs and proc-macros);
 *   2. a `.comment` section containing "rustc version " (recent rustc writes its version there; distribution
 *      packages often strip `.comment`);
 *   3. a symbol name `__rust_*`, `rust_begin_unwind`, `rust_panic` or `rust_eh_personality` in a symbol string
 *      table (`.strtab`, `.dynstr`, or DT_STRTAB): std's allocator shims and panic runtime;
 *   4. in stripped programs, the source paths std's panic messages carry: `/rustc/<40 hex commit>/` (rustup
 *      toolchains) or `/rustc-<version>/library/` (Debian's rustc: `/usr/src/rustc-1.63.0/library/...`).
 *
 * Inputs are untrusted: every offset and count is checked against the bytes given, 64-bit values beyond 2^53
 * count as out of range, loops are bounded by the input size, and problems become `findings`, never exceptions.
 */
import { type GoBuildInfo, type GoImage, readGoBuildInfo } from "./go.ts";

export interface ElfFinding {
  code: string;
  message: string;
}

export type ElfLinkage = "static" | "static-pie" | "dynamic" | "shared-library";

export interface ElfInfo {
  /** EI_CLASS. 64 when that byte is invalid (ELF_BAD_CLASS; nothing past e_ident is decoded then). */
  class: 32 | 64;
  /** EI_DATA. "little" when that byte is invalid (ELF_BAD_ENDIAN; nothing past e_ident is decoded then). */
  endian: "little" | "big";
  /** e_machine by name: "x86_64", "aarch64", "arm", "i386", "riscv64", "ppc64le", "s390x", … or "unknown(N)". */
  machine: string;
  machineCode: number;
  type: "exec" | "dyn" | "rel" | "core" | "other";
  /** EI_OSABI (0 System V, 3 GNU/Linux, …). */
  osabi: number;
  /** e_flags (the ARM float ABI, RISC-V's float ABI and compressed instructions, MIPS ISA level, …). */
  flags: number;
  /** PT_INTERP: the program loader the kernel starts. */
  interpreter?: string;
  /** DT_NEEDED, in order. */
  needed: string[];
  soname?: string;
  /** DT_RPATH / DT_RUNPATH split on ":" verbatim ($ORIGIN kept, empty elements kept). */
  rpath: string[];
  runpath: string[];
  /** DF_1_PIE in DT_FLAGS_1. */
  pie: boolean;
  /** DF_1_NODEFLIB in DT_FLAGS_1: ld.so skips its cache and default directories for this object's needs. */
  nodeflib: boolean;
  /** libmagic's rule (see the module comment); absent for relocatable objects, core files and other types. */
  linkage?: ElfLinkage;
  /** From the Go build info blob (`.go.buildinfo`, Go ≥ 1.13). */
  go?: GoBuildInfo;
  /** Whether a Rust marker was seen (see the module comment). */
  rust: boolean;
  /** The marker that said so ("section .rustc", ".comment: rustc version 1.95.0 (…)", "symbol __rust_alloc", …). */
  rustMarker?: string;
  /**
   * True when something parseElf looked for lies past the bytes given but inside `opts.fileSize` (a prefix was
   * passed): no finding is made for it, and what it would have told (Go build info, Rust markers, or more) may
   * be missing.
   */
  partial: boolean;
  /**
   * Problems with the file, in the order met. Codes: ELF_TRUNCATED (a table or segment lies past the end of the
   * file), ELF_BAD_CLASS, ELF_BAD_ENDIAN, ELF_BAD_HEADER (entry sizes the kernel would refuse), ELF_BAD_OFFSET
   * (an offset or address that maps nowhere), ELF_BAD_INTERP, ELF_BAD_DYNAMIC, ELF_BAD_GO_BUILDINFO.
   */
  findings: ElfFinding[];
}

export interface ParseElfOptions {
  /**
   * The size of the whole file when `bytes` is only its first part: what lies between `bytes.length` and
   * `fileSize` is "not read" (ElfInfo.partial) rather than truncated. Default: `bytes` is the whole file.
   */
  fileSize?: number;
}

const ET = ["other", "rel", "exec", "dyn", "core"] as const;
const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const PN_XNUM = 0xffff;
const SHN_XINDEX = 0xffff;
const SHT_NOBITS = 8;
const PF_X = 1;
const PF_W = 2;
const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_STRTAB = 5;
const DT_STRSZ = 10;
const DT_SONAME = 14;
const DT_RPATH = 15;
const DT_RUNPATH = 29;
const DT_FLAGS_1 = 0x6ffffffb;
const DF_1_NODEFLIB = 0x800;
const DF_1_PIE = 0x08000000;
/** Longest name read from a string table (PATH_MAX). */
const MAX_STRING = 4096;
/** Findings kept per file: a hostile file must not make thousands. */
const MAX_FINDINGS = 32;
/** Longest section name read. */
const MAX_SECTION_NAME = 256;
/** Dynamic string entries (DT_NEEDED, …) read per file. */
const MAX_DYNAMIC_STRINGS = 4096;
/** Occurrences of "/rustc" examined when looking for std's source paths. */
const MAX_RUSTC_HITS = 4096;

/** e_machine names: the CPU word of GNU triplets / `uname -m`, refined by class and byte order where they differ. */
function machineName(code: number, is64: boolean, le: boolean): string {
  switch (code) {
    case 0:
      return "none";
    case 2:
    case 18:
      return "sparc";
    case 3:
      return "i386";
    case 4:
      return "m68k";
    case 8:
      return (is64 ? "mips64" : "mips") + (le ? "el" : "");
    case 15:
      return "hppa";
    case 20:
      return "ppc";
    case 21:
      return le ? "ppc64le" : "ppc64";
    case 22:
      return is64 ? "s390x" : "s390";
    case 40:
      return le ? "arm" : "armeb";
    case 42:
      return "sh4";
    case 43:
      return "sparc64";
    case 50:
      return "ia64";
    case 62:
      return is64 ? "x86_64" : "x32";
    case 92:
      return "or1k";
    case 94:
      return "xtensa";
    case 164:
      return "hexagon";
    case 183:
      return le ? "aarch64" : "aarch64_be";
    case 189:
      return "microblaze";
    case 243:
      return is64 ? "riscv64" : "riscv32";
    case 247:
      return "bpf";
    case 258:
      return is64 ? "loongarch64" : "loongarch32";
    case 0x9026:
      return "alpha";
    default:
      return `unknown(${code})`;
  }
}

interface Segment {
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  filesz: number;
}

interface Section {
  name: string;
  type: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
}

/** Bounds-checked reads over the bytes given, recording how far the parse wanted to read. */
class Reader {
  readonly b: Buffer;
  le = true;
  is64 = true;
  /** Size of the whole file: bytes past b.length but before it are "not read", past it "truncated". */
  readonly fileSize: number;
  /** The furthest end offset any read asked for. */
  wanted = 0;
  partial = false;
  readonly findings: ElfFinding[] = [];
  private readonly seen = new Set<string>();

  constructor(b: Buffer, fileSize: number) {
    this.b = b;
    this.fileSize = fileSize;
  }

  finding(code: string, message: string): void {
    const key = `${code}\0${message}`;
    if (this.seen.has(key) || this.findings.length >= MAX_FINDINGS) return;
    this.seen.add(key);
    this.findings.push({ code, message });
  }

  /** Whether [off, off+len) is inside the bytes; otherwise records why not (truncated, unread or impossible). */
  has(off: number, len: number, what: string): boolean {
    const end = off + len;
    if (!(off >= 0 && len >= 0 && Number.isSafeInteger(off) && Number.isSafeInteger(end))) {
      this.finding("ELF_BAD_OFFSET", `${what}: offset ${off} size ${len} is out of range`);
      return false;
    }
    if (end > this.wanted) this.wanted = end;
    if (end <= this.b.length) return true;
    if (end <= this.fileSize) {
      this.partial = true;
      return false;
    }
    this.finding(
      "ELF_TRUNCATED",
      `${what} at offset ${off} (${len} bytes) ends past the end of the file (${this.fileSize} bytes)`,
    );
    return false;
  }

  u16(o: number): number {
    return this.le ? this.b.readUInt16LE(o) : this.b.readUInt16BE(o);
  }
  u32(o: number): number {
    return this.le ? this.b.readUInt32LE(o) : this.b.readUInt32BE(o);
  }
  /** A 64-bit value as a number; values from 2^53 on lose precision, and `has` refuses them as offsets. */
  u64(o: number): number {
    const lo = this.le ? this.b.readUInt32LE(o) : this.b.readUInt32BE(o + 4);
    const hi = this.le ? this.b.readUInt32LE(o + 4) : this.b.readUInt32BE(o);
    return hi * 0x100000000 + lo;
  }
  /** The low 32 bits of a word (flags words keep their bits exact). */
  low32(o: number): number {
    return this.is64 && !this.le ? this.b.readUInt32BE(o + 4) : this.u32(o);
  }
  word(o: number): number {
    return this.is64 ? this.u64(o) : this.u32(o);
  }

  /** A NUL-terminated string at `off`, at most `max` bytes before the NUL; undefined (with a finding) if cut. */
  cstring(off: number, max: number, what: string): string | undefined {
    const limit = Math.min(max, MAX_STRING);
    if (!this.has(off, 1, what)) return undefined;
    const stop = Math.min(this.b.length, off + limit + 1);
    const nul = this.b.subarray(off, stop).indexOf(0);
    if (nul < 0) {
      if (stop < off + limit + 1) {
        this.has(off, limit + 1, what); // not all read (or truncated): records how far it would need to read
        return undefined;
      }
      this.finding(
        "ELF_BAD_DYNAMIC",
        `${what} at offset ${off} has no terminating NUL within ${limit} bytes`,
      );
      return undefined;
    }
    return this.b.toString("utf8", off, off + nul);
  }
}

interface Core {
  r: Reader;
  info: ElfInfo;
  segments: Segment[];
  shoff: number;
  shnum: number;
  shentsize: number;
  shstrndx: number;
  /** Section headers, once read. */
  sections?: Section[];
  /** File offset and size of the dynamic string table, when found. */
  dynstr?: { off: number; size: number };
  hasDynamic: boolean;
}

/** Maps a virtual address to a file offset through the PT_LOAD segment holding it (undefined when none does). */
function vaddrToOffset(segments: Segment[], addr: number): { off: number; avail: number } | undefined {
  if (!Number.isSafeInteger(addr)) return undefined;
  for (const s of segments) {
    if (s.type !== PT_LOAD) continue;
    if (addr >= s.vaddr && addr - s.vaddr < s.filesz) {
      const delta = addr - s.vaddr;
      return { off: s.offset + delta, avail: s.filesz - delta };
    }
  }
  return undefined;
}

function isElf(b: Buffer): boolean {
  return b.length >= 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;
}

/** Section 0's fields used for extended numbering (PN_XNUM, SHN_XINDEX, e_shnum 0). */
function section0(r: Reader, shoff: number, shentsize: number): { size: number; link: number; info: number } {
  const len = r.is64 ? 64 : 40;
  if (shoff === 0 || shentsize < len || !r.has(shoff, len, "section header 0")) {
    return { size: 0, link: 0, info: 0 };
  }
  return r.is64
    ? { size: r.u64(shoff + 32), link: r.u32(shoff + 40), info: r.u32(shoff + 44) }
    : { size: r.u32(shoff + 20), link: r.u32(shoff + 24), info: r.u32(shoff + 28) };
}

/** Header, program headers, PT_INTERP and the dynamic section: what elfBytesNeeded measures. */
function parseCore(bytes: Buffer, fileSize: number): Core {
  const r = new Reader(bytes, fileSize);
  const info: ElfInfo = {
    class: 64,
    endian: "little",
    machine: "none",
    machineCode: 0,
    type: "other",
    osabi: 0,
    flags: 0,
    needed: [],
    rpath: [],
    runpath: [],
    pie: false,
    nodeflib: false,
    rust: false,
    partial: false,
    findings: r.findings,
  };
  const core: Core = {
    r,
    info,
    segments: [],
    shoff: 0,
    shnum: 0,
    shentsize: 0,
    shstrndx: 0,
    hasDynamic: false,
  };
  if (!r.has(0, 16, "ELF identification")) return core;
  const cls = bytes[4];
  const data = bytes[5];
  info.osabi = bytes[7] ?? 0;
  if (cls !== 1 && cls !== 2) {
    r.finding("ELF_BAD_CLASS", `unknown ELF class ${cls} (1 is 32-bit, 2 is 64-bit)`);
    return core;
  }
  if (data !== 1 && data !== 2) {
    r.finding("ELF_BAD_ENDIAN", `unknown ELF data encoding ${data} (1 is little-endian, 2 big-endian)`);
    return core;
  }
  r.is64 = cls === 2;
  r.le = data === 1;
  info.class = r.is64 ? 64 : 32;
  info.endian = r.le ? "little" : "big";
  const ehsize = r.is64 ? 64 : 52;
  if (bytes.length >= 20) {
    // e_type and e_machine sit at the same place in both classes: known even when the rest is cut.
    const t = r.u16(16);
    info.type = ET[t] ?? "other";
    info.machineCode = r.u16(18);
    info.machine = machineName(info.machineCode, r.is64, r.le);
  }
  if (!r.has(0, ehsize, "ELF header")) return core;
  const phoff = r.word(r.is64 ? 32 : 28);
  core.shoff = r.word(r.is64 ? 40 : 32);
  info.flags = r.u32(r.is64 ? 48 : 36);
  const phentsize = r.u16(r.is64 ? 54 : 42);
  let phnum = r.u16(r.is64 ? 56 : 44);
  core.shentsize = r.u16(r.is64 ? 58 : 46);
  core.shnum = r.u16(r.is64 ? 60 : 48);
  core.shstrndx = r.u16(r.is64 ? 62 : 50);
  if (phnum === PN_XNUM || core.shnum === 0 || core.shstrndx === SHN_XINDEX) {
    const s0 = section0(r, core.shoff, core.shentsize);
    if (phnum === PN_XNUM) phnum = s0.info;
    if (core.shnum === 0 && core.shoff !== 0) core.shnum = s0.size;
    if (core.shstrndx === SHN_XINDEX) core.shstrndx = s0.link;
  }

  // Program headers.
  const phsize = r.is64 ? 56 : 32;
  if (phnum > 0) {
    if (phentsize !== phsize) {
      r.finding(
        "ELF_BAD_HEADER",
        `program header entries are ${phentsize} bytes, not ${phsize} (the kernel refuses such a file)`,
      );
    }
    if (phentsize >= phsize && r.has(phoff, phnum * phentsize, "program header table")) {
      for (let i = 0; i < phnum; i++) {
        const o = phoff + i * phentsize;
        core.segments.push(
          r.is64
            ? {
                type: r.u32(o),
                flags: r.u32(o + 4),
                offset: r.u64(o + 8),
                vaddr: r.u64(o + 16),
                filesz: r.u64(o + 32),
              }
            : {
                type: r.u32(o),
                offset: r.u32(o + 4),
                vaddr: r.u32(o + 8),
                filesz: r.u32(o + 16),
                flags: r.u32(o + 24),
              },
        );
      }
    }
  }

  let need = 0;
  for (const s of core.segments) {
    if (s.type !== PT_INTERP) continue;
    need++;
    if (info.interpreter !== undefined) {
      r.finding("ELF_BAD_INTERP", "more than one PT_INTERP program header (the kernel uses the first)");
      continue;
    }
    if (s.filesz === 0) {
      r.finding("ELF_BAD_INTERP", "PT_INTERP is empty");
      continue;
    }
    if (!r.has(s.offset, s.filesz, "PT_INTERP")) continue;
    const raw = bytes.subarray(s.offset, s.offset + s.filesz);
    const nul = raw.indexOf(0);
    if (nul < 0) r.finding("ELF_BAD_INTERP", "PT_INTERP is not NUL-terminated");
    const path = raw.toString("utf8", 0, nul < 0 ? raw.length : nul);
    if (path === "") r.finding("ELF_BAD_INTERP", "PT_INTERP names an empty path");
    else info.interpreter = path;
  }

  const dyn = core.segments.find((s) => s.type === PT_DYNAMIC);
  core.hasDynamic = dyn !== undefined;
  if (dyn && core.segments.filter((s) => s.type === PT_DYNAMIC).length > 1) {
    r.finding("ELF_BAD_DYNAMIC", "more than one PT_DYNAMIC program header (the first is used)");
  }
  if (dyn) need += parseDynamic(core, dyn);

  const t = info.type;
  if (t === "exec" || t === "dyn") {
    if (!core.hasDynamic) info.linkage = "static";
    else if (info.pie && need === 0) info.linkage = "static-pie";
    else if (t === "dyn" && !info.pie) info.linkage = "shared-library";
    else info.linkage = "dynamic";
  }
  return core;
}

/** Reads the dynamic section; returns the number of DT_NEEDED entries (libmagic's `need`). */
function parseDynamic(core: Core, dyn: Segment): number {
  const { r, info } = core;
  const entsize = r.is64 ? 16 : 8;
  const count = Math.floor(dyn.filesz / entsize);
  if (count === 0 || !r.has(dyn.offset, count * entsize, "PT_DYNAMIC")) {
    if (count === 0) r.finding("ELF_BAD_DYNAMIC", "PT_DYNAMIC holds no entries");
    return 0;
  }
  const strings: { tag: number; val: number }[] = [];
  let strtab: number | undefined;
  let strsz: number | undefined;
  let terminated = false;
  for (let i = 0; i < count; i++) {
    const o = dyn.offset + i * entsize;
    // Tags that matter are small; a 64-bit tag with high bits set is none of them.
    const tag = r.is64 ? (r.u32(o + (r.le ? 4 : 0)) === 0 ? r.low32(o) : -1) : r.u32(o);
    const vo = o + (r.is64 ? 8 : 4);
    if (tag === DT_NULL) {
      terminated = true;
      break;
    }
    switch (tag) {
      case DT_NEEDED:
      case DT_SONAME:
      case DT_RPATH:
      case DT_RUNPATH:
        if (strings.length < MAX_DYNAMIC_STRINGS) strings.push({ tag, val: r.word(vo) });
        else
          r.finding(
            "ELF_BAD_DYNAMIC",
            `more than ${MAX_DYNAMIC_STRINGS} name entries in the dynamic section`,
          );
        break;
      case DT_STRTAB:
        strtab = r.word(vo);
        break;
      case DT_STRSZ:
        strsz = r.word(vo);
        break;
      case DT_FLAGS_1: {
        const f = r.low32(vo);
        if (f & DF_1_PIE) info.pie = true;
        if (f & DF_1_NODEFLIB) info.nodeflib = true;
        break;
      }
    }
  }
  if (!terminated) r.finding("ELF_BAD_DYNAMIC", "the dynamic section has no DT_NULL terminator");
  const needed = strings.filter((s) => s.tag === DT_NEEDED).length;
  if (strings.length === 0) return needed;

  // Where the strings are: DT_STRTAB through PT_LOAD, else the .dynstr section (the .dynamic section's sh_link).
  let table: { off: number; size: number } | undefined;
  if (strtab !== undefined) {
    const m = vaddrToOffset(core.segments, strtab);
    if (m) table = { off: m.off, size: strsz !== undefined ? Math.min(strsz, m.avail) : m.avail };
  }
  if (!table) table = dynstrFromSections(core);
  if (!table) {
    r.finding(
      "ELF_BAD_DYNAMIC",
      strtab === undefined
        ? "the dynamic section names libraries but has no DT_STRTAB"
        : `DT_STRTAB 0x${strtab.toString(16)} is in no PT_LOAD segment`,
    );
    return needed;
  }
  core.dynstr = table;
  // Read the whole table when its size is known (one more round for elfBytesNeeded, then every name is there).
  if (strsz !== undefined && !r.has(table.off, table.size, "the dynamic string table")) return needed;
  for (const s of strings) {
    if (s.val >= table.size) {
      r.finding("ELF_BAD_DYNAMIC", `a dynamic string offset (${s.val}) lies past the string table's end`);
      continue;
    }
    const what =
      s.tag === DT_NEEDED
        ? "DT_NEEDED"
        : s.tag === DT_SONAME
          ? "DT_SONAME"
          : s.tag === DT_RPATH
            ? "DT_RPATH"
            : "DT_RUNPATH";
    const v = r.cstring(table.off + s.val, table.size - s.val - 1, `${what} name`);
    if (v === undefined) continue;
    if (s.tag === DT_NEEDED) info.needed.push(v);
    else if (s.tag === DT_SONAME) {
      if (info.soname === undefined) info.soname = v;
    } else if (s.tag === DT_RPATH) info.rpath.push(...v.split(":"));
    else info.runpath.push(...v.split(":"));
  }
  return needed;
}

/** Section headers (only when they are inside the bytes; never required). */
function readSections(core: Core): Section[] {
  if (!core.sections) core.sections = readSectionTable(core);
  return core.sections;
}

function readSectionTable(core: Core): Section[] {
  const { r } = core;
  const len = r.is64 ? 64 : 40;
  if (core.shoff === 0 || core.shnum === 0) return [];
  if (core.shentsize < len) {
    r.finding("ELF_BAD_HEADER", `section header entries are ${core.shentsize} bytes, not ${len}`);
    return [];
  }
  if (!r.has(core.shoff, core.shnum * core.shentsize, "section header table")) return [];
  const out: Section[] = [];
  for (let i = 0; i < core.shnum; i++) {
    const o = core.shoff + i * core.shentsize;
    out.push(
      r.is64
        ? {
            name: String(r.u32(o)),
            type: r.u32(o + 4),
            addr: r.u64(o + 16),
            offset: r.u64(o + 24),
            size: r.u64(o + 32),
            link: r.u32(o + 40),
          }
        : {
            name: String(r.u32(o)),
            type: r.u32(o + 4),
            addr: r.u32(o + 12),
            offset: r.u32(o + 16),
            size: r.u32(o + 20),
            link: r.u32(o + 24),
          },
    );
  }
  // Names from the section name string table.
  const shstr = out[core.shstrndx];
  const nameOk =
    shstr !== undefined &&
    shstr.type !== SHT_NOBITS &&
    r.has(shstr.offset, shstr.size, "section name string table");
  for (const s of out) {
    const off = Number(s.name);
    s.name = "";
    if (!nameOk || !shstr || off >= shstr.size) continue;
    const start = shstr.offset + off;
    const end = Math.min(shstr.offset + shstr.size, start + MAX_SECTION_NAME);
    const nul = r.b.subarray(start, end).indexOf(0);
    s.name = r.b.toString("latin1", start, nul < 0 ? end : start + nul);
  }
  return out;
}

function dynstrFromSections(core: Core): { off: number; size: number } | undefined {
  const sections = readSections(core);
  const dynamic = sections.find((s) => s.type === 6 /* SHT_DYNAMIC */);
  const byLink = dynamic ? sections[dynamic.link] : undefined;
  const s = byLink?.type === 3 /* SHT_STRTAB */ ? byLink : sections.find((x) => x.name === ".dynstr");
  return s && s.type !== SHT_NOBITS ? { off: s.offset, size: s.size } : undefined;
}

function sectionBytes(r: Reader, s: Section | undefined, what: string): Buffer | undefined {
  if (!s || s.type === SHT_NOBITS || s.size === 0) return undefined;
  if (!r.has(s.offset, s.size, what)) return undefined;
  return r.b.subarray(s.offset, s.offset + s.size);
}

const RUST_SYMBOLS = ["\0__rust_", "\0rust_begin_unwind\0", "\0rust_panic\0", "\0rust_eh_personality\0"].map(
  (s) => Buffer.from(s, "latin1"),
);

function rustMarker(core: Core, sections: Section[]): string | undefined {
  const { r } = core;
  if (sections.some((s) => s.name === ".rustc")) return "section .rustc";
  const comment = sectionBytes(
    r,
    sections.find((s) => s.name === ".comment"),
    ".comment section",
  );
  if (comment) {
    const i = comment.indexOf("rustc version ");
    if (i >= 0) {
      const nul = comment.indexOf(0, i);
      return `.comment: ${comment.toString("latin1", i, nul < 0 ? Math.min(comment.length, i + 200) : nul)}`;
    }
  }
  const tables: Buffer[] = [];
  for (const s of sections) {
    if (s.name !== ".strtab" && s.name !== ".dynstr") continue;
    const b = sectionBytes(r, s, `${s.name} section`);
    if (b) tables.push(b);
  }
  if (
    tables.length === 0 &&
    core.dynstr &&
    r.has(core.dynstr.off, core.dynstr.size, "dynamic string table")
  ) {
    tables.push(r.b.subarray(core.dynstr.off, core.dynstr.off + core.dynstr.size));
  }
  for (const t of tables) {
    for (const m of RUST_SYMBOLS) {
      const i = t.indexOf(m);
      if (i < 0) continue;
      const nul = t.indexOf(0, i + 1);
      return `symbol ${t.toString("latin1", i + 1, nul < 0 ? Math.min(t.length, i + 80) : nul)}`;
    }
  }
  // std's source paths in panic messages.
  const b = r.b;
  let hits = 0;
  for (let i = b.indexOf("/rustc"); i >= 0 && hits < MAX_RUSTC_HITS; i = b.indexOf("/rustc", i + 6), hits++) {
    const tail = b.toString("latin1", i + 6, Math.min(b.length, i + 6 + 64));
    const m = /^\/[0-9a-f]{40}\//.exec(tail) ?? /^-\d+\.\d+\.\d+[^/]{0,20}\/(?:library|src\/lib)/.exec(tail);
    if (m) return `std source path /rustc${m[0]}`;
  }
  return undefined;
}

/**
 * The ELF facts of `bytes` (a whole file, or its first part with `opts.fileSize`), or undefined when it does not
 * start with the ELF magic. Never throws on hostile input.
 */
export function parseElf(bytes: Buffer, opts: ParseElfOptions = {}): ElfInfo | undefined {
  if (!isElf(bytes)) return undefined;
  const fileSize =
    opts.fileSize !== undefined && Number.isFinite(opts.fileSize) && opts.fileSize > bytes.length
      ? opts.fileSize
      : bytes.length;
  const core = parseCore(bytes, fileSize);
  const { r, info } = core;
  if (r.findings.some((f) => f.code === "ELF_BAD_CLASS" || f.code === "ELF_BAD_ENDIAN")) {
    info.partial = r.partial;
    return info;
  }
  const sections = readSections(core);
  const image: GoImage = {
    sections,
    loads: core.segments
      .filter((s) => s.type === PT_LOAD)
      .map((s) => ({
        vaddr: s.vaddr,
        offset: s.offset,
        filesz: s.filesz,
        writable: (s.flags & (PF_X | PF_W)) === PF_W,
      })),
    bigEndian: !r.le,
    bytes: (off, len, what) => (r.has(off, len, what) ? bytes.subarray(off, off + len) : undefined),
    available: (off) => Math.max(0, Math.min(bytes.length, fileSize) - off),
    finding: (code, message) => r.finding(code, message),
  };
  const go = readGoBuildInfo(image);
  if (go) info.go = go;
  const rust = rustMarker(core, sections);
  if (rust !== undefined) {
    info.rust = true;
    info.rustMarker = rust;
  }
  info.partial = r.partial;
  return info;
}

/**
 * How many leading bytes of the file parseElf needs for the header, program headers, PT_INTERP and the dynamic
 * section with its strings (everything but Go build info and Rust markers), judging from `head`, the first bytes
 * read so far; undefined when `head` does not start with the ELF magic.
 *
 * Each table is found through the one before, so the answer grows as `head` does: from 64 bytes it is the end of
 * the program header table; with those, the end of PT_INTERP and PT_DYNAMIC; with those, the end of the dynamic
 * string table. Read that many bytes (capped by the file size and your own limit) and ask again until the answer
 * is no more than what you have: at most four rounds. A corrupt file can ask for more than it holds.
 * What it saves: a static program needs only its headers (a few hundred bytes); a dynamic one needs up to its
 * PT_DYNAMIC, which linkers put in the data segment after the code, so most of a stripped file, but not the
 * symbol tables, debug info and section headers at the end of an unstripped one.
 *
 * Go build info and Rust markers need the section header table, which linkers put at the end of the file (and
 * Go's blob sits in the data segment), so for those read the whole file (capped) and pass `fileSize` to
 * parseElf when it is cut.
 */
export function elfBytesNeeded(head: Buffer): number | undefined {
  if (!isElf(head)) return undefined;
  const core = parseCore(head, Number.POSITIVE_INFINITY);
  return Math.max(core.r.wanted, head.length < 64 ? 64 : 0);
}
