/**
 * A layer as stored: its descriptor (compressed blob), its DiffID (digest of the uncompressed tar) and a way to
 * open the raw blob bytes. `layerTar` turns it into the uncompressed tar stream, verifying both digests once the
 * stream has been read to its end (R19, R20) and enforcing the size limits of extraction-rules.md.
 */

import { decompress, sniff } from "../compression/index.ts";
import { type Digest, digestMismatch, Hasher, parseDigest, sizeMismatch } from "../digest/index.ts";
import { OslessError } from "../errors.ts";
import type { Descriptor } from "../spec/index.ts";
import { printable } from "./paths.ts";

export interface LayerSource {
  /** Position in the image, base layer first (0-based). */
  index: number;
  descriptor: Descriptor;
  /** `config.rootfs.diff_ids[index]`. */
  diffId: Digest;
  /** The raw (possibly compressed) blob bytes, unverified: `layerTar` verifies them. */
  open(): AsyncIterable<Uint8Array>;
  /**
   * The blob was verified against `descriptor.digest` when it was stored (the content store commits a blob only
   * after checking it), so `layerTar` checks its size but does not hash it again: the DiffID still covers every
   * uncompressed byte, and gzip's CRC or a zstd frame's structure catch damage to the compressed ones.
   */
  verifiedAtRest?: boolean | undefined;
}

export interface LayerLimits {
  /** Uncompressed bytes per layer. Default: 10 × the compressed size + 1 GiB, at most `maxImageBytes`. */
  maxLayerBytes?: number | undefined;
  /** Uncompressed bytes over all layers of one image. Default 64 GiB. */
  maxImageBytes?: number | undefined;
  /** Entries per layer. Default 500,000. */
  maxEntries?: number | undefined;
  /** Components per entry name. Default 1024. */
  maxDepth?: number | undefined;
}

export const DEFAULT_MAX_IMAGE_BYTES = 64 * 2 ** 30;

/** Running total of uncompressed bytes of one image, shared by its layers' streams. */
export interface ImageBudget {
  used: number;
}

export interface LayerTarOptions {
  limits?: LayerLimits | undefined;
  budget?: ImageBudget | undefined;
  signal?: AbortSignal | undefined;
}

/** "layer 2 (sha256:abcd…)" */
export function layerLabel(layer: Pick<LayerSource, "index" | "descriptor">): string {
  return `layer ${layer.index + 1} (${layer.descriptor.digest})`;
}

/**
 * An error met while reading or applying `layer`, saying so: an OslessError whose message does not start with
 * the layer's label gets it as a prefix (and `entry "<path>": ` when `entryPath` is given and the message does
 * not name it), and `details.layer` (0-based index) and `details.digest`. Other errors pass through.
 */
export function inLayer(
  e: unknown,
  layer: Pick<LayerSource, "index" | "descriptor">,
  entryPath?: string,
): unknown {
  if (!(e instanceof OslessError)) return e;
  const where = layerLabel(layer);
  if (e.message.startsWith(where)) return e;
  const msg =
    entryPath === undefined || e.message.includes(`"${printable(entryPath)}"`)
      ? e.message
      : `entry "${printable(entryPath)}": ${e.message}`;
  return new OslessError(e.code, `${where}: ${msg}`, {
    hint: e.hint,
    cause: e,
    details: {
      ...e.details,
      layer: layer.index,
      digest: layer.descriptor.digest,
      ...(entryPath === undefined ? {} : { entry: entryPath }),
    },
  });
}

/** Per-layer cap on uncompressed bytes for this layer. */
export function layerByteLimit(layer: LayerSource, limits: LayerLimits = {}): number {
  const image = limits.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES;
  return Math.min(limits.maxLayerBytes ?? 10 * layer.descriptor.size + 2 ** 30, image);
}

/**
 * The uncompressed tar of `layer`. Compression is recognised by magic bytes (gzip, zstd or none). When the
 * consumer has read the stream to its end, the blob's size and digest and the DiffID have been checked; a
 * mismatch throws E_SIZE_MISMATCH / E_DIGEST_MISMATCH from the final `next()`. A consumer that stops early gets
 * no verification: read to EOF (readTar drains by default).
 */
export async function* layerTar(layer: LayerSource, opts: LayerTarOptions = {}): AsyncGenerator<Buffer> {
  const what = layerLabel(layer);
  const desc = layer.descriptor;
  const blob = new Hasher(parseDigest(desc.digest, `${what} digest`).algorithm);
  const hashBlob = layer.verifiedAtRest !== true;
  let size = 0;
  const diff = new Hasher(parseDigest(layer.diffId, `${what} DiffID`).algorithm);
  const signal = opts.signal;
  async function* raw(): AsyncGenerator<Uint8Array> {
    for await (const c of layer.open()) {
      signal?.throwIfAborted();
      size += c.length;
      if (hashBlob) blob.update(c);
      if (size > desc.size) throw sizeMismatch(`${what} blob`, desc, size, true);
      yield c;
    }
  }
  const { compression, source } = await sniff(raw());
  if (compression !== "none" && compression !== "gzip" && compression !== "zstd") {
    throw new OslessError("E_COMPRESSION", `${what}: ${compression}-compressed layers are not supported`, {
      hint: "layers are gzip, zstd or uncompressed tars (OCI image spec); recompress the layer",
      details: { digest: desc.digest, compression },
    });
  }
  const limit = layerByteLimit(layer, opts.limits);
  const budget = opts.budget;
  const imageLimit = opts.limits?.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES;
  for await (const c of decompress(source, compression, {
    maxOutput: limit,
    what,
    limitHint:
      "the layer is larger than allowed, or a decompression bomb; raise the limit (osless unpack --max-layer-size) only for images you trust",
  })) {
    const chunk = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    diff.update(chunk);
    if (budget) {
      budget.used += chunk.length;
      if (budget.used > imageLimit) {
        throw new OslessError(
          "E_SIZE_LIMIT",
          `${what}: the image's layers exceed the limit of ${imageLimit} uncompressed bytes`,
          {
            hint: "raise the limit with --max-image-size (default 64 GiB) only for images you trust",
            details: { limit: imageLimit },
          },
        );
      }
    }
    yield chunk;
  }
  if (size !== desc.size) throw sizeMismatch(`${what} blob`, desc, size);
  if (hashBlob) {
    const blobDigest = blob.digest();
    if (blobDigest !== desc.digest) throw digestMismatch(`${what} blob`, desc.digest, blobDigest);
  }
  const diffId = diff.digest();
  if (diffId !== layer.diffId) {
    const e = digestMismatch(`${what} uncompressed content (DiffID)`, layer.diffId, diffId);
    throw new OslessError(e.code, e.message, {
      hint: "config.rootfs.diff_ids does not describe this layer; the image is corrupt or was altered",
      details: { ...e.details, layer: layer.index, blob: desc.digest },
    });
  }
}
