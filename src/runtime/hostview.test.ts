// The host view's readers: /proc/PID/status, cgroup and mountinfo parsing on texts as the kernel writes them, the
// limits read from real files in v1 and v2 layouts, and the readers against this test process's own /proc entries
// (its cgroup directories must list it, its ancestors must end at its parent, its namespaces must be its own).
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { tmpdir } from "../../test/fixtures/tools.ts";
import { capabilityMask, DEFAULT_CAPABILITIES } from "./capabilities.ts";
import {
  ancestorsOf,
  capabilityNames,
  cgroupDirs,
  cgroupNumber,
  NAMESPACE_KINDS,
  namespaceOf,
  parseCgroupFile,
  parseCgroupMounts,
  parseIdMap,
  parseProcStatus,
  processTree,
  readCgroupProcs,
  readLimits,
  readProcess,
  rootMount,
  securityFromStatus,
} from "./hostview.ts";

/** /proc/PID/status of a runc container's first process on this kind of host (Docker's defaults). */
const CONTAINER_STATUS = `Name:\tsh
Umask:\t0022
State:\tS (sleeping)
Tgid:\t13479
NStgid:\t13479\t1
Pid:\t13479
PPid:\t13467
Uid:\t0\t0\t0\t0
Gid:\t0\t0\t0\t0
Groups:\t0 10
NSpid:\t13479\t1
CapInh:\t0000000000000000
CapPrm:\t00000000a80425fb
CapEff:\t00000000a80425fb
CapBnd:\t00000000a80425fb
CapAmb:\t0000000000000000
NoNewPrivs:\t1
Seccomp:\t2
Seccomp_filters:\t1
`;

test("status: capabilities as hex and Docker's 14 names, seccomp filter mode, no_new_privs, id maps", () => {
  const st = parseProcStatus(CONTAINER_STATUS);
  assert.equal(st.get("NSpid"), "13479\t1");
  const sec = securityFromStatus(st, { uid: "         0          0 4294967295\n", gid: "0 100000 65536\n" });
  assert.equal(sec.capabilities.effective.hex, "00000000a80425fb");
  assert.deepEqual(new Set(sec.capabilities.effective.names), new Set(DEFAULT_CAPABILITIES));
  assert.equal(sec.capabilities.effective.names.length, 14);
  assert.deepEqual(sec.capabilities.ambient, { hex: "0000000000000000", names: [] });
  assert.deepEqual(sec.seccomp, { mode: 2, description: "filter", filters: 1 });
  assert.equal(sec.noNewPrivs, true);
  assert.deepEqual(sec.uids, [0, 0, 0, 0]);
  assert.deepEqual(sec.groups, [0, 10]);
  assert.deepEqual(sec.uidMap, [{ inside: 0, outside: 0, count: 4294967295 }]);
  assert.deepEqual(sec.gidMap, [{ inside: 0, outside: 100000, count: 65536 }]);
  // A kernel without the Seccomp_filters line (before 5.9): mode only.
  const old = securityFromStatus(parseProcStatus("Seccomp:\t0\n"), { uid: "", gid: "" });
  assert.deepEqual(old.seccomp, { mode: 0, description: "disabled" });
  assert.equal(old.noNewPrivs, false);
});

test("capability names: the mask capabilities.ts makes decodes back to its names; unknown bits are CAP_<n>", () => {
  const names = ["CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_ADMIN", "CAP_CHECKPOINT_RESTORE"];
  assert.deepEqual(capabilityNames(capabilityMask(names)), names);
  assert.deepEqual(capabilityNames("0000000000000000"), []);
  assert.deepEqual(capabilityNames((1n << 45n).toString(16).padStart(16, "0")), ["CAP_45"]);
  assert.equal(capabilityNames("000001ffffffffff").length, 41);
});

test("id maps: several lines, blank lines and junk ignored", () => {
  assert.deepEqual(parseIdMap("0 1000 1\n1 100000 65536\n\nbad line\n"), [
    { inside: 0, outside: 1000, count: 1 },
    { inside: 1, outside: 100000, count: 65536 },
  ]);
});

const HYBRID_MOUNTINFO = `22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd,release_agent=/x
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
42 31 0:39 /sub /mnt/my\\040cgroups rw,relatime - cgroup cgroup rw,blkio
`;

test("cgroup mounts and /proc/PID/cgroup: each hierarchy's directory on a hybrid host", () => {
  const mounts = parseCgroupMounts(HYBRID_MOUNTINFO);
  assert.deepEqual(
    mounts.map((m) => [m.version, m.mountPoint, m.root, m.controllers.join(",")]),
    [
      [1, "/sys/fs/cgroup/cpu,cpuacct", "/", "cpu,cpuacct"],
      [1, "/sys/fs/cgroup/memory", "/", "memory"],
      [1, "/sys/fs/cgroup/pids", "/", "pids"],
      [1, "/sys/fs/cgroup/systemd", "/", "name=systemd"],
      [2, "/sys/fs/cgroup/unified", "/", ""],
      [1, "/mnt/my cgroups", "/sub", "blkio"],
    ],
  );
  const id = "ab".repeat(32);
  const lines = parseCgroupFile(
    [
      `12:blkio:/sub/osless/${id}`,
      `9:name=systemd:/osless/${id}`,
      `8:pids:/osless/${id}`,
      `4:memory:/osless/${id}`,
      `2:cpuacct,cpu:/osless/${id}`,
      `7:freezer:/osless/${id}`,
      `0::/osless/${id}`,
      "",
    ].join("\n"),
  );
  assert.deepEqual(lines[4], { hierarchyId: 2, controllers: ["cpuacct", "cpu"], path: `/osless/${id}` });
  const dirs = cgroupDirs(lines, mounts).map((h) => h.dir);
  assert.deepEqual(dirs, [
    `/mnt/my cgroups/osless/${id}`, // relative to the mount's root (/sub)
    `/sys/fs/cgroup/systemd/osless/${id}`,
    `/sys/fs/cgroup/pids/osless/${id}`,
    `/sys/fs/cgroup/memory/osless/${id}`,
    `/sys/fs/cgroup/cpu,cpuacct/osless/${id}`, // the controllers in another order
    undefined, // freezer is not mounted here
    `/sys/fs/cgroup/unified/osless/${id}`,
  ]);
  // A cgroup outside a mount's root has no directory through that mount.
  assert.equal(cgroupDirs(parseCgroupFile("12:blkio:/elsewhere"), mounts)[0]!.dir, undefined);
  // Pure v2: one line, one mount at /sys/fs/cgroup.
  const v2 = parseCgroupMounts("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
  assert.deepEqual(
    cgroupDirs(parseCgroupFile(`0::/osless/${id}\n`), v2)[0]!.dir,
    `/sys/fs/cgroup/osless/${id}`,
  );
});

test("cgroup numbers: max and v1's page-rounded LONG_MAX are unlimited (null), -1 quota too", () => {
  assert.equal(cgroupNumber("max\n"), null);
  assert.equal(cgroupNumber("9223372036854771712\n"), null);
  assert.equal(cgroupNumber("-1\n"), null);
  assert.equal(cgroupNumber("67108864\n"), 67108864);
  assert.equal(cgroupNumber(undefined), undefined);
  assert.equal(cgroupNumber("garbage"), undefined);
});

function writeFiles(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [n, v] of Object.entries(files)) writeFileSync(join(dir, n), v);
}

test("limits from v1 files (memory, memsw, pids, cfs quota) and from v2 files (memory.max, swap, cpu.max)", async () => {
  const root = await tmpdir("hostview-limits-");
  writeFiles(join(root, "memory/c"), {
    "memory.limit_in_bytes": "67108864\n",
    "memory.usage_in_bytes": "606208\n",
    "memory.memsw.limit_in_bytes": "134217728\n",
  });
  writeFiles(join(root, "pids/c"), { "pids.max": "50\n", "pids.current": "3\n" });
  writeFiles(join(root, "cpu/c"), { "cpu.cfs_quota_us": "50000\n", "cpu.cfs_period_us": "100000\n" });
  const v1 = readLimits([
    { hierarchyId: 4, controllers: ["memory"], path: "/c", dir: join(root, "memory/c") },
    { hierarchyId: 8, controllers: ["pids"], path: "/c", dir: join(root, "pids/c") },
    { hierarchyId: 1, controllers: ["cpu", "cpuacct"], path: "/c", dir: join(root, "cpu/c") },
    { hierarchyId: 0, controllers: [], path: "/c", dir: join(root, "unified/c") }, // hybrid: no files there
  ]);
  assert.equal(v1.memory?.limit, 67108864);
  assert.equal(v1.memory?.usage, 606208);
  assert.equal(v1.memory?.memoryAndSwapLimit, 134217728);
  assert.deepEqual({ max: v1.pids?.max, current: v1.pids?.current }, { max: 50, current: 3 });
  assert.deepEqual({ q: v1.cpu?.quota, p: v1.cpu?.period, c: v1.cpu?.cpus }, { q: 50000, p: 100000, c: 0.5 });

  writeFiles(join(root, "v2/c"), {
    "memory.max": "max\n",
    "memory.current": "4096\n",
    "memory.swap.max": "max\n",
    "pids.max": "max\n",
    "pids.current": "1\n",
    "cpu.max": "150000 100000\n",
  });
  const v2 = readLimits([{ hierarchyId: 0, controllers: [], path: "/c", dir: join(root, "v2/c") }]);
  assert.deepEqual(
    { limit: v2.memory?.limit, usage: v2.memory?.usage, sw: v2.memory?.memoryAndSwapLimit },
    { limit: null, usage: 4096, sw: null },
  );
  assert.equal(v2.pids?.max, null);
  assert.deepEqual({ q: v2.cpu?.quota, c: v2.cpu?.cpus }, { q: 150000, c: 1.5 });
  writeFileSync(join(root, "v2/c/memory.max"), "1048576\n");
  writeFileSync(join(root, "v2/c/memory.swap.max"), "1048576\n");
  writeFileSync(join(root, "v2/c/cpu.max"), "max 100000\n");
  const v2b = readLimits([{ hierarchyId: 0, controllers: [], path: "/c", dir: join(root, "v2/c") }]);
  assert.equal(v2b.memory?.memoryAndSwapLimit, 2097152); // docker's --memory-swap: memory plus swap
  assert.deepEqual({ q: v2b.cpu?.quota, c: v2b.cpu?.cpus }, { q: null, c: null });
  // No readable files: no limits claimed.
  assert.deepEqual(
    readLimits([{ hierarchyId: 0, controllers: [], path: "/x", dir: join(root, "none") }]),
    {},
  );
});

test("process tree: parents before children, roots by PID, processes whose parent is outside are roots", () => {
  const p = (pid: number, ppid: number) => ({
    pid,
    ppid,
    nsPids: [pid],
    uid: 0,
    gid: 0,
    name: String(pid),
    args: [],
    state: "S",
  });
  const tree = processTree([p(30, 10), p(20, 10), p(10, 5), p(40, 7), p(21, 20)]);
  assert.deepEqual(
    tree.map((x) => [x.pid, x.depth]),
    [
      [10, 0],
      [20, 1],
      [21, 2],
      [30, 1],
      [40, 0],
    ],
  );
});

test("the / mount of a mountinfo: the last one mounted there", () => {
  const info = `100 90 0:50 / / rw - tmpfs tmpfs rw
101 90 0:51 / / rw,relatime - overlay overlay rw,lowerdir=/s/a/fs:/s/b/fs,upperdir=/c/upper,workdir=/c/work
102 101 0:52 / /proc rw - proc proc rw
`;
  assert.deepEqual(rootMount(info), {
    type: "overlay",
    source: "overlay",
    options: ["rw", "lowerdir=/s/a/fs:/s/b/fs", "upperdir=/c/upper", "workdir=/c/work"],
  });
});

test("this process as /proc shows it: PIDs, parent, user, command line, ancestors up to PID 1", () => {
  const me = readProcess(process.pid);
  assert.ok(me);
  assert.equal(me.pid, process.pid);
  assert.equal(me.ppid, process.ppid);
  assert.equal(me.uid, process.geteuid!());
  assert.equal(me.nsPids[0], process.pid);
  assert.ok(me.args.includes(process.argv[1]!), `${process.argv[1]} not in ${JSON.stringify(me.args)}`);
  assert.equal(me.state, "R");
  const up = ancestorsOf(process.pid);
  assert.equal(up[0]!.pid, 1);
  assert.equal(up[0]!.depth, 0);
  assert.equal(up.at(-1)!.pid, process.ppid);
  for (let i = 1; i < up.length; i++) assert.equal(up[i]!.ppid, up[i - 1]!.pid);
  assert.equal(readProcess(2 ** 22 + 1), undefined); // above pid_max: never a process
});

test("this process's namespaces and cgroups: readlink values, and every cgroup directory lists this process", () => {
  for (const kind of NAMESPACE_KINDS) {
    assert.equal(namespaceOf("self", kind), readlinkSync(`/proc/self/ns/${kind}`));
    assert.match(namespaceOf(process.pid, kind)!, new RegExp(`^${kind}:\\[\\d+\\]$`));
  }
  const hierarchies = cgroupDirs(
    parseCgroupFile(readFileSync("/proc/self/cgroup", "utf8")),
    parseCgroupMounts(readFileSync("/proc/self/mountinfo", "utf8")),
  );
  const withDirs = hierarchies.filter((h) => h.dir !== undefined);
  assert.ok(withDirs.length > 0, JSON.stringify(hierarchies));
  for (const h of withDirs) {
    const procs = readCgroupProcs(join(h.dir!, "cgroup.procs"));
    assert.ok(procs.includes(process.pid), `${h.dir}/cgroup.procs lacks ${process.pid}`);
  }
});
