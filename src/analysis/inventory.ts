/**
 * What an image carries that an operating system would: shells, package managers, interpreters, the C library,
 * busybox and its applets, the CA bundle, time zones, users, setuid/setgid files, world-writable directories,
 * and how many executables (ELF programs and `#!` scripts) there are. One walk of the image's tree; file contents
 * are read only for the few files that need it (release strings, passwd, the CA bundle) and the first bytes of
 * files with an execute bit. Rules: ../shared/design/os-detection.md ("libc flavour", "Shells").
 */
import type { ImageFiles, ImageWalkEntry } from "./files.ts";

export interface Inventory {
  files: number;
  /** Bytes of regular files (each hard-linked file once). */
  bytes: number;
  directories: number;
  symlinks: number;
  executables: { count: number; elf: number; scripts: number };
  shells: { path: string; target: string }[];
  /** `busyboxApplet`: the name leads to busybox (which has dpkg, rpm, … applets). */
  packageManagers: { name: string; path: string; busyboxApplet?: boolean }[];
  interpreters: { name: string; path: string; busyboxApplet?: boolean }[];
  libc: { flavour: "glibc" | "musl" | "both" | "none"; version: string | null; paths: string[] };
  busybox: { path: string; version: string | null; applets: string[] } | null;
  caBundle: { path: string; certificates: number } | null;
  tzdata: { path: string; zones: number } | null;
  users: { name: string; uid: number; gid: number; home: string; shell: string; login: boolean }[];
  /** Regular files with the setuid or setgid bit (tar mode bits), e.g. "/usr/bin/passwd" 4755 owned by 0. */
  setuid: { path: string; mode: string; uid: number; gid: number }[];
  /** Directories anyone can write to; `sticky` ones (like /tmp) only let owners remove their own files. */
  worldWritable: { path: string; mode: string; sticky: boolean }[];
  findings: { code: string; path: string; message: string }[];
}

const BIN_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin", "/busybox"];
const SHELL_CANDIDATES = [
  "/bin/sh",
  "/usr/bin/sh",
  "/bin/bash",
  "/usr/bin/bash",
  "/bin/ash",
  "/bin/dash",
  "/bin/zsh",
  "/busybox/sh",
];
const PACKAGE_MANAGERS = [
  "apt",
  "apt-get",
  "dpkg",
  "apk",
  "rpm",
  "dnf",
  "yum",
  "microdnf",
  "tdnf",
  "zypper",
  "opkg",
  "pacman",
];
const INTERPRETER =
  /^(python[0-9.]*|perl[0-9.]*|node|nodejs|ruby[0-9.]*|php[0-9.]*|lua[0-9.]*|luajit|java|bun|deno|Rscript|tclsh[0-9.]*|pwsh)$/;
/** Where distributions keep the CA bundle TLS clients read. */
export const CA_BUNDLES = [
  "/etc/ssl/certs/ca-certificates.crt",
  "/etc/pki/tls/certs/ca-bundle.crt",
  "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
  "/etc/ssl/cert.pem",
  "/etc/ssl/ca-bundle.pem",
];
const NOLOGIN = /(^|\/)(nologin|false|sync|halt|shutdown)$/;
/** libc.so.6 is ~2 MiB; its version banner is inside. */
const LIBC_READ = 8 << 20;
const BUSYBOX_READ = 8 << 20;

function octal(mode: number): string {
  return mode.toString(8).padStart(4, "0");
}

function abs(p: string): string {
  return p === "." ? "/" : `/${p}`;
}

function basename(p: string): string {
  return p.slice(p.lastIndexOf("/") + 1);
}

/** What an executable's first bytes say it is: an ELF program, a `#!` script, or something else. */
export function executableKind(head: Buffer): "elf" | "script" | "other" {
  if (head.length >= 4 && head[0] === 0x7f && head.toString("latin1", 1, 4) === "ELF") return "elf";
  if (head.length >= 2 && head[0] === 0x23 && head[1] === 0x21) return "script";
  return "other";
}

export async function takeInventory(files: ImageFiles): Promise<Inventory> {
  const inv: Inventory = {
    files: 0,
    bytes: 0,
    directories: 0,
    symlinks: 0,
    executables: { count: 0, elf: 0, scripts: 0 },
    shells: [],
    packageManagers: [],
    interpreters: [],
    libc: { flavour: "none", version: null, paths: [] },
    busybox: null,
    caBundle: null,
    tzdata: null,
    users: [],
    setuid: [],
    worldWritable: [],
    findings: [],
  };
  const entries: ImageWalkEntry[] = [];
  const inodes = new Set<number>();
  // Names looked at again below, picked in this one walk: busybox candidates and C library names.
  const bbCandidates: ImageWalkEntry[] = [];
  const libcNames: ImageWalkEntry[] = [];
  for await (const e of files.walk()) {
    entries.push(e);
    const name = basename(e.path);
    if (name.startsWith("l")) {
      if (
        name === "libc.so.6" ||
        /^libc-2\.\d+\.so$/.test(name) ||
        /^ld-musl-.+\.so\.1$/.test(name) ||
        /^libc\.musl-.+\.so\.1$/.test(name)
      )
        libcNames.push(e);
    } else if (name === "busybox" && e.type === "file") bbCandidates.push(e);
    if (e.type === "directory") {
      inv.directories++;
      if (e.mode & 0o002)
        inv.worldWritable.push({ path: abs(e.path), mode: octal(e.mode), sticky: (e.mode & 0o1000) !== 0 });
    } else if (e.type === "symlink") inv.symlinks++;
    else if (e.type === "file") {
      inv.files++;
      if (!inodes.has(e.ino)) {
        inodes.add(e.ino);
        inv.bytes += e.size;
      }
      if (e.mode & 0o6000)
        inv.setuid.push({ path: abs(e.path), mode: octal(e.mode), uid: e.uid, gid: e.gid });
      if (e.mode & 0o111) {
        const kind =
          files.parsed?.(abs(e.path), executableKind)?.value ??
          executableKind((await files.read(abs(e.path), 4)) ?? Buffer.alloc(0));
        if (kind === "elf") inv.executables.elf++;
        else if (kind === "script") inv.executables.scripts++;
      }
    }
  }
  inv.executables.count = inv.executables.elf + inv.executables.scripts;
  // Sorted by path, so that the order does not depend on how the source walks (an image view, a directory).
  const byPath = (a: { path: string }, b: { path: string }) =>
    a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
  inv.setuid.sort(byPath);
  inv.worldWritable.sort(byPath);

  // busybox: the multi-call binary and every name that leads to it (symlinks, hard links).
  for (const bb of bbCandidates) {
    const bytes = await files.read(abs(bb.path), BUSYBOX_READ);
    const m = bytes && /BusyBox v(\d+\.\d+(?:\.\d+)?)/.exec(bytes.toString("latin1"));
    if (!m) continue;
    const applets: string[] = [];
    for (const e of entries) {
      if (e.path === bb.path) continue;
      if (e.type === "file" && e.ino === bb.ino) applets.push(basename(e.path));
      else if (e.type === "symlink") {
        const st = await files.stat(abs(e.path));
        if (st?.path === bb.path) applets.push(basename(e.path));
      }
    }
    inv.busybox = { path: abs(bb.path), version: m[1] as string, applets: [...new Set(applets)].sort() };
    break;
  }

  // Programs by name in the usual bin directories (each resolved once).
  const seen = new Set<string>();
  for (const dir of BIN_DIRS) {
    for (const name of await files.list(dir)) {
      const path = `${dir}/${name}`;
      const st = await files.stat(path);
      if (st?.type !== "file" || (st.mode & 0o111) === 0) continue;
      // busybox has `dpkg` and `rpm` applets: they are part of busybox, not a distribution's tooling.
      const applet = inv.busybox !== null && abs(st.path) === inv.busybox.path;
      if (PACKAGE_MANAGERS.includes(name) && !seen.has(`pm:${name}`)) {
        seen.add(`pm:${name}`);
        inv.packageManagers.push(applet ? { name, path, busyboxApplet: true } : { name, path });
      }
      if (INTERPRETER.test(name) && !seen.has(`int:${name}`)) {
        seen.add(`int:${name}`);
        inv.interpreters.push(applet ? { name, path, busyboxApplet: true } : { name, path });
      }
    }
  }

  // Shells: the usual paths and /etc/shells, when they lead to an executable file.
  const etcShells = (await files.read("/etc/shells", 64 * 1024))?.toString("utf8") ?? "";
  const shellPaths = [
    ...SHELL_CANDIDATES,
    ...etcShells
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.startsWith("/")),
  ];
  for (const p of [...new Set(shellPaths)]) {
    const st = await files.stat(p);
    if (st?.type !== "file" || (st.mode & 0o111) === 0) continue;
    if (!inv.shells.some((s) => s.path === p)) inv.shells.push({ path: p, target: abs(st.path) });
  }

  // The C library.
  const glibc = new Set<string>();
  const musl = new Set<string>();
  for (const e of libcNames) {
    const name = basename(e.path);
    if (name === "libc.so.6" || /^libc-2\.\d+\.so$/.test(name)) {
      const st = await files.stat(abs(e.path));
      if (st?.type === "file") glibc.add(abs(st.path));
    } else if (/^ld-musl-.+\.so\.1$/.test(name) || /^libc\.musl-.+\.so\.1$/.test(name)) {
      const st = await files.stat(abs(e.path));
      if (st?.type === "file") musl.add(abs(st.path));
    }
  }
  inv.libc.flavour =
    glibc.size > 0 && musl.size > 0 ? "both" : glibc.size > 0 ? "glibc" : musl.size > 0 ? "musl" : "none";
  inv.libc.paths = [...glibc, ...musl].sort();
  if (glibc.size > 0) {
    const bytes = await files.read([...glibc].sort()[0] as string, LIBC_READ);
    const m =
      bytes && /GNU C Library[^\n]*?release version (\d+\.\d+(?:\.\d+)?)/.exec(bytes.toString("latin1"));
    inv.libc.version = m?.[1] ?? null;
  }

  for (const p of CA_BUNDLES) {
    const bytes = await files.read(p, 16 << 20);
    if (bytes === undefined) continue;
    const certificates = bytes.toString("latin1").split("-----BEGIN CERTIFICATE-----").length - 1;
    inv.caBundle = { path: p, certificates };
    break;
  }

  const zoneinfo = await files.stat("/usr/share/zoneinfo");
  if (zoneinfo?.type === "directory") {
    const prefix = `${zoneinfo.path}/`;
    const zones = entries.filter(
      (e) =>
        e.type === "file" &&
        e.path.startsWith(prefix) &&
        !/\.(tab|zi)$|^(leapseconds|tzdata\.zi)$/.test(basename(e.path)),
    ).length;
    if (zones > 0) inv.tzdata = { path: abs(zoneinfo.path), zones };
  }

  const passwd = await files.read("/etc/passwd", 4 << 20);
  if (passwd !== undefined) {
    for (const [i, line] of passwd.toString("utf8").split("\n").entries()) {
      if (line.trim() === "" || line.startsWith("#")) continue;
      const f = line.split(":");
      const uid = Number(f[2]);
      const gid = Number(f[3]);
      if (f.length < 7 || !Number.isInteger(uid) || !Number.isInteger(gid) || f[0] === "") {
        inv.findings.push({
          code: "PASSWD_BAD_LINE",
          path: "/etc/passwd",
          message: `line ${i + 1} is not name:x:uid:gid:gecos:home:shell`,
        });
        continue;
      }
      const shell = (f[6] as string).trim();
      inv.users.push({
        name: f[0] as string,
        uid,
        gid,
        home: f[5] as string,
        shell,
        login: shell !== "" && !NOLOGIN.test(shell),
      });
    }
  }
  return inv;
}
