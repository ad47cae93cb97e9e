/**
 * The arena every corpus row runs in, and the invariant check: "nothing outside ROOT is created, modified,
 * chmod'ed, chown'ed, re-timed or deleted".
 *
 *   OUTER/                       snapshotted before and after (everything but ROOT)
 *     l1/l2/l3/l4/l5/l6/         TMP, deep enough that a relative escape of up to 8 levels from ROOT (even from
 *                                inside the unpacker's temp dir) still lands inside OUTER, where it is seen,
 *                                not on the host
 *       dest                     ROOT (the unpack target)
 *       victim/hello             sibling victim
 *       canary/                  the absolute symlink target used instead of /etc, /run, ...
 *         etc/passwd 0400, etc/shadow 0400, etc/w, hello 0400
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Arena {
  outer: string;
  /** The parent of `dest`. */
  tmp: string;
  dest: string;
  victim: string;
  canary: string;
  /** Absolute host path of the canary's etc: the symlink target used "instead of /etc". */
  etc: string;
  /** `etc` without its leading slash: where an absolute link to it lands inside ROOT. */
  etcIn: string;
  /** Absolute host path of the canary file (0400). */
  canaryFile: string;
  before: Map<string, string>;
}

const arenas: string[] = [];
process.on("exit", () => {
  for (const d of arenas) rmSync(d, { recursive: true, force: true });
});

export function makeArena(): Arena {
  const outer = realpathSync(mkdtempSync(join(tmpdir(), "osless-corpus-")));
  arenas.push(outer);
  const tmp = join(outer, "l1/l2/l3/l4/l5/l6");
  mkdirSync(tmp, { recursive: true });
  const victim = join(tmp, "victim");
  mkdirSync(victim);
  writeFileSync(join(victim, "hello"), "hello, victim\n");
  const canary = join(tmp, "canary");
  const etc = join(canary, "etc");
  mkdirSync(etc, { recursive: true });
  writeFileSync(join(etc, "passwd"), "canary:x:0:0::/:/bin/false\n");
  chmodSync(join(etc, "passwd"), 0o400);
  writeFileSync(join(etc, "shadow"), "canary shadow\n");
  chmodSync(join(etc, "shadow"), 0o400);
  writeFileSync(join(etc, "w"), "canary w\n");
  writeFileSync(join(canary, "hello"), "canary hello\n");
  chmodSync(join(canary, "hello"), 0o400);
  const a: Arena = {
    outer,
    tmp,
    dest: join(tmp, "dest"),
    victim,
    canary,
    etc,
    etcIn: etc.slice(1),
    canaryFile: join(etc, "passwd"),
    before: new Map(),
  };
  a.before = snapshot(a);
  return a;
}

function describe(p: string): string {
  const st = lstatSync(p);
  const kind = st.isDirectory()
    ? "dir"
    : st.isSymbolicLink()
      ? `link->${readlinkSync(p)}`
      : st.isFile()
        ? `file:${createHash("sha256").update(readFileSync(p)).digest("hex").slice(0, 16)}`
        : "other";
  return `${kind} mode=${(st.mode & 0o7777).toString(8)} own=${st.uid}:${st.gid} size=${st.size} mtime=${st.mtimeMs} ino=${st.ino}`;
}

/**
 * Everything under OUTER except ROOT: kind, content hash, link target, mode, owner, size, mtime, inode. The
 * directory holding ROOT gains and loses entries (the temp dir, ROOT itself), so its own times are left out.
 */
export function snapshot(a: Pick<Arena, "outer" | "tmp" | "dest">): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (p: string) => {
    if (p === a.dest) return;
    const d = describe(p);
    out.set(p, p === a.tmp ? d.replace(/ size=\S+ mtime=\S+/, "") : d);
    if (lstatSync(p).isDirectory()) for (const n of readdirSync(p).sort()) walk(join(p, n));
  };
  walk(a.outer);
  return out;
}

/** The invariant: nothing outside ROOT changed, and no temporary directory was left beside it. */
export function assertOutsideUntouched(a: Arena): void {
  const now = snapshot(a);
  const added = [...now.keys()].filter((k) => !a.before.has(k));
  const removed = [...a.before.keys()].filter((k) => !now.has(k));
  assert.deepEqual({ added, removed }, { added: [], removed: [] }, "paths outside ROOT appeared or vanished");
  for (const [k, v] of a.before) assert.equal(now.get(k), v, `${k} changed`);
  // The only entries the unpacker may leave in TMP: ROOT itself.
  const left = readdirSync(a.tmp).filter((n) => !["victim", "canary", "dest"].includes(n));
  assert.deepEqual(left, [], "the unpacker left something beside ROOT");
}

/** A short description of every path under `root` (relative), for whole-tree assertions. */
export function tree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    const p = rel === "" ? root : join(root, rel);
    const st = lstatSync(p);
    if (rel !== "") {
      out[rel] = st.isDirectory()
        ? "dir"
        : st.isSymbolicLink()
          ? `-> ${readlinkSync(p)}`
          : st.isFile()
            ? `= ${readFileSync(p, "utf8")}`
            : st.isFIFO()
              ? "fifo"
              : "other";
    }
    if (st.isDirectory()) for (const n of readdirSync(p).sort()) walk(rel === "" ? n : `${rel}/${n}`);
  };
  walk("");
  return out;
}
