import assert from "node:assert/strict";
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { release } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { staticProgram } from "../../test/fixtures/programs.ts";
import { seccompFixture } from "../../test/fixtures/seccomp.ts";
import { needTool, run, tmpdir } from "../../test/fixtures/tools.ts";
import { isOslessError } from "../errors.ts";
import {
  DEFAULT_PROFILE,
  defaultSeccomp,
  type LinuxSeccomp,
  parseSeccompProfile,
  type SeccompContext,
  type SeccompTemplate,
  seccompArch,
  toOciSeccomp,
} from "./seccomp.ts";
import { ALWAYS_ALLOWED, CAPABILITY_GATES, NEVER_ALLOWED } from "./seccomp-profile.ts";

// Docker's 14 default capabilities and every capability Linux has (kept here so that this test reads the
// profile against fixed facts, not against another module of the runtime).
const DEFAULT_CAPS = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];
const ALL_CAPS = [
  ...DEFAULT_CAPS,
  "CAP_DAC_READ_SEARCH",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_LEASE",
  "CAP_AUDIT_CONTROL",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
];

const ctx = (over: Partial<SeccompContext> = {}): SeccompContext => ({
  arch: "x64",
  caps: DEFAULT_CAPS,
  kernel: "6.1.0-18-amd64",
  ...over,
});

const CLONE_NEWNS = 0x20000n;
const CLONE_NEWUSER = 0x10000000n;
const SIGCHLD = 17n;
const AF_INET = 2n;

/**
 * What a filter does with one call, the way libseccomp builds it for rules that do not overlap (osless's and
 * Docker's profiles): a rule for the name without arguments decides; else the first whose argument conditions all
 * hold; else the default action. "allow", "errno N", or the action's name.
 */
function verdict(s: LinuxSeccomp, name: string, args: bigint[] = []): string {
  const show = (action: string, errno: number | undefined) =>
    action === "SCMP_ACT_ALLOW" ? "allow" : action === "SCMP_ACT_ERRNO" ? `errno ${errno ?? 1}` : action;
  const rules = (s.syscalls ?? []).filter((r) => r.names.includes(name));
  const plain = rules.find((r) => !r.args?.length);
  if (plain) return show(plain.action, plain.errnoRet);
  for (const r of rules) {
    const holds = r.args!.every((a) => {
      const x = args[a.index] ?? 0n;
      const v = BigInt(a.value);
      switch (a.op) {
        case "SCMP_CMP_EQ":
          return x === v;
        case "SCMP_CMP_NE":
          return x !== v;
        case "SCMP_CMP_LT":
          return x < v;
        case "SCMP_CMP_LE":
          return x <= v;
        case "SCMP_CMP_GT":
          return x > v;
        case "SCMP_CMP_GE":
          return x >= v;
        case "SCMP_CMP_MASKED_EQ":
          return (x & v) === BigInt(a.valueTwo ?? 0);
      }
      return false;
    });
    if (holds) return show(r.action, r.errnoRet);
  }
  return show(s.defaultAction, s.defaultErrnoRet);
}

/**
 * Each syscall a filter names, by what it does: "allow" (always), "conditional" (allowed for some arguments only),
 * or the action of its argument-less rule ("errno 38"). Names absent get the default action.
 */
function classify(s: LinuxSeccomp): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of s.syscalls ?? []) {
    for (const n of r.names) {
      if (out.get(n) === "allow") continue;
      if (!r.args?.length) out.set(n, r.action === "SCMP_ACT_ALLOW" ? "allow" : verdict(s, n));
      else if (r.action === "SCMP_ACT_ALLOW" && !out.has(n)) out.set(n, "conditional");
    }
  }
  return out;
}

const allowedNames = (s: LinuxSeccomp): Set<string> =>
  new Set([...classify(s)].filter(([, v]) => v === "allow" || v === "conditional").map(([n]) => n));

/** The names a capability opens: those whose treatment changes when it joins `base` (without it). */
function gate(s: (caps: string[]) => LinuxSeccomp, cap: string, base: string[] = DEFAULT_CAPS): string[] {
  const without = base.filter((c) => c !== cap);
  const a = classify(s(without));
  const b = classify(s([...without, cap]));
  return [...new Set([...a.keys(), ...b.keys()])].filter((n) => a.get(n) !== b.get(n)).sort();
}

function throwsUsage(fn: () => unknown, message: RegExp, hint?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isOslessError(e, "E_USAGE"), `expected E_USAGE, got ${String(e)}`);
    assert.match(e.message, message);
    if (hint) assert.match(e.hint ?? "", hint);
    return true;
  });
}

describe("osless's default profile", () => {
  test("lists every syscall once and keeps the never-allowed ones out of every rule", () => {
    assert.equal(new Set(ALWAYS_ALLOWED).size, ALWAYS_ALLOWED.length);
    assert.ok(ALWAYS_ALLOWED.length > 350, `${ALWAYS_ALLOWED.length} syscalls`);
    const named = new Set(DEFAULT_PROFILE.syscalls!.flatMap((r) => r.names ?? []));
    for (const n of NEVER_ALLOWED) assert.ok(!named.has(n), `${n} is in a rule`);
    for (const names of Object.values(CAPABILITY_GATES)) {
      for (const n of names) assert.ok(!ALWAYS_ALLOWED.includes(n), `${n} is gated and always allowed`);
    }
    assert.equal(DEFAULT_PROFILE.defaultAction, "SCMP_ACT_ERRNO");
    assert.equal(DEFAULT_PROFILE.defaultErrnoRet, 1);
  });

  test("reads back through parseSeccompProfile unchanged (it is a valid profile file)", () => {
    const text = JSON.stringify(DEFAULT_PROFILE, null, 2);
    assert.deepEqual(parseSeccompProfile(text, "default.json"), JSON.parse(text));
  });

  test("x86_64 with Docker's capabilities: the everyday calls work, namespaces and keyrings do not", () => {
    const s = defaultSeccomp(ctx());
    assert.deepEqual(s.architectures, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
    assert.equal(s.defaultAction, "SCMP_ACT_ERRNO");
    assert.equal(s.defaultErrnoRet, 1);
    for (const n of [
      "read",
      "openat",
      "execve",
      "futex_waitv",
      "fchmodat2",
      "mseal",
      "statmount",
      "chroot",
    ]) {
      assert.equal(verdict(s, n), "allow", n);
    }
    for (const n of [
      "mount",
      "umount2",
      "unshare",
      "setns",
      "keyctl",
      "add_key",
      "io_uring_setup",
      "reboot",
    ]) {
      assert.equal(verdict(s, n), "errno 1", n);
    }
    assert.equal(verdict(s, "clone3"), "errno 38");
    assert.equal(verdict(s, "clone", [SIGCHLD]), "allow");
    assert.equal(verdict(s, "clone", [CLONE_NEWNS | SIGCHLD]), "errno 1");
    assert.equal(verdict(s, "clone", [CLONE_NEWUSER | SIGCHLD]), "errno 1");
    assert.equal(verdict(s, "socket", [AF_INET]), "allow");
    assert.equal(verdict(s, "socket", [38n]), "errno 1", "AF_ALG");
    assert.equal(verdict(s, "socket", [39n]), "allow");
    assert.equal(verdict(s, "socket", [40n]), "errno 1", "AF_VSOCK");
    assert.equal(verdict(s, "socket", [41n]), "allow");
    assert.equal(verdict(s, "personality", [0n]), "allow");
    assert.equal(verdict(s, "personality", [0xffffffffn]), "allow");
    assert.equal(verdict(s, "personality", [0x0040000n]), "errno 1", "ADDR_NO_RANDOMIZE");
    assert.equal(verdict(s, "arch_prctl"), "allow");
    assert.equal(verdict(s, "ptrace"), "allow", "kernel 6.1 >= 4.8");
    assert.equal(verdict(s, "s390_runtime_instr"), "errno 1");
    // The output is plain JSON for config.json.
    assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
  });

  test("CAP_SYS_ADMIN allows mount, unshare, setns and clone with any flags, and clone3 stops being ENOSYS", () => {
    const s = defaultSeccomp(ctx({ caps: [...DEFAULT_CAPS, "CAP_SYS_ADMIN"] }));
    for (const n of ["mount", "umount2", "unshare", "setns", "sethostname", "fsopen", "clone3"]) {
      assert.equal(verdict(s, n), "allow", n);
    }
    assert.equal(verdict(s, "clone", [CLONE_NEWNS | CLONE_NEWUSER | SIGCHLD]), "allow");
    assert.ok(!s.syscalls!.some((r) => r.names.includes("clone3") && r.action === "SCMP_ACT_ERRNO"));
    for (const n of ["keyctl", "kexec_load", "io_uring_enter", "pivot_root"])
      assert.equal(verdict(s, n), "errno 1", n);
  });

  test("each capability opens its own calls and nothing else", () => {
    const conv = (caps: string[]) => defaultSeccomp(ctx({ caps }));
    for (const [cap, names] of Object.entries(CAPABILITY_GATES)) {
      let expected = [...names];
      if (cap === "CAP_SYS_ADMIN") expected = [...names, "clone"]; // from conditional to always
      if (cap === "CAP_SYS_PTRACE")
        expected = names.filter((n) => !n.startsWith("process_vm_") && n !== "ptrace");
      assert.deepEqual(gate(conv, cap), [...new Set(expected)].sort(), cap);
    }
    assert.deepEqual(gate(conv, "CAP_NET_ADMIN"), []);
  });

  test("minKernel: ptrace and process_vm_* need CAP_SYS_PTRACE below 4.8", () => {
    for (const [kernel, allowed] of [
      ["4.4.0-210-generic", false],
      ["4.7", false],
      ["4.8.0", true],
      ["4.19.0-26-amd64", true],
      ["10.0.1", true],
      ["3.99-rc1", false],
    ] as const) {
      const s = defaultSeccomp(ctx({ kernel }));
      for (const n of ["ptrace", "process_vm_readv", "process_vm_writev"]) {
        assert.equal(verdict(s, n), allowed ? "allow" : "errno 1", `${n} on ${kernel}`);
      }
      const p = defaultSeccomp(ctx({ kernel, caps: [...DEFAULT_CAPS, "CAP_SYS_PTRACE"] }));
      assert.equal(verdict(p, "ptrace"), "allow", `ptrace with CAP_SYS_PTRACE on ${kernel}`);
    }
    // excludes.minKernel drops a rule from that version on.
    const t: SeccompTemplate = {
      defaultAction: "SCMP_ACT_ERRNO",
      syscalls: [{ names: ["old_call"], action: "SCMP_ACT_ALLOW", excludes: { minKernel: "5.10" } }],
    };
    assert.deepEqual(toOciSeccomp(t, ctx({ kernel: "5.4.0" })).syscalls, [
      { names: ["old_call"], action: "SCMP_ACT_ALLOW" },
    ]);
    assert.deepEqual(toOciSeccomp(t, ctx({ kernel: "5.10.0" })).syscalls, []);
    // An unreadable release fails only when a rule needs it.
    assert.throws(
      () => defaultSeccomp(ctx({ kernel: "unknown" })),
      (e: unknown) => isOslessError(e, "E_RUNTIME") && /unknown/.test(e.message),
    );
    assert.deepEqual(
      toOciSeccomp({ defaultAction: "SCMP_ACT_ALLOW" }, ctx({ kernel: "unknown" })).syscalls,
      [],
    );
  });

  test("architectures: the host's archMap entry, and rules for other architectures left out", () => {
    const arm = defaultSeccomp(ctx({ arch: "arm64" }));
    assert.deepEqual(arm.architectures, ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]);
    assert.equal(verdict(arm, "set_tls"), "allow");
    assert.equal(verdict(arm, "arch_prctl"), "errno 1");
    assert.equal(verdict(arm, "clone", [SIGCHLD]), "allow");

    const s390 = defaultSeccomp(ctx({ arch: "s390x" }));
    assert.deepEqual(s390.architectures, ["SCMP_ARCH_S390X", "SCMP_ARCH_S390"]);
    assert.equal(verdict(s390, "s390_runtime_instr"), "allow");
    // s390's clone takes the flags second.
    assert.equal(verdict(s390, "clone", [0n, SIGCHLD]), "allow");
    assert.equal(verdict(s390, "clone", [0n, CLONE_NEWNS]), "errno 1");
    assert.equal(verdict(s390, "clone", [CLONE_NEWNS, 0n]), "allow");

    assert.deepEqual(defaultSeccomp(ctx({ arch: "ppc64" })).architectures, ["SCMP_ARCH_PPC64LE"]);
    assert.equal(verdict(defaultSeccomp(ctx({ arch: "ppc64" })), "swapcontext"), "allow");
    assert.deepEqual(defaultSeccomp(ctx({ arch: "riscv64" })).architectures, ["SCMP_ARCH_RISCV64"]);
    assert.deepEqual(defaultSeccomp(ctx({ arch: "loong64" })).architectures, ["SCMP_ARCH_LOONGARCH64"]);
    assert.deepEqual(
      defaultSeccomp(ctx({ arch: "amd64" })).architectures,
      defaultSeccomp(ctx()).architectures,
    );

    // i386 has no archMap entry of its own (the runtime then filters the native architecture), but its rules apply.
    const x86 = defaultSeccomp(ctx({ arch: "ia32" }));
    assert.equal(x86.architectures, undefined);
    assert.equal(verdict(x86, "modify_ldt"), "allow");
    assert.equal(verdict(x86, "arch_prctl"), "errno 1");

    // An architecture seccomp does not know: no architectures, no architecture-specific rule.
    const odd = defaultSeccomp(ctx({ arch: "sparc" }));
    assert.equal(odd.architectures, undefined);
    assert.equal(verdict(odd, "modify_ldt"), "errno 1");
    assert.equal(verdict(odd, "clone", [SIGCHLD]), "allow");
    assert.equal(seccompArch("sparc"), undefined);
    assert.deepEqual(seccompArch("x64"), { native: "amd64", scmp: "SCMP_ARCH_X86_64" });
  });

  test("includes needs all its capabilities, excludes any of them", () => {
    const t: SeccompTemplate = {
      defaultAction: "SCMP_ACT_ERRNO",
      syscalls: [
        { names: ["both"], action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_A", "CAP_B"] } },
        { names: ["neither"], action: "SCMP_ACT_ALLOW", excludes: { caps: ["CAP_A", "CAP_B"] } },
        { name: "old_form", action: "SCMP_ACT_LOG", excludes: { arches: ["arm64"] } },
      ],
    };
    const names = (caps: string[], arch = "x64") =>
      toOciSeccomp(t, ctx({ caps, arch })).syscalls!.flatMap((r) => r.names);
    assert.deepEqual(names([]), ["neither", "old_form"]);
    assert.deepEqual(names(["CAP_A"]), ["old_form"]);
    assert.deepEqual(names(["CAP_A", "CAP_B"]), ["both", "old_form"]);
    assert.deepEqual(names([], "arm64"), ["neither"]);
  });

  test("an OCI-shaped profile passes through; contradictory templates are refused", () => {
    const oci: SeccompTemplate = {
      defaultAction: "SCMP_ACT_ALLOW",
      architectures: ["SCMP_ARCH_X86"],
      flags: ["SECCOMP_FILTER_FLAG_LOG"],
      syscalls: [{ names: ["getcwd", "chmod"], action: "SCMP_ACT_ERRNO", errnoRet: 13 }],
    };
    assert.deepEqual(toOciSeccomp(oci, ctx()), oci);
    throwsUsage(
      () => toOciSeccomp({ ...oci, archMap: [{ architecture: "SCMP_ARCH_X86_64" }] }, ctx()),
      /both 'architectures' and 'archMap'/,
    );
    throwsUsage(
      () =>
        toOciSeccomp(
          {
            defaultAction: "SCMP_ACT_ERRNO",
            syscalls: [{ name: "a", names: ["b"], action: "SCMP_ACT_ALLOW" }],
          },
          ctx(),
        ),
      /both 'name' and 'names'/,
    );
  });
});

describe("parseSeccompProfile", () => {
  const errno = '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [';
  const rule = (r: string) => `${errno}{"names": ["x"], "action": "SCMP_ACT_ALLOW", ${r}}]}`;
  const cases: [string, string, RegExp, RegExp][] = [
    [
      "truncated JSON",
      '{\n  "defaultAction": "SCMP_ACT_ERRNO",\n',
      /invalid JSON at line 3, column 1: expected/,
      /JSON/,
    ],
    [
      "a trailing comma",
      '{"defaultAction": "SCMP_ACT_ERRNO",\n  "syscalls": [],\n}',
      /line 3, column 1: expected a property name/,
      /JSON/,
    ],
    [
      "single quotes",
      "{\n\t'defaultAction': 1}",
      /line 2, column 2: expected a property name in double quotes, found "'"/,
      /JSON/,
    ],
    ["a missing comma", '{"a": 1\n "b": 2}', /line 2, column 2: expected ',' or '}'/, /JSON/],
    [
      "garbage after the object",
      '{"defaultAction": "SCMP_ACT_ERRNO"} x',
      /line 1, column 37: expected the end/,
      /JSON/,
    ],
    ["an array", "[]", /not a JSON object/, /object/],
    ["an empty profile", "{}", /no defaultAction and no syscalls/, /seccomp=unconfined/],
    [
      "a runtime config",
      '{"ociVersion": "1.0.2", "linux": {"seccomp": {}}}',
      /runtime config/,
      /linux\.seccomp/,
    ],
    [
      "no defaultAction",
      '{"syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}',
      /defaultAction: missing/,
      /SCMP_ACT_ERRNO/,
    ],
    [
      "an unknown defaultAction",
      '{"defaultAction": "SCMP_ACT_DENY"}',
      /unknown defaultAction "SCMP_ACT_DENY"/,
      /SCMP_ACT_ERRNO/,
    ],
    [
      "an unknown rule action",
      `${errno}{"names": ["x"], "action": "ALLOW"}]}`,
      /syscalls\[0\]\.action: unknown action "ALLOW"/,
      /SCMP_ACT_ALLOW/,
    ],
    ["NOTIFY as default", '{"defaultAction": "SCMP_ACT_NOTIFY"}', /cannot be the default/, /rules only/],
    [
      "NOTIFY without a listener",
      `${errno}{"names": ["x"], "action": "SCMP_ACT_NOTIFY"}]}`,
      /without a listenerPath/,
      /listenerPath/,
    ],
    [
      "name and names",
      `${errno}{"name": "a", "names": ["b"], "action": "SCMP_ACT_ALLOW"}]}`,
      /syscalls\[0\]: has both 'name' and 'names'/,
      /names/,
    ],
    ["no names", `${errno}{"names": [], "action": "SCMP_ACT_ALLOW"}]}`, /lists no syscall/, /names/],
    [
      "names as a string",
      `${errno}{"names": "read", "action": "SCMP_ACT_ALLOW"}]}`,
      /names must be a list of strings/,
      /\[/,
    ],
    [
      "architectures and archMap",
      '{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}',
      /both 'architectures' and 'archMap'/,
      /one of them/,
    ],
    [
      "an unknown architecture",
      '{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["x86_64"]}',
      /unknown architecture "x86_64"/,
      /SCMP_ARCH_X86_64/,
    ],
    [
      "an unknown flag",
      '{"defaultAction": "SCMP_ACT_ERRNO", "flags": ["SECCOMP_FILTER_FLAG_FAST"]}',
      /unknown flag/,
      /SECCOMP_FILTER_FLAG_LOG/,
    ],
    [
      "an unknown op",
      rule('"args": [{"index": 0, "value": 1, "op": "EQ"}]'),
      /syscalls\[0\]\.args\[0\]: unknown op "EQ"/,
      /SCMP_CMP_EQ/,
    ],
    ["a missing op", rule('"args": [{"index": 0, "value": 1}]'), /op missing/, /SCMP_CMP_EQ/],
    [
      "index 6",
      rule('"args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]'),
      /index 6 is above 5/,
      /index 0 to 5/,
    ],
    [
      "a negative value",
      rule('"args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]'),
      /value must be a non-negative integer/,
      /unsigned/,
    ],
    [
      "a 64-bit value",
      rule('"args": [{"index": 0, "value": 18446744073709551615, "op": "SCMP_CMP_EQ"}]'),
      /cannot be read exactly/,
      /unsigned/,
    ],
    [
      "errnoRet on ALLOW",
      rule('"errnoRet": 1'),
      /errnoRet is set but SCMP_ACT_ALLOW returns no errno/,
      /SCMP_ACT_ERRNO/,
    ],
    [
      "defaultErrnoRet on ALLOW",
      '{"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1}',
      /returns no errno/,
      /SCMP_ACT_ERRNO/,
    ],
    [
      "a bad minKernel",
      rule('"includes": {"minKernel": "4"}'),
      /includes\.minKernel: "4" is not a kernel version/,
      /4\.8/,
    ],
    ["minKernel 0.0", rule('"excludes": {"minKernel": "0.0"}'), /"0\.0" is not a kernel version/, /4\.8/],
    [
      "a capability without CAP_",
      rule('"includes": {"caps": ["SYS_ADMIN"]}'),
      /"SYS_ADMIN" is not a capability name/,
      /CAP_SYS_ADMIN/,
    ],
    [
      "an arch in libseccomp's spelling",
      rule('"includes": {"arches": ["x86_64"]}'),
      /unknown architecture "x86_64"/,
      /amd64, not x86_64/,
    ],
    [
      "syscalls as an object",
      '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": {}}',
      /syscalls: must be a list/,
      /names/,
    ],
    [
      "listenerMetadata alone",
      '{"defaultAction": "SCMP_ACT_ERRNO", "listenerMetadata": "m"}',
      /without listenerPath/,
      /listenerPath/,
    ],
  ];
  for (const [what, text, message, hint] of cases) {
    test(`refuses ${what}, naming the file`, () => {
      throwsUsage(() => parseSeccompProfile(text, "/etc/my-profile.json"), message, hint);
      throwsUsage(
        () => parseSeccompProfile(text, "/etc/my-profile.json"),
        /^seccomp profile \/etc\/my-profile\.json/,
      );
    });
  }

  test("the JSON error carries its place in details", () => {
    try {
      parseSeccompProfile('{\n  "defaultAction": \n}', "p.json");
      assert.fail("no error");
    } catch (e) {
      assert.ok(isOslessError(e, "E_USAGE"));
      assert.deepEqual(e.details, { path: "p.json", line: 3, column: 1 });
    }
  });

  test("reads what Docker reads: any key case, nulls, unknown keys, the old single-name form", () => {
    const t = parseSeccompProfile(
      JSON.stringify({
        DefaultAction: "SCMP_ACT_ERRNO",
        defaultErrno: "ENOSYS",
        comment: "ignored",
        archMap: [{ architecture: "SCMP_ARCH_X86_64", subArchitectures: null }],
        syscalls: [
          { name: "read", action: "SCMP_ACT_ALLOW", args: null, includes: {}, excludes: null, comment: "" },
          {
            names: ["clone"],
            action: "SCMP_ACT_ALLOW",
            ARGS: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
            includes: { minKernel: "" },
          },
          { names: ["mkdir"], action: "SCMP_ACT_ERRNO", errnoRet: 12345 },
        ],
      }),
      "p.json",
    );
    assert.deepEqual(t, {
      defaultAction: "SCMP_ACT_ERRNO",
      archMap: [{ architecture: "SCMP_ARCH_X86_64", subArchitectures: [] }],
      syscalls: [
        { name: "read", action: "SCMP_ACT_ALLOW" },
        {
          names: ["clone"],
          action: "SCMP_ACT_ALLOW",
          args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
        },
        { names: ["mkdir"], action: "SCMP_ACT_ERRNO", errnoRet: 12345 },
      ],
    });
    assert.deepEqual(toOciSeccomp(t, ctx()).syscalls![0], { names: ["read"], action: "SCMP_ACT_ALLOW" });
  });
});

describe("against Debian's packaged Docker 20.10 and podman profiles", () => {
  // Docker 20.10 allows these on x86_64 with its default capabilities; osless does not, on purpose.
  const DELIBERATELY_DENIED: Record<string, string> = {
    io_uring_setup: "errno 1", // io_uring: kernel escapes, and its operations bypass seccomp (moby dropped it too)
    io_uring_enter: "errno 1",
    io_uring_register: "errno 1",
    socket: "conditional", // AF_ALG and AF_VSOCK refused
  };
  // Calls osless allows (with every capability) that Docker 20.10 never does: added to the kernel or to moby's
  // profile after 20.10, or (clock_settime64, set_mempolicy_home_node, lsm_*) gated calls 20.10 did not list.
  const NEWER_THAN_DOCKER_20_10 = [
    "cachestat",
    "clock_settime64",
    "fchmodat2",
    "futex_requeue",
    "futex_wait",
    "futex_wake",
    "getxattrat",
    "listmount",
    "listxattrat",
    "lsm_get_self_attr",
    "lsm_list_modules",
    "lsm_set_self_attr",
    "map_shadow_stack",
    "mseal",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "removexattrat",
    "riscv_hwprobe",
    "set_mempolicy_home_node",
    "setxattrat",
    "statmount",
    "uretprobe",
  ];
  // Where osless's capability gates differ from Docker 20.10's (on a kernel >= 4.8), as current moby has them.
  const GATE_DIFFERENCES: Record<string, { added: string[]; removed: string[] }> = {
    // name_to_handle_at is harmless without open_by_handle_at (CAP_DAC_READ_SEARCH): always allowed now.
    CAP_SYS_ADMIN: {
      added: ["lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr"],
      removed: ["name_to_handle_at"],
    },
    // process_vm_readv/writev follow ptrace: allowed from kernel 4.8 without the capability.
    CAP_SYS_PTRACE: { added: [], removed: ["process_vm_readv", "process_vm_writev"] },
    CAP_SYS_TIME: { added: ["clock_settime64"], removed: [] },
    CAP_SYS_NICE: { added: ["set_mempolicy_home_node"], removed: [] },
    CAP_BPF: { added: ["bpf"], removed: [] },
    CAP_PERFMON: { added: ["perf_event_open"], removed: [] },
  };

  const docker = async (caps: string[] = DEFAULT_CAPS) => {
    const f = await seccompFixture();
    return toOciSeccomp(parseSeccompProfile(f.docker.text, f.docker.path), ctx({ caps }));
  };

  test("Docker's default.json reads and converts to a sane x86_64 filter", async () => {
    const f = await seccompFixture();
    assert.match(f.docker.version, /^20\.10\./);
    const t = parseSeccompProfile(f.docker.text, f.docker.path);
    assert.ok(t.archMap && t.archMap.length >= 7);
    const s = toOciSeccomp(t, ctx());
    assert.equal(s.defaultAction, "SCMP_ACT_ERRNO");
    assert.equal(s.defaultErrnoRet, undefined, "20.10 relies on the runtime's EPERM");
    assert.deepEqual(s.architectures, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
    assert.equal(verdict(s, "read"), "allow");
    assert.equal(verdict(s, "mount"), "errno 1");
    assert.equal(verdict(s, "clone3"), "errno 38", "the amd64 rule, not mips' ENOSYS 89");
    assert.equal(verdict(s, "clone", [SIGCHLD]), "allow");
    assert.equal(verdict(s, "clone", [CLONE_NEWUSER]), "errno 1");
    for (const r of s.syscalls!) {
      assert.ok(r.names.length > 0);
      assert.ok(
        !r.names.some((n) => n.startsWith("s390_") || n === "set_tls"),
        "no other architecture's rule",
      );
    }
    const onMips = toOciSeccomp(t, ctx({ arch: "mips64" }));
    assert.equal(verdict(onMips, "clone3"), "errno 89");
  });

  test("every call Docker 20.10 always allows on x86_64 is allowed by osless, but for the listed differences", async () => {
    const theirs = classify(await docker());
    const ours = classify(defaultSeccomp(ctx()));
    const always = [...theirs].filter(([, v]) => v === "allow").map(([n]) => n);
    assert.ok(always.length > 330, `${always.length}`);
    const differ = always.filter((n) => ours.get(n) !== "allow").sort();
    assert.deepEqual(differ, Object.keys(DELIBERATELY_DENIED).sort());
    for (const [n, v] of Object.entries(DELIBERATELY_DENIED)) assert.equal(ours.get(n) ?? "errno 1", v, n);
    // And what Docker allows for some arguments only, osless allows for the same ones.
    const ourS = defaultSeccomp(ctx());
    const theirS = await docker();
    for (const p of [0n, 8n, 0x20000n, 0x20008n, 0xffffffffn, 0x0040000n, 0x400000n]) {
      assert.equal(
        verdict(ourS, "personality", [p]),
        verdict(theirS, "personality", [p]),
        `personality ${p}`,
      );
    }
  });

  test("what Docker 20.10 never allows, with every capability, osless never allows either", async () => {
    const theirs = allowedNames(await docker(ALL_CAPS));
    const ours = allowedNames(defaultSeccomp(ctx({ caps: ALL_CAPS })));
    const extra = [...ours].filter((n) => !theirs.has(n)).sort();
    assert.deepEqual(extra, NEWER_THAN_DOCKER_20_10);
    for (const n of NEVER_ALLOWED) {
      assert.ok(!ours.has(n), `osless allows ${n}`);
      if (!n.startsWith("io_uring"))
        assert.ok(!theirs.has(n), `Docker 20.10 allows ${n}: NEVER_ALLOWED is wrong`);
    }
  });

  test("the capability gates are Docker's, but for the listed differences", async () => {
    const f = await seccompFixture();
    const t = parseSeccompProfile(f.docker.text, f.docker.path);
    const theirs = (caps: string[]) => toOciSeccomp(t, ctx({ caps }));
    const ours = (caps: string[]) => defaultSeccomp(ctx({ caps }));
    let compared = 0;
    for (const cap of ALL_CAPS) {
      const a = gate(theirs, cap);
      const b = gate(ours, cap);
      const d = GATE_DIFFERENCES[cap] ?? { added: [], removed: [] };
      const expected = [...a.filter((n) => !d.removed.includes(n)), ...d.added].sort();
      assert.deepEqual(b, expected, `${cap}: Docker ${JSON.stringify(a)}`);
      compared += a.length;
    }
    assert.ok(compared > 40, `${compared} gated calls compared`);
    // The gates that matter most, spelt out.
    assert.deepEqual(
      gate(ours, "CAP_SYS_ADMIN").filter((n) => ["mount", "unshare", "setns", "clone", "clone3"].includes(n)),
      ["clone", "clone3", "mount", "setns", "unshare"],
    );
  });

  test("podman's seccomp.json reads and converts; what it refuses with EPERM, osless refuses too", async () => {
    const f = await seccompFixture();
    const s = toOciSeccomp(parseSeccompProfile(f.podman.text, f.podman.path), ctx());
    assert.equal(s.defaultErrnoRet, 38, "podman answers ENOSYS by default");
    assert.deepEqual(s.architectures, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
    const refused = s.syscalls!.filter(
      (r) => r.action === "SCMP_ACT_ERRNO" && !r.args?.length && r.errnoRet === 1,
    );
    const names = refused.flatMap((r) => r.names);
    assert.ok(names.includes("kexec_load") && names.includes("userfaultfd"), JSON.stringify(names));
    // podman 0.50 also refuses these two, which Docker (20.10 and current) allows: osless follows Docker.
    const dockerAllows = ["io_pgetevents", "vmsplice"];
    const docker20 = await docker();
    for (const n of dockerAllows) assert.equal(verdict(docker20, n), "allow", n);
    const ours = defaultSeccomp(ctx());
    const differ = names.filter((n) => verdict(ours, n) === "allow").sort();
    assert.deepEqual(differ, dockerAllows);
  });
});

// Probes the calls the profile decides on and prints `name=ok` or `name=<errno>`. It refuses to run unless it is
// PID 1 of a new PID namespace: it mounts a tmpfs, which on the host would hide a directory of the host.
const PROBE_C = `#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *name, long rc) {
  if (rc < 0) printf("%s=%d\\n", name, errno);
  else printf("%s=ok\\n", name);
}

int main(void) {
  if (getpid() != 1) {
    fputs("seccomp-probe: not PID 1 of a container, refusing to run\\n", stderr);
    return 2;
  }
  char line[256];
  FILE *f = fopen("/proc/self/status", "r");
  while (f && fgets(line, sizeof line, f)) {
    if (strncmp(line, "Seccomp:", 8) == 0) printf("seccomp=%s", line + 8 + strspn(line + 8, " \\t"));
  }
  report("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session keyring */, 0));
  report("socket_vsock", socket(40, SOCK_STREAM, 0));
  report("socket_alg", socket(38, SOCK_SEQPACKET, 0));
  report("socket_inet", socket(AF_INET, SOCK_STREAM, 0));
  report("clone3", syscall(SYS_clone3, NULL, 0));
  report("personality_query", personality(0xffffffff));
  report("personality_addr_no_randomize", personality(ADDR_NO_RANDOMIZE));
  report("unshare_uts", unshare(CLONE_NEWUTS));
  mkdir("/scratch", 0755);
  report("mount_tmpfs", mount("none", "/scratch", "tmpfs", 0, ""));
  report("getpid", syscall(SYS_getpid));
  fflush(stdout);
  return 0;
}
`;

/** Runs the probe as a runc container with these capabilities and seccomp block (none: unconfined). */
async function probe(caps: string[], seccomp: LinuxSeccomp | undefined): Promise<Record<string, string>> {
  assert.equal(process.getuid?.(), 0, "runc containers need root: run the tests as root");
  const runc = needTool("runc", "runc");
  const bin = await staticProgram("seccomp-probe", PROBE_C);
  const bundle = await tmpdir("seccomp-bundle");
  await mkdir(join(bundle, "rootfs"));
  await copyFile(bin, join(bundle, "rootfs/probe"));
  const config = {
    ociVersion: "1.0.2",
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: ["/probe"],
      env: ["PATH=/"],
      cwd: "/",
      capabilities: { bounding: caps, effective: caps, permitted: caps },
    },
    root: { path: "rootfs" },
    hostname: "probe",
    mounts: [
      { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
      { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "mode=755", "size=65536k"] },
    ],
    linux: {
      namespaces: ["pid", "ipc", "uts", "mount", "network"].map((type) => ({ type })),
      ...(seccomp ? { seccomp } : {}),
    },
  };
  await writeFile(join(bundle, "config.json"), JSON.stringify(config));
  const id = `osless-seccomp-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    const { stdout } = await run(runc, ["run", "--bundle", bundle, id]);
    return Object.fromEntries(
      stdout
        .trim()
        .split("\n")
        .map((l) => l.split("=") as [string, string]),
    );
  } finally {
    await run(runc, ["delete", "--force", id], { allowFail: true });
  }
}

describe("in a runc container (the kernel applies the filter)", () => {
  const host = (caps: string[]): SeccompContext => ({ arch: process.arch, caps, kernel: release() });
  const EPERM = "1";
  const ENOSYS = "38";

  test("Docker's capabilities: keyctl, AF_VSOCK, AF_ALG, unshare, mount get EPERM, clone3 ENOSYS", async () => {
    const r = await probe(DEFAULT_CAPS, defaultSeccomp(host(DEFAULT_CAPS)));
    assert.equal(r.seccomp, "2", JSON.stringify(r));
    assert.equal(r.keyctl, EPERM);
    assert.equal(r.socket_vsock, EPERM);
    assert.equal(r.socket_alg, EPERM);
    assert.equal(r.socket_inet, "ok");
    assert.equal(r.clone3, ENOSYS);
    assert.equal(r.personality_query, "ok");
    assert.equal(r.personality_addr_no_randomize, EPERM);
    assert.equal(r.unshare_uts, EPERM);
    assert.equal(r.mount_tmpfs, EPERM);
    assert.equal(r.getpid, "ok");
  });

  test("control: without the filter those calls get past seccomp (other errors, or success)", async () => {
    const r = await probe(DEFAULT_CAPS, undefined);
    assert.equal(r.seccomp, "0", JSON.stringify(r));
    assert.notEqual(r.keyctl, EPERM);
    assert.notEqual(r.socket_vsock, EPERM);
    assert.notEqual(r.socket_alg, EPERM);
    assert.notEqual(r.clone3, ENOSYS, "clone3(NULL, 0) reaches the kernel: EINVAL");
    assert.equal(r.personality_addr_no_randomize, "ok");
  });

  test("with CAP_SYS_ADMIN the filter lets unshare, mount and clone3 through", async () => {
    const caps = [...DEFAULT_CAPS, "CAP_SYS_ADMIN"];
    const r = await probe(caps, defaultSeccomp(host(caps)));
    assert.equal(r.seccomp, "2", JSON.stringify(r));
    assert.equal(r.unshare_uts, "ok");
    assert.equal(r.mount_tmpfs, "ok");
    assert.notEqual(r.clone3, ENOSYS);
    assert.notEqual(r.clone3, EPERM);
    assert.equal(r.keyctl, EPERM, "keyrings stay closed");
  });

  test("Docker 20.10's packaged profile, converted by osless, is accepted by runc", async () => {
    const f = await seccompFixture();
    const r = await probe(
      DEFAULT_CAPS,
      toOciSeccomp(parseSeccompProfile(f.docker.text, f.docker.path), host(DEFAULT_CAPS)),
    );
    assert.equal(r.seccomp, "2", JSON.stringify(r));
    assert.equal(r.keyctl, EPERM);
    assert.equal(r.clone3, ENOSYS);
    assert.equal(r.socket_inet, "ok");
    assert.notEqual(
      r.socket_vsock,
      EPERM,
      "20.10 has no socket rule: refusing AF_VSOCK is osless's (and moby's) addition",
    );
  });
});
