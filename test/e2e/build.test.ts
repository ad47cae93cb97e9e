// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the Dockerfiles these tests build use their own ${VAR} syntax
// `osless build` through the CLI: the article's Dockerfiles verbatim (FROM scratch + COPY of a static program;
// FROM scratch + ADD of a debootstrap rootfs.tar.xz; a two-stage build compiling with gcc in a Debian stage),
// caching, reproducibility, .dockerignore, interop with podman, and bad input.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { HELLO_C, staticProgram } from "../fixtures/programs.ts";
import { debianGccTar, debianMinbaseTarXz } from "../fixtures/rootfs.ts";
import { needTool, tmpdir } from "../fixtures/tools.ts";
import { osless } from "./cli.ts";

needTool("runc", "runc");

/** Put the busybox image into the store at `root` as "busybox". */
async function addBusybox(root: string): Promise<void> {
  const { IMAGES, ociLayout } = await import("../fixtures/images.ts");
  const r = await osless(root, ["copy", "-q", `oci:${await ociLayout(IMAGES.busybox)}:latest`, "busybox"]);
  assert.equal(r.code, 0, r.stderr);
}

async function freshStore(): Promise<string> {
  return join(await tmpdir("build-e2e-"), "store");
}

/** A context directory with these files (text or a host file to copy). */
async function context(files: Record<string, string | { copy: string; mode?: number }>): Promise<string> {
  const dir = await tmpdir("build-ctx-");
  for (const [name, content] of Object.entries(files)) {
    const p = join(dir, name);
    mkdirSync(join(p, ".."), { recursive: true });
    if (typeof content === "string") writeFileSync(p, content);
    else {
      copyFileSync(content.copy, p);
      if (content.mode !== undefined) execFileSync("chmod", [content.mode.toString(8), p]);
    }
  }
  return dir;
}

interface InspectJson {
  Config: { Cmd?: string[]; Env?: string[]; WorkingDir?: string; Labels?: Record<string, string> };
  History?: { created_by?: string; empty_layer?: boolean }[];
  RootFS: { Layers: string[] };
}

async function inspect(root: string, image: string): Promise<InspectJson> {
  const r = await osless(root, ["inspect", "--type", "image", image]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as InspectJson[])[0]!;
}

test("the article's FROM scratch + COPY hello: builds, runs, and a rebuild is CACHED", async () => {
  const root = await freshStore();
  const hello = await staticProgram("hello", HELLO_C);
  const ctx = await context({
    Dockerfile: 'FROM scratch\nCOPY hello /\nCMD ["/hello"]\n',
    hello: { copy: hello, mode: 0o755 },
  });
  const b = await osless(root, ["build", "-t", "hello", ctx]);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stdout, /^sha256:[0-9a-f]{64}\n$/);
  assert.match(b.stderr, /^STEP 1\/3: FROM scratch$/m);
  assert.match(b.stderr, /^STEP 2\/3: COPY hello \/$/m);
  assert.match(b.stderr, /^Successfully tagged docker\.io\/library\/hello:latest$/m);
  const r = await osless(root, ["run", "--rm", "hello"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "Hello from a static binary\n");
  const img = await inspect(root, "hello");
  assert.deepEqual(img.Config.Cmd, ["/hello"]);
  assert.equal(img.RootFS.Layers.length, 1);
  assert.deepEqual(
    img.History?.map((h) => [h.created_by, h.empty_layer ?? false]),
    [
      ["COPY hello / # buildkit", false],
      ['CMD ["/hello"]', true],
    ],
  );
  const again = await osless(root, ["build", "-t", "hello", ctx]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /STEP 2\/3: COPY hello \/\n--> CACHED/);
  // A changed file is not a cache hit.
  writeFileSync(join(ctx, "hello"), `${readFileSync(join(ctx, "hello"), "latin1")}x`, "latin1");
  const changed = await osless(root, ["build", "-t", "hello", ctx]);
  assert.equal(changed.code, 0, changed.stderr);
  assert.doesNotMatch(changed.stderr, /CACHED/);
});

test("reproducible: with SOURCE_DATE_EPOCH the same context gives the same digest, cache or not", async () => {
  const hello = await staticProgram("hello", HELLO_C);
  const ctx = await context({
    Dockerfile: 'FROM scratch\nLABEL org.example.built=by-osless\nCOPY hello /\nCMD ["/hello"]\n',
    hello: { copy: hello, mode: 0o755 },
  });
  const digests: string[] = [];
  for (const [store, flags] of [
    [await freshStore(), []],
    [await freshStore(), ["--no-cache"]],
  ] as const) {
    for (let i = 0; i < 2; i++) {
      const b = await osless(store, ["build", "-q", ...flags, "-t", "repro", ctx], {
        env: { SOURCE_DATE_EPOCH: "1700000000" },
      });
      assert.equal(b.code, 0, b.stderr);
      digests.push(b.stdout.trim());
    }
  }
  assert.equal(new Set(digests).size, 1, digests.join("\n"));
  const unset = await osless(await freshStore(), ["build", "-q", "-t", "repro", ctx]);
  assert.notEqual(unset.stdout.trim(), digests[0], "without SOURCE_DATE_EPOCH the creation time differs");
});

test("the article's FROM scratch + ADD rootfs.tar.xz: a Debian image from a debootstrap tarball", async () => {
  const root = await freshStore();
  const ctx = await context({
    Dockerfile: 'FROM scratch\nADD rootfs.tar.xz /\nCMD ["bash"]\n',
    "rootfs.tar.xz": { copy: await debianMinbaseTarXz() },
  });
  const b = await osless(root, ["build", "-t", "debian-from-tarball", ctx]);
  assert.equal(b.code, 0, b.stderr);
  const r = await osless(root, [
    "run",
    "--rm",
    "debian-from-tarball",
    "bash",
    "-c",
    ". /etc/os-release; echo $ID $VERSION_CODENAME",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "debian bookworm\n");
});

test("a two-stage build: gcc compiles a static program in a Debian stage, the final stage is FROM scratch", async () => {
  const root = await freshStore();
  const load = await osless(root, ["copy", "-q", `oci:${await debianGccLayout()}:latest`, "debian-gcc"]);
  assert.equal(load.code, 0, load.stderr);
  const ctx = await context({
    Dockerfile: [
      "FROM debian-gcc AS builder",
      "WORKDIR /src",
      "COPY hello.c .",
      "RUN gcc -static -O2 -o /hello hello.c",
      "",
      "FROM scratch",
      "COPY --from=builder /hello /hello",
      'CMD ["/hello"]',
      "",
    ].join("\n"),
    "hello.c": HELLO_C,
  });
  const b = await osless(root, ["build", "-t", "static-hello", ctx]);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stderr, /^\[1\/2\] STEP 4\/4: RUN gcc -static/m);
  const r = await osless(root, ["run", "--rm", "static-hello"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "Hello from a static binary\n");
  const analyze = await osless(root, ["analyze", "--json", "static-hello"]);
  assert.equal((JSON.parse(analyze.stdout) as { verdict: string }).verdict, "none");
  const img = await inspect(root, "static-hello");
  assert.equal(img.RootFS.Layers.length, 1, "only the final stage's layer");
});

/** The Debian minbase + gcc tar as a one-layer OCI layout (cached by the fixture layer). */
async function debianGccLayout(): Promise<string> {
  const { ociLayout } = await import("../fixtures/images.ts");
  return ociLayout({
    layers: [{ tar: await debianGccTar() }],
    cmd: ["bash"],
    env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
  });
}

test(".dockerignore keeps files out of COPY; ARG/ENV substitution reaches paths and labels", async () => {
  const root = await freshStore();
  const ctx = await context({
    Dockerfile: [
      "ARG DIR=/app",
      "FROM scratch",
      "ARG DIR",
      "ENV NAME=osless",
      "LABEL name=${NAME} dir=${DIR:-none} fallback=${UNSET:-dflt}",
      "COPY . ${DIR}/",
      "",
    ].join("\n"),
    "keep.txt": "kept\n",
    "secret.txt": "secret\n",
    "logs/a.log": "log\n",
    "logs/keep.log": "kept log\n",
    ".dockerignore": "secret.txt\nlogs/*.log\n!logs/keep.log\n",
  });
  const b = await osless(root, ["build", "-t", "ctx", ctx]);
  assert.equal(b.code, 0, b.stderr);
  const img = await inspect(root, "ctx");
  assert.deepEqual(img.Config.Labels, { name: "osless", dir: "/app", fallback: "dflt" });
  const out = join(await tmpdir("build-unpack-"), "root");
  const u = await osless(root, ["unpack", "-q", "ctx", out]);
  assert.equal(u.code, 0, u.stderr);
  assert.equal(readFileSync(join(out, "app/keep.txt"), "utf8"), "kept\n");
  assert.equal(readFileSync(join(out, "app/logs/keep.log"), "utf8"), "kept log\n");
  assert.ok(!existsSync(join(out, "app/secret.txt")));
  assert.ok(!existsSync(join(out, "app/logs/a.log")));
});

test("an image built by osless runs under podman", async () => {
  const podman = needTool("podman", "podman");
  const root = await freshStore();
  const hello = await staticProgram("hello", HELLO_C);
  const ctx = await context({
    Dockerfile: 'FROM scratch\nCOPY hello /\nCMD ["/hello"]\n',
    hello: { copy: hello, mode: 0o755 },
  });
  const archive = join(await tmpdir("build-podman-"), "image.tar");
  const b = await osless(root, [
    "build",
    "-t",
    "localhost/built:1",
    "--output",
    `type=docker,dest=${archive}`,
    ctx,
  ]);
  assert.equal(b.code, 0, b.stderr);
  const p = await tmpdir("build-podman-store-");
  const flags = [
    "--root",
    join(p, "root"),
    "--runroot",
    join(p, "run"),
    "--cgroup-manager=cgroupfs",
    "--events-backend=none",
  ];
  execFileSync(podman, [...flags, "load", "-q", "-i", archive]);
  const out = execFileSync(
    podman,
    [
      ...flags,
      "--runtime",
      needTool("runc", "runc"),
      "run",
      "--rm",
      "--network=none",
      "--ulimit",
      "nofile=1024:1024",
      "--ulimit",
      "nproc=1024:1024",
      "localhost/built:1",
    ],
    { encoding: "utf8" },
  );
  assert.equal(out, "Hello from a static binary\n");
});

test("--print-instructions prints the parsed Dockerfile as JSON and builds nothing", async () => {
  const root = await freshStore();
  const ctx = await context({ Dockerfile: 'FROM scratch\ncopy a /b\nCMD ["/b"]\n', a: "x" });
  const r = await osless(root, ["build", "--print-instructions", ctx]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as {
    stages: {
      name: string | null;
      instructions: { kind: string; line: number; column: number; args: string[] }[];
    }[];
  };
  assert.equal(j.stages.length, 1);
  assert.deepEqual(
    j.stages[0]!.instructions.map((i) => [i.kind, i.line, i.column, i.args]),
    [
      ["FROM", 1, 1, ["scratch"]],
      ["COPY", 2, 1, ["a", "/b"]],
      ["CMD", 3, 1, ["/b"]],
    ],
  );
  assert.ok(!existsSync(join(root, "index.json")), "nothing was written");
});

/** A build that must fail with `code`, a message matching `message`, and leave no new name in the store. */
async function refusedBuild(root: string, dockerfile: string, args: string[], code: number, message: RegExp) {
  const ctx = await context({ Dockerfile: dockerfile, "a.txt": "a\n" });
  const before = (await osless(root, ["images", "-q"])).stdout;
  const r = await osless(root, ["build", "-t", "must-not-exist", ...args, ctx]);
  assert.equal(r.code, code, `${dockerfile}\n${r.stderr}`);
  assert.match(r.stderr, message);
  assert.equal((await osless(root, ["images", "-q"])).stdout, before);
  assert.notEqual((await osless(root, ["inspect", "must-not-exist"])).code, 0);
}

test("bad input: file:line:col, the failing RUN's status and output, exit 1 as docker build, nothing tagged", async () => {
  const root = await freshStore();
  await addBusybox(root);
  await refusedBuild(
    root,
    "FROM scratch\nCOPPY a.txt /\n",
    [],
    1,
    /Dockerfile:2:1: .*COPPY.*did you mean COPY/i,
  );
  await refusedBuild(root, "FROM scratch\nCOPY --frm=x a.txt /\n", [], 1, /Dockerfile:2:\d+: .*--frm/);
  await refusedBuild(
    root,
    "FROM scratch\nCOPY --exclude=*.log a.txt /\n",
    [],
    1,
    /Dockerfile:2:1: COPY --exclude is not supported/,
  );
  await refusedBuild(
    root,
    "FROM scratch\nCOPY ../a.txt /\n",
    [],
    1,
    /Dockerfile:2:1: COPY source outside the context/,
  );
  await refusedBuild(
    root,
    "FROM scratch\nCOPY --from=nosuch /x /\n",
    ["--pull", "never"],
    1,
    /Dockerfile:2:1: .*nosuch/,
  );
  // A base image that cannot be pulled: the registry's error, located at the FROM.
  await refusedBuild(root, "FROM 127.0.0.1:1/nosuch\n", [], 1, /Dockerfile:1:1: cannot reach 127\.0\.0\.1:1/);
  await refusedBuild(
    root,
    "FROM scratch AS a\nCOPY a.txt /\n",
    ["--target", "b"],
    1,
    /target stage "b" could not be found/,
  );
  await refusedBuild(
    root,
    "FROM busybox\nRUN echo preparing; echo broken >&2; exit 3\n",
    [],
    1,
    // Its stdout and stderr lines both, in whichever order the two pipes delivered them.
    /Dockerfile:2:1: RUN echo preparing; echo broken >&2; exit 3 failed with exit code 3; its last output:\n {2}(preparing\n {2}broken|broken\n {2}preparing)\n/,
  );
  await refusedBuild(
    root,
    'FROM scratch\nARG REQUIRED\nLABEL x="${REQUIRED:?must be set}"\n',
    [],
    1,
    /Dockerfile:3:1: .*must be set/,
  );
});

test("here-documents: COPY <<EOF writes a file (variables expanded), RUN <<EOF runs a script", async () => {
  const root = await freshStore();
  await addBusybox(root);
  const ctx = await context({
    Dockerfile: [
      "FROM busybox",
      "ENV NAME=world",
      "COPY <<EOF /greeting",
      "hello ${NAME}",
      "EOF",
      "RUN <<EOF",
      "cat /greeting > /copied",
      'echo "$((6*7))" >> /copied',
      "EOF",
      'CMD ["cat", "/copied"]',
      "",
    ].join("\n"),
  });
  const b = await osless(root, ["build", "--pull", "never", "-t", "heredocs", ctx]);
  assert.equal(b.code, 0, b.stderr);
  const r = await osless(root, ["run", "--rm", "heredocs"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "hello world\n42\n");
});

test("Docker's config rules: ENTRYPOINT drops an inherited CMD, WORKDIR is cleaned, COPY --from takes ARGs, platform ARGs", async () => {
  const root = await freshStore();
  await addBusybox(root);
  const ctx = await context({
    Dockerfile: [
      "ARG SRC=first",
      "FROM busybox AS first",
      "ARG TARGETARCH",
      'RUN echo "$TARGETARCH" > /arch',
      "FROM busybox",
      "ARG SRC",
      "COPY --from=${SRC} /arch /arch",
      "WORKDIR /a/b/../c/",
      'ENTRYPOINT ["/bin/cat"]',
      "",
    ].join("\n"),
  });
  const b = await osless(root, ["build", "--pull", "never", "-t", "rules", ctx]);
  assert.equal(b.code, 0, b.stderr);
  const img = await inspect(root, "rules");
  assert.equal(img.Config.WorkingDir, "/a/c");
  assert.equal(img.Config.Cmd, undefined, "busybox's CMD [sh] is dropped by ENTRYPOINT");
  const r = await osless(root, ["run", "--rm", "rules", "/arch"]);
  assert.equal(r.code, 0, r.stderr);
  const { hostPlatform } = await import("../../src/spec/platform.ts");
  assert.equal(r.stdout, `${hostPlatform().architecture}\n`);
});

test("metadata instructions land in the config as Docker stores them, each with an empty_layer history entry; ONBUILD triggers run in the child", async () => {
  const root = await freshStore();
  const ctx = await context({
    Dockerfile: [
      "FROM scratch",
      "ENV A=1 B=two",
      "LABEL maintainer=osless version=1",
      "USER 1000:1000",
      "EXPOSE 8080 53/udp",
      "VOLUME /data",
      "STOPSIGNAL SIGQUIT",
      "HEALTHCHECK --interval=30s --timeout=5s --retries=2 CMD /hello --check",
      'SHELL ["/bin/ash", "-c"]',
      "ONBUILD COPY a.txt /from-onbuild.txt",
      'ENTRYPOINT ["/hello"]',
      'CMD ["--flag"]',
      "",
    ].join("\n"),
    "a.txt": "a\n",
  });
  const b = await osless(root, ["build", "-t", "meta", ctx]);
  assert.equal(b.code, 0, b.stderr);
  const r = await osless(root, ["inspect", "--config", "meta"]);
  const cfg = JSON.parse(r.stdout) as {
    config: Record<string, unknown>;
    history: { created_by: string; empty_layer?: boolean }[];
  };
  assert.deepEqual(cfg.config.Env, ["A=1", "B=two"]);
  assert.deepEqual(cfg.config.Labels, { maintainer: "osless", version: "1" });
  assert.equal(cfg.config.User, "1000:1000");
  assert.deepEqual(cfg.config.ExposedPorts, { "8080/tcp": {}, "53/udp": {} });
  assert.deepEqual(cfg.config.Volumes, { "/data": {} });
  assert.equal(cfg.config.StopSignal, "SIGQUIT");
  assert.deepEqual(cfg.config.Healthcheck, {
    Test: ["CMD-SHELL", "/hello --check"],
    Interval: 30e9,
    Timeout: 5e9,
    Retries: 2,
  });
  assert.deepEqual(cfg.config.Shell, ["/bin/ash", "-c"]);
  assert.deepEqual(cfg.config.OnBuild, ["COPY a.txt /from-onbuild.txt"]);
  assert.deepEqual(cfg.config.Entrypoint, ["/hello"]);
  assert.deepEqual(cfg.config.Cmd, ["--flag"]);
  assert.equal(cfg.history.length, 11);
  assert.ok(cfg.history.every((h) => h.empty_layer === true));
  // A child of the image runs its ONBUILD trigger right after FROM (and does not inherit the trigger).
  const child = await context({ Dockerfile: "FROM meta\n", "a.txt": "from the child's context\n" });
  const cb = await osless(root, ["build", "--pull", "never", "-t", "meta-child", child]);
  assert.equal(cb.code, 0, cb.stderr);
  assert.match(cb.stderr, /ONBUILD: COPY a\.txt \/from-onbuild\.txt/);
  const c = JSON.parse((await osless(root, ["inspect", "--config", "meta-child"])).stdout) as {
    config: { OnBuild?: string[] };
    rootfs: { diff_ids: string[] };
  };
  assert.deepEqual(c.config.OnBuild ?? [], []);
  assert.equal(c.rootfs.diff_ids.length, 1);
});
