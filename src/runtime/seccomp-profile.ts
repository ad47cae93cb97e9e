/**
 * osless's default seccomp profile, in the template format Docker reads from `--security-opt seccomp=FILE`
 * (an OCI `linux.seccomp` block plus `archMap` and per-rule `includes`/`excludes` conditions on the host's
 * architecture and kernel and on the container's capabilities). `toOciSeccomp` in seccomp.ts turns it into the
 * block a runtime takes.
 *
 * The policy is Docker's (current moby): deny with EPERM what is not listed; allow what ordinary programs use;
 * let capabilities open the calls they govern (a container given CAP_SYS_ADMIN may mount, unshare, setns);
 * never allow, whatever the capabilities, calls that reach past the container (keyrings, kexec, swap, io_uring,
 * userfaultfd, the obsolete ones). `clone3` answers ENOSYS without CAP_SYS_ADMIN, because its flags live in
 * memory a filter cannot read: libc then falls back to `clone`, whose flags the filter does check.
 * Newer calls (up to Linux 6.13) are allowed where moby allows them, so a program probing for them sees them
 * work instead of an EPERM it does not expect.
 */

/** libseccomp's actions (runtime-spec config-linux.md). */
export type SeccompAction =
  | "SCMP_ACT_KILL"
  | "SCMP_ACT_KILL_PROCESS"
  | "SCMP_ACT_KILL_THREAD"
  | "SCMP_ACT_TRAP"
  | "SCMP_ACT_ERRNO"
  | "SCMP_ACT_TRACE"
  | "SCMP_ACT_ALLOW"
  | "SCMP_ACT_LOG"
  | "SCMP_ACT_NOTIFY";

/** libseccomp's argument comparisons. `SCMP_CMP_MASKED_EQ` is `(arg & value) == valueTwo`. */
export type SeccompOperator =
  | "SCMP_CMP_NE"
  | "SCMP_CMP_LT"
  | "SCMP_CMP_LE"
  | "SCMP_CMP_EQ"
  | "SCMP_CMP_GE"
  | "SCMP_CMP_GT"
  | "SCMP_CMP_MASKED_EQ";

/** One condition on a syscall argument (index 0-5). Values are unsigned 64-bit, here limited to safe integers. */
export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number | undefined;
  op: SeccompOperator;
}

/** When a template rule applies: every field given must hold (includes) or any may exclude it (excludes). */
export interface SeccompFilter {
  /** Capabilities (`CAP_*`) of the container's bounding set. */
  caps?: string[] | undefined;
  /** libseccomp's native architecture names: amd64, x86, x32, arm64, arm, s390x, ppc64le, riscv64, ... */
  arches?: string[] | undefined;
  /** `<major>.<minor>`: the host kernel is at least this version. */
  minKernel?: string | undefined;
}

/** A rule of a template: an OCI syscall rule plus its conditions. `name` is the old single-name form. */
export interface SeccompTemplateRule {
  name?: string | undefined;
  names?: string[] | undefined;
  action: SeccompAction;
  errnoRet?: number | undefined;
  args?: SeccompArg[] | undefined;
  comment?: string | undefined;
  includes?: SeccompFilter | undefined;
  excludes?: SeccompFilter | undefined;
}

/** An architecture and the ones its processes may also call the kernel as (x86_64 runs i386 and x32 code). */
export interface SeccompArchEntry {
  architecture: string;
  subArchitectures?: string[] | null | undefined;
}

/**
 * A seccomp profile as Docker and podman write them (`default.json`). An OCI-shaped block (`architectures`,
 * `names`, no conditions) is a template too.
 */
export interface SeccompTemplate {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number | undefined;
  /** Fixed architectures (OCI form); exclusive with `archMap`. */
  architectures?: string[] | undefined;
  archMap?: SeccompArchEntry[] | undefined;
  flags?: string[] | undefined;
  listenerPath?: string | undefined;
  listenerMetadata?: string | undefined;
  syscalls?: SeccompTemplateRule[] | undefined;
}

/** errno values the profile returns. */
const EPERM = 1;
const ENOSYS = 38;

/** clone(2) flags that make new namespaces: NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET. */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000;

/** Address families `socket` refuses: AF_ALG (38, the kernel's crypto API) and AF_VSOCK (40, the hypervisor's). */
export const DENIED_SOCKET_FAMILIES = [38, 40] as const;

/**
 * `personality` values allowed: PER_LINUX, PER_LINUX32 (UNAME26 off and on), and the query 0xffffffff.
 * Others (READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE...) weaken the process's own protections.
 */
export const ALLOWED_PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff] as const;

// What every container may call, by topic. A call appears once; `newer:` marks calls of Linux 5.x/6.x whose
// absence from a filter would make them fail with EPERM rather than the ENOSYS a probing program expects.

const PATHS = [
  "access",
  "faccessat",
  "faccessat2",
  "chdir",
  "fchdir",
  "getcwd",
  "chmod",
  "fchmod",
  "fchmodat",
  "fchmodat2", // newer: 6.6
  "chown",
  "chown32",
  "fchown",
  "fchown32",
  "fchownat",
  "lchown",
  "lchown32",
  "creat",
  "open",
  "openat",
  "openat2",
  "close",
  "close_range",
  "link",
  "linkat",
  "symlink",
  "symlinkat",
  "readlink",
  "readlinkat",
  "unlink",
  "unlinkat",
  "rename",
  "renameat",
  "renameat2",
  "mkdir",
  "mkdirat",
  "rmdir",
  "mknod",
  "mknodat",
  "truncate",
  "truncate64",
  "ftruncate",
  "ftruncate64",
  "umask",
  "utime",
  "utimes",
  "utimensat",
  "utimensat_time64",
  "futimesat",
  "getdents",
  "getdents64",
  // A file handle names a file; only open_by_handle_at (CAP_DAC_READ_SEARCH) can use it to reach past a mount.
  "name_to_handle_at",
];

const STAT = [
  "stat",
  "stat64",
  "lstat",
  "lstat64",
  "fstat",
  "fstat64",
  "fstatat64",
  "newfstatat",
  "statx",
  "statfs",
  "statfs64",
  "fstatfs",
  "fstatfs64",
  "statmount", // newer: 6.8, reads the caller's own mount namespace
  "listmount", // newer: 6.8
];

const XATTRS = [
  "getxattr",
  "lgetxattr",
  "fgetxattr",
  "getxattrat", // newer: 6.13, as are the other *xattrat
  "setxattr",
  "lsetxattr",
  "fsetxattr",
  "setxattrat",
  "listxattr",
  "llistxattr",
  "flistxattr",
  "listxattrat",
  "removexattr",
  "lremovexattr",
  "fremovexattr",
  "removexattrat",
];

const FILE_IO = [
  "read",
  "readv",
  "pread64",
  "preadv",
  "preadv2",
  "write",
  "writev",
  "pwrite64",
  "pwritev",
  "pwritev2",
  "lseek",
  "_llseek",
  "sendfile",
  "sendfile64",
  "splice",
  "tee",
  "vmsplice",
  "copy_file_range",
  "fallocate",
  "fadvise64",
  "fadvise64_64",
  "readahead",
  "fsync",
  "fdatasync",
  "sync",
  "syncfs",
  "sync_file_range",
  "flock",
  "fcntl",
  "fcntl64",
  "ioctl",
  "dup",
  "dup2",
  "dup3",
  "pipe",
  "pipe2",
  "cachestat", // newer: 6.5
  // Linux AIO (io_uring is not here: see NEVER_ALLOWED).
  "io_setup",
  "io_destroy",
  "io_submit",
  "io_cancel",
  "io_getevents",
  "io_pgetevents",
  "io_pgetevents_time64",
];

const WAITING = [
  "select",
  "_newselect",
  "pselect6",
  "pselect6_time64",
  "poll",
  "ppoll",
  "ppoll_time64",
  "epoll_create",
  "epoll_create1",
  "epoll_ctl",
  "epoll_ctl_old",
  "epoll_wait",
  "epoll_wait_old",
  "epoll_pwait",
  "epoll_pwait2",
  "eventfd",
  "eventfd2",
  "inotify_init",
  "inotify_init1",
  "inotify_add_watch",
  "inotify_rm_watch",
  "fanotify_mark", // useless without fanotify_init, which takes CAP_SYS_ADMIN
  "signalfd",
  "signalfd4",
  "timerfd_create",
  "timerfd_settime",
  "timerfd_settime64",
  "timerfd_gettime",
  "timerfd_gettime64",
  "futex",
  "futex_time64",
  "futex_waitv", // newer: 5.16
  "futex_wait", // newer: 6.7, as are futex_wake and futex_requeue
  "futex_wake",
  "futex_requeue",
  "set_robust_list",
  "get_robust_list",
  "nanosleep",
  "clock_nanosleep",
  "clock_nanosleep_time64",
  "pause",
  "restart_syscall",
];

const MEMORY = [
  "brk",
  "mmap",
  "mmap2",
  "munmap",
  "mremap",
  "mprotect",
  "madvise",
  "mincore",
  "msync",
  "mlock",
  "mlock2",
  "mlockall",
  "munlock",
  "munlockall",
  "remap_file_pages",
  "membarrier",
  "memfd_create",
  "memfd_secret", // newer: 5.14
  "pkey_alloc",
  "pkey_free",
  "pkey_mprotect",
  "map_shadow_stack", // newer: 6.6
  "mseal", // newer: 6.10
];

const PROCESSES = [
  "fork",
  "vfork",
  "execve",
  "execveat",
  "exit",
  "exit_group",
  "wait4",
  "waitid",
  "waitpid",
  "kill",
  "tkill",
  "tgkill",
  "pidfd_open",
  "pidfd_send_signal",
  "process_mrelease", // newer: 5.15; reaps a process the caller may already kill
  "set_tid_address",
  "gettid",
  "getpid",
  "getppid",
  "getpgid",
  "setpgid",
  "getpgrp",
  "getsid",
  "setsid",
  "prctl",
  "seccomp", // filters may be stacked, never removed
  "rseq",
  "set_thread_area",
  "get_thread_area",
  "uretprobe", // newer: 6.11, only reachable from a uretprobe trampoline
  "capget",
  "capset",
  "landlock_create_ruleset", // newer: 5.13, as are the other landlock calls
  "landlock_add_rule",
  "landlock_restrict_self",
];

const IDENTITY = [
  "getuid",
  "getuid32",
  "geteuid",
  "geteuid32",
  "getgid",
  "getgid32",
  "getegid",
  "getegid32",
  "getresuid",
  "getresuid32",
  "getresgid",
  "getresgid32",
  "getgroups",
  "getgroups32",
  "setuid",
  "setuid32",
  "setgid",
  "setgid32",
  "setreuid",
  "setreuid32",
  "setregid",
  "setregid32",
  "setresuid",
  "setresuid32",
  "setresgid",
  "setresgid32",
  "setfsuid",
  "setfsuid32",
  "setfsgid",
  "setfsgid32",
  "setgroups",
  "setgroups32",
];

const SIGNALS = [
  "rt_sigaction",
  "rt_sigpending",
  "rt_sigprocmask",
  "rt_sigqueueinfo",
  "rt_sigreturn",
  "rt_sigsuspend",
  "rt_sigtimedwait",
  "rt_sigtimedwait_time64",
  "rt_tgsigqueueinfo",
  "sigaltstack",
  "sigprocmask",
  "sigreturn",
  "alarm",
  "getitimer",
  "setitimer",
  "timer_create",
  "timer_delete",
  "timer_getoverrun",
  "timer_gettime",
  "timer_gettime64",
  "timer_settime",
  "timer_settime64",
];

const TIME_AND_SYSTEM = [
  "time",
  "times",
  "gettimeofday",
  "clock_gettime",
  "clock_gettime64",
  "clock_getres",
  "clock_getres_time64",
  // Reading the clock's adjustments; changing them checks CAP_SYS_TIME in the kernel.
  "adjtimex",
  "clock_adjtime",
  "clock_adjtime64",
  "uname",
  "sysinfo",
  "getcpu",
  "getrandom",
  "getrlimit",
  "ugetrlimit",
  "setrlimit",
  "prlimit64",
  "getrusage",
  "getpriority",
  "setpriority",
  "ioprio_get",
  "ioprio_set",
  "riscv_hwprobe", // newer: 6.4
];

const SCHEDULING = [
  "sched_yield",
  "sched_getaffinity",
  "sched_setaffinity",
  "sched_getattr",
  "sched_setattr",
  "sched_getparam",
  "sched_setparam",
  "sched_getscheduler",
  "sched_setscheduler",
  "sched_get_priority_max",
  "sched_get_priority_min",
  "sched_rr_get_interval",
  "sched_rr_get_interval_time64",
];

// `socket` itself is a conditional rule (DENIED_SOCKET_FAMILIES). `socketcall`, the 32-bit x86 multiplexer,
// hides its arguments from the filter: blocking it breaks old i386 programs, so it stays allowed as in moby.
const NETWORK = [
  "socketpair",
  "socketcall",
  "bind",
  "listen",
  "accept",
  "accept4",
  "connect",
  "shutdown",
  "getsockname",
  "getpeername",
  "getsockopt",
  "setsockopt",
  "send",
  "sendto",
  "sendmsg",
  "sendmmsg",
  "recv",
  "recvfrom",
  "recvmsg",
  "recvmmsg",
  "recvmmsg_time64",
];

const IPC = [
  "ipc",
  "msgget",
  "msgctl",
  "msgsnd",
  "msgrcv",
  "semget",
  "semctl",
  "semop",
  "semtimedop",
  "semtimedop_time64",
  "shmget",
  "shmctl",
  "shmat",
  "shmdt",
  "mq_open",
  "mq_unlink",
  "mq_getsetattr",
  "mq_notify",
  "mq_timedsend",
  "mq_timedsend_time64",
  "mq_timedreceive",
  "mq_timedreceive_time64",
];

/** Every syscall any container may make, whatever its capabilities, host architecture or kernel. */
export const ALWAYS_ALLOWED: readonly string[] = [
  ...PATHS,
  ...STAT,
  ...XATTRS,
  ...FILE_IO,
  ...WAITING,
  ...MEMORY,
  ...PROCESSES,
  ...IDENTITY,
  ...SIGNALS,
  ...TIME_AND_SYSTEM,
  ...SCHEDULING,
  ...NETWORK,
  ...IPC,
].sort();

/**
 * Calls the profile opens only to a container whose bounding set holds the capability. CAP_SYS_ADMIN's list
 * is what lets a container manage mounts and namespaces; `clone` and `clone3` without it are handled apart.
 */
export const CAPABILITY_GATES: Readonly<Record<string, readonly string[]>> = {
  CAP_SYS_ADMIN: [
    "bpf",
    "clone",
    "clone3",
    "fanotify_init",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "lookup_dcookie",
    "lsm_get_self_attr",
    "lsm_list_modules",
    "lsm_set_self_attr",
    "mount",
    "mount_setattr",
    "move_mount",
    "open_tree",
    "perf_event_open",
    "quotactl",
    "quotactl_fd",
    "setdomainname",
    "sethostname",
    "setns",
    "syslog",
    "umount",
    "umount2",
    "unshare",
  ],
  CAP_DAC_READ_SEARCH: ["open_by_handle_at"],
  CAP_SYS_BOOT: ["reboot"],
  CAP_SYS_CHROOT: ["chroot"],
  CAP_SYS_MODULE: ["init_module", "finit_module", "delete_module"],
  CAP_SYS_PACCT: ["acct"],
  CAP_SYS_PTRACE: [
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    "process_madvise",
  ],
  CAP_SYS_RAWIO: ["iopl", "ioperm"],
  CAP_SYS_TIME: ["settimeofday", "stime", "clock_settime", "clock_settime64"],
  CAP_SYS_TTY_CONFIG: ["vhangup"],
  CAP_SYS_NICE: ["mbind", "get_mempolicy", "set_mempolicy", "set_mempolicy_home_node"],
  // The narrower capabilities split out of CAP_SYS_ADMIN.
  CAP_SYSLOG: ["syslog"],
  CAP_BPF: ["bpf"],
  CAP_PERFMON: ["perf_event_open"],
};

/**
 * Calls no rule allows, whatever the capabilities (the default action answers EPERM): the kernel keyring is not
 * namespaced, kexec and swap act on the whole host, io_uring has been a steady source of kernel escapes and
 * bypasses seccomp for the operations it performs, userfaultfd lets a process stall the kernel at will, move_pages
 * reaches other processes' memory, and the rest are obsolete. Listed for the tests and the documentation.
 */
export const NEVER_ALLOWED: readonly string[] = [
  "keyctl",
  "add_key",
  "request_key",
  "kexec_load",
  "kexec_file_load",
  "userfaultfd",
  "io_uring_setup",
  "io_uring_enter",
  "io_uring_register",
  "swapon",
  "swapoff",
  "pivot_root",
  "nfsservctl",
  "uselib",
  "vm86",
  "vm86old",
  "_sysctl",
  "sysfs",
  "create_module",
  "get_kernel_syms",
  "query_module",
  "move_pages",
];

const allow = (
  names: string[],
  more: Omit<SeccompTemplateRule, "names" | "action"> = {},
): SeccompTemplateRule => ({
  names,
  action: "SCMP_ACT_ALLOW",
  ...more,
});

/** osless's default profile (Docker semantics; see the module comment). */
export const DEFAULT_PROFILE: SeccompTemplate = {
  defaultAction: "SCMP_ACT_ERRNO",
  defaultErrnoRet: EPERM,
  archMap: [
    { architecture: "SCMP_ARCH_X86_64", subArchitectures: ["SCMP_ARCH_X86", "SCMP_ARCH_X32"] },
    { architecture: "SCMP_ARCH_AARCH64", subArchitectures: ["SCMP_ARCH_ARM"] },
    { architecture: "SCMP_ARCH_S390X", subArchitectures: ["SCMP_ARCH_S390"] },
    { architecture: "SCMP_ARCH_PPC64LE", subArchitectures: [] },
    { architecture: "SCMP_ARCH_RISCV64", subArchitectures: [] },
    { architecture: "SCMP_ARCH_LOONGARCH64", subArchitectures: [] },
    { architecture: "SCMP_ARCH_MIPS64", subArchitectures: ["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"] },
    { architecture: "SCMP_ARCH_MIPS64N32", subArchitectures: ["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64"] },
    { architecture: "SCMP_ARCH_MIPSEL64", subArchitectures: ["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"] },
    { architecture: "SCMP_ARCH_MIPSEL64N32", subArchitectures: ["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64"] },
  ],
  syscalls: [
    allow([...ALWAYS_ALLOWED]),
    // Before Linux 4.8 a tracer could rewrite a tracee's syscalls past its filter: on older kernels these calls
    // need CAP_SYS_PTRACE (CAPABILITY_GATES).
    allow(["ptrace", "process_vm_readv", "process_vm_writev"], { includes: { minKernel: "4.8" } }),
    // socket(domain < 38), socket(39), socket(domain > 40): every family but AF_ALG and AF_VSOCK.
    allow(["socket"], { args: [{ index: 0, value: 38, op: "SCMP_CMP_LT" }] }),
    allow(["socket"], { args: [{ index: 0, value: 39, op: "SCMP_CMP_EQ" }] }),
    allow(["socket"], { args: [{ index: 0, value: 40, op: "SCMP_CMP_GT" }] }),
    ...ALLOWED_PERSONALITIES.map((p) =>
      allow(["personality"], { args: [{ index: 0, value: p, op: "SCMP_CMP_EQ" }] }),
    ),
    // Calls that exist on one architecture family only.
    allow(["arch_prctl"], { includes: { arches: ["amd64", "x32"] } }),
    allow(["modify_ldt"], { includes: { arches: ["amd64", "x32", "x86"] } }),
    allow(
      ["arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"],
      {
        includes: { arches: ["arm", "arm64"] },
      },
    ),
    allow(["sync_file_range2", "swapcontext"], { includes: { arches: ["ppc64le"] } }),
    allow(["s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"], {
      includes: { arches: ["s390", "s390x"] },
    }),
    allow(["riscv_flush_icache"], { includes: { arches: ["riscv64"] } }),
    // Capability gates.
    ...Object.entries(CAPABILITY_GATES).map(([cap, names]) =>
      allow([...names], { includes: { caps: [cap] } }),
    ),
    // Without CAP_SYS_ADMIN: clone without namespace flags (s390 swaps clone's first two arguments), and clone3
    // answering ENOSYS so that libc falls back to clone.
    allow(["clone"], {
      args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
      excludes: { caps: ["CAP_SYS_ADMIN"], arches: ["s390", "s390x"] },
    }),
    allow(["clone"], {
      args: [{ index: 1, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
      includes: { arches: ["s390", "s390x"] },
      excludes: { caps: ["CAP_SYS_ADMIN"] },
    }),
    {
      names: ["clone3"],
      action: "SCMP_ACT_ERRNO",
      errnoRet: ENOSYS,
      excludes: { caps: ["CAP_SYS_ADMIN"] },
    },
  ],
};
