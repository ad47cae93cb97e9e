// Test helpers for the ELF reader (not built into dist): small ELF files written by hand, for what the host's
// toolchain cannot make (big-endian files, other machines, Rust markers without rustc, Go's pre-1.18 build info).
// The files are laid out the way linkers lay them out (ELF header, program headers, sections, section headers;
// every byte mapped by a PT_LOAD at a fixed base), so readelf, file and Go's debug/elf read them as well.

export interface ElfSection {
  name: string;
  /** sh_type; default SHT_PROGBITS. */
  type?: number;
  /** The contents, or a function of the section's virtual address (called twice; the length must not change). */
  data: Buffer | ((vaddr: number) => Buffer);
  /** In the writable PT_LOAD (as .go.buildinfo and .data are); default read-only. */
  writable?: boolean;
}

export interface ElfSpec {
  class?: 32 | 64;
  endian?: "little" | "big";
  /** e_type; default 2 (ET_EXEC). */
  type?: number;
  /** e_machine; default 62 (x86-64). */
  machine?: number;
  osabi?: number;
  flags?: number;
  interpreter?: string;
  /** A dynamic section (PT_DYNAMIC) with these entries, in this order: needed, soname, rpath, runpath, flags1. */
  dynamic?: { needed?: string[]; soname?: string; rpath?: string; runpath?: string; flags1?: number };
  sections?: ElfSection[];
  /** Leave out the section header table (e_shoff 0), as sstrip does. */
  noSectionHeaders?: boolean;
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;

class Out {
  readonly chunks: Buffer[] = [];
  size = 0;
  constructor(
    readonly le: boolean,
    readonly is64: boolean,
  ) {}
  align(n: number): void {
    const pad = (n - (this.size % n)) % n;
    if (pad) this.put(Buffer.alloc(pad));
  }
  put(b: Buffer): number {
    const at = this.size;
    this.chunks.push(b);
    this.size += b.length;
    return at;
  }
}

/** Encodes fields: [width in bytes, value] pairs, in the file's byte order. */
function fields(le: boolean, list: [number, number][]): Buffer {
  const b = Buffer.alloc(list.reduce((n, [w]) => n + w, 0));
  let o = 0;
  for (const [w, v] of list) {
    if (w === 1) b[o] = v;
    else if (w === 2) le ? b.writeUInt16LE(v, o) : b.writeUInt16BE(v, o);
    else if (w === 4) le ? b.writeUInt32LE(v >>> 0, o) : b.writeUInt32BE(v >>> 0, o);
    else le ? b.writeBigUInt64LE(BigInt(v), o) : b.writeBigUInt64BE(BigInt(v), o);
    o += w;
  }
  return b;
}

/** A string table: "\0" then each name NUL-terminated; returns the offsets by name. */
function strtab(names: string[]): { data: Buffer; at: Map<string, number> } {
  const at = new Map<string, number>();
  const parts: Buffer[] = [Buffer.alloc(1)];
  let n = 1;
  for (const s of names) {
    if (at.has(s)) continue;
    at.set(s, n);
    const b = Buffer.from(`${s}\0`, "utf8");
    parts.push(b);
    n += b.length;
  }
  return { data: Buffer.concat(parts), at };
}

/** Builds the ELF file `spec` describes. */
export function buildElf(spec: ElfSpec): Buffer {
  const is64 = (spec.class ?? 64) === 64;
  const le = (spec.endian ?? "little") === "little";
  const W = is64 ? 8 : 4;
  const base = is64 ? 0x400000 : 0x8048000;
  const ehsize = is64 ? 64 : 52;
  const phentsize = is64 ? 56 : 32;
  const shentsize = is64 ? 64 : 40;
  const user = spec.sections ?? [];
  const ro = user.filter((s) => !s.writable);
  const rw = user.filter((s) => s.writable);
  const phnum = 1 + (rw.length ? 1 : 0) + (spec.interpreter !== undefined ? 1 : 0) + (spec.dynamic ? 1 : 0);

  const out = new Out(le, is64);
  out.put(Buffer.alloc(ehsize + phnum * phentsize)); // filled in at the end
  type Placed = {
    name: string;
    type: number;
    flags: number;
    off: number;
    size: number;
    link: number;
    entsize: number;
  };
  const placed: Placed[] = [];
  let interp: { off: number; size: number } | undefined;
  if (spec.interpreter !== undefined) {
    const b = Buffer.from(`${spec.interpreter}\0`, "utf8");
    interp = { off: out.put(b), size: b.length };
    placed.push({ name: ".interp", type: 1, flags: 2, off: interp.off, size: b.length, link: 0, entsize: 0 });
  }
  let dynamic: { off: number; size: number } | undefined;
  if (spec.dynamic) {
    const d = spec.dynamic;
    const names = [...(d.needed ?? [])];
    if (d.soname !== undefined) names.push(d.soname);
    if (d.rpath !== undefined) names.push(d.rpath);
    if (d.runpath !== undefined) names.push(d.runpath);
    const st = strtab(names);
    out.align(8);
    const strOff = out.put(st.data);
    const dynstrIndex = placed.length + 1;
    placed.push({
      name: ".dynstr",
      type: 3,
      flags: 2,
      off: strOff,
      size: st.data.length,
      link: 0,
      entsize: 0,
    });
    const entries: [number, number][] = [];
    for (const n of d.needed ?? []) entries.push([1, st.at.get(n) ?? 0]);
    if (d.soname !== undefined) entries.push([14, st.at.get(d.soname) ?? 0]);
    if (d.rpath !== undefined) entries.push([15, st.at.get(d.rpath) ?? 0]);
    if (d.runpath !== undefined) entries.push([29, st.at.get(d.runpath) ?? 0]);
    entries.push([5, base + strOff], [10, st.data.length]);
    if (d.flags1 !== undefined) entries.push([0x6ffffffb, d.flags1]);
    entries.push([0, 0]);
    const dyn = Buffer.concat(
      entries.map(([t, v]) =>
        fields(le, [
          [W, t],
          [W, v],
        ]),
      ),
    );
    out.align(8);
    dynamic = { off: out.put(dyn), size: dyn.length };
    placed.push({
      name: ".dynamic",
      type: 6,
      flags: 3,
      off: dynamic.off,
      size: dyn.length,
      link: dynstrIndex,
      entsize: 2 * W,
    });
  }
  const putUser = (s: ElfSection, flags: number) => {
    out.align(16);
    const off = out.size;
    const data = typeof s.data === "function" ? s.data(base + off) : s.data;
    out.put(data);
    placed.push({ name: s.name, type: s.type ?? 1, flags, off, size: data.length, link: 0, entsize: 0 });
  };
  for (const s of ro) putUser(s, 2);
  out.align(16);
  const rwStart = out.size;
  for (const s of rw) putUser(s, 3);
  const rwEnd = out.size;
  const shstr = strtab([...placed.map((p) => p.name), ".shstrtab"]);
  const shstrOff = out.put(shstr.data);
  const shstrIndex = placed.length + 1;
  placed.push({
    name: ".shstrtab",
    type: 3,
    flags: 0,
    off: shstrOff,
    size: shstr.data.length,
    link: 0,
    entsize: 0,
  });
  out.align(8);
  let shoff = 0;
  if (!spec.noSectionHeaders) {
    shoff = out.size;
    const sh = (p: Placed | undefined) =>
      fields(
        le,
        is64
          ? [
              [4, p ? (shstr.at.get(p.name) ?? 0) : 0],
              [4, p?.type ?? 0],
              [8, p?.flags ?? 0],
              [8, p && p.flags & 2 ? base + p.off : 0],
              [8, p?.off ?? 0],
              [8, p?.size ?? 0],
              [4, p?.link ?? 0],
              [4, 0],
              [8, p ? 1 : 0],
              [8, p?.entsize ?? 0],
            ]
          : [
              [4, p ? (shstr.at.get(p.name) ?? 0) : 0],
              [4, p?.type ?? 0],
              [4, p?.flags ?? 0],
              [4, p && p.flags & 2 ? base + p.off : 0],
              [4, p?.off ?? 0],
              [4, p?.size ?? 0],
              [4, p?.link ?? 0],
              [4, 0],
              [4, p ? 1 : 0],
              [4, p?.entsize ?? 0],
            ],
      );
    out.put(Buffer.concat([sh(undefined), ...placed.map(sh)]));
  }
  const file = Buffer.concat(out.chunks);

  const ph = (type: number, flags: number, off: number, size: number) =>
    fields(
      le,
      is64
        ? [
            [4, type],
            [4, flags],
            [8, off],
            [8, base + off],
            [8, base + off],
            [8, size],
            [8, size],
            [8, type === PT_LOAD ? 0x1000 : 8],
          ]
        : [
            [4, type],
            [4, off],
            [4, base + off],
            [4, base + off],
            [4, size],
            [4, size],
            [4, flags],
            [4, type === PT_LOAD ? 0x1000 : 4],
          ],
    );
  const phdrs: Buffer[] = [];
  if (interp) phdrs.push(ph(PT_INTERP, 4, interp.off, interp.size));
  phdrs.push(ph(PT_LOAD, 5, 0, rw.length ? rwStart : file.length));
  if (rw.length) phdrs.push(ph(PT_LOAD, 6, rwStart, rwEnd - rwStart));
  if (dynamic) phdrs.push(ph(PT_DYNAMIC, 6, dynamic.off, dynamic.size));

  const ident = Buffer.from([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, le ? 1 : 2, 1, spec.osabi ?? 0]);
  const header = fields(le, [
    [2, spec.type ?? 2],
    [2, spec.machine ?? 62],
    [4, 1],
    [W, base + ehsize + phnum * phentsize],
    [W, ehsize],
    [W, shoff],
    [4, spec.flags ?? 0],
    [2, ehsize],
    [2, phentsize],
    [2, phnum],
    [2, spec.noSectionHeaders ? 0 : shentsize],
    [2, spec.noSectionHeaders ? 0 : placed.length + 1],
    [2, spec.noSectionHeaders ? 0 : shstrIndex],
  ]);
  Buffer.concat([ident, Buffer.alloc(8), header, ...phdrs]).copy(file, 0);
  return file;
}

/** Go's pre-1.18 build info blob for `.go.buildinfo` at `vaddr`: pointers to string headers, then the strings. */
export function goPointerBuildInfo(
  vaddr: number,
  version: string,
  modinfo: Buffer,
  opts: { ptrSize: 4 | 8; bigEndian: boolean },
): Buffer {
  const p = opts.ptrSize;
  const le = !opts.bigEndian;
  const vers = Buffer.from(version, "utf8");
  const mod = modinfo;
  // Layout: 32-byte header, version string header, mod string header, version bytes, mod bytes.
  const vHdr = vaddr + 32;
  const mHdr = vHdr + 2 * p;
  const vData = mHdr + 2 * p;
  const mData = vData + vers.length;
  const head = Buffer.alloc(32);
  Buffer.from("\xff Go buildinf:", "latin1").copy(head, 0);
  head[14] = p;
  head[15] = opts.bigEndian ? 1 : 0;
  fields(le, [
    [p, vHdr],
    [p, mHdr],
  ]).copy(head, 16);
  return Buffer.concat([
    head,
    fields(le, [
      [p, vData],
      [p, vers.length],
      [p, mData],
      [p, mod.length],
    ]),
    vers,
    mod,
  ]);
}

/** Go's module info framing: 16-byte sentinels around the text (cmd/go/internal/modload infoStart/infoEnd). */
export function goModInfo(text: string): Buffer {
  return Buffer.concat([
    Buffer.from("3077af0c9274080241e1c107e6d618e6", "hex"),
    Buffer.from(text, "utf8"),
    Buffer.from("f932433186182072008242104116d8f2", "hex"),
  ]);
}
