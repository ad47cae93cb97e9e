// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile variable syntax (${VAR}) is the subject of these tests
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isOslessError } from "../../errors.ts";
import {
  expandInstruction,
  expandWord,
  expandWords,
  heredocFileContent,
  runHeredocCommand,
} from "./expand.ts";
import { parseDockerfile } from "./parser.ts";
import { findStage, instructionsJson, stages, targetStage } from "./stages.ts";
import type { Instruction } from "./types.ts";

const parse = (text: string) => parseDockerfile(text, { file: "Dockerfile" });

function failsWith(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isOslessError(e, "E_DOCKERFILE"), String(e));
    assert.equal(e.message, message);
    return true;
  });
}

/** Runs ENV/ARG instructions of a stage the way the builder will: each instruction sees the env before it. */
function simulateEnv(instructions: Instruction[], env = new Map<string, string>()): Map<string, string>[] {
  const seen: Map<string, string>[] = [];
  for (const ins of instructions) {
    seen.push(new Map(env));
    const x = expandInstruction(ins, env);
    if (x?.kind === "ENV") for (const p of x.pairs) env.set(p.key, p.value);
    if (x?.kind === "ARG") for (const d of x.definitions) if (d.value !== undefined) env.set(d.key, d.value);
  }
  return seen;
}

describe("stages", () => {
  const text = [
    "ARG DEBIAN=debian",
    "ARG TAG=12-slim",
    "ARG IMAGE=${DEBIAN}:${TAG}",
    "ARG NODEFAULT",
    "FROM ${IMAGE} AS build",
    "RUN make",
    "FROM build AS test",
    "RUN make test",
    "FROM --platform=$BUILDPLATFORM scratch",
    "COPY --from=build /out /",
    "",
  ].join("\n");

  it("global ARGs, FROM expanded, stages and their bases", () => {
    const st = stages(parse(text), { builtinArgs: { BUILDPLATFORM: "linux/amd64" } });
    assert.deepEqual(
      st.globalArgs.map((a) => [a.key, a.default, a.value]),
      [
        ["DEBIAN", "debian", "debian"],
        ["TAG", "12-slim", "12-slim"],
        ["IMAGE", "${DEBIAN}:${TAG}", "debian:12-slim"],
        ["NODEFAULT", undefined, undefined],
      ],
    );
    assert.deepEqual(
      st.stages.map((s) => [
        s.index,
        s.name,
        s.image,
        s.platform,
        s.baseStage,
        s.scratch,
        s.instructions.length,
      ]),
      [
        [0, "build", "debian:12-slim", undefined, undefined, false, 1],
        [1, "test", "build", undefined, 0, false, 1],
        [2, undefined, "scratch", "linux/amd64", undefined, true, 1],
      ],
    );
    assert.equal(findStage(st, "BUILD")?.index, 0);
    assert.equal(findStage(st, "2")?.index, 2);
    assert.equal(findStage(st, "debian"), undefined);
    assert.equal(targetStage(st, undefined, "Dockerfile").index, 2);
    assert.equal(targetStage(st, "test", "Dockerfile").index, 1);
    failsWith(
      () => targetStage(st, "tset", "Dockerfile"),
      'Dockerfile: target stage "tset" could not be found (did you mean test?)',
    );
  });

  it("--build-arg overrides a default, and later defaults see the override", () => {
    const st = stages(parse(text), {
      buildArgs: new Map([["TAG", "13"]]),
      builtinArgs: { BUILDPLATFORM: "linux/arm64" },
    });
    assert.equal(st.stages[0]?.image, "debian:13");
    assert.equal(st.globalEnv.get("IMAGE"), "debian:13");
  });

  it("the reference's ARG/FROM examples", () => {
    const st = stages(
      parse(
        "ARG  CODE_VERSION=latest\nFROM base:${CODE_VERSION}\nCMD  /code/run-app\n\nFROM extras:${CODE_VERSION}\nCMD  /code/run-extras\n",
      ),
    );
    assert.deepEqual(
      st.stages.map((s) => s.image),
      ["base:latest", "extras:latest"],
    );
    const v = stages(
      parse("ARG VERSION=latest\nFROM busybox:$VERSION\nARG VERSION\nRUN echo $VERSION > image_version\n"),
    );
    assert.equal(v.stages[0]?.image, "busybox:latest");
    assert.equal(v.stages[0]?.instructions[0]?.kind, "ARG");
  });

  it("errors: instructions before FROM, no FROM, duplicate names, blank bases, ${X:?}", () => {
    failsWith(
      () => stages(parse("ARG A=1\nRUN echo\nFROM x\n")),
      "Dockerfile:2:1: RUN before the first FROM: no build stage in current context",
    );
    failsWith(() => stages(parse("ARG A=1\n")), "Dockerfile:1:1: the Dockerfile has no FROM");
    failsWith(
      () => stages(parse("FROM a AS x\nFROM b AS X\n")),
      'Dockerfile:2:1: duplicate stage name "x" (stage 0 on line 1 has it)',
    );
    failsWith(
      () => stages(parse("ARG BASE\nFROM $BASE\n")),
      "Dockerfile:2:1: base name ($BASE) should not be blank",
    );
    failsWith(
      () => stages(parse("ARG BASE\n  FROM ${BASE:?pass-a-base}\n")),
      'Dockerfile:2:3: failed to process "${BASE:?pass-a-base}": BASE: pass-a-base',
    );
    failsWith(
      () => stages(parse("ARG P\nFROM --platform=$P x\n")),
      "Dockerfile:2:1: empty platform value from expression $P",
    );
  });
});

describe("expansion of instructions", () => {
  it("the reference's environment replacement example", () => {
    const df = parse("FROM busybox\nENV FOO=/bar\nWORKDIR ${FOO}\nADD . $FOO\nCOPY \\$FOO /quux\n");
    const ins = stages(df).stages[0]?.instructions as Instruction[];
    const envs = simulateEnv(ins);
    assert.deepEqual(expandInstruction(ins[1] as Instruction, envs[1] as Map<string, string>), {
      kind: "WORKDIR",
      path: "/bar",
    });
    const add = expandInstruction(ins[2] as Instruction, envs[2] as Map<string, string>);
    assert.ok(add?.kind === "ADD");
    assert.deepEqual([add.sources, add.dest], [[{ kind: "path", path: "." }], "/bar"]);
    const copy = expandInstruction(ins[3] as Instruction, envs[3] as Map<string, string>);
    assert.ok(copy?.kind === "COPY");
    assert.deepEqual([copy.sources, copy.dest], [[{ kind: "path", path: "$FOO" }], "/quux"]);
  });

  it("the reference's comment-looking suffix is part of the argument (a # inside a line is not a comment)", () => {
    const df = parse("FROM busybox\nENV FOO=/bar\nWORKDIR ${FOO}   # WORKDIR /bar\n");
    const w = df.instructions[2] as Instruction;
    assert.deepEqual(expandInstruction(w, new Map([["FOO", "/bar"]])), {
      kind: "WORKDIR",
      path: "/bar   # WORKDIR /bar",
    });
  });

  it("one value per variable throughout an instruction (ENV abc=bye def=$abc)", () => {
    const ins = parse("FROM x\nENV abc=hello\nENV abc=bye def=$abc\nENV ghi=$abc\n").instructions.slice(1);
    const envs = simulateEnv(ins);
    const last = new Map(envs[2]);
    const x = expandInstruction(ins[2] as Instruction, last);
    assert.ok(x?.kind === "ENV");
    for (const p of x.pairs) last.set(p.key, p.value);
    assert.equal(last.get("def"), "hello");
    assert.equal(last.get("ghi"), "bye");
  });

  it("ENV and LABEL values lose their quotes and escapes; old-form ENV keeps the rest of the line", () => {
    const ins = parse(
      'FROM x\nENV MY_NAME="John Doe" MY_DOG=Rex\\ The\\ Dog MY_CAT=fluffy\nENV ONE TWO= THREE=world\nLABEL "com.example.vendor"="ACME Incorporated" description="This text illustrates \\\nthat label-values can span multiple lines."\n',
    ).instructions;
    assert.deepEqual(expandInstruction(ins[1] as Instruction, new Map()), {
      kind: "ENV",
      pairs: [
        { key: "MY_NAME", value: "John Doe" },
        { key: "MY_DOG", value: "Rex The Dog" },
        { key: "MY_CAT", value: "fluffy" },
      ],
    });
    assert.deepEqual(expandInstruction(ins[2] as Instruction, new Map()), {
      kind: "ENV",
      pairs: [{ key: "ONE", value: "TWO= THREE=world" }],
    });
    assert.deepEqual(expandInstruction(ins[3] as Instruction, new Map()), {
      kind: "LABEL",
      pairs: [
        { key: "com.example.vendor", value: "ACME Incorporated" },
        { key: "description", value: "This text illustrates that label-values can span multiple lines." },
      ],
    });
  });

  it("ARG scope: USER ${username:-some_user} before the ARG, the build arg after", () => {
    const ins = parse(
      "FROM busybox\nUSER ${username:-some_user}\nARG username\nUSER $username\n",
    ).instructions.slice(1);
    assert.deepEqual(expandInstruction(ins[0] as Instruction, new Map()), {
      kind: "USER",
      user: "some_user",
    });
    assert.deepEqual(expandInstruction(ins[2] as Instruction, new Map([["username", "what_user"]])), {
      kind: "USER",
      user: "what_user",
    });
    // WORKDIR $DIRPATH/$DIRNAME with DIRNAME never set: empty, as BuildKit expands it.
    const w = parse("FROM x\nWORKDIR $DIRPATH/$DIRNAME\n").instructions[1] as Instruction;
    assert.deepEqual(expandInstruction(w, new Map([["DIRPATH", "/path"]])), {
      kind: "WORKDIR",
      path: "/path/",
    });
  });

  it("EXPOSE splits expanded words; VOLUME and STOPSIGNAL expand; RUN/CMD do not", () => {
    const ins = parse(
      "FROM x\nEXPOSE $PORTS 9000/udp\nVOLUME $DATA\nSTOPSIGNAL $SIG\nRUN echo $HOME\nCMD echo $HOME\n",
    ).instructions;
    const env = new Map([
      ["PORTS", "80/tcp 443/tcp"],
      ["DATA", "/data"],
      ["SIG", "SIGQUIT"],
    ]);
    assert.deepEqual(expandInstruction(ins[1] as Instruction, env), {
      kind: "EXPOSE",
      ports: ["80/tcp", "443/tcp", "9000/udp"],
    });
    assert.deepEqual(expandInstruction(ins[2] as Instruction, env), { kind: "VOLUME", paths: ["/data"] });
    assert.deepEqual(expandInstruction(ins[3] as Instruction, env), {
      kind: "STOPSIGNAL",
      signal: "SIGQUIT",
    });
    assert.equal(expandInstruction(ins[4] as Instruction, env), undefined);
    assert.equal(expandInstruction(ins[5] as Instruction, env), undefined);
  });

  it("COPY flags expand, --from must be literal, heredoc files expand unless quoted (the reference's script.sh)", () => {
    const ins = parse(
      'FROM alpine\nARG FOO=bar\nCOPY --chown=$U:$G --chmod=$MODE <<-EOT /script.sh\n  echo "hello ${FOO}"\n\tEOT\nCOPY <<-"EOT" /script.sh\n\t  echo "hello ${FOO}"\nEOT\nCOPY --from=$STAGE /a /b\n',
    ).instructions;
    const env = new Map([
      ["FOO", "bar"],
      ["U", "10"],
      ["G", "11"],
      ["MODE", "755"],
    ]);
    const c = expandInstruction(ins[2] as Instruction, env);
    assert.ok(c?.kind === "COPY");
    assert.deepEqual(c.sources, [{ kind: "heredoc", name: "EOT", content: '  echo "hello bar"\n' }]);
    assert.equal(c.chown, "10:11");
    assert.equal(c.chmod, "755");
    const q = ins[3] as Extract<Instruction, { kind: "COPY" }>;
    assert.equal(
      heredocFileContent(q.heredocs[0] as NonNullable<(typeof q.heredocs)[0]>, env, q.loc),
      '  echo "hello ${FOO}"\n',
    );
    failsWith(
      () => expandInstruction(ins[4] as Instruction, env),
      "Dockerfile:9:1: variable expansion is not supported for --from",
    );
  });

  it("errors are located at the instruction", () => {
    const ins = parse("FROM x\n\n   WORKDIR ${DIR:?set DIR}\n").instructions[1] as Instruction;
    failsWith(
      () => expandInstruction(ins, new Map()),
      'Dockerfile:3:4: failed to process "${DIR:?set DIR}": DIR: set DIR',
    );
    const at = { file: "Dockerfile", line: 7, column: 2 };
    failsWith(
      () => expandWord("${X", new Map(), at),
      `Dockerfile:7:2: failed to process "\${X": syntax error: missing '}'`,
    );
    assert.deepEqual(expandWords(["$A", "'$A'", "${A} b"], { A: "1" }, at), ["1", "$A", "1 b"]);
    assert.deepEqual(expandWords(["$A x"], { A: "1 2" }, at, { split: true }), ["1", "2", "x"]);
    assert.equal(expandWord("`$A", { A: "1" }, at, { escape: "`" }), "$A");
  });
});

describe("instructionsJson (osless build --print-instructions)", () => {
  it("has a stable shape with FROM expanded from the global args", () => {
    const df = parse(
      '# syntax=docker/dockerfile:1\nARG BASE=debian:12\nFROM ${BASE} AS build\nRUN --network=none <<EOF\necho hi\nEOF\n\nFROM scratch\nCOPY --from=build --link /hello /\nONBUILD RUN make\nCMD ["/hello"]\n',
    );
    const json = instructionsJson(df, { buildArgs: { BASE: "debian:13" } });
    assert.deepEqual(json, {
      file: "Dockerfile",
      directives: { syntax: "docker/dockerfile:1", escape: "\\", check: null },
      globalArgs: [{ name: "BASE", default: "debian:12", value: "debian:13", line: 2, column: 1 }],
      stages: [
        {
          index: 0,
          name: "build",
          line: 3,
          column: 1,
          from: { image: "${BASE}", platform: null },
          base: { image: "debian:13", platform: null, stage: null, scratch: false },
          instructions: [
            {
              kind: "FROM",
              line: 3,
              column: 1,
              endLine: 3,
              raw: "FROM ${BASE} AS build",
              flags: {},
              args: ["${BASE}", "AS", "build"],
              form: null,
              heredocs: [],
              trigger: null,
              expanded: { image: "debian:13", platform: null },
            },
            {
              kind: "RUN",
              line: 4,
              column: 1,
              endLine: 6,
              raw: "RUN --network=none <<EOF",
              flags: { network: "none" },
              args: ["<<EOF"],
              form: "shell",
              heredocs: [{ name: "EOF", fd: null, expand: true, chomp: false, content: "echo hi\n" }],
              trigger: null,
              expanded: null,
            },
          ],
        },
        {
          index: 1,
          name: null,
          line: 8,
          column: 1,
          from: { image: "scratch", platform: null },
          base: { image: "scratch", platform: null, stage: null, scratch: true },
          instructions: [
            {
              kind: "FROM",
              line: 8,
              column: 1,
              endLine: 8,
              raw: "FROM scratch",
              flags: {},
              args: ["scratch"],
              form: null,
              heredocs: [],
              trigger: null,
              expanded: { image: "scratch", platform: null },
            },
            {
              kind: "COPY",
              line: 9,
              column: 1,
              endLine: 9,
              raw: "COPY --from=build --link /hello /",
              flags: { from: "build", link: true },
              args: ["/hello", "/"],
              form: null,
              heredocs: [],
              trigger: null,
              expanded: null,
            },
            {
              kind: "ONBUILD",
              line: 10,
              column: 1,
              endLine: 10,
              raw: "ONBUILD RUN make",
              flags: {},
              args: ["RUN make"],
              form: null,
              heredocs: [],
              trigger: {
                kind: "RUN",
                line: 10,
                column: 9,
                endLine: 10,
                raw: "RUN make",
                flags: {},
                args: ["make"],
                form: "shell",
                heredocs: [],
                trigger: null,
                expanded: null,
              },
              expanded: null,
            },
            {
              kind: "CMD",
              line: 11,
              column: 1,
              endLine: 11,
              raw: 'CMD ["/hello"]',
              flags: {},
              args: ["/hello"],
              form: "exec",
              heredocs: [],
              trigger: null,
              expanded: null,
            },
          ],
        },
      ],
    });
    // It survives a JSON round trip unchanged (no undefined, no cycles).
    assert.deepEqual(JSON.parse(JSON.stringify(json)), json);
  });

  it("carries expansions the builder passes in", () => {
    const df = parse("FROM x\nENV A=$B\n");
    const env = df.instructions[1] as Instruction;
    const x = expandInstruction(env, { B: "2" });
    assert.ok(x);
    const json = instructionsJson(df, { expanded: new Map([[env, x]]) });
    assert.deepEqual(json.stages[0]?.instructions[1]?.expanded, { pairs: [{ key: "A", value: "2" }] });
  });
});

describe("RUN with here-documents: what the shell receives", () => {
  const run = (text: string) =>
    parse(`FROM x\n${text}`).instructions[1] as Extract<Instruction, { kind: "RUN" }>;
  it("a lone heredoc is the script; a shebang makes it a file; anything else is rebuilt for the shell", () => {
    assert.deepEqual(runHeredocCommand(run("RUN <<-EOF\n\tmkdir -p foo/bar\nEOF\n")), {
      kind: "script",
      script: "mkdir -p foo/bar\n",
    });
    assert.deepEqual(
      runHeredocCommand(run('RUN <<EOT\n#!/usr/bin/env python\nprint("hello world")\nEOT\n')),
      {
        kind: "file",
        name: "EOT",
        content: '#!/usr/bin/env python\nprint("hello world")\n',
      },
    );
    assert.deepEqual(
      runHeredocCommand(
        run("RUN <<FILE1 cat > file1 && <<FILE2 cat > file2\nI am\nfirst\nFILE1\nI am\nsecond\nFILE2\n"),
      ),
      {
        kind: "command",
        command: "<<FILE1 cat > file1 && <<FILE2 cat > file2\nI am\nfirst\nFILE1\nI am\nsecond\nFILE2",
      },
    );
    assert.equal(runHeredocCommand(run("RUN echo hi\n")), undefined);
  });
});
