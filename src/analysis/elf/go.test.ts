import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { cached } from "../../../test/fixtures/cache.ts";
import { needTool, run, tmpdir } from "../../../test/fixtures/tools.ts";
import { parseModInfo, unquoteGo } from "./go.ts";
import { type GoBuildInfo, parseElf } from "./index.ts";
import { buildElf, goModInfo, goPointerBuildInfo } from "./testkit.ts";

// Oracle: `go version -m` (Debian's golang-go), which prints what Go's own debug/buildinfo reads.

const GO_MOD = `module example.com/hello

go 1.19

require example.com/dep v0.0.0

replace example.com/dep => ./dep
`;
const DEP_MOD = "module example.com/dep\n\ngo 1.19\n";
const DEP_GO = 'package dep\n\nfunc Greeting() string { return "hello" }\n';
const MAIN_GO = `package main

import (
	"fmt"

	"example.com/dep"
)

var note = "none"

func main() { fmt.Println(dep.Greeting(), note) }
`;
const CGO_GO = `package main

// int answer(void) { return 42; }
import "C"

import "fmt"

func main() { fmt.Println(C.answer()) }
`;

/** Builds: name → [env, go build arguments]. Cross builds give real big-endian and other-machine ELF files. */
const BUILDS: Record<string, [Record<string, string>, string[]]> = {
  static: [{ CGO_ENABLED: "0" }, ["-ldflags=-X main.note=set -s -w", "."]],
  cgo: [{ CGO_ENABLED: "1" }, ["./cg"]],
  pie: [{ CGO_ENABLED: "0" }, ["-buildmode=pie", "."]],
  arm64: [{ CGO_ENABLED: "0", GOARCH: "arm64" }, ["."]],
  s390x: [{ CGO_ENABLED: "0", GOARCH: "s390x" }, ["."]],
  mips: [{ CGO_ENABLED: "0", GOARCH: "mips" }, ["."]],
};

async function goPrograms(): Promise<string> {
  const go = needTool("go", "golang-go");
  needTool("gcc", "gcc"); // cgo
  const version = (await run(go, ["version"])).stdout.trim();
  const recipe = { GO_MOD, DEP_MOD, DEP_GO, MAIN_GO, CGO_GO, BUILDS, version };
  return cached("elf-go-programs", recipe, async (dir) => {
    const work = await tmpdir("go-build");
    await mkdir(join(work, "dep"));
    await mkdir(join(work, "cg"));
    await writeFile(join(work, "go.mod"), GO_MOD);
    await writeFile(join(work, "main.go"), MAIN_GO);
    await writeFile(join(work, "dep/go.mod"), DEP_MOD);
    await writeFile(join(work, "dep/dep.go"), DEP_GO);
    await writeFile(join(work, "cg/main.go"), CGO_GO);
    const env = {
      GOCACHE: join(work, ".cache"),
      GOPATH: join(work, ".gopath"),
      GOPROXY: "off",
      GOFLAGS: "-mod=mod",
      GO111MODULE: "on",
      GOTOOLCHAIN: "local",
    };
    for (const [name, [extra, args]] of Object.entries(BUILDS)) {
      await run(go, ["build", "-o", join(dir, name), ...args], { cwd: work, env: { ...env, ...extra } });
    }
  });
}

/** Go's strconv.Quote for the printable ASCII used here. */
function quote(s: string): string {
  return JSON.stringify(s);
}

/** Our build info printed the way Go's BuildInfo.String() prints it (what `go version -m` shows, tab-indented). */
function goString(g: GoBuildInfo): string {
  let out = "";
  if (g.path !== undefined) out += `path\t${g.path}\n`;
  if (g.mod !== undefined) out += `mod\t${g.mod}\t${g.modVersion ?? ""}\t\n`;
  for (const d of g.deps) {
    out += `dep\t${d.path}\t${d.version}`;
    out += d.replace
      ? `\n=>\t${d.replace.path}\t${d.replace.version}\t${d.replace.sum ?? ""}\n`
      : `\t${d.sum ?? ""}`;
    out += "\n";
  }
  for (const [k, v] of Object.entries(g.settings)) {
    out += `build\t${/[= \t\r\n"`]/.test(k) || k === "" ? quote(k) : k}=${/[ \t\r\n"`]/.test(v) ? quote(v) : v}\n`;
  }
  return out;
}

async function goVersionM(path: string): Promise<{ version: string; text: string }> {
  const out = (await run(needTool("go", "golang-go"), ["version", "-m", path])).stdout;
  const [first, ...rest] = out.replace(/\n$/, "").split("\n");
  const version = /: (\S+)$/.exec(first ?? "")?.[1] ?? "";
  return { version, text: rest.map((l) => `${l.replace(/^\t/, "")}\n`).join("") };
}

async function fileSays(path: string): Promise<string> {
  return (await run(needTool("file", "file"), ["-b", path])).stdout;
}

test("Go programs: version, main package and module, deps with replacements, settings and CGO as `go version -m` reads them", async () => {
  const dir = await goPrograms();
  const want: Record<
    string,
    { machine: string; endian: string; linkage: string; cgo: boolean; file: RegExp }
  > = {
    static: { machine: "x86_64", endian: "little", linkage: "static", cgo: false, file: /statically linked/ },
    cgo: {
      machine: "x86_64",
      endian: "little",
      linkage: "dynamic",
      cgo: true,
      file: /executable, .*dynamically linked/,
    },
    pie: {
      machine: "x86_64",
      endian: "little",
      linkage: "dynamic",
      cgo: false,
      file: /pie executable, .*dynamically linked/,
    },
    arm64: {
      machine: "aarch64",
      endian: "little",
      linkage: "static",
      cgo: false,
      file: /ARM aarch64.*statically linked/,
    },
    s390x: {
      machine: "s390x",
      endian: "big",
      linkage: "static",
      cgo: false,
      file: /64-bit MSB .*IBM S\/390.*statically linked/,
    },
    mips: {
      machine: "mips",
      endian: "big",
      linkage: "static",
      cgo: false,
      file: /32-bit MSB .*MIPS.*statically linked/,
    },
  };
  for (const [name, w] of Object.entries(want)) {
    const path = join(dir, name);
    const info = parseElf(readFileSync(path));
    assert.ok(info?.go, `${name} has Go build info`);
    const oracle = await goVersionM(path);
    assert.equal(info.go.version, oracle.version, name);
    assert.match(info.go.version, /^go1\.\d+/);
    assert.equal(goString(info.go), oracle.text, name);
    assert.equal(info.go.form, "inline", "Go ≥ 1.18 writes the strings inline");
    assert.equal(info.go.cgo, w.cgo, name);
    assert.equal(info.machine, w.machine, name);
    assert.equal(info.endian, w.endian, name);
    assert.equal(info.linkage, w.linkage, name);
    assert.match(await fileSays(path), w.file, name);
    assert.deepEqual(info.findings, [], name);
    assert.equal(info.rust, false, `${name} is not Rust`);
  }
  const st = parseElf(readFileSync(join(dir, "static")))?.go;
  assert.equal(st?.path, "example.com/hello");
  assert.equal(st?.mod, "example.com/hello");
  assert.equal(st?.modVersion, "(devel)");
  assert.deepEqual(st?.deps, [
    { path: "example.com/dep", version: "v0.0.0", replace: { path: "./dep", version: "(devel)" } },
  ]);
  assert.equal(st?.settings["-ldflags"], "-X main.note=set -s -w", "a quoted setting is unquoted");
  assert.equal(st?.settings.CGO_ENABLED, "0");
  const cgo = parseElf(readFileSync(join(dir, "cgo")));
  assert.equal(cgo?.go?.path, "example.com/hello/cg");
  assert.deepEqual(cgo?.needed.includes("libc.so.6"), true);
  // Go's internal-linker PIE: PT_INTERP, DF_1_PIE, no DT_NEEDED — dynamic, as file(1) says.
  const pie = parseElf(readFileSync(join(dir, "pie")));
  assert.deepEqual(
    [pie?.type, pie?.pie, pie?.needed.length, pie?.interpreter !== undefined],
    ["dyn", true, 0, true],
  );
});

test("Go build info without section headers: found in the first writable segment, as Go finds it", async () => {
  const dir = await goPrograms();
  const work = await tmpdir("go-nosh");
  for (const name of ["static", "s390x", "mips"]) {
    const b = Buffer.from(readFileSync(join(dir, name)));
    const is64 = b[4] === 2;
    const le = b[5] === 1;
    // e_shoff, e_shnum, e_shstrndx = 0: the section header table is gone.
    if (is64) le ? b.writeBigUInt64LE(0n, 40) : b.writeBigUInt64BE(0n, 40);
    else le ? b.writeUInt32LE(0, 32) : b.writeUInt32BE(0, 32);
    b.fill(0, is64 ? 60 : 48, is64 ? 64 : 52);
    const p = join(work, name);
    await writeFile(p, b, { mode: 0o755 }); // `go version` skips files without an execute bit
    const info = parseElf(b);
    assert.ok(info?.go, name);
    const oracle = await goVersionM(p);
    assert.equal(info.go.version, oracle.version, name);
    assert.equal(goString(info.go), oracle.text, name);
  }
});

test("Go 1.13-1.17 pointer form (hand-built: 64-bit little- and big-endian, 32-bit), read as `go version -m` reads it", async () => {
  const work = await tmpdir("go-ptr");
  const text =
    "path\texample.com/old\nmod\texample.com/old\t(devel)\t\ndep\tgolang.org/x/sys\tv0.1.0\th1:abc=\n" +
    "dep\texample.com/a\tv1.0.0\n=>\texample.com/b\tv1.1.0\th1:def=\n";
  for (const [name, cls, endian, machine, ptrSize] of [
    ["amd64", 64, "little", 62, 8],
    ["s390x", 64, "big", 22, 8],
    ["386", 32, "little", 3, 4],
  ] as const) {
    const b = buildElf({
      class: cls,
      endian,
      machine,
      sections: [
        {
          name: ".go.buildinfo",
          writable: true,
          data: (vaddr) =>
            goPointerBuildInfo(vaddr, "go1.17.13", goModInfo(text), { ptrSize, bigEndian: endian === "big" }),
        },
      ],
    });
    const p = join(work, name);
    await writeFile(p, b, { mode: 0o755 }); // `go version` skips files without an execute bit
    const info = parseElf(b);
    assert.ok(info?.go, name);
    assert.equal(info.go.form, "pointer");
    assert.equal(info.go.version, "go1.17.13");
    assert.equal(info.go.cgo, undefined, "Go < 1.18 records no CGO_ENABLED");
    assert.deepEqual(info.go.settings, {});
    assert.equal(info.go.deps[1]?.replace?.path, "example.com/b");
    const oracle = await goVersionM(p);
    assert.equal(info.go.version, oracle.version, name);
    assert.equal(goString(info.go), oracle.text, name);
  }
  // Without module info (GOPATH mode): a version, nothing else.
  const bare = parseElf(
    buildElf({
      sections: [
        {
          name: ".go.buildinfo",
          writable: true,
          data: (v) => goPointerBuildInfo(v, "go1.13", Buffer.alloc(0), { ptrSize: 8, bigEndian: false }),
        },
      ],
    }),
  );
  assert.deepEqual(bare?.go, { version: "go1.13", settings: {}, deps: [], form: "pointer" });
});

test("broken Go build info: findings or nothing, never an exception", async () => {
  const dir = await goPrograms();
  const file = readFileSync(join(dir, "static"));
  const at = file.indexOf(Buffer.from("\xff Go buildinf:", "latin1"));
  assert.ok(at > 0 && at % 16 === 0);
  // The version's length prefix made huge; the pointer size 3 in the old form.
  const big = Buffer.from(file);
  big[at + 32] = 0xff;
  big[at + 33] = 0xff;
  big[at + 34] = 0x7f;
  const a = parseElf(big);
  assert.equal(a?.go, undefined);
  assert.deepEqual(
    a?.findings.map((f) => f.code),
    ["ELF_BAD_GO_BUILDINFO"],
  );
  const ptr = Buffer.from(file);
  ptr[at + 14] = 3;
  ptr[at + 15] = 0;
  assert.deepEqual(
    parseElf(ptr)?.findings.map((f) => f.code),
    ["ELF_BAD_GO_BUILDINFO"],
  );
  // Misaligned magic is not build info (Go searches 16-byte aligned positions).
  const moved = buildElf({
    sections: [
      {
        name: ".data",
        writable: true,
        data: Buffer.concat([
          Buffer.alloc(3),
          Buffer.from("\xff Go buildinf:\x08\x02", "latin1"),
          Buffer.alloc(64),
        ]),
      },
    ],
  });
  assert.equal(parseElf(moved)?.go, undefined);
  // Mutations inside the blob and the module text.
  let state = 7;
  const rnd = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 4294967296;
  };
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.from(file);
    for (let e = 0; e < 1 + Math.floor(rnd() * 6); e++)
      b[at + Math.floor(rnd() * 600)] = Math.floor(rnd() * 256);
    const info = parseElf(b);
    assert.ok(info, `mutation ${i}`);
    if (info.go) assert.equal(typeof info.go.version, "string");
  }
});

test("module info lines and Go quoting, as runtime/debug parses them", () => {
  assert.equal(unquoteGo('"a b"'), "a b");
  assert.equal(unquoteGo('"tab\\there \\"q\\" \\\\ \\x41\\101\\u00e9\\U0001F600"'), 'tab\there "q" \\ AAé😀');
  assert.equal(unquoteGo("`raw \\n`"), "raw \\n");
  assert.equal(unquoteGo('"bad \\q"'), undefined);
  assert.equal(unquoteGo('"\\x4"'), undefined);
  assert.equal(unquoteGo("unquoted"), undefined);
  const reports: string[] = [];
  const m = parseModInfo(
    '=>\tlonely\tv1\t\npath\tx\nmod\tx\t(devel)\t\nbuild\t"odd key"="v 1"\nbuild\tCGO_ENABLED=1\nbuild\tbad value=x\nbuild\t=nokey\n' +
      "dep\tonly-one-column\nbuild\t__proto__=polluted\ntrailing line without newline",
    (r) => reports.push(r),
  );
  assert.deepEqual(
    m.settings,
    Object.fromEntries([
      ["odd key", "v 1"],
      ["CGO_ENABLED", "1"],
      ["__proto__", "polluted"],
    ]),
  );
  assert.equal(Object.getPrototypeOf(m.settings), Object.prototype, "a __proto__ key is a plain key");
  assert.equal(m.cgo, true);
  assert.equal(m.path, "x");
  assert.equal(reports.length, 4, reports.join("\n"));
});
