// Helpers for the build module's tests: source trees made from a spec, and layer entries as comparable text.
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "../../test/fixtures/tools.ts";
import type { LayerEntry } from "../layer/write.ts";

/**
 * A new directory holding files (path -> content), directories (a path ending in "/") and symlinks
 * (content "-> target").
 */
export async function makeTree(spec: Record<string, string>, prefix = "osless-build-"): Promise<string> {
  const dir = await tmpdir(prefix);
  for (const [p, v] of Object.entries(spec)) {
    const abs = join(dir, p);
    if (p.endsWith("/")) {
      mkdirSync(abs, { recursive: true });
      continue;
    }
    mkdirSync(join(abs, ".."), { recursive: true });
    if (v.startsWith("-> ")) symlinkSync(v.slice(3), abs);
    else writeFileSync(abs, v);
  }
  return dir;
}

/** path -> "type mode uid:gid" (and the link target) of layer entries, sorted by path. */
export function entrySummary(entries: LayerEntry[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of [...entries].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    out[e.path] =
      `${e.type} ${e.mode.toString(8)} ${e.uid}:${e.gid}${e.linkpath !== undefined ? ` ${e.linkpath}` : ""}`;
  }
  return out;
}
