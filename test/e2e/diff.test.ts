// `osless diff` through the CLI on real images (umoci-built OCI layouts copied into a store): the docker-diff-like
// text lines with what changed and the summary, the --json document, identical images, and the errors.
import assert from "node:assert/strict";
import { lstatSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { ImagesDiff } from "../../src/explorer/diff.ts";
import { IMAGES, type ImageSpec, ociLayout } from "../fixtures/images.ts";
import { BUSYBOX_PASSWD, busyboxRootfs } from "../fixtures/rootfs.ts";
import { tmpdir } from "../fixtures/tools.ts";
import { osless } from "./cli.ts";

async function storeWith(images: Record<string, ImageSpec>): Promise<string> {
  const root = join(await tmpdir("diff-e2e-"), "store");
  for (const [name, spec] of Object.entries(images)) {
    const r = await osless(root, ["copy", "-q", `oci:${await ociLayout(spec)}:latest`, name]);
    assert.equal(r.code, 0, r.stderr);
  }
  return root;
}

const PASSWD = "root:x:0:0:root:/root:/bin/sh\n";
const APP = "app:x:1000:1000:app:/home/app:/bin/sh\n";
const TOOL = "#!/bin/sh\necho tool\n";
const BASE = {
  "etc/passwd": PASSWD,
  "etc/motd": "welcome\n",
  "bin/tool": { data: TOOL, mode: 0o755 },
  "bin/sh": { symlink: "busybox" },
  "opt/app/run": "run\n",
  "opt/app/lib/x.so": "x.so\n",
  "srv/same": "same\n",
};
/** A: one layer. */
const A: ImageSpec = { layers: [{ files: BASE }] };
/**
 * B: A's layer, then one that appends a user to /etc/passwd, makes /bin/tool setuid, retargets /bin/sh, adds
 * /etc/new, and deletes /opt/app with a whiteout (rm -rf).
 */
const B: ImageSpec = {
  layers: [
    { files: BASE },
    {
      files: {
        "etc/passwd": PASSWD + APP,
        "bin/tool": { data: TOOL, mode: 0o4755 },
        "bin/sh": { symlink: "dash" },
        "etc/new": "new\n",
        "opt/.wh.app": "",
      },
    },
  ],
};

const len = (s: string) => Buffer.byteLength(s);
const A_BYTES = [PASSWD, "welcome\n", TOOL, "run\n", "x.so\n", "same\n"].reduce((n, s) => n + len(s), 0);
const B_BYTES = A_BYTES + len(APP) + len("new\n") - len("run\n") - len("x.so\n");

/** What `osless diff --json` prints: the library's result, as JSON. */
type Json = ImagesDiff;

test("diff text: one line per path as docker diff marks them, what changed for C, then the summary", async () => {
  const root = await storeWith({ "diffa:1": A, "diffb:1": B });
  const r = await osless(root, ["diff", "diffa:1", "diffb:1"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  assert.equal(
    r.stdout,
    [
      "C /bin/sh (target busybox -> dash)",
      "C /bin/tool (mode 0755 -> 4755)",
      "A /etc/new",
      `C /etc/passwd (content, size +${len(APP)} B)`,
      "D /opt/app",
      "D /opt/app/lib",
      "D /opt/app/lib/x.so",
      "D /opt/app/run",
      `8 paths differ: 1 added (+4 B), 4 removed (-9 B), 3 changed (+${len(APP)} B); files ${A_BYTES} B -> ${B_BYTES} B`,
      "",
    ].join("\n"),
  );
  // The other way round: A and D swap, the changes reverse.
  const back = await osless(root, ["diff", "diffb:1", "diffa:1"]);
  assert.equal(back.code, 0, back.stderr);
  const lines = back.stdout.split("\n");
  assert.deepEqual(lines.slice(0, 4), [
    "C /bin/sh (target dash -> busybox)",
    "C /bin/tool (mode 4755 -> 0755)",
    "D /etc/new",
    `C /etc/passwd (content, size -${len(APP)} B)`,
  ]);
  assert.ok(lines.includes("A /opt/app/lib/x.so"));
});

test("diff --json: both images named, added/removed/changed with before and after, the summary", async () => {
  const root = await storeWith({ "diffa:1": A, "diffb:1": B });
  const r = await osless(root, ["diff", "--json", "diffa:1", "diffb:1"]);
  assert.equal(r.code, 0, r.stderr);
  const d = JSON.parse(r.stdout) as Json;
  assert.equal(d.a.source, "diffa:1");
  assert.equal(d.a.name, "docker.io/library/diffa:1");
  assert.equal(d.b.name, "docker.io/library/diffb:1");
  assert.match(d.a.id ?? "", /^sha256:[0-9a-f]{64}$/);
  assert.match(d.a.digest ?? "", /^sha256:[0-9a-f]{64}$/);
  assert.notEqual(d.a.id, d.b.id);
  assert.deepEqual(
    d.added.map((e) => [e.path, e.type, e.size, e.layer]),
    [["/etc/new", "file", 4, 1]],
  );
  assert.deepEqual(
    d.removed.map((e) => [e.path, e.type]),
    [
      ["/opt/app", "directory"],
      ["/opt/app/lib", "directory"],
      ["/opt/app/lib/x.so", "file"],
      ["/opt/app/run", "file"],
    ],
  );
  assert.deepEqual(
    d.changed.map((c) => [c.path, c.changes]),
    [
      ["/bin/sh", ["linkTarget"]],
      ["/bin/tool", ["mode"]],
      ["/etc/passwd", ["content", "size"]],
    ],
  );
  const [sh, tool, passwd] = d.changed;
  assert.deepEqual([sh!.before.linkTarget, sh!.after.linkTarget], ["busybox", "dash"]);
  assert.deepEqual([tool!.before.mode, tool!.after.mode], [0o755, 0o4755]);
  assert.deepEqual([tool!.before.layer, tool!.after.layer], [0, 1]);
  assert.equal(tool!.before.digest, tool!.after.digest);
  assert.deepEqual([passwd!.before.size, passwd!.after.size], [len(PASSWD), len(PASSWD + APP)]);
  assert.notEqual(passwd!.before.digest, passwd!.after.digest);
  assert.deepEqual(d.summary, {
    added: 1,
    removed: 4,
    changed: 3,
    // /, /bin, /etc, /etc/motd, /opt, /srv, /srv/same
    unchanged: 7,
    addedBytes: 4,
    removedBytes: len("run\n") + len("x.so\n"),
    changedBytes: len(APP),
    totalBytes: { a: A_BYTES, b: B_BYTES },
  });
});

test("diff of an image with itself, and of two builds with the same files: no differences, exit 0", async () => {
  const root = await storeWith({
    "diffa:1": A,
    "diffa2:1": { layers: [{ files: BASE }, { files: { "srv/same": "same\n" } }] },
  });
  const same = await osless(root, ["diff", "diffa:1", "diffa:1"]);
  assert.equal(same.code, 0, same.stderr);
  // /, /bin, /bin/sh, /bin/tool, /etc, /etc/motd, /etc/passwd, /opt, /opt/app, /opt/app/lib, /opt/app/lib/x.so,
  // /opt/app/run, /srv, /srv/same
  assert.equal(same.stdout, "no differences: 14 paths are the same\n");
  // Another layer rewriting a file with the same bytes and mode: another image, the same filesystem.
  const json = await osless(root, ["diff", "--json", "diffa:1", "diffa2:1"]);
  assert.equal(json.code, 0, json.stderr);
  const d = JSON.parse(json.stdout) as Json;
  assert.notEqual(d.a.id, d.b.id);
  assert.deepEqual([d.added, d.removed, d.changed], [[], [], []]);
  assert.equal(d.summary.unchanged, 14);
});

test("diff busybox and its two-layer variant (fixture images): the motd, the passwd line, wget whited out", async () => {
  const root = await storeWith({ "bb:1": IMAGES.busybox, "bb2:1": IMAGES.twoLayers });
  const r = await osless(root, ["diff", "bb:1", "bb2:1"]);
  assert.equal(r.code, 0, r.stderr);
  const wget = lstatSync(join(await busyboxRootfs(), "usr/bin/wget"));
  const appLine = len(`${BUSYBOX_PASSWD}app:x:1000:1000:app:/home/app:/bin/sh\n`) - len(BUSYBOX_PASSWD);
  const motd = len("Hello from the second layer\n");
  const wgetBytes = wget.isFile() ? wget.size : 0;
  assert.equal(
    r.stdout.split("\n").slice(0, -2).join("\n"),
    ["A /etc/motd", `C /etc/passwd (content, size +${appLine} B)`, "D /usr/bin/wget"].join("\n"),
  );
  assert.match(
    r.stdout.split("\n").at(-2)!,
    new RegExp(
      `^3 paths differ: 1 added \\(\\+${motd} B\\), 1 removed \\((-[0-9.]+ [kM]?B|0 B)\\), 1 changed \\(\\+${appLine} B\\); `,
    ),
  );
  const d = JSON.parse((await osless(root, ["diff", "--json", "bb:1", "bb2:1"])).stdout) as Json;
  assert.equal(
    d.summary.removedBytes,
    wget.nlink > 1 ? 0 : wgetBytes,
    "wget's bytes stay when busybox keeps its inode",
  );
});

test("diff errors: a missing image exits 3 naming it (text and JSON), a missing argument exits 2", async () => {
  const root = await storeWith({ "diffa:1": A });
  const missing = await osless(root, ["diff", "diffa:1", "nosuch:1"]);
  assert.equal(missing.code, 3, missing.stderr);
  assert.equal(missing.stdout, "");
  assert.match(missing.stderr, /^Error: no such image: nosuch:1\n {2}hint: `osless images` lists the images/);
  const first = await osless(root, ["diff", "nosuch:2", "diffa:1"]);
  assert.equal(first.code, 3);
  assert.match(first.stderr, /no such image: nosuch:2/);
  const json = await osless(root, ["diff", "--json", "nosuch:1", "diffa:1"]);
  assert.equal(json.code, 3);
  assert.equal(json.stdout, "");
  const err = JSON.parse(json.stderr) as { error: { code: string; message: string } };
  assert.equal(err.error.code, "E_NOT_FOUND");
  assert.equal(err.error.message, "no such image: nosuch:1");
  const usage = await osless(root, ["diff", "diffa:1"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /missing required argument 'image-b'/);
  const platform = await osless(root, ["diff", "--platform", "not/a/valid/platform", "diffa:1", "diffa:1"]);
  assert.equal(platform.code, 2, platform.stderr);
});
