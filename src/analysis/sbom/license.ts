/**
 * Licences as the package databases state them, sorted into CycloneDX's three forms: an SPDX licence id
 * (`{license: {id}}`), a valid SPDX licence expression (`{expression}`), or a name (`{license: {name}}`) for
 * everything else, verbatim. Debian's DEP-5 short names (`GPL-2+`, `BSD-3-clause`) and old rpm spellings
 * (`GPLv2+`) are not SPDX: they stay names, except where an SPDX id matches case-insensitively (the CycloneDX
 * library's own rule, `fixupSpdxId`: `BSD-3-clause` is `BSD-3-Clause`). The CycloneDX library does not check
 * expressions itself (it asks for spdx-expression-parse, which this project does not carry); `spdxExpression`
 * below does, with the library's SPDX id list and SPDX 2.3 Annex D's grammar.
 */

/** One licence of a component, in the form CycloneDX gets it. */
export type LicenseChoice =
  | { kind: "id"; id: string }
  | { kind: "expression"; expression: string }
  | { kind: "name"; name: string };

/** Maps a string to the SPDX licence id it names (case-insensitively), or undefined: the library's fixupSpdxId. */
export type SpdxIdLookup = (value: string) => string | undefined;

const LICENSE_REF = /^(DocumentRef-[A-Za-z0-9.-]+:)?LicenseRef-[A-Za-z0-9.-]+$/;
/**
 * An exception id after WITH. The library's list has licences only, so an exception is accepted by its form: SPDX
 * exception ids are words of letters, digits, `.` and `-` and nearly all say `exception` (`Classpath-exception-2.0`,
 * `GCC-exception-3.1`, `LLVM-exception`) or `note` (`Linux-syscall-note`). Anything else makes the text a name.
 */
const EXCEPTION = /^[A-Za-z0-9][A-Za-z0-9.-]*$/;
const EXCEPTION_WORD = /exception|note/i;

/**
 * The canonical form of `text` when it is a valid SPDX licence expression with at least one operator or a
 * LicenseRef (ids in their SPDX spelling, single spaces), else undefined. Operators are upper case only
 * (`AND`, `OR`, `WITH`), as SPDX 2.3 requires.
 */
export function spdxExpression(text: string, lookup: SpdxIdLookup): string | undefined {
  const tokens = text.match(/\(|\)|[^\s()]+/g);
  if (!tokens || tokens.length === 0) return undefined;
  const out: string[] = [];
  let i = 0;
  let operators = 0;
  let refs = 0;
  const peek = () => tokens[i];
  const simple = (): boolean => {
    const t = tokens[i];
    if (t === undefined) return false;
    if (LICENSE_REF.test(t)) {
      refs++;
      out.push(t);
      i++;
      return true;
    }
    const plus = t.length > 1 && t.endsWith("+");
    const id = lookup(plus ? t.slice(0, -1) : t);
    if (id === undefined) return false;
    out.push(plus ? `${id}+` : id);
    i++;
    return true;
  };
  const primary = (): boolean => {
    if (peek() === "(") {
      out.push("(");
      i++;
      if (!or()) return false;
      if (peek() !== ")") return false;
      out.push(")");
      i++;
      return true;
    }
    if (!simple()) return false;
    if (peek() === "WITH") {
      const ex = tokens[i + 1];
      if (ex === undefined || !EXCEPTION.test(ex) || !EXCEPTION_WORD.test(ex)) return false;
      out.push("WITH", ex);
      operators++;
      i += 2;
    }
    return true;
  };
  const and = (): boolean => {
    if (!primary()) return false;
    while (peek() === "AND") {
      out.push("AND");
      operators++;
      i++;
      if (!primary()) return false;
    }
    return true;
  };
  const or = (): boolean => {
    if (!and()) return false;
    while (peek() === "OR") {
      out.push("OR");
      operators++;
      i++;
      if (!and()) return false;
    }
    return true;
  };
  if (!or() || i !== tokens.length) return undefined;
  if (operators === 0 && refs === 0) return undefined;
  return out.join(" ").replace(/\( /g, "(").replace(/ \)/g, ")");
}

/** Splits `A AND (B C) AND D` at the AND operators outside parentheses; one part when there are none. */
function splitTopLevelAnd(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "(") depth++;
    else if (c === ")") depth = Math.max(0, depth - 1);
    else if (depth === 0 && text.startsWith(" AND ", i)) {
      parts.push(text.slice(start, i));
      start = i + 5;
      i += 4;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p !== "");
}

function unwrap(part: string): string {
  let p = part.trim();
  while (p.startsWith("(") && p.endsWith(")") && balanced(p.slice(1, -1))) p = p.slice(1, -1).trim();
  return p;
}

function balanced(s: string): boolean {
  let depth = 0;
  for (const c of s) {
    if (c === "(") depth++;
    else if (c === ")" && --depth < 0) return false;
  }
  return depth === 0;
}

/**
 * The CycloneDX licences of one package licence statement: one SPDX id, or one SPDX expression, or else the
 * statement's top-level ` AND ` parts (how the dpkg reader joins a copyright file's licences) each as an SPDX id
 * or a name. Null or blank text gives none.
 */
export function licenseChoices(text: string | null, lookup: SpdxIdLookup): LicenseChoice[] {
  const t = text?.trim();
  if (!t) return [];
  const id = lookup(t);
  if (id !== undefined) return [{ kind: "id", id }];
  const expression = spdxExpression(t, lookup);
  if (expression !== undefined) return [{ kind: "expression", expression }];
  const out: LicenseChoice[] = [];
  const seen = new Set<string>();
  for (const raw of splitTopLevelAnd(t)) {
    const part = unwrap(raw);
    if (part === "") continue;
    const partId = lookup(part);
    const choice: LicenseChoice =
      partId !== undefined ? { kind: "id", id: partId } : { kind: "name", name: part };
    const key = choice.kind === "id" ? `id:${choice.id}` : `name:${part}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(choice);
  }
  return out;
}
