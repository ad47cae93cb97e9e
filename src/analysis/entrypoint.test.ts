import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { needTool, tmpdir } from "../../test/fixtures/tools.ts";
import { DirFiles } from "./dir-files.ts";
import { DEFAULT_PATH, firstCommandWord, imagePath, resolveEntrypoint } from "./entrypoint.ts";

/** A root with a real static program, busybox and a few scripts. */
async function root(): Promise<string> {
  const r = await tmpdir("entrypoint-");
  for (const d of ["bin", "usr/bin", "app", "etc"]) mkdirSync(join(r, d), { recursive: true });
  const src = join(await tmpdir("entrypoint-src-"), "hello.c");
  writeFileSync(src, `#include <stdio.h>\nint main(void){puts("hi");return 0;}\n`);
  execFileSync(needTool("gcc", "gcc"), ["-static", "-o", join(r, "hello"), src]);
  copyFileSync(needTool("/bin/busybox", "busybox-static"), join(r, "bin/busybox"));
  chmodSync(join(r, "bin/busybox"), 0o755);
  symlinkSync("busybox", join(r, "bin/sh"));
  symlinkSync("/bin/busybox", join(r, "usr/bin/env"));
  const script = (p: string, text: string, mode = 0o755) => {
    writeFileSync(join(r, p), text);
    chmodSync(join(r, p), mode);
  };
  script("app/run.sh", "#!/bin/sh\nexec /hello\n");
  script("app/tool.py", "#!/usr/bin/env python3\nprint(1)\n");
  script("app/crlf.sh", "#!/bin/sh -e\r\necho\r\n");
  script("app/noexec.sh", "#!/bin/sh\n", 0o644);
  script("app/text", "just text\n");
  script("app/loop", "#!/app/loop\n");
  script("app/nointerp.sh", "#!/opt/missing/bash\n");
  return r;
}

test("ELF programs: absolute, PATH lookup (the image's PATH, else Docker's), relative to WORKDIR, through symlinks", async () => {
  const f = new DirFiles(await root());
  const abs = await resolveEntrypoint(f, { entrypoint: ["/hello"] });
  assert.deepEqual(abs.program, { name: "/hello", path: "/hello", foundAt: "/hello", kind: "elf" });
  assert.deepEqual(abs.findings, []);
  const sh = await resolveEntrypoint(f, { cmd: ["sh"], env: ["PATH=/usr/bin:/bin"] });
  assert.equal(sh.program?.foundAt, "/bin/sh");
  assert.equal(sh.program?.path, "/bin/busybox");
  assert.equal(sh.program?.kind, "elf");
  assert.equal(sh.path, "/usr/bin:/bin");
  assert.equal((await resolveEntrypoint(f, { cmd: ["sh"] })).path, DEFAULT_PATH);
  const rel = await resolveEntrypoint(f, { entrypoint: ["./run.sh"], workingDir: "/app" });
  assert.equal(rel.program?.path, "/app/run.sh");
  assert.deepEqual(await resolveEntrypoint(f, { entrypoint: ["/hello"], cmd: ["--x"] }).then((r) => r.argv), [
    "/hello",
    "--x",
  ]);
});

test("scripts: the interpreter is resolved (recursively), env NAME is looked up in PATH, CR and options handled", async () => {
  const f = new DirFiles(await root());
  const run = await resolveEntrypoint(f, { entrypoint: ["/app/run.sh"] });
  assert.equal(run.program?.kind, "script");
  assert.equal(run.program?.shebang?.interpreter, "/bin/sh");
  assert.equal(run.program?.shebang?.program.path, "/bin/busybox");
  assert.equal(run.program?.shebang?.program.kind, "elf");
  const py = await resolveEntrypoint(f, { entrypoint: ["/app/tool.py"] });
  assert.equal(py.program?.shebang?.program.path, "/bin/busybox", "/usr/bin/env is busybox here");
  assert.equal(py.program?.envProgram?.kind, "missing");
  assert.deepEqual(
    py.findings.map((x) => x.code),
    ["PROGRAM_NOT_FOUND"],
  );
  const crlf = await resolveEntrypoint(f, { entrypoint: ["/app/crlf.sh"] });
  assert.equal(crlf.program?.shebang?.arg, "-e");
  assert.equal(crlf.program?.shebang?.program.path, "/bin/busybox");
});

test("failures are findings: missing, not executable, not a file, no format, missing interpreter, interpreter loops, no command", async () => {
  const f = new DirFiles(await root());
  const cases: [Parameters<typeof resolveEntrypoint>[1], string, string][] = [
    [{ entrypoint: ["/nope"] }, "missing", "PROGRAM_NOT_FOUND"],
    [{ cmd: ["nope"] }, "missing", "PROGRAM_NOT_FOUND"],
    [{ entrypoint: ["/app/noexec.sh"] }, "not-executable", "PROGRAM_NOT_EXECUTABLE"],
    [{ entrypoint: ["/app"] }, "not-a-file", "PROGRAM_NOT_A_FILE"],
    [{ entrypoint: ["/app/text"] }, "unknown-format", "PROGRAM_UNKNOWN_FORMAT"],
    [{ entrypoint: ["/app/nointerp.sh"] }, "script", "PROGRAM_NOT_FOUND"],
    [{ entrypoint: ["/app/loop"] }, "script", "SHEBANG_TOO_DEEP"],
  ];
  for (const [config, kind, code] of cases) {
    const r = await resolveEntrypoint(f, config);
    assert.equal(r.program?.kind, kind, JSON.stringify(config));
    assert.ok(
      r.findings.some((x) => x.code === code),
      `${JSON.stringify(config)}: ${JSON.stringify(r.findings)}`,
    );
  }
  const none = await resolveEntrypoint(f, {});
  assert.equal(none.program, null);
  assert.equal(none.findings[0]?.code, "NO_COMMAND");
});

test("sh -c: the command string's first program is resolved; builtins and expansions are not", async () => {
  const f = new DirFiles(await root());
  const exec = await resolveEntrypoint(f, { entrypoint: ["/bin/sh", "-c"], cmd: ["exec /hello --port 80"] });
  assert.equal(exec.shellCommand?.command, "exec /hello --port 80");
  assert.equal(exec.shellCommand?.program?.path, "/hello");
  const builtin = await resolveEntrypoint(f, { cmd: ["sh", "-c", "echo $HOME"] });
  assert.equal(builtin.shellCommand?.program, null);
  assert.deepEqual(builtin.findings, []);
  const ec = await resolveEntrypoint(f, { cmd: ["sh", "-ec", "FOO=1 hello"], env: ["PATH=/"] });
  assert.equal(ec.shellCommand?.program?.path, "/hello");
  assert.equal(firstCommandWord("$CMD --x"), undefined);
  assert.equal(firstCommandWord("  A=1 B=2 exec prog x"), "prog");
  assert.equal(firstCommandWord('"quoted" x'), undefined);
  assert.equal(imagePath(["A=1", "PATH=/a", "PATH=/b"]), "/b");
});
