import assert from "node:assert/strict";
import { test } from "node:test";
import { isOslessError } from "../errors.ts";
import { buildEnv, DEFAULT_PATH, envValue, parseEnvFile, parseEnvFlag, replaceOrAppendEnv } from "./env.ts";

test("--env-file is parsed as the Docker CLI parses it", () => {
  const text = [
    "\uFEFFFIRST=1",
    "# a comment",
    "",
    "   INDENTED=kept",
    "SPACES=value with trailing  ",
    'QUOTED="not unquoted"',
    "EMPTY=",
    "EQUALS=a=b=c",
    "FROM_HOST",
    "UNSET_ON_HOST",
    "WINDOWS=crlf\r",
    "  # indented comment",
  ].join("\n");
  const lookup = (n: string) => (n === "FROM_HOST" ? "hostvalue" : undefined);
  assert.deepEqual(parseEnvFile(text, "a.env", lookup), [
    "FIRST=1",
    "INDENTED=kept",
    "SPACES=value with trailing  ",
    'QUOTED="not unquoted"',
    "EMPTY=",
    "EQUALS=a=b=c",
    "FROM_HOST=hostvalue",
    "WINDOWS=crlf",
  ]);
});

test("--env-file errors name the file and line", () => {
  assert.throws(
    () => parseEnvFile("A=1\n=nokey\n", "/tmp/x.env"),
    (e) => isOslessError(e, "E_USAGE") && /\/tmp\/x.env, line 2: no variable name/.test(e.message),
  );
  assert.throws(
    () => parseEnvFile("MY VAR=1\n", "x.env"),
    (e) => isOslessError(e, "E_USAGE") && /variable 'MY VAR' contains whitespaces/.test(e.message),
  );
  assert.throws(
    () => parseEnvFile("A=\uFFFD\n", "x.env"),
    (e) => isOslessError(e, "E_USAGE") && /invalid utf8/.test(e.message),
  );
});

test("-e: NAME=VALUE as is, bare NAME from the caller's environment or left bare, empty name refused", () => {
  const lookup = (n: string) => ({ HOME_DIR: "/home/me" })[n];
  assert.equal(parseEnvFlag("A=1", lookup), "A=1");
  assert.equal(parseEnvFlag("HOME_DIR", lookup), "HOME_DIR=/home/me");
  assert.equal(parseEnvFlag("NOPE", lookup), "NOPE");
  assert.throws(
    () => parseEnvFlag("=x"),
    (e) => isOslessError(e, "E_USAGE"),
  );
});

test("replace-or-append: in place, appended, bare names unset", () => {
  assert.deepEqual(replaceOrAppendEnv(["PATH=/bin", "HOSTNAME=h"], ["PATH=/x", "A=1", "HOSTNAME"]), [
    "PATH=/x",
    "A=1",
  ]);
  assert.deepEqual(replaceOrAppendEnv([], ["A=1", "A=2", "B=1"]), ["A=2", "B=1"]);
  assert.deepEqual(replaceOrAppendEnv(["A=1"], ["A", "A=3"]), ["A=3"]);
});

// Docker's own behaviour, one row per rule.
const base = { hostname: "0123456789ab", home: "/root" };
const table: { name: string; input: Parameters<typeof buildEnv>[0]; want: string[] }[] = [
  {
    name: "no image env: PATH default, HOSTNAME, HOME",
    input: { ...base },
    want: [`PATH=${DEFAULT_PATH}`, "HOSTNAME=0123456789ab", "HOME=/root"],
  },
  {
    name: "image PATH replaces the default in place; image vars follow",
    input: { ...base, image: ["PATH=/opt/bin:/bin", "LANG=C.UTF-8"] },
    want: ["PATH=/opt/bin:/bin", "HOSTNAME=0123456789ab", "LANG=C.UTF-8", "HOME=/root"],
  },
  {
    name: "-e beats the image; user vars come before the image's",
    input: { ...base, image: ["A=image", "B=image"], env: ["B=user", "C=user"] },
    want: [`PATH=${DEFAULT_PATH}`, "HOSTNAME=0123456789ab", "B=user", "C=user", "A=image", "HOME=/root"],
  },
  {
    name: "env files, then -e (later wins)",
    input: {
      ...base,
      image: ["A=image"],
      envFiles: [
        { path: "1.env", text: "A=file1\nB=file1\n" },
        { path: "2.env", text: "B=file2\n" },
      ],
      env: ["A=flag"],
    },
    want: [`PATH=${DEFAULT_PATH}`, "HOSTNAME=0123456789ab", "A=flag", "B=file2", "HOME=/root"],
  },
  {
    name: "TERM=xterm with a terminal, after HOSTNAME",
    input: { ...base, tty: true },
    want: [`PATH=${DEFAULT_PATH}`, "HOSTNAME=0123456789ab", "TERM=xterm", "HOME=/root"],
  },
  {
    name: "the image may set TERM and HOME; -e may set HOSTNAME",
    input: { ...base, tty: true, image: ["TERM=vt100", "HOME=/srv"], env: ["HOSTNAME=mine"] },
    want: [`PATH=${DEFAULT_PATH}`, "HOSTNAME=mine", "TERM=vt100", "HOME=/srv"],
  },
  {
    name: "-e NAME unset on the caller's side removes the image's NAME",
    input: { ...base, image: ["SECRET=x", "KEEP=y"], env: ["SECRET"] },
    want: [`PATH=${DEFAULT_PATH}`, "HOSTNAME=0123456789ab", "KEEP=y", "HOME=/root"],
  },
  {
    name: "-e NAME set on the caller's side passes its value",
    input: { ...base, env: ["TOKEN"], hostEnv: { TOKEN: "abc" } },
    want: [`PATH=${DEFAULT_PATH}`, "HOSTNAME=0123456789ab", "TOKEN=abc", "HOME=/root"],
  },
  {
    name: "a non-root user's home from passwd",
    input: { ...base, home: "/home/app" },
    want: [`PATH=${DEFAULT_PATH}`, "HOSTNAME=0123456789ab", "HOME=/home/app"],
  },
];
for (const row of table) {
  test(`env: ${row.name}`, () => {
    assert.deepEqual(buildEnv(row.input), row.want);
  });
}

test("envValue reads the last entry of a name", () => {
  assert.equal(envValue(["A=1", "B=2", "A=3"], "A"), "3");
  assert.equal(envValue(["A=1"], "B"), undefined);
  assert.equal(envValue(["A="], "A"), "");
});
