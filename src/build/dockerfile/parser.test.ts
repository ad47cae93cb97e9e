// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile variable syntax (${VAR}) is the subject of these tests
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isOslessError } from "../../errors.ts";
import { heredocBody, parseDockerfile, parseGoDuration } from "./parser.ts";
import type { Instruction } from "./types.ts";

const parse = (text: string) => parseDockerfile(text, { file: "Dockerfile" });
const only = (text: string, index = 1): Instruction => parse(text).instructions[index] as Instruction;

/** Asserts an E_DOCKERFILE error whose message is exactly `Dockerfile:LINE:COL: message`. */
function fails(text: string, where: string, message: string | RegExp): void {
  assert.throws(
    () => parse(text),
    (e: unknown) => {
      assert.ok(isOslessError(e, "E_DOCKERFILE"), `not an E_DOCKERFILE OslessError: ${String(e)}`);
      assert.ok(e.message.startsWith(`Dockerfile:${where}: `), `wrong location: ${e.message}`);
      const msg = e.message.slice(`Dockerfile:${where}: `.length);
      if (typeof message === "string") assert.equal(msg, message);
      else assert.match(msg, message);
      assert.ok(e.hint && e.hint.length > 0, "no hint");
      return true;
    },
  );
}

describe("dockerfile parser: the article's Dockerfiles", () => {
  it("FROM scratch / COPY hello / / CMD", () => {
    const df = parse('FROM scratch\nCOPY hello /\nCMD ["/hello"]\n');
    assert.deepEqual(
      df.instructions.map((i) => i.kind),
      ["FROM", "COPY", "CMD"],
    );
    const [from, copy, cmd] = df.instructions;
    assert.ok(from?.kind === "FROM" && from.image === "scratch" && from.stageName === undefined);
    assert.ok(copy?.kind === "COPY");
    assert.deepEqual(copy.sources, [{ kind: "path", path: "hello" }]);
    assert.equal(copy.dest, "/");
    assert.deepEqual(copy.loc, { file: "Dockerfile", line: 2, column: 1, endLine: 2 });
    assert.ok(cmd?.kind === "CMD");
    assert.deepEqual(cmd.cmd, { form: "exec", args: ["/hello"] });
  });

  it('FROM scratch / ADD rootfs.tar.xz / / CMD ["bash"] (how debian:*-slim is made)', () => {
    const df = parse('FROM scratch\nADD rootfs.tar.xz /\nCMD ["bash"]\n');
    const add = df.instructions[1];
    assert.ok(add?.kind === "ADD");
    assert.deepEqual(add.sources, [{ kind: "path", path: "rootfs.tar.xz" }]);
    assert.equal(add.dest, "/");
    assert.equal(add.flags.unpack, undefined);
    assert.deepEqual((df.instructions[2] as Extract<Instruction, { kind: "CMD" }>).cmd, {
      form: "exec",
      args: ["bash"],
    });
  });

  it("a two-stage gcc build", () => {
    const df = parse(
      [
        "FROM debian:12 AS build",
        "RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev",
        "COPY hello.c /src/hello.c",
        "RUN gcc -static -O2 -o /hello /src/hello.c",
        "",
        "FROM scratch",
        "COPY --from=build /hello /hello",
        'ENTRYPOINT ["/hello"]',
        "",
      ].join("\n"),
    );
    const k = df.instructions.map((i) => `${i.kind}@${i.loc.line}`);
    assert.deepEqual(k, ["FROM@1", "RUN@2", "COPY@3", "RUN@4", "FROM@6", "COPY@7", "ENTRYPOINT@8"]);
    const from = df.instructions[0];
    assert.ok(from?.kind === "FROM" && from.image === "debian:12" && from.stageName === "build");
    const run = df.instructions[1];
    assert.ok(run?.kind === "RUN");
    assert.deepEqual(run.cmd, {
      form: "shell",
      command: "apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev",
    });
    const copy = df.instructions[5];
    assert.ok(copy?.kind === "COPY" && copy.flags.from === "build");
    assert.equal(copy.flags.link, false);
  });
});

describe("dockerfile parser: comments, continuations, whitespace", () => {
  it("drops comment lines; a # inside a line is an argument", () => {
    const run = only("# Comment\nFROM x\nRUN echo 'we are running some # of cool things'\n");
    assert.ok(run.kind === "RUN" && run.cmd.form === "shell");
    assert.equal(run.cmd.command, "echo 'we are running some # of cool things'");
  });

  it("joins continuation lines, skipping comment lines inside them (the reference's example)", () => {
    const run = only("FROM x\nRUN echo hello \\\n# comment\nworld\n");
    assert.ok(run.kind === "RUN" && run.cmd.form === "shell");
    assert.equal(run.cmd.command, "echo hello world");
    assert.equal(run.loc.line, 2);
    assert.equal(run.loc.endLine, 4);
    assert.equal(run.raw, "RUN echo hello world");
  });

  it("skips empty lines inside a continuation, as BuildKit does", () => {
    const run = only("FROM x\nRUN a \\\n\n   \n  b\n");
    assert.ok(run.kind === "RUN" && run.cmd.form === "shell");
    assert.equal(run.cmd.command, "a   b");
    assert.equal(run.loc.endLine, 5);
  });

  it("ignores leading whitespace before instructions and comments; keeps it inside continued arguments", () => {
    const df = parse(
      '        # this is a comment-line\n    RUN echo hello\nRUN echo "\\\n     hello\\\n     world"\n',
    );
    const [a, b] = df.instructions;
    assert.ok(a?.kind === "RUN" && a.cmd.form === "shell" && a.cmd.command === "echo hello");
    assert.deepEqual(a.loc, { file: "Dockerfile", line: 2, column: 5, endLine: 2 });
    assert.ok(b?.kind === "RUN" && b.cmd.form === "shell");
    assert.equal(b.cmd.command, 'echo "     hello     world"');
  });

  it("a continuation at the end of the file ends the instruction", () => {
    const run = only("FROM alpine:3.5\n\nRUN something \\");
    assert.ok(run.kind === "RUN" && run.cmd.form === "shell" && run.cmd.command === "something");
  });

  it("an escaped escape at the end of a line is not a continuation", () => {
    const df = parse("FROM x\nRUN echo a\\\\\nRUN echo b\n");
    assert.equal(df.instructions.length, 3);
  });

  it("keywords are case-insensitive and keep their spelling", () => {
    const df = parse("from alpine as Build\nRun echo hi\ncOpY a b\n");
    const [from, run, copy] = df.instructions;
    assert.ok(from?.kind === "FROM" && from.keyword === "from" && from.stageName === "build");
    assert.equal(run?.kind, "RUN");
    assert.equal(copy?.kind, "COPY");
  });

  it("CRLF line endings, a byte-order mark and a missing final newline", () => {
    const df = parse('\uFEFFFROM x\r\nRUN a \\\r\n  b\r\nCMD ["c"]');
    assert.deepEqual(
      df.instructions.map((i) => i.raw),
      ["FROM x", "RUN a   b", 'CMD ["c"]'],
    );
  });
});

describe("dockerfile parser: directives", () => {
  it("reads syntax, escape and check at the top", () => {
    const df = parse(
      "# syntax=docker/dockerfile:1\n#escape=`\n# check=skip=JSONArgsRecommended,StageNameCasing;error=true\n\nFROM x\n",
    );
    assert.equal(df.directives.syntax, "docker/dockerfile:1");
    assert.equal(df.directives.escape, "`");
    assert.deepEqual(df.directives.check, {
      raw: "skip=JSONArgsRecommended,StageNameCasing;error=true",
      skip: ["JSONArgsRecommended", "StageNameCasing"],
      error: true,
    });
  });

  it("accepts the whitespace and key case variants of the reference", () => {
    for (const line of ["#escape=`", "# escape =`", "#\tescape= `", "# escape = `", "#\t  eScApE=`"]) {
      assert.equal(parse(`${line}\nFROM x\n`).directives.escape, "`", line);
    }
  });

  it("after a comment, an empty line or an instruction, a directive is a comment", () => {
    assert.equal(parse("# About my dockerfile\n# escape=`\nFROM x\n").directives.escape, "\\");
    assert.equal(parse("\n# escape=`\nFROM x\n").directives.escape, "\\");
    assert.equal(parse("FROM x\n# escape=`\n").directives.escape, "\\");
    const df = parse("# unknowndirective=value\n# syntax=value\nFROM x\n");
    assert.equal(df.directives.syntax, undefined);
  });

  it("a directive cannot be continued: its second line is an instruction", () => {
    fails("# direc \\\ntive=value\nFROM x\n", "2:1", "unknown instruction: tive=value");
  });

  it("the escape directive changes continuations and keeps Windows paths (the reference's example)", () => {
    // BuildKit (unlike the legacy builder the reference describes) does not take `c:\\` at the end of a line
    // for a continuation: the escape before the last one escapes it. `RUN dir c:\` does continue (to the end).
    const plain = parse("FROM microsoft/nanoserver\nCOPY testfile.txt c:\\\\\nRUN dir c:\\\n");
    assert.deepEqual(
      plain.instructions.map((i) => i.raw),
      ["FROM microsoft/nanoserver", "COPY testfile.txt c:\\\\", "RUN dir c:"],
    );
    const joined = parse("FROM microsoft/nanoserver\nCOPY testfile.txt c:\\\nRUN dir c:\\\n");
    assert.deepEqual(
      joined.instructions.map((i) => i.raw),
      ["FROM microsoft/nanoserver", "COPY testfile.txt c:RUN dir c:"],
    );

    const df = parse("# escape=`\n\nFROM microsoft/nanoserver\nCOPY testfile.txt c:\\\nRUN dir c:\\\n");
    assert.equal(df.instructions.length, 3);
    const [, c, r] = df.instructions;
    assert.ok(c?.kind === "COPY" && c.dest === "c:\\");
    assert.ok(r?.kind === "RUN" && r.cmd.form === "shell" && r.cmd.command === "dir c:\\");
  });

  it("the backtick continues lines under escape=`", () => {
    const df = parse("# escape=`\nFROM x\nRUN New-Item `\n  -ItemType Directory C:\\Example\n");
    const run = df.instructions[1];
    assert.ok(run?.kind === "RUN" && run.cmd.form === "shell");
    assert.equal(run.cmd.command, "New-Item   -ItemType Directory C:\\Example");
  });
});

describe("dockerfile parser: exec and shell forms", () => {
  it("a JSON array of strings is exec form", () => {
    const e = only('FROM x\nENTRYPOINT ["/bin/bash", "-c", "echo hello"]\n');
    assert.ok(e.kind === "ENTRYPOINT");
    assert.deepEqual(e.cmd, { form: "exec", args: ["/bin/bash", "-c", "echo hello"] });
  });

  it("anything else is shell form: invalid JSON falls back (the reference's tasklist example)", () => {
    const bad = only('FROM x\nRUN ["c:\\windows\\system32\\tasklist.exe"]\n');
    assert.ok(bad.kind === "RUN");
    assert.deepEqual(bad.cmd, { form: "shell", command: '["c:\\windows\\system32\\tasklist.exe"]' });
    const good = only('FROM x\nRUN ["c:\\\\windows\\\\system32\\\\tasklist.exe"]\n');
    assert.ok(good.kind === "RUN");
    assert.deepEqual(good.cmd, { form: "exec", args: ["c:\\windows\\system32\\tasklist.exe"] });
    const single = only("FROM x\nCMD ['a', 'b']\n");
    assert.ok(single.kind === "CMD" && single.cmd.form === "shell");
  });

  it("exec form keeps $ literally; CMD [] is an empty exec form", () => {
    const r = only('FROM x\nRUN [ "echo", "$HOME" ]\n');
    assert.ok(r.kind === "RUN");
    assert.deepEqual(r.cmd, { form: "exec", args: ["echo", "$HOME"] });
    const c = only("FROM x\nCMD []\n");
    assert.ok(c.kind === "CMD");
    assert.deepEqual(c.cmd, { form: "exec", args: [] });
  });

  it("COPY, ADD and VOLUME take a JSON list for paths with spaces", () => {
    const c = only('FROM x\nCOPY ["my file", "other file", "/dest dir/"]\n');
    assert.ok(c.kind === "COPY");
    assert.deepEqual(c.sources, [
      { kind: "path", path: "my file" },
      { kind: "path", path: "other file" },
    ]);
    assert.equal(c.dest, "/dest dir/");
    const v = only('FROM x\nVOLUME ["/var/www", "/var/log/apache2"]\n');
    assert.ok(v.kind === "VOLUME");
    assert.deepEqual(v.paths, ["/var/www", "/var/log/apache2"]);
    const v2 = only("FROM x\nVOLUME /var/log /var/db\n");
    assert.ok(v2.kind === "VOLUME");
    assert.deepEqual(v2.paths, ["/var/log", "/var/db"]);
  });

  it("SHELL must be JSON", () => {
    const s = only('FROM x\nSHELL ["powershell", "-command"]\n');
    assert.ok(s.kind === "SHELL");
    assert.deepEqual(s.shell, ["powershell", "-command"]);
    fails("FROM x\nSHELL /bin/bash -c\n", "2:1", "SHELL requires the arguments to be in JSON form");
  });

  it("HEALTHCHECK CMD in both forms, NONE, and its durations", () => {
    const h = only(
      "FROM x\nHEALTHCHECK --interval=5m --timeout=3s \\\n  CMD curl -f http://localhost/ || exit 1\n",
    );
    assert.ok(h.kind === "HEALTHCHECK" && h.check.type === "CMD");
    assert.deepEqual(h.check.cmd, { form: "shell", command: "curl -f http://localhost/ || exit 1" });
    assert.equal(h.flags.interval, 300e9);
    assert.equal(h.flags.timeout, 3e9);
    assert.equal(h.flags.retries, undefined);
    const j = only('FROM x\nHEALTHCHECK --retries=4 --start-period=1m30s CMD ["/check", "-q"]\n');
    assert.ok(j.kind === "HEALTHCHECK" && j.check.type === "CMD");
    assert.deepEqual(j.check.cmd, { form: "exec", args: ["/check", "-q"] });
    assert.equal(j.flags.retries, 4);
    assert.equal(j.flags.startPeriod, 90e9);
    const n = only("FROM x\nhealthcheck none\n");
    assert.ok(n.kind === "HEALTHCHECK");
    assert.deepEqual(n.check, { type: "NONE" });
  });

  it("parses Go durations", () => {
    assert.equal(parseGoDuration("1h2m3.5s"), 3723.5e9);
    assert.equal(parseGoDuration("250ms"), 250e6);
    assert.equal(parseGoDuration("0"), 0);
    assert.equal(parseGoDuration("5"), undefined);
    assert.equal(parseGoDuration("1d"), undefined);
  });
});

describe("dockerfile parser: arguments of the other instructions", () => {
  it("ENV in both forms, quotes and escapes kept for expansion (the reference's examples)", () => {
    const e = only('FROM x\nENV MY_NAME="John Doe" MY_DOG=Rex\\ The\\ Dog \\\n    MY_CAT=fluffy\n');
    assert.ok(e.kind === "ENV");
    assert.deepEqual(e.pairs, [
      { key: "MY_NAME", value: '"John Doe"', noDelimiter: false },
      { key: "MY_DOG", value: "Rex\\ The\\ Dog", noDelimiter: false },
      { key: "MY_CAT", value: "fluffy", noDelimiter: false },
    ]);
    const old = only("FROM x\nENV ONE TWO= THREE=world\n");
    assert.ok(old.kind === "ENV");
    assert.deepEqual(old.pairs, [{ key: "ONE", value: "TWO= THREE=world", noDelimiter: true }]);
  });

  it("LABEL with quoted keys and multi-line values", () => {
    const l = only(
      'FROM x\nLABEL "com.example.vendor"="ACME Incorporated" version="1.0" description="This text illustrates \\\nthat label-values can span multiple lines."\n',
    );
    assert.ok(l.kind === "LABEL");
    assert.deepEqual(
      l.pairs.map((p) => [p.key, p.value]),
      [
        ['"com.example.vendor"', '"ACME Incorporated"'],
        ["version", '"1.0"'],
        ["description", '"This text illustrates that label-values can span multiple lines."'],
      ],
    );
  });

  it("ARG with and without defaults", () => {
    const a = only("FROM x\nARG user1 buildno=1 empty=\n");
    assert.ok(a.kind === "ARG");
    assert.deepEqual(a.definitions, [
      { key: "user1", value: undefined },
      { key: "buildno", value: "1" },
      { key: "empty", value: "" },
    ]);
  });

  it("USER, WORKDIR, STOPSIGNAL, EXPOSE, MAINTAINER", () => {
    const df = parse(
      "FROM x\nUSER 1000:1000\nWORKDIR /a b\nSTOPSIGNAL SIGKILL\nEXPOSE 80/tcp 80/udp\nMAINTAINER Sven <s@x>\n",
    );
    const [, u, w, s, e, m] = df.instructions;
    assert.ok(u?.kind === "USER" && u.user === "1000:1000");
    assert.ok(w?.kind === "WORKDIR" && w.path === "/a b");
    assert.ok(s?.kind === "STOPSIGNAL" && s.signal === "SIGKILL");
    assert.ok(e?.kind === "EXPOSE");
    assert.deepEqual(e.ports, ["80/tcp", "80/udp"]);
    assert.ok(m?.kind === "MAINTAINER" && m.maintainer === "Sven <s@x>");
  });

  it("ONBUILD keeps the trigger's expression and parses it", () => {
    const o = only("FROM x\nONBUILD ADD . /app/src\n");
    assert.ok(o.kind === "ONBUILD");
    assert.equal(o.expression, "ADD . /app/src");
    assert.ok(o.trigger.kind === "ADD" && o.trigger.dest === "/app/src");
    assert.equal(o.trigger.loc.column, 9);
    const r = only("FROM x\nonbuild RUN --mount=from=config,target=/opt/appconfig make\n");
    assert.ok(r.kind === "ONBUILD" && r.trigger.kind === "RUN");
    assert.equal(r.trigger.flags.mounts[0]?.options.from, "config");
  });
});

describe("dockerfile parser: flags", () => {
  it("COPY and ADD flags with their types", () => {
    const c = only(
      'FROM x\nCOPY --from=build --chown=myuser:mygroup --chmod=644 --link --parents=false --exclude=*.txt --exclude="*.md" hom* /mydir/\n',
    );
    assert.ok(c.kind === "COPY");
    assert.deepEqual(c.flags, {
      from: "build",
      chown: "myuser:mygroup",
      chmod: "644",
      link: true,
      parents: false,
      exclude: ["*.txt", "*.md"],
    });
    assert.deepEqual(
      c.flagWords.map((w) => [w.name, w.value, w.column]),
      [
        ["from", "build", 6],
        ["chown", "myuser:mygroup", 19],
        ["chmod", "644", 42],
        ["link", undefined, 54],
        ["parents", "false", 61],
        ["exclude", "*.txt", 77],
        ["exclude", "*.md", 93],
      ],
    );
    const a = only(
      "FROM x\nADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d --keep-git-dir=true --unpack=TRUE https://x/a.tar.gz /\n",
    );
    assert.ok(a.kind === "ADD");
    assert.equal(a.flags.checksum, "sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d");
    assert.equal(a.flags.keepGitDir, true);
    assert.equal(a.flags.unpack, true);
  });

  it("RUN --mount, --network, --security", () => {
    const r = only(
      "FROM x\nRUN --mount=type=cache,target=/var/cache/apt,sharing=locked \\\n  --mount=type=secret,id=aws,target=/root/.aws/credentials,required --network=none --security=sandbox \\\n  apt-get update\n",
    );
    assert.ok(r.kind === "RUN");
    assert.deepEqual(r.flags.mounts, [
      {
        raw: "type=cache,target=/var/cache/apt,sharing=locked",
        type: "cache",
        options: { target: "/var/cache/apt", sharing: "locked" },
      },
      {
        raw: "type=secret,id=aws,target=/root/.aws/credentials,required",
        type: "secret",
        options: { id: "aws", target: "/root/.aws/credentials", required: "true" },
      },
    ]);
    assert.equal(r.flags.network, "none");
    assert.equal(r.flags.security, "sandbox");
    assert.deepEqual(r.cmd, { form: "shell", command: "apt-get update" });
    assert.equal(r.flagWords[1]?.line, 3);
    assert.equal(r.flagWords[1]?.column, 3);
  });

  it("a bare -- ends the flags; a quoted flag value keeps its spaces", () => {
    const r = only('FROM x\nCOPY --chown="a b" -- --weird-name /d/\n');
    assert.ok(r.kind === "COPY");
    assert.equal(r.flags.chown, "a b");
    assert.deepEqual(r.sources, [{ kind: "path", path: "--weird-name" }]);
  });

  it("FROM --platform", () => {
    const f = only("ARG P\nFROM --platform=$BUILDPLATFORM golang AS build\n");
    assert.ok(f.kind === "FROM" && f.flags.platform === "$BUILDPLATFORM" && f.stageName === "build");
  });
});

describe("dockerfile parser: heredocs", () => {
  it("RUN with a single heredoc (the reference's example)", () => {
    const r = only(
      "FROM debian\nRUN <<EOT bash\n  set -ex\n  apt-get update\n  apt-get install -y vim\nEOT\nCMD x\n",
    );
    assert.ok(r.kind === "RUN");
    assert.deepEqual(r.cmd, { form: "shell", command: "<<EOT bash" });
    assert.deepEqual(r.heredocs, [
      {
        name: "EOT",
        fd: null,
        expand: true,
        chomp: false,
        content: "  set -ex\n  apt-get update\n  apt-get install -y vim\n",
      },
    ]);
    assert.deepEqual(r.loc, { file: "Dockerfile", line: 2, column: 1, endLine: 6 });
    assert.equal(parse("FROM debian\nRUN <<EOT bash\nx\nEOT\nCMD x\n").instructions[2]?.loc.line, 5);
  });

  it("several heredocs on one line, <<- strips tabs, quoted names disable expansion", () => {
    const r = only(
      'FROM alpine\nRUN <<FILE1 cat > file1 && 3<<-"FILE2" cat > file2\nI am\nfirst\nFILE1\n\tI am\n\t\tsecond\n\tFILE2\n',
    );
    assert.ok(r.kind === "RUN");
    assert.equal(r.heredocs.length, 2);
    const [a, b] = r.heredocs;
    assert.deepEqual(a, { name: "FILE1", fd: null, expand: true, chomp: false, content: "I am\nfirst\n" });
    assert.deepEqual(b, {
      name: "FILE2",
      fd: 3,
      expand: false,
      chomp: true,
      content: "\tI am\n\t\tsecond\n",
    });
    assert.equal(heredocBody(b as NonNullable<typeof b>), "I am\nsecond\n");
    assert.equal(r.loc.endLine, 8);
  });

  it("COPY <<EOF dest creates an inline file; <<'EOT' and <<\"EOT\" do not expand", () => {
    const c = only("FROM alpine\nCOPY <<EOF greeting.txt\nhello world\nEOF\n");
    assert.ok(c.kind === "COPY");
    assert.deepEqual(c.sources, [
      {
        kind: "heredoc",
        heredoc: { name: "EOF", fd: null, expand: true, chomp: false, content: "hello world\n" },
      },
    ]);
    assert.equal(c.dest, "greeting.txt");
    for (const q of ["'EOT'", '"EOT"', 'E"O"T']) {
      const x = only(`FROM alpine\nCOPY <<-${q} /script.sh\n  echo "hello \${FOO}"\nEOT\n`);
      assert.ok(x.kind === "COPY");
      assert.equal(x.heredocs[0]?.expand, false, q);
      assert.equal(x.heredocs[0]?.name, "EOT", q);
    }
  });

  it("COPY mixes heredoc and path sources; comment-like lines belong to the body", () => {
    const c = only("FROM x\nCOPY <<A a.txt <<B /dest/\n# not a comment\nA\n\nB\n");
    assert.ok(c.kind === "COPY");
    assert.deepEqual(
      c.sources.map((s) => (s.kind === "path" ? s.path : `${s.heredoc.name}:${s.heredoc.content}`)),
      ["A:# not a comment\n", "a.txt", "B:\n"],
    );
  });

  it("heredoc markers only count in RUN, COPY, ADD (and ONBUILD of those), never in exec form or quotes", () => {
    const df = parse('FROM x\nRUN echo "<<EOF"\nRUN ["cat", "<<EOF"]\nENV A=<<EOF\n');
    assert.equal(df.instructions.length, 4);
    assert.ok(df.instructions.every((i) => !("heredocs" in i) || i.heredocs.length === 0));
    const o = only("FROM x\nONBUILD RUN <<EOF\necho hi\nEOF\n");
    assert.ok(o.kind === "ONBUILD" && o.trigger.kind === "RUN");
    assert.equal(o.trigger.heredocs[0]?.content, "echo hi\n");
    assert.equal(o.expression, "RUN <<EOF\necho hi\nEOF");
  });

  it("a heredoc in a continued line is read after the last continued line", () => {
    const r = only("FROM x\nRUN --network=none \\\n  <<EOF sh\necho 1\nEOF\n");
    assert.ok(r.kind === "RUN");
    assert.equal(r.heredocs[0]?.content, "echo 1\n");
    assert.equal(r.loc.endLine, 5);
  });
});

describe("dockerfile parser: errors carry FILE:LINE:COL", () => {
  it("unknown instruction, with a suggestion for near misses", () => {
    fails("FROM x\n  FORM y\n", "2:3", "unknown instruction: FORM (did you mean FROM?)");
    fails("FROM x\ncopi a b\n", "2:1", "unknown instruction: copi (did you mean copy?)");
    fails("FROM x\nRUNNING a\n", "2:1", "unknown instruction: RUNNING");
    fails("FROM x\nRUN a \\\n b\nFOOBAR\n", "4:1", "unknown instruction: FOOBAR");
  });

  it("bad flags", () => {
    fails("FROM x\nCOPY --form=build a b\n", "2:6", "unknown flag: --form (did you mean --from?)");
    fails(
      "FROM x\nRUN --network=none \\\n    --mnt=type=cache,target=/x make\n",
      "3:5",
      "unknown flag: --mnt (did you mean --mount?)",
    );
    fails("FROM x\nUSER --foo bar\n", "2:6", "unknown flag: --foo");
    fails("FROM x\nCOPY --from=a --from=b s d\n", "2:15", "duplicate flag specified: --from");
    fails("FROM x\nCOPY --link=maybe s d\n", "2:6", "expecting boolean value for flag --link, not: maybe");
    fails("FROM x\nCOPY --link= s d\n", "2:6", "missing a value on flag: --link");
    fails("FROM x\nCOPY --chown s d\n", "2:6", "missing a value on flag: --chown");
    fails("FROM x\nADD --from=x s d\n", "2:5", "unknown flag: --from");
    fails("FROM x\nRUN --network=bridge x\n", "2:5", 'invalid network mode "bridge"');
    fails("FROM x\nRUN --security=root x\n", "2:5", 'unsupported security mode "root"');
    fails(
      "FROM x\nRUN --mount=type=cahce,target=/x x\n",
      "2:5",
      'unsupported mount type "cahce" (did you mean cache?)',
    );
    fails(
      "FROM x\nRUN --mount=type=bind,taget=/x x\n",
      "2:5",
      "unexpected key 'taget' in 'taget=/x' (did you mean target?)",
    );
    fails(
      "FROM x\nRUN --mount=type=bind,nonsense x\n",
      "2:5",
      "invalid field 'nonsense' must be a key=value pair",
    );
    fails("FROM x\nHEALTHCHECK --interval=5 CMD x\n", "2:13", 'time: invalid duration "5" for --interval');
    fails("FROM x\nHEALTHCHECK --timeout=1us CMD x\n", "2:13", 'Interval "timeout" cannot be less than 1ms');
    fails("FROM x\nHEALTHCHECK --retries=-1 CMD x\n", "2:13", "--retries cannot be negative (-1)");
    fails("FROM --plaform=linux/amd64 x\n", "1:6", "unknown flag: --plaform (did you mean --platform?)");
  });

  it("missing arguments", () => {
    fails(
      "FROM x\nCOPY onlyone\n",
      "2:1",
      /^COPY requires at least two arguments, but only one was provided/,
    );
    fails("FROM x\nADD\n", "2:1", /^ADD requires at least two arguments, but none was provided/);
    fails("FROM x\nRUN\n", "2:1", "RUN requires at least one argument");
    fails("FROM x\nCMD\n", "2:1", "CMD requires at least one argument");
    fails("FROM x\nENV\n", "2:1", "ENV requires at least one argument");
    fails("FROM x\nENV ONLYKEY\n", "2:1", "ENV must have two arguments");
    fails(
      "FROM x\nENV A=1 B\n",
      "2:1",
      `Syntax error - can't find = in "B". Must be of the form: name=value`,
    );
    fails("FROM x\nLABEL =x\n", "2:1", "LABEL names can not be blank");
    fails("FROM x\nARG =x\n", "2:1", "ARG names can not be blank");
    fails("FROM x\nARG\n", "2:1", "ARG requires at least one argument");
    fails("FROM x\nUSER\n", "2:1", "USER requires exactly one argument");
    fails("FROM x\nWORKDIR\n", "2:1", "WORKDIR requires exactly one argument");
    fails("FROM x\nEXPOSE\n", "2:1", "EXPOSE requires at least one argument");
    fails("FROM x\nVOLUME\n", "2:1", "VOLUME requires at least one argument");
    fails('FROM x\nVOLUME ["/a", " "]\n', "2:1", "VOLUME specified can not be an empty string");
    fails("FROM x\nSTOPSIGNAL\n", "2:1", "STOPSIGNAL requires exactly one argument");
    fails("FROM x\nONBUILD\n", "2:1", "ONBUILD requires at least one argument");
    fails("FROM\n", "1:1", "FROM requires either one or three arguments");
    fails("FROM a b\n", "1:1", "FROM requires either one or three arguments");
    fails(
      "FROM a AS 1st\n",
      "1:1",
      `invalid name for build stage: "1st", name can't start with a number or contain symbols`,
    );
    fails("FROM x\nHEALTHCHECK\n", "2:1", "HEALTHCHECK requires at least one argument");
    fails("FROM x\nHEALTHCHECK CMD\n", "2:1", "Missing command after HEALTHCHECK CMD");
    fails("FROM x\nHEALTHCHECK NONE x\n", "2:1", "HEALTHCHECK NONE takes no arguments");
    fails("FROM x\nHEALTHCHECK --interval=1s NONE\n", "2:1", "HEALTHCHECK NONE takes no flags");
    fails("FROM x\nHEALTHCHECK RUN x\n", "2:1", 'Unknown type "RUN" in HEALTHCHECK (try CMD)');
  });

  it("JSON arrays of non-strings", () => {
    fails(
      'FROM x\nCMD ["a", 1]\n',
      "2:5",
      "CMD: when using JSON array syntax, arrays must be comprised of strings only",
    );
    fails(
      'FROM x\nCOPY [true, "/d"]\n',
      "2:6",
      "COPY: when using JSON array syntax, arrays must be comprised of strings only",
    );
  });

  it("malformed heredocs", () => {
    fails(
      "FROM x\nRUN <<EOF\necho\n",
      "2:1",
      'unterminated heredoc: no line "EOF" ends the here-document started on line 2',
    );
    fails("FROM x\nRUN <<A <<B\na\nA\nb\n", "2:1", /^unterminated heredoc: no line "B"/);
    fails("FROM x\nRUN <<EOF\necho\n\tEOF\n", "2:1", /^unterminated heredoc/);
    fails("FROM x\nCOPY a <<EOF\nx\nEOF\n", "2:1", "COPY cannot accept a heredoc as a destination");
  });

  it("ONBUILD of FROM, MAINTAINER or ONBUILD, and bad triggers", () => {
    fails("FROM x\nONBUILD FROM y\n", "2:9", "FROM isn't allowed as an ONBUILD trigger");
    fails("FROM x\nONBUILD maintainer me\n", "2:9", "MAINTAINER isn't allowed as an ONBUILD trigger");
    fails("FROM x\nONBUILD ONBUILD RUN x\n", "2:9", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
    fails("FROM x\nONBUILD RUNN x\n", "2:9", "unknown instruction: RUNN (did you mean RUN?)");
    fails("FROM x\nONBUILD COPY --form=a b c\n", "2:14", "unknown flag: --form (did you mean --from?)");
  });

  it("directives", () => {
    fails("# escape=x\nFROM x\n", "1:1", "invalid escape token 'x' does not match ` or \\");
    fails("# syntax=a\n# SYNTAX=b\n\nFROM x\n", "2:1", "only one syntax parser directive can be used");
    fails("# check=error=maybe\nFROM x\n", "1:1", "invalid check directive: error=maybe is not a boolean");
  });

  it("an empty file or one with only comments", () => {
    fails("", "1:1", "the Dockerfile has no instructions");
    fails("# only a comment\n\n", "2:1", "the Dockerfile has no instructions");
  });
});
