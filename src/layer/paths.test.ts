import assert from "node:assert/strict";
import { test } from "node:test";
import { isOslessError } from "../errors.ts";
import { entryRole, normalizeEntryPath } from "./paths.ts";

test("normalizeEntryPath: leading slashes stripped, '.'/'..' cleaned lexically, root is '.'", () => {
  const cases: [string, string][] = [
    ["etc/passwd", "etc/passwd"],
    ["/etc/passwd", "etc/passwd"],
    ["////etc/x", "etc/x"],
    ["./etc//x/", "etc/x"],
    ["a/b/../c", "a/c"],
    ["a/..", "."],
    [".", "."],
    ["./", "."],
    ["/", "."],
    ["//", "."],
    ["..\\x", "..\\x"],
    ["..gitme", "..gitme"],
    ["dne/../.wh.etc", ".wh.etc"],
  ];
  for (const [raw, want] of cases) assert.equal(normalizeEntryPath(raw), want, raw);
});

test("normalizeEntryPath: names that still climb out are refused (E_TAR_UNSAFE_PATH)", () => {
  for (const raw of ["..", "../victim/x", "/../victim/x", "a/../../x", "./../x", "a/b/../../../x"]) {
    assert.throws(
      () => normalizeEntryPath(raw),
      (e) => isOslessError(e, "E_TAR_UNSAFE_PATH") && e.message.includes(raw),
      raw,
    );
  }
});

test("normalizeEntryPath: component > 255 bytes, path > 4096 bytes, depth over the cap -> E_TAR_LIMIT", () => {
  assert.equal(normalizeEntryPath(`d/${"a".repeat(255)}`), `d/${"a".repeat(255)}`);
  assert.throws(
    () => normalizeEntryPath(`d/${"a".repeat(256)}`),
    (e) => isOslessError(e, "E_TAR_LIMIT"),
  );
  // 'é' is two bytes: 128 of them are 256 bytes.
  assert.throws(
    () => normalizeEntryPath("é".repeat(128)),
    (e) => isOslessError(e, "E_TAR_LIMIT"),
  );
  const long = Array.from({ length: 17 }, () => "b".repeat(250)).join("/");
  assert.throws(
    () => normalizeEntryPath(long),
    (e) => isOslessError(e, "E_TAR_LIMIT") && /4096/.test(e.message),
  );
  assert.equal(normalizeEntryPath("a/".repeat(1024)), Array(1024).fill("a").join("/"));
  assert.throws(
    () => normalizeEntryPath("a/".repeat(1025)),
    (e) =>
      isOslessError(e, "E_TAR_LIMIT") &&
      /1024/.test(e.hint ?? "") &&
      /fixed/.test(e.hint ?? "") &&
      !/raise/.test(e.hint ?? ""),
  );
  assert.throws(
    () => normalizeEntryPath("a/b/c", 2),
    (e) => isOslessError(e, "E_TAR_LIMIT"),
  );
});

test("entryRole: whiteouts, opaque markers, AUFS metadata, and names that only look like whiteouts", () => {
  assert.deepEqual(entryRole("etc/passwd"), { kind: "normal" });
  assert.deepEqual(entryRole("."), { kind: "normal" });
  assert.deepEqual(entryRole(".wh.etc"), { kind: "whiteout", dir: ".", target: "etc" });
  assert.deepEqual(entryRole("usr/bin/.wh.wget"), {
    kind: "whiteout",
    dir: "usr/bin",
    target: "usr/bin/wget",
  });
  assert.deepEqual(entryRole("d/.wh..wh..opq"), { kind: "opaque", dir: "d" });
  assert.deepEqual(entryRole(".wh..wh..opq"), { kind: "opaque", dir: "." });
  assert.deepEqual(entryRole(".wh..wh.plnk/1.2"), { kind: "ignored" });
  assert.deepEqual(entryRole(".wh..wh.aufs"), { kind: "ignored" });
  assert.deepEqual(entryRole("d/.wh..wh.orph"), { kind: "ignored" });
  // `.wh.` on a directory component is an ordinary path.
  assert.deepEqual(entryRole(".wh.etc/f"), { kind: "normal" });
  assert.deepEqual(entryRole("a/.whx"), { kind: "normal" });
  assert.deepEqual(entryRole(".wh.x.wh.y"), { kind: "whiteout", dir: ".", target: "x.wh.y" });
});

test("entryRole: '.wh.', '.wh..', '.wh...' (in any directory) are refused", () => {
  for (const p of [".wh.", "a/.wh.", ".wh..", "etc/.wh..", ".wh...", "etc/.wh..."]) {
    assert.throws(
      () => entryRole(p),
      (e) => isOslessError(e, "E_TAR_UNSAFE_PATH"),
      p,
    );
  }
});
