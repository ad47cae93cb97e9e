/**
 * `WWW-Authenticate` challenges (RFC 7235 as registries write them): `Bearer realm="…",service="…",scope="…"`,
 * `Basic realm="…"`. Several challenges may share one header, separated by commas, or come in several headers.
 * Parameter values are tokens or quoted strings (with `\` escapes); empty values are allowed.
 */

export interface Challenge {
  /** Lowercased: "bearer", "basic", … */
  scheme: string;
  /** Parameter names lowercased; values as sent. */
  params: Record<string, string>;
}

const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/** Parse every challenge in one or more header values. Malformed parts are skipped, never thrown. */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const values = Array.isArray(header) ? header : [header];
  const out: Challenge[] = [];
  for (const v of values) parseOne(v, out);
  return out;
}

function parseOne(s: string, out: Challenge[]): void {
  let i = 0;
  const n = s.length;
  const skipWs = () => {
    while (i < n && (s[i] === " " || s[i] === "\t")) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < n && TOKEN.test(s[i] as string)) i++;
    return s.slice(start, i);
  };
  const bare = (): string => {
    const start = i;
    while (i < n && s[i] !== "," && s[i] !== " " && s[i] !== "\t") i++;
    return s.slice(start, i);
  };
  const quoted = (): string => {
    // s[i] === '"'
    i++;
    let v = "";
    while (i < n && s[i] !== '"') {
      if (s[i] === "\\" && i + 1 < n) i++;
      v += s[i];
      i++;
    }
    i++; // closing quote (or end)
    return v;
  };
  let current: Challenge | undefined;
  while (i < n) {
    skipWs();
    if (s[i] === ",") {
      i++;
      continue;
    }
    const start = i;
    const word = token();
    if (word === "") {
      i++; // junk character: skip it
      continue;
    }
    skipWs();
    if (s[i] === "=") {
      // A parameter of the current challenge. An unquoted value runs to the next comma or space, so that a
      // realm sent without quotes (`realm=https://auth.example/token`) is kept whole.
      i++;
      skipWs();
      const value = s[i] === '"' ? quoted() : bare();
      if (current) current.params[word.toLowerCase()] = value;
      skipWs();
      continue;
    }
    // A new scheme.
    current = { scheme: word.toLowerCase(), params: {} };
    out.push(current);
    if (start === i) i++;
  }
}
