// Library resolution on real programs built with gcc and musl-gcc, in root directories made from the host's own
// loader and libc. The host's ld.so (`--list`) is the oracle for the $ORIGIN cases, which resolve the same on the
// host as in the image; ELF facts come from readelf (binutils), so that these tests check the search rules alone.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { needTool, tmpdir } from "../../../test/fixtures/tools.ts";
import { DirFiles } from "../dir-files.ts";
import { type LinkObject, type ResolveContext, resolveClosure } from "./resolve.ts";

const MACHINES: Record<string, number> = {
  "Advanced Micro Devices X86-64": 62,
  AArch64: 183,
  "Intel 80386": 3,
};

/** ELF facts of a file from readelf, or undefined for a non-ELF file. */
function readelf(file: string): LinkObject | undefined {
  let out: string;
  try {
    out = execFileSync(needTool("readelf", "binutils"), ["-h", "-l", "-d", "-W", file], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
  } catch {
    return undefined;
  }
  const one = (re: RegExp) => re.exec(out)?.[1];
  const all = (re: RegExp) => [...out.matchAll(re)].map((m) => m[1] as string);
  const list = (s: string | undefined) => (s === undefined ? [] : s.split(":"));
  return {
    class: one(/Class:\s+ELF(\d\d)/) === "64" ? 64 : 32,
    machineCode: MACHINES[one(/Machine:\s+(.+)/)?.trim() ?? ""] ?? -1,
    interpreter: one(/\[Requesting program interpreter: ([^\]]+)\]/),
    needed: all(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g),
    soname: one(/\(SONAME\)\s+Library soname: \[([^\]]+)\]/),
    rpath: list(one(/\(RPATH\)\s+Library rpath: \[([^\]]*)\]/)),
    runpath: list(one(/\(RUNPATH\)\s+Library runpath: \[([^\]]*)\]/)),
    nodeflib: /\(FLAGS_1\).*NODEFLIB/.test(out),
  };
}

function context(root: string, extra: Partial<ResolveContext> = {}): ResolveContext {
  return { files: new DirFiles(root), loadElf: async (p) => readelf(join(root, p)), ...extra };
}

function gcc(args: string[]): void {
  execFileSync(needTool("gcc", "gcc"), args, { stdio: ["ignore", "ignore", "pipe"] });
}

const HOST_LIBC = realpathSync("/lib/x86_64-linux-gnu/libc.so.6");
const HOST_LOADER = realpathSync("/lib64/ld-linux-x86-64.so.2");

/** A root with the host's loader and libc at Debian's paths (merged /usr when `merged`). */
async function glibcRoot(opts: { merged?: boolean; libc?: boolean } = {}): Promise<string> {
  const root = await tmpdir("ldso-root-");
  const libdir = opts.merged ? "usr/lib/x86_64-linux-gnu" : "lib/x86_64-linux-gnu";
  mkdirSync(join(root, libdir), { recursive: true });
  if (opts.merged) {
    symlinkSync("usr/lib", join(root, "lib"));
    mkdirSync(join(root, "usr/lib64"), { recursive: true });
    symlinkSync("usr/lib64", join(root, "lib64"));
  } else mkdirSync(join(root, "lib64"));
  copyFileSync(HOST_LOADER, join(root, libdir, "ld-linux-x86-64.so.2"));
  symlinkSync(
    `/${libdir.replace(/^usr\//, opts.merged ? "usr/" : "")}/ld-linux-x86-64.so.2`,
    join(root, "lib64/ld-linux-x86-64.so.2"),
  );
  if (opts.libc !== false) copyFileSync(HOST_LIBC, join(root, libdir, "libc.so.6"));
  mkdirSync(join(root, "usr/bin"), { recursive: true });
  return root;
}

const HELLO = `#include <stdio.h>\nint main(void){puts("hi");return 0;}\n`;

test("a dynamic program: loader and libc found in the default directories, through merged-/usr symlinks", async () => {
  const src = join(await tmpdir("ldso-src-"), "hello.c");
  writeFileSync(src, HELLO);
  for (const merged of [false, true]) {
    const root = await glibcRoot({ merged });
    gcc(["-o", join(root, "usr/bin/hello"), src]);
    const c = await resolveClosure(
      "/usr/bin/hello",
      readelf(join(root, "usr/bin/hello")) as LinkObject,
      context(root),
    );
    assert.equal(c.flavour, "glibc");
    assert.equal(c.interpreter?.path, "/lib64/ld-linux-x86-64.so.2");
    const real = merged ? "/usr/lib/x86_64-linux-gnu" : "/lib/x86_64-linux-gnu";
    assert.equal(c.interpreter?.resolved, `${real}/ld-linux-x86-64.so.2`);
    assert.deepEqual(c.missing, []);
    assert.deepEqual(
      c.libraries.map((l) => [l.name, l.path, l.foundAt, l.via]),
      [["libc.so.6", `${real}/libc.so.6`, "/lib/x86_64-linux-gnu/libc.so.6", "default"]],
    );
  }
});

test("the image's ld.so.cache is used before the default directories; no libc and no loader are reported", async () => {
  const src = join(await tmpdir("ldso-src-"), "hello.c");
  writeFileSync(src, HELLO);
  const root = await glibcRoot();
  gcc(["-o", join(root, "usr/bin/hello"), src]);
  mkdirSync(join(root, "etc"));
  copyFileSync("/etc/ld.so.cache", join(root, "etc/ld.so.cache"));
  const elf = readelf(join(root, "usr/bin/hello")) as LinkObject;
  const c = await resolveClosure("/usr/bin/hello", elf, context(root));
  assert.deepEqual(
    c.libraries.map((l) => [l.name, l.via]),
    [["libc.so.6", "cache"]],
  );
  const bare = await tmpdir("ldso-bare-");
  mkdirSync(join(bare, "usr/bin"), { recursive: true });
  copyFileSync(join(root, "usr/bin/hello"), join(bare, "usr/bin/hello"));
  const broken = await resolveClosure("/usr/bin/hello", elf, context(bare));
  assert.equal(broken.interpreter?.resolved, null);
  assert.equal(broken.findings[0]?.code, "INTERPRETER_MISSING");
  assert.equal(broken.missing[0]?.name, "libc.so.6");
  assert.ok(
    broken.missing[0]?.searched.includes("/lib/x86_64-linux-gnu/libc.so.6"),
    broken.missing[0]?.searched.join(" "),
  );
});

test("RPATH is inherited by the libraries a program loads, RUNPATH is not: as the host's ld.so --list says", async () => {
  const dir = await tmpdir("ldso-origin-");
  writeFileSync(join(dir, "greet2.c"), "int greet2(void){return 2;}\n");
  writeFileSync(join(dir, "greet.c"), "int greet2(void);\nint greet(void){return greet2()+1;}\n");
  writeFileSync(join(dir, "main.c"), "int greet(void);\nint main(void){return greet();}\n");
  for (const [dtags, expectGreet2] of [
    ["--disable-new-dtags", "rpath"],
    ["--enable-new-dtags", "missing"],
  ] as const) {
    const root = await glibcRoot();
    mkdirSync(join(root, "app/lib"), { recursive: true });
    mkdirSync(join(root, "app/bin"), { recursive: true });
    gcc(["-shared", "-fPIC", "-o", join(root, "app/lib/libgreet2.so"), join(dir, "greet2.c")]);
    gcc([
      "-shared",
      "-fPIC",
      "-o",
      join(root, "app/lib/libgreet.so"),
      join(dir, "greet.c"),
      `-L${join(root, "app/lib")}`,
      "-lgreet2",
    ]);
    gcc([
      "-o",
      join(root, "app/bin/greet"),
      join(dir, "main.c"),
      `-L${join(root, "app/lib")}`,
      "-lgreet",
      `-Wl,${dtags}`,
      "-Wl,-rpath,$ORIGIN/../lib",
    ]);
    const exe = readelf(join(root, "app/bin/greet")) as LinkObject;
    assert.deepEqual(dtags === "--disable-new-dtags" ? exe.rpath : exe.runpath, ["$ORIGIN/../lib"]);
    const c = await resolveClosure("/app/bin/greet", exe, context(root));
    const greet = c.libraries.find((l) => l.name === "libgreet.so");
    assert.equal(greet?.path, "/app/lib/libgreet.so");
    assert.equal(greet?.via, dtags === "--disable-new-dtags" ? "rpath" : "runpath");
    const greet2 = c.libraries.find((l) => l.name === "libgreet2.so");
    assert.equal(greet2?.via ?? "missing", expectGreet2);
    if (expectGreet2 === "missing") assert.equal(c.missing[0]?.neededBy, "/app/lib/libgreet.so");
    // The oracle: the host's loader resolves $ORIGIN the same way (host libc, same relative layout).
    const list = spawnSync(HOST_LOADER, ["--list", join(root, "app/bin/greet")], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "" },
    });
    const hostSays =
      list.status === 0 && /libgreet2\.so => \//.test(list.stdout)
        ? "found"
        : /libgreet2\.so(: cannot open| => not found)/.test(list.stdout + list.stderr)
          ? "missing"
          : "unclear";
    assert.equal(hostSays, expectGreet2 === "missing" ? "missing" : "found", list.stdout + list.stderr);
  }
});

test("a candidate for another machine is skipped, as ld.so skips it; LD_LIBRARY_PATH and ld.so.conf includes are searched", async () => {
  const src = join(await tmpdir("ldso-src-"), "hello.c");
  writeFileSync(src, HELLO);
  const root = await glibcRoot({ libc: false });
  gcc(["-o", join(root, "usr/bin/hello"), src]);
  mkdirSync(join(root, "opt/wrong"), { recursive: true });
  mkdirSync(join(root, "opt/libs"), { recursive: true });
  const wrong = readFileSync(HOST_LIBC);
  wrong.writeUInt16LE(183, 18); // e_machine: aarch64
  writeFileSync(join(root, "opt/wrong/libc.so.6"), wrong);
  copyFileSync(HOST_LIBC, join(root, "opt/libs/libc.so.6"));
  mkdirSync(join(root, "etc/ld.so.conf.d"), { recursive: true });
  writeFileSync(join(root, "etc/ld.so.conf"), "# comment\ninclude /etc/ld.so.conf.d/*.conf\n");
  writeFileSync(join(root, "etc/ld.so.conf.d/libs.conf"), "/opt/libs\n");
  writeFileSync(join(root, "etc/ld.so.conf.d/ignored.txt"), "/nowhere\n");
  const elf = readelf(join(root, "usr/bin/hello")) as LinkObject;
  const c = await resolveClosure("/usr/bin/hello", elf, context(root, { ldLibraryPath: ["/opt/wrong"] }));
  assert.deepEqual(
    c.libraries.map((l) => [l.path, l.via]),
    [["/opt/libs/libc.so.6", "default"]],
  );
  const searchedWrong = await resolveClosure(
    "/usr/bin/hello",
    elf,
    context(root, { ldLibraryPath: ["/opt/libs"] }),
  );
  assert.equal(searchedWrong.libraries[0]?.via, "ld_library_path");
});

test("musl: libc is the loader itself; other libraries come from the ld-musl path file", async () => {
  const musl = needTool("musl-gcc", "musl-tools");
  const dir = await tmpdir("ldso-musl-");
  writeFileSync(join(dir, "hello.c"), HELLO);
  writeFileSync(join(dir, "x.c"), "int x(void){return 1;}\n");
  writeFileSync(join(dir, "main.c"), "int x(void);\nint main(void){return x();}\n");
  const root = await tmpdir("ldso-musl-root-");
  for (const d of ["lib", "usr/bin", "opt/x", "etc"]) mkdirSync(join(root, d), { recursive: true });
  copyFileSync(realpathSync("/lib/ld-musl-x86_64.so.1"), join(root, "lib/ld-musl-x86_64.so.1"));
  execFileSync(musl, ["-shared", "-fPIC", "-o", join(root, "opt/x/libx.so"), join(dir, "x.c")]);
  execFileSync(musl, [
    "-o",
    join(root, "usr/bin/main"),
    join(dir, "main.c"),
    `-L${join(root, "opt/x")}`,
    "-lx",
  ]);
  chmodSync(join(root, "usr/bin/main"), 0o755);
  const elf = readelf(join(root, "usr/bin/main")) as LinkObject;
  assert.equal(elf.interpreter, "/lib/ld-musl-x86_64.so.1");
  const without = await resolveClosure("/usr/bin/main", elf, context(root));
  assert.equal(without.flavour, "musl");
  assert.equal(without.interpreter?.resolved, "/lib/ld-musl-x86_64.so.1");
  assert.deepEqual(
    without.missing.map((m) => [m.name, m.searched]),
    [["libx.so", ["/lib/libx.so", "/usr/local/lib/libx.so", "/usr/lib/libx.so"]]],
    "libc.so is the loader; the default musl path is searched for the rest",
  );
  writeFileSync(join(root, "etc/ld-musl-x86_64.path"), "/opt/x\n/usr/lib\n");
  const withPath = await resolveClosure("/usr/bin/main", elf, context(root));
  assert.deepEqual(
    withPath.libraries.map((l) => [l.name, l.path, l.via]),
    [["libx.so", "/opt/x/libx.so", "musl-path"]],
  );
  assert.deepEqual(withPath.missing, []);
});

test("a static program has no closure", async () => {
  const src = join(await tmpdir("ldso-src-"), "hello.c");
  writeFileSync(src, HELLO);
  const root = await tmpdir("ldso-static-");
  gcc(["-static", "-o", join(root, "hello"), src]);
  const c = await resolveClosure("/hello", readelf(join(root, "hello")) as LinkObject, context(root));
  assert.deepEqual(c, { flavour: "static", interpreter: null, libraries: [], missing: [], findings: [] });
});
