import assert from "node:assert/strict";
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { needTool, tmpdir } from "../../test/fixtures/tools.ts";
import { isOslessError } from "../errors.ts";
import {
  cgroupMode,
  findRuntime,
  parseSignal,
  runtimeArgv,
  runtimeMessage,
  runtimeVersion,
} from "./runtime.ts";

test("findRuntime: a missing runtime names the Debian package to install", async () => {
  const empty = await tmpdir("rt-empty-");
  const env = { PATH: empty };
  assert.throws(
    () => findRuntime(undefined, { env, fallbackDirs: [] }),
    (e) => isOslessError(e, "E_RUNTIME_MISSING") && /apt-get install runc/.test(e.hint ?? ""),
  );
  assert.throws(
    () => findRuntime("crun", { env, fallbackDirs: [] }),
    (e) => isOslessError(e, "E_RUNTIME_MISSING") && /apt-get install crun/.test(e.hint ?? ""),
  );
  assert.throws(
    () => findRuntime("kata", { env }),
    (e) => isOslessError(e, "E_USAGE") && /runc and crun/.test(e.message),
  );
});

test("findRuntime: runc by default, crun when only crun is there; a writable or foreign binary is refused", async () => {
  const runc = needTool("runc", "runc");
  const crun = needTool("crun", "crun");
  const dir = await tmpdir("rt-bin-");
  const onlyCrun = join(dir, "only-crun");
  mkdirSync(onlyCrun);
  copyFileSync(crun, join(onlyCrun, "crun"));
  chmodSync(join(onlyCrun, "crun"), 0o755);
  const found = findRuntime(undefined, { env: { PATH: onlyCrun }, fallbackDirs: [] });
  assert.equal(found.name, "crun");
  assert.equal(found.path, join(onlyCrun, "crun"));
  assert.equal(findRuntime(undefined).name, "runc");
  assert.equal(findRuntime(undefined).path, runc);

  const writable = join(dir, "writable");
  mkdirSync(writable);
  copyFileSync(runc, join(writable, "runc"));
  chmodSync(join(writable, "runc"), 0o777);
  assert.throws(
    () => findRuntime("runc", { env: { PATH: writable }, fallbackDirs: [] }),
    (e) => isOslessError(e, "E_RUNTIME") && /CVE-2019-5736/.test(e.hint ?? "") && /writable/.test(e.message),
  );
  chmodSync(join(writable, "runc"), 0o755);
  chownSync(join(writable, "runc"), 1000, 1000);
  assert.throws(
    () => findRuntime("runc", { env: { PATH: writable }, fallbackDirs: [] }),
    (e) => isOslessError(e, "E_RUNTIME") && /not owned by root/.test(e.message),
  );
});

test("crun on a cgroup v1 hybrid host runs in a private mount namespace without the v2 mount", () => {
  needTool("crun", "crun");
  const rt = findRuntime("crun");
  const mode = cgroupMode();
  const hybrid =
    existsSync("/sys/fs/cgroup/unified/cgroup.controllers") &&
    !existsSync("/sys/fs/cgroup/cgroup.controllers");
  assert.equal(mode === "hybrid", hybrid);
  if (mode === "hybrid") {
    assert.match(
      rt.command.join(" "),
      /unshare --mount --propagation private .* -c umount \/sys\/fs\/cgroup\/unified/,
    );
    assert.equal(rt.command.at(-1), rt.path);
  } else assert.deepEqual(rt.command, [rt.path]);
  const argv = runtimeArgv(rt, "state", ["x"], { log: "/tmp/l" });
  assert.deepEqual(argv.slice(rt.command.length), [
    "--root",
    rt.stateRoot,
    "--log",
    "/tmp/l",
    "--log-format",
    "json",
    "state",
    "x",
  ]);
});

test("runtimeVersion reads runc's version and warns about the CVEs its version lacks", () => {
  const rt = findRuntime("runc");
  const v = runtimeVersion(rt);
  assert.match(v.version, /^\d+\.\d+\.\d+/);
  const [maj, min, patch] = v.version.split(/[.+]/).map(Number);
  const old = maj! * 10_000 + min! * 100 + patch! < 10_208;
  assert.equal(
    v.warnings.some((w) => /CVE-2025-31133/.test(w)),
    old,
  );
});

test("parseSignal takes docker's forms; runtimeMessage finds the runtime's error", () => {
  assert.equal(parseSignal("TERM"), "SIGTERM");
  assert.equal(parseSignal("sigkill"), "SIGKILL");
  assert.equal(parseSignal("1"), "SIGHUP");
  assert.equal(parseSignal("40"), "40");
  assert.throws(
    () => parseSignal("NOPE"),
    (e) => isOslessError(e, "E_USAGE"),
  );
  assert.throws(
    () => parseSignal("99"),
    (e) => isOslessError(e, "E_USAGE"),
  );
  assert.equal(
    runtimeMessage(
      'time="2026-01-01" level=warning msg="x"\ntime="2026-01-01" level=error msg="container \\"a\\" does not exist"\n',
    ),
    'container "a" does not exist',
  );
  assert.equal(runtimeMessage('{"level":"error","msg":"boom","time":"t"}\n'), "boom");
  assert.equal(runtimeMessage(""), "(no message)");
});
