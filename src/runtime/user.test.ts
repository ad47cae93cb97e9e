import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { isOslessError } from "../errors.ts";
import { DirRoot } from "./root-dir.ts";
import { parseGroup, parsePasswd, resolveUser } from "./user.ts";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function root(files: Record<string, string | { symlink: string }>): DirRoot {
  const dir = mkdtempSync(join(tmpdir(), "osless-user-"));
  dirs.push(dir);
  for (const [p, v] of Object.entries(files)) {
    mkdirSync(join(dir, p, ".."), { recursive: true });
    if (typeof v === "string") writeFileSync(join(dir, p), v);
    else symlinkSync(v.symlink, join(dir, p));
  }
  return new DirRoot(dir);
}

const PASSWD = [
  "root:x:0:0:root:/root:/bin/sh",
  "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
  "app:x:1000:1000:App:/home/app:/bin/sh",
  "app2:x:1000:1001::/home/app2:/bin/sh",
  "nohome:x:1500:1500:::/bin/sh",
  "",
].join("\n");
const GROUP = [
  "root:x:0:",
  "daemon:x:1:",
  "wheel:x:10:root,app",
  "app:x:1000:",
  "staff:x:50:app,daemon",
  "other:x:1001:",
  "",
].join("\n");

test("passwd and group lines", () => {
  assert.deepEqual(parsePasswd("a:x:5:6:g:/h:/s\n\n  b:x:7:8::/:/bin/sh  \n")[1], {
    name: "b",
    uid: 7,
    gid: 8,
    home: "/",
    shell: "/bin/sh",
  });
  assert.deepEqual(parseGroup("g:x:10:a,b\nh:x:11:\n"), [
    { name: "g", gid: 10, members: ["a", "b"] },
    { name: "h", gid: 11, members: [] },
  ]);
});

// Docker's behaviour (runc's GetExecUser + moby's getUser), one row per form of -u.
const r = () => root({ "etc/passwd": PASSWD, "etc/group": GROUP });
const table: { spec: string; uid: number; gid: number; gids: number[]; home: string }[] = [
  { spec: "", uid: 0, gid: 0, gids: [0, 10], home: "/root" },
  { spec: "root", uid: 0, gid: 0, gids: [0, 10], home: "/root" },
  { spec: "0", uid: 0, gid: 0, gids: [0, 10], home: "/root" },
  { spec: "app", uid: 1000, gid: 1000, gids: [1000, 10, 50], home: "/home/app" },
  { spec: "1000", uid: 1000, gid: 1000, gids: [1000, 10, 50], home: "/home/app" }, // first line with uid 1000
  { spec: "app:staff", uid: 1000, gid: 50, gids: [50], home: "/home/app" }, // explicit group: no supplementary
  { spec: "app:0", uid: 1000, gid: 0, gids: [0], home: "/home/app" },
  { spec: "app:4242", uid: 1000, gid: 4242, gids: [4242], home: "/home/app" }, // numeric gid without entry
  { spec: "daemon", uid: 1, gid: 1, gids: [1, 50], home: "/usr/sbin" },
  { spec: "4321", uid: 4321, gid: 0, gids: [0], home: "/" }, // numeric uid without entry
  { spec: "4321:4321", uid: 4321, gid: 4321, gids: [4321], home: "/" },
  { spec: "nohome", uid: 1500, gid: 1500, gids: [1500], home: "/" },
];
for (const row of table) {
  test(`-u "${row.spec}"`, () => {
    const u = resolveUser(row.spec, r());
    assert.deepEqual(
      { uid: u.uid, gid: u.gid, gids: u.additionalGids, home: u.home },
      {
        uid: row.uid,
        gid: row.gid,
        gids: row.gids,
        home: row.home,
      },
    );
  });
}

test("unknown user or group names fail like docker", () => {
  assert.throws(
    () => resolveUser("nobody", r()),
    (e) =>
      isOslessError(e, "E_USAGE") &&
      e.message === "unable to find user nobody: no matching entries in passwd file",
  );
  assert.throws(
    () => resolveUser("app:nogroup", r()),
    (e) =>
      isOslessError(e, "E_USAGE") &&
      e.message === "unable to find group nogroup: no matching entries in group file",
  );
  assert.throws(
    () => resolveUser("-5", r()),
    (e) => isOslessError(e, "E_USAGE") && /out of range/.test(e.message),
  );
});

test("an image without /etc/passwd: root and numeric ids work, names do not", () => {
  const empty = root({ hello: "x" });
  assert.deepEqual(resolveUser("", empty), {
    uid: 0,
    gid: 0,
    additionalGids: [0],
    home: "/",
    name: undefined,
  });
  assert.equal(resolveUser("65534:65534", empty).gid, 65534);
  assert.throws(
    () => resolveUser("app", empty),
    (e) =>
      isOslessError(e, "E_USAGE") &&
      /no matching entries in passwd file/.test(e.message) &&
      /no \/etc\/passwd/.test(e.hint ?? ""),
  );
});

test("/etc/passwd is read in-root: an absolute symlink stays inside the image", () => {
  // /etc/passwd -> /srv/passwd means ROOT/srv/passwd, never the host's /srv/passwd
  const img = root({ "srv/passwd": "svc:x:7:7::/srv:/bin/sh\n", "etc/passwd": { symlink: "/srv/passwd" } });
  assert.equal(resolveUser("svc", img).uid, 7);
  // ../../.. never climbs above ROOT: this names ROOT/etc/group (absent), not the host's /etc/group (which, read
  // as a passwd file, would have a "root" line)
  const escaping = root({ "etc/passwd": { symlink: "../../../../../../../../etc/group" } });
  assert.throws(
    () => resolveUser("root", escaping),
    (e) => isOslessError(e, "E_USAGE") && /no matching entries in passwd file/.test(e.message),
  );
});
