/**
 * Go build information, read the way Go's own debug/buildinfo reads it (src/debug/buildinfo/buildinfo.go,
 * src/runtime/debug/mod.go), without Go.
 *
 * Where: the `.go.buildinfo` section's address, else the first PT_LOAD segment that is writable and not
 * executable (stripped section headers); the first 64 KiB there are searched for the 32-byte header
 * "\xff Go buildinf:" + pointer size + flags, at a 16-byte aligned position.
 * Two forms:
 *   - Go ≥ 1.18 (flags bit 2): the header is followed by two uvarint-length-prefixed strings, the Go version and
 *     the module info;
 *   - Go 1.13-1.17: the header holds two pointers (pointer size and byte order from the header: flags bit 1 is
 *     big-endian) to Go string headers {data pointer, length} for runtime.buildVersion and runtime.modinfo,
 *     which are virtual addresses mapped through PT_LOAD segments.
 * The module info is framed by 16-byte sentinels (stripped when `len >= 33` and the byte 17 from the end is
 * "\n") and holds lines `path\t<main package>`, `mod\t<path>\t<version>[\t<sum>]`, `dep\t…`, `=>\t…` (replacement
 * of the line before), `build\t<key>=<value>` (key and value Go-quoted when they contain spaces, tabs, quotes or
 * "=" in keys). CGO_ENABLED is such a build setting (Go ≥ 1.18).
 *
 * Differences with Go: inline strings are read to the end of their segment rather than within the 64 KiB window
 * (a program with very many dependencies keeps them); a malformed line is skipped with a finding instead of
 * failing the whole block.
 */

export interface GoModule {
  path: string;
  version: string;
  sum?: string;
  /** A `=>` line: the module this one was replaced by. */
  replace?: { path: string; version: string; sum?: string };
}

export interface GoBuildInfo {
  /** The toolchain's version, e.g. "go1.19.8". */
  version: string;
  /** The main package's import path ("command-line-arguments" for `go build file.go`). */
  path?: string;
  /** The main module's path (absent outside module mode). */
  mod?: string;
  /** The main module's version ("(devel)" for a local build). */
  modVersion?: string;
  /** The CGO_ENABLED build setting ("1" true, "0" false); absent when not recorded (Go < 1.18). */
  cgo?: boolean;
  /** Build settings (`-compiler`, `CGO_ENABLED`, `GOARCH`, `GOOS`, `vcs.revision`, …). */
  settings: Record<string, string>;
  /** Dependency modules, in the order recorded. */
  deps: GoModule[];
  /** How the blob stores its strings: "inline" (Go ≥ 1.18) or "pointer" (Go 1.13-1.17). */
  form: "inline" | "pointer";
}

/** What the Go reader needs from the ELF file (elf.ts provides it). */
export interface GoImage {
  sections: { name: string; type: number; addr: number; offset: number; size: number }[];
  /** PT_LOAD segments; `writable` is PF_W without PF_X. */
  loads: { vaddr: number; offset: number; filesz: number; writable: boolean }[];
  bigEndian: boolean;
  /** The file's bytes [off, off+len), or undefined (recording truncation) when they are not all there. */
  bytes(off: number, len: number, what: string): Buffer | undefined;
  /** How many bytes of the input are available from `off` on. */
  available(off: number): number;
  finding(code: string, message: string): void;
}

const MAGIC = Buffer.from("\xff Go buildinf:", "latin1");
const HEADER = 32;
const ALIGN = 16;
const WINDOW = 64 * 1024;
/** Longest string followed through a pointer or a length prefix. */
const MAX_STRING = 16 * 1024 * 1024;
const BAD = "ELF_BAD_GO_BUILDINFO";

/** Bytes at virtual address `addr`, at most `size`, clipped to the segment (as Go's ReadData does). */
function readData(img: GoImage, addr: number, size: number, what: string): Buffer | undefined {
  if (!Number.isSafeInteger(addr)) return undefined;
  for (const l of img.loads) {
    if (addr < l.vaddr || addr - l.vaddr >= l.filesz) continue;
    const off = l.offset + (addr - l.vaddr);
    const n = Math.min(size, l.filesz - (addr - l.vaddr));
    return img.bytes(off, n, what);
  }
  return undefined;
}

function uvarint(b: Buffer, at: number): { value: number; n: number } | undefined {
  let x = 0;
  let scale = 1;
  for (let i = 0; i < 10 && at + i < b.length; i++) {
    const c = b[at + i] ?? 0;
    x += (c & 0x7f) * scale;
    if (c < 0x80) return Number.isSafeInteger(x) ? { value: x, n: i + 1 } : undefined;
    scale *= 128;
  }
  return undefined;
}

/** Go's decodeString: a uvarint length then that many bytes, which must leave at least one byte after them. */
function decodeString(b: Buffer, at: number): { s: Buffer; next: number } | undefined {
  const v = uvarint(b, at);
  if (!v || v.value >= b.length - at - v.n) return undefined;
  const start = at + v.n;
  return { s: b.subarray(start, start + v.value), next: start + v.value };
}

/** Locates the 32-byte header: its virtual address and the bytes from there to the end of the window. */
function findHeader(img: GoImage): { addr: number; data: Buffer } | undefined {
  const section = img.sections.find((s) => s.name === ".go.buildinfo");
  let start: number | undefined = section?.addr;
  let window: Buffer | undefined;
  if (section && start !== undefined) {
    window = readData(img, start, WINDOW, ".go.buildinfo");
    // A section no PT_LOAD maps (an object file): read it by file offset.
    if (!window && section.type !== 8) {
      const n = Math.min(section.size, WINDOW, img.available(section.offset));
      if (n > 0) window = img.bytes(section.offset, n, ".go.buildinfo");
    }
  } else {
    const data = img.loads.find((l) => l.writable);
    if (!data) return undefined;
    start = data.vaddr;
    // A prefix may cover only part of the window: search what is there.
    const n = Math.min(WINDOW, data.filesz, img.available(data.offset));
    window = n > 0 ? img.bytes(data.offset, n, "the data segment") : undefined;
  }
  if (!window || start === undefined) return undefined;
  for (let pos = 0; ; ) {
    const i = window.indexOf(MAGIC, pos);
    if (i < 0 || window.length - i < HEADER) return undefined;
    if (i % ALIGN === 0) return { addr: start + i, data: window.subarray(i) };
    pos = i + 1;
  }
}

function readPointerString(img: GoImage, ptr: (b: Buffer, at: number) => number, size: number, at: number) {
  const hdr = readData(img, at, 2 * size, "a Go string header");
  if (!hdr || hdr.length < 2 * size) return undefined;
  const addr = ptr(hdr, 0);
  const len = ptr(hdr, size);
  if (len > MAX_STRING) return undefined;
  const data = readData(img, addr, len, "a Go string");
  if (!data || data.length < len) return undefined;
  return data;
}

/** The Go build information of an ELF file, or undefined when it has none. */
export function readGoBuildInfo(img: GoImage): GoBuildInfo | undefined {
  const h = findHeader(img);
  if (!h) return undefined;
  const ptrSize = h.data[14] ?? 0;
  const flags = h.data[15] ?? 0;
  let vers: Buffer | undefined;
  let mod: Buffer;
  let form: GoBuildInfo["form"];
  if (flags & 2) {
    form = "inline";
    const rest = readData(img, h.addr, MAX_STRING, ".go.buildinfo strings") ?? h.data;
    const v = decodeString(rest, HEADER);
    vers = v?.s;
    mod = (v && decodeString(rest, v.next)?.s) || Buffer.alloc(0);
  } else {
    form = "pointer";
    if (ptrSize !== 4 && ptrSize !== 8) {
      img.finding(BAD, `Go build info header gives pointer size ${ptrSize} (4 or 8 expected)`);
      return undefined;
    }
    const big = flags !== 0;
    const ptr = (b: Buffer, at: number) =>
      ptrSize === 4
        ? big
          ? b.readUInt32BE(at)
          : b.readUInt32LE(at)
        : big
          ? b.readUInt32BE(at) * 0x100000000 + b.readUInt32BE(at + 4)
          : b.readUInt32LE(at + 4) * 0x100000000 + b.readUInt32LE(at);
    vers = readPointerString(img, ptr, ptrSize, ptr(h.data, 16));
    mod = readPointerString(img, ptr, ptrSize, ptr(h.data, 16 + ptrSize)) ?? Buffer.alloc(0);
  }
  if (!vers || vers.length === 0) {
    img.finding(BAD, "a Go build info header is there but the Go version it points to cannot be read");
    return undefined;
  }
  // The framing sentinels are not UTF-8: strip them before decoding.
  const text =
    mod.length >= 33 && mod[mod.length - 17] === 0x0a ? mod.toString("utf8", 16, mod.length - 16) : "";
  return { version: vers.toString("utf8"), ...parseModInfo(text, (m) => img.finding(BAD, m)), form };
}

/** Go's strconv.Unquote for "…" and `…` (what BuildInfo.String writes with strconv.Quote). */
export function unquoteGo(s: string): string | undefined {
  if (s.length >= 2 && s[0] === "`" && s[s.length - 1] === "`") {
    const body = s.slice(1, -1);
    return body.includes("`") ? undefined : body.replaceAll("\r", "");
  }
  if (s.length < 2 || s[0] !== '"' || s[s.length - 1] !== '"') return undefined;
  const out: number[] = [];
  const body = s.slice(1, -1);
  const pushRune = (cp: number) => {
    for (const b of Buffer.from(String.fromCodePoint(cp), "utf8")) out.push(b);
  };
  for (let i = 0; i < body.length; ) {
    const c = body[i] as string;
    if (c === '"' || c === "\n") return undefined;
    if (c !== "\\") {
      const cp = body.codePointAt(i) ?? 0;
      pushRune(cp);
      i += cp > 0xffff ? 2 : 1;
      continue;
    }
    const e = body[i + 1];
    const simple: Record<string, number> = {
      a: 7,
      b: 8,
      f: 12,
      n: 10,
      r: 13,
      t: 9,
      v: 11,
      "\\": 92,
      '"': 34,
    };
    if (e !== undefined && e in simple) {
      out.push(simple[e] as number);
      i += 2;
    } else if (e === "x" || e === "u" || e === "U") {
      const n = e === "x" ? 2 : e === "u" ? 4 : 8;
      const hex = body.slice(i + 2, i + 2 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) return undefined;
      const v = Number.parseInt(hex, 16);
      if (e === "x") out.push(v);
      else if (v > 0x10ffff || (v >= 0xd800 && v < 0xe000)) return undefined;
      else pushRune(v);
      i += 2 + n;
    } else if (e !== undefined && e >= "0" && e <= "7") {
      const oct = body.slice(i + 1, i + 4);
      if (!/^[0-7]{3}$/.test(oct)) return undefined;
      const v = Number.parseInt(oct, 8);
      if (v > 255) return undefined;
      out.push(v);
      i += 4;
    } else {
      return undefined;
    }
  }
  return Buffer.from(out).toString("utf8");
}

const QUOTE_KEY = /[= \t\r\n"`]/;
const QUOTE_VALUE = /[ \t\r\n"`]/;

function moduleLine(cols: string[]): GoModule | undefined {
  if (cols.length !== 2 && cols.length !== 3) return undefined;
  const m: GoModule = { path: cols[0] as string, version: cols[1] as string };
  if (cols[2]) m.sum = cols[2];
  return m;
}

/** The module info lines (runtime/debug ParseBuildInfo), lenient: a bad line is skipped and reported. */
export function parseModInfo(
  text: string,
  report: (message: string) => void = () => {},
): Omit<GoBuildInfo, "version" | "form"> {
  const out: Omit<GoBuildInfo, "version" | "form"> = { settings: {}, deps: [] };
  const settings: [string, string][] = [];
  let last: GoModule | undefined;
  const lines = text.split("\n");
  lines.pop(); // Go ignores text after the last newline
  lines.forEach((line, n) => {
    const bad = (why: string) => report(`Go module info line ${n + 1}: ${why}`);
    const tab = line.indexOf("\t");
    const word = tab < 0 ? line : line.slice(0, tab);
    const rest = line.slice(tab + 1);
    if (tab < 0) {
      if (line !== "") bad("no tab");
      return;
    }
    switch (word) {
      case "path":
        out.path = rest;
        return;
      case "mod":
      case "dep": {
        const m = moduleLine(rest.split("\t"));
        if (!m) {
          last = undefined;
          bad(`expected 2 or 3 columns in a ${word} line`);
          return;
        }
        if (word === "mod") {
          out.mod = m.path;
          out.modVersion = m.version;
        } else {
          out.deps.push(m);
        }
        last = m;
        return;
      }
      case "=>": {
        const cols = rest.split("\t");
        if (cols.length !== 3 || !last) {
          bad(
            cols.length !== 3
              ? "expected 3 columns in a replacement"
              : "replacement with no module before it",
          );
          return;
        }
        last.replace = { path: cols[0] as string, version: cols[1] as string };
        if (cols[2]) last.replace.sum = cols[2];
        last = undefined;
        return;
      }
      case "build": {
        const kv = parseSetting(rest);
        if (typeof kv === "string") bad(kv);
        else settings.push(kv);
        return;
      }
    }
  });
  out.settings = Object.fromEntries(settings);
  const cgo = out.settings.CGO_ENABLED;
  if (cgo === "1") out.cgo = true;
  else if (cgo === "0") out.cgo = false;
  return out;
}

/** One `build` line's key=value, or why it is malformed. */
function parseSetting(kv: string): [string, string] | string {
  if (kv === "") return "build line missing '='";
  let key: string;
  let raw: string;
  if (kv[0] === "=") return "build line with missing key";
  if (kv[0] === '"' || kv[0] === "`") {
    const end = quotedPrefixEnd(kv);
    const k = end === undefined ? undefined : unquoteGo(kv.slice(0, end));
    if (end === undefined || k === undefined) return "invalid quoted key in build line";
    if (kv[end] !== "=") return "build line missing '=' after quoted key";
    key = k;
    raw = kv.slice(end + 1);
  } else {
    const eq = kv.indexOf("=");
    if (eq < 0) return "build line missing '=' after key";
    key = kv.slice(0, eq);
    raw = kv.slice(eq + 1);
    if (QUOTE_KEY.test(key)) return `unquoted key ${JSON.stringify(key)} must be quoted`;
  }
  if (raw[0] === '"' || raw[0] === "`") {
    const v = unquoteGo(raw);
    return v === undefined ? "invalid quoted value in build line" : [key, v];
  }
  if (QUOTE_VALUE.test(raw)) return `unquoted value ${JSON.stringify(raw)} must be quoted`;
  return [key, raw];
}

/** End index (exclusive) of the Go quoted string that starts `s` (strconv.QuotedPrefix), or undefined. */
function quotedPrefixEnd(s: string): number | undefined {
  const q = s[0];
  for (let i = 1; i < s.length; i++) {
    const c = s[i];
    if (q === '"' && c === "\\") {
      i++;
      continue;
    }
    if (c === q) return i + 1;
    if (q === '"' && c === "\n") return undefined;
  }
  return undefined;
}
