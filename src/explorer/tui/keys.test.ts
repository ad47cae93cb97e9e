import assert from "node:assert/strict";
import { test } from "node:test";
import { parseKeys } from "./keys.ts";

test("printable characters, control bytes and their dive names", () => {
  assert.deepEqual(parseKeys("qkjhl?/"), ["q", "k", "j", "h", "l", "?", "/"]);
  assert.deepEqual(parseKeys(" "), ["space"]);
  assert.deepEqual(parseKeys("\x00"), ["ctrl+space"]);
  assert.deepEqual(parseKeys("\t"), ["tab"]);
  assert.deepEqual(parseKeys("\r"), ["enter"], "ctrl+m is Enter's byte");
  assert.deepEqual(parseKeys("\n"), ["enter"]);
  assert.deepEqual(parseKeys("\x7f\x08"), ["backspace", "backspace"]);
  assert.deepEqual(parseKeys("\x01\x02\x03\x05\x06\x07\x0c\x0f\x12\x15\x1a"), [
    "ctrl+a",
    "ctrl+b",
    "ctrl+c",
    "ctrl+e",
    "ctrl+f",
    "ctrl+g",
    "ctrl+l",
    "ctrl+o",
    "ctrl+r",
    "ctrl+u",
    "ctrl+z",
  ]);
  assert.deepEqual(parseKeys("\x1f"), ["ctrl+/"]);
  assert.deepEqual(parseKeys("é日🎉"), ["é", "日", "🎉"]);
});

test("escape sequences: arrows (CSI and SS3), pages, home/end, modifiers; a lone ESC; alt+key", () => {
  assert.deepEqual(parseKeys("\x1b[A\x1b[B\x1b[C\x1b[D"), ["up", "down", "right", "left"]);
  assert.deepEqual(parseKeys("\x1bOA\x1bOB\x1bOC\x1bOD"), ["up", "down", "right", "left"]);
  assert.deepEqual(parseKeys("\x1b[5~\x1b[6~"), ["pgup", "pgdn"]);
  assert.deepEqual(parseKeys("\x1b[H\x1b[F\x1b[1~\x1b[4~\x1bOH\x1bOF"), [
    "home",
    "end",
    "home",
    "end",
    "home",
    "end",
  ]);
  assert.deepEqual(parseKeys("\x1b[3~"), ["delete"]);
  assert.deepEqual(parseKeys("\x1b[Z"), ["shift+tab"]);
  assert.deepEqual(parseKeys("\x1b[1;5A\x1b[1;3B\x1b[1;2C"), ["ctrl+up", "alt+down", "shift+right"]);
  assert.deepEqual(parseKeys("\x1b"), ["esc"]);
  assert.deepEqual(parseKeys("\x1b\x1b"), ["esc", "esc"]);
  assert.deepEqual(parseKeys("\x1bx"), ["alt+x"]);
  assert.deepEqual(parseKeys("j\x1b[Bk"), ["j", "down", "k"]);
  // Unknown or cut sequences are dropped whole, the keys around them kept.
  assert.deepEqual(parseKeys("a\x1b[200~b"), ["a", "b"]);
  assert.deepEqual(parseKeys("a\x1b[<0;3;4Mb"), ["a", "b"]);
  assert.deepEqual(parseKeys("a\x1b[1;5"), ["a"]);
});
