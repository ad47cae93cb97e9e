// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile variable syntax (${VAR}) is the subject of these tests
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ShellLex, ShellLexError } from "./shell-lex.ts";

// Expected values are worked out from the Dockerfile reference ("Environment replacement") and from BuildKit's
// lexer rules (frontend/dockerfile/shell/lex.go): unset variables are empty, `:` makes empty count as unset, the
// escape character escapes anything outside quotes and only " $ and itself inside double quotes.
const env = new Map([
  ["HOME", "/root"],
  ["EMPTY", ""],
  ["NAME", "osless"],
  ["SPACED", "a  b"],
  ["FILE", "archive.tar.gz"],
  ["PATHV", "/usr/local/bin:/usr/bin:/bin"],
  ["UNI", "ünï"],
  ["str", "foobarbaz"],
  ["string", "foobarbaz"],
]);

type Case = [word: string, expected: string | RegExp];

const wordCases: Case[] = [
  // the reference's own examples (`str=foobarbaz echo ${str#f*b}` and friends)
  ["${str#f*b}", "arbaz"],
  ["${str##f*b}", "az"],
  ["${string%b*}", "foobar"],
  ["${string%%b*}", "foo"],
  ["${string/ba/fo}", "fooforbaz"],
  ["${string//ba/fo}", "fooforfoz"],
  ["\\$foo", "$foo"],
  ["\\${foo}", "${foo}"],
  // plain references
  ["$HOME", "/root"],
  ["${HOME}", "/root"],
  ["${HOME}_x", "/root_x"],
  ["$HOME_x", ""],
  ["$NAME.tar", "osless.tar"],
  ["$UNI", "ünï"],
  ["$UNDEFINED", ""],
  ["a${UNDEFINED}b", "ab"],
  ["$", "$"],
  ["a$", "a$"],
  ["$.", "$."],
  ["100$", "100$"],
  // positional and special parameters are never set
  ["$1", ""],
  ["x$12y", "xy"],
  ["${1:-one}", "one"],
  ["$@x", "x"],
  ["${#:-n}", "n"],
  ["$$", ""],
  // :- and -
  ["${EMPTY:-def}", "def"],
  ["${EMPTY-def}", ""],
  ["${UNSET:-def}", "def"],
  ["${UNSET-def}", "def"],
  ["${NAME:-def}", "osless"],
  ["${NAME-def}", "osless"],
  ["${UNSET:-${NAME}-dev}", "osless-dev"],
  ["${UNSET:-$HOME/x}", "/root/x"],
  ["${UNSET:-${ALSO:-deep}}", "deep"],
  ['${UNSET:-"two words"}', "two words"],
  ["${UNSET:-a}}", "a}"],
  ["${UNSET:-a {b}", "a {b"],
  // :+ and +
  ["${NAME:+yes}", "yes"],
  ["${EMPTY:+yes}", ""],
  ["${EMPTY+yes}", "yes"],
  ["${UNSET+yes}", ""],
  ["${UNSET:+yes}", ""],
  ["${NAME:+$HOME}", "/root"],
  // :? and ?
  ["${NAME:?}", "osless"],
  ["${NAME?msg}", "osless"],
  ["${EMPTY?}", ""],
  ["${UNSET?}", /^UNSET: is not allowed to be unset$/],
  ["${UNSET:?}", /^UNSET: is not allowed to be unset$/],
  ["${EMPTY:?}", /^EMPTY: is not allowed to be empty$/],
  ["${EMPTY:?need it}", /^EMPTY: need it$/],
  ["${UNSET?set UNSET first}", /^UNSET: set UNSET first$/],
  // # ## % %% (glob: * any run, ? one character)
  ["${FILE%.gz}", "archive.tar"],
  ["${FILE%.*}", "archive.tar"],
  ["${FILE%%.*}", "archive"],
  ["${FILE#*.}", "tar.gz"],
  ["${FILE##*.}", "gz"],
  ["${FILE#arch}", "ive.tar.gz"],
  ["${FILE#nomatch}", "archive.tar.gz"],
  ["${FILE%?z}", "archive.tar."],
  ["${FILE#a?c}", "hive.tar.gz"],
  ["${PATHV##*:}", "/bin"],
  ["${PATHV%:*}", "/usr/local/bin:/usr/bin"],
  ["${PATHV%%:*}", "/usr/local/bin"],
  ["${UNSET#x}", ""],
  ["${FILE%\\*}", "archive.tar.gz"],
  // / and //
  ["${PATHV//:/ }", "/usr/local/bin /usr/bin /bin"],
  ["${PATHV/bin/sbin}", "/usr/local/sbin:/usr/bin:/bin"],
  ["${PATHV//bin/sbin}", "/usr/local/sbin:/usr/sbin:/sbin"],
  ["${FILE/?/X}", "Xrchive.tar.gz"],
  ["${FILE/.*/}", "archive"],
  ["${FILE/\\*/X}", "archive.tar.gz"],
  ["${FILE/tar/$NAME}", "archive.osless.gz"],
  ["${UNSET/a/b}", ""],
  // quotes and escapes
  ["'$HOME'", "$HOME"],
  ['"$HOME"', "/root"],
  ["\"'$HOME'\"", "'/root'"],
  ["'\"quoted\"'", '"quoted"'],
  ["\\$HOME", "$HOME"],
  ["\\${HOME}", "${HOME}"],
  ['"\\$HOME"', "$HOME"],
  ["\\\\$HOME", "\\/root"],
  ['"a\\b"', "a\\b"],
  ["a\\b", "ab"],
  ['"a\\"b"', 'a"b'],
  ["a\\'b", "a'b"],
  ["'a\\b'", "a\\b"],
  ["he'll'o", "hello"],
  ["trailing\\", "trailing"],
  ["Rex\\ The\\ Dog", "Rex The Dog"],
  ['"John Doe"', "John Doe"],
  ["it's", /matching single-quote/],
  ['"open', /matching double-quote/],
  // syntax errors
  ["${}", /bad substitution/],
  ["${:-x}", /bad substitution/],
  ["${{x}", /bad substitution/],
  ["${NAME", /missing '}'/],
  ["${NAME:-x", /missing '}'/],
  ["${UNSET:-a ${b}", /missing '}'/],
  ["${NAME/x", /missing '\/'/],
  ["${NAME:=x}", /unsupported modifier \(:=\)/],
  ["${NAME:#x}", /unsupported modifier \(:#\)/],
  ["${NAME.x}", /unsupported modifier \(\.\)/],
  ["${FILE#\\x}", /invalid escape/],
];

describe("shell lexer: one word (ProcessWord)", () => {
  const lex = new ShellLex();
  for (const [word, expected] of wordCases) {
    it(`${word} -> ${expected}`, () => {
      if (typeof expected === "string") {
        assert.equal(lex.processWord(word, env), expected);
      } else {
        assert.throws(
          () => lex.processWord(word, env),
          (e: unknown) => e instanceof ShellLexError && expected.test(e.message),
        );
      }
    });
  }

  it("records which variables were set and which were not", () => {
    const r = lex.process("$HOME ${NOPE:-x} ${EMPTY}", env);
    assert.deepEqual([...r.matched].sort(), ["EMPTY", "HOME"]);
    assert.deepEqual([...r.unmatched], ["NOPE"]);
  });

  it("takes a plain record as the environment, own properties only", () => {
    assert.equal(lex.processWord("${A}-${constructor}-${toString}", { A: "1" }), "1--");
  });
});

describe("shell lexer: the backtick escape directive", () => {
  const lex = new ShellLex({ escape: "`" });
  const cases: Case[] = [
    ["c:\\windows\\system32", "c:\\windows\\system32"],
    ["c:\\", "c:\\"],
    ["`$HOME", "$HOME"],
    ["\\$HOME", "\\/root"],
    ['"a`"b"', 'a"b'],
    ['"a\\b"', "a\\b"],
    ["a` b", "a b"],
  ];
  for (const [word, expected] of cases) {
    it(`${word} -> ${expected}`, () => assert.equal(lex.processWord(word, env), expected));
  }
});

describe("shell lexer: words (ProcessWords)", () => {
  const lex = new ShellLex();
  const cases: [string, string[]][] = [
    ["a b  c", ["a", "b", "c"]],
    ["  lead trail  ", ["lead", "trail"]],
    ["$SPACED", ["a", "b"]],
    ['"$SPACED"', ["a  b"]],
    ["x${SPACED}y", ["xa", "by"]],
    ["x${UNSET:-p q}y", ["xp", "qy"]],
    ["'a b' c", ["a b", "c"]],
    ["a\\ b", ["a b"]],
    ['"a b"c d', ["a bc", "d"]],
    ['a ""', ["a"]],
    ["80/tcp ${NAME}", ["80/tcp", "osless"]],
    ["<< EOF cat", ["<< EOF", "cat"]],
    ["", []],
  ];
  for (const [text, expected] of cases) {
    it(`${JSON.stringify(text)} -> ${JSON.stringify(expected)}`, () =>
      assert.deepEqual(lex.processWords(text, env), expected));
  }
});

describe("shell lexer: modes used for heredocs", () => {
  it("skipUnsetEnv leaves unset references as written", () => {
    const lex = new ShellLex({ skipUnsetEnv: true });
    assert.equal(
      lex.processWord("$NOPE ${NOPE} ${NOPE:-x} ${NOPE/a/b} $HOME", env),
      "$NOPE ${NOPE} ${NOPE:-x} ${NOPE/a/b} /root",
    );
  });
  it("rawQuotes and rawEscapes keep quotes and escapes", () => {
    const lex = new ShellLex({ rawQuotes: true, rawEscapes: true });
    assert.equal(lex.processWord(`"a\\$b" 'c' d\\ e`, new Map()), `"a\\$b" 'c' d\\ e`);
  });
  it("skipProcessQuotes treats quotes as text but still expands", () => {
    const lex = new ShellLex({ skipProcessQuotes: true });
    assert.equal(lex.processWord(`echo "hello $NAME" 'x'`, env), `echo "hello osless" 'x'`);
  });
});
