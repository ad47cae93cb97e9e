// `osless slim` through the CLI, with real images, runc and strace: a Debian minbase image whose entrypoint is a
// dynamically linked C program that dlopen()s zlib; the same image with a shell-script entrypoint; the article's
// static hello (nothing to remove); a busybox httpd server probed over HTTP; and bad input.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { HELLO_C, staticProgram } from "../fixtures/programs.ts";
import { debianMinbaseTarXz } from "../fixtures/rootfs.ts";
import { needTool, tmpdir } from "../fixtures/tools.ts";
import { osless } from "./cli.ts";

needTool("runc", "runc");
needTool("strace", "strace");
needTool("gcc", "gcc");

// Greets with argv[1]; loads zlib with dlopen (no DT_NEEDED entry: only a trace can find it); "fail" exits 3.
const DLOPEN_C = `#include <stdio.h>
#include <string.h>
#include <dlfcn.h>
int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "fail") == 0) { fputs("asked to fail\\n", stderr); return 3; }
  void *z = dlopen("libz.so.1", RTLD_NOW);
  const char *(*v)(void) = z ? (const char *(*)(void))dlsym(z, "zlibVersion") : 0;
  printf("hello from %s, zlib %s\\n", argc > 1 ? argv[1] : "a dynamic program", v ? v() : "missing");
  return v ? 0 : 2;
}
`;

interface SlimJson {
  image: { id: string; digest: string; names: string[] } | null;
  nothingToRemove: boolean;
  kept: { path: string; reasons: string[]; traced: boolean }[];
  traced: { files: number; processes: number } | null;
  before: {
    verdict: string;
    files: number;
    bytes: number;
    shells: string[];
    packageManagers: string[];
    setuid: string[];
  };
  after: SlimJson["before"] | null;
  probe: { original: { status: number; stdout: string }; slim: { status: number; stdout: string } | null };
}

async function context(files: Record<string, string | { copy: string }>): Promise<string> {
  const dir = await tmpdir("slim-ctx-");
  for (const [name, content] of Object.entries(files)) {
    const p = join(dir, name);
    mkdirSync(join(p, ".."), { recursive: true });
    if (typeof content === "string") writeFileSync(p, content);
    else copyFileSync(content.copy, p);
  }
  return dir;
}

async function build(root: string, ctx: string, tag: string): Promise<void> {
  const r = await osless(root, ["build", "-q", "-t", tag, ctx]);
  assert.equal(r.code, 0, r.stderr);
}

async function images(root: string): Promise<string> {
  const r = await osless(root, ["images", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** One store with the Debian images, built once for the tests below. */
let debian: Promise<string> | undefined;
function debianStore(): Promise<string> {
  debian ??= (async () => {
    const root = join(await tmpdir("slim-e2e-"), "store");
    const work = await tmpdir("slim-prog-");
    const prog = join(work, "prog");
    writeFileSync(join(work, "prog.c"), DLOPEN_C);
    execFileSync("gcc", ["-O2", "-o", prog, join(work, "prog.c")]);
    const ctx = await context({
      Dockerfile: [
        "FROM scratch",
        "ADD rootfs.tar.xz /",
        "COPY prog /usr/local/bin/prog",
        "COPY greet.sh /usr/local/bin/greet.sh",
        "COPY greeting /etc/greeting",
        "ENV GREETING_MODE=friendly",
        "EXPOSE 8080",
        "LABEL org.example.team=osless",
        "WORKDIR /srv",
        "USER nobody",
        'ENTRYPOINT ["/usr/local/bin/prog"]',
        "",
      ].join("\n"),
      "rootfs.tar.xz": { copy: await debianMinbaseTarXz() },
      prog: { copy: prog },
      "greet.sh": '#!/bin/sh\necho "$(cat /etc/greeting), $1"\n',
      greeting: "good morning",
    });
    execFileSync("chmod", ["755", join(ctx, "greet.sh")]);
    await build(root, ctx, "dyn");
    await build(
      root,
      await context({ Dockerfile: 'FROM dyn\nENTRYPOINT ["/usr/local/bin/greet.sh"]\nCMD ["world"]\n' }),
      "script",
    );
    return root;
  })();
  return debian;
}

test("a Debian minbase image with a dynamic C program becomes ≤ 5 % of its size, prints the same, keeps the dlopen()ed zlib found by tracing", async () => {
  const root = await debianStore();
  const r = await osless(root, ["slim", "dyn", "-t", "dyn:slim", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as SlimJson;
  assert.ok(rep.image, "an image was written");
  assert.deepEqual(rep.image.names, ["docker.io/library/dyn:slim"]);
  assert.equal(rep.before.verdict, "full");
  assert.ok(
    rep.before.shells.length > 0 && rep.before.packageManagers.length > 0 && rep.before.setuid.length > 0,
  );
  assert.ok(rep.after, "the slim image was analysed");
  assert.ok(rep.after.bytes <= 0.05 * rep.before.bytes, `${rep.after.bytes} of ${rep.before.bytes} bytes`);
  assert.deepEqual([rep.after.shells, rep.after.packageManagers, rep.after.setuid], [[], [], []]);
  assert.notEqual(rep.after.verdict, "full");
  const kept = new Map(rep.kept.map((k) => [k.path, k]));
  assert.match(kept.get("/usr/local/bin/prog")?.reasons.join() ?? "", /entrypoint/);
  assert.match(kept.get("/usr/lib/x86_64-linux-gnu/libc.so.6")?.reasons.join() ?? "", /library libc\.so\.6/);
  assert.ok(kept.has("/lib64"), "the loader's symlink chain is kept");
  const zlib = rep.kept.find((k) => /\/libz\.so\.1\.[0-9.]+$/.test(k.path));
  assert.ok(
    zlib?.traced,
    `zlib is kept because the run opened it, and for no other reason: ${JSON.stringify(zlib)}`,
  );
  assert.equal(rep.probe.original.stdout, rep.probe.slim?.stdout);
  assert.match(rep.probe.original.stdout, /^hello from a dynamic program, zlib 1\.\d/);
  // The slim image runs by itself, and carries the source's config and a label naming it.
  const run = await osless(root, ["run", "--rm", "dyn:slim", "again"]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^hello from again, zlib 1\.\d/);
  const insp = await osless(root, ["inspect", "--type", "image", "dyn:slim"]);
  type Cfg = {
    Config: {
      Entrypoint: string[];
      Env: string[];
      User: string;
      WorkingDir: string;
      ExposedPorts: Record<string, unknown>;
      Labels: Record<string, string>;
    };
    RootFS: { Layers: string[] };
  };
  const cfg = (JSON.parse(insp.stdout) as Cfg[])[0]!;
  assert.deepEqual(cfg.Config.Entrypoint, ["/usr/local/bin/prog"]);
  assert.ok(cfg.Config.Env.includes("GREETING_MODE=friendly"));
  assert.deepEqual(
    [cfg.Config.User, cfg.Config.WorkingDir, Object.keys(cfg.Config.ExposedPorts)],
    ["nobody", "/srv", ["8080/tcp"]],
  );
  assert.equal(cfg.Config.Labels["org.example.team"], "osless");
  // USER nobody: passwd and group are kept, cut down to root and nobody; the program ran as nobody.
  assert.match(kept.get("/etc/passwd")?.reasons.join() ?? "", /USER nobody.*cut to root and nobody/);
  assert.match(kept.get("/srv")?.reasons.join() ?? "", /WORKDIR/);
  assert.match(
    cfg.Config.Labels["org.osless.slim.source"] ?? "",
    /^docker\.io\/library\/dyn:latest@sha256:[0-9a-f]{64}$/,
  );
  assert.equal(cfg.RootFS.Layers.length, 1);
  const bash = await osless(root, ["run", "--rm", "--entrypoint", "/bin/sh", "dyn:slim"]);
  assert.equal(bash.code, 127, "no shell is left");
});

test("without the trace, the static plan misses the dlopen()ed library: verification fails and nothing is tagged", async () => {
  const root = await debianStore();
  const before = await images(root);
  const r = await osless(root, ["slim", "dyn", "-t", "dyn:static-only", "--no-trace"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /the slim image does not behave as the original: exit status 0 became 2/);
  assert.match(r.stderr, /--include/);
  assert.equal(await images(root), before, "the store's images are as before");
});

test("a shell-script entrypoint keeps its shell, and the programs the script ran (found by tracing)", async () => {
  const root = await debianStore();
  const r = await osless(root, ["slim", "script", "-t", "script:slim", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as SlimJson;
  const kept = new Map(rep.kept.map((k) => [k.path, k]));
  assert.match(kept.get("/usr/local/bin/greet.sh")?.reasons.join() ?? "", /entrypoint/);
  assert.match(
    kept.get("/usr/bin/dash")?.reasons.join() ?? "",
    /interpreter of \/usr\/local\/bin\/greet\.sh/,
  );
  assert.ok(kept.get("/usr/bin/cat")?.traced, "cat is found by tracing the script's run");
  assert.ok(kept.get("/etc/greeting")?.traced);
  assert.ok(rep.after && rep.after.shells.length > 0, "the shell stays");
  assert.equal(rep.probe.slim?.stdout, "good morning, world\n");
  const run = await osless(root, ["run", "--rm", "script:slim", "there"]);
  assert.equal(run.stdout, "good morning, there\n");
});

test("the article's static hello: nothing to remove, and no image is written", async () => {
  const root = join(await tmpdir("slim-hello-"), "store");
  const hello = await staticProgram("hello", HELLO_C);
  const ctx = await context({
    Dockerfile: 'FROM scratch\nCOPY hello /\nCMD ["/hello"]\n',
    hello: { copy: hello },
  });
  execFileSync("chmod", ["755", join(ctx, "hello")]);
  await build(root, ctx, "hello");
  const before = await images(root);
  const r = await osless(root, ["slim", "hello", "-t", "hello:slim"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Nothing to remove: every file of docker\.io\/library\/hello:latest is needed/);
  assert.match(r.stdout, /No image was written/);
  assert.equal(await images(root), before);
});

test("a server is probed over HTTP: the page it served is kept (traced), the others go unless --include keeps them", async () => {
  const root = join(await tmpdir("slim-httpd-"), "store");
  const port = await freePort();
  const { IMAGES, ociLayout } = await import("../fixtures/images.ts");
  const c = await osless(root, ["copy", "-q", `oci:${await ociLayout(IMAGES.busybox)}:latest`, "busybox"]);
  assert.equal(c.code, 0, c.stderr);
  const ctx = await context({
    Dockerfile: `FROM busybox\nCOPY www /www\nENTRYPOINT ["/bin/busybox", "httpd", "-f", "-p", "127.0.0.1:${port}", "-h", "/www"]\n`,
    "www/index.html": "<h1>served</h1>\n",
    "www/extra/other.html": "not asked for\n",
  });
  await build(root, ctx, "web");
  const r = await osless(root, ["slim", "web", "-t", "web:slim", "--http-probe", `${port}`, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as SlimJson & {
    probe: { original: { http?: { status: number; body: string } } };
  };
  assert.deepEqual(rep.probe.original.http, { status: 200, body: "<h1>served</h1>\n" });
  const paths = rep.kept.map((k) => k.path);
  assert.ok(rep.kept.find((k) => k.path === "/www/index.html")?.traced);
  assert.ok(!paths.includes("/www/extra/other.html"));
  assert.ok(rep.after && rep.after.files < rep.before.files);
  const inc = await osless(root, [
    "slim",
    "web",
    "-t",
    "web:slim2",
    "--http-probe",
    `${port}`,
    "--include",
    "/www/extra",
    "--json",
  ]);
  assert.equal(inc.code, 0, inc.stderr);
  const rep2 = JSON.parse(inc.stdout) as SlimJson;
  // A server that does not answer on the probed port, and a port something else holds: errors, nothing tagged.
  const before = await images(root);
  const other = await freePort();
  const silent = await osless(root, [
    "slim",
    "web",
    "-t",
    "web:x",
    "--http-probe",
    `${other}`,
    "--timeout",
    "3",
  ]);
  assert.equal(silent.code, 1);
  assert.match(silent.stderr, new RegExp(`GET http://127\\.0\\.0\\.1:${other}/ got no answer`));
  const holder = createServer().listen(other, "127.0.0.1");
  await new Promise((r) => holder.once("listening", r));
  try {
    const taken = await osless(root, ["slim", "web", "-t", "web:x", "--http-probe", `${other}`]);
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, new RegExp(`--http-probe ${other}: the port is in use on this host`));
  } finally {
    holder.close();
  }
  assert.equal(await images(root), before);
  assert.match(rep2.kept.find((k) => k.path === "/www/extra/other.html")?.reasons.join() ?? "", /--include/);
});

test("bad input: a missing entrypoint, a probe that fails on the original, no strace: clear errors, nothing written", async () => {
  const root = await debianStore();
  await build(root, await context({ Dockerfile: 'FROM dyn\nENTRYPOINT ["/nope"]\n' }), "broken");
  const before = await images(root);
  const missing = await osless(root, ["slim", "broken", "-t", "broken:slim"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /the entrypoint \/nope of broken is not in the image/);
  const failing = await osless(root, ["slim", "dyn", "-t", "dyn:fail", "--probe", "fail"]);
  assert.equal(failing.code, 1);
  assert.match(
    failing.stderr,
    /the probe fails on the original image: exit status 3; its output ends: asked to fail/,
  );
  const noTracer = await osless(root, ["slim", "dyn", "-t", "dyn:x"], { env: { PATH: "/nonexistent" } });
  assert.equal(noTracer.code, 1);
  assert.match(noTracer.stderr, /strace, which is not installed/);
  assert.match(noTracer.stderr, /apt-get install strace/);
  const noTag = await osless(root, ["slim", "dyn"]);
  assert.equal(noTag.code, 2);
  assert.match(noTag.stderr, /slim needs a name for the new image/);
  assert.equal(await images(root), before, "the store's images are as before");
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a ? a.port : 0));
    });
  });
}
