/**
 * Registry error bodies (`{"errors":[{"code","message","detail"}]}`, distribution spec "Error Codes") mapped to
 * osless error codes, with the registry's own message kept.
 */
import { type ErrorCode, OslessError } from "../errors.ts";
import type { Response } from "./transport.ts";

interface RegistryErrorItem {
  code?: unknown;
  message?: unknown;
  detail?: unknown;
}

const CODE_MAP: Record<string, ErrorCode> = {
  BLOB_UNKNOWN: "E_NOT_FOUND",
  MANIFEST_UNKNOWN: "E_NOT_FOUND",
  NAME_UNKNOWN: "E_NOT_FOUND",
  UNAUTHORIZED: "E_UNAUTHORIZED",
  DENIED: "E_DENIED",
  DIGEST_INVALID: "E_DIGEST_MISMATCH",
  SIZE_INVALID: "E_SIZE_MISMATCH",
  MANIFEST_INVALID: "E_MANIFEST_INVALID",
  MANIFEST_BLOB_UNKNOWN: "E_BLOB_MISSING",
  NAME_INVALID: "E_REFERENCE_INVALID",
  TAG_INVALID: "E_REFERENCE_INVALID",
};

/** Read a response body as text, at most `limit` bytes (the rest is discarded). */
export async function responseText(res: Response, limit = 64 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of res.body) {
      const b = c as Buffer;
      if (n < limit) chunks.push(b.subarray(0, limit - n));
      n += b.length;
    }
  } catch {
    // A broken error body still leaves the status to report.
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The registry's error codes and messages from a body, e.g. "MANIFEST_UNKNOWN: manifest unknown". */
export function parseErrorBody(text: string): RegistryErrorItem[] {
  try {
    const doc = JSON.parse(text) as { errors?: unknown; details?: unknown; message?: unknown };
    if (Array.isArray(doc.errors)) return doc.errors as RegistryErrorItem[];
    if (typeof doc.message === "string") return [{ message: doc.message }];
    if (typeof doc.details === "string") return [{ message: doc.details }];
  } catch {
    // not JSON
  }
  return [];
}

/** An OslessError for a registry answer with an unexpected status. `what` names the operation. */
export function registryError(status: number, text: string, what: string): OslessError {
  const items = parseErrorBody(text);
  const first = items[0];
  const regCode = typeof first?.code === "string" ? first.code : undefined;
  const detail = items
    .map((i) =>
      [typeof i.code === "string" ? i.code : undefined, typeof i.message === "string" ? i.message : undefined]
        .filter(Boolean)
        .join(": "),
    )
    .filter(Boolean)
    .join("; ");
  const plain = text.trim().slice(0, 200).replace(/\s+/g, " ");
  const message = detail || plain || `HTTP ${status}`;
  let code: ErrorCode = (regCode && CODE_MAP[regCode]) || "E_REGISTRY";
  if (!regCode) {
    if (status === 404) code = "E_NOT_FOUND";
    else if (status === 401) code = "E_UNAUTHORIZED";
    else if (status === 403) code = "E_DENIED";
  }
  const hint =
    code === "E_NOT_FOUND"
      ? "check the repository name and tag (or digest)"
      : code === "E_DENIED"
        ? "the account has no access to this repository; check the name or the account's permissions"
        : status === 429
          ? "the registry is rate-limiting; wait a little, or log in for a higher limit"
          : status >= 500
            ? "the registry is failing; try again later"
            : undefined;
  return new OslessError(code, `${what}: ${message}`, {
    hint,
    details: { status, ...(regCode ? { registryCode: regCode } : {}) },
  });
}
