/**
 * Terminal input bytes to key names, as a raw-mode terminal sends them: printable characters as themselves ("q",
 * "k", "/"), control bytes as "ctrl+<letter>" (ctrl+m is Enter's byte and ctrl+i Tab's: they come out as "enter"
 * and "tab", ctrl+space as "ctrl+space", ctrl+/ as "ctrl+/"), CSI and SS3 sequences as "up", "down", "left",
 * "right", "pgup", "pgdn", "home", "end", "delete", "shift+tab"; a lone ESC as "esc", ESC before another key as
 * "alt+<key>". Unknown sequences are dropped whole.
 */

const CSI_FINAL: Record<string, string> = {
  A: "up",
  B: "down",
  C: "right",
  D: "left",
  H: "home",
  F: "end",
  Z: "shift+tab",
};

const CSI_TILDE: Record<string, string> = {
  "1": "home",
  "2": "insert",
  "3": "delete",
  "4": "end",
  "5": "pgup",
  "6": "pgdn",
  "7": "home",
  "8": "end",
};

function control(code: number): string {
  switch (code) {
    case 0:
      return "ctrl+space";
    case 8:
    case 0x7f:
      return "backspace";
    case 9:
      return "tab";
    case 10:
    case 13:
      return "enter";
    case 0x1c:
      return "ctrl+\\";
    case 0x1d:
      return "ctrl+]";
    case 0x1e:
      return "ctrl+^";
    case 0x1f:
      return "ctrl+/";
    default:
      return `ctrl+${String.fromCharCode(code + 96)}`;
  }
}

/** The keys in one chunk of terminal input. */
export function parseKeys(chunk: string): string[] {
  const keys: string[] = [];
  let i = 0;
  while (i < chunk.length) {
    const c = chunk[i]!;
    const code = c.charCodeAt(0);
    if (c === "\x1b") {
      const next = chunk[i + 1];
      if (next === undefined) {
        keys.push("esc");
        i++;
        continue;
      }
      if (next === "[" || next === "O") {
        // CSI: parameters 0x30-0x3f, intermediates 0x20-0x2f, one final byte 0x40-0x7e. SS3: one final byte.
        let j = i + 2;
        if (next === "[") while (j < chunk.length && /[0-?]/.test(chunk[j]!)) j++;
        if (next === "[") while (j < chunk.length && /[ -/]/.test(chunk[j]!)) j++;
        const final = chunk[j];
        if (final === undefined) {
          // Cut sequence: nothing sensible to report.
          i = chunk.length;
          continue;
        }
        const params = chunk.slice(i + 2, j);
        let name: string | undefined;
        if (final === "~") name = CSI_TILDE[params.split(";")[0] ?? ""];
        else if (CSI_FINAL[final] && (params === "" || params === "1" || next === "O"))
          name = CSI_FINAL[final];
        else if (CSI_FINAL[final] && params.startsWith("1;")) {
          const mod = Number(params.slice(2)) - 1;
          const base = CSI_FINAL[final];
          name = mod & 4 ? `ctrl+${base}` : mod & 2 ? `alt+${base}` : mod & 1 ? `shift+${base}` : base;
        }
        if (name) keys.push(name);
        i = j + 1;
        continue;
      }
      if (next === "\x1b") {
        keys.push("esc");
        i++;
        continue;
      }
      const cp = chunk.codePointAt(i + 1)!;
      const ch = String.fromCodePoint(cp);
      keys.push(`alt+${cp < 0x20 || cp === 0x7f ? control(cp) : ch}`);
      i += 1 + ch.length;
      continue;
    }
    if (code < 0x20 || code === 0x7f) {
      keys.push(control(code));
      i++;
      continue;
    }
    const cp = chunk.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    keys.push(ch === " " ? "space" : ch);
    i += ch.length;
  }
  return keys;
}
