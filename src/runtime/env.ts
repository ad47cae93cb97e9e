/**
 * The container's environment as `docker run` makes it:
 * - `--env-file` files are read as the Docker CLI reads them (`parseEnvFile`), then `-e` values, in order (the CLI
 *   passes env files first, so `-e` wins);
 * - `-e NAME` without `=` takes NAME from the caller's environment; when the caller has none, it unsets NAME (an
 *   image's value included), as Docker's daemon does with a bare name;
 * - the image's Env entries whose names the user did not give come after the user's;
 * - the daemon's defaults go first and are replaced in place: `PATH` (Docker's default), `HOSTNAME`, `TERM=xterm`
 *   with a terminal; `HOME` comes last, from the user's passwd entry, unless set.
 * Unlike Docker, a name given twice keeps one entry (the later value, at the first position): Docker passes both.
 */
import { OslessError } from "../errors.ts";

/** Docker's default PATH for Linux containers. */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

type Lookup = (name: string) => string | undefined;

function nameOf(entry: string): string {
  const i = entry.indexOf("=");
  return i < 0 ? entry : entry.slice(0, i);
}

/**
 * One `--env-file`'s entries, as the Docker CLI parses it: a UTF-8 BOM at the start is dropped; leading whitespace
 * of a line is dropped, trailing whitespace is part of the value; empty lines and lines starting with `#` are
 * skipped; `NAME=VALUE` is taken as is (no quotes or escapes are processed); a bare `NAME` is looked up in
 * `lookup` and left out when unset. A line without a name, or a name with blanks, is E_USAGE naming the file
 * and line.
 */
export function parseEnvFile(text: string, path: string, lookup: Lookup = () => undefined): string[] {
  const out: string[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    let raw = lines[i]!;
    if (raw.endsWith("\r")) raw = raw.slice(0, -1); // Go's bufio.Scanner drops a CR before LF
    if (i === 0 && raw.startsWith("\uFEFF")) raw = raw.slice(1);
    if (raw.includes("\uFFFD")) {
      throw new OslessError("E_USAGE", `env file ${path} contains invalid utf8 bytes at line ${i + 1}`, {
        hint: "save the file as UTF-8",
        details: { path, line: i + 1 },
      });
    }
    const line = raw.replace(/^\s+/u, "");
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    const key = eq < 0 ? line : line.slice(0, eq);
    if (key === "") {
      throw new OslessError(
        "E_USAGE",
        `env file ${path}, line ${i + 1}: no variable name on line '${line}'`,
        {
          hint: "each line is NAME=VALUE, or NAME to pass the caller's value",
          details: { path, line: i + 1 },
        },
      );
    }
    if (/[ \t]/.test(key)) {
      throw new OslessError(
        "E_USAGE",
        `env file ${path}, line ${i + 1}: variable '${key}' contains whitespaces`,
        {
          hint: "a variable name has no blanks; write NAME=VALUE (blanks are allowed in the value)",
          details: { path, line: i + 1 },
        },
      );
    }
    if (eq >= 0) out.push(line);
    else {
      const v = lookup(line);
      if (v !== undefined) out.push(`${line}=${v}`);
    }
  }
  return out;
}

/** `-e` values as the Docker CLI takes them: `NAME=VALUE` as is, a bare `NAME` from `lookup` or left bare. */
export function parseEnvFlag(value: string, lookup: Lookup = () => undefined): string {
  const eq = value.indexOf("=");
  const key = eq < 0 ? value : value.slice(0, eq);
  if (key === "") {
    throw new OslessError("E_USAGE", `invalid environment variable: ${value}`, {
      hint: "use -e NAME=VALUE, or -e NAME to pass the caller's value",
      details: { env: value },
    });
  }
  if (eq >= 0) return value;
  const v = lookup(value);
  return v === undefined ? value : `${value}=${v}`;
}

/**
 * Replace-or-append `overrides` onto `defaults` (moby's ReplaceOrAppendEnvValues): an entry replaces the one of the
 * same name in place or is appended; a bare name (no `=`) removes that name. Later entries win.
 */
export function replaceOrAppendEnv(defaults: readonly string[], overrides: readonly string[]): string[] {
  const out: (string | undefined)[] = [...defaults];
  const index = new Map<string, number>();
  out.forEach((e, i) => {
    if (e !== undefined) index.set(nameOf(e), i);
  });
  for (const e of overrides) {
    const name = nameOf(e);
    const at = index.get(name);
    if (!e.includes("=")) {
      if (at !== undefined) out[at] = undefined;
      index.delete(name);
      continue;
    }
    if (at !== undefined && out[at] !== undefined) out[at] = e;
    else {
      index.set(name, out.length);
      out.push(e);
    }
  }
  return out.filter((e): e is string => e !== undefined);
}

export interface EnvInput {
  /** The image's `config.Env`. */
  image?: readonly string[] | null | undefined;
  envFiles?: readonly { path: string; text: string }[] | undefined;
  env?: readonly string[] | undefined;
  hostEnv?: Record<string, string | undefined> | undefined;
  hostname: string;
  tty?: boolean | undefined;
  /** The user's home directory (HOME unless the image or the user set it). */
  home: string;
}

/** The container's final environment (see the module comment for the rules). */
export function buildEnv(input: EnvInput): string[] {
  const host = input.hostEnv ?? {};
  const lookup: Lookup = (n) => (Object.hasOwn(host, n) ? host[n] : undefined);
  const user: string[] = [];
  for (const f of input.envFiles ?? []) user.push(...parseEnvFile(f.text, f.path, lookup));
  for (const e of input.env ?? []) user.push(parseEnvFlag(e, lookup));
  const userNames = new Set(user.map(nameOf));
  // moby's merge: the user's entries, then the image's whose names the user did not give.
  const merged = [...user, ...(input.image ?? []).filter((e) => !userNames.has(nameOf(e)))];
  const defaults = [`PATH=${DEFAULT_PATH}`, `HOSTNAME=${input.hostname}`];
  if (input.tty) defaults.push("TERM=xterm");
  const env = replaceOrAppendEnv(defaults, merged);
  if (!env.some((e) => nameOf(e) === "HOME")) env.push(`HOME=${input.home}`);
  return env;
}

/** The value of NAME in an environment list (the last entry of that name). */
export function envValue(env: readonly string[], name: string): string | undefined {
  let v: string | undefined;
  for (const e of env) if (nameOf(e) === name && e.includes("=")) v = e.slice(name.length + 1);
  return v;
}
