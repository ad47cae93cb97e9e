/** How the CLI prints results and errors. */
import { styleText } from "node:util";
import { exitCodeFor, OslessError } from "../../errors.ts";

export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export const processIo: Io = { stdout: process.stdout, stderr: process.stderr };

export function printJson(io: Io, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Print an error (plain or JSON) and return the exit status it maps to. */
export function reportError(io: Io, e: unknown, json: boolean): number {
  const code = exitCodeFor(e);
  if (json) {
    const body =
      e instanceof OslessError
        ? e.toJSON()
        : { code: "E_INTERNAL", message: String((e as Error)?.message ?? e) };
    io.stderr.write(`${JSON.stringify({ error: body })}\n`);
    return code;
  }
  const color = Boolean(io.stderr.isTTY) && !process.env.NO_COLOR;
  // node:util's styleText rather than a colour package: nothing to load on every run for two colours.
  const red = color ? (s: string) => styleText("red", s) : (s: string) => s;
  const dim = color ? (s: string) => styleText("dim", s) : (s: string) => s;
  if (e instanceof OslessError) {
    io.stderr.write(`${red("Error:")} ${e.message}\n`);
    if (e.hint) io.stderr.write(`${dim("  hint:")} ${e.hint}\n`);
    if (process.env.OSLESS_DEBUG && e.cause)
      io.stderr.write(`${dim(String((e.cause as Error).stack ?? e.cause))}\n`);
  } else {
    const err = e as Error;
    io.stderr.write(`${red("Error:")} ${err?.message ?? String(e)}\n`);
    if (process.env.OSLESS_DEBUG && err?.stack) io.stderr.write(`${dim(err.stack)}\n`);
  }
  return code;
}

/** Render rows as a left-aligned table with a header, docker style (three spaces between columns). */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("   ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

export function humanSize(bytes: number): string {
  // docker uses SI units (go-units HumanSize): kB, MB, GB with 3 significant digits.
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : Number(v.toPrecision(3))}${units[i]}`;
}

export function humanAge(date: Date | undefined, now = Date.now()): string {
  if (!date || Number.isNaN(date.getTime())) return "N/A";
  const s = Math.max(0, (now - date.getTime()) / 1000);
  const pick = (n: number, unit: string) => `${Math.floor(n)} ${unit}${Math.floor(n) === 1 ? "" : "s"} ago`;
  if (s < 60) return "Less than a minute ago";
  if (s < 3600) return pick(s / 60, "minute");
  if (s < 86400) return pick(s / 3600, "hour");
  if (s < 86400 * 14) return pick(s / 86400, "day");
  if (s < 86400 * 60) return pick(s / (86400 * 7), "week");
  if (s < 86400 * 365 * 2) return pick(s / (86400 * 30), "month");
  return pick(s / (86400 * 365), "year");
}
