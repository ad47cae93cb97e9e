/** The human form of `osless slim`'s report: before and after, the probe, what was kept and why. */
import type { SlimReport, Surface } from "../../slim/slim.ts";
import { humanSize } from "./report.ts";

function list(xs: string[]): string {
  if (xs.length === 0) return "none";
  return xs.length > 4 ? `${xs.slice(0, 4).join(", ")}, … (${xs.length})` : xs.join(", ");
}

function row(label: string, before: string, after: string): string {
  return `  ${label.padEnd(18)} ${before.padEnd(36)} → ${after}\n`;
}

function surfaceRows(b: Surface, a: Surface): string {
  return (
    row("verdict", b.verdict, a.verdict) +
    row("files", `${b.files}`, `${a.files}`) +
    row(
      "size",
      humanSize(b.bytes),
      `${humanSize(a.bytes)} (${((100 * a.bytes) / Math.max(b.bytes, 1)).toFixed(1)} %)`,
    ) +
    row("shells", list(b.shells), list(a.shells)) +
    row("package managers", list(b.packageManagers), list(a.packageManagers)) +
    row("setuid/setgid", `${b.setuid.length}`, `${a.setuid.length}`)
  );
}

export function formatSlimReport(r: SlimReport, verbose: boolean): string {
  const name = r.source.name ?? r.source.digest ?? r.source.source;
  let out = "";
  if (r.nothingToRemove) {
    out += `Nothing to remove: every file of ${name} is needed (${r.kept.length} paths kept, ${r.before.files} files, verdict ${r.before.verdict}).\n`;
    out += "No image was written.\n";
    return out;
  }
  out += `Slim image of ${name}\n`;
  if (r.after) out += surfaceRows(r.before, r.after);
  const o = r.probe.original;
  if (o.http)
    out += `  probe              GET / answered ${o.http.status} (${o.http.body.length} bytes), the same on both\n`;
  else out += `  probe              exit ${o.status}, ${o.outputBytes} bytes of output, the same on both\n`;
  if (r.traced) {
    const n = r.traced.processes;
    out += `  traced             ${r.traced.files} file accesses by ${n} process${n === 1 ? "" : "es"}\n`;
  }
  const traced = r.kept.filter((k) => k.traced).length;
  out += `Kept ${r.kept.length} paths (${traced} found only by tracing)${verbose ? ":" : "; -v lists them"}\n`;
  if (verbose) {
    const w = Math.min(48, Math.max(...r.kept.map((k) => k.path.length)));
    for (const k of r.kept) out += `  ${k.path.padEnd(w)}  ${k.reasons.join("; ")}\n`;
  }
  for (const f of r.findings) out += `warning: ${f.message}\n`;
  if (r.image) out += `${r.image.names.join(", ")}\n${r.image.id}\n`;
  return out;
}
