/**
 * The terminal driver of `osless explore`: raw mode on the input TTY, the alternate screen with the cursor hidden
 * and line wrap off, keys to the view-model (view.ts), and only the lines that changed rewritten. Window size
 * changes (the output's "resize" event, and SIGWINCH for a TTY that is not stdout) redraw everything. The
 * terminal is restored whatever ends the session: q/ctrl+c, an error, SIGINT/SIGTERM/SIGHUP (the promise then
 * rejects with E_INTERRUPTED, details.signal naming it) or the process exiting. ctrl+z restores the terminal,
 * stops the process with SIGTSTP as a shell expects, and takes the screen back on SIGCONT.
 */
import type { ReadStream, WriteStream } from "node:tty";
import { OslessError } from "../../errors.ts";
import type { ExplorerModel } from "../types.ts";
import { parseKeys } from "./keys.ts";
import { ExplorerView } from "./view.ts";

export interface TuiIo {
  input: NodeJS.ReadStream;
  output: NodeJS.WriteStream;
  /** Where ctrl+e writes extracted files (default: process.cwd()). */
  cwd?: string | undefined;
  /** Colours (SGR foreground); default: on unless NO_COLOR is set (not empty) or the terminal has none. */
  colors?: boolean | undefined;
}

const ENTER = "\x1b[?1049h\x1b[?25l\x1b[?7l\x1b[H\x1b[2J";
const LEAVE = "\x1b[0m\x1b[?7h\x1b[?25h\x1b[?1049l";

/**
 * Runs the explorer on the terminal until the user quits. Refuses (E_USAGE) when input or output is not a TTY.
 */
export function runTui(model: ExplorerModel, io: TuiIo): Promise<void> {
  const input = io.input as ReadStream & NodeJS.ReadStream;
  const output = io.output as WriteStream & NodeJS.WriteStream;
  if (!input.isTTY || !output.isTTY || typeof input.setRawMode !== "function") {
    const which = !input.isTTY ? "standard input" : "standard output";
    return Promise.reject(
      new OslessError("E_USAGE", `osless explore needs a terminal, and its ${which} is not one`, {
        hint: "Use --json for the analysis as JSON, or --ci to check the image against the CI rules without a terminal.",
      }),
    );
  }
  // NO_COLOR (no-color.org: set and not empty) turns colours off; otherwise the terminal's colour depth decides
  // (node's own check would also take an empty NO_COLOR as set).
  const noColor = (process.env.NO_COLOR ?? "") !== "";
  const { NO_COLOR: _unused, ...termEnv } = process.env;
  const colors =
    io.colors ??
    (!noColor && (typeof output.getColorDepth !== "function" || output.getColorDepth(termEnv) > 2));

  return new Promise<void>((resolve, reject) => {
    let prev: string[] = [];
    let active = false;
    let done = false;
    /** Quit was asked: no more keys or drawing. */
    let closing = false;
    const size = (): [number, number] => {
      try {
        const [w, h] = output.getWindowSize();
        if (w > 0 && h > 0) return [w, h];
      } catch {
        // Fall back to what the stream knows.
      }
      return [output.columns || 80, output.rows || 24];
    };
    const [w0, h0] = size();
    const view = new ExplorerView(model, {
      width: w0,
      height: h0,
      cwd: io.cwd,
      mode: { ansi: true, colors },
      onChange: () => draw(),
    });

    const takeScreen = () => {
      input.setRawMode(true);
      input.resume();
      output.write(ENTER);
      prev = [];
      active = true;
    };
    const giveBack = () => {
      if (!active) return;
      active = false;
      output.write(LEAVE);
      try {
        input.setRawMode(false);
      } catch {
        // The TTY may be gone (SIGHUP).
      }
    };

    function draw(): void {
      if (!active || done || closing) return;
      const lines = view.render();
      let out = "";
      for (let i = 0; i < lines.length; i++) {
        if (lines[i] !== prev[i]) out += `\x1b[${i + 1};1H${lines[i]}\x1b[0m`;
      }
      prev = lines;
      // Synchronized output (DEC mode 2026): terminals that know it show the frame whole, others ignore it.
      if (out) output.write(`\x1b[?2026h${out}\x1b[?2026l`);
    }

    const finish = (err?: unknown) => {
      if (done) return;
      giveBack();
      done = true;
      input.off("data", onData);
      output.off("resize", onResize);
      process.off("SIGWINCH", onResize);
      process.off("SIGCONT", onCont);
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      process.off("SIGHUP", onSignal);
      process.off("exit", onExit);
      input.pause();
      if (err === undefined) resolve();
      else reject(err);
    };

    const onData = (chunk: Buffer | string) => {
      if (closing || done) return;
      try {
        for (const k of parseKeys(typeof chunk === "string" ? chunk : chunk.toString("utf8"))) {
          const r = view.key(k);
          if (r === "quit") {
            // The screen goes back at once; an extraction in flight finishes writing before the promise settles.
            giveBack();
            closing = true;
            view.idle().then(
              () => finish(),
              (e) => finish(e),
            );
            return;
          }
          if (r === "suspend") {
            giveBack();
            process.kill(process.pid, "SIGTSTP");
            return;
          }
        }
        draw();
      } catch (e) {
        finish(e);
      }
    };
    const onResize = () => {
      const [w, h] = size();
      if (w === view.width && h === view.height) return;
      view.resize(w, h);
      if (active) {
        output.write("\x1b[H\x1b[2J");
        prev = [];
      }
      draw();
    };
    const onCont = () => {
      if (done || closing || active) return;
      takeScreen();
      const [w, h] = size();
      view.resize(w, h);
      draw();
    };
    const onSignal = (signal: NodeJS.Signals) => {
      finish(
        new OslessError("E_INTERRUPTED", `osless explore interrupted (${signal})`, { details: { signal } }),
      );
    };
    const onExit = () => giveBack();

    try {
      input.on("data", onData);
      output.on("resize", onResize);
      process.on("SIGWINCH", onResize);
      process.on("SIGCONT", onCont);
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      process.on("SIGHUP", onSignal);
      process.on("exit", onExit);
      takeScreen();
      draw();
    } catch (e) {
      finish(e);
    }
  });
}
