// strace's per-process files parsed: real samples from a container (runc), hand-made lines for each family of
// calls, and a trace strace writes here of a real shell.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { needTool, run, tmpdir } from "../../test/fixtures/tools.ts";
import { isOslessError } from "../errors.ts";
import { isRuntimePath, parseStraceDir, parseStraceFile, type TracedPath } from "./strace.ts";
import { straceArgs } from "./trace.ts";

// Recorded with runc 1.1 and strace 6.1 (Debian 12): the container's first process, then a child it forked.
const FIRST = `openat(AT_FDCWD</>, "/proc/self/fd/5", O_WRONLY|O_CLOEXEC) = 3</run/runc/t1/exec.fifo>
openat(AT_FDCWD</>, "/proc/self/fd", O_RDONLY|O_CLOEXEC) = 4</proc/1/fd>
execve("/bin/sh", ["/bin/sh", "-c", "cd /etc && cat hello && cat ./hello >/dev/null; exit 3"], 0xc0000248c0 /* 3 vars */) = 0
readlink("/proc/self/exe", "/bin/busybox", 4096) = 12
getcwd("/", 4096)                 = 2
chdir("/etc")                     = 0
--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=6, si_uid=0, si_status=0, si_utime=0, si_stime=0} ---
openat(AT_FDCWD</etc>, "/dev/null", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 3</dev/null>
+++ exited with 3 +++
`;
const CHILD = `execve("/proc/self/exe", ["cat", "hello"], 0x1d811978 /* 6 vars */) = 0
readlink("/proc/self/exe", "/bin/busybox", 4096) = 12
openat(AT_FDCWD</etc>, "hello", O_RDONLY) = 3</etc/hello>
+++ exited with 0 +++
`;

/** [syscall, path, resolved?] of each entry, for compact comparisons. */
const brief = (ps: TracedPath[]) => ps.map((p) => [p.syscall, p.path, ...(p.resolved ? [p.resolved] : [])]);

test("the container's first process counts from its exec on; its exit status is read", () => {
  const p = parseStraceFile(FIRST, { afterFirstExec: true });
  assert.deepEqual(brief(p.paths), [
    ["execve", "/bin/sh"],
    ["readlink", "/proc/self/exe"],
    ["chdir", "/etc"],
    ["openat", "/dev/null", "/dev/null"],
  ]);
  assert.deepEqual(p.exit, { code: 3 });
  assert.equal(p.execed, true);
  // Without the option runc's own setup is there too.
  const all = parseStraceFile(FIRST);
  assert.deepEqual(brief(all.paths).slice(0, 2), [
    ["openat", "/proc/self/fd/5", "/run/runc/t1/exec.fifo"],
    ["openat", "/proc/self/fd", "/proc/1/fd"],
  ]);
  // A first process that never executed its program named nothing of the image.
  const noExec = parseStraceFile(FIRST.split("\n").slice(0, 2).join("\n"), { afterFirstExec: true });
  assert.deepEqual(noExec, { paths: [], execed: false });
});

test("a child's relative open is made absolute with AT_FDCWD's path; the directory merges first process first", () => {
  const c = parseStraceFile(CHILD);
  assert.deepEqual(brief(c.paths), [
    ["execve", "/proc/self/exe"],
    ["readlink", "/proc/self/exe"],
    ["openat", "/etc/hello", "/etc/hello"],
  ]);
  const d = parseStraceDir(
    [
      { pid: 4312, text: CHILD },
      { pid: 4300, text: FIRST },
    ],
    4300,
    { cwd: "/" },
  );
  assert.equal(d.processes, 2);
  assert.deepEqual(d.exit, { code: 3 });
  assert.deepEqual(
    d.paths.map((p) => p.path),
    ["/bin/sh", "/proc/self/exe", "/etc", "/dev/null", "/proc/self/exe", "/proc/self/exe", "/etc/hello"],
  );
  assert.throws(
    () => parseStraceDir([{ pid: 4312, text: CHILD }], 4300, {}),
    (e: unknown) => isOslessError(e, "E_SLIM") && /pid 4300/.test(e.message) && e.hint !== undefined,
  );
  // The runtime's other threads, traced before the exec, add nothing when named as setup.
  const thread = `openat(AT_FDCWD</>, "/proc/self/status", O_RDONLY) = 5</proc/9/status>\n+++ exited with 0 +++\n`;
  const files = [
    { pid: 4300, text: FIRST },
    { pid: 4301, text: thread },
  ];
  assert.equal(parseStraceDir(files, 4300, {}).paths.length, 5);
  assert.equal(parseStraceDir(files, 4300, { setupPids: [4301] }).paths.length, 4);
});

test("every family of calls: dirfd-relative, cwd-relative, two-path calls, symlink's link path", () => {
  const lines = [
    `chdir("/w")                             = 0`,
    `open("a", O_RDONLY)                     = 3</w/a>`,
    `creat("/w/new", 0644) = 3</w/new>`,
    `stat("s", {st_mode=S_IFREG|0644, st_size=1, ...}) = 0`,
    `lstat("../l", {st_mode=S_IFLNK|0777, st_size=1, ...}) = 0`,
    `access("./x/", R_OK) = 0`,
    `readlink("rl", "target", 4096) = 6`,
    `truncate("t", 0) = 0`,
    `statfs("/", {f_type=EXT2_SUPER_MAGIC, f_bsize=4096, f_blocks=1, f_bfree=1, f_bavail=1, f_files=1, f_ffree=1, f_fsid={val=[0x1, 0x2]}, f_namelen=255, f_frsize=4096, f_flags=ST_VALID|ST_RELATIME}) = 0`,
    `getxattr("gx", "user.a", "v", 1) = 1`,
    `llistxattr("lx", NULL, 0) = 0`,
    `chmod("cm", 0755) = 0`,
    `lchown("lc", 0, 0) = 0`,
    `mkdir("md", 0777) = 0`,
    `rmdir("rd") = 0`,
    `unlink("ul") = 0`,
    `rename("from", "/abs/to") = 0`,
    `link("l1", "l2") = 0`,
    `symlink("../whatever", "sl") = 0`,
    `utimes("ut", [{tv_sec=0, tv_usec=0} /* 1970-01-01T00:00:00+0000 */, {tv_sec=0, tv_usec=0}]) = 0`,
    `mknod("fifo", S_IFIFO|0644) = 0`,
    `openat(3</d>, "in/d", O_RDONLY) = 4</d/in/d>`,
    `openat2(AT_FDCWD</w>, "o2", {flags=O_RDONLY, resolve=RESOLVE_BENEATH}, 24) = 4</w/o2>`,
    `newfstatat(5</e(x), y>, "f", {st_mode=S_IFREG|0644, st_size=0, ...}, 0) = 0`,
    `statx(AT_FDCWD</w>, "sx", AT_STATX_SYNC_AS_STAT, STATX_ALL, {stx_mask=STATX_ALL, stx_mode=S_IFREG|0644, ...}) = 0`,
    `faccessat2(AT_FDCWD</w>, "fa", X_OK, AT_EACCESS) = 0`,
    `readlinkat(6</r>, "link", "dest", 4095) = 4`,
    `fchmodat(AT_FDCWD</w>, "fm", 0644) = 0`,
    `fchownat(7</o>, "fo", 0, 0, AT_SYMLINK_NOFOLLOW) = 0`,
    `mkdirat(AT_FDCWD</w>, "mda", 0755) = 0`,
    `unlinkat(8</u>, "ua", AT_REMOVEDIR) = 0`,
    `renameat2(AT_FDCWD</w>, "ra", 9</t>, "rb", RENAME_NOREPLACE) = 0`,
    `linkat(AT_FDCWD</w>, "la", AT_FDCWD</w>, "/x/lb", 0) = 0`,
    `symlinkat("anything", 10</s>, "sla") = 0`,
    `name_to_handle_at(AT_FDCWD</w>, "nh", {handle_bytes=128 => 8, handle_type=1, f_handle=0x01}, [12], 0) = 0`,
    `execveat(11</bin>, "busybox", ["x"], 0x7ffc /* 1 var */, 0) = 0`,
    `utimensat(12</w/ts>, NULL, [UTIME_NOW, UTIME_NOW], 0) = 0`,
    `mkdirat(AT_FDCWD</w, (x)>, "m", 0755) = 0`,
  ];
  const p = parseStraceFile(lines.join("\n"));
  assert.deepEqual(brief(p.paths), [
    ["chdir", "/w"],
    ["open", "/w/a", "/w/a"],
    ["creat", "/w/new", "/w/new"],
    ["stat", "/w/s"],
    ["lstat", "/l"],
    ["access", "/w/x"],
    ["readlink", "/w/rl"],
    ["truncate", "/w/t"],
    ["statfs", "/"],
    ["getxattr", "/w/gx"],
    ["llistxattr", "/w/lx"],
    ["chmod", "/w/cm"],
    ["lchown", "/w/lc"],
    ["mkdir", "/w/md"],
    ["rmdir", "/w/rd"],
    ["unlink", "/w/ul"],
    ["rename", "/w/from"],
    ["rename", "/abs/to"],
    ["link", "/w/l1"],
    ["link", "/w/l2"],
    ["symlink", "/w/sl"],
    ["utimes", "/w/ut"],
    ["mknod", "/w/fifo"],
    ["openat", "/d/in/d", "/d/in/d"],
    ["openat2", "/w/o2", "/w/o2"],
    ["newfstatat", "/e(x), y/f"],
    ["statx", "/w/sx"],
    ["faccessat2", "/w/fa"],
    ["readlinkat", "/r/link"],
    ["fchmodat", "/w/fm"],
    ["fchownat", "/o/fo"],
    ["mkdirat", "/w/mda"],
    ["unlinkat", "/u/ua"],
    ["renameat2", "/w/ra"],
    ["renameat2", "/t/rb"],
    ["linkat", "/w/la"],
    ["linkat", "/x/lb"],
    ["symlinkat", "/s/sla"],
    ["name_to_handle_at", "/w/nh"],
    ["execveat", "/bin/busybox"],
    ["utimensat", "/w/ts"],
    ["mkdirat", "/w, (x)/m"],
  ]);
  assert.equal(p.execed, true);
  assert.equal(p.exit, undefined);
});

test("C escapes decode to bytes, then UTF-8; other bytes stay \\xNN and are marked", () => {
  const p = parseStraceFile(
    [
      `openat(AT_FDCWD</>, "/q\\"\\\\t\\n\\t", O_RDONLY) = 3</q\\"\\\\t\\n\\t>`,
      `stat("/d\\303\\251\\342\\202\\254", {st_mode=S_IFDIR|0755, ...}) = 0`,
      `stat("/h\\x41\\x42", {st_mode=S_IFDIR|0755, ...}) = 0`,
      `openat(AT_FDCWD</>, "/a<b>c", O_RDONLY) = 3</a\\74b\\76c>`,
      `mkdir("/bad\\377\\\\x", 0777) = 0`,
      `newfstatat(3</t/\\377>(deleted), "", {st_mode=S_IFREG|0644, st_size=0, ...}, AT_EMPTY_PATH) = 0`,
      `openat(AT_FDCWD</>, "/link", O_RDONLY) = 3</t/\\377>`,
      `openat(AT_FDCWD</>, "/é", O_RDONLY) = 3</é>`, // should strace ever print UTF-8 unescaped
    ].join("\n"),
  );
  assert.deepEqual(p.paths, [
    { path: '/q"\\t\n\t', syscall: "openat", resolved: '/q"\\t\n\t' },
    { path: "/dé€", syscall: "stat" },
    { path: "/hAB", syscall: "stat" },
    { path: "/a<b>c", syscall: "openat", resolved: "/a<b>c" },
    { path: "/bad\\xff\\x5cx", syscall: "mkdir", undecodable: true },
    { path: "/t/\\xff", syscall: "newfstatat", undecodable: true },
    { path: "/link", syscall: "openat", resolved: "/t/\\xff", undecodable: true },
    { path: "/é", syscall: "openat", resolved: "/é" },
  ]);
});

test("the working directory: chdir relative and with .., fchdir, getcwd, inferred at start, else the option", () => {
  const p = parseStraceFile(
    [
      `stat("early", {st_mode=S_IFREG|0644, ...}) = 0`, // before anything tells the directory: /srv, seen below
      `getcwd("/srv", 4096) = 5`,
      `chdir("app//./lib/../bin") = 0`,
      `open("x", O_RDONLY) = 3</srv/app/bin/x>`,
      `fchdir(4</opt/o>) = 0`,
      `unlink("y") = 0`,
      `chdir("../../..") = 0`,
      `rmdir("z") = 0`,
      `getcwd("/home/u", 4096) = 8`,
      `access("w", F_OK) = 0`,
      `newfstatat(AT_FDCWD</var>, "v", {st_mode=S_IFREG|0644, ...}, 0) = 0`, // the annotation wins
      `access("after", F_OK) = 0`, // and tells the directory from then on
    ].join("\n"),
    { cwd: "/ignored" },
  );
  assert.deepEqual(
    p.paths.map((x) => x.path),
    [
      "/srv/early",
      "/srv/app/bin",
      "/srv/app/bin/x",
      "/opt/o/y",
      "/",
      "/z",
      "/home/u/w",
      "/var/v",
      "/var/after",
    ],
  );
  // A later AT_FDCWD annotation before any chdir tells the start too.
  const q = parseStraceFile(
    `rmdir("d\\303\\251") = 0\nopenat(AT_FDCWD</tmp/st>, "/etc/x", O_RDONLY) = 3</etc/x>\n`,
  );
  assert.equal(q.paths[0]!.path, "/tmp/st/dé");
  // Nothing tells it: the option, else "/".
  assert.equal(parseStraceFile(`unlink("f") = 0`, { cwd: "/wd/é" }).paths[0]!.path, "/wd/é/f");
  assert.equal(parseStraceFile(`unlink("./f") = 0`).paths[0]!.path, "/f");
});

test("AT_EMPTY_PATH names the descriptor; a relative path on a descriptor strace could not name is dropped", () => {
  const p = parseStraceFile(
    [
      `newfstatat(3</etc/hello>, "", {st_mode=S_IFREG|0644, st_size=6, ...}, AT_EMPTY_PATH) = 0`,
      `statx(AT_FDCWD</root>, "", AT_EMPTY_PATH, STATX_ALL, {stx_mask=STATX_ALL, ...}) = 0`,
      `newfstatat(4<socket:[1234]>, "", {st_mode=S_IFSOCK|0777, ...}, AT_EMPTY_PATH) = 0`,
      `openat(5<pipe:[99]>, "rel", O_RDONLY) = 6</somewhere/rel>`,
      `openat(5, "/abs", O_RDONLY) = 6</abs>`,
    ].join("\n"),
  );
  assert.deepEqual(brief(p.paths), [
    ["newfstatat", "/etc/hello"],
    ["statx", "/root"],
    ["openat", "/abs", "/abs"],
  ]);
});

test("killed by a signal, with or without a core; unfinished calls joined with their resumption, or ignored", () => {
  assert.deepEqual(parseStraceFile(`+++ killed by SIGKILL +++\n`).exit, { signal: "SIGKILL" });
  assert.deepEqual(parseStraceFile(`+++ killed by SIGSEGV (core dumped) +++\n`).exit, { signal: "SIGSEGV" });
  const p = parseStraceFile(
    [
      `openat(AT_FDCWD</etc>, "passwd", O_RDONLY <unfinished ...>`,
      `--- SIGALRM {si_signo=SIGALRM, si_code=SI_KERNEL} ---`,
      `<... openat resumed>) = 3</etc/passwd>`,
      `readlink("/x" <unfinished ...>`,
      `<... readlink resumed>, "y", 4096) = 1`,
      `<... stat resumed>{st_mode=S_IFREG|0644, ...}) = 0`, // no start: ignored
      `execve("/bin/never", ["never"], 0x7ffd /* 2 vars */ <unfinished ...>`,
      `+++ exited with 1 +++`,
    ].join("\n"),
  );
  assert.deepEqual(brief(p.paths), [
    ["openat", "/etc/passwd", "/etc/passwd"],
    ["readlink", "/x"],
  ]);
  assert.equal(p.execed, false);
  assert.deepEqual(p.exit, { code: 1 });
});

test("isRuntimePath: /proc, /sys, /dev and below only", () => {
  for (const p of ["/proc", "/proc/self/exe", "/sys/fs", "/dev", "/dev/null"])
    assert.equal(isRuntimePath(p), true, p);
  for (const p of ["/", "/process", "/devices", "/usr/dev", "/system"])
    assert.equal(isRuntimePath(p), false, p);
});

test("a real trace of a shell: a relative open in a child, a directory listed, the exit statuses", async () => {
  const strace = needTool("strace", "strace");
  const dir = await tmpdir("strace-");
  const script = "cd /etc && cat ./hostname >/dev/null; ls /usr/lib >/dev/null; (exit 4); exit 3";
  const r = await run(strace, [...straceArgs(join(dir, "trace")), "sh", "-c", script], { allowFail: true });
  assert.equal(r.code, 3, r.stderr);
  const files = readdirSync(dir).map((n) => ({
    pid: Number(n.slice("trace.".length)),
    text: readFileSync(join(dir, n), "utf8"),
  }));
  // The shell's file starts with its exec (the children run cat and ls, the subshell runs nothing).
  const first = files.find((f) => /^execve\("[^"]*", \["sh", "-c"/.test(f.text))?.pid ?? -1;
  const d = parseStraceDir(files, first, { cwd: "/" });
  assert.deepEqual(d.exit, { code: 3 });
  assert.ok(d.processes >= 3, `${d.processes} processes`);
  const cat = d.paths.find((p) => p.path === "/etc/hostname" && p.syscall.startsWith("open"));
  assert.ok(cat, "cat's relative open of ./hostname");
  assert.ok(cat.resolved?.startsWith("/"));
  assert.ok(
    d.paths.some((p) => p.path === "/usr/lib" && p.syscall.startsWith("open")),
    "ls opened /usr/lib",
  );
  assert.ok(d.paths.some((p) => p.syscall === "chdir" && p.path === "/etc"));
  const exits = files.map((f) => parseStraceFile(f.text).exit);
  for (const code of [0, 3, 4])
    assert.ok(
      exits.some((e) => e && "code" in e && e.code === code),
      `an exit ${code}`,
    );
  for (const f of files)
    assert.equal(
      parseStraceFile(f.text).paths.some((p) => !p.path.startsWith("/")),
      false,
    );
});
