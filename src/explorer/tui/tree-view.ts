/**
 * The rows a file tree shows, produced lazily: a position is the chain of (visible children of a directory,
 * index) frames from the root down to the row, so moving one row, drawing a screenful or finding where a path is
 * costs about the depth of the tree per row, never the size of the tree. Only what is drawn or crossed is ever
 * looked at; a 200k-file image is as quick to move in as a small one.
 *
 * What a directory shows is its children in the chosen order (name: the model's order, no copy; size: largest
 * first, sorted when first shown), without hidden ones. A node is hidden when its marker is one the user hid, or
 * when a path filter is set and its path ("/" + path) does not match; a directory stays visible while anything
 * below it is. That needs a look below, done once per directory per set of options and remembered (`work` counts
 * the nodes examined, for the tests that bound what a key press costs).
 *
 * Collapse state is not part of the options: `isCollapsed(path)` is asked live, so collapsing or expanding keeps
 * the same TreeView (and its memory of what is visible).
 */
import { compareNames } from "../../layer/view-tree.ts";
import type { FileNode, FileTree, Marker } from "../types.ts";

export type SortOrder = "name" | "size";

export interface TreeOptions {
  sort: SortOrder;
  /** Markers whose nodes are hidden. */
  hidden: ReadonlySet<Marker>;
  /** Unanchored, tested on "/" + path. */
  filter: RegExp | null;
  isCollapsed(path: string): boolean;
}

export interface Frame {
  /** The visible children of a directory, in display order. */
  list: readonly FileNode[];
  index: number;
}

/** A row: frames from the root's children down to the row's node (never empty). */
export type Pos = readonly Frame[];

export function nodeAt(pos: Pos): FileNode {
  const f = pos[pos.length - 1]!;
  return f.list[f.index]!;
}

const NO_CHILDREN: readonly FileNode[] = [];

export class TreeView {
  /** Nodes examined so far (children listed, visibility tested, rows stepped over). */
  work = 0;
  readonly #lists = new Map<FileNode, readonly FileNode[]>();
  readonly #visible = new Map<FileNode, boolean>();
  readonly #filtering: boolean;

  constructor(
    readonly tree: FileTree,
    readonly opts: TreeOptions,
  ) {
    this.#filtering = opts.filter !== null || opts.hidden.size > 0;
  }

  get filtering(): boolean {
    return this.#filtering;
  }

  /** Whether the node is shown (if its parent is). */
  visible(node: FileNode): boolean {
    if (!this.#filtering) return true;
    const known = this.#visible.get(node);
    if (known !== undefined) return known;
    this.work++;
    const { hidden, filter } = this.opts;
    const shown = !hidden.has(node.marker);
    let v = shown && (filter === null || filter.test(`/${node.path}`));
    // dive's markers make two kinds of directory uniform: everything below an unmodified directory is unmodified
    // (a changed child makes its directory modified), everything below a removed one is removed. Hiding that
    // marker hides the whole subtree, without a look inside.
    const uniform = !shown && filter === null && (node.marker === "unmodified" || node.marker === "removed");
    if (!v && !uniform && node.children) {
      for (const c of node.children) {
        if (this.visible(c)) {
          v = true;
          break;
        }
      }
    }
    this.#visible.set(node, v);
    return v;
  }

  /** The visible children of a directory in display order. */
  children(dir: FileNode): readonly FileNode[] {
    const all = dir.children;
    if (!all || all.length === 0) return NO_CHILDREN;
    if (!this.#filtering && this.opts.sort === "name") return all;
    const known = this.#lists.get(dir);
    if (known) return known;
    let list = this.#filtering ? all.filter((c) => this.visible(c)) : all.slice();
    this.work += all.length;
    if (this.opts.sort === "size") {
      if (list === all) list = all.slice();
      list.sort((a, b) => b.size - a.size || compareNames(a.name, b.name));
    }
    this.#lists.set(dir, list);
    return list;
  }

  /** A directory with visible children, not collapsed: its children are rows. */
  isOpen(node: FileNode): boolean {
    return node.children !== undefined && !this.opts.isCollapsed(node.path) && this.children(node).length > 0;
  }

  /** A directory with visible children that is collapsed (drawn with "+"). */
  isFolded(node: FileNode): boolean {
    return node.children !== undefined && this.opts.isCollapsed(node.path) && this.children(node).length > 0;
  }

  first(): Pos | null {
    const list = this.children(this.tree.root);
    return list.length ? [{ list, index: 0 }] : null;
  }

  /** The last row of the tree. */
  last(): Pos | null {
    const list = this.children(this.tree.root);
    if (!list.length) return null;
    return this.#descendLast([{ list, index: list.length - 1 }]);
  }

  #descendLast(pos: Frame[]): Pos {
    for (;;) {
      const n = nodeAt(pos);
      if (!this.isOpen(n)) return pos;
      const list = this.children(n);
      pos.push({ list, index: list.length - 1 });
    }
  }

  /** The row after `pos`, or null at the end. */
  next(pos: Pos): Pos | null {
    this.work++;
    const n = nodeAt(pos);
    if (this.isOpen(n)) return [...pos, { list: this.children(n), index: 0 }];
    const out = pos.slice();
    while (out.length) {
      const f = out[out.length - 1]!;
      if (f.index + 1 < f.list.length) {
        out[out.length - 1] = { list: f.list, index: f.index + 1 };
        return out;
      }
      out.pop();
    }
    return null;
  }

  /** The row before `pos`, or null at the start. */
  prev(pos: Pos): Pos | null {
    this.work++;
    const f = pos[pos.length - 1]!;
    if (f.index > 0) {
      const out = pos.slice(0, -1);
      out.push({ list: f.list, index: f.index - 1 });
      return this.#descendLast(out);
    }
    return pos.length > 1 ? pos.slice(0, -1) : null;
  }

  /** The row of the parent directory (null at the top level). */
  parent(pos: Pos): Pos | null {
    return pos.length > 1 ? pos.slice(0, -1) : null;
  }

  /** `pos` moved by `n` rows (negative: up), stopping at either end; `moved` says how far it went. */
  move(pos: Pos, n: number): { pos: Pos; moved: number } {
    let cur = pos;
    let moved = 0;
    while (moved < Math.abs(n)) {
      const p = n > 0 ? this.next(cur) : this.prev(cur);
      if (!p) break;
      cur = p;
      moved++;
    }
    return { pos: cur, moved };
  }

  /**
   * The row showing `path`: the node itself when it is shown, else its deepest shown ancestor (a collapsed or
   * hidden part of the path stops the walk); null when not even its top-level ancestor is shown.
   */
  find(path: string): Pos | null {
    const parts = path.split("/").filter(Boolean);
    const pos: Frame[] = [];
    let dir = this.tree.root;
    let prefix = "";
    for (const part of parts) {
      if (pos.length && !this.isOpen(dir)) break;
      const list = this.children(dir);
      prefix = prefix ? `${prefix}/${part}` : part;
      const index = this.#indexIn(list, dir, prefix, part);
      if (index < 0) break;
      pos.push({ list, index });
      dir = list[index]!;
    }
    return pos.length ? pos : null;
  }

  #indexIn(list: readonly FileNode[], dir: FileNode, path: string, name: string): number {
    if (list === dir.children) {
      // The model's own order (names in UTF-8 byte order): binary search.
      let lo = 0;
      let hi = list.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        this.work++;
        const c = compareNames(list[mid]!.name, name);
        if (c === 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
      }
      const node = this.tree.get(path);
      return node ? list.indexOf(node) : -1;
    }
    const node = this.tree.get(path);
    return node ? list.indexOf(node) : -1;
  }

  /** Tree guides for a row: "│   " or "    " per ancestor level, then "├── " / "└── " ("─+ " when folded). */
  guides(pos: Pos): string {
    let s = "";
    for (let i = 0; i < pos.length - 1; i++) {
      const f = pos[i]!;
      s += f.index === f.list.length - 1 ? "    " : "│   ";
    }
    const f = pos[pos.length - 1]!;
    const lastChild = f.index === f.list.length - 1;
    const folded = this.isFolded(nodeAt(pos));
    return s + (lastChild ? "└─" : "├─") + (folded ? "+ " : "─ ");
  }
}
