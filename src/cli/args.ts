/** Flag value parsers shared by commands. */
import { OslessError } from "../errors.ts";

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** "512", "100MB", "2GiB", "1.5g" -> bytes (decimal units like docker's, binary with "iB"). */
export function parseSize(value: string, flag: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new OslessError("E_USAGE", `${flag}: "${value}" is not a size`, {
      hint: "write a number of bytes with an optional unit: 500MB, 2GiB, 1g",
    });
  }
  return Math.floor(Number(m[1]) * unit);
}

/** docker's RAMInBytes: b, k, m, g, t with binary multiples ("100m" = 100 MiB). */
export function parseMemory(value: string, flag: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?\s*$/i.exec(value);
  if (!m) {
    throw new OslessError("E_USAGE", `${flag}: "${value}" is not a size`, {
      hint: "write a number with an optional unit b, k, m or g (binary multiples, as docker): 512m, 1g",
    });
  }
  const pow = "bkmgt".indexOf((m[2] || "b").toLowerCase());
  return Math.floor(Number(m[1]) * 1024 ** pow);
}

/** A number greater than 0 (`--cpus 1.5`). */
export function parsePositiveNumber(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    throw new OslessError("E_USAGE", `${flag}: "${value}" is not a positive number`, {
      hint: `e.g. ${flag} 1.5`,
    });
  }
  return n;
}

/** A whole number, negative allowed (`--pids-limit -1`). */
export function parseInteger(value: string, flag: string): number {
  if (!/^-?\d+$/.test(value.trim())) {
    throw new OslessError("E_USAGE", `${flag}: "${value}" is not a whole number`, {
      hint: `e.g. ${flag} 100`,
    });
  }
  return Number(value);
}

/**
 * A command line given as one flag value (`--probe "greet 'big world'"`) split into words as a POSIX shell splits
 * a simple command: blanks separate, '…' is literal, "…" keeps \" \\ \$ \` escapes, \ escapes one character
 * outside quotes. No expansion of any kind: the image need not have a shell.
 */
export function splitCommandLine(value: string, flag: string): string[] {
  const words: string[] = [];
  let cur: string | undefined;
  let i = 0;
  const bad = (why: string) =>
    new OslessError("E_USAGE", `${flag} "${value}": ${why}`, {
      hint: `quote words with spaces: ${flag} "prog 'two words'"`,
    });
  while (i < value.length) {
    const c = value[i]!;
    if (c === " " || c === "\t" || c === "\n") {
      if (cur !== undefined) words.push(cur);
      cur = undefined;
      i++;
    } else if (c === "'") {
      const end = value.indexOf("'", i + 1);
      if (end < 0) throw bad("a ' is not closed");
      cur = (cur ?? "") + value.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      cur ??= "";
      i++;
      for (;;) {
        if (i >= value.length) throw bad('a " is not closed');
        const d = value[i]!;
        if (d === '"') break;
        if (d === "\\" && '"\\$`'.includes(value[i + 1] ?? "")) {
          cur += value[i + 1];
          i += 2;
        } else {
          cur += d;
          i++;
        }
      }
      i++;
    } else if (c === "\\") {
      if (i + 1 >= value.length) throw bad("it ends with a \\");
      cur = (cur ?? "") + value[i + 1];
      i += 2;
    } else {
      cur = (cur ?? "") + c;
      i++;
    }
  }
  if (cur !== undefined) words.push(cur);
  if (words.length === 0) throw bad("no command");
  return words;
}
