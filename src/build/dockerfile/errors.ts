/**
 * Located Dockerfile errors (`FILE:LINE:COL: message`) and BuildKit-style "did you mean" suggestions.
 */

import { type ErrorCode, OslessError } from "../../errors.ts";

/** The code every Dockerfile syntax or expansion error carries (a usage error: the input must be fixed). */
export const DOCKERFILE_ERROR_CODE: ErrorCode = "E_DOCKERFILE";

export interface Position {
  file: string;
  line: number;
  column: number;
}

/** An OslessError whose message starts with `FILE:LINE:COL:`; details carry the position. */
export function dockerfileError(at: Position, message: string, hint?: string): OslessError {
  return new OslessError(DOCKERFILE_ERROR_CODE, `${at.file}:${at.line}:${at.column}: ${message}`, {
    hint,
    details: { file: at.file, line: at.line, column: at.column },
  });
}

function levenshtein(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  let prev = Array.from({ length: y.length + 1 }, (_, i) => i);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
    }
    prev = cur;
  }
  return prev[y.length] as number;
}

/**
 * The option closest to `value` within an edit distance of 2 (BuildKit's threshold), written in the value's case
 * when the comparison is case-insensitive; undefined when nothing is close or the value is itself an option.
 */
export function suggest(
  value: string,
  options: readonly string[],
  caseSensitive: boolean,
): string | undefined {
  const v = caseSensitive ? value : value.toLowerCase();
  let best: string | undefined;
  let min = 3;
  for (const option of options) {
    const o = caseSensitive ? option : option.toLowerCase();
    if (o === v) return undefined;
    const d = levenshtein(v, o);
    if (d < min) {
      min = d;
      best = o;
    }
  }
  if (best === undefined || caseSensitive) return best;
  if (value === value.toLowerCase()) return best.toLowerCase();
  if (value === value.toUpperCase()) return best.toUpperCase();
  return best;
}

/** ` (did you mean X?)` or the empty string. */
export function didYouMean(value: string, options: readonly string[], caseSensitive: boolean): string {
  const s = suggest(value, options, caseSensitive);
  return s === undefined ? "" : ` (did you mean ${s}?)`;
}
