/**
 * Progress renderers subscribed to library events: per-unit bars redrawn in place on a TTY, plain lines
 * otherwise (one when a unit starts, one when it ends), nothing with --quiet or --json.
 */
import type { EventSink, ProgressEvent } from "../../events/index.ts";
import { humanSize } from "./report.ts";

interface Unit {
  label: string;
  total: number | undefined;
  done: number;
  state: "running" | "done" | "skipped";
  detail?: string | undefined;
}

export interface ProgressRenderer {
  sink: EventSink;
  stop(): void;
}

export function createProgress(
  stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
  enabled: boolean,
): ProgressRenderer {
  if (!enabled) return { sink: () => {}, stop: () => {} };
  return stream.isTTY ? ttyProgress(stream) : plainProgress(stream);
}

function plainProgress(stream: NodeJS.WritableStream): ProgressRenderer {
  const units = new Map<string, Unit>();
  const sink = (e: ProgressEvent) => {
    if (e.type === "start") {
      units.set(e.id, { label: e.label, total: e.total, done: 0, state: "running" });
    } else if (e.type === "progress") {
      const u = units.get(e.id);
      if (u) u.done = e.done;
    } else if (e.type === "end") {
      const u = units.get(e.id);
      if (!u) return;
      const size = u.total ?? u.done;
      const what = e.detail ?? (e.skipped ? "already present" : "done");
      stream.write(`${u.label}: ${what}${size && !e.skipped ? ` (${humanSize(size)})` : ""}\n`);
    } else if (e.type === "note") {
      stream.write(`${e.level === "warn" ? "warning: " : ""}${e.text}\n`);
    }
  };
  return { sink, stop: () => {} };
}

function ttyProgress(stream: NodeJS.WritableStream & { columns?: number }): ProgressRenderer {
  const units = new Map<string, Unit>();
  let drawn = 0;
  let timer: NodeJS.Timeout | undefined;
  const width = () => Math.max(40, Math.min(stream.columns ?? 80, 120));
  const render = () => {
    timer = undefined;
    const lines: string[] = [];
    for (const u of units.values()) {
      const cols = width();
      const barWidth = Math.max(10, cols - 50);
      let bar: string;
      let tail: string;
      if (u.state === "skipped") {
        bar = "";
        tail = u.detail ?? "already present";
      } else if (u.state === "done") {
        bar = "";
        tail = u.detail ?? `done ${humanSize(u.total ?? u.done)}`;
      } else {
        const frac = u.total ? Math.min(1, u.done / u.total) : 0;
        const fill = Math.round(frac * barWidth);
        bar = `[${"=".repeat(Math.max(0, fill - 1))}${fill > 0 ? ">" : ""}${" ".repeat(barWidth - fill)}] `;
        tail = u.total ? `${humanSize(u.done)}/${humanSize(u.total)}` : humanSize(u.done);
      }
      const label = u.label.length > 24 ? `${u.label.slice(0, 23)}…` : u.label.padEnd(24);
      lines.push(`${label} ${bar}${tail}`.slice(0, cols - 1));
    }
    let out = drawn > 0 ? `\x1b[${drawn}A` : "";
    for (const l of lines) out += `\x1b[2K${l}\n`;
    drawn = lines.length;
    stream.write(out);
  };
  const schedule = () => {
    if (!timer) timer = setTimeout(render, 80);
  };
  const sink = (e: ProgressEvent) => {
    if (e.type === "start") units.set(e.id, { label: e.label, total: e.total, done: 0, state: "running" });
    else if (e.type === "progress") {
      const u = units.get(e.id);
      if (u) u.done = e.done;
    } else if (e.type === "end") {
      const u = units.get(e.id);
      if (u) {
        u.state = e.skipped ? "skipped" : "done";
        u.detail = e.detail;
      }
    } else if (e.type === "note") {
      // Print above the bars.
      if (timer) clearTimeout(timer);
      timer = undefined;
      let out = drawn > 0 ? `\x1b[${drawn}A\x1b[0J` : "";
      out += `${e.level === "warn" ? "warning: " : ""}${e.text}\n`;
      drawn = 0;
      stream.write(out);
      render();
      return;
    }
    schedule();
  };
  return {
    sink,
    stop: () => {
      if (timer) clearTimeout(timer);
      if (units.size > 0) render();
    },
  };
}
