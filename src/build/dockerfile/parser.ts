/**
 * The Dockerfile parser: text in, typed instructions out, no I/O. It follows BuildKit's frontend
 * (frontend/dockerfile/parser and instructions) rule for rule: parser directives only at the very top; comment
 * lines removed (also inside a continuation, as are empty lines there); the escape character at the end of a line
 * continues it; case-insensitive keywords; `--flags` before the arguments; JSON arrays for exec form (text that is
 * not valid JSON is shell form; a JSON array of non-strings is an error); here-documents for RUN, COPY and ADD.
 * Nothing is expanded here: variables are substituted by the builder through expand.ts with its ARG/ENV state.
 *
 * Every error is an OslessError whose message starts with `FILE:LINE:COL:`.
 */

import { didYouMean, dockerfileError } from "./errors.ts";
import { type EscapeChar, isSpace, ShellLex, ShellLexError } from "./shell-lex.ts";
import {
  type CheckDirective,
  type CommandLine,
  type CopySource,
  type Directives,
  type Dockerfile,
  type FlagWord,
  type Heredoc,
  INSTRUCTION_KINDS,
  type Instruction,
  type InstructionKind,
  type KeyValue,
  type RunMount,
  type SourceLocation,
} from "./types.ts";

export interface ParseOptions {
  /** The name errors give (`Dockerfile`, or the path given with -f). */
  file: string;
}

const KINDS = new Set<string>(INSTRUCTION_KINDS);
const INSTRUCTION_LIST = INSTRUCTION_KINDS.join(", ");

/** BuildKit's reWhitespace: what separates words in whitespace-delimited arguments. */
const WS_RUN = /[\t\v\f\r ]+/;
const DIRECTIVE_RE = /^([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$/;
const HEREDOC_RE = /^(\d*)<<(-?)[\t\n\f\r ]*([^<]*)$/;
const STAGE_NAME_RE = /^[a-z][a-z0-9\-_.]*$/;

// ---------------------------------------------------------------------------------------------------------------
// Small text helpers (Go's unicode.IsSpace semantics).

function trimLeft(s: string): string {
  let i = 0;
  for (const ch of s) {
    if (!isSpace(ch)) break;
    i += ch.length;
  }
  return s.slice(i);
}

function trimRight(s: string): string {
  const chars = Array.from(s);
  while (chars.length > 0 && isSpace(chars[chars.length - 1] as string)) chars.pop();
  return chars.join("");
}

function trimNewline(s: string): string {
  return s.replace(/[\r\n]+$/, "");
}

function isComment(line: string): boolean {
  return trimLeft(line).startsWith("#");
}

/** Removes leading tabs from every line of a `<<-` here-document body. */
export function chompHeredoc(content: string): string {
  return content.replace(/^\t+/gm, "");
}

/** The body a here-document contributes: `chomp` applied. */
export function heredocBody(h: Heredoc): string {
  return h.chomp ? chompHeredoc(h.content) : h.content;
}

// ---------------------------------------------------------------------------------------------------------------
// Logical lines with a map back to physical positions.

interface Segment {
  offset: number;
  line: number;
  column: number;
}

class LogicalLine {
  text = "";
  readonly segments: Segment[] = [];
  constructor(readonly file: string) {}

  append(part: string, line: number, column: number): void {
    this.segments.push({ offset: this.text.length, line, column });
    this.text += part;
  }

  /** Physical position of an offset into `text`. */
  at(offset: number): { file: string; line: number; column: number } {
    let seg = this.segments[0] as Segment;
    for (const s of this.segments) if (s.offset <= offset) seg = s;
    return { file: this.file, line: seg.line, column: seg.column + (offset - seg.offset) };
  }
}

function continuationRe(esc: EscapeChar): RegExp {
  const e = esc === "\\" ? "\\\\" : "`";
  return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
}

// ---------------------------------------------------------------------------------------------------------------
// Directives.

function parseCheck(raw: string, at: { file: string; line: number; column: number }): CheckDirective {
  const out: CheckDirective = { raw, skip: [], error: false };
  for (const part of raw.split(";")) {
    if (part.trim() === "") continue;
    const eq = part.indexOf("=");
    const key = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? "" : part.slice(eq + 1).trim();
    if (key === "skip") {
      out.skip.push(
        ...value
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s !== ""),
      );
    } else if (key === "error") {
      const b = parseGoBool(value);
      if (b === undefined) {
        throw dockerfileError(
          at,
          `invalid check directive: error=${value} is not a boolean`,
          "Write check=error=true or check=error=false.",
        );
      }
      out.error = b;
    } else {
      throw dockerfileError(
        at,
        `invalid check directive: unknown key ${JSON.stringify(key)}`,
        "The check directive takes skip=<checks|all> and error=<boolean>, separated by ';'.",
      );
    }
  }
  return out;
}

function parseGoBool(s: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(s)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(s)) return false;
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// A parsed line before it becomes a typed instruction.

interface Node {
  keyword: string;
  kind: InstructionKind;
  line: LogicalLine;
  /** Offset of the keyword in line.text. */
  start: number;
  /** The instruction text from the keyword on, trimmed (BuildKit's Original, trimmed). */
  raw: string;
  flagWords: FlagWord[];
  /** The arguments text after the flags, trimmed, and its offset. */
  rest: string;
  restOffset: number;
  args: string[];
  json: boolean;
  child: Node | undefined;
  heredocs: Heredoc[];
}

interface Ctx {
  file: string;
  escape: EscapeChar;
}

/** BuildKit's splitCommand + extractBuilderFlags + the per-instruction argument parsers. */
function parseNode(ctx: Ctx, line: LogicalLine, from: number): Node {
  const text = line.text;
  let start = from;
  while (start < text.length && isSpace(text[start] as string)) start++;
  const raw = trimRight(text.slice(start));
  const kwMatch = /^[^\t\v\f\r ]+/.exec(raw);
  const keyword = kwMatch ? kwMatch[0] : "";
  const kind = keyword.toUpperCase();
  if (!KINDS.has(kind)) {
    throw dockerfileError(
      line.at(start),
      `unknown instruction: ${keyword}${didYouMean(keyword, INSTRUCTION_KINDS, false)}`,
      `Dockerfile instructions are ${INSTRUCTION_LIST}.`,
    );
  }
  let p = start + keyword.length;
  while (p < start + raw.length && /[\t\v\f\r ]/.test(text[p] as string)) p++;
  const afterKeyword = text.slice(p, start + raw.length);
  const { flagWords, restStart } = extractFlags(ctx, line, afterKeyword, p);
  let restOffset = restStart;
  while (restOffset < start + raw.length && isSpace(text[restOffset] as string)) restOffset++;
  const rest = trimRight(text.slice(restOffset, start + raw.length));

  const node: Node = {
    keyword,
    kind: kind as InstructionKind,
    line,
    start,
    raw,
    flagWords,
    rest,
    restOffset,
    args: [],
    json: false,
    child: undefined,
    heredocs: [],
  };
  const at = () => line.at(restOffset);
  switch (node.kind) {
    case "ADD":
    case "COPY":
    case "VOLUME": {
      const j = parseJson(rest, at, node.kind);
      if (j) {
        node.args = j;
        node.json = true;
      } else node.args = splitWs(rest);
      break;
    }
    case "CMD":
    case "ENTRYPOINT":
    case "RUN":
    case "SHELL": {
      if (rest === "") break;
      const j = parseJson(rest, at, node.kind);
      if (j) {
        node.args = j;
        node.json = true;
      } else node.args = [rest];
      break;
    }
    case "EXPOSE":
    case "FROM":
      node.args = splitWs(rest);
      break;
    case "MAINTAINER":
    case "STOPSIGNAL":
    case "USER":
    case "WORKDIR":
      node.args = rest === "" ? [] : [rest];
      break;
    case "ENV":
    case "LABEL":
    case "ARG":
      // Split into words keeping quotes and escapes (expansion removes them); ENV/LABEL pairs are made later.
      node.args = parseWords(rest, ctx.escape);
      break;
    case "HEALTHCHECK": {
      const m = /^\S*/.exec(rest);
      const type = m ? m[0] : "";
      if (type === "") break;
      let next = type.length;
      while (next < rest.length && isSpace(rest[next] as string)) next++;
      const cmd = rest.slice(next);
      node.args = [type];
      if (cmd !== "") {
        const j = parseJson(cmd, () => line.at(restOffset + next), "HEALTHCHECK");
        if (j) {
          node.args.push(...j);
          node.json = true;
        } else node.args.push(cmd);
      }
      break;
    }
    case "ONBUILD":
      if (rest !== "") {
        node.child = parseNode(ctx, line, restOffset);
        node.args = [node.child.keyword, ...node.child.args];
      }
      break;
  }
  return node;
}

function splitWs(rest: string): string[] {
  return rest === "" ? [] : rest.split(WS_RUN);
}

/** A JSON array of strings, or undefined when the text is not a JSON array (shell form). */
function parseJson(
  rest: string,
  at: () => { file: string; line: number; column: number },
  kind: string,
): string[] | undefined {
  const t = trimLeft(rest);
  if (!t.startsWith("[")) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v)) return undefined;
  if (!v.every((x): x is string => typeof x === "string")) {
    throw dockerfileError(
      at(),
      `${kind}: when using JSON array syntax, arrays must be comprised of strings only`,
      'Quote every element, e.g. ["/bin/app", "--port", "80"].',
    );
  }
  return v;
}

/**
 * BuildKit's extractBuilderFlags: leading words starting with `--` (quotes and the escape character processed
 * inside them); a bare `--` ends the flags.
 */
function extractFlags(
  ctx: Ctx,
  line: LogicalLine,
  s: string,
  base: number,
): { flagWords: FlagWord[]; restStart: number } {
  const flagWords: FlagWord[] = [];
  const push = (word: string, wordStart: number) => {
    const eq = word.indexOf("=");
    const name = eq < 0 ? word.slice(2) : word.slice(2, eq);
    const pos = line.at(base + wordStart);
    flagWords.push({
      name,
      value: eq < 0 ? undefined : word.slice(eq + 1),
      line: pos.line,
      column: pos.column,
    });
  };
  let pos = 0;
  for (;;) {
    while (pos < s.length && isSpace(s[pos] as string)) pos++;
    if (pos >= s.length) return { flagWords, restStart: base + pos };
    if (!(s[pos] === "-" && s[pos + 1] === "-")) return { flagWords, restStart: base + pos };
    const wordStart = pos;
    let word = "";
    let quote = "";
    let blankOk = false;
    for (; pos < s.length; pos++) {
      const ch = s[pos] as string;
      if (quote === "") {
        if (isSpace(ch)) break;
        if (ch === "'" || ch === '"') {
          quote = ch;
          blankOk = true;
          continue;
        }
        if (ch === ctx.escape) {
          if (pos + 1 === s.length) continue;
          pos++;
          word += s[pos];
          continue;
        }
        word += ch;
      } else {
        if (ch === quote) {
          quote = "";
          continue;
        }
        if (ch === ctx.escape) {
          if (pos + 1 === s.length) {
            quote = "";
            continue;
          }
          pos++;
          word += s[pos];
          continue;
        }
        word += ch;
      }
    }
    if (word === "--") return { flagWords, restStart: base + pos };
    if (blankOk || word.length > 0) push(word, wordStart);
  }
}

/** BuildKit's parseWords: whitespace-separated words, quotes and escapes kept for the expansion step. */
function parseWords(rest: string, esc: EscapeChar): string[] {
  const words: string[] = [];
  const chars = Array.from(rest);
  let word = "";
  let inWord = false;
  let quote = "";
  let blankOk = false;
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string;
    if (!inWord) {
      if (isSpace(ch)) continue;
      inWord = true;
    }
    if (quote === "") {
      if (isSpace(ch)) {
        if (blankOk || word.length > 0) words.push(word);
        word = "";
        blankOk = false;
        inWord = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
      }
      if (ch === esc && quote === "") {
        if (i + 1 === chars.length) continue;
        word += ch + chars[++i];
        continue;
      }
      word += ch;
    } else {
      if (ch === quote) {
        quote = "";
        word += ch;
        continue;
      }
      if (ch === esc && quote !== "'") {
        if (i + 1 === chars.length) {
          quote = "";
          continue;
        }
        word += ch + chars[++i];
        continue;
      }
      word += ch;
    }
  }
  if (inWord && (blankOk || word.length > 0)) words.push(word);
  return words;
}

// ---------------------------------------------------------------------------------------------------------------
// Here-documents.

/** `<<EOF`, `<<-EOF`, `3<<"EOF"` as a word: the heredoc it introduces, or null. Throws ShellLexError. */
export function parseHeredocWord(word: string): Omit<Heredoc, "content"> | null {
  const m = HEREDOC_RE.exec(word);
  if (!m) return null;
  const rest = m[3] as string;
  if (rest === "") return null;
  const empty = new Map<string, string>();
  const words = new ShellLex({ escape: "\\", skipUnsetEnv: true }).processWords(rest, empty);
  if (words.length !== 1) return null;
  const rawWords = new ShellLex({ escape: "\\", skipUnsetEnv: true, rawQuotes: true }).processWords(
    rest,
    empty,
  );
  if (rawWords.length !== words.length) {
    throw new ShellLexError(`internal lexing of heredoc produced inconsistent results: ${rest}`);
  }
  const name = words[0] as string;
  const quotes = (s: string) => (s.match(/['"]/g) ?? []).length;
  return {
    name,
    fd: m[1] === "" ? null : Number.parseInt(m[1] as string, 10),
    expand: quotes(name) === quotes(rawWords[0] as string),
    chomp: m[2] === "-",
  };
}

function heredocsInLine(line: string): Omit<Heredoc, "content">[] {
  let words: string[];
  try {
    words = new ShellLex({
      escape: "\\",
      rawQuotes: true,
      rawEscapes: true,
      skipUnsetEnv: true,
    }).processWords(line, new Map());
  } catch {
    return [];
  }
  const out: Omit<Heredoc, "content">[] = [];
  for (const w of words) {
    const h = parseHeredocWord(w);
    if (h) out.push(h);
  }
  return out;
}

function canContainHeredoc(node: Node): boolean {
  const n = node.kind === "ONBUILD" && node.child ? node.child : node;
  return (n.kind === "RUN" || n.kind === "COPY" || n.kind === "ADD") && !n.json;
}

// ---------------------------------------------------------------------------------------------------------------
// Flags.

export type FlagType = "bool" | "string" | "strings";
/** The flags each instruction takes and their types (BuildKit's BFlags registrations). */
export const FLAG_TYPES: Readonly<Record<InstructionKind, Readonly<Record<string, FlagType>>>> = {
  ADD: {
    chown: "string",
    chmod: "string",
    link: "bool",
    "keep-git-dir": "bool",
    checksum: "string",
    unpack: "bool",
    exclude: "strings",
  },
  COPY: {
    from: "string",
    chown: "string",
    chmod: "string",
    link: "bool",
    parents: "bool",
    exclude: "strings",
  },
  FROM: { platform: "string" },
  RUN: { mount: "strings", network: "string", security: "string", device: "strings" },
  HEALTHCHECK: {
    interval: "string",
    timeout: "string",
    "start-period": "string",
    "start-interval": "string",
    retries: "string",
  },
  ARG: {},
  CMD: {},
  ENTRYPOINT: {},
  ENV: {},
  EXPOSE: {},
  LABEL: {},
  MAINTAINER: {},
  ONBUILD: {},
  SHELL: {},
  STOPSIGNAL: {},
  USER: {},
  VOLUME: {},
  WORKDIR: {},
};

class Flags {
  private readonly values = new Map<string, { word: FlagWord; value: string | boolean; all: string[] }>();
  constructor(
    private readonly node: Node,
    file: string,
  ) {
    const spec = FLAG_TYPES[node.kind];
    const names = Object.keys(spec);
    for (const w of node.flagWords) {
      const at = { file, line: w.line, column: w.column };
      const type = spec[w.name];
      if (type === undefined) {
        throw dockerfileError(
          at,
          `unknown flag: --${w.name}${didYouMean(w.name, names, true).replace("did you mean ", "did you mean --")}`,
          names.length === 0
            ? `${node.kind} takes no flags.`
            : `${node.kind} takes ${names.map((n) => `--${n}`).join(", ")}.`,
        );
      }
      const seen = this.values.get(w.name);
      if (seen && type !== "strings")
        throw dockerfileError(at, `duplicate flag specified: --${w.name}`, "Give each flag once.");
      if (type === "bool") {
        if (w.value === "")
          throw dockerfileError(
            at,
            `missing a value on flag: --${w.name}`,
            `Write --${w.name} or --${w.name}=true|false.`,
          );
        const v = w.value === undefined ? "true" : w.value.toLowerCase();
        if (v !== "true" && v !== "false") {
          throw dockerfileError(
            at,
            `expecting boolean value for flag --${w.name}, not: ${w.value}`,
            `Write --${w.name}=true or --${w.name}=false.`,
          );
        }
        this.values.set(w.name, { word: w, value: v === "true", all: [] });
      } else {
        if (w.value === undefined)
          throw dockerfileError(at, `missing a value on flag: --${w.name}`, `Write --${w.name}=VALUE.`);
        const all = seen ? [...seen.all, w.value] : [w.value];
        this.values.set(w.name, { word: w, value: w.value, all });
      }
    }
  }
  string(name: string): string | undefined {
    const v = this.values.get(name)?.value;
    return typeof v === "string" ? v : undefined;
  }
  strings(name: string): string[] {
    return this.values.get(name)?.all ?? [];
  }
  bool(name: string): boolean | undefined {
    const v = this.values.get(name)?.value;
    return typeof v === "boolean" ? v : undefined;
  }
  word(name: string): FlagWord | undefined {
    return this.values.get(name)?.word;
  }
  get size(): number {
    return this.node.flagWords.length;
  }
}

const MOUNT_TYPES = ["bind", "cache", "tmpfs", "secret", "ssh"] as const;
const MOUNT_KEYS = [
  "type",
  "from",
  "source",
  "src",
  "target",
  "dst",
  "destination",
  "readonly",
  "ro",
  "readwrite",
  "rw",
  "required",
  "size",
  "id",
  "sharing",
  "mode",
  "uid",
  "gid",
  "env",
];
const MOUNT_BARE_KEYS = new Set(["readonly", "ro", "readwrite", "rw", "required"]);

/** CSV fields as go-csvvalue reads them: `,` separates, `"..."` quotes (`""` is a quote). */
function csvFields(s: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = "";
    if (s[i] === '"') {
      i++;
      for (;;) {
        if (i >= s.length) return undefined;
        if (s[i] === '"') {
          if (s[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += s[i++];
      }
      if (i < s.length && s[i] !== ",") return undefined;
    } else {
      while (i < s.length && s[i] !== ",") field += s[i++];
    }
    out.push(field);
    if (i >= s.length) return out;
    i++; // ,
  }
}

function parseMount(raw: string, at: { file: string; line: number; column: number }): RunMount {
  const fields = csvFields(raw);
  if (!fields)
    throw dockerfileError(
      at,
      `failed to parse csv mounts: ${raw}`,
      "Write --mount=type=TYPE,target=PATH[,key=value...].",
    );
  const options: Record<string, string> = {};
  let type = "bind";
  for (const field of fields) {
    const eq = field.indexOf("=");
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    if (eq < 0) {
      if (!MOUNT_BARE_KEYS.has(key)) {
        throw dockerfileError(
          at,
          `invalid field '${field}' must be a key=value pair`,
          "Mount options are key=value pairs separated by commas.",
        );
      }
      options[key] = "true";
      continue;
    }
    const value = field.slice(eq + 1);
    if (!MOUNT_KEYS.includes(key)) {
      throw dockerfileError(
        at,
        `unexpected key '${key}' in '${field}'${didYouMean(key, MOUNT_KEYS, true)}`,
        `Mount keys are ${MOUNT_KEYS.join(", ")}.`,
      );
    }
    if (key === "type") type = value.toLowerCase();
    else options[key] = value;
  }
  if (!(MOUNT_TYPES as readonly string[]).includes(type)) {
    throw dockerfileError(
      at,
      `unsupported mount type "${type}"${didYouMean(type, MOUNT_TYPES, true)}`,
      `Mount types are ${MOUNT_TYPES.join(", ")}.`,
    );
  }
  return { raw, type: type as RunMount["type"], options };
}

/** Go's time.ParseDuration, in nanoseconds. */
export function parseGoDuration(s: string): number | undefined {
  const units: Record<string, number> = {
    ns: 1,
    us: 1e3,
    µs: 1e3,
    μs: 1e3,
    ms: 1e6,
    s: 1e9,
    m: 60e9,
    h: 3600e9,
  };
  let str = s;
  let sign = 1;
  if (str.startsWith("-") || str.startsWith("+")) {
    sign = str[0] === "-" ? -1 : 1;
    str = str.slice(1);
  }
  if (str === "0") return 0;
  if (str === "") return undefined;
  let total = 0;
  const re = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/;
  while (str !== "") {
    const m = re.exec(str);
    if (!m || (m[1] === "" && (m[2] === undefined || m[2] === ""))) return undefined;
    const whole = m[1] === "" ? 0 : Number(m[1]);
    const frac = m[2] ? Number(`0.${m[2]}`) : 0;
    total += (whole + frac) * (units[m[3] as string] as number);
    str = str.slice(m[0].length);
  }
  return sign * Math.round(total);
}

// ---------------------------------------------------------------------------------------------------------------
// Nodes to typed instructions.

function need(cond: boolean, node: Node, message: string, hint: string): void {
  if (!cond) throw dockerfileError(node.line.at(node.start), message, hint);
}

function commandLine(node: Node, args: string[]): CommandLine {
  return node.json ? { form: "exec", args } : { form: "shell", command: args.join(" ") };
}

function sourcesAndDest(node: Node): { sources: CopySource[]; dest: string } {
  const kind = node.kind;
  need(
    node.args.length >= 2,
    node,
    `${kind} requires at least two arguments, but ${node.args.length === 0 ? "none was" : "only one was"} provided. Destination could not be determined`,
    `Write ${kind} SOURCE... DEST.`,
  );
  const dest = node.args[node.args.length - 1] as string;
  const heredocWord = (w: string) => {
    if (node.json) return null;
    try {
      return parseHeredocWord(w);
    } catch {
      return null;
    }
  };
  need(
    heredocWord(dest) === null,
    node,
    `${kind} cannot accept a heredoc as a destination`,
    `Write ${kind} <<EOF DEST with the destination after the heredoc marker.`,
  );
  const byName = new Map(node.heredocs.map((h) => [h.name, h]));
  const sources: CopySource[] = node.args.slice(0, -1).map((src): CopySource => {
    const h = heredocWord(src);
    if (h) {
      const doc = byName.get(h.name);
      return { kind: "heredoc", heredoc: doc ?? { ...h, content: "" } };
    }
    return { kind: "path", path: src };
  });
  return { sources, dest };
}

function keyValues(node: Node): KeyValue[] {
  const kind = node.kind;
  const words = node.args;
  need(
    words.length > 0,
    node,
    `${kind} requires at least one argument`,
    `Write ${kind} KEY=VALUE [KEY=VALUE...].`,
  );
  const first = words[0] as string;
  if (!first.includes("=")) {
    // The old form `ENV KEY value...`: the rest of the line is the value.
    const m = WS_RUN.exec(node.rest);
    need(m !== null, node, `${kind} must have two arguments`, `Write ${kind} KEY=VALUE.`);
    const sep = m as RegExpExecArray;
    return [
      {
        key: node.rest.slice(0, sep.index),
        value: node.rest.slice(sep.index + sep[0].length),
        noDelimiter: true,
      },
    ];
  }
  return words.map((w) => {
    const eq = w.indexOf("=");
    need(
      eq >= 0,
      node,
      `Syntax error - can't find = in ${JSON.stringify(w)}. Must be of the form: name=value`,
      'Quote values that contain spaces: KEY="a b".',
    );
    const key = w.slice(0, eq);
    need(key !== "", node, `${kind} names can not be blank`, `Write ${kind} KEY=VALUE.`);
    return { key, value: w.slice(eq + 1), noDelimiter: false };
  });
}

function toInstruction(node: Node, file: string, endLine: number): Instruction {
  const pos = node.line.at(node.start);
  const loc: SourceLocation = { file, line: pos.line, column: pos.column, endLine };
  const base = { keyword: node.keyword, raw: node.raw, loc, flagWords: node.flagWords, args: node.args };
  const f = new Flags(node, file);
  const exactlyOne = () =>
    need(
      node.args.length === 1,
      node,
      `${node.kind} requires exactly one argument`,
      `Write ${node.kind} VALUE.`,
    );
  const atLeastOne = (hint: string) =>
    need(node.args.length > 0, node, `${node.kind} requires at least one argument`, hint);

  switch (node.kind) {
    case "FROM": {
      const a = node.args;
      let stageName: string | undefined;
      if (a.length === 3 && (a[1] as string).toLowerCase() === "as") {
        stageName = (a[2] as string).toLowerCase();
        need(
          STAGE_NAME_RE.test(stageName),
          node,
          `invalid name for build stage: ${JSON.stringify(a[2])}, name can't start with a number or contain symbols`,
          "Stage names start with a letter and contain only letters, digits, '-', '_' and '.'.",
        );
      } else {
        need(
          a.length === 1,
          node,
          "FROM requires either one or three arguments",
          "Write FROM IMAGE [AS NAME].",
        );
      }
      return {
        kind: "FROM",
        ...base,
        image: a[0] as string,
        stageName,
        flags: { platform: f.string("platform") },
      };
    }
    case "RUN": {
      need(
        node.args.length > 0 || node.json,
        node,
        "RUN requires at least one argument",
        'Write RUN COMMAND, RUN ["EXECUTABLE", "ARG"...] or RUN <<EOF.',
      );
      const mounts = f.strings("mount").map((m) => {
        const w = f.word("mount") as FlagWord;
        return parseMount(m, { file, line: w.line, column: w.column });
      });
      const network = f.string("network");
      if (network !== undefined && !["default", "none", "host"].includes(network)) {
        const w = f.word("network") as FlagWord;
        throw dockerfileError(
          { file, line: w.line, column: w.column },
          `invalid network mode "${network}"`,
          "RUN --network takes default, none or host.",
        );
      }
      const security = f.string("security");
      if (security !== undefined && security !== "sandbox" && security !== "insecure") {
        const w = f.word("security") as FlagWord;
        throw dockerfileError(
          { file, line: w.line, column: w.column },
          `unsupported security mode "${security}"`,
          "RUN --security takes sandbox or insecure.",
        );
      }
      return {
        kind: "RUN",
        ...base,
        cmd: commandLine(node, node.args),
        heredocs: node.heredocs,
        flags: {
          mounts,
          network: network as "default" | "none" | "host" | undefined,
          security: security as "sandbox" | "insecure" | undefined,
          devices: f.strings("device"),
        },
      };
    }
    case "CMD":
    case "ENTRYPOINT": {
      need(
        node.args.length > 0 || node.json,
        node,
        `${node.kind} requires at least one argument`,
        `Write ${node.kind} ["EXECUTABLE", "ARG"...] or ${node.kind} COMMAND.`,
      );
      const cmd = commandLine(node, node.args);
      return node.kind === "CMD"
        ? { kind: "CMD", ...base, cmd, flags: {} }
        : { kind: "ENTRYPOINT", ...base, cmd, flags: {} };
    }
    case "SHELL":
      atLeastOne('Write SHELL ["/bin/sh", "-c"].');
      need(
        node.json,
        node,
        "SHELL requires the arguments to be in JSON form",
        'Write SHELL ["EXECUTABLE", "ARG"...].',
      );
      return { kind: "SHELL", ...base, shell: node.args, flags: {} };
    case "COPY": {
      const sd = sourcesAndDest(node);
      return {
        kind: "COPY",
        ...base,
        ...sd,
        heredocs: node.heredocs,
        flags: {
          from: f.string("from"),
          chown: f.string("chown"),
          chmod: f.string("chmod"),
          link: f.bool("link") ?? false,
          parents: f.bool("parents") ?? false,
          exclude: f.strings("exclude"),
        },
      };
    }
    case "ADD": {
      const sd = sourcesAndDest(node);
      return {
        kind: "ADD",
        ...base,
        ...sd,
        heredocs: node.heredocs,
        flags: {
          chown: f.string("chown"),
          chmod: f.string("chmod"),
          link: f.bool("link") ?? false,
          keepGitDir: f.bool("keep-git-dir"),
          checksum: f.string("checksum"),
          unpack: f.bool("unpack"),
          exclude: f.strings("exclude"),
        },
      };
    }
    case "ENV":
      return { kind: "ENV", ...base, pairs: keyValues(node), flags: {} };
    case "LABEL":
      return { kind: "LABEL", ...base, pairs: keyValues(node), flags: {} };
    case "ARG": {
      atLeastOne("Write ARG NAME[=DEFAULT].");
      const definitions = node.args.map((w) => {
        const eq = w.indexOf("=");
        if (eq < 0) return { key: w, value: undefined };
        need(eq > 0, node, "ARG names can not be blank", "Write ARG NAME[=DEFAULT].");
        return { key: w.slice(0, eq), value: w.slice(eq + 1) };
      });
      return { kind: "ARG", ...base, definitions, flags: {} };
    }
    case "EXPOSE":
      atLeastOne("Write EXPOSE PORT[/PROTOCOL]....");
      return { kind: "EXPOSE", ...base, ports: node.args, flags: {} };
    case "USER":
      exactlyOne();
      return { kind: "USER", ...base, user: node.args[0] as string, flags: {} };
    case "WORKDIR":
      exactlyOne();
      return { kind: "WORKDIR", ...base, path: node.args[0] as string, flags: {} };
    case "STOPSIGNAL":
      exactlyOne();
      return { kind: "STOPSIGNAL", ...base, signal: node.args[0] as string, flags: {} };
    case "MAINTAINER":
      exactlyOne();
      return { kind: "MAINTAINER", ...base, maintainer: node.args[0] as string, flags: {} };
    case "VOLUME": {
      atLeastOne('Write VOLUME /path or VOLUME ["/path"].');
      const paths = node.args.map((v) => v.trim());
      need(
        !paths.includes(""),
        node,
        "VOLUME specified can not be an empty string",
        "Give each volume a path.",
      );
      return { kind: "VOLUME", ...base, paths, flags: {} };
    }
    case "HEALTHCHECK": {
      atLeastOne("Write HEALTHCHECK [OPTIONS] CMD COMMAND or HEALTHCHECK NONE.");
      const type = (node.args[0] as string).toUpperCase();
      const none = {
        interval: undefined,
        timeout: undefined,
        startPeriod: undefined,
        startInterval: undefined,
        retries: undefined,
      };
      if (type === "NONE") {
        need(
          node.args.length === 1,
          node,
          "HEALTHCHECK NONE takes no arguments",
          "Write HEALTHCHECK NONE alone.",
        );
        need(f.size === 0, node, "HEALTHCHECK NONE takes no flags", "Write HEALTHCHECK NONE alone.");
        return { kind: "HEALTHCHECK", ...base, check: { type: "NONE" }, flags: none };
      }
      need(
        type === "CMD",
        node,
        `Unknown type ${JSON.stringify(type)} in HEALTHCHECK (try CMD)`,
        "Write HEALTHCHECK [OPTIONS] CMD COMMAND or HEALTHCHECK NONE.",
      );
      const cmdArgs = node.args.slice(1);
      need(
        cmdArgs.length > 0,
        node,
        "Missing command after HEALTHCHECK CMD",
        "Write HEALTHCHECK CMD COMMAND.",
      );
      const duration = (name: string): number | undefined => {
        const v = f.string(name);
        if (v === undefined || v === "") return undefined;
        const w = f.word(name) as FlagWord;
        const at = { file, line: w.line, column: w.column };
        const ns = parseGoDuration(v);
        if (ns === undefined)
          throw dockerfileError(
            at,
            `time: invalid duration ${JSON.stringify(v)} for --${name}`,
            "Durations look like 30s, 5m, 1h30m or 500ms.",
          );
        if (ns !== 0 && ns < 1e6)
          throw dockerfileError(
            at,
            `Interval "${name}" cannot be less than 1ms`,
            "Give at least 1ms (or 0 for the default).",
          );
        if (ns < 0) throw dockerfileError(at, `--${name} cannot be negative`, "Give a positive duration.");
        return ns === 0 ? undefined : ns;
      };
      let retries: number | undefined;
      const r = f.string("retries");
      if (r !== undefined) {
        const w = f.word("retries") as FlagWord;
        const at = { file, line: w.line, column: w.column };
        if (!/^[+-]?\d+$/.test(r))
          throw dockerfileError(at, `invalid --retries value ${JSON.stringify(r)}`, "Give a whole number.");
        retries = Number(r);
        if (retries < 0)
          throw dockerfileError(at, `--retries cannot be negative (${retries})`, "Give zero or more.");
      }
      return {
        kind: "HEALTHCHECK",
        ...base,
        check: { type: "CMD", cmd: commandLine(node, cmdArgs) },
        flags: {
          interval: duration("interval"),
          timeout: duration("timeout"),
          startPeriod: duration("start-period"),
          startInterval: duration("start-interval"),
          retries,
        },
      };
    }
    case "ONBUILD": {
      atLeastOne("Write ONBUILD INSTRUCTION.");
      const child = node.child as Node;
      const at = child.line.at(child.start);
      if (child.kind === "ONBUILD") {
        throw dockerfileError(
          at,
          "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
          "Write the trigger instruction after a single ONBUILD.",
        );
      }
      if (child.kind === "FROM" || child.kind === "MAINTAINER") {
        throw dockerfileError(
          at,
          `${child.kind} isn't allowed as an ONBUILD trigger`,
          "ONBUILD triggers may be any instruction but FROM, MAINTAINER and ONBUILD.",
        );
      }
      child.heredocs = node.heredocs;
      const trigger = toInstruction(child, file, endLine);
      let expression = node.raw.replace(/^\s*ONBUILD\s*/i, "");
      for (const h of node.heredocs) expression += `\n${h.content}${h.name}`;
      return { kind: "ONBUILD", ...base, expression, trigger, flags: {} };
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * Parses a Dockerfile. `opts.file` names it in errors. Throws OslessError (E_DOCKERFILE) `FILE:LINE:COL: ...` on
 * unknown instructions, bad flags, missing arguments, unterminated heredocs, bad directives, and so on.
 */
export function parseDockerfile(text: string, opts: ParseOptions): Dockerfile {
  const file = opts.file;
  const src = text.startsWith("\uFEFF") ? text.slice(1) : text;
  const lines = src.split("\n");
  // A final newline does not start another line; every other line keeps its "\n" for heredoc bodies.
  const raws = lines.map((l, i) => (i < lines.length - 1 ? `${l}\n` : l));
  if (raws.length > 0 && raws[raws.length - 1] === "") raws.pop();

  const directives: Directives = { syntax: undefined, escape: "\\", check: undefined };
  const seen = new Set<string>();
  let directivesDone = false;
  let contRe = continuationRe("\\");
  const ctx: Ctx = { file, escape: "\\" };
  const instructions: Instruction[] = [];

  let i = 0;
  while (i < raws.length) {
    const lineNo = i + 1;
    const physical = trimNewline(raws[i] as string);
    i++;
    const trimmed = trimLeft(physical);
    const lead = physical.length - trimmed.length;

    if (!directivesDone) {
      const m = trimmed.startsWith("#") ? DIRECTIVE_RE.exec(trimLeft(trimmed.slice(1))) : null;
      const key = m ? (m[1] as string).toLowerCase() : "";
      if (m && (key === "syntax" || key === "escape" || key === "check")) {
        const at = { file, line: lineNo, column: lead + 1 };
        if (seen.has(key))
          throw dockerfileError(
            at,
            `only one ${key} parser directive can be used`,
            `Remove the second # ${key}= line.`,
          );
        seen.add(key);
        const value = m[2] as string;
        if (key === "escape") {
          if (value !== "\\" && value !== "`") {
            throw dockerfileError(
              at,
              `invalid escape token '${value}' does not match \` or \\`,
              "Write # escape=\\ or # escape=`.",
            );
          }
          directives.escape = value;
          ctx.escape = value;
          contRe = continuationRe(value);
        } else if (key === "syntax") directives.syntax = value;
        else directives.check = parseCheck(value, at);
        continue;
      }
      directivesDone = true;
    }

    if (trimmed.startsWith("#")) continue;
    const first = contRe.exec(trimmed);
    let part = first ? trimmed.replace(contRe, "$1") : trimmed;
    let endOfLine = first === null;
    if (endOfLine && part.length === 0) continue;

    const logical = new LogicalLine(file);
    logical.append(part, lineNo, lead + 1);
    while (!endOfLine && i < raws.length) {
      const ln = i + 1;
      const next = trimNewline(raws[i] as string);
      i++;
      if (isComment(next)) continue;
      if (trimLeft(next).length === 0) continue; // empty continuation line (BuildKit warns; we accept)
      const m = contRe.exec(next);
      part = m ? next.replace(contRe, "$1") : next;
      endOfLine = m === null;
      logical.append(part, ln, 1);
    }

    const node = parseNode(ctx, logical, 0);
    const startPos = logical.at(node.start);

    if (canContainHeredoc(node) && logical.text.includes("<<")) {
      let docs: Omit<Heredoc, "content">[];
      try {
        docs = heredocsInLine(logical.text);
      } catch (e) {
        if (e instanceof ShellLexError)
          throw dockerfileError(startPos, e.message, "Check the heredoc marker (<<EOF).");
        throw e;
      }
      for (const d of docs) {
        let content = "";
        let terminated = false;
        while (i < raws.length) {
          const rawLine = raws[i] as string;
          i++;
          let candidate = trimNewline(rawLine);
          if (d.chomp) candidate = candidate.replace(/^\t+/, "");
          if (candidate === d.name) {
            terminated = true;
            break;
          }
          content += rawLine;
        }
        if (!terminated) {
          throw dockerfileError(
            startPos,
            `unterminated heredoc: no line ${JSON.stringify(d.name)} ends the here-document started on line ${startPos.line}`,
            `End the here-document with a line holding only ${d.name}${d.chomp ? " (tabs before it are allowed)" : ""}.`,
          );
        }
        node.heredocs.push({ ...d, content });
      }
    }
    instructions.push(toInstruction(node, file, i));
  }

  if (instructions.length === 0) {
    throw dockerfileError(
      { file, line: Math.max(1, raws.length), column: 1 },
      "the Dockerfile has no instructions",
      "A Dockerfile starts with FROM (after optional ARGs): e.g. FROM scratch.",
    );
  }
  return { file, directives, instructions };
}
