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
