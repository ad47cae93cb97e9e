import assert from "node:assert/strict";
import { test } from "node:test";
import {
  clean,
  fitLine,
  humanBytes,
  modeString,
  PLAIN,
  stripAnsi,
  textWidth,
  truncate,
  wrap,
} from "./screen.ts";

test("modeString: types and permission bits as ls shows them, s/S and t/T included", () => {
  assert.equal(modeString("file", 0o644), "-rw-r--r--");
  assert.equal(modeString("directory", 0o755), "drwxr-xr-x");
  assert.equal(modeString("symlink", 0o777), "lrwxrwxrwx");
  assert.equal(modeString("file", 0o4755), "-rwsr-xr-x");
  assert.equal(modeString("file", 0o4644), "-rwSr--r--");
  assert.equal(modeString("file", 0o2755), "-rwxr-sr-x");
  assert.equal(modeString("file", 0o2745), "-rwxr-Sr-x");
  assert.equal(modeString("directory", 0o1777), "drwxrwxrwt");
  assert.equal(modeString("directory", 0o1776), "drwxrwxrwT");
  assert.equal(modeString("char", 0o620), "crw--w----");
  assert.equal(modeString("block", 0o660), "brw-rw----");
  assert.equal(modeString("fifo", 0o600), "prw-------");
  assert.equal(modeString("hardlink", 0o7777), "-rwsrwsrwt");
});

test("humanBytes: SI units as dive shows them", () => {
  assert.equal(humanBytes(0), "0 B");
  assert.equal(humanBytes(999), "999 B");
  assert.equal(humanBytes(1000), "1.0 kB");
  assert.equal(humanBytes(1234), "1.2 kB");
  assert.equal(humanBytes(881_000), "881 kB");
  assert.equal(humanBytes(999_600), "1.0 MB");
  assert.equal(humanBytes(5_600_000), "5.6 MB");
  assert.equal(humanBytes(12_345_678_901), "12 GB");
});

test("widths: wide characters take two columns, combining marks none; lines fit exactly with … when cut", () => {
  assert.equal(textWidth("abc"), 3);
  assert.equal(textWidth("日本"), 4);
  assert.equal(textWidth("e\u0301"), 1);
  assert.equal(textWidth("🎉"), 2);
  assert.equal(truncate("abcdef", 4), "abc…");
  assert.equal(truncate("abc", 4), "abc");
  assert.equal(truncate("日本語", 4), "日…");
  const l = fitLine([{ text: "ab" }, { text: "日本語です" }], 7, PLAIN);
  assert.equal(l, "ab日本…");
  assert.equal(textWidth(l), 7);
  // A wide character that does not fit leaves a space.
  assert.equal(fitLine([{ text: "a日" }], 2, PLAIN), "a…");
  assert.equal(fitLine([{ text: "ab" }], 5, PLAIN), "ab   ");
  const ansi = fitLine([{ text: "ok", style: { fg: 32, bold: true } }], 4, { ansi: true, colors: true });
  assert.equal(ansi, "\x1b[1;32mok\x1b[0m  ");
  assert.equal(stripAnsi(ansi), "ok  ");
  assert.equal(fitLine([{ text: "ok", style: { fg: 32 } }], 2, { ansi: true, colors: false }), "ok");
});

test("clean: control, DEL, C1 and bidi characters become ?", () => {
  assert.equal(clean("a\x1b[2Jb\x07c\x7fd\x9be\u202ef\u2066g\nh"), "a?[2Jb?c?d?e?f?g?h");
  assert.equal(clean("plain name.txt"), "plain name.txt");
});

test("wrap: words in lines of a width, long words cut, … when lines run out", () => {
  assert.deepEqual(wrap("apt-get update && apt-get install -y curl", 16, 5), [
    "apt-get update",
    "&& apt-get",
    "install -y curl",
  ]);
  assert.deepEqual(wrap("abcdefghij", 4, 5), ["abcd", "efgh", "ij"]);
  assert.deepEqual(wrap("one two three four", 9, 1), ["one two…"]);
  assert.deepEqual(wrap("", 10, 3), []);
});
