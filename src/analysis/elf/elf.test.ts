import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { cached } from "../../../test/fixtures/cache.ts";
import { needTool, run, tmpdir } from "../../../test/fixtures/tools.ts";
import { prng } from "../../tar/testkit.ts";
import type { LinkObject } from "../ldso/resolve.ts";
import { type ElfInfo, elfBytesNeeded, parseElf } from "./index.ts";
import { buildElf, type ElfSpec } from "./testkit.ts";

// Oracles: binutils' readelf for every field, file(1) (libmagic) for the linkage word. Programs are built by the
// Debian toolchain (gcc, GNU as/ld for i386 and x32, musl-gcc), plus the host's own busybox, ls, libc and ld.so.

const HELLO = `#include <stdio.h>
int main(void) { puts("hello"); return 0; }
`;
const LIB = "int x(void) { return 1; }\n";
const USES_LIB = "int x(void);\nint main(void) { return x(); }\n";
/** _start that calls x() through the PLT, then exits: for as/ld-linked i386 and x32 programs. */
const START_32 = ".globl _start\n_start:\n  call x@PLT\n  movl $1, %eax\n  xorl %ebx, %ebx\n  int $0x80\n";
const START_X32 = ".globl _start\n_start:\n  call x@PLT\n  mov $60, %eax\n  xor %edi, %edi\n  syscall\n";
const START_NOLIB = ".globl _start\n_start:\n  mov $60, %eax\n  xor %edi, %edi\n  syscall\n";
const X_ASM = ".globl x\n.type x,@function\nx: ret\n";

/** The fixture programs: file name → what it must be (checked besides the oracles, so a broken oracle shows). */
const EXPECT: Record<string, Partial<ElfInfo>> = {
  static: { linkage: "static", type: "exec" },
  "static-pie": { linkage: "static-pie", type: "dyn", pie: true },
  pie: { linkage: "dynamic", type: "dyn", pie: true, needed: ["libc.so.6"] },
  "no-pie": { linkage: "dynamic", type: "exec", pie: false, needed: ["libc.so.6"] },
  "libx-runpath.so": {
    linkage: "shared-library",
    soname: "libx.so.1",
    runpath: ["$ORIGIN/../lib"],
    rpath: [],
  },
  "libx-rpath.so": {
    linkage: "shared-library",
    soname: "libx.so.1",
    rpath: ["$ORIGIN/../lib", "/opt/x", "", "/last"],
    runpath: [],
  },
  "uses-libx": { linkage: "dynamic", needed: ["libx.so.1", "libc.so.6"], runpath: ["$ORIGIN/../lib"] },
  "object.o": { type: "rel" },
  "pie-interp-no-needed": {
    linkage: "dynamic",
    pie: true,
    needed: [],
    interpreter: "/lib64/ld-linux-x86-64.so.2",
  },
  i386: {
    class: 32,
    machine: "i386",
    linkage: "dynamic",
    needed: ["libx.so.1"],
    interpreter: "/lib/ld-linux.so.2",
  },
  "libx-i386.so": {
    class: 32,
    machine: "i386",
    linkage: "shared-library",
    soname: "libx.so.1",
    runpath: ["$ORIGIN"],
  },
  x32: { class: 32, machine: "x32", linkage: "dynamic", interpreter: "/libx32/ld-linux-x32.so.2" },
  "musl-dynamic": { linkage: "dynamic", interpreter: "/lib/ld-musl-x86_64.so.1", needed: ["libc.so"] },
  "musl-static": { linkage: "static" },
};

async function programs(): Promise<string> {
  const gcc = needTool("gcc", "gcc");
  const as = needTool("as", "binutils");
  const ld = needTool("ld", "binutils");
  const muslGcc = needTool("musl-gcc", "musl-tools");
  const version = (await run(gcc, ["-dumpfullversion"])).stdout.trim();
  const recipe = { HELLO, LIB, USES_LIB, START_32, START_X32, START_NOLIB, X_ASM, version, v: 1 };
  return cached("elf-reader-programs", recipe, async (dir) => {
    const src = await tmpdir("elf-src");
    const files: Record<string, string> = {
      "hello.c": HELLO,
      "x.c": LIB,
      "uses.c": USES_LIB,
      "start32.s": START_32,
      "startx32.s": START_X32,
      "start.s": START_NOLIB,
      "x.s": X_ASM,
    };
    for (const [n, t] of Object.entries(files)) await writeFile(join(src, n), t);
    const s = (n: string) => join(src, n);
    const o = (n: string) => join(dir, n);
    const cc = (args: string[]) => run(gcc, args, { cwd: src });
    await cc(["-O2", "-static", "-o", o("static"), s("hello.c")]);
    await cc(["-O2", "-static-pie", "-o", o("static-pie"), s("hello.c")]);
    await cc(["-O2", "-pie", "-o", o("pie"), s("hello.c")]);
    await cc(["-O2", "-no-pie", "-o", o("no-pie"), s("hello.c")]);
    const lib = ["-O2", "-shared", "-fPIC", "-Wl,-soname,libx.so.1"];
    await cc([
      ...lib,
      "-Wl,--enable-new-dtags",
      "-Wl,-rpath,$ORIGIN/../lib",
      "-o",
      o("libx-runpath.so"),
      s("x.c"),
    ]);
    await cc(
      [...lib, "-Wl,--disable-new-dtags", "-Wl,-rpath,$ORIGIN/../lib:/opt/x::/last"].concat([
        "-o",
        o("libx-rpath.so"),
        s("x.c"),
      ]),
    );
    await cc([
      "-O2",
      "-Wl,--enable-new-dtags",
      "-Wl,-rpath,$ORIGIN/../lib",
      "-o",
      o("uses-libx"),
      s("uses.c"),
      o("libx-runpath.so"),
    ]);
    await cc(["-O2", "-c", "-o", o("object.o"), s("hello.c")]);
    await cc([
      "-nostdlib",
      "-pie",
      "-Wl,-dynamic-linker,/lib64/ld-linux-x86-64.so.2",
      "-o",
      o("pie-interp-no-needed"),
      s("start.s"),
    ]);
    // Real 32-bit programs from GNU as/ld (no multilib gcc needed): i386 and x32, each with its shared library.
    await run(as, ["--32", "-o", s("x32.o"), s("x.s")]);
    await run(ld, [
      "-m",
      "elf_i386",
      "-shared",
      "-soname",
      "libx.so.1",
      "-rpath",
      "$ORIGIN",
      "-o",
      o("libx-i386.so"),
      s("x32.o"),
    ]);
    await run(as, ["--32", "-o", s("start32.o"), s("start32.s")]);
    await run(ld, [
      "-m",
      "elf_i386",
      "-dynamic-linker",
      "/lib/ld-linux.so.2",
      "-o",
      o("i386"),
      s("start32.o"),
      o("libx-i386.so"),
    ]);
    await run(as, ["--x32", "-o", s("xx32.o"), s("x.s")]);
    await run(ld, [
      "-m",
      "elf32_x86_64",
      "-shared",
      "-soname",
      "libx.so.1",
      "-o",
      s("libx-x32.so"),
      s("xx32.o"),
    ]);
    await run(as, ["--x32", "-o", s("startx32.o"), s("startx32.s")]);
    await run(ld, [
      "-m",
      "elf32_x86_64",
      "-dynamic-linker",
      "/libx32/ld-linux-x32.so.2",
      "-o",
      o("x32"),
      s("startx32.o"),
      s("libx-x32.so"),
    ]);
    await run(muslGcc, ["-O2", "-o", o("musl-dynamic"), s("hello.c")]);
    await run(muslGcc, ["-O2", "-static", "-o", o("musl-static"), s("hello.c")]);
  });
}

/** The host's own files: busybox-static's busybox, coreutils' ls, glibc's libc.so.6 and its ld.so. */
async function hostFiles(): Promise<{ busybox: string; ls: string; libc: string; ldso: string }> {
  const busybox = "/bin/busybox";
  needTool(busybox, "busybox-static");
  const gcc = needTool("gcc", "gcc");
  const libc = (await run(gcc, ["-print-file-name=libc.so.6"])).stdout.trim();
  const ls = needTool("ls", "coreutils");
  const ldso = (await readelf(ls)).interpreter;
  assert.ok(ldso !== undefined, "ls has a program interpreter");
  return { busybox, ls, libc, ldso };
}

/** What readelf says of a file, in ElfInfo's terms (its type as readelf names it). */
type ReadelfFacts = Pick<
  ElfInfo,
  | "class"
  | "endian"
  | "machine"
  | "osabi"
  | "flags"
  | "interpreter"
  | "needed"
  | "soname"
  | "rpath"
  | "runpath"
  | "pie"
  | "nodeflib"
> & { type: string };

async function readelf(path: string): Promise<ReadelfFacts> {
  const out = (await run(needTool("readelf", "binutils"), ["-h", "-l", "-d", "-W", path])).stdout;
  const get = (label: string) => new RegExp(`^\\s*${label}:\\s*(.*)$`, "m").exec(out)?.[1]?.trim() ?? "";
  const all = (re: RegExp) => [...out.matchAll(re)].map((m) => m[1] as string);
  const magic = get("Magic")
    .split(/\s+/)
    .map((h) => Number.parseInt(h, 16));
  const flags1 = (/\(FLAGS_1\)\s+Flags: (.*)$/m.exec(out)?.[1] ?? "").split(/\s+/);
  const f: ReadelfFacts = {
    class: get("Class") === "ELF64" ? 64 : 32,
    endian: /little/.test(get("Data")) ? "little" : "big",
    type:
      ({ EXEC: "exec", DYN: "dyn", REL: "rel", CORE: "core" } as Record<string, string>)[
        get("Type").split(" ")[0] ?? ""
      ] ?? "other",
    machine: get("Machine"),
    osabi: magic[7] ?? -1,
    flags: Number.parseInt(get("Flags").split(/[ ,]/)[0] ?? "", 16),
    needed: all(/\(NEEDED\)\s+Shared library: \[(.*)\]$/gm),
    rpath: all(/\(RPATH\)\s+Library rpath: \[(.*)\]$/gm).flatMap((p) => p.split(":")),
    runpath: all(/\(RUNPATH\)\s+Library runpath: \[(.*)\]$/gm).flatMap((p) => p.split(":")),
    pie: flags1.includes("PIE"),
    nodeflib: flags1.includes("NODEFLIB"),
  };
  const interp = /\[Requesting program interpreter: (.*)\]$/m.exec(out)?.[1];
  if (interp !== undefined) f.interpreter = interp;
  const soname = /\(SONAME\)\s+Library soname: \[(.*)\]$/m.exec(out)?.[1];
  if (soname !== undefined) f.soname = soname;
  return f;
}

/** readelf's machine names for the machines used here, as ours are named. */
function readelfMachine(name: string, cls: 32 | 64, endian: "little" | "big"): string {
  const le = endian === "little";
  const map: Record<string, string> = {
    "Advanced Micro Devices X86-64": cls === 64 ? "x86_64" : "x32",
    "Intel 80386": "i386",
    AArch64: le ? "aarch64" : "aarch64_be",
    ARM: le ? "arm" : "armeb",
    PowerPC: "ppc",
    PowerPC64: le ? "ppc64le" : "ppc64",
    "IBM S/390": cls === 64 ? "s390x" : "s390",
    "RISC-V": cls === 64 ? "riscv64" : "riscv32",
    "MIPS R3000": (cls === 64 ? "mips64" : "mips") + (le ? "el" : ""),
  };
  return map[name] ?? `readelf says ${name}`;
}

/** file(1)'s words for an ELF file mapped onto ElfInfo.linkage (libmagic's rule; see elf.ts). */
async function fileLinkage(path: string): Promise<{ out: string; linkage: ElfInfo["linkage"] }> {
  const out = (await run(needTool("file", "file"), ["-b", "-L", path])).stdout.trim();
  assert.match(out, /^ELF /, `file(1) on ${path}: ${out}`);
  const kind = /\b(pie executable|shared object|executable|relocatable|core file)\b/.exec(out)?.[1];
  const linked = /\b(statically|static-pie|dynamically) linked\b/.exec(out)?.[1];
  let linkage: ElfInfo["linkage"];
  if (linked === "statically") linkage = "static";
  else if (linked === "static-pie") linkage = "static-pie";
  else if (linked === "dynamically") linkage = kind === "shared object" ? "shared-library" : "dynamic";
  return { out, linkage };
}

/** Asserts that parseElf agrees with readelf on every field and with file(1) on the linkage. */
async function checkAgainstOracles(path: string, bytes: Buffer = readFileSync(path)): Promise<ElfInfo> {
  const info = parseElf(bytes);
  assert.ok(info, `${path} is ELF`);
  const want = await readelf(path);
  const got = {
    class: info.class,
    endian: info.endian,
    type: info.type,
    machine: info.machine,
    osabi: info.osabi,
    flags: info.flags,
    interpreter: info.interpreter,
    needed: info.needed,
    soname: info.soname,
    rpath: info.rpath,
    runpath: info.runpath,
    pie: info.pie,
    nodeflib: info.nodeflib,
  };
  const defined = (o: object) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  assert.deepEqual(
    defined(got),
    defined({ ...want, machine: readelfMachine(want.machine, want.class, want.endian) }),
    path,
  );
  const file = await fileLinkage(path);
  assert.equal(info.linkage, file.linkage, `${path}: file(1) says "${file.out}"`);
  assert.deepEqual(info.findings, [], path);
  assert.equal(info.partial, false);
  return info;
}

test("gcc, GNU ld and musl-gcc programs: every field as readelf reads it, the linkage word as file(1) prints it", async () => {
  const dir = await programs();
  for (const [name, expect] of Object.entries(EXPECT)) {
    const info = await checkAgainstOracles(join(dir, name));
    for (const [k, v] of Object.entries(expect)) {
      assert.deepEqual(info[k as keyof ElfInfo], v, `${name}.${k}`);
    }
    if (info.type === "rel") assert.equal(info.linkage, undefined, "an object file has no linkage");
    const link: LinkObject = info; // the library resolver takes ElfInfo as it is
    assert.equal(link.nodeflib, false);
    assert.equal(info.rust, false, `${name} is C`);
    assert.equal(info.go, undefined, `${name} is not Go`);
  }
});

test("host files: busybox-static is static, ls dynamic, libc.so.6 and ld.so shared libraries with their SONAME", async () => {
  const host = await hostFiles();
  const busybox = await checkAgainstOracles(host.busybox);
  assert.equal(busybox.linkage, "static");
  assert.equal(busybox.interpreter, undefined);
  const ls = await checkAgainstOracles(host.ls);
  assert.equal(ls.linkage, "dynamic");
  assert.ok(ls.needed.includes("libc.so.6"));
  const libc = await checkAgainstOracles(host.libc);
  assert.equal(libc.linkage, "shared-library");
  assert.equal(libc.soname, "libc.so.6");
  assert.ok(
    libc.interpreter,
    "glibc's libc.so.6 has PT_INTERP (it runs), yet file(1) calls it a shared object",
  );
  const ldso = await checkAgainstOracles(host.ldso);
  assert.equal(
    ldso.linkage,
    "shared-library",
    "ld.so has no DF_1_PIE: file(1) says shared object, dynamically linked",
  );
  assert.equal(ldso.needed.length, 0);
  assert.match(ldso.soname ?? "", /^ld-linux/);
});

/** Reads prefixes as elfBytesNeeded asks, the way a caller with a size cap would. */
function readAsNeeded(file: Buffer): { head: Buffer; rounds: number } {
  let head = file.subarray(0, 64);
  let rounds = 0;
  for (;;) {
    const n = elfBytesNeeded(head);
    assert.ok(n !== undefined);
    if (n <= head.length || head.length === file.length) return { head, rounds };
    head = file.subarray(0, Math.min(n, file.length));
    rounds++;
    assert.ok(rounds <= 4, "at most four rounds");
  }
}

test("elfBytesNeeded: the prefix it asks for gives the same loader facts as the whole file", async () => {
  const dir = await programs();
  const host = await hostFiles();
  const paths = [...Object.keys(EXPECT).map((n) => join(dir, n)), ...Object.values(host)];
  for (const p of paths) {
    const file = readFileSync(p);
    const whole = parseElf(file);
    const { head } = readAsNeeded(file);
    const part = parseElf(head, { fileSize: file.length });
    assert.ok(whole && part, p);
    for (const k of [
      "class",
      "machine",
      "type",
      "interpreter",
      "needed",
      "soname",
      "rpath",
      "runpath",
      "pie",
      "linkage",
    ]) {
      assert.deepEqual(
        part[k as keyof ElfInfo],
        whole[k as keyof ElfInfo],
        `${p}: ${k} from ${head.length} bytes`,
      );
    }
    assert.deepEqual(part.findings, [], `${p}: a prefix read with fileSize is no error`);
    if (head.length < file.length)
      assert.equal(part.partial, true, `${p}: the section headers were not read`);
  }
  // A static program needs only its headers; an unstripped dynamic one much less than its size.
  const st = readFileSync(join(dir, "static"));
  assert.ok(readAsNeeded(st).head.length < 4096, "static: headers only");
  assert.equal(elfBytesNeeded(Buffer.from("#!/bin/sh\n")), undefined);
  assert.equal(elfBytesNeeded(Buffer.from([0x7f, 0x45, 0x4c, 0x46])), 64);
});

test("another architecture: e_machine patched to aarch64, riscv64, ppc64le, s390x is named as readelf names it", async () => {
  const dir = await programs();
  const work = await tmpdir("elf-machine");
  const pie = readFileSync(join(dir, "pie"));
  for (const [code, name] of [
    [183, "aarch64"],
    [243, "riscv64"],
    [21, "ppc64le"],
    [22, "s390x"],
    [0x7777, "unknown(30583)"],
  ] as const) {
    const b = Buffer.from(pie);
    b.writeUInt16LE(code, 18);
    const p = join(work, name);
    await writeFile(p, b);
    const info = parseElf(b);
    assert.equal(info?.machine, name);
    assert.equal(info?.machineCode, code);
    assert.deepEqual(info?.needed, ["libc.so.6"], "the rest is read as before");
    if (code !== 0x7777) await checkAgainstOracles(p, b);
  }
  const out = (await run(needTool("file", "file"), ["-b", join(work, "aarch64")])).stdout;
  assert.match(out, /ARM aarch64/, "file(1) agrees it is aarch64");
});

/** Hand-built files, for what the host toolchain cannot make; readelf and file(1) still judge them. */
const HAND_BUILT: Record<string, ElfSpec> = {
  "ppc-be32-exec": {
    class: 32,
    endian: "big",
    machine: 20,
    interpreter: "/lib/ld.so.1",
    dynamic: { needed: ["libc.so.6", "libm.so.6"], rpath: "$ORIGIN/lib:/opt/lib" },
  },
  "s390x-be64-pie": {
    class: 64,
    endian: "big",
    type: 3,
    machine: 22,
    interpreter: "/lib/ld64.so.1",
    dynamic: { needed: ["libc.so.6"], runpath: "$ORIGIN", flags1: 0x08000000 },
  },
  "mips-be32-shared": {
    class: 32,
    endian: "big",
    type: 3,
    machine: 8,
    dynamic: { needed: ["libc.so.6"], soname: "libfoo.so.2" },
  },
  "aarch64-static-pie": { type: 3, machine: 183, dynamic: { flags1: 0x08000000 } },
  "nodeflib-library": { type: 3, dynamic: { needed: ["libc.so.6"], soname: "libn.so", flags1: 0x800 } },
  // PT_DYNAMIC in a non-PIE executable without PT_INTERP or DT_NEEDED: libmagic still says "dynamically linked".
  "exec-empty-dynamic": { dynamic: {} },
  "riscv64-static": { machine: 243, flags: 5 },
  "arm-hardfloat": {
    class: 32,
    machine: 40,
    flags: 0x5000400,
    interpreter: "/lib/ld-linux-armhf.so.3",
    dynamic: { needed: ["libc.so.6"] },
  },
};

test("hand-built 32- and 64-bit big-endian files and odd dynamic sections: readelf and file(1) agree", async () => {
  const work = await tmpdir("elf-hand");
  const got: Record<string, ElfInfo> = {};
  for (const [name, spec] of Object.entries(HAND_BUILT)) {
    const b = buildElf(spec);
    const p = join(work, name);
    await writeFile(p, b);
    got[name] = await checkAgainstOracles(p, b);
  }
  assert.equal(got["ppc-be32-exec"]?.machine, "ppc");
  assert.equal(got["ppc-be32-exec"]?.endian, "big");
  assert.deepEqual(got["ppc-be32-exec"]?.rpath, ["$ORIGIN/lib", "/opt/lib"]);
  assert.equal(got["s390x-be64-pie"]?.linkage, "dynamic");
  assert.equal(got["mips-be32-shared"]?.linkage, "shared-library");
  assert.equal(got["mips-be32-shared"]?.machine, "mips");
  assert.equal(got["aarch64-static-pie"]?.linkage, "static-pie");
  assert.equal(got["nodeflib-library"]?.nodeflib, true);
  assert.equal(got["exec-empty-dynamic"]?.linkage, "dynamic");
  assert.equal(got["riscv64-static"]?.linkage, "static");
  assert.equal(got["arm-hardfloat"]?.flags, 0x5000400);
  // A core file and an unknown type: no linkage.
  assert.equal(parseElf(buildElf({ type: 4 }))?.type, "core");
  assert.equal(parseElf(buildElf({ type: 4 }))?.linkage, undefined);
  assert.equal(parseElf(buildElf({ type: 0xfe01 }))?.type, "other");
});

/** Offsets of the 64-bit little-endian fixture's tables, read directly for the corruption tests. */
function layout(b: Buffer) {
  const phoff = Number(b.readBigUInt64LE(32));
  const phnum = b.readUInt16LE(56);
  const ph = (type: number) => {
    for (let i = 0; i < phnum; i++) {
      const o = phoff + i * 56;
      if (b.readUInt32LE(o) === type) return o;
    }
    throw new Error(`no program header of type ${type}`);
  };
  const dynPh = ph(2);
  const dynOff = Number(b.readBigUInt64LE(dynPh + 8));
  const entry = (tag: number) => {
    for (let o = dynOff; ; o += 16) {
      const t = Number(b.readBigUInt64LE(o));
      if (t === tag) return o;
      if (t === 0) throw new Error(`no dynamic tag ${tag}`);
    }
  };
  return { phoff, phnum, ph, dynPh, dynOff, entry, shoff: Number(b.readBigUInt64LE(40)) };
}

test("truncated files at many cut points: findings, never an exception; full facts once the cut passes them", async () => {
  const dir = await programs();
  for (const name of ["pie", "uses-libx", "static-pie"]) {
    const file = readFileSync(join(dir, name));
    const whole = parseElf(file);
    assert.ok(whole);
    const enough = readAsNeeded(file).head.length;
    const cuts = new Set<number>();
    for (let c = 0; c <= 80; c++) cuts.add(c);
    for (let c = 0; c < file.length; c += 97) cuts.add(c);
    for (const d of [-1, 0, 1]) cuts.add(enough + d);
    const { phoff, phnum, dynOff } = layout(file);
    for (let i = 0; i <= phnum; i++) cuts.add(phoff + i * 56 - 1);
    for (let i = 0; i < 40; i++) cuts.add(dynOff + i * 8);
    for (const cut of [...cuts].filter((c) => c >= 4 && c < file.length)) {
      const b = file.subarray(0, cut);
      const info = parseElf(b);
      assert.ok(info, `${name} cut at ${cut}`);
      if (cut < enough) {
        assert.ok(
          info.findings.some((f) => f.code === "ELF_TRUNCATED"),
          `${name} cut at ${cut}: ${JSON.stringify(info.findings)}`,
        );
      } else {
        assert.deepEqual(info.needed, whole.needed, `${name} cut at ${cut}`);
        assert.equal(info.linkage, whole.linkage, `${name} cut at ${cut}`);
      }
      // What was read is right, never garbage: a name list is all or nothing.
      assert.ok(
        info.needed.length === 0 || info.needed.join() === whole.needed.join(),
        `${name} cut at ${cut}`,
      );
      if (info.interpreter !== undefined) assert.equal(info.interpreter, whole.interpreter);
      // The same prefix with the file's size is "not read", not truncated.
      const part = parseElf(b, { fileSize: file.length });
      assert.deepEqual(part?.findings, [], `${name} prefix ${cut}`);
    }
  }
  const tiny = parseElf(Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]));
  assert.deepEqual(
    tiny?.findings.map((f) => f.code),
    ["ELF_TRUNCATED"],
  );
  assert.equal(parseElf(Buffer.from("\x7fEL", "latin1")), undefined);
  assert.equal(parseElf(Buffer.alloc(0)), undefined);
});

test("corrupted offsets and counts become findings, and what is still sound is still read", async () => {
  const dir = await programs();
  const file = readFileSync(join(dir, "pie"));
  const L = layout(file);
  const interpPh = L.ph(3);
  const cases: { name: string; patch: (b: Buffer) => void; codes: string[]; check?: (i: ElfInfo) => void }[] =
    [
      {
        name: "e_phoff 2^64-1",
        patch: (b) => b.writeBigUInt64LE(0xffffffffffffffffn, 32),
        codes: ["ELF_BAD_OFFSET"],
      },
      {
        name: "e_phoff past the end",
        patch: (b) => b.writeBigUInt64LE(BigInt(b.length - 10), 32),
        codes: ["ELF_TRUNCATED"],
      },
      { name: "e_phentsize 20", patch: (b) => b.writeUInt16LE(20, 54), codes: ["ELF_BAD_HEADER"] },
      {
        name: "e_phnum PN_XNUM with the count in section 0's sh_info",
        patch: (b) => {
          b.writeUInt16LE(0xffff, 56);
          b.writeUInt32LE(L.phnum, L.shoff + 44);
        },
        codes: [],
        check: (i) => assert.deepEqual(i.needed, ["libc.so.6"]),
      },
      {
        name: "PT_DYNAMIC offset 2^62",
        patch: (b) => b.writeBigUInt64LE(1n << 62n, L.dynPh + 8),
        codes: ["ELF_BAD_OFFSET"],
        // libmagic too: PT_DYNAMIC counts even when unreadable, DF_1_PIE is then unseen ("shared object").
        check: (i) => assert.equal(i.linkage, "shared-library"),
      },
      {
        name: "DT_STRTAB unmapped: .dynstr from the section headers",
        patch: (b) => b.writeBigUInt64LE(0xdead0000n, L.entry(5) + 8),
        codes: [],
        check: (i) => assert.deepEqual(i.needed, ["libc.so.6"]),
      },
      {
        name: "DT_STRTAB unmapped and no section headers",
        patch: (b) => {
          b.writeBigUInt64LE(0xdead0000n, L.entry(5) + 8);
          b.writeBigUInt64LE(0n, 40);
        },
        codes: ["ELF_BAD_DYNAMIC"],
        check: (i) => assert.deepEqual(i.needed, []),
      },
      {
        name: "DT_NEEDED past DT_STRSZ",
        patch: (b) => b.writeBigUInt64LE(1n << 40n, L.entry(1) + 8),
        codes: ["ELF_BAD_DYNAMIC"],
      },
      {
        name: "DT_STRSZ far too big: clipped to the segment",
        patch: (b) => b.writeBigUInt64LE(1n << 40n, L.entry(10) + 8),
        codes: [],
        check: (i) => assert.deepEqual(i.needed, ["libc.so.6"]),
      },
      {
        name: "empty PT_INTERP",
        patch: (b) => b.writeBigUInt64LE(0n, interpPh + 32),
        codes: ["ELF_BAD_INTERP"],
      },
      {
        name: "PT_INTERP past the end",
        patch: (b) => b.writeBigUInt64LE(BigInt(b.length), interpPh + 8),
        codes: ["ELF_TRUNCATED"],
        check: (i) => assert.equal(i.linkage, "dynamic"),
      },
      {
        name: "no DT_NULL",
        patch: (b) => {
          const size = Number(b.readBigUInt64LE(L.dynPh + 32));
          for (let o = L.dynOff; o < L.dynOff + size; o += 16) {
            if (b.readBigUInt64LE(o) === 0n) b.writeBigUInt64LE(0x7000_0001n, o);
          }
        },
        codes: ["ELF_BAD_DYNAMIC"],
        check: (i) => assert.deepEqual(i.needed, ["libc.so.6"]),
      },
      {
        name: "e_shoff garbage",
        patch: (b) => b.writeBigUInt64LE(0x7fff_ffff_fff0n, 40),
        codes: ["ELF_TRUNCATED"],
        check: (i) => assert.deepEqual(i.needed, ["libc.so.6"]),
      },
      { name: "e_shentsize 3", patch: (b) => b.writeUInt16LE(3, 58), codes: ["ELF_BAD_HEADER"] },
      { name: "e_shstrndx out of range", patch: (b) => b.writeUInt16LE(60000, 62), codes: [] },
      {
        name: "EI_CLASS 3",
        patch: (b) => {
          b[4] = 3;
        },
        codes: ["ELF_BAD_CLASS"],
        check: (i) => assert.equal(i.type, "other"),
      },
      {
        name: "EI_DATA 0",
        patch: (b) => {
          b[5] = 0;
        },
        codes: ["ELF_BAD_ENDIAN"],
      },
    ];
  for (const c of cases) {
    const b = Buffer.from(file);
    c.patch(b);
    const info = parseElf(b);
    assert.ok(info, c.name);
    assert.deepEqual(
      [...new Set(info.findings.map((f) => f.code))],
      c.codes,
      `${c.name}: ${JSON.stringify(info.findings)}`,
    );
    c.check?.(info);
    assert.ok(elfBytesNeeded(b) !== undefined, c.name);
  }
});

test("fuzz: thousands of mutations of real programs never throw and stay fast", async () => {
  const dir = await programs();
  const seed = Number(process.env.ELF_FUZZ_SEED ?? 0x5eed);
  const rnd = prng(seed);
  const pick = (n: number) => Math.floor(rnd() * n);
  let runs = 0;
  let slowest = 0;
  const started = performance.now();
  for (const [name, count] of [
    ["pie", 3000],
    ["uses-libx", 1500],
    ["libx-rpath.so", 1000],
    ["i386", 1000],
    ["static-pie", 200],
  ] as const) {
    const file = readFileSync(join(dir, name));
    const is64 = file[4] === 2;
    const phEnd = is64
      ? Number(file.readBigUInt64LE(32)) + file.readUInt16LE(56) * 56
      : file.readUInt32LE(28) + file.readUInt16LE(44) * 32;
    const dyn = parseElf(file);
    assert.ok(dyn);
    for (let i = 0; i < count; i++) {
      let b = Buffer.from(file);
      const edits = 1 + pick(8);
      for (let e = 0; e < edits; e++) {
        const r = rnd();
        const at = r < 0.6 ? pick(phEnd) : r < 0.8 ? pick(Math.min(b.length, 16384)) : pick(b.length);
        if (rnd() < 0.5) b[at] = pick(256);
        else if (at + 4 <= b.length)
          b.writeUInt32LE(rnd() < 0.5 ? pick(0x100000000) : pick(b.length * 2), at);
      }
      if (rnd() < 0.15) b = b.subarray(0, 4 + pick(b.length - 4));
      const t = performance.now();
      try {
        parseElf(b);
        parseElf(b, { fileSize: b.length + pick(1 << 20) });
        elfBytesNeeded(b.subarray(0, 64 + pick(b.length)));
      } catch (e) {
        assert.fail(`${name} mutation ${i} (ELF_FUZZ_SEED=${seed}) threw: ${(e as Error).stack}`);
      }
      slowest = Math.max(slowest, performance.now() - t);
      runs++;
    }
  }
  // Random bytes behind the magic, with valid and invalid class/endian bytes.
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.alloc(pick(600));
    for (let j = 0; j < b.length; j++) b[j] = pick(256);
    Buffer.from([0x7f, 0x45, 0x4c, 0x46, 1 + pick(3), 1 + pick(3)]).copy(b);
    try {
      parseElf(b);
      elfBytesNeeded(b);
    } catch (e) {
      assert.fail(`random ${i} (ELF_FUZZ_SEED=${seed}) threw: ${(e as Error).stack}`);
    }
    runs++;
  }
  const total = performance.now() - started;
  assert.ok(total < 15000, `${runs} parses took ${total.toFixed(0)} ms`);
  assert.ok(slowest < 250, `slowest parse ${slowest.toFixed(1)} ms`);
});

test("Rust markers: .rustc section, rustc's .comment, std's symbols, std's source paths; none in C or Go programs", async () => {
  const dir = await programs();
  const commit = "59807616e1fa2540724bfbac14d7976d7e4a3860";
  const cases: [string, ElfSpec, RegExp][] = [
    [
      "dylib",
      { type: 3, sections: [{ name: ".rustc", data: Buffer.from("rust\0\0\0\x08metadata", "latin1") }] },
      /^section \.rustc$/,
    ],
    [
      "comment",
      {
        sections: [
          {
            name: ".comment",
            data: Buffer.from(
              "GCC: (Debian 12.2.0-14) 12.2.0\0rustc version 1.95.0 (59807616e 2026-04-14)\0",
            ),
          },
        ],
      },
      /^\.comment: rustc version 1\.95\.0 \(59807616e 2026-04-14\)$/,
    ],
    [
      "symbols",
      {
        sections: [
          {
            name: ".strtab",
            type: 3,
            data: Buffer.from("\0main\0__rust_alloc\0_ZN3std2rt10lang_start17h0123456789abcdefE\0"),
          },
        ],
      },
      /^symbol __rust_alloc$/,
    ],
    [
      "dynsym",
      {
        type: 3,
        dynamic: { needed: ["libc.so.6"] },
        sections: [{ name: ".dynstr", type: 3, data: Buffer.from("\0libc.so.6\0rust_eh_personality\0") }],
      },
      /^symbol rust_eh_personality$/,
    ],
    [
      "stripped rustup",
      {
        noSectionHeaders: true,
        sections: [
          {
            name: ".rodata",
            data: Buffer.from(
              `called \`Option::unwrap()\` on a \`None\` value/rustc/${commit}/library/core/src/option.rs`,
            ),
          },
        ],
      },
      new RegExp(`^std source path /rustc/${commit}/$`),
    ],
    [
      "stripped Debian rustc",
      {
        noSectionHeaders: true,
        sections: [
          {
            name: ".rodata",
            data: Buffer.from(
              "returned an error unexpectedly/usr/src/rustc-1.63.0/library/alloc/src/string.rs",
            ),
          },
        ],
      },
      /^std source path \/rustc-1\.63\.0\/library$/,
    ],
  ];
  for (const [name, spec, marker] of cases) {
    const info = parseElf(buildElf(spec));
    assert.equal(info?.rust, true, name);
    assert.match(info?.rustMarker ?? "", marker, name);
    assert.deepEqual(info?.findings, [], name);
  }
  // Near misses: a path that only looks like it, C symbols, GCC's .comment.
  const near = parseElf(
    buildElf({
      sections: [
        { name: ".rodata", data: Buffer.from("/rustc/notahash/library/ /rustc-x/ trust_panic") },
        { name: ".strtab", type: 3, data: Buffer.from("\0rust_panicky\0my__rust_thing\0") },
        { name: ".comment", data: Buffer.from("GCC: (Debian 12.2.0-14) 12.2.0\0") },
      ],
    }),
  );
  assert.equal(near?.rust, false);
  assert.equal(near?.rustMarker, undefined);
  for (const name of ["static", "pie", "libx-runpath.so", "musl-static"]) {
    assert.equal(parseElf(readFileSync(join(dir, name)))?.rust, false, name);
  }
  assert.equal(parseElf(readFileSync("/bin/busybox"))?.rust, false, "busybox");
});
