/**
 * Names inside layer tars: lexical normalisation and containment (extraction-rules.md R2, R3, R21) and the
 * OCI whiteout conventions (image-spec layer.md; rules "Whiteouts"). Shared by apply, the squashed view and the
 * layer writer so that all three read a name the same way.
 */
import { isUtf8 } from "node:buffer";
import { OslessError } from "../errors.ts";
import type { TarHeader } from "../tar/index.ts";

export const WHITEOUT_PREFIX = ".wh.";
/** Whiteout names that are not whiteouts of a sibling: AUFS metadata (`.wh..wh.plnk`, `.wh..wh.aufs`). */
export const WHITEOUT_META_PREFIX = ".wh..wh.";
export const WHITEOUT_OPAQUE = ".wh..wh..opq";

/** Linux limits: a component of more than 255 bytes or a path of more than 4096 is ENAMETOOLONG. */
export const NAME_MAX = 255;
export const PATH_MAX = 4096;
/** Default cap on the number of components of an entry name. */
export const MAX_DEPTH = 1024;

export function unsafePath(raw: string, why: string, details: Record<string, unknown> = {}): OslessError {
  return new OslessError("E_TAR_UNSAFE_PATH", `layer entry "${printable(raw)}": ${why}`, {
    hint: "the layer was built to escape the target directory or is corrupt; do not use this image",
    details: { path: raw, ...details },
  });
}

/** The name with control characters escaped, for messages. */
export function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/**
 * R2: strip leading slashes, clean lexically ('.', '' and '..' components); a name that still climbs above the
 * root is refused. Returns "." for the root itself, otherwise a relative path without '.'/'..' components.
 * `..\x` and `..gitme` are ordinary names. Limits (R21): component <= 255 bytes, path <= 4096 bytes, depth.
 */
export function normalizeEntryPath(raw: string, maxDepth = MAX_DEPTH): string {
  const out: string[] = [];
  for (const c of raw.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") {
      if (out.length === 0) throw unsafePath(raw, "the name climbs out of the root with '..'");
      out.pop();
      continue;
    }
    if (Buffer.byteLength(c) > NAME_MAX) {
      throw new OslessError(
        "E_TAR_LIMIT",
        `layer entry "${printable(raw.slice(0, 300))}…": a name component is longer than ${NAME_MAX} bytes`,
        { hint: "Linux cannot store such a name (ENAMETOOLONG)", details: { limit: NAME_MAX } },
      );
    }
    out.push(c);
  }
  if (out.length > maxDepth) {
    throw new OslessError(
      "E_TAR_LIMIT",
      `layer entry "${printable(raw.slice(0, 200))}…": ${out.length} levels deep, over the limit of ${maxDepth}`,
      {
        hint: `entry names may be at most ${maxDepth} levels deep, a fixed limit for safety that real images stay far below; the layer is corrupt or hostile`,
        details: { limit: maxDepth },
      },
    );
  }
  const clean = out.length === 0 ? "." : out.join("/");
  if (Buffer.byteLength(clean) > PATH_MAX) {
    throw new OslessError(
      "E_TAR_LIMIT",
      `layer entry "${printable(raw.slice(0, 200))}…": the name is longer than ${PATH_MAX} bytes`,
      { hint: "Linux cannot store such a path (ENAMETOOLONG)", details: { limit: PATH_MAX } },
    );
  }
  return clean;
}

/** Parent of a normalised path ("." for top-level names and for "."). */
export function parentOf(clean: string): string {
  const i = clean.lastIndexOf("/");
  return i < 0 ? "." : clean.slice(0, i);
}

export function baseOf(clean: string): string {
  return clean.slice(clean.lastIndexOf("/") + 1);
}

export function joinClean(dir: string, name: string): string {
  return dir === "." ? name : `${dir}/${name}`;
}

export type EntryRole =
  /** An ordinary entry: create `path`. */
  | { kind: "normal" }
  /** `.wh.<name>`: remove `target` (= dir/name) from lower layers. */
  | { kind: "whiteout"; dir: string; target: string }
  /** `.wh..wh..opq`: remove every lower child of `dir`. */
  | { kind: "opaque"; dir: string }
  /** AUFS metadata (`.wh..wh.plnk/…`, `.wh..wh.aufs`): never materialised. */
  | { kind: "ignored" };

/**
 * What a normalised entry name means (any typeflag counts). `.wh.` on a directory component (`.wh.etc/f`) is an
 * ordinary path. Invalid whiteouts (`.wh.`, `.wh..`, `.wh...`) are refused.
 */
export function entryRole(clean: string): EntryRole {
  if (clean === ".") return { kind: "normal" };
  const slash = clean.indexOf("/");
  const first = slash < 0 ? clean : clean.slice(0, slash);
  if (first.startsWith(WHITEOUT_META_PREFIX) && first !== WHITEOUT_OPAQUE) return { kind: "ignored" };
  const base = baseOf(clean);
  if (!base.startsWith(WHITEOUT_PREFIX)) return { kind: "normal" };
  const dir = parentOf(clean);
  if (base === WHITEOUT_OPAQUE) return { kind: "opaque", dir };
  if (base.startsWith(WHITEOUT_META_PREFIX)) return { kind: "ignored" };
  const name = base.slice(WHITEOUT_PREFIX.length);
  if (name === "" || name === "." || name === "..") {
    throw unsafePath(clean, `"${base}" is not a valid whiteout (it names no entry below its directory)`);
  }
  return { kind: "whiteout", dir, target: joinClean(dir, name) };
}

/** An entry the layer may not contain (unpacker and view raise the same error for the same entry). */
export function invalidEntry(h: TarHeader, what: string): OslessError {
  return new OslessError("E_LAYER_INVALID", `layer entry "${printable(h.path)}" ${what}`, {
    hint: "the layer is corrupt or hostile; do not use this image",
    details: { path: h.path, type: h.type, linkpath: h.linkpath },
  });
}

/**
 * Names and link targets must be UTF-8: Node's string paths cannot carry other bytes, and a silent U+FFFD
 * rename would be worse than a clear refusal (E_TAR_UNSUPPORTED).
 */
export function checkEntryUtf8(h: TarHeader): void {
  const link = h.type === "symlink" || h.type === "hardlink";
  if (isUtf8(h.pathBytes) && (!link || isUtf8(h.linkpathBytes))) return;
  const name = !isUtf8(h.pathBytes);
  const bytes = (name ? h.pathBytes : h.linkpathBytes).toString("hex");
  throw new OslessError(
    "E_TAR_UNSUPPORTED",
    `layer entry "${printable(h.path)}": its ${name ? "name" : "link target"} is not valid UTF-8 (bytes ${bytes})`,
    {
      hint: "osless reads only UTF-8 names; rebuild the layer with UTF-8 file names",
      details: { path: h.path, bytes },
    },
  );
}
