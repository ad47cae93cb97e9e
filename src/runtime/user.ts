/**
 * `-u user[:group]` (or the image's `User`) resolved the way Docker resolves it (runc's libcontainer/user
 * `GetExecUser`, called by moby's `getUser`), against the container root's own /etc/passwd and /etc/group read
 * in-root:
 * - a numeric user is a uid (matched against passwd for its gid and home; without an entry it is used as is with
 *   gid 0); a name must have a passwd entry ("unable to find user X: no matching entries in passwd file");
 * - an explicit group (name or gid) replaces the passwd gid; a name must exist in /etc/group; no supplementary
 *   groups are added then;
 * - without an explicit group, the supplementary groups are those whose member list names the user;
 * - the first matching line wins.
 * `additionalGids` starts with the primary gid (moby since the CVE-2022-36109 fix), then the supplementary ones,
 * without repeats.
 */
import { OslessError } from "../errors.ts";
import type { RootReader } from "./types.ts";

/** Largest uid/gid runc accepts (2^31 - 1). */
const MAX_ID = 2 ** 31 - 1;

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Primary gid first, then the supplementary groups. */
  additionalGids: number[];
  /** The passwd entry's home, "/" without one. */
  home: string;
  /** The passwd name matched, if any. */
  name: string | undefined;
}

/** Go's strconv.Atoi for what runc accepts as an id: decimal digits, optional sign. */
function atoi(s: string): number | undefined {
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

function fields(text: string): string[][] {
  const out: string[][] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    out.push(line.split(":"));
  }
  return out;
}

/** /etc/passwd lines `name:password:uid:gid:gecos:home:shell` (a bad number reads as 0, as runc). */
export function parsePasswd(text: string): PasswdEntry[] {
  return fields(text).map((f) => ({
    name: f[0] ?? "",
    uid: atoi(f[2] ?? "") ?? 0,
    gid: atoi(f[3] ?? "") ?? 0,
    home: f[5] ?? "",
    shell: f[6] ?? "",
  }));
}

/** /etc/group lines `name:password:gid:member,member`. */
export function parseGroup(text: string): GroupEntry[] {
  return fields(text).map((f) => ({
    name: f[0] ?? "",
    gid: atoi(f[2] ?? "") ?? 0,
    members: (f[3] ?? "").split(",").filter((m) => m !== ""),
  }));
}

function rangeError(spec: string, what: string, n: number): OslessError {
  return new OslessError("E_USAGE", `user "${spec}": ${what} ${n} is out of range (0 to ${MAX_ID})`, {
    hint: "use a uid and gid between 0 and 2147483647",
    details: { user: spec },
  });
}

/**
 * Resolve a Docker user spec ("" is root) against the root's /etc/passwd and /etc/group. Throws E_USAGE for an
 * unknown name, as `docker run -u` does.
 */
export function resolveUser(spec: string, reader: RootReader): ResolvedUser {
  const colon = spec.indexOf(":");
  const userArg = colon < 0 ? spec : spec.slice(0, colon);
  const groupArg = colon < 0 ? "" : spec.slice(colon + 1);
  const passwdBytes = reader.readFile("/etc/passwd");
  const groupBytes = reader.readFile("/etc/group");
  const passwd = passwdBytes ? parsePasswd(passwdBytes.toString("utf8")) : [];
  const groups = groupBytes ? parseGroup(groupBytes.toString("utf8")) : [];
  const uidArg = atoi(userArg);
  const gidArg = atoi(groupArg);

  let uid = 0;
  let gid = 0;
  let home = "/";
  let matched: PasswdEntry | undefined;
  if (userArg === "") matched = passwd.find((u) => u.uid === 0);
  else if (uidArg !== undefined) matched = passwd.find((u) => u.uid === uidArg);
  else matched = passwd.find((u) => u.name === userArg);
  if (matched) {
    uid = matched.uid;
    gid = matched.gid;
    home = matched.home || "/";
  } else if (userArg !== "") {
    if (uidArg === undefined) {
      throw new OslessError("E_USAGE", `unable to find user ${userArg}: no matching entries in passwd file`, {
        hint: passwdBytes
          ? "the image's /etc/passwd has no such user: give a numeric uid (-u 1000) or a user the image defines"
          : "the image has no /etc/passwd: give a numeric uid[:gid] such as -u 1000:1000",
        details: { user: spec },
      });
    }
    if (uidArg < 0 || uidArg > MAX_ID) throw rangeError(spec, "uid", uidArg);
    uid = uidArg;
  }

  const sgids: number[] = [];
  if (groupArg !== "") {
    const g =
      gidArg !== undefined ? groups.find((e) => e.gid === gidArg) : groups.find((e) => e.name === groupArg);
    if (g) gid = g.gid;
    else if (gidArg === undefined) {
      throw new OslessError(
        "E_USAGE",
        `unable to find group ${groupArg}: no matching entries in group file`,
        {
          hint: groupBytes
            ? "the image's /etc/group has no such group: give a numeric gid (-u USER:1000) or a group the image defines"
            : "the image has no /etc/group: give a numeric gid such as -u USER:1000",
          details: { user: spec },
        },
      );
    } else {
      if (gidArg < 0 || gidArg > MAX_ID) throw rangeError(spec, "gid", gidArg);
      gid = gidArg;
    }
  } else if (matched) {
    for (const g of groups) if (g.members.includes(matched.name)) sgids.push(g.gid);
  }
  const additionalGids: number[] = [];
  for (const g of [gid, ...sgids]) if (!additionalGids.includes(g)) additionalGids.push(g);
  return { uid, gid, additionalGids, home, name: matched?.name };
}
