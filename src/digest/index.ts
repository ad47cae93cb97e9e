/**
 * Content digests (OCI image-spec descriptor.md): `sha256:` + 64 lowercase hex, `sha512:` + 128 lowercase hex.
 * Hashing uses OpenSSL through node:crypto; verification streams never pass on more than the expected size.
 */
import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { OslessError } from "../errors.ts";

export type DigestAlgorithm = "sha256" | "sha512";
/** A validated digest string such as `sha256:e3b0…`. */
export type Digest = `${DigestAlgorithm}:${string}`;

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
/** The OCI grammar: algorithm ":" encoded. Used to tell "unsupported" from "malformed". */
const GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  hex: string;
}

/** Parse and validate a digest; throws E_DIGEST_INVALID / E_DIGEST_UNSUPPORTED with a precise message. */
export function parseDigest(value: string, where = "digest"): ParsedDigest {
  if (typeof value !== "string" || !GRAMMAR.test(value)) {
    throw new OslessError("E_DIGEST_INVALID", `${where}: "${String(value)}" is not a digest`, {
      hint: 'a digest looks like "sha256:" followed by 64 lowercase hex characters',
    });
  }
  const i = value.indexOf(":");
  const algorithm = value.slice(0, i);
  const hex = value.slice(i + 1);
  if (algorithm !== "sha256" && algorithm !== "sha512") {
    throw new OslessError(
      "E_DIGEST_UNSUPPORTED",
      `${where}: digest algorithm "${algorithm}" is not supported`,
      {
        hint: "osless supports sha256 and sha512 digests",
      },
    );
  }
  const want = HEX_LENGTH[algorithm];
  if (hex.length !== want || !/^[a-f0-9]+$/.test(hex)) {
    throw new OslessError(
      "E_DIGEST_INVALID",
      `${where}: "${value}" is not a valid ${algorithm} digest (need ${want} lowercase hex characters)`,
      { hint: "uppercase hex and truncated digests are invalid" },
    );
  }
  return { algorithm, hex };
}

export function isDigest(value: unknown): value is Digest {
  if (typeof value !== "string") return false;
  try {
    parseDigest(value);
    return true;
  } catch {
    return false;
  }
}

/** Validate and return the digest typed as Digest. */
export function asDigest(value: string, where?: string): Digest {
  parseDigest(value, where);
  return value as Digest;
}

export function digestOf(data: Uint8Array | string, algorithm: DigestAlgorithm = "sha256"): Digest {
  return `${algorithm}:${createHash(algorithm).update(data).digest("hex")}`;
}

/** Incremental hasher that also counts bytes. */
export class Hasher {
  readonly algorithm: DigestAlgorithm;
  #hash: Hash;
  #size = 0;

  constructor(algorithm: DigestAlgorithm = "sha256") {
    this.algorithm = algorithm;
    this.#hash = createHash(algorithm);
  }

  update(chunk: Uint8Array): this {
    this.#hash.update(chunk);
    this.#size += chunk.length;
    return this;
  }

  get size(): number {
    return this.#size;
  }

  /** Finish; the hasher cannot be updated afterwards. */
  digest(): Digest {
    return `${this.algorithm}:${this.#hash.digest("hex")}`;
  }
}

export interface Expected {
  digest: string;
  size: number;
}

/** Throw unless `data` has exactly the expected size and digest. Size is checked first (cheap). */
export function verifyBytes(data: Uint8Array, expected: Expected, what = "blob"): void {
  if (data.length !== expected.size) {
    throw sizeMismatch(what, expected, data.length);
  }
  const { algorithm } = parseDigest(expected.digest, what);
  const actual = digestOf(data, algorithm);
  if (actual !== expected.digest) throw digestMismatch(what, expected.digest, actual);
}

export function digestMismatch(what: string, expected: string, actual: string): OslessError {
  return new OslessError(
    "E_DIGEST_MISMATCH",
    `${what}: content digest ${actual} does not match ${expected}`,
    {
      hint: "the data is corrupt or was altered; fetch or export it again",
      details: { expected, actual },
    },
  );
}

export function sizeMismatch(what: string, expected: Expected, actual: number, more = false): OslessError {
  const got = more ? `more than ${expected.size}` : String(actual);
  return new OslessError(
    "E_SIZE_MISMATCH",
    `${what}: expected ${expected.size} bytes (${expected.digest}) but got ${got}`,
    { hint: "the data is truncated, padded or corrupt", details: { expected: expected.size, actual } },
  );
}

/**
 * A pass-through stream that hashes what flows through it and fails if the content is not exactly
 * `expected.size` bytes with digest `expected.digest`. It errors as soon as more than `size` bytes arrive
 * (nothing past `size` is ever passed on), and at the end on a short stream or a digest mismatch.
 */
export class VerifyStream extends Transform {
  readonly expected: Expected;
  readonly what: string;
  #hasher: Hasher;

  constructor(expected: Expected, what = "blob") {
    super();
    const { algorithm } = parseDigest(expected.digest, what);
    this.expected = expected;
    this.what = what;
    this.#hasher = new Hasher(algorithm);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.#hasher.size + chunk.length > this.expected.size) {
      cb(sizeMismatch(this.what, this.expected, this.#hasher.size + chunk.length, true));
      return;
    }
    this.#hasher.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    const actual = this.#hasher.digest();
    if (this.#hasher.size !== this.expected.size)
      cb(sizeMismatch(this.what, this.expected, this.#hasher.size));
    else if (actual !== this.expected.digest) cb(digestMismatch(this.what, this.expected.digest, actual));
    else cb();
  }
}

/** A pass-through stream that computes digest and size of whatever flows through it. */
export class DigestStream extends Transform {
  #hasher: Hasher;
  #result: { digest: Digest; size: number } | undefined;

  constructor(algorithm: DigestAlgorithm = "sha256") {
    super();
    this.#hasher = new Hasher(algorithm);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#hasher.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.#result = { digest: this.#hasher.digest(), size: this.#hasher.size };
    cb();
  }

  /** Digest and size; only valid after the stream has ended. */
  get result(): { digest: Digest; size: number } {
    if (!this.#result) throw new Error("DigestStream.result read before the stream ended");
    return this.#result;
  }
}
