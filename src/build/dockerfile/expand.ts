/**
 * Variable expansion of parsed instructions, the step the builder runs with its ARG/ENV state at each instruction.
 * Which instructions expand follows the reference: ADD COPY ENV EXPOSE FROM LABEL STOPSIGNAL USER VOLUME WORKDIR
 * (and ARG defaults; ONBUILD triggers only when they run downstream). RUN, CMD and ENTRYPOINT are left to the shell.
 * Every word expands as one word (BuildKit's ProcessWord: quotes removed, whitespace kept), except EXPOSE,
 * whose words are split after expansion (ProcessWords). Errors are located `FILE:LINE:COL:` at the instruction.
 */

import type { OslessError } from "../../errors.ts";
import { dockerfileError, type Position } from "./errors.ts";
import { heredocBody, parseHeredocWord } from "./parser.ts";
import { type EscapeChar, ShellLex, ShellLexError, type VarEnv } from "./shell-lex.ts";
import type { Heredoc, Instruction, RunMount } from "./types.ts";

export interface ExpandOptions {
  /** The Dockerfile's escape character (`dockerfile.directives.escape`); `\` by default. */
  escape?: EscapeChar;
}

function located(e: unknown, at: Position, word: string): OslessError | unknown {
  if (!(e instanceof ShellLexError)) return e;
  const hint = /is not allowed to be (unset|empty)/.test(e.message)
    ? "Pass the variable with --build-arg NAME=VALUE, or give the ARG a default."
    : "Check the $" + "{...} syntax; write \\$ for a literal dollar sign.";
  return dockerfileError(at, `failed to process ${JSON.stringify(word)}: ${e.message}`, hint);
}

/** One word expanded (quotes and escapes removed, whitespace kept). */
export function expandWord(word: string, env: VarEnv, at: Position, opts: ExpandOptions = {}): string {
  try {
    return new ShellLex({ escape: opts.escape ?? "\\" }).processWord(word, env);
  } catch (e) {
    throw located(e, at, word);
  }
}

/**
 * Each word expanded as one word; with `split`, each expansion is split into words on unquoted whitespace and the
 * lists concatenated (EXPOSE).
 */
export function expandWords(
  words: readonly string[],
  env: VarEnv,
  at: Position,
  opts: ExpandOptions & { split?: boolean } = {},
): string[] {
  const lex = new ShellLex({ escape: opts.escape ?? "\\" });
  const out: string[] = [];
  for (const w of words) {
    try {
      if (opts.split) out.push(...lex.processWords(w, env));
      else out.push(lex.processWord(w, env));
    } catch (e) {
      throw located(e, at, w);
    }
  }
  return out;
}

/** A text expanded and split into words on unquoted whitespace, quotes removed (BuildKit's ProcessWords). */
export function splitWords(text: string, env: VarEnv, at: Position, opts: ExpandOptions = {}): string[] {
  try {
    return new ShellLex({ escape: opts.escape ?? "\\" }).processWords(text, env);
  } catch (e) {
    throw located(e, at, text);
  }
}

/**
 * A COPY/ADD here-document's file content: `<<-` tabs stripped, then `$VAR` expanded unless the delimiter was
 * quoted. Quotes are ordinary characters and `\` is the escape, whatever the escape directive (as BuildKit).
 */
export function heredocFileContent(h: Heredoc, env: VarEnv, at: Position): string {
  const body = heredocBody(h);
  if (!h.expand) return body;
  try {
    return new ShellLex({ escape: "\\", skipProcessQuotes: true }).processWord(body, env);
  } catch (e) {
    throw located(e, at, `<<${h.name}`);
  }
}

export type ExpandedSource =
  | { kind: "path"; path: string }
  | { kind: "heredoc"; name: string; content: string };

/** An instruction's values after expansion (only the fields that expand). */
export type Expanded =
  | { kind: "FROM"; image: string; platform: string | undefined }
  | {
      kind: "COPY";
      sources: ExpandedSource[];
      dest: string;
      from: string | undefined;
      chown: string | undefined;
      chmod: string | undefined;
    }
  | {
      kind: "ADD";
      sources: ExpandedSource[];
      dest: string;
      chown: string | undefined;
      chmod: string | undefined;
      checksum: string | undefined;
    }
  | { kind: "ENV" | "LABEL"; pairs: { key: string; value: string }[] }
  | { kind: "ARG"; definitions: { key: string; value: string | undefined }[] }
  | { kind: "EXPOSE"; ports: string[] }
  | { kind: "USER"; user: string }
  | { kind: "WORKDIR"; path: string }
  | { kind: "STOPSIGNAL"; signal: string }
  | { kind: "VOLUME"; paths: string[] }
  | { kind: "RUN"; mounts: RunMount[] };

/**
 * The instruction's expandable values with `env` (the stage's ARGs and ENVs at this point: ENV wins over ARG,
 * the caller merges them). The same `env` serves every word of the instruction, so `ENV a=1 b=$a` sees the old
 * `a`, as the reference says. Undefined for instructions that expand nothing (RUN without mounts, CMD, ...).
 */
export function expandInstruction(
  ins: Instruction,
  env: VarEnv,
  opts: ExpandOptions = {},
): Expanded | undefined {
  const at: Position = ins.loc;
  const one = (w: string) => expandWord(w, env, at, opts);
  const maybe = (w: string | undefined) => (w === undefined ? undefined : one(w));
  const sources = (list: Extract<Instruction, { kind: "COPY" | "ADD" }>["sources"]): ExpandedSource[] =>
    list.map((s) =>
      s.kind === "path"
        ? { kind: "path", path: one(s.path) }
        : { kind: "heredoc", name: s.heredoc.name, content: heredocFileContent(s.heredoc, env, at) },
    );
  switch (ins.kind) {
    case "FROM":
      return { kind: "FROM", image: one(ins.image), platform: maybe(ins.flags.platform) };
    case "COPY":
      return {
        kind: "COPY",
        sources: sources(ins.sources),
        dest: one(ins.dest),
        from: ins.flags.from === undefined ? undefined : literalOnly(ins.flags.from, "--from", at, opts),
        chown: maybe(ins.flags.chown),
        chmod: maybe(ins.flags.chmod),
      };
    case "ADD":
      return {
        kind: "ADD",
        sources: sources(ins.sources),
        dest: one(ins.dest),
        chown: maybe(ins.flags.chown),
        chmod: maybe(ins.flags.chmod),
        checksum: maybe(ins.flags.checksum),
      };
    case "ENV":
    case "LABEL":
      return { kind: ins.kind, pairs: ins.pairs.map((p) => ({ key: one(p.key), value: one(p.value) })) };
    case "ARG":
      return {
        kind: "ARG",
        definitions: ins.definitions.map((d) => ({ key: one(d.key), value: maybe(d.value) })),
      };
    case "EXPOSE":
      return { kind: "EXPOSE", ports: expandWords(ins.ports, env, at, { ...opts, split: true }) };
    case "USER":
      return { kind: "USER", user: one(ins.user) };
    case "WORKDIR":
      return { kind: "WORKDIR", path: one(ins.path) };
    case "STOPSIGNAL":
      return { kind: "STOPSIGNAL", signal: one(ins.signal) };
    case "VOLUME":
      return { kind: "VOLUME", paths: ins.paths.map(one) };
    case "RUN":
      if (ins.flags.mounts.length === 0) return undefined;
      return {
        kind: "RUN",
        mounts: ins.flags.mounts.map((m) => {
          const options: Record<string, string> = {};
          for (const [k, v] of Object.entries(m.options)) {
            options[k] = k === "from" ? literalOnly(v, "--mount from", at, opts) : one(v);
          }
          return { ...m, options };
        }),
      };
    default:
      return undefined;
  }
}

/** `--from` names a stage or image literally: BuildKit refuses variables there. */
function literalOnly(value: string, what: string, at: Position, opts: ExpandOptions): string {
  const v = expandWord(value, new Map(), at, opts);
  if (v !== value) {
    throw dockerfileError(
      at,
      `variable expansion is not supported for ${what}`,
      "Define a stage with FROM $" +
        "{VAR} (using an ARG from the global scope) and name that stage instead.",
    );
  }
  return v;
}

/**
 * What a shell-form RUN with here-documents hands to the shell, as BuildKit decides it: `RUN <<EOF` alone runs the
 * body as the script (`<<-` tabs stripped), or, when the body starts with `#!`, writes it to an executable file
 * (mode 0755) and runs that; any other command line is rebuilt as `command\nbody DELIM...` for the shell to read
 * its own here-documents. Bodies are not expanded here: the shell does that. Undefined without heredocs.
 */
export type RunHeredocCommand =
  | { kind: "script"; script: string }
  | { kind: "file"; name: string; content: string }
  | { kind: "command"; command: string };

export function runHeredocCommand(ins: Extract<Instruction, { kind: "RUN" }>): RunHeredocCommand | undefined {
  if (ins.heredocs.length === 0 || ins.cmd.form !== "shell") return undefined;
  const first = ins.heredocs[0] as Heredoc;
  let single: ReturnType<typeof parseHeredocWord> = null;
  try {
    single = parseHeredocWord(ins.cmd.command);
  } catch {
    single = null;
  }
  if (single) {
    const body = heredocBody(first);
    return body.startsWith("#!")
      ? { kind: "file", name: first.name, content: body }
      : { kind: "script", script: body };
  }
  let command = ins.cmd.command;
  for (const h of ins.heredocs) command += `\n${h.content}${h.name}`;
  return { kind: "command", command };
}
