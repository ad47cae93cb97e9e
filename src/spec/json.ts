/**
 * JSON.parse with errors that name the document and the position (offset, line, column) of the first bad byte.
 * Node 20's messages only sometimes carry a position, so on failure a small scanner finds it.
 */
import { OslessError } from "../errors.ts";

export function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const offset = jsonErrorOffset(text);
    const { line, column } = lineColumn(text, offset);
    const reason = (e as Error).message.replace(/ in JSON at position \d+.*$/s, "");
    throw new OslessError(
      "E_JSON_INVALID",
      `${where}: invalid JSON at position ${offset} (line ${line}, column ${column}): ${reason}`,
      {
        hint: "the document is truncated or corrupt; fetch it again or check what produced it",
        details: { where, position: offset, line, column },
        cause: e,
      },
    );
  }
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: offset - start + 1 };
}

class Stop {
  constructor(readonly at: number) {}
}

/** Offset of the first syntax error of `s` (s.length if it ends too early); iterative, so deep nesting is fine. */
export function jsonErrorOffset(s: string): number {
  let i = 0;
  const fail = (): never => {
    throw new Stop(i);
  };
  const ws = () => {
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
  };
  const str = () => {
    i++; // opening quote
    for (;;) {
      if (i >= s.length) fail();
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail();
      if (c === 0x5c) {
        i++;
        const e = s[i];
        if (e === "u") {
          for (let k = 1; k <= 4; k++) {
            if (!/[0-9a-fA-F]/.test(s[i + k] ?? "")) {
              i += k;
              fail();
            }
          }
          i += 5;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i++;
        else fail();
      } else i++;
    }
  };
  const num = () => {
    const m = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(s.slice(i, i + 400));
    if (!m || m[0] === "-") fail();
    i += m![0].length;
  };
  const literal = (word: string) => {
    for (let k = 0; k < word.length; k++) {
      if (s[i] !== word[k]) fail();
      i++;
    }
  };
  // Stack of open containers: "{" or "[".
  const stack: string[] = [];
  try {
    for (;;) {
      // Expect a value.
      ws();
      const c = s[i];
      let opened = false;
      if (c === "{") {
        i++;
        ws();
        if (s[i] === "}") i++;
        else {
          stack.push("{");
          if (s[i] !== '"') fail();
          str();
          ws();
          if (s[i] !== ":") fail();
          i++;
          opened = true;
        }
      } else if (c === "[") {
        i++;
        ws();
        if (s[i] === "]") i++;
        else {
          stack.push("[");
          opened = true;
        }
      } else if (c === '"') str();
      else if (c === "t") literal("true");
      else if (c === "f") literal("false");
      else if (c === "n") literal("null");
      else if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) num();
      else fail();
      if (opened) continue;
      // After a value: close containers or move to the next element.
      for (;;) {
        ws();
        const top = stack[stack.length - 1];
        if (top === undefined) {
          if (i < s.length) fail();
          return s.length; // valid: should not happen when JSON.parse failed
        }
        if (s[i] === ",") {
          i++;
          if (top === "{") {
            ws();
            if (s[i] !== '"') fail();
            str();
            ws();
            if (s[i] !== ":") fail();
            i++;
          }
          break;
        }
        if ((top === "{" && s[i] === "}") || (top === "[" && s[i] === "]")) {
          i++;
          stack.pop();
          continue;
        }
        fail();
      }
    }
  } catch (e) {
    if (e instanceof Stop) return e.at;
    throw e;
  }
}
