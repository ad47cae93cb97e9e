/**
 * A detached container's output, kept by its monitor as JSON lines in Docker's json-file format
 * (`{"log":"text\n","stream":"stdout"|"stderr","time":"RFC 3339"}`), read back and followed.
 */
import { open, stat } from "node:fs/promises";
import { OslessError } from "../errors.ts";
import type { Store } from "../store/layout.ts";
import { Containers } from "./containers.ts";
import { currentState } from "./lifecycle.ts";

export interface LogLine {
  stream: "stdout" | "stderr";
  log: string;
  time: string;
}

export interface LogOptions {
  follow?: boolean | undefined;
  /** Only the last N lines (before following). */
  tail?: number | undefined;
  write: (stream: "stdout" | "stderr", text: string, time: string) => void;
  signal?: AbortSignal | undefined;
}

function parseLines(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const l of text.split("\n")) {
    if (!l) continue;
    try {
      out.push(JSON.parse(l) as LogLine);
    } catch {
      // a line being written right now: the next read sees it whole
    }
  }
  return out;
}

/** Print a container's log (and with `follow`, new lines until the container stops). */
export async function streamLogs(store: Store, input: string, opts: LogOptions): Promise<void> {
  const containers = new Containers(store.root);
  const record = await containers.lookup(input);
  if (!record.detached) {
    throw new OslessError(
      "E_NOT_FOUND",
      `container ${record.name} ran in the foreground: its output went to the terminal`,
      {
        hint: "run it with -d to keep its output for osless logs",
      },
    );
  }
  const path = containers.logPath(record.id);
  let offset = 0;
  let first = true;
  for (;;) {
    const size = await stat(path).then(
      (s) => s.size,
      () => 0,
    );
    if (size > offset) {
      const fh = await open(path, "r");
      try {
        const buf = Buffer.alloc(size - offset);
        await fh.read(buf, 0, buf.length, offset);
        // Only whole lines: a partial last line is read again next time.
        const end = buf.lastIndexOf(0x0a) + 1;
        offset += end;
        let lines = parseLines(buf.subarray(0, end).toString("utf8"));
        if (first && opts.tail !== undefined && opts.tail >= 0)
          lines = lines.slice(Math.max(0, lines.length - opts.tail));
        for (const l of lines) opts.write(l.stream, l.log, l.time);
      } finally {
        await fh.close();
      }
    }
    first = false;
    if (!opts.follow) return;
    const now = await containers.read(record.id);
    if (!now || currentState(store, now).status !== "running") {
      if (size === offset) return;
      continue; // drain what was written before it stopped
    }
    if (opts.signal?.aborted) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}
