// The command users run: bin/osless.js starts the one-file bundle dist/osless.cjs (built by `npm run build`, which
// `npm test` and CI run first). The other e2e tests drive the TypeScript sources; this one checks that the bundle
// is current and does the same work: load, push, pull, unpack, fsck.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { IMAGES, ociLayout } from "../fixtures/images.ts";
import { startRegistry, type TestRegistry } from "../fixtures/registry.ts";
import { tmpdir } from "../fixtures/tools.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const BIN = join(ROOT, "bin/osless.js");
const BUNDLE = join(ROOT, "dist/osless.cjs");
const RUN_BUNDLE = join(ROOT, "dist/osless-run.cjs");

let reg: TestRegistry;

before(async () => {
  reg = await startRegistry({ logLevel: "error" });
});

after(async () => {
  await reg?.stop();
});

function bin(
  root: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, OSLESS_ROOT: root, NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

function newestSource(dir: string): { path: string; mtime: number } {
  let best = { path: "", mtime: 0 };
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    const cand = e.isDirectory() ? newestSource(p) : { path: p, mtime: statSync(p).mtimeMs };
    if (cand.mtime > best.mtime) best = cand;
  }
  return best;
}

test("the bundles exist and are newer than every source file", () => {
  for (const file of [BUNDLE, RUN_BUNDLE]) {
    let built: number;
    try {
      built = statSync(file).mtimeMs;
    } catch {
      assert.fail(`${file} is missing: run \`npm run build\``);
    }
    const src = newestSource(join(ROOT, "src"));
    assert.ok(built >= src.mtime, `${src.path} is newer than ${file}: run \`npm run build\``);
  }
});

test("bin/osless.js sends exactly the container commands to the run bundle, which has them all", async () => {
  const { CONTAINER_COMMANDS } = await import("../../src/cli/program.ts");
  const binText = await readFile(BIN, "utf8");
  const listed = /const CONTAINER_COMMANDS = new Set\((\[[^\]]*\])\)/.exec(binText)?.[1];
  assert.ok(listed, "bin/osless.js lists its container commands");
  assert.deepEqual(
    [...listed!.matchAll(/"([^"]+)"/g)].map((m) => m[1]),
    [...CONTAINER_COMMANDS],
  );
  const root = join(await tmpdir("bundle-run-"), "store");
  const help = await bin(root, ["--help"]);
  for (const c of CONTAINER_COMMANDS.filter((c) => !c.startsWith("__"))) {
    assert.match(help.stdout, new RegExp(`^  ${c} `, "m"), `main bundle: ${c}`);
    const h = await bin(root, [c, "--help"]);
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stdout, new RegExp(`^Usage: osless ${c} `), `run bundle: ${c}`);
  }
  const ps = await bin(root, ["--root", root, "ps", "-a"]);
  assert.equal(ps.code, 0, ps.stderr);
  assert.match(ps.stdout, /^CONTAINER ID\s+IMAGE/);
});

test("bin/osless.js (the bundle): load, push, pull, unpack and fsck work", async () => {
  const a = join(await tmpdir("bundle-a-"), "store");
  const version = await bin(a, ["--version"]);
  assert.equal(version.stdout.trim(), JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")).version);
  const load = await bin(a, ["load", "--json", "-i", `oci:${await ociLayout(IMAGES.busybox)}:latest`]);
  assert.equal(load.code, 0, load.stderr);
  const id = (JSON.parse(load.stdout) as { images: { id: string }[] }).images[0]?.id as string;
  const name = `${reg.host}/bundle/bb:1`;
  assert.equal((await bin(a, ["tag", id, name])).code, 0);
  const push = await bin(a, ["push", "--json", name]);
  assert.equal(push.code, 0, push.stderr);
  const b = join(await tmpdir("bundle-b-"), "store");
  const pull = await bin(b, ["pull", "--json", name]);
  assert.equal(pull.code, 0, pull.stderr);
  assert.equal((JSON.parse(pull.stdout) as { id: string }).id, id);
  assert.equal(
    (JSON.parse(pull.stdout) as { digest: string }).digest,
    (JSON.parse(push.stdout) as { digest: string }).digest,
  );
  const dir = join(await tmpdir("bundle-unpack-"), "rootfs");
  const unpack = await bin(b, ["unpack", "-q", name, dir]);
  assert.equal(unpack.code, 0, unpack.stderr);
  assert.ok(statSync(join(dir, "bin/busybox")).isFile());
  const fsck = await bin(b, ["fsck", "--json"]);
  assert.equal(fsck.code, 0, fsck.stdout);
  assert.deepEqual((JSON.parse(fsck.stdout) as { problems: unknown[] }).problems, []);
});

test("the bundle's V8 code cache: written on the first run, used after, a bad one rewritten, a foreign one ignored", async () => {
  const { readdirSync: ls, writeFileSync, chmodSync, readFileSync } = await import("node:fs");
  const home = await tmpdir("bundle-cache-");
  const root = join(await tmpdir("bundle-cache-store-"), "store");
  const env = { XDG_CACHE_HOME: home };
  const dir = join(home, "osless", "code-cache");
  assert.equal((await bin(root, ["ps"], env)).code, 0);
  const files = ls(dir);
  assert.equal(files.length, 1);
  assert.match(files[0]!, /^osless-run\.cjs-[0-9a-f]+$/);
  const file = join(dir, files[0]!);
  const first = readFileSync(file);
  assert.ok(first.length > 10_000, "the cache holds compiled code");
  // Used as is: a second run does not rewrite it.
  assert.equal((await bin(root, ["ps"], env)).code, 0);
  assert.deepEqual(readFileSync(file), first);
  // Garbage is rejected by V8 and replaced; the caches of earlier builds go when a cache is written.
  writeFileSync(file, "not a code cache");
  chmodSync(file, 0o600);
  writeFileSync(join(dir, "osless-run.cjs-0123abcd"), "an earlier build's cache");
  writeFileSync(join(dir, "osless.cjs-0123abcd"), "the other bundle's: kept");
  const ps = await bin(root, ["ps"], env);
  assert.equal(ps.code, 0, ps.stderr);
  assert.ok(readFileSync(file).length > 10_000);
  assert.deepEqual(ls(dir).sort(), [files[0]!, "osless.cjs-0123abcd"].sort());
  // A cache others could have written is not read (nor trusted): the command still runs.
  chmodSync(file, 0o666);
  const ignored = await bin(root, ["ps"], env);
  assert.equal(ignored.code, 0, ignored.stderr);
  // A cache home where nothing can be made is no cache, not a hang or an error.
  assert.equal((await bin(root, ["ps"], { XDG_CACHE_HOME: "/proc/osless-no-cache" })).code, 0);
});

test("a reader that goes away ends the command quietly with 141, as SIGPIPE would (no stack trace)", async () => {
  const root = join(await tmpdir("bundle-epipe-"), "store");
  const load = await bin(root, ["load", "--json", "-i", `oci:${await ociLayout(IMAGES.busybox)}:latest`]);
  assert.equal(load.code, 0, load.stderr);
  const id = (JSON.parse(load.stdout) as { images: { id: string }[] }).images[0]?.id as string;
  const child = spawn(process.execPath, [BIN, "explore", "--json", id], {
    env: { ...process.env, OSLESS_ROOT: root },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => {
    stderr += b.toString();
  });
  // Our end is closed before the command writes anything: its first write fails with EPIPE.
  child.stdout.destroy();
  const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
  assert.equal(code, 141, stderr);
  assert.doesNotMatch(stderr, /EPIPE|at /);
});

test("the bundles use only the child_process functions its lazy stand-in provides (scripts/bundle.mjs)", async () => {
  const script = await readFile(join(ROOT, "scripts/bundle.mjs"), "utf8");
  const list = /const CHILD_PROCESS_FUNCTIONS = \[([^\]]*)\]/.exec(script)?.[1];
  assert.ok(list, "bundle.mjs lists the stand-in's functions");
  const provided = new Set([...list.matchAll(/"(\w+)"/g)].map((m) => m[1]!));
  for (const name of ["osless.cjs", "osless-run.cjs"]) {
    const text = await readFile(join(ROOT, "dist", name), "utf8");
    // Every binding of the stand-in module, and every member read through it.
    const bindings = [...text.matchAll(/([\w$]+)\s*=\s*(?:__toESM\()?require_child_process\(\)/g)].map(
      (m) => m[1]!,
    );
    assert.ok(bindings.length > 0, `${name} loads the stand-in`);
    const used = new Set<string>();
    for (const b of new Set(bindings)) {
      for (const m of text.matchAll(new RegExp(`\\b${b.replace(/\$/g, "\\$")}\\.([\\w$]+)`, "g")))
        used.add(m[1]!);
    }
    assert.ok(used.size > 0, `${name} calls child_process`);
    for (const u of used)
      assert.ok(provided.has(u), `${name} uses child_process.${u}, which the stand-in lacks`);
    // Nothing reaches the real module but the stand-in's own functions.
    assert.equal(text.match(/require\("node:child_process"\)/g)?.length, provided.size, name);
  }
});
