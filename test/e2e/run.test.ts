// `osless run` and the container commands through the CLI with the real runtime (runc; crun once), on images
// assembled from Debian packages: the static hello, busybox, Debian minbase, and busybox plus a static probe of
// what seccomp and capabilities refuse. Everything the container reports about itself is read from inside it.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { IMAGES, type ImageSpec, ociLayout } from "../fixtures/images.ts";
import { staticProgram } from "../fixtures/programs.ts";
import { busyboxRootfsPath } from "../fixtures/rootfs.ts";
import { needTool, tmpdir } from "../fixtures/tools.ts";
import { startTmux } from "../fixtures/tty.ts";
import { osless, snapshot } from "./cli.ts";
import { containerIds, hostTraces } from "./run-kit.ts";

needTool("runc", "runc");

/** Prints, for each call, its name and the errno it failed with (0: it succeeded). */
const PROBE_C = `#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *name, long r) { printf("%s %d\\n", name, r < 0 ? errno : 0); }

int main(void) {
  report("unshare", unshare(CLONE_NEWNS));
  report("mount", mount("none", "/mnt", "tmpfs", 0, 0));
  report("keyctl", syscall(SYS_keyctl, 0, -3, 0));
  report("vsock", socket(40, SOCK_STREAM, 0));
  report("clone3", syscall(435, 0, 0));
  report("unix", socket(AF_UNIX, SOCK_STREAM, 0));
  return 0;
}
`;

let storeRoot: Promise<string> | undefined;

/** One store for the file, holding hello, busybox, debian and probe (busybox + /probe). */
function store(): Promise<string> {
  storeRoot ??= (async () => {
    const root = join(await tmpdir("run-e2e-"), "store");
    const probe = await staticProgram("seccomp-probe", PROBE_C);
    const probeSpec: ImageSpec = {
      layers: [
        { dir: busyboxRootfsPath() },
        { files: { probe: { data: readFileSync(probe), mode: 0o755 } } },
      ],
      cmd: ["/probe"],
      env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
    };
    // The article's Dockerfile: FROM scratch, COPY hello /, CMD ["/hello"].
    const helloCmd: ImageSpec = { layers: IMAGES.hello.layers, cmd: ["/hello"] };
    const notExec: ImageSpec = {
      layers: [{ files: { app: { data: "#!/bin/sh\necho hi\n", mode: 0o644 } } }],
      entrypoint: ["/app"],
    };
    for (const [spec, name] of [
      [IMAGES.hello, "hello"],
      [helloCmd, "hello-cmd"],
      [IMAGES.busybox, "busybox"],
      [IMAGES.debian, "debian"],
      [probeSpec, "probe"],
      [notExec, "notexec"],
    ] as const) {
      const r = await osless(root, ["copy", "-q", `oci:${await ociLayout(spec)}:latest`, name]);
      assert.equal(r.code, 0, r.stderr);
    }
    return root;
  })();
  return storeRoot;
}

async function run(args: string[], opts: { env?: Record<string, string> } = {}) {
  return osless(await store(), args, opts);
}

/** The cgroup parent of the containers `refused` starts: this process's own, so other tests' containers stay out. */
const CGROUP_PARENT = `/osless-e2e-${process.pid}`;
/** And their runtime's own state directory (OSLESS_RUNTIME_ROOT). */
const RUNTIME_ROOT = `/run/osless/e2e-${process.pid}`;

/** Every cgroup directory under CGROUP_PARENT and every runtime state entry on the host. */
function runtimeTraces(): string[] {
  const found: string[] = [];
  for (const ctl of readdirSync("/sys/fs/cgroup")) {
    const p = join("/sys/fs/cgroup", ctl, CGROUP_PARENT);
    if (existsSync(p))
      for (const n of readdirSync(p, { withFileTypes: true }))
        if (n.isDirectory()) found.push(join(p, n.name));
  }
  if (existsSync(RUNTIME_ROOT)) for (const n of readdirSync(RUNTIME_ROOT)) found.push(join(RUNTIME_ROOT, n));
  return found.sort();
}

async function inspectRecord(name: string): Promise<{ id: string; rootfs: { lower?: string[] } }> {
  const root = await store();
  for (const id of containerIds(root)) {
    const r = JSON.parse(readFileSync(join(root, "containers", id, "container.json"), "utf8"));
    if (r.name === name) return r;
  }
  throw new Error(`no container named ${name}`);
}

test("run --rm hello: the static program prints its line, exits 0, and nothing is left", async () => {
  const root = await store();
  const before = containerIds(root);
  const r = await run(["run", "--rm", "hello"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "Hello from a static binary\n");
  assert.deepEqual(containerIds(root), before);
});

test("exit statuses pass through: exit 3, and 128 + the signal that ended it (osless kill)", async () => {
  const three = await run(["run", "--rm", "busybox", "sh", "-c", "exit 3"]);
  assert.equal(three.code, 3, three.stderr);
  // A container's first process ignores signals it has no handler for, unless they come from outside: SIGKILL does.
  const running = run(["run", "--rm", "--name", "to-kill", "busybox", "sleep", "60"]);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ps = await run(["ps"]);
    if (/to-kill/.test(ps.stdout)) break;
    assert.ok(Date.now() < deadline, "the container did not show up in ps");
    await new Promise((r) => setTimeout(r, 50));
  }
  const k = await run(["kill", "to-kill"]);
  assert.equal(k.code, 0, k.stderr);
  const killed = await running;
  assert.equal(killed.code, 137, killed.stderr);
});

test("signals sent to osless run reach the container's process", async () => {
  const root = await store();
  const MAIN = new URL("../../src/cli/main.ts", import.meta.url).pathname;
  const child = spawn(
    process.execPath,
    [
      "--import",
      import.meta.resolve("tsx"),
      MAIN,
      "run",
      "--rm",
      "busybox",
      "sh",
      "-c",
      'trap "echo got TERM; exit 42" TERM; echo ready; while :; do sleep 0.1; done',
    ],
    { env: { ...process.env, OSLESS_ROOT: root }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  let err = "";
  child.stdout.on("data", (b) => (out += b));
  child.stderr.on("data", (b) => (err += b));
  const deadline = Date.now() + 30_000;
  while (!out.includes("ready") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.match(out, /ready/, err);
  child.kill("SIGTERM");
  const code = await new Promise<number | null>((r) => child.on("close", r));
  assert.equal(code, 42, err);
  assert.match(out, /got TERM/);
});

test("busybox sh with -e, --env-file, -w and -u: environment, working directory and user as asked", async () => {
  const dir = await tmpdir("run-envfile-");
  const envFile = join(dir, "env");
  const { writeFileSync } = await import("node:fs");
  writeFileSync(envFile, "# comment\nFROM_FILE=file\nA=overridden\n");
  const r = await run(
    [
      "run",
      "--rm",
      "--env-file",
      envFile,
      "-e",
      "A=1",
      "-e",
      "FROM_HOST",
      "-w",
      "/tmp/work",
      "-u",
      "nobody",
      "busybox",
      "sh",
      "-c",
      'echo "$A $FROM_HOST $FROM_FILE"; pwd; id -u; id -g; echo "$HOME"',
    ],
    { env: { FROM_HOST: "host-value" } },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "1 host-value file\n/tmp/work\n65534\n65534\n/nonexistent\n");
});

test("Debian minbase: cat /etc/os-release", async () => {
  const r = await run(["run", "--rm", "debian", "cat", "/etc/os-release"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ID=debian$/m);
  assert.match(r.stdout, /^VERSION_CODENAME=bookworm$/m);
});

function statusField(status: string, field: string): string {
  const m = new RegExp(`^${field}:\\s*(\\S+)`, "m").exec(status);
  assert.ok(m, `${field} missing in /proc/self/status:\n${status}`);
  return m[1]!;
}

test("inside: Docker's capabilities, seccomp filter mode, no-new-privileges only when asked", async () => {
  const r = await run(["run", "--rm", "busybox", "cat", "/proc/self/status"]);
  assert.equal(r.code, 0, r.stderr);
  for (const f of ["CapEff", "CapPrm", "CapBnd"])
    assert.equal(statusField(r.stdout, f), "00000000a80425fb", f);
  assert.equal(statusField(r.stdout, "CapInh"), "0000000000000000");
  assert.equal(statusField(r.stdout, "CapAmb"), "0000000000000000");
  assert.equal(statusField(r.stdout, "Seccomp"), "2");
  assert.equal(statusField(r.stdout, "NoNewPrivs"), "0");
  const nnp = await run([
    "run",
    "--rm",
    "--security-opt",
    "no-new-privileges",
    "busybox",
    "cat",
    "/proc/self/status",
  ]);
  assert.equal(statusField(nnp.stdout, "NoNewPrivs"), "1");
  const dropped = await run([
    "run",
    "--rm",
    "--cap-drop",
    "ALL",
    "--cap-add",
    "chown",
    "busybox",
    "cat",
    "/proc/self/status",
  ]);
  assert.equal(statusField(dropped.stdout, "CapEff"), "0000000000000001");
  const unconfined = await run([
    "run",
    "--rm",
    "--security-opt",
    "seccomp=unconfined",
    "busybox",
    "cat",
    "/proc/self/status",
  ]);
  assert.equal(statusField(unconfined.stdout, "Seccomp"), "0");
});

test("inside: seccomp refuses unshare, mount, keyctl and AF_VSOCK with EPERM and clone3 with ENOSYS", async () => {
  const parse = (s: string) =>
    Object.fromEntries(
      s
        .trim()
        .split("\n")
        .map((l) => l.split(" "))
        .map(([k, v]) => [k, Number(v)]),
    );
  const r = await run(["run", "--rm", "probe"]);
  assert.equal(r.code, 0, r.stderr);
  const got = parse(r.stdout);
  assert.deepEqual(got, { unshare: 1, mount: 1, keyctl: 1, vsock: 1, clone3: 38, unix: 0 });
  // Without the filter, clone3 reaches the kernel (which rejects its NULL argument otherwise than ENOSYS):
  // the ENOSYS above was the profile's.
  const u = parse((await run(["run", "--rm", "--security-opt", "seccomp=unconfined", "probe"])).stdout);
  assert.notEqual(u.clone3, 38);
  const sh = await run(["run", "--rm", "busybox", "unshare", "-m", "true"]);
  assert.notEqual(sh.code, 0);
  assert.match(sh.stderr + sh.stdout, /Operation not permitted/);
});

test("inside: masked paths read empty, /proc/sys and /sys are read-only, only stdio is open", async () => {
  const r = await run([
    "run",
    "--rm",
    "busybox",
    "sh",
    "-c",
    "wc -c < /proc/timer_list; ls /proc/acpi 2>&1 | wc -l; echo x > /proc/sys/kernel/domainname || echo ro-proc; touch /sys/x || echo ro-sys; ls /proc/1/fd; echo end",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines[0]!.trim(), "0", "/proc/timer_list is masked");
  assert.equal(lines[1]!.trim(), "0", "/proc/acpi is masked");
  assert.ok(lines.includes("ro-proc"), r.stdout);
  assert.ok(lines.includes("ro-sys"), r.stdout);
  assert.match(r.stderr, /Read-only file system/);
  // The container's first process holds stdio and nothing the runtime or osless had open.
  assert.deepEqual(
    lines
      .slice(4)
      .join(" ")
      .split(/\s+/)
      .filter(Boolean)
      .map(Number)
      .filter((n) => n > 2),
    [],
  );
});

test("limits: the memory limit OOM-kills, the pids limit holds, both visible in the container's cgroup", async () => {
  const oom = await run([
    "run",
    "--rm",
    "--memory",
    "32m",
    "busybox",
    "sh",
    "-c",
    "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; head -c 200000000 /dev/zero | tail",
  ]);
  assert.equal(oom.stdout.split("\n")[0], String(32 * 2 ** 20));
  assert.equal(oom.code, 137, `expected an OOM kill: ${oom.stderr}`);
  const pids = await run([
    "run",
    "--rm",
    "--pids-limit",
    "8",
    "busybox",
    "sh",
    "-c",
    "cat /sys/fs/cgroup/pids/pids.max; for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 2 & done 2>&1; wait",
  ]);
  assert.equal(pids.stdout.split("\n")[0], "8");
  assert.match(pids.stdout + pids.stderr, /can't fork|Resource temporarily unavailable/);
});

test("--read-only root with --tmpfs, and -v bind mounts (read-only when asked)", async () => {
  const dir = await tmpdir("run-vol-");
  const { writeFileSync } = await import("node:fs");
  writeFileSync(join(dir, "host.txt"), "from the host\n");
  const r = await run([
    "run",
    "--rm",
    "--read-only",
    "--tmpfs",
    "/scratch",
    "-v",
    `${dir}:/data:ro`,
    "busybox",
    "sh",
    "-c",
    "cat /data/host.txt; touch /x 2>/dev/null || echo root-ro; touch /scratch/ok && echo tmpfs-rw; touch /data/y 2>/dev/null || echo data-ro",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "from the host\nroot-ro\ntmpfs-rw\ndata-ro\n");
  const rw = await run([
    "run",
    "--rm",
    "-v",
    `${dir}:/data`,
    "busybox",
    "sh",
    "-c",
    "echo written > /data/out",
  ]);
  assert.equal(rw.code, 0, rw.stderr);
  assert.equal(readFileSync(join(dir, "out"), "utf8"), "written\n");
});

test("detached: ps, exec, logs, stop, rm; two containers share the image's lower layers", async () => {
  const script = 'echo started; trap "echo stopping; exit 0" TERM; while :; do sleep 0.1; done';
  const a = await run(["run", "-d", "--name", "det-a", "busybox", "sh", "-c", script]);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /^[0-9a-f]{64}\n$/);
  const b = await run(["run", "-d", "--name", "det-b", "busybox", "sh", "-c", script]);
  assert.equal(b.code, 0, b.stderr);
  try {
    const ps = await run(["ps"]);
    assert.match(ps.stdout, /det-a/);
    assert.match(ps.stdout, /Up /);
    const ex = await run(["exec", "det-a", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$"]);
    assert.equal(ex.code, 0, ex.stderr);
    assert.match(ex.stdout, /^sh -c echo started/);
    const exCode = await run(["exec", "det-a", "sh", "-c", "exit 7"]);
    assert.equal(exCode.code, 7);
    // Both containers' roots are overlays over the same snapshot directories, each with its own upper dir.
    const ra = await inspectRecord("det-a");
    const rb = await inspectRecord("det-b");
    assert.ok(ra.rootfs.lower && ra.rootfs.lower.length > 0);
    assert.deepEqual(ra.rootfs.lower, rb.rootfs.lower);
    const mountsA = (await run(["exec", "det-a", "cat", "/proc/self/mountinfo"])).stdout.split("\n")[0]!;
    const mountsB = (await run(["exec", "det-b", "cat", "/proc/self/mountinfo"])).stdout.split("\n")[0]!;
    const lowerOf = (l: string) => /lowerdir=([^,]+)/.exec(l)?.[1];
    const upperOf = (l: string) => /upperdir=([^,]+)/.exec(l)?.[1];
    assert.equal(lowerOf(mountsA), ra.rootfs.lower!.join(":"));
    assert.equal(lowerOf(mountsA), lowerOf(mountsB));
    assert.notEqual(upperOf(mountsA), upperOf(mountsB));
    const stop = await run(["stop", "-t", "5", "det-a"]);
    assert.equal(stop.code, 0, stop.stderr);
    const logs = await run(["logs", "det-a"]);
    assert.equal(logs.stdout, "started\nstopping\n");
    const psa = await run(["ps", "-a"]);
    assert.match(psa.stdout, /Exited \(0\).*det-a/);
    const rmRunning = await run(["rm", "det-b"]);
    assert.notEqual(rmRunning.code, 0);
    assert.match(rmRunning.stderr, /is running/);
  } finally {
    await run(["rm", "-f", "det-a", "det-b"]);
  }
  for (const id of [a.stdout.trim(), b.stdout.trim()])
    assert.deepEqual(hostTraces(id), [], "left on the host");
  const after = await run(["ps", "-a"]);
  assert.doesNotMatch(after.stdout, /det-a|det-b/);
});

test("a container's writes never reach the image store or the shared snapshots", async () => {
  const root = await store();
  await run(["run", "--rm", "busybox", "true"]);
  const blobs = await snapshot(join(root, "blobs"));
  const snaps = await snapshot(join(root, "snapshots"));
  const w = await run([
    "run",
    "--rm",
    "busybox",
    "sh",
    "-c",
    "echo changed > /etc/passwd; rm /bin/ls; mkdir /new",
  ]);
  assert.equal(w.code, 0, w.stderr);
  assert.deepEqual(await snapshot(join(root, "blobs")), blobs);
  assert.deepEqual(await snapshot(join(root, "snapshots")), snaps);
  const again = await run(["run", "--rm", "busybox", "sh", "-c", "head -1 /etc/passwd; ls /bin/ls"]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, "root:x:0:0:root:/root:/bin/sh\n/bin/ls\n");
  const fsck = await run(["fsck"]);
  assert.equal(fsck.code, 0, fsck.stdout + fsck.stderr);
});

test("-it: a real terminal through the runtime, exit status passed through", async () => {
  const root = await store();
  const MAIN = new URL("../../src/cli/main.ts", import.meta.url).pathname;
  const s = await startTmux(
    [process.execPath, "--import", import.meta.resolve("tsx"), MAIN, "run", "--rm", "-it", "busybox", "sh"],
    { width: 100, height: 20, env: { OSLESS_ROOT: root } },
  );
  await s.waitFor(/^\/ #$/m);
  await s.type("tty; echo $((6*7))\n");
  const screen = await s.waitFor(/^42$/m);
  assert.match(screen, /^\/dev\/pts\/0$/m);
  await s.type("exit 5\n");
  assert.equal(await s.waitForExit(), 5);
});

test("--runtime crun runs the same container on this cgroup v1 hybrid host", async () => {
  needTool("crun", "crun");
  const r = await run([
    "run",
    "--rm",
    "--runtime",
    "crun",
    "busybox",
    "sh",
    "-c",
    "echo via crun; grep Seccomp: /proc/self/status",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "via crun\nSeccomp:\t2\n");
});

test("--rootfs copy: a full copy instead of the overlay runs the same", async () => {
  const r = await run(["run", "--rm", "--rootfs", "copy", "hello"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "Hello from a static binary\n");
});

test("--name conflicts are refused; --rm of a failing command removes it too", async () => {
  const a = await run(["run", "--name", "same", "busybox", "true"]);
  assert.equal(a.code, 0, a.stderr);
  try {
    const b = await run(["run", "--name", "same", "busybox", "true"]);
    assert.equal(b.code, 125);
    assert.match(b.stderr, /already in use/);
  } finally {
    await run(["rm", "same"]);
  }
  const root = await store();
  const before = containerIds(root);
  const f = await run(["run", "--rm", "busybox", "false"]);
  assert.equal(f.code, 1);
  assert.deepEqual(containerIds(root), before);
});

/** Run a command that must fail, and check that it failed with `code` and `message`, leaving nothing behind. */
async function refused(args: string[], code: number, message: RegExp): Promise<void> {
  const root = await store();
  const before = containerIds(root);
  const blobs = await snapshot(join(root, "blobs"));
  const tracesBefore = runtimeTraces();
  // Containers of other tests come and go in the runtime's state: only ones of this call count.
  const r = await run(
    args[0] === "run" ? ["run", "--cgroup-parent", CGROUP_PARENT, ...args.slice(1)] : args,
    {
      env: { OSLESS_RUNTIME_ROOT: RUNTIME_ROOT },
    },
  );
  assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
  assert.match(r.stderr, message);
  assert.match(r.stderr, /hint:|error:/i);
  assert.deepEqual(containerIds(root), before, "a container was left behind");
  assert.deepEqual(runtimeTraces(), tracesBefore, "cgroups or runtime state were left behind");
  assert.deepEqual(await snapshot(join(root, "blobs")), blobs);
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    assert.ok(!line.includes(root), `a mount was left: ${line}`);
  }
}

test("bad input: a clear error, docker run's exit status, nothing left behind", async () => {
  await refused(["run", "--pull", "never", "nosuch"], 125, /no such image/);
  await refused(["run", "hello-cmd", "bash"], 127, /bash.*it has no OS inside/);
  await refused(["run", "--entrypoint", "/bin/sh", "hello"], 127, /\/bin\/sh.*it has no OS inside/);
  await refused(["run", "notexec"], 126, /\/app/);
  await refused(["run", "-u", "nosuchuser", "busybox", "true"], 125, /nosuchuser/);
  await refused(["run", "-v", "relative:/x", "busybox", "true"], 125, /relative:\/x/);
  await refused(["run", "-w", "/proc/self/fd/7", "busybox", "true"], 125, /CVE-2024-21626/);
  // Only the runtime can find this one wrong: a file mounted over a directory.
  await refused(["run", "-v", "/etc/hostname:/bin", "busybox", "true"], 125, /runc/);
  await refused(["run", "--memory", "lots", "busybox", "true"], 125, /--memory/);
  await refused(["run", "--runtime", "kata", "busybox", "true"], 125, /unknown runtime/);
  await refused(["run", "--cgroup-parent", "../escape", "busybox", "true"], 125, /--cgroup-parent/);
});

test("--security-opt seccomp=FILE: the user's profile is what the kernel enforces; a bad file is refused", async () => {
  const dir = await tmpdir("run-seccomp-");
  const { writeFileSync } = await import("node:fs");
  const profile = join(dir, "no-mkdir.json");
  writeFileSync(
    profile,
    JSON.stringify({
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO" }],
    }),
  );
  const r = await run([
    "run",
    "--rm",
    "--security-opt",
    `seccomp=${profile}`,
    "busybox",
    "sh",
    "-c",
    "mkdir /x || echo refused; unshare -m true 2>/dev/null || echo still-no-cap",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "refused\nstill-no-cap\n");
  const bad = join(dir, "bad.json");
  writeFileSync(
    bad,
    '{"defaultAction": "SCMP_ACT_ALLOW",\n "syscalls": [ { "names": ["x"], "action": "SCMP_ACT_NOPE" } ]}',
  );
  await refused(["run", "--rm", "--security-opt", `seccomp=${bad}`, "busybox", "true"], 125, /bad\.json/);
  await refused(
    ["run", "--rm", "--security-opt", `seccomp=${join(dir, "missing.json")}`, "busybox", "true"],
    125,
    /missing\.json/,
  );
});

test("rmi refuses an image's last name while a container uses it; prune removes snapshots nothing uses", async () => {
  const root = join(await tmpdir("run-prune-"), "store");
  const cp = await osless(root, ["copy", "-q", `oci:${await ociLayout(IMAGES.hello)}:latest`, "hello"]);
  assert.equal(cp.code, 0, cp.stderr);
  const r = await osless(root, ["run", "--name", "user", "hello"]);
  assert.equal(r.code, 0, r.stderr);
  const snapshotDirs = () => readdirSync(join(root, "snapshots")).filter((n) => /^[0-9a-f]{12,}$/.test(n));
  assert.equal(snapshotDirs().length, 1);
  const refusedRmi = await osless(root, ["rmi", "hello"]);
  assert.equal(refusedRmi.code, 1);
  assert.match(refusedRmi.stderr, /container user .* uses it/);
  assert.equal((await osless(root, ["rm", "user"])).code, 0);
  // The image is still in the store: its snapshot is kept for the next run.
  const kept = await osless(root, ["prune", "--json"]);
  assert.equal(kept.code, 0, kept.stderr);
  assert.deepEqual((JSON.parse(kept.stdout) as { removedSnapshots: string[] }).removedSnapshots, []);
  assert.equal(snapshotDirs().length, 1);
  assert.equal((await osless(root, ["rmi", "hello"])).code, 0);
  // While another process writes to the store (a build does for its whole length), no snapshot goes.
  const { Store } = await import("../../src/store/layout.ts");
  const writer = await (await Store.open(root)).begin();
  try {
    const spared = await osless(root, ["prune", "--json"]);
    assert.deepEqual((JSON.parse(spared.stdout) as { removedSnapshots: string[] }).removedSnapshots, []);
  } finally {
    await writer.dispose();
  }
  const pruned = await osless(root, ["prune"]);
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.match(pruned.stdout, /Deleted layer snapshot: sha256:[0-9a-f]{64}/);
  assert.deepEqual(snapshotDirs(), []);
});

test("concurrent runs with one name: exactly one wins; -dt is refused; stop, rm and logs speak JSON", async () => {
  const script = "echo one; echo two >&2; echo three; sleep 30";
  const both = await Promise.all([
    run(["run", "-d", "--name", "race", "busybox", "sh", "-c", script]),
    run(["run", "-d", "--name", "race", "busybox", "sh", "-c", script]),
  ]);
  try {
    assert.deepEqual(both.map((r) => r.code).sort(), [0, 125], both.map((r) => r.stderr).join("\n"));
    assert.match(both.find((r) => r.code === 125)!.stderr, /already in use/);
    const dt = await run(["run", "-dt", "busybox", "true"]);
    assert.equal(dt.code, 125);
    assert.match(dt.stderr, /-t with -d/);
    // The log fills as the container writes: wait for its third line.
    let lines: { log: string; stream: string; time: string }[] = [];
    const deadline = Date.now() + 15_000;
    while (lines.length < 3 && Date.now() < deadline) {
      const logs = await run(["logs", "--json", "race"]);
      lines = logs.stdout
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      if (lines.length < 3) await new Promise((r) => setTimeout(r, 100));
    }
    // stdout and stderr are separate pipes: their relative order is not kept, each stream's own order is.
    assert.deepEqual(
      lines.filter((l) => l.stream === "stdout").map((l) => l.log),
      ["one\n", "three\n"],
    );
    assert.deepEqual(
      lines.filter((l) => l.stream === "stderr").map((l) => l.log),
      ["two\n"],
    );
    for (const l of lines) assert.ok(!Number.isNaN(Date.parse(l.time)));
    const tail = await run(["logs", "--tail", "1", "race"]);
    assert.equal(tail.stdout + tail.stderr, lines.at(-1)!.log);
    const stop = await run(["stop", "--json", "-t", "1", "race", "nosuch"]);
    assert.equal(stop.code, 1);
    const results = JSON.parse(stop.stdout) as { container: string; id?: string; error?: { code: string } }[];
    assert.equal(results[0]!.container, "race");
    assert.match(results[0]!.id!, /^[0-9a-f]{64}$/);
    assert.equal(results[1]!.error!.code, "E_NOT_FOUND");
    const ps = await run(["ps", "-a", "--json"]);
    const race = (
      JSON.parse(ps.stdout) as { name: string; state: { status: string; exitCode: number } }[]
    ).find((c) => c.name === "race")!;
    assert.equal(race.state.status, "exited");
    assert.equal(race.state.exitCode, 137, "sleep ignores SIGTERM as PID 1: stop killed it after 1 s");
  } finally {
    const rm = await run(["rm", "-f", "--json", "race"]);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal((JSON.parse(rm.stdout) as { name: string }[])[0]!.name, "race");
  }
});

test("--hostname, --cpus, --network none|host, and the devices cgroup", async () => {
  const r = await run([
    "run",
    "--rm",
    "--hostname",
    "box",
    "--cpus",
    "0.5",
    "busybox",
    "sh",
    "-c",
    "hostname; cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us; ls /sys/class/net; mknod /dev/sdx b 8 0 && (head -c 1 /dev/sdx >/dev/null 2>&1 || echo dev-denied)",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "box\n50000\n100000\nlo\ndev-denied\n");
  const host = await run([
    "run",
    "--rm",
    "--network",
    "host",
    "busybox",
    "sh",
    "-c",
    "hostname; ls /sys/class/net",
  ]);
  assert.equal(host.code, 0, host.stderr);
  const { hostname } = await import("node:os");
  const hostNets = readdirSync("/sys/class/net").sort();
  assert.equal(host.stdout, `${hostname()}\n${hostNets.join("\n")}\n`);
});

test("logs -f follows a detached container to its end; exec -it gets a terminal", async () => {
  const d = await run([
    "run",
    "-d",
    "--name",
    "follow",
    "busybox",
    "sh",
    "-c",
    "for i in 1 2 3; do echo line $i; sleep 0.3; done",
  ]);
  assert.equal(d.code, 0, d.stderr);
  try {
    const f = await run(["logs", "-f", "follow"]);
    assert.equal(f.code, 0, f.stderr);
    assert.equal(f.stdout, "line 1\nline 2\nline 3\n");
  } finally {
    await run(["rm", "-f", "follow"]);
  }
  const root = await store();
  const e = await run(["run", "-d", "--name", "exec-tty", "busybox", "sleep", "60"]);
  assert.equal(e.code, 0, e.stderr);
  try {
    const MAIN = new URL("../../src/cli/main.ts", import.meta.url).pathname;
    const s = await startTmux(
      [process.execPath, "--import", import.meta.resolve("tsx"), MAIN, "exec", "-it", "exec-tty", "sh"],
      { width: 100, height: 20, env: { OSLESS_ROOT: root } },
    );
    await s.waitFor(/^\/ #$/m);
    // The shell joined the container: its PID 1 is the container's sleep.
    await s.type("tty; cat /proc/1/comm\n");
    const screen = await s.waitFor(/^sleep$/m);
    assert.match(screen, /^\/dev\/pts\/\d+$/m);
    await s.type("exit 4\n");
    assert.equal(await s.waitForExit(), 4);
  } finally {
    await run(["rm", "-f", "exec-tty"]);
  }
});

test("info names the runtimes, their missing fixes, the cgroup mode and the root kind", async () => {
  const r = await run(["info", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout) as {
    runtimes: { name: string; version: string; warnings: string[] }[];
    cgroupMode: string;
    overlay: boolean;
  };
  assert.equal(info.runtimes[0]!.name, "runc");
  const runcVersion = (await import("node:child_process")).execFileSync(
    needTool("runc", "runc"),
    ["--version"],
    { encoding: "utf8" },
  );
  assert.equal(info.runtimes[0]!.version, /version (\S+)/.exec(runcVersion)![1]);
  assert.equal(
    info.cgroupMode,
    existsSync("/sys/fs/cgroup/cgroup.controllers")
      ? "v2"
      : existsSync("/sys/fs/cgroup/unified/cgroup.controllers")
        ? "hybrid"
        : "v1",
  );
  assert.equal(info.overlay, true);
  const text = await run(["info"]);
  assert.match(text.stdout, /^Runtimes:\n {2}runc \S+ .*\[default\]$/m);
});

test("flags: --cap-add ALL gives what this host can grant, with a warning; bad flags exit 125; -t needs a terminal", async () => {
  const own = statusField(readFileSync("/proc/self/status", "utf8"), "CapBnd");
  const all = await run(["run", "--rm", "--cap-add", "ALL", "busybox", "cat", "/proc/self/status"]);
  assert.equal(all.code, 0, all.stderr);
  assert.equal(statusField(all.stdout, "CapEff"), own);
  if (own !== "000001ffffffffff") assert.match(all.stderr, /WARNING: .*left out/);
  await refused(["run", "-p", "80:80", "busybox", "true"], 125, /unknown option/);
  await refused(["run", "-t", "busybox", "true"], 125, /not a TTY/);
  await refused(["run", "--name", "x", "busybox", "true"], 125, /invalid container name/);
});

test("exec -d returns at once and leaves the process running in the container", async () => {
  const c = await run(["run", "-d", "--name", "exec-d", "busybox", "sleep", "60"]);
  assert.equal(c.code, 0, c.stderr);
  try {
    // Had exec -d kept its output open, it would return only when `sleep 600` ends: the guard says so.
    const d = await Promise.race([
      run(["exec", "-d", "exec-d", "sleep", "600"]),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error("exec -d did not return while its process runs")), 60_000).unref(),
      ),
    ]);
    assert.equal(d.code, 0, d.stderr);
    const ps = await run(["exec", "exec-d", "ps", "-o", "args"]);
    assert.match(ps.stdout, /^sleep 600$/m);
  } finally {
    await run(["rm", "-f", "exec-d"]);
  }
});

test("logs keep a last line without a newline; exec -w under /proc is refused however it is spelled", async () => {
  const c = await run([
    "run",
    "-d",
    "--name",
    "tail-line",
    "busybox",
    "sh",
    "-c",
    'printf "line1\\nno-newline"; ln -s /proc/self/fd /fdlink; sleep 60',
  ]);
  assert.equal(c.code, 0, c.stderr);
  try {
    let logs = "";
    for (let i = 0; i < 100 && !logs.includes("line1"); i++) {
      logs = (await run(["logs", "tail-line"])).stdout;
      if (!logs.includes("line1")) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(logs, "line1\n", "a line without its newline waits for the stream's end");
    // The partial line is written when the stream ends: stop the container first.
    await run(["stop", "-t", "0", "tail-line"]);
    assert.equal((await run(["logs", "tail-line"])).stdout, "line1\nno-newline");
    const c2 = await run([
      "run",
      "-d",
      "--name",
      "proc-cwd",
      "busybox",
      "sh",
      "-c",
      "ln -s /proc/self/fd /fdlink; sleep 60",
    ]);
    assert.equal(c2.code, 0, c2.stderr);
    for (let i = 0; i < 50; i++) {
      if ((await run(["exec", "proc-cwd", "test", "-L", "/fdlink"])).code === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const w of ["/proc/self/fd/7", "/./proc/self", "/x/../proc", "/fdlink/7"]) {
      const r = await run(["exec", "-w", w, "proc-cwd", "pwd"]);
      assert.equal(r.code, 125, `${w}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /CVE-2024-21626/);
    }
  } finally {
    await run(["rm", "-f", "tail-line", "proc-cwd"]);
  }
});

test("exec -u NAME resolves in the container's current /etc/passwd and /etc/group, supplementary groups included", async () => {
  const c = await run(["run", "-d", "--name", "exec-user", "busybox", "sleep", "60"]);
  assert.equal(c.code, 0, c.stderr);
  try {
    const add = await run(["exec", "exec-user", "sh", "-c", 'echo "staff:x:50:nobody" >> /etc/group']);
    assert.equal(add.code, 0, add.stderr);
    const r = await run(["exec", "-u", "nobody", "exec-user", "id"]);
    assert.equal(r.code, 0, r.stderr);
    // Not root's group 0, which the container's own process has.
    assert.equal(r.stdout, "uid=65534(nobody) gid=65534(nobody) groups=50(staff),65534(nobody)\n");
  } finally {
    await run(["rm", "-f", "exec-user"]);
  }
});
