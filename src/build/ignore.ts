/**
 * `.dockerignore`: which context files a build may see, with moby/patternmatcher's semantics (the ones the Docker
 * CLI and BuildKit use):
 * - the file: one pattern a line, a UTF-8 BOM dropped, lines starting with `#` are comments, blank lines skipped,
 *   each pattern trimmed, `!` marks an exception; patterns are cleaned (Go's path.Clean: `./a/` is `a`, `a//b/..`
 *   is `a`) and a leading `/` is dropped (the context is the root);
 * - a pattern matches a path or one of its parents (`node_modules` hides `node_modules/x/y`); `*` and `?` never
 *   cross `/`; `**` matches any number of directories, none included (`**\/*.go`, `a/**`, `a/**\/b`); `[...]`
 *   classes and `\` escapes as in Go's filepath.Match;
 * - the last pattern that matches decides: a later `!pattern` brings back what an earlier one hid;
 * - a hidden directory is still walked when an exception may bring back something inside it, and then it is
 *   present as the parent of what comes back.
 * Loading: `<Dockerfile>.dockerignore` beside the Dockerfile first (BuildKit's rule), else `.dockerignore` at the
 * context's root.
 *
 * The builder reads the Dockerfile itself directly, whatever the patterns say (ignoring the Dockerfile or
 * .dockerignore never stops a build: Docker's rule); a `COPY . .` does not copy them when they are ignored
 * (BuildKit's, where the Dockerfile travels apart from the context).
 */
import { readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { OslessError } from "../errors.ts";
import { cleanPath, escapeRegex, goMatchSource } from "./glob.ts";

type MatchType = "exact" | "prefix" | "suffix" | "regexp";

interface Pattern {
  /** The pattern as written in the file (after cleaning, without `!`). */
  text: string;
  exclusion: boolean;
  type: MatchType;
  regexp: RegExp | undefined;
}

/** Lines of a .dockerignore file as patterns (moby's ignorefile.ReadAll). */
export function parseIgnoreFile(text: string): string[] {
  const out: string[] = [];
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    let line = lines[n]!;
    if (n === 0 && line.startsWith("\uFEFF")) line = line.slice(1);
    if (line.startsWith("#")) continue;
    let p = line.trim();
    if (p === "") continue;
    const invert = p.startsWith("!");
    if (invert) p = p.slice(1).trim();
    if (p !== "") {
      p = cleanPath(p);
      if (p.length > 1 && p.startsWith("/")) p = p.slice(1);
    }
    out.push(invert ? `!${p}` : p);
  }
  return out;
}

/**
 * One pattern as moby compiles it: `**` at the very start with a literal rest is a suffix test, a trailing `**`
 * after a literal a prefix test, no wildcard an exact test, anything else a regular expression.
 */
function compile(text: string, exclusion: boolean, line: string): Pattern {
  // Syntax check as moby does it: the pattern must be a valid filepath.Match pattern.
  try {
    goMatchSource(text);
  } catch (e) {
    throw new OslessError("E_USAGE", `.dockerignore pattern "${line}" is malformed`, {
      hint: "fix the pattern (Go filepath.Match syntax: * ? [a-z], \\ escapes) or remove the line",
      details: { pattern: line },
      cause: e,
    });
  }
  const chars = [...text];
  let re = "^";
  let type: MatchType = "exact";
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === "*") {
      if (chars[i + 1] === "*") {
        const start = i === 0;
        i++;
        if (chars[i + 1] === "/") i++;
        if (i + 1 >= chars.length) {
          // "**" at the end: everything below (gitignore's rule).
          if (type === "exact") type = "prefix";
          else {
            re += ".*";
            type = "regexp";
          }
        } else {
          re += "(?:.*/)?";
          type = "regexp";
        }
        if (start) type = "suffix";
      } else {
        re += "[^/]*";
        type = "regexp";
      }
    } else if (ch === "?") {
      re += "[^/]";
      type = "regexp";
    } else if (ch === "\\") {
      // moby leaves such a pattern an exact (string) test, so "a\\*b" would only match a name with the
      // backslash in it; the escape is honoured here (it names "a*b").
      if (i + 1 < chars.length) re += escapeRegex(chars[++i]!);
      else re += "\\\\";
      type = "regexp";
    } else if (ch === "[" || ch === "]") {
      re += ch;
      type = "regexp";
    } else {
      re += escapeRegex(ch);
    }
  }
  let regexp: RegExp | undefined;
  if (type === "regexp") {
    try {
      regexp = new RegExp(`${re}$`, "u");
    } catch (e) {
      throw new OslessError("E_USAGE", `.dockerignore pattern "${line}" is malformed`, {
        hint: "fix the pattern (Go filepath.Match syntax: * ? [a-z], \\ escapes) or remove the line",
        details: { pattern: line },
        cause: e,
      });
    }
  }
  return { text, exclusion, type, regexp };
}

function matchOne(p: Pattern, path: string): boolean {
  switch (p.type) {
    case "exact":
      return path === p.text;
    case "prefix":
      return path.startsWith(p.text.slice(0, -2));
    case "suffix": {
      const suffix = p.text.slice(2);
      if (path.endsWith(suffix)) return true;
      // "**/foo" matches "foo" itself.
      return suffix.startsWith("/") && path === suffix.slice(1);
    }
    case "regexp":
      return p.regexp!.test(path);
  }
}

/** A compiled set of .dockerignore patterns. */
export class Ignore {
  readonly patterns: readonly string[];
  /** True when some pattern is an exception (`!`): hidden directories must still be walked. */
  readonly hasExceptions: boolean;
  readonly #compiled: Pattern[];

  /** @param patterns as `parseIgnoreFile` returns them (a leading `!` marks an exception) */
  constructor(patterns: readonly string[]) {
    this.patterns = [...patterns];
    this.#compiled = [];
    for (const raw of patterns) {
      let p = raw.trim();
      if (p === "") continue;
      p = cleanPath(p);
      let exclusion = false;
      if (p.startsWith("!")) {
        if (p.length === 1) {
          throw new OslessError("E_USAGE", '.dockerignore: illegal exception pattern "!"', {
            hint: "write the path to bring back after the !, or remove the line",
          });
        }
        exclusion = true;
        p = p.slice(1);
      }
      // The file reader drops a leading "/" (the context is the root); patterns given directly get the same.
      if (p.length > 1 && p.startsWith("/")) p = p.replace(/^\/+/, "");
      this.#compiled.push(compile(p, exclusion, raw));
    }
    this.hasExceptions = this.#compiled.some((p) => p.exclusion);
  }

  /** No pattern at all: nothing is ignored. */
  get empty(): boolean {
    return this.#compiled.length === 0;
  }

  /**
   * True when the context path `relPath` ("a/b", relative to the context root, "/" separated) is hidden: the last
   * pattern matching it or one of its parents is not an exception (moby's MatchesOrParentMatches). `isDir` does
   * not change the answer for the path itself (a trailing `/` in a pattern is cleaned away, as in moby); for a
   * directory it only matters whether it must still be walked (`mayHoldIncluded`).
   */
  isIgnored(relPath: string, _isDir = false): boolean {
    if (this.#compiled.length === 0) return false;
    const file = cleanPath(relPath.replace(/^\/+/, ""));
    if (file === ".") return false;
    const parent = file.includes("/") ? file.slice(0, file.lastIndexOf("/")) : ".";
    const parentDirs = parent === "." ? [] : parent.split("/");
    let matched = false;
    for (const p of this.#compiled) {
      // An inclusion that already matched or an exception before any match cannot change the answer.
      if (p.exclusion !== matched) continue;
      let m = matchOne(p, file);
      if (!m) {
        for (let i = 0; i < parentDirs.length && !m; i++) {
          m = matchOne(p, parentDirs.slice(0, i + 1).join("/"));
        }
      }
      if (m) matched = !p.exclusion;
    }
    return matched;
  }

  /**
   * Whether a hidden directory may still hold something an exception brings back, so a walk must go into it.
   * Conservative: true whenever there are exceptions (the walk then checks every path below).
   */
  mayHoldIncluded(_dirRelPath: string): boolean {
    return this.hasExceptions;
  }
}

/** An Ignore with no patterns. */
export const NO_IGNORE = new Ignore([]);

export interface LoadedIgnore {
  ignore: Ignore;
  /** The file the patterns came from (absolute), undefined when there is none. */
  file: string | undefined;
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw new OslessError("E_IO", `cannot read ${path}: ${code ?? String(e)}`, {
      hint: "check the file's permissions",
      cause: e,
      details: { path },
    });
  }
}

/**
 * The ignore patterns of a build: `<dockerfile>.dockerignore` (the Dockerfile's own path plus `.dockerignore`,
 * e.g. `build/app.Dockerfile.dockerignore`) when `dockerfile` is given and that file exists, else
 * `<contextDir>/.dockerignore`, else none. `dockerfile` is absolute or relative to `contextDir`.
 */
export function loadIgnore(contextDir: string, dockerfile?: string): LoadedIgnore {
  const candidates: string[] = [];
  if (dockerfile !== undefined && dockerfile !== "" && dockerfile !== "-") {
    const df = isAbsolute(dockerfile) ? dockerfile : join(contextDir, dockerfile);
    candidates.push(`${df}.dockerignore`);
  }
  candidates.push(join(contextDir, ".dockerignore"));
  for (const file of candidates) {
    const text = readIfExists(file);
    if (text !== undefined) return { ignore: new Ignore(parseIgnoreFile(text)), file };
  }
  return { ignore: NO_IGNORE, file: undefined };
}
