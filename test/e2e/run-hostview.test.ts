// The host's view of a container with the real runtime (runc): `hostView`, `osless top` and `osless inspect` against
// what the test reads itself from runc's state, /proc and the cgroup filesystem. A container is a process on the
// host: its processes are its cgroup's, its namespaces are /proc/PID/ns links that differ from the host's, its
// limits are cgroup files.
import assert from "node:assert/strict";
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { hostView } from "../../src/runtime/hostview.ts";
import { Store } from "../../src/store/layout.ts";
import { IMAGES, ociLayout } from "../fixtures/images.ts";
import { needTool, run as runTool, tmpdir } from "../fixtures/tools.ts";
import { osless } from "./cli.ts";
import { containerIds, hostTraces } from "./run-kit.ts";

const RUNC = needTool("runc", "runc");
const RUNC_ROOT = "/run/osless/runc";

let storeRoot: Promise<string> | undefined;

function store(): Promise<string> {
  storeRoot ??= (async () => {
    const root = join(await tmpdir("hostview-e2e-"), "store");
    const r = await osless(root, ["copy", "-q", `oci:${await ociLayout(IMAGES.busybox)}:latest`, "busybox"]);
    assert.equal(r.code, 0, r.stderr);
    return root;
  })();
  return storeRoot;
}

/** The container's cgroup.procs (the pids controller on v1 and hybrid hosts, the unified tree on v2). */
function cgroupProcsFile(id: string): string {
  const v2 = existsSync("/sys/fs/cgroup/cgroup.controllers");
  return v2
    ? join("/sys/fs/cgroup/osless", id, "cgroup.procs")
    : join("/sys/fs/cgroup/pids/osless", id, "cgroup.procs");
}

function cgroupProcs(id: string): number[] {
  return readFileSync(cgroupProcsFile(id), "utf8")
    .split("\n")
    .filter(Boolean)
    .map(Number)
    .sort((a, b) => a - b);
}

async function waitFor(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The namespaces that stand for the host's: PID 1's, or this test's own where PID 1's cannot be read. */
function hostNs(kind: string): string {
  try {
    return readlinkSync(`/proc/1/ns/${kind}`);
  } catch {
    return readlinkSync(`/proc/self/ns/${kind}`);
  }
}

/** The rows of `osless top`'s first table: [uid, host pid, container pid, ppid, cmd]. */
function topRows(stdout: string): string[][] {
  const lines = stdout.split("\n");
  assert.match(lines[0]!, /^UID\s+PID \(HOST\)\s+PID \(CONTAINER\)\s+PPID\s+CMD$/);
  const rows: string[][] = [];
  for (const l of lines.slice(1)) {
    if (l === "") break;
    const m = /^(\d+)\s+(\d+)\s+(\d+|-)\s+(\d+)\s+(.*)$/.exec(l);
    assert.ok(m, `not a row: ${l}`);
    rows.push(m.slice(1));
  }
  return rows;
}

test("a detached container seen from the host: processes, namespaces, cgroup and limits, capabilities, seccomp", async () => {
  const root = await store();
  const name = `hv-${process.pid}`;
  const before = containerIds(root);
  let id: string | undefined;
  let execRun: ReturnType<typeof osless> | undefined;
  try {
    const started = await osless(root, [
      "run",
      "-d",
      "--name",
      name,
      "--memory",
      "64m",
      "--pids-limit",
      "50",
      "--cpus",
      "0.5",
      "busybox",
      "sh",
      "-c",
      "sleep 600 & sleep 600 & wait",
    ]);
    assert.equal(started.code, 0, started.stderr);
    id = started.stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const cid = id;
    await waitFor("the two sleeps", () => cgroupProcs(cid).length === 3);
    // A process started by exec joins the cgroup with a parent outside the container (runc exec). It runs in the
    // foreground: `exec -d` would hand the detached process this test's output pipes.
    execRun = osless(root, ["exec", name, "sleep", "601"]);
    // Joined, and past the runtime's own init (which is in the cgroup for a moment before it execs the command).
    await waitFor(
      "the exec'd sleep",
      () =>
        cgroupProcs(cid).length === 4 &&
        cgroupProcs(cid).some((p) => {
          try {
            return readFileSync(`/proc/${p}/cmdline`, "utf8") === "sleep\u0000601\u0000";
          } catch {
            return false;
          }
        }),
    );

    const state = JSON.parse((await runTool(RUNC, ["--root", RUNC_ROOT, "state", id])).stdout) as {
      pid: number;
      status: string;
    };
    assert.equal(state.status, "running");
    const pid = state.pid;
    const procs = cgroupProcs(id);

    const view = await hostView(await Store.open(root), name);
    assert.equal(view.running, true);
    assert.equal(view.container.id, id);
    assert.equal(view.container.state.pid, pid);
    assert.equal(view.runtime.name, "runc");

    // Processes: exactly the cgroup's, with their PIDs in the container's pid namespace.
    assert.deepEqual(
      view.processes!.map((p) => p.pid).sort((a, b) => a - b),
      procs,
    );
    const init = view.processes!.find((p) => p.pid === pid)!;
    assert.equal(init.containerPid, 1);
    assert.equal(init.depth, 0);
    assert.deepEqual(init.args, ["sh", "-c", "sleep 600 & sleep 600 & wait"]);
    const nspid = readFileSync(`/proc/${pid}/status`, "utf8")
      .match(/^NSpid:\s+(.*)$/m)![1]!
      .split(/\s+/);
    assert.deepEqual(init.nsPids.map(String), nspid);
    const sleeps = view.processes!.filter((p) => p.ppid === pid);
    assert.equal(sleeps.length, 2);
    for (const s of sleeps) {
      assert.deepEqual(s.args, ["sleep", "600"]);
      assert.equal(s.depth, 1);
      assert.ok(s.containerPid! > 1);
    }
    const execd = view.processes!.find((p) => p.args.join(" ") === "sleep 601")!;
    assert.ok(execd, "the exec'd process is listed");
    assert.equal(execd.depth, 0);
    assert.ok(!procs.includes(execd.ppid), "its parent is outside the container");
    // Its ancestors: PID 1 first, each the parent of the next, the runtime last (the first process's parent).
    const up = view.ancestors!;
    assert.equal(up[0]!.pid, 1);
    assert.equal(up.at(-1)!.pid, init.ppid);
    assert.equal(up.at(-1)!.name, "runc");
    assert.ok(up.at(-1)!.args.includes(id));
    for (let i = 1; i < up.length; i++) assert.equal(up[i]!.ppid, up[i - 1]!.pid);
    // ps axf's picture: one tree from PID 1 holding every container process, the exec'd one below its runc exec.
    const tree = view.hostTree!;
    assert.equal(tree[0]!.pid, 1);
    assert.equal(tree.filter((p) => p.depth === 0).length, 1);
    for (const p of procs)
      assert.ok(
        tree.some((t) => t.pid === p),
        `${p} is not in the host tree`,
      );
    const execParent = tree.find((t) => t.pid === execd.ppid)!;
    assert.equal(execParent.name, "runc");
    assert.ok(execParent.args.includes("exec"));
    assert.equal(tree.find((t) => t.pid === execd.pid)!.depth, execParent.depth + 1);

    // Namespaces: the container's /proc/PID/ns links, new ones for pid, mnt, uts, ipc, net.
    for (const ns of view.namespaces!) {
      assert.equal(ns.container, readlinkSync(`/proc/${pid}/ns/${ns.type}`), ns.type);
      assert.equal(ns.host, hostNs(ns.type), ns.type);
      assert.equal(ns.shared, ns.container === ns.host);
    }
    const own = view.namespaces!.filter((n) => !n.shared).map((n) => n.type);
    for (const kind of ["pid", "mnt", "uts", "ipc", "net"]) {
      assert.ok(own.includes(kind as never), `${kind} is not the container's own`);
      assert.notEqual(readlinkSync(`/proc/${pid}/ns/${kind}`), hostNs(kind));
    }
    assert.deepEqual(new Set(own), new Set(view.namespaces!.filter((n) => n.requested).map((n) => n.type)));

    // cgroup: the lines of /proc/PID/cgroup, the limits the flags must give.
    assert.deepEqual(
      view.cgroup!.lines,
      readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n").filter(Boolean),
    );
    for (const h of view.cgroup!.hierarchies) assert.equal(h.path, `/osless/${id}`);
    assert.equal(view.cgroup!.procsFile, cgroupProcsFile(id));
    const limits = view.cgroup!.limits;
    assert.equal(limits.memory!.limit, 64 * 1024 * 1024);
    assert.ok(limits.memory!.usage! > 0);
    assert.equal(limits.pids!.max, 50);
    assert.equal(limits.pids!.current, 4);
    assert.deepEqual([limits.cpu!.quota, limits.cpu!.period, limits.cpu!.cpus], [50_000, 100_000, 0.5]);
    assert.deepEqual(view.configured.pids, { limit: 50 });
    assert.equal(view.configured.memory!.limit, 64 * 1024 * 1024);

    // Security: Docker's 14 capabilities, the seccomp filter.
    const sec = view.security!;
    for (const set of ["effective", "permitted", "bounding"] as const) {
      assert.equal(sec.capabilities[set].hex, "00000000a80425fb", set);
      assert.equal(sec.capabilities[set].names.length, 14);
    }
    assert.equal(sec.capabilities.inheritable.hex, "0000000000000000");
    assert.equal(sec.capabilities.ambient.hex, "0000000000000000");
    assert.equal(sec.seccomp.mode, 2);
    assert.equal(sec.seccomp.description, "filter");
    assert.ok(sec.seccomp.filters! >= 1);
    assert.deepEqual(sec.uidMap, [{ inside: 0, outside: 0, count: 4294967295 }]);

    // The root: the overlay runc mounted, seen from inside the container's mount namespace.
    assert.equal(view.rootfs.kind, "overlay");
    assert.equal(view.rootfs.mounted!.type, "overlay");
    const lower = view.rootfs.lower!.map((l) => l.dir);
    assert.ok(view.rootfs.mounted!.options.includes(`lowerdir=${lower.join(":")}`));
    assert.ok(view.rootfs.mounted!.options.includes(`upperdir=${view.rootfs.upper}`));
    assert.ok(view.rootfs.lower!.every((l) => l.containers >= 1));

    // osless top: docker top's table with exactly those PIDs, then the host's tree down to them.
    const top = await osless(root, ["top", name]);
    assert.equal(top.code, 0, top.stderr);
    const rows = topRows(top.stdout);
    assert.deepEqual(
      rows.map((r) => Number(r[1])).sort((a, b) => a - b),
      procs,
    );
    const initRow = rows.find((r) => Number(r[1]) === pid)!;
    assert.deepEqual(initRow.slice(0, 4), ["0", String(pid), "1", String(init.ppid)]);
    assert.equal(initRow[4], 'sh -c "sleep 600 & sleep 600 & wait"');
    const axf = top.stdout.slice(top.stdout.indexOf("On the host (ps axf)"));
    const treeLine = (p: number) => axf.split("\n").find((l) => new RegExp(`^\\s*${p}  `).test(l));
    assert.match(treeLine(1)!, /^\s*1 {2}\S/); // PID 1 at the top, not indented
    assert.match(treeLine(init.ppid)!, /\\_ .*runc/);
    assert.match(treeLine(pid)!, /\\_ sh -c .*\[container pid 1\]$/);
    for (const s of sleeps)
      assert.match(treeLine(s.pid)!, new RegExp(`\\\\_ sleep 600 +\\[container pid ${s.containerPid}\\]$`));
    assert.match(treeLine(execd.pid)!, /\\_ sleep 601 +\[container pid \d+, exec'd\]$/);
    assert.match(treeLine(execd.ppid)!, /\\_ .*runc .* exec /);
    // The tree indents each level 4 columns deeper: the sleeps one level below their shell.
    const col = (l: string) => l.indexOf("\\_");
    assert.equal(col(treeLine(sleeps[0]!.pid)!), col(treeLine(pid)!) + 4);
    assert.match(top.stdout, /^pid +pid:\[\d+\] +pid:\[\d+\] +its own$/m);
    assert.match(top.stdout, /pids: +4 of 50/);
    assert.match(top.stdout, /cpu: +0\.5 CPUs/);
    assert.match(top.stdout, /memory: .* of 64 MiB/);
    assert.match(top.stdout, /CapEff 00000000a80425fb: CHOWN /);
    assert.match(top.stdout, /seccomp: 2 \(filter\)/);

    const topJson = await osless(root, ["top", "--json", name]);
    assert.equal(topJson.code, 0, topJson.stderr);
    const tj = JSON.parse(topJson.stdout) as typeof view;
    assert.deepEqual(
      tj.processes!.map((p) => p.pid).sort((a, b) => a - b),
      procs,
    );

    // inspect NAME: the container's JSON (container first); inspect busybox: still the image's.
    const ins = await osless(root, ["inspect", name]);
    assert.equal(ins.code, 0, ins.stderr);
    const [c] = JSON.parse(ins.stdout) as [
      {
        id: string;
        name: string;
        state: { status: string; pid: number };
        bundle: { config: { resources: { memory: { limit: number } }; namespaces: string[] } };
        host: typeof view;
      },
    ];
    assert.equal(c.id, id);
    assert.equal(c.name, name);
    assert.deepEqual([c.state.status, c.state.pid], ["running", pid]);
    assert.equal(c.bundle.config.resources.memory.limit, 64 * 1024 * 1024);
    assert.deepEqual(new Set(c.bundle.config.namespaces), new Set(["pid", "network", "ipc", "uts", "mount"]));
    assert.deepEqual(
      c.host.processes!.map((p) => p.pid).sort((a, b) => a - b),
      procs,
    );
    assert.equal(c.host.security!.capabilities.effective.hex, "00000000a80425fb");
    const cins = await osless(root, ["container", "inspect", id.slice(0, 12)]);
    assert.equal(cins.code, 0, cins.stderr);
    assert.equal((JSON.parse(cins.stdout) as { id: string }[])[0]!.id, id);
    const img = await osless(root, ["inspect", "busybox"]);
    assert.equal(img.code, 0, img.stderr);
    const [image] = JSON.parse(img.stdout) as [{ Id: string; RepoTags: string[] }];
    assert.match(image.Id, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(image.RepoTags, ["busybox:latest"]);
    const missing = await osless(root, ["inspect", "no-such-thing"]);
    assert.equal(missing.code, 3, missing.stderr);
    assert.match(missing.stderr, /no such image: no-such-thing/);

    // Stopped: top refuses, inspect still shows the record and the configured limits, without host facts.
    const stop = await osless(root, ["stop", "-t", "0", name]);
    assert.equal(stop.code, 0, stop.stderr);
    const stoppedTop = await osless(root, ["top", name]);
    assert.equal(stoppedTop.code, 1);
    assert.match(stoppedTop.stderr, new RegExp(`container ${name} is not running`));
    const stopped = await osless(root, ["inspect", name]);
    assert.equal(stopped.code, 0, stopped.stderr);
    const [s] = JSON.parse(stopped.stdout) as [{ state: { status: string }; host: typeof view }];
    assert.equal(s.state.status, "exited");
    assert.equal(s.host.running, false);
    assert.equal(s.host.processes, undefined);
    assert.equal(s.host.namespaces, undefined);
    assert.deepEqual(s.host.configured.pids, { limit: 50 });
    assert.deepEqual(s.host.configured.cpu, { quota: 50_000, period: 100_000, cpus: 0.5 });
    assert.equal(s.host.configured.cgroupsPath, `/osless/${id}`);
  } finally {
    if (id) await osless(root, ["rm", "-f", id]);
    await execRun; // ends with the container
  }
  assert.deepEqual(containerIds(root), before);
  if (id) assert.deepEqual(hostTraces(id), []);
});

test("top of a container that does not exist: not found (exit 3)", async () => {
  const r = await osless(await store(), ["top", "nope"]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /no such container: nope/);
});
