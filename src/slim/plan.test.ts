// The static and traced plan over a small root built from the host's own Debian programs: a `#!/usr/bin/env sh`
// entrypoint whose chain (env, sh -> dash) and their libraries must be kept with every symlink on the way, and
// what such programs need besides (USER's entries only, the CA bundle, the time zones, glibc's files).
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { DirFiles } from "../analysis/dir-files.ts";
import type { ContainerConfig } from "../spec/schemas.ts";
import { planSlim, TRACED } from "./plan.ts";

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const TRIPLET = "x86_64-linux-gnu";

/** A merged-/usr Debian-like root with the host's env, dash, libc and loader, and some OS files. */
async function root(): Promise<string> {
  assert.equal(process.arch, "x64", "this test copies the host's x86-64 Debian programs");
  const r = await mkdtemp(join(tmpdir(), "osless-plan-"));
  dirs.push(r);
  const put = (path: string, content: string | { copy: string }, mode = 0o644) => {
    const p = join(r, path);
    mkdirSync(dirname(p), { recursive: true });
    if (typeof content === "string") writeFileSync(p, content, { mode });
    else copyFileSync(realpathSync(content.copy), p);
  };
  const link = (path: string, target: string) => {
    mkdirSync(dirname(join(r, path)), { recursive: true });
    symlinkSync(target, join(r, path));
  };
  link("bin", "usr/bin");
  link("lib", "usr/lib");
  link("lib64", "usr/lib64");
  put("usr/bin/env", { copy: "/usr/bin/env" });
  put("usr/bin/dash", { copy: "/usr/bin/dash" });
  link("usr/bin/sh", "dash");
  put("usr/bin/apt", "not kept");
  put(`usr/lib/${TRIPLET}/libc.so.6`, { copy: `/lib/${TRIPLET}/libc.so.6` });
  put(`usr/lib/${TRIPLET}/ld-linux-x86-64.so.2`, { copy: "/lib64/ld-linux-x86-64.so.2" });
  put(`usr/lib/${TRIPLET}/libnss_files.so.2`, "stub");
  link("usr/lib64/ld-linux-x86-64.so.2", `../lib/${TRIPLET}/ld-linux-x86-64.so.2`);
  put("app/run.sh", "#!/usr/bin/env sh\necho hi\n", 0o755);
  put("app/data/a.txt", "a");
  put("app/data/sub/b.txt", "b");
  put(
    "etc/passwd",
    "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1::/:/usr/sbin/nologin\napp:x:1000:1000::/app:/bin/sh\nother:x:1001:1001::/:/bin/sh\n",
  );
  put("etc/group", "root:x:0:\ndaemon:x:1:\nstaff:x:50:other,app\napp:x:1000:\nother:x:1001:\n");
  put("etc/ssl/certs/ca-certificates.crt", "-----BEGIN CERTIFICATE-----\n");
  put("usr/share/zoneinfo/Etc/UTC", "TZif");
  put("usr/share/zoneinfo/Europe/Paris", "TZif");
  put("usr/share/zoneinfo/Asia/Tokyo", "TZif");
  link("etc/localtime", "/usr/share/zoneinfo/Etc/UTC");
  put("etc/nsswitch.conf", "hosts: files dns\n");
  put("etc/hosts", "127.0.0.1 localhost\n");
  put("etc/ld.so.cache", "not parsed here");
  return r;
}

const CONFIG: ContainerConfig = {
  Entrypoint: ["/app/run.sh"],
  User: "app",
  Env: ["PATH=/usr/local/bin:/usr/bin:/bin", "TZ=Europe/Paris"],
  WorkingDir: "/app",
};

test("the static plan: the #! chain and each program's loader and libraries, with their symlinks, and what they need", async () => {
  const plan = await planSlim(new DirFiles(await root()), CONFIG);
  const reasons = (p: string) => plan.kept.get(p)?.reasons.join("; ") ?? "(not kept)";
  assert.match(reasons("/app/run.sh"), /^entrypoint$/);
  assert.match(reasons("/usr/bin/env"), /interpreter of \/app\/run\.sh/);
  // `env sh` finds /usr/bin/sh, a symlink to dash: both kept.
  assert.match(reasons("/usr/bin/sh"), /^run by \/usr\/bin\/env for \/app\/run\.sh$/);
  assert.match(reasons("/usr/bin/dash"), /run by \/usr\/bin\/env for \/app\/run\.sh/);
  assert.match(reasons(`/usr/lib/${TRIPLET}/libc.so.6`), /library libc\.so\.6, needed by \/usr\/bin\/env/);
  assert.match(reasons(`/usr/lib/${TRIPLET}/ld-linux-x86-64.so.2`), /loader of \/usr\/bin\/env/);
  assert.match(reasons("/lib64"), /symlink on the way to \/lib64\/ld-linux-x86-64\.so\.2/);
  assert.match(reasons("/usr/lib64/ld-linux-x86-64.so.2"), /symlink/);
  assert.match(reasons("/app"), /WORKDIR/);
  assert.match(reasons("/etc/ssl/certs/ca-certificates.crt"), /CA bundle/);
  assert.match(reasons("/etc/localtime"), /time zone/);
  assert.match(reasons("/usr/share/zoneinfo/Etc/UTC"), /time zone \(\/etc\/localtime\)/);
  assert.match(reasons("/usr/share/zoneinfo/Europe/Paris"), /TZ=Europe\/Paris/);
  assert.match(reasons("/etc/nsswitch.conf"), /name service configuration \(glibc\)/);
  assert.match(reasons("/etc/hosts"), /name service/);
  assert.match(reasons(`/usr/lib/${TRIPLET}/libnss_files.so.2`), /name service module/);
  assert.match(reasons("/etc/ld.so.cache"), /loader's library index/);
  // USER app: passwd and group cut to root and app (its own group and the groups that list it).
  assert.equal(
    plan.kept.get("/etc/passwd")?.body?.toString(),
    "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n",
  );
  assert.equal(
    plan.kept.get("/etc/group")?.body?.toString(),
    "root:x:0:\nstaff:x:50:other,app\napp:x:1000:\n",
  );
  for (const p of ["/usr/bin/apt", "/usr/share/zoneinfo/Asia/Tokyo", "/app/data/a.txt"]) {
    assert.equal(plan.kept.has(p), false, `${p} is not needed`);
  }
  assert.deepEqual(plan.findings, []);
});

test("--include keeps a tree, --keep-shell keeps /bin/sh, and traced paths are kept with the calls that named them", async () => {
  const r = await root();
  const plan = await planSlim(
    new DirFiles(r),
    { Entrypoint: ["/usr/bin/env"] },
    {
      include: ["/app/data", "/nope"],
      keepShell: true,
      traced: [
        {
          path: "/usr/share/zoneinfo/Asia/Tokyo",
          syscall: "openat",
          resolved: "/usr/share/zoneinfo/Asia/Tokyo",
        },
        { path: "/usr/share/zoneinfo/Asia/Tokyo", syscall: "newfstatat" },
        { path: "/proc/self/exe", syscall: "readlink" },
        { path: "/not/in/image", syscall: "openat" },
      ],
    },
  );
  const reasons = (p: string) => plan.kept.get(p)?.reasons.join("; ") ?? "(not kept)";
  assert.match(reasons("/app/data/sub/b.txt"), /--include/);
  assert.match(reasons("/app/data/a.txt"), /--include/);
  assert.match(reasons("/bin"), /symlink on the way to \/bin\/sh \(--keep-shell\)/);
  assert.match(reasons("/usr/bin/dash"), /--keep-shell/);
  assert.equal(reasons("/usr/share/zoneinfo/Asia/Tokyo"), `${TRACED} (openat, newfstatat)`);
  assert.equal(plan.kept.has("/proc/self/exe"), false, "runtime paths are not the image's");
  assert.equal(plan.kept.has("/not/in/image"), false);
  assert.deepEqual(
    plan.findings.map((f) => f.code),
    ["INCLUDE_MISSING"],
  );
  // No USER: passwd and group are not touched.
  assert.equal(plan.kept.has("/etc/passwd"), false);
});

test("a library the loader cannot find is a finding, not a crash", async () => {
  const r = await root();
  await rm(join(r, `usr/lib/${TRIPLET}/libc.so.6`));
  const plan = await planSlim(new DirFiles(r), { Entrypoint: ["/usr/bin/env"] });
  assert.deepEqual(
    plan.findings.map((f) => [f.code, f.message]),
    [["LIBRARY_MISSING", "libc.so.6, needed by /usr/bin/env, is not in the image"]],
  );
});
