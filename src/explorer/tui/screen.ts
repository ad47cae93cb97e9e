/**
 * Screen lines for the terminal UI: styled segments fitted to a width (display columns: wide East Asian
 * characters take two, combining marks none), serialised either with ANSI SGR codes or as plain text (tests,
 * captures). Names from an image are untrusted: `clean` replaces control and bidi characters so that a file name
 * cannot move the cursor, change colours or reorder the screen.
 */

export interface Style {
  /** SGR foreground: 31 red, 32 green, 33 yellow, 34 blue, 35 magenta, 36 cyan, 90 grey. */
  fg?: number;
  bold?: boolean;
  dim?: boolean;
  inverse?: boolean;
  underline?: boolean;
}

export interface Seg {
  text: string;
  style?: Style | undefined;
}

export type Line = Seg[];

export const RED = 31;
export const GREEN = 32;
export const YELLOW = 33;
export const BLUE = 34;
export const MAGENTA = 35;
export const CYAN = 36;
export const GREY = 90;

/** How lines are serialised: "plain" drops every style; "ansi" writes SGR (without colours when `colors` is false). */
export interface RenderMode {
  ansi: boolean;
  colors: boolean;
}

export const PLAIN: RenderMode = { ansi: false, colors: false };

/** Replace C0/C1 controls, DEL and bidi controls by "?": image content must not drive the terminal. */
export function clean(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, "?");
}

/** Display columns of one code point. */
export function charWidth(cp: number): number {
  if (cp < 0x300) return 1;
  if (
    (cp >= 0x300 && cp <= 0x36f) ||
    (cp >= 0x200b && cp <= 0x200f) ||
    (cp >= 0x20d0 && cp <= 0x20ff) ||
    (cp >= 0xfe00 && cp <= 0xfe0f) ||
    (cp >= 0xe0100 && cp <= 0xe01ef)
  )
    return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  )
    return 2;
  return 1;
}

export function textWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += charWidth(ch.codePointAt(0)!);
  return w;
}

/** `s` cut to at most `width` columns; "…" ends a cut text. */
export function truncate(s: string, width: number): string {
  if (width <= 0) return "";
  if (textWidth(s) <= width) return s;
  let out = "";
  let w = 0;
  for (const ch of s) {
    const cw = charWidth(ch.codePointAt(0)!);
    if (w + cw > width - 1) break;
    out += ch;
    w += cw;
  }
  return out + "…";
}

export function padEnd(s: string, width: number): string {
  const w = textWidth(s);
  return w >= width ? s : s + " ".repeat(width - w);
}

export function padStart(s: string, width: number): string {
  const w = textWidth(s);
  return w >= width ? s : " ".repeat(width - w) + s;
}

function sgr(style: Style | undefined, mode: RenderMode): string {
  if (!style || !mode.ansi) return "";
  const p: number[] = [];
  if (style.bold) p.push(1);
  if (style.dim) p.push(2);
  if (style.underline) p.push(4);
  if (style.inverse) p.push(7);
  if (style.fg !== undefined && mode.colors) p.push(style.fg);
  return p.length ? `\x1b[${p.join(";")}m` : "";
}

/**
 * The segments as exactly `width` columns, serialised for `mode`: a cut line ends with "…"; a short one is padded
 * with spaces in the style of `fill`. Segment texts must be clean already.
 */
export function fitLine(segs: Line, width: number, mode: RenderMode, fill?: Style): string {
  const parts: { chars: string[]; widths: number[]; style: Style | undefined }[] = [];
  let w = 0;
  let cut = false;
  outer: for (const seg of segs) {
    const part = { chars: [] as string[], widths: [] as number[], style: seg.style };
    parts.push(part);
    for (const ch of seg.text) {
      const cw = charWidth(ch.codePointAt(0)!);
      if (w + cw > width) {
        cut = true;
        break outer;
      }
      part.chars.push(ch);
      part.widths.push(cw);
      w += cw;
    }
  }
  if (cut && width > 0) {
    // Make room for "…" at the end.
    while (w > width - 1) {
      const last = parts[parts.length - 1]!;
      if (!last.chars.length) {
        parts.pop();
        continue;
      }
      last.chars.pop();
      w -= last.widths.pop()!;
    }
    parts[parts.length - 1]!.chars.push("…");
    w++;
  }
  let out = "";
  for (const p of parts) {
    if (!p.chars.length) continue;
    const text = p.chars.join("");
    const on = sgr(p.style, mode);
    out += on ? `${on}${text}\x1b[0m` : text;
  }
  if (w < width) {
    const on = sgr(fill, mode);
    const pad = " ".repeat(width - w);
    out += on ? `${on}${pad}\x1b[0m` : pad;
  }
  return out;
}

/** Drop SGR sequences (for tests and captures of ANSI lines). */
export function stripAnsi(s: string): string {
  return s.replace(/\x1b\[[0-9;]*m/g, "");
}

/** Bytes as dive shows them (SI: "0 B", "999 B", "1.2 kB", "881 kB", "5.6 MB"). */
export function humanBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB", "PB", "EB"];
  let v = n / 1000;
  let i = 0;
  for (;;) {
    const shown = v < 10 ? Math.round(v * 10) / 10 : Math.round(v);
    if (shown >= 1000 && i < units.length - 1) {
      v /= 1000;
      i++;
      continue;
    }
    return `${v < 10 ? shown.toFixed(1) : shown.toFixed(0)} ${units[i]}`;
  }
}

/** `ls -l` mode string: type, then rwx triplets with s/S (setuid, setgid) and t/T (sticky). */
export function modeString(type: string, mode: number): string {
  const t =
    type === "directory"
      ? "d"
      : type === "symlink"
        ? "l"
        : type === "char"
          ? "c"
          : type === "block"
            ? "b"
            : type === "fifo"
              ? "p"
              : "-";
  const bit = (m: number, c: string) => (mode & m ? c : "-");
  const x = (m: number, special: number, on: string, off: string) =>
    mode & special ? (mode & m ? on : off) : mode & m ? "x" : "-";
  return (
    t +
    bit(0o400, "r") +
    bit(0o200, "w") +
    x(0o100, 0o4000, "s", "S") +
    bit(0o40, "r") +
    bit(0o20, "w") +
    x(0o10, 0o2000, "s", "S") +
    bit(0o4, "r") +
    bit(0o2, "w") +
    x(0o1, 0o1000, "t", "T")
  );
}

/** Words of `text` in lines of at most `width` columns (long words cut). */
export function wrap(text: string, width: number, maxLines: number): string[] {
  const out: string[] = [];
  if (width <= 0) return out;
  let cur = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    let w = word;
    while (textWidth(w) > width) {
      if (cur) {
        out.push(cur);
        cur = "";
      }
      let head = "";
      let hw = 0;
      let rest = "";
      for (const ch of w) {
        const cw = charWidth(ch.codePointAt(0)!);
        if (rest || hw + cw > width) rest += ch;
        else {
          head += ch;
          hw += cw;
        }
      }
      out.push(head);
      w = rest;
    }
    if (!cur) cur = w;
    else if (textWidth(cur) + 1 + textWidth(w) <= width) cur += ` ${w}`;
    else {
      out.push(cur);
      cur = w;
    }
  }
  if (cur) out.push(cur);
  if (out.length > maxLines) {
    const kept = out.slice(0, maxLines);
    const last = kept[maxLines - 1]!;
    kept[maxLines - 1] = truncate(`${last}…`, width);
    return kept;
  }
  return out;
}
