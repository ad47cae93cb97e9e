/**
 * Shared plumbing of the package-database readers: capped reads of database files that turn I/O trouble into
 * findings, and a finding list that keeps a corrupt database from flooding the report.
 */
import type { ImageFiles } from "../files.ts";
import type { CatalogFinding } from "./types.ts";

/** Findings kept per (code, file); the rest are counted in one closing finding. */
export const FINDINGS_PER_KIND = 20;

/** Collects findings, at most FINDINGS_PER_KIND of one code for one file. */
export class FindingList {
  readonly #list: CatalogFinding[] = [];
  readonly #counts = new Map<string, { code: string; path: string; n: number }>();

  add(code: string, path: string, message: string): void {
    const key = `${code}\0${path}`;
    const c = this.#counts.get(key) ?? { code, path, n: 0 };
    c.n++;
    this.#counts.set(key, c);
    if (c.n <= FINDINGS_PER_KIND) this.#list.push({ code, path, message });
  }

  /** Adds findings made elsewhere (another parser's result), under the same per-kind limit. */
  addAll(findings: readonly CatalogFinding[]): void {
    for (const f of findings) this.add(f.code, f.path, f.message);
  }

  /** The findings, with one "N more" finding per (code, file) that went over the limit. */
  done(): CatalogFinding[] {
    const out = [...this.#list];
    for (const c of this.#counts.values()) {
      if (c.n > FINDINGS_PER_KIND) {
        out.push({
          code: c.code,
          path: c.path,
          message: `${c.n - FINDINGS_PER_KIND} more ${c.code} findings in this file were left out`,
        });
      }
    }
    return out;
  }
}

export interface TextRead {
  /** The file's text (UTF-8, invalid bytes replaced), cut back to the last blank line when the file was too large. */
  text: string;
  truncated: boolean;
}

const MIB = 1024 * 1024;

function sizeText(n: number): string {
  return n >= MIB ? `${(n / MIB).toFixed(1)} MiB` : `${n} bytes`;
}

/**
 * Reads the text database `path` (up to `cap` bytes). Undefined when it does not exist (or is not a regular
 * file). A file over the cap is cut back to its last blank line, so a stanza is never read half
 * (`<PREFIX>_DB_TRUNCATED`); NUL bytes (`<PREFIX>_DB_BINARY`) and read errors (`<PREFIX>_DB_UNREADABLE`) are
 * reported too. `stanzas`: false for files without blank-line separated records (file lists), which are cut
 * at the last newline instead.
 */
export async function readDbText(
  files: ImageFiles,
  path: string,
  cap: number,
  prefix: string,
  findings: FindingList,
  stanzas = true,
): Promise<TextRead | undefined> {
  let buf: Buffer | undefined;
  try {
    buf = await files.read(path, cap + 1);
  } catch (e) {
    findings.add(`${prefix}_DB_UNREADABLE`, path, `cannot read ${path}: ${(e as Error).message}`);
    return undefined;
  }
  if (buf === undefined) return undefined;
  const truncated = buf.length > cap;
  if (truncated) buf = buf.subarray(0, cap);
  if (buf.includes(0)) {
    findings.add(
      `${prefix}_DB_BINARY`,
      path,
      `${path} holds NUL bytes: it is not a text database (corrupt?); only what still parses was read`,
    );
  }
  let text = buf.toString("utf8");
  if (truncated) {
    let size = "";
    try {
      const st = await files.stat(path);
      if (st) size = ` is ${sizeText(st.size)}:`;
    } catch {
      // The size only makes the message nicer.
    }
    text = stanzas ? cutAtLastBlankLine(text) : text.slice(0, text.lastIndexOf("\n") + 1);
    findings.add(
      `${prefix}_DB_TRUNCATED`,
      path,
      `${path}${size} only its first ${sizeText(cap)} were read (the entries after that are missing)`,
    );
  }
  return { text, truncated };
}

/** `text` up to and including its last blank line ("" when it has none): drops a record cut short. */
export function cutAtLastBlankLine(text: string): string {
  let nl = text.lastIndexOf("\n");
  while (nl >= 0) {
    const prev = nl > 0 ? text.lastIndexOf("\n", nl - 1) : -1;
    if (/^[ \t\r]*$/.test(text.slice(prev + 1, nl))) return text.slice(0, nl + 1);
    nl = prev;
  }
  return "";
}

/** `p` as a normalised absolute image path: "/" + its components, without empty, "." and ".." (which stops at the root). */
export function absPath(p: string): string {
  // Already normal (as nearly every line of a dpkg .list is): returned as is, without splitting it.
  if (p.length > 1 && p.charCodeAt(0) === 0x2f && !p.endsWith("/") && !p.includes("//") && !p.includes("/."))
    return p;
  const parts: string[] = [];
  for (const c of p.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") parts.pop();
    else parts.push(c);
  }
  return `/${parts.join("/")}`;
}
