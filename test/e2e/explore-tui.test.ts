// `osless explore IMAGE` in a real terminal: the CLI runs in tmux (test/fixtures/tty.ts) on an image built by
// umoci with layers that add, modify, chmod and delete files, and the test reads the screen after keys: the
// panes, dive's markers in both compare modes, hidden change types, the path filter, the largest files and the
// jump to one, extraction into the working directory, help, resize; then that the terminal is given back as it
// was after q, after ctrl+z (the shell's job control stops and resumes it) and after SIGTERM.
// Plain-text captures of the main screens are kept in $OSLESS_TEST_OUTPUT/explore-tui (default
// $TMPDIR/osless-test-output/explore-tui) for the docs.
import assert from "node:assert/strict";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir as osTmpdir } from "node:os";
import { join } from "node:path";
import { before, test } from "node:test";
import { noise } from "../fixtures/explore.ts";
import { type ImageSpec, ociLayout } from "../fixtures/images.ts";
import { needTool, run, tmpdir } from "../fixtures/tools.ts";
import { startTmux, type TmuxSession } from "../fixtures/tty.ts";
import { osless } from "./cli.ts";

const MAIN = new URL("../../src/cli/main.ts", import.meta.url).pathname;
/** tsx's loader by absolute URL: the commands run in other working directories. */
const TSX = import.meta.resolve("tsx");
const OUT = join(process.env.OSLESS_TEST_OUTPUT ?? join(osTmpdir(), "osless-test-output"), "explore-tui");

const LIBBIG = noise(1_200_000, 1);
const TOOL = noise(300_000, 2);
const SERVER = noise(500_000, 3);
const PASSWD_V1 = "root:x:0:0:root:/root:/bin/sh\n";
const PASSWD_V2 = `${PASSWD_V1}app:x:1000:1000::/app:/bin/sh\n`;

/**
 * Layer 0: a small root. Layer 1: changes /etc/passwd, adds /app (server, config), removes /usr/share/doc.
 * Layer 2: chmod of /etc/motd (same bytes), setuid /bin/tool (same bytes), removes /app/config.json, adds a cache.
 */
const SPEC: ImageSpec = {
  layers: [
    {
      files: {
        "bin/tool": { data: TOOL, mode: 0o755 },
        "bin/sh": { symlink: "tool" },
        "etc/passwd": PASSWD_V1,
        "etc/motd": "welcome\n",
        "etc/shadow": { data: "root:*:19000::::::\n", mode: 0o640 },
        "usr/share/doc/readme.txt": "read me\n",
        "usr/share/doc/changes.txt": "changes\n",
        "usr/lib/libbig.so": LIBBIG,
      },
    },
    {
      files: {
        "etc/passwd": PASSWD_V2,
        "app/server": { data: SERVER, mode: 0o755 },
        "app/config.json": '{"listen": ":8080"}\n',
        "usr/share/.wh.doc": "",
      },
    },
    {
      files: {
        "etc/motd": { data: "welcome\n", mode: 0o600 },
        "bin/tool": { data: TOOL, mode: 0o4755 },
        "app/.wh.config.json": "",
        "app/data/cache.bin": noise(200_000, 4),
      },
    },
  ],
  cmd: ["/bin/tool"],
};

const IMAGE = "tui-sample:1";
let root: string;

before(async () => {
  needTool("tmux", "tmux");
  root = join(await tmpdir("explore-tui-"), "store");
  const r = await osless(root, ["copy", "-q", `oci:${await ociLayout(SPEC)}:latest`, IMAGE]);
  assert.equal(r.code, 0, r.stderr);
  await rm(OUT, { recursive: true, force: true });
  await mkdir(OUT, { recursive: true });
});

async function capture(s: TmuxSession, name: string): Promise<string> {
  const screen = await s.screen();
  await writeFile(join(OUT, `${name}.txt`), screen);
  return screen;
}

/** The screen's rows that end with `name` as a tree entry ("── name", "─+ name"). */
function treeRow(screen: string, name: string): string | undefined {
  return screen
    .split("\n")
    .find((l) => l.endsWith(`── ${name}`) || l.endsWith(`─+ ${name}`) || l.includes(`── ${name} ->`));
}

/** The names of the tree's top-level rows (their branch right after the gutter, marker and attributes). */
function topLevel(screen: string): string[] {
  const lines = screen.split("\n");
  const title = lines[0]!;
  const col = [...title.slice(0, Math.max(title.indexOf("┃ ● Current"), title.indexOf("│ Current")))].length;
  const attrs = lines[1]!.includes("Permission") ? 34 : 0;
  const out: string[] = [];
  for (const l of lines.slice(2)) {
    const m = /^[├└]─[─+] (.+)$/.exec([...l].slice(col + 3 + attrs).join(""));
    if (m) out.push(m[1]!);
  }
  return out;
}

// CI="": the CI runner sets CI=true, which makes `osless explore` the CI gate (as dive); these tests want the UI.
const env = () => ({ OSLESS_ROOT: root, NO_COLOR: "", CI: "" });

test("explore in a terminal: panes, markers, compare modes, filters, largest files, extract, help, resize, quit", async (t) => {
  const cwd = await tmpdir("explore-tui-cwd-");
  const s = await startTmux([process.execPath, "--import", TSX, MAIN, "explore", IMAGE], {
    width: 160,
    height: 45,
    cwd,
    env: env(),
  });
  t.diagnostic(`screen captures: ${OUT}`);
  try {
    let screen = await s.waitFor("Current Layer Contents", { timeoutMs: 30_000 });
    screen = await capture(s, "01-start");
    assert.match(screen, /^┃ ● Layers ┣━+ +│ Current Layer Contents [├┣][─━]+ layer 0 ─+$/m);
    assert.match(screen, /^ Cmp {5}Size {2}Command/m);
    assert.match(screen, /^▸ █ +1\.5 MB {2}FROM [0-9a-f]{12} /m);
    assert.match(screen, /^ {2}[ ░] +\d+(\.\d)? kB {2}osless test fixture layer 1 /m);
    assert.match(screen, /│ Layer Details ├/);
    assert.match(screen, /^Digest: {2}sha256:[0-9a-f]+/m);
    assert.match(screen, /^DiffID: {2}sha256:[0-9a-f]+/m);
    assert.match(screen, /│ Image Details ├/);
    assert.match(screen, new RegExp(`^Image name: docker\\.io/library/${IMAGE.replace(":", ":")}`, "m"));
    assert.match(screen, /^Potential wasted space: [\d.]+ [kM]?B {2}exact \(osless\): [\d.]+ [kM]?B/m);
    assert.match(screen, /^Image efficiency score: \d+ % {2}exact \(osless\): [\d.]+ %/m);
    assert.match(screen, /^Count {2}Total Space {2}Path/m);
    assert.match(screen, /^ {4}2 +\d+ kB {2}\/bin\/tool/m);
    assert.match(treeRow(screen, "sh -> tool")!, /lrwxrwxrwx +0:0 +- +│ {3}├── sh -> tool$/);
    assert.match(treeRow(screen, "shadow")!, /-rw-r----- +0:0 +19 B +│ {3}└── shadow$/);
    assert.match(screen, /▏\^C Quit ▏Tab Switch view ▏\^F Filter ▏\^L Show layer changes/);

    // Layer 1: what it added, modified and removed.
    await s.keys("Down");
    screen = await s.waitFor(/Current Layer Contents [├┣][─━]+ layer 1 /);
    screen = await capture(s, "02-layer-1");
    assert.match(screen, /^ {2}░ +1\.5 MB {2}FROM /m);
    assert.match(screen, /^▸ █ +\d+ kB {2}osless test fixture layer 1 /m);
    assert.match(treeRow(screen, "app")!, / A drwxr-xr-x /);
    assert.match(treeRow(screen, "server")!, / A -rwxr-xr-x +0:0 +500 kB /);
    assert.match(treeRow(screen, "passwd")!, / M -rw-r--r-- /);
    assert.match(treeRow(screen, "doc")!, / D drwxr-xr-x /);
    assert.match(treeRow(screen, "readme.txt")!, / D -rw-r--r-- /);
    assert.match(treeRow(screen, "motd")!, / {3}-rw-r--r-- /);
    // Colours: added green, modified yellow, removed red.
    const esc = await s.screen({ escapes: true });
    const line = (name: string) =>
      esc.split("\n").find((l) => l.replace(/\x1b\[[0-9;]*m/g, "").endsWith(`── ${name}`))!;
    assert.match(line("server"), /\x1b\[[0-9;]*32m/);
    assert.match(line("passwd"), /\x1b\[[0-9;]*33m/);
    assert.match(line("readme.txt"), /\x1b\[[0-9;]*31m/);

    // Layer 2: metadata-only rewrites are modifications; setuid shown as s.
    await s.keys("j");
    screen = await s.waitFor(/Current Layer Contents [├┣][─━]+ layer 2 /);
    screen = await capture(s, "03-layer-2");
    assert.match(treeRow(screen, "motd")!, / M -rw------- /);
    assert.match(treeRow(screen, "tool")!, / M -rwsr-xr-x +0:0 +300 kB /);
    assert.match(treeRow(screen, "config.json")!, / D -rw-r--r-- /);
    assert.match(treeRow(screen, "cache.bin")!, / A -rw-r--r-- +0:0 +200 kB /);
    assert.match(treeRow(screen, "passwd")!, / {3}-rw-r--r-- /);
    assert.equal(treeRow(screen, "readme.txt"), undefined, "removed by layer 1: gone by layer 2");

    // Aggregated: layers 1..2 over layer 0.
    await s.keys("C-a");
    screen = await s.waitFor("Aggregated Layer Contents");
    screen = await capture(s, "04-aggregated");
    assert.match(screen, /^ {2}░ +1\.5 MB {2}FROM /m);
    assert.match(screen, /^ {2}█ +\d+ kB {2}osless test fixture layer 1 /m);
    assert.match(screen, /^▸ █ +\d+ kB {2}osless test fixture layer 2 /m);
    assert.match(treeRow(screen, "passwd")!, / M -rw-r--r-- /);
    assert.match(treeRow(screen, "readme.txt")!, / D -rw-r--r-- /);
    assert.equal(treeRow(screen, "config.json"), undefined, "added and removed above the base: not there");
    await s.keys("C-l");
    await s.waitFor("Current Layer Contents");

    // The tree pane: hide unmodified files, then the filter.
    await s.keys("Tab", "C-u");
    screen = await s.waitFor("hiding unmodified");
    screen = await capture(s, "05-changes-only");
    assert.equal(treeRow(screen, "passwd"), undefined);
    assert.equal(treeRow(screen, "libbig.so"), undefined);
    assert.ok(
      treeRow(screen, "motd") && treeRow(screen, "cache.bin") && treeRow(screen, "config.json"),
      screen,
    );
    await s.keys("C-u", "C-f");
    await s.waitFor("Path Filter: █");
    await s.type("pass");
    screen = await s.waitFor("Path Filter: pass█");
    screen = await capture(s, "06-filter");
    assert.ok(treeRow(screen, "passwd"), screen);
    assert.equal(treeRow(screen, "motd"), undefined);
    assert.equal(treeRow(screen, "tool"), undefined);
    await s.keys("Escape");
    screen = await s.waitForGone("Path Filter");
    assert.ok(treeRow(screen, "motd"), screen);

    // Largest files, and the jump to one: its layer is selected, the cursor on it.
    await s.keys("C-g");
    screen = await s.waitFor("Largest Files");
    screen = await capture(s, "07-largest");
    const rows = screen.split("\n").filter((l) => /\s\/\S+$/.test(l) && /\d+ kB|MB/.test(l));
    assert.match(rows[0]!, /▸ +1\.2 MB +0 {2}\/usr\/lib\/libbig\.so$/);
    assert.match(rows[1]!, / +500 kB +1 {2}\/app\/server$/);
    await s.keys("Down", "Enter");
    screen = await s.waitFor(/Current Layer Contents [├┣][─━]+ layer 1 /);
    assert.match(treeRow(screen, "server")!, /▸A -rwxr-xr-x/);

    // Extract the selected file into the working directory; a second time is refused.
    await s.keys("C-e");
    screen = await s.waitFor(/extracted \/app\/server \(layer 1, 500 kB\) to /);
    assert.deepEqual(await readFile(join(cwd, "server")), SERVER);
    await s.keys("C-e");
    await s.waitFor(`not extracted: ${join(cwd, "server")} exists (never overwritten)`);
    assert.deepEqual(await readFile(join(cwd, "server")), SERVER);
    await s.keys("C-g", "Enter");
    screen = await s.waitFor(/Current Layer Contents [├┣][─━]+ layer 0 /);
    await s.keys("C-e");
    await s.waitFor(/extracted \/usr\/lib\/libbig\.so \(layer 0, 1\.2 MB\)/);
    assert.deepEqual(await readFile(join(cwd, "libbig.so")), LIBBIG);

    // Help, then any key closes it.
    await s.keys("?");
    screen = await s.waitFor("Keys ┣");
    screen = await capture(s, "08-help");
    for (const k of [
      "ctrl+e",
      "ctrl+g",
      "ctrl+space",
      "ctrl+l",
      "ctrl+a",
      "ctrl+o",
      "ctrl+b",
      "ctrl+f, ctrl+/",
    ])
      assert.ok(screen.includes(k), `help lacks ${k}`);
    await s.keys("x");
    await s.waitForGone("Keys ┣");

    // Sort by size, attributes off.
    await s.keys("C-o", "C-b");
    screen = await s.waitFor(/by size/);
    screen = await capture(s, "10-by-size-no-attributes");
    assert.ok(!screen.includes("Permission"), screen);
    assert.deepEqual(topLevel(screen), ["usr", "bin", "etc"]);
    await s.keys("C-o", "C-b");
    screen = await s.waitFor("Permission");
    assert.deepEqual(topLevel(screen), ["bin", "etc", "usr"]);

    // Resize: the screen is redrawn at the new size.
    await s.resize(100, 30);
    screen = await s.waitFor((sc) => {
      const ls = sc.split("\n");
      return ls.every((l) => [...l].length <= 100) && /Current Layer Contents/.test(ls[0] ?? "");
    });
    screen = await capture(s, "09-resized-100x30");
    assert.match(screen.split("\n")[0]!, /Layers .*Current Layer Contents/);
    assert.ok(screen.trimEnd().split("\n").length <= 30, screen);
    assert.match(
      screen,
      /▸ {2}-rw-r--r-- +0:0 +1\.2 MB +│ {3}└── libbig\.…/,
      "the cursor row is still on screen",
    );

    await s.keys("q");
    assert.equal(await s.waitForExit(), 0);
    screen = await s.screen();
    assert.doesNotMatch(screen, /Current Layer Contents/, "the alternate screen was left");
  } finally {
    await s.kill();
  }
});

/** tmux's view of the pane: alternate screen on, cursor shown. */
async function paneFlags(s: TmuxSession): Promise<{ alternate: boolean; cursor: boolean }> {
  const tmux = needTool("tmux", "tmux");
  const r = await run(tmux, [
    "-L",
    s.socket,
    "display-message",
    "-p",
    "-t",
    "t",
    "#{alternate_on} #{cursor_flag}",
  ]);
  const [a, c] = r.stdout.trim().split(" ");
  return { alternate: a === "1", cursor: c === "1" };
}

/** The pid of the command the shell in the pane runs in the foreground. */
async function childOf(s: TmuxSession): Promise<number> {
  const shell = await s.pid();
  const r = await run(needTool("ps", "procps"), ["-o", "pid=", "--ppid", String(shell)]);
  const pids = r.stdout.trim().split(/\s+/).filter(Boolean).map(Number);
  assert.equal(pids.length, 1, `children of the shell: ${r.stdout}`);
  return pids[0]!;
}

test("the terminal is given back: after ctrl+z (and fg), after SIGTERM, after q — cooked mode, main screen, cursor", async () => {
  const bash = needTool("bash", "bash");
  const s = await startTmux([bash, "--norc", "--noprofile", "-i"], {
    width: 140,
    height: 40,
    env: { ...env(), PS1: "READY$ " },
    direct: true,
  });
  const cmd = `${process.execPath} --import ${TSX} ${MAIN} explore ${IMAGE}`;
  /** "cooked" when the terminal has canonical input and echo back, "raw" otherwise. */
  const ttyMode = async (): Promise<string> => {
    // The answer must not be in the command line the terminal echoes.
    await s.type(
      "clear; m=raw; stty -a | grep -qE -- '(^| )-(icanon|echo)( |$)' || m=cooked; echo \"MODE:$m.\"\n",
    );
    const sc = await s.waitFor(/MODE:(raw|cooked)\./);
    return /MODE:(raw|cooked)\./.exec(sc)![1]!;
  };
  try {
    await s.waitFor("READY$");
    await s.type(`${cmd}\n`);
    await s.waitFor("Current Layer Contents", { timeoutMs: 30_000 });
    assert.deepEqual(await paneFlags(s), { alternate: true, cursor: false });

    // ctrl+z: the shell gets its terminal back (cooked mode, main screen, cursor), fg resumes the UI.
    await s.keys("C-z");
    await s.waitFor(/Stopped/);
    await s.waitFor(/READY\$\s*$/m);
    assert.deepEqual(await paneFlags(s), { alternate: false, cursor: true });
    assert.equal(await ttyMode(), "cooked");
    await s.type("clear; fg\n");
    await s.waitFor("Current Layer Contents", { timeoutMs: 10_000 });
    assert.deepEqual(await paneFlags(s), { alternate: true, cursor: false });
    await s.keys("Down");
    await s.waitFor(/Current Layer Contents [├┣][─━]+ layer 1 /);

    // SIGTERM: the terminal is restored and the command exits 143.
    const pid = await childOf(s);
    process.kill(pid, "SIGTERM");
    await s.waitFor(/READY\$\s*$/m);
    assert.deepEqual(await paneFlags(s), { alternate: false, cursor: true });
    await s.type("st=$?; clear; echo status=$st\n");
    let sc = await s.waitFor(/status=\d+/);
    assert.match(sc, /status=143/);
    assert.equal(await ttyMode(), "cooked");

    // q: exit 0, same.
    await s.type(`clear; ${cmd}\n`);
    await s.waitFor("Current Layer Contents", { timeoutMs: 30_000 });
    await s.keys("q");
    await s.waitFor(/READY\$\s*$/m);
    await s.type("st=$?; clear; echo status=$st\n");
    sc = await s.waitFor(/status=\d+/);
    assert.match(sc, /status=0/);
    assert.deepEqual(await paneFlags(s), { alternate: false, cursor: true });
  } finally {
    await s.kill();
  }
});

test("explore without a terminal refuses and points at --json and --ci", async () => {
  const r = await osless(root, ["explore", IMAGE], { env: { CI: "" } });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /terminal/);
  assert.match(r.stderr, /--json/);
  assert.match(r.stderr, /--ci/);
});
