/**
 * Where images are read from or written to, skopeo style: `docker-archive:FILE`, `oci-archive:FILE[:ref]`,
 * `oci:DIR[:ref]`, or a bare path (the format is then detected on load and chosen by --format on save).
 */
import { OslessError } from "../errors.ts";

export type Transport = "docker-archive" | "oci-archive" | "oci" | undefined;

export interface Location {
  transport: Transport;
  path: string;
  ref: string | undefined;
}

export function parseLocation(input: string): Location {
  const m = input.match(/^(docker-archive|oci-archive|oci):(.*)$/);
  if (!m) return { transport: undefined, path: input, ref: undefined };
  const transport = m[1] as Transport;
  const rest = m[2] ?? "";
  if (rest === "") {
    throw new OslessError("E_USAGE", `"${input}" names no path`, { hint: `write ${transport}:PATH` });
  }
  // The reference follows the last ":" unless that colon is part of the path (no ":" in ref-less paths).
  const i = rest.lastIndexOf(":");
  if (transport === "docker-archive" || i <= 0) return { transport, path: rest, ref: undefined };
  return { transport, path: rest.slice(0, i), ref: rest.slice(i + 1) || undefined };
}
