/**
 * The OCI distribution client (../shared/specs/oci-distribution/spec.md): manifests (GET/HEAD/PUT), blobs (GET with
 * resume, HEAD, uploads with cross-repository mount, monolithic or chunked), tags. Every byte that comes in is
 * checked: manifests against the digest asked for (or the digest computed from the body) and the 4 MiB cap,
 * blobs against the descriptor's size and digest while they stream.
 */
import { digestMismatch, Hasher, parseDigest, sizeMismatch } from "../digest/index.ts";
import { OslessError } from "../errors.ts";
import {
  baseMediaType,
  isIndexMediaType,
  isManifestMediaType,
  isSchema1MediaType,
} from "../spec/media-types.ts";
import {
  MAX_MANIFEST_SIZE,
  type ParsedIndex,
  type ParsedManifest,
  parseManifestOrIndex,
  SCHEMA1_MESSAGE,
} from "../spec/parse.ts";
import { formatPlatform, selectPlatform } from "../spec/platform.ts";
import type { Platform } from "../spec/schemas.ts";
import { registryError, responseText } from "./errors.ts";
import { header, isTransportError, type Response, Transport, type TransportOptions } from "./transport.ts";

export const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

/** Resumes of one blob download that make no progress before we give up. */
const MAX_STALLED_RESUMES = 3;

export interface RegistryOptions extends TransportOptions {}

export interface BlobRef {
  digest: string;
  size: number;
}

export interface BlobReadOptions {
  /** Start at this byte (the caller already has the bytes before it). */
  offset?: number | undefined;
  /**
   * Hash and check the bytes here (default). Pass false only when the consumer verifies size and digest of the
   * whole blob itself (the store's ingest does), to hash once instead of twice.
   */
  verify?: boolean | undefined;
}

export type PushBlobResult = "exists" | "mounted" | "uploaded";

export interface PushBlobOptions {
  /** Repositories on the same registry that may hold the blob (cross-repository mount). */
  mountFrom?: string[] | undefined;
  /** Upload in PATCH chunks of this many bytes instead of one PUT. */
  chunkSize?: number | undefined;
}

/** A client for one registry (a domain as written in references). */
export class RegistryClient {
  readonly transport: Transport;
  readonly domain: string;

  constructor(domain: string, opts: RegistryOptions = {}) {
    this.domain = domain;
    this.transport = new Transport(domain, opts);
  }

  repository(path: string): Repository {
    return new Repository(this, path);
  }

  /** Check that the registry answers and accepts our credentials (what `docker login` checks). */
  async checkLogin(): Promise<void> {
    const res = await this.transport.request({ method: "GET", url: "/v2/", scopes: [] });
    const text = await responseText(res);
    if (res.statusCode !== 200) throw registryError(res.statusCode, text, `${this.domain} login`);
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}

function isDigestRef(ref: string): boolean {
  return /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(ref) && ref.includes(":");
}

export class Repository {
  readonly client: RegistryClient;
  /** Repository path, e.g. "library/debian". */
  readonly name: string;

  constructor(client: RegistryClient, name: string) {
    this.client = client;
    this.name = name;
  }

  get #t(): Transport {
    return this.client.transport;
  }

  #label(ref?: string): string {
    const base = `${this.client.domain}/${this.name}`;
    if (ref === undefined) return base;
    return isDigestRef(ref) ? `${base}@${ref}` : `${base}:${ref}`;
  }

  scopes(actions: "pull" | "pull,push"): string[] {
    return [`repository:${this.name}:${actions}`];
  }

  /**
   * Fetch a manifest or index by tag or digest. The body is capped at 4 MiB, checked against the digest asked
   * for (by tag: its digest is computed from the body), and parsed with the type the registry declared.
   */
  async getManifest(ref: string): Promise<ParsedManifest | ParsedIndex> {
    const where = `${this.#label(ref)} manifest`;
    const res = await this.#t.request({
      method: "GET",
      url: `/v2/${this.name}/manifests/${ref}`,
      headers: { accept: MANIFEST_ACCEPT },
      scopes: this.scopes("pull"),
    });
    if (res.statusCode !== 200) throw registryError(res.statusCode, await responseText(res), where);
    const length = Number(header(res, "content-length"));
    if (Number.isFinite(length) && length > MAX_MANIFEST_SIZE) {
      res.body.destroy(); // refused: do not read it (it may be huge or never end)
      throw tooLarge(where, length);
    }
    const raw = await readCapped(res, MAX_MANIFEST_SIZE, () => tooLarge(where, MAX_MANIFEST_SIZE + 1));
    const contentType = baseMediaType(header(res, "content-type") ?? "");
    if (isSchema1MediaType(contentType)) {
      throw new OslessError("E_MANIFEST_SCHEMA1", `${where}: ${SCHEMA1_MESSAGE}`, {
        hint: "re-push the image with a current docker, podman or skopeo; schema1 has been deprecated since 2017",
      });
    }
    // Generic types (application/json, text/plain, none) say nothing: the body's shape decides.
    const declared =
      isManifestMediaType(contentType) || isIndexMediaType(contentType) ? contentType : undefined;
    const unknownManifestType =
      declared === undefined && /^application\/vnd\..*(manifest|index)/.test(contentType)
        ? contentType
        : undefined;
    const parsed = parseManifestOrIndex(raw, {
      declaredMediaType: declared ?? unknownManifestType,
      where,
      ...(isDigestRef(ref) ? { expected: { digest: ref, size: raw.length } } : {}),
    });
    return parsed;
  }

  /**
   * The image manifest for `want` from an index (selected as containerd does, see selectPlatform), fetched by
   * digest and checked against the index's size; nested indexes are refused.
   */
  async platformManifest(index: ParsedIndex, want: Platform, label: string): Promise<ParsedManifest> {
    const child = selectPlatform(want, index.index.manifests);
    const fetched = await this.getManifest(child.digest);
    if (fetched.kind !== "manifest") {
      throw new OslessError(
        "E_MANIFEST_INVALID",
        `${label}: platform ${formatPlatform(want)} is a nested index`,
        {
          hint: "nested indexes are not supported",
        },
      );
    }
    if (fetched.size !== child.size) {
      throw new OslessError(
        "E_SIZE_MISMATCH",
        `${label}: platform manifest is ${fetched.size} bytes, the index says ${child.size}`,
      );
    }
    return fetched;
  }

  /** HEAD a manifest: its descriptor, or undefined when the registry does not have it. */
  async headManifest(ref: string): Promise<{ digest: string; size: number; mediaType: string } | undefined> {
    const res = await this.#t.request({
      method: "HEAD",
      url: `/v2/${this.name}/manifests/${ref}`,
      headers: { accept: MANIFEST_ACCEPT },
      scopes: this.scopes("pull"),
    });
    if (res.statusCode === 405) {
      // Some registries do not implement HEAD on manifests.
      await res.body.dump().catch(() => {});
      const m = await this.getManifest(ref).catch((e) => {
        if (e instanceof OslessError && e.code === "E_NOT_FOUND") return undefined;
        throw e;
      });
      return m && { digest: m.digest, size: m.size, mediaType: m.mediaType };
    }
    await res.body.dump().catch(() => {});
    if (res.statusCode === 404) return undefined;
    if (res.statusCode !== 200) throw registryError(res.statusCode, "", `${this.#label(ref)} manifest`);
    const digest = header(res, "docker-content-digest");
    const size = Number(header(res, "content-length"));
    if (!digest || !Number.isFinite(size)) return undefined;
    return { digest, size, mediaType: baseMediaType(header(res, "content-type") ?? "") };
  }

  /** PUT a manifest under a tag or digest; returns the digest the registry computed (checked against ours). */
  async putManifest(ref: string, raw: Buffer, mediaType: string, digest: string): Promise<void> {
    const where = `${this.#label(ref)} manifest`;
    const res = await this.#t.request({
      method: "PUT",
      url: `/v2/${this.name}/manifests/${ref}`,
      headers: { "content-type": mediaType },
      body: raw,
      scopes: this.scopes("pull,push"),
    });
    const text = await responseText(res);
    if (res.statusCode !== 201 && res.statusCode !== 200)
      throw registryError(res.statusCode, text, `push ${where}`);
    const got = header(res, "docker-content-digest");
    if (got && got !== digest) {
      throw new OslessError(
        "E_DIGEST_MISMATCH",
        `push ${where}: the registry stored it as ${got}, not ${digest}`,
        { hint: "the registry rewrote the manifest; pull by tag to see what it stored" },
      );
    }
  }

  /** True when the registry has the blob with the expected size. */
  async blobExists(d: BlobRef): Promise<boolean> {
    const res = await this.#t.request({
      method: "HEAD",
      url: `/v2/${this.name}/blobs/${d.digest}`,
      scopes: this.scopes("pull"),
    });
    await res.body.dump().catch(() => {});
    if (res.statusCode === 404) return false;
    if (res.statusCode !== 200) throw registryError(res.statusCode, "", `${this.#label()} blob ${d.digest}`);
    const length = Number(header(res, "content-length"));
    return !Number.isFinite(length) || length === d.size;
  }

  /** A small blob (a config) read into memory, verified. */
  async readBlob(d: BlobRef, maxSize: number, what = "blob"): Promise<Buffer> {
    if (d.size > maxSize) {
      throw new OslessError(
        "E_SIZE_LIMIT",
        `${this.#label()} ${what} ${d.digest} is ${d.size} bytes, over ${maxSize}`,
      );
    }
    const chunks: Buffer[] = [];
    for await (const c of this.blob(d, {}, what)) chunks.push(c);
    return Buffer.concat(chunks);
  }

  /**
   * Stream a blob from `offset`. A broken connection is resumed with `Range: bytes=N-` (a 206 must start where we
   * asked; a 200 has its first N bytes discarded); it gives up after 3 resumes in a row that bring no byte. Never
   * yields past `size`: more bytes are an error, as are fewer at the end. With `verify` (default) the digest is
   * checked at the end (only possible from offset 0).
   */
  async *blob(d: BlobRef, opts: BlobReadOptions = {}, what = "blob"): AsyncGenerator<Buffer> {
    if (d.size <= 0) {
      throw new OslessError("E_SIZE_MISMATCH", `${this.#label()} ${what} ${d.digest} has size ${d.size}`, {
        hint: "a blob to fetch must have a positive size; the manifest is wrong",
      });
    }
    const label = `${this.#label()} ${what} ${d.digest}`;
    const offset = opts.offset ?? 0;
    const verify = opts.verify !== false;
    if (verify && offset !== 0) throw new Error("blob(): verify needs offset 0");
    const hasher = verify ? new Hasher(parseDigest(d.digest).algorithm) : undefined;
    let pos = offset;
    let stalled = 0;
    let lastError: unknown;
    while (pos < d.size) {
      if (stalled >= MAX_STALLED_RESUMES) {
        // Say why: the cause is only printed in debug mode, and a registry that answers wrong ranges is not a
        // broken connection.
        const why = lastError instanceof Error ? lastError.message : String(lastError);
        throw new OslessError("E_NETWORK", `${label}: download failed at byte ${pos} of ${d.size}: ${why}`, {
          hint: "the transfer keeps failing without progress; run the command again to resume",
          cause: lastError,
        });
      }
      const startPos = pos;
      let res: Response;
      try {
        res = await this.#t.request({
          method: "GET",
          url: `/v2/${this.name}/blobs/${d.digest}`,
          headers: pos > 0 ? { range: `bytes=${pos}-` } : {},
          scopes: this.scopes("pull"),
        });
      } catch (e) {
        if (!isTransportError(e) && !(e instanceof OslessError && e.code === "E_NETWORK")) throw e;
        lastError = e;
        stalled++;
        continue;
      }
      let skip = 0;
      if (res.statusCode === 206 && pos > 0) {
        const cr = header(res, "content-range") ?? "";
        if (!cr.startsWith(`bytes ${pos}-`)) {
          res.body.destroy(); // the wrong bytes: do not download them
          lastError = new Error(`asked for bytes ${pos}- but got Content-Range "${cr}"`);
          stalled++;
          continue;
        }
      } else if (res.statusCode === 200) {
        const length = Number(header(res, "content-length"));
        if (Number.isFinite(length) && header(res, "content-length") !== undefined && length !== d.size) {
          res.body.destroy(); // refused before reading, whatever its length
          throw new OslessError(
            "E_SIZE_MISMATCH",
            `${label}: the registry announces ${length} bytes, the descriptor says ${d.size}`,
            {
              hint: "the registry or the manifest is wrong; nothing was stored",
              details: { expected: d.size, actual: length },
            },
          );
        }
        skip = pos; // a 200 restarts from byte 0
      } else {
        throw registryError(res.statusCode, await responseText(res), label);
      }
      try {
        for await (const chunk of res.body) {
          let c = chunk as Buffer;
          if (skip > 0) {
            if (c.length <= skip) {
              skip -= c.length;
              continue;
            }
            c = c.subarray(skip);
            skip = 0;
          }
          if (pos + c.length > d.size) {
            res.body.destroy();
            throw sizeMismatch(label, d, pos + c.length, true);
          }
          hasher?.update(c);
          pos += c.length;
          yield c;
        }
      } catch (e) {
        if (!isTransportError(e)) throw e;
        lastError = e;
      }
      if (pos < d.size) {
        stalled = pos > startPos ? 0 : stalled + 1;
        if (lastError === undefined) lastError = new Error(`the body ended at byte ${pos}`);
      }
    }
    if (hasher) {
      const actual = hasher.digest();
      if (actual !== d.digest) throw digestMismatch(label, d.digest, actual);
    }
  }

  /**
   * Upload a blob unless the registry has it: HEAD, then a cross-repository mount when candidates are given, then
   * a monolithic PUT (or PATCH chunks). `open` is called again when an upload has to restart.
   */
  async pushBlob(
    d: BlobRef,
    open: () => AsyncIterable<Uint8Array>,
    opts: PushBlobOptions = {},
  ): Promise<{ status: PushBlobResult; mountedFrom?: string }> {
    if (await this.blobExists(d)) return { status: "exists" };
    const label = `push ${this.#label()} blob ${d.digest}`;
    let location: string | undefined;
    for (const from of opts.mountFrom ?? []) {
      if (from === this.name) continue;
      const res = await this.#t
        .request({
          method: "POST",
          url: `/v2/${this.name}/blobs/uploads/?mount=${encodeURIComponent(d.digest)}&from=${encodeURIComponent(from)}`,
          scopes: [...this.scopes("pull,push"), `repository:${from}:pull`],
        })
        .catch((e) => {
          // A mount we may not do is no reason to fail: upload instead.
          if (e instanceof OslessError && (e.code === "E_UNAUTHORIZED" || e.code === "E_DENIED"))
            return undefined;
          throw e;
        });
      if (!res) continue;
      await res.body.dump().catch(() => {});
      if (res.statusCode === 201) return { status: "mounted", mountedFrom: from };
      if (res.statusCode === 202 && header(res, "location")) {
        location = header(res, "location");
        break;
      }
    }
    const policy = this.#t.retry;
    for (let attempt = 1; ; attempt++) {
      try {
        location ??= await this.#startUpload(label);
        if (opts.chunkSize && opts.chunkSize > 0 && opts.chunkSize < d.size) {
          await this.#uploadChunked(location, d, open, opts.chunkSize, label);
        } else {
          await this.#uploadMonolithic(location, d, open, label);
        }
        return { status: "uploaded" };
      } catch (e) {
        location = undefined;
        const retryable =
          isTransportError(e) ||
          (e instanceof OslessError &&
            (e.code === "E_NETWORK" || (e.code === "E_REGISTRY" && isServerError(e))));
        if (!retryable || attempt >= policy.attempts || this.#t.signal?.aborted) throw e;
        await this.#t.backoff(attempt, await this.#t.base(), `${label}: ${(e as Error).message}`);
      }
    }
  }

  async #startUpload(label: string): Promise<string> {
    const res = await this.#t.request({
      method: "POST",
      url: `/v2/${this.name}/blobs/uploads/`,
      scopes: this.scopes("pull,push"),
    });
    const text = await responseText(res);
    const loc = header(res, "location");
    if (res.statusCode !== 202 || !loc) throw registryError(res.statusCode, text, `${label}: start upload`);
    return loc;
  }

  #resolve(location: string): Promise<string> {
    return this.#t
      .base()
      .then((base) => new URL(location, `${base}/v2/${this.name}/blobs/uploads/`).toString());
  }

  async #uploadMonolithic(
    location: string,
    d: BlobRef,
    open: () => AsyncIterable<Uint8Array>,
    label: string,
  ): Promise<void> {
    const url = withDigest(await this.#resolve(location), d.digest);
    const res = await this.#t.request({
      method: "PUT",
      url,
      headers: { "content-type": "application/octet-stream", "content-length": String(d.size) },
      body: open,
      scopes: this.scopes("pull,push"),
      retry: false,
      followRedirects: false,
    });
    await this.#finish(res, d, label);
  }

  async #uploadChunked(
    location: string,
    d: BlobRef,
    open: () => AsyncIterable<Uint8Array>,
    chunkSize: number,
    label: string,
  ): Promise<void> {
    let loc = location;
    let start = 0;
    let pending: Buffer[] = [];
    let pendingSize = 0;
    const flush = async () => {
      const body = Buffer.concat(pending, pendingSize);
      pending = [];
      pendingSize = 0;
      const res = await this.#t.request({
        method: "PATCH",
        url: await this.#resolve(loc),
        headers: {
          "content-type": "application/octet-stream",
          "content-length": String(body.length),
          "content-range": `${start}-${start + body.length - 1}`,
        },
        body,
        scopes: this.scopes("pull,push"),
        retry: false,
        followRedirects: false,
      });
      const text = await responseText(res);
      if (res.statusCode !== 202) throw registryError(res.statusCode, text, `${label}: chunk at ${start}`);
      start += body.length;
      loc = header(res, "location") ?? loc;
    };
    for await (const chunk of open()) {
      let c = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      while (c.length > 0) {
        const take = Math.min(c.length, chunkSize - pendingSize);
        pending.push(c.subarray(0, take));
        pendingSize += take;
        c = c.subarray(take);
        if (pendingSize === chunkSize) await flush();
      }
    }
    if (pendingSize > 0) await flush();
    if (start !== d.size) throw sizeMismatch(label, d, start);
    const res = await this.#t.request({
      method: "PUT",
      url: withDigest(await this.#resolve(loc), d.digest),
      headers: { "content-length": "0" },
      body: Buffer.alloc(0),
      scopes: this.scopes("pull,push"),
      retry: false,
      followRedirects: false,
    });
    await this.#finish(res, d, label);
  }

  async #finish(res: Response, d: BlobRef, label: string): Promise<void> {
    const text = await responseText(res);
    if (res.statusCode !== 201 && res.statusCode !== 204) throw registryError(res.statusCode, text, label);
    const got = header(res, "docker-content-digest");
    if (got && got !== d.digest) {
      throw new OslessError("E_DIGEST_MISMATCH", `${label}: the registry stored ${got}`, {
        hint: "the upload was corrupted on the way; try again",
      });
    }
  }

  /** Tags of the repository (all pages). */
  async tags(): Promise<string[]> {
    const out: string[] = [];
    let url: string | undefined = `/v2/${this.name}/tags/list`;
    while (url) {
      const res: Response = await this.#t.request({ method: "GET", url, scopes: this.scopes("pull") });
      const text = await responseText(res, 16 << 20);
      if (res.statusCode !== 200) throw registryError(res.statusCode, text, `${this.#label()} tags`);
      const doc = JSON.parse(text) as { tags?: unknown };
      if (Array.isArray(doc.tags)) for (const t of doc.tags) if (typeof t === "string") out.push(t);
      const link = header(res, "link");
      const next = link?.match(/<([^>]+)>\s*;\s*rel="?next"?/)?.[1];
      url = next;
    }
    return out;
  }
}

function isServerError(e: OslessError): boolean {
  const s = e.details?.status;
  return typeof s === "number" && (s >= 500 || s === 408 || s === 429);
}

function withDigest(location: string, digest: string): string {
  return `${location}${location.includes("?") ? "&" : "?"}digest=${encodeURIComponent(digest)}`;
}

function tooLarge(where: string, size: number): OslessError {
  return new OslessError(
    "E_MANIFEST_TOO_LARGE",
    `${where}: ${size} bytes is over the ${MAX_MANIFEST_SIZE}-byte limit for manifests and indexes`,
    { hint: "registries only promise to accept manifests up to 4 MiB; this one is refused" },
  );
}

async function readCapped(res: Response, cap: number, onOver: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body) {
    const b = c as Buffer;
    n += b.length;
    if (n > cap) {
      res.body.destroy();
      throw onOver();
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks, n);
}
