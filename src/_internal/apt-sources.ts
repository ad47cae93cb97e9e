/**
 * apt's sources on this machine, and the Debian mirror they name: where debootstrap fetches from (`osless tour`
 * makes a Debian root filesystem with it; the tests' fixtures too). Both formats: one-line `.list` entries and
 * deb822 `.sources` paragraphs.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { OslessError } from "../errors.ts";

export interface AptSource {
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
  signedBy?: string;
  enabled: boolean;
}

/** Parses apt sources: one-line `deb [opts] URI SUITE COMPONENTS...` (.list) or deb822 paragraphs (.sources). */
export function parseAptSources(text: string, format: "list" | "deb822"): AptSource[] {
  const out: AptSource[] = [];
  if (format === "list") {
    for (const raw of text.split("\n")) {
      const line = raw.replace(/#.*/, "").trim();
      if (!line) continue;
      const m = /^(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
      if (!m) continue;
      const opts = new Map(
        (m[2] ?? "")
          .trim()
          .split(/\s+/)
          .filter(Boolean)
          .map((kv) => [kv.split("=")[0]!.toLowerCase(), kv.slice(kv.indexOf("=") + 1)] as const),
      );
      const src: AptSource = {
        types: [m[1]!],
        uris: [m[3]!],
        suites: [m[4]!],
        components: (m[5] ?? "").split(/\s+/).filter(Boolean),
        enabled: true,
      };
      const sb = opts.get("signed-by");
      if (sb) src.signedBy = sb;
      out.push(src);
    }
    return out;
  }
  for (const para of text.split(/\n[ \t]*\n/)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const raw of para.split("\n")) {
      if (raw.startsWith("#")) continue;
      if (/^[ \t]/.test(raw)) {
        if (last !== undefined) fields.set(last, `${fields.get(last)}\n${raw.trim()}`);
        continue;
      }
      const i = raw.indexOf(":");
      if (i <= 0) continue;
      last = raw.slice(0, i).trim().toLowerCase();
      fields.set(last, raw.slice(i + 1).trim());
    }
    const words = (k: string) => (fields.get(k) ?? "").split(/\s+/).filter(Boolean);
    if (!fields.has("uris")) continue;
    const src: AptSource = {
      types: words("types"),
      uris: words("uris"),
      suites: words("suites"),
      components: words("components"),
      enabled: !/^(no|false|0)$/i.test(fields.get("enabled") ?? "yes"),
    };
    const sb = fields.get("signed-by");
    if (sb && !sb.includes("\n")) src.signedBy = sb;
    out.push(src);
  }
  return out;
}

/** apt's source entries on this machine: /etc/apt/sources.list and sources.list.d/*.list, *.sources. */
export function systemAptSources(etcApt = "/etc/apt"): AptSource[] {
  const out: AptSource[] = [];
  const main = join(etcApt, "sources.list");
  if (existsSync(main)) out.push(...parseAptSources(readFileSync(main, "utf8"), "list"));
  const d = join(etcApt, "sources.list.d");
  if (existsSync(d)) {
    for (const n of readdirSync(d).sort()) {
      if (n.endsWith(".list")) out.push(...parseAptSources(readFileSync(join(d, n), "utf8"), "list"));
      else if (n.endsWith(".sources"))
        out.push(...parseAptSources(readFileSync(join(d, n), "utf8"), "deb822"));
    }
  }
  return out;
}

export interface DebianMirror {
  uri: string;
  keyring?: string;
}

/**
 * The Debian mirror apt uses for `suite`: $OSLESS_DEBIAN_MIRROR, else the first enabled `deb` source listing
 * `suite` (then one whose URI ends in /debian) with an http(s) or file URI.
 */
export function debianMirror(suite: string, sources: AptSource[] = systemAptSources()): DebianMirror {
  const env = process.env.OSLESS_DEBIAN_MIRROR;
  if (env) return { uri: env };
  const usable = sources.filter(
    (s) => s.enabled && s.types.includes("deb") && s.uris.some((u) => /^(https?|file):/.test(u)),
  );
  const pick =
    usable.find((s) => s.suites.includes(suite)) ??
    usable.find((s) => s.uris.some((u) => /\/debian\/?$/.test(u)));
  if (!pick) {
    throw new OslessError(
      "E_TOOL_MISSING",
      `no Debian mirror for ${suite} in apt's sources (/etc/apt/sources.list, /etc/apt/sources.list.d/*.list, *.sources)`,
      { hint: "add one to apt's sources, or set OSLESS_DEBIAN_MIRROR=http://MIRROR/debian" },
    );
  }
  const m: DebianMirror = { uri: pick.uris.find((u) => /^(https?|file):/.test(u))! };
  if (pick.signedBy?.startsWith("/") && existsSync(pick.signedBy) && statSync(pick.signedBy).isFile()) {
    m.keyring = pick.signedBy;
  }
  return m;
}
