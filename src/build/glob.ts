/**
 * Go's `path/filepath.Match` (Unix), which Dockerfile COPY/ADD sources and `--exclude` use:
 * - `*` any run of characters but `/`; `?` one character but `/`;
 * - `[` `[^]` ranges `]` (ranges `lo-hi`, `\` escapes inside; a class may match `/`, as in Go);
 * - `\c` the character c.
 * A malformed pattern (`[` unclosed, `[]`, a dangling `\`, a range with `-` or `]` at a bound) is an error, found
 * whether or not the pattern would match (Go checks the whole pattern since 1.16).
 */
import { OslessError } from "../errors.ts";

/** Characters that mean something in a JS regular expression (u mode) outside a class. */
const REGEX_SPECIAL = /[\\^$.*+?()[\]{}|/]/;

export function escapeRegex(ch: string): string {
  return REGEX_SPECIAL.test(ch) ? `\\${ch}` : ch;
}

function escapeInClass(ch: string): string {
  return /[\\\]^[-]/.test(ch) ? `\\${ch}` : ch;
}

export function badPattern(pattern: string, why: string, what = "pattern"): OslessError {
  return new OslessError("E_USAGE", `${what} "${pattern}" is malformed: ${why}`, {
    hint: "use Go filepath.Match syntax: * ? [a-z] [^a-z], and \\ to escape one of them (arr[[]0].txt names arr[0].txt)",
    details: { pattern },
  });
}

/** The regular expression source (without anchors) for a Go filepath.Match pattern; throws when malformed. */
export function goMatchSource(pattern: string): string {
  const chars = [...pattern];
  let out = "";
  let i = 0;
  while (i < chars.length) {
    const c = chars[i]!;
    if (c === "*") {
      out += "[^/]*";
      i++;
    } else if (c === "?") {
      out += "[^/]";
      i++;
    } else if (c === "\\") {
      if (i + 1 >= chars.length) throw badPattern(pattern, "it ends with a lone \\");
      out += escapeRegex(chars[i + 1]!);
      i += 2;
    } else if (c === "[") {
      i++;
      let cls = "[";
      if (chars[i] === "^") {
        cls += "^";
        i++;
      }
      let ranges = 0;
      for (;;) {
        if (i >= chars.length) throw badPattern(pattern, "a [ class is not closed");
        if (chars[i] === "]" && ranges > 0) {
          i++;
          break;
        }
        const lo = classChar();
        let hi = lo;
        if (chars[i] === "-") {
          i++;
          hi = classChar();
        }
        if (hi < lo) throw badPattern(pattern, `the range ${lo}-${hi} is reversed`);
        cls += hi === lo ? escapeInClass(lo) : `${escapeInClass(lo)}-${escapeInClass(hi)}`;
        ranges++;
      }
      out += `${cls}]`;
    } else {
      out += escapeRegex(c);
      i++;
    }
  }
  return out;

  function classChar(): string {
    const c = chars[i];
    if (c === undefined) throw badPattern(pattern, "a [ class is not closed");
    if (c === "-" || c === "]") throw badPattern(pattern, `"${c}" where a class character is expected`);
    if (c === "\\") {
      const n = chars[i + 1];
      if (n === undefined) throw badPattern(pattern, "it ends with a lone \\");
      i += 2;
      return n;
    }
    i++;
    return c;
  }
}

const cache = new Map<string, RegExp>();

/** A compiled Go filepath.Match pattern (anchored). Throws E_USAGE when it is malformed. */
export function goPattern(pattern: string): RegExp {
  let re = cache.get(pattern);
  if (!re) {
    re = new RegExp(`^${goMatchSource(pattern)}$`, "u");
    if (cache.size > 1000) cache.clear();
    cache.set(pattern, re);
  }
  return re;
}

/** filepath.Match(pattern, name). */
export function goMatch(pattern: string, name: string): boolean {
  return goPattern(pattern).test(name);
}

/** True when a path component holds a wildcard (`*`, `?`, `[`) not escaped by `\`, as BuildKit tests it. */
export function hasWildcards(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "\\") i++;
    else if (c === "*" || c === "?" || c === "[") return true;
  }
  return false;
}

/** Go's path.Clean for slash-separated paths: "" -> ".", "a//b/../c/" -> "a/c", "/../x" -> "/x". */
export function cleanPath(p: string): string {
  if (p === "") return ".";
  const rooted = p.startsWith("/");
  const out: string[] = [];
  for (const c of p.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") {
      if (out.length > 0 && out.at(-1) !== "..") out.pop();
      else if (!rooted) out.push("..");
      continue;
    }
    out.push(c);
  }
  const s = out.join("/");
  if (rooted) return `/${s}`;
  return s === "" ? "." : s;
}
