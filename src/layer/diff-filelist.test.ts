// fileListEntries: an explicit list of paths (what `slim` keeps) -> entries with every parent directory and its
// metadata, symlinks kept as links, parent symlinks refused, missing paths and escapes refused; the layer alone,
// unpacked by umoci, holds exactly the listed paths and their parents, as they are in the tree.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { isOslessError, type OslessError } from "../errors.ts";
import { fileListEntries } from "./diff.ts";
import { applyWithUmoci, describeTree, needTool, oslessLayer, tempDir, treeDiff } from "./diff-testkit.ts";

let dir = "";
let root = "";
before(async () => {
  for (const [cmd, pkg] of [
    ["umoci", "umoci"],
    ["setfattr", "attr"],
    ["python3", "python3"],
  ] as const) {
    needTool(cmd, pkg);
  }
  dir = await tempDir("layer-filelist");
  root = join(dir, "root");
  mkdirSync(root);
  execFileSync(
    "bash",
    [
      "-ec",
      `mkdir -p usr/lib/x86_64-linux-gnu usr/bin etc/ssl/certs opt/app var/empty
      chmod 711 usr/lib; chown 0:50 usr/lib/x86_64-linux-gnu; chmod 2775 usr/lib/x86_64-linux-gnu
      echo libc > usr/lib/x86_64-linux-gnu/libc.so.6; ln -s libc.so.6 usr/lib/x86_64-linux-gnu/libc.so
      ln -s usr/lib lib; ln -s /usr/bin bin; ln -s ../../missing etc/ssl/dangling
      echo app > opt/app/run; chmod 750 opt/app/run; chown 1000:1000 opt/app opt/app/run
      ln opt/app/run opt/app/run-hard; echo cert > etc/ssl/certs/ca.pem
      setfattr -n security.capability -v 0x0100000200200000000000000000000000000000 opt/app/run
      echo unlisted > usr/bin/unlisted
      find . -mindepth 1 -exec touch -h -d @1600000000 {} +`,
    ],
    { cwd: root, stdio: "pipe" },
  );
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("fileListEntries: each path with all its parents and their metadata; symlinks as links; hardlinks grouped", async () => {
  const es = await fileListEntries(root, [
    "/usr/lib/x86_64-linux-gnu/libc.so", // absolute as seen from the image root; a symlink, kept as one
    "usr/lib/x86_64-linux-gnu/libc.so.6",
    "opt/app/run-hard",
    "./opt/app/run",
    "etc/ssl/dangling",
    "lib", // a symlink itself may be listed (not followed)
    "var/empty", // a directory contributes itself, not its contents
    "usr/lib/x86_64-linux-gnu/libc.so.6", // duplicates collapse
  ]);
  assert.deepEqual(
    es.map((e) => [e.path, e.type, e.mode.toString(8), `${e.uid}:${e.gid}`, e.linkpath ?? ""]),
    [
      ["etc", "directory", "755", "0:0", ""],
      ["etc/ssl", "directory", "755", "0:0", ""],
      ["etc/ssl/dangling", "symlink", "777", "0:0", "../../missing"],
      ["lib", "symlink", "777", "0:0", "usr/lib"],
      ["opt", "directory", "755", "0:0", ""],
      ["opt/app", "directory", "755", "1000:1000", ""],
      ["opt/app/run", "file", "750", "1000:1000", ""],
      ["opt/app/run-hard", "hardlink", "750", "1000:1000", "opt/app/run"],
      ["usr", "directory", "755", "0:0", ""],
      ["usr/lib", "directory", "711", "0:0", ""],
      ["usr/lib/x86_64-linux-gnu", "directory", "2775", "0:50", ""],
      ["usr/lib/x86_64-linux-gnu/libc.so", "symlink", "777", "0:50", "libc.so.6"], // setgid dir: group 50
      ["usr/lib/x86_64-linux-gnu/libc.so.6", "file", "644", "0:50", ""],
      ["var", "directory", "755", "0:0", ""],
      ["var/empty", "directory", "755", "0:0", ""],
    ],
  );
  assert.ok(es.every((e) => e.mtime === 1600000000));
  assert.equal(es.find((e) => e.path === "opt/app/run")?.xattrs?.has("security.capability"), true);

  // Alone, the layer unpacks to exactly these paths, as they are in the tree.
  const work = join(dir, "apply");
  mkdirSync(work);
  const rootfs = await applyWithUmoci([await oslessLayer(es, work, "slim.tgz")], work);
  const want = describeTree(root);
  const listed = new Set(es.map((e) => e.path));
  for (const p of [...want.keys()]) if (!listed.has(p)) want.delete(p);
  // The hardlink group is whole in the layer; in the tree nothing else shares the inode.
  const diff = treeDiff(want, describeTree(rootfs));
  assert.deepEqual(diff, [], diff.join("\n"));
});

test("fileListEntries: a path that does not exist -> E_NOT_FOUND naming it", async () => {
  await assert.rejects(
    fileListEntries(root, ["etc/ssl/certs/ca.pem", "etc/nope/file"]),
    (e) =>
      isOslessError(e, "E_NOT_FOUND") &&
      /etc\/nope\/file/.test(e.message) &&
      /parent "etc\/nope" does not exist/.test(e.message),
  );
  await assert.rejects(
    fileListEntries(root, ["usr/bin/gone"]),
    (e) => isOslessError(e, "E_NOT_FOUND") && /"usr\/bin\/gone": it does not exist/.test(e.message),
  );
  await assert.rejects(
    fileListEntries(root, ["usr/bin/unlisted/x"]),
    (e) => isOslessError(e, "E_NOT_FOUND") && /is a file, not a directory/.test(e.message),
  );
});

test("fileListEntries: '..' escaping the root and the root itself are refused; inner '..' is cleaned lexically", async () => {
  for (const bad of ["../etc/passwd", "usr/../../etc", "/.."]) {
    await assert.rejects(
      fileListEntries(root, [bad]),
      (e) => isOslessError(e, "E_USAGE") && e.message.includes(bad),
      bad,
    );
  }
  await assert.rejects(fileListEntries(root, ["/"]), (e) => isOslessError(e, "E_USAGE"));
  const es = await fileListEntries(root, ["usr/bin/../lib/x86_64-linux-gnu/libc.so.6"]);
  assert.equal(es.at(-1)?.path, "usr/lib/x86_64-linux-gnu/libc.so.6");
});

test("fileListEntries: a symlinked parent is not followed; the error names the resolved path to list", async () => {
  let err: OslessError | undefined;
  try {
    await fileListEntries(root, ["lib/x86_64-linux-gnu/libc.so.6"]);
  } catch (e) {
    err = e as OslessError;
  }
  assert.ok(err && isOslessError(err, "E_USAGE"), String(err));
  assert.match(err.message, /parent "lib" is a symlink \(-> usr\/lib\)/);
  assert.match(err.hint ?? "", /"usr\/lib\/x86_64-linux-gnu\/libc\.so\.6"/);
  // Absolute targets resolve from the image root, not the host's.
  await assert.rejects(
    fileListEntries(root, ["bin/unlisted"]),
    (e) => isOslessError(e, "E_USAGE") && /"usr\/bin\/unlisted"/.test((e as OslessError).hint ?? ""),
  );
});

test("fileListEntries: exclude drops items and items under excluded dirs; sockets and '.wh.' names refused", async () => {
  const es = await fileListEntries(root, ["opt/app/run", "etc/ssl/certs/ca.pem"], {
    exclude: (p) => p === "etc/ssl",
  });
  assert.deepEqual(
    es.map((e) => e.path),
    ["opt", "opt/app", "opt/app/run"],
  );
  const extra = join(dir, "extra");
  mkdirSync(extra);
  execFileSync(
    "bash",
    ["-ec", `echo x > .wh.x; python3 -c "import socket; socket.socket(socket.AF_UNIX).bind('sock')"`],
    { cwd: extra },
  );
  await assert.rejects(fileListEntries(extra, [".wh.x"]), (e) => isOslessError(e, "E_LAYER_INVALID"));
  await assert.rejects(fileListEntries(extra, ["sock"]), (e) => isOslessError(e, "E_LAYER_INVALID"));
  await assert.rejects(fileListEntries(join(dir, "nope"), ["a"]), (e) => isOslessError(e, "E_NOT_FOUND"));
});
