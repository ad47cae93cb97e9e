/**
 * The terminal UI's view-model: what `osless explore` shows and how keys change it, with no terminal in sight.
 * Keys go in as names (src/explorer/tui/keys.ts), the screen comes out as `height` lines of exactly `width`
 * columns (ANSI SGR styles, or plain text for tests and captures). The driver (terminal.ts) only moves bytes.
 *
 * Layout as dive's: on the left "Layers" (`Cmp | Size | Command`, layer 0 as `FROM <short digest>`, the compared
 * range marked in the Cmp column), "Layer Details" and "Image Details" (dive's figures, and osless's exact wasted
 * bytes beside them, labelled); on the right the file tree of the selected layer with change markers (A added,
 * M modified, D removed; green, yellow, red), attributes, links and folded directories ("+"); at the bottom the
 * path filter, a status line and the key help. `?` shows every key; ctrl+g lists the largest files. ctrl+p wraps
 * long tree rows (dive's "wrap"): a row then takes as many screen lines as its name needs, the continuation under
 * the name column; the cursor still moves by tree row, and scrolling keeps the selected row wholly on screen.
 */
import { open, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { CompareMode, ExplorerLayer, ExplorerModel, FileNode, Marker } from "../types.ts";
import {
  BLUE,
  CYAN,
  charWidth,
  clean,
  fitLine,
  GREEN,
  GREY,
  humanBytes,
  type Line,
  MAGENTA,
  modeString,
  PLAIN,
  padEnd,
  padStart,
  RED,
  type RenderMode,
  type Style,
  textWidth,
  truncate,
  wrap,
  YELLOW,
} from "./screen.ts";
import { nodeAt, type Pos, type SortOrder, TreeView } from "./tree-view.ts";

export type Pane = "layers" | "tree";

export interface ViewOptions {
  width: number;
  height: number;
  /** Where ctrl+e writes extracted files (default: process.cwd()). */
  cwd?: string | undefined;
  /** Serialisation of the lines (default: plain text). */
  mode?: RenderMode | undefined;
  /** Called when something finished in the background (an extraction): redraw. */
  onChange?: (() => void) | undefined;
}

/** What the driver must do after a key. */
export type KeyResult = "quit" | "suspend" | undefined;

interface LargestOverlay {
  kind: "largest";
  items: { path: string; size: number; layer: number }[];
  index: number;
  top: number;
}

interface HelpOverlay {
  kind: "help";
}

const MARKER_LETTER: Record<Marker, string> = { added: "A", modified: "M", removed: "D", unmodified: " " };
const MARKER_STYLE: Record<Marker, Style | undefined> = {
  added: { fg: GREEN },
  modified: { fg: YELLOW },
  removed: { fg: RED },
  unmodified: undefined,
};

/** Keys and what they do, for `?` (and the docs). */
export const KEY_HELP: readonly (readonly [string, string])[] = [
  ["Global", ""],
  ["tab", "switch between the Layers and file tree panes"],
  ["ctrl+f, ctrl+/", "path filter (regex on the full path); enter keeps it, esc clears it"],
  ["ctrl+g", "largest files of the image; enter jumps to the file"],
  ["ctrl+b", "show/hide file attributes (mode, uid:gid, size)"],
  ["ctrl+o", "sort the tree by name / by size"],
  ["ctrl+p", "wrap long file tree rows onto the next lines / cut them with …"],
  ["?", "this help"],
  ["ctrl+z", "suspend (fg to resume)"],
  ["q, ctrl+c", "quit"],
  ["Layers pane", ""],
  ["up/k, down/j", "select a layer"],
  ["pgup/u, pgdn/d", "page up / down"],
  ["ctrl+l", "compare: what the selected layer changed (layers 0..i-1 below it)"],
  ["ctrl+a", "compare: aggregated changes of layers 1..i over layer 0"],
  ["right/l", "go to the file tree"],
  ["File tree pane", ""],
  ["up/k, down/j", "move"],
  ["pgup/u, pgdn/d", "page up / down"],
  ["home, end", "first / last row"],
  ["left/h", "parent directory (at the top level: the Layers pane)"],
  ["right/l", "open a directory and enter it"],
  ["space", "fold / unfold the directory"],
  ["ctrl+space", "fold / unfold every directory"],
  ["ctrl+a", "show/hide Added files"],
  ["ctrl+r", "show/hide Removed files"],
  ["ctrl+m (enter)", "show/hide Modified files"],
  ["ctrl+u", "show/hide Unmodified files"],
  ["ctrl+e", "extract the selected file into the current directory (never overwrites)"],
];

function shortDigest(d: string): string {
  const i = d.indexOf(":");
  return d.slice(i + 1, i + 13);
}

function compression(mediaType: string): string {
  if (/gzip$/.test(mediaType)) return "gzip";
  if (/zstd$/.test(mediaType)) return "zstd";
  if (/(bzip2|xz)$/.test(mediaType)) return mediaType.replace(/.*[.+]/, "");
  return "uncompressed";
}

function oneLine(s: string): string {
  return clean(s.replace(/[\r\n\t]+/g, " "));
}

function pct(n: number): string {
  return Number.isFinite(n) ? `${Math.floor(n * 1000) / 10} %` : String(n);
}

function seg(text: string, style?: Style): { text: string; style?: Style | undefined } {
  return { text, style };
}

/** Title bar of a pane: "│ Title ├────" (focused: "┃ ● Title ┣━━━━"). */
function titleLine(title: string, width: number, focused: boolean, suffix = ""): Line {
  const head = focused ? `┃ ● ${title} ` : `│ ${title} `;
  const tail = suffix ? ` ${suffix} ` : "";
  const bar = focused ? "┣" : "├";
  const fill = Math.max(0, width - textWidth(head) - 1 - textWidth(tail));
  const rule = focused ? "━" : "─";
  const half = tail ? Math.min(3, fill) : fill;
  return [
    seg(head, { bold: focused }),
    seg(bar + rule.repeat(half), focused ? { fg: MAGENTA } : { fg: GREY }),
    seg(tail, { fg: CYAN }),
    seg(rule.repeat(Math.max(0, fill - half)), focused ? { fg: MAGENTA } : { fg: GREY }),
  ];
}

interface Layout {
  leftW: number;
  rightW: number;
  bodyH: number;
  layersH: number;
  detailsH: number;
  imageH: number;
  /** Rows of the tree (below its title and header). */
  treeRows: number;
  footer: Line[];
}

const MIN_WIDTH = 40;
const MIN_HEIGHT = 10;

export class ExplorerView {
  readonly model: ExplorerModel;
  width: number;
  height: number;
  readonly cwd: string;
  readonly mode: RenderMode;
  onChange: (() => void) | undefined;

  pane: Pane = "layers";
  layer = 0;
  compare: CompareMode = "layer";
  sort: SortOrder = "name";
  hidden = new Set<Marker>();
  showAttributes = true;
  /** Long tree rows continue on the next screen lines (ctrl+p) instead of being cut with "…". */
  wrap = false;
  filterText = "";
  filterOpen = false;
  filterError: string | null = null;
  status: string | null = null;
  overlay: LargestOverlay | HelpOverlay | null = null;

  #filter: RegExp | null = null;
  /** Folding: every directory folded or not by default, the paths in `#flipped` the other way. */
  #foldAll = false;
  #flipped = new Set<string>();
  #tv: TreeView;
  #cursor: Pos | null = null;
  #top: Pos | null = null;
  #cursorRow = 0;
  #layerTop = 0;
  #workDone = 0;
  #pending: Promise<void> = Promise.resolve();
  #stale: { path: string | null; row: number } | null = null;

  constructor(model: ExplorerModel, opts: ViewOptions) {
    this.model = model;
    this.width = opts.width;
    this.height = opts.height;
    this.cwd = opts.cwd ?? process.cwd();
    this.mode = opts.mode ?? PLAIN;
    this.onChange = opts.onChange;
    this.#tv = this.#newTreeView();
    this.#anchor(null, 0);
  }

  // ---- state the tests read ----

  /** Nodes the tree views examined so far (all layers): what key presses cost. */
  get work(): number {
    return this.#workDone + this.#tv.work;
  }

  get treeView(): TreeView {
    return this.#ready();
  }

  /** The node under the tree cursor. */
  get selected(): FileNode | null {
    this.#ready();
    return this.#cursor ? nodeAt(this.#cursor) : null;
  }

  get cursorRow(): number {
    this.#ready();
    return this.#cursorRow;
  }

  /** Resolves when background work (an extraction) has finished. */
  idle(): Promise<void> {
    return this.#pending;
  }

  isCollapsed(path: string): boolean {
    return this.#foldAll !== this.#flipped.has(path);
  }

  // ---- tree state ----

  #newTreeView(): TreeView {
    if (this.#tv) this.#workDone += this.#tv.work;
    const layers = this.model.layers.length;
    if (this.layer >= layers) this.layer = Math.max(0, layers - 1);
    return new TreeView(this.model.tree(this.layer, this.compare), {
      sort: this.sort,
      hidden: this.hidden,
      filter: this.#filter,
      isCollapsed: (p) => this.isCollapsed(p),
    });
  }

  /**
   * New tree (layer, compare mode, sort or filters changed): keep the cursor on its path, at its screen row. Done
   * when the tree is next needed, so that keys arriving together (a held arrow in the Layers pane) ask the model
   * for one tree, not one per key.
   */
  #rebuild(): void {
    if (this.#stale) return;
    this.#stale = { path: this.#cursor ? nodeAt(this.#cursor).path : null, row: this.#cursorRow };
  }

  #ready(): TreeView {
    const s = this.#stale;
    if (s) {
      this.#stale = null;
      this.#tv = this.#newTreeView();
      this.#anchor(s.path, s.row);
    }
    return this.#tv;
  }

  /** Cursor on `path` (or what shows it), `row` rows below the top of the tree when there are that many above. */
  #anchor(path: string | null, row: number): void {
    const tv = this.#tv;
    const pos = (path !== null ? tv.find(path) : null) ?? tv.first();
    this.#cursor = pos;
    if (!pos) {
      this.#top = null;
      this.#cursorRow = 0;
      return;
    }
    const rows = this.#layout().treeRows;
    const back = tv.move(pos, -Math.max(0, Math.min(row, rows - 1)));
    this.#top = back.pos;
    this.#cursorRow = back.moved;
    // No empty rows at the bottom while there are rows above the top: show as many as fit.
    const below = tv.move(this.#top, rows - 1).moved + 1;
    if (below < rows) {
      const up = tv.move(this.#top, -(rows - below));
      this.#top = up.pos;
      this.#cursorRow += up.moved;
    }
    this.#fit();
  }

  #down(n: number): void {
    const tv = this.#ready();
    if (!this.#cursor || !this.#top) return;
    const r = tv.move(this.#cursor, n);
    if (!r.moved) return;
    this.#cursor = r.pos;
    this.#cursorRow += r.moved;
    const rows = this.#layout().treeRows;
    if (this.#cursorRow > rows - 1) {
      this.#top = tv.move(this.#top, this.#cursorRow - (rows - 1)).pos;
      this.#cursorRow = rows - 1;
    }
    this.#fit();
  }

  #up(n: number): void {
    const tv = this.#ready();
    if (!this.#cursor) return;
    const r = tv.move(this.#cursor, -n);
    if (!r.moved) return;
    this.#cursor = r.pos;
    this.#cursorRow -= r.moved;
    if (this.#cursorRow < 0) {
      this.#top = r.pos;
      this.#cursorRow = 0;
    }
  }

  /** Keep the cursor row inside the tree's rows after the layout changed (resize, footer lines). */
  #clampRows(): void {
    if (this.#stale) return;
    const rows = this.#layout().treeRows;
    if (this.#top && this.#cursorRow > rows - 1) {
      this.#top = this.#tv.move(this.#top, this.#cursorRow - (rows - 1)).pos;
      this.#cursorRow = rows - 1;
    }
    this.#fit();
  }

  /**
   * With wrapping on, rows take several screen lines: move the top down until the rows from the top to the cursor
   * fit in the pane, so the selected row is wholly on screen. Looks at most at the rows on screen.
   */
  #fit(): void {
    const cur = this.#cursor;
    if (!this.wrap || !cur || !this.#top || this.#cursorRow === 0) return;
    const tv = this.#tv;
    const { treeRows, rightW } = this.#layout();
    let pos: Pos = cur;
    let used = this.#rowLines(pos, rightW, treeRows);
    let k = 0;
    while (k < this.#cursorRow) {
      const p = tv.prev(pos);
      if (!p) break;
      const l = this.#rowLines(p, rightW, treeRows);
      if (used + l > treeRows) break;
      used += l;
      pos = p;
      k++;
    }
    if (k < this.#cursorRow) {
      this.#top = pos;
      this.#cursorRow = k;
    }
  }

  #toggleFold(path: string): void {
    if (this.#flipped.has(path)) this.#flipped.delete(path);
    else this.#flipped.add(path);
  }

  #setFilter(text: string): void {
    this.filterText = text;
    if (text === "") {
      this.#filter = null;
      this.filterError = null;
    } else {
      try {
        this.#filter = new RegExp(text);
        this.filterError = null;
      } catch (e) {
        this.filterError = `invalid regex: ${(e as Error).message.replace(/^Invalid regular expression: /, "")}`;
        return;
      }
    }
    this.#rebuild();
  }

  selectLayer(i: number): void {
    const n = this.model.layers.length;
    const to = Math.max(0, Math.min(n - 1, i));
    if (to === this.layer) return;
    this.layer = to;
    this.#rebuild();
  }

  setCompare(mode: CompareMode): void {
    if (mode === this.compare) return;
    this.compare = mode;
    this.#rebuild();
  }

  resize(width: number, height: number): void {
    this.width = width;
    this.height = height;
    this.#clampRows();
  }

  /** Show `path` in the tree of `layer`: select that layer, unfold its parents, clear filters hiding it. */
  jumpTo(path: string, layer: number): void {
    this.overlay = null;
    this.pane = "tree";
    this.layer = Math.max(0, Math.min(this.model.layers.length - 1, layer));
    const parts = path.split("/").filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const p = parts.slice(0, i).join("/");
      if (this.isCollapsed(p)) this.#toggleFold(p);
    }
    this.#stale = null;
    this.#tv = this.#newTreeView();
    const clean = parts.join("/");
    let pos = this.#tv.find(clean);
    if (!pos || nodeAt(pos).path !== clean) {
      if (this.hidden.size || this.#filter) {
        this.hidden = new Set();
        this.#filter = null;
        this.filterText = "";
        this.filterError = null;
        this.#tv = this.#newTreeView();
        pos = this.#tv.find(clean);
        this.status = "filters cleared to show the file";
      }
    }
    this.#anchor(clean, Math.floor(this.#layout().treeRows / 3));
    if (!pos || nodeAt(pos).path !== clean) this.status = `/${clean} is not in layer ${this.layer}`;
  }

  // ---- keys ----

  key(k: string): KeyResult {
    this.status = null;
    if (k === "ctrl+c") return "quit";
    if (k === "ctrl+z") return "suspend";
    if (this.overlay?.kind === "help") {
      this.overlay = null;
      return k === "q" ? "quit" : undefined;
    }
    if (this.filterOpen) {
      this.#filterKey(k);
      return undefined;
    }
    if (this.overlay?.kind === "largest") {
      this.#largestKey(this.overlay, k);
      return undefined;
    }
    switch (k) {
      case "q":
        return "quit";
      case "tab":
      case "shift+tab":
        this.pane = this.pane === "layers" ? "tree" : "layers";
        return undefined;
      case "ctrl+f":
      case "ctrl+/":
        this.filterOpen = true;
        this.pane = "tree";
        return undefined;
      case "?":
        this.overlay = { kind: "help" };
        return undefined;
      case "ctrl+g":
        this.overlay = { kind: "largest", items: this.model.largest(50), index: 0, top: 0 };
        return undefined;
      case "ctrl+b":
        this.showAttributes = !this.showAttributes;
        this.#clampRows();
        return undefined;
      case "ctrl+p":
        this.wrap = !this.wrap;
        this.#clampRows();
        return undefined;
      case "ctrl+o":
        this.sort = this.sort === "name" ? "size" : "name";
        this.#rebuild();
        return undefined;
    }
    if (this.pane === "layers") this.#layersKey(k);
    else this.#treeKey(k);
    return undefined;
  }

  #layersKey(k: string): void {
    const page = Math.max(1, this.#layout().layersH - 2);
    switch (k) {
      case "up":
      case "k":
        this.selectLayer(this.layer - 1);
        break;
      case "down":
      case "j":
        this.selectLayer(this.layer + 1);
        break;
      case "pgup":
      case "u":
        this.selectLayer(this.layer - page);
        break;
      case "pgdn":
      case "d":
        this.selectLayer(this.layer + page);
        break;
      case "home":
        this.selectLayer(0);
        break;
      case "end":
        this.selectLayer(this.model.layers.length - 1);
        break;
      case "right":
      case "l":
        this.pane = "tree";
        break;
      case "ctrl+l":
        this.setCompare("layer");
        break;
      case "ctrl+a":
        this.setCompare("aggregated");
        break;
    }
  }

  #treeKey(k: string): void {
    const rows = this.#layout().treeRows;
    const tv = this.#ready();
    switch (k) {
      case "up":
      case "k":
        this.#up(1);
        break;
      case "down":
      case "j":
        this.#down(1);
        break;
      case "pgup":
      case "u":
        this.#up(rows);
        break;
      case "pgdn":
      case "d":
        this.#down(rows);
        break;
      case "home":
        this.#anchor(null, 0);
        break;
      case "end": {
        const last = tv.last();
        if (last) this.#anchor(nodeAt(last).path, rows - 1);
        break;
      }
      case "left":
      case "h": {
        const c = this.#cursor;
        const parent = c && tv.parent(c);
        if (!c || !parent) {
          this.pane = "layers";
          break;
        }
        // The parent is on screen when it is within cursorRow rows above; otherwise it becomes the top row.
        let p = c;
        let steps = 0;
        const target = nodeAt(parent);
        while (steps < this.#cursorRow) {
          const q = tv.prev(p);
          if (!q) break;
          p = q;
          steps++;
          if (nodeAt(p) === target) break;
        }
        if (nodeAt(p) === target) {
          this.#cursor = p;
          this.#cursorRow -= steps;
        } else {
          this.#cursor = parent;
          this.#top = parent;
          this.#cursorRow = 0;
        }
        break;
      }
      case "right":
      case "l": {
        const n = this.selected;
        if (!n?.children || tv.children(n).length === 0) break;
        if (this.isCollapsed(n.path)) this.#toggleFold(n.path);
        this.#down(1);
        break;
      }
      case "space": {
        const n = this.selected;
        if (!n || !this.#cursor) break;
        if (n.children && tv.children(n).length > 0) {
          this.#toggleFold(n.path);
        } else {
          // On a file: fold its directory and select it.
          const parent = tv.parent(this.#cursor);
          if (!parent) break;
          const path = nodeAt(parent).path;
          this.#toggleFold(path);
          this.#anchor(path, this.#cursorRow);
        }
        break;
      }
      case "ctrl+space": {
        this.#foldAll = !this.#foldAll;
        this.#flipped.clear();
        this.#anchor(this.selected?.path ?? null, this.#cursorRow);
        break;
      }
      case "ctrl+a":
        this.#toggleHidden("added");
        break;
      case "ctrl+r":
        this.#toggleHidden("removed");
        break;
      case "ctrl+m":
      case "enter":
        this.#toggleHidden("modified");
        break;
      case "ctrl+u":
        this.#toggleHidden("unmodified");
        break;
      case "ctrl+e":
        this.#extract();
        break;
    }
  }

  #toggleHidden(m: Marker): void {
    const h = new Set(this.hidden);
    if (h.has(m)) h.delete(m);
    else h.add(m);
    this.hidden = h;
    this.#rebuild();
  }

  #filterKey(k: string): void {
    switch (k) {
      case "esc":
        this.filterOpen = false;
        this.#setFilter("");
        return;
      case "enter":
      case "tab":
        this.filterOpen = false;
        if (this.filterError) this.#setFilter("");
        return;
      case "backspace":
        this.#setFilter([...this.filterText].slice(0, -1).join(""));
        return;
      case "ctrl+u":
        this.#setFilter("");
        return;
      case "up":
        this.#up(1);
        return;
      case "down":
        this.#down(1);
        return;
      case "pgup":
        this.#up(this.#layout().treeRows);
        return;
      case "pgdn":
        this.#down(this.#layout().treeRows);
        return;
      case "space":
        this.#setFilter(`${this.filterText} `);
        return;
    }
    if ([...k].length === 1 && k >= " ") this.#setFilter(this.filterText + k);
  }

  #largestKey(o: LargestOverlay, k: string): void {
    const rows = Math.max(1, this.#layout().bodyH - 2);
    const move = (to: number) => {
      o.index = Math.max(0, Math.min(o.items.length - 1, to));
      if (o.index < o.top) o.top = o.index;
      if (o.index >= o.top + rows) o.top = o.index - rows + 1;
    };
    switch (k) {
      case "up":
      case "k":
        move(o.index - 1);
        return;
      case "down":
      case "j":
        move(o.index + 1);
        return;
      case "pgup":
      case "u":
        move(o.index - rows);
        return;
      case "pgdn":
      case "d":
        move(o.index + rows);
        return;
      case "enter": {
        const it = o.items[o.index];
        if (it) this.jumpTo(it.path, it.layer);
        else this.overlay = null;
        return;
      }
      case "esc":
      case "q":
      case "ctrl+g":
        this.overlay = null;
        return;
    }
  }

  #extract(): void {
    const n = this.selected;
    if (!n) {
      this.status = "nothing selected";
      return;
    }
    if (n.marker === "removed") {
      this.status = `not extracted: /${oneLine(n.path)} is removed in layer ${n.layer}`;
      return;
    }
    if (n.type !== "file") {
      this.status = `not extracted: /${oneLine(n.path)} is a ${n.type}, not a regular file`;
      return;
    }
    if (n.name === "" || n.name === "." || n.name === ".." || n.name.includes("/")) {
      this.status = `not extracted: cannot name a file ${JSON.stringify(n.name)}`;
      return;
    }
    const dest = join(this.cwd, n.name);
    const layer = this.layer;
    const shown = `/${oneLine(n.path)}`;
    this.status = `extracting ${shown} …`;
    const run = async () => {
      let fh: Awaited<ReturnType<typeof open>> | undefined;
      let bytes = 0;
      try {
        fh = await open(dest, "wx", n.mode & 0o777);
        for await (const chunk of this.model.readFile(n.path, layer)) {
          await fh.write(chunk);
          bytes += chunk.length;
        }
        await fh.close();
        fh = undefined;
        this.status = `extracted ${shown} (layer ${layer}, ${humanBytes(bytes)}) to ${oneLine(dest)}`;
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.code === "EEXIST") this.status = `not extracted: ${oneLine(dest)} exists (never overwritten)`;
        else {
          this.status = `extract of ${shown} failed: ${oneLine(err.message)}`;
          if (fh) {
            await fh.close().catch(() => {});
            fh = undefined;
            await unlink(dest).catch(() => {});
          }
        }
      }
      this.onChange?.();
    };
    this.#pending = this.#pending.then(run);
  }

  // ---- layout and rendering ----

  #layout(): Layout {
    const footer = this.#footer();
    const bodyH = Math.max(1, this.height - footer.length);
    const leftW = Math.max(24, Math.min(100, Math.floor(this.width * 0.42)));
    const rightW = Math.max(1, this.width - leftW - 1);
    const n = this.model.layers.length;
    const layersH = Math.min(n + 2, Math.max(4, Math.floor(bodyH * 0.4)));
    const rest = bodyH - layersH;
    const detailsH = Math.max(0, Math.min(8, rest - 6));
    const imageH = Math.max(0, rest - detailsH);
    return { leftW, rightW, bodyH, layersH, detailsH, imageH, treeRows: Math.max(1, bodyH - 2), footer };
  }

  #footer(): Line[] {
    const out: Line[] = [];
    if (this.filterOpen || this.filterText) {
      const line: Line = [seg("Path Filter: ", { bold: true }), seg(clean(this.filterText))];
      if (this.filterOpen) line.push(seg("█"));
      if (this.filterError) line.push(seg(`  ${this.filterError}`, { fg: RED }));
      else if (!this.filterOpen) line.push(seg("  (ctrl+f edit, then esc clears)", { dim: true }));
      else line.push(seg("  (enter keep, esc clear)", { dim: true }));
      out.push(line);
    }
    if (this.status) out.push([seg(clean(this.status), { fg: CYAN })]);
    out.push(this.#keyHelp());
    return out;
  }

  #keyHelp(): Line {
    const items: [string, string][] = [
      ["^C", "Quit"],
      ["Tab", "Switch view"],
      ["^F", "Filter"],
    ];
    if (this.filterOpen) items.splice(1, 2, ["Enter", "Keep filter"], ["Esc", "Clear filter"]);
    else if (this.overlay?.kind === "largest") items.push(["Enter", "Jump to file"], ["Esc", "Close"]);
    else if (this.pane === "layers")
      items.push(["^L", "Show layer changes"], ["^A", "Show aggregated changes"], ["^G", "Largest files"]);
    else
      items.push(
        ["Space", "Collapse dir"],
        ["^Space", "Collapse all dirs"],
        ["^A", "Added"],
        ["^R", "Removed"],
        ["^M", "Modified"],
        ["^U", "Unmodified"],
        ["^B", "Attributes"],
        ["^O", "Sort"],
        ["^P", "Wrap"],
        ["^E", "Extract"],
        ["^G", "Largest"],
      );
    items.push(["?", "Help"]);
    const line: Line = [];
    const hiddenKey: Record<string, Marker> = {
      "^A": "added",
      "^R": "removed",
      "^M": "modified",
      "^U": "unmodified",
    };
    for (const [key, label] of items) {
      const m = this.pane === "tree" ? hiddenKey[key] : undefined;
      const off = m !== undefined && this.hidden.has(m);
      line.push(seg("▏"), seg(`${key} `, { bold: true }), seg(`${label} `, off ? { dim: true } : undefined));
    }
    return line;
  }

  /** The screen: `height` strings of exactly `width` columns. */
  render(): string[] {
    const { width, height } = this;
    const m = this.mode;
    if (width < MIN_WIDTH || height < MIN_HEIGHT) {
      const msg = `terminal too small (${width}×${height}); need ${MIN_WIDTH}×${MIN_HEIGHT} - q quits`;
      return Array.from({ length: Math.max(0, height) }, (_, i) =>
        fitLine(i === 0 ? [seg(truncate(msg, Math.max(0, width)))] : [], Math.max(0, width), m),
      );
    }
    this.#ready();
    this.#clampRows();
    const L = this.#layout();
    const left: { line: Line; fill?: Style }[] = [
      ...this.#layersPane(L.leftW, L.layersH),
      ...this.#detailsPane(L.leftW, L.detailsH),
      ...this.#imagePane(L.leftW, L.imageH),
    ];
    const right: { line: Line; fill?: Style }[] =
      this.overlay?.kind === "help"
        ? this.#helpPane(L.rightW, L.bodyH)
        : this.overlay?.kind === "largest"
          ? this.#largestPane(this.overlay, L.rightW, L.bodyH)
          : this.#treePane(L.rightW, L.bodyH);
    const sep = " ";
    const out: string[] = [];
    for (let i = 0; i < L.bodyH; i++) {
      const l = left[i];
      const r = right[i];
      out.push(
        fitLine(l?.line ?? [], L.leftW, m, l?.fill) +
          sep +
          fitLine(r?.line ?? [], width - L.leftW - 1, m, r?.fill),
      );
    }
    for (const f of L.footer) out.push(fitLine(f, width, m));
    return out.slice(0, height);
  }

  #layersPane(w: number, h: number): { line: Line; fill?: Style }[] {
    if (h <= 0) return [];
    const out: { line: Line; fill?: Style }[] = [];
    const focused = this.pane === "layers" && !this.overlay;
    const suffix = this.compare === "aggregated" ? "aggregated" : "";
    out.push({ line: titleLine("Layers", w, focused, suffix) });
    if (h === 1) return out;
    out.push({ line: [seg(" Cmp     Size  Command", { bold: true })] });
    const rows = h - 2;
    const layers = this.model.layers;
    if (this.layer < this.#layerTop) this.#layerTop = this.layer;
    if (this.layer >= this.#layerTop + rows) this.#layerTop = this.layer - rows + 1;
    this.#layerTop = Math.max(0, Math.min(this.#layerTop, Math.max(0, layers.length - rows)));
    for (let i = this.#layerTop; i < Math.min(layers.length, this.#layerTop + rows); i++) {
      const l = layers[i]!;
      const sel = i === this.layer;
      const { cmp, style } = this.#cmp(i);
      const cmd = i === 0 ? `FROM ${shortDigest(l.digest)}` : oneLine(l.command);
      const rowStyle: Style | undefined = sel ? (focused ? { inverse: true } : { bold: true }) : undefined;
      out.push({
        line: [
          seg(sel ? (focused ? "▸" : "▹") : " ", rowStyle),
          seg(` ${cmp} `, style),
          seg(` ${padStart(humanBytes(l.size), 8)}  `, rowStyle),
          seg(cmd, rowStyle),
        ],
        ...(sel && focused ? { fill: { inverse: true } } : {}),
      });
    }
    return out;
  }

  /** The compare bar: "█" the layers whose changes are shown, "░" the layers they are compared with. */
  #cmp(i: number): { cmp: string; style: Style } {
    const sel = this.layer;
    const top = this.compare === "layer" ? i === sel : i >= 1 ? i <= sel : sel === 0;
    const bottom = !top && (this.compare === "layer" ? i < sel : i === 0);
    if (top) return { cmp: "█", style: { fg: MAGENTA } };
    if (bottom) return { cmp: "░", style: { fg: BLUE } };
    return { cmp: " ", style: {} };
  }

  #detailsPane(w: number, h: number): { line: Line }[] {
    if (h <= 0) return [];
    const out: { line: Line }[] = [{ line: titleLine("Layer Details", w, false) }];
    const l: ExplorerLayer | undefined = this.model.layers[this.layer];
    if (!l) return out;
    const label = (k: string, v: string): { line: Line } => ({ line: [seg(k, { bold: true }), seg(v)] });
    const lines: { line: Line }[] = [
      label("Digest:  ", l.digest),
      label("DiffID:  ", l.diffId),
      label(
        "Size:    ",
        `${humanBytes(l.size)} (${l.entries} ${l.entries === 1 ? "entry" : "entries"}; blob ${humanBytes(l.compressedSize)}, ${compression(l.mediaType)})`,
      ),
      label("Changes: ", `${l.added} added, ${l.modified} modified, ${l.removed} removed`),
      { line: [seg("Command:", { bold: true })] },
    ];
    for (const x of lines) if (out.length < h) out.push(x);
    const left = h - out.length;
    if (left > 0) {
      const cmd =
        this.layer === 0 && !l.command ? `FROM ${shortDigest(l.digest)}` : oneLine(l.command) || "(none)";
      for (const c of wrap(cmd, w, left)) out.push({ line: [seg(c)] });
    }
    return out;
  }

  #imagePane(w: number, h: number): { line: Line }[] {
    if (h <= 0) return [];
    const out: { line: Line }[] = [{ line: titleLine("Image Details", w, false) }];
    const { dive, exact } = this.model.metrics;
    const img = this.model.image;
    const label = (k: string, v: string, style?: Style, more: Line = []): { line: Line } => ({
      line: [seg(k, { bold: true }), seg(v, style), ...more],
    });
    const eff = Number.isFinite(dive.efficiency)
      ? `${Math.trunc(100 * dive.efficiency)} %`
      : String(dive.efficiency);
    const rows: { line: Line }[] = [
      label("Image name: ", oneLine(img.name ?? img.source)),
      label("Total Image size: ", humanBytes(dive.sizeBytes)),
      label("Potential wasted space: ", humanBytes(dive.wastedBytes), undefined, [
        seg("  exact (osless): ", { fg: CYAN }),
        seg(humanBytes(exact.wastedBytes), { fg: CYAN, bold: true }),
      ]),
      label("Image efficiency score: ", eff, undefined, [
        seg("  exact (osless): ", { fg: CYAN }),
        seg(pct(exact.efficiency), { fg: CYAN, bold: true }),
      ]),
      { line: [] },
      { line: [seg("Count  Total Space  Path", { bold: true })] },
    ];
    for (const r of rows) if (out.length < h) out.push(r);
    for (const e of dive.inefficient) {
      if (out.length >= h) break;
      const path = e.file.startsWith("/") ? e.file : `/${e.file}`;
      out.push({
        line: [
          seg(`${padStart(String(e.count), 5)}  ${padStart(humanBytes(e.sizeBytes), 11)}  ${oneLine(path)}`),
        ],
      });
    }
    if (dive.inefficient.length === 0 && out.length < h) out.push({ line: [seg("(none)", { dim: true })] });
    return out;
  }

  #treeTitle(): string {
    const bits: string[] = [`layer ${this.layer}`];
    if (this.sort === "size") bits.push("by size");
    if (this.wrap) bits.push("wrapped");
    if (this.hidden.size) bits.push(`hiding ${[...this.hidden].join(",")}`);
    if (this.filterText && !this.filterError) bits.push("filtered");
    return bits.join(" · ");
  }

  #treePane(w: number, h: number): { line: Line; fill?: Style }[] {
    const out: { line: Line; fill?: Style }[] = [];
    const focused = this.pane === "tree";
    const title = this.compare === "aggregated" ? "Aggregated Layer Contents" : "Current Layer Contents";
    out.push({ line: titleLine(title, w, focused, this.#treeTitle()) });
    if (h === 1) return out;
    out.push({
      line: [
        seg(
          this.showAttributes
            ? `   Permission${padStart("UID:GID", 12)}${padStart("Size", 10)}  Filetree`
            : "   Filetree",
          { bold: true },
        ),
      ],
    });
    const tv = this.#tv;
    let pos = this.#top;
    if (!pos) {
      out.push({
        line: [seg(tv.filtering ? "   (nothing matches the filters)" : "   (empty)", { dim: true })],
      });
      return out;
    }
    const rows = h - 2;
    for (let row = 0; out.length < h && pos; row++) {
      const n = nodeAt(pos);
      const sel = row === this.#cursorRow;
      const ms = MARKER_STYLE[n.marker];
      const rowStyle: Style | undefined = sel ? { ...ms, inverse: focused, bold: !focused } : ms;
      const fill = sel && focused ? { fill: { inverse: true } } : {};
      const guideStyle = sel ? rowStyle : ms ? { ...ms } : { fg: GREY };
      const nameStyle = n.type === "directory" && !sel ? { ...ms, bold: true } : rowStyle;
      const head: Line = [
        seg(sel ? (focused ? "▸" : "▹") : " ", rowStyle),
        seg(MARKER_LETTER[n.marker], rowStyle),
      ];
      head.push(seg(" ", rowStyle));
      const attrs = this.showAttributes ? this.#attrs(n) : "";
      if (attrs) head.push(seg(attrs, rowStyle));
      const guides = tv.guides(pos);
      head.push(seg(guides, guideStyle));
      const name = this.#rowName(n);
      const chunks = this.wrap
        ? this.#wrapName(name, w - 3 - textWidth(attrs) - textWidth(guides), rows)
        : [name];
      head.push(seg(chunks[0]!, nameStyle));
      out.push({ line: head, ...fill });
      if (chunks.length > 1) {
        // Continuation lines: blank under the gutter and attributes, the guides of the levels that go on below.
        const f = pos[pos.length - 1]!;
        const more = f.index === f.list.length - 1 ? "    " : "│   ";
        const cont = guides.slice(0, Math.max(0, guides.length - 4)) + more;
        const lead = " ".repeat(3 + textWidth(attrs));
        for (let i = 1; i < chunks.length && out.length < h; i++) {
          out.push({
            line: [seg(lead, rowStyle), seg(cont, guideStyle), seg(chunks[i]!, nameStyle)],
            ...fill,
          });
        }
      }
      pos = tv.next(pos);
    }
    return out;
  }

  /** The attribute columns of a tree row (mode, uid:gid, size). */
  #attrs(n: FileNode): string {
    return (
      modeString(n.type, n.mode) +
      padStart(`${n.uid}:${n.gid}`, 12) +
      padStart(n.type === "directory" || n.type === "file" ? humanBytes(n.size) : "-", 10) +
      "  "
    );
  }

  /** What a tree row shows after its guides: the name, and a link's target. */
  #rowName(n: FileNode): string {
    let name = clean(n.name);
    if (n.linkTarget !== undefined) name += ` -> ${clean(n.linkTarget)}`;
    else if (n.hardlinkTo !== undefined) name += ` link to /${clean(n.hardlinkTo)}`;
    return name;
  }

  /**
   * A row's name in pieces of `width` columns, at most `max` of them (the last then ends with "…"). One piece when
   * it fits, or when the name column has no room at all (the row is cut at the pane's edge as without wrapping).
   */
  #wrapName(name: string, width: number, max: number): string[] {
    if (width < 1 || textWidth(name) <= width) return [name];
    const out: string[] = [];
    let cur = "";
    let cw = 0;
    for (const ch of name) {
      const w = charWidth(ch.codePointAt(0)!);
      if (cw + w > width && cur) {
        out.push(cur);
        cur = "";
        cw = 0;
        if (out.length === max) {
          out[max - 1] = truncate(`${out[max - 1]}…`, width);
          return out;
        }
      }
      cur += ch;
      cw += w;
    }
    if (cur) out.push(cur);
    return out;
  }

  /** Screen lines the tree row at `pos` takes in a pane `w` columns wide with `rows` lines for rows. */
  #rowLines(pos: Pos, w: number, rows: number): number {
    if (!this.wrap) return 1;
    const n = nodeAt(pos);
    const attrs = this.showAttributes ? textWidth(this.#attrs(n)) : 0;
    const width = w - 3 - attrs - textWidth(this.#tv.guides(pos));
    const name = this.#rowName(n);
    if (width < 1 || textWidth(name) <= width) return 1;
    return this.#wrapName(name, width, rows).length;
  }

  #largestPane(o: LargestOverlay, w: number, h: number): { line: Line; fill?: Style }[] {
    const out: { line: Line; fill?: Style }[] = [
      { line: titleLine("Largest Files", w, true, "enter: jump to the file · esc: close") },
      { line: [seg(`   ${padStart("Size", 9)}  Layer  Path`, { bold: true })] },
    ];
    if (o.items.length === 0) out.push({ line: [seg("   (no regular files)", { dim: true })] });
    for (let i = o.top; i < o.items.length && out.length < h; i++) {
      const it = o.items[i]!;
      const sel = i === o.index;
      const st: Style | undefined = sel ? { inverse: true } : undefined;
      out.push({
        line: [
          seg(sel ? "▸" : " ", st),
          seg(
            `  ${padStart(humanBytes(it.size), 9)}  ${padStart(String(it.layer), 5)}  /${clean(it.path)}`,
            st,
          ),
        ],
        ...(sel ? { fill: { inverse: true } } : {}),
      });
    }
    return out;
  }

  #helpPane(w: number, h: number): { line: Line }[] {
    const out: { line: Line }[] = [{ line: titleLine("Keys", w, true, "any key closes") }];
    const kw = Math.max(...KEY_HELP.map(([k]) => textWidth(k))) + 2;
    for (const [k, v] of KEY_HELP) {
      if (out.length >= h) break;
      if (v === "") out.push({ line: [seg(k, { bold: true, underline: true })] });
      else out.push({ line: [seg(`  ${padEnd(k, kw)}`, { bold: true }), seg(v)] });
    }
    return out;
  }
}
