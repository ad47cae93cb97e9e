/**
 * The spec builder against Docker's own behaviour (entrypoint/cmd overrides, workdir rules, command checks), real
 * root filesystems (the busybox-static tree, a static hello binary alone), the OCI runtime JSON schema, and runc
 * itself running a generated bundle.
 */
import assert from "node:assert/strict";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { arch, tmpdir as osTmpdir, release } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { AnySchema, ValidateFunction } from "ajv";
import AjvDraft04 from "ajv-draft-04";
import { HELLO_C, staticProgram } from "../../test/fixtures/programs.ts";
import { busyboxRootfs } from "../../test/fixtures/rootfs.ts";
import { needTool, run } from "../../test/fixtures/tools.ts";
import { isOslessError, runExitCodeFor } from "../errors.ts";
import type { ImageConfig } from "../spec/schemas.ts";
import { capabilityMask } from "./capabilities.ts";
import { DEFAULT_PATH } from "./env.ts";
import type { Mount, Spec } from "./oci.ts";
import { DirRoot } from "./root-dir.ts";
import { defaultSeccomp } from "./seccomp.ts";
import {
  type BuiltSpec,
  buildSpec,
  checkCommand,
  type HostFacts,
  MASKED_PATHS,
  parseCpuList,
  parseNofileHard,
  parseSecurityOpts,
  resolveArgs,
  resolveWorkdir,
  type SpecContext,
} from "./spec.ts";
import type { RunOptions } from "./types.ts";

const ID = "0123456789abcdef".repeat(4);
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(prefix: string): string {
  const d = mkdtempSync(join(osTmpdir(), prefix));
  dirs.push(d);
  return d;
}

function image(config: ImageConfig["config"] = {}): ImageConfig {
  return { architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] }, config };
}

const HOST: HostFacts = {
  cgroupMode: "hybrid",
  cpuCount: 4,
  thermalThrottlePaths: [],
  nofileHard: 1048576,
  swapAccounting: true,
  hostname: "buildhost",
};

let busybox: DirRoot;
let hello: DirRoot;
before(async () => {
  busybox = new DirRoot(await busyboxRootfs());
  const helloDir = tmp("osless-hello-root-");
  copyFileSync(await staticProgram("hello", HELLO_C), join(helloDir, "hello"));
  hello = new DirRoot(helloDir);
});

function ctx(reader: DirRoot, extra: Partial<SpecContext> = {}): SpecContext {
  return {
    id: ID,
    root: { path: "rootfs", readonly: false },
    reader,
    cgroupsPath: `/osless/${ID}`,
    seccomp: undefined,
    host: HOST,
    ...extra,
  };
}

function errorOf(f: () => unknown): {
  code: string;
  message: string;
  hint: string | undefined;
  exit: number;
} {
  try {
    f();
  } catch (e) {
    assert.ok(isOslessError(e), `not an OslessError: ${e}`);
    return { code: e.code, message: e.message, hint: e.hint, exit: runExitCodeFor(e) };
  }
  assert.fail("no error thrown");
}

// ---------------------------------------------------------------------------------------------------------------
// Entrypoint and Cmd: docker run's rules (moby merge + mergeAndVerifyConfig)

const argTable: {
  name: string;
  config: ImageConfig["config"];
  opts: Pick<RunOptions, "entrypoint" | "args">;
  want: string[] | "no command";
}[] = [
  { name: "Cmd only", config: { Cmd: ["sh"] }, opts: {}, want: ["sh"] },
  {
    name: "Entrypoint + Cmd",
    config: { Entrypoint: ["/ep", "-x"], Cmd: ["a"] },
    opts: {},
    want: ["/ep", "-x", "a"],
  },
  {
    name: "args replace Cmd",
    config: { Entrypoint: ["/ep"], Cmd: ["a"] },
    opts: { args: ["b", "c"] },
    want: ["/ep", "b", "c"],
  },
  {
    name: "args replace a Cmd-only image's command",
    config: { Cmd: ["sh"] },
    opts: { args: ["ls", "-l"] },
    want: ["ls", "-l"],
  },
  {
    name: "--entrypoint replaces Entrypoint and drops the image's Cmd",
    config: { Entrypoint: ["/ep"], Cmd: ["a"] },
    opts: { entrypoint: "/bin/sh" },
    want: ["/bin/sh"],
  },
  {
    name: "--entrypoint with args",
    config: { Entrypoint: ["/ep"], Cmd: ["a"] },
    opts: { entrypoint: "/bin/sh", args: ["-c", "true"] },
    want: ["/bin/sh", "-c", "true"],
  },
  {
    name: '--entrypoint "" with args runs the args alone',
    config: { Entrypoint: ["/ep"], Cmd: ["a"] },
    opts: { entrypoint: "", args: ["ls"] },
    want: ["ls"],
  },
  {
    name: '--entrypoint "" alone: the image Cmd is dropped too, nothing to run',
    config: { Entrypoint: ["/ep"], Cmd: ["a"] },
    opts: { entrypoint: "" },
    want: "no command",
  },
  { name: "empty args are no args", config: { Cmd: ["sh"] }, opts: { args: [] }, want: ["sh"] },
  { name: "no Entrypoint, no Cmd", config: {}, opts: {}, want: "no command" },
  { name: "no config at all", config: undefined, opts: {}, want: "no command" },
];
for (const row of argTable) {
  test(`args: ${row.name}`, () => {
    const cfg = image(row.config);
    if (row.want === "no command") {
      const e = errorOf(() => resolveArgs(cfg, row.opts));
      assert.equal(e.code, "E_USAGE");
      assert.equal(e.message, "no command specified");
      assert.equal(e.exit, 125);
    } else {
      assert.deepEqual(resolveArgs(cfg, row.opts), row.want);
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Working directory: absolute, cleaned, never under /proc (CVE-2024-21626), also through the root's symlinks

function trickyRoot(): DirRoot {
  const d = tmp("osless-cwd-root-");
  mkdirSync(join(d, "app/data"), { recursive: true });
  mkdirSync(join(d, "proc"));
  writeFileSync(join(d, "file"), "x");
  symlinkSync("/proc/self/fd", join(d, "fdlink")); // absolute: in-root /proc/self/fd
  symlinkSync("../proc", join(d, "app/up")); // relative, climbing
  symlinkSync("/app/../../../../proc/1/cwd", join(d, "deep"));
  symlinkSync("/app/data", join(d, "ok"));
  symlinkSync("nonexistent/../fdlink", join(d, "sneaky")); // a missing component, then back up
  symlinkSync("/file/../proc", join(d, "viafile"));
  return new DirRoot(d);
}

test("workdir: -w, else WorkingDir, else /; cleaned; symlinks to ordinary dirs are fine", () => {
  const r = trickyRoot();
  assert.equal(resolveWorkdir(image(), {}, r), "/");
  assert.equal(resolveWorkdir(image({ WorkingDir: "/app//data/" }), {}, r), "/app/data");
  assert.equal(resolveWorkdir(image({ WorkingDir: "/app" }), { workdir: "/srv/new" }, r), "/srv/new");
  assert.equal(resolveWorkdir(image(), { workdir: "/ok" }, r), "/ok");
});

const procTable: { workdir: string; image?: boolean; via?: string }[] = [
  { workdir: "/proc" },
  { workdir: "/proc/self/fd/7" },
  { workdir: "/proc/self/fd/7", image: true },
  { workdir: "//proc/./self/../1/cwd" },
  { workdir: "/app/../proc/self/fd/8" },
  { workdir: "/fdlink/7", via: "/proc/self/fd/7" },
  { workdir: "/fdlink", via: "/proc/self/fd" },
  { workdir: "/app/up/self/fd/9", via: "/proc/self/fd/9" },
  { workdir: "/deep/x", via: "/proc/1/cwd/x" },
  { workdir: "/sneaky/3", via: "/proc/self/fd/3" },
  { workdir: "/viafile", via: "/proc" },
];
for (const row of procTable) {
  test(`workdir ${row.workdir}${row.image ? " (image WorkingDir)" : ""} is refused (CVE-2024-21626)`, () => {
    const r = trickyRoot();
    const e = errorOf(() =>
      resolveWorkdir(
        image(row.image ? { WorkingDir: row.workdir } : {}),
        row.image ? {} : { workdir: row.workdir },
        r,
      ),
    );
    assert.equal(e.code, "E_USAGE");
    assert.match(e.message, /under \/proc: refused \(CVE-2024-21626\)/);
    assert.match(e.message, row.image ? /the image's WorkingDir/ : /\(-w\)/);
    if (row.via) assert.ok(e.message.includes(`resolves to ${row.via}`), e.message);
  });
}

test("workdir with a reader that cannot read link targets: dangling symlinks are refused, others resolved", () => {
  const full = trickyRoot();
  const r = {
    stat: full.stat.bind(full),
    readFile: full.readFile.bind(full),
    resolve: full.resolve.bind(full),
  };
  assert.equal(resolveWorkdir(image(), { workdir: "/ok/new" }, r), "/ok/new");
  let e = errorOf(() => resolveWorkdir(image(), { workdir: "/fdlink/7" }, r));
  assert.match(e.message, /goes through \/fdlink, a symlink whose target is missing: refused/);
  e = errorOf(() => resolveWorkdir(image(), { workdir: "/app/up/x" }, r));
  assert.match(e.message, /resolves to \/proc\/x, which is under \/proc/);
});

test("workdir: relative or a file is refused", () => {
  const r = trickyRoot();
  assert.match(
    errorOf(() => resolveWorkdir(image(), { workdir: "app" }, r)).message,
    /needs to be an absolute path/,
  );
  assert.match(
    errorOf(() => resolveWorkdir(image({ WorkingDir: "rel" }), {}, r)).message,
    /'rel' \(the image's WorkingDir\) is invalid/,
  );
  assert.match(errorOf(() => resolveWorkdir(image(), { workdir: "/file" }, r)).message, /is not a directory/);
});

// ---------------------------------------------------------------------------------------------------------------
// The command, checked in the root before the runtime runs

const PATH_ENV = [`PATH=${DEFAULT_PATH}`];

test("command: found in the busybox root by absolute path, by PATH search, relative to cwd", () => {
  assert.equal(checkCommand(["sh"], PATH_ENV, "/", busybox), "/bin/sh");
  assert.equal(checkCommand(["wget", "-q"], PATH_ENV, "/", busybox), "/usr/bin/wget");
  assert.equal(checkCommand(["/bin/busybox"], [], "/", busybox), "/bin/busybox");
  assert.equal(checkCommand(["./busybox"], [], "/bin", busybox), "/bin/busybox");
  assert.equal(checkCommand(["sh"], ["PATH=/nowhere:/bin"], "/", busybox), "/bin/sh");
});

test("command: missing in an image that has a shell: not found (127), no 'no OS' claim", () => {
  let e = errorOf(() => checkCommand(["bash"], PATH_ENV, "/", busybox));
  assert.equal(e.code, "E_COMMAND_NOT_FOUND");
  assert.equal(e.exit, 127);
  assert.equal(e.message, `bash: not found in PATH (${DEFAULT_PATH}) in this image`);
  e = errorOf(() => checkCommand(["/bin/bash"], PATH_ENV, "/", busybox));
  assert.equal(e.message, "no /bin/bash in this image");
  e = errorOf(() => checkCommand(["sh"], ["PATH="], "/", busybox));
  assert.match(e.message, /not found in PATH \(empty\)/);
  assert.match(e.hint ?? "", /PATH is empty/);
});

test("command: a directory or a file without an x bit is not executable (126)", () => {
  let e = errorOf(() => checkCommand(["/etc"], PATH_ENV, "/", busybox));
  assert.equal(e.code, "E_COMMAND_NOT_EXECUTABLE");
  assert.equal(e.exit, 126);
  assert.match(e.message, /\/etc: is a directory/);
  e = errorOf(() => checkCommand(["/etc/passwd"], PATH_ENV, "/", busybox));
  assert.equal(e.code, "E_COMMAND_NOT_EXECUTABLE");
  assert.match(e.message, /\/etc\/passwd: permission denied \(mode 0644 has no execute bit\)/);
  e = errorOf(() => checkCommand(["passwd"], ["PATH=/etc"], "/", busybox));
  assert.equal(e.code, "E_COMMAND_NOT_EXECUTABLE");
});

test("the static hello image: its entrypoint runs; anything else is 'it has no OS inside'", () => {
  assert.equal(checkCommand(["/hello"], PATH_ENV, "/", hello), "/hello");
  let e = errorOf(() => checkCommand(["/bin/bash"], PATH_ENV, "/", hello));
  assert.equal(e.code, "E_COMMAND_NOT_FOUND");
  assert.equal(e.message, "no /bin/bash in this image — it has no OS inside");
  // `osless run hello bash` for a hello image whose program is its Cmd: bash is looked up in PATH
  const cfg = image({ Cmd: ["/hello"] });
  e = errorOf(() => buildSpec(cfg, { args: ["bash"] }, ctx(hello)));
  assert.equal(e.code, "E_COMMAND_NOT_FOUND");
  assert.equal(e.exit, 127);
  assert.equal(e.message, `bash: not found in PATH (${DEFAULT_PATH}) in this image — it has no OS inside`);
  assert.match(e.hint ?? "", /no shell/);
  // an entrypoint image: --entrypoint sh
  e = errorOf(() => buildSpec(image({ Entrypoint: ["/hello"] }), { entrypoint: "sh" }, ctx(hello)));
  assert.match(e.message, /^sh: not found in PATH .* — it has no OS inside$/);
  // and the image itself builds
  assert.deepEqual(buildSpec(image({ Entrypoint: ["/hello"] }), {}, ctx(hello)).spec.process.args, [
    "/hello",
  ]);
});

test("an image whose /proc, /sys or /dev is a symlink is refused", () => {
  for (const d of ["proc", "sys", "dev"]) {
    const dir = tmp("osless-badroot-");
    copyFileSync(join(hello.dir, "hello"), join(dir, "hello"));
    symlinkSync("/", join(dir, d));
    const e = errorOf(() => buildSpec(image({ Entrypoint: ["/hello"] }), {}, ctx(new DirRoot(dir))));
    assert.equal(e.code, "E_LAYER_INVALID");
    assert.equal(e.message, `the image's /${d} is a symlink (to /): it cannot be used as a container root`);
  }
  const dir = tmp("osless-badroot-");
  writeFileSync(join(dir, "proc"), "");
  assert.match(
    errorOf(() => buildSpec(image({ Cmd: ["/x"] }), {}, ctx(new DirRoot(dir)))).message,
    /\/proc is a file/,
  );
});

// ---------------------------------------------------------------------------------------------------------------
// The whole spec

test("--security-opt: Docker's syntaxes", () => {
  assert.equal(parseSecurityOpts([]).noNewPrivileges, false);
  for (const s of [
    "no-new-privileges",
    "no-new-privileges:true",
    "no-new-privileges=true",
    "no-new-privileges=1",
  ]) {
    assert.equal(parseSecurityOpts([s]).noNewPrivileges, true, s);
  }
  assert.equal(parseSecurityOpts(["no-new-privileges", "no-new-privileges=false"]).noNewPrivileges, false);
  assert.equal(parseSecurityOpts(["seccomp=unconfined"]).seccomp, "unconfined");
  assert.deepEqual(parseSecurityOpts(["seccomp:/p.json"]).seccomp, { path: "/p.json" });
  assert.equal(parseSecurityOpts(["apparmor=unconfined"]).warnings.length, 1);
  for (const bad of ["no-new-privileges=maybe", "nonsense", "foo=bar", "seccomp="]) {
    assert.equal(errorOf(() => parseSecurityOpts([bad])).code, "E_USAGE", bad);
  }
});

function busyboxSpec(opts: RunOptions = {}, extra: Partial<SpecContext> = {}): BuiltSpec {
  return buildSpec(
    image({ Cmd: ["sh"], Env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"] }),
    opts,
    ctx(busybox, extra),
  );
}

test("defaults: Docker's process, mounts, namespaces, paths, devices", () => {
  const { spec, warnings } = busyboxSpec();
  assert.deepEqual(warnings, []);
  assert.equal(spec.hostname, ID.slice(0, 12));
  assert.deepEqual(spec.root, { path: "rootfs", readonly: false });
  const p = spec.process;
  assert.deepEqual(p.args, ["sh"]);
  assert.equal(p.cwd, "/");
  assert.deepEqual(p.user, { uid: 0, gid: 0, additionalGids: [0] });
  assert.deepEqual(p.env, [
    "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
    `HOSTNAME=${ID.slice(0, 12)}`,
    "HOME=/root",
  ]);
  assert.equal(p.terminal, false);
  assert.equal(p.noNewPrivileges, false);
  assert.equal(capabilityMask(p.capabilities.bounding), "00000000a80425fb");
  assert.deepEqual(p.capabilities.effective, p.capabilities.bounding);
  assert.deepEqual(p.capabilities.permitted, p.capabilities.bounding);
  assert.deepEqual(p.capabilities.inheritable, []);
  assert.deepEqual(p.capabilities.ambient, []);
  assert.deepEqual(p.rlimits, [{ type: "RLIMIT_NOFILE", soft: 1024, hard: 1024 }]);
  assert.deepEqual(
    spec.mounts.map((m) => `${m.destination} ${m.type}`),
    [
      "/proc proc",
      "/dev tmpfs",
      "/dev/pts devpts",
      "/dev/shm tmpfs",
      "/dev/mqueue mqueue",
      "/sys sysfs",
      "/sys/fs/cgroup cgroup",
    ],
  );
  assert.ok(
    spec.mounts.find((m) => m.destination === "/dev/shm")?.options?.includes(`size=${64 * 1024 * 1024}`),
  );
  assert.ok(spec.mounts.find((m) => m.destination === "/sys")?.options?.includes("ro"));
  assert.deepEqual(
    spec.linux.namespaces.map((n) => n.type),
    ["pid", "network", "ipc", "uts", "mount"],
  );
  assert.equal(spec.linux.cgroupsPath, `/osless/${ID}`);
  assert.deepEqual(spec.linux.maskedPaths, MASKED_PATHS);
  assert.ok(spec.linux.maskedPaths?.includes("/proc/kcore"));
  assert.deepEqual(spec.linux.readonlyPaths, [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
  ]);
  const dev = spec.linux.resources?.devices ?? [];
  assert.deepEqual(dev[0], { allow: false, access: "rwm" });
  assert.deepEqual(
    dev.slice(1).map((d) => `${d.allow ? "allow" : "deny"} ${d.type} ${d.major}:${d.minor}`),
    [
      "allow c 1:3",
      "allow c 1:5",
      "allow c 1:8",
      "allow c 1:9",
      "allow c 5:0",
      "allow c 5:1",
      "deny c 10:229",
    ],
  );
  assert.equal(spec.linux.resources?.memory, undefined);
  assert.equal(spec.linux.seccomp, undefined);
});

test("the overlay root is the first mount; read-only root; cgroup namespace on v2; thermal_throttle masked", () => {
  const overlay: Mount = {
    destination: "/",
    type: "overlay",
    source: "overlay",
    options: ["lowerdir=/l2:/l1", "upperdir=/u", "workdir=/w"],
  };
  const { spec } = busyboxSpec(
    { readOnly: true },
    {
      root: { path: "rootfs", readonly: true, overlay },
      host: {
        ...HOST,
        cgroupMode: "v2",
        thermalThrottlePaths: ["/sys/devices/system/cpu/cpu0/thermal_throttle"],
      },
    },
  );
  assert.deepEqual(spec.mounts[0], overlay);
  assert.equal(spec.root.readonly, true);
  assert.deepEqual(spec.linux.namespaces.at(-1), { type: "cgroup" });
  assert.equal(spec.linux.maskedPaths?.at(-1), "/sys/devices/system/cpu/cpu0/thermal_throttle");
});

test("flags: user, workdir, env, tty, hostname, caps, no-new-privileges, limits", () => {
  const { spec } = busyboxSpec({
    user: "nobody",
    workdir: "/tmp",
    env: ["A=1"],
    tty: true,
    hostname: "web",
    capAdd: ["net_admin"],
    capDrop: ["CAP_CHOWN", "mknod"],
    securityOpt: ["no-new-privileges:true"],
    memory: 256 * 1024 * 1024,
    cpus: 1.5,
    pidsLimit: 100,
    shmSize: 1024 * 1024,
  });
  const p = spec.process;
  assert.deepEqual(p.user, { uid: 65534, gid: 65534, additionalGids: [65534] });
  assert.equal(p.cwd, "/tmp");
  assert.equal(p.terminal, true);
  assert.deepEqual(p.env, [
    "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
    "HOSTNAME=web",
    "TERM=xterm",
    "A=1",
    "HOME=/nonexistent",
  ]);
  assert.equal(spec.hostname, "web");
  assert.equal(p.noNewPrivileges, true);
  assert.equal(
    capabilityMask(p.capabilities.bounding),
    ((0xa80425fbn & ~(1n | (1n << 27n))) | (1n << 12n)).toString(16).padStart(16, "0"),
  );
  assert.deepEqual(spec.linux.resources?.memory, { limit: 256 * 1024 * 1024, swap: 512 * 1024 * 1024 });
  assert.deepEqual(spec.linux.resources?.cpu, { period: 100000, quota: 150000 });
  assert.deepEqual(spec.linux.resources?.pids, { limit: 100 });
  assert.ok(spec.mounts.find((m) => m.destination === "/dev/shm")?.options?.includes("size=1048576"));
});

test("limits: Docker's bounds; no swap limit where the kernel cannot; unlimited pids", () => {
  assert.match(errorOf(() => busyboxSpec({ memory: 1024 })).message, /minimum memory limit is 6MB/);
  assert.match(
    errorOf(() => busyboxSpec({ cpus: 9 })).message,
    /from 0.01 to 4.00, as there are only 4 CPUs/,
  );
  assert.match(errorOf(() => busyboxSpec({ cpus: 0.001 })).message, /range of CPUs/);
  assert.equal(errorOf(() => busyboxSpec({ shmSize: -1 })).code, "E_USAGE");
  const noSwap = busyboxSpec(
    { memory: 64 * 1024 * 1024, pidsLimit: -1 },
    { host: { ...HOST, swapAccounting: false } },
  );
  assert.deepEqual(noSwap.spec.linux.resources?.memory, { limit: 64 * 1024 * 1024 });
  assert.match(noSwap.warnings.join("\n"), /without swap/);
  assert.equal(noSwap.spec.linux.resources?.pids, undefined);
  const lowNofile = busyboxSpec({}, { host: { ...HOST, nofileHard: 512 } });
  assert.deepEqual(lowNofile.spec.process.rlimits, [{ type: "RLIMIT_NOFILE", soft: 512, hard: 512 }]);
  assert.match(lowNofile.warnings.join("\n"), /RLIMIT_NOFILE set to 512:512/);
});

test("seccomp: the caller's block for the final bounding set; unconfined means none", () => {
  const seen: string[][] = [];
  const seccomp = (caps: string[]) => {
    seen.push(caps);
    return { defaultAction: "SCMP_ACT_ERRNO" as const, defaultErrnoRet: 1, syscalls: [] };
  };
  const { spec } = busyboxSpec({ capAdd: ["SYS_ADMIN"] }, { seccomp });
  assert.equal(spec.linux.seccomp?.defaultAction, "SCMP_ACT_ERRNO");
  assert.deepEqual(seen[0], spec.process.capabilities.bounding);
  assert.ok(seen[0]?.includes("CAP_SYS_ADMIN"));
  assert.equal(
    busyboxSpec({ securityOpt: ["seccomp=unconfined"] }, { seccomp }).spec.linux.seccomp,
    undefined,
  );
  assert.equal(seen.length, 1, "not asked for when unconfined");
  const fixed = { defaultAction: "SCMP_ACT_ALLOW" as const };
  assert.deepEqual(busyboxSpec({}, { seccomp: fixed }).spec.linux.seccomp, fixed);
});

test("mounts: -v and --tmpfs after the defaults, replacing a default on the same path; --network host", () => {
  const src = tmp("osless-bind-src-");
  const { spec } = busyboxSpec({ volumes: [`${src}:/data:ro`], tmpfs: ["/dev/shm:size=1m", "/run"] });
  const dests = spec.mounts.map((m) => m.destination);
  assert.equal(dests.filter((d) => d === "/dev/shm").length, 1);
  assert.deepEqual(dests.slice(-3), ["/data", "/run", "/dev/shm"]);
  assert.deepEqual(
    spec.mounts.find((m) => m.destination === "/data"),
    {
      destination: "/data",
      type: "bind",
      source: src,
      options: ["rbind", "ro", "rprivate"],
    },
  );
  const host = busyboxSpec({ network: "host" }).spec;
  assert.ok(!host.linux.namespaces.some((n) => n.type === "network"));
  assert.equal(host.hostname, "buildhost", "docker uses the host's name with --network host");
  for (const f of ["/etc/resolv.conf", "/etc/hosts"]) {
    const m = host.mounts.find((x) => x.destination === f);
    assert.ok(m, f);
    assert.deepEqual(m.options, ["rbind", "ro", "rprivate"]);
  }
  const none = busyboxSpec({ network: "none" }).spec;
  assert.ok(!none.mounts.some((m) => m.destination.startsWith("/etc/")));
  assert.equal(errorOf(() => busyboxSpec({ hostname: "bad name" })).code, "E_USAGE");
});

test("errors surface from the parts: unknown user, bad cap, bad -v", () => {
  assert.equal(
    errorOf(() => busyboxSpec({ user: "ghost" })).message,
    "unable to find user ghost: no matching entries in passwd file",
  );
  assert.match(errorOf(() => busyboxSpec({ capAdd: ["FLY"] })).message, /unknown capability: "CAP_FLY"/);
  assert.match(errorOf(() => busyboxSpec({ volumes: ["vol:/data"] })).message, /named volume/);
  assert.match(errorOf(() => busyboxSpec({ workdir: "/proc/self/fd/7" })).message, /CVE-2024-21626/);
});

test("host facts parsers", () => {
  assert.deepEqual(parseCpuList("0-3,5,7-8\n"), [0, 1, 2, 3, 5, 7, 8]);
  assert.deepEqual(parseCpuList("0\n"), [0]);
  assert.equal(
    parseNofileHard("Max open files            1024                 4096                 files\n"),
    4096,
  );
  assert.equal(
    parseNofileHard("Max open files            1024                 unlimited            files\n"),
    undefined,
  );
});

// ---------------------------------------------------------------------------------------------------------------
// The runtime spec's JSON schema, and runc

const SCHEMA_DIR = "/work/shared/specs/oci-runtime/schema";

function configValidator(): ValidateFunction {
  const Ajv04 = AjvDraft04.default;
  const ajv = new Ajv04({ allErrors: true, strict: false, validateFormats: false });
  const base = "file:///oci-runtime/";
  for (const f of readdirSync(SCHEMA_DIR).filter((n) => n.endsWith(".json"))) {
    const schema = JSON.parse(readFileSync(join(SCHEMA_DIR, f), "utf8")) as Record<string, unknown>;
    ajv.addSchema({ ...schema, id: base + f } as AnySchema);
  }
  const v = ajv.getSchema(`${base}config-schema.json`);
  assert.ok(v);
  return v;
}

test("generated specs are valid against the runtime spec's config-schema.json", () => {
  const validate = configValidator();
  const src = tmp("osless-bind-src-");
  const specs: Spec[] = [
    busyboxSpec().spec,
    busyboxSpec(
      {
        user: "nobody:root",
        tty: true,
        memory: 8 * 1024 * 1024,
        cpus: 0.5,
        pidsLimit: 10,
        volumes: [`${src}:/data`],
        tmpfs: ["/run:size=1m"],
        network: "host",
        securityOpt: ["no-new-privileges"],
        readOnly: true,
      },
      {
        seccomp: (caps) => defaultSeccomp({ arch: arch(), kernel: release(), caps }),
        root: {
          path: "/abs/rootfs",
          readonly: true,
          overlay: { destination: "/", type: "overlay", source: "overlay", options: ["lowerdir=/a:/b"] },
        },
        host: { ...HOST, cgroupMode: "v2" },
      },
    ).spec,
    buildSpec(
      image({ Entrypoint: ["/hello"], StopSignal: "SIGINT", ExposedPorts: { "80/tcp": {} } }),
      {},
      ctx(hello),
    ).spec,
  ];
  for (const s of specs) {
    const json = JSON.parse(JSON.stringify(s)) as unknown;
    assert.ok(validate(json), JSON.stringify(validate.errors, null, 2));
  }
  // the checker is live: a broken spec fails
  const broken = JSON.parse(JSON.stringify(specs[0])) as { process: { user: { uid: unknown } } };
  broken.process.user.uid = "root";
  assert.equal(validate(broken), false);
});

/** A private copy of the busybox tree: runc creates mount points in the root, the shared fixture stays as it is. */
async function busyboxCopy(): Promise<DirRoot> {
  const dir = join(tmp("osless-runc-root-"), "rootfs");
  await run("cp", ["-a", busybox.dir, dir]);
  return new DirRoot(dir);
}

test("runc runs a generated bundle: Docker's capability masks, no-new-privileges, seccomp mode, limits", async () => {
  const runc = needTool("runc", "runc");
  const root = await busyboxCopy();
  const bundle = tmp("osless-bundle-");
  const cg = `osless-spec-test-${process.pid}`;
  const { spec } = buildSpec(
    image({
      Cmd: ["sh", "-c", "grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status; id -u; pwd; hostname"],
    }),
    {
      user: "nobody",
      workdir: "/tmp",
      securityOpt: ["no-new-privileges"],
      pidsLimit: 50,
      memory: 64 * 1024 * 1024,
    },
    {
      id: ID,
      root: { path: root.dir, readonly: true },
      reader: root,
      cgroupsPath: `/${cg}`,
      seccomp: (caps) => defaultSeccomp({ arch: arch(), kernel: release(), caps }),
    },
  );
  writeFileSync(join(bundle, "config.json"), JSON.stringify(spec));
  const r = await run(runc, ["run", "--bundle", bundle, cg], { allowFail: true });
  assert.equal(r.code, 0, `runc failed: ${r.stderr}`);
  const lines = r.stdout.split("\n");
  const field = (k: string) => lines.find((l) => l.startsWith(`${k}:`))?.split(/\s+/)[1];
  // a non-root user keeps the bounding set; permitted and effective are cleared at exec (no ambient caps)
  assert.equal(field("CapBnd"), "00000000a80425fb");
  assert.equal(field("CapInh"), "0000000000000000");
  assert.equal(field("CapAmb"), "0000000000000000");
  assert.equal(field("CapEff"), "0000000000000000");
  assert.equal(field("NoNewPrivs"), "1");
  assert.equal(field("Seccomp"), "2");
  assert.ok(lines.includes("65534"), r.stdout);
  assert.ok(lines.includes("/tmp"), r.stdout);
  assert.ok(lines.includes(ID.slice(0, 12)), r.stdout);
});

test("runc as root: CapEff is Docker's a80425fb", async () => {
  const runc = needTool("runc", "runc");
  const root = await busyboxCopy();
  const bundle = tmp("osless-bundle-");
  const cg = `osless-spec-test-root-${process.pid}`;
  const { spec } = buildSpec(
    image({ Cmd: ["grep", "-E", "^Cap(Eff|Prm)", "/proc/self/status"] }),
    {},
    {
      id: ID,
      root: { path: root.dir, readonly: true },
      reader: root,
      cgroupsPath: `/${cg}`,
      seccomp: undefined,
    },
  );
  writeFileSync(join(bundle, "config.json"), JSON.stringify(spec));
  const r = await run(runc, ["run", "--bundle", bundle, cg], { allowFail: true });
  assert.equal(r.code, 0, `runc failed: ${r.stderr}`);
  assert.match(r.stdout, /CapPrm:\s+00000000a80425fb/);
  assert.match(r.stdout, /CapEff:\s+00000000a80425fb/);
});
