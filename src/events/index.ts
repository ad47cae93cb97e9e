/**
 * Progress events emitted by long library operations (load, save, pull, push, build). The library never
 * renders them; the CLI subscribes a renderer (bars on a TTY, plain lines otherwise), tests subscribe arrays.
 */

export type ProgressEvent =
  /** A unit of work (usually a blob) has started; `total` bytes if known. */
  | { type: "start"; id: string; label: string; total?: number | undefined }
  /** `done` bytes of the unit are complete. */
  | { type: "progress"; id: string; done: number }
  /** The unit finished; `skipped` when the content was already present; `detail` says how, e.g. "mounted from x". */
  | { type: "end"; id: string; skipped?: boolean | undefined; detail?: string | undefined }
  /** A line worth telling the user (a warning, a decision). */
  | { type: "note"; level: "info" | "warn"; text: string };

export type EventSink = (event: ProgressEvent) => void;

export const noEvents: EventSink = () => {};

/** Wrap an async byte source so that it reports progress for unit `id` at most every 64 KiB. */
export async function* reportProgress(
  source: AsyncIterable<Uint8Array>,
  id: string,
  sink: EventSink,
): AsyncGenerator<Uint8Array> {
  let done = 0;
  let reported = 0;
  for await (const chunk of source) {
    done += chunk.length;
    if (done - reported >= 65536) {
      sink({ type: "progress", id, done });
      reported = done;
    }
    yield chunk;
  }
  if (done !== reported) sink({ type: "progress", id, done });
}
