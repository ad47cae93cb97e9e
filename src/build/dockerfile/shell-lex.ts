/**
 * Variable substitution and word splitting as BuildKit's Dockerfile lexer does them (frontend/dockerfile/shell):
 * `$var`, `${var}`, `${var:-word}`, `${var-word}`, `${var:+word}`, `${var+word}`, `${var:?msg}`, `${var?msg}`,
 * `${var#pat}`, `${var##pat}`, `${var%pat}`, `${var%%pat}`, `${var/pat/repl}`, `${var//pat/repl}`; single quotes
 * (literal), double quotes (`$` expands, the escape character escapes only `"`, `$` and itself), the escape
 * character (`\` or the `# escape=` directive's backtick) outside quotes escapes any character. Undefined variables
 * expand to the empty string. Positional (`$1`) and special (`$@`, `$#`, ...) parameters are never set.
 *
 * One deliberate difference: BuildKit (since 2024) shares one buffer between nested `${...}` words when splitting
 * into words, so `ProcessWords("a${X:-b}")` loses the `a`; we keep each level's word, as BuildKit did before.
 *
 * Pure code, no I/O: errors are `ShellLexError`s (plain messages), which callers turn into located errors.
 */

export type EscapeChar = "\\" | "`";

/** Variables visible to an expansion: a Map or a plain record (own properties only). */
export type VarEnv = ReadonlyMap<string, string> | Readonly<Record<string, string>>;

export class ShellLexError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ShellLexError";
  }
}

export interface ShellLexOptions {
  /** The escape character (the `# escape=` directive); `\` by default. */
  escape?: EscapeChar;
  /** Keep quote characters in the result (they still group words). */
  rawQuotes?: boolean;
  /** Keep escape characters in the result. */
  rawEscapes?: boolean;
  /** Leave references to unset variables as written (`$X`, `${X:-y}`). */
  skipUnsetEnv?: boolean;
  /** Quotes are ordinary characters (heredoc bodies). */
  skipProcessQuotes?: boolean;
}

export interface LexResult {
  /** The expanded text (one word: whitespace kept). */
  result: string;
  /** The expanded text split into words (whitespace from variables splits, quoted whitespace does not). */
  words: string[];
  /** Variables that were looked up and set. */
  matched: Set<string>;
  /** Variables that were looked up and not set. */
  unmatched: Set<string>;
}

const EOF = undefined;
type Ch = string | undefined;

/** Go's unicode.IsSpace. */
export function isSpace(ch: string): boolean {
  return /^\p{White_Space}$/u.test(ch);
}
function isLetter(ch: string): boolean {
  return /^\p{L}$/u.test(ch);
}
function isDigit(ch: string): boolean {
  return /^\p{Nd}$/u.test(ch);
}
function isSpecialParam(ch: string): boolean {
  return "@*#?-$!0".includes(ch);
}

function lookup(env: VarEnv, name: string): string | undefined {
  if (env instanceof Map) return env.get(name);
  const rec = env as Readonly<Record<string, string>>;
  return Object.hasOwn(rec, name) ? rec[name] : undefined;
}

/** Accumulates words: whitespace from expansions splits, raw text (quoted, escaped) never does. */
class Words {
  private buf = "";
  private inWord = false;
  readonly words: string[] = [];

  addChar(ch: string): void {
    if (isSpace(ch)) {
      if (this.inWord && this.buf.length > 0) {
        this.words.push(this.buf);
        this.buf = "";
        this.inWord = false;
      }
    } else {
      this.addRawChar(ch);
    }
  }
  addRawChar(ch: string): void {
    this.buf += ch;
    this.inWord = true;
  }
  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }
  addRawString(s: string): void {
    this.buf += s;
    this.inWord = true;
  }
  finish(): string[] {
    if (this.buf.length > 0) {
      this.words.push(this.buf);
      this.buf = "";
      this.inWord = false;
    }
    return this.words;
  }
}

class Scan {
  private pos = 0;
  constructor(private readonly chars: string[]) {}
  peek(): Ch {
    return this.chars[this.pos];
  }
  next(): Ch {
    const c = this.chars[this.pos];
    if (c !== EOF) this.pos++;
    return c;
  }
}

export class ShellLex {
  readonly escape: EscapeChar;
  private readonly rawQuotes: boolean;
  private readonly skipUnsetEnv: boolean;
  private readonly skipProcessQuotes: boolean;
  private readonly rawEscapesDefault: boolean;

  // Per-call state.
  private rawEscapes = false;
  private sc = new Scan([]);
  private env: VarEnv = new Map();
  private matched = new Set<string>();
  private unmatched = new Set<string>();

  constructor(options: ShellLexOptions = {}) {
    this.escape = options.escape ?? "\\";
    this.rawQuotes = options.rawQuotes ?? false;
    this.rawEscapesDefault = options.rawEscapes ?? false;
    this.skipUnsetEnv = options.skipUnsetEnv ?? false;
    this.skipProcessQuotes = options.skipProcessQuotes ?? false;
  }

  /** Expands `word` and splits it into words; throws ShellLexError on bad syntax or `${X?msg}`. */
  process(word: string, env: VarEnv): LexResult {
    this.sc = new Scan(Array.from(word));
    this.env = env;
    this.matched = new Set();
    this.unmatched = new Set();
    this.rawEscapes = this.rawEscapesDefault;
    const { result, words } = this.processStopOn(EOF, this.rawEscapesDefault);
    return { result, words, matched: this.matched, unmatched: this.unmatched };
  }

  /** BuildKit's ProcessWord: one word, whitespace kept. */
  processWord(word: string, env: VarEnv): string {
    return this.process(word, env).result;
  }

  /** BuildKit's ProcessWords: expanded, then split on whitespace outside quotes. */
  processWords(word: string, env: VarEnv): string[] {
    return this.process(word, env).words;
  }

  private processStopOn(stop: Ch, rawEscapes: boolean): { result: string; words: string[] } {
    let result = "";
    const words = new Words();
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      for (let ch = this.sc.peek(); ch !== EOF; ch = this.sc.peek()) {
        if (stop !== EOF && ch === stop) {
          this.sc.next();
          return { result, words: words.finish() };
        }
        if (ch === "$") {
          const tmp = this.processDollar();
          result += tmp;
          words.addString(tmp);
          continue;
        }
        if (ch === "<") {
          const tmp = this.processPossibleHeredoc();
          result += tmp;
          words.addRawString(tmp);
          continue;
        }
        if (!this.skipProcessQuotes && (ch === "'" || ch === '"')) {
          const tmp = ch === "'" ? this.processSingleQuote() : this.processDoubleQuote();
          result += tmp;
          words.addRawString(tmp);
          continue;
        }
        let c = this.sc.next() as string;
        if (c === this.escape) {
          if (this.rawEscapes) {
            words.addRawChar(c);
            result += c;
          }
          const n = this.sc.next();
          if (n === EOF) break; // an escape at the very end is dropped
          c = n;
          words.addRawChar(c);
        } else {
          words.addChar(c);
        }
        result += c;
      }
      if (stop !== EOF)
        throw new ShellLexError(`unexpected end of statement while looking for matching ${stop}`);
      return { result, words: words.finish() };
    } finally {
      this.rawEscapes = saved;
    }
  }

  private processSingleQuote(): string {
    // Everything up to the next ' is literal; a ' cannot be escaped inside.
    let out = "";
    const open = this.sc.next() as string;
    if (this.rawQuotes) out += open;
    for (;;) {
      const ch = this.sc.next();
      if (ch === EOF)
        throw new ShellLexError("unexpected end of statement while looking for matching single-quote");
      if (ch === "'") {
        if (this.rawQuotes) out += ch;
        return out;
      }
      out += ch;
    }
  }

  private processDoubleQuote(): string {
    // Literal except $ (expands) and the escape character, which escapes only " $ and itself.
    let out = "";
    const open = this.sc.next() as string;
    if (this.rawQuotes) out += open;
    for (;;) {
      const p = this.sc.peek();
      if (p === EOF)
        throw new ShellLexError("unexpected end of statement while looking for matching double-quote");
      if (p === '"') {
        this.sc.next();
        if (this.rawQuotes) out += p;
        return out;
      }
      if (p === "$") {
        out += this.processDollar();
        continue;
      }
      let ch = this.sc.next() as string;
      if (ch === this.escape) {
        if (this.rawEscapes) out += ch;
        const n = this.sc.peek();
        if (n === EOF) continue; // dropped; the missing quote is reported next
        if (n === '"' || n === "$" || n === this.escape) ch = this.sc.next() as string;
      }
      out += ch;
    }
  }

  private getEnv(name: string): string | undefined {
    const v = lookup(this.env, name);
    if (v === undefined) this.unmatched.add(name);
    else this.matched.add(name);
    return v;
  }

  private processName(): string {
    let name = "";
    for (let ch = this.sc.peek(); ch !== EOF; ch = this.sc.peek()) {
      if (name === "" && isDigit(ch)) {
        // Positional parameter: all the digits.
        while (this.sc.peek() !== EOF && isDigit(this.sc.peek() as string)) name += this.sc.next();
        return name;
      }
      if (name === "" && isSpecialParam(ch)) return this.sc.next() as string;
      if (!isLetter(ch) && !isDigit(ch) && ch !== "_") break;
      name += this.sc.next();
    }
    return name;
  }

  private processDollar(): string {
    this.sc.next(); // $
    if (this.sc.peek() !== "{") {
      const name = this.processName();
      if (name === "") return "$";
      const v = this.getEnv(name);
      if (v === undefined && this.skipUnsetEnv) return "$" + name;
      return v ?? "";
    }
    this.sc.next(); // {
    const first = this.sc.peek();
    if (first === EOF) throw new ShellLexError("syntax error: missing '}'");
    if (first === "{" || first === "}" || first === ":")
      throw new ShellLexError("syntax error: bad substitution");
    const name = this.processName();
    let ch = this.sc.next();
    if (ch === EOF) throw new ShellLexError("syntax error: missing '}'");
    let mod = ch;

    if (ch === "}") {
      const v = this.getEnv(name);
      if (v === undefined && this.skipUnsetEnv) return "${" + name + "}";
      return v ?? "";
    }

    if (ch === "/") {
      const replaceAll = this.sc.peek() === "/";
      if (replaceAll) this.sc.next();
      const pattern = this.stopOn("/", true, "syntax error: missing '/' in $" + "{}");
      const replacement = this.stopOn("}", true, "syntax error: missing '}'");
      const v = this.getEnv(name);
      if (v === undefined && this.skipUnsetEnv) return "${" + name + "/" + pattern + "/" + replacement + "}";
      const value = v ?? "";
      const re = shellPatternToRegex(pattern, true, false, replaceAll);
      return value.replace(re, () => replacement);
    }

    let nullIsUnset = false;
    if (ch === ":") {
      nullIsUnset = true;
      ch = this.sc.next();
      if (ch === EOF) throw new ShellLexError("syntax error: missing '}'");
      mod += ch;
      if (ch !== "-" && ch !== "+" && ch !== "?") {
        throw new ShellLexError(`unsupported modifier (${mod}) in substitution`);
      }
    }
    if (ch !== "-" && ch !== "+" && ch !== "?" && ch !== "#" && ch !== "%") {
      throw new ShellLexError(`unsupported modifier (${mod}) in substitution`);
    }
    const patternMod = ch === "#" || ch === "%";
    let word = this.stopOn("}", patternMod, "syntax error: missing '}'");
    const v = this.getEnv(name);
    if (v === undefined && this.skipUnsetEnv) return "${" + name + mod + word + "}";
    const unset = v === undefined || (nullIsUnset && v === "");
    switch (ch) {
      case "-":
        return unset ? word : (v as string);
      case "+":
        return unset ? "" : word;
      case "?":
        if (v === undefined)
          throw new ShellLexError(`${name}: ${word !== "" ? word : "is not allowed to be unset"}`);
        if (nullIsUnset && v === "")
          throw new ShellLexError(`${name}: ${word !== "" ? word : "is not allowed to be empty"}`);
        return v;
      default: {
        // # and % remove the shortest match, ## and %% the longest.
        let greedy = false;
        if (word.startsWith(ch)) {
          greedy = true;
          word = word.slice(1);
        }
        const value = v ?? "";
        return ch === "%" ? trimSuffix(word, value, greedy) : trimPrefix(word, value, greedy);
      }
    }
  }

  private stopOn(stop: string, rawEscapes: boolean, eofMessage: string): string {
    try {
      return this.processStopOn(stop, rawEscapes).result;
    } catch (e) {
      if (e instanceof ShellLexError && this.sc.peek() === EOF) throw new ShellLexError(eofMessage);
      throw e;
    }
  }

  private processPossibleHeredoc(): string {
    this.sc.next(); // <
    if (this.sc.peek() !== "<") return "<";
    this.sc.next();
    // `<< EOF` keeps its blanks so the heredoc marker stays one word.
    let space = "";
    for (let ch = this.sc.peek(); ch === " " || ch === "\t" || ch === "\r"; ch = this.sc.peek()) {
      space += ch;
      this.sc.next();
    }
    return "<<" + space;
  }
}

/**
 * A `${var#pattern}`-style glob (`*` any run, `?` one character, `\*` `\?` `\\` literal; `\}` and `\/` are the
 * pattern's own delimiters escaped) as a regular expression. `.` never matches a newline, as in Go.
 */
function shellPatternToRegex(pattern: string, greedy: boolean, anchored: boolean, global: boolean): RegExp {
  const chars = Array.from(pattern);
  let out = anchored ? "^" : "";
  const star = greedy ? "[^\\n]*" : "[^\\n]*?";
  for (let i = 0; i < chars.length; i++) {
    const tok = chars[i] as string;
    if (tok === "*") {
      out += star;
      continue;
    }
    if (tok === "?") {
      out += "[^\\n]";
      continue;
    }
    if (tok === "\\") {
      const n = chars[i + 1];
      if (n === "}" || n === "/") continue;
      i++;
      if (n !== "*" && n !== "?" && n !== "\\") {
        throw new ShellLexError(
          `invalid pattern (${pattern}) in substitution: invalid escape '\\${n ?? ""}'`,
        );
      }
      out += "\\" + n;
      continue;
    }
    out += "[]{}.+()|^$".includes(tok) ? "\\" + tok : tok;
  }
  return new RegExp(out, global ? "gu" : "u");
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = shellPatternToRegex(pattern, greedy, true, false).exec(value);
  return m ? value.slice(m[0].length) : value;
}

/** `\x` pairs keep their order when the pattern is reversed. */
function reversePattern(pattern: string): string {
  const src = Array.from(pattern);
  const out: string[] = new Array(src.length);
  const last = src.length - 1;
  for (let i = 0; i <= last; ) {
    const tok = src[i] as string;
    const o = last - i;
    if (tok === "\\" && i !== last) {
      out[o - 1] = tok;
      out[o] = src[i + 1] as string;
      i += 2;
    } else {
      out[o] = tok;
      i++;
    }
  }
  return out.join("");
}

function reverse(s: string): string {
  return Array.from(s).reverse().join("");
}

function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  // The shortest rightmost match is the shortest leftmost match of the reversed pattern in the reversed value.
  return reverse(trimPrefix(reversePattern(pattern), reverse(value), greedy));
}
