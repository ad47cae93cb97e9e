import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { needTool } from "../../../test/fixtures/tools.ts";
import { CacheFlags, cacheArchFor, lookupCache, parseLdCache } from "./cache.ts";

test("the host's /etc/ld.so.cache reads exactly as `ldconfig -p` lists it", () => {
  const ldconfig = needTool("ldconfig", "libc-bin");
  const out = execFileSync(ldconfig, ["-p", "-C", "/etc/ld.so.cache"], { encoding: "utf8" });
  const want = out
    .split("\n")
    .slice(1)
    .map((l) => /^\t(\S+) \(([^)]*)\) => (\S+)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]} ${m[3]}`);
  const cache = parseLdCache(readFileSync("/etc/ld.so.cache"));
  assert.ok(cache);
  assert.equal(cache.format, "new");
  assert.deepEqual(cache.findings, []);
  assert.deepEqual(
    cache.entries.map((e) => `${e.name} ${e.path}`),
    want,
  );
  assert.ok(want.length > 50, "the host cache has a real number of entries");
  const libc = lookupCache(cache, "libc.so.6", cacheArchFor(64, 62));
  assert.deepEqual(libc, ["/lib/x86_64-linux-gnu/libc.so.6"]);
  assert.deepEqual(
    lookupCache(cache, "libc.so.6", cacheArchFor(64, 183)),
    [],
    "no aarch64 libc on this host",
  );
  assert.ok(cache.entries.every((e) => (e.flags & CacheFlags.TYPE_MASK) === CacheFlags.ELF_LIBC6));
});

test("a cut or corrupt cache is a finding, never a throw", () => {
  const whole = readFileSync("/etc/ld.so.cache");
  assert.equal(parseLdCache(Buffer.from("not a cache at all")), undefined);
  for (const cut of [20, 47, 48, 100, 1000, whole.length - 1]) {
    const c = parseLdCache(whole.subarray(0, cut));
    assert.ok(c, `cut at ${cut}`);
    if (cut < whole.length - 1) assert.ok(c.findings.length > 0 || c.entries.length > 0, `cut at ${cut}`);
  }
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.from(whole);
    for (let k = 0; k < 8; k++) b[Math.floor(Math.random() * b.length)] = Math.floor(Math.random() * 256);
    parseLdCache(b);
  }
  const huge = Buffer.from(whole.subarray(0, 48));
  huge.writeUInt32LE(0xffffffff, 20);
  assert.equal(parseLdCache(huge)?.findings[0]?.code, "LDCACHE_TRUNCATED");
});
