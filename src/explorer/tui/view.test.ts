import assert from "node:assert/strict";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { tmpdir } from "../../../test/fixtures/tools.ts";
import { fakeModel } from "../testkit.ts";
import { stripAnsi, textWidth } from "./screen.ts";
import { ExplorerView } from "./view.ts";

/**
 * Layer 0 a small root; layer 1 changes /etc/passwd, removes /usr/bin/wget, adds /etc/new and /opt/app/big;
 * layer 2 makes /bin/sh setuid (a metadata-only rewrite) and removes /opt/app.
 */
function model() {
  return fakeModel(
    [
      {
        command: "ADD rootfs.tar /",
        files: {
          "bin/sh": "#!shell",
          "bin/ls": { symlink: "/bin/busybox" },
          "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
          "etc/motd": "hello\n",
          "etc/shadow": { data: "root:*:19000::::::\n", mode: 0o640, gid: 42 },
          tmp: { dir: true, mode: 0o1777 },
          "usr/bin/wget": "wget binary",
          "usr/bin/su": { data: "su binary", mode: 0o4755 },
          "usr/lib/libc.so": { size: 2_000_000 },
        },
      },
      {
        command: "/bin/sh -c echo app >> /etc/passwd && rm /usr/bin/wget",
        files: {
          "etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n",
          "usr/bin/wget": null,
          "etc/new": "new file\n",
          "opt/app/big": { size: 5_000_000 },
        },
      },
      {
        command: "chmod u+s /bin/sh && rm -rf /opt/app",
        files: { "bin/sh": { data: "#!shell", mode: 0o4755 }, "opt/app": null },
      },
    ],
    { name: "docker.io/library/sample:1" },
  );
}

function view(opts: { width?: number; height?: number; cwd?: string } = {}) {
  return new ExplorerView(model(), { width: opts.width ?? 140, height: opts.height ?? 36, cwd: opts.cwd });
}

function screen(v: ExplorerView): string[] {
  return v.render();
}

function press(v: ExplorerView, ...keys: string[]): string[] {
  for (const k of keys) v.key(k);
  return v.render();
}

/** The right half of the body lines (the tree), from the column where "Current/Aggregated Layer Contents" starts. */
function treeLines(lines: string[]): string[] {
  const title = lines[0]!;
  const at = Math.max(
    title.indexOf("│ Current"),
    title.indexOf("┃ ● Current"),
    title.indexOf("│ Aggr"),
    title.indexOf("┃ ● Aggr"),
  );
  assert.ok(at > 0, `no tree title in ${title}`);
  const cols = [...title.slice(0, at)].length;
  return lines.map((l) => [...l].slice(cols).join("").trimEnd());
}

/** The tree rows with a given name (the name ends the row, after the tree guides). */
function row(lines: string[], name: string): string | undefined {
  return treeLines(lines).find((l) =>
    new RegExp(`[─+] ${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}( |$)`).test(l),
  );
}

/** The tree's rows as depth, name, marker letter and whether the cursor is on it. */
function entries(lines: string[]): { depth: number; name: string; marker: string; cursor: boolean }[] {
  const out: { depth: number; name: string; marker: string; cursor: boolean }[] = [];
  const tree = treeLines(lines);
  // The guides start after the gutter, the marker and a space, and the attributes when they are shown.
  const start = tree[1]!.includes("Permission") ? 37 : 3;
  for (const l of tree.slice(2)) {
    const chars = [...l];
    const m = /^((?:[│ ] {3})*)[├└]─[─+] (.*)$/.exec(chars.slice(start).join(""));
    if (!m) continue;
    out.push({ depth: m[1]!.length / 4, name: m[2]!, marker: chars[1]!, cursor: chars[0] === "▸" });
  }
  return out;
}

function leftLines(lines: string[]): string[] {
  const title = lines[0]!;
  const at = Math.max(title.indexOf("│ Current"), title.indexOf("┃ ● Current"));
  return lines.map((l) =>
    [...l]
      .slice(0, [...title.slice(0, at)].length)
      .join("")
      .trimEnd(),
  );
}

test("first screen: dive's panes, layer 0 as FROM, dive's and osless's figures, key help", () => {
  const v = view();
  const lines = screen(v);
  assert.equal(lines.length, 36);
  for (const l of lines) assert.equal(textWidth(l), 140, `line not 140 columns: ${JSON.stringify(l)}`);
  const text = lines.join("\n");
  assert.match(lines[0]!, /^┃ ● Layers ┣━+ +│ Current Layer Contents ├─+ layer 0 ─+$/);
  assert.match(text, /│ Layer Details ├/);
  assert.match(text, /│ Image Details ├/);
  const left = leftLines(lines);
  assert.equal(left[1], " Cmp     Size  Command");
  const m = model();
  assert.match(left[2]!, new RegExp(`^▸ █ +2\\.0 MB  FROM ${m.layers[0]!.digest.slice(7, 19)}$`));
  assert.match(left[3]!, /^ {7}5\.0 MB {2}echo app >> \/etc\/passwd && rm \/usr\/bin\/wget$/);
  assert.match(left[4]!, /^ {10}7 B {2}chmod u\+s \/bin\/sh && rm -rf \/opt\/app$/);
  assert.ok(left.includes(`Digest:  ${m.layers[0]!.digest.slice(0, 48)}…`), left.join("\n"));
  assert.ok(left.includes(`DiffID:  ${m.layers[0]!.diffId.slice(0, 48)}…`), left.join("\n"));
  assert.ok(
    left.includes("Changes: 9 added, 0 modified, 0 removed"),
    'left.includes("Changes: 9 added, 0 modified, 0 removed")',
  );
  assert.ok(
    left.includes("Image name: docker.io/library/sample:1"),
    'left.includes("Image name: docker.io/library/sample:1")',
  );
  assert.ok(
    left.some((l) => /^Total Image size: 7\.0 MB$/.test(l)),
    "left.some((l) => /^Total Image size: 7\\.0 MB$/.test(l))",
  );
  const mt = m.metrics;
  assert.ok(
    left.some(
      (l) =>
        l.startsWith("Image efficiency score: ") && l.includes(`${Math.trunc(mt.dive.efficiency * 100)} %`),
    ),
    left.join("\n"),
  );
  assert.ok(
    left.some((l) => /^Potential wasted space: \S+ \S+ {2}exact \(osless\): \S+ \S+$/.test(l)),
    "left.some((l) => /^Potential wasted space: \\S+ \\S+ {2}exact \\(osless\\): \\S+ \\S+$/.test(l))",
  );
  assert.ok(
    left.some((l) => /^Image efficiency score: \d+ % {2}exact \(osless\): [\d.]+ %$/.test(l)),
    "left.some((l) => /^Image efficiency score: \\d+ % {2}exact \\(osless\\): [\\d.]+ %$/.test(l))",
  );
  assert.ok(left.includes("Count  Total Space  Path"), 'left.includes("Count  Total Space  Path")');
  assert.ok(
    left.some((l) => /^ {4}2 +\S+ B {2}\/etc\/passwd$/.test(l)),
    left.join("\n"),
  );
  assert.match(
    lines[35]!,
    /^▏\^C Quit ▏Tab Switch view ▏\^F Filter ▏\^L Show layer changes ▏\^A Show aggregated changes/,
  );
  // Layer 0 marks nothing: no A/M/D in the tree.
  const rows = entries(lines);
  assert.equal(rows.length, 14);
  assert.deepEqual(
    rows.filter((e) => e.marker !== " "),
    [],
  );
  assert.equal(treeLines(lines)[1], "   Permission     UID:GID      Size  Filetree");
});

test("tree rows: mode strings with s/S/t/T, uid:gid, sizes, links, guides; ctrl+b hides the attributes", () => {
  const v = view();
  let lines = screen(v);
  assert.match(row(lines, "su")!, /^ {3}-rwsr-xr-x {9}0:0 {7}9 B {6}│ {3}├── su$/);
  assert.match(row(lines, "shadow")!, /^ {3}-rw-r----- {8}0:42 {6}19 B {2}│ {3}└── shadow$/);
  assert.match(row(lines, "tmp")!, /^ {3}drwxrwxrwt {9}0:0 {7}0 B {2}├── tmp$/);
  assert.match(
    row(lines, "ls -> /bin/busybox")!,
    /^ {3}lrwxrwxrwx {9}0:0 {9}- {2}│ {3}├── ls -> \/bin\/busybox$/,
  );
  assert.match(row(lines, "libc.so")!, /^ {3}-rw-r--r-- {9}0:0 +2\.0 MB {10}└── libc\.so$/);
  assert.match(row(lines, "usr")!, /└── usr$/);
  lines = press(v, "ctrl+b");
  assert.equal(treeLines(lines)[1], "   Filetree");
  assert.equal(row(lines, "su"), "       │   ├── su");
});

test("layers: up/down select the layer, Cmp marks the compared range, markers A/M/D in layer mode", () => {
  const v = view();
  let lines = press(v, "down");
  let left = leftLines(lines);
  assert.match(left[2]!, /^ {2}░ /);
  assert.match(left[3]!, /^▸ █ /);
  assert.match(left[4]!, /^ {4}/);
  assert.match(lines[0]!, /layer 1/);
  assert.ok(left.includes("Changes: 2 added, 1 modified, 1 removed"), left.join("\n"));
  assert.match(row(lines, "new")!, /^ A -rw-r--r--/);
  assert.match(row(lines, "passwd")!, /^ M -rw-r--r--/);
  assert.match(row(lines, "wget")!, /^ D -rw-r--r--/);
  assert.match(row(lines, "motd")!, /^ {3}-rw-r--r--/);
  assert.match(row(lines, "etc")!, /^ M d/);
  assert.match(row(lines, "app")!, /^ A d/);
  assert.match(row(lines, "big")!, /^ A -/);
  lines = press(v, "j");
  left = leftLines(lines);
  assert.match(left[2]!, /^ {2}░ /);
  assert.match(left[3]!, /^ {2}░ /);
  assert.match(left[4]!, /^▸ █ /);
  assert.match(row(lines, "sh")!, /^ M -rwsr-xr-x/);
  assert.match(row(lines, "app")!, /^ D d/);
  assert.match(row(lines, "big")!, /^ D -/);
  assert.match(row(lines, "passwd")!, /^ {3}-/);
  assert.equal(row(lines, "wget"), undefined);
  // Past the last layer nothing moves.
  lines = press(v, "down", "down");
  assert.match(leftLines(lines)[4]!, /^▸ █ /);
  lines = press(v, "k", "up", "up");
  assert.match(leftLines(lines)[2]!, /^▸ █ /);
});

test("ctrl+a in the Layers pane: aggregated changes of layers 1..i over layer 0; ctrl+l back to layer changes", () => {
  const v = view();
  let lines = press(v, "down", "down", "ctrl+a");
  assert.match(lines[0]!, /┃ ● Layers ┣━━━ aggregated ━+ +│ Aggregated Layer Contents ├/);
  const left = leftLines(lines);
  assert.match(left[2]!, /^ {2}░ /);
  assert.match(left[3]!, /^ {2}█ /);
  assert.match(left[4]!, /^▸ █ /);
  assert.match(row(lines, "new")!, /^ A /);
  assert.match(row(lines, "passwd")!, /^ M /);
  assert.match(row(lines, "sh")!, /^ M /);
  assert.match(row(lines, "wget")!, /^ D /);
  // Added by layer 1 and removed by layer 2: not there against layer 0.
  assert.equal(row(lines, "app"), undefined);
  lines = press(v, "ctrl+l");
  assert.match(lines[0]!, /│ Current Layer Contents ├/);
  assert.match(row(lines, "app")!, /^ D /);
  assert.match(row(lines, "passwd")!, /^ {3}/);
});

test("tree navigation: tab, up/down, right enters a directory, left goes to the parent, then to the Layers pane", () => {
  const v = view();
  let lines = press(v, "tab");
  assert.match(lines[0]!, /│ Layers ├─+ +┃ ● Current Layer Contents ┣/);
  assert.match(row(lines, "bin")!, /^▸ /);
  assert.match(leftLines(lines)[2]!, /^▹ █ /);
  assert.equal(v.selected?.path, "bin");
  press(v, "down");
  assert.equal(v.selected?.path, "bin/ls");
  press(v, "j", "j");
  assert.equal(v.selected?.path, "etc");
  press(v, "right");
  assert.equal(v.selected?.path, "etc/motd");
  press(v, "l");
  assert.equal(v.selected?.path, "etc/motd", "right on a file does nothing");
  press(v, "down", "down");
  assert.equal(v.selected?.path, "etc/shadow");
  press(v, "left");
  assert.equal(v.selected?.path, "etc");
  lines = press(v, "h");
  assert.equal(v.pane, "layers");
  assert.match(lines[0]!, /^┃ ● Layers/);
  press(v, "tab", "end");
  assert.equal(v.selected?.path, "usr/lib/libc.so");
  press(v, "up");
  assert.equal(v.selected?.path, "usr/lib");
  press(v, "home");
  assert.equal(v.selected?.path, "bin");
  press(v, "up");
  assert.equal(v.selected?.path, "bin");
});

test("pgdn/pgup and scrolling keep the cursor on screen", () => {
  const v = view({ height: 14 });
  press(v, "tab");
  // 14 lines: 13 body lines, tree rows = 11.
  let lines = press(v, "pgdn");
  assert.equal(v.selected?.path, "usr/bin/wget");
  assert.match(row(lines, "wget")!, /^▸/);
  lines = press(v, "d");
  assert.equal(v.selected?.path, "usr/lib/libc.so");
  assert.equal(treeLines(lines).filter((l) => l.startsWith("▸")).length, 1);
  assert.equal(row(lines, "ls -> /bin/busybox"), undefined, "the view scrolled past /bin/ls");
  press(v, "u");
  assert.equal(v.selected?.path, "bin/sh");
  lines = press(v, "pgup");
  assert.equal(v.selected?.path, "bin");
  assert.match(row(lines, "bin")!, /^▸/);
});

test("space folds a directory (+), ctrl+space folds and unfolds every directory", () => {
  const v = view();
  press(v, "tab", "down", "down", "down");
  assert.equal(v.selected?.path, "etc");
  let lines = press(v, "space");
  assert.match(row(lines, "etc")!, /├─\+ etc$/);
  assert.equal(row(lines, "passwd"), undefined);
  press(v, "down");
  assert.equal(v.selected?.path, "tmp");
  lines = press(v, "up", "space");
  assert.match(row(lines, "etc")!, /├── etc$/);
  assert.ok(row(lines, "passwd"), 'row(lines, "passwd")');
  // space on a file folds its directory and selects it.
  press(v, "down", "space");
  assert.equal(v.selected?.path, "etc");
  assert.match(row(v.render(), "etc")!, /├─\+ etc$/);
  press(v, "space", "down", "down");
  assert.equal(v.selected?.path, "etc/passwd");
  lines = press(v, "ctrl+space");
  assert.equal(v.selected?.path, "etc");
  assert.deepEqual(
    entries(lines).map((e) => `${e.depth} ${e.name}`),
    ["0 bin", "0 etc", "0 tmp", "0 usr"],
  );
  assert.match(row(lines, "etc")!, /├─\+ etc$/);
  assert.match(row(lines, "tmp")!, /├── tmp$/, "an empty directory has nothing to fold");
  lines = press(v, "ctrl+space");
  assert.ok(row(lines, "libc.so"), 'row(lines, "libc.so")');
  assert.equal(v.selected?.path, "etc");
});

test("path filter: ctrl+f, typing a regex on the full path, enter keeps it, esc clears it; bad regex reported", () => {
  const v = view();
  let lines = press(v, "ctrl+f");
  assert.match(lines[34]!, /^Path Filter: █/);
  assert.equal(v.pane, "tree");
  for (const ch of "sh") v.key(ch);
  lines = v.render();
  assert.match(lines[34]!, /^Path Filter: sh█/);
  let names = treeLines(lines)
    .slice(2)
    .filter((l) => l.trim())
    .map((l) => l.replace(/^.*[─+] /, ""));
  assert.deepEqual(names, ["bin", "sh", "etc", "shadow"]);
  // q is text while the filter is open.
  for (const ch of ["backspace", "backspace", "^", "/", "u", "s", "r", "/", "b"])
    assert.equal(v.key(ch), undefined);
  names = treeLines(v.render())
    .slice(2)
    .filter((l) => l.trim())
    .map((l) => l.replace(/^.*[─+] /, ""));
  assert.deepEqual(names, ["usr", "bin", "su", "wget"]);
  lines = press(v, "enter");
  assert.match(lines[34]!, /^Path Filter: \^\/usr\/b {2}\(ctrl\+f edit, then esc clears\)/);
  assert.match(lines[0]!, /layer 0 · filtered/);
  assert.equal(v.key("q"), "quit");
  press(v, "ctrl+/", "esc");
  lines = v.render();
  assert.ok(
    !lines.some((l) => l.startsWith("Path Filter")),
    '!lines.some((l) => l.startsWith("Path Filter"))',
  );
  assert.ok(row(lines, "libc.so"), 'row(lines, "libc.so")');
  press(v, "ctrl+f", "(");
  lines = v.render();
  assert.match(lines[34]!, /^Path Filter: \(█ {2}invalid regex: /);
  assert.ok(row(lines, "libc.so"), "a bad regex filters nothing");
  press(v, "enter");
  assert.equal(v.filterText, "");
});

test("ctrl+a/ctrl+r/ctrl+m/ctrl+u in the tree pane hide added/removed/modified/unmodified nodes", () => {
  const v = view();
  press(v, "down", "tab");
  let lines = press(v, "ctrl+u");
  assert.match(lines[0]!, /layer 1 · hiding unmodified/);
  assert.equal(row(lines, "motd"), undefined);
  assert.equal(row(lines, "tmp"), undefined);
  assert.ok(
    row(lines, "new") && row(lines, "passwd") && row(lines, "wget") && row(lines, "big"),
    'row(lines, "new") && row(lines, "passwd") && row(lines, "wget") && row(lines, "big")',
  );
  lines = press(v, "ctrl+a");
  assert.equal(row(lines, "new"), undefined);
  assert.equal(row(lines, "big"), undefined);
  assert.ok(row(lines, "passwd") && row(lines, "wget"), 'row(lines, "passwd") && row(lines, "wget")');
  lines = press(v, "ctrl+r");
  assert.equal(row(lines, "wget"), undefined);
  assert.ok(row(lines, "passwd"), 'row(lines, "passwd")');
  lines = press(v, "ctrl+m");
  assert.match(treeLines(lines).slice(2).join("\n"), /nothing matches the filters/);
  lines = press(v, "enter", "ctrl+u", "ctrl+a", "ctrl+r");
  assert.ok(
    row(lines, "motd") && row(lines, "new") && row(lines, "wget") && row(lines, "passwd"),
    'row(lines, "motd") && row(lines, "new") && row(lines, "wget") && row(lines, "passwd")',
  );
  assert.doesNotMatch(lines[0]!, /hiding/);
});

test("ctrl+o sorts by size (largest first), again by name", () => {
  const v = view();
  press(v, "down", "tab");
  let lines = press(v, "ctrl+o");
  assert.match(lines[0]!, /by size/);
  const topLevel = (ls: string[]) =>
    entries(ls)
      .filter((e) => e.depth === 0)
      .map((e) => e.name);
  assert.deepEqual(topLevel(lines), ["opt", "usr", "etc", "bin", "tmp"]);
  assert.deepEqual(
    entries(lines)
      .filter((e) => e.depth === 1)
      .map((e) => e.name)
      .slice(0, 3),
    ["app", "lib", "bin"],
  );
  lines = press(v, "ctrl+o");
  assert.doesNotMatch(lines[0]!, /by size/);
  assert.deepEqual(topLevel(lines), ["bin", "etc", "opt", "tmp", "usr"]);
});

test("the cursor stays on its path when the layer changes, and falls back to the parent when the path is gone", () => {
  const v = view();
  press(v, "down", "tab");
  while (v.selected?.path !== "etc/new") v.key("down");
  const row1 = v.cursorRow;
  press(v, "tab", "down");
  assert.equal(v.selected?.path, "etc/new");
  assert.equal(v.cursorRow, row1);
  press(v, "up", "up");
  assert.equal(v.selected?.path, "etc", "etc/new does not exist in layer 0");
});

test("ctrl+e extracts the selected file into the directory, never over an existing file", async () => {
  const dir = await tmpdir("tui-extract");
  const v = view({ cwd: dir });
  press(v, "down", "tab");
  while (v.selected?.path !== "etc/passwd") v.key("down");
  let lines = press(v, "ctrl+e");
  assert.ok(
    lines.some((l) => l.startsWith("extracting /etc/passwd")),
    'lines.some((l) => l.startsWith("extracting /etc/passwd"))',
  );
  await v.idle();
  lines = v.render();
  const status = lines.find((l) => l.startsWith("extracted "));
  assert.ok(status, lines.slice(-3).join("\n"));
  assert.match(status!, new RegExp(`^extracted /etc/passwd \\(layer 1, 60 B\\) to ${join(dir, "passwd")}`));
  assert.equal(
    await readFile(join(dir, "passwd"), "utf8"),
    "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n",
  );
  // The status goes with the next key.
  lines = press(v, "down", "up");
  assert.ok(!lines.some((l) => l.startsWith("extracted")), "the status stays after a key");
  // Layer 0's version, but passwd exists now: refused, the file untouched.
  press(v, "tab", "up", "tab");
  assert.equal(v.selected?.path, "etc/passwd");
  press(v, "ctrl+e");
  await v.idle();
  assert.ok(
    v.render().some((l) => l.startsWith(`not extracted: ${join(dir, "passwd")} exists (never overwritten)`)),
    v.status ?? "no status",
  );
  assert.equal((await stat(join(dir, "passwd"))).size, 60);
  // A directory, a symlink, a removed file: refused.
  press(v, "up");
  assert.equal(v.selected?.path, "etc/motd");
  await writeFile(join(dir, "x"), "");
  press(v, "home", "ctrl+e");
  assert.equal(v.status, "not extracted: /bin is a directory, not a regular file");
  press(v, "down", "ctrl+e");
  assert.equal(v.status, "not extracted: /bin/ls is a symlink, not a regular file");
  press(v, "tab", "down", "tab", "end", "up");
  press(v, "up");
  assert.equal(v.selected?.path, "usr/bin/wget");
  press(v, "ctrl+e");
  assert.equal(v.status, "not extracted: /usr/bin/wget is removed in layer 1");
  // A big file streams whole.
  press(v, "end", "ctrl+e");
  await v.idle();
  assert.equal((await stat(join(dir, "libc.so"))).size, 2_000_000);
});

test("ctrl+g lists the largest files; enter selects the file's layer, unfolds its directories and selects it", () => {
  const v = view();
  press(v, "tab", "ctrl+space");
  let lines = press(v, "ctrl+g");
  assert.match(lines[0]!, /┃ ● Largest Files ┣━━━ enter: jump to the file · esc: close ━/);
  const right = treeLines(
    lines.map((l, i) => (i === 0 ? l.replace("┃ ● Largest Files", "┃ ● Current Layer Contents") : l)),
  );
  assert.equal(right[1], "        Size  Layer  Path");
  assert.equal(right[2], "▸     2.0 MB      0  /usr/lib/libc.so");
  assert.match(right[3]!, /^ +60 B {6}1 {2}\/etc\/passwd$/);
  lines = press(v, "down", "up", "enter");
  assert.equal(v.layer, 0);
  assert.equal(v.pane, "tree");
  assert.equal(v.selected?.path, "usr/lib/libc.so");
  assert.match(row(lines, "libc.so")!, /^▸/);
  assert.match(row(lines, "usr")!, /└── usr$/);
  assert.match(row(lines, "etc")!, /├─\+ etc$/, "other directories stay folded");
  // From layer 2 with unmodified files hidden: the filters are cleared to show it.
  press(v, "tab", "down", "tab", "ctrl+u", "ctrl+g", "down", "enter");
  assert.equal(v.layer, 1);
  assert.equal(v.selected?.path, "etc/passwd");
  press(v, "ctrl+u", "ctrl+g", "esc");
  assert.equal(v.overlay, null);
});

test("? shows every key; any key closes it; q, ctrl+c quit; ctrl+z suspends", () => {
  const v = view();
  let lines = press(v, "?");
  const text = lines.join("\n");
  for (const k of [
    "ctrl+e",
    "ctrl+g",
    "ctrl+space",
    "ctrl+l",
    "ctrl+o",
    "ctrl+b",
    "pgup/u",
    "left/h",
    "ctrl+m (enter)",
  ])
    assert.ok(text.includes(k), `help lacks ${k}`);
  assert.match(lines[0]!, /┃ ● Keys ┣━━━ any key closes ━/);
  lines = press(v, "x");
  assert.equal(v.overlay, null);
  assert.match(lines[0]!, /Current Layer Contents/);
  assert.equal(v.key("ctrl+z"), "suspend");
  assert.equal(v.key("ctrl+c"), "quit");
  assert.equal(v.key("q"), "quit");
  v.key("ctrl+f");
  assert.equal(v.key("ctrl+c"), "quit");
});

test("resize: every line fits the new size, the cursor stays on screen; too small a terminal says so", () => {
  const v = view();
  press(v, "tab", "end");
  let lines = v.render();
  v.resize(80, 15);
  lines = v.render();
  assert.equal(lines.length, 15);
  for (const l of lines) assert.equal(textWidth(l), 80);
  assert.equal(v.selected?.path, "usr/lib/libc.so");
  assert.equal(treeLines(lines).filter((l) => l.startsWith("▸")).length, 1, lines.join("\n"));
  v.resize(30, 8);
  lines = v.render();
  assert.equal(lines.length, 8);
  assert.match(lines[0]!, /^terminal too small/);
  v.resize(200, 60);
  lines = v.render();
  assert.equal(lines.length, 60);
  for (const l of lines) assert.equal(textWidth(l), 200);
});

test("ANSI rendering: added green, removed red, modified yellow, cursor inverse; lines as wide as the screen", () => {
  const v = new ExplorerView(model(), { width: 140, height: 36, mode: { ansi: true, colors: true } });
  v.key("down");
  const lines = v.render();
  for (const l of lines) assert.equal(textWidth(stripAnsi(l)), 140);
  const find = (name: string) =>
    lines.find((l) => stripAnsi(l).endsWith(`── ${name}`) || stripAnsi(l).includes(`── ${name} `));
  assert.match(find("new")!, /\x1b\[32mA/);
  assert.match(find("wget")!, /\x1b\[31mD/);
  assert.match(find("passwd")!, /\x1b\[33mM/);
  assert.match(lines[3]!, /\x1b\[7m▸/);
  const noColor = new ExplorerView(model(), { width: 140, height: 36, mode: { ansi: true, colors: false } });
  noColor.key("down");
  const nc = noColor.render().join("\n");
  assert.doesNotMatch(nc, /\x1b\[3[123]m/);
  assert.match(nc, /\x1b\[7m/);
});

test("names and commands from the image cannot write escape sequences to the terminal", () => {
  const m = fakeModel([
    { command: "RUN \x1b[2Jevil\nnext", files: { "a\x1b[31mb": "x", "c\u202ed": { symlink: "t\x07" } } },
  ]);
  const v = new ExplorerView(m, { width: 120, height: 30, mode: { ansi: true, colors: true } });
  const lines = v.render();
  const text = stripAnsi(lines.join("\n"));
  assert.doesNotMatch(text, /[\x00-\x08\x0b-\x1f\x7f\u202e]/);
  assert.match(text, /── a\?\[31mb/);
  assert.match(text, /── c\?d -> t\?/);
});

test("many layers: the Layers pane scrolls to keep the selected layer in view; pgdn/pgup move by a page", () => {
  const layers = Array.from({ length: 40 }, (_, i) => ({
    command: `RUN step ${i}`,
    files: { [`f${i}`]: `${i}` },
  }));
  const v = new ExplorerView(fakeModel(layers), { width: 120, height: 30 });
  const selected = () => leftLines(v.render()).find((l) => l.startsWith("▸"));
  for (let i = 0; i < 25; i++) v.key("down");
  assert.match(selected()!, /RUN step 25$/);
  v.key("pgdn");
  const after = Number(/step (\d+)$/.exec(selected()!)![1]);
  assert.ok(after > 26, `pgdn moved to ${after}`);
  v.key("end");
  assert.match(selected()!, /RUN step 39$/);
  v.key("pgup");
  assert.ok(Number(/step (\d+)$/.exec(selected()!)![1]) < 39, "pgup moved up");
  v.key("home");
  assert.match(selected()!, /FROM [0-9a-f]{12}$/);
  assert.equal(v.layer, 0);
});

/** A directory with a name too long for the tree pane between two short ones (and one more directory below). */
function longNameModel() {
  const long = `${"abcdefghij".repeat(4)}-end`;
  const files: Record<string, string> = { "a/aaa": "s", [`a/${long}`]: "l", "a/zz": "z", "b/file": "f" };
  return { long, m: fakeModel([{ command: "ADD rootfs.tar /", files }]) };
}

/** The column (in characters) where `text` starts in `line`. */
function col(line: string, text: string): number {
  const at = line.indexOf(text);
  assert.ok(at >= 0, `${JSON.stringify(text)} not in ${JSON.stringify(line)}`);
  return [...line.slice(0, at)].length;
}

test("ctrl+p wraps long tree rows onto the next lines (continuation under the name); off by default; again unwraps", () => {
  const { long, m } = longNameModel();
  // 100 columns: a 57-column tree pane; with attributes the names of /a's children start at column 45 (12 left).
  const v = new ExplorerView(m, { width: 100, height: 20 });
  assert.equal(v.wrap, false);
  let tree = treeLines(v.render());
  const cut = tree.find((l) => l.includes("abcdefghij"))!;
  assert.match(cut, /── abcdefghija…$/, "off by default: the row is cut with …");
  assert.equal(tree.filter((l) => l.includes("-end")).length, 0);
  assert.match(tree.find((l) => l.endsWith(" zz")) ?? "", /└── zz$/);
  const rowsBefore = tree.length;

  let lines = press(v, "tab", "ctrl+p");
  assert.equal(v.wrap, true);
  tree = treeLines(lines);
  assert.match(tree[0]!, /wrapped/, "the title says the tree is wrapped");
  const first = tree.findIndex((l) => l.includes("abcdefghij"));
  const start = col(tree[first]!, "abcdefghij");
  // 44 characters in 12 columns: four screen lines, each continuation starting in the name's column, the guides
  // of /b (│, /a's next sibling) and of /a/zz (│, the row's next sibling), nothing in the gutter or the attribute columns.
  const pieces = [tree[first]!, tree[first + 1]!, tree[first + 2]!, tree[first + 3]!];
  assert.equal(pieces.map((l) => [...l].slice(start).join("")).join(""), long);
  for (const l of pieces.slice(1)) {
    assert.equal([...l].slice(0, start).join(""), `${" ".repeat(start - 8)}│   │   `);
  }
  assert.ok(!pieces.join("").includes("…"), "nothing cut");
  assert.match(tree[first + 4]!, /└── zz$/, "the next row after the continuation");
  assert.equal(tree.length, rowsBefore, "every line as wide as before (trailing blanks trimmed)");

  // The cursor moves by tree row: down from /a/aaa lands on the long row, down again on /a/zz.
  press(v, "down");
  assert.equal(v.selected?.path, "a/aaa");
  const rowAaa = v.cursorRow;
  press(v, "down");
  assert.equal(v.selected?.path, `a/${long}`);
  assert.equal(v.cursorRow, rowAaa + 1);
  tree = treeLines(v.render());
  assert.match(tree[first]!, /^▸/, "the cursor on the long row's first line");
  lines = press(v, "down");
  assert.equal(v.selected?.path, "a/zz");
  assert.equal(v.cursorRow, rowAaa + 2);
  tree = treeLines(lines);
  assert.match(tree[first + 4]!, /^▸.*└── zz$/, "the cursor skips the continuation lines");
  press(v, "up");
  assert.equal(v.selected?.path, `a/${long}`);

  // ctrl+p again: cut again, in either pane.
  lines = press(v, "tab", "ctrl+p");
  assert.equal(v.wrap, false);
  tree = treeLines(lines);
  assert.match(tree.find((l) => l.includes("abcdefghij"))!, /── abcdefghija…$/);
  assert.equal(tree.filter((l) => l.includes("-end")).length, 0);
  press(v, "ctrl+p");
  assert.equal(v.wrap, true, "ctrl+p works in the Layers pane too");
  const wide = new ExplorerView(m, { width: 200, height: 20 });
  assert.match(press(wide, "tab").at(-1)!, /▏\^P Wrap /, "the tree pane's footer shows the key");
  assert.match(press(wide, "?").join("\n"), /ctrl\+p +wrap long file tree rows/, "and the key help");
});

test("wrapped rows: scrolling keeps the selected row wholly on screen", () => {
  const { long, m } = longNameModel();
  // 10 lines: 7 tree lines. Rows: a, aaa, long (4 lines), zz, b, file: 9 lines.
  const v = new ExplorerView(m, { width: 100, height: 10 });
  press(v, "tab", "ctrl+p");
  const visible = () => treeLines(v.render()).slice(2, -1);
  const cursorLine = (t: string[]) => t.find((l) => l.startsWith("▸")) ?? "";
  press(v, "down", "down");
  assert.equal(v.selected?.path, `a/${long}`);
  let t = visible();
  assert.equal(t.length, 7);
  assert.ok(
    t.some((l) => l.endsWith("-end")),
    "the whole long row is on screen",
  );
  // Down to /b: its line would be the 8th; the view scrolls by one row (a goes), the long row stays whole.
  press(v, "down", "down");
  assert.equal(v.selected?.path, "b");
  assert.equal(v.cursorRow, 3);
  t = visible();
  assert.match(cursorLine(t), /└── b$/);
  assert.match(t[0]!, /── aaa$/);
  assert.ok(
    t.some((l) => l.endsWith("-end")),
    t.join("\n"),
  );
  // end: the last row on the last line, the rows above it as far as they fit whole.
  press(v, "end");
  assert.equal(v.selected?.path, "b/file");
  t = visible();
  assert.match(t[6]!, /^▸.*└── file$/);
  assert.match(t[0]!, /── abcdefghijab$/);
  // Up from below onto the long row and back to the top.
  press(v, "up", "up", "up");
  assert.equal(v.selected?.path, `a/${long}`);
  t = visible();
  const at = t.findIndex((l) => l.startsWith("▸"));
  assert.ok(at >= 0 && t[at + 3]?.endsWith("-end"), t.join("\n"));
  press(v, "up", "up");
  assert.equal(v.selected?.path, "a");
  assert.match(visible()[0]!, /^▸.*── a$/);
});

test("wrapped rows: a row taller than the pane takes the pane's lines, the last cut with …", () => {
  const long = "x".repeat(150);
  const m = fakeModel([{ command: "ADD rootfs.tar /", files: { [`a/${long}`]: "l", "a/zz": "z" } }]);
  // 10 lines: 7 tree lines; the name column is 12 wide, the name would take 13 lines.
  const v = new ExplorerView(m, { width: 100, height: 10 });
  press(v, "tab", "ctrl+p", "down");
  assert.equal(v.selected?.path, `a/${long}`);
  const t = treeLines(v.render()).slice(2, -1);
  assert.equal(t.length, 7);
  assert.match(t[0]!, /^▸.*── x{12}$/);
  for (const l of t.slice(1, 6)) assert.match(l, /^ +│ {3}x{12}$/);
  assert.match(t[6]!, /^ +│ {3}x{11}…$/);
  press(v, "down");
  assert.equal(v.selected?.path, "a/zz");
  const after = treeLines(v.render()).slice(2, -1);
  assert.match(after[0]!, /^▸.*└── zz$/, "the next row scrolled to the top");
});
