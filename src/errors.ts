/**
 * Error classes with stable codes. Every error a user can cause says what went wrong, where, and how to fix it.
 * The CLI maps codes to exit statuses (see `exitCodeFor`); library code never exits.
 */

export type ErrorCode =
  | "E_USAGE"
  | "E_REFERENCE_INVALID"
  | "E_DIGEST_INVALID"
  | "E_DIGEST_UNSUPPORTED"
  | "E_DIGEST_MISMATCH"
  | "E_SIZE_MISMATCH"
  | "E_SIZE_LIMIT"
  | "E_JSON_INVALID"
  | "E_MANIFEST_INVALID"
  | "E_MANIFEST_TOO_LARGE"
  | "E_MANIFEST_SCHEMA1"
  | "E_MEDIA_TYPE_UNKNOWN"
  | "E_MEDIA_TYPE_MISMATCH"
  | "E_CONFIG_INVALID"
  | "E_PLATFORM_NOT_FOUND"
  | "E_BLOB_MISSING"
  | "E_NOT_FOUND"
  | "E_AMBIGUOUS"
  | "E_TAR_INVALID"
  | "E_TAR_TRUNCATED"
  | "E_TAR_UNSUPPORTED"
  | "E_TAR_LIMIT"
  | "E_TAR_UNSAFE_PATH"
  | "E_LAYER_INVALID"
  | "E_TARGET_EXISTS"
  | "E_INTERRUPTED"
  | "E_COMPRESSION"
  | "E_ARCHIVE_INVALID"
  | "E_STORE_CORRUPT"
  | "E_LOCKED"
  | "E_UNAUTHORIZED"
  | "E_DENIED"
  | "E_REGISTRY"
  | "E_NETWORK"
  | "E_IO"
  | "E_RUNTIME"
  | "E_RUNTIME_MISSING"
  | "E_CONFLICT"
  | "E_COMMAND_NOT_FOUND"
  | "E_COMMAND_NOT_EXECUTABLE"
  | "E_DOCKERFILE"
  | "E_BUILD"
  | "E_TOOL_MISSING"
  | "E_SLIM"
  | "E_TOUR";

export interface OslessErrorOptions {
  /** How the user can fix it, one sentence. */
  hint?: string | undefined;
  cause?: unknown;
  /** Extra machine-readable facts (paths, digests, sizes) for `--json` output. */
  details?: Record<string, unknown> | undefined;
}

export class OslessError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: OslessErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "OslessError";
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export function isOslessError(e: unknown, code?: ErrorCode): e is OslessError {
  return e instanceof OslessError && (code === undefined || e.code === code);
}

/**
 * Exit statuses of the CLI: 0 success; 1 the operation failed (bad or corrupt input, I/O);
 * 2 usage (bad flags or reference); 3 the named image, blob or reference does not exist;
 * 4 `fsck` found problems; 130/143 interrupted by SIGINT/SIGTERM (the work was undone).
 * `run` and `exec` pass the container's own exit status through and use Docker's 125/126/127 for their own
 * failures (see `runExitCodeFor`).
 */
export function exitCodeFor(e: unknown): number {
  if (!(e instanceof OslessError)) return 1;
  switch (e.code) {
    case "E_USAGE":
    case "E_REFERENCE_INVALID":
    case "E_DIGEST_INVALID":
      return 2;
    case "E_NOT_FOUND":
      return 3;
    case "E_STORE_CORRUPT":
      return 4;
    case "E_INTERRUPTED":
      // The shell's convention for a process ended by a signal: 128 + its number (SIGINT 2, SIGTERM 15).
      return e.details?.signal === "SIGTERM" ? 143 : 130;
    default:
      return 1;
  }
}

/**
 * Exit statuses of `run` and `exec` when osless itself fails, as `docker run` has them: 126 the command cannot
 * be invoked, 127 it does not exist, 125 any other failure (the container's own status is passed through
 * otherwise, so these three numbers are ambiguous only if the container uses them too).
 */
export function runExitCodeFor(e: unknown): number {
  if (e instanceof OslessError) {
    if (e.code === "E_COMMAND_NOT_EXECUTABLE") return 126;
    if (e.code === "E_COMMAND_NOT_FOUND") return 127;
    if (e.code === "E_INTERRUPTED") return exitCodeFor(e);
  }
  return 125;
}
